package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// A build of one package, made at most once per test process.
type build struct {
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}
)

// Build builds the module's main package pkg (a path from the module's
// root: "." or "./internal/fakecrm/cmd/fakecrm") once per test process,
// statically as `make` does, and returns the program's path. The program
// is named after the package's directory, ocfbox for the module's root.
//
// All of a process's builds are in one directory of its own, which the
// first build of a later test process removes once this one has ended, so
// only running test processes leave builds behind.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	if Emulator() != "" {
		unavailable(t, "builds %s for the host", pkg)
	}
	buildsMu.Lock()
	b, ok := builds[pkg]
	if !ok {
		b = new(build)
		builds[pkg] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.path, b.err = goBuild(pkg) })
	if b.err != nil {
		t.Fatalf("build %s: %v", pkg, b.err)
	}
	return b.path
}

// Binary builds the ocfbox binary once per test process and returns its
// path.
func Binary(t testing.TB) string {
	t.Helper()
	return Build(t, ".")
}

func goBuild(pkg string) (string, error) {
	dir, err := processBuildDir()
	if err != nil {
		return "", fmt.Errorf("build directory: %w", err)
	}
	name := path.Base(pkg)
	if pkg == "." {
		name = "ocfbox"
	}
	out := filepath.Join(dir, pkg, name)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// processLock is the lock on this process's build directory, held as long
// as the process lives: the variable keeps the file from being garbage
// collected, which would close it and release the lock.
var processLock *os.File

// processBuildDir is this test process's build directory, in one shared
// by all test processes of the user.
var processBuildDir = sync.OnceValues(func() (string, error) {
	root := filepath.Join(os.TempDir(), fmt.Sprintf("ocfbox-test-builds-%d", os.Getuid()))
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	dir, l, err := claimBuildDir(root)
	processLock = l
	return dir, err
})

// claimBuildDir creates a directory in root and takes a lock on it, which
// is held until the returned file is closed (or the process ends). It
// first removes the directories in root that nobody holds a lock on: the
// builds of test processes that have ended. A lock, unlike a process id,
// means the same in every pid namespace (tests/cluster runs test binaries
// in their own).
func claimBuildDir(root string) (string, *os.File, error) {
	// Removing and creating are one step under the lock on root, so that
	// no process removes a directory that another has created but not
	// locked yet.
	rootLock, err := lock(root, syscall.LOCK_EX)
	if err != nil {
		return "", nil, err
	}
	defer rootLock.Close()
	entries, err := os.ReadDir(root)
	if err != nil {
		return "", nil, err
	}
	for _, e := range entries {
		old := filepath.Join(root, e.Name())
		if f, err := lock(old, syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			os.RemoveAll(old)
			f.Close()
		}
	}
	dir, err := os.MkdirTemp(root, "")
	if err != nil {
		return "", nil, err
	}
	l, err := lock(dir, syscall.LOCK_EX|syscall.LOCK_NB)
	return dir, l, err
}

// lock opens path (a file or a directory) and takes a flock on it.
func lock(path string, how int) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
