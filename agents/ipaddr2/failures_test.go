package ipaddr2_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/netnstest"
	"github.com/ocfbox/ocfbox/ocf"
)

// A running address whose interface disappears: a recurring monitor
// reports a failure (Pacemaker recovers it elsewhere), a probe says not
// running, stop succeeds, and start fails on this node only.
func TestInterfaceRemovedUnderARunningResource(t *testing.T) {
	tests := []struct {
		name      string
		params    map[string]string
		wantStart ocf.Status
	}{
		{"interface from the routing table", map[string]string{"ip": "192.0.2.10"}, ocf.ErrGeneric},
		{"explicit nic", map[string]string{"ip": "192.0.2.10", "nic": "va"}, ocf.ErrArgs},
		{"explicit nic and cidr_netmask", map[string]string{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "24"}, ocf.ErrArgs},
		{"IPv6", map[string]string{"ip": "2001:db8::10", "nodad": "true"}, ocf.ErrGeneric},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			agent, p := ocfbox(t), tt.params
			l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
			l.ip(t, "link del va")
			o := l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.ErrGeneric)
			if !strings.Contains(o.reason, "va") && !strings.Contains(o.reason, tt.params["ip"]) {
				t.Errorf("exit reason %q names neither the interface nor the address", o.reason)
			}
			l.expect(t, agent, call{action: "monitor", params: p}, ocf.NotRunning)
			l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
			l.expect(t, agent, call{action: "start", params: p}, tt.wantStart)
		})
	}
}

// A link that goes down under a running address: a recurring monitor
// fails, and so does a probe while the address is still there; once the
// link is back the address is healthy again.
func TestLinkDownUnderARunningResource(t *testing.T) {
	tests := []struct {
		name      string
		params    map[string]string
		down      func(l *lab, t *testing.T)
		up        func(l *lab, t *testing.T)
		wantProbe ocf.Status
	}{
		{"admin down, explicit nic and cidr_netmask", map[string]string{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "24"},
			func(l *lab, t *testing.T) { l.ip(t, "link set va down") }, func(l *lab, t *testing.T) { l.ip(t, "link set va up") }, ocf.ErrGeneric},
		// the kernel drops an admin-down link's routes: only start's
		// record tells where the address is (the reference answers 7)
		{"admin down, interface from the routing table", map[string]string{"ip": "192.0.2.10"},
			func(l *lab, t *testing.T) { l.ip(t, "link set va down") }, func(l *lab, t *testing.T) { l.ip(t, "link set va up") }, ocf.ErrGeneric},
		{"no carrier, interface from the routing table", map[string]string{"ip": "192.0.2.10"},
			func(l *lab, t *testing.T) { l.peer.MustRun(t, "ip", "link", "set", "vb", "down") },
			func(l *lab, t *testing.T) { l.peer.MustRun(t, "ip", "link", "set", "vb", "up") }, ocf.ErrGeneric},
		{"no carrier, explicit nic", map[string]string{"ip": "192.0.2.10", "nic": "va"},
			func(l *lab, t *testing.T) { l.peer.MustRun(t, "ip", "link", "set", "vb", "down") },
			func(l *lab, t *testing.T) { l.peer.MustRun(t, "ip", "link", "set", "vb", "up") }, ocf.ErrGeneric},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			agent, p := ocfbox(t), tt.params
			l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
			tt.down(l, t)
			o := l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.ErrGeneric)
			if !strings.Contains(o.reason, "va") && !strings.Contains(o.reason, "no route to 192.0.2.10") {
				t.Errorf("exit reason %q names neither the interface nor the missing route", o.reason)
			}
			l.expect(t, agent, call{action: "monitor", params: p}, tt.wantProbe)
			tt.up(l, t)
			waitCarrier(t, l)
			l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.Success)
			l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
		})
	}
}

// Pacemaker stops an address whose interface an operator set down. With
// the interface found from the routing table, the down interface has no
// routes left to place the address; stop still removes it from where
// start put it, so that it does not answer again next to the node the
// cluster moved it to once the interface is set up again.
func TestStopAfterTheInterfaceWentDownRemovesTheAddress(t *testing.T) {
	l := newLab(t)
	agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10"}
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	l.ip(t, "link set va down")
	l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
	if out := l.ip(t, "-o addr show dev va"); strings.Contains(out, "192.0.2.10/") {
		t.Fatalf("192.0.2.10 is still on va after a successful stop:\n%s", out)
	}
	l.ip(t, "link set va up")
	if out := l.ip(t, "-o addr show"); strings.Contains(out, "192.0.2.10/") {
		t.Fatalf("192.0.2.10 came back with va:\n%s", out)
	}
	l.expect(t, agent, call{action: "monitor", params: p}, ocf.NotRunning)
	l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
}

// A start on a link without carrier (cable pulled, switch port down)
// fails, so that Pacemaker moves the address to a node that can serve it;
// the stop that follows removes it.
func TestStartWithoutCarrierFails(t *testing.T) {
	for _, p := range []map[string]string{
		{"ip": "192.0.2.10"},
		{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "24"},
	} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			l := newLab(t)
			agent := ocfbox(t)
			l.peer.MustRun(t, "ip", "link", "set", "vb", "down")
			o := l.expect(t, agent, call{action: "start", params: p}, ocf.ErrGeneric)
			if !strings.Contains(o.reason, "va") || !strings.Contains(o.reason, "192.0.2.10") {
				t.Errorf("exit reason %q names neither va nor 192.0.2.10", o.reason)
			}
			l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
			if out := l.ip(t, "-o addr show dev va"); strings.Contains(out, "192.0.2.10/") {
				t.Errorf("192.0.2.10 is still on va after the stop that follows the failed start:\n%s", out)
			}
		})
	}
}

// waitCarrier waits (bounded) until va reports state UP again.
func waitCarrier(t *testing.T, l *lab) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if strings.Contains(l.ip(t, "-o link show va"), "state UP") {
			return
		}
		l.ns.MustRun(t, "sleep", "0.05")
	}
	t.Fatalf("va not up again: %s", l.ip(t, "-o link show va"))
}

// An IPv6 address disappears with its link going down (the kernel flushes
// it); a recurring monitor fails, a probe finds it not running, and start
// brings the link up and adds it again.
func TestIPv6LinkDownFlushesTheAddressAndStartRepairsIt(t *testing.T) {
	l := newLab(t)
	agent, p := ocfbox(t), map[string]string{"ip": "2001:db8::10", "nic": "va", "cidr_netmask": "64", "nodad": "true"}
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	l.ip(t, "link set va down")
	l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.ErrGeneric)
	l.expect(t, agent, call{action: "monitor", params: p}, ocf.NotRunning)
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	if !strings.Contains(l.ip(t, "-o link show va"), "UP") {
		t.Fatalf("start did not set va up: %s", l.ip(t, "-o link show va"))
	}
	waitCarrier(t, l)
	l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.Success)
}

// Like the reference, start sets the interface up when it adds the
// address.
func TestStartSetsTheInterfaceUp(t *testing.T) {
	l := newLab(t)
	l.ip(t, "link set va down")
	agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "24"}
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	waitCarrier(t, l)
	l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.Success)
}

// An address someone else added, exactly as configured, counts as the
// resource's own: start adopts it and stop removes it, as in the
// reference (Pacemaker needs the address gone after a successful stop).
func TestAddressAlreadyPresentIsAdopted(t *testing.T) {
	l := newLab(t)
	l.ip(t, "addr add 192.0.2.10/24 dev va")
	agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10"}
	l.expect(t, agent, call{action: "monitor", params: p}, ocf.Success)
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "192.0.2.10/24 on va" {
		t.Fatalf("after start: %s; want only 192.0.2.10/24 on va", w)
	}
	l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "" {
		t.Fatalf("after stop: %s; want the address gone", w)
	}
}

// Stop removes exactly the managed address (address, prefix length,
// interface); the same address on another interface or with another
// prefix length stays.
func TestStopLeavesLookalikesAlone(t *testing.T) {
	tests := []struct {
		name   string
		setup  []string // ip(8) commands that add the lookalike
		params map[string]string
		start  bool   // start the resource before stopping it
		want   string // where the address is after stop
	}{
		{"same address as /32 on the same interface, never started", []string{"addr add 192.0.2.10/32 dev va"},
			map[string]string{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "24"}, false, "192.0.2.10/32 on va"},
		{"same address as /32 on the same interface, started and stopped", []string{"addr add 192.0.2.10/32 dev va"},
			map[string]string{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "24"}, true, "192.0.2.10/32 on va"},
		{"same address on another interface", []string{"link add vc type veth peer name vd", "addr add 192.0.2.10/24 dev vc"},
			map[string]string{"ip": "192.0.2.10", "nic": "va"}, true, "192.0.2.10/24 on vc"},
		{"same address and prefix on another interface, auto-detected", []string{"link add vc type veth peer name vd", "addr add 198.51.100.10/24 dev vc", "addr add 192.0.2.10/24 dev vc"},
			map[string]string{"ip": "198.51.100.10", "nic": "va", "cidr_netmask": "24"}, false, "198.51.100.10/24 on vc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			for _, c := range tt.setup {
				l.ip(t, c)
			}
			agent, p := ocfbox(t), tt.params
			l.expect(t, agent, call{action: "monitor", params: p}, ocf.NotRunning)
			if tt.start {
				l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
				l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.Success)
			}
			l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
			if w := l.where(t, p["ip"]); w != tt.want {
				t.Errorf("after stop, %s is %q; want %q", p["ip"], w, tt.want)
			}
			l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.NotRunning)
		})
	}
}

// IPv6 allows an address only once per interface, whatever the prefix:
// start fails and says where the other one is, and changes nothing.
func TestIPv6SameAddressOtherPrefixFailsStart(t *testing.T) {
	l := newLab(t)
	l.ip(t, "-6 addr add 2001:db8::10/128 dev va nodad")
	before := l.snapshot(t)
	o := l.expect(t, ocfbox(t), call{action: "start", params: map[string]string{"ip": "2001:db8::10", "cidr_netmask": "64", "nic": "va"}}, ocf.ErrGeneric)
	if !strings.Contains(o.reason, "2001:db8::10/128") {
		t.Errorf("exit reason %q does not say where the address already is", o.reason)
	}
	if after := l.snapshot(t); after != before {
		t.Errorf("a failed start changed the network:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// Every bad input gets its status and a reason naming the parameter, from
// every action, and changes nothing on the host.
func TestBadInputChangesNothing(t *testing.T) {
	type statuses struct{ validate, start, probe, monitor, stop ocf.Status }
	configErr := statuses{ocf.ErrConfigured, ocf.ErrConfigured, ocf.ErrConfigured, ocf.ErrConfigured, ocf.Success}
	tests := []struct {
		name   string
		params map[string]string
		meta   map[string]string
		want   statuses
		names  string // what the exit reason of start must contain
	}{
		{"not an IP", map[string]string{"ip": "192.0.2.300"}, nil, configErr, "ip="},
		{"netmask 33", map[string]string{"ip": "192.0.2.10", "cidr_netmask": "33"}, nil, configErr, "cidr_netmask="},
		{"broadcast garbage", map[string]string{"ip": "192.0.2.10", "broadcast": "x.y"}, nil, configErr, "broadcast="},
		{"arp_count=0", map[string]string{"ip": "192.0.2.10", "arp_count": "0"}, nil, configErr, "arp_count=0"},
		{"arp_interval=-5", map[string]string{"ip": "192.0.2.10", "arp_interval": "-5"}, nil, configErr, "arp_interval=-5"},
		{"label too long", map[string]string{"ip": "192.0.2.10", "iflabel": "fourteenchars1"}, nil, configErr, "iflabel="},
		{"label too long with the interface name", map[string]string{"ip": "192.0.2.10", "iflabel": "thirteenchars"}, nil, configErr, "iflabel=thirteenchars"},
		{"unknown arp_sender", map[string]string{"ip": "192.0.2.10", "arp_sender": "nope"}, nil, configErr, "arp_sender="},
		{"preferred_lft garbage", map[string]string{"ip": "2001:db8::10", "preferred_lft": "later"}, nil, configErr, "preferred_lft="},
		{"IPv6 link-local without nic", map[string]string{"ip": "fe80::10"}, nil, configErr, "nic"},
		{"cloned IP", map[string]string{"ip": "192.0.2.10"}, map[string]string{"clone_max": "2", "clone": "0"}, configErr, "unique_clone_address"},
		{"unknown nic", map[string]string{"ip": "192.0.2.10", "nic": "eth9"},
			nil, statuses{ocf.ErrArgs, ocf.ErrArgs, ocf.NotRunning, ocf.ErrGeneric, ocf.Success}, "nic=eth9"},
		{"no route to the address", map[string]string{"ip": "203.0.113.10"},
			nil, statuses{ocf.ErrGeneric, ocf.ErrGeneric, ocf.NotRunning, ocf.ErrGeneric, ocf.Success}, "203.0.113.10"},
		{"unknown network namespace", map[string]string{"ip": "192.0.2.10", "network_namespace": "ocfbox-nonexistent"},
			nil, statuses{ocf.ErrArgs, ocf.ErrArgs, ocf.NotRunning, ocf.ErrGeneric, ocf.Success}, "network_namespace=ocfbox-nonexistent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			agent := ocfbox(t)
			before := l.snapshot(t)
			steps := []struct {
				c    call
				want ocf.Status
			}{
				{call{action: "validate-all"}, tt.want.validate},
				{call{action: "start"}, tt.want.start},
				{call{action: "monitor"}, tt.want.probe},
				{call{action: "monitor", interval: recurring}, tt.want.monitor},
				{call{action: "stop"}, tt.want.stop},
			}
			for _, s := range steps {
				s.c.params, s.c.meta = tt.params, tt.meta
				o := l.expect(t, agent, s.c, s.want)
				if s.c.action == "start" && !strings.Contains(o.reason, tt.names) {
					t.Errorf("start's exit reason %q does not name %q", o.reason, tt.names)
				}
			}
			if after := l.snapshot(t); after != before {
				t.Errorf("bad input changed the network:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// Without privileges start and stop fail with status 4; a monitor works.
func TestUnprivilegedUser(t *testing.T) {
	l := newLab(t)
	agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10"}
	const nobody = 65534
	l.expect(t, agent, call{action: "start", params: p, uid: nobody}, ocf.ErrPerm)
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	l.expect(t, agent, call{action: "monitor", params: p, interval: recurring, uid: nobody}, ocf.Success)
	l.expect(t, agent, call{action: "stop", params: p, uid: nobody}, ocf.ErrPerm)
	if w := l.where(t, "192.0.2.10"); w != "192.0.2.10/24 on va" {
		t.Errorf("after an unprivileged stop: %q; want the address still on va", w)
	}
}

// With several interfaces whose routes overlap, the longest prefix decides,
// then the lowest metric.
func TestSeveralInterfacesWithOverlappingRoutes(t *testing.T) {
	l := newLab(t)
	l.ns.Veth(t, "vc", l.peer, "vd")
	l.ip(t, "addr add 192.0.2.129/25 dev vc")
	l.ip(t, "addr add 198.51.100.1/24 dev va metric 300")
	l.ip(t, "addr add 198.51.100.2/24 dev vc metric 100")
	tests := []struct {
		ip, want string
	}{
		{"192.0.2.10", "192.0.2.10/24 on va"},
		{"192.0.2.200", "192.0.2.200/25 on vc"},
		{"198.51.100.50", "198.51.100.50/24 on vc"},
	}
	agent := ocfbox(t)
	for _, tt := range tests {
		p := map[string]string{"ip": tt.ip}
		l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
		if w := l.where(t, tt.ip); w != tt.want {
			t.Errorf("start %s: %q; want %q", tt.ip, w, tt.want)
		}
		l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.Success)
		l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
		if w := l.where(t, tt.ip); w != "" {
			t.Errorf("stop %s left %q", tt.ip, w)
		}
	}
}

// lvs_support moves a real server's loopback /32 to the interface on
// start and back on stop.
func TestLVSSupportMovesTheLoopbackAddress(t *testing.T) {
	l := newLab(t)
	l.ip(t, "addr add 192.0.2.10/32 dev lo")
	agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10", "lvs_support": "true"}
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "192.0.2.10/24 on va" {
		t.Errorf("after start: %q; want only 192.0.2.10/24 on va", w)
	}
	l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.Success)
	l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "192.0.2.10/32 on lo" {
		t.Errorf("after stop: %q; want 192.0.2.10/32 back on lo", w)
	}
	l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "192.0.2.10/32 on lo" {
		t.Errorf("after a second stop: %q; want 192.0.2.10/32 on lo, once", w)
	}
}

// lvs_ipv6_addrlabel adds a policy label for the address on start and
// removes it on stop.
func TestIPv6AddressLabel(t *testing.T) {
	l := newLab(t)
	agent, p := ocfbox(t), map[string]string{"ip": "2001:db8::10", "nodad": "true", "lvs_ipv6_addrlabel": "true", "lvs_ipv6_addrlabel_value": "77"}
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	if got := l.ip(t, "addrlabel list"); !strings.Contains(got, "prefix 2001:db8::10/128 label 77") {
		t.Errorf("after start, ip addrlabel list:\n%s\nwant prefix 2001:db8::10/128 label 77", got)
	}
	l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
	if got := l.ip(t, "addrlabel list"); strings.Contains(got, "2001:db8::10") {
		t.Errorf("after stop, ip addrlabel list still has the label:\n%s", got)
	}
}

// network_namespace: the agent runs outside (here: in another test
// namespace, never the host's) and manages the address inside the named
// namespace.
func TestNetworkNamespaceParameter(t *testing.T) {
	l := newLab(t)
	outside := netnstest.New(t)
	outside.MustRun(t, "ip", "link", "add", "va", "type", "veth", "peer", "name", "vz") // a decoy named like the real one
	agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10", "nic": "va", "network_namespace": l.ns.Name}
	for _, s := range []struct {
		action   string
		interval bool
		want     ocf.Status
	}{
		{"validate-all", false, ocf.Success}, {"monitor", false, ocf.NotRunning}, {"start", false, ocf.Success},
		{"monitor", true, ocf.Success}, {"stop", false, ocf.Success}, {"monitor", true, ocf.NotRunning},
	} {
		c := call{action: s.action, params: p, outside: outside}
		if s.interval {
			c.interval = recurring
		}
		l.expect(t, agent, c, s.want)
		if s.action == "start" {
			if w := l.where(t, "192.0.2.10"); w != "192.0.2.10/24 on va" {
				t.Fatalf("after start: %q in the named namespace; want 192.0.2.10/24 on va", w)
			}
			if got := outside.MustRun(t, "ip", "-o", "addr", "show", "to", "192.0.2.10"); got != "" {
				t.Fatalf("start added the address in the namespace the agent ran in: %s", got)
			}
		}
	}
}

// run_arping: an IPv4 address another host already answers for is not
// added.
func TestRunARPingRefusesAnAddressInUse(t *testing.T) {
	l := newLab(t)
	l.peer.MustRun(t, "ip", "addr", "add", "192.0.2.10/24", "dev", "vb")
	agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10", "run_arping": "true"}
	o := l.expect(t, agent, call{action: "start", params: p}, ocf.ErrGeneric)
	if !strings.Contains(o.reason, "collision") {
		t.Errorf("exit reason %q does not report the collision", o.reason)
	}
	if w := l.where(t, "192.0.2.10"); w != "" {
		t.Errorf("the conflicting address was added anyway: %s", w)
	}
	l.expect(t, agent, call{action: "start", params: map[string]string{"ip": "192.0.2.11", "run_arping": "true"}}, ocf.Success)
}

// IPv6 duplicate address detection failing fails the start and takes the
// address away again.
func TestIPv6DuplicateAddressFailsStart(t *testing.T) {
	l := newLab(t)
	l.peer.MustRun(t, "ip", "-6", "addr", "add", "2001:db8::10/64", "dev", "vb", "nodad")
	o := l.expect(t, ocfbox(t), call{action: "start", params: map[string]string{"ip": "2001:db8::10"}}, ocf.ErrGeneric)
	if !strings.Contains(o.reason, "duplicate") {
		t.Errorf("exit reason %q does not mention duplicate address detection", o.reason)
	}
	if w := l.where(t, "2001:db8::10"); w != "" {
		t.Errorf("after a failed DAD the address is still %s", w)
	}
}
