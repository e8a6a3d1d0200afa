package umlcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/netnstest"
	"github.com/ocfbox/ocfbox/internal/testenv"
)

// Addresses on the lab network (TEST-NET-2, only inside the namespace).
const (
	// HostAddr is the host's address on the cluster bridge (the fence
	// service listens there).
	HostAddr  = "198.51.100.254"
	prefixLen = 24
	// ClusterName is corosync's cluster_name, and so the name OCFS2
	// volumes must be made with (FormatOCFS2 does).
	ClusterName = "ocfbox"
)

// NodeAddr is node i's (1-based) address.
func NodeAddr(i int) string { return fmt.Sprintf("198.51.100.%d", i) }

// NodeName is node i's (1-based) host and Pacemaker node name.
func NodeName(i int) string { return fmt.Sprintf("uml%d", i) }

// Config shapes a cluster. The zero value is two nodes with fencing and
// no resources.
type Config struct {
	Nodes    int // 1 to 9; default 2
	MemoryMB int // per node; default 384
	DiskMB   int // the private disk of each node (/dev/ubda); default 128
	// SharedDisk is a host file every node sees as /dev/ubdb (shared
	// flag: no host locking). The test prepares it (FormatOCFS2).
	SharedDisk string

	// Properties are cluster options over the harness's defaults
	// (stonith-enabled, no-quorum-policy=stop, dc-deadtime=5s).
	Properties map[string]string
	// RscDefaults are resource defaults (rsc_defaults meta attributes).
	RscDefaults map[string]string
	// OpDefaults are operation defaults (op_defaults meta attributes),
	// such as timeout: a probe without an interval-0 monitor op uses it
	// (Pacemaker's default is 20s, short for shell agents in a UML node on
	// a loaded machine).
	OpDefaults map[string]string
	// Resources and Constraints are XML elements of the seeded CIB's
	// <resources> and <constraints> (see Primitive, Clone, Group …).
	Resources, Constraints []string

	// NoFencing leaves out the fence device and sets
	// stonith-enabled=false.
	NoFencing bool
	// FenceReboots makes a fence "reboot" boot the node again after the
	// power cut, as a real power switch does; by default it stays down.
	FenceReboots bool

	// DRBD, when set, configures a DRBD resource on two nodes.
	DRBD *DRBD

	// Token is corosync's totem token timeout (default 3 s).
	Token time.Duration
	// Modules are loaded at each boot (default drbd, configfs, dlm,
	// ocfs2_stack_user, ocfs2).
	Modules []string
	// FirstSetup returns commands node i runs at its first boot, before
	// the cluster stack (after the DRBD metadata); Setup at every boot.
	FirstSetup, Setup func(i int) [][]string

	// Dir holds the nodes' disks, logs and configuration; default
	// t.TempDir(). Its path must be made of [-%+./0-9:=@A-Z_a-z] (it is
	// on kernel command lines and in DRBD agent parameters).
	Dir string
	// BootTimeout bounds the wait for each node's init (default 60s).
	BootTimeout time.Duration
	// Logf reports progress (default t.Logf).
	Logf func(format string, args ...any)
}

// Cluster is a running lab cluster. Its methods may be called from
// several goroutines.
type Cluster struct {
	cfg  Config
	ns   *netnstest.Namespace
	id   string // the hex part of the namespace's name
	lock *os.File
	// machine is the lock that makes clusters take turns (nil with
	// OCFBOX_UML_PARALLEL=1).
	machine *os.File
	started time.Time // when this cluster's turn came: its boot began
	nodes   []*Node
	init    string // the node init program
	fence   *fenceService

	closeOnce sync.Once
	closeErr  error
}

// Tools the lab needs on the host.
var tools = []string{"linux", "ip", "ethtool", "corosync", "pacemakerd", "crm_mon", "cibadmin", "crm_verify", "modprobe"}

// New starts a cluster for a test and closes it at cleanup. It waits
// until every node's init answers, not for Pacemaker (WaitOnline).
func New(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	testenv.RequireRoot(t)
	for _, tool := range tools {
		testenv.RequireTool(t, tool)
	}
	testenv.RequireFile(t, "/usr/lib/uml/modules")
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
		// To look at the logs after the test: OCFBOX_UML_KEEP=/some/dir.
		if keep := os.Getenv("OCFBOX_UML_KEEP"); keep != "" {
			if err := os.MkdirAll(keep, 0o755); err != nil {
				t.Fatal(err)
			}
			dir, err := os.MkdirTemp(keep, strings.NewReplacer("/", "-").Replace(t.Name())+"-")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Dir = dir
			t.Logf("umlcluster: keeping the cluster's directory %s", dir)
		}
	}
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	initProg := testenv.Build(t, "./internal/umlcluster/cmd/umlinit")
	var fenceAgent string
	if !cfg.NoFencing {
		fenceAgent = testenv.Build(t, "./internal/fencelab/cmd/fence_ocfbox")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute) // mostly waiting for another cluster
	defer cancel()
	c, err := Start(ctx, cfg, initProg, fenceAgent)
	if err != nil {
		t.Fatalf("start UML cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			c.Diagnose(ctx)
			cancel()
		}
		if err := c.Close(); err != nil {
			t.Errorf("tear down UML cluster: %v", err)
		}
	})
	return c
}

// Start is New for programs: initProg is the built cmd/umlinit, fenceAgent
// the built fence_ocfbox (unused with NoFencing). The caller must Close
// the cluster; when Start fails, it has already torn down what it built.
func Start(ctx context.Context, cfg Config, initProg, fenceAgent string) (*Cluster, error) {
	if cfg.Nodes == 0 {
		cfg.Nodes = 2
	}
	if cfg.Nodes < 1 || cfg.Nodes > 9 {
		return nil, fmt.Errorf("umlcluster: %d nodes: want 1 to 9", cfg.Nodes)
	}
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = 384
	}
	if cfg.DiskMB == 0 {
		cfg.DiskMB = 128
	}
	if cfg.Token == 0 {
		// Not corosync's 1 s: on a loaded 2-CPU machine a UML node's
		// corosync is sometimes not scheduled for over a second, and the
		// membership flaps.
		cfg.Token = 3 * time.Second
	}
	if cfg.Modules == nil {
		cfg.Modules = []string{"drbd", "configfs", "dlm", "ocfs2_stack_user", "ocfs2"}
	}
	if cfg.BootTimeout == 0 {
		cfg.BootTimeout = 60 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Dir == "" {
		return nil, errors.New("umlcluster: Config.Dir is required")
	}
	if !safePath(cfg.Dir) {
		return nil, fmt.Errorf("umlcluster: directory %q: only [-%%+./0-9:=@A-Z_a-z] may be used", cfg.Dir)
	}
	if cfg.DRBD != nil {
		cfg.DRBD.defaults()
		for _, i := range cfg.DRBD.Nodes {
			if i < 1 || i > cfg.Nodes {
				return nil, fmt.Errorf("umlcluster: DRBD on node %d of %d", i, cfg.Nodes)
			}
		}
	}
	c := &Cluster{cfg: cfg, init: initProg}
	machine, err := machineLock(ctx, c.logf)
	if err != nil {
		return nil, err
	}
	c.machine = machine
	c.started = time.Now()
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := c.start(bctx, fenceAgent); err != nil {
		if cerr := c.Close(); cerr != nil {
			err = fmt.Errorf("%w (and tearing down: %v)", err, cerr)
		}
		return nil, err
	}
	return c, nil
}

func safePath(p string) bool {
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-%+./:=@_", r)) {
			return false
		}
	}
	return filepath.IsAbs(p)
}

func (c *Cluster) logf(format string, args ...any) { c.cfg.Logf("umlcluster: "+format, args...) }

func (c *Cluster) start(ctx context.Context, fenceAgent string) error {
	if err := os.Chmod(c.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("umlcluster: %w", err)
	}
	if err := c.createNetwork(); err != nil {
		return err
	}
	if !c.cfg.NoFencing {
		fs, err := startFenceService(c, fenceAgent)
		if err != nil {
			return err
		}
		c.fence = fs
	}
	if err := c.writeConfig(ctx); err != nil {
		return err
	}
	for i := 1; i <= c.cfg.Nodes; i++ {
		c.nodes = append(c.nodes, &Node{
			Name: NodeName(i), Index: i, Addr: NodeAddr(i),
			dir: filepath.Join(c.cfg.Dir, NodeName(i)),
			c:   c,
		})
	}
	start := time.Now()
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.Boot(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.logf("%d nodes booted (init answering) in %.1fs, namespace %s, directory %s",
		len(c.nodes), time.Since(start).Seconds(), c.ns.Name, c.cfg.Dir)
	return nil
}

// createNetwork makes the cluster's namespace (registered, so that a
// later run can remove it if this process dies), its bridge with the
// host's address and one TAP per node.
func (c *Cluster) createNetwork() error {
	ns, lock, err := createNamespace(c.logf)
	if err != nil {
		return err
	}
	c.ns, c.lock = ns, lock
	c.id = ns.Name[strings.LastIndex(ns.Name, "-")+1:]
	br := c.bridge()
	steps := [][]string{
		{"ip", "link", "add", br, "type", "bridge"},
		{"ip", "link", "set", br, "up"},
		{"ip", "addr", "add", fmt.Sprintf("%s/%d", HostAddr, prefixLen), "dev", br},
	}
	for i := 1; i <= c.cfg.Nodes; i++ {
		tap := c.tap(i)
		steps = append(steps,
			[]string{"ip", "tuntap", "add", tap, "mode", "tap"},
			[]string{"ip", "link", "set", tap, "master", br},
			[]string{"ip", "link", "set", tap, "up"})
	}
	for _, s := range steps {
		if err := c.nsRun(s...); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) bridge() string   { return "u" + c.id + "br" }
func (c *Cluster) tap(i int) string { return fmt.Sprintf("u%st%d", c.id, i) }

// nsRun runs a host program inside the cluster's namespace.
func (c *Cluster) nsRun(argv ...string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := c.ns.Run(cmd); err != nil {
		return fmt.Errorf("umlcluster: in %s: %s: %w: %s", c.ns.Name, strings.Join(argv, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Started is when the cluster began to boot (after waiting for its turn
// on the machine): boot figures count from it.
func (c *Cluster) Started() time.Time { return c.started }

// Namespace is the name of the cluster's network namespace.
func (c *Cluster) Namespace() string { return c.ns.Name }

// Dir is the cluster's host directory (Config.Dir).
func (c *Cluster) Dir() string { return c.cfg.Dir }

// Node is node i, 1-based.
func (c *Cluster) Node(i int) *Node {
	if i < 1 || i > len(c.nodes) {
		panic(fmt.Sprintf("umlcluster: no node %d (cluster of %d)", i, len(c.nodes)))
	}
	return c.nodes[i-1]
}

// Nodes lists the nodes, uml1 first.
func (c *Cluster) Nodes() []*Node { return append([]*Node(nil), c.nodes...) }

// NodeNames lists the node names, uml1 first.
func (c *Cluster) NodeNames() []string {
	var names []string
	for _, n := range c.nodes {
		names = append(names, n.Name)
	}
	return names
}

// NodeByName is the node with that name, or nil.
func (c *Cluster) NodeByName(name string) *Node {
	for _, n := range c.nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// PowerCut cuts node i's power: SIGKILL to its whole process group. It
// returns the host time of the kill, once no process of the node is left.
func (c *Cluster) PowerCut(i int) (time.Time, error) { return c.Node(i).PowerCut() }

// Reboot power-cuts node i if it is up and boots it again; it returns
// when the node's init answers (the node then joins the cluster).
func (c *Cluster) Reboot(ctx context.Context, i int) error {
	n := c.Node(i)
	if n.IsUp() {
		if _, err := n.PowerCut(); err != nil {
			return err
		}
	}
	return n.Boot(ctx)
}

// Close power-cuts every node, stops the fence service and deletes the
// namespace with its bridge and TAPs. It may be called more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		var errs []error
		if c.fence != nil {
			c.fence.close()
		}
		for _, n := range c.nodes {
			if _, err := n.PowerCut(); err != nil {
				errs = append(errs, err)
			}
		}
		if c.ns != nil {
			if err := c.ns.Close(); err != nil {
				errs = append(errs, fmt.Errorf("umlcluster: %w", err))
			}
		}
		if c.lock != nil {
			os.Remove(c.lock.Name())
			c.lock.Close()
		}
		if c.machine != nil {
			c.machine.Close()
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}
