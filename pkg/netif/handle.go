package netif

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Handle talks to the kernel of the network namespace that the calling
// thread was in when Open ran. It is not safe for concurrent use.
type Handle struct {
	nl *netlink.Handle
}

// Open returns a Handle on the calling thread's network namespace.
func Open() (*Handle, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, opErr("open", "netlink socket", err)
	}
	return &Handle{nl: h}, nil
}

// Close releases the handle's socket.
func (h *Handle) Close() { h.nl.Close() }

// dumpRetries bounds the retries of a netlink dump that the kernel
// interrupted because the table changed while it was being read
// (netlink.ErrDumpInterrupted, which v1.3.1 returns with partial results).
const dumpRetries = 5

func retryDump[T any](f func() ([]T, error)) ([]T, error) {
	var (
		out []T
		err error
	)
	for range dumpRetries {
		out, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, err
}

// ValidNamespaceName reports whether name can name a network namespace
// under /run/netns: a single path element.
func ValidNamespaceName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00") && len(name) <= 255
}

// EnterNamespace moves the calling goroutine's OS thread into the named
// network namespace (as `ip netns exec` would, for this thread only),
// after which Open, the announcement functions and programs started from
// this goroutine act inside it. The goroutine stays locked to the thread
// for the rest of its life; when it ends the Go runtime discards the
// thread, so the namespace never leaks to other goroutines.
func EnterNamespace(name string) error {
	if !ValidNamespaceName(name) {
		return opErr("enter network namespace", fmt.Sprintf("%q", name), errors.New("not a valid namespace name"))
	}
	runtime.LockOSThread()
	h, err := netns.GetFromName(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = both{ErrNamespaceNotFound, err}
		}
		return opErr("enter network namespace", name, err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return opErr("enter network namespace", name, err)
	}
	return nil
}
