package ocf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strings"
	"sync"
	"time"
)

// NewLogger returns a logger that behaves like ocf_log: each line tagged
// "<Agent>(<instance>)[pid]" and prefixed DEBUG:/INFO:/WARNING:/ERROR:/CRIT:,
// sent to syslog when HA_LOGFACILITY names a facility, appended to
// HA_LOGFILE when set, and to stderr when neither is set. Debug lines
// appear only when HA_debug is on, and go to HA_DEBUGLOG when set (else
// to HA_LOGFILE); like ocf_log, other lines are copied to HA_DEBUGLOG too.
// A missing /dev/log or an unwritable log file is never an error: the
// line then goes to stderr.
func NewLogger(env *Env, stderr io.Writer) *slog.Logger {
	name := fmt.Sprintf("%s(%s)", env.Type, env.Instance)
	h := &logHandler{
		tag:    fmt.Sprintf("%s[%d]", name, os.Getpid()),
		cfg:    env.Log,
		stderr: stderr,
		mu:     new(sync.Mutex),
	}
	if env.Log.Facility != "" {
		if facility, ok := facilities[strings.ToLower(env.Log.Facility)]; ok {
			// Connected when the first line is written: most
			// invocations (a successful monitor) log nothing.
			// log/syslog appends "[pid]" to the tag itself.
			h.syslog = &lazySyslog{facility: facility, tag: name}
		}
	}
	return slog.New(h)
}

// LevelCritical is ocf_log's "crit", above slog.LevelError.
const LevelCritical = slog.LevelError + 4

// dialSyslog connects to the local syslog daemon (/dev/log); a test
// points it at a socket of its own.
var dialSyslog = func(facility syslog.Priority, tag string) (*syslog.Writer, error) {
	return syslog.New(facility|syslog.LOG_INFO, tag)
}

// lazySyslog is the connection to syslog, made once, on first use; nil
// w after that means syslog is unreachable. The handler's mutex guards it.
type lazySyslog struct {
	facility syslog.Priority
	tag      string
	dialed   bool
	w        *syslog.Writer
}

func (l *lazySyslog) writer() *syslog.Writer {
	if !l.dialed {
		l.dialed = true
		if w, err := dialSyslog(l.facility, l.tag); err == nil {
			l.w = w
		}
	}
	return l.w
}

var facilities = map[string]syslog.Priority{
	"kern": syslog.LOG_KERN, "user": syslog.LOG_USER, "mail": syslog.LOG_MAIL,
	"daemon": syslog.LOG_DAEMON, "auth": syslog.LOG_AUTH, "syslog": syslog.LOG_SYSLOG,
	"lpr": syslog.LOG_LPR, "news": syslog.LOG_NEWS, "uucp": syslog.LOG_UUCP,
	"cron": syslog.LOG_CRON, "authpriv": syslog.LOG_AUTHPRIV, "ftp": syslog.LOG_FTP,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2,
	"local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5,
	"local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

type logHandler struct {
	tag    string
	cfg    LogConfig
	stderr io.Writer
	syslog *lazySyslog // nil without a syslog facility
	attrs  []slog.Attr
	mu     *sync.Mutex
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.cfg.Debug
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return &c
}

// WithGroup is not used by agents; groups are flattened.
func (h *logHandler) WithGroup(string) slog.Handler { return h }

func levelWord(l slog.Level) string {
	switch {
	case l >= LevelCritical:
		return "CRIT"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(levelWord(r.Level))
	b.WriteString(": ")
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	msg := b.String()

	h.mu.Lock()
	defer h.mu.Unlock()
	delivered := h.toSyslog(r.Level, msg)
	if r.Level < slog.LevelInfo {
		// ha_debug: debug lines go to HA_DEBUGLOG, else the log file.
		delivered = h.toFile(first(h.cfg.DebugLog, h.cfg.File), msg) || delivered
	} else {
		delivered = h.toFile(h.cfg.File, msg) || delivered
		// ha_log copies every line to HA_DEBUGLOG as well; that copy is
		// not what the operator reads, so it does not count as delivered.
		if h.cfg.DebugLog != h.cfg.File {
			h.toFile(h.cfg.DebugLog, msg)
		}
	}
	if !delivered {
		fmt.Fprintf(h.stderr, "%s %s\n", h.tag, msg)
	}
	return nil
}

func (h *logHandler) toSyslog(l slog.Level, msg string) bool {
	if h.syslog == nil {
		return false
	}
	w := h.syslog.writer()
	if w == nil {
		return false
	}
	var err error
	switch {
	case l >= LevelCritical:
		err = w.Crit(msg)
	case l >= slog.LevelError:
		err = w.Err(msg)
	case l >= slog.LevelWarn:
		err = w.Warning(msg)
	case l >= slog.LevelInfo:
		err = w.Info(msg)
	default:
		err = w.Debug(msg)
	}
	return err == nil
}

// toFile appends the line to a log file the way ocf_log does, and
// reports whether it got there.
func (h *logHandler) toFile(path, msg string) bool {
	if path == "" {
		return false
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return false
	}
	_, err = fmt.Fprintf(f, "%s %s:    %s\n", time.Now().Format("Jan 02 15:04:05"), h.tag, msg)
	return f.Close() == nil && err == nil
}
