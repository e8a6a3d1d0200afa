package netif_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"

	"github.com/ocfbox/ocfbox/internal/netnstest"
	"github.com/ocfbox/ocfbox/pkg/netif"
)

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

func TestAnnounceIPv4(t *testing.T) {
	tests := []struct {
		name    string
		mode    netif.ARPMode
		count   int
		wantOps []arp.Operation
		gap     time.Duration // expected spacing between packets
	}{
		{"send_arp style: a request and a reply per announcement", netif.ARPRequestAndReply, 3,
			[]arp.Operation{arp.OperationRequest, arp.OperationReply, arp.OperationRequest, arp.OperationReply, arp.OperationRequest, arp.OperationReply}, 50 * time.Millisecond},
		{"requests only", netif.ARPRequest, 3,
			[]arp.Operation{arp.OperationRequest, arp.OperationRequest, arp.OperationRequest}, 100 * time.Millisecond},
		{"replies only", netif.ARPReply, 2,
			[]arp.Operation{arp.OperationReply, arp.OperationReply}, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t)
			n.ns.MustRun(t, "ip", "addr", "add", "192.0.2.10/24", "dev", "va")
			capture := n.peer.Capture(t, "vb")
			var va netif.Link
			n.do(t, func(h *netif.Handle) error {
				va, _ = h.LinkByName("va")
				sent, err := netif.Announce(context.Background(), netif.Announcement{
					IP: addr("192.0.2.10"), Link: va, Count: tt.count, Interval: 100 * time.Millisecond, ARPMode: tt.mode}, nil)
				if sent != len(tt.wantOps) {
					t.Errorf("Announce sent %d packets, want %d", sent, len(tt.wantOps))
				}
				return err
			})
			got := capture.WaitFor(len(tt.wantOps), 2*time.Second, func(f netnstest.Frame) bool { return f.ARP != nil })
			if len(got) != len(tt.wantOps) {
				t.Fatalf("peer saw %d ARP packets, want %d: %v", len(got), len(tt.wantOps), got)
			}
			for i, f := range got {
				p := f.ARP
				wantTHA := zeroMAC
				if tt.wantOps[i] == arp.OperationReply {
					wantTHA = va.HardwareAddr
				}
				if p.Operation != tt.wantOps[i] || p.SenderIP != addr("192.0.2.10") || p.TargetIP != addr("192.0.2.10") ||
					p.SenderHardwareAddr.String() != va.HardwareAddr.String() || p.TargetHardwareAddr.String() != wantTHA.String() ||
					f.EthDst.String() != "ff:ff:ff:ff:ff:ff" || f.EthSrc.String() != va.HardwareAddr.String() {
					t.Errorf("packet %d = %v; want %v sender 192.0.2.10/%s target 192.0.2.10/%s to ff:ff:ff:ff:ff:ff",
						i, f, tt.wantOps[i], va.HardwareAddr, wantTHA)
				}
				if i > 0 {
					if d := f.At.Sub(got[i-1].At); d < tt.gap*8/10 {
						t.Errorf("packet %d came %v after the previous one, want about %v", i, d, tt.gap)
					}
				}
			}
		})
	}
}

func TestAnnounceIPv6SendsUnsolicitedNA(t *testing.T) {
	n := newNode(t)
	n.ns.MustRun(t, "ip", "-6", "addr", "add", "2001:db8::10/64", "dev", "va", "nodad")
	capture := n.peer.Capture(t, "vb")
	var va netif.Link
	n.do(t, func(h *netif.Handle) error {
		va, _ = h.LinkByName("va")
		_, err := netif.Announce(context.Background(), netif.Announcement{IP: addr("2001:db8::10"), Link: va, Count: 3, Interval: 100 * time.Millisecond}, nil)
		return err
	})
	isNA := func(f netnstest.Frame) bool { return f.NA != nil && f.NA.TargetAddress == addr("2001:db8::10") }
	got := capture.WaitFor(3, 2*time.Second, isNA)
	if len(got) != 3 {
		t.Fatalf("peer saw %d neighbour advertisements for 2001:db8::10, want 3: %v", len(got), capture.Frames())
	}
	for i, f := range got {
		var tlla net.HardwareAddr
		for _, o := range f.NA.Options {
			if l, ok := o.(*ndp.LinkLayerAddress); ok && l.Direction == ndp.Target {
				tlla = l.Addr
			}
		}
		if !f.NA.Override || f.NA.Solicited || f.IPSrc != addr("2001:db8::10") || f.IPDst != addr("ff02::1") || f.Hops != 255 ||
			tlla.String() != va.HardwareAddr.String() {
			t.Errorf("NA %d = %v; want override, unsolicited, 2001:db8::10 -> ff02::1, hop limit 255, target link-layer address %s", i, f, va.HardwareAddr)
		}
		if i > 0 && f.At.Sub(got[i-1].At) < 80*time.Millisecond {
			t.Errorf("NA %d came %v after the previous one, want about 100ms", i, f.At.Sub(got[i-1].At))
		}
	}
}

func TestAnnounceStopsWhenToldTo(t *testing.T) {
	n := newNode(t)
	n.ns.MustRun(t, "ip", "addr", "add", "192.0.2.10/24", "dev", "va")
	n.do(t, func(h *netif.Handle) error {
		va, _ := h.LinkByName("va")
		calls := 0
		sent, err := netif.Announce(context.Background(), netif.Announcement{IP: addr("192.0.2.10"), Link: va, Count: 5, Interval: 10 * time.Millisecond, ARPMode: netif.ARPRequest},
			func() bool { calls++; return calls <= 2 })
		if sent != 2 || err != nil {
			t.Errorf("Announce with keepGoing false from the third call sent %d, %v; want 2, nil", sent, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		sent, err = netif.Announce(ctx, netif.Announcement{IP: addr("192.0.2.10"), Link: va, Count: 100, Interval: 20 * time.Millisecond, ARPMode: netif.ARPRequest}, nil)
		if !errors.Is(err, context.DeadlineExceeded) || sent >= 100 {
			t.Errorf("Announce past its deadline sent %d, %v; want fewer than 100 and DeadlineExceeded", sent, err)
		}
		return nil
	})
}

func TestAnnounceRefusesLinksWithoutEthernetAddress(t *testing.T) {
	n := newNode(t)
	n.do(t, func(h *netif.Handle) error {
		lo, _ := h.LinkByName("lo")
		if _, err := netif.Announce(context.Background(), netif.Announcement{IP: addr("127.0.0.3"), Link: lo, Count: 1}, nil); err == nil {
			t.Error("Announce on lo succeeded; want an error naming the link type")
		}
		return nil
	})
}

func TestProbeARP(t *testing.T) {
	n := newNode(t)
	n.peer.MustRun(t, "ip", "addr", "add", "192.0.2.99/24", "dev", "vb")
	var peerMAC string
	n.peer.Do(func() error {
		ifi, err := net.InterfaceByName("vb")
		if err == nil {
			peerMAC = ifi.HardwareAddr.String()
		}
		return err
	})
	tests := []struct {
		name     string
		ip       string
		conflict bool
	}{
		{"a free address", "192.0.2.10", false},
		{"an address the peer has", "192.0.2.99", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n.do(t, func(h *netif.Handle) error {
				va, _ := h.LinkByName("va")
				err := netif.ProbeARP(context.Background(), va, addr(tt.ip), 2, 100*time.Millisecond, 300*time.Millisecond)
				var c *netif.Conflict
				switch {
				case tt.conflict && (!errors.As(err, &c) || c.HardwareAddr.String() != peerMAC):
					t.Errorf("ProbeARP(%s) = %v; want a conflict with the peer %s", tt.ip, err, peerMAC)
				case !tt.conflict && err != nil:
					t.Errorf("ProbeARP(%s) = %v; want nil", tt.ip, err)
				}
				return nil
			})
		})
	}
}
