package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// OCFProviderDir is where Pacemaker looks for the ocfbox agents; its
// search path is compiled in, so tests that go through crm_resource or
// pacemaker-execd must put the agents there.
const OCFProviderDir = "/usr/lib/ocf/resource.d/ocfbox"

// LockOCFRoot serialises tests that change /usr/lib/ocf/resource.d/ocfbox
// (go test runs packages in parallel). The lock is released at cleanup.
func LockOCFRoot(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	f, err := os.OpenFile("/run/ocfbox-test-ocfroot.lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatalf("open OCF root lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("take OCF root lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })
}

// InstallAgents makes the freshly built ocfbox binary the provider
// "ocfbox" for the duration of the test, as `ocfbox install` does, and
// puts back whatever was there before at cleanup. It returns the binary.
func InstallAgents(t testing.TB) string {
	t.Helper()
	LockOCFRoot(t)
	bin := Binary(t)
	saved := OCFProviderDir + ".saved-by-test"
	if _, err := os.Lstat(OCFProviderDir); err == nil {
		if err := os.Rename(OCFProviderDir, saved); err != nil {
			t.Fatalf("set aside %s: %v", OCFProviderDir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat %s: %v", OCFProviderDir, err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(OCFProviderDir); err != nil {
			t.Errorf("remove test provider %s: %v", OCFProviderDir, err)
		}
		if _, err := os.Lstat(saved); err == nil {
			if err := os.Rename(saved, OCFProviderDir); err != nil {
				t.Errorf("restore %s: %v", OCFProviderDir, err)
			}
		}
	})
	out, err := exec.Command(bin, "install", "--root", "/", "--target", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("ocfbox install: %v\n%s", err, out)
	}
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatalf("make %s reachable for other users: %v", filepath.Dir(bin), err)
	}
	return bin
}
