package ipaddr2_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"

	"github.com/ocfbox/ocfbox/internal/netnstest"
	"github.com/ocfbox/ocfbox/ocf"
)

func isARPFor(ip string) func(netnstest.Frame) bool {
	want := netip.MustParseAddr(ip)
	return func(f netnstest.Frame) bool { return f.ARP != nil && f.ARP.SenderIP == want }
}

func isNAFor(ip string) func(netnstest.Frame) bool {
	want := netip.MustParseAddr(ip)
	return func(f netnstest.Frame) bool { return f.NA != nil && f.NA.TargetAddress == want }
}

func (l *lab) mac(t *testing.T, link string) net.HardwareAddr {
	t.Helper()
	var hw net.HardwareAddr
	if err := l.ns.Do(func() error {
		ifi, err := net.InterfaceByName(link)
		if err == nil {
			hw = ifi.HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return hw
}

// The gratuitous ARPs of a start, as seen by the neighbour: how many, how
// far apart, which fields, and when relative to start returning.
func TestStartAnnouncesIPv4(t *testing.T) {
	tests := []struct {
		name      string
		params    map[string]string
		ops       []arp.Operation // in order
		gap       time.Duration   // at least, between two packets not in together
		allBefore bool            // every packet before start returns (foreground)
		together  int             // the first packets, sent back to back before start returns
	}{
		{"default: the first request/reply pair before start returns, 4 more 200ms apart in the background",
			map[string]string{"ip": "192.0.2.10"}, pairs(5), 100 * time.Millisecond, false, 2},
		{"arp_count=3, arp_interval=300, foreground",
			map[string]string{"ip": "192.0.2.10", "arp_count": "3", "arp_interval": "300", "arp_bg": "false"}, pairs(3), 150 * time.Millisecond, true, 0},
		{"iputils_arping: requests only",
			map[string]string{"ip": "192.0.2.10", "arp_count": "3", "arp_interval": "100", "arp_sender": "iputils_arping"},
			[]arp.Operation{arp.OperationRequest, arp.OperationRequest, arp.OperationRequest}, 100 * time.Millisecond, false, 1},
		{"send_arp_opts=-A: replies only",
			map[string]string{"ip": "192.0.2.10", "arp_count": "2", "arp_sender": "iputils_arping", "send_arp_opts": "-A"},
			[]arp.Operation{arp.OperationReply, arp.OperationReply}, 200 * time.Millisecond, false, 1},
		{"a single announcement, whole before start returns",
			map[string]string{"ip": "192.0.2.10", "arp_count": "1"}, pairs(1), 0, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			capture := l.peer.Capture(t, "vb")
			o := l.expect(t, ocfbox(t), call{action: "start", params: tt.params}, ocf.Success)
			got := capture.WaitFor(len(tt.ops), 5*time.Second, isARPFor("192.0.2.10"))
			if len(got) != len(tt.ops) {
				t.Fatalf("the neighbour saw %d ARP packets for 192.0.2.10, want %d: %v", len(got), len(tt.ops), got)
			}
			hw := l.mac(t, "va")
			for i, f := range got {
				wantTHA := net.HardwareAddr{0, 0, 0, 0, 0, 0}
				if tt.ops[i] == arp.OperationReply {
					wantTHA = hw
				}
				p := f.ARP
				if p.Operation != tt.ops[i] || p.TargetIP != netip.MustParseAddr("192.0.2.10") ||
					p.SenderHardwareAddr.String() != hw.String() || p.TargetHardwareAddr.String() != wantTHA.String() || f.EthDst.String() != "ff:ff:ff:ff:ff:ff" {
					t.Errorf("packet %d: %v; want %v from 192.0.2.10/%s for 192.0.2.10/%s to the broadcast address", i, f, tt.ops[i], hw, wantTHA)
				}
				if i > 0 && i >= tt.together {
					if d := f.At.Sub(got[i-1].At); d < tt.gap*9/10 {
						t.Errorf("packet %d came %v after the one before; want at least %v", i, d, tt.gap)
					}
				}
			}
			if got[0].At.After(o.returned) {
				t.Errorf("the first announcement came %v after start returned; want it before", got[0].At.Sub(o.returned))
			}
			if tt.together > 0 && got[tt.together-1].At.After(o.returned) {
				t.Errorf("packet %d of the first announcement came %v after start returned; want the whole announcement before", tt.together-1, got[tt.together-1].At.Sub(o.returned))
			}
			if last := got[len(got)-1]; tt.allBefore && last.At.After(o.returned) {
				t.Errorf("the last announcement came %v after start returned; a foreground start sends them all first", last.At.Sub(o.returned))
			}
			if pids := l.waitNoProcesses(t, 5*time.Second); len(pids) != 0 {
				t.Errorf("processes still running 5s after the announcements: %v", pids)
			}
			time.Sleep(300 * time.Millisecond)
			if n := len(capture.WaitFor(0, 0, isARPFor("192.0.2.10"))); n != len(tt.ops) {
				t.Errorf("%d ARP packets in the end, want exactly %d", n, len(tt.ops))
			}
		})
	}
}

func pairs(n int) []arp.Operation {
	var ops []arp.Operation
	for range n {
		ops = append(ops, arp.OperationRequest, arp.OperationReply)
	}
	return ops
}

// IPv6: unsolicited neighbour advertisements once duplicate address
// detection has finished (or at once with nodad), from the address to all
// nodes, with the override flag and the interface's link-layer address.
func TestStartAnnouncesIPv6(t *testing.T) {
	tests := []struct {
		name      string
		params    map[string]string
		count     int
		allBefore bool
	}{
		{"after duplicate address detection, in the foreground", map[string]string{"ip": "2001:db8::10", "arp_count": "3"}, 3, true},
		{"nodad", map[string]string{"ip": "2001:db8::10", "nodad": "true", "arp_count": "2"}, 2, true},
		{"arp_bg=true", map[string]string{"ip": "2001:db8::10", "nodad": "true", "arp_count": "4", "arp_bg": "true"}, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			capture := l.peer.Capture(t, "vb")
			o := l.expect(t, ocfbox(t), call{action: "start", params: tt.params}, ocf.Success)
			got := capture.WaitFor(tt.count, 5*time.Second, isNAFor("2001:db8::10"))
			if len(got) != tt.count {
				t.Fatalf("the neighbour saw %d advertisements, want %d: %v", len(got), tt.count, capture.Frames())
			}
			hw := l.mac(t, "va")
			for i, f := range got {
				var tlla net.HardwareAddr
				for _, opt := range f.NA.Options {
					if ll, ok := opt.(*ndp.LinkLayerAddress); ok && ll.Direction == ndp.Target {
						tlla = ll.Addr
					}
				}
				if !f.NA.Override || f.NA.Solicited || f.NA.Router || f.IPSrc != netip.MustParseAddr("2001:db8::10") ||
					f.IPDst != netip.MustParseAddr("ff02::1") || f.Hops != 255 || tlla.String() != hw.String() {
					t.Errorf("advertisement %d: %v; want override, unsolicited, 2001:db8::10 -> ff02::1, hop limit 255, target address %s", i, f, hw)
				}
				if i > 0 {
					if d := f.At.Sub(got[i-1].At); d < 180*time.Millisecond {
						t.Errorf("advertisement %d came %v after the one before; want at least the 200ms arp_interval", i, d)
					}
				}
			}
			if got[0].At.After(o.returned) {
				t.Errorf("the first advertisement came %v after start returned; want it before", got[0].At.Sub(o.returned))
			}
			if last := got[len(got)-1]; tt.allBefore && last.At.After(o.returned) {
				t.Errorf("the last advertisement came after start returned; a foreground start sends them all first")
			}
			if out := l.ip(t, "-6 -o addr show to 2001:db8::10"); strings.Contains(out, "tentative") {
				t.Errorf("start returned with the address still tentative: %s", out)
			}
		})
	}
}

// arp_count_refresh: each successful monitor repeats that many IPv4
// announcements, in the foreground (a monitor starts no process).
func TestMonitorRefreshesARP(t *testing.T) {
	l := newLab(t)
	agent := ocfbox(t)
	p := map[string]string{"ip": "192.0.2.10", "arp_count": "1", "arp_count_refresh": "2", "arp_interval": "100"}
	capture := l.peer.Capture(t, "vb")
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	o := l.expect(t, agent, call{action: "monitor", params: p, interval: recurring}, ocf.Success)
	got := capture.WaitFor(6, 2*time.Second, isARPFor("192.0.2.10"))
	if len(got) != 6 {
		t.Fatalf("start (1 pair) and a monitor (2 pairs) sent %d ARP packets, want 6", len(got))
	}
	if got[5].At.After(o.returned) {
		t.Errorf("the monitor's refresh came after it returned; want it in the foreground")
	}
	l.expect(t, agent, call{action: "monitor", params: map[string]string{"ip": "2001:db8::10", "nodad": "true", "arp_count_refresh": "2"}}, ocf.NotRunning)
}

// Stop ends a background announcer that is still sending, so an address
// that has gone is never announced.
func TestStopEndsTheBackgroundAnnouncer(t *testing.T) {
	l := newLab(t)
	agent := ocfbox(t)
	p := map[string]string{"ip": "192.0.2.10", "arp_count": "100", "arp_interval": "100"}
	capture := l.peer.Capture(t, "vb")
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	capture.WaitFor(6, 3*time.Second, isARPFor("192.0.2.10"))
	o := l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
	if pids, _ := l.ns.Processes(); len(pids) != 0 {
		t.Fatalf("the announcer is still running after stop returned: %v", pids)
	}
	for _, f := range capture.WaitFor(0, 500*time.Millisecond, isARPFor("192.0.2.10")) {
		if f.At.After(o.returned) {
			t.Errorf("an ARP for 192.0.2.10 went out %v after stop returned", f.At.Sub(o.returned))
		}
	}
}

// Addresses on loopback are not announced (as in the reference).
func TestNoAnnouncementsOnLoopback(t *testing.T) {
	l := newLab(t)
	capture := l.peer.Capture(t, "vb")
	l.expect(t, ocfbox(t), call{action: "start", params: map[string]string{"ip": "192.0.2.77", "nic": "lo", "cidr_netmask": "32"}}, ocf.Success)
	if got := capture.WaitFor(1, 500*time.Millisecond, isARPFor("192.0.2.77")); len(got) != 0 {
		t.Errorf("ARP for an address on lo reached the LAN: %v", got)
	}
	if pids := l.waitNoProcesses(t, time.Second); len(pids) != 0 {
		t.Errorf("processes left: %v", pids)
	}
}
