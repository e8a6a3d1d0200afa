package uml

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/internal/umlcluster"
)

// usesOCFBox reports whether any of the agents is ocfbox's, which must
// then be installed where the nodes (hostfs) find them.
func (a Agents) usesOCFBox() bool {
	for _, agent := range []string{a.DRBD, a.Filesystem, a.Controld} {
		if strings.HasPrefix(agent, "ocf:ocfbox:") {
			return true
		}
	}
	return false
}

// prepare skips the test when it cannot run here and installs ocfbox's
// agents (testenv.InstallAgents) when the scenario uses them.
func prepare(t *testing.T, a Agents) {
	testenv.RequireRoot(t)
	if a.usesOCFBox() {
		testenv.InstallAgents(t)
	}
}

func requireDRBD(t *testing.T, a Agents) {
	testenv.RequireTool(t, "drbdadm")
	testenv.RequireTool(t, "mkfs.ext4")
	if a == Reference {
		testenv.RequireFile(t, "/usr/lib/ocf/resource.d/linbit/drbd")
		testenv.RequireFile(t, "/usr/lib/ocf/resource.d/heartbeat/Filesystem")
	}
}

func requireOCFS2(t *testing.T, a Agents) {
	testenv.RequireTool(t, "mkfs.ocfs2")
	testenv.RequireTool(t, "dlm_controld")
	testenv.RequireFile(t, "/usr/lib/ocf/resource.d/pacemaker/controld")
	if a == Reference {
		testenv.RequireFile(t, "/usr/lib/ocf/resource.d/heartbeat/Filesystem")
	}
}

// RunDRBDExt4 is the whole DRBD scenario for a set of agents: boot, wait
// for Promoted + mounted, power-cut the Promoted node, measure, check the
// marker and fencing, reboot the victim and wait for the resync.
func RunDRBDExt4(t *testing.T, a Agents) {
	prepare(t, a)
	requireDRBD(t, a)
	start := time.Now()
	c := umlcluster.New(t, DRBDExt4(a))
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	if err := c.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE boot 2 nodes (%s DRBD): all online %.1f s after the boot began", a.Name, time.Since(c.Started()).Seconds())
	primary, err := WaitDRBDReady(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE drbd-ext4 %s: Promoted on %s, mounted and UpToDate/UpToDate %.1f s after the boot began", a.Name, primary.Name, time.Since(c.Started()).Seconds())
	f, err := DRBDPowerCut(ctx, c, primary)
	if err != nil {
		t.Fatalf("%v (%v)", err, f)
	}
	t.Logf("FIGURE drbd-ext4 %s failover: %v", a.Name, f)
	if f.Fenced == 0 {
		t.Errorf("the cluster did not fence %s through the lab: %v", f.Victim, c.FenceEvents())
	}
	rejoin, err := DRBDRejoin(ctx, c, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE drbd-ext4 %s: %s rebooted, Unpromoted and in sync %.1f s after Reboot", a.Name, f.Victim, rejoin.Seconds())
	t.Logf("test %s took %.0f s (%.0f s after its turn came)", t.Name(), time.Since(start).Seconds(), time.Since(c.Started()).Seconds())
}

// RunOCFS2 is the whole OCFS2 scenario: format on the host, boot, wait
// until every node has the volume mounted, power-cut uml1, measure how
// long uml2's I/O blocked, check that uml2 still has it mounted and
// that the cluster fenced uml1.
func RunOCFS2(t *testing.T, a Agents) {
	prepare(t, a)
	requireOCFS2(t, a)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	shared := filepath.Join(t.TempDir(), "shared.img")
	if err := umlcluster.FormatOCFS2(ctx, shared, 256, 2); err != nil {
		t.Fatal(err)
	}
	c := umlcluster.New(t, OCFS2(a, 2, shared))
	if err := c.WaitOnline(ctx); err != nil { // also: each node's fencer has the lab's device
		t.Fatal(err)
	}
	if err := WaitOCFS2Mounted(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE ocfs2 %s: mounted on both nodes %.1f s after the boot began", a.Name, time.Since(c.Started()).Seconds())
	f, err := OCFS2PowerCut(ctx, c, c.Node(1), c.Node(2))
	if err != nil {
		t.Fatalf("%v (%v)", err, f)
	}
	t.Logf("FIGURE ocfs2 %s failover: %v", a.Name, f)
	if f.Fenced == 0 {
		t.Errorf("the cluster did not fence uml1 through the lab: %v", c.FenceEvents())
	}
	if _, _, err := c.Node(2).WaitFile(ctx, "/proc/mounts", " "+SharedDir+" ocfs2 ", 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("test %s took %.0f s (%.0f s after its turn came)", t.Name(), time.Since(start).Seconds(), time.Since(c.Started()).Seconds())
}
