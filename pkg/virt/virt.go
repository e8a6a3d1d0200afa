// Package virt is ocfbox's access to libvirt: the few domain operations the
// VirtualDomain agent needs (look up, create, define, state, shutdown,
// destroy, save, restore, peer-to-peer live migration), behind one small
// interface with two implementations that pass the same contract tests.
//
// The default implementation speaks libvirt's RPC protocol to the daemon's
// socket in pure Go (github.com/digitalocean/go-libvirt), so the ocfbox
// binary stays statically linked and loads no C library. It resolves
// connection URIs the way libvirt's remote driver does (see ParseURI and
// Endpoint). The implementation on libvirt.org/go/libvirt, for sites that
// need libvirt's client-side drivers or the ssh transport, is built with
// the tag libvirt_cgo (make cgo).
//
// Every call takes a context: when it ends, the call is abandoned and the
// connection closed, so a hung libvirtd can never hold an agent past its
// deadline. Errors are *Error values naming the operation, the domain and
// the URI, and wrap one of the sentinel errors in errors.go.
package virt

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Conn is a connection to one hypervisor.
type Conn interface {
	// URI is the connection URI as given to Connect.
	URI() string

	// Lookup finds a domain by name; ErrNoDomain when there is none.
	Lookup(ctx context.Context, name string) (Domain, error)
	// LookupUUID finds a domain by UUID; ErrNoDomain when there is none.
	LookupUUID(ctx context.Context, uuid UUID) (Domain, error)

	// Create starts a transient domain from XML: libvirt forgets it
	// when it stops.
	Create(ctx context.Context, xml string) (Domain, error)
	// Define makes a persistent, inactive domain from XML.
	Define(ctx context.Context, xml string) (Domain, error)
	// Start starts a defined, inactive domain.
	Start(ctx context.Context, d Domain) error
	// Undefine removes a persistent domain's definition (and libvirt's
	// own copy of its XML); a running domain becomes transient.
	Undefine(ctx context.Context, d Domain) error
	// IsPersistent reports whether the domain is defined.
	IsPersistent(ctx context.Context, d Domain) (bool, error)

	// State is the domain's state and libvirt's reason for it (a
	// virDomain*Reason value of that state).
	State(ctx context.Context, d Domain) (State, int, error)
	// Info is the domain's state, memory and vCPU count.
	Info(ctx context.Context, d Domain) (Info, error)
	// XML is the domain's XML description.
	XML(ctx context.Context, d Domain, flags XMLFlags) (string, error)

	// Shutdown asks the guest to shut down; mode 0 lets the hypervisor
	// choose. It returns once the request is delivered, not when the
	// guest is off.
	Shutdown(ctx context.Context, d Domain, mode ShutdownMode) error
	// Destroy stops the domain at once (SIGTERM, then SIGKILL for qemu).
	Destroy(ctx context.Context, d Domain) error
	// Suspend pauses the domain's vCPUs; Resume lets them run again.
	Suspend(ctx context.Context, d Domain) error
	Resume(ctx context.Context, d Domain) error

	// Save writes the domain's memory to a file and stops it.
	Save(ctx context.Context, d Domain, path string) error
	// Restore starts a domain from a file written by Save.
	Restore(ctx context.Context, path string) error

	// Migrate moves a running domain to another host peer-to-peer: this
	// host's libvirtd connects to p.DestURI itself. It returns when the
	// migration has finished or failed; when ctx ends first, the
	// migration job is aborted, so the domain stays here.
	Migrate(ctx context.Context, d Domain, p MigrateParams) (MigrateReport, error)

	// StartPool makes sure a storage pool is active (refreshing it when
	// it already was); StartNetwork likewise for a virtual network.
	StartPool(ctx context.Context, name string) error
	StartNetwork(ctx context.Context, name string) error

	// Close ends the connection.
	Close() error
}

// Domain identifies a domain on one connection.
type Domain struct {
	Name string
	UUID UUID
	ID   int // the hypervisor's id while running, -1 otherwise
}

// Info is what virDomainGetInfo reports.
type Info struct {
	State     State
	MaxMemKiB uint64
	MemKiB    uint64
	VCPUs     int
}

// State is a domain state (virDomainState).
type State int

// The domain states, with libvirt's values.
const (
	NoState     State = 0
	Running     State = 1
	Blocked     State = 2
	Paused      State = 3
	Shutdown    State = 4 // being shut down
	Shutoff     State = 5
	Crashed     State = 6
	PMSuspended State = 7
)

var stateNames = map[State]string{
	NoState: "no state", Running: "running", Blocked: "idle", Paused: "paused",
	Shutdown: "in shutdown", Shutoff: "shut off", Crashed: "crashed", PMSuspended: "pmsuspended",
}

// String is the state as virsh domstate prints it.
func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("state %d", int(s))
}

// Reasons for the Shutoff state (virDomainShutoffReason) that callers
// and tests look at.
const (
	ShutoffUnknown   = 0
	ShutoffShutdown  = 1
	ShutoffDestroyed = 2
	ShutoffCrashed   = 3
	ShutoffMigrated  = 4
	ShutoffSaved     = 5
)

// UUID is a domain UUID.
type UUID [16]byte

// String formats the UUID the usual way (8-4-4-4-12 hex digits).
func (u UUID) String() string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// IsZero reports whether the UUID is unset.
func (u UUID) IsZero() bool { return u == UUID{} }

// ParseUUID parses a UUID as libvirt accepts it: 32 hex digits, with or
// without dashes between them.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	h := strings.ReplaceAll(strings.TrimSpace(s), "-", "")
	if len(h) != 32 {
		return u, fmt.Errorf("%q is not a UUID", s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("%q is not a UUID", s)
	}
	return u, nil
}

// XMLFlags select what XML describes (virDomainXMLFlags).
type XMLFlags uint32

// The XML flags.
const (
	XMLSecure   XMLFlags = 1 // include security-sensitive data
	XMLInactive XMLFlags = 2 // the persistent config, not the live one
	XMLMigrate  XMLFlags = 8
)

// ShutdownMode selects how Shutdown asks the guest (virDomainShutdownFlagValues).
type ShutdownMode uint32

// The shutdown modes; several may be combined, and the hypervisor picks.
const (
	ShutdownACPI     ShutdownMode = 1
	ShutdownAgent    ShutdownMode = 2
	ShutdownInitctl  ShutdownMode = 4
	ShutdownSignal   ShutdownMode = 8
	ShutdownParavirt ShutdownMode = 16
)

var shutdownModes = []struct {
	name string
	mode ShutdownMode
}{{"acpi", ShutdownACPI}, {"agent", ShutdownAgent}, {"initctl", ShutdownInitctl},
	{"signal", ShutdownSignal}, {"paravirt", ShutdownParavirt}}

// ParseShutdownMode parses virsh shutdown's --mode argument: a
// comma-separated list of acpi, agent, initctl, signal and paravirt.
// The empty string is mode 0, the hypervisor's default.
func ParseShutdownMode(s string) (ShutdownMode, error) {
	var m ShutdownMode
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		found := false
		for _, sm := range shutdownModes {
			if part == sm.name {
				m |= sm.mode
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown shutdown mode %q (known: acpi, agent, initctl, signal, paravirt)", part)
		}
	}
	return m, nil
}

// String is the mode in ParseShutdownMode's syntax.
func (m ShutdownMode) String() string {
	var names []string
	for _, sm := range shutdownModes {
		if m&sm.mode != 0 {
			names = append(names, sm.name)
		}
	}
	if len(names) == 0 {
		return "default"
	}
	return strings.Join(names, ",")
}

// MigrateFlags are virDomainMigrateFlags.
type MigrateFlags uint32

// The migration flags, with libvirt's values.
const (
	MigrateLive             MigrateFlags = 1 << 0
	MigratePeer2Peer        MigrateFlags = 1 << 1
	MigrateTunnelled        MigrateFlags = 1 << 2
	MigratePersistDest      MigrateFlags = 1 << 3
	MigrateUndefineSource   MigrateFlags = 1 << 4
	MigratePaused           MigrateFlags = 1 << 5
	MigrateNonSharedDisk    MigrateFlags = 1 << 6
	MigrateNonSharedInc     MigrateFlags = 1 << 7
	MigrateChangeProtection MigrateFlags = 1 << 8
	MigrateUnsafe           MigrateFlags = 1 << 9
	MigrateOffline          MigrateFlags = 1 << 10
	MigrateCompressed       MigrateFlags = 1 << 11
	MigrateAbortOnError     MigrateFlags = 1 << 12
	MigrateAutoConverge     MigrateFlags = 1 << 13
	MigrateRDMAPinAll       MigrateFlags = 1 << 14
	MigratePostcopy         MigrateFlags = 1 << 15
	MigrateTLS              MigrateFlags = 1 << 16
	MigrateParallel         MigrateFlags = 1 << 17
	MigrateSyncWrites       MigrateFlags = 1 << 18
)

// MigrateParams describe one peer-to-peer migration. Zero values are
// left out, so libvirt's defaults apply.
type MigrateParams struct {
	DestURI string // the peer libvirtd, e.g. qemu+tcp://node2/system
	URI     string // where the data stream goes, e.g. tcp://node2-mig:49152
	Flags   MigrateFlags

	Bandwidth   uint64        // MiB/s
	MaxDowntime time.Duration // set as soon as the migration job runs

	DestName            string
	ListenAddress       string
	GraphicsURI         string
	DisksURI            string
	DisksPort           int
	MigrateDisks        []string
	Compression         []string
	CompMTLevel         int
	CompMTThreads       int
	CompMTDThreads      int
	CompXBZRLECache     uint64
	AutoConvergeInitial int
	AutoConvergeIncr    int
	ParallelConnections int
	TLSDestination      string
	BandwidthPostcopy   uint64
}

// MigrateReport tells what happened besides the migration's result.
type MigrateReport struct {
	// DowntimeSet is true when MaxDowntime was applied to the running
	// migration job; DowntimeErr says why not when it was asked for.
	DowntimeSet bool
	DowntimeErr error
}

// typedParam is one virTypedParameter of a migration, in a form both
// implementations translate.
type typedParam struct {
	name  string
	value any // string, int32 or uint64
}

// typedParams lists the migration parameters that are set.
func (p MigrateParams) typedParams() []typedParam {
	var tp []typedParam
	str := func(name, v string) {
		if v != "" {
			tp = append(tp, typedParam{name, v})
		}
	}
	i32 := func(name string, v int) {
		if v != 0 {
			tp = append(tp, typedParam{name, int32(v)})
		}
	}
	u64 := func(name string, v uint64) {
		if v != 0 {
			tp = append(tp, typedParam{name, v})
		}
	}
	str("migrate_uri", p.URI)
	str("destination_name", p.DestName)
	str("listen_address", p.ListenAddress)
	str("graphics_uri", p.GraphicsURI)
	str("disks_uri", p.DisksURI)
	str("tls.destination", p.TLSDestination)
	u64("bandwidth", p.Bandwidth)
	u64("bandwidth.postcopy", p.BandwidthPostcopy)
	i32("disks_port", p.DisksPort)
	for _, d := range p.MigrateDisks {
		str("migrate_disks", d)
	}
	for _, c := range p.Compression {
		str("compression", c)
	}
	i32("compression.mt.level", p.CompMTLevel)
	i32("compression.mt.threads", p.CompMTThreads)
	i32("compression.mt.dthreads", p.CompMTDThreads)
	u64("compression.xbzrle.cache", p.CompXBZRLECache)
	i32("auto_converge.initial", p.AutoConvergeInitial)
	i32("auto_converge.increment", p.AutoConvergeIncr)
	i32("parallel.connections", p.ParallelConnections)
	return tp
}

// Connect opens a connection to the hypervisor at uri with the
// implementation this binary was built with (see connect_*.go).
func Connect(ctx context.Context, uri string) (Conn, error) {
	return connect(ctx, uri)
}
