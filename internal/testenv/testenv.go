// Package testenv is what tests need from the machine they run on. It
// decides whether a test that needs root or an installed program can run
// here: outside CI such a test skips and says why; in CI
// (OCFBOX_REQUIRE_ALL=1) a missing requirement fails the test instead, so
// a green CI run never hides a test that did not run. It also builds the
// module's programs (the ocfbox binary, test fakes) once per test process
// for tests that must run them as programs, and installs the agents where
// Pacemaker looks for them.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireAll reports whether CI asked for every test to run.
func RequireAll() bool { return os.Getenv("OCFBOX_REQUIRE_ALL") == "1" }

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if RequireAll() {
		t.Fatalf("OCFBOX_REQUIRE_ALL=1 but "+format, args...)
	}
	t.Skipf("skipped: "+format, args...)
}

// RequireRoot skips (or in CI fails) a test that needs root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "test needs root")
	}
}

// RequireTool skips (or in CI fails) a test when a program is not
// installed, and returns its path.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		unavailable(t, "%s is not installed", name)
	}
	return p
}

// RequireFile skips (or in CI fails) a test when a file (a reference
// agent, a DTD) is not installed.
func RequireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		unavailable(t, "%s is not installed", path)
	}
}
