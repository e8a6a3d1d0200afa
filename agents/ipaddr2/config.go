package ipaddr2

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/netif"
)

// config is the resource's parameters, checked and converted, before
// anything on the host is looked at. Everything wrong here is wrong on
// every node: status 6.
type config struct {
	IP      netip.Addr
	Bits    int    // prefix length; 0: from the routing table
	NIC     string // interface name or altname; "": from the routing table
	IFLabel string // the label after "<nic>:"; "" for none

	Broadcast broadcast

	LVS            bool
	AddrLabel      bool
	AddrLabelValue uint32

	ARPInterval time.Duration
	ARPCount    int
	ARPRefresh  int
	ARPBg       bool
	ARPMode     netif.ARPMode
	RunARPing   bool

	FlushRoutes       bool
	NoDAD             bool
	NoPrefixRoute     bool
	PreferredLifetime *uint32 // nil: forever; IPv6 only

	Namespace string

	// Warnings are things to tell the operator that do not stop anything.
	Warnings []string
}

// broadcast is the broadcast parameter: unset, '+', '-' or an address.
type broadcast struct {
	Kind string // "", "+", "-" or "addr"
	Addr netip.Addr
}

// maxLabel is the kernel's limit for an address label (IFNAMSIZ - 1).
const maxLabel = 15

// parseConfig checks the parameters. env supplies the clone meta
// attributes (clone-max, clone number, globally-unique).
func parseConfig(p ocf.Params, env *ocf.Env) (config, error) {
	var c config

	cloneMax := 1
	if raw, ok := env.Meta["clone_max"]; ok && raw != "" {
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil || n < 1 {
			return c, ocf.Configured("meta attribute clone-max=%q is not a positive integer", raw)
		}
		cloneMax = n
	}
	unique := p.Bool("unique_clone_address")
	if unique && !env.Clone.GloballyUnique {
		return c, ocf.Configured("unique_clone_address=%s needs the meta attribute globally-unique=true", p.String("unique_clone_address"))
	}
	if cloneMax > 1 && !unique {
		return c, ocf.Configured("cloned IP (clone-max=%d) needs CLUSTERIP, which current kernels lack: set unique_clone_address or use separate primitives", cloneMax)
	}

	ipText := p.String("ip")
	ip, err := netip.ParseAddr(ipText)
	switch {
	case err != nil || ip.Zone() != "" || ip.Is4In6():
		return c, ocf.Configured("ip=%q is not an IPv4 or IPv6 address", ipText)
	case ip.IsUnspecified() || ip.IsMulticast() || ip.Is4() && (ip.As4()[0] == 0 || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255})):
		return c, ocf.Configured("ip=%s is not a unicast address", ipText)
	}
	if unique {
		n := env.Clone.Number
		shifted, ok := addToAddr(ip, n)
		if !ok {
			return c, ocf.Configured("ip=%s plus clone number %d (unique_clone_address) is not an address", ipText, n)
		}
		ip = shifted
	}
	c.IP = ip
	v6 := ip.Is6()

	c.NIC, c.IFLabel = p.String("nic"), p.String("iflabel")
	if nic, label, ok := strings.Cut(c.NIC, ":"); ok {
		c.NIC, c.IFLabel = nic, label // the deprecated nic=eth0:label form wins over iflabel
	}
	if c.NIC != "" && !validIfName(c.NIC) {
		return c, ocf.Configured("nic=%q is not an interface name", p.String("nic"))
	}
	if c.IFLabel != "" && (strings.ContainsAny(c.IFLabel, " \t\n/\x00") || len(c.IFLabel) > maxLabel-2) {
		return c, ocf.Configured("iflabel=%q is not a label (no spaces; at most %d characters with the interface name)", c.IFLabel, maxLabel)
	}
	if v6 && c.NIC == "" && ip.IsLinkLocalUnicast() {
		return c, ocf.Configured("ip=%s is link-local: set nic", ip)
	}

	mask := p.String("cidr_netmask")
	if mask == "" {
		mask = env.Params["netmask"] // the parameter's old name, still honoured
	}
	if mask != "" {
		bits, warn, ok := parseNetmask(mask, ip.BitLen())
		if !ok {
			return c, ocf.Configured("cidr_netmask=%q is not a prefix length (1-%d)", mask, ip.BitLen())
		}
		c.Bits = bits
		if warn {
			c.Warnings = append(c.Warnings, fmt.Sprintf("cidr_netmask=%s: please write the prefix length %d instead", mask, bits))
		}
	}

	switch b := p.String("broadcast"); {
	case b == "":
	case b == "+" || b == "-":
		c.Broadcast = broadcast{Kind: b}
	default:
		a, err := netip.ParseAddr(b)
		if err != nil || a.Zone() != "" || a.Is4() && a.As4()[0] == 0 || !v6 && !a.Is4() {
			return c, ocf.Configured("broadcast=%q is not an IPv4 address, + or -", b)
		}
		c.Broadcast = broadcast{Kind: "addr", Addr: a}
	}
	if v6 && c.Broadcast.Kind != "" {
		// the reference passes it to ip, which lets it through
		c.Warnings = append(c.Warnings, fmt.Sprintf("broadcast=%s is ignored: IPv6 addresses have no broadcast address", p.String("broadcast")))
		c.Broadcast = broadcast{}
	}

	c.LVS = p.Bool("lvs_support")
	if c.LVS && v6 {
		return c, ocf.Configured("lvs_support=%s is for IPv4; for IPv6 use lvs_ipv6_addrlabel", p.String("lvs_support"))
	}
	if c.LVS && cloneMax > 1 {
		return c, ocf.Configured("lvs_support=%s does not go with a clone (clone-max=%d)", p.String("lvs_support"), cloneMax)
	}
	c.AddrLabel = p.Bool("lvs_ipv6_addrlabel")
	if c.AddrLabel && !v6 {
		return c, ocf.Configured("lvs_ipv6_addrlabel=%s is for IPv6 addresses, ip=%s is IPv4", p.String("lvs_ipv6_addrlabel"), ip)
	}
	if c.AddrLabel {
		v := p.Int("lvs_ipv6_addrlabel_value")
		if v < 0 || int64(v) > int64(^uint32(0)) {
			return c, ocf.Configured("lvs_ipv6_addrlabel_value=%d is not a label (0-4294967295)", v)
		}
		c.AddrLabelValue = uint32(v)
	}

	if v := p.Int("arp_interval"); v > 0 {
		c.ARPInterval = time.Duration(v) * time.Millisecond
	} else {
		return c, ocf.Configured("arp_interval=%s is not a positive number of milliseconds", p.String("arp_interval"))
	}
	if c.ARPCount = p.Int("arp_count"); c.ARPCount < 1 {
		return c, ocf.Configured("arp_count=%s: at least 1 announcement is needed", p.String("arp_count"))
	}
	if c.ARPRefresh = p.Int("arp_count_refresh"); c.ARPRefresh < 0 {
		return c, ocf.Configured("arp_count_refresh=%s is negative", p.String("arp_count_refresh"))
	}
	if bg := p.String("arp_bg"); bg == "" {
		c.ARPBg = !v6
	} else {
		c.ARPBg = ocf.IsTrue(bg)
	}
	switch s := p.String("arp_sender"); s {
	case "", "send_arp":
		c.ARPMode = netif.ARPRequestAndReply
	case "iputils_arping", "libnet_arping", "ipoibarping":
		c.ARPMode = netif.ARPRequest
	default:
		return c, ocf.Configured("arp_sender=%q is not one of send_arp, iputils_arping, libnet_arping, ipoibarping", s)
	}
	for _, opt := range strings.Fields(p.String("send_arp_opts")) {
		switch opt {
		case "-A":
			c.ARPMode = netif.ARPReply
		case "-U":
			c.ARPMode = netif.ARPRequest
		default:
			c.Warnings = append(c.Warnings, fmt.Sprintf("send_arp_opts: option %q is ignored (only -A and -U are understood)", opt))
		}
	}
	c.RunARPing = ocf.IsTrue(p.String("run_arping"))

	c.FlushRoutes = p.Bool("flush_routes")
	c.NoDAD = ocf.IsTrue(p.String("nodad"))
	c.NoPrefixRoute = ocf.IsTrue(p.String("noprefixroute"))
	if lft := p.String("preferred_lft"); lft != "forever" {
		n, err := strconv.ParseUint(lft, 10, 32)
		if err != nil || uint32(n) == netif.Forever {
			return c, ocf.Configured("preferred_lft=%q is not a number of seconds or forever", lft)
		}
		if v6 {
			s := uint32(n)
			c.PreferredLifetime = &s
		}
	}

	if ns := p.String("network_namespace"); ns != "" {
		if !netif.ValidNamespaceName(ns) {
			return c, ocf.Configured("network_namespace=%q is not a namespace name", ns)
		}
		c.Namespace = ns
	}
	return c, nil
}

// validIfName reports whether s can be an interface name or altname.
func validIfName(s string) bool {
	return s != "" && len(s) < 128 && !strings.ContainsAny(s, " \t\n/:\x00") && s != "." && s != ".."
}

// parseNetmask reads a prefix length, or a dotted-quad netmask (which it
// converts, reporting warn); bits is the address length (32 or 128).
func parseNetmask(s string, bits int) (n int, warn, ok bool) {
	if strings.Contains(s, ".") {
		m, err := netip.ParseAddr(s)
		if err != nil || !m.Is4() {
			return 0, false, false
		}
		v := uint32(0)
		for _, b := range m.As4() {
			v = v<<8 | uint32(b)
		}
		ones := 0
		for ones < 32 && v&(1<<(31-ones)) != 0 {
			ones++
		}
		if ones < 32 && v<<ones != 0 {
			return 0, false, false // not contiguous
		}
		if ones < 1 {
			return 0, false, false
		}
		return ones, true, true
	}
	if len(s) > 3 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > bits {
		return 0, false, false
	}
	return n, false, true
}

// addToAddr adds n to ip: to the last octet of an IPv4 address (as the
// reference agent's unique_clone_address does), to the whole address for
// IPv6. ok is false when the result would overflow.
func addToAddr(ip netip.Addr, n int) (netip.Addr, bool) {
	if n < 0 {
		return netip.Addr{}, false
	}
	if ip.Is4() {
		b := ip.As4()
		v := int(b[3]) + n
		if v > 255 {
			return netip.Addr{}, false
		}
		b[3] = byte(v)
		return netip.AddrFrom4(b), true
	}
	b := ip.As16()
	carry := n
	for i := 15; i >= 0 && carry > 0; i-- {
		v := int(b[i]) + carry
		b[i], carry = byte(v), v>>8
	}
	if carry > 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(b), true
}
