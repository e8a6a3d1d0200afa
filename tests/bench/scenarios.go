package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocfbox/ocfbox/internal/apachetest"
	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/internal/netnstest"
	"github.com/ocfbox/ocfbox/pkg/proc"
)

// scenarios are the rows of the table, in order: each agent's recurring
// monitor of a started resource, its start and its stop.
var scenarios = slices.Concat(
	agent{
		Name: "Dummy", Reference: "/usr/lib/ocf/resource.d/heartbeat/Dummy",
		Monitor: map[string]string{"interval": "10000", "name": "monitor"},
		Prepare: func(s *side) error {
			s.Params["state"] = s.path("Dummy.state")
			return nil
		},
	}.rows(),
	// A promotable clone instance in the Unpromoted role. Start and stop
	// set the promotion score, so crm_attribute is a fake in HA_SBIN_DIR
	// and nothing reaches a cluster.
	agent{
		Name: "Stateful", Reference: "/usr/lib/ocf/resource.d/pacemaker/Stateful",
		Monitor: map[string]string{"interval": "11000", "name": "monitor", "role": "Unpromoted"},
		Resource: map[string]string{
			"clone": "0", "clone_max": "2", "clone_node_max": "1", "globally_unique": "false",
			"notify": "false", "promotable": "true", "promoted_max": "1", "promoted_node_max": "1",
		},
		Prepare: func(s *side) error {
			s.Params["state"] = s.path("Stateful.state")
			return s.fakeTool("crm_attribute")
		},
		Surroundings: "Stateful's crm_attribute is a no-op fake in HA_SBIN_DIR",
	}.rows(),
	agent{
		Name: "IPaddr2", Reference: "/usr/lib/ocf/resource.d/heartbeat/IPaddr2", Root: true,
		Monitor: map[string]string{"interval": "10000", "name": "monitor"},
		Prepare: ipaddr2Node,
		Settle:  quiet,
		Observe: map[string]*observation{"start": {
			What:    "first gratuitous ARP for " + vip.String() + " the neighbour receives, after start returned (negative: before)",
			Measure: firstARP,
		}},
		Surroundings: "IPaddr2 runs in a network namespace of each side's own, 192.0.2.1/24 on a veth to a neighbour namespace that records ARP, with ip=" + vip.String() + " alone (NIC and prefix found from the route)",
	}.rows(),
	agent{
		Name: "apache", Reference: "/usr/lib/ocf/resource.d/heartbeat/apache", Root: true,
		Monitor:      map[string]string{"interval": "10000", "name": "monitor"},
		Prepare:      apacheSite,
		Surroundings: "apache manages a site of each side's own (internal/apachetest, Debian's apache2, mpm_event) on its own free 127.0.0.1 port",
	}.rows(),
	agent{
		Name: "Filesystem", Reference: "/usr/lib/ocf/resource.d/heartbeat/Filesystem", Root: true,
		Monitor: map[string]string{"interval": "20000", "name": "monitor"},
		Prepare: filesystemSide,
		Surroundings: "Filesystem: each side has an ext4 file system of its own on a loop device (a 64 MiB sparse image) and a mount namespace of its own (a process of unshare --mount --propagation private), " +
			"and every invocation of both sides goes through nsenter into it, so nothing is mounted on the host (nsenter is in the programs column of both sides); the recurring monitor is of depth 0",
	}.rows(),
	agent{
		Name: "VirtualDomain", Reference: "/usr/lib/ocf/resource.d/heartbeat/VirtualDomain", Root: true,
		Monitor: map[string]string{"interval": "10000", "name": "monitor"},
		Prepare: libvirtGuest,
		Surroundings: "VirtualDomain: one private libvirtd for the whole run (internal/libvirttest: Debian's libvirtd with directories, /run and socket of its own in a mount namespace of its own, qemu under TCG, no KVM), " +
			"hypervisor=qemu:///system?socket=<its socket>; each side manages a transient guest of its own (config=its XML, libvirttest.GuestXML: 32 MiB, 1 vCPU, no disk, no network, boots no OS), " +
			"with force_stop=true, so a stop destroys it (the guest would never answer an ACPI shutdown); the utilization attributes at their default (autoset on), " +
			"in a CIB file of each side's own (CIB_file) that crm_resource reads and writes, so nothing reaches a cluster; the reference asks libvirt through virsh, ocfbox speaks libvirt's RPC protocol on the socket itself",
	}.rows(),
)

// agent describes an agent's rows.
type agent struct {
	Name, Reference string
	Root            bool
	Resource        map[string]string // the resource's meta attributes
	Monitor         map[string]string // the recurring monitor's operation meta
	// Prepare gives a side its parameters and surroundings, the resource
	// stopped.
	Prepare func(s *side) error
	// Settle, if set, runs after every unmeasured start and stop: it
	// waits until the background work they left (announcements) is done,
	// so that it does not run into the next measured invocation.
	Settle  func(s *side) error
	Observe map[string]*observation // by action
	// Surroundings says what Prepare sets up, for the notes under the
	// table.
	Surroundings string
}

// rows are the monitor of a started resource, a start from stopped
// (stopped again after each) and a stop from started (started before
// each).
func (a agent) rows() []scenario {
	act := func(action string) func(s *side) error {
		return func(s *side) error {
			if err := s.act(action); err != nil {
				return err
			}
			if a.Settle != nil {
				return a.Settle(s)
			}
			return nil
		}
	}
	row := func(action string, op map[string]string) scenario {
		return scenario{
			Agent: a.Name, Action: action, Reference: a.Reference, Root: a.Root,
			Op: op, Resource: a.Resource, Prepare: a.Prepare, Observe: a.Observe[action], Surroundings: a.Surroundings,
		}
	}
	monitor := row("monitor", a.Monitor)
	monitor.Setup = act("start")
	start := row("start", map[string]string{"name": "start"})
	start.After = act("stop")
	stop := row("stop", map[string]string{"name": "stop"})
	stop.Before = act("start")
	return []scenario{monitor, start, stop}
}

// vip is the address the IPaddr2 rows manage; the node's own address
// is 192.0.2.1/24 (TEST-NET-1).
var vip = netip.MustParseAddr("192.0.2.10")

// ipaddr2Node gives a side a network namespace of its own, the node,
// joined by a veth pair to a neighbour namespace (which records the
// announcements), with 192.0.2.1/24 on the node's end "va". The agent
// runs inside the node; its only parameter is ip=192.0.2.10, so it finds
// the NIC and the prefix from the route, as most configurations do.
func ipaddr2Node(s *side) error {
	node, err := netnstest.Create("bench-node")
	if err != nil {
		return err
	}
	s.cleanup(node.Close)
	neighbour, err := netnstest.Create("bench-neighbour")
	if err != nil {
		return err
	}
	s.cleanup(neighbour.Close)
	if err := node.AddVeth("va", neighbour, "vb"); err != nil {
		return err
	}
	cmd := exec.Command("ip", "addr", "add", "192.0.2.1/24", "brd", "+", "dev", "va")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := node.Run(cmd); err != nil {
		return fmt.Errorf("%s in %s: %v: %s", cmd, node.Name, err, out.Bytes())
	}
	c, err := neighbour.StartCapture("vb")
	if err != nil {
		return err
	}
	s.cleanup(func() error { c.Stop(); return nil })
	s.NetNS, s.Capture = node, c
	s.Params["ip"] = vip.String()
	return nil
}

// quiet waits until nothing runs in the side's network namespace any
// more: the announcements a start left in the background (the
// reference's send_arp, ocfbox's announcer) have ended, or a stop has
// ended them.
func quiet(s *side) error {
	end := time.Now().Add(10 * time.Second)
	for {
		pids, err := s.NetNS.Processes()
		if err != nil || len(pids) == 0 {
			return err
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s: processes %v still run in %s 10 s after the last start or stop", s.Name, pids, s.NetNS.Name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// firstARP is when the neighbour received the first ARP for the address
// sent after the start began, relative to the start returning; the
// kernel timestamps frames as they arrive.
func firstARP(s *side, began, returned time.Time) (time.Duration, error) {
	frames := s.Capture.WaitFor(1, 3*time.Second, func(f netnstest.Frame) bool {
		return f.ARP != nil && f.ARP.SenderIP == vip && !f.At.Before(began)
	})
	if len(frames) == 0 {
		return 0, fmt.Errorf("no ARP for %s reached the neighbour within 3 s of the start", vip)
	}
	return frames[0].At.Sub(returned), nil
}

// ports are the ports this run has given apache sites, so that the two
// sides of a row never get the same one.
var ports = map[int]bool{}

// apacheSite writes a site of its own for the side (internal/apachetest:
// one httpd configuration listening on a free port of 127.0.0.1) and
// makes the resource manage it. At cleanup, after the final stop, no
// process of the site may be left: one that is is killed and the run
// fails.
func apacheSite(s *side) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	site, err := apachetest.Write(s.path("site"), apachetest.Options{Listen: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))})
	if err != nil {
		return err
	}
	s.cleanup(func() error { return noneLeft(site.Conf) })
	s.Params["configfile"] = site.Conf
	s.Params["envfiles"] = "" // not Debian's /etc/apache2/envvars: the site names everything itself
	return nil
}

func freePort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !ports[port] {
			ports[port] = true
			return port, nil
		}
	}
	return 0, errors.New("find a free port on 127.0.0.1: none new in 100 tries")
}

// noneLeft makes sure that no httpd of the configuration conf (and no
// process of its families) runs: any that does is killed, and that is
// an error, since the row's final stop should have stopped it.
func noneLeft(conf string) error {
	httpds, err := proc.Host.Find(func(_ proc.Proc, argv []string) bool { return slices.Contains(argv, conf) })
	if err != nil || len(httpds) == 0 {
		return err
	}
	all := httpds
	for _, p := range httpds {
		fam, _ := proc.Host.Family(p)
		all = append(all, fam...)
	}
	proc.Host.SignalAll(all, syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	left := proc.Host.WaitGone(ctx, all, 10*time.Millisecond)
	return fmt.Errorf("httpd of %s still ran after the final stop: killed %v (still there: %v)", filepath.Dir(conf), httpds, left)
}

// libvirtGuest gives a side a guest of its own on the run's private
// libvirtd (started by the first VirtualDomain row), and checks at
// cleanup, after the final stop, that the guest is gone: one that is
// not is destroyed and the run fails.
func libvirtGuest(s *side) error {
	d, err := s.bench.libvirtd()
	if err != nil {
		return err
	}
	name, err := guestSide(s, d.URI())
	if err != nil {
		return err
	}
	s.cleanup(func() error { return noGuestLeft(d, name) })
	return nil
}

// libvirtd is the run's private libvirtd, started on first use; run
// closes it at the end.
func (b *bench) libvirtd() (*libvirttest.Daemon, error) {
	if b.libvirt == nil {
		d, err := libvirttest.New(b.ctx)
		if err != nil {
			return nil, err
		}
		b.libvirt = d
	}
	return b.libvirt, nil
}

// guestSide writes the side's guest configuration and CIB file and
// gives the resource its parameters: the guest on the daemon at uri,
// stopped with force_stop (the guest boots no OS, so an ACPI shutdown
// would only end at the stop's deadline), utilization attributes at
// their default, kept in the CIB file (CIB_file), where the resource is
// a primitive. It returns the guest's name.
func guestSide(s *side, uri string) (string, error) {
	name := "bench-vd-" + s.Name
	config := s.path(name + ".xml")
	if err := os.WriteFile(config, []byte(libvirttest.GuestXML(name, "")), 0o644); err != nil {
		return "", err
	}
	// The feature set and schema of an empty CIB of this Pacemaker
	// (cibadmin --empty): crm_resource refuses a CIB file of a newer
	// feature set ("Protocol violated").
	cib := fmt.Sprintf(`<cib crm_feature_set=%q validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config/>
    <nodes/>
    <resources>
      <primitive id=%q class="ocf" provider=%q type=%q/>
    </resources>
    <constraints/>
  </configuration>
  <status/>
</cib>
`, featureSet, s.instance(), s.Provider, s.sc.Agent)
	if err := os.WriteFile(s.path("cib.xml"), []byte(cib), 0o644); err != nil {
		return "", err
	}
	s.Extra["CIB_file"] = s.path("cib.xml")
	s.Params["config"] = config
	s.Params["hypervisor"] = uri
	s.Params["force_stop"] = "true"
	return name, nil
}

// noGuestLeft makes sure the daemon knows no guest of that name: one it
// does is destroyed, and that is an error, since the row's final stop
// should have stopped it.
func noGuestLeft(d *libvirttest.Daemon, name string) error {
	out, err := d.Virsh("domstate", name)
	if err != nil {
		if strings.Contains(out, "failed to get domain") {
			return nil
		}
		return err
	}
	if _, derr := d.Virsh("destroy", name); derr != nil {
		return fmt.Errorf("guest %s was still %s after the final stop, and destroying it failed: %w", name, strings.TrimSpace(out), derr)
	}
	return fmt.Errorf("guest %s was still %s after the final stop: destroyed", name, strings.TrimSpace(out))
}

// filesystemSide gives a side an ext4 loop device and a private mount
// namespace, held by a sleeping process, that every invocation enters.
func filesystemSide(s *side) error {
	img := s.path("fs.img")
	f, err := os.Create(img)
	if err != nil {
		return err
	}
	err = f.Truncate(64 << 20)
	f.Close()
	if err != nil {
		return err
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4: %w: %s", err, out)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		return fmt.Errorf("losetup: %w", err)
	}
	dev := strings.TrimSpace(string(out))
	s.cleanup(func() error { return exec.Command("losetup", "-d", dev).Run() })
	holder := exec.Command("unshare", "--mount", "--propagation", "private", "sleep", "infinity")
	holder.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := holder.Start(); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	s.cleanup(func() error { holder.Process.Kill(); holder.Wait(); return nil })
	// unshare execs sleep once the namespace exists.
	for i := 0; ; i++ {
		own, _ := os.Readlink("/proc/self/ns/mnt")
		its, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", holder.Process.Pid))
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", holder.Process.Pid))
		if its != "" && its != own && strings.HasSuffix(exe, "/sleep") {
			break
		}
		if i > 200 {
			return fmt.Errorf("unshare did not make a mount namespace")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Prefix = []string{"nsenter", "-t", strconv.Itoa(holder.Process.Pid), "-m", "--"}
	s.Params["device"] = dev
	s.Params["directory"] = s.path("mnt")
	s.Params["fstype"] = "ext4"
	return nil
}
