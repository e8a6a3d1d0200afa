// Package libvirttest runs private libvirt daemons for tests. Each daemon
// has its own configuration, state, cache and log directories, its own
// /run, and its own socket under a temporary directory, all inside a
// mount namespace of its own, so it never disturbs a system libvirtd or
// another test's daemon. StartPair gives two such daemons their own
// network and UTS namespaces, joined by a veth pair on TEST-NET-1, as two
// hosts for live migration. Everything a daemon started (the daemon, its
// qemu processes, the namespaces) is torn down at the test's cleanup.
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

// Daemon is one private libvirtd.
type Daemon struct {
	Name   string // host name in its UTS namespace
	Addr   string // its address on the veth link (StartPair only)
	Dir    string // everything it writes lives under Dir
	Socket string // its read-write socket

	t      testing.TB
	listen bool

	anchor  *exec.Cmd // holds the namespaces
	nsFlags []string  // nsenter flags for the namespaces it owns
	mntNS   string
	mu      sync.Mutex
	daemon  *exec.Cmd
	exited  chan struct{}
}

// URI is the daemon's qemu:///system, reached through its own socket.
func (d *Daemon) URI() string { return "qemu:///system?socket=" + d.Socket }

// TestURI is the daemon's in-memory test driver.
func (d *Daemon) TestURI() string { return "test+unix:///default?socket=" + d.Socket }

func require(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t)
	for _, tool := range []string{"libvirtd", "qemu-system-x86_64", "unshare", "nsenter", "mount", "virsh"} {
		testenv.RequireTool(t, tool)
	}
}

// Start starts a private libvirtd and registers its teardown.
func Start(t testing.TB) *Daemon {
	t.Helper()
	require(t)
	d := newDaemon(t, "", "", false)
	d.startAnchor(false)
	d.mount(nil)
	d.StartDaemon()
	return d
}

// StartPair starts two private libvirtds, each in its own network and
// UTS namespace ("ocfbox-a" at 192.0.2.1, "ocfbox-b" at 192.0.2.2), with
// a veth link between them, TCP listening without authentication, and an
// /etc/hosts that names both (also as <name>-mig, a migration network
// name): two hosts for live migration.
func StartPair(t testing.TB) (a, b *Daemon) {
	t.Helper()
	require(t)
	testenv.RequireTool(t, "ip")
	a = newDaemon(t, "ocfbox-a", "192.0.2.1", true)
	b = newDaemon(t, "ocfbox-b", "192.0.2.2", true)
	a.startAnchor(true)
	b.startAnchor(true)
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n%s\t%s %s-mig\n%s\t%s %s-mig\n", a.Addr, a.Name, a.Name, b.Addr, b.Name, b.Name)
	a.mustRun("nsenter", append(a.nsFlags, "--", "ip", "link", "add", "veth0", "type", "veth",
		"peer", "name", "veth0", "netns", strconv.Itoa(b.anchor.Process.Pid))...)
	for _, d := range []*Daemon{a, b} {
		d.enter("ip", "link", "set", "lo", "up")
		d.enter("ip", "addr", "add", d.Addr+"/24", "dev", "veth0")
		d.enter("ip", "link", "set", "veth0", "up")
		d.enter("hostname", d.Name)
		d.mount([]byte(hosts))
	}
	a.StartDaemon()
	b.StartDaemon()
	return a, b
}

func newDaemon(t testing.TB, name, addr string, listen bool) *Daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "ocfbox-libvirt-")
	if err != nil {
		t.Fatalf("libvirttest: make directory: %v", err)
	}
	d := &Daemon{Name: name, Addr: addr, Dir: dir, Socket: filepath.Join(dir, "run", "libvirt-sock"), t: t, listen: listen}
	t.Cleanup(d.teardown)
	if err := Prepare(dir, listen); err != nil {
		t.Fatalf("libvirttest: %v", err)
	}
	return d
}

// Prepare lays out dir for a private libvirtd: its run, lib, cache, log
// and etc directories, a libvirtd.conf (without authentication on the
// UNIX socket, with a host UUID of its own, TCP listening without
// authentication when listen is set), a qemu.conf without security
// driver, per-guest namespaces or cgroups, and the capability cache of
// CapsCacheDir. Start does this itself; a program that runs libvirtd in
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
func (d *Daemon) startAnchor(network bool) {
	args := []string{"--mount", "--uts", "--propagation", "private"}
	d.nsFlags = []string{"--mount", "--uts"}
	if network {
		args = append(args, "--net")
		d.nsFlags = append(d.nsFlags, "--net")
	}
	d.anchor = exec.Command("unshare", append(args, "sleep", "infinity")...)
	d.anchor.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.anchor.Start(); err != nil {
		d.t.Fatalf("libvirttest: start namespace holder: %v", err)
	}
	// unshare execs sleep once the namespaces exist.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", d.anchor.Process.Pid)); strings.HasSuffix(exe, "/sleep") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.nsFlags = append([]string{"--target", strconv.Itoa(d.anchor.Process.Pid)}, d.nsFlags...)
	d.mntNS, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", d.anchor.Process.Pid))
}

// mount gives the namespace its private directories (MountCommands).
func (d *Daemon) mount(hosts []byte) {
	d.t.Helper()
	cmds, err := MountCommands(d.Dir, MountOptions{Hosts: hosts})
	if err != nil {
		d.t.Fatalf("libvirttest: %v", err)
	}
	for _, c := range cmds {
		d.enter(c...)
	}
}

func (d *Daemon) enter(argv ...string) {
	d.t.Helper()
	d.mustRun("nsenter", append(append(append([]string{}, d.nsFlags...), "--"), argv...)...)
}

func (d *Daemon) mustRun(name string, args ...string) {
	d.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		d.t.Fatalf("libvirttest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// StartDaemon starts libvirtd (again, after Stop) and waits until its
// socket answers; it does nothing while libvirtd runs.
func (d *Daemon) StartDaemon() {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.daemon != nil {
		return
	}
	os.Remove(d.Socket)
	args := append(append(append([]string{}, d.nsFlags...), "--"), Libvirtd(d.listen)...)
	log, err := os.OpenFile(filepath.Join(d.Dir, "libvirtd.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		d.t.Fatalf("libvirttest: %v", err)
	}
	defer log.Close()
	cmd := exec.Command("nsenter", args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("libvirttest: start libvirtd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	d.daemon, d.exited = cmd, exited
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.Dial("unix", d.Socket); err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			d.daemon = nil
			d.t.Fatalf("libvirttest: libvirtd exited at start: %s", d.tail("libvirtd.out"))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("libvirttest: libvirtd socket %s did not appear within 60s: %s", d.Socket, d.tail("libvirtd.out"))
		}
	}
}

// Stop stops libvirtd (SIGTERM) and waits for it; its guests keep
// running, as on a host where libvirtd is restarted.
func (d *Daemon) Stop() {
	d.t.Helper()
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
// daemon, and for StartPair daemons the network is the host's own.
func (d *Daemon) Command(ctx context.Context, argv ...string) *exec.Cmd {
	args := append(append(append([]string{}, d.nsFlags...), "--"), argv...)
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
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || d.anchor == nil || pid == d.anchor.Process.Pid {
			continue
		}
		if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); ns != "" && ns == d.mntNS {
			pids = append(pids, pid)
		}
	}
	return pids
}

// teardown stops libvirtd, kills what it left running in its namespace
// (by process id, only processes in this daemon's mount namespace),
// releases the namespaces and removes the directory.
func (d *Daemon) teardown() {
	d.mu.Lock()
	d.stopLocked()
	d.mu.Unlock()
	if d.anchor != nil && d.anchor.Process != nil {
		for i := 0; i < 100; i++ {
			pids := d.Processes()
			if len(pids) == 0 {
				break
			}
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(50 * time.Millisecond)
		}
		d.anchor.Process.Kill()
		d.anchor.Wait()
	}
	copyCapsOut(d.Dir)
	if d.t.Failed() || os.Getenv("OCFBOX_KEEP_LIBVIRT") != "" {
		d.t.Logf("libvirttest: %s log:\n%s", d.Dir, d.tail("log/libvirtd.log"))
	}
	if os.Getenv("OCFBOX_KEEP_LIBVIRT") == "" {
		os.RemoveAll(d.Dir)
	}
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
