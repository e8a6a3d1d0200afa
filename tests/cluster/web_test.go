package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/tests/cluster"
)

// vipAddr is the floating address of the web group, on the cluster
// network.
const vipAddr = "192.0.2.50"

var monitor5s = []cluster.OpSpec{{Name: "monitor", Interval: "5s", Timeout: "20s"}}

// webCase is one version of the classic `group web vip www`: which agent
// provides the floating IP and which the web server. Adding a row is all
// it takes to run the scenario with other agents.
type webCase struct {
	name string
	vip  cluster.Primitive // id "vip", holding vipAddr
	www  cluster.Primitive // id "www"
	// setup prepares each node at every boot (a web server's
	// configuration and document root); nil for none.
	setup func(ctx context.Context, n *cluster.Node) error
	// serves checks, from the client, that the service answers on
	// vipAddr from node; nil when www serves nothing (a Dummy).
	serves func(ctx context.Context, c *cluster.Cluster, node string) error
}

func vip(agent string) cluster.Primitive {
	return cluster.Primitive{ID: "vip", Agent: agent,
		Params: map[string]string{"ip": vipAddr, "cidr_netmask": "24", "nic": "eth0"}, Ops: monitor5s}
}

func apache(agent string) cluster.Primitive {
	return cluster.Primitive{ID: "www", Agent: agent, Params: map[string]string{"configfile": cluster.ApacheConfigFile},
		Ops: []cluster.OpSpec{{Name: "start", Interval: "0", Timeout: "40s"}, {Name: "monitor", Interval: "10s", Timeout: "20s"}}}
}

var webCases = []webCase{
	{
		name: "heartbeat-IPaddr2+ocfbox-Dummy",
		vip:  vip("ocf:heartbeat:IPaddr2"),
		www:  cluster.Primitive{ID: "www", Agent: "ocf:ocfbox:Dummy", Ops: monitor5s},
	},
	{
		name: "ocfbox-IPaddr2+ocfbox-Dummy",
		vip:  vip("ocf:ocfbox:IPaddr2"),
		www:  cluster.Primitive{ID: "www", Agent: "ocf:ocfbox:Dummy", Ops: monitor5s},
	},
	{
		name: "heartbeat-IPaddr2+heartbeat-apache", setup: cluster.SetupApache, serves: httpServes,
		vip: vip("ocf:heartbeat:IPaddr2"),
		www: apache("ocf:heartbeat:apache"),
	},
	{
		name: "ocfbox-IPaddr2+ocfbox-apache", setup: cluster.SetupApache, serves: httpServes,
		vip: vip("ocf:ocfbox:IPaddr2"),
		www: apache("ocf:ocfbox:apache"),
	},
}

// httpServes fetches the page through the VIP from the client: the
// page names the node that served it.
func httpServes(ctx context.Context, c *cluster.Cluster, node string) error {
	page, err := c.HTTPGet(ctx, "http://"+vipAddr+"/")
	if err != nil {
		return err
	}
	if want := cluster.ApachePage(node); page != want {
		return fmt.Errorf("http://%s/ says %q, want %q", vipAddr, page, want)
	}
	return nil
}

// TestWebGroup: the group of a floating IP and a web server starts on one
// node, crm_resource --move moves both, and killing every process of
// their node moves both to a survivor; the address answers from the
// client on the right node each time.
func TestWebGroup(t *testing.T) {
	for _, tc := range webCases {
		t.Run(tc.name, func(t *testing.T) { testWebGroup(t, tc) })
	}
}

func testWebGroup(t *testing.T, tc webCase) {
	c := cluster.StartT(t, cluster.Options{NodeSetup: tc.setup})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	group := cluster.Group{ID: "web", Members: []cluster.Primitive{tc.vip, tc.www}}
	if err := c.Configure(ctx, group); err != nil {
		t.Fatal(err)
	}
	together := func(not ...string) cluster.Condition {
		return func(s *cluster.Status) error {
			if err := cluster.NoFailures(s); err != nil {
				return err
			}
			vip, www := s.StartedOn("vip"), s.StartedOn("www")
			if len(vip) != 1 || !slices.Equal(vip, www) || len(s.ActiveOn("vip")) != 1 || len(s.ActiveOn("www")) != 1 {
				return fmt.Errorf("vip on %v, www on %v: want both started on the same one node", s.ActiveOn("vip"), s.ActiveOn("www"))
			}
			if slices.Contains(not, vip[0]) {
				return fmt.Errorf("web still on %s", vip[0])
			}
			return nil
		}
	}

	s, err := c.WaitFor(ctx, 60*time.Second, "web started", together())
	if err != nil {
		t.Fatal(err)
	}
	first := s.StartedOn("vip")[0]
	t.Logf("started: %s", s.Placement())
	checkVIP(ctx, t, c, tc, first)

	target := c.Nodes[0].Name
	if target == first {
		target = c.Nodes[1].Name
	}
	if _, err := c.Run(ctx, "crm_resource", "--move", "--resource", "web", "--node", target); err != nil {
		t.Fatal(err)
	}
	s, err = c.WaitFor(ctx, 60*time.Second, "web moved to "+target, func(s *cluster.Status) error {
		if err := together()(s); err != nil {
			return err
		}
		if on := s.StartedOn("vip")[0]; on != target {
			return fmt.Errorf("web on %s, not %s", on, target)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after crm_resource --move: %s", s.Placement())
	checkVIP(ctx, t, c, tc, target)

	killed, err := c.Node(target).Kill()
	if err != nil {
		t.Fatal(err)
	}
	s, err = c.WaitFor(ctx, 60*time.Second, "web on a survivor after "+target+" died", together(target))
	if err != nil {
		t.Fatal(err)
	}
	survivor := s.StartedOn("vip")[0]
	t.Logf("after killing %s: %s", target, s.Placement())
	checkVIP(ctx, t, c, tc, survivor)

	var rs []cluster.Recovery
	for _, id := range []string{"vip", "www"} {
		rs = append(rs, recovered(ctx, t, c, id, "", survivor, killed, 60*time.Second, "start", "monitor"))
	}
	t.Logf("failover of group web (killed node %s):\n%s", target, cluster.RecoveryTable(rs))
}

// checkVIP checks that vipAddr is configured on node and no other, that
// it answers a ping from the client (bounded retries: the gratuitous ARP
// of a move may take a moment), that the answer came from node's MAC,
// and that the service answers if the case says how to ask.
func checkVIP(ctx context.Context, t *testing.T, c *cluster.Cluster, tc webCase, node string) {
	t.Helper()
	for _, n := range c.Up() {
		addrs, err := n.Addresses(ctx, "eth0")
		if err != nil {
			t.Fatal(err)
		}
		has := slices.ContainsFunc(addrs, func(a string) bool { return strings.HasPrefix(a, vipAddr+"/") })
		if has != (n.Name == node) {
			t.Fatalf("%s has %s: %v, want it only on %s (addresses %v)", n.Name, vipAddr, has, node, addrs)
		}
	}
	var err error
	for range 10 {
		if err = c.Ping(ctx, vipAddr); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("%s does not answer with the VIP on %s: %v", vipAddr, node, err)
	}
	mac, err := c.Node(node).MAC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.ClientNeighbor(ctx, vipAddr); err != nil || got != mac {
		t.Fatalf("the client reaches %s at %q (err %v), want %s's %s", vipAddr, got, err, node, mac)
	}
	if tc.serves != nil {
		if err := tc.serves(ctx, c, node); err != nil {
			t.Fatalf("service through %s on %s: %v", vipAddr, node, err)
		}
	}
}
