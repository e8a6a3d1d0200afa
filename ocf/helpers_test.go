package ocf_test

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
)

// The test binary is also a multi-call binary, like ocfbox itself: run
// under one of the names below (a symlink made by helperDir), it is a
// small real program the tests need, instead of a shell script. The fake
// Pacemaker tools (crm_attribute, crm_master, crm_node) are not here but
// in internal/fakecrm, which all the module's tests share.
var helpers = map[string]func(args []string) int{
	"print-args":      printArgs,
	"exit-with":       exitWith,
	"spawn-and-sleep": spawnAndSleep,
	"leave-daemon":    leaveDaemon,
	"sleeper":         func([]string) int { time.Sleep(time.Hour); return 0 },
	"lock-holder":     lockHolder,
}

func TestMain(m *testing.M) {
	if helper, ok := helpers[filepath.Base(os.Args[0])]; ok {
		os.Exit(helper(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// helperDir returns a new directory holding the named helper programs.
func helperDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		if _, ok := helpers[name]; !ok {
			t.Fatalf("no helper program %q", name)
		}
		testenv.InstallSelf(t, filepath.Join(dir, name))
	}
	return dir
}

// printArgs writes its arguments to stdout as a JSON array.
func printArgs(args []string) int {
	json.NewEncoder(os.Stdout).Encode(args)
	return 0
}

// exitWith CODE STDERR [STDOUT] writes the texts and exits with CODE.
func exitWith(args []string) int {
	code, _ := strconv.Atoi(args[0])
	fmt.Fprint(os.Stderr, args[1])
	if len(args) > 2 {
		fmt.Fprint(os.Stdout, args[2])
	}
	return code
}

// startSleeper starts the sleeper helper next to this program, sharing
// this program's stdout (and process group).
func startSleeper() (*exec.Cmd, error) {
	cmd := exec.Command(filepath.Join(filepath.Dir(os.Args[0]), "sleeper"))
	cmd.Stdout = os.Stdout
	return cmd, cmd.Start()
}

// spawnAndSleep PIDFILE starts a grandchild, writes "<own pid> <its pid>"
// to PIDFILE and sleeps.
func spawnAndSleep(args []string) int {
	child, err := startSleeper()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.WriteFile(args[0], fmt.Appendf(nil, "%d %d", os.Getpid(), child.Process.Pid), 0o644)
	time.Sleep(time.Hour)
	return 0
}

// leaveDaemon PIDFILE starts a grandchild that keeps stdout open, writes
// its pid to PIDFILE and exits 0 at once, as a daemon's start command does.
func leaveDaemon(args []string) int {
	child, err := startSleeper()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.WriteFile(args[0], fmt.Appendf(nil, "%d", child.Process.Pid), 0o644)
	fmt.Println("started")
	return 0
}

// lockHolder RSCTMP INSTANCE SUFFIX takes the resource's lock, says
// "locked" and holds it until killed.
func lockHolder(args []string) int {
	env := ocf.ReadEnv([]string{"HA_RSCTMP=" + args[0], "OCF_RESOURCE_INSTANCE=" + args[1]}, "Tester", "start")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lock, err := env.TakeLock(ctx, args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer lock.Unlock()
	fmt.Println("locked")
	time.Sleep(time.Hour)
	return 0
}

//go:embed testdata/Tester.xml
var testerXML []byte

// step is what one action of the test agent does in a test case.
type step func(ctx context.Context, r *ocf.Resource) error

// behaviour is what a test case has the test agent do.
type behaviour struct {
	do      map[string]step
	monitor func(ctx context.Context, r *ocf.Resource) (ocf.Status, error)
}

// testAgent records every action called on it, in order, and does what
// the test case put in do (by method: "validate", "start", …) or, for
// monitor, in monitor. An action the case leaves out succeeds.
type testAgent struct {
	do      map[string]step
	monitor func(ctx context.Context, r *ocf.Resource) (ocf.Status, error)

	mu    sync.Mutex
	calls []string
}

func (a *testAgent) run(ctx context.Context, r *ocf.Resource, name string) error {
	a.mu.Lock()
	a.calls = append(a.calls, name)
	a.mu.Unlock()
	if f := a.do[name]; f != nil {
		return f(ctx, r)
	}
	return nil
}

func (a *testAgent) called() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

func (a *testAgent) Validate(ctx context.Context, r *ocf.Resource) error {
	return a.run(ctx, r, "validate")
}
func (a *testAgent) Start(ctx context.Context, r *ocf.Resource) error { return a.run(ctx, r, "start") }
func (a *testAgent) Stop(ctx context.Context, r *ocf.Resource) error  { return a.run(ctx, r, "stop") }
func (a *testAgent) Monitor(ctx context.Context, r *ocf.Resource) (ocf.Status, error) {
	a.run(ctx, r, "monitor")
	if a.monitor != nil {
		return a.monitor(ctx, r)
	}
	return ocf.Success, nil
}
func (a *testAgent) Promote(ctx context.Context, r *ocf.Resource) error {
	return a.run(ctx, r, "promote")
}
func (a *testAgent) Demote(ctx context.Context, r *ocf.Resource) error {
	return a.run(ctx, r, "demote")
}
func (a *testAgent) Notify(ctx context.Context, r *ocf.Resource) error {
	return a.run(ctx, r, "notify")
}
func (a *testAgent) MigrateTo(ctx context.Context, r *ocf.Resource) error {
	return a.run(ctx, r, "migrate_to")
}
func (a *testAgent) MigrateFrom(ctx context.Context, r *ocf.Resource) error {
	return a.run(ctx, r, "migrate_from")
}
func (a *testAgent) Reload(ctx context.Context, r *ocf.Resource) error {
	return a.run(ctx, r, "reload")
}

// basicAgent has only the four actions every agent has.
type basicAgent struct{ a *testAgent }

func (b basicAgent) Validate(ctx context.Context, r *ocf.Resource) error { return b.a.Validate(ctx, r) }
func (b basicAgent) Start(ctx context.Context, r *ocf.Resource) error    { return b.a.Start(ctx, r) }
func (b basicAgent) Stop(ctx context.Context, r *ocf.Resource) error     { return b.a.Stop(ctx, r) }
func (b basicAgent) Monitor(ctx context.Context, r *ocf.Resource) (ocf.Status, error) {
	return b.a.Monitor(ctx, r)
}

// fail returns a step that fails with err.
func fail(err error) step { return func(context.Context, *ocf.Resource) error { return err } }

// report returns a monitor that answers status and err.
func report(status ocf.Status, err error) func(context.Context, *ocf.Resource) (ocf.Status, error) {
	return func(context.Context, *ocf.Resource) (ocf.Status, error) { return status, err }
}

// outcome is what an agent run through ocf.Main did.
type outcome struct {
	status         ocf.Status
	stdout, stderr string
}

// exitReason is the exit reason as pacemaker-execd reads it from stderr:
// the text after the last "ocf-exit-reason:", to the end of its line.
func (o outcome) exitReason() string {
	return exitReasonWith(o.stderr, "ocf-exit-reason:")
}

func exitReasonWith(stderr, prefix string) string {
	i := strings.LastIndex(stderr, prefix)
	if i < 0 {
		return ""
	}
	reason, _, _ := strings.Cut(stderr[i+len(prefix):], "\n")
	return reason
}

// runAgent runs agent as the Tester agent through ocf.Main, with argv
// [/usr/lib/ocf/resource.d/ocfbox/Tester args...].
func runAgent(t *testing.T, agent ocf.Agent, environ []string, args ...string) outcome {
	t.Helper()
	return runDefinition(t, ocf.Definition{Name: "Tester", Metadata: testerXML, New: func() ocf.Agent { return agent }}, environ, args...)
}

func runDefinition(t *testing.T, def ocf.Definition, environ []string, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	argv := append([]string{"/usr/lib/ocf/resource.d/ocfbox/Tester"}, args...)
	status := ocf.Main(def, ocf.Invocation{Args: argv, Environ: environ, Stdout: &stdout, Stderr: &stderr})
	return outcome{status: status, stdout: stdout.String(), stderr: stderr.String()}
}

// execdEnv is the environment pacemaker-execd gives an action of resource
// rsc1 (drbd-ocf.md B.2), changed by kv: "NAME=value" sets a variable,
// a bare "NAME" removes it. State and logs go to a new directory.
func execdEnv(t *testing.T, kv ...string) []string {
	t.Helper()
	vars := map[string]string{
		"OCF_RA_VERSION_MAJOR":             "1",
		"OCF_RA_VERSION_MINOR":             "1",
		"OCF_ROOT":                         "/usr/lib/ocf",
		"OCF_RESOURCE_INSTANCE":            "rsc1",
		"OCF_RESOURCE_TYPE":                "Tester",
		"OCF_RESOURCE_PROVIDER":            "ocfbox",
		"OCF_EXIT_REASON_PREFIX":           "ocf-exit-reason:",
		"OCF_RESKEY_crm_feature_set":       "3.16.1",
		"OCF_RESKEY_CRM_meta_timeout":      "20000",
		"OCF_RESKEY_CRM_meta_on_node":      "node1",
		"OCF_RESKEY_CRM_meta_on_node_uuid": "1",
		"OCF_RESKEY_name":                  "web",
		"HA_RSCTMP":                        t.TempDir(),
		"HA_debug":                         "0",
		"HA_logfacility":                   "none",
		"PCMK_logfacility":                 "none",
		"PCMK_service":                     "pacemaker-execd",
		"PATH":                             os.Getenv("PATH"),
	}
	for _, s := range kv {
		if k, v, ok := strings.Cut(s, "="); ok {
			vars[k] = v
		} else {
			delete(vars, s)
		}
	}
	environ := make([]string, 0, len(vars))
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	slices.Sort(environ)
	return environ
}

// recurring is the extra environment of a recurring monitor.
const recurring = "OCF_RESKEY_CRM_meta_interval=10000"
