package virt_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// TestContractQEMU runs the contract against a private libvirtd with
// real qemu guests (TCG, 32 MiB, no OS).
func TestContractQEMU(t *testing.T) {
	lv := libvirttest.Start(t)
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			c := mustConnect(t, im, lv.URI())
			ctx := ctxT(t, 120*time.Second)
			name := "ct-qemu-" + im.name

			t.Run("create runs a transient guest with a qemu process", func(t *testing.T) {
				d, err := c.Create(ctx, libvirttest.GuestXML(name, ""))
				if err != nil {
					t.Fatalf("create %s: %v", name, err)
				}
				wantState(t, c, d, virt.Running)
				if p, err := c.IsPersistent(ctx, d); err != nil || p {
					t.Fatalf("IsPersistent: %v, %v; want a transient guest", p, err)
				}
				info, err := c.Info(ctx, d)
				if err != nil || info.VCPUs != 1 || info.MaxMemKiB != 32*1024 {
					t.Fatalf("info: %+v, %v; want 1 vCPU and 32768 KiB", info, err)
				}
				pid, err := virt.FindGuestProcess("/proc", virt.FamilyQEMU, name)
				if err != nil || pid == 0 {
					t.Fatalf("qemu process of %s: pid %d, %v; want one", name, pid, err)
				}
			})
			d, err := c.Lookup(ctx, name)
			if err != nil {
				t.Fatalf("lookup %s: %v", name, err)
			}
			t.Run("a paused guest reports paused and resumes", func(t *testing.T) {
				if err := c.Suspend(ctx, d); err != nil {
					t.Fatalf("suspend: %v", err)
				}
				wantState(t, c, d, virt.Paused)
				if err := c.Resume(ctx, d); err != nil {
					t.Fatalf("resume: %v", err)
				}
				wantState(t, c, d, virt.Running)
			})
			t.Run("save and restore keep the guest's identity", func(t *testing.T) {
				path := filepath.Join(lv.Dir, name+".state")
				if err := c.Save(ctx, d, path); err != nil {
					t.Fatalf("save: %v", err)
				}
				if _, err := c.Lookup(ctx, name); !errors.Is(err, virt.ErrNoDomain) {
					t.Fatalf("lookup after save: %v; want ErrNoDomain (a saved transient guest is gone)", err)
				}
				if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
					t.Fatalf("state file %s: %v; want a non-empty file", path, err)
				}
				if err := c.Restore(ctx, path); err != nil {
					t.Fatalf("restore: %v", err)
				}
				back, err := c.Lookup(ctx, name)
				if err != nil || back.UUID != d.UUID {
					t.Fatalf("lookup after restore: %+v, %v; want UUID %s", back, err, d.UUID)
				}
				wantState(t, c, back, virt.Running)
				d = back
			})
			t.Run("destroy stops the guest and its qemu at once", func(t *testing.T) {
				if err := c.Destroy(ctx, d); err != nil {
					t.Fatalf("destroy: %v", err)
				}
				if _, err := c.Lookup(ctx, name); !errors.Is(err, virt.ErrNoDomain) {
					t.Fatalf("lookup after destroy: %v; want ErrNoDomain", err)
				}
				if pid, _ := virt.FindGuestProcess("/proc", virt.FamilyQEMU, name); pid != 0 {
					t.Fatalf("qemu process %d of %s still exists after destroy", pid, name)
				}
				wantErr(t, "destroy of a gone guest", c.Destroy(ctx, d), virt.ErrNoDomain)
			})
			t.Run("shutdown modes reach the hypervisor", func(t *testing.T) {
				pd, err := c.Create(ctx, libvirttest.GuestXML(name+"-s", ""))
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				defer c.Destroy(context.Background(), pd)
				// The guest has no agent channel: qemu refuses the agent mode.
				if err := c.Shutdown(ctx, pd, virt.ShutdownAgent); err == nil {
					t.Fatalf("shutdown --mode agent of a guest without a guest agent succeeded; want libvirt's refusal")
				}
				// ACPI is delivered, but a guest without an OS ignores it.
				if err := c.Shutdown(ctx, pd, virt.ShutdownACPI); err != nil {
					t.Fatalf("shutdown --mode acpi: %v", err)
				}
				time.Sleep(time.Second)
				wantState(t, c, pd, virt.Running)
			})
			t.Run("a driver the daemon does not have is ErrNoDriver", func(t *testing.T) {
				_, err := im.connect(ctx, "bhyve:///system?socket="+lv.Socket)
				if !errors.Is(err, virt.ErrNoDriver) {
					t.Fatalf("connect bhyve:///system: %v; want ErrNoDriver", err)
				}
			})
		})
	}
}

// TestContractDaemonGone checks that a stopped libvirtd is reported as
// ErrUnreachable, both for an open connection and for a new one, and
// that its guests survive it.
func TestContractDaemonGone(t *testing.T) {
	lv := libvirttest.Start(t)
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			ctx := ctxT(t, 120*time.Second)
			c := mustConnect(t, im, lv.URI())
			name := "ct-gone-" + im.name
			d, err := c.Create(ctx, libvirttest.GuestXML(name, ""))
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			lv.Stop()
			_, _, err = c.State(ctx, d)
			wantErr(t, "state after libvirtd stopped", err, virt.ErrUnreachable)
			_, err = im.connect(ctx, lv.URI())
			if !errors.Is(err, virt.ErrUnreachable) {
				t.Fatalf("connect with libvirtd stopped: %v; want ErrUnreachable", err)
			}
			if pid, _ := virt.FindGuestProcess("/proc", virt.FamilyQEMU, name); pid == 0 {
				t.Fatalf("guest %s died with libvirtd; want it still running", name)
			}
			lv.StartDaemon()
			c2 := mustConnect(t, im, lv.URI())
			d2, err := c2.Lookup(ctx, name)
			if err != nil {
				t.Fatalf("lookup after libvirtd restart: %v", err)
			}
			wantState(t, c2, d2, virt.Running)
			// Right after a restart libvirtd may still be reattaching to
			// the guest; a destroy that races with that ends with the
			// guest gone but answers "no domain".
			if err := c2.Destroy(ctx, d2); err != nil && !errors.Is(err, virt.ErrNoDomain) {
				t.Fatalf("destroy: %v", err)
			}
			if _, err := c2.Lookup(ctx, name); !errors.Is(err, virt.ErrNoDomain) {
				t.Fatalf("lookup after destroy: %v; want ErrNoDomain", err)
			}
			if pid, _ := virt.FindGuestProcess("/proc", virt.FamilyQEMU, name); pid != 0 {
				t.Fatalf("qemu process %d of %s survived destroy", pid, name)
			}
		})
	}
}

// TestContractMigrate moves a guest between two libvirtd hosts in their
// own network namespaces, peer-to-peer, and back.
func TestContractMigrate(t *testing.T) {
	a, b := libvirttest.StartPair(t)
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			ctx := ctxT(t, 180*time.Second)
			ca, cb := mustConnect(t, im, a.URI()), mustConnect(t, im, b.URI())
			name := "ct-mig-" + im.name
			d, err := ca.Create(ctx, libvirttest.GuestXML(name, ""))
			if err != nil {
				t.Fatalf("create on %s: %v", a.Name, err)
			}
			rep, err := ca.Migrate(ctx, d, virt.MigrateParams{
				DestURI: "qemu+tcp://" + b.Name + "/system", URI: "tcp://" + b.Addr,
				Flags: virt.MigrateLive, MaxDowntime: 500 * time.Millisecond,
			})
			if err != nil {
				t.Fatalf("migrate %s to %s: %v", name, b.Name, err)
			}
			if !rep.DowntimeSet && rep.DowntimeErr == nil {
				t.Fatalf("migration report %+v: a max downtime was asked for, want it set or a reason", rep)
			}
			if _, err := ca.Lookup(ctx, name); !errors.Is(err, virt.ErrNoDomain) {
				t.Fatalf("lookup on the source after migration: %v; want ErrNoDomain", err)
			}
			db, err := cb.Lookup(ctx, name)
			if err != nil {
				t.Fatalf("lookup on the target: %v", err)
			}
			wantState(t, cb, db, virt.Running)
			if db.UUID != d.UUID {
				t.Fatalf("UUID on the target %s, want %s", db.UUID, d.UUID)
			}
			// And back, with the peer named by address and a bandwidth cap.
			if _, err := cb.Migrate(ctx, db, virt.MigrateParams{
				DestURI: "qemu+tcp://" + a.Addr + "/system", Flags: virt.MigrateLive, Bandwidth: 100,
			}); err != nil {
				t.Fatalf("migrate back: %v", err)
			}
			back, err := ca.Lookup(ctx, name)
			if err != nil {
				t.Fatalf("lookup on the source after migrating back: %v", err)
			}
			wantState(t, ca, back, virt.Running)
			t.Run("a migration to an unreachable peer fails and the guest stays", func(t *testing.T) {
				_, err := ca.Migrate(ctx, back, virt.MigrateParams{
					DestURI: "qemu+tcp://192.0.2.99/system", Flags: virt.MigrateLive})
				if err == nil {
					t.Fatalf("migration to 192.0.2.99 succeeded; want a failure")
				}
				wantState(t, ca, back, virt.Running)
			})
			t.Run("a migration whose context ends is aborted, the guest runs on exactly one host", func(t *testing.T) {
				short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
				defer cancel()
				_, err := ca.Migrate(short, back, virt.MigrateParams{
					DestURI: "qemu+tcp://" + b.Name + "/system", URI: "tcp://" + b.Addr, Flags: virt.MigrateLive})
				_, errA := ca.Lookup(ctx, name)
				_, errB := cb.Lookup(ctx, name)
				onA, onB := errA == nil, errB == nil
				if onA == onB {
					t.Fatalf("after a cut-short migration (err %v): on %s %v, on %s %v; want exactly one", err, a.Name, onA, b.Name, onB)
				}
				if err != nil && !onA {
					t.Fatalf("migration reported failure (%v) but the guest left %s", err, a.Name)
				}
				if err != nil && !errors.Is(err, virt.ErrAborted) && !errors.Is(err, virt.ErrUnreachable) {
					t.Fatalf("cut-short migration error %v; want ErrAborted or ErrUnreachable", err)
				}
			})
		})
	}
}
