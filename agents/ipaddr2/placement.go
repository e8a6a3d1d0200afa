package ipaddr2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/netif"
)

// The placement record remembers where start put the address (prefix and
// interface) until stop removes it. The parameters alone cannot always
// tell: with the interface found from the routing table, an interface
// set administratively down loses its routes, and the address on it can
// no longer be placed. Without the record, monitor would answer "not
// running" and stop would leave the address behind, and it would answer
// again on the network, next to the node Pacemaker started it on, as soon
// as the interface came back up.

// placementFile is where start records the placement.
func placementFile(r *ocf.Resource) string { return r.Env.StatePath(".placed") }

// recordPlacement remembers that t holds the address. A failure is
// logged: the address is up, and the record only helps a later stop.
func recordPlacement(r *ocf.Resource, t target, namespace string) {
	err := ensureStateDir(r)
	if err == nil {
		err = os.WriteFile(placementFile(r), []byte(strings.TrimSpace(t.Prefix.String()+" "+t.Link.Name+" "+namespace)+"\n"), 0o644)
	}
	if err != nil {
		r.Log.Warn(fmt.Sprintf("cannot record where %s is (%v): a stop after its route is gone will not find it", t.Prefix, err))
	}
}

// forgetPlacement removes the record once the address is gone.
func forgetPlacement(r *ocf.Resource) {
	if err := os.Remove(placementFile(r)); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.Log.Warn(fmt.Sprintf("remove %s: %v", placementFile(r), err))
	}
}

// placement is the record: the address with its prefix length, the
// interface and the network namespace ("" for the agent's own).
type placement struct {
	Prefix    netip.Prefix
	Link      string
	Namespace string
}

// readPlacement reads the record; ok is false when there is none (or it
// cannot be read as one).
func readPlacement(r *ocf.Resource) (pl placement, ok bool) {
	b, err := os.ReadFile(placementFile(r))
	if err != nil {
		return placement{}, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 || len(f) > 3 {
		return placement{}, false
	}
	p, err := netip.ParsePrefix(f[0])
	if err != nil {
		return placement{}, false
	}
	pl = placement{Prefix: p, Link: f[1]}
	if len(f) == 3 {
		pl.Namespace = f[2]
	}
	return pl, true
}

// recordedTarget is where start recorded the address, if the record is for
// this address and the interface still holds it exactly (prefix length
// included); ok is false otherwise.
func recordedTarget(r *ocf.Resource, h *netif.Handle, c config) (t target, ok bool) {
	pl, found := readPlacement(r)
	if !found || pl.Prefix.Addr() != c.IP {
		return target{}, false
	}
	return heldAt(h, pl)
}

// heldAt is the target of a placement record, if its interface still
// holds the address exactly.
func heldAt(h *netif.Handle, pl placement) (t target, ok bool) {
	l, err := h.LinkByName(pl.Link)
	if err != nil {
		return target{}, false
	}
	t = target{Link: l, Prefix: pl.Prefix}
	if _, ok, err := assigned(h, t); err != nil || !ok {
		return target{}, false
	}
	return t, true
}

// movedFrom is where start put the address when that is no longer where
// the parameters and the routing table put it (t): the route to the
// subnet moved to another interface, or the prefix length changed, while
// the address stayed on the interface start chose. ok is false when the
// record says t, or the recorded place no longer holds the address.
func movedFrom(r *ocf.Resource, h *netif.Handle, c config, t target) (target, bool) {
	rec, ok := recordedTarget(r, h, c)
	if !ok || rec.Link.Index == t.Link.Index && rec.Prefix == t.Prefix {
		return target{}, false
	}
	return rec, true
}

// StopRecorded removes the address from where start recorded it, for a
// stop whose parameters cannot be used (ocf.RecordStopper): without the
// record nothing was started here.
func (Agent) StopRecorded(_ context.Context, r *ocf.Resource) error {
	stopAnnouncer(r)
	pl, ok := readPlacement(r)
	if !ok {
		return nil
	}
	if pl.Namespace != "" {
		if err := netif.EnterNamespace(pl.Namespace); err != nil {
			if errors.Is(err, netif.ErrNamespaceNotFound) {
				forgetPlacement(r)
				return nil // its namespace, and the address with it, is gone
			}
			return ocf.Generic("network_namespace=%s, where start put %s: %w", pl.Namespace, pl.Prefix, err)
		}
	}
	h, err := netif.Open()
	if err != nil {
		return ocf.Generic("%w", err)
	}
	defer h.Close()
	if t, ok := heldAt(h, pl); ok {
		a, _, _ := assigned(h, t)
		r.Log.Info(fmt.Sprintf("removing %s from %s, where start put it", t.Prefix, t.Link.Name))
		if err := h.Delete(a, t.Link.Name); err != nil && !errors.Is(err, netif.ErrAddressNotFound) {
			return permOr(err, ocf.Generic("remove %s from %s: %v", t.Prefix, t.Link.Name, err))
		}
	}
	forgetPlacement(r)
	return nil
}
