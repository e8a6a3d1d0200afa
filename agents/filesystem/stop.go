package filesystem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/mount"
	"github.com/ocfbox/ocfbox/pkg/proc"
	"golang.org/x/sys/unix"
)

// fastStopBudget is what each mount gets with fast_stop, as in the
// reference.
const fastStopBudget = 6 * time.Second

// Stop unmounts the file systems below the directory, other mounts of the
// same block device (which would keep it in use), then the directory
// itself. Another device mounted on the directory is not this resource:
// it is left alone and the stop succeeds.
func (a *Agent) Stop(ctx context.Context, r *ocf.Resource) error {
	c, err := parseConfig(r)
	if err != nil {
		return err
	}
	tab, err := a.table()
	if err != nil {
		return err
	}
	st := a.look(r, c, tab)
	switch {
	case !st.ok:
		return nil
	case !st.ours:
		r.Log.Warn(fmt.Sprintf("%s; it is not this resource's, leaving it mounted", st.why))
		return nil
	}
	if r.Env.CheckLevel == 20 {
		a.removeStatusFile(ctx, r, c, st)
	}
	targets := slices.Clone(tab.Beneath(st.mountpoint))
	if c.blockdev && !c.opts.Bind {
		// Bind mounts of the device elsewhere keep it in use: another
		// node could not mount it safely.
		for _, m := range slices.Backward(tab.OfDevice(st.m.Major, st.m.Minor)) {
			if m.Mountpoint != st.mountpoint && !slices.ContainsFunc(targets, func(t mount.Mount) bool { return t.ID == m.ID }) {
				targets = append(targets, m)
			}
		}
	}
	targets = append(targets, st.m)
	for _, m := range targets {
		if err := a.unmount(ctx, r, c, m); err != nil {
			return err
		}
	}
	if c.blockdev {
		flushBuffers(c.device)
	}
	os.Remove(deviceRecord(r))
	return nil
}

// unmount unmounts one mount: at once when nothing holds it, else
// signalling its holders with term_signals for the first half of the
// budget and kill_signals for the second, unmounting again after each
// round. The budget is the action's deadline, or 6 seconds with
// fast_stop.
func (a *Agent) unmount(ctx context.Context, r *ocf.Resource, c *config, m mount.Mount) error {
	if fin, err := a.tryUnmount(m, false); fin {
		return err
	}
	r.Log.Info(fmt.Sprintf("%s is busy; finding the processes that use it", m.Mountpoint))
	if c.fastStop {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, fastStopBudget)
		defer cancel()
	}
	began := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = began.Add(20 * time.Second)
	}
	half := began.Add(deadline.Sub(began) / 2)
	force := slices.Contains(networkTypes, c.fstype)
	procs := proc.FS{Root: a.Proc.Root}
	var last []mount.Holder
	for ctx.Err() == nil {
		sigs := c.termSigs
		killing := time.Now().After(half)
		if killing {
			sigs = c.killSigs
		}
		if c.unmount != "false" {
			tab, err := a.table()
			if err != nil {
				return err
			}
			held := append([]mount.Mount{m}, tab.Beneath(m.Mountpoint)...)
			hs, err := a.Proc.Holders(held)
			if err != nil {
				return ocf.Generic("stop: %w", err)
			}
			last = hs
			for _, h := range hs {
				p, err := procs.Stat(h.PID)
				if err != nil {
					continue
				}
				r.Log.Info(fmt.Sprintf("sending %v to %s, which holds %s", sigNames(sigs), a.Proc.Describe([]mount.Holder{h}), m.Mountpoint))
				for _, sig := range sigs {
					procs.Signal(p, sig)
				}
			}
		}
		sleep(ctx, c.delay, 100*time.Millisecond)
		if fin, err := a.tryUnmount(m, force && killing); fin {
			return err
		}
	}
	why := "force_unmount=false: no process was signalled"
	if c.unmount != "false" {
		why = "no process holds it any more"
		if len(last) > 0 {
			why = "still held by " + a.Proc.Describe(last)
		}
	}
	return ocf.Generic("could not unmount %s within %s: %s: %w", m.Mountpoint, time.Since(began).Round(100*time.Millisecond), why, context.DeadlineExceeded)
}

// tryUnmount unmounts m once; fin is true when there is nothing more to
// do (unmounted, gone, or an error that waiting cannot fix).
func (a *Agent) tryUnmount(m mount.Mount, force bool) (fin bool, err error) {
	err = mount.Unmount(m.Mountpoint, force)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EBUSY):
		return false, nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
		// Not a mount point (any more): gone unless the table says
		// otherwise.
		tab, terr := a.table()
		if terr != nil {
			return true, terr
		}
		if now, ok := tab.At(m.Mountpoint); !ok || now.ID != m.ID {
			return true, nil
		}
	}
	return true, ocf.Generic("stop: %w", err)
}

// sleep waits d (at least min), or until ctx ends.
func sleep(ctx context.Context, d, min time.Duration) {
	d = max(d, min)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func sigNames(sigs []syscall.Signal) string {
	var s []string
	for _, sig := range sigs {
		s = append(s, unix.SignalName(sig))
	}
	return fmt.Sprint(s)
}
