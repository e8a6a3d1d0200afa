// Package netnstest gives root tests a fresh, named network namespace of
// their own, so that they can create links, add addresses and send packets
// without touching the host's interfaces. A namespace comes with only a
// loopback device (up); veth pairs join it to another test namespace. Code
// runs inside it on a locked OS thread (Do) and programs are started inside
// it (Start, Run); at cleanup every process still inside is killed and the
// namespace is deleted, which destroys its links.
//
// Tests that use it must call testenv.RequireRoot first.
package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Dir is where named network namespaces are bind-mounted, as by
// `ip netns add`.
const Dir = "/run/netns"

// Namespace is a named network namespace created for one test.
type Namespace struct {
	Name string
	h    netns.NsHandle
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9]+`)

// New creates a fresh named network namespace for t with its loopback
// device up. It is deleted at cleanup, together with every process still
// running inside it.
func New(t testing.TB) *Namespace {
	t.Helper()
	ns, err := Create(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("remove network namespace %s: %v", ns.Name, err)
		}
	})
	return ns
}

// Create is New for programs that are not tests: it makes a fresh named
// namespace (its name says what made it: "ot-<what>-<random>") with lo
// up. The caller must Close it.
func Create(what string) (*Namespace, error) {
	ns, err := create(nameFor(what))
	if err != nil {
		return nil, fmt.Errorf("create network namespace: %w", err)
	}
	if err := ns.Do(func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}); err != nil {
		ns.Close()
		return nil, fmt.Errorf("bring up lo in %s: %w", ns.Name, err)
	}
	return ns, nil
}

// Close kills every process still inside the namespace and deletes it.
func (ns *Namespace) Close() error { return ns.destroy() }

// nameFor builds a short, unique namespace name: "ot-<what>-<random>".
func nameFor(what string) string {
	base := strings.Trim(unsafeChars.ReplaceAllString(what, "-"), "-")
	if len(base) > 20 {
		base = base[len(base)-20:]
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("ot-%s-%s", strings.Trim(base, "-"), hex.EncodeToString(b[:]))
}

func create(name string) (*Namespace, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The thread that creates the namespace ends up inside it; it
		// goes back to the original namespace or, if that fails, dies
		// with this goroutine (a locked thread is never reused).
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- result{err: fmt.Errorf("get current network namespace: %w", err)}
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name)
		if err != nil {
			if setErr := netns.Set(orig); setErr == nil {
				runtime.UnlockOSThread()
			}
			done <- result{err: fmt.Errorf("create network namespace %s: %w", name, err)}
			return
		}
		if err := netns.Set(orig); err != nil {
			h.Close()
			netns.DeleteNamed(name)
			done <- result{err: fmt.Errorf("leave network namespace %s: %w", name, err)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{h: h}
	}()
	r := <-done
	if r.err != nil {
		return nil, r.err
	}
	return &Namespace{Name: name, h: r.h}, nil
}

// Path is the namespace's bind mount, e.g. /run/netns/ot-TestX-1a2b3c4d.
func (ns *Namespace) Path() string { return filepath.Join(Dir, ns.Name) }

// Handle is an open file descriptor of the namespace, valid until cleanup.
func (ns *Namespace) Handle() netns.NsHandle { return ns.h }

// Do runs fn on an OS thread that is inside the namespace, and waits for
// it. Goroutines that fn starts do not run inside the namespace; sockets
// that fn opens stay in it.
func (ns *Namespace) Do(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("get current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns.h); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter network namespace %s: %w", ns.Name, err)
			return
		}
		var fnErr error
		func() {
			defer func() {
				if p := recover(); p != nil {
					fnErr = fmt.Errorf("panic inside network namespace %s: %v", ns.Name, p)
				}
			}()
			fnErr = fn()
		}()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		} // else: the thread stays locked and is discarded with the goroutine
		done <- fnErr
	}()
	return <-done
}

// Start starts cmd inside the namespace: the child is forked from a
// thread that is inside it.
func (ns *Namespace) Start(cmd *exec.Cmd) error {
	return ns.Do(cmd.Start)
}

// Run runs cmd inside the namespace and waits for it.
func (ns *Namespace) Run(cmd *exec.Cmd) error {
	if err := ns.Start(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// MustRun runs a program inside the namespace (test setup such as
// `ip addr add …`) and fails the test if it does not succeed. It returns
// the program's standard output.
func (ns *Namespace) MustRun(t testing.TB, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := ns.Run(cmd); err != nil {
		t.Fatalf("in %s: %s: %v\n%s", ns.Name, strings.Join(argv, " "), err, stderr.String())
	}
	return stdout.String()
}

// Veth creates a veth pair with end name in ns and end peerName in peer
// (which may be ns itself), and sets both ends up.
func (ns *Namespace) Veth(t testing.TB, name string, peer *Namespace, peerName string) {
	t.Helper()
	if err := ns.AddVeth(name, peer, peerName); err != nil {
		t.Fatal(err)
	}
}

// AddVeth is Veth for programs that are not tests.
func (ns *Namespace) AddVeth(name string, peer *Namespace, peerName string) error {
	err := ns.Do(func() error {
		veth := &netlink.Veth{
			LinkAttrs: netlink.LinkAttrs{Name: name},
			PeerName:  peerName,
		}
		if peer != ns {
			veth.PeerNamespace = netlink.NsFd(int(peer.h))
		}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("add veth %s/%s: %w", name, peerName, err)
		}
		return setUp(name)
	})
	if err == nil {
		err = peer.Do(func() error { return setUp(peerName) })
	}
	if err != nil {
		return fmt.Errorf("veth %s (%s) – %s (%s): %w", name, ns.Name, peerName, peer.Name, err)
	}
	return nil
}

func setUp(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// Processes lists the processes whose network namespace is ns.
func (ns *Namespace) Processes() ([]int, error) {
	var want syscall.Stat_t
	if err := syscall.Stat(ns.Path(), &want); err != nil {
		return nil, fmt.Errorf("stat %s: %w", ns.Path(), err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st) != nil {
			continue // gone, or a kernel thread we may not inspect
		}
		if st.Dev == want.Dev && st.Ino == want.Ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// destroy kills what the test left running inside the namespace (nothing
// else can be in a namespace the test created) and deletes it.
func (ns *Namespace) destroy() error {
	var errs []error
	for attempt := 0; attempt < 50; attempt++ {
		pids, err := ns.Processes()
		if err != nil {
			errs = append(errs, err)
			break
		}
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ns.h.Close()
	if err := netns.DeleteNamed(ns.Name); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
