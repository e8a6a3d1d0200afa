// Package proc finds, signals and starts processes for agents that manage
// daemons: it reads /proc (a process's parent, session, state, start time,
// command line and executable), names a process by its pid and start time
// so that a reused pid is never mistaken for it, finds everything a daemon
// started (its descendants and the members of its session, also after the
// daemon itself is gone), and signals processes race-free through pidfds.
// Running programs is ocf.Runner's job, not this package's.
package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FS is a proc file system; tests point Root at a fake tree.
type FS struct {
	Root string
}

// Host is the host's /proc.
var Host = FS{Root: "/proc"}

// Proc is one process as /proc/<pid>/stat shows it.
type Proc struct {
	PID, PPID, PGID, SID int
	State                byte   // R, S, D, T, Z, …
	StartTime            uint64 // clock ticks after boot: with PID, the process's identity
	Comm                 string
}

// ErrNoProcess is a process that does not exist (any more).
var ErrNoProcess = errors.New("no such process")

// Alive reports whether the process runs: it is not a zombie waiting to
// be reaped, nor dead.
func (p Proc) Alive() bool { return p.State != 'Z' && p.State != 'X' && p.State != 'x' }

func (p Proc) String() string { return fmt.Sprintf("%d (%s)", p.PID, p.Comm) }

// Stat reads /proc/<pid>/stat. A process that does not exist is
// ErrNoProcess.
func (f FS) Stat(pid int) (Proc, error) {
	b, err := os.ReadFile(filepath.Join(f.Root, strconv.Itoa(pid), "stat"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errESRCH) {
		return Proc{}, fmt.Errorf("read process %d: %w", pid, ErrNoProcess)
	}
	if err != nil {
		return Proc{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	p, err := parseStat(string(b))
	if err != nil {
		return Proc{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	return p, nil
}

// parseStat parses a stat line: "pid (comm) state ppid pgrp session …";
// comm may contain spaces and parentheses, so it ends at the last ')'.
func parseStat(s string) (Proc, error) {
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return Proc{}, fmt.Errorf("malformed stat %q", s)
	}
	var p Proc
	var err error
	if p.PID, err = strconv.Atoi(strings.TrimSpace(s[:open])); err != nil {
		return Proc{}, fmt.Errorf("malformed stat %q", s)
	}
	p.Comm = s[open+1 : close]
	f := strings.Fields(s[close+1:])
	// f[0] state, f[1] ppid, f[2] pgrp, f[3] session, … f[19] starttime
	if len(f) < 20 || len(f[0]) != 1 {
		return Proc{}, fmt.Errorf("malformed stat %q", s)
	}
	p.State = f[0][0]
	nums := []*int{&p.PPID, &p.PGID, &p.SID}
	for i, n := range nums {
		if *n, err = strconv.Atoi(f[i+1]); err != nil {
			return Proc{}, fmt.Errorf("malformed stat %q", s)
		}
	}
	if p.StartTime, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return Proc{}, fmt.Errorf("malformed stat %q", s)
	}
	return p, nil
}

// All lists every process. Processes that exit while it reads are left
// out.
func (f FS) All() ([]Proc, error) {
	entries, err := os.ReadDir(f.Root)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, err := f.Stat(pid)
		if errors.Is(err, ErrNoProcess) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Current reports whether p is still the process it names: the pid exists,
// has the same start time, and is alive.
func (f FS) Current(p Proc) bool {
	now, err := f.Stat(p.PID)
	return err == nil && now.StartTime == p.StartTime && now.Alive()
}

// Cmdline is the process's argument vector.
func (f FS) Cmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(f.Root, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errESRCH) {
			err = ErrNoProcess
		}
		return nil, fmt.Errorf("read command line of process %d: %w", pid, err)
	}
	s := strings.TrimSuffix(string(b), "\x00")
	if s == "" {
		return nil, nil // a kernel thread or a zombie
	}
	return strings.Split(s, "\x00"), nil
}

// Exe is the path of the process's executable, without the " (deleted)"
// the kernel adds once the file was replaced (a package upgrade).
func (f FS) Exe(pid int) (string, error) {
	p, err := os.Readlink(filepath.Join(f.Root, strconv.Itoa(pid), "exe"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errESRCH) {
			err = ErrNoProcess
		}
		return "", fmt.Errorf("read executable of process %d: %w", pid, err)
	}
	return strings.TrimSuffix(p, " (deleted)"), nil
}

// Find lists the living processes for which match, given the process and
// its command line, is true.
func (f FS) Find(match func(p Proc, argv []string) bool) ([]Proc, error) {
	all, err := f.All()
	if err != nil {
		return nil, err
	}
	var out []Proc
	for _, p := range all {
		if !p.Alive() {
			continue
		}
		argv, err := f.Cmdline(p.PID)
		if err != nil || len(argv) == 0 {
			continue
		}
		if match(p, argv) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Family lists the living processes that belong to leader: its
// descendants and, when leader leads its own session (as a daemon that
// detached does), every member of that session, which still finds the
// processes it started after they were orphaned, and after the leader
// itself is gone. Processes that left the session and were orphaned
// cannot be told from others (a cgroup could). leader itself is in the
// list when it is alive.
func (f FS) Family(leader Proc) ([]Proc, error) {
	all, err := f.All()
	if err != nil {
		return nil, err
	}
	byPID := map[int]Proc{}
	children := map[int][]Proc{}
	for _, p := range all {
		byPID[p.PID] = p
		children[p.PPID] = append(children[p.PPID], p)
	}
	in := map[int]bool{}
	var out []Proc
	add := func(p Proc) {
		if !in[p.PID] && p.Alive() {
			in[p.PID] = true
			out = append(out, p)
		}
	}
	cur, leaderAlive := byPID[leader.PID]
	leaderAlive = leaderAlive && cur.StartTime == leader.StartTime
	if leaderAlive {
		add(cur)
		queue := []int{leader.PID}
		for len(queue) > 0 {
			pid := queue[0]
			queue = queue[1:]
			for _, c := range children[pid] {
				if !in[c.PID] {
					add(c)
					queue = append(queue, c.PID)
				}
			}
		}
	}
	// A pid that now leads another session (the old leader is gone and
	// its pid reused) means that session is not leader's.
	ownSession := leader.SID == leader.PID && (leaderAlive || byPID[leader.PID].PID == 0)
	if ownSession {
		for _, p := range all {
			if p.SID == leader.SID && p.StartTime >= leader.StartTime {
				add(p)
			}
		}
	}
	return out, nil
}
