package ocf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Runner runs programs for an agent: argv only, never through a shell,
// each under the action's context. A child gets its own process group so
// that a cancelled or timed-out command is killed with everything it
// started.
type Runner struct {
	Log *slog.Logger
	// NoBinaries makes every program look absent (ocf-tester's
	// OCF_TESTER_FAIL_HAVE_BINARY probe).
	NoBinaries bool
	// Environ is the programs' environment; nil means this process's.
	// Main passes the invocation's, so that crm_attribute and friends see
	// OCF_RESOURCE_INSTANCE as they would under a shell agent.
	Environ []string
}

// RunError is a program that could not run or exited non-zero.
type RunError struct {
	Argv     []string
	ExitCode int // -1 when the program did not run to completion
	Stderr   string
	Err      error
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *RunError) Unwrap() error { return e.Err }

// LookPath finds a program in PATH, or checks a path given with a slash.
// The error for a program that is absent or not executable wraps
// exec.ErrNotFound, which StatusOf maps to ErrInstalled.
func (r *Runner) LookPath(name string) (string, error) {
	if r.NoBinaries {
		return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
	}
	path, err := exec.LookPath(name)
	if err != nil && !errors.Is(err, exec.ErrNotFound) {
		// exec.LookPath reports a path with a slash by its stat error
		// (no such file, permission denied); for an agent that is
		// still software missing on this host.
		err = notInstalled{err}
	}
	return path, err
}

// notInstalled marks a lookup error as exec.ErrNotFound, keeping its text.
type notInstalled struct{ err error }

func (e notInstalled) Error() string        { return e.err.Error() }
func (e notInstalled) Unwrap() error        { return e.err }
func (e notInstalled) Is(target error) bool { return target == exec.ErrNotFound }

// Run runs argv[0] with the remaining arguments and returns its standard
// output. The error is a *RunError carrying the exit code and stderr.
func (r *Runner) Run(ctx context.Context, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("run: empty command")
	}
	path, err := r.LookPath(argv[0])
	if err != nil {
		return nil, &RunError{Argv: argv, ExitCode: -1, Err: err}
	}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = r.Environ
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Once the program has exited (or the context is done) its output is
	// read for at most WaitDelay: a daemon it left behind may hold the
	// pipes open for ever.
	cmd.WaitDelay = 500 * time.Millisecond
	start := time.Now()
	err = cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		err = nil
	}
	log := r.logger()
	log.Debug("ran", "argv", strings.Join(argv, " "), "took", time.Since(start).Round(time.Millisecond),
		"stdout", strings.TrimSpace(stdout.String()), "stderr", strings.TrimSpace(stderr.String()))
	if err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (killed)", ctx.Err())
		}
		return stdout.Bytes(), &RunError{Argv: argv, ExitCode: code, Stderr: stderr.String(), Err: err}
	}
	return stdout.Bytes(), nil
}

func (r *Runner) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}
