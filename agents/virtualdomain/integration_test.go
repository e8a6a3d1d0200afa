package virtualdomain_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// These tests run the agent against a private libvirtd with real qemu
// guests (TCG, 32 MiB, no OS, so ACPI shutdown never completes).

// qemuPID is the guest's qemu process, 0 when there is none.
func qemuPID(t testing.TB, name string) int {
	t.Helper()
	pid, err := virt.FindGuestProcess("/proc", virt.FamilyQEMU, name)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func virshOut(t *testing.T, lv *libvirttest.Daemon, args ...string) string {
	t.Helper()
	out, err := lv.Virsh(args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

func TestStartMonitorStop(t *testing.T) {
	lv := libvirttest.Start(t)
	name := "vd-basic"
	rs := newResource(t, map[string]string{
		"config": guestConfig(t, t.TempDir(), name, ""), "hypervisor": lv.URI(),
		"autoset_utilization_cpu": "false", "autoset_utilization_hv_memory": "false", "autoset_utilization_host_memory": "false",
	})

	rs.want("probe before start", rs.probe(), ocf.NotRunning)
	rs.want("validate-all", rs.run("validate-all", 5000), ocf.Success)
	rs.want("start", rs.run("start", 60000), ocf.Success)
	pid := qemuPID(t, name)
	if pid == 0 {
		t.Fatalf("after start there is no qemu process of %s", name)
	}
	if info := virshOut(t, lv, "dominfo", name); !strings.Contains(info, "Persistent:     no") {
		t.Fatalf("the started guest is persistent; want a transient domain:\n%s", info)
	}
	if rec := rs.stateRecord(); rec["domain"] != name || rec["emulator"] != "/usr/bin/qemu-system-x86_64" {
		t.Fatalf("record after start = %v; want the domain and its emulator", rec)
	}
	rs.want("monitor", rs.monitor(), ocf.Success)
	rs.want("probe", rs.probe(), ocf.Success)

	t.Run("a second start does not start the guest twice", func(t *testing.T) {
		rs.want("second start", rs.run("start", 60000), ocf.Success)
		if again := qemuPID(t, name); again != pid {
			t.Fatalf("qemu process changed from %d to %d on a second start", pid, again)
		}
	})
	t.Run("stop escalates to destroy when the guest ignores ACPI", func(t *testing.T) {
		res := rs.run("stop", 8000)
		rs.want("stop", res, ocf.Success)
		if !strings.Contains(res.stderr, "did not shut down in time, destroying it") {
			t.Fatalf("stop of a guest without an OS did not escalate to destroy:\n%s", res.stderr)
		}
		if qemuPID(t, name) != 0 {
			t.Fatalf("qemu of %s still runs after a successful stop", name)
		}
		if _, err := lv.Virsh("domstate", name); err == nil {
			t.Fatalf("domain %s is still known to libvirt after stop; want the transient domain gone", name)
		}
		if rec := rs.stateRecord(); rec != nil {
			t.Fatalf("record after stop = %v; want none", rec)
		}
	})
	rs.want("monitor after stop", rs.monitor(), ocf.NotRunning)
	rs.want("second stop", rs.run("stop", 20000), ocf.Success)
}

func TestGuestKilledBehindTheAgentsBack(t *testing.T) {
	lv := libvirttest.Start(t)
	name := "vd-killed"
	rs := newResource(t, map[string]string{"config": guestConfig(t, t.TempDir(), name, ""), "hypervisor": lv.URI(),
		"autoset_utilization_cpu": "false", "autoset_utilization_hv_memory": "false", "autoset_utilization_host_memory": "false"})
	rs.want("start", rs.run("start", 60000), ocf.Success)
	pid := qemuPID(t, name)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// libvirtd notices qemu's death on its monitor socket; on a loaded
	// 2-CPU machine that once took longer than 20 s.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := lv.WaitGone(ctx, name); err != nil {
		t.Fatal(err)
	}
	rs.want("monitor of a killed guest", rs.monitor(), ocf.NotRunning)
	rs.want("stop of a killed guest", rs.run("stop", 20000), ocf.Success)
	rs.want("start again", rs.run("start", 60000), ocf.Success)
	rs.want("stop", rs.run("stop", 12000, ""), ocf.Success)
}

func TestPausedGuestIsRunning(t *testing.T) {
	lv := libvirttest.Start(t)
	name := "vd-paused"
	rs := newResource(t, map[string]string{"config": guestConfig(t, t.TempDir(), name, ""), "hypervisor": lv.URI(),
		"force_stop":              "true",
		"autoset_utilization_cpu": "false", "autoset_utilization_hv_memory": "false", "autoset_utilization_host_memory": "false"})
	rs.want("start", rs.run("start", 60000), ocf.Success)
	virshOut(t, lv, "suspend", name)
	rs.want("monitor of a paused guest", rs.monitor(), ocf.Success)
	rs.want("start of a paused guest", rs.run("start", 60000), ocf.Success)
	if out := virshOut(t, lv, "domstate", name); !strings.Contains(out, "paused") {
		t.Fatalf("start resumed or restarted a paused guest: %s", out)
	}
	res := rs.run("stop", 20000)
	rs.want("force_stop of a paused guest", res, ocf.Success)
	if !strings.Contains(res.stderr, "destroying domain "+name) || strings.Contains(res.stderr, "asking domain") {
		t.Fatalf("force_stop did not destroy at once:\n%s", res.stderr)
	}
	if qemuPID(t, name) != 0 {
		t.Fatalf("qemu still runs after stop")
	}
}

func TestLibvirtdDown(t *testing.T) {
	lv := libvirttest.Start(t)
	name := "vd-nolibvirtd"
	rs := newResource(t, map[string]string{"config": guestConfig(t, t.TempDir(), name, ""), "hypervisor": lv.URI(),
		"autoset_utilization_cpu": "false", "autoset_utilization_hv_memory": "false", "autoset_utilization_host_memory": "false"})
	rs.want("start", rs.run("start", 60000), ocf.Success)
	pid := qemuPID(t, name)

	lv.Stop()
	rs.want("probe with libvirtd stopped and the guest running", rs.probe(), ocf.Success)
	rs.want("monitor with libvirtd stopped and the guest running", rs.monitor(), ocf.Success)
	res := rs.run("stop", 12000)
	rs.want("stop with libvirtd stopped and the guest running", res, ocf.ErrGeneric)
	rs.wantReason("stop without libvirtd", res, "unreachable", "still runs")
	if qemuPID(t, name) != pid {
		t.Fatalf("the guest's qemu changed while libvirtd was down")
	}

	t.Run("a hung libvirtd does not hang the monitor", func(t *testing.T) {
		lv.StartDaemon()
		daemon := lv.PID()
		syscall.Kill(daemon, syscall.SIGSTOP)
		defer syscall.Kill(daemon, syscall.SIGCONT)
		res := rs.run("monitor", 6000, "interval=10000")
		rs.want("monitor with libvirtd stopped by SIGSTOP", res, ocf.Success)
		if !strings.Contains(res.stderr, "runs as process") {
			t.Fatalf("monitor with a hung libvirtd did not fall back to the process check:\n%s", res.stderr)
		}
		res = rs.run("stop", 9000)
		rs.want("stop with libvirtd stopped by SIGSTOP", res, ocf.ErrGeneric)
		rs.wantReason("stop with a hung libvirtd", res, "still runs")
		syscall.Kill(daemon, syscall.SIGCONT)
		lv.Stop()
	})

	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && qemuPID(t, name) != 0; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	rs.want("probe with libvirtd stopped and the guest gone", rs.probe(), ocf.NotRunning)
	rs.want("stop with libvirtd stopped and the guest gone", rs.run("stop", 12000), ocf.Success)
	lv.StartDaemon()
	rs.want("monitor after libvirtd is back", rs.monitor(), ocf.NotRunning)
}

func TestWrongConfigChangesNothing(t *testing.T) {
	lv := libvirttest.Start(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.xml")
	os.WriteFile(garbage, []byte("<domain><name>x</name"), 0o644)
	noName := filepath.Join(dir, "noname.xml")
	os.WriteFile(noName, []byte("<domain type='qemu'><memory>32768</memory></domain>"), 0o644)
	good := guestConfig(t, dir, "vd-wrong", "")
	tests := []struct {
		name                                  string
		params                                map[string]string
		validate, start, probe, monitor, stop ocf.Status
		reason                                []string
	}{
		{"missing config", map[string]string{"config": filepath.Join(dir, "missing.xml")},
			ocf.ErrInstalled, ocf.ErrInstalled, ocf.NotRunning, ocf.ErrGeneric, ocf.Success, []string{"missing.xml"}},
		{"unparsable config", map[string]string{"config": garbage},
			ocf.ErrInstalled, ocf.ErrInstalled, ocf.NotRunning, ocf.ErrGeneric, ocf.Success, []string{"garbage.xml", "not libvirt domain XML"}},
		{"config without a name", map[string]string{"config": noName},
			ocf.ErrInstalled, ocf.ErrInstalled, ocf.NotRunning, ocf.ErrGeneric, ocf.Success, []string{"noname.xml", "<name>"}},
		{"unknown hypervisor URI", map[string]string{"config": good, "hypervisor": "kvm:///system"},
			ocf.ErrConfigured, ocf.ErrConfigured, ocf.ErrConfigured, ocf.ErrConfigured, ocf.Success, []string{"hypervisor", "kvm:///system"}},
		{"hypervisor driver missing here", map[string]string{"config": good, "hypervisor": "bhyve:///system?socket=" + lv.Socket},
			ocf.Success, ocf.ErrInstalled, ocf.NotRunning, ocf.ErrInstalled, ocf.Success, []string{"bhyve:///system"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.params["hypervisor"] == "" {
				tt.params["hypervisor"] = lv.URI()
			}
			rs := newResource(t, tt.params)
			before := virshOut(t, lv, "list", "--all", "--name")
			for _, step := range []struct {
				what string
				got  result
				want ocf.Status
			}{
				{"validate-all", rs.run("validate-all", 5000), tt.validate},
				{"start", rs.run("start", 20000), tt.start},
				{"probe", rs.probe(), tt.probe},
				{"monitor", rs.monitor(), tt.monitor},
				{"stop", rs.run("stop", 20000), tt.stop},
			} {
				rs.want(step.what, step.got, step.want)
				if step.want != ocf.Success && step.want != ocf.NotRunning {
					rs.wantReason(step.what, step.got, tt.reason...)
				}
			}
			if after := virshOut(t, lv, "list", "--all", "--name"); after != before {
				t.Fatalf("bad input changed libvirt's domains from %q to %q", before, after)
			}
		})
	}
}
