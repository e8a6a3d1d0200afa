package drbd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/drbd"
)

// retry is how long a refused drbdadm primary/secondary/down waits
// before the next attempt, as the reference does.
const retry = time.Second

// promoteFloor: a failed promote takes at least this long, so that
// Pacemaker's recovery does not spin (the reference sleeps up to 15 s).
const promoteFloor = 15 * time.Second

// updateScore sets the promotion score the state earns.
func updateScore(ctx context.Context, r *ocf.Resource, c *config, t drbd.Tool, st *drbd.State, force bool) {
	sum := st.Summarize()
	rule := c.removeIfPeerPrimary
	if rule && c.unexpected {
		// Only when the precondition holds does it cost a crm_resource run.
		rule = !sum.Primary && sum.PeerPrimary && sum.SomePeerAllUpToDate && unexpectedPrimary(ctx, r)
		if rule && !hasScore(r) {
			return
		}
	}
	v := decide(sum, c.scores, rule)
	if v.keep {
		r.Log.Debug("promotion score left as it is", "why", v.why)
		return
	}
	r.Log.Debug("promotion score", "score", v.score, "why", v.why)
	setScore(ctx, r, v.score, force)
	if c.unfence && sum.Primary && sum.DiskAllUpToDate && sum.PeersAllUpToDate {
		unfence(ctx, r, c, t)
	}
}

// unfence runs drbdadm unfence-peer, whose handler (crm-unfence-peer.9.sh)
// reads its extra arguments from OCF_RESKEY_unfence_extra_args.
func unfence(ctx context.Context, r *ocf.Resource, c *config, t drbd.Tool) {
	run := *r.Run
	run.Environ = append(slices.Clone(orEnviron(run.Environ)), "OCF_RESKEY_unfence_extra_args="+r.Params.String("unfence_extra_args"))
	t.Run = &run
	if _, err := t.Adm(ctx, "unfence-peer", c.res); err != nil {
		r.Log.Info(fmt.Sprintf("drbdadm unfence-peer %s: %v", c.res, err))
	}
}

func orEnviron(env []string) []string {
	if env == nil {
		return os.Environ()
	}
	return env
}

// unexpectedPrimary: promoted-max is 1 and Pacemaker knows no promoted
// instance on another node, so a Primary peer was made outside it.
func unexpectedPrimary(ctx context.Context, r *ocf.Resource) bool {
	if first(r.Env.Meta["promoted_max"], r.Env.Meta["master_max"]) != "1" {
		return false
	}
	return promotedPeer(ctx, r) == ""
}

// promotedPeer is the other node Pacemaker has this clone promoted on,
// from crm_resource --locate.
func promotedPeer(ctx context.Context, r *ocf.Resource) string {
	out, err := r.Run.Run(ctx, "crm_resource", "--resource", r.Env.Instance, "--locate")
	if err != nil {
		return ""
	}
	self := r.Cluster.NodeName(ctx)
	for _, line := range strings.Split(string(out), "\n") {
		_, rest, ok := strings.Cut(line, "is running on: ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) >= 2 && (f[1] == "Master" || f[1] == "Promoted") && !strings.EqualFold(f[0], self) {
			return f[0]
		}
	}
	return ""
}

// report turns the state into the monitor's status: 8 Primary, 0
// Secondary, 7 not there; a StandAlone connection (what an unresolved
// split brain leaves) or a lost local disk is degraded (190/191), with
// the reason.
func report(c *config, st *drbd.State) (ocf.Status, error) {
	if !st.Exists {
		return ocf.NotRunning, ocf.Stopped("drbd_resource=%s is not configured in the kernel (down)", c.res)
	}
	ok, degraded := ocf.Success, ocf.Degraded
	if st.Role == drbd.RolePrimary {
		ok, degraded = ocf.RunningPromoted, ocf.DegradedPromoted
	}
	var problems []string
	if !(c.connectAfterPromote && st.Role != drbd.RolePrimary) {
		for _, conn := range st.StandAlonePeers() {
			problems = append(problems, fmt.Sprintf("StandAlone to peer %s (split brain, or disconnected by hand): not replicating", peerName(conn)))
		}
	}
	for _, d := range st.DisklessVolumes() {
		problems = append(problems, fmt.Sprintf("volume %d (minor %d) has no local disk (%s)", d.Volume, d.Minor, d.Disk))
	}
	if len(problems) > 0 {
		return degraded, ocf.Errorf(degraded, "drbd_resource=%s: %s", c.res, strings.Join(problems, "; "))
	}
	return ok, nil
}

func peerName(c drbd.Connection) string {
	if c.Name != "" && c.Name != "peer" {
		return c.Name
	}
	return fmt.Sprintf("node-id %d", c.PeerNodeID)
}

// Monitor reads the state with one drbdsetup run and updates the
// promotion score (not for a probe that finds the resource stopped).
func (a Agent) Monitor(ctx context.Context, r *ocf.Resource) (ocf.Status, error) {
	c, t, err := a.quick(ctx, r)
	if err != nil {
		return ocf.StatusOf(err), err
	}
	st, err := status(ctx, t)
	if err != nil {
		return ocf.StatusOf(err), err
	}
	s, rerr := report(c, st)
	switch {
	case st.Exists:
		updateScore(ctx, r, c, t, st, r.Env.IsProbe())
	case !r.Env.IsProbe():
		setScore(ctx, r, 0, false)
	}
	if rerr != nil && st.Exists {
		r.Log.Warn(rerr.Error())
	}
	return s, rerr
}

// Start brings the resource up as Secondary with drbdadm adjust (which
// creates, attaches and connects whatever is missing), waits up to
// wfc_timeout for the peers, and sets the promotion score.
func (a Agent) Start(ctx context.Context, r *ocf.Resource) error {
	c, t, err := a.validate(ctx, r)
	if err != nil {
		return err
	}
	if _, err := t.Status(ctx); errors.Is(err, drbd.ErrNoModule) {
		parms, _ := t.Adm(ctx, "sh-mod-parms")
		argv := append([]string{"modprobe", "-s", "drbd"}, strings.Fields(string(parms))...)
		if _, err := r.Run.Run(ctx, argv...); err != nil {
			return ocf.Installed("cannot load the drbd kernel module: %v", err)
		}
	}
	st, err := status(ctx, t)
	if err != nil {
		return err
	}
	if st.Role == drbd.RolePrimary {
		r.Log.Warn(fmt.Sprintf("drbd_resource=%s is already Primary on start; demoting", c.res))
		if err := demote(ctx, r, c, t); err != nil {
			return err
		}
	}
	if !st.Exists {
		// Internal meta-data may need moving after an offline resize.
		if _, err := t.Adm(ctx, "check-resize", c.res); err != nil {
			r.Log.Info(fmt.Sprintf("drbdadm check-resize %s: %v", c.res, err))
		}
	}
	args := []string{"adjust", c.res}
	if c.connectAfterPromote {
		args = []string{"adjust", "--skip-net", c.res}
	}
	var adjErr error
	for attempt := 0; attempt < 2; attempt++ {
		if _, adjErr = t.Adm(ctx, args...); adjErr == nil {
			break
		}
		r.Log.Warn(fmt.Sprintf("start: %v", adjErr))
		if err := sleep(ctx, retry); err != nil {
			break
		}
	}
	if st, err = status(ctx, t); err != nil {
		return err
	}
	if !st.Exists {
		return ocf.Generic("start of drbd_resource=%s failed: drbdadm adjust: %v", c.res, adjErr)
	}
	if lost := st.DisklessVolumes(); len(lost) > 0 {
		return ocf.Generic("start of drbd_resource=%s: volume %d did not attach its disk (%s): %v", c.res, lost[0].Volume, lost[0].Disk, adjErr)
	}
	if err := waitDevices(ctx, c.devices); err != nil {
		return ocf.Generic("start of drbd_resource=%s: %v", c.res, err)
	}
	if !c.connectAfterPromote && c.wfc > 0 {
		st = waitConnected(ctx, r, t, c.wfc, st)
	}
	updateScore(ctx, r, c, t, st, true)
	return nil
}

// waitDevices waits for udev to create the device node of every volume
// (drbdadm sh-dev).
func waitDevices(ctx context.Context, devices []string) error {
	for _, dev := range devices {
		for {
			if _, err := os.Stat(dev); err == nil {
				break
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return fmt.Errorf("device node %s did not appear: %w", dev, err)
			}
		}
	}
	return nil
}

// waitConnected polls the state until every peer is connected or wfc
// has passed; not reaching a peer is not a failure.
func waitConnected(ctx context.Context, r *ocf.Resource, t drbd.Tool, wfc time.Duration, st *drbd.State) *drbd.State {
	ctx, cancel := context.WithTimeout(ctx, wfc)
	defer cancel()
	for !st.AllConnected() {
		if sleep(ctx, 250*time.Millisecond) != nil {
			r.Log.Info(fmt.Sprintf("drbd_resource=%s: not every peer connected within wfc_timeout=%s", t.Resource, wfc))
			break
		}
		next, err := t.Status(ctx)
		if err != nil {
			break
		}
		st = next
	}
	if final, err := t.Status(context.WithoutCancel(ctx)); err == nil {
		return final
	}
	return st
}

// Stop demotes a Primary, takes the resource down, and removes the
// promotion score. A device held open (a mounted file system, a running
// guest) keeps it Primary: stop retries until its deadline and then
// fails with the reason, as a stop that gave up early would let
// Pacemaker start it elsewhere while it is still in use here.
func (a Agent) Stop(ctx context.Context, r *ocf.Resource) error {
	c, err := readConfig(r)
	if err != nil && ocf.StatusOf(err) == ocf.ErrConfigured {
		return err
	}
	if c == nil { // drbdconf unreadable: drbdsetup needs no configuration
		c = &config{res: r.Params.String("drbd_resource")}
		return a.stopWithoutConfig(ctx, r, c, err)
	}
	t := c.tool(r)
	var last error
	for {
		st, err := status(ctx, t)
		if err != nil {
			return stillRefused(c, "stop", last, err)
		}
		if !st.Exists {
			break
		}
		if st.Role == drbd.RolePrimary {
			r.Log.Warn(fmt.Sprintf("drbd_resource=%s is still Primary on stop; demoting", c.res))
			_, last = t.Adm(ctx, "secondary", c.res)
		} else {
			_, last = t.Adm(ctx, "down", c.res)
		}
		if last != nil {
			if errors.Is(last, drbd.ErrHeldOpen) {
				r.Log.Warn(fmt.Sprintf("stop: %v", last))
			}
			if err := sleep(ctx, retry); err != nil {
				return ocf.Generic("stop of drbd_resource=%s: %s, until the deadline: %w", c.res, reason(last), err)
			}
		}
	}
	maybeOutdateSelf(ctx, r, c, t, false)
	setScore(ctx, r, 0, true)
	return nil
}

// stopWithoutConfig is the reference's last resort on a stop whose
// configuration cannot be read: drbdsetup down needs none.
func (a Agent) stopWithoutConfig(ctx context.Context, r *ocf.Resource, c *config, cause error) error {
	r.Log.Error(fmt.Sprintf("stop: %v; trying drbdsetup down %s directly", cause, c.res))
	if _, err := r.Run.Run(ctx, "drbdsetup", "down", c.res); err != nil {
		return ocf.Generic("stop of drbd_resource=%s: %v, and drbdsetup down failed: %v", c.res, reason(cause), err)
	}
	setScore(ctx, r, 0, true)
	return nil
}

// reason is the one line of a drbdadm failure worth showing: DRBD's own
// "State change failed" message when there is one.
func reason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "State change failed: "); i >= 0 {
		line, _, _ := strings.Cut(msg[i+len("State change failed: "):], "\n")
		return line
	}
	return msg
}

// Promote makes the resource Primary, retrying a refused attempt (a
// peer not yet known dead) until the deadline; no access to UpToDate
// data fails at once.
func (a Agent) Promote(ctx context.Context, r *ocf.Resource) error {
	began := time.Now()
	c, t, err := a.validate(ctx, r)
	if err != nil {
		return err
	}
	err = promote(ctx, r, c, t)
	if err != nil && ocf.StatusOf(err) != ocf.NotRunning {
		wait := promoteFloor - time.Since(began)
		if dl, ok := ctx.Deadline(); ok {
			// Not past the deadline, which would bury the reason.
			wait = min(wait, time.Until(dl)-200*time.Millisecond)
		}
		if wait > 0 {
			r.Log.Warn(fmt.Sprintf("promote failed; waiting %s so Pacemaker's recovery does not spin", wait.Round(time.Second)))
			sleep(ctx, wait)
		}
	}
	return err
}

func promote(ctx context.Context, r *ocf.Resource, c *config, t drbd.Tool) error {
	var last error
	for attempt := 0; ; attempt++ {
		st, err := status(ctx, t)
		if err != nil {
			return stillRefused(c, "promote", last, err)
		}
		switch {
		case !st.Exists:
			return ocf.Stopped("cannot promote drbd_resource=%s: it is not started", c.res)
		case st.Role == drbd.RolePrimary:
			if c.connectAfterPromote {
				if _, err := t.Adm(ctx, "-v", "adjust", c.res); err != nil {
					r.Log.Warn(fmt.Sprintf("promote: %v", err))
				}
			}
			return nil
		}
		if attempt > 0 && st.Summarize().PeerPrimary && unexpectedPrimary(ctx, r) {
			if c.failEarly {
				setScore(ctx, r, 0, true)
				return ocf.Generic("promote of drbd_resource=%s: a peer is already Primary", c.res)
			}
			r.Log.Info("a peer is already Primary; promote will probably need several attempts")
		}
		_, last = t.Adm(ctx, "primary", c.res)
		if errors.Is(last, drbd.ErrNoUpToDateData) {
			return ocf.Generic("drbd_resource=%s refuses to become Primary without access to UpToDate data (local disk %s)", c.res, diskStates(st))
		}
		if last != nil {
			r.Log.Warn(fmt.Sprintf("promote: %v", last))
			if err := sleep(ctx, retry); err != nil {
				return ocf.Generic("promote of drbd_resource=%s: %s, until the deadline: %w", c.res, reason(last), err)
			}
		}
	}
}

func diskStates(st *drbd.State) string {
	var d []string
	for _, dev := range st.Devices {
		d = append(d, dev.Disk)
	}
	return strings.Join(d, ",")
}

// Demote makes the resource Secondary; a device held open keeps it
// Primary, and demote fails with that reason at its deadline.
func (a Agent) Demote(ctx context.Context, r *ocf.Resource) error {
	c, t, err := a.quick(ctx, r)
	if err != nil {
		return err
	}
	return demote(ctx, r, c, t)
}

func demote(ctx context.Context, r *ocf.Resource, c *config, t drbd.Tool) error {
	var last error
	for {
		st, err := status(ctx, t)
		if err != nil {
			return stillRefused(c, "demote", last, err)
		}
		switch {
		case !st.Exists:
			return ocf.Stopped("cannot demote drbd_resource=%s: it is not started", c.res)
		case st.Role != drbd.RolePrimary:
			return nil
		}
		if _, last = t.Adm(ctx, "secondary", c.res); last != nil {
			r.Log.Warn(fmt.Sprintf("demote: %v", last))
			if err := sleep(ctx, retry); err != nil {
				return ocf.Generic("demote of drbd_resource=%s: %s, until the deadline: %w", c.res, reason(last), err)
			}
		}
	}
}

// Notify: on (pre and post) start, adjust the connections to the
// starting peers; after anything else, refresh the promotion score, and
// outdate this node's data if asked to while a peer is Primary.
func (a Agent) Notify(ctx context.Context, r *ocf.Resource) error {
	c, t, err := a.quick(ctx, r)
	if err != nil {
		return err
	}
	n := r.Env.Notify
	switch {
	case n.Operation == "start":
		if c.connectAfterPromote {
			return nil
		}
		if _, err := t.Adm(ctx, "-v", "adjust", c.res); err != nil {
			r.Log.Info(fmt.Sprintf("notify %s-start: %v", n.Type, err))
		}
	case n.Type == "post":
		st, err := status(ctx, t)
		if err != nil {
			return err
		}
		updateScore(ctx, r, c, t, st, true)
		if st.Summarize().PeerDiskUnknown {
			maybeOutdateSelf(ctx, r, c, t, st.Role == drbd.RolePrimary)
		}
	}
	return nil
}

// maybeOutdateSelf (stop_outdates_secondary): a Secondary that cannot
// reach a node Pacemaker says is Primary marks its own data Outdated.
func maybeOutdateSelf(ctx context.Context, r *ocf.Resource, c *config, t drbd.Tool, primary bool) {
	if !c.stopOutdates {
		return
	}
	self := r.Cluster.NodeName(ctx)
	host := ""
	for _, h := range r.Env.Notify.PromotedUname {
		if !strings.EqualFold(h, self) {
			host = h
			break
		}
	}
	if host == "" || slices.Contains(r.Env.Notify.StopUname, host) {
		return
	}
	if primary {
		r.Log.Error(fmt.Sprintf("drbd_resource=%s: both %s and %s are Primary, and the replication link is down (split brain)", c.res, self, host))
		return
	}
	r.Log.Info(fmt.Sprintf("outdating drbd_resource=%s: %s is still Primary", c.res, host))
	if _, err := t.Adm(ctx, "outdate", c.res); err != nil {
		r.Log.Warn(fmt.Sprintf("drbdadm outdate: %v", err))
	}
	setScore(ctx, r, 0, true)
}

// Reload applies the configuration (drbdadm adjust) to a running
// resource and recomputes the score (adjust_master_score may have
// changed).
func (a Agent) Reload(ctx context.Context, r *ocf.Resource) error {
	c, t, err := a.validate(ctx, r)
	if err != nil {
		return err
	}
	st, err := status(ctx, t)
	if err != nil {
		return err
	}
	if !st.Exists {
		return ocf.Generic("reload of drbd_resource=%s: it is not running", c.res)
	}
	if _, err := t.Adm(ctx, "adjust", c.res); err != nil {
		return ocf.Generic("reload of drbd_resource=%s: %v", c.res, err)
	}
	updateScore(ctx, r, c, t, st, true)
	return nil
}

// stillRefused is the error of a retry loop whose state read failed: when
// DRBD had refused the change before and the deadline cut the read, the
// refusal is the reason worth showing.
func stillRefused(c *config, action string, last, err error) error {
	if last != nil && errors.Is(err, context.DeadlineExceeded) {
		return ocf.Generic("%s of drbd_resource=%s: %s, until the deadline: %w", action, c.res, reason(last), err)
	}
	return err
}
