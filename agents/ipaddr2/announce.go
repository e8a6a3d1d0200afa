package ipaddr2

import (
	"context"
	"fmt"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/netif"
)

// announces reports whether addresses on the link are announced: not on
// loopback interfaces (lo*, as the reference skips them), and only where
// ARP and neighbour advertisements as Ethernet frames make sense.
func announces(l netif.Link) bool { return !isLoopback(l) && l.Ethernet() }

// announcerPIDFile records the background announcer of this resource.
func announcerPIDFile(r *ocf.Resource) string { return r.Env.StatePath(".announce.pid") }

// stopAnnouncer ends a background announcer left from an earlier start,
// so that it does not keep announcing an address that is going away.
func stopAnnouncer(r *ocf.Resource) {
	stopped, err := netif.StopBackground(announcerPIDFile(r))
	switch {
	case err != nil:
		r.Log.Warn(err.Error())
	case stopped:
		r.Log.Info("stopped the background announcer of an earlier start")
	}
}

// announce tells the neighbours that the address is here. With arp_bg the
// first announcement goes out before start returns, its request and reply
// back to back rather than half an interval apart (start would otherwise
// wait 100 ms of the default 200 ms interval for nothing), and a detached
// ocfbox makes the others, Interval apart; otherwise start makes them all,
// spaced as send_arp spaces them. A failure to announce
// fails the start only for IPv6 announced in the foreground, as in the
// reference agent; otherwise it is logged.
// Start calls it once the link carries traffic.
func announce(ctx context.Context, r *ocf.Resource, c config, t target) error {
	if !announces(t.Link) {
		if !isLoopback(t.Link) {
			r.Log.Warn(fmt.Sprintf("%s is not announced: %s has no Ethernet address (link type %s)", c.IP, t.Link.Name, t.Link.EncapType))
		}
		return nil
	}
	a := netif.Announcement{IP: c.IP, Link: t.Link, Count: c.ARPCount, Interval: c.ARPInterval, ARPMode: c.ARPMode}
	failed := func(err error) error {
		if c.IP.Is6() && !c.ARPBg {
			return ocf.Generic("announce %s: %v", c.IP, err)
		}
		r.Log.Error(fmt.Sprintf("announce %s: %v", c.IP, err))
		return nil
	}
	if !c.ARPBg {
		if _, err := netif.Announce(ctx, a, nil); err != nil {
			return failed(err)
		}
		return nil
	}
	began := time.Now()
	first := a
	first.Count = 1
	first.Interval = 0
	if _, err := netif.Announce(ctx, first, nil); err != nil {
		return failed(err)
	}
	if a.Count == 1 {
		return nil
	}
	rest := a
	rest.Count--
	bg := netif.Background{
		Namespace: c.Namespace,
		PIDFile:   announcerPIDFile(r),
		LogFile:   r.Env.Log.File,
		Delay:     max(a.Interval-time.Since(began), 0),
	}
	if err := ensureStateDir(r); err == nil {
		if _, err = netif.StartBackground(rest, bg); err == nil {
			return nil
		}
		r.Log.Warn(fmt.Sprintf("announcing %s in the foreground: %v", c.IP, err))
	} else {
		r.Log.Warn(fmt.Sprintf("announcing %s in the foreground: %v", c.IP, err))
	}
	if err := sleepCtx(ctx, bg.Delay); err != nil {
		return failed(err)
	}
	if _, err := netif.Announce(ctx, rest, nil); err != nil {
		return failed(err)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
