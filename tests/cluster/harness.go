package cluster

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Names and addresses every cluster uses.
const (
	// Prefix starts the name of every namespace and directory the
	// harness makes; anything with it is removed by the next run.
	Prefix     = "ocfbxcl-"
	switchNS   = Prefix + "switch"
	clientNS   = Prefix + "client"
	bridge     = "br0"
	ClientAddr = "192.0.2.100" // the client namespace, on the cluster bridge
	PrefixLen  = 24            // of the cluster network, 192.0.2.0/24
	lockPath   = "/run/" + Prefix + "lock"
	ocfDir     = "/usr/lib/ocf/resource.d"
)

// nodeAddr is node i's (1-based) address on the cluster network.
func nodeAddr(i int) string { return fmt.Sprintf("192.0.2.%d", 10+i) }

// Options shape a cluster. The zero value is a three-node cluster
// without the ocfbox provider.
type Options struct {
	Nodes int // default 3
	// OCFBox is the ocfbox binary: when set, every node sees it as OCF
	// provider "ocfbox", with the links `ocfbox install` makes.
	OCFBox string
	// Properties are cluster options (crm_config) added to the harness's
	// own: stonith-enabled=false, no-quorum-policy=stop, dc-deadtime=2s,
	// cluster-recheck-interval=10s.
	Properties map[string]string
	// RscDefaults are resource defaults (rsc_defaults), such as
	// resource-stickiness.
	RscDefaults map[string]string
	// NodeSetup runs at every boot of a node, after its private mounts and
	// before Corosync starts: the place to start libvirtd or prepare
	// apache's directories (see Node.Run, Node.Start, Node.Path).
	NodeSetup func(ctx context.Context, n *Node) error
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
	// BootTimeout bounds the wait for all nodes to be online (default 90s).
	BootTimeout time.Duration
}

// Setups is a NodeSetup that runs each of steps (nil ones skipped) in
// order and stops at the first error, for nodes that need several
// services: Setups(SetupApache, SetupGuests("vm1")).
func Setups(steps ...func(context.Context, *Node) error) func(context.Context, *Node) error {
	return func(ctx context.Context, n *Node) error {
		for _, step := range steps {
			if step == nil {
				continue
			}
			if err := step(ctx, n); err != nil {
				return err
			}
		}
		return nil
	}
}

// Cluster is a running cluster. Nodes may be booted, killed and asked
// from different goroutines (each node locks its own state); Close may be
// called more than once.
type Cluster struct {
	Nodes []*Node
	opts  Options
	dir   string // working directory, removed by Close
	lock  *os.File

	corosyncConf string // shared by every node
	cibSeed      string // the CIB every node starts from
	ocfLower     string // overlay layer holding resource.d/ocfbox, or ""
	haUID, haGID int    // hacluster:haclient

	closeOnce sync.Once
	closeErr  error
}

// New builds and starts a cluster and waits until every node is online.
// It first waits for any other cluster run on this machine to end, and
// removes what a killed earlier run left. On error, whatever was built is
// torn down again.
func New(ctx context.Context, opts Options) (*Cluster, error) {
	if !initHooked {
		return nil, errors.New("cluster: the program must call cluster.MaybeNodeInit first (in main or TestMain)")
	}
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Nodes < 1 || opts.Nodes > 9 {
		return nil, fmt.Errorf("cluster: %d nodes: want 1 to 9", opts.Nodes)
	}
	if opts.BootTimeout == 0 {
		opts.BootTimeout = 90 * time.Second
	}
	c := &Cluster{opts: opts}
	lock, err := takeLock(ctx, c.logf)
	if err != nil {
		return nil, err
	}
	c.lock = lock
	if err := c.build(ctx); err != nil {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c.Diagnose(dctx, c.logf)
		cancel()
		if cerr := c.Close(); cerr != nil {
			err = fmt.Errorf("%w (and tearing down: %v)", err, cerr)
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf(format, args...)
	}
}

func (c *Cluster) build(ctx context.Context) error {
	if err := removeLeftovers(ctx, c.logf); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", Prefix)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.dir = dir
	if strings.ContainsAny(dir, ":,") {
		return fmt.Errorf("cluster: working directory %q cannot be an overlay layer (contains : or ,)", dir)
	}
	// Daemons running as hacluster reach their bind-mounted directories
	// through the mount points, but the agents' links must be readable.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if c.haUID, c.haGID, err = hacluster(); err != nil {
		return err
	}
	if err := c.writeConfig(ctx); err != nil {
		return err
	}
	if err := c.buildNetwork(ctx); err != nil {
		return err
	}
	for i := 1; i <= c.opts.Nodes; i++ {
		name := fmt.Sprintf("node%d", i)
		c.Nodes = append(c.Nodes, &Node{
			Name:  name,
			ID:    i,
			Netns: Prefix + name,
			Addr:  nodeAddr(i),
			Dir:   filepath.Join(dir, name),
			c:     c,
		})
	}
	c.logf("cluster: booting %d nodes in %s", len(c.Nodes), dir)
	start := time.Now()
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
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
	if _, err := c.WaitFor(ctx, c.opts.BootTimeout, "all nodes online", AllOnline(c.NodeNames()...)); err != nil {
		return err
	}
	c.logf("cluster: %d nodes online %.1fs after boot", len(c.Nodes), time.Since(start).Seconds())
	return nil
}

// NodeNames lists the nodes' names, node1 first.
func (c *Cluster) NodeNames() []string {
	var names []string
	for _, n := range c.Nodes {
		names = append(names, n.Name)
	}
	return names
}

// Node returns the node with that name, or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Up lists the nodes that are running, booted or still booting.
func (c *Cluster) Up() []*Node {
	var up []*Node
	for _, n := range c.Nodes {
		if n.IsUp() {
			up = append(up, n)
		}
	}
	return up
}

// Ready lists the nodes that have finished booting.
func (c *Cluster) Ready() []*Node {
	var ready []*Node
	for _, n := range c.Nodes {
		if n.Ready() {
			ready = append(ready, n)
		}
	}
	return ready
}

func hacluster() (uid, gid int, err error) {
	u, err := user.Lookup("hacluster")
	if err != nil {
		return 0, 0, fmt.Errorf("cluster: user hacluster (package pacemaker): %w", err)
	}
	g, err := user.LookupGroup("haclient")
	if err != nil {
		return 0, 0, fmt.Errorf("cluster: group haclient (package pacemaker): %w", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(g.Gid)
	return uid, gid, nil
}

// writeConfig writes corosync.conf, the seed CIB and the ocfbox links.
func (c *Cluster) writeConfig(ctx context.Context) error {
	var b strings.Builder
	b.WriteString(`totem {
	version: 2
	cluster_name: ocfbox
	transport: knet
	crypto_cipher: none
	crypto_hash: none
	token: 1000
}
logging {
	to_logfile: yes
	logfile: /var/log/corosync/corosync.log
	to_syslog: no
	to_stderr: no
	timestamp: on
}
quorum {
	provider: corosync_votequorum
}
nodelist {
`)
	for i := 1; i <= c.opts.Nodes; i++ {
		fmt.Fprintf(&b, "\tnode {\n\t\tname: node%d\n\t\tnodeid: %d\n\t\tring0_addr: %s\n\t}\n", i, i, nodeAddr(i))
	}
	b.WriteString("}\n")
	c.corosyncConf = filepath.Join(c.dir, "corosync.conf")
	if err := os.WriteFile(c.corosyncConf, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}

	// The seed CIB: Pacemaker's own empty CIB with the options set by
	// crm_attribute on the file, so the first election already uses a
	// short dc-deadtime (the default 20s is most of a cold start).
	c.cibSeed = filepath.Join(c.dir, "cib-seed.xml")
	empty, err := run(ctx, nil, "cibadmin", "--empty")
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := os.WriteFile(c.cibSeed, empty, 0o600); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	props := map[string]string{
		"stonith-enabled":          "false",
		"no-quorum-policy":         "stop",
		"dc-deadtime":              "2s",
		"cluster-recheck-interval": "10s",
	}
	for k, v := range c.opts.Properties {
		props[k] = v
	}
	env := append(nodeEnv(), "CIB_file="+c.cibSeed)
	for _, k := range sortedKeys(props) {
		if _, err := run(ctx, env, "crm_attribute", "--type", "crm_config", "--name", k, "--update", props[k]); err != nil {
			return fmt.Errorf("cluster: seed CIB: %w", err)
		}
	}
	// Not crm_attribute --type rsc_defaults: Pacemaker 2.1.5's resolves a
	// node name for that type, and a CIB file has no nodes.
	if defaults := nvset("rsc-options", c.opts.RscDefaults); defaults != nil {
		x, err := xml.Marshal(struct {
			XMLName xml.Name `xml:"rsc_defaults"`
			Set     *xNVSet  `xml:"meta_attributes"`
		}{Set: defaults})
		if err != nil {
			return fmt.Errorf("cluster: seed CIB: %w", err)
		}
		if _, err := run(ctx, env, "cibadmin", "--create", "--scope", "configuration", "--xml-text", string(x)); err != nil {
			return fmt.Errorf("cluster: seed CIB: %w", err)
		}
	}

	if c.opts.OCFBox != "" {
		root := filepath.Join(c.dir, "ocf")
		if _, err := run(ctx, nil, c.opts.OCFBox, "install", "--root", root, "--target", c.opts.OCFBox); err != nil {
			return fmt.Errorf("cluster: ocfbox provider links: %w", err)
		}
		if err := os.Chmod(filepath.Dir(c.opts.OCFBox), 0o755); err != nil {
			return fmt.Errorf("cluster: make the ocfbox binary reachable: %w", err)
		}
		c.ocfLower = filepath.Join(root, ocfDir)
	}
	return nil
}

func (c *Cluster) buildNetwork(ctx context.Context) error {
	steps := [][]string{
		{"ip", "netns", "add", switchNS},
		{"ip", "-n", switchNS, "link", "add", bridge, "type", "bridge"},
		{"ip", "-n", switchNS, "link", "set", bridge, "up"},
		{"ip", "netns", "add", clientNS},
		{"ip", "-n", switchNS, "link", "add", "client", "type", "veth", "peer", "name", "eth0", "netns", clientNS},
		{"ip", "-n", switchNS, "link", "set", "client", "master", bridge, "up"},
		{"ip", "-n", clientNS, "addr", "add", fmt.Sprintf("%s/%d", ClientAddr, PrefixLen), "dev", "eth0"},
		{"ip", "-n", clientNS, "link", "set", "eth0", "up"},
		{"ip", "-n", clientNS, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if _, err := run(ctx, nil, s...); err != nil {
			return fmt.Errorf("cluster: network: %w", err)
		}
	}
	return nil
}

// ClientCommand prepares a command in the client namespace, a host on
// the cluster network that is not a node (for ping, curl, …).
func (c *Cluster) ClientCommand(ctx context.Context, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", clientNS}, argv...)...)
	cmd.Env = nodeEnv()
	cmd.Dir = "/"
	return cmd
}

// Ping reports whether addr answers one ping from the client namespace
// within a second.
func (c *Cluster) Ping(ctx context.Context, addr string) error {
	out, err := c.ClientCommand(ctx, "ping", "-n", "-c", "1", "-W", "1", addr).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s from the client: %w: %s", addr, err, lastLine(out))
	}
	return nil
}

// ClientNeighbor is the link-layer address the client has for addr ("" if
// none), which tells which node answered for it.
func (c *Cluster) ClientNeighbor(ctx context.Context, addr string) (string, error) {
	out, err := run(ctx, nil, "ip", "-n", clientNS, "neigh", "show", addr, "dev", "eth0")
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "lladdr" {
			return f[i+1], nil
		}
	}
	return "", nil
}

// Close kills every node, removes the namespaces and the working
// directory and releases the lock. It is safe to call more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		var errs []error
		for _, n := range c.Nodes {
			if _, err := n.Kill(); err != nil {
				errs = append(errs, err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, ns := range []string{clientNS, switchNS} {
			if err := deleteNetns(ctx, ns); err != nil {
				errs = append(errs, err)
			}
		}
		if c.dir != "" {
			if err := os.RemoveAll(c.dir); err != nil {
				errs = append(errs, fmt.Errorf("cluster: %w", err))
			}
		}
		if c.lock != nil {
			c.lock.Close()
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// takeLock makes this the only cluster on the machine: the namespace
// names and addresses are fixed. It waits for another run to finish.
func takeLock(ctx context.Context, logf func(string, ...any)) (*os.File, error) {
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cluster: lock: %w", err)
	}
	for i := 0; ; i++ {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("cluster: lock %s: %w", lockPath, err)
		}
		if i == 0 {
			logf("cluster: waiting for another cluster run to finish (%s)", lockPath)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("cluster: waiting for another cluster run to release %s: %w", lockPath, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// removeLeftovers removes what an earlier run that was killed left: its
// namespaces (with everything still running in them) and its working
// directories. Only called with the lock held, so nothing with Prefix is
// in use.
func removeLeftovers(ctx context.Context, logf func(string, ...any)) error {
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cluster: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), Prefix) {
			continue
		}
		logf("cluster: removing namespace %s left by an earlier run", e.Name())
		if err := killNetns(ctx, e.Name()); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := deleteNetns(ctx, e.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), Prefix+"*"))
	for _, d := range dirs {
		logf("cluster: removing %s left by an earlier run", d)
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("cluster: %w", err))
		}
	}
	return errors.Join(errs...)
}

// killNetns SIGKILLs every process in a network namespace and waits until
// there are none.
func killNetns(ctx context.Context, ns string) error {
	for range 50 {
		out, err := run(ctx, nil, "ip", "netns", "pids", ns)
		if err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("cluster: processes in namespace %s survive SIGKILL", ns)
}

func deleteNetns(ctx context.Context, ns string) error {
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := run(ctx, nil, "ip", "netns", "del", ns); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// nodeEnv is the environment of everything the harness runs: fixed, so
// that the test's own environment does not leak into the daemons and
// from there into the agents.
func nodeEnv() []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root",
		"LC_ALL=C",
		"PCMK_logfacility=none", // no syslog: the nodes would write to the host's
	}
}

// run runs a program on the host and returns its standard output; the
// error carries its standard error.
func run(ctx context.Context, env []string, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if env == nil {
		env = nodeEnv()
	}
	cmd.Env = env
	cmd.Dir = "/"
	return output(cmd)
}

// output runs cmd and returns its standard output, with its standard
// error in the error.
func output(cmd *exec.Cmd) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
