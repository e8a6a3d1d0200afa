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
// libvirttest.SaveCaps(LibvirtDir(n)) before the cluster is closed to
// keep what a daemon probed for later runs.
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
