package netif_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/netnstest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/pkg/netif"
)

// node is a test network: namespace "node" with link va, whose veth peer
// vb sits in namespace "peer", where a listener can see what va sends.
type node struct {
	ns, peer *netnstest.Namespace
}

func newNode(t *testing.T) node {
	t.Helper()
	testenv.RequireRoot(t)
	n := node{ns: netnstest.New(t), peer: netnstest.New(t)}
	n.ns.Veth(t, "va", n.peer, "vb")
	return n
}

// do runs f with a handle inside the node's namespace.
func (n node) do(t *testing.T, f func(h *netif.Handle) error) {
	t.Helper()
	err := n.ns.Do(func() error {
		h, err := netif.Open()
		if err != nil {
			return err
		}
		defer h.Close()
		return f(h)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func TestLinkByNameFindsNameAndAltnameAndReportsState(t *testing.T) {
	n := newNode(t)
	n.ns.MustRun(t, "ip", "link", "property", "add", "dev", "va", "altname", "uplink-alt")
	n.ns.MustRun(t, "ip", "link", "property", "add", "dev", "va", "altname", "a-very-long-alternative-name-x")
	n.do(t, func(h *netif.Handle) error {
		byName, err := h.LinkByName("va")
		if err != nil {
			return err
		}
		for _, alt := range []string{"uplink-alt", "a-very-long-alternative-name-x"} {
			l, err := h.LinkByName(alt)
			if err != nil {
				return err
			}
			if l.Index != byName.Index || !l.HasName(alt) || l.Name != "va" {
				t.Errorf("LinkByName(%q) = %+v, want link va (index %d) with that altname", alt, l, byName.Index)
			}
		}
		if !byName.AdminUp || !byName.Carries() || byName.OperState != "up" || !byName.Ethernet() {
			t.Errorf("va = %+v, want admin up, state up, carrying, Ethernet", byName)
		}
		if _, err := h.LinkByName("nosuch0"); !errors.Is(err, netif.ErrLinkNotFound) {
			t.Errorf("LinkByName(nosuch0) error = %v, want ErrLinkNotFound", err)
		}
		return nil
	})
}

func TestLinkStateFollowsAdminAndCarrier(t *testing.T) {
	n := newNode(t)
	state := func() netif.Link {
		var l netif.Link
		n.do(t, func(h *netif.Handle) (err error) { l, err = h.LinkByName("va"); return })
		return l
	}
	n.peer.MustRun(t, "ip", "link", "set", "vb", "down")
	if l := state(); l.Carries() || !l.AdminUp {
		t.Errorf("with the peer down, va = %s (admin up %v); want admin up and not carrying", l.State(), l.AdminUp)
	}
	n.ns.MustRun(t, "ip", "link", "set", "va", "down")
	if l := state(); l.Carries() || l.AdminUp || l.State() != "admin down" {
		t.Errorf("after ip link set va down, va = %s; want admin down, not carrying", l.State())
	}
	n.peer.MustRun(t, "ip", "link", "set", "vb", "up")
	n.do(t, func(h *netif.Handle) error {
		l, err := h.LinkByName("va")
		if err != nil {
			return err
		}
		return h.SetUp(l)
	})
	if l := state(); !l.AdminUp {
		t.Errorf("after SetUp, va = %s; want admin up", l.State())
	}
}

func TestAddAndDeleteIPv4WithLabelAndBroadcast(t *testing.T) {
	n := newNode(t)
	n.do(t, func(h *netif.Handle) error {
		va, err := h.LinkByName("va")
		if err != nil {
			return err
		}
		want := netif.Address{Prefix: pfx("192.0.2.10/24"), LinkIndex: va.Index, Label: "va:vip", Broadcast: addr("192.0.2.255")}
		if err := h.Add(want, "va"); err != nil {
			return err
		}
		if err := h.Add(want, "va"); !errors.Is(err, netif.ErrAddressExists) {
			t.Errorf("adding the same address twice: %v, want ErrAddressExists", err)
		}
		found, err := h.Find(addr("192.0.2.10"), va.Index)
		if err != nil {
			return err
		}
		if len(found) != 1 || !found[0].Is(want.Prefix, va.Index) || found[0].Label != "va:vip" || found[0].Broadcast != want.Broadcast {
			t.Fatalf("after Add, Find = %+v; want 192.0.2.10/24 label va:vip brd 192.0.2.255 on va", found)
		}
		if err := h.Delete(found[0], "va"); err != nil {
			return err
		}
		if err := h.Delete(found[0], "va"); !errors.Is(err, netif.ErrAddressNotFound) {
			t.Errorf("deleting twice: %v, want ErrAddressNotFound", err)
		}
		if found, _ := h.Find(addr("192.0.2.10"), 0); len(found) != 0 {
			t.Errorf("after Delete, Find = %v; want nothing", found)
		}
		return nil
	})
}

func TestAddIPv4WithoutBroadcastHasNone(t *testing.T) {
	n := newNode(t)
	n.do(t, func(h *netif.Handle) error {
		va, _ := h.LinkByName("va")
		if err := h.Add(netif.Address{Prefix: pfx("192.0.2.10/24"), LinkIndex: va.Index}, "va"); err != nil {
			return err
		}
		found, err := h.Find(addr("192.0.2.10"), va.Index)
		if err != nil || len(found) != 1 || found[0].Broadcast.IsValid() {
			t.Errorf("Find = %+v, %v; want one address without broadcast (as ip address add without brd)", found, err)
		}
		return nil
	})
}

func TestDeleteRemovesOnlyTheExactPrefix(t *testing.T) {
	n := newNode(t)
	n.ns.MustRun(t, "ip", "addr", "add", "192.0.2.10/32", "dev", "va")
	n.do(t, func(h *netif.Handle) error {
		va, _ := h.LinkByName("va")
		err := h.Delete(netif.Address{Prefix: pfx("192.0.2.10/24"), LinkIndex: va.Index}, "va")
		if !errors.Is(err, netif.ErrAddressNotFound) {
			t.Errorf("deleting 192.0.2.10/24 while only /32 exists: %v, want ErrAddressNotFound", err)
		}
		found, _ := h.Find(addr("192.0.2.10"), va.Index)
		if len(found) != 1 || found[0].Prefix != pfx("192.0.2.10/32") {
			t.Errorf("Find = %v; want the /32 untouched", found)
		}
		return nil
	})
}

func TestAddIPv6FlagsAndLifetime(t *testing.T) {
	n := newNode(t)
	n.do(t, func(h *netif.Handle) error {
		va, _ := h.LinkByName("va")
		zero := uint32(0)
		a := netif.Address{Prefix: pfx("2001:db8::10/64"), LinkIndex: va.Index, NoDAD: true, NoPrefixRoute: true, PreferredLifetime: &zero}
		if err := h.Add(a, "va"); err != nil {
			return err
		}
		found, err := h.Find(addr("2001:db8::10"), va.Index)
		if err != nil || len(found) != 1 {
			t.Fatalf("Find = %v, %v", found, err)
		}
		got := found[0]
		if !got.NoDAD || !got.NoPrefixRoute || got.Tentative || got.PreferredLifetime == nil || *got.PreferredLifetime != 0 {
			t.Errorf("got %+v; want nodad, noprefixroute, not tentative, preferred lifetime 0", got)
		}
		return nil
	})
	routes := n.ns.MustRun(t, "ip", "-6", "route", "show", "2001:db8::/64")
	if strings.TrimSpace(routes) != "" {
		t.Errorf("noprefixroute address got a prefix route: %q", routes)
	}
}

func TestPlaceFollowsTheRoutingTable(t *testing.T) {
	n := newNode(t)
	n.ns.Veth(t, "vc", n.peer, "vd")
	n.ns.MustRun(t, "ip", "addr", "add", "192.0.2.1/24", "brd", "+", "dev", "va")
	n.ns.MustRun(t, "ip", "addr", "add", "192.0.2.129/25", "dev", "vc")
	n.ns.MustRun(t, "ip", "addr", "add", "198.51.100.1/24", "brd", "198.51.100.255", "dev", "vc", "metric", "100")
	n.ns.MustRun(t, "ip", "route", "add", "198.51.100.0/24", "dev", "va", "metric", "50")
	n.ns.MustRun(t, "ip", "-6", "addr", "add", "2001:db8::1/64", "dev", "va", "nodad")
	n.ns.MustRun(t, "ip", "route", "add", "unreachable", "192.0.2.64/26")
	tests := []struct {
		name     string
		ip       string
		bits     int
		link     string
		wantLink string
		wantBits int
		wantBrd  string
		wantErr  error
	}{
		{"a subnet on one link", "192.0.2.10", 0, "", "va", 24, "192.0.2.255", nil},
		{"a longer prefix on another link wins", "192.0.2.200", 0, "", "vc", 25, "", nil},
		{"an unreachable route is ignored", "192.0.2.70", 0, "", "va", 24, "192.0.2.255", nil},
		{"a fixed link keeps its own route", "192.0.2.200", 0, "va", "va", 24, "192.0.2.255", nil},
		{"a fixed prefix length skips longer routes", "192.0.2.200", 24, "", "va", 24, "192.0.2.255", nil},
		{"the lowest metric wins for the same prefix", "198.51.100.7", 0, "", "va", 24, "", nil},
		{"IPv6", "2001:db8::10", 0, "", "va", 64, "", nil},
		{"loopback falls back to the local table", "127.0.0.3", 0, "", "lo", 8, "", nil},
		{"no route at all", "203.0.113.5", 0, "", "", 0, "", netif.ErrNoRoute},
		{"a fixed link without a matching route", "198.51.100.7", 0, "lo", "", 0, "", netif.ErrNoRoute},
		{"a fixed link and prefix need no route", "203.0.113.5", 28, "vc", "vc", 28, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n.do(t, func(h *netif.Handle) error {
				q := netif.Query{IP: addr(tt.ip), Bits: tt.bits}
				if tt.link != "" {
					l, err := h.LinkByName(tt.link)
					if err != nil {
						return err
					}
					q.Link = &l
				}
				p, err := h.Place(q)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Errorf("Place(%s) error = %v, want %v", tt.ip, err, tt.wantErr)
					}
					return nil
				}
				if err != nil {
					return err
				}
				brd := ""
				if p.Broadcast.IsValid() {
					brd = p.Broadcast.String()
				}
				if p.Link.Name != tt.wantLink || p.Bits != tt.wantBits || brd != tt.wantBrd {
					t.Errorf("Place(%s) = %s/%d brd %q; want %s/%d brd %q", tt.ip, p.Link.Name, p.Bits, brd, tt.wantLink, tt.wantBits, tt.wantBrd)
				}
				return nil
			})
		})
	}
}

func TestAddrLabelAddListDelete(t *testing.T) {
	n := newNode(t)
	p := pfx("2001:db8::10/128")
	n.do(t, func(h *netif.Handle) error {
		if err := h.AddAddrLabel(p, 99); err != nil {
			return err
		}
		if err := h.AddAddrLabel(p, 99); err != nil {
			t.Errorf("adding the same label twice: %v, want nil", err)
		}
		labels, err := h.AddrLabels()
		if err != nil {
			return err
		}
		if labels[p] != 99 {
			t.Errorf("labels = %v; want %s → 99", labels, p)
		}
		if err := h.DeleteAddrLabel(p, 99); err != nil {
			return err
		}
		labels, _ = h.AddrLabels()
		if _, ok := labels[p]; ok {
			t.Errorf("label for %s still there after delete: %v", p, labels)
		}
		return h.DeleteAddrLabel(p, 99)
	})
	if out := n.ns.MustRun(t, "ip", "addrlabel", "list"); strings.Contains(out, "2001:db8::10") {
		t.Errorf("ip addrlabel list still shows the label:\n%s", out)
	}
}

func TestFlushRouteCache(t *testing.T) {
	n := newNode(t)
	for _, ip := range []string{"192.0.2.10", "2001:db8::10"} {
		if err := n.ns.Do(func() error { return netif.FlushRouteCache(addr(ip)) }); err != nil {
			t.Errorf("FlushRouteCache(%s): %v", ip, err)
		}
	}
}

func TestDeleteHostRoute(t *testing.T) {
	n := newNode(t)
	n.ns.MustRun(t, "ip", "route", "add", "192.0.2.10/32", "dev", "lo")
	n.do(t, func(h *netif.Handle) error {
		lo, _ := h.LinkByName("lo")
		if err := h.DeleteHostRoute(addr("192.0.2.10"), lo); err != nil {
			return err
		}
		return h.DeleteHostRoute(addr("192.0.2.10"), lo)
	})
	if out := n.ns.MustRun(t, "ip", "route", "show", "192.0.2.10"); strings.TrimSpace(out) != "" {
		t.Errorf("route still there: %q", out)
	}
}

func TestWaitDAD(t *testing.T) {
	n := newNode(t)
	n.peer.MustRun(t, "ip", "-6", "addr", "add", "2001:db8::99/64", "dev", "vb", "nodad")
	waitLinkLocal(t, n.ns, "va")
	waitLinkLocal(t, n.peer, "vb")
	tests := []struct {
		name string
		ip   string
		want error
	}{
		{"a free address becomes usable", "2001:db8::10/64", nil},
		{"an address the peer has fails", "2001:db8::99/64", netif.ErrDADFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n.do(t, func(h *netif.Handle) error {
				va, _ := h.LinkByName("va")
				if err := h.Add(netif.Address{Prefix: pfx(tt.ip), LinkIndex: va.Index}, "va"); err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				err := h.WaitDAD(ctx, pfx(tt.ip), va, 10*time.Second, 50*time.Millisecond)
				if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
					t.Errorf("WaitDAD(%s) = %v, want %v", tt.ip, err, tt.want)
				}
				return nil
			})
		})
	}
}

// waitLinkLocal waits (bounded) until the link's IPv6 link-local address
// has finished DAD, so that neighbour discovery works on it.
func waitLinkLocal(t *testing.T, ns *netnstest.Namespace, link string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		out := ns.MustRun(t, "ip", "-6", "-o", "addr", "show", "dev", link, "scope", "link")
		if strings.Contains(out, "fe80::") && !strings.Contains(out, "tentative") {
			return
		}
	}
	t.Fatalf("%s in %s has no usable link-local address after 10s", link, ns.Name)
}

func TestBackgroundAnnouncerStopsWhenAskedAndCleansUp(t *testing.T) {
	n := newNode(t)
	n.ns.MustRun(t, "ip", "addr", "add", "192.0.2.10/24", "dev", "va")
	capture := n.peer.Capture(t, "vb")
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "announce.pid")
	var pid int
	n.do(t, func(h *netif.Handle) error {
		va, _ := h.LinkByName("va")
		var err error
		pid, err = netif.StartBackground(netif.Announcement{IP: addr("192.0.2.10"), Link: va, Count: 50, Interval: 100 * time.Millisecond, ARPMode: netif.ARPRequest},
			netif.Background{PIDFile: pidFile, LogFile: filepath.Join(dir, "log")})
		return err
	})
	isARP := func(f netnstest.Frame) bool { return f.ARP != nil && f.ARP.SenderIP == addr("192.0.2.10") }
	if got := capture.WaitFor(2, 5*time.Second, isARP); len(got) < 2 {
		t.Fatalf("background announcer sent %d ARPs in 5s, want at least 2", len(got))
	}
	stopped, err := netif.StopBackground(pidFile)
	if err != nil || !stopped {
		t.Fatalf("StopBackground = %v, %v; want the running announcer (pid %d) stopped", stopped, err, pid)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PID file still there after StopBackground: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	before := len(capture.Frames())
	time.Sleep(500 * time.Millisecond)
	if after := len(capture.Frames()); after != before {
		t.Errorf("ARPs kept coming after StopBackground: %d more", after-before)
	}
	if again, err := netif.StopBackground(pidFile); again || err != nil {
		t.Errorf("second StopBackground = %v, %v; want false, nil", again, err)
	}
}

func TestBackgroundAnnouncerEndsWhenTheAddressGoes(t *testing.T) {
	n := newNode(t)
	n.ns.MustRun(t, "ip", "addr", "add", "192.0.2.10/24", "dev", "va")
	capture := n.peer.Capture(t, "vb")
	pidFile := filepath.Join(t.TempDir(), "announce.pid")
	n.do(t, func(h *netif.Handle) error {
		va, _ := h.LinkByName("va")
		_, err := netif.StartBackground(netif.Announcement{IP: addr("192.0.2.10"), Link: va, Count: 100, Interval: 100 * time.Millisecond, ARPMode: netif.ARPRequest},
			netif.Background{PIDFile: pidFile})
		return err
	})
	isARP := func(f netnstest.Frame) bool { return f.ARP != nil }
	capture.WaitFor(2, 5*time.Second, isARP)
	n.ns.MustRun(t, "ip", "addr", "del", "192.0.2.10/24", "dev", "va")
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(pidFile); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the announcer did not end within 5s of the address going away (PID file still there)")
	}
	if pids, _ := n.ns.Processes(); len(pids) != 0 {
		t.Errorf("processes left in the namespace: %v", pids)
	}
	if got := len(capture.WaitFor(100, 0, isARP)); got >= 100 {
		t.Errorf("%d ARPs sent; the announcer should have stopped early", got)
	}
}

func TestEnterNamespace(t *testing.T) {
	n := newNode(t)
	run := func(name string) (netif.Link, error) {
		type res struct {
			l   netif.Link
			err error
		}
		ch := make(chan res, 1)
		go func() { // the goroutine's thread is discarded when it ends
			if err := netif.EnterNamespace(name); err != nil {
				ch <- res{err: err}
				return
			}
			h, err := netif.Open()
			if err != nil {
				ch <- res{err: err}
				return
			}
			defer h.Close()
			l, err := h.LinkByName("va")
			ch <- res{l, err}
		}()
		r := <-ch
		return r.l, r.err
	}
	if l, err := run(n.ns.Name); err != nil || l.Name != "va" {
		t.Errorf("inside %s: LinkByName(va) = %v, %v; want va", n.ns.Name, l, err)
	}
	if _, err := run("ocfbox-no-such-namespace"); !errors.Is(err, netif.ErrNamespaceNotFound) {
		t.Errorf("EnterNamespace(missing) = %v, want ErrNamespaceNotFound", err)
	}
	for _, bad := range []string{"", ".", "..", "../../proc/1/ns/net", "a/b"} {
		if _, err := run(bad); err == nil || errors.Is(err, netif.ErrNamespaceNotFound) {
			t.Errorf("EnterNamespace(%q) = %v, want a refusal of the name", bad, err)
		}
	}
	if _, err := netLinkHere("va"); err == nil {
		t.Errorf("va is visible in the test's own namespace after EnterNamespace ran elsewhere")
	}
}

func netLinkHere(name string) (netif.Link, error) {
	h, err := netif.Open()
	if err != nil {
		return netif.Link{}, err
	}
	defer h.Close()
	return h.LinkByName(name)
}
