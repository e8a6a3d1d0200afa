package measure

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// StraceArgv is the command line that runs a program (appended to it)
// under strace, following every process it forks, and writes every
// execve and every process's end to file:
//
//	PID execve("/usr/bin/cat", ["cat", …], …) = 0
//	PID +++ exited with 0 +++
//
// -I1 lets strace be interrupted, so that WaitTrace can detach it from a
// daemon the program started.
func StraceArgv(strace, file string) []string {
	return []string{strace, "-f", "-q", "-I1", "-e", "trace=execve", "-e", "signal=none", "-o", file}
}

// Trace is what one traced invocation did.
type Trace struct {
	// Programs are the basenames of the programs it executed
	// successfully (execve returned 0), in order, its own included.
	Programs []string
	// Leader is the traced program's pid: the first process in the
	// trace.
	Leader int
	// Ended tells whether the leader's end is in the trace; Status is
	// then its exit status, or 128 plus the signal that killed it, as a
	// shell reports it.
	Ended  bool
	Status int
}

var (
	// strace quotes the path as C does; a line starts with the pid and
	// one or more spaces (strace aligns the pids).
	execCall = regexp.MustCompile(`^(\d+) +execve\("((?:[^"\\]|\\.)*)"(?:, \["((?:[^"\\]|\\.)*)")?`)
	resumed  = regexp.MustCompile(`^(\d+) +<\.\.\. execve resumed>`)
	exited   = regexp.MustCompile(`^(\d+) +\+\+\+ exited with (\d+) \+\+\+$`)
	killed   = regexp.MustCompile(`^(\d+) +\+\+\+ killed by (SIG[A-Z0-9]+)`)
	anyLine  = regexp.MustCompile(`^(\d+) `)
	success  = regexp.MustCompile(`\) += 0$`)
)

// ParseTrace reads what StraceArgv wrote. A call that strace split into
// "<unfinished ...>" and "<... execve resumed>" because processes ran at
// the same time is matched by pid.
func ParseTrace(r io.Reader) (Trace, error) {
	var t Trace
	pending := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if t.Leader == 0 {
			if m := anyLine.FindStringSubmatch(line); m != nil {
				t.Leader, _ = strconv.Atoi(m[1])
			}
		}
		if m := execCall.FindStringSubmatch(line); m != nil {
			name := programName(m[2], m[3])
			switch {
			case strings.HasSuffix(line, "<unfinished ...>"):
				pending[m[1]] = name
			case success.MatchString(line):
				t.Programs = append(t.Programs, name)
			}
			continue
		}
		if m := resumed.FindStringSubmatch(line); m != nil {
			name, ok := pending[m[1]]
			delete(pending, m[1])
			if ok && success.MatchString(line) {
				t.Programs = append(t.Programs, name)
			}
			continue
		}
		if m := exited.FindStringSubmatch(line); m != nil && m[1] == strconv.Itoa(t.Leader) {
			t.Ended = true
			t.Status, _ = strconv.Atoi(m[2])
			continue
		}
		if m := killed.FindStringSubmatch(line); m != nil && m[1] == strconv.Itoa(t.Leader) {
			t.Ended = true
			t.Status = 128 + int(unix.SignalNum(m[2]))
		}
	}
	return t, sc.Err()
}

// WaitTrace waits for cmd, started (by the caller, e.g. inside a network
// namespace) from StraceArgv with file, and returns the trace. strace
// ends when every process it follows has ended; a daemon the traced
// program started (httpd) would keep it running, so once the leader has
// ended WaitTrace waits at most grace more for the rest (a background
// announcer that is still busy), then has strace detach from whatever
// remains, which keeps running. When ctx ends first, strace and the
// program are killed and that is an error.
func WaitTrace(ctx context.Context, cmd *exec.Cmd, file string, grace time.Duration) (Trace, error) {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var endedAt time.Time
	detached := false
	for {
		select {
		case err := <-done:
			t, perr := readTrace(file)
			if perr != nil {
				return t, perr
			}
			if !t.Ended {
				return t, fmt.Errorf("strace: the traced program's end is not in %s (%v)", file, err)
			}
			// strace's own status is the program's, or SIGTERM once
			// detached: the trace has the program's.
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				return t, fmt.Errorf("strace: %w", err)
			}
			return t, nil
		case <-ctx.Done():
			cmd.Process.Kill()
			<-done
			t, _ := readTrace(file)
			return t, fmt.Errorf("strace: %w", ctx.Err())
		case <-tick.C:
			if detached {
				continue
			}
			if endedAt.IsZero() {
				if t, err := readTrace(file); err == nil && t.Ended {
					endedAt = time.Now()
				}
				continue
			}
			if time.Since(endedAt) >= grace {
				// With -I1 strace detaches from every process on SIGTERM.
				cmd.Process.Signal(syscall.SIGTERM)
				detached = true
			}
		}
	}
}

// programName is the basename of the program's path, or of its argv[0]
// when a program executes itself again through /proc/self/exe (ocfbox's
// background announcer) and the path says nothing.
func programName(path, argv0 string) string {
	if strings.HasPrefix(path, "/proc/") && argv0 != "" {
		return filepath.Base(argv0)
	}
	return filepath.Base(path)
}

func readTrace(file string) (Trace, error) {
	f, err := os.Open(file)
	if err != nil {
		return Trace{}, err
	}
	defer f.Close()
	return ParseTrace(f)
}
