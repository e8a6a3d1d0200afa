package drbd

import "errors"

// Sentinel errors; the agent maps each to an OCF status in one place.
var (
	// ErrNoModule: the DRBD kernel module is not loaded (drbdsetup exits
	// 20, /proc/drbd is absent).
	ErrNoModule = errors.New("DRBD kernel module not loaded")
	// ErrNotInConfig: drbdadm does not know the resource for this host.
	ErrNotInConfig = errors.New("resource not defined in the configuration for this host")
	// ErrHeldOpen: DRBD refused to demote or go down because the device
	// is open (mounted, used by a guest, held by a process).
	ErrHeldOpen = errors.New("device is held open")
	// ErrNoUpToDateData: DRBD refused to promote without access to
	// UpToDate data (drbdsetup exit 17).
	ErrNoUpToDateData = errors.New("no access to UpToDate data")
)
