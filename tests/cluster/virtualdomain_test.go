package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/tests/cluster"
)

// The guest of TestVirtualDomain and its configuration file, at the same
// path on every node (in the node's /run, written at every boot).
const (
	vmName   = "ocfbxcl-vm1"
	vmConfig = "/run/" + cluster.Prefix + "vm/" + vmName + ".xml"
)

// TestVirtualDomain: a libvirt guest managed by ocf:ocfbox:VirtualDomain
// on the three-node cluster, every node with a libvirtd of its own. The
// guest runs on exactly one node (its qemu process, and crm_mon agree);
// killing that node restarts it on a survivor; crm_resource --move
// live-migrates it (migrate_to and migrate_from in the operation
// history, no stop/start on the target) and afterwards it runs only on
// the target. The failover and migration figures come from the cluster's
// operation history and are reported, not asserted.
func TestVirtualDomain(t *testing.T) {
	for _, tool := range []string{"libvirtd", "qemu-system-x86_64"} {
		testenv.RequireTool(t, tool)
	}
	c := cluster.StartT(t, cluster.Options{NodeSetup: func(ctx context.Context, n *cluster.Node) error {
		if err := cluster.SetupLibvirt(ctx, n); err != nil {
			return err
		}
		p := n.Path(vmConfig)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(libvirttest.GuestXML(vmName, "")), 0o644)
	}})
	t.Cleanup(func() { // before the cluster's teardown removes the nodes' directories
		for _, n := range c.Nodes {
			libvirttest.SaveCaps(cluster.LibvirtDir(n))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	vm := cluster.Primitive{ID: "vm", Agent: "ocf:ocfbox:VirtualDomain",
		Params: map[string]string{
			"config":     vmConfig,
			"hypervisor": "qemu:///system",
			// The guest boots no OS and never answers a shutdown request.
			"force_stop":          "true",
			"migration_transport": "tcp",
			"migrateuri":          "tcp://%n",
			// Placement does not use utilization here.
			"autoset_utilization_cpu": "false", "autoset_utilization_hv_memory": "false",
			"autoset_utilization_host_memory": "false",
		},
		Meta: map[string]string{"allow-migrate": "true"},
		Ops: []cluster.OpSpec{
			{Name: "start", Interval: "0", Timeout: "90s"},
			{Name: "stop", Interval: "0", Timeout: "90s"},
			{Name: "monitor", Interval: "5s", Timeout: "30s"},
			{Name: "migrate_to", Interval: "0", Timeout: "120s"},
			{Name: "migrate_from", Interval: "0", Timeout: "60s"},
		}}
	if err := c.Configure(ctx, vm); err != nil {
		t.Fatal(err)
	}

	// one holds when vm is started on exactly one node, none of not.
	one := func(not ...string) cluster.Condition {
		return func(s *cluster.Status) error {
			if err := cluster.NoFailures(s); err != nil {
				return err
			}
			on := s.StartedOn("vm")
			if len(on) != 1 || len(s.ActiveOn("vm")) != 1 {
				return fmt.Errorf("vm started on %v, active on %v: want one node", on, s.ActiveOn("vm"))
			}
			if slices.Contains(not, on[0]) {
				return fmt.Errorf("vm still on %s", on[0])
			}
			return nil
		}
	}
	// qemuOnlyOn waits (bounded) until the guest's qemu runs on node and
	// on no other node that is up: a migrated-away qemu ends a moment
	// after the migration completes. It returns the qemu's command line.
	qemuOnlyOn := func(node string) string {
		t.Helper()
		var where []string
		var pids []int
		for deadline := time.Now().Add(30 * time.Second); ; {
			where = where[:0]
			for _, n := range c.Up() {
				if p := n.ProcessesMatching("guest=" + vmName + ","); len(p) > 0 {
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
				t.Fatalf("qemu of %s runs on %v, want on %s only", vmName, where, node)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// (a) It runs on exactly one node.
	s, err := c.WaitFor(ctx, 120*time.Second, "vm started", one())
	if err != nil {
		t.Fatal(err)
	}
	first := s.StartedOn("vm")[0]
	t.Logf("started: %s", s.Placement())
	qemuOnlyOn(first)

	// (b) Killing its node restarts it on a survivor.
	killed, err := c.Node(first).Kill()
	if err != nil {
		t.Fatal(err)
	}
	s, err = c.WaitFor(ctx, 120*time.Second, "vm on a survivor after "+first+" died", one(first))
	if err != nil {
		t.Fatal(err)
	}
	survivor := s.StartedOn("vm")[0]
	t.Logf("after killing %s: %s", first, s.Placement())
	qemuOnlyOn(survivor)
	r, err := c.WaitRecovery(ctx, 30*time.Second, "vm", survivor, killed, "start", "monitor")
	if err != nil {
		t.Fatal(err)
	}
	if r.Max() > 120*time.Second {
		t.Errorf("vm took up to %s after the kill, more than the 120s the test waits", r.Max())
	}
	t.Logf("failover of vm (killed node %s):\n%s", first, cluster.RecoveryTable([]cluster.Recovery{r}))

	// (c) crm_resource --move live-migrates it to the other survivor.
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
		if err := one()(s); err != nil {
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
	if cmdline := qemuOnlyOn(target); !strings.Contains(cmdline, " -incoming ") {
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
