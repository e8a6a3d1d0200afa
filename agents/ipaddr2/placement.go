package ipaddr2

import (
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
func recordPlacement(r *ocf.Resource, t target) {
	err := ensureStateDir(r)
	if err == nil {
		err = os.WriteFile(placementFile(r), []byte(t.Prefix.String()+" "+t.Link.Name+"\n"), 0o644)
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

// recordedTarget is where start recorded the address, if the record is for
// this address and the interface still holds it exactly (prefix length
// included); ok is false otherwise.
func recordedTarget(r *ocf.Resource, h *netif.Handle, c config) (t target, ok bool) {
	b, err := os.ReadFile(placementFile(r))
	if err != nil {
		return target{}, false
	}
	prefix, link, found := strings.Cut(strings.TrimSpace(string(b)), " ")
	p, err := netip.ParsePrefix(prefix)
	if !found || err != nil || p.Addr() != c.IP {
		return target{}, false
	}
	l, err := h.LinkByName(link)
	if err != nil {
		return target{}, false
	}
	t = target{Link: l, Prefix: p}
	if _, ok, err := assigned(h, t); err != nil || !ok {
		return target{}, false
	}
	return t, true
}
