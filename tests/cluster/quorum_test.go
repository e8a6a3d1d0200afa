package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/tests/cluster"
)

// dummyState is where the quorum test's Dummy resources keep their state
// file, given explicitly so the test can look at it.
func dummyState(id string) string { return "/run/resource-agents/ocfbxcl-" + id + ".state" }

// runningByStateFile lists, per resource, the booted nodes holding its
// Dummy state file: where the agent really runs, whatever any node
// believes.
func runningByStateFile(c *cluster.Cluster, ids []string) (map[string][]string, error) {
	running := map[string][]string{}
	for _, n := range c.Nodes {
		if !n.Ready() {
			continue
		}
		for _, id := range ids {
			_, err := os.Stat(n.Path(dummyState(id)))
			switch {
			case err == nil:
				running[id] = append(running[id], n.Name)
			case !errors.Is(err, os.ErrNotExist):
				return nil, err
			}
		}
	}
	return running, nil
}

// TestQuorumLossAndReturn: with no-quorum-policy=stop, the last node of
// three stops its resources when the other two die; when they come back,
// every resource runs again, and at no moment in between does any view of
// any node, nor the agents' own state, show a resource on two nodes.
func TestQuorumLossAndReturn(t *testing.T) {
	c := cluster.StartT(t, cluster.Options{Properties: map[string]string{"no-quorum-policy": "stop"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	ids := []string{"d1", "d2", "d3"}
	for _, id := range ids {
		p := cluster.Primitive{ID: id, Agent: "ocf:ocfbox:Dummy", Params: map[string]string{"state": dummyState(id)},
			Ops: []cluster.OpSpec{{Name: "monitor", Interval: "5s", Timeout: "20s"}}}
		if err := c.Configure(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	allOnce := func(s *cluster.Status) error {
		if err := cluster.NoFailures(s); err != nil {
			return err
		}
		for _, id := range ids {
			if on, started := s.ActiveOn(id), s.StartedOn(id); len(on) != 1 || len(started) != 1 {
				return fmt.Errorf("%s active on %v, started on %v, want one node", id, on, started)
			}
		}
		return nil
	}
	s, err := c.WaitFor(ctx, 60*time.Second, "d1, d2, d3 started", allOnce)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("before: %s", s.Placement())

	survivor, gone := c.Nodes[0], c.Nodes[1:]
	for _, n := range gone {
		if _, err := n.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	s, err = survivor.WaitFor(ctx, 60*time.Second, survivor.Name+" without quorum, its resources stopped", func(s *cluster.Status) error {
		if s.Quorum {
			return errors.New("still has quorum")
		}
		for _, id := range ids {
			if on := s.ActiveOn(id); len(on) > 0 {
				return fmt.Errorf("%s still active on %v", id, on)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s alone: %s", survivor.Name, s.Placement())
	running, err := runningByStateFile(c, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(running) > 0 {
		t.Fatalf("without quorum, state files still on %v", running)
	}

	// The two nodes come back while every poll checks every view.
	var wg sync.WaitGroup
	bootErrs := make([]error, len(gone))
	for i, n := range gone {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bootErrs[i] = n.Boot(ctx)
		}()
	}
	defer wg.Wait()
	views, stable := 0, 0
	deadline := time.Now().Add(120 * time.Second)
	for stable < 3 {
		if time.Now().After(deadline) {
			s, _ := c.Status(ctx)
			t.Fatalf("after 120s the cluster has not recovered; last view: %+v", s)
		}
		time.Sleep(300 * time.Millisecond)
		if err := errors.Join(bootErrs...); err != nil {
			t.Fatal(err)
		}
		done := true
		for _, n := range c.Nodes {
			if !n.Ready() {
				done = false
				continue
			}
			s, err := n.Status(ctx)
			if err != nil {
				done = false // Pacemaker not answering yet
				continue
			}
			views++
			for _, id := range ids {
				if on := s.ActiveOn(id); len(on) > 1 {
					t.Errorf("%s active on %v at once (view of %s)", id, on, n.Name)
				}
			}
			if cluster.AllOnline(c.NodeNames()...)(s) != nil || allOnce(s) != nil {
				done = false
			}
		}
		running, err := runningByStateFile(c, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if len(running[id]) > 1 {
				t.Errorf("%s has state files on %v at once", id, running[id])
			}
			if len(running[id]) != 1 {
				done = false
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		if done {
			stable++
		} else {
			stable = 0
		}
	}
	s, err = c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recovered after checking %d views: %s", views, s.Placement())
}
