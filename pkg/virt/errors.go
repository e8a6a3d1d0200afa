package virt

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors: every error this package returns wraps at most one of
// them, so callers decide with errors.Is and never parse messages.
var (
	// ErrNoDomain: no domain with that name or UUID (VIR_ERR_NO_DOMAIN).
	ErrNoDomain = errors.New("domain not found")
	// ErrInvalidOperation: the domain is not in a state that allows the
	// operation, e.g. destroy of a domain that is not running
	// (VIR_ERR_OPERATION_INVALID).
	ErrInvalidOperation = errors.New("operation not valid in the domain's state")
	// ErrUnreachable: the daemon cannot be reached, the connection broke,
	// or the call's context ended before the daemon answered.
	ErrUnreachable = errors.New("hypervisor unreachable")
	// ErrNoDriver: the daemon has no driver for the URI
	// (VIR_ERR_NO_CONNECT), e.g. xen:///system on a KVM host.
	ErrNoDriver = errors.New("no hypervisor driver for this URI")
	// ErrInvalidURI: the URI cannot be a libvirt connection URI.
	ErrInvalidURI = errors.New("invalid hypervisor URI")
	// ErrUnsupported: this implementation or the hypervisor does not
	// support the operation (VIR_ERR_NO_SUPPORT, VIR_ERR_OPERATION_UNSUPPORTED,
	// VIR_ERR_ARGUMENT_UNSUPPORTED).
	ErrUnsupported = errors.New("not supported")
	// ErrExists: a domain with that name or UUID already exists
	// (VIR_ERR_DOM_EXIST).
	ErrExists = errors.New("domain already exists")
	// ErrNoResource: no storage pool or virtual network of that name
	// (VIR_ERR_NO_STORAGE_POOL, VIR_ERR_NO_NETWORK).
	ErrNoResource = errors.New("storage pool or network not found")
	// ErrAborted: the operation (a migration) was aborted.
	ErrAborted = errors.New("operation aborted")
)

// libvirt error numbers (virErrorNumber) that map to sentinels.
const (
	codeNoSupport            = 3
	codeNoConnect            = 5
	codeDomExist             = 28
	codeRPC                  = 39
	codeNoDomain             = 42
	codeNoNetwork            = 43
	codeNoStoragePool        = 49
	codeOperationInvalid     = 55
	codeOperationAborted     = 78
	codeArgumentUnsupported  = 74
	codeOperationUnsupported = 84
)

func sentinelFor(code int) error {
	switch code {
	case codeNoDomain:
		return ErrNoDomain
	case codeNoNetwork, codeNoStoragePool:
		return ErrNoResource
	case codeOperationInvalid:
		return ErrInvalidOperation
	case codeNoConnect:
		return ErrNoDriver
	case codeNoSupport, codeOperationUnsupported, codeArgumentUnsupported:
		return ErrUnsupported
	case codeDomExist:
		return ErrExists
	case codeOperationAborted:
		return ErrAborted
	case codeRPC:
		return ErrUnreachable
	}
	return nil
}

// Error is a failed libvirt operation: what was done (Op), to which
// domain, on which connection, libvirt's error number when it gave one,
// the sentinel that classifies it and the underlying cause.
type Error struct {
	Op     string // e.g. "destroy", "connect", "migrate"
	Domain string // empty for connection-level operations
	URI    string
	Code   int   // virErrorNumber, 0 when the error did not come from libvirt
	Kind   error // one of the sentinels, or nil
	Err    error // the cause
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("libvirt ")
	b.WriteString(e.Op)
	if e.Domain != "" {
		fmt.Fprintf(&b, " domain %s", e.Domain)
	}
	if e.URI != "" {
		fmt.Fprintf(&b, " on %s", e.URI)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	} else if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As both the sentinel and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}
