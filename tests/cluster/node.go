package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Node is one cluster node: a network namespace on the cluster bridge,
// and while it is up, an init process whose mount, UTS and PID
// namespaces hold everything the node runs.
type Node struct {
	Name  string // Pacemaker's node name and the hostname: node1, node2, …
	ID    int    // Corosync node id
	Netns string // network namespace
	Addr  string // address on the cluster network (eth0)
	Dir   string // the node's own directories, kept across reboots

	c *Cluster

	mu    sync.Mutex
	init  int         // host PID of the node's init, 0 while down
	ready bool        // Boot completed: private mounts in place, daemons started
	procs []*exec.Cmd // unshare (the init's parent) and the nsenter of each daemon
}

// Persistent directories of a node, bind-mounted over the system's.
var nodeDirs = []struct{ sub, target string }{
	{"pacemaker", "/var/lib/pacemaker"},
	{"log-pacemaker", "/var/log/pacemaker"},
	{"corosync", "/var/lib/corosync"},
	{"log-corosync", "/var/log/corosync"},
}

// IsUp reports whether the node is running.
func (n *Node) IsUp() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.init != 0
}

// Ready reports whether the node has booted: its private mounts are in
// place (Path shows the node's own /run) and its daemons are started.
func (n *Node) Ready() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ready
}

// InitPID is the host PID of the node's init (0 while the node is down).
func (n *Node) InitPID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.init
}

// Path is the host path of path as the node sees it (through
// /proc/PID/root), to read or write a file in the node's private mounts.
func (n *Node) Path(path string) string {
	return fmt.Sprintf("/proc/%d/root%s", n.InitPID(), path)
}

// Command prepares a command inside the node: its network, mount, UTS
// and PID namespaces, with the harness's fixed environment.
func (n *Node) Command(ctx context.Context, argv ...string) *exec.Cmd {
	args := []string{"--target", strconv.Itoa(n.InitPID()), "--mount", "--uts", "--net", "--pid", "--"}
	cmd := exec.CommandContext(ctx, "nsenter", append(args, argv...)...)
	cmd.Env = nodeEnv()
	cmd.Dir = "/"
	return cmd
}

// Run runs a command inside the node and returns its standard output;
// the error carries its standard error.
func (n *Node) Run(ctx context.Context, argv ...string) ([]byte, error) {
	if !n.IsUp() {
		return nil, fmt.Errorf("%s is down: cannot run %s", n.Name, strings.Join(argv, " "))
	}
	out, err := output(n.Command(ctx, argv...))
	if err != nil {
		return out, fmt.Errorf("%s: %w", n.Name, err)
	}
	return out, nil
}

// Start starts a long-running program inside the node, its output
// appended to <Dir>/<name>.out. It runs until the node is killed.
func (n *Node) Start(name string, env []string, argv ...string) error {
	if !n.IsUp() {
		return fmt.Errorf("%s is down: cannot start %s", n.Name, name)
	}
	logFile, err := os.OpenFile(filepath.Join(n.Dir, name+".out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: start %s: %w", n.Name, name, err)
	}
	defer logFile.Close()
	cmd := n.Command(context.Background(), argv...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group: a Ctrl-C meant for the demo must not reach
	// the nodes before the demo tears them down in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start %s: %w", n.Name, name, err)
	}
	n.mu.Lock()
	n.procs = append(n.procs, cmd)
	n.mu.Unlock()
	return nil
}

// Boot creates the node's network namespace and starts the node: init,
// private mounts, NodeSetup, Corosync, Pacemaker. It does not wait for
// the node to join the cluster (see Cluster.WaitFor).
func (n *Node) Boot(ctx context.Context) error {
	if n.IsUp() {
		return fmt.Errorf("%s is already up", n.Name)
	}
	if err := n.boot(ctx); err != nil {
		if _, kerr := n.Kill(); kerr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, kerr)
		}
		return fmt.Errorf("boot %s: %w", n.Name, err)
	}
	n.mu.Lock()
	n.ready = true
	n.mu.Unlock()
	return nil
}

func (n *Node) boot(ctx context.Context) error {
	c := n.c
	if err := n.makeDirs(); err != nil {
		return err
	}
	steps := [][]string{
		{"ip", "netns", "add", n.Netns},
		{"ip", "-n", switchNS, "link", "add", n.Name, "type", "veth", "peer", "name", "eth0", "netns", n.Netns},
		{"ip", "-n", switchNS, "link", "set", n.Name, "master", bridge, "up"},
		{"ip", "-n", n.Netns, "addr", "add", fmt.Sprintf("%s/%d", n.Addr, PrefixLen), "dev", "eth0"},
		{"ip", "-n", n.Netns, "link", "set", "eth0", "up"},
		{"ip", "-n", n.Netns, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if _, err := run(ctx, nil, s...); err != nil {
			return err
		}
	}
	if err := n.startInit(ctx); err != nil {
		return err
	}

	mounts := [][]string{
		{"hostname", n.Name},
		{"mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"},
		{"mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/dev/shm"},
		{"mount", "--bind", c.corosyncConf, "/etc/corosync/corosync.conf"},
	}
	for _, d := range nodeDirs {
		mounts = append(mounts, []string{"mount", "--bind", filepath.Join(n.Dir, d.sub), d.target})
	}
	if c.ocfLower != "" {
		// Read-only overlay: resource.d/ocfbox from the working
		// directory on top of the host's resource.d.
		mounts = append(mounts, []string{"mount", "-t", "overlay", "overlay", "-o", "lowerdir=" + c.ocfLower + ":" + ocfDir, ocfDir})
	}
	for _, m := range mounts {
		if _, err := n.Run(ctx, m...); err != nil {
			return err
		}
	}
	if err := n.checkProvider(); err != nil {
		return err
	}
	// What systemd-tmpfiles would create at boot.
	for _, d := range []struct {
		path     string
		mode     os.FileMode
		hacluser bool
	}{
		{"/run/resource-agents", 0o755 | os.ModeSticky, false},
		{"/run/crm", 0o750, true},
	} {
		p := n.Path(d.path)
		if err := os.Mkdir(p, d.mode.Perm()); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		if d.hacluser {
			if err := os.Chown(p, c.haUID, c.haGID); err != nil {
				return fmt.Errorf("%s: %w", n.Name, err)
			}
		}
	}
	if c.opts.NodeSetup != nil {
		if err := c.opts.NodeSetup(ctx, n); err != nil {
			return fmt.Errorf("node setup: %w", err)
		}
	}

	if err := n.Start("corosync", nil, "corosync", "-f"); err != nil {
		return err
	}
	if err := n.poll(ctx, 20*time.Second, "corosync to answer", func() error {
		_, err := n.Run(ctx, "corosync-cmapctl", "-g", "totem.cluster_name")
		return err
	}); err != nil {
		return err
	}
	return n.Start("pacemakerd", nil, "pacemakerd")
}

// makeDirs creates the node's persistent directories on first boot, with
// the seed CIB.
func (n *Node) makeDirs() error {
	c := n.c
	if _, err := os.Stat(n.Dir); err == nil {
		return nil
	}
	mk := func(path string, mode os.FileMode, ha bool) error {
		if err := os.MkdirAll(path, mode); err != nil {
			return err
		}
		if ha {
			return os.Chown(path, c.haUID, c.haGID)
		}
		return nil
	}
	var errs []error
	errs = append(errs, mk(n.Dir, 0o755, false))
	for _, d := range nodeDirs {
		errs = append(errs, mk(filepath.Join(n.Dir, d.sub), 0o755, strings.Contains(d.sub, "pacemaker")))
	}
	for _, sub := range []string{"cib", "pengine", "blackbox", "cores"} {
		errs = append(errs, mk(filepath.Join(n.Dir, "pacemaker", sub), 0o750, true))
	}
	errs = append(errs, mk(filepath.Join(n.Dir, "log-pacemaker", "bundles"), 0o770, true))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: directories: %w", n.Name, err)
	}
	seed, err := os.ReadFile(c.cibSeed)
	if err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	cib := filepath.Join(n.Dir, "pacemaker", "cib", "cib.xml")
	if err := os.WriteFile(cib, seed, 0o600); err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	if err := os.Chown(cib, c.haUID, c.haGID); err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	return nil
}

// startInit starts the node's init: this program again, as PID 1 of new
// mount, UTS and PID namespaces inside the node's network namespace.
// unshare --kill-child and Pdeathsig tie the node's life to this
// process: if the test binary dies, its nodes die with it.
func (n *Node) startInit(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program for the node init: %w", err)
	}
	logFile, err := os.OpenFile(filepath.Join(n.Dir, "init.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command("ip", "netns", "exec", n.Netns,
		"unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private",
		self)
	cmd.Env = append(nodeEnv(), initEnv+"=1")
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start init: %w", err)
	}
	n.mu.Lock()
	n.procs = []*exec.Cmd{cmd}
	n.mu.Unlock()

	// The init is unshare's only child; it is ready once it runs this
	// program (the new /proc is mounted before the exec).
	children := fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid)
	return n.poll(ctx, 10*time.Second, "the node's init", func() error {
		b, err := os.ReadFile(children)
		if err != nil {
			return err
		}
		f := strings.Fields(string(b))
		if len(f) != 1 {
			return fmt.Errorf("unshare has %d children", len(f))
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			return err
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			return err
		}
		if exe != self {
			return fmt.Errorf("init is still %s", exe)
		}
		n.mu.Lock()
		n.init = pid
		n.mu.Unlock()
		return nil
	})
}

// Kill powers the node off: its switch port is removed, its init is
// SIGKILLed (the kernel kills everything in its PID namespace), and its
// network namespace is deleted, so a later Boot starts from clean
// network state as after a real reboot. It returns the moment the node
// died. Killing a node that is down does nothing.
func (n *Node) Kill() (time.Time, error) {
	n.mu.Lock()
	pid, procs := n.init, n.procs
	n.ready = false
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var errs []error
	at := time.Now()
	if pid != 0 {
		// The cable first, so that nothing answers on the node's
		// addresses any more, then the power.
		if _, err := run(ctx, nil, "ip", "-n", switchNS, "link", "set", n.Name, "down"); err != nil {
			errs = append(errs, err)
		}
		at = time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %s's init: %w", n.Name, err))
		}
	}
	for _, p := range procs {
		if p.Process != nil && pid == 0 {
			p.Process.Kill() // boot failed before the init was found
		}
	}
	if err := n.waitProcs(procs, 20*time.Second); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", n.Netns)); err == nil {
		if err := killNetns(ctx, n.Netns); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := run(ctx, nil, "ip", "-n", switchNS, "link", "show", n.Name); err == nil {
		if _, err := run(ctx, nil, "ip", "-n", switchNS, "link", "del", n.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := deleteNetns(ctx, n.Netns); err != nil {
		errs = append(errs, err)
	}
	n.mu.Lock()
	n.init, n.procs, n.ready = 0, nil, false
	n.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return at, fmt.Errorf("kill %s: %w", n.Name, err)
	}
	return at, nil
}

// waitProcs reaps the node's processes on the host side (unshare and the
// nsenter parents), which exit once the PID namespace is gone.
func (n *Node) waitProcs(procs []*exec.Cmd, limit time.Duration) error {
	done := make(chan struct{})
	go func() {
		for _, p := range procs {
			if p.Process != nil {
				p.Wait()
			}
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(limit):
		return fmt.Errorf("%s: processes still running %s after the kill", n.Name, limit)
	}
}

// poll calls check every 200ms until it succeeds or limit has passed.
func (n *Node) poll(ctx context.Context, limit time.Duration, what string, check func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: waited %s for %s: %w", n.Name, limit, what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: %w", n.Name, what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Addresses lists the addresses on the node's interface dev, as
// "192.0.2.11/24".
func (n *Node) Addresses(ctx context.Context, dev string) ([]string, error) {
	out, err := run(ctx, nil, "ip", "-n", n.Netns, "-o", "addr", "show", "dev", dev)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" || f[i] == "inet6" {
				addrs = append(addrs, f[i+1])
			}
		}
	}
	return addrs, nil
}

// MAC is the link-layer address of the node's eth0.
func (n *Node) MAC(ctx context.Context) (string, error) {
	out, err := run(ctx, nil, "ip", "-n", n.Netns, "-o", "link", "show", "dev", "eth0")
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "link/ether" {
			return f[i+1], nil
		}
	}
	return "", fmt.Errorf("%s: no link/ether in %q", n.Name, out)
}

// checkProvider makes sure the node sees every ocfbox link of the
// overlay, pointing to the binary under test (the host may have an ocfbox
// provider of its own underneath).
func (n *Node) checkProvider() error {
	c := n.c
	if c.ocfLower == "" {
		return nil
	}
	entries, err := os.ReadDir(filepath.Join(c.ocfLower, "ocfbox"))
	if err != nil {
		return fmt.Errorf("%s: provider ocfbox: %w", n.Name, err)
	}
	if len(entries) == 0 {
		return fmt.Errorf("%s: provider ocfbox: ocfbox install made no links", n.Name)
	}
	for _, e := range entries {
		p := filepath.Join(ocfDir, "ocfbox", e.Name())
		got, err := os.Readlink(n.Path(p))
		if err != nil || got != c.opts.OCFBox {
			return fmt.Errorf("%s: provider ocfbox: %s links to %q (%v), want %s", n.Name, p, got, err, c.opts.OCFBox)
		}
	}
	return nil
}
