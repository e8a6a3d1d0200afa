package drbd_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/agents/drbd"
	"github.com/ocfbox/ocfbox/internal/drbdfake"
	"github.com/ocfbox/ocfbox/internal/fakecrm"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
)

const instance = "p_drbd_r0"

// node is one node for the agent: fake drbd-utils replaying states
// recorded from a real DRBD 8.4.11 kernel, fake Pacemaker tools, a
// configuration file, a backing disk and a device node.
type node struct {
	t    *testing.T
	dir  string
	drbd drbdfake.Dir
	crm  fakecrm.Sbin
	env  map[string]string
}

func newNode(t *testing.T, state string, cfg drbdfake.Config) *node {
	dir := t.TempDir()
	for _, f := range []string{"drbd.conf", "drbd0", "disk0"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("#\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fixtures, err := filepath.Abs("../../pkg/drbd/testdata/uml84")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Fixtures, cfg.State, cfg.Resource = fixtures, state, "r0"
	cfg.KernelVersionCode = "0x08040b"
	cfg.Devices = []string{filepath.Join(dir, "drbd0")}
	if cfg.Lower == nil {
		cfg.Lower = []string{filepath.Join(dir, "disk0")}
	}
	n := &node{t: t, dir: dir, drbd: drbdfake.Install(t, filepath.Join(dir, "bin"), cfg), crm: fakecrm.Install(t, filepath.Join(dir, "sbin"))}
	// ocf.Runner looks programs up in this process's PATH.
	t.Setenv("PATH", n.drbd.Path+":"+n.crm.Dir+":/usr/sbin:/usr/bin:/sbin:/bin")
	n.env = map[string]string{
		"OCF_ROOT": "/usr/lib/ocf", "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1",
		"OCF_RESOURCE_INSTANCE": instance, "OCF_RESOURCE_TYPE": "drbd", "OCF_RESOURCE_PROVIDER": "ocfbox",
		"OCF_RESKEY_crm_feature_set": "3.16.1", "HA_RSCTMP": filepath.Join(dir, "rsctmp"),
		"HA_SBIN_DIR": n.crm.Dir, "HA_LOGFACILITY": "none", "HA_debug": "0",
		"OCF_RESKEY_drbd_resource": "r0", "OCF_RESKEY_drbdconf": filepath.Join(dir, "drbd.conf"),
		"OCF_RESKEY_CRM_meta_timeout":   "20000",
		"OCF_RESKEY_CRM_meta_clone_max": "2", "OCF_RESKEY_CRM_meta_clone_node_max": "1",
		"OCF_RESKEY_CRM_meta_master_max": "1", "OCF_RESKEY_CRM_meta_master_node_max": "1",
		"OCF_RESKEY_CRM_meta_promoted_max": "1", "OCF_RESKEY_CRM_meta_promoted_node_max": "1",
		"OCF_RESKEY_CRM_meta_notify": "true",
	}
	return n
}

// do runs one action; extra are KEY=VALUE settings for it ("KEY=" unsets).
func (n *node) do(action string, extra ...string) (ocf.Status, string) {
	n.t.Helper()
	env := map[string]string{}
	for k, v := range n.env {
		env[k] = v
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	res := ocftest.Run(drbd.Definition, action, environ)
	reason, _ := res.ExitReason()
	return res.Status, reason
}

func (n *node) expect(action string, want ocf.Status, reasonHas string, extra ...string) {
	n.t.Helper()
	got, reason := n.do(action, extra...)
	if got != want || !strings.Contains(reason, reasonHas) {
		n.t.Fatalf("%s %q: %s (reason %q), want %s with a reason containing %q", action, extra, got, reason, want, reasonHas)
	}
}

func (n *node) score() string {
	if v, ok := n.crm.Score(n.t, instance); ok {
		return v
	}
	return "none"
}

var lifecycle = map[string]string{"up": "84-secondary-uptodate-connected", "primary": "84-primary-uptodate-connected", "secondary": "84-secondary-uptodate-connected", "down": "84-down"}

func TestStartPromoteDemoteStopFollowDRBD(t *testing.T) {
	n := newNode(t, "84-down", drbdfake.Config{Next: lifecycle})
	n.expect("monitor", ocf.NotRunning, "")
	n.expect("start", ocf.Success, "")
	if got := n.drbd.Config(t).State; got != lifecycle["up"] {
		t.Fatalf("after start the fake is %s", got)
	}
	if n.score() != "10000" {
		t.Errorf("score after start %s, want 10000 (UpToDate, peer UpToDate)", n.score())
	}
	n.expect("monitor", ocf.Success, "", "OCF_RESKEY_CRM_meta_interval=20000")
	n.expect("promote", ocf.Success, "")
	n.expect("monitor", ocf.RunningPromoted, "", "OCF_RESKEY_CRM_meta_interval=10000")
	n.expect("promote", ocf.Success, "")
	n.expect("demote", ocf.Success, "")
	n.expect("demote", ocf.Success, "")
	n.expect("monitor", ocf.Success, "", "OCF_RESKEY_CRM_meta_interval=20000")
	n.expect("stop", ocf.Success, "")
	n.expect("stop", ocf.Success, "")
	if n.score() != "none" {
		t.Errorf("score after stop %s, want none", n.score())
	}
	n.expect("demote", ocf.NotRunning, "not started")
	n.expect("promote", ocf.NotRunning, "not started")
}

func TestMonitorRunsOnlyDrbdsetupWhileTheScoreStays(t *testing.T) {
	n := newNode(t, "84-secondary-uptodate-connected", drbdfake.Config{})
	n.expect("monitor", ocf.Success, "", "OCF_RESKEY_CRM_meta_interval=20000")
	n.drbd.Reset(t)
	crmBefore := len(n.crm.Calls(t))
	for range 3 {
		n.expect("monitor", ocf.Success, "", "OCF_RESKEY_CRM_meta_interval=20000")
	}
	if calls := n.drbd.Calls(t); len(calls) != 3 || slices.ContainsFunc(calls, func(c string) bool { return c != "drbdsetup events2 --now r0" }) {
		t.Errorf("three monitors ran %q, want drbdsetup events2 --now r0 three times", calls)
	}
	if got := len(n.crm.Calls(t)) - crmBefore; got != 0 {
		t.Errorf("monitors with an unchanged score ran %d Pacemaker tools", got)
	}
	// A changed state changes the score at once.
	c := n.drbd.Config(t)
	c.State = "84-secondary-uptodate-connecting"
	n.drbd.Set(t, c)
	n.expect("monitor", ocf.Success, "", "OCF_RESKEY_CRM_meta_interval=20000")
	if n.score() != "1000" {
		t.Errorf("score with the peer unknown %s, want 1000", n.score())
	}
}

func TestStopOfAPrimaryDemotesThenTakesItDown(t *testing.T) {
	n := newNode(t, "84-primary-uptodate-connected", drbdfake.Config{Next: lifecycle})
	n.expect("stop", ocf.Success, "")
	var changes []string
	for _, c := range n.drbd.Calls(t) {
		if f := strings.Fields(c); f[0] == "drbdadm" {
			changes = append(changes, f[len(f)-2])
		}
	}
	if !slices.Equal(changes, []string{"secondary", "down"}) {
		t.Errorf("stop ran drbdadm %q, want secondary then down", changes)
	}
}

func TestDeviceHeldOpenFailsStopAndDemoteWithTheReason(t *testing.T) {
	held := map[string]drbdfake.Failure{"secondary": {Code: 11, File: "secondary-held-open.txt"}}
	n := newNode(t, "84-primary-uptodate-connected", drbdfake.Config{Next: lifecycle, Fail: held})
	n.expect("stop", ocf.ErrGeneric, "held open", "OCF_RESKEY_CRM_meta_timeout=2500")
	n.expect("demote", ocf.ErrGeneric, "held open", "OCF_RESKEY_CRM_meta_timeout=2500")
	if got := n.drbd.Config(t).State; got != "84-primary-uptodate-connected" {
		t.Errorf("the fake moved to %s", got)
	}
}

func TestSplitBrainAndLostDiskAreReportedDegraded(t *testing.T) {
	for state, want := range map[string]struct {
		status ocf.Status
		reason string
	}{
		"84-secondary-uptodate-splitbrain": {ocf.Degraded, "StandAlone to peer node-id 0 (split brain"},
		"84-primary-uptodate-splitbrain":   {ocf.DegradedPromoted, "StandAlone"},
		"84-secondary-diskless-connected":  {ocf.Degraded, "volume 0 (minor 0) has no local disk (Diskless)"},
		"84-primary-diskless-connected":    {ocf.DegradedPromoted, "no local disk"},
		"84-primary-uptodate-peer-cut":     {ocf.RunningPromoted, ""},
	} {
		t.Run(state, func(t *testing.T) {
			n := newNode(t, state, drbdfake.Config{})
			n.expect("monitor", want.status, want.reason, "OCF_RESKEY_CRM_meta_interval=10000")
		})
	}
}

func TestPromoteWithoutUpToDateDataFailsWithTheReason(t *testing.T) {
	refused := map[string]drbdfake.Failure{"primary": {Code: 17, File: "primary-refused-outdated.txt"}}
	n := newNode(t, "84-secondary-outdated-standalone", drbdfake.Config{Fail: refused})
	n.expect("promote", ocf.ErrGeneric, "without access to UpToDate data (local disk Outdated)", "OCF_RESKEY_CRM_meta_timeout=2000")
}

// Bad input gets the status and a reason naming the parameter and value,
// and changes nothing: no drbdadm command that changes DRBD, no score.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	tests := []struct {
		name   string
		action string
		env    []string
		cfg    drbdfake.Config
		want   ocf.Status
		reason string
	}{
		{name: "configuration file missing", action: "start", env: []string{"OCF_RESKEY_drbdconf=/nonexistent/drbd.conf"},
			want: ocf.ErrInstalled, reason: "drbdconf=/nonexistent/drbd.conf cannot be read"},
		{name: "unknown resource", action: "start", env: []string{"OCF_RESKEY_drbd_resource=r9"},
			want: ocf.ErrInstalled, reason: "drbd_resource=r9 is not defined for this host"},
		{name: "resource name with a shell character", action: "validate-all", env: []string{"OCF_RESKEY_drbd_resource=r0;reboot"},
			want: ocf.ErrConfigured, reason: `drbd_resource="r0;reboot"`},
		{name: "two instances per node", action: "start", env: []string{"OCF_RESKEY_CRM_meta_clone_node_max=2"},
			want: ocf.ErrConfigured, reason: "clone-node-max=2"},
		{name: "not a clone", action: "monitor", env: []string{"OCF_RESKEY_CRM_meta_clone_node_max=", "OCF_RESKEY_CRM_meta_interval=20000"},
			want: ocf.ErrConfigured, reason: "clone-node-max=unset"},
		{name: "three promoted", action: "start", env: []string{"OCF_RESKEY_CRM_meta_promoted_max=3", "OCF_RESKEY_CRM_meta_master_max=3"},
			want: ocf.ErrConfigured, reason: "promoted-max=3"},
		{name: "three instances on DRBD 8.4", action: "start", env: []string{"OCF_RESKEY_CRM_meta_clone_max=3"},
			want: ocf.ErrConfigured, reason: "clone-max=3"},
		{name: "notify off", action: "start", env: []string{"OCF_RESKEY_CRM_meta_notify=false"},
			want: ocf.ErrConfigured, reason: "notify=false"},
		{name: "two primaries without allow-two-primaries", action: "start", env: []string{"OCF_RESKEY_CRM_meta_promoted_max=2", "OCF_RESKEY_CRM_meta_master_max=2"},
			want: ocf.ErrConfigured, reason: "promoted-max=2, but drbd_resource=r0 does not allow-two-primaries"},
		{name: "backing disk missing on this node", action: "start", cfg: drbdfake.Config{Lower: []string{"/dev/nonexistent-disk"}},
			want: ocf.ErrInstalled, reason: "backing disk /dev/nonexistent-disk does not exist on this node"},
		{name: "module too old", action: "validate-all", env: []string{"OCF_RESKEY_require_drbd_module_version_ge=9.0.0"},
			want: ocf.ErrInstalled, reason: "require_drbd_module_version_ge=9.0.0, but the DRBD kernel module is 8.4.11"},
		{name: "version not x.y.z", action: "validate-all", env: []string{"OCF_RESKEY_require_drbd_module_version_lt=9"},
			want: ocf.ErrConfigured, reason: `require_drbd_module_version_lt="9"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Next = lifecycle
			n := newNode(t, "84-down", cfg)
			n.expect(tt.action, tt.want, tt.reason, tt.env...)
			if got := n.drbd.Config(t).State; got != "84-down" {
				t.Errorf("DRBD changed: the fake is %s", got)
			}
			for _, c := range n.drbd.Calls(t) {
				for _, verb := range []string{" up ", " adjust ", " attach ", " primary ", " secondary ", " down ", " new-resource "} {
					if strings.Contains(c+" ", verb) {
						t.Errorf("ran %q", c)
					}
				}
			}
			if calls := n.crm.Calls(t); len(calls) != 0 {
				t.Errorf("ran Pacemaker tools %v", calls)
			}
		})
	}
}

func TestProbeOfAStoppedResourceSetsNoScore(t *testing.T) {
	n := newNode(t, "84-down", drbdfake.Config{})
	n.expect("monitor", ocf.NotRunning, "")
	if calls := n.crm.Calls(t); len(calls) != 0 {
		t.Errorf("probe ran %v", calls)
	}
	n = newNode(t, "84-down", drbdfake.Config{NoModule: true})
	n.expect("monitor", ocf.NotRunning, "")
}
