package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// mountNSMarker is set in the environment of a test process that runs in
// the private mount namespace RunInPrivateMountNamespace made for it.
const mountNSMarker = "OCFBOX_TEST_PRIVATE_MOUNTNS"

// RunInPrivateMountNamespace is a TestMain for packages whose tests
// mount: as root, it runs the test binary again (same arguments) inside
// a mount namespace of its own with private propagation (unshare(1)), so
// that nothing those tests mount, nor anything the programs they start
// mount, is ever seen by the host, and everything is unmounted when the
// tests end, even after a crash. As another user, or when unshare is
// missing, the tests run as they are; those that mount skip (or fail in
// CI) through RequireRoot and RequireTool.
func RunInPrivateMountNamespace(m *testing.M) {
	if os.Getenv(mountNSMarker) == "1" || os.Geteuid() != 0 || Emulator() != "" {
		os.Exit(m.Run())
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv: unshare is not installed; running the tests in the host's mount namespace, those that mount will skip")
		os.Setenv(mountNSMarker, "no-unshare")
		os.Exit(m.Run())
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
	cmd := exec.Command(unshare, append([]string{"--mount", "--propagation", "private", exe}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), mountNSMarker+"=1")
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "testenv: run the tests in a private mount namespace:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// RequirePrivateMountNamespace skips (or in CI fails) a test that mounts
// unless it runs in the private mount namespace of
// RunInPrivateMountNamespace (and so as root).
func RequirePrivateMountNamespace(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	if os.Getenv(mountNSMarker) != "1" {
		unavailable(t, "test mounts file systems and needs the private mount namespace of testenv.RunInPrivateMountNamespace (unshare)")
	}
}
