// Package libvirttest runs private libvirt daemons for tests and
// benchmarks. Each daemon has its own configuration, state, cache and
// log directories, its own /run, and its own socket under a temporary
// directory, all inside a mount namespace of its own, so it never
// disturbs a system libvirtd or another daemon. NewPair gives two such
// daemons their own network and UTS namespaces, joined by a veth pair on
// TEST-NET-1, as two hosts for live migration. Close tears down
// everything a daemon started (the daemon, its qemu processes, the
// namespaces). New and NewPair return errors and leave closing to the
// caller (tests/bench); Start and StartPair are their forms for a test:
// they skip without root or the programs needed (fail under
// OCFBOX_REQUIRE_ALL=1), fail the test on error and close at its cleanup.
//
// Why qemu's capabilities are handled specially: libvirtd caches what
// each qemu binary can do and re-probes it (by starting qemu) whenever
// the cache looks stale. With a /dev/kvm that the qemu user may open but
// that cannot really run KVM guests (as on the lab kernel), every
// validity check finds "KVM was not enabled when probing, but it should
// be usable now" and probes again: with libvirt 9.0 here, about twenty
// probes and 23 s for one transient create instead of 2 s. Binding
// /dev/null over /dev/kvm does not help, it is still a device the qemu
// user may open (measured: 23 s per create). A private daemon therefore
// gets a /dev/kvm its qemu user (libvirt-qemu, not root) cannot open, so
// the cached "no KVM" answer stays valid, and libvirt's per-guest /dev
// namespace is turned off because it cannot replicate that mount. The
// capability cache is also kept between test runs (CapsCacheDir), so
// only the first daemon ever probes.
package libvirttest

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

// CapsCacheDir keeps libvirtd's qemu capability cache between test runs.
var CapsCacheDir = "/var/tmp/ocfbox-libvirttest/qemu-capabilities"

// tools are the programs a private daemon needs.
var tools = []string{"libvirtd", "qemu-system-x86_64", "unshare", "nsenter", "mount", "virsh"}

// Daemon is one private libvirtd.
type Daemon struct {
	Name   string // host name in its UTS namespace
	Addr   string // its address on the veth link (NewPair, StartPair only)
	Dir    string // everything it writes lives under Dir
	Socket string // its read-write socket

	t      testing.TB // the test of Start or StartPair; nil for New
	listen bool

	anchor  *exec.Cmd // holds the namespaces
	nsFlags []string  // nsenter flags for the namespaces it owns
	mntNS   string
	mu      sync.Mutex
	daemon  *exec.Cmd
	exited  chan struct{}
	closed  bool
}

// URI is the daemon's qemu:///system, reached through its own socket.
func (d *Daemon) URI() string { return "qemu:///system?socket=" + d.Socket }

// TestURI is the daemon's in-memory test driver.
func (d *Daemon) TestURI() string { return "test+unix:///default?socket=" + d.Socket }

func require(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t)
	for _, tool := range tools {
		testenv.RequireTool(t, tool)
	}
}

// canRun says why a private daemon cannot run here, for New and NewPair.
func canRun(extra ...string) error {
	if os.Geteuid() != 0 {
		return errors.New("libvirttest: a private libvirtd needs root")
	}
	for _, tool := range append(slices.Clone(tools), extra...) {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("libvirttest: %w", err)
		}
	}
	return nil
}

// Start starts a private libvirtd for the test and closes it at the
// test's cleanup. The test skips (or fails under OCFBOX_REQUIRE_ALL=1)
// without root or a program the daemon needs, and fails when the daemon
// does not start.
func Start(t testing.TB) *Daemon {
	t.Helper()
	require(t)
	d, err := New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d.closeAtCleanup(t)
	return d
}

// StartPair starts two private libvirtds for the test, as NewPair does,
// and closes them at the test's cleanup; requirements and failures as
// for Start.
func StartPair(t testing.TB) (a, b *Daemon) {
	t.Helper()
	require(t)
	testenv.RequireTool(t, "ip")
	a, b, err := NewPair(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a.closeAtCleanup(t)
	b.closeAtCleanup(t)
	return a, b
}

// closeAtCleanup ties the daemon to a test: StartDaemon fails it, and
// the daemon is closed at its cleanup, with the tail of libvirtd's log
// in the test's output when the test failed (or OCFBOX_KEEP_LIBVIRT is
// set).
func (d *Daemon) closeAtCleanup(t testing.TB) {
	d.t = t
	t.Cleanup(func() {
		err := d.close(func() {
			if t.Failed() || os.Getenv("OCFBOX_KEEP_LIBVIRT") != "" {
				t.Logf("libvirttest: %s log:\n%s", d.Dir, d.tail("log/libvirtd.log"))
			}
		})
		if err != nil {
			t.Logf("%v", err)
		}
	})
}

// New starts a private libvirtd in a mount and UTS namespace of its own
// and waits until its socket answers (or ctx ends). The caller closes
// it with Close; on error, whatever New started is already gone. It
// needs root.
func New(ctx context.Context) (*Daemon, error) {
	if err := canRun(); err != nil {
		return nil, err
	}
	d, err := newDaemon("", "", false)
	if err != nil {
		return nil, err
	}
	err = d.startAnchor(ctx, false)
	if err == nil {
		err = d.mount(ctx, nil)
	}
	if err == nil {
		err = d.Restart(ctx)
	}
	if err != nil {
		return nil, d.abandon(err)
	}
	return d, nil
}

// NewPair starts two private libvirtds, each in its own network and
// UTS namespace ("ocfbox-a" at 192.0.2.1, "ocfbox-b" at 192.0.2.2), with
// a veth link between them, TCP listening without authentication, and an
// /etc/hosts that names both (also as <name>-mig, a migration network
// name): two hosts for live migration. The caller closes both.
func NewPair(ctx context.Context) (a, b *Daemon, err error) {
	if err := canRun("ip"); err != nil {
		return nil, nil, err
	}
	if a, err = newDaemon("ocfbox-a", "192.0.2.1", true); err != nil {
		return nil, nil, err
	}
	if b, err = newDaemon("ocfbox-b", "192.0.2.2", true); err != nil {
		return nil, nil, a.abandon(err)
	}
	if err := a.pair(ctx, b); err != nil {
		return nil, nil, errors.Join(a.abandon(err), b.abandon(nil))
	}
	return a, b, nil
}

// pair links a and b (see NewPair) and starts both daemons.
func (a *Daemon) pair(ctx context.Context, b *Daemon) error {
	for _, d := range []*Daemon{a, b} {
		if err := d.startAnchor(ctx, true); err != nil {
			return err
		}
	}
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n%s\t%s %s-mig\n%s\t%s %s-mig\n", a.Addr, a.Name, a.Name, b.Addr, b.Name, b.Name)
	if err := run(ctx, "nsenter", append(slices.Clone(a.nsFlags), "--", "ip", "link", "add", "veth0", "type", "veth",
		"peer", "name", "veth0", "netns", strconv.Itoa(b.anchor.Process.Pid))...); err != nil {
		return err
	}
	for _, d := range []*Daemon{a, b} {
		for _, argv := range [][]string{
			{"ip", "link", "set", "lo", "up"},
			{"ip", "addr", "add", d.Addr + "/24", "dev", "veth0"},
			{"ip", "link", "set", "veth0", "up"},
			{"hostname", d.Name},
		} {
			if err := d.enter(ctx, argv...); err != nil {
				return err
			}
		}
		if err := d.mount(ctx, []byte(hosts)); err != nil {
			return err
		}
	}
	for _, d := range []*Daemon{a, b} {
		if err := d.Restart(ctx); err != nil {
			return err
		}
	}
	return nil
}

func newDaemon(name, addr string, listen bool) (*Daemon, error) {
	dir, err := os.MkdirTemp("", "ocfbox-libvirt-")
	if err != nil {
		return nil, fmt.Errorf("libvirttest: make directory: %w", err)
	}
	d := &Daemon{Name: name, Addr: addr, Dir: dir, Socket: filepath.Join(dir, "run", "libvirt-sock"), listen: listen}
	if err := Prepare(dir, listen); err != nil {
		return nil, d.abandon(fmt.Errorf("libvirttest: prepare %s: %w", dir, err))
	}
	return d, nil
}

// abandon closes a daemon that could not be made and returns why, with
// the tail of libvirtd's log when it wrote one.
func (d *Daemon) abandon(why error) error {
	err := d.close(func() {
		if why == nil {
			return
		}
		if _, err := os.Stat(filepath.Join(d.Dir, "log", "libvirtd.log")); err == nil {
			why = fmt.Errorf("%w\nlibvirtd.log:\n%s", why, d.tail("log/libvirtd.log"))
		}
	})
	return errors.Join(why, err)
}

// Prepare lays out dir for a private libvirtd: its run, lib, cache, log
// and etc directories, a libvirtd.conf (without authentication on the
// UNIX socket, with a host UUID of its own, TCP listening without
// authentication when listen is set), a qemu.conf without security
// driver, per-guest namespaces or cgroups, and the capability cache of
// CapsCacheDir. New does this itself; a program that runs libvirtd in
// namespaces of its own (the cluster nodes of tests/cluster) calls
// Prepare once, runs MountCommands inside the daemon's mount namespace at
// every start, starts Libvirtd there and calls SaveCaps at the end. A
// dir already prepared is left as it is.
func Prepare(dir string, listen bool) error {
	if _, err := os.Stat(filepath.Join(dir, "etc", "libvirtd.conf")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// qemu runs as libvirt-qemu and must reach the guests' files.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for _, sub := range []string{"run", "lib", "cache/qemu/capabilities", "log", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf(`auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = %q
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
`, randomUUID())
	if listen {
		conf += "listen_tls = 0\nlisten_tcp = 1\nauth_tcp = \"none\"\n"
	}
	// No cgroups: libvirt would otherwise create machine/ groups in the
	// host's (shared) cgroup tree for every guest. A VNC port range of
	// its own: daemons in the host's network namespace (Start) each
	// allocate display ports by themselves, and two starting a guest at
	// once would both pick the first free port of the default range.
	var r [2]byte
	rand.Read(r[:])
	port := 5900 + 100*((int(r[0])<<8|int(r[1]))%500)
	qemuConf := fmt.Sprintf(`stdio_handler = "file"
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
remote_display_port_min = %d
remote_display_port_max = %d
`, port, port+99)
	if err := os.WriteFile(filepath.Join(dir, "etc", "libvirtd.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "qemu.conf"), []byte(qemuConf), 0o644); err != nil {
		return err
	}
	copyCapsIn(dir)
	return nil
}

// Libvirtd is the command line of a daemon laid out by Prepare, to run
// inside its namespaces once MountCommands ran there.
func Libvirtd(listen bool) []string {
	if listen {
		return []string{"libvirtd", "--listen"}
	}
	return []string{"libvirtd"}
}

// SaveCaps keeps what the daemon of dir probed for the next daemon.
func SaveCaps(dir string) { copyCapsOut(dir) }

// MountOptions shape MountCommands.
type MountOptions struct {
	// Hosts, when set, becomes the namespace's /etc/hosts.
	Hosts []byte
	// FreshRun says the namespace already has a /run of its own that
	// every start empties (a tmpfs): libvirt's run directory is then
	// made there rather than bound from dir, so no stale guest state of
	// an earlier start survives. Otherwise a tmpfs is mounted on /run and
	// dir/run bound on /run/libvirt (the socket is reachable from outside
	// at dir/run/libvirt-sock).
	FreshRun bool
}

// MountCommands are the commands (argv, run in order inside the daemon's
// private mount namespace) that give a daemon laid out by Prepare in dir
// its directories: its own /run/libvirt, /var/lib, /var/cache,
// /var/log and /etc of libvirt, an /etc/hosts when asked, and a /dev/kvm
// its qemu user cannot open (see the package documentation). Files the
// mounts need are written into dir.
func MountCommands(dir string, opts MountOptions) ([][]string, error) {
	var cmds [][]string
	if opts.FreshRun {
		cmds = append(cmds, []string{"mkdir", "-p", "/run/libvirt"})
	} else {
		cmds = append(cmds, []string{"mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"},
			[]string{"mkdir", "/run/libvirt"},
			[]string{"mount", "--bind", filepath.Join(dir, "run"), "/run/libvirt"})
	}
	for _, m := range []struct{ src, dst string }{{"lib", "/var/lib/libvirt"}, {"cache", "/var/cache/libvirt"},
		{"log", "/var/log/libvirt"}, {"etc", "/etc/libvirt"}} {
		cmds = append(cmds, []string{"mount", "--bind", filepath.Join(dir, m.src), m.dst})
	}
	if opts.Hosts != nil {
		p := filepath.Join(dir, "hosts")
		if err := os.WriteFile(p, opts.Hosts, 0o644); err != nil {
			return nil, err
		}
		cmds = append(cmds, []string{"mount", "--bind", p, "/etc/hosts"})
	}
	if _, err := os.Stat("/dev/kvm"); err == nil {
		p := filepath.Join(dir, "kvm-unusable")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			return nil, err
		}
		if err := os.Chmod(p, 0); err != nil {
			return nil, err
		}
		cmds = append(cmds, []string{"mount", "--bind", p, "/dev/kvm"})
	}
	return cmds, nil
}

func randomUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// startAnchor starts the process that holds the daemon's namespaces.
func (d *Daemon) startAnchor(ctx context.Context, network bool) error {
	args := []string{"--mount", "--uts", "--propagation", "private"}
	d.nsFlags = []string{"--mount", "--uts"}
	if network {
		args = append(args, "--net")
		d.nsFlags = append(d.nsFlags, "--net")
	}
	d.anchor = exec.Command("unshare", append(args, "sleep", "infinity")...)
	d.anchor.SysProcAttr = detached()
	if err := d.anchor.Start(); err != nil {
		d.anchor = nil
		return fmt.Errorf("libvirttest: start namespace holder: %w", err)
	}
	// unshare execs sleep once the namespaces exist.
	pid := d.anchor.Process.Pid
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); strings.HasSuffix(exe, "/sleep") {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("libvirttest: namespace holder %d did not exec sleep: %w", pid, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	d.nsFlags = append([]string{"--target", strconv.Itoa(pid)}, d.nsFlags...)
	d.mntNS, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	return nil
}

// detached are the process attributes of what a daemon keeps running
// (the namespace holder, libvirtd): killed when the process that started
// it dies, and in a process group of its own, so that a Ctrl-C on the
// terminal reaches the program, which then closes the daemon in order,
// rather than the daemon behind its back.
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// mount gives the namespace its private directories (MountCommands).
func (d *Daemon) mount(ctx context.Context, hosts []byte) error {
	cmds, err := MountCommands(d.Dir, MountOptions{Hosts: hosts})
	if err != nil {
		return fmt.Errorf("libvirttest: %w", err)
	}
	for _, c := range cmds {
		if err := d.enter(ctx, c...); err != nil {
			return err
		}
	}
	return nil
}

// enter runs a command inside the daemon's namespaces.
func (d *Daemon) enter(ctx context.Context, argv ...string) error {
	return run(ctx, "nsenter", append(append(slices.Clone(d.nsFlags), "--"), argv...)...)
}

func run(ctx context.Context, name string, args ...string) error {
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("libvirttest: %s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// Restart starts libvirtd (again, after Stop) and waits until its
// socket answers, at most 60 s or until ctx ends; it does nothing while
// libvirtd runs.
func (d *Daemon) Restart(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("libvirttest: daemon in %s is closed", d.Dir)
	}
	if d.daemon != nil {
		return nil
	}
	os.Remove(d.Socket)
	args := append(append(slices.Clone(d.nsFlags), "--"), Libvirtd(d.listen)...)
	log, err := os.OpenFile(filepath.Join(d.Dir, "libvirtd.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("libvirttest: %w", err)
	}
	defer log.Close()
	cmd := exec.Command("nsenter", args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("libvirttest: start libvirtd: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	d.daemon, d.exited = cmd, exited
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if c, err := net.Dial("unix", d.Socket); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			d.daemon = nil
			return fmt.Errorf("libvirttest: libvirtd exited at start: %s", d.tail("libvirtd.out"))
		case <-ctx.Done():
			return fmt.Errorf("libvirttest: libvirtd socket %s did not answer: %w: %s", d.Socket, ctx.Err(), d.tail("libvirtd.out"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartDaemon is Restart for the daemon of a test (Start, StartPair): it
// fails the test when libvirtd does not come up.
func (d *Daemon) StartDaemon() {
	if d.t == nil {
		panic("libvirttest: StartDaemon is for a daemon of Start or StartPair; call Restart")
	}
	d.t.Helper()
	if err := d.Restart(context.Background()); err != nil {
		d.t.Fatal(err)
	}
}

// Stop stops libvirtd (SIGTERM) and waits for it; its guests keep
// running, as on a host where libvirtd is restarted.
func (d *Daemon) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
}

func (d *Daemon) stopLocked() {
	if d.daemon == nil {
		return
	}
	d.daemon.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		d.daemon.Process.Kill()
		<-d.exited
	}
	d.daemon = nil
}

// PID is libvirtd's process id, 0 when it is stopped.
func (d *Daemon) PID() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.daemon == nil {
		return 0
	}
	return d.daemon.Process.Pid
}

// Command runs a program inside the daemon's namespaces, as if on its
// host: there qemu:///system (and libvirt's default URI) reach this
// daemon, and for NewPair daemons the network is the host's own.
func (d *Daemon) Command(ctx context.Context, argv ...string) *exec.Cmd {
	args := append(append(slices.Clone(d.nsFlags), "--"), argv...)
	return exec.CommandContext(ctx, "nsenter", args...)
}

// Virsh runs virsh against the daemon, for tests that want an
// independent view of what the code under test did.
func (d *Daemon) Virsh(args ...string) (string, error) {
	out, err := exec.Command("virsh", append([]string{"-c", d.URI()}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("virsh %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Processes lists the processes living in the daemon's mount namespace
// other than the namespace holder: libvirtd and the guests' qemu.
func (d *Daemon) Processes() []int {
	var pids []int
	if d.anchor == nil || d.mntNS == "" {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == d.anchor.Process.Pid {
			continue
		}
		if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); ns == d.mntNS {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Close stops libvirtd, kills what it left running in its namespace
// (its guests' qemu: by process id, only processes in this daemon's
// mount namespace), releases the namespaces and removes the directory
// (kept when OCFBOX_KEEP_LIBVIRT is set). What the daemon probed of qemu
// is kept in CapsCacheDir for the next one. Closing twice does nothing.
func (d *Daemon) Close() error { return d.close(nil) }

// close is Close, running beforeRemove (if set) once everything has
// stopped and before the directory goes.
func (d *Daemon) close(beforeRemove func()) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.stopLocked()
	d.mu.Unlock()
	var err error
	if d.anchor != nil {
		for range 100 {
			pids := d.Processes()
			if len(pids) == 0 {
				break
			}
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if left := d.Processes(); len(left) > 0 {
			err = fmt.Errorf("libvirttest: processes %v of the daemon in %s survived SIGKILL for 5 s", left, d.Dir)
		}
		d.anchor.Process.Kill()
		d.anchor.Wait()
	}
	copyCapsOut(d.Dir)
	if beforeRemove != nil {
		beforeRemove()
	}
	if os.Getenv("OCFBOX_KEEP_LIBVIRT") == "" {
		if rerr := os.RemoveAll(d.Dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("libvirttest: %w", rerr))
		}
	}
	return err
}

func (d *Daemon) tail(name string) string {
	f, err := os.Open(filepath.Join(d.Dir, name))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 40 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func capsDir(dir string) string { return filepath.Join(dir, "cache", "qemu", "capabilities") }

func copyCapsIn(dir string) {
	entries, _ := os.ReadDir(CapsCacheDir)
	for _, e := range entries {
		copyFile(filepath.Join(CapsCacheDir, e.Name()), filepath.Join(capsDir(dir), e.Name()))
	}
}

// copyCapsOut keeps what the daemon of dir probed for the next one.
func copyCapsOut(dir string) {
	entries, _ := os.ReadDir(capsDir(dir))
	for _, e := range entries {
		if err := os.MkdirAll(CapsCacheDir, 0o755); err != nil {
			return
		}
		dst := filepath.Join(CapsCacheDir, e.Name())
		tmp := dst + ".tmp" + strconv.Itoa(os.Getpid())
		if copyFile(filepath.Join(capsDir(dir), e.Name()), tmp) == nil {
			os.Rename(tmp, dst)
		}
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// WaitGone waits until no domain of that name is known to the daemon's
// qemu driver any more, for tests that stop guests behind its back.
func (d *Daemon) WaitGone(ctx context.Context, name string) error {
	for {
		out, err := d.Virsh("domstate", name)
		if err != nil || strings.Contains(out, "shut off") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("domain %s still %s: %w", name, strings.TrimSpace(out), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// GuestXML is a tiny guest that runs anywhere under TCG: 32 MiB, one
// vCPU, no disk, no network, VNC on 127.0.0.1 only. It boots no OS, so
// it never answers an ACPI shutdown request. uuid may be empty.
func GuestXML(name, uuid string) string {
	u := ""
	if uuid != "" {
		u = "\n  <uuid>" + uuid + "</uuid>"
	}
	return fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>%s
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <graphics type='vnc' listen='127.0.0.1' autoport='yes'/>
  </devices>
</domain>
`, name, u)
}

// RandomUUID returns a random (version 4) UUID.
func RandomUUID() string { return randomUUID() }
