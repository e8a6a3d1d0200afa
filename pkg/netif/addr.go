package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Forever is the lifetime of an address that does not expire.
const Forever uint32 = 0xFFFFFFFF

// Address is an IP address assigned to a link.
type Address struct {
	// Prefix is the address with its prefix length, host bits kept:
	// 192.0.2.10/24.
	Prefix    netip.Prefix
	LinkIndex int
	// Label is the IPv4 address label ("eth0:vip"); IPv6 has none.
	Label string
	// Broadcast is the IPv4 broadcast address; the zero Addr means none.
	Broadcast netip.Addr
	// PreferredLifetime is the preferred lifetime in seconds; nil means
	// forever. 0 makes the address deprecated at once: the kernel keeps
	// it but does not choose it as a source address.
	PreferredLifetime *uint32
	NoDAD             bool // IPv6: skip duplicate address detection
	NoPrefixRoute     bool // do not add the prefix route

	// Read from the kernel; ignored by Add.
	Tentative bool // IPv6 duplicate address detection still running
	DADFailed bool // IPv6 duplicate address detection found a duplicate
	Secondary bool // IPv4: not the first address of its subnet on the link
}

// IP is the address without its prefix length.
func (a Address) IP() netip.Addr { return a.Prefix.Addr() }

func (a Address) String() string { return a.Prefix.String() }

// Is reports whether a is exactly the address ip/bits on the link with the
// given index: same address, same prefix length, same link.
func (a Address) Is(p netip.Prefix, linkIndex int) bool {
	return a.Prefix == p && a.LinkIndex == linkIndex
}

func familyOf(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func toIPNet(p netip.Prefix) *net.IPNet {
	ip := p.Addr()
	return &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(p.Bits(), ip.BitLen())}
}

func addrFrom(a netlink.Addr) (Address, bool) {
	if a.IPNet == nil {
		return Address{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return Address{}, false
	}
	ip = ip.Unmap()
	bits, _ := a.Mask.Size()
	out := Address{
		Prefix:        netip.PrefixFrom(ip, bits),
		LinkIndex:     a.LinkIndex,
		Label:         a.Label,
		NoDAD:         a.Flags&unix.IFA_F_NODAD != 0,
		NoPrefixRoute: a.Flags&unix.IFA_F_NOPREFIXROUTE != 0,
		Tentative:     a.Flags&unix.IFA_F_TENTATIVE != 0,
		DADFailed:     a.Flags&unix.IFA_F_DADFAILED != 0,
		Secondary:     a.Flags&unix.IFA_F_SECONDARY != 0,
	}
	if lft := uint32(a.PreferedLft); lft != Forever && a.ValidLft != 0 {
		out.PreferredLifetime = &lft
	}
	if b, ok := netip.AddrFromSlice(a.Broadcast); ok && !b.Unmap().IsUnspecified() {
		out.Broadcast = b.Unmap()
	}
	return out, true
}

// Addresses lists the addresses of like's family (IPv4 or IPv6) on every link,
// or on one link when linkIndex is not 0.
func (h *Handle) Addresses(like netip.Addr, linkIndex int) ([]Address, error) {
	fam := familyOf(like)
	list, err := retryDump(func() ([]netlink.Addr, error) { return h.nl.AddrList(nil, fam) })
	if err != nil {
		return nil, opErr("list addresses", "", err)
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		if linkIndex != 0 && a.LinkIndex != linkIndex {
			continue
		}
		if a.Peer != nil && !a.Peer.IP.Equal(a.IP) {
			continue // point-to-point peer addresses are not ours to manage
		}
		if ad, ok := addrFrom(a); ok {
			out = append(out, ad)
		}
	}
	return out, nil
}

// Find returns the addresses equal to ip, whatever their prefix length, on
// every link or on one link when linkIndex is not 0.
func (h *Handle) Find(ip netip.Addr, linkIndex int) ([]Address, error) {
	all, err := h.Addresses(ip, linkIndex)
	if err != nil {
		return nil, err
	}
	var out []Address
	for _, a := range all {
		if a.IP() == ip {
			out = append(out, a)
		}
	}
	return out, nil
}

// Add assigns a to its link (ip address add). An IPv4 address gets
// exactly the broadcast address given, or none; one in 127.0.0.0/8 gets
// scope host.
func (h *Handle) Add(a Address, linkName string) error {
	nl := &netlink.Addr{IPNet: toIPNet(a.Prefix), Label: a.Label, LinkIndex: a.LinkIndex}
	if a.Prefix.Addr().Is4() {
		if loopbackNet.Contains(a.Prefix.Addr()) {
			nl.Scope = unix.RT_SCOPE_HOST // as ip(8) does; the kernel refuses 127/8 with scope global
		}
		nl.Broadcast = net.IPv4zero // netlink would otherwise compute one
		if a.Broadcast.IsValid() {
			nl.Broadcast = net.IP(a.Broadcast.AsSlice())
		}
	}
	if a.NoDAD {
		nl.Flags |= unix.IFA_F_NODAD
	}
	if a.NoPrefixRoute {
		nl.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if a.PreferredLifetime != nil && *a.PreferredLifetime != Forever {
		nl.ValidLft = int(Forever)
		nl.PreferedLft = int(*a.PreferredLifetime)
	}
	err := h.nl.AddrAdd(nil, nl)
	if errors.Is(err, unix.EEXIST) {
		err = both{ErrAddressExists, err}
	}
	return opErr(fmt.Sprintf("add address %s to", a.Prefix), linkName, err)
}

// Delete removes exactly a (address, prefix length, label) from its link.
func (h *Handle) Delete(a Address, linkName string) error {
	nl := &netlink.Addr{IPNet: toIPNet(a.Prefix), Label: a.Label, LinkIndex: a.LinkIndex}
	err := h.nl.AddrDel(nil, nl)
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		err = both{ErrAddressNotFound, err}
	}
	return opErr(fmt.Sprintf("delete address %s from", a.Prefix), linkName, err)
}
