package netif

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Query asks where an address belongs. Bits and Link are what the
// operator fixed (IPaddr2's cidr_netmask and nic); the rest comes from the
// routing table.
type Query struct {
	IP   netip.Addr
	Bits int   // prefix length; 0: take the matching route's
	Link *Link // the interface; nil: take the matching route's
}

// Placement is where an address belongs according to the routing table.
type Placement struct {
	Link Link
	Bits int
	// Route is the destination of the route that decided, and Metric its
	// metric; Route is the zero Prefix when Query fixed both the link and
	// the prefix length and no route matched.
	Route  netip.Prefix
	Metric int
	// Broadcast (IPv4) is the broadcast address of an address that the
	// link already has in the same subnet; the zero Addr when there is
	// none.
	Broadcast netip.Addr
}

// route is the part of a kernel route that placement looks at.
type route struct {
	Dst        netip.Prefix
	LinkIndex  int
	Metric     int
	Src        netip.Addr
	Table      int
	Type       int
	Scope      netlink.Scope
	HasGateway bool
}

func routeFrom(r netlink.Route) (route, bool) {
	if r.Dst == nil {
		return route{}, false // default route
	}
	ip, ok := netip.AddrFromSlice(r.Dst.IP)
	if !ok {
		return route{}, false
	}
	bits, _ := r.Dst.Mask.Size()
	out := route{
		Dst:        netip.PrefixFrom(ip.Unmap(), bits),
		LinkIndex:  r.LinkIndex,
		Metric:     r.Priority,
		Table:      r.Table,
		Type:       r.Type,
		Scope:      r.Scope,
		HasGateway: r.Gw != nil || r.Via != nil || len(r.MultiPath) > 0,
	}
	if src, ok := netip.AddrFromSlice(r.Src); ok {
		out.Src = src.Unmap()
	}
	return out, true
}

// chooseRoute is findif's decision, made on a routing table: among the
// unicast routes of the main table that cover ip (with at most bits
// prefix bits when bits is fixed) and lead straight to a link (IPv4: scope
// link; no gateway), on the given link if linkIndex is not 0, the longest
// prefix wins, then the lowest metric, then the lowest link index so that
// the answer never depends on dump order. Default, unreachable,
// prohibit and blackhole routes never match; host routes count as /32 or
// /128.
func chooseRoute(routes []route, ip netip.Addr, bits, linkIndex int) (route, bool) {
	maxBits := bits
	if maxBits == 0 {
		maxBits = ip.BitLen()
	}
	var cands []route
	for _, r := range routes {
		switch {
		case r.Table != unix.RT_TABLE_MAIN, r.Type != unix.RTN_UNICAST, r.LinkIndex == 0:
			continue
		case r.Dst.Bits() == 0, r.Dst.Bits() > maxBits, !r.Dst.Contains(ip):
			continue
		case r.HasGateway, ip.Is4() && r.Scope != netlink.SCOPE_LINK:
			continue
		case linkIndex != 0 && r.LinkIndex != linkIndex:
			continue
		}
		cands = append(cands, r)
	}
	if len(cands) == 0 {
		return route{}, false
	}
	return slices.MinFunc(cands, func(a, b route) int {
		return cmp.Or(
			cmp.Compare(b.Dst.Bits(), a.Dst.Bits()),
			cmp.Compare(a.Metric, b.Metric),
			cmp.Compare(a.LinkIndex, b.LinkIndex),
		)
	}), true
}

// chooseLoopbackRoute is findif's fallback for 127.0.0.0/8: the local
// table's network route that covers ip (127.0.0.0/8 dev lo).
func chooseLoopbackRoute(routes []route, ip netip.Addr) (route, bool) {
	for _, r := range routes {
		if r.Table == unix.RT_TABLE_LOCAL && r.Type == unix.RTN_LOCAL && r.Dst.Bits() < 32 && r.Dst.Contains(ip) && r.LinkIndex != 0 {
			return r, true
		}
	}
	return route{}, false
}

var loopbackNet = netip.MustParsePrefix("127.0.0.0/8")

func (h *Handle) routes(ip netip.Addr, table int) ([]route, error) {
	filter := &netlink.Route{Table: table}
	list, err := retryDump(func() ([]netlink.Route, error) {
		return h.nl.RouteListFiltered(familyOf(ip), filter, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, opErr("list routes", "", err)
	}
	out := make([]route, 0, len(list))
	for _, r := range list {
		if rt, ok := routeFrom(r); ok {
			out = append(out, rt)
		}
	}
	return out, nil
}

// Place works out from the routing table which link an address belongs
// on, with which prefix length and, for IPv4, which broadcast address its
// subnet already uses. When q fixes both the link and the prefix length
// no route is needed; otherwise a matching route must exist (ErrNoRoute),
// as findif requires: the link needs an address of its own in that subnet,
// or a route to it.
func (h *Handle) Place(q Query) (Placement, error) {
	linkIndex := 0
	if q.Link != nil {
		linkIndex = q.Link.Index
	}
	main, err := h.routes(q.IP, unix.RT_TABLE_MAIN)
	if err != nil {
		return Placement{}, err
	}
	r, found := chooseRoute(main, q.IP, q.Bits, linkIndex)
	if !found && q.IP.Is4() && loopbackNet.Contains(q.IP) && (q.Link == nil || q.Link.Loopback) {
		local, err := h.routes(q.IP, unix.RT_TABLE_LOCAL)
		if err != nil {
			return Placement{}, err
		}
		r, found = chooseLoopbackRoute(local, q.IP)
	}
	var p Placement
	switch {
	case found:
		p.Route, p.Metric, p.Bits = r.Dst, r.Metric, r.Dst.Bits()
		if q.Link != nil {
			p.Link = *q.Link
		} else if p.Link, err = h.LinkByIndex(r.LinkIndex); err != nil {
			return Placement{}, err
		}
	case q.Link != nil && q.Bits != 0:
		p.Link = *q.Link
	default:
		on := ""
		if q.Link != nil {
			on = " on " + q.Link.Name
		}
		return Placement{}, opErr("find a route to", q.IP.String()+on, ErrNoRoute)
	}
	if q.Bits != 0 {
		p.Bits = q.Bits
	}
	if q.IP.Is4() {
		addrs, err := h.Addresses(q.IP, p.Link.Index)
		if err != nil {
			return Placement{}, err
		}
		p.Broadcast = subnetBroadcast(addrs, netip.PrefixFrom(q.IP, p.Bits), r.Src)
	}
	return p, nil
}

// subnetBroadcast is the broadcast address already in use for the subnet
// of p: that of src (the route's preferred source address, as findif
// takes it) if it is in that subnet, else that of any other address of
// the subnet. An address with another prefix length is in another subnet,
// whose broadcast address would be wrong for p.
func subnetBroadcast(addrs []Address, p netip.Prefix, src netip.Addr) netip.Addr {
	net := p.Masked()
	var other netip.Addr
	for _, a := range addrs {
		if !a.Broadcast.IsValid() || a.IP() == p.Addr() || a.Prefix.Bits() != p.Bits() || a.Prefix.Masked() != net {
			continue
		}
		if src.IsValid() && a.IP() == src {
			return a.Broadcast
		}
		if !other.IsValid() {
			other = a.Broadcast
		}
	}
	return other
}

// Broadcast computes an IPv4 broadcast address as `ip address add … brd
// +` (all host bits set) or `brd -` (all host bits clear) does: only for
// prefixes of 30 bits or fewer; longer ones have no broadcast address.
func Broadcast(p netip.Prefix, hostBitsSet bool) netip.Addr {
	if !p.Addr().Is4() || p.Bits() > 30 {
		return netip.Addr{}
	}
	b := p.Masked().Addr().As4()
	if hostBitsSet {
		for i := p.Bits(); i < 32; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return netip.AddrFrom4(b)
}
