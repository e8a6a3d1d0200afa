package uml

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ocfbox/ocfbox/internal/umlcluster"
)

// Agents names the agents a scenario configures, as class:provider:type.
type Agents struct {
	Name       string // for the figures: "reference", "ocfbox"
	DRBD       string
	Filesystem string
	Controld   string
}

// Reference are the agents of Debian's resource-agents, drbd-utils and
// pacemaker: the baseline.
var Reference = Agents{
	Name:       "reference",
	DRBD:       "ocf:linbit:drbd",
	Filesystem: "ocf:heartbeat:Filesystem",
	Controld:   "ocf:pacemaker:controld",
}

// OCFBox are ocfbox's agents (install them with testenv.InstallAgents);
// the DLM's controld stays Pacemaker's.
var OCFBox = Agents{
	Name:       "ocfbox",
	DRBD:       "ocf:ocfbox:drbd",
	Filesystem: "ocf:ocfbox:Filesystem",
	Controld:   "ocf:pacemaker:controld",
}

// Resource ids and paths of the scenarios.
const (
	DRBDClone     = "ms_drbd_r0"
	DRBDPrimitive = "p_drbd_r0"
	DataFS        = "p_fs"
	DataDir       = "/run/umldata" // on the node's /run tmpfs: the agent creates it
	DLMClone      = "cl_dlm"
	DLMPrimitive  = "p_dlm"
	SharedClone   = "cl_ocfs2"
	SharedFS      = "p_ocfs2"
	SharedDir     = "/run/umlshared"
	SharedDevice  = "/dev/ubdb"
)

// DRBDExt4 is the DRBD scenario's cluster: two nodes, DRBD r0 on their
// private disks (uml1 primed with ext4), the promotable clone and an ext4
// Filesystem on /dev/drbd0 colocated with and ordered after the
// promotion, fencing through the lab.
//
// Monitors are every 20-30 s with 120 s timeouts: a shell agent's run
// takes seconds in a UML node and tens of seconds on a loaded 2-CPU host,
// and the failover figures do not depend on monitors (the power cut is
// seen by corosync's membership).
func DRBDExt4(a Agents) umlcluster.Config {
	drbd := umlcluster.Primitive(DRBDPrimitive, a.DRBD,
		map[string]string{"drbd_resource": "r0"}, // drbdconf: /etc/drbd.conf, the node's /etc/drbd.d
		umlcluster.Op{Name: "monitor", Interval: "20s", Timeout: "120s", Role: "Promoted"},
		umlcluster.Op{Name: "monitor", Interval: "21s", Timeout: "120s", Role: "Unpromoted"},
		umlcluster.Op{Name: "start", Timeout: "240s"},
		umlcluster.Op{Name: "promote", Timeout: "90s"},
		umlcluster.Op{Name: "demote", Timeout: "90s"},
		umlcluster.Op{Name: "stop", Timeout: "100s"},
		umlcluster.Op{Name: "notify", Timeout: "90s"})
	fs := umlcluster.Primitive(DataFS, a.Filesystem,
		map[string]string{"device": "/dev/drbd0", "directory": DataDir, "fstype": "ext4"},
		umlcluster.Op{Name: "monitor", Interval: "30s", Timeout: "120s"},
		umlcluster.Op{Name: "start", Timeout: "180s"},
		umlcluster.Op{Name: "stop", Timeout: "180s"})
	return umlcluster.Config{
		Nodes: 2,
		DRBD:  &umlcluster.DRBD{Primary: 1, FSType: "ext4"},
		Resources: []string{
			umlcluster.Clone(DRBDClone, map[string]string{
				"promotable": "true", "promoted-max": "1", "promoted-node-max": "1",
				"clone-max": "2", "clone-node-max": "1", "notify": "true",
			}, drbd),
			fs,
		},
		Constraints: []string{
			umlcluster.Colocation("col_fs_on_promoted", DataFS, DRBDClone, "Promoted"),
			umlcluster.Order("ord_promote_then_fs", DRBDClone, "promote", DataFS, "start"),
		},
		RscDefaults: map[string]string{"resource-stickiness": "100"},
		OpDefaults:  map[string]string{"timeout": "90s"}, // probes
	}
}

// WaitDRBDReady waits until DRBD is Promoted on one node and Unpromoted
// on the other, the file system is mounted on the Promoted one and both
// sides are UpToDate; it returns the Promoted node.
func WaitDRBDReady(ctx context.Context, c *umlcluster.Cluster) (*umlcluster.Node, error) {
	var primary string
	_, err := c.WaitFor(ctx, "DRBD Promoted + Unpromoted and the file system on the Promoted node", func(s *umlcluster.Status) error {
		p, u := s.InRole(DRBDPrimitive, "Promoted"), s.InRole(DRBDPrimitive, "Unpromoted")
		fs := s.InRole(DataFS, "Started")
		if len(p) != 1 || len(u) != 1 || !slices.Equal(fs, p) {
			return fmt.Errorf("Promoted on %v, Unpromoted on %v, %s on %v; failures %v", p, u, DataFS, fs, s.Failures)
		}
		primary = p[0]
		return nil
	})
	if err != nil {
		return nil, err
	}
	n := c.NodeByName(primary)
	if _, _, err := n.WaitFile(ctx, "/proc/mounts", "/dev/drbd0 "+DataDir+" ", 200*time.Millisecond); err != nil {
		return nil, fmt.Errorf("waiting for /dev/drbd0 on %s: %w", DataDir, err)
	}
	if _, _, err := n.WaitFile(ctx, "/proc/drbd", "ds:UpToDate/UpToDate", 200*time.Millisecond); err != nil {
		return nil, fmt.Errorf("waiting for DRBD to be in sync: %w", err)
	}
	return n, nil
}

// DRBDFailover is what a power cut of the Promoted node gave.
type DRBDFailover struct {
	Victim, Survivor string
	Killed           time.Time
	ToPrimary        time.Duration // kill → survivor's /proc/drbd shows Primary
	ToMounted        time.Duration // kill → /dev/drbd0 in the survivor's /proc/mounts
	Fenced           time.Duration // kill → the cluster asked the lab to fence the victim
	Marker           bool          // the marker written before the cut was read back
}

func (f DRBDFailover) String() string {
	return fmt.Sprintf("power cut of %s: %s Primary after %d ms, mounted after %d ms, fencing requested after %d ms, marker read back: %v",
		f.Victim, f.Survivor, f.ToPrimary.Milliseconds(), f.ToMounted.Milliseconds(), f.Fenced.Milliseconds(), f.Marker)
}

// DRBDPowerCut writes a marker on the Promoted node's file system, cuts
// that node's power and measures, from the host's clock, when the
// survivor is Primary and has the file system mounted (watched inside
// the survivor, no process per check); then it reads the marker there.
func DRBDPowerCut(ctx context.Context, c *umlcluster.Cluster, primary *umlcluster.Node) (DRBDFailover, error) {
	var f DRBDFailover
	var survivor *umlcluster.Node
	for _, n := range c.Nodes() {
		if n != primary && n.IsUp() {
			survivor = n
		}
	}
	if survivor == nil {
		return f, errors.New("no survivor up")
	}
	f.Victim, f.Survivor = primary.Name, survivor.Name
	marker := fmt.Sprintf("written on %s at %s\n", primary.Name, time.Now().Format(time.RFC3339Nano))
	_, stderr, exit, err := primary.RunEnv(ctx, nil, []byte(marker), "dd", "of="+DataDir+"/marker", "conv=fsync", "status=none")
	if err != nil || exit != 0 {
		return f, fmt.Errorf("write the marker on %s: exit %d %v %s", primary.Name, exit, err, stderr)
	}
	type seen struct {
		at  time.Time
		err error
	}
	watch := func(path, match string) <-chan seen {
		ch := make(chan seen, 1)
		go func() {
			at, _, err := survivor.WaitFile(ctx, path, match, 20*time.Millisecond)
			ch <- seen{at, err}
		}()
		return ch
	}
	promoted := watch("/proc/drbd", "ro:Primary/")
	mounted := watch("/proc/mounts", "/dev/drbd0 ")
	time.Sleep(500 * time.Millisecond) // the watches are in place
	f.Killed, err = primary.PowerCut()
	if err != nil {
		return f, err
	}
	p, m := <-promoted, <-mounted
	if p.err != nil || m.err != nil {
		return f, fmt.Errorf("after the power cut of %s: %w", primary.Name, errors.Join(p.err, m.err))
	}
	f.ToPrimary, f.ToMounted = p.at.Sub(f.Killed), m.at.Sub(f.Killed)
	got, err := survivor.Output(ctx, "cat", DataDir+"/marker")
	f.Marker = err == nil && got == marker
	if ev, ok := fenceEvent(c, primary.Name); ok {
		f.Fenced = ev.Sub(f.Killed)
	}
	if !f.Marker {
		return f, fmt.Errorf("marker on %s: %q, %v; want %q", survivor.Name, got, err, marker)
	}
	return f, nil
}

// fenceEvent is when the lab was first asked to fence node.
func fenceEvent(c *umlcluster.Cluster, node string) (time.Time, bool) {
	for _, ev := range c.FenceEvents() {
		if ev.Node == node && ev.Err == nil {
			return ev.At, true
		}
	}
	return time.Time{}, false
}

// DRBDRejoin boots the cut node again and waits until it is Unpromoted
// and both sides are UpToDate; it returns how long that took.
func DRBDRejoin(ctx context.Context, c *umlcluster.Cluster, f DRBDFailover) (time.Duration, error) {
	start := time.Now()
	victim := c.NodeByName(f.Victim)
	if err := c.Reboot(ctx, victim.Index); err != nil {
		return 0, err
	}
	if _, err := c.WaitFor(ctx, f.Victim+" Unpromoted again", func(s *umlcluster.Status) error {
		if u := s.InRole(DRBDPrimitive, "Unpromoted"); !slices.Equal(u, []string{f.Victim}) {
			return fmt.Errorf("Unpromoted on %v; failures %v", u, s.Failures)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	if _, _, err := c.NodeByName(f.Survivor).WaitFile(ctx, "/proc/drbd", "ds:UpToDate/UpToDate", 200*time.Millisecond); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// OCFS2 is the OCFS2 scenario's cluster: nodes nodes sharing the volume
// in the host file shared (FormatOCFS2 it first, with at least nodes
// slots), a DLM clone and an OCFS2 Filesystem clone ordered after it,
// mounted on every node at once, fencing through the lab.
func OCFS2(a Agents, nodes int, shared string) umlcluster.Config {
	dlm := umlcluster.Primitive(DLMPrimitive, a.Controld, nil,
		umlcluster.Op{Name: "monitor", Interval: "30s", Timeout: "120s"},
		umlcluster.Op{Name: "start", Timeout: "180s"},
		umlcluster.Op{Name: "stop", Timeout: "180s"})
	fs := umlcluster.Primitive(SharedFS, a.Filesystem,
		map[string]string{"device": SharedDevice, "directory": SharedDir, "fstype": "ocfs2"},
		umlcluster.Op{Name: "monitor", Interval: "30s", Timeout: "120s"},
		umlcluster.Op{Name: "start", Timeout: "180s"},
		umlcluster.Op{Name: "stop", Timeout: "180s"})
	return umlcluster.Config{
		Nodes:      nodes,
		SharedDisk: shared,
		Properties: map[string]string{"no-quorum-policy": "freeze"},
		OpDefaults: map[string]string{"timeout": "90s"}, // probes
		Resources: []string{
			umlcluster.Clone(DLMClone, map[string]string{"interleave": "true"}, dlm),
			umlcluster.Clone(SharedClone, map[string]string{"interleave": "true"}, fs),
		},
		Constraints: []string{
			umlcluster.Colocation("col_ocfs2_with_dlm", SharedClone, DLMClone, ""),
			umlcluster.Order("ord_dlm_then_ocfs2", DLMClone, "start", SharedClone, "start"),
		},
	}
}

// WaitOCFS2Mounted waits until the OCFS2 Filesystem runs on every node
// that is up and each has the volume in /proc/mounts.
func WaitOCFS2Mounted(ctx context.Context, c *umlcluster.Cluster) error {
	var up []string
	for _, n := range c.Nodes() {
		if n.IsUp() {
			up = append(up, n.Name)
		}
	}
	if _, err := c.WaitFor(ctx, "OCFS2 mounted on "+strings.Join(up, ", "), func(s *umlcluster.Status) error {
		if on := s.InRole(SharedFS, "Started"); !slices.Equal(on, up) {
			return fmt.Errorf("%s runs on %v; failures %v", SharedFS, on, s.Failures)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, name := range up {
		if _, _, err := c.NodeByName(name).WaitFile(ctx, "/proc/mounts", " "+SharedDir+" ocfs2 ", 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// OCFS2Failover is what a power cut of one node of the OCFS2 cluster did
// to a survivor's I/O on the shared volume.
type OCFS2Failover struct {
	Victim, Survivor string
	Killed           time.Time
	Blocked          time.Duration // the survivor's longest I/O round that ended after the kill
	ToUnblocked      time.Duration // kill → that round's end: I/O flows again
	Fenced           time.Duration // kill → the cluster asked the lab to fence the victim
	Rounds           int
}

func (f OCFS2Failover) String() string {
	return fmt.Sprintf("power cut of %s: %s's I/O blocked for %d ms, flowing again %d ms after the kill, fencing requested after %d ms (%d probe rounds)",
		f.Victim, f.Survivor, f.Blocked.Milliseconds(), f.ToUnblocked.Milliseconds(), f.Fenced.Milliseconds(), f.Rounds)
}

// OCFS2PowerCut has the victim append to a file on the shared volume and
// a survivor read that file, append to its own and list the directory in
// a loop (Node.IOProbe), cuts the victim's power and measures how long
// the survivor's I/O blocked.
func OCFS2PowerCut(ctx context.Context, c *umlcluster.Cluster, victim, survivor *umlcluster.Node) (OCFS2Failover, error) {
	f := OCFS2Failover{Victim: victim.Name, Survivor: survivor.Name}
	busy := SharedDir + "/busy-" + victim.Name
	vctx, vcancel := context.WithCancel(ctx)
	defer vcancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the victim holds locks on busy until it dies
		defer wg.Done()
		victim.IOProbe(vctx, SharedDir, "", busy, 10*time.Minute)
	}()
	defer wg.Wait()
	type result struct {
		ops []umlcluster.IOOp
		err error
	}
	done := make(chan result, 1)
	go func() {
		ops, err := survivor.IOProbe(ctx, SharedDir, busy, SharedDir+"/probe-"+survivor.Name, 3*time.Minute)
		done <- result{ops, err}
	}()
	time.Sleep(3 * time.Second) // both nodes are doing I/O
	var err error
	f.Killed, err = victim.PowerCut()
	if err != nil {
		return f, err
	}
	vcancel()
	r := <-done
	if r.err != nil {
		return f, fmt.Errorf("I/O probe on %s: %w", survivor.Name, r.err)
	}
	f.Rounds = len(r.ops)
	var worst *umlcluster.IOOp
	for i := range r.ops {
		op := &r.ops[i]
		if op.Err != "" && op.End.After(f.Killed) {
			return f, fmt.Errorf("I/O on %s failed after the power cut: %s", survivor.Name, op.Err)
		}
		if op.End.After(f.Killed) && (worst == nil || op.Duration() > worst.Duration()) {
			worst = op
		}
	}
	if worst == nil {
		return f, fmt.Errorf("no I/O round on %s ended after the power cut", survivor.Name)
	}
	f.Blocked, f.ToUnblocked = worst.Duration(), worst.End.Sub(f.Killed)
	if ev, ok := fenceEvent(c, victim.Name); ok {
		f.Fenced = ev.Sub(f.Killed)
	}
	return f, nil
}
