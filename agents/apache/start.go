package apache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/proc"
)

// Start checks the configuration with httpd -t, starts httpd and returns
// once its status URL answers. An httpd of this instance that is already
// running is left alone.
func (a *Agent) Start(ctx context.Context, r *ocf.Resource) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	httpd, err := a.httpd(r, in)
	if err != nil {
		return err
	}
	master, why := a.running(ctx, in, false)
	if master != nil {
		r.Log.Info(fmt.Sprintf("httpd is already running (pid %d)", master.PID))
		a.record(r, in)
		return nil
	}
	if strays := a.instanceProcs(in); len(strays) > 0 {
		r.Log.Warn(fmt.Sprintf("httpd processes of %s run that the pid file %s does not name (%s): stopping them before starting", in.configFile, in.pidFile, procList(strays)))
		if err := a.terminate(ctx, r, in, nil, strays); err != nil {
			return ocf.Generic("start: %w", err)
		}
	}
	// DefaultRuntimeDir and the pid file's directory are often on a tmpfs
	// emptied at boot (Debian's /run/apache2); httpd does not create them
	// (and httpd -t fails without the first).
	if err := mkdir(in.conf.RuntimeDir); err != nil {
		return err
	}
	argv := in.argv(httpd)
	// httpd runs with the environment files applied; it detaches, and
	// Run returns when the process it started exits.
	run := *r.Run
	run.Environ = in.env.Environ()
	_, err = run.Run(ctx, append(slices.Clone(argv), "-t")...)
	var re *ocf.RunError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return ocf.Generic("httpd -t did not finish: %w", err)
	case errors.As(err, &re) && re.ExitCode > 0:
		r.Log.Error(fmt.Sprintf("configuration test of %s failed: %s", in.configFile, strings.TrimSpace(re.Stderr)))
		if path := missingPath(re.Stderr); path != "" {
			// A certificate, module or included file missing on this
			// node: another node may have it, so not a ban everywhere.
			return ocf.Installed("httpd -t: %s does not exist on this node: %s", path, firstError([]byte(re.Stderr)))
		}
		return ocf.Configured("httpd -t: %s", firstError([]byte(re.Stderr)))
	default:
		return ocf.Installed("httpd=%q cannot run: %v", httpd, err)
	}
	if err := mkdir(filepath.Dir(in.pidFile)); err != nil {
		return err
	}
	// httpd refuses to start, and exits 0, while its pid file names any
	// process that exists (a zombie, or another process that got the pid
	// after a crash).
	if _, err := os.Stat(in.pidFile); err == nil {
		r.Log.Info(fmt.Sprintf("removing stale pid file: %s", why))
		if err := os.Remove(in.pidFile); err != nil {
			return ocf.Generic("remove stale pid file: %w", err)
		}
	}
	// Recorded before httpd runs, so that even a start killed half-way
	// leaves what a later stop needs to find it.
	a.record(r, in)
	logStart := fileSize(in.conf.ErrorLog)
	r.Log.Info("starting " + strings.Join(argv, " "))
	if _, err := run.Run(ctx, argv...); err != nil {
		code, stderr := -1, ""
		if errors.As(err, &re) {
			code, stderr = re.ExitCode, re.Stderr
		}
		return ocf.Generic("httpd exited with status %d: %s%s", code, firstError([]byte(stderr)), a.errorLogHint(in, logStart))
	}
	return a.waitUp(ctx, r, in, argv, logStart)
}

// waitUp waits until the status URL answers. It gives up early when
// httpd exits, or when the server answers with something that does not
// match (that will not change); at the deadline, or on giving up, it
// stops what it started.
func (a *Agent) waitUp(ctx context.Context, r *ocf.Resource, in *instance, argv []string, logStart int64) error {
	// Keep a quarter of the time (at most 5 s) to stop httpd again.
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if deadline, ok := ctx.Deadline(); ok {
		wctx, cancel = context.WithDeadline(ctx, deadline.Add(-min(time.Until(deadline)/4, 5*time.Second)))
	}
	defer cancel()
	var last error = errors.New("no pid file yet")
	answeredWithoutPidFile := 0
	// httpd usually answers within a few tens of milliseconds: look again
	// soon at first, then less often, up to every Poll.
	wait := min(10*time.Millisecond, a.Poll)
	for {
		if master, why := a.running(wctx, in, false); master != nil {
			err := a.checkStatus(wctx, r, in, 5*time.Second)
			if err == nil {
				r.Log.Info(fmt.Sprintf("httpd started (pid %d); %s answers", master.PID, in.statusURL))
				return nil
			}
			last = err
			var ce *checkError
			if errors.As(err, &ce) && ce.answered && !ce.timedOut {
				return a.abandon(ctx, r, in, ocf.Generic("httpd started (pid %d) but %v", master.PID, err))
			}
		} else {
			last = errors.New(why)
			procs := a.Proc.Remaining(a.exactProcs(argv))
			if len(procs) == 0 {
				return ocf.Generic("httpd exited during start-up%s", a.errorLogHint(in, logStart))
			}
			// httpd writes its pid file before its workers answer; one
			// that answers without it could not write it.
			if a.checkStatus(wctx, r, in, time.Second) == nil {
				if answeredWithoutPidFile++; answeredWithoutPidFile > 1 {
					return a.abandon(ctx, r, in, ocf.Generic("httpd answers but wrote no pid file %s%s", in.pidFile, a.errorLogHint(in, logStart)))
				}
			}
		}
		if !sleep(wctx, wait) {
			return a.abandon(ctx, r, in, ocf.Generic("httpd did not come up within the start timeout: %v", last))
		}
		wait = min(2*wait, a.Poll)
	}
}

// abandon stops the httpd a failed start left and returns the start's
// failure.
func (a *Agent) abandon(ctx context.Context, r *ocf.Resource, in *instance, failure error) error {
	master, _ := a.running(ctx, in, false)
	if err := a.terminate(ctx, r, in, master, a.instanceProcs(in)); err != nil {
		r.Log.Error("stop after failed start: " + err.Error())
	}
	return failure
}

// exactProcs are the processes whose command line is argv: httpd's
// parent while it starts and the daemon it forks.
func (a *Agent) exactProcs(argv []string) []proc.Proc {
	procs, _ := a.Proc.Find(func(_ proc.Proc, cmdline []string) bool { return slices.Equal(cmdline, argv) })
	return procs
}

// Regular expressions are compiled on first use: the binary's every
// invocation, of any agent, would pay for them at start-up otherwise.
var logPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\[[^\]]*\]\s*)+`) })
var ahCode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^AH\d+:\s*`) })

// firstError is the first line of httpd's output that says what is
// wrong, without log prefix and message number; a line that ends with ":"
// ("Syntax error on line 3 of …:") is joined with the next.
func firstError(outputs ...[]byte) string {
	var lines []string
	for _, o := range outputs {
		for _, l := range strings.Split(string(o), "\n") {
			// A line that is only a log prefix ("[…]") says nothing.
			if l = strings.TrimSpace(l); l != "" && !isWarning(l) && strings.TrimSpace(clean(l)) != "" {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		return "no error message"
	}
	msg := clean(lines[0])
	if strings.HasSuffix(msg, ":") && len(lines) > 1 {
		// "Syntax error on line 3 of FILE:" + the message: the message
		// first, so that it survives the exit reason's 128 characters.
		if m := syntaxError().FindStringSubmatch(msg); m != nil {
			return fmt.Sprintf("%s (%s line %s)", clean(lines[1]), m[2], m[1])
		}
		msg += " " + clean(lines[1])
	}
	return msg
}

// missingPath is the first absolute path httpd's error output names that
// does not exist here ("" for none): httpd -t fails the same way for a
// typo in the configuration and for a file one node lacks, and only the
// second is this node's problem.
func missingPath(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if isWarning(line) {
			continue
		}
		for _, f := range strings.FieldsFunc(line, func(r rune) bool {
			return strings.ContainsRune(" \t'\"()[],", r)
		}) {
			f = strings.TrimRight(f, ":.;")
			if !strings.HasPrefix(f, "/") || len(f) < 2 {
				continue
			}
			if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
				return f
			}
		}
	}
	return ""
}

var syntaxError = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Syntax error on line (\d+) of (.*):$`) })

func isWarning(line string) bool {
	return strings.Contains(line, ":warn]") || strings.Contains(line, ":notice]") ||
		strings.Contains(line, "AH00558") || line == "Syntax OK"
}

func clean(line string) string {
	return ahCode().ReplaceAllString(logPrefix().ReplaceAllString(line, ""), "")
}

// errorLogHint is "; error log FILE: first error" for what httpd wrote to
// its error log since offset, or "" when it wrote nothing useful.
func (a *Agent) errorLogHint(in *instance, offset int64) string {
	if in.conf.ErrorLog == "" || offset < 0 {
		return ""
	}
	f, err := os.Open(in.conf.ErrorLog)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	var errs []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, level := range []string{":emerg]", ":alert]", ":crit]", ":error]"} {
			if strings.Contains(l, level) {
				errs = append(errs, l)
			}
		}
	}
	if len(errs) == 0 {
		return ""
	}
	return fmt.Sprintf("; error log %s: %s", in.conf.ErrorLog, firstError([]byte(strings.Join(errs, "\n"))))
}

func mkdir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ocf.Installed("create directory %s for httpd: %v", dir, err)
	}
	return nil
}

// fileSize is a file's size, 0 when it does not exist, -1 when unknown.
func fileSize(path string) int64 {
	if path == "" {
		return -1
	}
	fi, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return 0
		}
		return -1
	}
	return fi.Size()
}
