package ipaddr2_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/measure"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
)

const recurring = 10 * time.Second

// Start, monitor and stop for each way of configuring the address; after
// start the address is on the interface exactly as configured, after stop
// it is gone, and every action is idempotent.
func TestLifecycle(t *testing.T) {
	tests := []struct {
		name   string
		setup  string // extra ip(8) commands, ";"-separated
		params map[string]string
		ip     string
		want   string // `ip -o addr show` fields the address must have, e.g. "192.0.2.10/24 brd 192.0.2.255"
		on     string // the interface it must be on
	}{
		{"IPv4, interface and prefix from the routing table", "", map[string]string{"ip": "192.0.2.10"}, "192.0.2.10", "192.0.2.10/24 brd 192.0.2.255", "va"},
		{"IPv4, explicit nic and cidr_netmask", "", map[string]string{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "26"}, "192.0.2.10", "192.0.2.10/26 brd 192.0.2.63", "va"},
		{"IPv4, interface named by an altname", "link property add dev va altname uplink", map[string]string{"ip": "192.0.2.10", "nic": "uplink"}, "192.0.2.10", "192.0.2.10/24", "va"},
		{"IPv4 outside every subnet, nic and cidr_netmask given", "", map[string]string{"ip": "198.51.100.7", "nic": "va", "cidr_netmask": "24"}, "198.51.100.7", "198.51.100.7/24 brd 198.51.100.255", "va"},
		{"IPv4, explicit broadcast", "", map[string]string{"ip": "192.0.2.10", "broadcast": "192.0.2.127"}, "192.0.2.10", "192.0.2.10/24 brd 192.0.2.127", "va"},
		{"IPv4, broadcast -", "", map[string]string{"ip": "192.0.2.10", "broadcast": "-"}, "192.0.2.10", "192.0.2.10/24 brd 192.0.2.0", "va"},
		{"IPv4, iflabel", "", map[string]string{"ip": "192.0.2.10", "iflabel": "web"}, "192.0.2.10", "192.0.2.10/24 brd 192.0.2.255 scope global secondary va:web", "va"},
		{"IPv4, nic:label form", "", map[string]string{"ip": "192.0.2.10", "nic": "va:web"}, "192.0.2.10", "va:web", "va"},
		{"IPv4, dotted netmask", "", map[string]string{"ip": "192.0.2.10", "nic": "va", "cidr_netmask": "255.255.255.128"}, "192.0.2.10", "192.0.2.10/25", "va"},
		{"IPv4, a /32 on loopback", "", map[string]string{"ip": "192.0.2.77", "nic": "lo", "cidr_netmask": "32"}, "192.0.2.77", "192.0.2.77/32", "lo"},
		{"IPv4 in 127/8, from the local table", "", map[string]string{"ip": "127.0.0.3"}, "127.0.0.3", "127.0.0.3/8", "lo"},
		{"IPv4, noprefixroute", "", map[string]string{"ip": "198.51.100.7", "nic": "va", "cidr_netmask": "24", "noprefixroute": "true"}, "198.51.100.7", "noprefixroute", "va"},
		{"IPv6 from the routing table", "", map[string]string{"ip": "2001:db8::10"}, "2001:db8::10", "2001:db8::10/64", "va"},
		{"IPv6 written long", "", map[string]string{"ip": "2001:db8:0:0:0:0:0:10", "nic": "va"}, "2001:db8::10", "2001:db8::10/64", "va"},
		{"IPv6 nodad, explicit prefix", "", map[string]string{"ip": "2001:db8::10", "nic": "va", "cidr_netmask": "64", "nodad": "true"}, "2001:db8::10", "2001:db8::10/64 scope global nodad", "va"},
		{"IPv6 preferred_lft 0", "", map[string]string{"ip": "2001:db8::10", "preferred_lft": "0", "nodad": "true"}, "2001:db8::10", "deprecated", "va"},
		{"IPv6 link-local with nic", "", map[string]string{"ip": "fe80::10", "nic": "va", "nodad": "true"}, "fe80::10", "fe80::10/64", "va"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			for _, cmd := range strings.Split(tt.setup, ";") {
				if strings.TrimSpace(cmd) != "" {
					l.ip(t, cmd)
				}
			}
			agent := ocfbox(t)
			p := tt.params
			l.expect(t, agent, call{action: "monitor", params: p}, ocf.NotRunning)
			l.expect(t, agent, call{action: "validate-all", params: p}, ocf.Success)
			l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
			shown := l.ip(t, "-o addr show to "+tt.ip)
			if f := strings.Fields(shown); len(f) < 2 || f[1] != tt.on || !strings.Contains(shown, tt.want) {
				t.Fatalf("after start, ip addr shows %q; want %q on %s", strings.TrimSpace(shown), tt.want, tt.on)
			}
			l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
			l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.Success)
			l.expect(t, agent, call{action: "monitor", params: p}, ocf.Success)
			l.expect(t, agent, call{action: "status", params: p}, ocf.Success)
			l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
			if w := l.where(t, tt.ip); w != "" {
				t.Fatalf("after stop, %s is still %s", tt.ip, w)
			}
			l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.NotRunning)
			l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
			if pids := l.waitNoProcesses(t, 3*time.Second); len(pids) != 0 {
				t.Errorf("processes still running in the node 3s after stop: %v", pids)
			}
		})
	}
}

// Monitor, probe and stop read and change addresses over netlink in the
// agent's own process: the only program one of them executes is the
// agent (the reference runs 22 to 28: ip, grep, sed, awk, ...).
func TestMonitorProbeAndStopExecuteNoOtherProgram(t *testing.T) {
	strace := testenv.RequireTool(t, "strace")
	l := newLab(t)
	agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10"}
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	for _, c := range []call{
		{action: "monitor", params: p, interval: recurring},
		{action: "monitor", params: p},
		{action: "stop", params: p},
	} {
		c.strace, c.traceTo = strace, filepath.Join(t.TempDir(), "trace")
		l.expect(t, agent, c, ocf.Success)
		f, err := os.Open(c.traceTo)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := measure.ParseTrace(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"IPaddr2"}; !slices.Equal(tr.Programs, want) {
			t.Errorf("%s (interval %v) executed %v; want only the agent, %v", c.action, c.interval, tr.Programs, want)
		}
	}
}
