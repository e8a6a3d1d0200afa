// Package ipaddr2 is the IPaddr2 agent, ocfbox's drop-in for
// ocf:heartbeat:IPaddr2: a floating IPv4 or IPv6 address on a Linux
// interface, with the reference agent's parameters and exit statuses,
// driven through netlink and packet sockets (package netif) instead of
// ip, grep, awk, send_arp and send_ua. A monitor starts no process; start
// starts at most one, a detached copy of ocfbox that finishes the
// gratuitous ARPs in the background.
//
// Where this agent answers differently from the reference (resource-agents
// 4.12), the README's deviations table lists the case, both answers and
// the test that shows it; parity_test.go runs both agents side by side.
package ipaddr2

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/netif"
)

// Definition registers the agent with the binary.
var Definition = ocf.Definition{Name: "IPaddr2", Metadata: metadata.Get("IPaddr2"), New: func() ocf.Agent { return Agent{} }}

// Agent implements ocf.Agent and ocf.RecordStopper. The kernel's address
// list is the state; start also records where it put the address, for a
// stop or monitor that can no longer find it from the parameters.
type Agent struct{}

// How long start waits for IPv6 duplicate address detection, and how often
// it looks: the reference agent waits up to 10 × 1s.
const (
	dadLimit = 10 * time.Second
	dadPoll  = 50 * time.Millisecond
)

// Validate checks the parameters and that the address can be placed on
// this node.
func (Agent) Validate(_ context.Context, r *ocf.Resource) error {
	c, h, err := setup(r)
	if err != nil {
		return err
	}
	defer h.Close()
	if _, err := resolve(h, c); err != nil {
		return err
	}
	if c.IFLabel != "" && c.IP.Is6() {
		r.Log.Info(fmt.Sprintf("iflabel=%s is ignored: IPv6 addresses have no labels", c.IFLabel))
	}
	return nil
}

// Start adds the address (unless it is already there), sets the interface
// up and announces the address.
func (Agent) Start(ctx context.Context, r *ocf.Resource) error {
	c, h, err := setup(r)
	if err != nil {
		return err
	}
	defer h.Close()
	t, err := resolve(h, c)
	if err != nil {
		return err
	}
	stopAnnouncer(r)
	if _, ok, err := assigned(h, t); err != nil {
		return err
	} else if ok {
		r.Log.Info(fmt.Sprintf("%s is already on %s", t.Prefix, t.Link.Name))
	} else if err := add(ctx, r, h, c, t); err != nil {
		return err
	}
	recordPlacement(r, t, c.Namespace)
	wasUp := t.Link.Carries()
	if err := h.SetUp(t.Link); err != nil {
		return permOr(err, ocf.Generic("%v", err))
	}
	if !wasUp {
		t.Link = waitCarrier(ctx, h, t.Link)
	}
	if !t.Link.Carries() {
		// The monitor fails such a link; a start that succeeded would
		// only have the address restarted here over and over, where a
		// failed start moves it to a node whose link works (the
		// reference reports success, and its monitor too).
		return ocf.Generic("%s is on %s, but %s is %s: nothing can reach it here", t.Prefix, t.Link.Name, t.Link.Name, t.Link.State())
	}
	if c.IP.Is6() && !c.NoDAD {
		err := h.WaitDAD(ctx, t.Prefix, t.Link, dadLimit, dadPoll)
		switch {
		case errors.Is(err, netif.ErrDADFailed):
			if a, ok, _ := assigned(h, t); ok {
				if derr := h.Delete(a, t.Link.Name); derr != nil {
					r.Log.Error(fmt.Sprintf("remove the duplicate %s again: %v", t.Prefix, derr))
				}
			}
			return ocf.Generic("%s is in use by another host on %s (duplicate address detection failed)", c.IP, t.Link.Name)
		case errors.Is(err, netif.ErrTentative):
			r.Log.Warn(fmt.Sprintf("%s: still tentative after %s; not announcing it", t.Prefix, dadLimit))
			return nil
		case err != nil:
			return ocf.Generic("%v", err)
		}
	}
	return announce(ctx, r, c, t)
}

// carrierWait bounds how long start waits for an interface it has just
// set up to report carrier before it announces the address.
const carrierWait = 5 * time.Second

// waitCarrier waits (bounded) until a link that start has just set up
// can pass traffic, and returns its new state. Announcing before would
// fail (IPv6) or be lost (IPv4); a link that stays without carrier fails
// the start.
func waitCarrier(ctx context.Context, h *netif.Handle, l netif.Link) netif.Link {
	end := time.Now().Add(carrierWait)
	for {
		now, err := h.LinkByIndex(l.Index)
		if err != nil {
			return l
		}
		if now.Carries() || time.Now().After(end) || ctx.Err() != nil {
			return now
		}
		select {
		case <-ctx.Done():
		case <-time.After(dadPoll):
		}
	}
}

// add adds the address as configured, after the optional duplicate check
// and LVS and address-label preparations.
func add(ctx context.Context, r *ocf.Resource, h *netif.Handle, c config, t target) error {
	if c.IP.Is4() && c.RunARPing {
		if !t.Link.Carries() || !t.Link.Ethernet() {
			r.Log.Warn(fmt.Sprintf("run_arping: cannot probe for %s on %s (%s)", c.IP, t.Link.Name, t.Link.State()))
		} else {
			err := netif.ProbeARP(ctx, t.Link, c.IP, 2, time.Second, time.Second)
			var conflict *netif.Conflict
			if errors.As(err, &conflict) {
				return ocf.Generic("run_arping: IPv4 address collision: %v on %s", conflict, t.Link.Name)
			}
			if err != nil {
				r.Log.Warn(fmt.Sprintf("run_arping: %v", err))
			}
		}
	}
	if c.LVS {
		if err := lvsTakeOver(r, h, c.IP); err != nil {
			return err
		}
	}
	if c.AddrLabel {
		if err := h.AddAddrLabel(netip.PrefixFrom(c.IP, 128), c.AddrLabelValue); err != nil {
			r.Log.Warn(err.Error())
		}
	}
	a := c.address(t)
	r.Log.Info(fmt.Sprintf("adding %s to %s%s", t.Prefix, t.Link.Name, describe(a)))
	err := h.Add(a, t.Link.Name)
	if errors.Is(err, netif.ErrAddressExists) {
		if others, _ := h.Find(c.IP, t.Link.Index); len(others) > 0 {
			return ocf.Generic("%s is already on %s as %s; not adding it as %s", c.IP, t.Link.Name, others[0].Prefix, t.Prefix)
		}
	}
	if err != nil {
		return permOr(err, ocf.Generic("%v", err))
	}
	return nil
}

// describe lists an address's options for the log, as ip would show them.
func describe(a netif.Address) string {
	var b strings.Builder
	if a.Broadcast.IsValid() {
		fmt.Fprintf(&b, " brd %s", a.Broadcast)
	}
	if a.Label != "" {
		fmt.Fprintf(&b, " label %s", a.Label)
	}
	if a.NoDAD {
		b.WriteString(" nodad")
	}
	if a.NoPrefixRoute {
		b.WriteString(" noprefixroute")
	}
	if a.PreferredLifetime != nil {
		fmt.Fprintf(&b, " preferred_lft %d", *a.PreferredLifetime)
	}
	return b.String()
}

// permOr turns a lack of privilege into status 4 and anything else into
// the given error.
func permOr(err error, other error) error {
	if errors.Is(err, fs.ErrPermission) {
		return ocf.Perm("%v (needs root or CAP_NET_ADMIN)", err)
	}
	return other
}

// Stop removes the address from its interface: exactly that address, with
// that prefix length, on that interface; anything that merely looks like
// it (the same address on another interface or with another prefix
// length) stays. It also undoes what start prepared: the IPv6 address
// label, and the loopback address lvs_support moved.
func (Agent) Stop(_ context.Context, r *ocf.Resource) error {
	stopAnnouncer(r)
	c, h, err := setup(r)
	if errors.Is(err, errAbsent) {
		r.Log.Info(fmt.Sprintf("stop: %s; nothing to remove", ocf.ReasonOf(err)))
		return nil
	}
	if err != nil {
		return err
	}
	defer h.Close()
	t, err := resolve(h, c)
	if errors.Is(err, errAbsent) {
		if rec, ok := recordedTarget(r, h, c); ok {
			r.Log.Info(fmt.Sprintf("stop: %s; removing %s from %s, where start put it", ocf.ReasonOf(err), rec.Prefix, rec.Link.Name))
			t, err = rec, nil
		}
	}
	switch {
	case errors.Is(err, errAbsent):
		r.Log.Info(fmt.Sprintf("stop: %s; nothing to remove", ocf.ReasonOf(err)))
		if found, _ := h.Find(c.IP, 0); len(found) > 0 {
			name := fmt.Sprintf("#%d", found[0].LinkIndex)
			if l, err := h.LinkByIndex(found[0].LinkIndex); err == nil {
				name = l.Name
			}
			r.Log.Warn(fmt.Sprintf("stop: %s on %s is left alone: it is not where the parameters put the address", found[0].Prefix, name))
		}
	case err != nil:
		return err
	default:
		if rec, moved := movedFrom(r, h, c, t); moved {
			r.Log.Warn(fmt.Sprintf("stop: %s is on %s, where start put it, not on %s, where its route now goes: removing it from %s", rec.Prefix, rec.Link.Name, t.Link.Name, rec.Link.Name))
			if err := remove(r, h, c, rec); err != nil {
				return err
			}
		}
		if err := remove(r, h, c, t); err != nil {
			return err
		}
	}
	forgetPlacement(r)
	if c.AddrLabel {
		if err := h.DeleteAddrLabel(netip.PrefixFrom(c.IP, 128), c.AddrLabelValue); err != nil {
			r.Log.Warn(err.Error())
		}
	}
	if c.LVS {
		return lvsRestore(r, h)
	}
	return nil
}

// remove deletes the address if its interface has it.
func remove(r *ocf.Resource, h *netif.Handle, c config, t target) error {
	a, ok, err := assigned(h, t)
	if err != nil {
		return err
	}
	if !ok {
		r.Log.Info(fmt.Sprintf("%s is not on %s; nothing to remove", t.Prefix, t.Link.Name))
		return nil
	}
	r.Log.Info(fmt.Sprintf("removing %s from %s", t.Prefix, t.Link.Name))
	if err := h.Delete(a, t.Link.Name); err != nil && !errors.Is(err, netif.ErrAddressNotFound) {
		return permOr(err, ocf.Generic("%v", err))
	}
	if c.FlushRoutes {
		if err := netif.FlushRouteCache(c.IP); err != nil {
			r.Log.Warn(err.Error())
		}
	}
	return nil
}

// Monitor reports whether the address is on its interface and the
// interface can carry it:
//
//	address on the interface, interface up          0
//	address not on the interface                     7
//	interface down (admin down or no carrier)        1 (a probe: 1 if the address is there, else 7)
//	interface, namespace or route gone               1 (a probe: 7)
//
// An interface found from the routing table loses its routes when it is
// set down; the placement record of start still finds the address on it
// (1, also for a probe).
//
// The installed reference answers 0 for a link without carrier and, with
// nic and cidr_netmask set, for an admin-down link; the README's
// deviations table says why ocfbox does not.
func (Agent) Monitor(ctx context.Context, r *ocf.Resource) (ocf.Status, error) {
	c, h, err := setup(r)
	if errors.Is(err, errAbsent) {
		return notHere(r, err)
	}
	if err != nil {
		return ocf.StatusOf(err), err
	}
	defer h.Close()
	t, err := resolve(h, c)
	if errors.Is(err, errAbsent) {
		if rec, ok := recordedTarget(r, h, c); ok && !rec.Link.Carries() {
			return ocf.ErrGeneric, ocf.Generic("%s: %s is %s (and %s)", rec.Prefix, rec.Link.Name, rec.Link.State(), ocf.ReasonOf(err))
		}
		return notHere(r, err)
	}
	if err != nil {
		return ocf.StatusOf(err), err
	}
	_, ok, err := assigned(h, t)
	if err != nil {
		return ocf.StatusOf(err), err
	}
	if rec, moved := movedFrom(r, h, c, t); moved && !ok {
		// Not where the route now goes, but still where start put it:
		// "not running" would have it started on another node while
		// this one answers for it too.
		return ocf.ErrGeneric, ocf.Generic("%s is on %s, where start put it, but the route to it now goes through %s", rec.Prefix, rec.Link.Name, t.Link.Name)
	}
	switch {
	case !t.Link.Carries() && (ok || !r.Env.IsProbe()):
		return ocf.ErrGeneric, ocf.Generic("%s: %s is %s", t.Prefix, t.Link.Name, t.Link.State())
	case !ok:
		return ocf.NotRunning, ocf.Stopped("%s is not on %s", t.Prefix, t.Link.Name)
	}
	if c.IP.Is4() && c.ARPRefresh > 0 && announces(t.Link) {
		a := netif.Announcement{IP: c.IP, Link: t.Link, Count: c.ARPRefresh, Interval: c.ARPInterval, ARPMode: c.ARPMode}
		if _, err := netif.Announce(ctx, a, nil); err != nil {
			r.Log.Warn(fmt.Sprintf("arp_count_refresh: %v", err))
		}
	}
	return ocf.Success, nil
}

// notHere is the monitor's answer when the address cannot be on this node
// at all: not running for a probe, a failure for a recurring monitor
// (the resource was running here, and what it needs has gone).
func notHere(r *ocf.Resource, err error) (ocf.Status, error) {
	if r.Env.IsProbe() {
		return ocf.NotRunning, ocf.Stopped("%s", ocf.ReasonOf(err))
	}
	return ocf.ErrGeneric, ocf.Generic("%s", ocf.ReasonOf(err))
}
