package cluster_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/tests/cluster"
)

// The guests of TestVirtualDomain: one managed by ocfbox, one by the
// reference agent, each with its configuration file at the same path on
// every node (cluster.GuestConfigFile).
const (
	vmName    = "ocfbxcl-vm1" // resource vm, ocf:ocfbox:VirtualDomain
	refVMName = "ocfbxcl-vm2" // resource hvm, ocf:heartbeat:VirtualDomain
)

// TestVirtualDomain: libvirt guests on the three-node cluster, every node
// with a libvirtd of its own: vm managed by ocf:ocfbox:VirtualDomain and,
// for the failover figures, hvm managed by the reference
// ocf:heartbeat:VirtualDomain with the same parameters. Both start on the
// same node (not the DC, so no election is in the figures), and each runs
// on exactly one node (its qemu process, and crm_mon agree); killing that
// node restarts both on survivors; then crm_resource --move live-migrates
// vm (migrate_to and migrate_from in the operation history, no
// stop/start on the target) and afterwards it runs only on the target.
// The failover and migration figures come from the cluster's operation
// history and are reported, not asserted.
func TestVirtualDomain(t *testing.T) {
	for _, tool := range []string{"libvirtd", "qemu-system-x86_64"} {
		testenv.RequireTool(t, tool)
	}
	testenv.RequireFile(t, "/usr/lib/ocf/resource.d/heartbeat/VirtualDomain")
	c := cluster.StartT(t, cluster.Options{
		NodeSetup: cluster.SetupGuests(vmName, refVMName),
		// Moving vm to hvm's node must leave hvm where it is: without
		// stickiness the scheduler would spread the two again.
		RscDefaults: map[string]string{"resource-stickiness": "1"},
	})
	t.Cleanup(c.SaveLibvirtCaps) // before the cluster's teardown removes the nodes' directories
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	s, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for _, n := range c.Nodes {
		if n.Name != s.DC {
			first = n.Name
			break
		}
	}
	guests := []struct{ id, agent, name string }{
		{"vm", "ocf:ocfbox:VirtualDomain", vmName},
		{"hvm", "ocf:heartbeat:VirtualDomain", refVMName},
	}
	for _, g := range guests {
		if err := c.Configure(ctx, cluster.GuestPrimitive(g.id, g.agent, g.name),
			cluster.Location{ID: g.id + "-on-" + first, Resource: g.id, Node: first, Score: "100"}); err != nil {
			t.Fatal(err)
		}
	}

	// each holds when every guest is started on exactly one node accepted
	// by where.
	each := func(where func(string) bool, desc string) cluster.Condition {
		return func(s *cluster.Status) error {
			if err := cluster.NoFailures(s); err != nil {
				return err
			}
			for _, g := range guests {
				on := s.StartedOn(g.id)
				if len(on) != 1 || len(s.ActiveOn(g.id)) != 1 {
					return fmt.Errorf("%s started on %v, active on %v: want one node", g.id, on, s.ActiveOn(g.id))
				}
				if !where(on[0]) {
					return fmt.Errorf("%s on %s, want it %s", g.id, on[0], desc)
				}
			}
			return nil
		}
	}
	// qemuOnlyOn waits (bounded) until the qemu of guest runs on node and
	// on no other node that is up: a migrated-away qemu ends a moment
	// after the migration completes. It returns the qemu's command line.
	qemuOnlyOn := func(guest, node string) string {
		t.Helper()
		var where []string
		var pids []int
		for deadline := time.Now().Add(30 * time.Second); ; {
			where = where[:0]
			for _, n := range c.Up() {
				if p := n.ProcessesMatching(cluster.QemuOf(guest)); len(p) > 0 {
					where = append(where, fmt.Sprintf("%s%v", n.Name, p))
					pids = p
				}
			}
			if len(where) == 1 && strings.HasPrefix(where[0], node+"[") && len(pids) == 1 {
				cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pids[0]))
				if err == nil {
					return strings.ReplaceAll(string(cmdline), "\x00", " ")
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("qemu of %s runs on %v, want on %s only", guest, where, node)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// (a) Each runs on exactly one node: the one they prefer.
	s, err = c.WaitFor(ctx, 120*time.Second, "vm and hvm started on "+first, each(func(n string) bool { return n == first }, "on "+first))
	if err != nil {
		t.Fatal(err)
	}
	if s.DC == first {
		t.Fatalf("%s became the DC; the figures are for a node that is not", first)
	}
	t.Logf("started: %s", s.Placement())
	for _, g := range guests {
		qemuOnlyOn(g.name, first)
	}

	// (b) Killing their node restarts both on survivors.
	killed, err := c.Node(first).Kill()
	if err != nil {
		t.Fatal(err)
	}
	s, err = c.WaitFor(ctx, 120*time.Second, "vm and hvm on survivors after "+first+" died",
		each(func(n string) bool { return n != first }, "on a survivor"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after killing %s: %s", first, s.Placement())
	var rs []cluster.Recovery
	for _, g := range guests {
		node := s.StartedOn(g.id)[0]
		qemuOnlyOn(g.name, node)
		rs = append(rs, recovered(ctx, t, c, g.id, g.agent, node, killed, 120*time.Second, "start", "monitor"))
	}
	t.Logf("failover of the guests (killed node %s, DC %s), token 1000 ms, stonith disabled:\n%s",
		first, s.DC, cluster.RecoveryTable(rs))
	survivor := s.StartedOn("vm")[0]

	// (c) crm_resource --move live-migrates vm to the other survivor.
	var target string
	for _, n := range c.Up() {
		if n.Name != survivor {
			target = n.Name
		}
	}
	moved := time.Now()
	if _, err := c.Run(ctx, "crm_resource", "--move", "--resource", "vm", "--node", target); err != nil {
		t.Fatal(err)
	}
	s, err = c.WaitFor(ctx, 120*time.Second, "vm moved to "+target, func(s *cluster.Status) error {
		if err := each(func(string) bool { return true }, "anywhere")(s); err != nil {
			return err
		}
		if on := s.StartedOn("vm")[0]; on != target {
			return fmt.Errorf("vm on %s, not %s", on, target)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after crm_resource --move: %s", s.Placement())
	// The target's qemu was started to receive the guest's state, not
	// booted afresh.
	if cmdline := qemuOnlyOn(vmName, target); !strings.Contains(cmdline, " -incoming ") {
		t.Errorf("the qemu of %s on %s was not started for an incoming migration: %s", vmName, target, cmdline)
	}

	to, err := c.WaitRecovery(ctx, 30*time.Second, "vm", survivor, moved, "migrate_to")
	if err != nil {
		t.Fatal(err)
	}
	from, err := c.WaitRecovery(ctx, 30*time.Second, "vm", target, moved, "migrate_from", "monitor")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := c.Node(target).Ops(ctx)
	if err != nil {
		t.Fatal(err)
	}
	since := moved.Truncate(time.Second)
	var hist []string
	for _, o := range ops {
		if o.Resource != "vm" || o.LastRCChange.Before(since) {
			continue
		}
		hist = append(hist, fmt.Sprintf("%s %s rc=%d exec %s", o.Node, o.Key, o.RC, o.ExecTime))
		if o.Node == target && (o.Operation == "start" || o.Operation == "stop") {
			t.Errorf("the move ran %s on the target %s: a stop/start, not a live migration", o.Key, target)
		}
		if o.Node == survivor && o.Operation == "start" {
			t.Errorf("the move ran %s on the source %s", o.Key, survivor)
		}
	}
	t.Logf("operation history since the move:\n%s", strings.Join(hist, "\n"))
	t.Logf("live migration %s → %s: migrate_to %d ms, migrate_from %d ms; crm_resource --move → monitor on the target %.1f–%.1f s",
		survivor, target, to.Ops[0].ExecTime.Milliseconds(), from.Ops[0].ExecTime.Milliseconds(), from.Min().Seconds(), from.Max().Seconds())
}
