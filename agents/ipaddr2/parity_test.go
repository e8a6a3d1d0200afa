package ipaddr2_test

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/ocf"
)

// Parity with the installed reference agent (resource-agents 4.12): each
// scenario runs the same sequence against the reference and against
// ocfbox, one after the other in the same namespaces, each from a fresh
// network, and compares every status and where the address is after each
// step. A step where ocfbox deliberately answers differently says so
// (dev), with both answers; the README's deviations table gives the reasons.

type step struct {
	action   string // an agent action, or "" for a change to the network
	interval bool   // recurring monitor
	change   func(l *lab, t *testing.T)
	uid      int
	dev      *deviation
	// whereDiffers: where the address is after this step differs, as
	// the README's deviations table documents.
	whereDiffers bool
}

type deviation struct {
	reference, ocfbox ocf.Status
}

func act(action string) step                   { return step{action: action} }
func recur() step                              { return step{action: "monitor", interval: true} }
func probe() step                              { return step{action: "monitor"} }
func change(f func(l *lab, t *testing.T)) step { return step{change: f} }

func (s step) differs(ref, ours ocf.Status) step {
	s.dev = &deviation{ref, ours}
	return s
}

// leavesDifferently marks a step after which the address is deliberately
// not where the reference leaves it.
func (s step) leavesDifferently() step {
	s.whereDiffers = true
	return s
}

func ipCmd(args string) func(l *lab, t *testing.T) {
	return func(l *lab, t *testing.T) { l.ip(t, args) }
}

func peerCmd(args string) func(l *lab, t *testing.T) {
	return func(l *lab, t *testing.T) { l.peer.MustRun(t, append([]string{"ip"}, strings.Fields(args)...)...) }
}

type scenario struct {
	name   string
	setup  []string // ip(8) commands in the node after the standard wiring
	params map[string]string
	meta   map[string]string
	steps  []step
	// placementDiffers: where the address ends up is allowed to differ
	// (listed in the README's deviations table); statuses are still compared.
	placementDiffers bool
	// watch is the address whose placement is compared; default ip.
	watch string
}

var parityScenarios = []scenario{
	{name: "IPv4 lifecycle, interface from the routing table", params: map[string]string{"ip": "192.0.2.10"},
		steps: []step{probe(), act("validate-all"), act("start"), act("start"), recur(), probe(), act("status"), act("stop"), recur(), act("stop"), probe()}},
	{name: "IPv4 lifecycle, nic, cidr_netmask, iflabel, broadcast", params: map[string]string{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "24", "iflabel": "vip", "broadcast": "192.0.2.255"},
		steps: []step{probe(), act("start"), recur(), act("stop"), recur(), act("stop")}},
	{name: "IPv4 outside the interface's subnet, nic and cidr_netmask given", placementDiffers: true, params: map[string]string{"ip": "198.51.100.7", "nic": "va", "cidr_netmask": "24"},
		steps: []step{probe(), act("start"), recur(), act("stop"), probe()}},
	{name: "IPv4 in 127/8 on lo", params: map[string]string{"ip": "127.0.0.3"},
		steps: []step{probe(), act("start"), recur(), act("stop"), probe()}},
	{name: "IPv6 lifecycle with duplicate address detection", params: map[string]string{"ip": "2001:db8::10"},
		steps: []step{probe(), act("start"), recur(), probe(), act("stop"), recur(), act("stop")}},
	{name: "IPv6 nodad, written long", params: map[string]string{"ip": "2001:db8:0::10", "nodad": "true", "nic": "va", "cidr_netmask": "64"},
		steps: []step{probe(), act("start"), recur(), act("stop"), probe()}},
	{name: "address already there, added by someone else", setup: []string{"addr add 192.0.2.10/24 brd + dev va"}, params: map[string]string{"ip": "192.0.2.10"},
		steps: []step{probe(), act("start"), recur(), act("stop"), probe()}},
	{name: "same address with another prefix length is not the resource", setup: []string{"addr add 192.0.2.10/32 dev va"},
		params: map[string]string{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "24"},
		steps:  []step{probe(), act("stop"), act("start"), recur(), act("stop"), recur()}},
	{name: "several interfaces, the longest prefix wins", setup: []string{"link add vc type veth peer name vd", "link set vc up", "link set vd up", "addr add 192.0.2.129/25 brd + dev vc"},
		params: map[string]string{"ip": "192.0.2.200"},
		steps:  []step{probe(), act("start"), recur(), act("stop")}},
	{name: "same prefix on two interfaces, different metrics", placementDiffers: true,
		setup:  []string{"link add vc type veth peer name vd", "link set vc up", "link set vd up", "addr add 198.51.100.1/24 brd + dev va metric 100", "addr add 198.51.100.2/24 brd + dev vc metric 200"},
		params: map[string]string{"ip": "198.51.100.50"},
		steps:  []step{probe(), act("start"), recur(), act("stop")}},
	{name: "the base address has no broadcast address", placementDiffers: true,
		setup:  []string{"link add vc type veth peer name vd", "link set vc up", "link set vd up", "addr add 198.51.100.1/24 dev vc"},
		params: map[string]string{"ip": "198.51.100.50"},
		steps:  []step{act("start"), recur(), act("stop")}},
	{name: "interface removed, interface from the routing table", params: map[string]string{"ip": "192.0.2.10"},
		steps: []step{act("start"), change(ipCmd("link del va")), recur(), probe(), act("stop"), act("start"), act("validate-all")}},
	{name: "interface removed, nic given", params: map[string]string{"ip": "192.0.2.10", "nic": "va"},
		steps: []step{act("start"), change(ipCmd("link del va")), recur(), probe(), act("stop"),
			act("start").differs(ocf.ErrConfigured, ocf.ErrArgs), act("validate-all").differs(ocf.ErrConfigured, ocf.ErrArgs)}},
	{name: "interface removed, nic and cidr_netmask given", params: map[string]string{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "24"},
		steps: []step{act("start"), change(ipCmd("link del va")), recur().differs(ocf.NotRunning, ocf.ErrGeneric), probe(), act("stop"),
			act("start").differs(ocf.ErrConfigured, ocf.ErrArgs)}},
	{name: "link admin down, interface from the routing table", params: map[string]string{"ip": "192.0.2.10"},
		steps: []step{act("start"), change(ipCmd("link set va down")), recur(), probe().differs(ocf.NotRunning, ocf.ErrGeneric),
			act("stop").leavesDifferently(), change(ipCmd("link set va up"))}},
	{name: "link admin down, nic and cidr_netmask given", params: map[string]string{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "24"},
		steps: []step{act("start"), change(ipCmd("link set va down")), recur().differs(ocf.Success, ocf.ErrGeneric), probe().differs(ocf.Success, ocf.ErrGeneric),
			act("stop"), probe()}},
	{name: "start without carrier", params: map[string]string{"ip": "192.0.2.10"},
		steps: []step{change(peerCmd("link set vb down")), act("start").differs(ocf.Success, ocf.ErrGeneric), act("stop"), probe(), change(peerCmd("link set vb up"))}},
	{name: "no carrier", params: map[string]string{"ip": "192.0.2.10"},
		steps: []step{act("start"), change(peerCmd("link set vb down")), recur().differs(ocf.Success, ocf.ErrGeneric), probe().differs(ocf.Success, ocf.ErrGeneric),
			act("stop"), probe(), change(peerCmd("link set vb up"))}},
	{name: "lvs_support moves a loopback /32 and puts it back", placementDiffers: true, setup: []string{"addr add 192.0.2.10/32 dev lo"},
		params: map[string]string{"ip": "192.0.2.10", "lvs_support": "true"},
		steps:  []step{probe(), act("start"), recur(), act("stop"), recur()}},
	{name: "IPv6 duplicate address", setup: nil, params: map[string]string{"ip": "2001:db8::10"},
		steps: []step{change(peerCmd("-6 addr add 2001:db8::10/64 dev vb nodad")), act("start"), probe()}},
	{name: "not root", params: map[string]string{"ip": "192.0.2.10"},
		steps: []step{{action: "start", uid: 65534}, act("start"), {action: "monitor", interval: true, uid: 65534}, {action: "stop", uid: 65534}, act("stop")}},

	// Bad input.
	{name: "ip is not an address", params: map[string]string{"ip": "192.0.2.300"},
		steps: []step{act("validate-all"), act("start"), probe().differs(ocf.NotRunning, ocf.ErrConfigured), recur().differs(ocf.ErrGeneric, ocf.ErrConfigured), act("stop")}},
	{name: "ip is a multicast address", params: map[string]string{"ip": "224.0.0.5"},
		steps: []step{act("validate-all").differs(ocf.ErrGeneric, ocf.ErrConfigured), act("start").differs(ocf.ErrGeneric, ocf.ErrConfigured),
			probe().differs(ocf.NotRunning, ocf.ErrConfigured), act("stop")}},
	{name: "cidr_netmask=33", params: map[string]string{"ip": "192.0.2.10", "cidr_netmask": "33"},
		steps: []step{act("validate-all"), act("start"), probe().differs(ocf.NotRunning, ocf.ErrConfigured), recur().differs(ocf.ErrGeneric, ocf.ErrConfigured), act("stop")}},
	{name: "broadcast is garbage", params: map[string]string{"ip": "192.0.2.10", "broadcast": "garbage"},
		steps: []step{act("validate-all"), act("start"), probe().differs(ocf.NotRunning, ocf.ErrConfigured), act("stop")}},
	{name: "broadcast for an IPv6 address", params: map[string]string{"ip": "2001:db8::10", "broadcast": "2001:db8::ff", "nodad": "true"},
		steps: []step{act("validate-all"), act("start"), recur(), act("stop")}},
	{name: "broadcast garbage for an IPv6 address", params: map[string]string{"ip": "2001:db8::10", "broadcast": "nonsense", "nodad": "true"},
		steps: []step{act("validate-all").differs(ocf.Success, ocf.ErrConfigured), act("start").differs(ocf.ErrGeneric, ocf.ErrConfigured), act("stop")}},
	{name: "arp_count=0", params: map[string]string{"ip": "192.0.2.10", "arp_count": "0"},
		steps: []step{act("validate-all"), act("start"), probe(), act("stop").differs(ocf.ErrConfigured, ocf.Success)}},
	{name: "iflabel too long", params: map[string]string{"ip": "192.0.2.10", "iflabel": "thirteenchars"},
		steps: []step{act("validate-all"), act("start"), probe(), act("stop").differs(ocf.ErrConfigured, ocf.Success)}},
	{name: "unknown nic", params: map[string]string{"ip": "192.0.2.10", "nic": "eth9"},
		steps: []step{act("validate-all").differs(ocf.ErrConfigured, ocf.ErrArgs), act("start").differs(ocf.ErrConfigured, ocf.ErrArgs), probe(), recur(), act("stop")}},
	{name: "no route to the address", params: map[string]string{"ip": "203.0.113.10"},
		steps: []step{act("validate-all"), act("start"), probe(), recur(), act("stop")}},
	{name: "IPv6 link-local without nic", params: map[string]string{"ip": "fe80::10"},
		steps: []step{act("validate-all"), act("start"), probe().differs(ocf.NotRunning, ocf.ErrConfigured), act("stop")}},
	{name: "preferred_lft is garbage", params: map[string]string{"ip": "2001:db8::10", "preferred_lft": "later", "nodad": "true"},
		steps: []step{act("validate-all").differs(ocf.Success, ocf.ErrConfigured), act("start").differs(ocf.ErrGeneric, ocf.ErrConfigured),
			probe().differs(ocf.NotRunning, ocf.ErrConfigured), act("stop")}},
	{name: "unique_clone_address without globally-unique", params: map[string]string{"ip": "192.0.2.10", "unique_clone_address": "true"},
		meta:  map[string]string{"clone_max": "2", "clone": "1"},
		steps: []step{act("validate-all"), act("start"), probe(), act("stop").differs(ocf.ErrConfigured, ocf.Success)}},
	{name: "unique_clone_address in a globally unique clone", params: map[string]string{"ip": "192.0.2.10", "unique_clone_address": "true"},
		meta: map[string]string{"clone_max": "2", "clone": "1", "globally_unique": "true"}, watch: "192.0.2.11",
		steps: []step{probe(), act("start"), recur(), act("stop"), probe()}},
	{name: "lvs_support for IPv6", params: map[string]string{"ip": "2001:db8::10", "lvs_support": "true"},
		steps: []step{act("validate-all"), act("start"), probe(), act("stop").differs(ocf.ErrConfigured, ocf.Success)}},
	{name: "unknown network namespace", params: map[string]string{"ip": "192.0.2.10", "network_namespace": "ocfbox-test-nonexistent"},
		steps: []step{act("validate-all").differs(255, ocf.ErrArgs), act("start").differs(255, ocf.ErrArgs), probe().differs(255, ocf.NotRunning),
			recur().differs(255, ocf.ErrGeneric), act("stop").differs(255, ocf.Success)}},
	{name: "run_arping without arping installed", placementDiffers: true, params: map[string]string{"ip": "192.0.2.10", "run_arping": "true"},
		steps: []step{probe(), act("start").differs(ocf.ErrInstalled, ocf.Success), recur().differs(ocf.NotRunning, ocf.Success), act("stop")}},
}

// TestParity runs each scenario against both agents.
func TestParity(t *testing.T) {
	ref := referenceAgentPath(t)
	for _, sc := range parityScenarios {
		t.Run(sc.name, func(t *testing.T) {
			if strings.Contains(sc.name, "arping") && haveArping() {
				t.Fatalf("this scenario expects arping not to be installed, as on the test machine; it is")
			}
			l := newLab(t)
			refRes := l.sequence(t, ref, sc)
			ourRes := l.sequence(t, ocfbox(t), sc)
			for i, s := range sc.steps {
				if s.change != nil {
					continue
				}
				r, o := refRes[i], ourRes[i]
				label := fmt.Sprintf("step %d (%s)", i+1, s.describe())
				switch {
				case s.dev == nil && r.status != o.status:
					t.Errorf("%s: reference %s, ocfbox %s (%q)", label, r.status, o.status, o.reason)
				case s.dev != nil && (r.status != s.dev.reference || o.status != s.dev.ocfbox):
					t.Errorf("%s: reference %s, ocfbox %s (%q); the documented deviation is reference %s, ocfbox %s",
						label, r.status, o.status, o.reason, s.dev.reference, s.dev.ocfbox)
				}
				if r.where != o.where && !sc.placementDiffers && !s.whereDiffers {
					t.Errorf("%s: afterwards the reference left %q, ocfbox %q", label, r.where, o.where)
				}
				if r.where == o.where && s.whereDiffers {
					t.Errorf("%s: both agents left the address as %q; this step documents a difference", label, r.where)
				}
				if r.where == o.where && sc.placementDiffers && s.action == "start" {
					t.Errorf("%s: both agents placed the address as %q; this scenario documents a difference", label, r.where)
				}
			}
		})
	}
}

type stepResult struct {
	status ocf.Status
	reason string
	where  string
}

// sequence runs the scenario's steps against one agent from a fresh
// network and cleans up after itself.
func (l *lab) sequence(t *testing.T, agent string, sc scenario) []stepResult {
	t.Helper()
	l.reset(t)
	for _, c := range sc.setup {
		l.ip(t, c)
	}
	ip := sc.params["ip"]
	if sc.watch != "" {
		ip = sc.watch
	}
	res := make([]stepResult, len(sc.steps))
	for i, s := range sc.steps {
		if s.change != nil {
			s.change(l, t)
			continue
		}
		c := call{action: s.action, params: sc.params, meta: sc.meta, uid: s.uid}
		if s.interval {
			c.interval = recurring
		}
		o := l.run(t, agent, c)
		res[i] = stepResult{status: o.status, reason: o.reason, where: l.placement(t, ip)}
	}
	l.run(t, agent, call{action: "stop", params: sc.params, meta: sc.meta})
	l.waitNoProcesses(t, 3e9)
	return res
}

// placement is where ip is, with broadcast and label: "192.0.2.10/24 brd
// 192.0.2.255 va:vip on va", sorted; "" when nowhere.
func (l *lab) placement(t *testing.T, ip string) string {
	t.Helper()
	want, err := netip.ParseAddr(ip)
	if err != nil {
		return "" // a scenario with a bad ip: nothing can be placed
	}
	var out []string
	for _, line := range strings.Split(l.ip(t, "-o addr show"), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		p, err := netip.ParsePrefix(f[3])
		if err != nil || p.Addr() != want {
			continue
		}
		desc := f[3]
		for j := 4; j < len(f); j++ {
			switch {
			case f[j] == "brd" && j+1 < len(f):
				desc += " brd " + f[j+1]
			case strings.HasSuffix(f[j], "\\") && strings.TrimSuffix(f[j], "\\") != f[1] && f[j] != "\\":
				desc += " label " + strings.TrimSuffix(f[j], "\\")
			}
		}
		out = append(out, desc+" on "+f[1])
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func (s step) describe() string {
	switch {
	case s.action == "monitor" && s.interval:
		return "recurring monitor"
	case s.action == "monitor":
		return "probe"
	case s.uid != 0:
		return s.action + " as nobody"
	}
	return s.action
}

func haveArping() bool {
	_, err := exec.LookPath("arping")
	return err == nil
}
