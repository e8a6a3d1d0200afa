package umldrbd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/internal/umlcluster"
)

const (
	drbdRsc = "rsc_drbd_res0"
	msRsc   = "ms_drbd_res0"
	fsRsc   = "rsc_fs"
	mnt     = "/run/drbdfs"
)

// seed003 is the configuration of seed 003 (a DRBD promotable clone, a
// resource colocated with its Primary and started after promotion) as
// crmsh lines, with the provider changed and, instead of a KVM guest
// (see the README: a libvirt guest inside a UML node is out of scope),
// an ext4 Filesystem on the DRBD device.
func seed003(provider, conf string) string {
	return fmt.Sprintf(`primitive %[1]s ocf:%[2]s:drbd \
	params drbd_resource=res0 drbdconf=%[3]s \
	op monitor interval=21 timeout=20 role=Master \
	op monitor interval=22 timeout=21 role=Slave \
	op start timeout=240 op stop timeout=100 op promote timeout=90 op demote timeout=90 op notify timeout=90
ms %[4]s %[1]s \
	meta master-max=1 master-node-max=1 clone-max=2 clone-node-max=1 notify=true target-role=Started
primitive %[5]s ocf:heartbeat:Filesystem \
	params device=/dev/drbd0 directory=%[6]s fstype=ext4 \
	op monitor timeout=40 interval=10 op stop timeout=60 interval=0 op start timeout=60 interval=0 \
	meta target-role=Started
colocation fs_on_drbd inf: %[5]s %[4]s:Master
order drbd_before_fs inf: %[4]s:promote %[5]s:start
`, drbdRsc, provider, conf, msRsc, fsRsc, mnt)
}

// placement is which node holds the Primary and the file system.
func placement(st *umlcluster.Status) (promoted, unpromoted, fs string) {
	for _, r := range st.Resources {
		if len(r.Nodes) == 0 || !r.Active {
			continue
		}
		switch {
		case r.ID == drbdRsc && r.Role == "Promoted":
			promoted = r.Nodes[0]
		case r.ID == drbdRsc && r.Role == "Unpromoted":
			unpromoted = r.Nodes[0]
		case r.ID == fsRsc && r.Role == "Started":
			fs = r.Nodes[0]
		}
	}
	return
}

func settled(wantPromoted string, wantUnpromoted bool) func(*umlcluster.Status) error {
	return func(st *umlcluster.Status) error {
		p, u, fs := placement(st)
		switch {
		case p == "" || (wantPromoted != "" && p != wantPromoted):
			return fmt.Errorf("promoted on %q, want %q", p, wantPromoted)
		case fs != p:
			return fmt.Errorf("file system on %q, Primary on %q", fs, p)
		case wantUnpromoted && u == "":
			return fmt.Errorf("no Unpromoted instance")
		}
		return nil
	}
}

func other(name string) int {
	if name == "uml1" {
		return 2
	}
	return 1
}

func index(name string) int { n, _ := strconv.Atoi(strings.TrimPrefix(name, "uml")); return n }

// figures collects what a run measured.
type figures struct {
	provider                   string
	toPrimary, toMounted       time.Duration
	moveToPrimary, moveMounted time.Duration
	rejoinUpToDate             time.Duration
	ops                        map[string][]time.Duration
	programs                   int
}

// TestSeed003 runs seed 003 with ocfbox's drbd and then with the
// reference, each in a fresh two-node cluster with fencing and DRBD's
// resource-level fencing (crm-fence-peer.sh): Promoted/Unpromoted, a
// marker written on the Primary read back on the survivor after a power
// cut, the fence constraint placed and removed after the cut node's
// reboot and resync, a graceful move; then the figures of both.
func TestSeed003(t *testing.T) {
	testenv.RequireTool(t, "crm")
	testenv.InstallAgents(t)
	var all []figures
	for _, provider := range []string{"ocfbox", "linbit"} {
		t.Run(provider, func(t *testing.T) {
			all = append(all, runSeed003(t, provider))
		})
	}
	for _, f := range all {
		t.Logf("FIGURE drbd %s: power cut of the Primary -> survivor Primary %.1f s, file system mounted %.1f s; graceful move -> Primary %.1f s, mounted %.1f s; rebooted node UpToDate again %.1f s after boot",
			f.provider, f.toPrimary.Seconds(), f.toMounted.Seconds(), f.moveToPrimary.Seconds(), f.moveMounted.Seconds(), f.rejoinUpToDate.Seconds())
		for _, op := range []string{"monitor", "notify", "start", "promote", "demote", "stop"} {
			if d := f.ops[op]; len(d) > 0 {
				t.Logf("FIGURE drbd %s %s (execd execution time): %s", f.provider, op, umlcluster.Summary(d))
			}
		}
		t.Logf("FIGURE drbd %s programs executed by one monitor: %d", f.provider, f.programs)
	}
}

func runSeed003(t *testing.T, provider string) figures {
	f := figures{provider: provider}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("drbdlab-%s-%d", provider, os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := umlcluster.New(t, umlcluster.Config{
		Nodes:       2,
		Dir:         dir,
		Properties:  map[string]string{"no-quorum-policy": "ignore"},
		RscDefaults: map[string]string{"resource-stickiness": "100"},
		DRBD:        &umlcluster.DRBD{Resource: "res0", Primary: 1, FSType: "ext4", FencePeer: true},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			c.Diagnose(context.Background())
		}
	}()
	if err := c.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	n1 := c.Node(1)
	crm := filepath.Join(dir, "seed003.crm")
	if err := os.WriteFile(crm, []byte(seed003(provider, c.DRBDConf())), 0o644); err != nil {
		t.Fatal(err)
	}
	// crmsh logs to /var/log/crmsh, which the node's fresh /var/log lacks.
	if _, stderr, exit, err := n1.Run(ctx, "mkdir", "-p", "/var/log/crmsh"); err != nil || exit != 0 {
		t.Fatalf("mkdir /var/log/crmsh: exit %d %v %s", exit, err, stderr)
	}
	if out, stderr, exit, err := n1.Run(ctx, "crm", "configure", "load", "update", crm); err != nil || exit != 0 {
		t.Fatalf("crm configure load update: exit %d, %v\n%s%s", exit, err, out, stderr)
	}
	st, err := c.WaitFor(ctx, "seed 003 promoted, file system mounted", settled("", true))
	if err != nil {
		t.Fatal(err)
	}
	primary, _, _ := placement(st)
	t.Logf("%s: Promoted on %s, Unpromoted on the other node", provider, primary)

	// Programs one monitor executes, counted with strace in the node.
	f.programs = programsPerMonitor(ctx, t, c.Node(index(primary)), provider, c.DRBDConf())

	// Power cut of the Primary: the survivor is promoted, the marker
	// written before the cut is read back after, the fence-peer handler
	// places its constraint.
	victim, survivor := index(primary), other(primary)
	marker := fmt.Sprintf("written on %s before the cut at %s\n", primary, time.Now().Format(time.RFC3339Nano))
	if _, stderr, exit, err := c.Node(victim).RunEnv(ctx, nil, []byte(marker), "sh", "-c", "cat > "+mnt+"/marker && sync"); err != nil || exit != 0 {
		t.Fatalf("write marker: exit %d %v %s", exit, err, stderr)
	}
	sv := c.Node(survivor)
	type seen struct {
		at  time.Time
		err error
	}
	primaryCh, mountCh := make(chan seen, 1), make(chan seen, 1)
	go func() { at, _, err := sv.WaitFile(ctx, "/proc/drbd", "ro:Primary/", 0); primaryCh <- seen{at, err} }()
	go func() {
		at, _, err := sv.WaitFile(ctx, "/proc/mounts", "/dev/drbd0 "+mnt+" ", 0)
		mountCh <- seen{at, err}
	}()
	cut, err := c.PowerCut(victim)
	if err != nil {
		t.Fatal(err)
	}
	p, m := <-primaryCh, <-mountCh
	if p.err != nil || m.err != nil {
		t.Fatalf("survivor: Primary %v, mounted %v", p.err, m.err)
	}
	f.toPrimary, f.toMounted = p.at.Sub(cut), m.at.Sub(cut)
	t.Logf("%s: power cut -> %s Primary after %.2f s, mounted after %.2f s", provider, sv.Name, f.toPrimary.Seconds(), f.toMounted.Seconds())
	got, err := sv.ReadFile(ctx, mnt+"/marker")
	if err != nil || string(got) != marker {
		t.Errorf("marker on the survivor: %q, %v; want %q", got, err, marker)
	}
	if _, err := c.WaitFor(ctx, "fence constraint placed", func(*umlcluster.Status) error {
		return constraint(ctx, sv, true)
	}); err != nil {
		t.Errorf("crm-fence-peer.sh constraint: %v", err)
	}

	// The cut node boots again, resyncs, becomes Unpromoted; the
	// constraint goes once its data is UpToDate.
	booted := time.Now()
	if err := c.Reboot(ctx, victim); err != nil {
		t.Fatal(err)
	}
	at, _, err := c.Node(victim).WaitFile(ctx, "/proc/drbd", "ds:UpToDate/UpToDate", 0)
	if err != nil {
		t.Fatalf("rebooted node never UpToDate: %v", err)
	}
	f.rejoinUpToDate = at.Sub(booted)
	if _, err := c.WaitFor(ctx, "back to Promoted + Unpromoted", settled(sv.Name, true)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitFor(ctx, "fence constraint removed", func(*umlcluster.Status) error {
		return constraint(ctx, sv, false)
	}); err != nil {
		t.Errorf("crm-unfence-peer.sh: %v", err)
	}

	// Graceful move back to the rebooted node.
	target := c.Node(victim)
	primaryCh, mountCh = make(chan seen, 1), make(chan seen, 1)
	go func() { at, _, err := target.WaitFile(ctx, "/proc/drbd", "ro:Primary/", 0); primaryCh <- seen{at, err} }()
	go func() {
		at, _, err := target.WaitFile(ctx, "/proc/mounts", "/dev/drbd0 "+mnt+" ", 0)
		mountCh <- seen{at, err}
	}()
	moved := time.Now()
	if out, stderr, exit, err := sv.Run(ctx, "crm_resource", "--move", "-r", fsRsc, "-N", target.Name); err != nil || exit != 0 {
		t.Fatalf("crm_resource --move: exit %d %v %s%s", exit, err, out, stderr)
	}
	p, m = <-primaryCh, <-mountCh
	if p.err != nil || m.err != nil {
		t.Fatalf("move: Primary %v, mounted %v", p.err, m.err)
	}
	f.moveToPrimary, f.moveMounted = p.at.Sub(moved), m.at.Sub(moved)
	if got, err := target.ReadFile(ctx, mnt+"/marker"); err != nil || string(got) != marker {
		t.Errorf("marker after the move: %q, %v", got, err)
	}
	if _, err := c.WaitFor(ctx, "moved, Unpromoted on the other", settled(target.Name, true)); err != nil {
		t.Fatal(err)
	}
	sv.Run(ctx, "crm_resource", "--clear", "-r", fsRsc)

	heldOpen(ctx, t, c, target, provider)
	f.ops = opDurations(t, c)
	return f
}

// heldOpen: with the cluster in maintenance mode, a stop of the Primary
// whose file system is still mounted (the device held open). ocfbox must
// fail before its deadline with DRBD's reason and leave DRBD Primary;
// the reference loops until it is killed.
func heldOpen(ctx context.Context, t *testing.T, c *umlcluster.Cluster, n *umlcluster.Node, provider string) {
	if _, _, exit, err := n.Run(ctx, "crm_attribute", "-t", "crm_config", "-n", "maintenance-mode", "-v", "true"); err != nil || exit != 0 {
		t.Fatalf("maintenance-mode: exit %d %v", exit, err)
	}
	defer n.Run(ctx, "crm_attribute", "-t", "crm_config", "-n", "maintenance-mode", "-D")
	env := append(ocfEnv(provider, c.DRBDConf()), "OCF_RESKEY_CRM_meta_timeout=8000", "OCF_RESKEY_CRM_meta_interval=")
	run, cancel := context.WithTimeout(ctx, 12*time.Second)
	defer cancel()
	start := time.Now()
	_, stderr, exit, err := n.RunEnv(run, env, nil, "/usr/lib/ocf/resource.d/"+provider+"/drbd", "stop")
	took := time.Since(start)
	t.Logf("FIGURE drbd %s stop of a Primary whose device is held open (8 s timeout): exit %d, err %v after %.1f s; exit reason %q",
		provider, exit, err, took.Seconds(), lastReason(string(stderr)))
	if provider == "ocfbox" && (err != nil || exit != 1 || !strings.Contains(lastReason(string(stderr)), "held open")) {
		t.Errorf("ocfbox stop with the device held open: exit %d, %v, stderr %s; want 1 with the reason before the timeout", exit, err, stderr)
	}
	if b, err := n.ReadFile(ctx, "/proc/drbd"); err != nil || !strings.Contains(string(b), "ro:Primary/") {
		t.Errorf("after the refused stop DRBD is not Primary any more: %s %v", b, err)
	}
}

func lastReason(stderr string) string {
	r := ""
	for _, l := range strings.Split(stderr, "\n") {
		if v, ok := strings.CutPrefix(l, "ocf-exit-reason:"); ok {
			r = v
		}
	}
	return r
}

func ocfEnv(provider, conf string) []string {
	return []string{
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=" + drbdRsc, "OCF_RESOURCE_TYPE=drbd", "OCF_RESOURCE_PROVIDER=" + provider,
		"OCF_RESKEY_drbd_resource=res0", "OCF_RESKEY_drbdconf=" + conf, "OCF_RESKEY_crm_feature_set=3.16.1",
		"OCF_RESKEY_CRM_meta_clone_max=2", "OCF_RESKEY_CRM_meta_clone_node_max=1",
		"OCF_RESKEY_CRM_meta_master_max=1", "OCF_RESKEY_CRM_meta_master_node_max=1",
		"OCF_RESKEY_CRM_meta_promoted_max=1", "OCF_RESKEY_CRM_meta_promoted_node_max=1",
		"OCF_RESKEY_CRM_meta_notify=true", "OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"HA_RSCTMP=/run/resource-agents", "HA_LOGFACILITY=none",
	}
}

// constraint reports whether crm-fence-peer's location constraint is in
// the CIB (present) or not.
func constraint(ctx context.Context, n *umlcluster.Node, present bool) error {
	out, _, _, err := n.Run(ctx, "cibadmin", "-Q", "-o", "constraints")
	if err != nil {
		return err
	}
	has := strings.Contains(string(out), "drbd-fence-by-handler")
	if has != present {
		return fmt.Errorf("drbd-fence-by-handler constraint present=%v, want %v", has, present)
	}
	return nil
}

// execd logs "<rsc> <op> (call N, PID P) exited with status S
// (execution time X)" for every operation it runs.
var execTime = regexp.MustCompile(`\b` + drbdRsc + ` (\w+) \(call \d+, PID \d+\) exited with status \d+ \(execution time ([0-9hms.]+)`)

func opDurations(t *testing.T, c *umlcluster.Cluster) map[string][]time.Duration {
	ops := map[string][]time.Duration{}
	for _, n := range c.Nodes() {
		b, err := os.ReadFile(filepath.Join(n.LogDir(), "pacemaker.log"))
		if err != nil {
			t.Logf("%s: %v", n.Name, err)
			continue
		}
		for _, m := range execTime.FindAllStringSubmatch(string(b), -1) {
			// "457ms", "2.210s", "1m17.718s": Go's duration syntax.
			if d, err := time.ParseDuration(m[2]); err == nil {
				ops[m[1]] = append(ops[m[1]], d)
			}
		}
	}
	for op := range ops {
		slices.Sort(ops[op])
	}
	return ops
}

// programsPerMonitor runs one monitor of the Primary's instance under
// strace in the node and counts the programs it executed, itself
// excluded.
func programsPerMonitor(ctx context.Context, t *testing.T, n *umlcluster.Node, provider, conf string) int {
	env := append(ocfEnv(provider, conf), "OCF_RESKEY_CRM_meta_interval=21000", "OCF_RESKEY_CRM_meta_timeout=20000")
	agent := "/usr/lib/ocf/resource.d/" + provider + "/drbd"
	// A first monitor settles the score (ocfbox caches it), the second is counted.
	n.RunEnv(ctx, env, nil, agent, "monitor")
	_, stderr, exit, err := n.RunEnv(ctx, env, nil, "strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o", "/run/monitor.strace", agent, "monitor")
	if err != nil {
		t.Errorf("strace monitor: %v %s", err, stderr)
		return -1
	}
	if exit != 8 {
		t.Errorf("%s monitor of the Primary under strace: exit %d, want 8\n%s", provider, exit, stderr)
	}
	b, err := n.ReadFile(ctx, "/run/monitor.strace")
	if err != nil {
		t.Error(err)
		return -1
	}
	count := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "execve(") && !strings.Contains(line, "= -1 ") {
			count++
		}
	}
	return count - 1
}
