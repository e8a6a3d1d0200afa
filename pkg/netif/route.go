package netif

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FlushRouteCache drops the kernel's cached routing decisions (ip route
// flush cache) for the family of ip, so connections stop taking a local
// shortcut to an address that has gone. The files are per network
// namespace; the calling thread's is used.
func FlushRouteCache(ip netip.Addr) error {
	path := "/proc/sys/net/ipv4/route/flush"
	if ip.Is6() {
		path = "/proc/sys/net/ipv6/route/flush"
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString("-1\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return opErr("flush route cache", path, err)
}

// DeleteHostRoute removes the main table's route to exactly ip (a /32 or
// /128) through the link, if there is one.
func (h *Handle) DeleteHostRoute(ip netip.Addr, l Link) error {
	dst := netip.PrefixFrom(ip, ip.BitLen())
	err := h.nl.RouteDel(&netlink.Route{Dst: toIPNet(dst), LinkIndex: l.Index, Table: unix.RT_TABLE_MAIN, Scope: netlink.SCOPE_NOWHERE})
	if errors.Is(err, unix.ESRCH) {
		err = nil
	}
	return opErr(fmt.Sprintf("delete route %s via", dst), l.Name, err)
}
