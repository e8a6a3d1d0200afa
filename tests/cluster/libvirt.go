package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/internal/libvirttest"
)

// LibvirtDir is where a node prepared by SetupLibvirt keeps its
// libvirtd's configuration, state, cache and log (kept across reboots;
// libvirt's run directory is in the node's /run and dies with it).
func LibvirtDir(n *Node) string { return filepath.Join(n.Dir, "libvirt") }

// SetupLibvirt is a NodeSetup that gives a node a libvirtd of its own,
// prepared as internal/libvirttest prepares a private daemon (its own
// directories, a /dev/kvm its qemu user cannot open, the shared
// capability cache): inside the node, qemu:///system reaches it, it
// listens on TCP without authentication (qemu+tcp://<node>/system, for
// live migration between nodes), and /etc/hosts names every node of the
// cluster. It dies with the node, guests included. Call
// Cluster.SaveLibvirtCaps before the cluster is closed to keep what the
// daemons probed for later runs.
func SetupLibvirt(ctx context.Context, n *Node) error {
	dir := LibvirtDir(n)
	if err := libvirttest.Prepare(dir, true); err != nil {
		return fmt.Errorf("%s: libvirt: %w", n.Name, err)
	}
	hosts := "127.0.0.1\tlocalhost\n"
	for _, m := range n.c.Nodes {
		hosts += m.Addr + "\t" + m.Name + "\n"
	}
	cmds, err := libvirttest.MountCommands(dir, libvirttest.MountOptions{Hosts: []byte(hosts), FreshRun: true})
	if err != nil {
		return fmt.Errorf("%s: libvirt: %w", n.Name, err)
	}
	for _, c := range cmds {
		if _, err := n.Run(ctx, c...); err != nil {
			return err
		}
	}
	if err := n.Start("libvirtd", nil, libvirttest.Libvirtd(true)...); err != nil {
		return err
	}
	sock := n.Path("/run/libvirt/libvirt-sock")
	return n.poll(ctx, 60*time.Second, "libvirtd's socket", func() error {
		c, err := net.Dial("unix", sock)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// SaveLibvirtCaps keeps what the nodes' libvirtds probed (qemu's
// capabilities) for later runs, so that they do not probe again: call it
// before Close, which removes the nodes' directories. Nodes without a
// libvirtd are skipped.
func (c *Cluster) SaveLibvirtCaps() {
	for _, n := range c.Nodes {
		libvirttest.SaveCaps(LibvirtDir(n))
	}
}

// GuestDir holds the guests' configuration files on nodes prepared by
// SetupGuests: in the node's /run, so every boot writes them afresh, and
// at the same path on every node, as a VirtualDomain primitive's config
// parameter needs.
const GuestDir = "/run/" + Prefix + "vm"

// GuestConfigFile is the config parameter of a VirtualDomain primitive
// for guest name, on nodes prepared by SetupGuests.
func GuestConfigFile(name string) string { return GuestDir + "/" + name + ".xml" }

// SetupGuests returns a NodeSetup that gives a node a libvirtd of its
// own (SetupLibvirt) and, at GuestConfigFile(name), the configuration of
// each guest named: libvirttest.GuestXML, a tiny guest that boots no OS,
// so it runs anywhere under TCG and never answers a shutdown request.
func SetupGuests(names ...string) func(context.Context, *Node) error {
	return func(ctx context.Context, n *Node) error {
		if err := SetupLibvirt(ctx, n); err != nil {
			return err
		}
		if err := os.MkdirAll(n.Path(GuestDir), 0o755); err != nil {
			return fmt.Errorf("%s: guests: %w", n.Name, err)
		}
		for _, name := range names {
			if err := os.WriteFile(n.Path(GuestConfigFile(name)), []byte(libvirttest.GuestXML(name, "")), 0o644); err != nil {
				return fmt.Errorf("%s: guest %s: %w", n.Name, name, err)
			}
		}
		return nil
	}
}

// GuestPrimitive is a VirtualDomain primitive for guest name on nodes
// prepared by SetupGuests. agent is ocf:ocfbox:VirtualDomain or the
// reference ocf:heartbeat:VirtualDomain: the parameters are the same.
// The guest is stopped by force (it ignores a shutdown request), may
// live-migrate (allow-migrate) between the nodes' libvirtds over TCP,
// and its placement does not use utilization.
func GuestPrimitive(id, agent, name string) Primitive {
	return Primitive{ID: id, Agent: agent,
		Params: map[string]string{
			"config":                          GuestConfigFile(name),
			"hypervisor":                      "qemu:///system",
			"force_stop":                      "true",
			"migration_transport":             "tcp",
			"migrateuri":                      "tcp://%n",
			"autoset_utilization_cpu":         "false",
			"autoset_utilization_hv_memory":   "false",
			"autoset_utilization_host_memory": "false",
		},
		Meta: map[string]string{"allow-migrate": "true"},
		Ops: []OpSpec{
			{Name: "start", Interval: "0", Timeout: "90s"},
			{Name: "stop", Interval: "0", Timeout: "90s"},
			{Name: "monitor", Interval: "5s", Timeout: "30s"},
			{Name: "migrate_to", Interval: "0", Timeout: "120s"},
			{Name: "migrate_from", Interval: "0", Timeout: "60s"},
		}}
}

// QemuOf is what the command line of guest name's qemu contains (libvirt
// passes "-name guest=<name>,…"), for Node.ProcessesMatching.
func QemuOf(name string) string { return "guest=" + name + "," }

// ProcessesMatching lists the host PIDs of the node's processes whose
// command line contains substr (arguments joined by spaces), such as
// "guest=vm1," for the qemu of libvirt guest vm1.
func (n *Node) ProcessesMatching(substr string) []int {
	init := n.InitPID()
	if init == 0 {
		return nil
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if err != nil {
		return nil
	}
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); got != ns {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(strings.ReplaceAll(string(data), "\x00", " "), substr) {
			pids = append(pids, pid)
		}
	}
	return pids
}
