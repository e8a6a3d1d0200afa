package virtualdomain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// Monitor reports the guest's state: running, idle, paused and in
// shutdown are running (0); shut off or not defined is stopped (7);
// crashed and pmsuspended are failures (1), as in the reference agent.
// While libvirtd cannot be reached it looks for the guest's emulator
// process instead. A running guest's monitor scripts must all succeed.
func (a *Agent) Monitor(ctx context.Context, r *ocf.Resource) (ocf.Status, error) {
	v, err := a.begin(r)
	if err != nil {
		return ocf.StatusOf(err), err
	}
	defer v.close()
	if v.cfgErr != nil {
		switch {
		case !r.Env.IsProbe():
			return ocf.ErrGeneric, v.cfgErr
		case v.name == "":
			return ocf.NotRunning, ocf.Stopped("%s; a probe reports the resource stopped", ocf.ReasonOf(v.cfgErr))
		}
		// A probe with the config gone but a guest this node started:
		// look at that guest rather than declare it stopped (a guest
		// declared stopped while it runs gets started on another node).
		r.Log.Warn(fmt.Sprintf("%s; probing domain %s recorded at its start", ocf.ReasonOf(v.cfgErr), v.name))
	}
	status, g, err := v.status(ctx)
	if status != ocf.Success {
		return status, err
	}
	if err := v.runScripts(ctx); err != nil {
		return ocf.ErrGeneric, err
	}
	if g.exists && v.conn != nil {
		v.maintain(ctx, g)
	}
	return ocf.Success, nil
}

// status is the guest's monitor status. libvirt gets half of what is
// left of the action's time; when it cannot be reached in that time the
// emulator process decides.
func (v *invocation) status(ctx context.Context) (ocf.Status, guest, error) {
	dl := deadline(ctx)
	lctx, cancel := context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
	defer cancel()
	_, err := v.connect(lctx, time.Time{})
	var g guest
	if err == nil {
		g, err = v.inspect(lctx)
		if err == nil && g.exists && g.state == virt.NoState {
			err = fmt.Errorf("domain %s has no state: %w", v.name, virt.ErrUnreachable)
		}
	}
	if err != nil {
		if errors.Is(err, virt.ErrUnreachable) {
			s, perr := v.processStatus(ctx, err)
			return s, g, perr
		}
		if unmanageable(err) {
			// libvirtd answers but cannot reach the guest's driver (it
			// failed to load, or the URI names one this host lacks):
			// a guest of this name may still run, and "not installed"
			// (a probe's "not running") would start it a second time.
			if s, _ := v.processStatus(ctx, err); s == ocf.Success {
				return ocf.ErrGeneric, g, ocf.Generic("domain %s runs, but libvirt at %s cannot manage it: %w", v.name, v.s.URI, brief(err))
			}
		}
		return ocf.StatusOf(err), g, err
	}
	s, err := v.statusOf(g)
	return s, g, err
}

// unmanageable reports whether a connection failed although libvirtd
// may run guests: it has no driver for the URI, or the URI is refused.
func unmanageable(err error) bool {
	return errors.Is(err, virt.ErrNoDriver) || errors.Is(err, virt.ErrUnsupported) || errors.Is(err, virt.ErrInvalidURI)
}

// families are the emulator families whose process a running guest has:
// from the emulator the record or the config names, else from the
// config's domain type, else from the URI's driver; both qemu and LXC
// when nothing tells. None for a guest without an emulator process (Xen).
func (v *invocation) families() []string {
	emulator := v.rec.Emulator
	if emulator == "" && v.cfg != nil {
		emulator = v.cfg.Emulator
	}
	if fam := virt.EmulatorFamily(emulator); fam != "" {
		return []string{fam}
	}
	kind := ""
	if v.cfg != nil {
		kind = v.cfg.Type
	} else if u, err := virt.ParseURI(v.s.URI); err == nil {
		kind = u.Driver
	}
	switch kind {
	case "kvm", "qemu", "kqemu", "hvf":
		return []string{virt.FamilyQEMU}
	case "lxc":
		return []string{virt.FamilyLXC}
	case "xen", "libxl":
		return nil
	}
	return []string{virt.FamilyQEMU, virt.FamilyLXC}
}

// processStatus decides without libvirt, from the guest's emulator
// process (qemu or libvirt_lxc, found in /proc; when the emulator is not
// known, any process of the families the guest can have), or from xl for
// a Xen guest without an emulator.
func (v *invocation) processStatus(ctx context.Context, why error) (ocf.Status, error) {
	if fams := v.families(); len(fams) > 0 {
		for _, fam := range fams {
			pid, err := virt.FindGuestProcess(v.a.ProcRoot, fam, v.name)
			if err != nil {
				return ocf.ErrGeneric, ocf.Generic("libvirt is unusable (%v) and %v", brief(why), err)
			}
			if pid != 0 {
				v.r.Log.Info(fmt.Sprintf("libvirt at %s is unusable (%v); domain %s runs as process %d", v.s.URI, why, v.name, pid))
				return ocf.Success, nil
			}
		}
		return ocf.NotRunning, ocf.Stopped("libvirt at %s is unusable and domain %s has no %s process", v.s.URI, v.name, strings.Join(fams, " or "))
	}
	if _, err := v.r.Run.LookPath("xl"); err == nil {
		_, err := v.r.Run.Run(ctx, "xl", "list", v.name)
		var re *ocf.RunError
		switch {
		case err == nil:
			return ocf.Success, nil
		case errors.As(err, &re) && re.ExitCode > 0:
			return ocf.NotRunning, ocf.Stopped("libvirt at %s is unusable and xl does not list domain %s", v.s.URI, v.name)
		}
	}
	return ocf.ErrGeneric, ocf.Generic("the state of domain %s cannot be told without libvirt (no emulator process to look for); libvirt: %v",
		v.name, brief(why))
}

// runScripts runs the monitor scripts one after the other.
func (v *invocation) runScripts(ctx context.Context) error {
	for _, script := range v.s.Scripts {
		out, err := v.r.Run.Run(ctx, script)
		if err != nil {
			var re *ocf.RunError
			output := strings.TrimSpace(string(out))
			code := -1
			if errors.As(err, &re) {
				code = re.ExitCode
				output = strings.TrimSpace(output + " " + strings.TrimSpace(re.Stderr))
			}
			return ocf.Generic("monitor script %s for domain %s returned %d with output: %s", script, v.name, code, output)
		}
		v.r.Log.Debug(fmt.Sprintf("monitor script %s for domain %s succeeded: %s", script, v.name, strings.TrimSpace(string(out))))
	}
	return nil
}

// maintain does what a monitor of a running guest keeps up to date: the
// record (name, UUID, emulator), the utilization attributes and, with
// save_config_on_stop, the config file.
func (v *invocation) maintain(ctx context.Context, g guest) {
	rec := v.rec
	if v.cfg != nil {
		rec.Domain, rec.URI = v.name, v.s.URI
		rec.UUID = g.dom.UUID.String()
	}
	if rec.Emulator == "" {
		if x, err := v.conn.XML(ctx, g.dom, 0); err == nil {
			rec.Emulator = emulatorOf(x)
		}
	}
	v.updateUtilization(ctx, g.info, &rec)
	if err := saveRecord(v.r.Env, v.rec, rec); err != nil {
		v.r.Log.Warn(fmt.Sprintf("cannot keep the state of domain %s in %s: %v", v.name, recordPath(v.r.Env), err))
	}
	v.rec = rec
	if v.s.SaveConfig && v.cfg != nil {
		v.saveConfig(ctx, g.dom)
	}
}

// updateUtilization keeps the resource's utilization attributes equal to
// the guest's vCPUs and memory. The values last written are in the
// record, so crm_resource runs only when a value changes (and, once
// after each start, to read what the CIB holds).
func (v *invocation) updateUtilization(ctx context.Context, info virt.Info, rec *record) {
	want := map[string]string{
		"cpu":         strconv.Itoa(info.VCPUs),
		"host_memory": strconv.FormatUint(info.MaxMemKiB/1024, 10),
		"hv_memory":   strconv.FormatUint(info.MaxMemKiB/1024, 10),
	}
	if rec.Utilization == nil {
		rec.Utilization = map[string]string{}
	}
	inst := v.r.Env.Instance
	for _, attr := range utilizationAttrs {
		last, known := rec.Utilization[attr]
		switch {
		case v.s.Autoset[attr]:
			val := want[attr]
			if known && last == val {
				continue
			}
			if !known {
				out, err := v.r.Run.Run(ctx, "crm_resource", "-Q", "-r", inst, "-z", "-g", attr)
				cur := strings.TrimSpace(string(out))
				if err != nil && notConnected(err) {
					v.r.Log.Debug("cannot set utilization: the CIB is not available")
					return
				}
				if err == nil && cur == val {
					rec.Utilization[attr] = val
					continue
				}
			}
			if _, err := v.r.Run.Run(ctx, "crm_resource", "-r", inst, "-z", "-p", attr, "-v", val); err != nil {
				v.r.Log.Warn(fmt.Sprintf("crm_resource failed to set utilization attribute %s of %s to %s: %v", attr, inst, val, err))
				continue
			}
			rec.Utilization[attr] = val
		case v.s.Unset[attr]:
			if known && last == "" {
				continue
			}
			if _, err := v.r.Run.Run(ctx, "crm_resource", "--resource", inst, "--utilization", "--delete-parameter", attr); err != nil {
				v.r.Log.Warn(fmt.Sprintf("crm_resource failed to remove utilization attribute %s of %s: %v", attr, inst, err))
				continue
			}
			rec.Utilization[attr] = ""
		}
	}
}

// notConnected reports whether crm_resource failed because there is no
// cluster to ask (or no crm_resource at all).
func notConnected(err error) bool {
	var re *ocf.RunError
	if errors.As(err, &re) && re.ExitCode < 0 {
		return true
	}
	return strings.Contains(strings.ToLower(err.Error()), "not connected")
}

// saveConfig writes the guest's persistent definition back to the config
// file when it differs, keeping the file's mode and owner; with
// sync_config_on_stop it then runs csync2 -x on it.
func (v *invocation) saveConfig(ctx context.Context, d virt.Domain) {
	x, err := v.conn.XML(ctx, d, virt.XMLInactive|virt.XMLSecure)
	if err != nil || strings.TrimSpace(x) == "" {
		v.r.Log.Warn(fmt.Sprintf("cannot read the definition of domain %s to save it: %v", v.name, err))
		return
	}
	if !strings.HasSuffix(x, "\n") {
		x += "\n"
	}
	path := v.s.ConfigPath
	if old, err := os.ReadFile(path); err == nil && string(old) == x {
		return
	}
	if c, err := parseConfig(path, []byte(x)); err != nil || c.Name != v.name {
		v.r.Log.Warn(fmt.Sprintf("the definition libvirt gave for domain %s does not look like its XML; not saving it to %s", v.name, path))
		return
	}
	if err := writeFileLike(path, []byte(x)); err != nil {
		v.r.Log.Warn(fmt.Sprintf("saving domain %s to %s failed: %v", v.name, path, err))
		return
	}
	v.r.Log.Info(fmt.Sprintf("saved the definition of domain %s to %s", v.name, path))
	if v.s.SyncConfig {
		if _, err := v.r.Run.Run(ctx, "csync2", "-x", path); err != nil {
			v.r.Log.Warn(fmt.Sprintf("csync2 -x %s failed: %v", path, err))
		}
	}
}

// writeFileLike replaces path atomically with data, keeping the old
// file's mode and owner.
func writeFileLike(path string, data []byte) error {
	mode, uid, gid := os.FileMode(0o644), -1, -1
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
		if st, ok := statOwner(fi); ok {
			uid, gid = st.uid, st.gid
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	if uid >= 0 {
		os.Chown(tmp.Name(), uid, gid)
	}
	return os.Rename(tmp.Name(), path)
}
