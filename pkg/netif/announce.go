package netif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
)

// Announcement tells the neighbours on a link that an address is here:
// gratuitous ARP for IPv4, unsolicited neighbour advertisements (RFC 4861
// 7.2.6) for IPv6.
type Announcement struct {
	IP   netip.Addr
	Link Link
	// Count announcements are made, Interval apart (no wait after the
	// last).
	Count    int
	Interval time.Duration
	// ARPMode is what an IPv4 announcement consists of.
	ARPMode ARPMode
}

// ARPMode is the kind of gratuitous ARP an IPv4 announcement sends. Every
// packet has the address as both sender and target protocol address and
// goes to the Ethernet broadcast address.
type ARPMode int

const (
	// ARPRequestAndReply sends a request (target hardware address
	// zero) and, half an interval later, a reply (target hardware address
	// the link's own), as resource-agents' send_arp does because some
	// hosts heed only one of the two.
	ARPRequestAndReply ARPMode = iota
	// ARPRequest sends requests only (arping -U).
	ARPRequest
	// ARPReply sends replies only (arping -A).
	ARPReply
)

// Announce sends the announcement and returns how many packets went out
// (two per announcement in ARPRequestAndReply mode).
// It stops early, with ctx's error, when ctx is done, and, when keepGoing
// is not nil, as soon as keepGoing reports false (e.g. the address was
// removed meanwhile) before a packet.
func Announce(ctx context.Context, a Announcement, keepGoing func() bool) (int, error) {
	if !a.Link.Ethernet() {
		return 0, opErr("announce "+a.IP.String()+" on", a.Link.Name,
			fmt.Errorf("link type %q has no Ethernet address", a.Link.EncapType))
	}
	var sends []func() error // the packets of one announcement
	if a.IP.Is4() {
		c, err := openARP(a.Link)
		if err != nil {
			return 0, err
		}
		defer c.close()
		hw := a.Link.HardwareAddr
		var ops []arp.Operation
		switch a.ARPMode {
		case ARPRequest:
			ops = []arp.Operation{arp.OperationRequest}
		case ARPReply:
			ops = []arp.Operation{arp.OperationReply}
		default:
			ops = []arp.Operation{arp.OperationRequest, arp.OperationReply}
		}
		for _, op := range ops {
			tha := net.HardwareAddr{0, 0, 0, 0, 0, 0}
			if op == arp.OperationReply {
				tha = hw
			}
			p, err := arp.NewPacket(op, hw, a.IP, tha, a.IP)
			if err != nil {
				return 0, opErr("build gratuitous ARP for", a.IP.String(), err)
			}
			sends = append(sends, func() error { return c.send(p, ethernet.Broadcast) })
		}
	} else {
		c, _, err := ndp.Listen(a.Link.netInterface(), ndp.Addr(a.IP.String()))
		if err != nil {
			return 0, opErr("open ICMPv6 socket for "+a.IP.String()+" on", a.Link.Name, err)
		}
		defer c.Close()
		na := &ndp.NeighborAdvertisement{
			Override:      true,
			TargetAddress: a.IP,
			Options: []ndp.Option{
				&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: a.Link.HardwareAddr},
			},
		}
		sends = append(sends, func() error {
			return opErr("send neighbour advertisement for "+a.IP.String()+" on", a.Link.Name,
				c.WriteTo(na, nil, netip.IPv6LinkLocalAllNodes()))
		})
	}
	gap := a.Interval / time.Duration(len(sends))
	sent := 0
	for i := 0; i < a.Count*len(sends); i++ {
		if i > 0 {
			if err := sleep(ctx, gap); err != nil {
				return sent, err
			}
		}
		if ctx.Err() != nil {
			return sent, ctx.Err()
		}
		if i%len(sends) == 0 && keepGoing != nil && !keepGoing() {
			return sent, nil
		}
		if err := sends[i%len(sends)](); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// arpConn is an AF_PACKET socket for ARP on one link. Unlike arp.Client
// it needs no IPv4 address on the link, which a duplicate address probe
// runs without.
type arpConn struct {
	pc   *packet.Conn
	link Link
}

func openARP(l Link) (*arpConn, error) {
	pc, err := packet.Listen(l.netInterface(), packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		return nil, opErr("open ARP socket on", l.Name, err)
	}
	return &arpConn{pc: pc, link: l}, nil
}

func (c *arpConn) close() { c.pc.Close() }

func (c *arpConn) send(p *arp.Packet, dst net.HardwareAddr) error {
	payload, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	frame, err := (&ethernet.Frame{
		Destination: dst,
		Source:      c.link.HardwareAddr,
		EtherType:   ethernet.EtherTypeARP,
		Payload:     payload,
	}).MarshalBinary()
	if err != nil {
		return err
	}
	_, err = c.pc.WriteTo(frame, &packet.Addr{HardwareAddr: dst})
	return opErr(fmt.Sprintf("send ARP %s for %s on", p.Operation, p.TargetIP), c.link.Name, err)
}

// read returns the next ARP packet, or an error at the deadline.
func (c *arpConn) read(buf []byte) (*arp.Packet, error) {
	for {
		n, _, err := c.pc.ReadFrom(buf)
		if err != nil {
			return nil, err
		}
		var f ethernet.Frame
		if f.UnmarshalBinary(buf[:n]) != nil || f.EtherType != ethernet.EtherTypeARP {
			continue
		}
		var p arp.Packet
		if p.UnmarshalBinary(f.Payload) != nil {
			continue
		}
		return &p, nil
	}
}

// Conflict is a host that answered for an address (duplicate address
// detection found it in use).
type Conflict struct {
	IP           netip.Addr
	HardwareAddr net.HardwareAddr
}

func (c *Conflict) Error() string {
	return fmt.Sprintf("%s is in use by %s", c.IP, c.HardwareAddr)
}

// ProbeARP looks for another host using ip on the link before the address
// is added (RFC 5227 address probes, as arping -D): it sends probes ARP
// probes, interval apart, and listens until wait after the last. It
// returns a *Conflict error when a host other than this one answers or
// announces the address.
func ProbeARP(ctx context.Context, l Link, ip netip.Addr, probes int, interval, wait time.Duration) error {
	if !l.Ethernet() {
		return opErr("probe for "+ip.String()+" on", l.Name, fmt.Errorf("link type %q has no Ethernet address", l.EncapType))
	}
	c, err := openARP(l)
	if err != nil {
		return err
	}
	defer c.close()
	probe, err := arp.NewPacket(arp.OperationRequest, l.HardwareAddr, netip.IPv4Unspecified(),
		net.HardwareAddr{0, 0, 0, 0, 0, 0}, ip)
	if err != nil {
		return opErr("build ARP probe for", ip.String(), err)
	}
	found := make(chan error, 1)
	go func() {
		buf := make([]byte, 1500)
		for {
			p, err := c.read(buf)
			if err != nil {
				found <- nil // socket closed or deadline: nothing heard
				return
			}
			if p.SenderIP == ip && !sameHW(p.SenderHardwareAddr, l.HardwareAddr) {
				found <- &Conflict{IP: ip, HardwareAddr: p.SenderHardwareAddr}
				return
			}
		}
	}()
	end := time.Now().Add(time.Duration(max(probes-1, 0))*interval + wait)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	c.pc.SetReadDeadline(end)
	for i := 0; i < probes; i++ {
		if i > 0 {
			select {
			case err := <-found:
				return errOrCtx(ctx, err)
			case <-time.After(interval):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := c.send(probe, ethernet.Broadcast); err != nil {
			return err
		}
	}
	return errOrCtx(ctx, <-found)
}

func errOrCtx(ctx context.Context, err error) error {
	if err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func sameHW(a, b net.HardwareAddr) bool { return string(a) == string(b) }

// WaitDAD waits until IPv6 duplicate address detection of p on the link
// has finished, polling every poll: nil when the address is usable,
// ErrDADFailed when another host has it, ErrTentative when detection is
// still running at limit or at ctx's deadline, whichever comes first.
func (h *Handle) WaitDAD(ctx context.Context, p netip.Prefix, l Link, limit, poll time.Duration) error {
	end := time.Now().Add(limit)
	for {
		addrs, err := h.Find(p.Addr(), l.Index)
		if err != nil {
			return err
		}
		var a *Address
		for i := range addrs {
			if addrs[i].Prefix == p {
				a = &addrs[i]
			}
		}
		switch {
		case a == nil:
			return opErr("wait for duplicate address detection of "+p.String()+" on", l.Name, ErrAddressNotFound)
		case a.DADFailed:
			return opErr("duplicate address detection of "+p.String()+" on", l.Name, ErrDADFailed)
		case !a.Tentative:
			return nil
		}
		if time.Now().Add(poll).After(end) {
			return opErr("duplicate address detection of "+p.String()+" on", l.Name, ErrTentative)
		}
		if err := sleep(ctx, poll); err != nil {
			return opErr("duplicate address detection of "+p.String()+" on", l.Name, errors.Join(ErrTentative, err))
		}
	}
}
