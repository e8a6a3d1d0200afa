package testenv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// A build directory stays while its process holds its lock and goes with
// the next claim after the lock is released, as when the process ends.
func TestClaimBuildDirRemovesOnlyEndedProcessesBuilds(t *testing.T) {
	root := t.TempDir()
	ended := filepath.Join(root, "ended")
	if err := os.MkdirAll(filepath.Join(ended, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ended, "sub", "ocfbox"), []byte("old build"), 0o755); err != nil {
		t.Fatal(err)
	}

	first, firstLock, err := claimBuildDir(root)
	if err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if exists(t, ended) {
		t.Errorf("%s, which no process holds, is still there after a claim", ended)
	}
	second, secondLock, err := claimBuildDir(root)
	if err != nil {
		t.Fatalf("second claim: %v", err)
	}
	defer secondLock.Close()
	if first == second {
		t.Fatalf("two claims got the same directory %s", first)
	}
	if !exists(t, first) {
		t.Fatalf("a claim removed %s while its lock was held", first)
	}

	firstLock.Close()
	third, thirdLock, err := claimBuildDir(root)
	if err != nil {
		t.Fatalf("third claim: %v", err)
	}
	defer thirdLock.Close()
	if exists(t, first) {
		t.Errorf("%s is still there after its lock was released and another claim ran", first)
	}
	for _, dir := range []string{second, third} {
		if !exists(t, dir) {
			t.Errorf("%s was removed while its lock was held", dir)
		}
	}
}

func TestBuildBuildsOncePerProcess(t *testing.T) {
	first := Binary(t)
	if again := Build(t, "."); again != first {
		t.Errorf("second build of the same package is %s, want the first one, %s", again, first)
	}
	fi, err := os.Stat(first)
	if err != nil {
		t.Fatalf("the build is not there: %v", err)
	}
	if fi.Mode()&0o111 == 0 || filepath.Base(first) != "ocfbox" {
		t.Errorf("build %s (mode %v), want an executable named ocfbox", first, fi.Mode())
	}
}
