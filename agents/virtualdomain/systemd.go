package virtualdomain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ocfbox/ocfbox/ocf"
)

// systemdDropIns orders the guest's shutdown before libvirtd's when the
// node shuts down, as the reference agent does (resource-agents PR 1105):
// drop-ins making resource-agents-deps.target come after libvirtd.service
// and want virt-guest-shutdown.target, and that target started. Only
// when systemd runs; failures are logged, not fatal.
func (a *Agent) systemdDropIns(ctx context.Context, r *ocf.Resource) {
	comm, err := os.ReadFile(filepath.Join(a.ProcRoot, "1", "comm"))
	if err != nil || strings.TrimSpace(string(comm)) != "systemd" {
		return
	}
	dir := filepath.Join(a.SystemdDir, "resource-agents-deps.target.d")
	changed := false
	for _, d := range []struct{ name, key, unit string }{
		{"99-VirtualDomain-libvirt", "After", "libvirtd.service"},
		{"99-VirtualDomain-machines", "Wants", "virt-guest-shutdown.target"},
	} {
		c, err := writeDropIn(dir, d.name, d.key, d.unit)
		if err != nil {
			r.Log.Warn(fmt.Sprintf("cannot write systemd drop-in %s: %v", d.name, err))
		}
		changed = changed || c
	}
	if changed {
		if _, err := r.Run.Run(ctx, "systemctl", "daemon-reload"); err != nil {
			r.Log.Warn(fmt.Sprintf("systemctl daemon-reload failed: %v", err))
		}
	}
	if _, err := r.Run.Run(ctx, "systemctl", "start", "virt-guest-shutdown.target"); err != nil {
		r.Log.Warn(fmt.Sprintf("systemctl start virt-guest-shutdown.target failed: %v", err))
	}
}

// writeDropIn writes dir/name.conf with "[Unit]\nkey=unit\n" unless it
// already has that line, and reports whether it wrote.
func writeDropIn(dir, name, key, unit string) (bool, error) {
	path := filepath.Join(dir, name+".conf")
	line := key + "=" + unit
	if old, err := os.ReadFile(path); err == nil {
		for _, l := range strings.Split(string(old), "\n") {
			if l == line {
				return false, nil
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	if err := os.WriteFile(path, []byte("[Unit]\n"+line+"\n"), 0o644); err != nil {
		return false, err
	}
	return true, nil
}

type owner struct{ uid, gid int }

func statOwner(fi os.FileInfo) (owner, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return owner{}, false
	}
	return owner{int(st.Uid), int(st.Gid)}, true
}
