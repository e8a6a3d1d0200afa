package agenttest

import (
	"os"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

func TestSandboxWithNetnsRunsCommandsInAFreshNamespaceWithOnlyLoopback(t *testing.T) {
	testenv.RequireRoot(t)
	sb := NewSandbox(t, true)
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}

	out, err := RunCommand(sb.Command(Context(t), "readlink", "/proc/self/ns/net"))
	if err != nil {
		t.Fatal(err)
	}
	if inside := strings.TrimSpace(out.Stdout); inside == host || inside == "" {
		t.Errorf("command ran in network namespace %q, want a namespace other than the host's %q", inside, host)
	}

	out, err = RunCommand(sb.Command(Context(t), "ip", "-o", "link", "show"))
	if err != nil {
		t.Fatal(err)
	}
	links := strings.Split(strings.TrimSpace(out.Stdout), "\n")
	if len(links) != 1 || !strings.Contains(links[0], ": lo: ") || !strings.Contains(links[0], "UP") {
		t.Errorf("links in the sandbox's namespace:\n%s\nwant only lo, up", out.Stdout)
	}
}

func TestSandboxWithoutNetnsRunsCommandsInTheTestsNamespace(t *testing.T) {
	sb := NewSandbox(t, false)
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	out, err := RunCommand(sb.Command(Context(t), "readlink", "/proc/self/ns/net"))
	if err != nil {
		t.Fatal(err)
	}
	if inside := strings.TrimSpace(out.Stdout); inside != host {
		t.Errorf("command ran in network namespace %q, want the test's own %q", inside, host)
	}
}

func TestExpandNamesTheSandboxesOwnFiles(t *testing.T) {
	sb := &Sandbox{Dir: "/tmp/sb"}
	tests := []struct{ in, want string }{
		{"$DIR/state", "/tmp/sb/state"},
		{"$RSCTMP/Dummy-d1.state", "/tmp/sb/rsctmp/Dummy-d1.state"},
		{"${VARRUN}/Stateful-s.state", "/tmp/sb/varrun/Stateful-s.state"},
		{"/nonexistent/$OTHER", "/nonexistent/$OTHER"},
	}
	for _, tt := range tests {
		if got := sb.Expand(tt.in); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
