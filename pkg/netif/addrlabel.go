package netif

import (
	"encoding/binary"
	"errors"
	"fmt"

	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// ifAddrLblMsg is the kernel's struct ifaddrlblmsg, which netlink v1.3.1
// does not model.
type ifAddrLblMsg struct {
	prefixLen uint8
	index     uint32
}

func (m ifAddrLblMsg) Len() int { return 12 }

func (m ifAddrLblMsg) Serialize() []byte {
	b := make([]byte, 12)
	b[0] = unix.AF_INET6
	b[2] = m.prefixLen
	binary.NativeEndian.PutUint32(b[4:], m.index)
	return b
}

// AddAddrLabel adds an IPv6 address-selection policy label for the prefix
// (ip addrlabel add prefix P label L), so that source address selection
// (RFC 6724) avoids addresses in it.
func (h *Handle) AddAddrLabel(p netip.Prefix, label uint32) error {
	err := addrLabel(unix.RTM_NEWADDRLABEL, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, p, label)
	if errors.Is(err, unix.EEXIST) {
		err = nil
	}
	return opErr(fmt.Sprintf("add address label %d for", label), p.String(), err)
}

// DeleteAddrLabel removes the label that AddAddrLabel added.
func (h *Handle) DeleteAddrLabel(p netip.Prefix, label uint32) error {
	err := addrLabel(unix.RTM_DELADDRLABEL, unix.NLM_F_ACK, p, label)
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
		err = nil
	}
	return opErr(fmt.Sprintf("delete address label %d for", label), p.String(), err)
}

func addrLabel(msgType, flags int, p netip.Prefix, label uint32) error {
	if !p.Addr().Is6() || p.Addr().Is4In6() {
		return errors.New("address labels are for IPv6 prefixes")
	}
	req := nl.NewNetlinkRequest(msgType, flags)
	req.AddData(ifAddrLblMsg{prefixLen: uint8(p.Bits())})
	a := p.Addr().As16()
	req.AddData(nl.NewRtAttr(unix.IFAL_ADDRESS, a[:]))
	req.AddData(nl.NewRtAttr(unix.IFAL_LABEL, nl.Uint32Attr(label)))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// AddrLabels lists the IPv6 address labels (ip addrlabel list) as prefix
// → label.
func (h *Handle) AddrLabels() (map[netip.Prefix]uint32, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETADDRLABEL, unix.NLM_F_DUMP)
	req.AddData(ifAddrLblMsg{})
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDRLABEL)
	if err != nil {
		return nil, opErr("list address labels", "", err)
	}
	out := map[netip.Prefix]uint32{}
	for _, m := range msgs {
		if len(m) < 12 {
			continue
		}
		plen := int(m[2])
		attrs, err := nl.ParseRouteAttr(m[12:])
		if err != nil {
			return nil, opErr("list address labels", "", err)
		}
		var (
			addr  netip.Addr
			label uint32
			ok    bool
		)
		for _, at := range attrs {
			switch at.Attr.Type {
			case unix.IFAL_ADDRESS:
				addr, _ = netip.AddrFromSlice(at.Value)
			case unix.IFAL_LABEL:
				if len(at.Value) == 4 {
					label, ok = binary.NativeEndian.Uint32(at.Value), true
				}
			}
		}
		if addr.IsValid() && ok {
			out[netip.PrefixFrom(addr, plen)] = label
		}
	}
	return out, nil
}
