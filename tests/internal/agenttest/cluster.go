package agenttest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	fakeOnce sync.Once
	fakePath string
	fakeErr  error
)

// FakeCRMAttribute builds the stand-in crm_attribute (tests/internal/fakecrm)
// once per test process and returns its path.
func FakeCRMAttribute(t testing.TB) string {
	t.Helper()
	fakeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ocfbox-fakecrm-")
		if err != nil {
			fakeErr = err
			return
		}
		fakePath = filepath.Join(dir, "crm_attribute")
		cmd := exec.Command("go", "build", "-trimpath", "-o", fakePath, "./tests/internal/fakecrm")
		cmd.Dir = ModuleRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fakeErr = fmt.Errorf("go build ./tests/internal/fakecrm: %w\n%s", err, out)
		}
	})
	if fakeErr != nil {
		t.Fatalf("fake crm_attribute: %v", fakeErr)
	}
	return fakePath
}

// FakeSbin puts a copy of the stand-in crm_attribute in its own directory
// of the sandbox and returns that directory, to be the agent's
// HA_SBIN_DIR. Each sandbox gets its own copy because the fake keeps its
// scores next to itself.
func FakeSbin(t testing.TB, sb *Sandbox) string {
	t.Helper()
	dir := sb.Path("sbin")
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		t.Fatalf("fake sbin: %v", err)
	}
	if err := copyFile(FakeCRMAttribute(t), filepath.Join(dir, "crm_attribute"), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		t.Fatalf("fake sbin: %v", err)
	}
	return dir
}

// PromotionScore is the score the fake crm_attribute in sbinDir holds for
// instance; ok is false when none is set.
func PromotionScore(t testing.TB, sbinDir, instance string) (score string, ok bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sbinDir, "master-"+instance))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatalf("promotion score: %v", err)
	}
	return strings.TrimSpace(string(b)), true
}

// LocalNodeID is the id of the local node in the CIB that NewCIB writes.
const LocalNodeID = "1"

// NewCIB writes an empty CIB (cibadmin --empty) to path with the local
// host as node LocalNodeID and its node_state in the status section, which
// is what crm_attribute needs to set a transient (promotion) attribute in
// a CIB file without a running cluster. Run Pacemaker's tools against it
// with CIB_file=path in their environment.
func NewCIB(t testing.TB, path string) {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatalf("CIB: %v", err)
	}
	env := []string{Path, "LC_ALL=C", "CIB_file=" + path}
	run := func(argv ...string) string {
		cmd := Command(Context(t), argv...)
		cmd.Env = env
		out, err := RunCommand(cmd)
		if err == nil && out.ExitCode != 0 {
			err = fmt.Errorf("%s: exit status %d: %s", strings.Join(argv, " "), out.ExitCode, out.Combined())
		}
		if err != nil {
			t.Fatalf("CIB: %v", err)
		}
		return out.Stdout
	}
	if err := os.WriteFile(path, []byte(run("cibadmin", "--empty")), 0o600); err != nil {
		t.Fatalf("CIB: %v", err)
	}
	run("cibadmin", "--create", "-o", "nodes", "--xml-text",
		fmt.Sprintf(`<node id=%q uname=%q/>`, LocalNodeID, host))
	run("cibadmin", "--create", "-o", "status", "--xml-text",
		fmt.Sprintf(`<node_state id=%q uname=%q/>`, LocalNodeID, host))
}
