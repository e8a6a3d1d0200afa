package ipaddr2_test

import (
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/ocf"
)

// When the route to the address's subnet moves to another interface while
// the address is up, the address is still on the interface start put it
// on: a probe or monitor that answered "not running" (looking only where
// the route now goes) would have Pacemaker start it on a second node while
// this one still answers for it, and a stop must remove it from there.
func TestRouteMovedToAnotherInterface(t *testing.T) {
	l := newLab(t)
	agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10"}
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "192.0.2.10/24 on va" {
		t.Fatalf("after start: %q, want 192.0.2.10/24 on va", w)
	}
	// The subnet's route now goes through vc; va keeps its addresses.
	l.ns.Veth(t, "vc", l.peer, "vd")
	l.ip(t, "link set vc up")
	l.ip(t, "route del 192.0.2.0/24 dev va")
	l.ip(t, "addr add 192.0.2.2/24 dev vc")
	for _, c := range []call{
		{action: "monitor", params: p},
		{action: "monitor", params: p, interval: recurring},
	} {
		o := l.expect(t, agent, c, ocf.ErrGeneric)
		if !strings.Contains(o.reason, "va") || !strings.Contains(o.reason, "vc") {
			t.Errorf("monitor (interval %s): exit reason %q names not both va and vc", c.interval, o.reason)
		}
	}
	l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "" {
		t.Fatalf("stop left %s", w)
	}
	l.expect(t, agent, call{action: "monitor", params: p}, ocf.NotRunning)
}

// A stop whose parameters are invalid (the operator changed them while the
// address was up) reports success only after removing the address from
// where start recorded it.
func TestStopWithInvalidParametersRemovesTheRecordedAddress(t *testing.T) {
	for name, bad := range map[string]map[string]string{
		"parameter that does not bind":     {"ip": "192.0.2.10", "arp_count": "many"},
		"parameter the agent refuses":      {"ip": "192.0.2.10", "cidr_netmask": "33"},
		"address changed to another value": {"ip": "not-an-address"},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLab(t)
			agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10"}
			l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
			l.expect(t, agent, call{action: "stop", params: bad}, ocf.Success)
			if w := l.where(t, "192.0.2.10"); w != "" {
				t.Fatalf("stop with %v reported success and left %s", bad, w)
			}
			// Nothing recorded any more: a second stop has nothing to do.
			l.expect(t, agent, call{action: "stop", params: bad}, ocf.Success)
		})
	}
}
