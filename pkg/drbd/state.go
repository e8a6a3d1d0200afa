package drbd

import "slices"

// Roles of a resource or a peer (drbd_strings.c).
const (
	RolePrimary   = "Primary"
	RoleSecondary = "Secondary"
	RoleUnknown   = "Unknown"
)

// Disk states of a local volume or a peer's volume.
const (
	DiskDiskless     = "Diskless"
	DiskAttaching    = "Attaching"
	DiskDetaching    = "Detaching"
	DiskFailed       = "Failed"
	DiskNegotiating  = "Negotiating"
	DiskInconsistent = "Inconsistent"
	DiskOutdated     = "Outdated"
	DiskUnknown      = "DUnknown"
	DiskConsistent   = "Consistent"
	DiskUpToDate     = "UpToDate"
)

// Connection states that matter to the agent.
const (
	ConnStandAlone = "StandAlone"
	ConnConnecting = "Connecting"
	ConnConnected  = "Connected"
)

// State is one resource as events2 --now shows it. Exists is false when
// the kernel does not know the resource (down, or never brought up).
type State struct {
	Name           string
	Exists         bool
	Role           string // Primary, Secondary or Unknown
	Suspended      string // "no", or why I/O is suspended (user, no-data, fencing, quorum)
	MayPromote     string // DRBD 9 only: "yes"/"no", "" when not reported
	PromotionScore string // DRBD 9 only, "" when not reported
	Devices        []Device
	Connections    []Connection
}

// Device is one local volume.
type Device struct {
	Volume     int
	Minor      int
	Disk       string
	BackingDev string // DRBD 9 only; "none" for a diskless client
	Client     bool   // DRBD 9: intentionally diskless
	Quorum     string // DRBD 9: "yes"/"no"; "" when not reported (8.4)
	Open       string // DRBD 9: "yes"/"no"
}

// Connection is this node's connection to one peer.
type Connection struct {
	PeerNodeID  int
	Name        string // conn-name; 8.4 has "peer", or nothing when StandAlone
	State       string // StandAlone, Connecting, Connected, NetworkFailure, ...
	PeerRole    string
	PeerDevices []PeerDevice
}

// PeerDevice is one volume as seen on one peer.
type PeerDevice struct {
	Volume          int
	Replication     string // Off, Established, SyncSource, SyncTarget, PausedSyncS, ...
	PeerDisk        string
	PeerClient      bool
	ResyncSuspended string
	Done            string // percentage while syncing, "" otherwise
}

// Device returns the device of volume v, or nil.
func (s *State) device(v int) *Device {
	for i := range s.Devices {
		if s.Devices[i].Volume == v {
			return &s.Devices[i]
		}
	}
	return nil
}

func (s *State) connection(id int) *Connection {
	for i := range s.Connections {
		if s.Connections[i].PeerNodeID == id {
			return &s.Connections[i]
		}
	}
	return nil
}

func (c *Connection) peerDevice(v int) *PeerDevice {
	for i := range c.PeerDevices {
		if c.PeerDevices[i].Volume == v {
			return &c.PeerDevices[i]
		}
	}
	return nil
}

// Minors lists the device minors, in volume order.
func (s *State) Minors() []int {
	var m []int
	for _, d := range s.Devices {
		m = append(m, d.Minor)
	}
	return m
}

// Summary is what the promotion decision needs to know, derived from a
// State the way drbd-utils' drbd.ocf reads events2 (drbd-ocf.md A.2).
type Summary struct {
	Primary           bool
	PeerPrimary       bool // some connected peer is Primary
	DisklessClient    bool // every local volume is an intentional diskless client
	Quorate           bool // no volume reports quorum:no
	DiskAllUpToDate   bool
	DiskAllConsistent bool
	DiskTransitional  bool // Attaching or Negotiating
	// SomePeerAllUpToDate: some (non-client) peer has every volume UpToDate.
	SomePeerAllUpToDate bool
	// PeersAllUpToDate: every non-client peer has every volume UpToDate
	// and none is unknown (drbd.ocf's pdsk_all_up_to_date).
	PeersAllUpToDate bool
	// PeerDiskUnknown: some non-client peer's disk state is not known
	// (DUnknown), typically because it is not connected.
	PeerDiskUnknown bool
}

// Summarize derives the Summary of s.
func (s *State) Summarize() Summary {
	sum := Summary{
		Primary:           s.Role == RolePrimary,
		Quorate:           true,
		DiskAllUpToDate:   true,
		DiskAllConsistent: true,
	}
	clients := 0
	for _, d := range s.Devices {
		if d.Client && d.Disk == DiskDiskless {
			clients++
			continue
		}
		if d.Quorum == "no" {
			sum.Quorate = false
		}
		switch d.Disk {
		case DiskUpToDate:
			continue
		case DiskDiskless, DiskFailed, DiskInconsistent, DiskOutdated, DiskDetaching:
			sum.DiskAllConsistent = false
		case DiskAttaching, DiskNegotiating:
			// drbd.ocf's events2 reading leaves "all UpToDate" as it
			// was for a disk in transition; scores follow it.
			sum.DiskTransitional = true
			continue
		case DiskConsistent:
		}
		sum.DiskAllUpToDate = false
	}
	n := len(s.Devices)
	sum.DisklessClient = n == clients
	notAll := false
	for _, c := range s.Connections {
		if c.PeerRole == RolePrimary {
			sum.PeerPrimary = true
		}
		upToDate, known, client := 0, 0, 0
		for _, pd := range c.PeerDevices {
			if pd.PeerClient {
				client++
			}
			switch pd.PeerDisk {
			case DiskUpToDate:
				upToDate++
				known++
			case DiskUnknown, "":
			default:
				known++
			}
		}
		switch {
		case n == client:
			continue // a diskless client peer says nothing about data
		case n == upToDate:
			sum.SomePeerAllUpToDate = true
		default:
			notAll = true
		}
		if known != n {
			sum.PeerDiskUnknown = true
		}
	}
	sum.PeersAllUpToDate = sum.SomePeerAllUpToDate && !notAll && !sum.PeerDiskUnknown
	return sum
}

// StandAlonePeers lists the peers this node is not even trying to reach:
// DRBD drops to StandAlone after an unresolved split brain (or when an
// administrator ran disconnect).
func (s *State) StandAlonePeers() []Connection {
	var out []Connection
	for _, c := range s.Connections {
		if c.State == ConnStandAlone {
			out = append(out, c)
		}
	}
	return out
}

// DisklessVolumes lists the volumes without a local disk that are not
// intentional diskless clients: a detached or failed backing device.
func (s *State) DisklessVolumes() []Device {
	var out []Device
	for _, d := range s.Devices {
		if (d.Disk == DiskDiskless || d.Disk == DiskFailed) && !d.Client {
			out = append(out, d)
		}
	}
	return out
}

// AllConnected reports whether every configured peer is connected.
func (s *State) AllConnected() bool {
	return len(s.Connections) > 0 && !slices.ContainsFunc(s.Connections, func(c Connection) bool { return c.State != ConnConnected })
}
