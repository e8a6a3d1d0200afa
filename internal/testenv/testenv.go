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
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireAll reports whether CI asked for every test to run.
func RequireAll() bool { return os.Getenv("OCFBOX_REQUIRE_ALL") == "1" }

// Emulator is the user-mode emulator (qemu-<arch>-static) running this
// test binary, built for another architecture by `make crosstest`, or ""
// on the host's own. Emulated, only the unit tests run: a test that needs
// root, an installed program or file, or a build of the module's
// programs skips, even under OCFBOX_REQUIRE_ALL=1, because those tests
// are about the host's kernel and programs, which the host's own run
// covers.
func Emulator() string { return os.Getenv("OCFBOX_EMULATOR") }

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if Emulator() != "" {
		t.Skipf("skipped under %s (unit tests only): "+format, append([]any{Emulator()}, args...)...)
	}
	if RequireAll() {
		t.Fatalf("OCFBOX_REQUIRE_ALL=1 but "+format, args...)
	}
	t.Skipf("skipped: "+format, args...)
}

// RequireRoot skips (or in CI fails) a test that needs root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 || Emulator() != "" {
		unavailable(t, "test needs root")
	}
}

// RequireTool skips (or in CI fails) a test when a program is not
// installed, and returns its path.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil || Emulator() != "" {
		unavailable(t, "%s is not installed", name)
	}
	return p
}

// RequireFile skips (or in CI fails) a test when a file (a reference
// agent, a DTD) is not installed.
func RequireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil || Emulator() != "" {
		unavailable(t, "%s is not installed", path)
	}
}

// InstallSelf makes path a program that runs this test binary with path
// as its argv[0], for tests whose helper programs are the test binary
// under another name: a symbolic link, or under an emulator (the kernel
// cannot run the binary itself) a script that runs it through the
// emulator.
func InstallSelf(t testing.TB, path string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("find the test binary: %v", err)
	}
	if Emulator() == "" {
		if err := os.Symlink(self, path); err != nil {
			t.Fatalf("install %s: %v", path, err)
		}
		return
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s -0 \"$0\" %s \"$@\"\n", shellQuote(Emulator()), shellQuote(self))
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatalf("install %s: %v", path, err)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
