package netif

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// rt builds a main-table unicast route straight to a link (IPv4 routes
// get scope link, as the kernel gives a route without a gateway).
func rt(dst string, link, metric int) route {
	p := netip.MustParsePrefix(dst)
	r := route{Dst: p, LinkIndex: link, Metric: metric, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST}
	if p.Addr().Is4() {
		r.Scope = netlink.SCOPE_LINK
	}
	return r
}

func with(r route, f func(*route)) route { f(&r); return r }

func TestChooseRoute(t *testing.T) {
	tests := []struct {
		name   string
		routes []route
		ip     string
		bits   int
		link   int
		want   string // "<dst> link <n>", or "" for no match
	}{
		{"the subnet route of the link decides",
			[]route{rt("192.0.2.0/24", 2, 0)}, "192.0.2.10", 0, 0, "192.0.2.0/24 link 2"},
		{"no route covers the address",
			[]route{rt("198.51.100.0/24", 2, 0)}, "192.0.2.10", 0, 0, ""},
		{"the longest prefix wins over a shorter one on another link",
			[]route{rt("192.0.2.0/24", 2, 0), rt("192.0.2.0/25", 3, 0), rt("192.0.0.0/16", 4, 0)}, "192.0.2.10", 0, 0, "192.0.2.0/25 link 3"},
		{"the lowest metric wins among equally long prefixes",
			[]route{rt("192.0.2.0/24", 2, 200), rt("192.0.2.0/24", 3, 100)}, "192.0.2.10", 0, 0, "192.0.2.0/24 link 3"},
		{"equal prefix and metric: the lowest link index, whatever the dump order",
			[]route{rt("192.0.2.0/24", 5, 0), rt("192.0.2.0/24", 3, 0)}, "192.0.2.10", 0, 0, "192.0.2.0/24 link 3"},
		{"a host route is a /32 and wins",
			[]route{rt("192.0.2.0/24", 2, 0), rt("192.0.2.10/32", 3, 0)}, "192.0.2.10", 0, 0, "192.0.2.10/32 link 3"},
		{"a fixed prefix length skips routes more specific than it",
			[]route{rt("192.0.2.0/24", 2, 0), rt("192.0.2.0/28", 3, 0)}, "192.0.2.10", 24, 0, "192.0.2.0/24 link 2"},
		{"a fixed link skips routes on other links",
			[]route{rt("192.0.2.0/25", 3, 0), rt("192.0.2.0/24", 2, 0)}, "192.0.2.10", 0, 2, "192.0.2.0/24 link 2"},
		{"a fixed link without a route of its own matches nothing",
			[]route{rt("192.0.2.0/24", 3, 0)}, "192.0.2.10", 0, 2, ""},
		{"the default route never matches",
			[]route{rt("0.0.0.0/0", 2, 0)}, "192.0.2.10", 0, 0, ""},
		{"unreachable, prohibit and blackhole routes never match",
			[]route{
				with(rt("192.0.2.0/26", 2, 0), func(r *route) { r.Type = unix.RTN_UNREACHABLE }),
				with(rt("192.0.2.0/27", 3, 0), func(r *route) { r.Type = unix.RTN_PROHIBIT }),
				with(rt("192.0.2.0/28", 4, 0), func(r *route) { r.Type = unix.RTN_BLACKHOLE }),
				rt("192.0.2.0/24", 5, 0),
			}, "192.0.2.10", 0, 0, "192.0.2.0/24 link 5"},
		{"a route through a gateway does not say the subnet is on the link",
			[]route{with(rt("192.0.2.0/25", 3, 0), func(r *route) { r.HasGateway = true; r.Scope = netlink.SCOPE_UNIVERSE }), rt("192.0.2.0/24", 2, 0)},
			"192.0.2.10", 0, 0, "192.0.2.0/24 link 2"},
		{"IPv4 routes of another scope than link are skipped",
			[]route{with(rt("192.0.2.0/25", 3, 0), func(r *route) { r.Scope = netlink.SCOPE_UNIVERSE }), rt("192.0.2.0/24", 2, 0)},
			"192.0.2.10", 0, 0, "192.0.2.0/24 link 2"},
		{"routes of other tables are skipped",
			[]route{with(rt("192.0.2.0/25", 3, 0), func(r *route) { r.Table = 100 })}, "192.0.2.10", 0, 0, ""},
		{"IPv6: the longest prefix wins",
			[]route{rt("2001:db8::/32", 2, 256), rt("2001:db8::/64", 3, 256), rt("fe80::/64", 3, 256)}, "2001:db8::10", 0, 0, "2001:db8::/64 link 3"},
		{"IPv6: the lowest metric wins",
			[]route{rt("2001:db8::/64", 2, 1024), rt("2001:db8::/64", 3, 256)}, "2001:db8::10", 0, 0, "2001:db8::/64 link 3"},
		{"IPv6: a gateway route is skipped",
			[]route{with(rt("2001:db8::/64", 2, 256), func(r *route) { r.HasGateway = true })}, "2001:db8::10", 0, 0, ""},
		{"IPv6: a link-local address needs its link's fe80::/64",
			[]route{rt("fe80::/64", 2, 256), rt("fe80::/64", 3, 256)}, "fe80::10", 0, 3, "fe80::/64 link 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := chooseRoute(tt.routes, netip.MustParseAddr(tt.ip), tt.bits, tt.link)
			got := ""
			if ok {
				got = r.Dst.String() + " link " + itoa(r.LinkIndex)
			}
			if got != tt.want {
				t.Errorf("chooseRoute(%s, bits %d, link %d) = %q, want %q", tt.ip, tt.bits, tt.link, got, tt.want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestChooseLoopbackRoute(t *testing.T) {
	local := []route{
		with(rt("127.0.0.1/32", 1, 0), func(r *route) { r.Table = unix.RT_TABLE_LOCAL; r.Type = unix.RTN_LOCAL }),
		with(rt("127.0.0.0/8", 1, 0), func(r *route) { r.Table = unix.RT_TABLE_LOCAL; r.Type = unix.RTN_LOCAL }),
		with(rt("127.255.255.255/32", 1, 0), func(r *route) { r.Table = unix.RT_TABLE_LOCAL; r.Type = unix.RTN_BROADCAST }),
	}
	r, ok := chooseLoopbackRoute(local, netip.MustParseAddr("127.0.0.3"))
	if !ok || r.Dst.String() != "127.0.0.0/8" || r.LinkIndex != 1 {
		t.Fatalf("chooseLoopbackRoute(127.0.0.3) = %v, %v; want 127.0.0.0/8 on link 1", r, ok)
	}
	if r, ok := chooseLoopbackRoute(local, netip.MustParseAddr("192.0.2.1")); ok {
		t.Fatalf("chooseLoopbackRoute(192.0.2.1) = %v; want no match outside 127/8", r)
	}
}

func TestSubnetBroadcast(t *testing.T) {
	a := func(p, brd string) Address {
		ad := Address{Prefix: netip.MustParsePrefix(p)}
		if brd != "" {
			ad.Broadcast = netip.MustParseAddr(brd)
		}
		return ad
	}
	tests := []struct {
		name  string
		addrs []Address
		vip   string
		src   string
		want  string
	}{
		{"the route's source address gives its broadcast",
			[]Address{a("192.0.2.1/24", "192.0.2.255"), a("192.0.2.2/24", "192.0.2.127")}, "192.0.2.10/24", "192.0.2.2", "192.0.2.127"},
		{"without a source, any address of the same subnet",
			[]Address{a("198.51.100.1/24", "198.51.100.255"), a("192.0.2.1/24", "192.0.2.255")}, "192.0.2.10/24", "", "192.0.2.255"},
		{"an address of another prefix length is another subnet",
			[]Address{a("192.0.2.1/25", "192.0.2.127")}, "192.0.2.10/24", "", ""},
		{"the source address counts only in the same subnet",
			[]Address{a("192.0.2.1/24", "192.0.2.255")}, "192.0.2.10/26", "192.0.2.1", ""},
		{"addresses without a broadcast give none",
			[]Address{a("192.0.2.1/24", "")}, "192.0.2.10/24", "", ""},
		{"the managed address itself does not count",
			[]Address{a("192.0.2.10/24", "192.0.2.255")}, "192.0.2.10/24", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var src netip.Addr
			if tt.src != "" {
				src = netip.MustParseAddr(tt.src)
			}
			got := subnetBroadcast(tt.addrs, netip.MustParsePrefix(tt.vip), src)
			want := netip.Addr{}
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got != want {
				t.Errorf("subnetBroadcast = %v, want %v", got, want)
			}
		})
	}
}

func TestBroadcast(t *testing.T) {
	tests := []struct {
		prefix string
		plus   bool
		want   string
	}{
		{"192.0.2.10/24", true, "192.0.2.255"},
		{"192.0.2.10/24", false, "192.0.2.0"},
		{"192.0.2.10/26", true, "192.0.2.63"},
		{"198.51.100.200/30", true, "198.51.100.203"},
		{"192.0.2.10/31", true, ""},
		{"192.0.2.10/32", true, ""},
		{"2001:db8::10/64", true, ""},
	}
	for _, tt := range tests {
		got := Broadcast(netip.MustParsePrefix(tt.prefix), tt.plus)
		want := netip.Addr{}
		if tt.want != "" {
			want = netip.MustParseAddr(tt.want)
		}
		if got != want {
			t.Errorf("Broadcast(%s, host bits set %v) = %v, want %v", tt.prefix, tt.plus, got, want)
		}
	}
}
