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
// "<Agent>(<instance>)[pid]" and prefixed INFO:/WARNING:/ERROR:/DEBUG:,
// sent to syslog when HA_LOGFACILITY names a facility, appended to
// HA_LOGFILE when set, and to stderr when neither is set. Debug lines
// appear only when HA_debug is on, and go to HA_DEBUGLOG when set.
// A missing /dev/log or an unwritable log file is never an error: the
// line then goes to stderr.
func NewLogger(env *Env, stderr io.Writer) *slog.Logger {
	h := &logHandler{
		tag:    fmt.Sprintf("%s(%s)[%d]", env.Type, env.Instance, os.Getpid()),
		cfg:    env.Log,
		stderr: stderr,
		mu:     new(sync.Mutex),
	}
	if env.Log.Facility != "" {
		if prio, ok := facilities[strings.ToLower(env.Log.Facility)]; ok {
			if w, err := syslog.New(prio|syslog.LOG_INFO, h.tag); err == nil {
				h.syslog = w
			}
		}
	}
	return slog.New(h)
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
	syslog *syslog.Writer
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
	delivered := false
	if h.syslog != nil {
		var err error
		switch {
		case r.Level >= slog.LevelError:
			err = h.syslog.Err(msg)
		case r.Level >= slog.LevelWarn:
			err = h.syslog.Warning(msg)
		case r.Level >= slog.LevelInfo:
			err = h.syslog.Info(msg)
		default:
			err = h.syslog.Debug(msg)
		}
		delivered = err == nil
	}
	file := h.cfg.File
	if r.Level < slog.LevelInfo && h.cfg.DebugLog != "" {
		file = h.cfg.DebugLog
	}
	if file != "" {
		line := fmt.Sprintf("%s %s:    %s\n", time.Now().Format("Jan 02 15:04:05"), h.tag, msg)
		if f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640); err == nil {
			_, err = f.WriteString(line)
			delivered = f.Close() == nil && err == nil || delivered
		}
	}
	if !delivered {
		fmt.Fprintf(h.stderr, "%s %s\n", h.tag, msg)
	}
	return nil
}
