package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/tests/cluster"
)

// TestFailoverFigures measures failover of ocfbox's Dummy and Stateful
// next to the reference ocf:heartbeat:Dummy and ocf:pacemaker:Stateful,
// in one cluster with the same settings: all four run on the same node
// (not the DC, so no election is in the figures), which is killed; each
// recovers on a survivor. Three rounds: the node comes back, the four
// return to it (location preference), and it is killed again. The
// figures come from the cluster's operation history (last-rc-change,
// exec-time) and are reported, not asserted, except against the bound the
// test waits anyway.
func TestFailoverFigures(t *testing.T) {
	c := cluster.StartT(t, cluster.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	s, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var target string
	for _, n := range c.Nodes {
		if n.Name != s.DC {
			target = n.Name
			break
		}
	}

	type subject struct {
		id, agent string
		clone     bool
	}
	subjects := []subject{
		{"od", "ocf:ocfbox:Dummy", false},
		{"hd", "ocf:heartbeat:Dummy", false},
		{"os", "ocf:ocfbox:Stateful", true},
		{"ps", "ocf:pacemaker:Stateful", true},
	}
	for _, sj := range subjects {
		var objs []cluster.CIBObject
		if sj.clone {
			objs = append(objs,
				promotable(sj.id+"-clone", sj.id, sj.agent, nil),
				cluster.Location{ID: sj.id + "-on-" + target, Resource: sj.id + "-clone", Node: target, Score: "100", Role: "Promoted"})
		} else {
			objs = append(objs,
				cluster.Primitive{ID: sj.id, Agent: sj.agent, Ops: monitor5s},
				cluster.Location{ID: sj.id + "-on-" + target, Resource: sj.id, Node: target, Score: "100"})
		}
		if err := c.Configure(ctx, objs...); err != nil {
			t.Fatal(err)
		}
	}
	// on holds when every subject runs (primitives) or is promoted (clones)
	// on a node accepted by where, and nowhere twice.
	on := func(where func(string) bool, desc string) cluster.Condition {
		return func(s *cluster.Status) error {
			if err := cluster.NoFailures(s); err != nil {
				return err
			}
			for _, sj := range subjects {
				nodes := s.StartedOn(sj.id)
				if sj.clone {
					if err := onePromoted(sj.id, len(s.Online))(s); err != nil {
						return err
					}
					nodes = s.PromotedOn(sj.id)
				} else if len(s.ActiveOn(sj.id)) != 1 {
					return fmt.Errorf("%s active on %v", sj.id, s.ActiveOn(sj.id))
				}
				if len(nodes) != 1 || !where(nodes[0]) {
					return fmt.Errorf("%s on %v, want it %s", sj.id, nodes, desc)
				}
			}
			return nil
		}
	}
	onTarget := on(func(n string) bool { return n == target }, "on "+target)
	onSurvivor := on(func(n string) bool { return n != target }, "on a survivor")
	const rounds = 3
	start := time.Now()
	for round := 1; round <= rounds; round++ {
		if round > 1 {
			if err := c.Node(target).Boot(ctx); err != nil {
				t.Fatal(err)
			}
		}
		s, err = c.WaitFor(ctx, 90*time.Second, "all four on "+target, onTarget)
		if err != nil {
			t.Fatal(err)
		}
		if s.DC == target {
			t.Fatalf("%s became the DC; the figures are for a node that is not", target)
		}
		t.Logf("round %d (at %.0fs), before: %s", round, time.Since(start).Seconds(), s.Placement())

		killed, err := c.Node(target).Kill()
		if err != nil {
			t.Fatal(err)
		}
		s, err = c.WaitFor(ctx, 60*time.Second, "all four recovered on survivors", onSurvivor)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d (at %.0fs), after killing %s: %s", round, time.Since(start).Seconds(), target, s.Placement())

		var rs []cluster.Recovery
		for _, sj := range subjects {
			node, ops := s.StartedOn(sj.id)[0], []string{"start", "monitor"}
			if sj.clone {
				node, ops = s.PromotedOn(sj.id)[0], []string{"promote", "monitor"}
			}
			rs = append(rs, recovered(ctx, t, c, sj.id, sj.agent, node, killed, 60*time.Second, ops...))
		}
		t.Logf("round %d/%d: failover after killing %s (DC %s), token 1000 ms, stonith disabled:\n%s",
			round, rounds, target, s.DC, cluster.RecoveryTable(rs))
	}
}

// recovered waits for rsc's recovery on node after the kill at killed
// (ops as for Cluster.WaitRecovery) and fails the test unless it
// recovered with agent (any when "") within waited, the time the test
// waited for it to be healthy on a survivor.
func recovered(ctx context.Context, t *testing.T, c *cluster.Cluster, rsc, agent, node string, killed time.Time, waited time.Duration, ops ...string) cluster.Recovery {
	t.Helper()
	r, err := c.WaitRecovery(ctx, 30*time.Second, rsc, node, killed, ops...)
	if err != nil {
		t.Fatal(err)
	}
	if agent != "" && r.Agent != agent {
		t.Errorf("%s recovered with agent %s, configured %s", rsc, r.Agent, agent)
	}
	if r.Max() > waited {
		t.Errorf("%s took up to %s after the kill, more than the %s the test waits", rsc, r.Max(), waited)
	}
	return r
}
