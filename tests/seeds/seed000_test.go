//go:build umllab

package seeds

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/internal/umlcluster"
)

// Seed 000 (KVM HA on OCFS2, openSUSE): a DLM and o2cb group cloned on
// both nodes, an OCFS2 Filesystem clone of the SAN disk ordered after it,
// loaded with crmsh from the article's own lines (testdata/seed000.crm).
// Changed, and why: the providers (ocf:ocfs2:o2cb and
// ocf:heartbeat:Filesystem become ocfbox's); the device (the lab's shared
// disk /dev/ubdb for the iSCSI path) and the directory (/run/shared, on the
// node's tmpfs, for /shared, which would be the host's); and the
// article's `property stonith-enabled="false"` is left out: Pacemaker's
// controld refuses to start the DLM without fencing, so the lab's fence
// device stays on. A file written on one node is read on the other.
func TestSeed000OCFS2WithDLMAndO2CB(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "crm")
	testenv.RequireTool(t, "mkfs.ocfs2")
	shared := filepath.Join(t.TempDir(), "san.img")
	if err := umlcluster.FormatOCFS2(context.Background(), shared, 256, 2); err != nil {
		t.Fatal(err)
	}
	// New waits its turn for the machine; the scenario's time starts then.
	c := umlcluster.New(t, umlcluster.Config{Nodes: 2, SharedDisk: shared})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := c.WaitOnline(ctx); err != nil {
		c.Diagnose(ctx)
		t.Fatal(err)
	}
	// The agents are installed (holding the OCF root's lock) only once the
	// cluster is up: no resource refers to them before the load below.
	testenv.InstallAgents(t)
	conf, err := os.ReadFile("testdata/seed000.crm")
	if err != nil {
		t.Fatal(err)
	}
	crmFile := filepath.Join(c.Dir(), "seed000.crm") // the nodes see the cluster's directory
	if err := os.WriteFile(crmFile, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	n1, n2 := c.Node(1), c.Node(2)
	// crmsh keeps a history under HOME: the node's tmpfs, not the host's.
	out, errOut, exit, err := n1.RunEnv(ctx, []string{"HOME=/tmp"}, nil, "crm", "configure", "load", "update", crmFile)
	if err != nil || exit != 0 {
		t.Fatalf("crm configure load update: exit %d %v\n%s%s", exit, err, out, errOut)
	}
	both := c.NodeNames()
	began := time.Now()
	if _, err := c.WaitFor(ctx, "the seed's clones running on both nodes", func(s *umlcluster.Status) error {
		for _, id := range []string{"dlm", "o2cb", "ocfs-fs"} {
			if on := s.InRole(id, "Started"); !slices.Equal(on, both) {
				return fmt.Errorf("%s runs on %v; failures %v", id, on, s.Failures)
			}
		}
		return nil
	}); err != nil {
		c.Diagnose(ctx)
		t.Fatal(err)
	}
	t.Logf("dlm, o2cb and ocfs-fs running on %v %s after the configuration was loaded", both, time.Since(began).Round(100*time.Millisecond))
	for _, n := range c.Nodes() {
		if _, _, err := n.WaitFile(ctx, "/proc/mounts", " /run/shared ocfs2 ", 100*time.Millisecond); err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
	}
	data := []byte(fmt.Sprintf("written on %s at %s\n", n1.Name, time.Now().Format(time.RFC3339Nano)))
	if _, errOut, exit, err := n1.RunEnv(ctx, nil, data, "tee", "/run/shared/seed000.txt"); err != nil || exit != 0 {
		t.Fatalf("write on %s: exit %d %v %s", n1.Name, exit, err, errOut)
	}
	if _, _, exit, err := n1.Run(ctx, "sync"); err != nil || exit != 0 {
		t.Fatalf("sync on %s: %d %v", n1.Name, exit, err)
	}
	got, err := n2.Output(ctx, "cat", "/run/shared/seed000.txt")
	if err != nil || got != string(data) {
		t.Fatalf("read on %s: %q %v, want %q", n2.Name, got, err, data)
	}
	if st, err := n2.Output(ctx, "cat", "/sys/fs/ocfs2/cluster_stack"); err != nil || strings.TrimSpace(st) != "pcmk" {
		t.Errorf("%s: cluster_stack %q %v, want pcmk", n2.Name, st, err)
	}
	// ocf-tester on ocfbox's o2cb, where it can run (tests/conformance
	// leaves it to this test): a resource of another name on a node
	// ready for OCFS2.
	out, errOut, exit, err = n2.RunEnv(ctx, []string{"HOME=/tmp"}, nil, "ocf-tester", "-n", "o2cb-conformance",
		filepath.Join(testenv.OCFProviderDir, "o2cb"))
	if err != nil || exit != 0 || !strings.Contains(string(out), "passed all tests") {
		t.Errorf("ocf-tester on o2cb in %s: exit %d %v\n%s%s", n2.Name, exit, err, out, errOut)
	}
}
