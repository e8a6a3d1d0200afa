package libvirttest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether a process exists and is not a zombie (a killed
// qemu is reparented to PID 1, which reaps it when it gets to it).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// TestDaemonIsPrivateAndTornDown: the daemon answers on its own socket,
// reaches qemu:///system inside its namespace, leaves the host's /run
// alone, and nothing it started survives the test.
func TestDaemonIsPrivateAndTornDown(t *testing.T) {
	_, hostRunLibvirt := os.Stat("/run/libvirt")
	var pids []int
	var dir string
	t.Run("daemon", func(t *testing.T) {
		d := Start(t)
		dir = d.Dir
		if out, err := d.Virsh("create", writeGuest(t, d, "lt-guest")); err != nil {
			t.Fatalf("create a guest: %v\n%s", err, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := d.Command(ctx, "virsh", "-c", "qemu:///system", "domstate", "lt-guest").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "running") {
			t.Fatalf("inside the namespace qemu:///system does not reach the daemon: %v\n%s", err, out)
		}
		pids = append(d.Processes(), d.anchor.Process.Pid)
		if len(pids) < 3 {
			t.Fatalf("processes of the daemon %v; want libvirtd, qemu and the namespace holder", pids)
		}
	})
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d of the daemon survived its teardown", pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the daemon's directory %s survived its teardown: %v", dir, err)
	}
	if _, err := os.Stat("/run/libvirt"); (err == nil) != (hostRunLibvirt == nil) {
		t.Errorf("the host's /run/libvirt changed (existed before: %v, now: %v)", hostRunLibvirt == nil, err == nil)
	}
}

// TestNewAndCloseWithoutATest: a daemon made by New (as tests/bench
// makes one) runs guests on its own socket, and Close, called by its
// owner, stops everything it started, removes its directory, and does
// nothing the second time.
func TestNewAndCloseWithoutATest(t *testing.T) {
	require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := New(ctx)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			d.Close()
		}
	}()
	if out, err := d.Virsh("create", writeGuest(t, d, "lt-new")); err != nil {
		t.Fatalf("create a guest: %v\n%s", err, out)
	}
	pids := append(d.Processes(), d.anchor.Process.Pid)
	if len(pids) < 3 {
		t.Fatalf("processes of the daemon %v; want libvirtd, qemu and the namespace holder", pids)
	}
	closed = true
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d of the daemon survived Close", pid)
		}
	}
	if _, err := os.Stat(d.Dir); !os.IsNotExist(err) {
		t.Errorf("the daemon's directory %s survived Close: %v", d.Dir, err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("a second Close: %v, want nothing done", err)
	}
}

func writeGuest(t *testing.T, d *Daemon, name string) string {
	path := d.Dir + "/" + name + ".xml"
	if err := os.WriteFile(path, []byte(GuestXML(name, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
