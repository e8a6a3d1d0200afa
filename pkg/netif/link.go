package netif

import (
	"errors"
	"net"
	"slices"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Link is a network interface as the kernel reports it.
type Link struct {
	Index        int
	Name         string
	AltNames     []string
	HardwareAddr net.HardwareAddr
	MTU          int
	// AdminUp is IFF_UP: the interface was set up (ip link set … up).
	AdminUp bool
	// OperState is the RFC 2863 state: "up", "down", "lower-layer-down",
	// "dormant", "testing", "not-present" or "unknown" (the usual state
	// of loopback and other devices that do not report carrier).
	OperState string
	Loopback  bool
	// EncapType is the link layer: "ether", "loopback", "infiniband", …
	EncapType string
}

// Carries reports whether the link can pass traffic: it is set up and
// neither it nor the device below it reports being down.
func (l Link) Carries() bool {
	if !l.AdminUp {
		return false
	}
	switch l.OperState {
	case "down", "lower-layer-down", "not-present":
		return false
	}
	return true
}

// State describes the link's state for a log line or an exit reason,
// e.g. "admin down" or "state lower-layer-down".
func (l Link) State() string {
	if !l.AdminUp {
		return "admin down"
	}
	return "state " + l.OperState
}

// HasName reports whether name is the link's name or one of its altnames.
func (l Link) HasName(name string) bool {
	return l.Name == name || slices.Contains(l.AltNames, name)
}

// Ethernet reports whether the link has a 6-byte hardware address, which
// ARP and neighbour advertisements as sent here need.
func (l Link) Ethernet() bool { return len(l.HardwareAddr) == 6 }

func (l Link) netInterface() *net.Interface {
	return &net.Interface{Index: l.Index, Name: l.Name, HardwareAddr: l.HardwareAddr, MTU: l.MTU}
}

func linkFrom(nl netlink.Link) Link {
	a := nl.Attrs()
	return Link{
		Index:        a.Index,
		Name:         a.Name,
		AltNames:     slices.Clone(a.AltNames),
		HardwareAddr: slices.Clone(a.HardwareAddr),
		MTU:          a.MTU,
		AdminUp:      a.Flags&net.FlagUp != 0,
		OperState:    a.OperState.String(),
		Loopback:     a.Flags&net.FlagLoopback != 0,
		EncapType:    a.EncapType,
	}
}

// LinkByName finds a link by its name or one of its altnames.
func (h *Handle) LinkByName(name string) (Link, error) {
	l, err := h.nl.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			err = both{ErrLinkNotFound, err}
		}
		return Link{}, opErr("look up network interface", name, err)
	}
	return linkFrom(l), nil
}

// LinkByIndex finds a link by its index.
func (h *Handle) LinkByIndex(index int) (Link, error) {
	l, err := h.nl.LinkByIndex(index)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			err = both{ErrLinkNotFound, err}
		}
		return Link{}, opErr("look up network interface", "#"+strconv.Itoa(index), err)
	}
	return linkFrom(l), nil
}

// SetUp sets the link administratively up (ip link set dev … up).
func (h *Handle) SetUp(l Link) error {
	nl, err := h.nl.LinkByIndex(l.Index)
	if err == nil {
		err = h.nl.LinkSetUp(nl)
	}
	return opErr("set up", l.Name, err)
}
