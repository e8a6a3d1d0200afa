package virtualdomain_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/agents/virtualdomain"
	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
)

// TestMain lets the test binary stand in for crm_resource and systemctl:
// invoked under those names it behaves as fakeCRMResource and
// fakeSystemctl.
func TestMain(m *testing.M) {
	switch filepath.Base(os.Args[0]) {
	case "crm_resource":
		os.Exit(fakeCRMResource(os.Args[1:]))
	case "systemctl":
		os.Exit(fakeSystemctl(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// resource is one VirtualDomain resource run in-process through ocf.Main,
// as pacemaker-execd would run it: its own state directory, parameters,
// and the meta attributes of each action.
type resource struct {
	t        *testing.T
	instance string
	params   map[string]string
	dir      string // HA_RSCTMP and friends
	agent    *virtualdomain.Agent
	extraEnv []string
}

func newResource(t *testing.T, params map[string]string) *resource {
	t.Helper()
	dir := t.TempDir()
	return &resource{t: t, instance: "vm-" + strconv.Itoa(os.Getpid()%1000), params: params, dir: dir}
}

type result struct {
	status ocf.Status
	reason string
	stderr string
	took   time.Duration
}

// run runs one action with CRM_meta_timeout (ms) and extra meta.
func (rs *resource) run(action string, timeoutMS int, meta ...string) result {
	rs.t.Helper()
	env := []string{
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_TYPE=VirtualDomain", "OCF_RESOURCE_PROVIDER=ocfbox",
		"OCF_RESOURCE_INSTANCE=" + rs.instance, "OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"HA_RSCTMP=" + rs.dir, "HA_VARRUN=" + rs.dir, "HA_debug=1", "HA_logfacility=none",
		"PATH=" + os.Getenv("PATH"),
		fmt.Sprintf("OCF_RESKEY_CRM_meta_timeout=%d", timeoutMS),
	}
	for _, k := range slices.Sorted(maps.Keys(rs.params)) {
		env = append(env, "OCF_RESKEY_"+k+"="+rs.params[k])
	}
	for _, m := range meta {
		env = append(env, "OCF_RESKEY_CRM_meta_"+m)
	}
	for _, k := range []string{"CIB_file", "CRM_CALLS", "CRM_REAL", "SYSTEMCTL_CALLS"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, rs.extraEnv...)
	def := virtualdomain.Definition
	if rs.agent != nil {
		a := rs.agent
		def.New = func() ocf.Agent { return a }
	}
	began := time.Now()
	got := ocftest.Run(def, action, env)
	res := result{status: got.Status, stderr: got.Stderr, took: time.Since(began)}
	res.reason, _ = got.ExitReason()
	return res
}

// monitor is a recurring monitor (interval 10 s); probe has no interval.
func (rs *resource) monitor() result { return rs.run("monitor", 30000, "interval=10000") }
func (rs *resource) probe() result   { return rs.run("monitor", 30000) }

func (rs *resource) want(what string, got result, status ocf.Status) {
	rs.t.Helper()
	if got.status != status {
		rs.t.Fatalf("%s: status %s (reason %q), want %s\nstderr:\n%s", what, got.status, got.reason, status, got.stderr)
	}
}

// wantReason checks that the exit reason mentions every fragment.
func (rs *resource) wantReason(what string, got result, fragments ...string) {
	rs.t.Helper()
	for _, f := range fragments {
		if !strings.Contains(got.reason, f) {
			rs.t.Fatalf("%s: exit reason %q does not mention %q", what, got.reason, f)
		}
	}
}

// agentCommand runs an agent as pacemaker-execd does: in its own process
// group, all of which is killed when ctx ends.
func agentCommand(ctx context.Context, path, action string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, action)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// guestConfig writes a tiny guest's XML to dir and returns its path.
func guestConfig(t *testing.T, dir, name, uuid string) string {
	t.Helper()
	path := filepath.Join(dir, name+".xml")
	if err := os.WriteFile(path, []byte(libvirttest.GuestXML(name, uuid)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// stateRecord reads the agent's record of its guest.
func (rs *resource) stateRecord() map[string]any {
	rs.t.Helper()
	matches, _ := filepath.Glob(filepath.Join(rs.dir, "VirtualDomain-*.state"))
	if len(matches) == 0 {
		return nil
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		rs.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		rs.t.Fatalf("record %s: %v", matches[0], err)
	}
	return m
}
