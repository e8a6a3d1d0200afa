package netif

import (
	"errors"
	"fmt"
)

// Conditions callers decide on. Errors returned by this package wrap one
// of these where it applies; test with errors.Is.
var (
	// ErrLinkNotFound: no link has that name, altname or index.
	ErrLinkNotFound = errors.New("no such network interface")
	// ErrNamespaceNotFound: no named network namespace of that name.
	ErrNamespaceNotFound = errors.New("no such network namespace")
	// ErrAddressExists: the kernel already has the address (EEXIST).
	ErrAddressExists = errors.New("address already assigned")
	// ErrAddressNotFound: the address to delete is not there (EADDRNOTAVAIL).
	ErrAddressNotFound = errors.New("address not assigned")
	// ErrNoRoute: no route in the routing table says where an address belongs.
	ErrNoRoute = errors.New("no matching route")
	// ErrDADFailed: IPv6 duplicate address detection found the address in use.
	ErrDADFailed = errors.New("duplicate address detected")
	// ErrTentative: IPv6 duplicate address detection did not finish in time.
	ErrTentative = errors.New("address still tentative")
)

// OpError is a failed operation on a network object, e.g.
// "add address 192.0.2.10/24 to eth0: permission denied".
type OpError struct {
	Op     string // what was attempted, e.g. "add address 192.0.2.10/24 to"
	Object string // what it was attempted on, e.g. "eth0"
	Err    error
}

func (e *OpError) Error() string {
	if e.Object == "" {
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Op, e.Object, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

func opErr(op, object string, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, Object: object, Err: err}
}

// both makes an error that matches a sentinel with errors.Is and still
// carries the kernel's cause.
type both struct {
	sentinel, cause error
}

func (b both) Error() string   { return b.cause.Error() }
func (b both) Unwrap() []error { return []error{b.sentinel, b.cause} }
