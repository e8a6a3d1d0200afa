package mount

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/looptest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { testenv.RunInPrivateMountNamespace(m) }

// start runs argv in dir and kills it at the end of the test.
func start(t *testing.T, dir string, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func mountedAt(t *testing.T, dir string) (Mount, bool) {
	t.Helper()
	tab, err := ReadTable(SelfMountinfo)
	if err != nil {
		t.Fatal(err)
	}
	return tab.At(dir)
}

func TestRealMountHoldersAndUnmount(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	for _, fstype := range []string{"ext4", "xfs"} {
		t.Run(fstype, func(t *testing.T) {
			dev := looptest.New(t, looptest.Options{FSType: fstype})
			dir := filepath.Join(t.TempDir(), "mnt")
			os.Mkdir(dir, 0o755)
			if err := Syscall(dev.Path, dir, fstype, ParseOptions("noatime")); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
			m, ok := mountedAt(t, dir)
			var st unix.Stat_t
			unix.Stat(dev.Path, &st)
			if !ok || m.FSType != fstype || m.Major != unix.Major(st.Rdev) || m.Minor != unix.Minor(st.Rdev) {
				t.Fatalf("mount table at %s: %+v %v; want %s of %s", dir, m, ok, fstype, dev.Path)
			}
			os.Mkdir(filepath.Join(dir, "sub"), 0o755)
			os.WriteFile(filepath.Join(dir, "log"), []byte("x\n"), 0o644)
			sleep, _ := exec.LookPath("sleep")
			b, _ := os.ReadFile(sleep)
			os.WriteFile(filepath.Join(dir, "mysleep"), b, 0o755)

			inside := start(t, filepath.Join(dir, "sub"), "sleep", "1000")   // cwd
			elsewhere := start(t, "/", "sleep", "1000")                      // same name, outside
			reader := start(t, "/", "tail", "-f", filepath.Join(dir, "log")) // open file
			mapped := start(t, "/", filepath.Join(dir, "mysleep"), "1000")   // exe and mmap

			err := Unmount(dir, false)
			if !errors.Is(err, unix.EBUSY) {
				t.Fatalf("unmount of a busy mount: %v, want EBUSY", err)
			}
			time.Sleep(200 * time.Millisecond) // tail opens the file after it starts
			hs, err := HostProc.Holders([]Mount{m})
			if err != nil {
				t.Fatal(err)
			}
			got := PIDs(hs)
			slices.Sort(got)
			want := []int{inside.Process.Pid, reader.Process.Pid, mapped.Process.Pid}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("holders %v (%s), want %v; the sleep outside (%d) must not be one", got, HostProc.Describe(hs), want, elsewhere.Process.Pid)
			}
			for _, c := range []*exec.Cmd{inside, reader, mapped} {
				c.Process.Kill()
				c.Wait()
			}
			if err := Unmount(dir, false); err != nil {
				t.Fatalf("unmount once the holders are gone: %v", err)
			}
			if _, ok := mountedAt(t, dir); ok {
				t.Error("still mounted after unmount")
			}
			if err := elsewhere.Process.Signal(unix.Signal(0)); err != nil {
				t.Errorf("the sleep outside the mount is gone: %v", err)
			}
		})
	}
}

func TestSyscallErrorsAreTyped(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	dev := looptest.New(t, looptest.Options{})
	dir := t.TempDir()
	err := Syscall(dev.Path, dir, "ext4", ParseOptions("nosuchoption=1"))
	var me *Error
	if !errors.As(err, &me) || me.Op != "mount" || me.Source != dev.Path || me.Target != dir || me.Data != "nosuchoption=1" || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("mount with an option ext4 refuses: %v, want a mount *Error with EINVAL naming source, target and data", err)
	}
	if _, ok := mountedAt(t, dir); ok {
		t.Fatal("mounted although the kernel refused")
	}
	if err := Syscall(dev.Path, dir, "nosuchfs", Options{}); !errors.Is(err, unix.ENODEV) {
		t.Errorf("unknown file system type: %v, want ENODEV", err)
	}
	if err := Unmount(dir, false); !errors.Is(err, unix.EINVAL) {
		t.Errorf("unmount of a directory that is no mount point: %v, want EINVAL", err)
	}
}

func TestBindMountReadOnlyIsRemounted(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	src, dir := t.TempDir(), t.TempDir()
	if err := Syscall(src, dir, "", ParseOptions("bind,ro")); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, 0)
	m, ok := mountedAt(t, dir)
	if !ok || !m.ReadOnly() {
		t.Fatalf("bind,ro mount: %+v %v, want a read-only mount", m, ok)
	}
	if f, err := os.Create(filepath.Join(dir, "x")); err == nil {
		f.Close()
		t.Error("wrote through a read-only bind mount")
	}
}
