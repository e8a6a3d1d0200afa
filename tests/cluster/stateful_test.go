package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/tests/cluster"
)

// promotable is a promotable clone of a Stateful agent with one promoted
// instance, as the DRBD guides configure theirs.
func promotable(cloneID, id, agent string, params map[string]string) cluster.Clone {
	return cluster.Clone{
		ID:   cloneID,
		Meta: map[string]string{"promotable": "true", "promoted-max": "1", "promoted-node-max": "1", "clone-max": "3", "clone-node-max": "1"},
		Primitive: cluster.Primitive{
			ID: id, Agent: agent, Params: params,
			Ops: []cluster.OpSpec{
				{Name: "monitor", Interval: "3s", Timeout: "20s", Role: "Promoted"},
				{Name: "monitor", Interval: "4s", Timeout: "20s", Role: "Unpromoted"},
			},
		},
	}
}

// onePromoted holds when id has exactly one promoted instance and want
// active instances, none of them on a node in not, and no failed action.
func onePromoted(id string, want int, not ...string) cluster.Condition {
	return func(s *cluster.Status) error {
		if err := cluster.NoFailures(s); err != nil {
			return err
		}
		active, started, promoted := s.ActiveOn(id), s.StartedOn(id), s.PromotedOn(id)
		if len(promoted) != 1 {
			return fmt.Errorf("%s promoted on %v, want exactly one node", id, promoted)
		}
		if len(active) != want || len(started) != want {
			return fmt.Errorf("%s active on %v, settled on %v, want %d nodes", id, active, started, want)
		}
		for _, n := range active {
			if slices.Contains(not, n) {
				return fmt.Errorf("%s still active on %s", id, n)
			}
		}
		return nil
	}
}

// neverTwoPromoted wraps a condition: a view with more than one promoted
// instance fails the test at once.
func neverTwoPromoted(t *testing.T, id string, cond cluster.Condition) cluster.Condition {
	return func(s *cluster.Status) error {
		if p := s.PromotedOn(id); len(p) > 1 {
			t.Errorf("%s promoted on %v at once (view of %s)", id, p, s.From)
		}
		return cond(s)
	}
}

// promotedByStateFile lists the nodes whose Stateful state file says
// Promoted: what the agent itself would report, independent of the
// cluster's view.
func promotedByStateFile(c *cluster.Cluster, path string) ([]string, error) {
	var nodes []string
	for _, n := range c.Nodes {
		if !n.Ready() {
			continue
		}
		b, err := os.ReadFile(n.Path(path))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(string(b)) == "Promoted" {
			nodes = append(nodes, n.Name)
		}
	}
	return nodes, nil
}

// TestPromotableStatefulFailover: a promotable clone of ocf:ocfbox:Stateful
// with promoted-max=1 has exactly one promoted instance; when the node of
// the promoted instance dies, another instance is promoted.
func TestPromotableStatefulFailover(t *testing.T) {
	c := cluster.StartT(t, cluster.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const state = "/run/resource-agents/ocfbxcl-st.state"
	if err := c.Configure(ctx, promotable("st-clone", "st", "ocf:ocfbox:Stateful", map[string]string{"state": state})); err != nil {
		t.Fatal(err)
	}
	s, err := c.WaitFor(ctx, 60*time.Second, "st promoted once, active on three nodes", neverTwoPromoted(t, "st", onePromoted("st", 3)))
	if err != nil {
		t.Fatal(err)
	}
	promoted := s.PromotedOn("st")[0]
	t.Logf("st promoted on %s: %s", promoted, s.Placement())
	if files, err := promotedByStateFile(c, state); err != nil || !slices.Equal(files, []string{promoted}) {
		t.Fatalf("state files say promoted on %v (err %v), crm_mon on %s", files, err, promoted)
	}

	killed, err := c.Node(promoted).Kill()
	if err != nil {
		t.Fatal(err)
	}
	s, err = c.WaitFor(ctx, 60*time.Second, "another instance promoted after "+promoted+" died",
		neverTwoPromoted(t, "st", onePromoted("st", 2, promoted)))
	if err != nil {
		t.Fatal(err)
	}
	now := s.PromotedOn("st")[0]
	t.Logf("after killing %s: %s", promoted, s.Placement())
	if files, err := promotedByStateFile(c, state); err != nil || !slices.Equal(files, []string{now}) {
		t.Fatalf("state files say promoted on %v (err %v), crm_mon on %s", files, err, now)
	}
	r := recovered(ctx, t, c, "st", "", now, killed, 60*time.Second, "promote", "monitor")
	t.Logf("failover of the promoted role (killed node %s):\n%s", promoted, cluster.RecoveryTable([]cluster.Recovery{r}))
}
