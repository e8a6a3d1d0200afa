package virtualdomain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// Start starts the guest as a transient domain from its config file (or
// restores it from its snapshot, or, with backingfile, defines and
// starts it on a fresh copy-on-write image), and returns once it runs
// and its monitor scripts pass. A guest that already runs is left alone:
// a guest is never started twice.
func (a *Agent) Start(ctx context.Context, r *ocf.Resource) error {
	v, err := a.begin(r)
	if err != nil {
		return err
	}
	defer v.close()
	if v.cfgErr != nil {
		return v.cfgErr
	}
	if _, err := v.connect(ctx, deadline(ctx)); err != nil {
		return err
	}
	g, err := v.inspect(ctx)
	if err != nil {
		return ocf.Generic("start: %w", brief(err))
	}
	switch {
	case g.other != nil:
		return v.conflict(g)
	case g.exists && active(g.state):
		r.Log.Info(fmt.Sprintf("domain %s is already running", v.name))
		return v.started(ctx, g.dom)
	case g.exists && g.state != virt.Shutoff:
		return ocf.Generic("domain %s is %s; it must be stopped before it can be started", v.name, g.state)
	}

	a.systemdDropIns(ctx, r)

	if v.s.Snapshot != "" {
		image := filepath.Join(v.s.Snapshot, v.name+".state")
		if _, err := os.Stat(image); err == nil {
			if err := v.conn.Restore(ctx, image); err != nil {
				return ocf.Generic("failed to restore domain %s from its state file %s: %w", v.name, image, brief(err))
			}
			if err := os.Remove(image); err != nil {
				r.Log.Warn(fmt.Sprintf("cannot remove state file %s after restoring domain %s: %v", image, v.name, err))
			}
			r.Log.Info(fmt.Sprintf("restored domain %s from %s", v.name, image))
			return v.waitStarted(ctx)
		}
	}

	if g.exists {
		if err := v.undefine(ctx, g.dom); err != nil {
			return err
		}
	}
	if v.s.StartResource {
		if err := v.startResources(ctx, v.conn); err != nil {
			return err
		}
	}
	if v.s.BackingFile != "" {
		if err := v.startFromBackingFile(ctx); err != nil {
			return err
		}
	} else if _, err := v.conn.Create(ctx, string(v.cfg.Raw)); err != nil {
		return ocf.Generic("failed to start domain %s from %s: %w", v.name, v.s.ConfigPath, brief(err))
	}
	r.Log.Info(fmt.Sprintf("started domain %s from %s", v.name, v.s.ConfigPath))
	return v.waitStarted(ctx)
}

// undefine makes a defined (persistent, inactive) domain transient
// again, as the reference agent's verify_undefined: a transient create
// needs the name free. libvirt deletes its own copy of the XML, which is
// the operator's config file when config points into libvirt's directory;
// that file is then written back from what was read at the start.
func (v *invocation) undefine(ctx context.Context, d virt.Domain) error {
	persistent, err := v.conn.IsPersistent(ctx, d)
	if err != nil || !persistent {
		return err
	}
	fi, statErr := os.Stat(v.s.ConfigPath)
	if err := v.conn.Undefine(ctx, d); err != nil {
		return ocf.Generic("domain %s is defined and cannot be undefined before its transient start: %w", v.name, brief(err))
	}
	v.r.Log.Info(fmt.Sprintf("undefined domain %s so that it can run as a transient domain", v.name))
	if _, err := os.Stat(v.s.ConfigPath); errors.Is(err, os.ErrNotExist) && statErr == nil {
		if err := os.WriteFile(v.s.ConfigPath, v.cfg.Raw, fi.Mode().Perm()); err != nil {
			return ocf.Generic("undefining domain %s removed %s and it could not be written back: %w", v.name, v.s.ConfigPath, brief(err))
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			os.Chown(v.s.ConfigPath, int(st.Uid), int(st.Gid))
		}
		v.r.Log.Info(fmt.Sprintf("libvirt removed %s when undefining domain %s; it was written back", v.s.ConfigPath, v.name))
	}
	return nil
}

// startResources starts the storage pools and networks the config refers
// to, on the hypervisor conn (the migration target's for migrate_to).
func (v *invocation) startResources(ctx context.Context, conn virt.Conn) error {
	for _, p := range v.cfg.Pools {
		if err := conn.StartPool(ctx, p); err != nil {
			return ocf.Generic("failed to start storage pool %s for domain %s: %w", p, v.name, brief(err))
		}
	}
	for _, n := range v.cfg.Networks {
		if err := conn.StartNetwork(ctx, n); err != nil {
			return ocf.Generic("failed to start network %s for domain %s: %w", n, v.name, brief(err))
		}
	}
	return nil
}

// startFromBackingFile creates the guest's copy-on-write image when
// needed (always when stateless), defines the guest and starts it. The
// image is the config path up to its first dot plus ".qcow2", where the
// reference agent puts it.
func (v *invocation) startFromBackingFile(ctx context.Context) error {
	image, _, _ := strings.Cut(v.s.ConfigPath, ".")
	image += ".qcow2"
	fi, err := os.Stat(image)
	fresh := v.s.Stateless || err != nil || fi.Size() == 0
	if fresh {
		// qemu-img (6.1 and later) refuses a backing file without its
		// format, which the reference agent does not give.
		out, err := v.r.Run.Run(ctx, "qemu-img", "info", "--output=json", "-U", v.s.BackingFile)
		var info struct {
			Format string `json:"format"`
		}
		if err != nil || json.Unmarshal(out, &info) != nil || info.Format == "" {
			return ocf.Generic("cannot read the format of backing file %s of domain %s: %v", v.s.BackingFile, v.name, err)
		}
		if _, err := v.r.Run.Run(ctx, "qemu-img", "create", "-f", "qcow2", "-F", info.Format, "-b", v.s.BackingFile, image); err != nil {
			return ocf.Generic("failed to create image %s of domain %s on backing file %s: %w", image, v.name, v.s.BackingFile, err)
		}
		v.r.Log.Info(fmt.Sprintf("created image %s of domain %s on backing file %s", image, v.name, v.s.BackingFile))
	}
	d, err := v.conn.Define(ctx, string(v.cfg.Raw))
	if err != nil {
		return ocf.Generic("failed to define domain %s from %s: %w", v.name, v.s.ConfigPath, brief(err))
	}
	if fresh && len(v.s.CopyInDirs) > 0 {
		argv := append(append([]string{"virt-copy-in", "-c", v.s.URI, "-d", v.name}, v.s.CopyInDirs...), "/")
		if _, err := v.r.Run.Run(ctx, argv...); err != nil {
			return ocf.Generic("failed to copy %s into domain %s: %w", strings.Join(v.s.CopyInDirs, " "), v.name, brief(err))
		}
	}
	if err := v.conn.Start(ctx, d); err != nil {
		return ocf.Generic("failed to start domain %s: %w", v.name, brief(err))
	}
	return nil
}

// waitStarted waits until the guest runs and its monitor scripts pass,
// then records it.
func (v *invocation) waitStarted(ctx context.Context) error {
	var last error
	for {
		g, err := v.inspect(ctx)
		switch {
		case err != nil:
			last = err
		case g.exists && active(g.state):
			if last = v.runScripts(ctx); last == nil {
				return v.started(ctx, g.dom)
			}
		default:
			_, last = v.statusOf(g)
		}
		if err := v.poll(ctx); err != nil {
			return ocf.Generic("domain %s did not come up before the deadline: %v", v.name, last)
		}
	}
}

// started records a running guest: its name and UUID for stop and
// probes, its emulator for the process check, and no utilization values
// yet, so the next monitor compares them with the CIB once.
func (v *invocation) started(ctx context.Context, d virt.Domain) error {
	rec := record{Domain: v.name, UUID: d.UUID.String(), URI: v.s.URI, Emulator: v.cfg.Emulator}
	if x, err := v.conn.XML(ctx, d, 0); err == nil {
		if e := emulatorOf(x); e != "" {
			rec.Emulator = e
		}
	}
	if err := saveRecord(v.r.Env, v.rec, rec); err != nil {
		v.r.Log.Warn(fmt.Sprintf("cannot record domain %s in %s: %v", v.name, recordPath(v.r.Env), err))
	}
	v.rec = rec
	return nil
}
