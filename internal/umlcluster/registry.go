package umlcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"github.com/ocfbox/ocfbox/internal/netnstest"
)

// registry holds one lock file per living cluster, named after its
// namespace; the cluster's process holds a flock on it.
const (
	registry = "/run/ocfbox-umlcluster"
	nsPrefix = "ot-uml-" // what netnstest.Create("uml") names
)

func flock(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// createNamespace removes the leftovers of dead clusters and creates a
// registered namespace for a new one.
func createNamespace(logf func(string, ...any)) (*netnstest.Namespace, *os.File, error) {
	if err := os.MkdirAll(registry, 0o755); err != nil {
		return nil, nil, fmt.Errorf("umlcluster: %w", err)
	}
	// The registry lock makes creating and registering one step, so that
	// nobody takes a namespace being created for a leftover.
	global, err := flock(filepath.Join(registry, ".lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, nil, fmt.Errorf("umlcluster: registry lock: %w", err)
	}
	defer global.Close()
	if err := removeLeftovers(logf); err != nil {
		return nil, nil, err
	}
	ns, err := netnstest.Create("uml")
	if err != nil {
		return nil, nil, fmt.Errorf("umlcluster: %w", err)
	}
	if !strings.HasPrefix(ns.Name, nsPrefix) {
		ns.Close()
		return nil, nil, fmt.Errorf("umlcluster: namespace %s does not start with %s", ns.Name, nsPrefix)
	}
	lock, err := flock(filepath.Join(registry, ns.Name+".lock"), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		ns.Close()
		return nil, nil, fmt.Errorf("umlcluster: lock for %s: %w", ns.Name, err)
	}
	return ns, lock, nil
}

// removeLeftovers removes the namespaces (and every process in them:
// the nodes) of clusters whose process has died.
func removeLeftovers(logf func(string, ...any)) error {
	var errs []error
	names := map[string]bool{}
	locks, _ := filepath.Glob(filepath.Join(registry, nsPrefix+"*.lock"))
	for _, l := range locks {
		f, err := flock(l, syscall.LOCK_EX|syscall.LOCK_NB)
		if err != nil {
			continue // a living cluster
		}
		names[strings.TrimSuffix(filepath.Base(l), ".lock")] = true
		os.Remove(l)
		f.Close()
	}
	// A namespace without a lock file: its creator died before locking.
	entries, _ := os.ReadDir(netnstest.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), nsPrefix) {
			if _, err := os.Stat(filepath.Join(registry, e.Name()+".lock")); errors.Is(err, os.ErrNotExist) {
				names[e.Name()] = true
			}
		}
	}
	for name := range names {
		if _, err := os.Stat(filepath.Join(netnstest.Dir, name)); err != nil {
			continue
		}
		logf("removing namespace %s and its processes, left by a cluster whose process died", name)
		if err := killNamespace(name); err != nil {
			errs = append(errs, err)
		}
		if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("umlcluster: delete namespace %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// killNamespace SIGKILLs every process in a named network namespace, and
// their process groups, until none is left (bounded).
func killNamespace(name string) error {
	var want syscall.Stat_t
	if err := syscall.Stat(filepath.Join(netnstest.Dir, name), &want); err != nil {
		return fmt.Errorf("umlcluster: %w", err)
	}
	for range 250 {
		pids := inNamespace(want)
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
				syscall.Kill(-pgid, syscall.SIGKILL)
			}
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("umlcluster: processes still in namespace %s after 5s of SIGKILL", name)
}

func inNamespace(want syscall.Stat_t) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st) != nil {
			continue
		}
		if st.Dev == want.Dev && st.Ino == want.Ino && !zombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// zombie reports whether pid has exited and waits for its parent.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// groupMembers lists the live (not zombie) processes of process group
// pgid.
func groupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		// state ppid pgrp …
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// machineLock makes clusters on one machine run one after the other
// (unless OCFBOX_UML_PARALLEL=1): UML nodes are CPU-hungry, and on a
// small shared machine two clusters at once starve each other's
// corosync into membership flaps. It waits for the lock until ctx ends.
func machineLock(ctx context.Context, logf func(string, ...any)) (*os.File, error) {
	if os.Getenv("OCFBOX_UML_PARALLEL") == "1" {
		return nil, nil
	}
	if err := os.MkdirAll(registry, 0o755); err != nil {
		return nil, fmt.Errorf("umlcluster: %w", err)
	}
	path := filepath.Join(registry, "machine.lock")
	for i := 0; ; i++ {
		f, err := flock(path, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			f.Truncate(0)
			fmt.Fprintf(f, "%d\n", os.Getpid())
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("umlcluster: %s: %w", path, err)
		}
		if i == 0 {
			holder, _ := os.ReadFile(path)
			logf("waiting for another UML cluster on this machine to end (pid %s; OCFBOX_UML_PARALLEL=1 runs them side by side)", strings.TrimSpace(string(holder)))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("umlcluster: waiting for another UML cluster to end: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
