// Package agenttest is what the cross-package test suites (conformance,
// parity, pacemaker) share: the table that says what each agent needs to
// run outside a cluster (Rows), a private sandbox per run (a state
// directory and, for agents that manage addresses, a network namespace
// the test creates), installing the freshly built binary where any user
// can run it, and running an agent by path the way pacemaker-execd does.
package agenttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/netnstest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
)

// Path is the PATH every command the suites start runs with, so that a
// run does not depend on the caller's environment.
const Path = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

// FeatureSet is the crm_feature_set Pacemaker 2.1.5 passes to agents
// (OCF_RESKEY_crm_feature_set), which decides how promotable agents set
// their promotion score.
const FeatureSet = "3.16.1"

// CommandTimeout bounds every program a suite runs, so that a hung agent
// fails its test instead of the whole test binary.
const CommandTimeout = 30 * time.Second

// ModuleRoot is the repository's top directory.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Context is a context for one command, cancelled at the end of the test
// and at CommandTimeout.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	t.Cleanup(cancel)
	return ctx
}

// Command is exec.CommandContext with the process in its own group, which
// is killed as a whole when ctx ends (as pacemaker-execd kills an agent),
// so that no child of a hung agent outlives the test.
func Command(ctx context.Context, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	return cmd
}

// Output is what a finished command printed and how it exited.
type Output struct {
	ExitCode       int
	Stdout, Stderr string
}

// Combined is stdout then stderr, for failure messages.
func (o Output) Combined() string { return o.Stdout + o.Stderr }

// RunCommand runs cmd to completion. A non-zero exit is not an error (it
// is in ExitCode); a command that could not start, was killed by a signal
// or ran out of time is.
func RunCommand(cmd *exec.Cmd) (Output, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := Output{ExitCode: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		err = nil
	}
	if err != nil {
		return out, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out.Combined())
	}
	return out, nil
}

// Sandbox is one run's private place: a directory that holds the state
// directories (HA_RSCTMP, HA_VARRUN) and state files, and, for agents that
// need one, a network namespace created for the test. Two sandboxes never
// share a file, so the reference agent and ocfbox can run the same
// scenario side by side.
type Sandbox struct {
	Dir   string
	Netns *netnstest.Namespace // nil runs in the test's own namespace
	// MountNS runs every command in a mount namespace of its own with
	// private propagation (unshare), so that what an agent mounts is never
	// seen by the host and vanishes with the command.
	MountNS bool
}

// NewRowSandbox is NewSandbox for a row's agent: with a network namespace
// when the row asks for one, and commands in a private mount namespace
// when it mounts.
func NewRowSandbox(t testing.TB, row Row) *Sandbox {
	t.Helper()
	sb := NewSandbox(t, row.Netns)
	if row.MountNS {
		testenv.RequireRoot(t)
		testenv.RequireTool(t, "unshare")
		sb.MountNS = true
	}
	return sb
}

// NewSandbox creates a sandbox, with a fresh network namespace (only
// loopback, up; deleted at cleanup with every process left in it) when
// netns is true. Agents that manage addresses run inside one so that no
// test touches the host's interfaces.
func NewSandbox(t testing.TB, netns bool) *Sandbox {
	t.Helper()
	sb := &Sandbox{Dir: t.TempDir()}
	for _, d := range []string{sb.RscTmp(), sb.VarRun()} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("sandbox: %v", err)
		}
	}
	if netns {
		testenv.RequireRoot(t)
		testenv.RequireTool(t, "ip")
		sb.Netns = netnstest.New(t)
	}
	return sb
}

// Path is a file in the sandbox directory.
func (sb *Sandbox) Path(name string) string { return filepath.Join(sb.Dir, name) }

// RscTmp is the sandbox's HA_RSCTMP.
func (sb *Sandbox) RscTmp() string { return sb.Path("rsctmp") }

// VarRun is the sandbox's HA_VARRUN.
func (sb *Sandbox) VarRun() string { return sb.Path("varrun") }

// Expand replaces $DIR, $RSCTMP and $VARRUN in s with the sandbox's
// paths, so tables can name files in whichever sandbox runs them.
func (sb *Sandbox) Expand(s string) string {
	return os.Expand(s, func(name string) string {
		switch name {
		case "DIR":
			return sb.Dir
		case "RSCTMP":
			return sb.RscTmp()
		case "VARRUN":
			return sb.VarRun()
		}
		return "$" + name
	})
}

// Environ is the environment every program run in the sandbox starts
// from: a fixed PATH, the C locale, the state directories pointing into
// the sandbox, logging to stderr as under crm_resource, then extra.
// A PATH in extra replaces the fixed one (a row's fake tools come first).
func (sb *Sandbox) Environ(extra ...string) []string {
	path := Path
	for _, kv := range extra {
		if strings.HasPrefix(kv, "PATH=") {
			path = ""
		}
	}
	env := []string{"LC_ALL=C",
		"HA_RSCTMP=" + sb.RscTmp(), "HA_VARRUN=" + sb.VarRun(),
		"HA_logfacility=none", "HA_debug=0",
	}
	if path != "" {
		env = append([]string{path}, env...)
	}
	return append(env, extra...)
}

// Command is the package's Command run inside the sandbox's network
// namespace when it has one. It goes through `ip netns exec`, which also
// mounts a /sys that shows the namespace's own interfaces, as agents that
// read /sys/class/net expect.
func (sb *Sandbox) Command(ctx context.Context, argv ...string) *exec.Cmd {
	if sb.Netns != nil {
		argv = append([]string{"ip", "netns", "exec", sb.Netns.Name}, argv...)
	}
	if sb.MountNS {
		argv = append([]string{"unshare", "--mount", "--propagation", "private"}, argv...)
	}
	return Command(ctx, argv...)
}

// OCFEnv is the environment pacemaker-execd gives an agent for one action
// (drbd-ocf.md B.2): the OCF variables, params as OCF_RESKEY_<name> and
// meta as OCF_RESKEY_CRM_meta_<name>. Parameters come in sorted order so
// that runs are reproducible.
func OCFEnv(agent, provider, instance string, params, meta map[string]string) []string {
	env := []string{
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_TYPE=" + agent, "OCF_RESOURCE_PROVIDER=" + provider,
		"OCF_RESOURCE_INSTANCE=" + instance,
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"OCF_RESKEY_crm_feature_set=" + FeatureSet,
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		env = append(env, "OCF_RESKEY_"+k+"="+params[k])
	}
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		env = append(env, "OCF_RESKEY_CRM_meta_"+k+"="+meta[k])
	}
	return env
}

// Result is one agent run.
type Result struct {
	Status         ocf.Status
	Stdout, Stderr string
	Reason         string // the exit reason, as ocftest.ExitReason reads it
}

// RunAgent runs `path action` in the sandbox with env, as pacemaker-execd
// does: argv is the agent's path and the action, nothing else.
func (sb *Sandbox) RunAgent(ctx context.Context, path, action string, env []string) (Result, error) {
	cmd := sb.Command(ctx, path, action)
	cmd.Env = env
	cmd.Dir = sb.Dir
	out, err := RunCommand(cmd)
	reason, _ := ocftest.ExitReason(out.Stderr)
	return Result{
		Status: ocf.Status(out.ExitCode),
		Stdout: out.Stdout, Stderr: out.Stderr,
		Reason: reason,
	}, err
}

// Install copies the test binary into a fresh directory every user can
// read and creates one symlink per agent there with `ocfbox install
// --root`, as a package would. ocf-tester and the meta-data checks run
// the agents as user nobody, so the whole path must be world-readable,
// which the build directory is not.
func Install(t testing.TB) Installation {
	t.Helper()
	dir, err := os.MkdirTemp("", "ocfbox-agents-")
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("install: %v", err)
	}
	bin := filepath.Join(dir, "ocfbox")
	if err := copyFile(testenv.Binary(t), bin, 0o755); err != nil {
		t.Fatalf("install: %v", err)
	}
	root := filepath.Join(dir, "root")
	out, err := RunCommand(Command(Context(t), bin, "install", "--root", root, "--target", bin))
	if err == nil && out.ExitCode != 0 {
		err = fmt.Errorf("exit status %d", out.ExitCode)
	}
	if err != nil {
		t.Fatalf("ocfbox install --root %s: %v\n%s", root, err, out.Combined())
	}
	return Installation{Binary: bin, Dir: filepath.Join(root, "usr/lib/ocf/resource.d/ocfbox")}
}

// Installation is the binary and its agent links, as Install made them.
type Installation struct {
	Binary string // the ocfbox binary
	Dir    string // …/usr/lib/ocf/resource.d/ocfbox, one link per agent
}

// Agent is the path of an agent's link.
func (in Installation) Agent(name string) string { return filepath.Join(in.Dir, name) }

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	return out.Close()
}
