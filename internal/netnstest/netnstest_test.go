package netnstest_test

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/ocfbox/ocfbox/internal/netnstest"
	"github.com/ocfbox/ocfbox/internal/testenv"
)

func linkNames(t *testing.T, ns *netnstest.Namespace) []string {
	t.Helper()
	var names []string
	err := ns.Do(func() error {
		links, err := netlink.LinkList()
		for _, l := range links {
			names = append(names, l.Attrs().Name)
		}
		return err
	})
	if err != nil {
		t.Fatalf("list links in %s: %v", ns.Name, err)
	}
	slices.Sort(names)
	return names
}

func TestNewNamespaceHasOnlyLoopbackUp(t *testing.T) {
	testenv.RequireRoot(t)
	ns := netnstest.New(t)
	if got := linkNames(t, ns); !slices.Equal(got, []string{"lo"}) {
		t.Fatalf("links in a fresh namespace = %v, want only [lo]", got)
	}
	err := ns.Do(func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if lo.Attrs().Flags&(1<<0) == 0 {
			return errors.New("lo is not up")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVethJoinsTwoNamespacesAndStaysOffTheHost(t *testing.T) {
	testenv.RequireRoot(t)
	node, peer := netnstest.New(t), netnstest.New(t)
	node.Veth(t, "ntest0", peer, "ntest1")
	if got := linkNames(t, node); !slices.Equal(got, []string{"lo", "ntest0"}) {
		t.Errorf("links in node = %v, want [lo ntest0]", got)
	}
	if got := linkNames(t, peer); !slices.Equal(got, []string{"lo", "ntest1"}) {
		t.Errorf("links in peer = %v, want [lo ntest1]", got)
	}
	if _, err := netlink.LinkByName("ntest0"); err == nil {
		t.Errorf("ntest0 is visible in the test process's own namespace; it must exist only in %s", node.Name)
	}
}

func TestProgramsRunInsideTheNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	ns := netnstest.New(t)
	mine, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	got := ns.MustRun(t, "readlink", "/proc/self/ns/net")
	if got == mine+"\n" || got == "" {
		t.Fatalf("readlink run through the namespace reports %q, the test's own namespace is %q", got, mine)
	}
}

func TestCleanupKillsProcessesLeftInside(t *testing.T) {
	testenv.RequireRoot(t)
	var pid int
	var name string
	t.Run("inner", func(t *testing.T) {
		ns := netnstest.New(t)
		name = ns.Name
		cmd := exec.Command("sleep", "60")
		if err := ns.Start(cmd); err != nil {
			t.Fatal(err)
		}
		pid = cmd.Process.Pid
		go cmd.Wait()
		pids, err := ns.Processes()
		if err != nil || !slices.Contains(pids, pid) {
			t.Fatalf("Processes() = %v, %v; want it to contain the sleep %d", pids, err, pid)
		}
	})
	if _, err := os.Stat(netnstest.Dir + "/" + name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %s still exists after cleanup (stat: %v)", name, err)
	}
	if alive(pid) {
		t.Errorf("process %d started inside the namespace survived cleanup", pid)
	}
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}
