package ipaddr2

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/netif"
)

// errAbsent marks what makes the address impossible on this node: its
// interface or namespace does not exist here, or no route says where it
// belongs. A probe reports such a resource not running, stop has nothing
// to remove, a recurring monitor reports a failure, start and validate-all
// fail with the error's status.
var errAbsent = errors.New("not possible on this node")

func absent(status ocf.Status, cause error, format string, args ...any) error {
	return &ocf.Error{Status: status, Reason: fmt.Sprintf(format, args...), Err: errors.Join(errAbsent, cause)}
}

// target is where the address goes on this node.
type target struct {
	Link      netif.Link
	Prefix    netip.Prefix // ip/bits
	Broadcast netip.Addr   // IPv4; zero for none
	Label     string       // "<nic>:<iflabel>", IPv4; "" for none
}

// address is the netif.Address that start adds for t.
func (c config) address(t target) netif.Address {
	return netif.Address{
		Prefix:            t.Prefix,
		LinkIndex:         t.Link.Index,
		Label:             t.Label,
		Broadcast:         t.Broadcast,
		NoDAD:             c.NoDAD && c.IP.Is6(),
		NoPrefixRoute:     c.NoPrefixRoute,
		PreferredLifetime: c.PreferredLifetime,
	}
}

// setup reads the configuration, enters its network namespace and opens a
// netlink handle there. The caller closes the handle.
func setup(r *ocf.Resource) (config, *netif.Handle, error) {
	c, err := parseConfig(r.Params, r.Env)
	if err != nil {
		return c, nil, ocf.BadParameter(err)
	}
	for _, w := range c.Warnings {
		r.Log.Warn(w)
	}
	if c.Namespace != "" {
		if err := netif.EnterNamespace(c.Namespace); err != nil {
			if errors.Is(err, netif.ErrNamespaceNotFound) {
				return c, nil, absent(ocf.ErrArgs, err, "network_namespace=%s does not exist on this node", c.Namespace)
			}
			return c, nil, permOr(err, ocf.Generic("network_namespace=%s: %v", c.Namespace, err))
		}
	}
	h, err := netif.Open()
	if err != nil {
		return c, nil, ocf.Generic("%v", err)
	}
	return c, h, nil
}

// resolve finds the interface, prefix length, broadcast address and label,
// from the parameters and the routing table, as findif does.
func resolve(h *netif.Handle, c config) (target, error) {
	q := netif.Query{IP: c.IP, Bits: c.Bits}
	if c.NIC != "" {
		l, err := h.LinkByName(c.NIC)
		if errors.Is(err, netif.ErrLinkNotFound) {
			return target{}, absent(ocf.ErrArgs, err, "nic=%s does not exist on this node", c.NIC)
		}
		if err != nil {
			return target{}, ocf.Generic("%v", err)
		}
		q.Link = &l
	}
	p, err := h.Place(q)
	if errors.Is(err, netif.ErrNoRoute) {
		on := ""
		if c.NIC != "" {
			on = " on " + c.NIC
		}
		return target{}, absent(ocf.ErrGeneric, err, "no route to %s%s tells its interface and prefix: set nic and cidr_netmask", c.IP, on)
	}
	if err != nil {
		return target{}, ocf.Generic("%v", err)
	}
	t := target{Link: p.Link, Prefix: netip.PrefixFrom(c.IP, p.Bits)}
	if c.IFLabel != "" {
		// checked for IPv6 too, as the reference does, though only IPv4
		// addresses carry labels
		label := t.Link.Name + ":" + c.IFLabel
		if len(label) > maxLabel {
			// A parameter error (start fails the same way), which stop
			// turns into success once the placement record is undone.
			return target{}, ocf.BadParameter(ocf.Configured("iflabel=%s: label %s is longer than %d characters", c.IFLabel, label, maxLabel))
		}
		if c.IP.Is4() {
			t.Label = label
		}
	}
	if c.IP.Is4() {
		switch c.Broadcast.Kind {
		case "addr":
			t.Broadcast = c.Broadcast.Addr
		case "+", "-":
			t.Broadcast = netif.Broadcast(t.Prefix, c.Broadcast.Kind == "+")
		default:
			// That of the subnet's other addresses, else the usual one
			// (findif.sh leaves none, resource-agents issue #656); none
			// on loopback, where broadcast means nothing.
			t.Broadcast = p.Broadcast
			if !t.Broadcast.IsValid() && !isLoopback(t.Link) {
				t.Broadcast = netif.Broadcast(t.Prefix, true)
			}
		}
	}
	return t, nil
}

// assigned returns the address exactly as t describes it (address, prefix
// length, link), if the link has it.
func assigned(h *netif.Handle, t target) (netif.Address, bool, error) {
	found, err := h.Find(t.Prefix.Addr(), t.Link.Index)
	if err != nil {
		return netif.Address{}, false, ocf.Generic("%v", err)
	}
	for _, a := range found {
		if a.Is(t.Prefix, t.Link.Index) {
			return a, true, nil
		}
	}
	return netif.Address{}, false, nil
}

// isLoopback reports whether the link is a loopback interface; like the
// reference, any interface whose name starts with "lo" counts.
func isLoopback(l netif.Link) bool { return l.Loopback || strings.HasPrefix(l.Name, "lo") }
