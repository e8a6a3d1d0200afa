//go:build umllab

package seeds

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/internal/umlcluster"
)

// The OCFS2 power cut, for each Filesystem agent in the same lab: a DLM
// clone (ocf:pacemaker:controld) and a Filesystem clone of an OCFS2 volume
// on the shared disk, mounted on both nodes, fencing on. Node 1 appends to
// a file and node 2 reads it and writes its own in a loop; node 1's power
// is cut; node 2 keeps the volume (the clone still runs there, the
// journal of node 1 is replayed) and its I/O flows again once the fence
// is confirmed. The figure is kill → the end of node 2's longest blocked
// I/O round.
func TestOCFS2PowerCutOCFBoxFilesystem(t *testing.T) {
	ocfs2PowerCut(t, "ocf:ocfbox:Filesystem")
}

func TestOCFS2PowerCutReferenceFilesystem(t *testing.T) {
	ocfs2PowerCut(t, "ocf:heartbeat:Filesystem")
}

func ocfs2PowerCut(t *testing.T, agent string) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "mkfs.ocfs2")
	shared := filepath.Join(t.TempDir(), "shared.img")
	if err := umlcluster.FormatOCFS2(context.Background(), shared, 256, 2); err != nil {
		t.Fatal(err)
	}
	const dir = "/run/ocfs2shared"
	dlm := umlcluster.Primitive("p_dlm", "ocf:pacemaker:controld", nil,
		umlcluster.Op{Name: "monitor", Interval: "30s", Timeout: "60s"}, umlcluster.Op{Name: "start", Timeout: "90s"}, umlcluster.Op{Name: "stop", Timeout: "100s"})
	fs := umlcluster.Primitive("p_fs", agent, map[string]string{"device": "/dev/ubdb", "directory": dir, "fstype": "ocfs2"},
		umlcluster.Op{Name: "monitor", Interval: "20s", Timeout: "60s"}, umlcluster.Op{Name: "start", Timeout: "90s"}, umlcluster.Op{Name: "stop", Timeout: "90s"})
	// The resources are created once the cluster is up and the agents are
	// installed, so the OCF root's lock is not held while New waits its
	// turn for the machine.
	c := umlcluster.New(t, umlcluster.Config{Nodes: 2, SharedDisk: shared, Properties: map[string]string{"no-quorum-policy": "freeze"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := c.WaitOnline(ctx); err != nil {
		c.Diagnose(ctx)
		t.Fatal(err)
	}
	if strings.Contains(agent, ":ocfbox:") {
		testenv.InstallAgents(t)
	}
	for _, x := range []struct{ section, xml string }{
		{"resources", umlcluster.Clone("cl_dlm", map[string]string{"interleave": "true"}, dlm)},
		{"resources", umlcluster.Clone("cl_fs", map[string]string{"interleave": "true"}, fs)},
		{"constraints", umlcluster.Colocation("col_fs_dlm", "cl_fs", "cl_dlm", "")},
		{"constraints", umlcluster.Order("ord_dlm_fs", "cl_dlm", "start", "cl_fs", "start")},
	} {
		if out, err := c.Node(1).Output(ctx, "cibadmin", "--create", "-o", x.section, "--xml-text", x.xml); err != nil {
			t.Fatalf("cibadmin --create: %v %s", err, out)
		}
	}
	both := c.NodeNames()
	if _, err := c.WaitFor(ctx, "p_fs on both nodes", func(s *umlcluster.Status) error {
		if on := s.InRole("p_fs", "Started"); !slices.Equal(on, both) {
			return fmt.Errorf("p_fs runs on %v; failures %v", on, s.Failures)
		}
		return nil
	}); err != nil {
		c.Diagnose(ctx)
		t.Fatal(err)
	}
	n1, n2 := c.Node(1), c.Node(2)
	busy := dir + "/busy-" + n1.Name
	vctx, vcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); n1.IOProbe(vctx, dir, "", busy, 10*time.Minute) }()
	type result struct {
		ops []umlcluster.IOOp
		err error
	}
	done := make(chan result, 1)
	go func() {
		ops, err := n2.IOProbe(ctx, dir, busy, dir+"/probe-"+n2.Name, 3*time.Minute)
		done <- result{ops, err}
	}()
	time.Sleep(3 * time.Second)
	killed, err := n1.PowerCut()
	vcancel()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("I/O probe on %s: %v", n2.Name, r.err)
	}
	var worst *umlcluster.IOOp
	for i := range r.ops {
		op := &r.ops[i]
		if op.End.After(killed) && op.Err != "" {
			t.Fatalf("I/O on %s failed after the power cut: %s", n2.Name, op.Err)
		}
		if op.End.After(killed) && (worst == nil || op.Duration() > worst.Duration()) {
			worst = op
		}
	}
	if worst == nil {
		t.Fatalf("no I/O round on %s ended after the power cut", n2.Name)
	}
	fenced := time.Duration(0)
	for _, ev := range c.FenceEvents() {
		if ev.Node == n1.Name && ev.At.After(killed) {
			fenced = ev.At.Sub(killed)
			break
		}
	}
	// The survivor keeps the volume: still mounted, the clone still runs
	// there, and the dead node's journal was replayed.
	if _, _, err := n2.WaitFile(ctx, "/proc/mounts", " "+dir+" ocfs2 ", 100*time.Millisecond); err != nil {
		t.Errorf("%s lost the volume: %v", n2.Name, err)
	}
	if s, err := n2.Status(ctx); err != nil || !slices.Contains(s.InRole("p_fs", "Started"), n2.Name) {
		t.Errorf("p_fs no longer runs on %s after the power cut (%v)", n2.Name, err)
	}
	replayed, _ := n2.Output(ctx, "dmesg")
	if !strings.Contains(replayed, "replay journal") {
		t.Errorf("%s's kernel log shows no journal replay of %s", n2.Name, n1.Name)
	}
	t.Logf("FIGURE %s OCFS2 power cut of %s: %s's I/O blocked %d ms, flowing again %d ms after the kill, fence requested after %d ms (%d rounds)",
		agent, n1.Name, n2.Name, worst.Duration().Milliseconds(), worst.End.Sub(killed).Milliseconds(), fenced.Milliseconds(), len(r.ops))
}
