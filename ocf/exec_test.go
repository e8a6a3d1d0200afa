package ocf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
)

// hostile is one argument a shell would have split, expanded and run.
const hostile = `it's "quoted" $(touch MARKER); echo $HOME * | cat > /dev/null && false`

func TestRunPassesArgvVerbatim(t *testing.T) {
	dir := t.TempDir()
	arg := strings.ReplaceAll(hostile, "MARKER", filepath.Join(dir, "ran-a-shell"))
	r := &ocf.Runner{}

	// A real program: printf prints its argument back unchanged.
	out, err := r.Run(t.Context(), "/usr/bin/printf", "%s\n", arg)
	if err != nil || string(out) != arg+"\n" {
		t.Errorf("printf %%s\\n <arg> printed %q (error %v), want the argument back: %q", out, err, arg+"\n")
	}

	// Every argument, including empty and dash-led ones, arrives as is.
	args := []string{arg, "", "-n", "two words", "--", "\ttab", "ünïcode"}
	out, err = r.Run(t.Context(), append([]string{filepath.Join(helperDir(t, "print-args"), "print-args")}, args...)...)
	var got []string
	if err != nil || json.Unmarshal(out, &got) != nil || !slices.Equal(got, args) {
		t.Errorf("the program received %q (error %v), want exactly %q", got, err, args)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran-a-shell")); err == nil {
		t.Errorf("a shell ran the $(touch …) inside an argument")
	}
}

func TestRunReportsExitCodeAndStderr(t *testing.T) {
	prog := filepath.Join(helperDir(t, "exit-with"), "exit-with")
	argv := []string{prog, "3", "mount: /srv: wrong fs type\n", "partial"}
	out, err := (&ocf.Runner{}).Run(t.Context(), argv...)
	var re *ocf.RunError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T), want a *ocf.RunError", err, err)
	}
	if re.ExitCode != 3 || re.Stderr != "mount: /srv: wrong fs type\n" || !slices.Equal(re.Argv, argv) {
		t.Errorf("RunError{ExitCode: %d, Stderr: %q, Argv: %q}, want exit code 3, the program's stderr and argv", re.ExitCode, re.Stderr, re.Argv)
	}
	if string(out) != "partial" {
		t.Errorf("output %q, want what the program printed before failing: %q", out, "partial")
	}
	if msg := err.Error(); !strings.Contains(msg, prog+" 3") || !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "wrong fs type") {
		t.Errorf("error message %q, want the command, its exit status and its stderr", msg)
	}
	if ocf.StatusOf(err) != ocf.ErrGeneric {
		t.Errorf("StatusOf = %v, want OCF_ERR_GENERIC for a program that failed", ocf.StatusOf(err))
	}
}

func TestRunMissingProgramIsNotInstalled(t *testing.T) {
	notExecutable := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(notExecutable, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		runner  ocf.Runner
		prog    string
		wantMsg string
	}{
		{"a name not in PATH", ocf.Runner{}, "ocfbox-no-such-program", "executable file not found in $PATH"},
		{"a path that does not exist", ocf.Runner{}, "/nonexistent/sbin/drbdadm", "no such file or directory"},
		{"a file that is not executable", ocf.Runner{}, notExecutable, "permission denied"},
		{"any program with NoBinaries (OCF_TESTER_FAIL_HAVE_BINARY)", ocf.Runner{NoBinaries: true}, "/usr/bin/printf", "executable file not found"},
	}
	for _, tt := range tests {
		_, err := tt.runner.Run(t.Context(), tt.prog, "x")
		var re *ocf.RunError
		if ocf.StatusOf(err) != ocf.ErrInstalled || !errors.As(err, &re) || re.ExitCode != -1 {
			t.Errorf("%s: Run error %v, status %v; want a RunError with exit code -1 and OCF_ERR_INSTALLED", tt.name, err, ocf.StatusOf(err))
		}
		if msg := fmt.Sprint(err); !strings.Contains(msg, tt.prog) || !strings.Contains(msg, tt.wantMsg) {
			t.Errorf("%s: error %q, want it to name %s and say %q", tt.name, msg, tt.prog, tt.wantMsg)
		}
		if _, err := tt.runner.LookPath(tt.prog); ocf.StatusOf(err) != ocf.ErrInstalled {
			t.Errorf("%s: LookPath error %v, want one that means OCF_ERR_INSTALLED", tt.name, err)
		}
	}
	if _, err := (&ocf.Runner{}).Run(t.Context()); err == nil {
		t.Error("Run with no argv succeeded, want an error")
	}
}

// alive reports whether a process exists and has not exited (a zombie
// waiting for its parent to reap it is dead).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// waitFor polls until cond holds or fails the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for give := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(give) {
			t.Fatalf("gave up after 10s waiting until %s", what)
		}
	}
}

// readPids waits for a helper's pid file and returns the pids in it.
func readPids(t *testing.T, path string, n int) []int {
	t.Helper()
	var pids []int
	waitFor(t, "the helper wrote its pids", func() bool {
		data, _ := os.ReadFile(path)
		pids = nil
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return len(pids) == n
	})
	return pids
}

// A cancelled or timed-out command dies with everything it started, as it
// would under pacemaker-execd's process-group SIGKILL (B.6).
func TestRunKillsTheWholeProcessGroup(t *testing.T) {
	tests := []struct {
		name    string
		stop    func(cancel context.CancelFunc)
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{
			name:    "when the context is cancelled",
			ctx:     func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			stop:    func(cancel context.CancelFunc) { cancel() },
			wantErr: context.Canceled,
		},
		{
			name: "when the deadline passes",
			ctx: func() (context.Context, context.CancelFunc) {
				// Long enough for the helper to start its child and say
				// so first: under an emulator (make crosstest) every
				// process start takes much longer.
				deadline := time.Second
				if testenv.Emulator() != "" {
					deadline = 5 * time.Second
				}
				return context.WithTimeout(context.Background(), deadline)
			},
			stop:    func(context.CancelFunc) {},
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := filepath.Join(helperDir(t, "spawn-and-sleep", "sleeper"), "spawn-and-sleep")
			pidfile := filepath.Join(t.TempDir(), "pids")
			ctx, cancel := tt.ctx()
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := (&ocf.Runner{}).Run(ctx, prog, pidfile)
				done <- err
			}()
			pids := readPids(t, pidfile, 2)
			t.Cleanup(func() {
				for _, pid := range pids {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			tt.stop(cancel)
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10s of its context ending")
			}
			var re *ocf.RunError
			if !errors.Is(err, tt.wantErr) || !errors.As(err, &re) || !strings.Contains(err.Error(), "(killed)") {
				t.Errorf("Run error %v, want a RunError wrapping %v that says the program was killed", err, tt.wantErr)
			}
			for i, who := range []string{"the child", "the grandchild"} {
				waitFor(t, who+" (pid "+strconv.Itoa(pids[i])+") is gone", func() bool { return !alive(pids[i]) })
			}
		})
	}
}

// A start command that forks a daemon which keeps stdout open
// (apachectl, libvirt helpers) has still succeeded.
func TestRunSucceedsWhenTheProgramLeavesADaemonHoldingItsOutput(t *testing.T) {
	prog := filepath.Join(helperDir(t, "leave-daemon", "sleeper"), "leave-daemon")
	pidfile := filepath.Join(t.TempDir(), "pid")
	out, err := (&ocf.Runner{}).Run(t.Context(), prog, pidfile)
	pids := readPids(t, pidfile, 1)
	syscall.Kill(pids[0], syscall.SIGKILL)
	if err != nil || string(out) != "started\n" {
		t.Errorf("Run = %q, %v; want the program's output and no error", out, err)
	}
}

func TestRunGivesProgramsTheRunnersEnvironment(t *testing.T) {
	out, err := (&ocf.Runner{Environ: []string{"OCF_RESOURCE_INSTANCE=rsc1", "LC_ALL=C"}}).Run(t.Context(), "/usr/bin/env")
	if err != nil || string(out) != "OCF_RESOURCE_INSTANCE=rsc1\nLC_ALL=C\n" {
		t.Errorf("env printed %q (error %v), want exactly the Runner's Environ", out, err)
	}
	t.Setenv("OCFBOX_TEST_INHERITED", "yes")
	out, err = (&ocf.Runner{}).Run(t.Context(), "/usr/bin/env")
	if err != nil || !strings.Contains(string(out), "OCFBOX_TEST_INHERITED=yes\n") {
		t.Errorf("with no Environ, env printed %q (error %v), want this process's environment", out, err)
	}
}

func TestRunLogsWhatRanAtDebugLevel(t *testing.T) {
	var stderr bytes.Buffer
	log := ocf.NewLogger(ocf.ReadEnv([]string{"HA_debug=1", "OCF_RESOURCE_INSTANCE=rsc1"}, "Tester", "start"), &stderr)
	if _, err := (&ocf.Runner{Log: log}).Run(t.Context(), "/usr/bin/printf", "%s", "hello"); err != nil {
		t.Fatal(err)
	}
	if want := `DEBUG: ran argv="/usr/bin/printf %s hello"`; !strings.Contains(stderr.String(), want) {
		t.Errorf("log %q, want it to contain %q", stderr.String(), want)
	}
}
