package umlcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ocfbox/ocfbox/internal/umlcluster/wire"
)

// Node is one UML node of a cluster.
type Node struct {
	Name  string // uml<i>: hostname, Pacemaker and corosync node name
	Index int    // i, 1-based; the corosync node id
	Addr  string // 198.51.100.<i>

	dir string
	c   *Cluster

	mu      sync.Mutex
	cmd     *exec.Cmd     // the running linux process, nil while down
	exited  chan struct{} // closed when cmd has been waited for
	boots   int
	bootErr error
}

// LogDir is the host directory of the node's logs: pacemaker.log,
// corosync.log, console.log (kernel and init), <daemon>.out.
func (n *Node) LogDir() string { return n.dir }

// Disk is the host file of the node's private disk (/dev/ubda).
func (n *Node) Disk() string { return filepath.Join(n.dir, "disk.img") }

// IsUp reports whether the node's kernel is running.
func (n *Node) IsUp() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// PGID is the node's process group (the linux process's pid), 0 while
// down.
func (n *Node) PGID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Boot starts the node (it must be down) and returns when its init
// answers commands. The first boot creates the private disk.
func (n *Node) Boot(ctx context.Context) error {
	if err := n.boot(ctx); err != nil {
		if _, kerr := n.PowerCut(); kerr != nil {
			err = fmt.Errorf("%w (and powering off: %v)", err, kerr)
		}
		return fmt.Errorf("umlcluster: boot %s: %w\n%s", n.Name, err, n.consoleTail(15))
	}
	return nil
}

func (n *Node) boot(ctx context.Context) error {
	c := n.c
	if n.IsUp() {
		return errors.New("already up")
	}
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return err
	}
	first := false
	if _, err := os.Stat(n.Disk()); errors.Is(err, os.ErrNotExist) {
		first = true
		f, err := os.Create(n.Disk())
		if err != nil {
			return err
		}
		err = f.Truncate(int64(c.cfg.DiskMB) << 20)
		f.Close()
		if err != nil {
			return err
		}
	}
	conf := c.initConfig(n, first)
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	confPath := filepath.Join(n.dir, "init.json")
	if err := os.WriteFile(confPath, data, 0o644); err != nil {
		return err
	}
	console, err := os.OpenFile(filepath.Join(n.dir, "console.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer console.Close()
	umlDir := filepath.Join(c.cfg.Dir, "uml")
	if err := os.MkdirAll(umlDir, 0o755); err != nil {
		return err
	}
	args := []string{
		fmt.Sprintf("mem=%dM", c.cfg.MemoryMB),
		"root=/dev/root", "rootfstype=hostfs", "rootflags=/", "rw",
		"init=" + c.init,
		wire.ConfigEnv + "=" + confPath,
		"ubd0=" + n.Disk(),
	}
	if c.cfg.SharedDisk != "" {
		args = append(args, "ubd1c="+c.cfg.SharedDisk)
	}
	args = append(args,
		"vec0:transport=tap,ifname="+c.tap(n.Index),
		"con=null", "con0=null,fd:1",
		fmt.Sprintf("umid=%s-%s", c.id, n.Name), "uml_dir="+umlDir,
		"printk.time=1")
	cmd := exec.Command("linux", args...)
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = console, console
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=/dev/shm"}
	// Its own session, so its own process group: a power cut kills the
	// whole group, and a Ctrl-C for the test does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	fmt.Fprintf(console, "\n==== umlcluster: boot %d of %s at %s\n", n.boots+1, n.Name, time.Now().Format(time.RFC3339Nano))
	if err := c.ns.Start(cmd); err != nil {
		return fmt.Errorf("start linux: %w", err)
	}
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.boots++
	n.mu.Unlock()
	go func() {
		cmd.Wait()
		close(exited)
	}()

	// Wait for the init to answer (it serves once the network is up).
	bctx, cancel := context.WithTimeout(ctx, c.cfg.BootTimeout)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(bctx, time.Second)
		_, err := n.do(actx, &wire.Request{Op: wire.OpExec, Argv: []string{"/bin/true"}})
		acancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the kernel exited while booting")
		case <-bctx.Done():
			return fmt.Errorf("init did not answer within %s: %w", c.cfg.BootTimeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (n *Node) consoleTail(lines int) string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "console.log"))
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return n.Name + " console: " + strings.Join(l, "\n  ")
}

// PowerCut SIGKILLs the node's process group and waits (at most 10s)
// until no process of it is left. It returns the host time of the kill;
// cutting a node that is down returns the zero time.
func (n *Node) PowerCut() (time.Time, error) {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return time.Time{}, nil
	}
	pgid := cmd.Process.Pid
	at := time.Now()
	err := syscall.Kill(-pgid, syscall.SIGKILL)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return at, fmt.Errorf("umlcluster: power cut %s: kill group %d: %w", n.Name, pgid, err)
	}
	deadline := time.After(10 * time.Second)
	select {
	case <-exited:
	case <-deadline:
		return at, fmt.Errorf("umlcluster: power cut %s: linux (pid %d) still running 10s after SIGKILL", n.Name, pgid)
	}
	for {
		left := groupMembers(pgid)
		if len(left) == 0 {
			break
		}
		// UML's user processes are host processes too; one that was
		// between two system calls can outlive the kernel's death.
		syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-deadline:
			return at, fmt.Errorf("umlcluster: power cut %s: processes %v of group %d still running 10s after SIGKILL", n.Name, left, pgid)
		case <-time.After(10 * time.Millisecond):
		}
	}
	n.mu.Lock()
	n.cmd, n.exited = nil, nil
	n.mu.Unlock()
	return at, nil
}

// dial connects to the node's init from inside the cluster's namespace:
// the socket is created on a thread in the namespace and keeps it.
func (n *Node) dial(ctx context.Context) (net.Conn, error) {
	var conn net.Conn
	err := n.c.ns.Do(func() error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, "tcp", net.JoinHostPort(n.Addr, strconv.Itoa(wire.Port)))
		return err
	})
	return conn, err
}

// do sends one request and reads the answer; the connection is closed
// when ctx ends, which makes the init kill the command.
func (n *Node) do(ctx context.Context, req *wire.Request) (*wire.Response, error) {
	conn, err := n.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return nil, err
	}
	var resp wire.Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.Error != "" {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}

// Cmd is a command for Exec.
type Cmd struct {
	Argv  []string // no shell; the program is looked up in PATH
	Env   []string // added to the init's PATH, HOME and LANG
	Stdin []byte   // empty: /dev/null-like
	Dir   string   // default /
}

// Result is what a command did inside the node.
type Result struct {
	Stdout, Stderr []byte
	Exit           int    // -1 when a signal ended it
	Signal         string // that signal
	// Start and End are the node's clock (the host's) around the
	// process's life, without the connection's round trip.
	Start, End time.Time
}

// Exec runs a command inside the node. err is set only when the command
// could not run or ctx ended first (the command's process group is then
// killed); a failing command is a Result with its exit status.
func (n *Node) Exec(ctx context.Context, cmd Cmd) (*Result, error) {
	if !n.IsUp() {
		return nil, fmt.Errorf("umlcluster: %s is down: cannot run %s", n.Name, strings.Join(cmd.Argv, " "))
	}
	resp, err := n.do(ctx, &wire.Request{Op: wire.OpExec, Argv: cmd.Argv, Env: cmd.Env, Stdin: cmd.Stdin, Dir: cmd.Dir})
	if err != nil {
		return nil, fmt.Errorf("umlcluster: %s: %s: %w", n.Name, strings.Join(cmd.Argv, " "), err)
	}
	return &Result{Stdout: resp.Stdout, Stderr: resp.Stderr, Exit: resp.Exit, Signal: resp.Signal, Start: resp.Start, End: resp.End}, nil
}

// Run runs argv inside the node (no shell; PATH is searched; stdin is
// empty) and returns its standard output, standard error and exit status
// (-1 if a signal ended it). err is set only when the command could not
// run or ctx ended first; a failing command is not an error.
func (n *Node) Run(ctx context.Context, argv ...string) (stdout, stderr []byte, exit int, err error) {
	return n.RunEnv(ctx, nil, nil, argv...)
}

// RunEnv is Run with environment variables added to the init's
// (PATH, HOME, LANG) and standard input.
func (n *Node) RunEnv(ctx context.Context, env []string, stdin []byte, argv ...string) (stdout, stderr []byte, exit int, err error) {
	r, err := n.Exec(ctx, Cmd{Argv: argv, Env: env, Stdin: stdin})
	if err != nil {
		return nil, nil, -1, err
	}
	return r.Stdout, r.Stderr, r.Exit, nil
}

// Output runs argv inside the node and returns its standard output; a
// non-zero exit is an error that carries the standard error.
func (n *Node) Output(ctx context.Context, argv ...string) (string, error) {
	out, errOut, exit, err := n.Run(ctx, argv...)
	if err != nil {
		return string(out), err
	}
	if exit != 0 {
		return string(out), fmt.Errorf("umlcluster: %s: %s: exit status %d: %s", n.Name, strings.Join(argv, " "), exit, strings.TrimSpace(string(errOut)))
	}
	return string(out), nil
}

// WaitFile waits inside the node, without starting a process, until the
// file at path contains match (checked every interval, default 20ms), and
// returns the node's time of the match, which is the host's clock, and
// the file's contents then.
func (n *Node) WaitFile(ctx context.Context, path, match string, interval time.Duration) (time.Time, []byte, error) {
	return n.waitFile(ctx, path, match, false, interval)
}

// WaitFileWithout is WaitFile until the file no longer contains match.
func (n *Node) WaitFileWithout(ctx context.Context, path, match string, interval time.Duration) (time.Time, []byte, error) {
	return n.waitFile(ctx, path, match, true, interval)
}

func (n *Node) waitFile(ctx context.Context, path, match string, absent bool, interval time.Duration) (time.Time, []byte, error) {
	resp, err := n.do(ctx, &wire.Request{Op: wire.OpWait, Path: path, Match: match, Absent: absent, Interval: interval})
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("umlcluster: %s: wait for %q in %s: %w", n.Name, match, path, err)
	}
	return resp.End, resp.Stdout, nil
}

// ReadFile reads a file inside the node.
func (n *Node) ReadFile(ctx context.Context, path string) ([]byte, error) {
	_, b, err := n.WaitFileWithout(ctx, path, "\x00never\x00", 0)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// trimOutput shortens command output for error messages.
func trimOutput(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = append([]byte("…"), b[len(b)-2000:]...)
	}
	return string(b)
}

// HostMemory is how much host memory the node's kernel uses: the
// allocated size of its physical-memory file (UML maps a deleted file in
// /dev/shm as the node's RAM), in bytes.
func (n *Node) HostMemory() (int64, error) {
	pid := n.PGID()
	if pid == 0 {
		return 0, fmt.Errorf("umlcluster: %s is down", n.Name)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	for _, fd := range fds {
		p := fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())
		target, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(target, "/dev/shm/") || !strings.HasSuffix(target, "(deleted)") {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return 0, err
		}
		return st.Blocks * 512, nil
	}
	return 0, fmt.Errorf("umlcluster: %s: no physical-memory file among pid %d's files", n.Name, pid)
}
