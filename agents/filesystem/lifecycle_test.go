package filesystem_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/looptest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/mount"
	"golang.org/x/sys/unix"
)

func TestLifecycleOnLoopDevices(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	for _, fstype := range []string{"ext4", "xfs"} {
		t.Run(fstype, func(t *testing.T) {
			dev := looptest.New(t, looptest.Options{FSType: fstype, Label: "ocfbx-" + fstype})
			dir := filepath.Join(t.TempDir(), "not", "yet", "there")
			for _, device := range []string{dev.Path, "LABEL=" + dev.Label, "-L " + dev.Label, "UUID=" + dev.UUID, "--uuid=" + dev.UUID} {
				t.Run(device, func(t *testing.T) {
					r := newRsc(t, map[string]string{"device": device, "directory": dir, "fstype": fstype})
					r.expect("probe", ocf.NotRunning)
					r.expect("validate-all", ocf.Success)
					r.expect("start", ocf.Success)
					m, ok := mountedAt(t, dir)
					if !ok || m.FSType != fstype || m.Source != dev.Path {
						t.Fatalf("after start: %+v %v; want %s of %s on %s (the directory created)", m, ok, fstype, dev.Path, dir)
					}
					r.expect("start", ocf.Success) // already mounted
					r.expect("probe", ocf.Success)
					r.expect("monitor", ocf.Success)
					r.expect("status", ocf.Success)
					for _, level := range []int{10, 20} {
						r.level = level
						r.expect("monitor", ocf.Success)
					}
					host, _ := os.Hostname()
					status := filepath.Join(dir, ".Filesystem_status", "fs_"+host)
					if b, err := os.ReadFile(status); err != nil || !strings.HasPrefix(string(b), "fs\n") {
						t.Errorf("depth-20 status file %s: %q %v", status, b, err)
					}
					r.level = 15
					if reason := r.expect("monitor", ocf.ErrConfigured); !strings.Contains(reason, "OCF_CHECK_LEVEL=15") {
						t.Errorf("unsupported level: reason %q", reason)
					}
					r.level = 20
					r.expect("stop", ocf.Success)
					r.level = 0
					if _, ok := mountedAt(t, dir); ok {
						t.Fatal("still mounted after stop")
					}
					r.expect("stop", ocf.Success)
					r.expect("monitor", ocf.NotRunning)
					r.expect("probe", ocf.NotRunning)
					r.expect("start", ocf.Success)
					if _, err := os.Stat(status); err == nil {
						t.Error("the status file is still there: a stop at depth 20 removes it")
					}
					r.expect("stop", ocf.Success)
				})
			}
		})
	}
}

func TestStopSignalsOnlyTheProcessesHoldingTheMount(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	dev := looptest.New(t, looptest.Options{})
	dir := filepath.Join(t.TempDir(), "data")
	r := newRsc(t, map[string]string{"device": dev.Path, "directory": dir, "fstype": "ext4", "signal_delay": "0"})
	r.meta["timeout"] = "20000"
	r.expect("start", ocf.Success)
	mkdir(t, dir, "sub", "deeper")
	os.WriteFile(filepath.Join(dir, "log"), nil, 0o644)
	// A tmpfs mounted below the resource's directory, with a user.
	sub := filepath.Join(dir, "sub", "deeper")
	if err := mount.Syscall("subtmp", sub, "tmpfs", mount.Options{}); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	inCwd := spawn(t, filepath.Join(dir, "sub"), "sleep", "1000")
	inSub := spawn(t, sub, "sleep", "1000")
	reader := spawn(t, "/", "tail", "-f", filepath.Join(dir, "log"))
	sameName := spawn(t, outside, "sleep", "1000")
	// A process that ignores SIGTERM needs the kill phase.
	stubborn := spawn(t, dir, "bash", "-c", "trap '' TERM; while :; do sleep 0.1; done")
	time.Sleep(300 * time.Millisecond)

	began := time.Now()
	r.expect("stop", ocf.Success)
	t.Logf("stop took %s", time.Since(began).Round(time.Millisecond))
	for name, c := range map[string]*exec.Cmd{"cwd holder": inCwd, "holder of the submount": inSub, "reader": reader, "process ignoring SIGTERM": stubborn} {
		if !gone(c) {
			t.Errorf("%s (pid %d) survived the stop", name, c.Process.Pid)
		}
	}
	if !alive(sameName) {
		t.Error("the sleep outside the mount, with the same name as a holder, was killed")
	}
	if _, ok := mountedAt(t, dir); ok {
		t.Error("still mounted")
	}
	if _, ok := mountedAt(t, sub); ok {
		t.Error("the submount is still mounted")
	}
}

func TestStopWithForceUnmountFalseFailsInTimeAndKillsNothing(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	dev := looptest.New(t, looptest.Options{})
	dir := filepath.Join(t.TempDir(), "data")
	r := newRsc(t, map[string]string{"device": dev.Path, "directory": dir, "fstype": "ext4", "force_unmount": "false"})
	r.meta["timeout"] = "4000"
	r.expect("start", ocf.Success)
	holder := spawn(t, dir, "sleep", "1000")
	time.Sleep(100 * time.Millisecond)
	began := time.Now()
	reason := r.expect("stop", ocf.ErrGeneric)
	took := time.Since(began)
	if !strings.Contains(reason, "could not unmount "+dir) || took > 4*time.Second {
		t.Errorf("stop: %q after %s; want a reason naming the mount, before the 4s timeout", reason, took)
	}
	if !alive(holder) {
		t.Error("force_unmount=false, but the holder was killed")
	}
	if _, ok := mountedAt(t, dir); !ok {
		t.Error("unmounted although busy")
	}
	holder.Process.Kill()
	gone(holder)
	r.expect("stop", ocf.Success)
}

func TestFastStopGivesUpAfterSixSeconds(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	src := t.TempDir()
	dir := filepath.Join(t.TempDir(), "bound")
	r := newRsc(t, map[string]string{"device": src, "directory": dir, "fstype": "none", "options": "bind", "force_unmount": "false", "fast_stop": "yes"})
	r.meta["timeout"] = "60000"
	r.expect("start", ocf.Success)
	holder := spawn(t, dir, "sleep", "1000")
	time.Sleep(100 * time.Millisecond)
	began := time.Now()
	r.expect("stop", ocf.ErrGeneric)
	if took := time.Since(began); took < 5*time.Second || took > 9*time.Second {
		t.Errorf("fast_stop: the stop took %s, want about 6s", took)
	}
	holder.Process.Kill()
	gone(holder)
	r.expect("stop", ocf.Success)
}

func TestBindMountsAndTmpfs(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	t.Run("bind,ro", func(t *testing.T) {
		src := t.TempDir()
		os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
		dir := filepath.Join(t.TempDir(), "ro")
		r := newRsc(t, map[string]string{"device": src, "directory": dir, "fstype": "none", "options": "bind,ro"})
		r.expect("start", ocf.Success)
		m, ok := mountedAt(t, dir)
		if !ok || !m.ReadOnly() {
			t.Fatalf("bind,ro: %+v %v", m, ok)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "x" {
			t.Error("the bound directory's file is not visible")
		}
		r.level = 10
		r.expect("monitor", ocf.Success) // nothing to read for a bind mount
		r.level = 0
		// A process using the source directory (same file system, not
		// this mount) is not touched by stop.
		user := spawn(t, src, "sleep", "1000")
		inside := spawn(t, dir, "sleep", "1000")
		time.Sleep(100 * time.Millisecond)
		r.expect("stop", ocf.Success)
		if !gone(inside) || !alive(user) {
			t.Errorf("stop of a bind mount: holder gone %v, user of the source directory alive %v; want true, true", !alive(inside), alive(user))
		}
	})
	t.Run("another directory bound there is not this resource", func(t *testing.T) {
		src, other := t.TempDir(), t.TempDir()
		dir := filepath.Join(t.TempDir(), "b")
		mkdir(t, dir)
		if err := mount.Syscall(other, dir, "", mount.ParseOptions("bind")); err != nil {
			t.Fatal(err)
		}
		defer unix.Unmount(dir, unix.MNT_DETACH)
		r := newRsc(t, map[string]string{"device": src, "directory": dir, "fstype": "none", "options": "bind"})
		r.expect("probe", ocf.NotRunning)
		r.expect("monitor", ocf.ErrGeneric)
	})
	t.Run("tmpfs", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "tmp")
		r := newRsc(t, map[string]string{"device": "ocfbxtmp", "directory": dir, "fstype": "tmpfs", "options": "size=8m,mode=0700"})
		r.expect("start", ocf.Success)
		m, ok := mountedAt(t, dir)
		if !ok || m.Source != "ocfbxtmp" || !strings.Contains(m.SuperOptions, "size=8192k") || !strings.Contains(m.SuperOptions, "mode=700") {
			t.Fatalf("tmpfs: %+v %v", m, ok)
		}
		r.level = 20
		r.expect("monitor", ocf.Success)
		r.expect("stop", ocf.Success)
		r.level = 0
		r.expect("monitor", ocf.NotRunning)
	})
}

// Every bad input: its status, its reason naming the parameter or value,
// and the mount table unchanged (nothing mounted, nothing unmounted) and
// the holder process alive (nothing killed).
func TestBadInputsChangeNothing(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	dev := looptest.New(t, looptest.Options{})
	other := looptest.New(t, looptest.Options{})
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	os.WriteFile(file, []byte("x"), 0o644)
	used := mkdir(t, base, "used")
	if err := mount.Syscall(other.Path, used, "ext4", mount.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(used, unix.MNT_DETACH) })
	holder := spawn(t, used, "sleep", "1000")
	time.Sleep(100 * time.Millisecond)
	mp := filepath.Join(base, "mnt")

	tests := []struct {
		name   string
		params map[string]string
		meta   map[string]string
		action string
		want   ocf.Status
		reason string // a part of the exit reason
	}{
		{"missing device", map[string]string{"device": "/dev/ocfbx-no-such-disk", "directory": mp, "fstype": "ext4"}, nil, "start", ocf.ErrInstalled, "device=/dev/ocfbx-no-such-disk does not exist"},
		{"missing label", map[string]string{"device": "LABEL=ocfbx-no-such-label", "directory": mp, "fstype": "ext4"}, nil, "start", ocf.ErrInstalled, "LABEL=ocfbx-no-such-label"},
		{"device that is a regular file", map[string]string{"device": file, "directory": mp, "fstype": "ext4"}, nil, "start", ocf.ErrInstalled, "not a block device"},
		{"unknown fstype", map[string]string{"device": dev.Path, "directory": mp, "fstype": "ocfbxfs"}, nil, "start", ocf.ErrInstalled, "fstype=ocfbxfs"},
		{"wrong fstype", map[string]string{"device": dev.Path, "directory": mp, "fstype": "xfs"}, nil, "start", ocf.ErrGeneric, "mount " + dev.Path + " on " + mp + " type xfs"},
		{"directory that is a file", map[string]string{"device": dev.Path, "directory": file, "fstype": "ext4"}, nil, "start", ocf.ErrInstalled, "directory=" + file + " is a regular file"},
		{"mount point already used by another device", map[string]string{"device": dev.Path, "directory": used, "fstype": "ext4"}, nil, "start", ocf.ErrGeneric, "another device (" + other.Path + ", ext4) is mounted on " + used},
		{"… its probe", map[string]string{"device": dev.Path, "directory": used, "fstype": "ext4"}, nil, "probe", ocf.NotRunning, ""},
		{"… its recurring monitor", map[string]string{"device": dev.Path, "directory": used, "fstype": "ext4"}, nil, "monitor", ocf.ErrGeneric, "another device"},
		{"… its stop leaves the other device mounted", map[string]string{"device": dev.Path, "directory": used, "fstype": "ext4"}, nil, "stop", ocf.Success, ""},
		{"options the kernel refuses", map[string]string{"device": dev.Path, "directory": mp, "fstype": "ext4", "options": "ocfbx_bogus=1"}, nil, "start", ocf.ErrGeneric, "options ocfbx_bogus=1: invalid argument"},
		{"directory /", map[string]string{"device": dev.Path, "directory": "/", "fstype": "ext4"}, nil, "start", ocf.ErrConfigured, `directory="/"`},
		{"relative directory", map[string]string{"device": dev.Path, "directory": "mnt", "fstype": "ext4"}, nil, "start", ocf.ErrConfigured, `directory="mnt" is not an absolute path`},
		{"device with a trailing blank", map[string]string{"device": dev.Path + " ", "directory": mp, "fstype": "ext4"}, nil, "start", ocf.ErrConfigured, "white space"},
		{"no device", map[string]string{"directory": mp, "fstype": "ext4"}, nil, "start", ocf.ErrConfigured, "device"},
		{"force_unmount garbage", map[string]string{"device": dev.Path, "directory": mp, "fstype": "ext4", "force_unmount": "maybe"}, nil, "validate-all", ocf.ErrConfigured, `force_unmount="maybe"`},
		{"term_signals garbage", map[string]string{"device": dev.Path, "directory": mp, "fstype": "ext4", "term_signals": "TERM,NOPE"}, nil, "start", ocf.ErrConfigured, `"NOPE" is not a signal`},
		{"ext4 as a clone", map[string]string{"device": dev.Path, "directory": mp, "fstype": "ext4"}, map[string]string{"clone_max": "2", "clone": "0"}, "start", ocf.ErrConfigured, "NOT cluster-aware"},
		{"xfs as a clone, read-only", map[string]string{"device": dev.Path, "directory": mp, "fstype": "xfs", "options": "ro"}, map[string]string{"clone_max": "2"}, "start", ocf.ErrConfigured, "NOT cluster-aware"},
		{"unknown type as a clone", map[string]string{"device": dev.Path, "directory": mp, "fstype": "ocfbxfs"}, map[string]string{"clone_max": "2"}, "start", ocf.ErrConfigured, "NOT cluster-aware"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRsc(t, tt.params)
			for k, v := range tt.meta {
				r.meta[k] = v
			}
			before := snapshot(t)
			res := r.do(tt.action)
			reason, _ := res.ExitReason()
			if res.Status != tt.want || !strings.Contains(reason, tt.reason) {
				t.Errorf("%s: %s %q, want %s with a reason containing %q", tt.action, res.Status, reason, tt.want, tt.reason)
			}
			if after := snapshot(t); !slices.Equal(before, after) {
				t.Errorf("the mount table changed:\nbefore %v\nafter  %v", before, after)
			}
			if !alive(holder) {
				t.Fatal("the process using the other device's mount was killed")
			}
			if _, err := os.Stat(mp); err == nil && tt.action == "start" && tt.want != ocf.ErrGeneric {
				// A start refused before mounting creates no directory.
				if tt.name != "options the kernel refuses" && tt.name != "wrong fstype" {
					t.Errorf("start created %s although it refused", mp)
				}
			}
			os.Remove(mp)
		})
	}
}

func TestClonesOfClusterAndForcedFileSystemsStart(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	dev := looptest.New(t, looptest.Options{})
	for _, tt := range []struct {
		name   string
		params map[string]string
	}{
		{"ext4 with force_clones", map[string]string{"device": dev.Path, "fstype": "ext4", "force_clones": "true"}},
		{"tmpfs", map[string]string{"device": "clonetmp", "fstype": "tmpfs"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.params["directory"] = filepath.Join(t.TempDir(), "c")
			r := newRsc(t, tt.params)
			r.meta["clone_max"], r.meta["clone"] = "2", "1"
			r.expect("start", ocf.Success)
			r.expect("monitor", ocf.Success)
			r.expect("stop", ocf.Success)
		})
	}
}

// A file system that stops answering (frozen here, as a SAN path that is
// gone or a hung server would) fails the depth-20 monitor at the
// deadline instead of blocking it until Pacemaker kills the agent; the
// depth-0 monitor still answers from the mount table.
// FIFREEZE and FITHAW (linux/fs.h: _IOWR('X', 119, int), _IOWR('X', 120, int)).
const (
	fiFreeze = 0xc0045877
	fiThaw   = 0xc0045878
)

func TestMonitorOfAHungFileSystemFailsWithinTheDeadline(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	dev := looptest.New(t, looptest.Options{})
	dir := filepath.Join(t.TempDir(), "frozen")
	r := newRsc(t, map[string]string{"device": dev.Path, "directory": dir, "fstype": "ext4"})
	r.expect("start", ocf.Success)
	defer r.do("stop")
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetInt(fd, fiFreeze, 0); err != nil {
		t.Fatalf("freeze: %v", err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			unix.IoctlSetInt(fd, fiThaw, 0)
			thawed = true
		}
	}
	defer thaw()
	r.meta["timeout"] = "3000"
	r.level = 20
	began := time.Now()
	reason := r.expect("monitor", ocf.ErrGeneric)
	if took := time.Since(began); took > 3*time.Second || !strings.Contains(reason, "does not answer") {
		t.Errorf("depth-20 monitor of a frozen file system: %q after %s; want a failure naming it before the 3s timeout", reason, took)
	}
	r.level = 0
	r.expect("monitor", ocf.Success)
	thaw()
}
