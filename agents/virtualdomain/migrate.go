package virtualdomain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// MigrateTo live-migrates the running guest to the node Pacemaker names
// (CRM_meta_migrate_target), peer-to-peer: this node's libvirtd connects
// to the target's hypervisor URI and moves the guest. When the migration
// cannot finish before the deadline it is aborted, and the guest keeps
// running here.
func (a *Agent) MigrateTo(ctx context.Context, r *ocf.Resource) error {
	v, err := a.begin(r)
	if err != nil {
		return err
	}
	defer v.close()
	if len(v.s.Problems) > 0 {
		return v.s.Problems[0]
	}
	if v.cfgErr != nil {
		return v.cfgErr
	}
	target := r.Env.Meta["migrate_target"]
	if target == "" {
		return ocf.Generic("%s: migrate_to: no migration target (CRM_meta_migrate_target is not set)", v.name)
	}
	remote, data, err := v.s.migrationURIs(target)
	if err != nil {
		return err
	}
	if _, err := v.connect(ctx, deadline(ctx)); err != nil {
		return err
	}
	g, err := v.inspect(ctx)
	if err != nil {
		return ocf.Generic("migrate_to: %w", brief(err))
	}
	if !g.exists || !active(g.state) {
		return ocf.Generic("%s: migrate_to: not active locally (%s)", v.name, stateText(g))
	}
	if v.s.SaveConfig {
		v.saveConfig(ctx, g.dom)
	}
	if v.s.StartResource {
		rc, err := a.Connect(ctx, remote)
		if err != nil {
			return ocf.Generic("%s: migrate_to: cannot reach %s to start the guest's pools and networks: %w", v.name, remote, brief(err))
		}
		err = v.startResources(ctx, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}

	p := v.s.MigrateParams
	p.DestURI, p.URI = remote, data
	p.Flags |= virt.MigrateLive
	if p.Bandwidth == 0 {
		p.Bandwidth = v.s.Speed
	}
	p.MaxDowntime = v.s.Downtime
	// Stop the migration early enough to abort it cleanly.
	left := time.Until(deadline(ctx))
	mctx, cancel := context.WithTimeout(ctx, left-min(left/3, 8*time.Second))
	defer cancel()
	r.Log.Info(fmt.Sprintf("%s: live migration to %s (%s, data %q, flags %#x, bandwidth %d MiB/s, downtime %s)",
		v.name, target, remote, data, uint32(p.Flags), p.Bandwidth, p.MaxDowntime))
	began := time.Now()
	rep, err := v.conn.Migrate(mctx, g.dom, p)
	if p.MaxDowntime > 0 && !rep.DowntimeSet {
		r.Log.Warn(fmt.Sprintf("%s: migration downtime %s was not applied: %v", v.name, p.MaxDowntime, rep.DowntimeErr))
	}
	if err != nil {
		if errors.Is(err, virt.ErrAborted) {
			return ocf.Generic("%s: live migration to %s did not finish in time and was aborted: %w", v.name, target, brief(err))
		}
		return ocf.Generic("%s: live migration to %s failed: %w", v.name, target, brief(err))
	}
	r.Log.Info(fmt.Sprintf("%s: live migration to %s succeeded in %s", v.name, target, time.Since(began).Round(time.Millisecond)))
	return v.stopped()
}

// MigrateFrom completes a migration on the target: it waits until the
// guest runs here and its monitor scripts pass, then records it.
func (a *Agent) MigrateFrom(ctx context.Context, r *ocf.Resource) error {
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
	a.systemdDropIns(ctx, r)
	if err := v.waitStarted(ctx); err != nil {
		return err
	}
	r.Log.Info(fmt.Sprintf("%s: live migration from %s succeeded", v.name, r.Env.Meta["migrate_source"]))
	if v.s.SaveConfig {
		if d, err := v.conn.Lookup(ctx, v.name); err == nil {
			v.saveConfig(ctx, d)
		}
	}
	return nil
}

func stateText(g guest) string {
	if !g.exists {
		return "not defined"
	}
	return g.state.String()
}
