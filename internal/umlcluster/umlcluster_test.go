package umlcluster_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/umlcluster"
)

// Host paths a node would write if its private mounts were missing:
// nothing under them may change while a cluster runs.
var nodePaths = []string{
	"/etc/corosync", "/etc/drbd.d", "/etc/drbd.conf", "/etc/ocfs2", "/etc/dlm", "/etc/pacemaker",
	"/etc/hostname", "/etc/mtab",
	"/var/lib/pacemaker", "/var/lib/corosync", "/var/lib/drbd", "/var/lib/heartbeat", "/var/lib/dlm",
	"/var/log/pacemaker", "/var/log/corosync", "/var/log/dlm_controld", "/var/log/cluster",
	"/var/lib/ocfs2", "/var/run",
}

type fileState struct {
	mtime time.Time
	size  int64
	mode  fs.FileMode
}

// snapshot records every file and directory under /etc and /var.
func snapshot(t *testing.T) map[string]fileState {
	t.Helper()
	m := map[string]fileState{}
	for _, root := range []string{"/etc", "/var"} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if fi, err := d.Info(); err == nil {
				m[p] = fileState{fi.ModTime(), fi.Size(), fi.Mode()}
			}
			return nil
		})
	}
	return m
}

func underNodePaths(p string) bool {
	for _, w := range nodePaths {
		if p == w || strings.HasPrefix(p, w+"/") {
			return true
		}
	}
	return false
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestLab boots a three-node cluster and checks what the drbd and
// Filesystem tests rely on: the nodes join, commands run with their
// output, status and deadline, the modules load, a power cut leaves no
// process, the cluster fences the node through the lab, a rebooted node
// rejoins, Close leaves nothing, and nothing was written to the host's
// /etc or /var. It prints the lab's figures.
func TestLab(t *testing.T) {
	before := snapshot(t)
	host := hostname(t)
	c := umlcluster.New(t, umlcluster.Config{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	booted := time.Since(c.Started())
	if err := c.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE lab boot 3 nodes: init answering %.1f s, all online %.1f s after the boot began", booted.Seconds(), time.Since(c.Started()).Seconds())

	n1 := c.Node(1)
	t.Run("commands", func(t *testing.T) {
		var rtt, proc, read []time.Duration
		for range 15 {
			s := time.Now()
			r, err := n1.Exec(ctx, umlcluster.Cmd{Argv: []string{"uname", "-n"}})
			rtt = append(rtt, time.Since(s))
			if err != nil || r.Exit != 0 || string(r.Stdout) != "uml1\n" {
				t.Fatalf("uname -n on uml1: %+v, %v; want uml1", r, err)
			}
			proc = append(proc, r.End.Sub(r.Start))
		}
		for range 15 {
			s := time.Now()
			if _, err := n1.ReadFile(ctx, "/proc/uptime"); err != nil {
				t.Fatal(err)
			}
			read = append(read, time.Since(s))
		}
		t.Logf("FIGURE lab command round trip (uname -n in uml1): %s; of which the process inside: %s", umlcluster.Summary(rtt), umlcluster.Summary(proc))
		t.Logf("FIGURE lab file read round trip (no process): %s", umlcluster.Summary(read))

		_, stderr, exit, err := n1.Run(ctx, "ls", "/nonexistent-umlcluster")
		if err != nil || exit != 2 || !strings.Contains(string(stderr), "nonexistent-umlcluster") {
			t.Errorf("ls of a missing file: exit %d, stderr %q, %v; want exit 2 and the name on stderr", exit, stderr, err)
		}
		out, _, _, err := n1.RunEnv(ctx, []string{"UMLTEST=x"}, []byte("from stdin"), "sh", "-c", `printf "%s %s" "$UMLTEST" "$(cat)"`)
		if err != nil || string(out) != "x from stdin" {
			t.Errorf("environment and stdin: %q, %v; want %q", out, err, "x from stdin")
		}
		short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
		s := time.Now()
		_, _, _, err = n1.Run(short, "sleep", "60")
		cancelShort()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(s) > 10*time.Second {
			t.Errorf("sleep 60 under a 2s deadline returned after %v with %v; want the deadline's error", time.Since(s), err)
		}
		// The init killed it when the connection closed.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, _, exit, err := n1.Run(ctx, "pgrep", "-x", "sleep")
			if err != nil {
				t.Fatal(err)
			}
			if exit == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sleep still runs in uml1 10s after its deadline")
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("node", func(t *testing.T) {
		mods, err := n1.ReadFile(ctx, "/proc/modules")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"drbd", "dlm", "ocfs2", "ocfs2_stack_user"} {
			if !strings.Contains(string(mods), m+" ") {
				t.Errorf("module %s is not loaded in uml1", m)
			}
		}
		// A module nobody loaded, through the node's modprobe.
		if out, err := n1.Output(ctx, "modprobe", "xfs"); err != nil {
			t.Errorf("modprobe xfs in uml1: %v %s", err, out)
		}
		if fsys, _ := n1.ReadFile(ctx, "/proc/filesystems"); !strings.Contains(string(fsys), "xfs") {
			t.Errorf("xfs is not in uml1's /proc/filesystems after modprobe")
		}
		out, err := n1.Output(ctx, "ethtool", "-k", "vec0")
		if err != nil || !strings.Contains(out, "tcp-segmentation-offload: off") || !strings.Contains(out, "generic-segmentation-offload: off") {
			t.Errorf("vec0 offloads: %v\n%s", err, out)
		}
		out, err = n1.Output(ctx, "ping", "-c", "1", "-W", "2", c.Node(2).Addr)
		if err != nil {
			t.Errorf("uml1 cannot ping uml2: %v %s", err, out)
		}
		for _, n := range c.Nodes() {
			mem, err := n.HostMemory()
			if err != nil {
				t.Fatal(err)
			}
			meminfo, _ := n.ReadFile(ctx, "/proc/meminfo")
			var avail string
			for _, l := range strings.Split(string(meminfo), "\n") {
				if strings.HasPrefix(l, "MemAvailable:") {
					avail = strings.Join(strings.Fields(l)[1:], " ")
				}
			}
			t.Logf("FIGURE lab memory %s: host %d MiB of its 384 MiB, MemAvailable inside %s", n.Name, mem>>20, avail)
		}
	})

	t.Run("power cut, fencing, reboot", func(t *testing.T) {
		n3 := c.Node(3)
		pgid := n3.PGID()
		at, err := c.PowerCut(3)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
			if left := liveGroup(pgid); len(left) > 0 {
				t.Fatalf("process group %d of uml3 still has %v after the power cut", pgid, left)
			}
		}
		if _, err := c.WaitFor(ctx, "uml3 offline", func(s *umlcluster.Status) error {
			if s.IsOnline("uml3") {
				return errors.New("uml3 online")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("FIGURE lab uml3 offline in crm_mon %.1f s after the power cut", time.Since(at).Seconds())
		// Pacemaker fences the lost node through fence_ocfbox.
		deadline := time.Now().Add(3 * time.Minute)
		for len(c.FenceEvents()) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the cluster did not fence uml3 within 3 minutes of the power cut")
			}
			time.Sleep(200 * time.Millisecond)
		}
		ev := c.FenceEvents()[0]
		if ev.Node != "uml3" || ev.Err != nil {
			t.Errorf("fence event %v, want a successful one for uml3", ev)
		}
		t.Logf("FIGURE lab fencing of uml3 requested %.1f s after the power cut: %v", ev.At.Sub(at).Seconds(), ev)

		s := time.Now()
		if err := c.Reboot(ctx, 3); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitOnline(ctx, "uml1", "uml2", "uml3"); err != nil {
			t.Fatal(err)
		}
		t.Logf("FIGURE lab reboot uml3 into the running cluster: online %.1f s after Reboot", time.Since(s).Seconds())
	})

	ns := c.Namespace()
	var groups []int
	for _, n := range c.Nodes() {
		groups = append(groups, n.PGID())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %s is still there after Close", ns)
	}
	for _, g := range groups {
		if left := liveGroup(g); len(left) > 0 {
			t.Errorf("processes %v of group %d still run after Close", left, g)
		}
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), ns) {
		t.Errorf("a mount of %s is left after Close", ns)
	}

	if h := hostname(t); h != host {
		t.Errorf("host name changed from %q to %q", host, h)
	}
	after := snapshot(t)
	var other int
	for p, st := range after {
		if old, ok := before[p]; ok && old == st {
			continue
		}
		if underNodePaths(p) {
			t.Errorf("host %s was written while the cluster ran (%v -> %v)", p, before[p], st)
		} else {
			other++
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok && underNodePaths(p) {
			t.Errorf("host %s was removed while the cluster ran", p)
		}
	}
	t.Logf("host /etc and /var: nothing under the nodes' paths changed (%d other changes, by other programs of the machine)", other)
}

// liveGroup lists the live processes of a process group.
func liveGroup(pgid int) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
