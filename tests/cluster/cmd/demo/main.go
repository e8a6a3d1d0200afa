// Command demo shows ocfbox agents under a real Pacemaker + Corosync
// cluster of three network-namespace nodes, each with a libvirtd of its
// own: a web-style group (floating IP + web server, IPaddr2 and apache)
// colocated with the promoted instance of a promotable clone (Stateful),
// and a libvirt guest (VirtualDomain) colocated with the group; crm_mon,
// the kill of the active node, the failover of all of them to a survivor
// and its time, then the teardown. Ctrl-C tears down too. It needs root,
// and the packages of packaging/test-deps.txt.
//
//	go run ./tests/cluster/cmd/demo -ocfbox bin/ocfbox
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/ocfbox/ocfbox/agents"
	"github.com/ocfbox/ocfbox/tests/cluster"
)

const (
	vip   = "192.0.2.50"
	guest = cluster.Prefix + "demo-vm" // libvirt guest of resource vm
)

func main() {
	cluster.MaybeNodeInit() // a node's init never returns from here
	bin := flag.String("ocfbox", "bin/ocfbox", "the ocfbox binary (make build)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin string, w io.Writer) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("needs root (namespaces, mounts, Pacemaker)")
	}
	bin, err = filepath.Abs(bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("ocfbox binary: %w (run make build first)", err)
	}
	step := func(format string, args ...any) { fmt.Fprintf(w, "\n\033[1m==> "+format+"\033[0m\n", args...) }

	step("building a 3-node Pacemaker + Corosync cluster in network namespaces (%s*), a libvirtd on every node", cluster.Prefix)
	c, err := cluster.New(ctx, cluster.Options{
		OCFBox: bin,
		// On every node: a web server's configuration, a libvirtd of
		// the node's own and the guest's configuration file.
		NodeSetup: cluster.Setups(cluster.SetupApache, cluster.SetupGuests(guest)),
		Logf:      func(f string, a ...any) { fmt.Fprintf(w, f+"\n", a...) },
	})
	if err != nil {
		return err
	}
	defer func() {
		step("tearing down")
		c.SaveLibvirtCaps() // so that the next run's libvirtds do not probe qemu again
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, cerr)
			return
		}
		fmt.Fprintln(w, "namespaces, processes and directories removed")
	}()

	// ocfbox's own IPaddr2 and apache when this build has them (same
	// parameters: drop-ins), the reference IPaddr2 and a Dummy until then.
	mon := func(interval string, role string) []cluster.OpSpec {
		return []cluster.OpSpec{{Name: "monitor", Interval: interval, Timeout: "20s", Role: role}}
	}
	vipRsc := cluster.Primitive{ID: "vip", Agent: "ocf:heartbeat:IPaddr2",
		Params: map[string]string{"ip": vip, "cidr_netmask": "24", "nic": "eth0"}, Ops: mon("5s", "")}
	if _, ok := agents.Lookup("IPaddr2"); ok {
		vipRsc.Agent = "ocf:ocfbox:IPaddr2"
	}
	wwwRsc := cluster.Primitive{ID: "www", Agent: "ocf:ocfbox:Dummy", Ops: mon("5s", "")}
	web := false
	if _, ok := agents.Lookup("apache"); ok {
		wwwRsc = cluster.Primitive{ID: "www", Agent: "ocf:ocfbox:apache",
			Params: map[string]string{"configfile": cluster.ApacheConfigFile}, Ops: mon("10s", "")}
		web = true
	}
	vmRsc := cluster.GuestPrimitive("vm", "ocf:ocfbox:VirtualDomain", guest)
	objs := []cluster.CIBObject{
		cluster.Clone{
			ID:   "db-clone",
			Meta: map[string]string{"promotable": "true", "promoted-max": "1", "clone-max": "3", "clone-node-max": "1"},
			Primitive: cluster.Primitive{ID: "db", Agent: "ocf:ocfbox:Stateful",
				Ops: append(mon("3s", "Promoted"), mon("4s", "Unpromoted")...)},
		},
		cluster.Group{ID: "web", Members: []cluster.Primitive{vipRsc, wwwRsc}},
		cluster.Colocation{ID: "web-with-db", Resource: "web", WithResource: "db-clone", WithRole: "Promoted", Score: "INFINITY"},
		cluster.Order{ID: "db-before-web", First: "db-clone", FirstAction: "promote", Then: "web", ThenAction: "start"},
		vmRsc,
		cluster.Colocation{ID: "vm-with-web", Resource: "vm", WithResource: "web", Score: "INFINITY"},
	}
	step("configuring: group web (vip %s, www %s), promotable clone db-clone (ocf:ocfbox:Stateful), web with the promoted db, guest vm (%s, libvirt domain %s) with web",
		vipRsc.Agent, wwwRsc.Agent, vmRsc.Agent, guest)
	for _, o := range objs {
		x, err := cluster.XML(o)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "cibadmin --create: %s\n", x)
	}
	if err := c.Configure(ctx, objs...); err != nil {
		return err
	}
	healthy := func(not string) cluster.Condition {
		return func(s *cluster.Status) error {
			if err := cluster.NoFailures(s); err != nil {
				return err
			}
			p, vipOn, wwwOn, vmOn := s.PromotedOn("db"), s.StartedOn("vip"), s.StartedOn("www"), s.StartedOn("vm")
			if len(p) != 1 || !slices.Equal(p, vipOn) || !slices.Equal(p, wwwOn) || !slices.Equal(p, vmOn) || p[0] == not {
				return fmt.Errorf("db promoted on %v, vip on %v, www on %v, vm on %v", p, vipOn, wwwOn, vmOn)
			}
			if len(s.StartedOn("db")) != len(s.Online) {
				return fmt.Errorf("db runs on %v of %v", s.StartedOn("db"), s.Online)
			}
			return nil
		}
	}
	s, err := c.WaitFor(ctx, 120*time.Second, "web, vm and the promoted db together", healthy(""))
	if err != nil {
		return err
	}
	active := s.PromotedOn("db")[0]
	if err := showCrmMon(ctx, c, w, step); err != nil {
		return err
	}
	step("from the client namespace (%s): ping %s", cluster.ClientAddr, vip)
	if err := reach(ctx, c, w, web); err != nil {
		return err
	}
	if err := showGuest(ctx, c.Node(active), w, step); err != nil {
		return err
	}

	step("killing %s: every process of the node, its network cable pulled", active)
	killed, err := c.Node(active).Kill()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "killed at %s\n", killed.Format("15:04:05.000"))
	s, err = c.WaitFor(ctx, 120*time.Second, "failover", healthy(active))
	if err != nil {
		return err
	}
	survivor := s.PromotedOn("db")[0]
	fmt.Fprintf(w, "web, vm and the promoted db are on %s\n", survivor)
	if err := showCrmMon(ctx, c, w, step); err != nil {
		return err
	}
	step("from the client namespace again: ping %s", vip)
	if err := reach(ctx, c, w, web); err != nil {
		return err
	}
	if err := showGuest(ctx, c.Node(survivor), w, step); err != nil {
		return err
	}

	step("failover time, from the cluster's operation history (last-rc-change has 1 s resolution)")
	var rs []cluster.Recovery
	for _, x := range []struct {
		id  string
		ops []string
	}{{"db", []string{"promote", "monitor"}}, {"vip", []string{"start", "monitor"}}, {"www", []string{"start", "monitor"}}, {"vm", []string{"start", "monitor"}}} {
		r, err := c.WaitRecovery(ctx, 30*time.Second, x.id, survivor, killed, x.ops...)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	fmt.Fprint(w, cluster.RecoveryTable(rs))
	return nil
}

func showCrmMon(ctx context.Context, c *cluster.Cluster, w io.Writer, step func(string, ...any)) error {
	up := c.Ready()
	if len(up) == 0 {
		return errors.New("no node is up")
	}
	step("crm_mon --one-shot --inactive (on %s)", up[0].Name)
	out, err := up[0].Run(ctx, "crm_mon", "--one-shot", "--inactive")
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// showGuest lists the guests of node's own libvirtd, and where the
// guest's qemu runs.
func showGuest(ctx context.Context, n *cluster.Node, w io.Writer, step func(string, ...any)) error {
	step("virsh --connect qemu:///system list (on %s, its own libvirtd)", n.Name)
	out, err := n.Run(ctx, "virsh", "--connect", "qemu:///system", "list")
	if err != nil {
		return err
	}
	if _, err := w.Write(out); err != nil {
		return err
	}
	fmt.Fprintf(w, "qemu of %s on %s: pid %v (host PIDs)\n", guest, n.Name, n.ProcessesMatching(cluster.QemuOf(guest)))
	return nil
}

// reach pings the VIP from the client and, when www is a web server,
// fetches its page, which names the node that served it.
func reach(ctx context.Context, c *cluster.Cluster, w io.Writer, web bool) error {
	var err error
	for i := range 10 {
		if err = c.Ping(ctx, vip); err == nil {
			fmt.Fprintf(w, "%s answers (attempt %d)\n", vip, i+1)
			break
		}
	}
	if err != nil || !web {
		return err
	}
	page, err := c.HTTPGet(ctx, "http://"+vip+"/")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "curl http://%s/: %s", vip, page)
	return nil
}
