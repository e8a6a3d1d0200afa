package virtualdomain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// Stop stops the guest: with force_stop by destroying it; otherwise by
// saving it to the snapshot directory or asking it to shut down (in
// shutdown_mode), waiting for it until shortly before the deadline, then
// destroying it. Stop never reports success while the guest still runs.
func (a *Agent) Stop(ctx context.Context, r *ocf.Resource) error {
	v, err := a.begin(r)
	if err != nil {
		return err
	}
	defer v.close()
	for _, p := range v.s.Problems {
		r.Log.Warn(fmt.Sprintf("stop: %s; stopping with the defaults for it", ocf.ReasonOf(p)))
	}
	if v.s.ForceStop {
		v.s.Snapshot = "" // force_stop wins over snapshot: destroy
	}
	if v.cfgErr != nil {
		if v.name == "" {
			r.Log.Info(fmt.Sprintf("%s, and no guest was started here from it: considered stopped", ocf.ReasonOf(v.cfgErr)))
			return nil
		}
		r.Log.Warn(fmt.Sprintf("%s; stopping domain %s recorded at its start", ocf.ReasonOf(v.cfgErr), v.name))
	}
	return v.stop(ctx)
}

// StopRecorded stops the guest start recorded, for a stop whose
// parameters cannot be used (ocf.RecordStopper): through the URI start
// used, asking it to shut down and destroying it before the deadline, as
// stop does with the default parameters.
func (a *Agent) StopRecorded(ctx context.Context, r *ocf.Resource) error {
	rec := loadRecord(r.Env)
	if rec.Domain == "" {
		return nil
	}
	s := &settings{URI: rec.URI}
	if s.URI == "" {
		s.URI = virt.DefaultURI(r.Env.Environ, a.LibvirtConf, os.Geteuid())
	}
	s.ShutdownMode, _ = virt.ParseShutdownMode("")
	v := &invocation{a: a, r: r, s: s, rec: rec, name: rec.Domain}
	v.uuid, _ = virt.ParseUUID(rec.UUID)
	defer v.close()
	r.Log.Warn(fmt.Sprintf("stopping domain %s, recorded at its start, through %s", v.name, s.URI))
	return v.stop(ctx)
}

// stop stops v's guest (see Stop).
func (v *invocation) stop(ctx context.Context) error {
	r := v.r
	dl := deadline(ctx)
	// Give libvirtd a third of the time to come back (a restart), as the
	// reference agent retries three times before it gives up.
	_, err := v.connect(ctx, time.Now().Add(time.Until(dl)/3))
	if err != nil {
		return v.stopWithoutLibvirt(ctx, err)
	}
	g, err := v.inspect(ctx)
	if err != nil {
		if errors.Is(err, virt.ErrUnreachable) {
			return v.stopWithoutLibvirt(ctx, err)
		}
		return ocf.Generic("stop: %w", brief(err))
	}
	if g.other != nil {
		// The config's UUID runs under another name (the config was
		// renamed while the guest ran): that is this resource's guest.
		r.Log.Warn(fmt.Sprintf("domain %s is not defined, but its UUID %s runs as domain %s: stopping that", v.name, v.uuid, g.other.Name))
		v.name = g.other.Name
		if g, err = v.inspect(ctx); err != nil {
			return ocf.Generic("stop: %w", brief(err))
		}
	}
	if !g.exists || g.state == virt.Shutoff {
		r.Log.Info(fmt.Sprintf("domain %s is already stopped", v.name))
		return v.stopped()
	}
	if v.s.ForceStop || !active(g.state) {
		return v.destroy(ctx, g.dom)
	}

	shutdown := true
	if v.s.Snapshot != "" {
		image := filepath.Join(v.s.Snapshot, v.name+".state")
		if err := v.conn.Save(ctx, g.dom, image); err != nil {
			r.Log.Error(fmt.Sprintf("failed to save domain %s to %s; shutting it down instead: %v", v.name, image, err))
		} else {
			r.Log.Info(fmt.Sprintf("saved domain %s to %s", v.name, image))
			shutdown = false
		}
	}
	if v.s.SaveConfig && v.cfg != nil && shutdown {
		v.saveConfig(ctx, g.dom)
	}
	if shutdown {
		r.Log.Info(fmt.Sprintf("asking domain %s to shut down (mode %s)", v.name, v.s.ShutdownMode))
		err := v.conn.Shutdown(ctx, g.dom, v.s.ShutdownMode)
		switch {
		case err == nil, errors.Is(err, virt.ErrNoDomain), errors.Is(err, virt.ErrInvalidOperation):
		case errors.Is(err, virt.ErrUnsupported):
			// The hypervisor cannot shut this guest down in this mode
			// (no guest agent, say): waiting would only waste the time.
			r.Log.Warn(fmt.Sprintf("domain %s refused the shutdown request (mode %s), destroying it: %v", v.name, v.s.ShutdownMode, err))
			return v.destroy(ctx, g.dom)
		default:
			r.Log.Warn(fmt.Sprintf("shutdown request for domain %s (mode %s) failed, waiting for it anyway: %v", v.name, v.s.ShutdownMode, err))
		}
	}
	// Wait for the guest, keeping time to destroy it and see it gone.
	graceful := dl.Add(-destroyReserve(time.Until(dl)))
	if done, err := v.waitShutdown(ctx, graceful); done {
		return err
	}
	return v.destroy(ctx, g.dom)
}

// waitShutdown waits until the guest has stopped (done) or until the
// time is up or the guest is in a state other than running (not done:
// destroy it).
func (v *invocation) waitShutdown(ctx context.Context, until time.Time) (done bool, err error) {
	for {
		g, err := v.inspect(ctx)
		switch {
		case err != nil:
			v.r.Log.Warn(fmt.Sprintf("cannot see whether domain %s has stopped, destroying it: %v", v.name, err))
			return false, nil
		case !g.exists || g.state == virt.Shutoff:
			v.r.Log.Info(fmt.Sprintf("domain %s has shut down", v.name))
			return true, v.stopped()
		case !active(g.state):
			v.r.Log.Warn(fmt.Sprintf("domain %s is %s while shutting down, destroying it", v.name, g.state))
			return false, nil
		case !time.Now().Before(until):
			v.r.Log.Info(fmt.Sprintf("domain %s did not shut down in time, destroying it", v.name))
			return false, nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(v.a.Poll, time.Until(until))):
		}
	}
}

// destroyReserve is the part of a stop's remaining time kept for
// destroying the guest and waiting for it to vanish: a quarter, at least
// 5 s and at most 15 s (libvirt gives qemu 10 s to exit after SIGTERM
// before it sends SIGKILL; a TCG guest takes about 2 s to go).
func destroyReserve(left time.Duration) time.Duration {
	return min(max(left/4, 5*time.Second), 15*time.Second)
}

// destroy stops the guest at once and waits until libvirt no longer
// reports it running.
func (v *invocation) destroy(ctx context.Context, d virt.Domain) error {
	v.r.Log.Info(fmt.Sprintf("destroying domain %s", v.name))
	err := v.conn.Destroy(ctx, d)
	if err != nil && !errors.Is(err, virt.ErrNoDomain) && !errors.Is(err, virt.ErrInvalidOperation) {
		return ocf.Generic("forced stop of domain %s failed: %w", v.name, brief(err))
	}
	for {
		g, err := v.inspect(ctx)
		if err == nil && (!g.exists || !active(g.state) && g.state != virt.NoState) {
			return v.stopped()
		}
		if perr := v.poll(ctx); perr != nil {
			return ocf.Generic("domain %s still runs after it was destroyed (state %s, %v)", v.name, g.state, err)
		}
	}
}

// stopped forgets the guest once it no longer runs here.
func (v *invocation) stopped() error {
	if err := removeRecord(v.r.Env); err != nil {
		v.r.Log.Warn(fmt.Sprintf("cannot remove %s: %v", recordPath(v.r.Env), err))
	}
	return nil
}

// stopWithoutLibvirt decides a stop when libvirt cannot be used: it is
// unreachable, or it answers without the URI's driver (which may have
// failed to load while its guests run on). The emulator process decides:
// when it is gone the guest is stopped; when it runs, the stop fails,
// since the guest cannot be stopped without libvirt.
func (v *invocation) stopWithoutLibvirt(ctx context.Context, err error) error {
	status, perr := v.processStatus(ctx, err)
	if status == ocf.NotRunning {
		v.r.Log.Info(fmt.Sprintf("%s; considered stopped", ocf.ReasonOf(perr)))
		return v.stopped()
	}
	if status == ocf.Success {
		how := "cannot manage it"
		if errors.Is(err, virt.ErrUnreachable) {
			how = "is unreachable"
		}
		return ocf.Generic("domain %s still runs and cannot be stopped: libvirt %s (%w) at %s", v.name, how, brief(err), v.s.URI)
	}
	return ocf.Generic("cannot stop domain %s: %w", v.name, perr)
}
