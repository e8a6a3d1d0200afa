// Command umlinit is PID 1 of a user-mode Linux cluster node booted by
// internal/umlcluster. The node's root file system is the host's (hostfs),
// so before anything else it puts every path the node writes on a tmpfs of
// its own; then it sets up the network, the kernel modules (from
// /usr/lib/uml/modules through a private modules directory, also for the
// kernel's own module requests), runs the harness's setup commands,
// starts corosync and pacemakerd, and serves commands from the host on
// TCP (package wire). It reaps every orphan of the node.
//
// Called as "modprobe" (the kernel's usermode helper is a link to it) it
// runs /sbin/modprobe with the private modules directory instead.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ocfbox/ocfbox/internal/umlcluster/wire"
)

// Where the node keeps its own state (all on the /run tmpfs).
const (
	stateDir = "/run/umlcluster"
	modsDir  = stateDir + "/mods"
	binDir   = stateDir + "/bin"
	sbinDir  = stateDir + "/sbin"
	execDir  = stateDir + "/exec"
	// binDir first: its modprobe uses the UML modules.
	path = "PATH=" + binDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

func main() {
	if filepath.Base(os.Args[0]) == "modprobe" {
		modprobe()
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "ioprobe" {
		os.Exit(ioprobe(os.Args[2:]))
	}
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("umlinit: ")
	if os.Getpid() != 1 {
		log.Fatal("not PID 1: umlinit is the init of a UML node")
	}
	if err := run(); err != nil {
		log.Printf("FAILED: %v", err)
	}
	// PID 1 must not exit (the kernel panics); keep reaping and serving.
	select {}
}

// modprobe is the kernel's module helper and the node's modprobe.
func modprobe() {
	var u unix.Utsname
	unix.Uname(&u)
	args := append([]string{"/sbin/modprobe", "-d", modsDir}, os.Args[1:]...)
	err := syscall.Exec("/sbin/modprobe", args, os.Environ())
	fmt.Fprintf(os.Stderr, "modprobe: %v\n", err)
	os.Exit(1)
}

func run() error {
	go reap()
	confPath := os.Getenv(wire.ConfigEnv)
	data, err := os.ReadFile(confPath)
	if err != nil {
		return fmt.Errorf("read configuration (kernel parameter %s=): %w", wire.ConfigEnv, err)
	}
	var c wire.Config
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("configuration %s: %w", confPath, err)
	}
	os.Setenv("PATH", strings.TrimPrefix(path, "PATH="))
	os.Setenv("HOME", "/run/root")
	os.Setenv("LANG", "C")
	log.Printf("node %s (%d) starting", c.Name, c.ID)
	if err := mounts(&c); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(c.Name)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	os.WriteFile("/proc/sys/kernel/sysrq", []byte("1\n"), 0o644)
	if err := modules(&c); err != nil {
		return err
	}
	if err := network(&c); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(strings.Split(c.Addr, "/")[0], strconv.Itoa(wire.Port)))
	if err != nil {
		return fmt.Errorf("listen for commands: %w", err)
	}
	go serve(ln)
	log.Printf("serving commands on %s", ln.Addr())
	if err := files(&c); err != nil {
		return err
	}
	if len(c.SbinOverlay) > 0 {
		if err := sbinOverlay(&c); err != nil {
			return err
		}
	}
	steps := c.Setup
	if c.FirstBoot {
		steps = append(append([][]string{}, c.FirstSetup...), c.Setup...)
	}
	for _, argv := range steps {
		if err := runLogged(argv); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	if c.Cluster {
		if err := clusterStack(&c); err != nil {
			return err
		}
	}
	log.Printf("boot complete")
	return nil
}

func mount(src, target, fstype, data string) error {
	if err := unix.Mount(src, target, fstype, 0, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, target, err)
	}
	return nil
}

func mounted(target string) bool {
	b, _ := os.ReadFile("/proc/mounts")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == target {
			return true
		}
	}
	return false
}

// mounts makes every path the node writes private: the root is the
// host's own file system, so a write anywhere else would land on the host.
func mounts(c *wire.Config) error {
	if err := mount("proc", "/proc", "proc", ""); err != nil {
		return err
	}
	if err := mount("sysfs", "/sys", "sysfs", ""); err != nil {
		return err
	}
	if !mounted("/dev") {
		if err := mount("devtmpfs", "/dev", "devtmpfs", ""); err != nil {
			return err
		}
	}
	for _, m := range []struct{ target, fstype, data string }{
		{"/dev/shm", "tmpfs", "mode=1777"},
		{"/dev/pts", "devpts", ""},
		{"/run", "tmpfs", "mode=0755"},
		{"/tmp", "tmpfs", "mode=1777"},
	} {
		os.MkdirAll(m.target, 0o755) // /dev is the node's devtmpfs
		if err := mount(m.fstype, m.target, m.fstype, m.data); err != nil {
			return err
		}
	}
	for _, d := range []string{"/run/lock", "/run/root", execDir, binDir, sbinDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The harness's directories again, through hostfs mounts of the same
	// host paths, in case they lie under /tmp.
	for _, d := range c.Expose {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := mount("none", d, "hostfs", d); err != nil {
			return err
		}
	}
	for _, d := range c.Tmpfs {
		if err := mount("tmpfs", d, "tmpfs", "mode=0755"); err != nil {
			return err
		}
	}
	// dlm_controld and libdlm open /dev/misc/*; devtmpfs has them in /dev.
	os.MkdirAll("/dev/misc", 0o755)
	for _, d := range []string{"dlm-control", "dlm-monitor", "dlm_plock", "ocfs2_control"} {
		os.Symlink("../"+d, "/dev/misc/"+d)
	}
	return nil
}

// modules points the kernel's module helper at a private modules
// directory whose lib/modules/<release> is the UML package's, and loads
// what the configuration asks for.
func modules(c *wire.Config) error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return err
	}
	release := unix.ByteSliceToString(u.Release[:])
	if err := os.MkdirAll(modsDir+"/lib/modules", 0o755); err != nil {
		return err
	}
	if err := os.Symlink("/usr/lib/uml/modules/"+release, modsDir+"/lib/modules/"+release); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.Symlink(self, binDir+"/modprobe"); err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/kernel/modprobe", []byte(binDir+"/modprobe\n"), 0o644); err != nil {
		return fmt.Errorf("set the module helper: %w", err)
	}
	mods := c.Modules
	if len(c.SbinOverlay) > 0 {
		mods = append(mods, "overlay")
	}
	if len(mods) > 0 {
		if err := runLogged(append([]string{binDir + "/modprobe", "-a"}, mods...)); err != nil {
			return fmt.Errorf("modules: %w", err)
		}
	}
	if _, err := os.Stat("/sys/kernel/config"); err == nil && !mounted("/sys/kernel/config") {
		if err := mount("configfs", "/sys/kernel/config", "configfs", ""); err != nil {
			return err
		}
	}
	return nil
}

// network brings lo and the node's device up with its address, through
// netlink (a program started in a UML node costs tens of milliseconds),
// and switches the device's TSO/GSO off.
func network(c *wire.Config) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("network: lo up: %w", err)
	}
	dev, err := netlink.LinkByName(c.Iface)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	if err := netlink.LinkSetUp(dev); err != nil {
		return fmt.Errorf("network: %s up: %w", c.Iface, err)
	}
	// TSO/GSO of UML's vector TAP device stall TCP (4 MiB took 11-14 s).
	if err := runLogged([]string{"ethtool", "-K", c.Iface, "tso", "off", "gso", "off"}); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	addr, err := netlink.ParseAddr(c.Addr)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	if err := netlink.AddrAdd(dev, addr); err != nil {
		return fmt.Errorf("network: address %s on %s: %w", c.Addr, c.Iface, err)
	}
	return nil
}

func lookupOwner(name string) (int, int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, nil
}

func files(c *wire.Config) error {
	for _, f := range c.Files {
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(f.Mode)
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(f.Path, []byte(f.Data), mode); err != nil {
			return err
		}
		if f.Owner != "" {
			uid, gid, err := lookupOwner(f.Owner)
			if err != nil {
				return fmt.Errorf("owner of %s: %w", f.Path, err)
			}
			if err := os.Chown(f.Path, uid, gid); err != nil {
				return err
			}
		}
	}
	return nil
}

// sbinOverlay makes programs appear in /usr/sbin of this node only (where
// pacemaker-fenced looks for fence agents), with a read-only overlay of a
// tmpfs directory of links on top of the host's /usr/sbin.
func sbinOverlay(c *wire.Config) error {
	for name, target := range c.SbinOverlay {
		if err := os.Symlink(target, filepath.Join(sbinDir, name)); err != nil {
			return err
		}
	}
	return mount("overlay", "/usr/sbin", "overlay", "lowerdir="+sbinDir+":/usr/sbin")
}

// clusterStack starts corosync and pacemakerd the way their systemd
// units would, with Pacemaker's state on the node's tmpfs and the logs in
// the host's log directory.
func clusterStack(c *wire.Config) error {
	uid, gid, err := lookupOwner("hacluster")
	if err != nil {
		return err
	}
	if g, err := user.LookupGroup("haclient"); err == nil {
		gid, _ = strconv.Atoi(g.Gid)
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
		ha   bool
	}{
		{"/var/lib/pacemaker/cib", 0o750, true},
		{"/var/lib/pacemaker/pengine", 0o750, true},
		{"/var/lib/pacemaker/blackbox", 0o750, true},
		{"/var/lib/pacemaker/cores", 0o750, true},
		{"/var/log/pacemaker", 0o770, true},
		{"/var/log/corosync", 0o755, false},
		{"/run/crm", 0o750, true},
		{"/run/resource-agents", 0o1755, false},
	} {
		if err := os.MkdirAll(d.path, d.mode.Perm()); err != nil {
			return err
		}
		os.Chmod(d.path, d.mode)
		if d.ha {
			os.Chown(d.path, uid, gid)
			os.Chown(filepath.Dir(d.path), uid, gid)
		}
	}
	if c.CIB != "" {
		data, err := os.ReadFile(c.CIB)
		if err != nil {
			return fmt.Errorf("seed CIB: %w", err)
		}
		cib := "/var/lib/pacemaker/cib/cib.xml"
		if err := os.WriteFile(cib, data, 0o600); err != nil {
			return err
		}
		os.Chown(cib, uid, gid)
	}
	conf, err := os.ReadFile(c.CorosyncConf)
	if err != nil {
		return fmt.Errorf("corosync.conf: %w", err)
	}
	conf = []byte(strings.ReplaceAll(string(conf), "@LOGFILE@", filepath.Join(c.LogDir, "corosync.log")))
	if err := os.WriteFile("/etc/corosync/corosync.conf", conf, 0o644); err != nil {
		return err
	}
	// Without CAP_IPC_LOCK and CAP_SYS_RESOURCE corosync's mlockall fails
	// (it logs a warning and goes on): locked, its knet buffers are all
	// faulted in at start, which costs a UML node ~170 MiB and tens of
	// seconds of page faults on a loaded host.
	argv := []string{"corosync", "-f"}
	if _, err := lookPath("setpriv"); err == nil {
		argv = append([]string{"setpriv", "--bounding-set", "-ipc_lock,-sys_resource", "--"}, argv...)
	}
	if _, err := startDaemon(c, "corosync", nil, argv...); err != nil {
		return err
	}
	// pacemakerd gives up at once if corosync does not answer yet; wait
	// for corosync's IPC socket as its systemd unit's ordering would.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := runQuiet([]string{"corosync-cmapctl", "-g", "totem.cluster_name"}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("corosync did not answer within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Printf("corosync up")
	env := []string{"PCMK_logfile=" + filepath.Join(c.LogDir, "pacemaker.log")}
	if _, err := startDaemon(c, "pacemakerd", env, "pacemakerd"); err != nil {
		return err
	}
	log.Printf("pacemakerd started")
	return nil
}

// ---- processes ----

var (
	reapMu  sync.Mutex
	waiters = map[int]chan syscall.WaitStatus{}
	early   = map[int]syscall.WaitStatus{} // reaped before their starter registered
)

// reap collects every child and orphan of the node; processes the init
// started get their status through start's channel.
func reap() {
	sig := make(chan os.Signal, 64)
	signal.Notify(sig, syscall.SIGCHLD)
	for {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			reapMu.Lock()
			if ch, ok := waiters[pid]; ok {
				delete(waiters, pid)
				ch <- ws
			} else {
				early[pid] = ws
			}
			reapMu.Unlock()
		}
		select {
		case <-sig:
		case <-time.After(time.Second): // a coalesced SIGCHLD is never missed for long
		}
	}
}

func environ(extra []string) []string {
	env := os.Environ()
	return append(env, extra...)
}

// start starts argv in a process group of its own and returns its pid and
// a channel that gets its wait status.
func start(argv, env []string, dir string, files []*os.File) (int, <-chan syscall.WaitStatus, error) {
	if len(argv) == 0 {
		return 0, nil, errors.New("empty command")
	}
	prog := argv[0]
	if !strings.Contains(prog, "/") {
		p, err := lookPath(prog)
		if err != nil {
			return 0, nil, err
		}
		prog = p
	}
	if dir == "" {
		dir = "/"
	}
	ch := make(chan syscall.WaitStatus, 1)
	reapMu.Lock()
	defer reapMu.Unlock()
	p, err := os.StartProcess(prog, argv, &os.ProcAttr{
		Dir:   dir,
		Env:   environ(env),
		Files: files,
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return 0, nil, err
	}
	pid := p.Pid
	p.Release()
	if ws, ok := early[pid]; ok {
		delete(early, pid)
		ch <- ws
	} else {
		waiters[pid] = ch
	}
	return pid, ch, nil
}

func lookPath(name string) (string, error) {
	for _, d := range strings.Split(os.Getenv("PATH"), ":") {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH", name)
}

func devNull() *os.File {
	f, _ := os.Open("/dev/null")
	return f
}

// runLogged runs a setup step with its output on the console.
func runLogged(argv []string) error {
	log.Printf("run %s", strings.Join(argv, " "))
	null := devNull()
	defer null.Close()
	_, ch, err := start(argv, nil, "/", []*os.File{null, os.Stdout, os.Stderr})
	if err != nil {
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	if ws := <-ch; ws.ExitStatus() != 0 {
		return fmt.Errorf("%s: %s", strings.Join(argv, " "), describe(ws))
	}
	return nil
}

func runQuiet(argv []string) error {
	null := devNull()
	defer null.Close()
	_, ch, err := start(argv, nil, "/", []*os.File{null, null, null})
	if err != nil {
		return err
	}
	if ws := <-ch; ws.ExitStatus() != 0 {
		return errors.New(describe(ws))
	}
	return nil
}

func describe(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// startDaemon starts a program that runs as long as the node, its output
// in LogDir/<name>.out.
func startDaemon(c *wire.Config, name string, env []string, argv ...string) (int, error) {
	out, err := os.OpenFile(filepath.Join(c.LogDir, name+".out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	null := devNull()
	defer null.Close()
	pid, ch, err := start(argv, env, "/", []*os.File{null, out, out})
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		ws := <-ch
		log.Printf("%s (pid %d) ended: %s", name, pid, describe(ws))
	}()
	return pid, nil
}

// ---- the command server ----

var seq struct {
	sync.Mutex
	n int
}

func serve(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			log.Printf("accept: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go handle(conn)
	}
}

func handle(conn net.Conn) {
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	r := bufio.NewReader(conn)
	var req wire.Request
	if err := json.NewDecoder(r).Decode(&req); err != nil {
		json.NewEncoder(conn).Encode(wire.Response{Error: "bad request: " + err.Error()})
		return
	}
	// Anything more from the host, or its closing, cancels the request.
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, conn)
		close(gone)
	}()
	var resp wire.Response
	switch req.Op {
	case wire.OpExec:
		resp = execute(&req, gone)
	case wire.OpWait:
		resp = wait(&req, gone)
	default:
		resp.Error = fmt.Sprintf("unknown op %q", req.Op)
	}
	json.NewEncoder(conn).Encode(resp)
}

func execute(req *wire.Request, gone <-chan struct{}) (resp wire.Response) {
	seq.Lock()
	seq.n++
	id := seq.n
	seq.Unlock()
	base := filepath.Join(execDir, strconv.Itoa(id))
	var files []*os.File
	for _, suffix := range []string{".in", ".out", ".err"} {
		f, err := os.OpenFile(base+suffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			resp.Error = err.Error()
			return resp
		}
		defer os.Remove(f.Name())
		defer f.Close()
		files = append(files, f)
	}
	if len(req.Stdin) > 0 {
		files[0].Write(req.Stdin)
		files[0].Seek(0, 0)
	}
	resp.Start = time.Now()
	pid, ch, err := start(req.Argv, req.Env, req.Dir, files)
	if err != nil {
		resp.Error = err.Error()
		return resp
	}
	var ws syscall.WaitStatus
	select {
	case ws = <-ch:
	case <-gone:
		syscall.Kill(-pid, syscall.SIGKILL)
		ws = <-ch
	}
	resp.End = time.Now()
	resp.Exit = ws.ExitStatus()
	if ws.Signaled() {
		resp.Signal = ws.Signal().String()
	}
	resp.Stdout, _ = os.ReadFile(base + ".out")
	resp.Stderr, _ = os.ReadFile(base + ".err")
	return resp
}

func wait(req *wire.Request, gone <-chan struct{}) (resp wire.Response) {
	resp.Start = time.Now()
	interval := req.Interval
	if interval <= 0 {
		interval = 20 * time.Millisecond
	}
	for {
		b, err := os.ReadFile(req.Path)
		has := err == nil && strings.Contains(string(b), req.Match)
		if has != req.Absent {
			resp.End = time.Now()
			resp.Stdout = b
			return resp
		}
		select {
		case <-gone:
			resp.Error = "cancelled"
			return resp
		case <-time.After(interval):
		}
	}
}
