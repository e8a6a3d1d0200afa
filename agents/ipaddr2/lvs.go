package ipaddr2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/netif"
)

// LVS direct routing (lvs_support): a real server keeps the service
// address as a /32 on a loopback interface. When this node takes the
// address over as the director, start moves it from loopback to the
// interface, and stop puts it back, from what start saved.

// loopbackAddr is a loopback address that start removed.
type loopbackAddr struct {
	Prefix    netip.Prefix `json:"prefix"`
	Link      string       `json:"link"`
	Label     string       `json:"label,omitempty"`
	Broadcast netip.Addr   `json:"broadcast,omitzero"`
}

func lvsFile(r *ocf.Resource) string { return r.Env.StatePath(".lvs-loopback") }

func ensureStateDir(r *ocf.Resource) error {
	if err := os.MkdirAll(r.Env.RscTmp, 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	return nil
}

// lvsTakeOver removes ip/32 from loopback interfaces, saving it first.
func lvsTakeOver(r *ocf.Resource, h *netif.Handle, ip netip.Addr) error {
	found, err := h.Find(ip, 0)
	if err != nil {
		return ocf.Generic("%v", err)
	}
	var saved []loopbackAddr
	for _, a := range found {
		if a.Prefix.Bits() != 32 {
			continue
		}
		l, err := h.LinkByIndex(a.LinkIndex)
		if err != nil || !isLoopback(l) {
			continue
		}
		saved = append(saved, loopbackAddr{Prefix: a.Prefix, Link: l.Name, Label: a.Label, Broadcast: a.Broadcast})
	}
	if len(saved) == 0 {
		return nil
	}
	b, _ := json.Marshal(saved)
	if err := ensureStateDir(r); err != nil {
		return ocf.Generic("lvs_support: %v", err)
	}
	if err := os.WriteFile(lvsFile(r), b, 0o644); err != nil {
		return ocf.Generic("lvs_support: save the loopback address: %v", err)
	}
	for _, s := range saved {
		l, err := h.LinkByName(s.Link)
		if err != nil {
			return ocf.Generic("lvs_support: %v", err)
		}
		r.Log.Info(fmt.Sprintf("lvs_support: moving %s from %s", s.Prefix, s.Link))
		a := netif.Address{Prefix: s.Prefix, LinkIndex: l.Index, Label: s.Label}
		if err := h.Delete(a, l.Name); err != nil && !errors.Is(err, netif.ErrAddressNotFound) {
			return permOr(err, ocf.Generic("lvs_support: %v", err))
		}
		if err := h.DeleteHostRoute(ip, l); err != nil {
			r.Log.Warn(fmt.Sprintf("lvs_support: %v", err))
		}
	}
	return nil
}

// lvsRestore puts back what lvsTakeOver removed.
func lvsRestore(r *ocf.Resource, h *netif.Handle) error {
	b, err := os.ReadFile(lvsFile(r))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return ocf.Generic("lvs_support: %v", err)
	}
	var saved []loopbackAddr
	if err := json.Unmarshal(b, &saved); err != nil {
		r.Log.Warn(fmt.Sprintf("lvs_support: ignoring unreadable %s: %v", lvsFile(r), err))
		os.Remove(lvsFile(r))
		return nil
	}
	for _, s := range saved {
		l, err := h.LinkByName(s.Link)
		if err != nil {
			r.Log.Warn(fmt.Sprintf("lvs_support: cannot restore %s: %v", s.Prefix, err))
			continue
		}
		r.Log.Info(fmt.Sprintf("lvs_support: restoring %s on %s", s.Prefix, s.Link))
		a := netif.Address{Prefix: s.Prefix, LinkIndex: l.Index, Label: s.Label, Broadcast: s.Broadcast}
		if err := h.Add(a, l.Name); err != nil && !errors.Is(err, netif.ErrAddressExists) {
			return permOr(err, ocf.Generic("lvs_support: restore %s on %s: %v", s.Prefix, s.Link, err))
		}
	}
	if err := os.Remove(lvsFile(r)); err != nil {
		r.Log.Warn(fmt.Sprintf("lvs_support: %v", err))
	}
	return nil
}
