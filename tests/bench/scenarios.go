package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/ocfbox/ocfbox/internal/apachetest"
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
	}.rows(),
	agent{
		Name: "apache", Reference: "/usr/lib/ocf/resource.d/heartbeat/apache", Root: true,
		Monitor: map[string]string{"interval": "10000", "name": "monitor"},
		Prepare: apacheSite,
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
			Op: op, Resource: a.Resource, Prepare: a.Prepare, Observe: a.Observe[action],
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
