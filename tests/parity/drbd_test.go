package parity

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/drbdfake"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/tests/internal/agenttest"
)

const (
	drbdReference = "/usr/lib/ocf/resource.d/linbit/drbd"
	drbdInstance  = "p_drbd_r0"
	drbdRecorded  = "../../pkg/drbd/testdata/uml84" // recorded from a real DRBD 8.4.11 kernel
	drbd84        = "0x08040b"
	drbd9         = "0x090f00" // a DRBD 9.15.0 module, for the events2 states
)

// drbdMeta is what Pacemaker passes a promotable clone instance (both the
// OCF 1.1 and the legacy names, as Pacemaker 2.1.5 does).
func drbdMeta(extra map[string]string) map[string]string {
	m := map[string]string{
		"clone_max": "2", "clone_node_max": "1", "master_max": "1", "master_node_max": "1",
		"promoted_max": "1", "promoted_node_max": "1", "notify": "true", "promotable": "true",
		"timeout": "20000", "on_node": "rec1",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// postPromote is the post-promote notification, after which both agents
// recompute the promotion score from the state (the reference's monitor
// would first require /proc/drbd, which this host has not).
var postPromote = map[string]string{
	"notify_type": "post", "notify_operation": "promote",
	"notify_promote_uname": "rec2", "notify_master_uname": "rec2", "notify_promoted_uname": "rec2",
	"notify_slave_uname": "rec1", "notify_unpromoted_uname": "rec1", "notify_start_uname": " ", "notify_stop_uname": " ",
}

// drbdSide is one agent with its own fake drbd-utils and Pacemaker tools.
type drbdSide struct {
	sb   *agenttest.Sandbox
	path string
	fake drbdfake.Dir
	sbin string
}

func newDRBDSide(t *testing.T, path string, cfg drbdfake.Config) *drbdSide {
	t.Helper()
	sb := agenttest.NewSandbox(t, false)
	for _, f := range []string{"drbd.conf", "drbd0", "disk0"} {
		if err := os.WriteFile(sb.Path(f), []byte("# the fake drbdadm does not read it\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.Fixtures == "" {
		abs, err := filepath.Abs(drbdRecorded)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Fixtures = abs
	}
	cfg.Resource = "r0"
	cfg.Devices = []string{sb.Path("drbd0")}
	if cfg.Lower == nil {
		cfg.Lower = []string{sb.Path("disk0")}
	}
	return &drbdSide{sb: sb, path: path, fake: drbdfake.Install(t, sb.Path("drbdbin"), cfg), sbin: agenttest.FakeSbin(t, sb)}
}

func (s *drbdSide) run(t *testing.T, action string, params, meta map[string]string) agenttest.Result {
	t.Helper()
	p := map[string]string{"drbd_resource": "r0", "drbdconf": s.sb.Path("drbd.conf")}
	for k, v := range params {
		p[k] = v
	}
	env := s.sb.Environ("HA_SBIN_DIR=" + s.sbin)
	for i, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			env[i] = "PATH=" + s.fake.Path + ":" + s.sbin + ":" + strings.TrimPrefix(kv, "PATH=")
		}
	}
	provider := "ocfbox"
	if s.path == drbdReference {
		provider = "linbit"
	}
	env = append(env, agenttest.OCFEnv("drbd", provider, drbdInstance, p, meta)...)
	res, err := s.sb.RunAgent(agenttest.Context(t), s.path, action, env)
	if err != nil {
		t.Fatalf("%s %s: %v", s.path, action, err)
	}
	return res
}

func (s *drbdSide) score(t *testing.T) string {
	t.Helper()
	if v, ok := agenttest.PromotionScore(t, s.sbin, drbdInstance); ok {
		return v
	}
	return noScore
}

// preset gives the node a score the state may or may not change (a
// transitional disk state leaves it).
func (s *drbdSide) preset(t *testing.T, v string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.sbin, "master-"+drbdInstance), []byte(v+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// drbdState is one state fed to both agents.
type drbdState struct {
	name   string
	cfg    drbdfake.Config
	params map[string]string
}

// recordedStates are the 8.4 states recorded in UML nodes: the reference
// reads them through drbdsetup sh-status, ocfbox through events2.
func recordedStates(t *testing.T) []drbdState {
	dirs, err := filepath.Glob(filepath.Join(drbdRecorded, "84-*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no recorded states in %s: %v", drbdRecorded, err)
	}
	var out []drbdState
	for _, d := range dirs {
		name := filepath.Base(d)
		if name == "84-down" {
			continue // not running: neither agent scores it on notify
		}
		out = append(out, drbdState{name: "recorded 8.4 " + name, cfg: drbdfake.Config{State: name, KernelVersionCode: drbd84}})
	}
	return out
}

// v9States are every combination of local role, local disk and what one
// peer (or none, or two) shows, as DRBD 9 events2 --now lines; both agents
// read them through events2.
func v9States() []drbdState {
	roles := []string{"Primary", "Secondary"}
	// One disk state of each kind the decision tells apart (Failed and
	// Detaching are decided as Diskless, Negotiating as Attaching, in both
	// agents' code).
	disks := []string{"UpToDate", "Consistent", "Outdated", "Inconsistent", "Diskless", "Attaching", "client"}
	peers := []string{
		"Connected Secondary UpToDate", "Connected Primary UpToDate", "Connected Secondary Inconsistent",
		"Connected Secondary Outdated", "Connected Secondary client", "Connecting Unknown DUnknown", "none",
		"Connected Secondary UpToDate|Connecting Unknown DUnknown",
	}
	var out []drbdState
	for _, role := range roles {
		for _, disk := range disks {
			for _, peer := range peers {
				out = append(out, v9State(role, disk, peer, "yes"))
			}
		}
	}
	for _, role := range roles {
		out = append(out, v9State(role, "UpToDate", "Connected Secondary UpToDate", "no"))
	}
	return out
}

func v9State(role, disk, peers, quorum string) drbdState {
	var b strings.Builder
	fmt.Fprintf(&b, "exists resource name:r0 role:%s suspended:no force-io-failures:no may_promote:no promotion_score:0\n", role)
	for i, p := range strings.Split(peers, "|") {
		if p == "none" {
			break
		}
		f := strings.Fields(p)
		fmt.Fprintf(&b, "exists connection name:r0 peer-node-id:%d conn-name:peer%d connection:%s role:%s\n", i+1, i+1, f[0], f[1])
	}
	localDisk, client, backing := disk, "no", "/dev/vdb"
	if disk == "client" {
		localDisk, client, backing = "Diskless", "yes", "none"
	}
	fmt.Fprintf(&b, "exists device name:r0 volume:0 minor:0 backing_dev:%s disk:%s client:%s open:no quorum:%s\n", backing, localDisk, client, quorum)
	for i, p := range strings.Split(peers, "|") {
		if p == "none" {
			break
		}
		f := strings.Fields(p)
		repl, pdisk, pclient := "Established", f[2], "no"
		if f[0] != "Connected" {
			repl = "Off"
		}
		if pdisk == "client" {
			pdisk, pclient = "Diskless", "yes"
		}
		fmt.Fprintf(&b, "exists peer-device name:r0 peer-node-id:%d conn-name:peer%d volume:0 replication:%s peer-disk:%s peer-client:%s resync-suspended:no\n", i+1, i+1, repl, pdisk, pclient)
	}
	b.WriteString("exists -\n")
	return drbdState{
		name: fmt.Sprintf("9 %s %s peers=%s quorum=%s", role, disk, peers, quorum),
		cfg:  drbdfake.Config{Events2: b.String(), KernelVersionCode: drbd9},
	}
}

// TestDRBDPromotionScoresMatchTheReference feeds every state to the
// reference agent and to ocfbox, each with its own fake drbd-utils
// replaying it and its own fake Pacemaker tools, and compares the
// promotion scores they leave.
func TestDRBDPromotionScoresMatchTheReference(t *testing.T) {
	testenv.RequireFile(t, drbdReference)
	testenv.RequireTool(t, "bash")
	inst := agenttest.Install(t)
	states := append(recordedStates(t), v9States()...)
	// remove_master_score_if_peer_primary changes the decision with a
	// Primary peer: every state once more with it.
	for _, st := range slices.Clone(states) {
		st.name += " remove_master_score_if_peer_primary"
		st.params = map[string]string{"remove_master_score_if_peer_primary": "true"}
		if strings.Contains(st.name, "Connected Primary") || strings.Contains(st.name, "peer-primary") {
			states = append(states, st)
		}
	}
	t.Logf("%d states", len(states))
	for _, st := range states {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			scores := map[string]string{}
			for _, side := range []struct{ name, path string }{{"reference", drbdReference}, {"ocfbox", inst.Agent("drbd")}} {
				s := newDRBDSide(t, side.path, st.cfg)
				s.preset(t, "5")
				res := s.run(t, "notify", st.params, drbdMeta(postPromote))
				if res.Status != ocf.Success {
					t.Errorf("%s notify: %s (%s)\n%s", side.name, res.Status, res.Reason, res.Stderr)
				}
				scores[side.name] = s.score(t)
				if os.Getenv("DRBD_DEBUG") != "" {
					t.Logf("%s: %s\n%s\ncalls %q", side.name, res.Status, res.Stderr, s.fake.Calls(t))
				}
			}
			if scores["ocfbox"] != scores["reference"] {
				t.Errorf("promotion score: ocfbox %s, reference %s", scores["ocfbox"], scores["reference"])
			}
		})
	}
}
