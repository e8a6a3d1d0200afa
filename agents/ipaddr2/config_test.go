package ipaddr2

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/netif"
)

// bind runs parameters through the meta-data, as ocf.Main does, and parses
// them. meta holds CRM_meta_* attributes (clone_max=2 …).
func bind(t *testing.T, params, meta map[string]string) (config, error) {
	t.Helper()
	md, err := ocf.ParseMetadata(metadata.Get("IPaddr2"))
	if err != nil {
		t.Fatal(err)
	}
	environ := []string{"OCF_RESOURCE_INSTANCE=vip"}
	for k, v := range params {
		environ = append(environ, "OCF_RESKEY_"+k+"="+v)
	}
	for k, v := range meta {
		environ = append(environ, "OCF_RESKEY_CRM_meta_"+k+"="+v)
	}
	env := ocf.ReadEnv(environ, "IPaddr2", "start")
	p, err := md.Bind(env.Params, env)
	if err != nil {
		return config{}, err
	}
	return parseConfig(p, env)
}

func TestParseConfigAccepts(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		meta   map[string]string
		check  func(t *testing.T, c config)
	}{
		{"IPv4 with every default", map[string]string{"ip": "192.0.2.10"}, nil, func(t *testing.T, c config) {
			if c.IP != netip.MustParseAddr("192.0.2.10") || c.Bits != 0 || c.NIC != "" || c.Broadcast.Kind != "" {
				t.Errorf("got ip %v bits %d nic %q brd %q; want 192.0.2.10, all auto", c.IP, c.Bits, c.NIC, c.Broadcast.Kind)
			}
			if c.ARPCount != 5 || c.ARPInterval != 200*time.Millisecond || !c.ARPBg || c.ARPMode != netif.ARPRequestAndReply || c.ARPRefresh != 0 {
				t.Errorf("announcements: count %d interval %v bg %v mode %v refresh %d; want 5, 200ms, background, request+reply, 0",
					c.ARPCount, c.ARPInterval, c.ARPBg, c.ARPMode, c.ARPRefresh)
			}
			if c.PreferredLifetime != nil || c.NoDAD || c.NoPrefixRoute || c.FlushRoutes || c.RunARPing || c.LVS {
				t.Errorf("flags set by default: %+v", c)
			}
		}},
		{"IPv6 announces in the foreground by default", map[string]string{"ip": "2001:db8::10"}, nil, func(t *testing.T, c config) {
			if c.ARPBg {
				t.Error("arp_bg defaults to true for IPv6; want false")
			}
		}},
		{"IPv6 written long is canonicalised", map[string]string{"ip": "2001:0DB8:0:0:0:0:0:0010"}, nil, func(t *testing.T, c config) {
			if c.IP.String() != "2001:db8::10" {
				t.Errorf("ip = %s, want 2001:db8::10", c.IP)
			}
		}},
		{"nic and cidr_netmask given", map[string]string{"ip": "192.0.2.10", "nic": "eth0", "cidr_netmask": "24"}, nil, func(t *testing.T, c config) {
			if c.NIC != "eth0" || c.Bits != 24 {
				t.Errorf("nic %q bits %d; want eth0, 24", c.NIC, c.Bits)
			}
		}},
		{"nic:label overrides iflabel", map[string]string{"ip": "192.0.2.10", "nic": "eth0:web", "iflabel": "other"}, nil, func(t *testing.T, c config) {
			if c.NIC != "eth0" || c.IFLabel != "web" {
				t.Errorf("nic %q label %q; want eth0, web", c.NIC, c.IFLabel)
			}
		}},
		{"a dotted-quad netmask is converted with a warning", map[string]string{"ip": "192.0.2.10", "cidr_netmask": "255.255.255.192"}, nil, func(t *testing.T, c config) {
			if c.Bits != 26 || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "26") {
				t.Errorf("bits %d warnings %q; want 26 and a warning naming 26", c.Bits, c.Warnings)
			}
		}},
		{"the old netmask parameter still works", map[string]string{"ip": "192.0.2.10", "netmask": "25"}, nil, func(t *testing.T, c config) {
			if c.Bits != 25 {
				t.Errorf("bits %d; want 25 from netmask=25", c.Bits)
			}
		}},
		{"broadcast +", map[string]string{"ip": "192.0.2.10", "broadcast": "+"}, nil, func(t *testing.T, c config) {
			if c.Broadcast.Kind != "+" {
				t.Errorf("broadcast kind %q; want +", c.Broadcast.Kind)
			}
		}},
		{"broadcast address", map[string]string{"ip": "192.0.2.10", "broadcast": "192.0.2.127"}, nil, func(t *testing.T, c config) {
			if c.Broadcast.Kind != "addr" || c.Broadcast.Addr != netip.MustParseAddr("192.0.2.127") {
				t.Errorf("broadcast %+v; want 192.0.2.127", c.Broadcast)
			}
		}},
		{"unique_clone_address adds the clone number to IPv4", map[string]string{"ip": "192.0.2.10", "unique_clone_address": "true"},
			map[string]string{"clone_max": "4", "clone": "3", "globally_unique": "true"}, func(t *testing.T, c config) {
				if c.IP != netip.MustParseAddr("192.0.2.13") {
					t.Errorf("ip %s; want 192.0.2.13 for clone 3", c.IP)
				}
			}},
		{"unique_clone_address adds the clone number to IPv6", map[string]string{"ip": "2001:db8::ff", "unique_clone_address": "true"},
			map[string]string{"clone_max": "2", "clone": "1", "globally_unique": "true"}, func(t *testing.T, c config) {
				if c.IP != netip.MustParseAddr("2001:db8::100") {
					t.Errorf("ip %s; want 2001:db8::100 for clone 1", c.IP)
				}
			}},
		{"a clone of one instance is not a cloned IP", map[string]string{"ip": "192.0.2.10"}, map[string]string{"clone_max": "1"}, func(t *testing.T, c config) {}},
		{"iputils_arping with -A sends replies", map[string]string{"ip": "192.0.2.10", "arp_sender": "iputils_arping", "send_arp_opts": "-A"}, nil, func(t *testing.T, c config) {
			if c.ARPMode != netif.ARPReply {
				t.Errorf("mode %v; want replies", c.ARPMode)
			}
		}},
		{"libnet_arping sends requests", map[string]string{"ip": "192.0.2.10", "arp_sender": "libnet_arping"}, nil, func(t *testing.T, c config) {
			if c.ARPMode != netif.ARPRequest {
				t.Errorf("mode %v; want requests", c.ARPMode)
			}
		}},
		{"unknown send_arp_opts are warned about", map[string]string{"ip": "192.0.2.10", "send_arp_opts": "-q -U"}, nil, func(t *testing.T, c config) {
			if c.ARPMode != netif.ARPRequest || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], `"-q"`) {
				t.Errorf("mode %v warnings %q; want requests and one warning about -q", c.ARPMode, c.Warnings)
			}
		}},
		{"broadcast for IPv6 is ignored with a warning", map[string]string{"ip": "2001:db8::10", "broadcast": "2001:db8::ff"}, nil, func(t *testing.T, c config) {
			if c.Broadcast.Kind != "" || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "broadcast=2001:db8::ff") {
				t.Errorf("broadcast %+v warnings %q; want none and a warning naming it", c.Broadcast, c.Warnings)
			}
		}},
		{"preferred_lft 0 deprecates an IPv6 address", map[string]string{"ip": "2001:db8::10", "preferred_lft": "0"}, nil, func(t *testing.T, c config) {
			if c.PreferredLifetime == nil || *c.PreferredLifetime != 0 {
				t.Errorf("preferred lifetime %v; want 0", c.PreferredLifetime)
			}
		}},
		{"an empty preferred_lft is the default, forever", map[string]string{"ip": "2001:db8::10", "preferred_lft": ""}, nil, func(t *testing.T, c config) {
			if c.PreferredLifetime != nil {
				t.Errorf("preferred lifetime %d; want forever", *c.PreferredLifetime)
			}
		}},
		{"preferred_lft is IPv6 only", map[string]string{"ip": "192.0.2.10", "preferred_lft": "0"}, nil, func(t *testing.T, c config) {
			if c.PreferredLifetime != nil {
				t.Errorf("preferred lifetime %v for IPv4; want none", *c.PreferredLifetime)
			}
		}},
		{"string-typed booleans as ocf_is_true reads them", map[string]string{"ip": "2001:db8::10", "nodad": "yes", "noprefixroute": "1", "run_arping": "maybe", "arp_bg": "on"}, nil,
			func(t *testing.T, c config) {
				if !c.NoDAD || !c.NoPrefixRoute || c.RunARPing || !c.ARPBg {
					t.Errorf("nodad %v noprefixroute %v run_arping %v arp_bg %v; want true true false true", c.NoDAD, c.NoPrefixRoute, c.RunARPing, c.ARPBg)
				}
			}},
		{"lvs_ipv6_addrlabel for IPv6", map[string]string{"ip": "2001:db8::10", "lvs_ipv6_addrlabel": "true", "lvs_ipv6_addrlabel_value": "100"}, nil, func(t *testing.T, c config) {
			if !c.AddrLabel || c.AddrLabelValue != 100 {
				t.Errorf("addrlabel %v value %d; want true 100", c.AddrLabel, c.AddrLabelValue)
			}
		}},
		{"a link-local address with its nic", map[string]string{"ip": "fe80::10", "nic": "eth0"}, nil, func(t *testing.T, c config) {}},
		{"network_namespace", map[string]string{"ip": "192.0.2.10", "network_namespace": "blue"}, nil, func(t *testing.T, c config) {
			if c.Namespace != "blue" {
				t.Errorf("namespace %q; want blue", c.Namespace)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := bind(t, tt.params, tt.meta)
			if err != nil {
				t.Fatalf("parameters %v were refused: %v", tt.params, err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseConfigRefuses(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		meta   map[string]string
		reason []string // what the exit reason must name
	}{
		{"ip missing", map[string]string{}, nil, []string{"ip"}},
		{"ip not an address", map[string]string{"ip": "192.0.2.300"}, nil, []string{"ip=", "192.0.2.300"}},
		{"ip with a prefix length", map[string]string{"ip": "192.0.2.10/24"}, nil, []string{"ip=", "192.0.2.10/24"}},
		{"ip a host name", map[string]string{"ip": "www.example.org"}, nil, []string{"ip=", "www.example.org"}},
		{"ip with spaces", map[string]string{"ip": " 192.0.2.10"}, nil, []string{"ip="}},
		{"ip with a zone", map[string]string{"ip": "fe80::1%eth0"}, nil, []string{"ip=", "fe80::1%eth0"}},
		{"ip IPv4-mapped IPv6", map[string]string{"ip": "::ffff:192.0.2.1"}, nil, []string{"ip=", "::ffff:192.0.2.1"}},
		{"ip unspecified", map[string]string{"ip": "0.0.0.0"}, nil, []string{"ip=0.0.0.0"}},
		{"ip in 0/8", map[string]string{"ip": "0.1.2.3"}, nil, []string{"ip=0.1.2.3"}},
		{"ip multicast", map[string]string{"ip": "224.0.0.5"}, nil, []string{"ip=224.0.0.5"}},
		{"ip IPv6 multicast", map[string]string{"ip": "ff02::1"}, nil, []string{"ip=ff02::1"}},
		{"link-local without nic", map[string]string{"ip": "fe80::10"}, nil, []string{"ip=fe80::10", "nic"}},
		{"cidr_netmask 33", map[string]string{"ip": "192.0.2.10", "cidr_netmask": "33"}, nil, []string{"cidr_netmask=", "33"}},
		{"cidr_netmask 0", map[string]string{"ip": "192.0.2.10", "cidr_netmask": "0"}, nil, []string{"cidr_netmask=", "0"}},
		{"cidr_netmask 129 for IPv6", map[string]string{"ip": "2001:db8::10", "cidr_netmask": "129"}, nil, []string{"cidr_netmask=", "129"}},
		{"cidr_netmask not a number", map[string]string{"ip": "192.0.2.10", "cidr_netmask": "24x"}, nil, []string{"cidr_netmask=", "24x"}},
		{"cidr_netmask with a slash", map[string]string{"ip": "192.0.2.10", "cidr_netmask": "/24"}, nil, []string{"cidr_netmask=", "/24"}},
		{"cidr_netmask dotted but not contiguous", map[string]string{"ip": "192.0.2.10", "cidr_netmask": "255.0.255.0"}, nil, []string{"cidr_netmask=", "255.0.255.0"}},
		{"broadcast garbage", map[string]string{"ip": "192.0.2.10", "broadcast": "garbage"}, nil, []string{"broadcast=", "garbage"}},
		{"broadcast IPv6", map[string]string{"ip": "192.0.2.10", "broadcast": "2001:db8::ff"}, nil, []string{"broadcast=", "2001:db8::ff"}},
		{"broadcast garbage for an IPv6 address", map[string]string{"ip": "2001:db8::10", "broadcast": "ff::g"}, nil, []string{"broadcast=", "ff::g"}},
		{"nic with a slash", map[string]string{"ip": "192.0.2.10", "nic": "eth0/1"}, nil, []string{"nic=", "eth0/1"}},
		{"nic with a space", map[string]string{"ip": "192.0.2.10", "nic": "eth 0"}, nil, []string{"nic=", "eth 0"}},
		{"label too long", map[string]string{"ip": "192.0.2.10", "nic": "eth0", "iflabel": "averylonglabel"}, nil, []string{"iflabel=", "averylonglabel"}},
		{"label with a space", map[string]string{"ip": "192.0.2.10", "iflabel": "a b"}, nil, []string{"iflabel=", "a b"}},
		{"arp_count 0", map[string]string{"ip": "192.0.2.10", "arp_count": "0"}, nil, []string{"arp_count=0"}},
		{"arp_count negative", map[string]string{"ip": "192.0.2.10", "arp_count": "-3"}, nil, []string{"arp_count=-3"}},
		{"arp_count not a number", map[string]string{"ip": "192.0.2.10", "arp_count": "five"}, nil, []string{"arp_count", "five"}},
		{"arp_interval 0", map[string]string{"ip": "192.0.2.10", "arp_interval": "0"}, nil, []string{"arp_interval=0"}},
		{"arp_count_refresh negative", map[string]string{"ip": "192.0.2.10", "arp_count_refresh": "-1"}, nil, []string{"arp_count_refresh=-1"}},
		{"arp_sender unknown", map[string]string{"ip": "192.0.2.10", "arp_sender": "scapy"}, nil, []string{"arp_sender=", "scapy"}},
		{"preferred_lft garbage", map[string]string{"ip": "2001:db8::10", "preferred_lft": "soon"}, nil, []string{"preferred_lft=", "soon"}},
		{"preferred_lft negative", map[string]string{"ip": "2001:db8::10", "preferred_lft": "-1"}, nil, []string{"preferred_lft=", "-1"}},
		{"lvs_support for IPv6", map[string]string{"ip": "2001:db8::10", "lvs_support": "true"}, nil, []string{"lvs_support=", "IPv4"}},
		{"lvs_ipv6_addrlabel for IPv4", map[string]string{"ip": "192.0.2.10", "lvs_ipv6_addrlabel": "true"}, nil, []string{"lvs_ipv6_addrlabel=", "IPv6"}},
		{"lvs_ipv6_addrlabel_value negative", map[string]string{"ip": "2001:db8::10", "lvs_ipv6_addrlabel": "true", "lvs_ipv6_addrlabel_value": "-1"}, nil,
			[]string{"lvs_ipv6_addrlabel_value=-1"}},
		{"lvs_support in a clone", map[string]string{"ip": "192.0.2.10", "lvs_support": "true", "unique_clone_address": "true"},
			map[string]string{"clone_max": "2", "globally_unique": "true"}, []string{"lvs_support=", "clone-max=2"}},
		{"a cloned IP", map[string]string{"ip": "192.0.2.10"}, map[string]string{"clone_max": "2"}, []string{"clone-max=2", "unique_clone_address", "separate primitives"}},
		{"unique_clone_address without globally-unique", map[string]string{"ip": "192.0.2.10", "unique_clone_address": "true"},
			map[string]string{"clone_max": "2"}, []string{"unique_clone_address", "globally-unique"}},
		{"unique_clone_address past the last octet", map[string]string{"ip": "192.0.2.250", "unique_clone_address": "true"},
			map[string]string{"clone_max": "10", "clone": "6", "globally_unique": "true"}, []string{"ip=192.0.2.250", "clone number 6"}},
		{"clone-max not a number", map[string]string{"ip": "192.0.2.10"}, map[string]string{"clone_max": "many"}, []string{"clone-max=", "many"}},
		{"network_namespace a path", map[string]string{"ip": "192.0.2.10", "network_namespace": "../../proc/1/ns/net"}, nil, []string{"network_namespace=", "../../proc/1/ns/net"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bind(t, tt.params, tt.meta)
			if got := ocf.StatusOf(err); got != ocf.ErrConfigured {
				t.Fatalf("parameters %v: status %v (%v); want OCF_ERR_CONFIGURED", tt.params, got, err)
			}
			reason := ocf.ReasonOf(err)
			for _, want := range tt.reason {
				if !strings.Contains(reason, want) {
					t.Errorf("exit reason %q does not name %q", reason, want)
				}
			}
			if len(reason) > 128 || strings.Contains(reason, "\n") {
				t.Errorf("exit reason %q is not one line of at most 128 bytes", reason)
			}
		})
	}
}

func TestAddToAddr(t *testing.T) {
	tests := []struct {
		ip   string
		n    int
		want string // "" for overflow
	}{
		{"192.0.2.10", 0, "192.0.2.10"},
		{"192.0.2.10", 5, "192.0.2.15"},
		{"192.0.2.250", 5, "192.0.2.255"},
		{"192.0.2.250", 6, ""},
		{"2001:db8::ffff", 1, "2001:db8::1:0"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1, ""},
	}
	for _, tt := range tests {
		got, ok := addToAddr(netip.MustParseAddr(tt.ip), tt.n)
		if tt.want == "" {
			if ok {
				t.Errorf("addToAddr(%s, %d) = %s; want an overflow", tt.ip, tt.n, got)
			}
			continue
		}
		if !ok || got.String() != tt.want {
			t.Errorf("addToAddr(%s, %d) = %s, %v; want %s", tt.ip, tt.n, got, ok, tt.want)
		}
	}
}
