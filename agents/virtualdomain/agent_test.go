package virtualdomain_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/agents/virtualdomain"
	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// These tests run the agent's decisions against fakeHV, in memory.

func fakeAgent(h *fakeHV, proc string) *virtualdomain.Agent {
	a := virtualdomain.New()
	a.Connect = h.connect
	a.ProcRoot = proc
	a.Poll = 10 * time.Millisecond
	a.LibvirtConf = "/nonexistent"
	return a
}

func fakeResource(t *testing.T, h *fakeHV, params map[string]string) *resource {
	t.Helper()
	rs := newResource(t, params)
	rs.agent = fakeAgent(h, t.TempDir())
	return rs
}

// fakeProc writes a /proc tree holding one qemu process of guest name.
func fakeProc(t *testing.T, name string) string {
	t.Helper()
	proc := t.TempDir()
	os.MkdirAll(filepath.Join(proc, "4242"), 0o755)
	cmd := strings.Join([]string{"/usr/bin/qemu-system-x86_64", "-name", "guest=" + name + ",debug-threads=on", "-S"}, "\x00")
	os.WriteFile(filepath.Join(proc, "4242", "cmdline"), []byte(cmd+"\x00"), 0o644)
	return proc
}

const fakeURI = "qemu:///system"

func TestBadParametersAreConfigurationErrors(t *testing.T) {
	dir := t.TempDir()
	config := guestConfig(t, dir, "vd-bad", "")
	base := with(noUtilization, "config", config, "hypervisor", fakeURI)
	tests := []struct {
		name     string
		params   map[string]string
		validate ocf.Status
		reason   []string
	}{
		{"force_stop with snapshot", with(base, "force_stop", "true", "snapshot", dir), ocf.ErrConfigured, []string{"force_stop", "snapshot"}},
		{"negative migration_speed", with(base, "migration_speed", "-1"), ocf.ErrConfigured, []string{"migration_speed", "-1"}},
		{"migration_downtime not a number", with(base, "migration_downtime", "soon"), ocf.ErrConfigured, []string{"migration_downtime", "soon"}},
		{"stateless without backingfile", with(base, "stateless", "true"), ocf.ErrConfigured, []string{"stateless", "backingfile"}},
		{"unknown shutdown_mode", with(base, "shutdown_mode", "acpi,poweroff"), ocf.ErrConfigured, []string{"shutdown_mode", "poweroff"}},
		{"unknown migration_transport", with(base, "migration_transport", "carrier-pigeon"), ocf.ErrConfigured, []string{"migration_transport", "carrier-pigeon"}},
		{"migration_user not a user name", with(base, "migration_user", "Admin User"), ocf.ErrConfigured, []string{"migration_user", "Admin User"}},
		{"unknown migrate_options", with(base, "migrate_options", "--live --frobnicate --direct"), ocf.ErrConfigured, []string{"migrate_options", "--frobnicate", "--direct"}},
		{"migrateport out of range", with(base, "migrateport", "70000"), ocf.ErrConfigured, []string{"migrateport", "70000"}},
		{"relative snapshot", with(base, "snapshot", "snapshots"), ocf.ErrConfigured, []string{"snapshot", "snapshots"}},
		{"unknown hypervisor driver", with(base, "hypervisor", "kvm:///system"), ocf.ErrConfigured, []string{"hypervisor", "kvm:///system"}},
		{"not a URI", with(base, "hypervisor", "localhost"), ocf.ErrConfigured, []string{"hypervisor", "localhost"}},
		{"missing monitor script", with(base, "monitor_scripts", "/nonexistent/check-web"), ocf.ErrInstalled, []string{"monitor_scripts", "/nonexistent/check-web"}},
		{"sync_config_on_stop without csync2", with(base, "sync_config_on_stop", "true"), ocf.ErrInstalled, []string{"sync_config_on_stop", "csync2"}},
		{"config not set", with(base, "config", ""), ocf.ErrConfigured, []string{"config"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "sync_config_on_stop without csync2" {
				if _, err := lookPath("csync2"); err == nil {
					tt.validate = ocf.Success // installed here: nothing is missing
				}
			}
			h := newFakeHV()
			rs := fakeResource(t, h, tt.params)
			for _, action := range []string{"validate-all", "start", "migrate_from"} {
				got := rs.run(action, 20000)
				if tt.validate == ocf.Success && action != "validate-all" {
					continue
				}
				rs.want(action, got, tt.validate)
				if tt.validate != ocf.Success {
					rs.wantReason(action, got, tt.reason...)
				}
			}
			if tt.validate == ocf.ErrConfigured {
				got := rs.run("migrate_to", 20000, "migrate_target=node2")
				rs.want("migrate_to", got, ocf.ErrConfigured)
				rs.wantReason("migrate_to", got, tt.reason...)
			}
			rs.want("stop", rs.run("stop", 20000), ocf.Success)
			if m := h.mutations(); len(m) != 0 {
				t.Fatalf("bad input changed the hypervisor: %q", m)
			}
		})
	}
}

func lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

// TestRunningGuestSurvivesParametersItDoesNotUse: parameters only
// migration or start care about never make a monitor report a running
// guest failed or stopped, nor a stop leave it running.
func TestRunningGuestSurvivesParametersItDoesNotUse(t *testing.T) {
	h := newFakeHV()
	h.add("vd-run", &fakeDom{state: virt.Running, acpi: true})
	rs := fakeResource(t, h, with(noUtilization, "config", guestConfig(t, t.TempDir(), "vd-run", ""), "hypervisor", fakeURI,
		"migrate_options", "--frobnicate", "migration_user", "Admin", "shutdown_mode", "bogus", "force_stop", "1", "snapshot", "/x"))
	rs.want("probe", rs.probe(), ocf.Success)
	rs.want("monitor", rs.monitor(), ocf.Success)
	got := rs.run("stop", 20000)
	rs.want("stop", got, ocf.Success)
	if _, ok := h.state("vd-run"); ok {
		t.Fatalf("stop reported success but the guest is still there")
	}
	if !slices.Contains(h.mutations(), "destroy vd-run") {
		t.Fatalf("stop with force_stop and snapshot did not destroy: %q", h.mutations())
	}
}

func TestMonitorMapsStates(t *testing.T) {
	tests := []struct {
		state virt.State
		want  ocf.Status
	}{
		{virt.Running, ocf.Success}, {virt.Blocked, ocf.Success}, {virt.Paused, ocf.Success},
		{virt.Shutdown, ocf.Success}, {virt.Shutoff, ocf.NotRunning}, {virt.Crashed, ocf.ErrGeneric},
		{virt.PMSuspended, ocf.ErrGeneric},
	}
	for _, tt := range tests {
		t.Run(tt.state.String(), func(t *testing.T) {
			h := newFakeHV()
			h.add("vd-state", &fakeDom{state: tt.state, persistent: true})
			rs := fakeResource(t, h, with(noUtilization, "config", guestConfig(t, t.TempDir(), "vd-state", ""), "hypervisor", fakeURI))
			got := rs.monitor()
			rs.want("monitor of a "+tt.state.String()+" guest", got, tt.want)
			if tt.want == ocf.ErrGeneric {
				rs.wantReason("monitor", got, "vd-state", tt.state.String())
			}
		})
	}
	t.Run("undefined", func(t *testing.T) {
		rs := fakeResource(t, newFakeHV(), with(noUtilization, "config", guestConfig(t, t.TempDir(), "vd-none", ""), "hypervisor", fakeURI))
		rs.want("monitor of an undefined guest", rs.monitor(), ocf.NotRunning)
	})
}

func TestWithoutLibvirtTheProcessDecides(t *testing.T) {
	config := guestConfig(t, t.TempDir(), "vd-proc", "")
	params := with(noUtilization, "config", config, "hypervisor", fakeURI)
	h := newFakeHV()
	h.down = true

	rs := fakeResource(t, h, params)
	rs.agent.ProcRoot = fakeProc(t, "vd-proc")
	rs.want("probe, guest process present", rs.probe(), ocf.Success)
	rs.want("monitor, guest process present", rs.monitor(), ocf.Success)
	got := rs.run("stop", 6000)
	rs.want("stop, guest process present", got, ocf.ErrGeneric)
	rs.wantReason("stop", got, "vd-proc", "still runs")

	rs.agent.ProcRoot = fakeProc(t, "another-guest")
	rs.want("probe, no guest process", rs.probe(), ocf.NotRunning)
	rs.want("stop, no guest process", rs.run("stop", 6000), ocf.Success)

	xen := filepath.Join(t.TempDir(), "pv.xml")
	os.WriteFile(xen, []byte("<domain type='xen'><name>vd-pv</name></domain>"), 0o644)
	rs = fakeResource(t, h, with(params, "config", xen))
	got = rs.probe()
	if _, err := lookPath("xl"); err != nil {
		rs.want("probe of a guest without emulator, without xl", got, ocf.ErrGeneric)
		rs.wantReason("probe", got, "vd-pv", "cannot be told")
	}
}

func TestConfigGoneButGuestRecorded(t *testing.T) {
	h := newFakeHV()
	dir := t.TempDir()
	config := guestConfig(t, dir, "vd-rec", "")
	rs := fakeResource(t, h, with(noUtilization, "config", config, "hypervisor", fakeURI))
	rs.want("start", rs.run("start", 20000), ocf.Success)
	os.Remove(config)

	got := rs.probe()
	rs.want("probe with the config gone and the guest running", got, ocf.Success)
	rs.want("recurring monitor with the config gone", rs.monitor(), ocf.ErrGeneric)
	rs.want("stop with the config gone", rs.run("stop", 20000), ocf.Success)
	if _, ok := h.state("vd-rec"); ok {
		t.Fatalf("stop with the config gone reported success but did not stop the recorded guest")
	}
	rs.want("probe after that", rs.probe(), ocf.NotRunning)

	other := fakeResource(t, h, with(noUtilization, "config", config, "hypervisor", fakeURI))
	rs.want("stop of a never-started resource with no config", other.run("stop", 20000), ocf.Success)
	if m := h.mutations(); slices.ContainsFunc(m, func(s string) bool { return strings.HasPrefix(s, "destroy") && s != "destroy vd-rec" }) {
		t.Fatalf("unexpected destroy: %q", m)
	}
}

func TestStopPaths(t *testing.T) {
	tests := []struct {
		name   string
		dom    *fakeDom
		params []string
		calls  []string // mutations expected, in order
	}{
		{"a guest that honours ACPI shuts down", &fakeDom{state: virt.Running, acpi: true}, nil,
			[]string{"shutdown vd-stop default"}},
		{"a guest that ignores ACPI is destroyed at the end", &fakeDom{state: virt.Running}, nil,
			[]string{"shutdown vd-stop default", "destroy vd-stop"}},
		{"force_stop destroys at once", &fakeDom{state: virt.Running, acpi: true}, []string{"force_stop", "true"},
			[]string{"destroy vd-stop"}},
		{"shutdown_mode is passed on", &fakeDom{state: virt.Running, acpi: true}, []string{"shutdown_mode", "acpi,agent"},
			[]string{"shutdown vd-stop acpi,agent", "destroy vd-stop"}},
		{"a crashed guest is destroyed", &fakeDom{state: virt.Crashed, persistent: true}, nil,
			[]string{"destroy vd-stop"}},
		{"a shut off guest is left alone", &fakeDom{state: virt.Shutoff, persistent: true}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHV()
			h.add("vd-stop", tt.dom)
			rs := fakeResource(t, h, with(noUtilization, append([]string{"config", guestConfig(t, t.TempDir(), "vd-stop", ""), "hypervisor", fakeURI}, tt.params...)...))
			rs.want("stop", rs.run("stop", 7000), ocf.Success)
			if m := h.mutations(); !slices.Equal(m, tt.calls) {
				t.Fatalf("stop called %q, want %q", m, tt.calls)
			}
			if st, ok := h.state("vd-stop"); ok && st != virt.Shutoff {
				t.Fatalf("stop reported success with the guest %s", st)
			}
		})
	}
}

func TestStartNeverStartsTwiceAndUndefinesFirst(t *testing.T) {
	dir := t.TempDir()
	config := guestConfig(t, dir, "vd-start", libvirttest.RandomUUID())
	h := newFakeHV()
	rs := fakeResource(t, h, with(noUtilization, "config", config, "hypervisor", fakeURI))
	rs.want("start", rs.run("start", 20000), ocf.Success)
	rs.want("start again", rs.run("start", 20000), ocf.Success)
	if m := h.mutations(); !slices.Equal(m, []string{"create vd-start"}) {
		t.Fatalf("two starts called %q, want one create", m)
	}
	rs.want("stop", rs.run("stop", 7000), ocf.Success)

	h = newFakeHV()
	raw, _ := os.ReadFile(config)
	c := &fakeConn{h: h, uri: fakeURI}
	c.Define(t.Context(), string(raw))
	h.calls = nil
	rs = fakeResource(t, h, with(noUtilization, "config", config, "hypervisor", fakeURI))
	rs.want("start of a defined guest", rs.run("start", 20000), ocf.Success)
	if m := h.mutations(); !slices.Equal(m, []string{"undefine vd-start", "create vd-start"}) {
		t.Fatalf("start of a defined guest called %q, want undefine then create", m)
	}
}

func TestStartResources(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "vd-res.xml")
	os.WriteFile(config, []byte(`<domain type='kvm'><name>vd-res</name><devices>
  <disk type='volume'><source pool='images' volume='a.qcow2'/></disk>
  <disk type='volume'><source pool='images' volume='b.qcow2'/></disk>
  <interface type='network'><source network='lan'/></interface>
</devices></domain>`), 0o644)
	h := newFakeHV()
	rs := fakeResource(t, h, with(noUtilization, "config", config, "hypervisor", fakeURI, "start_resources", "true"))
	rs.want("start", rs.run("start", 20000), ocf.Success)
	if m := h.mutations(); !slices.Equal(m, []string{"startpool images", "startnet lan", "create vd-res"}) {
		t.Fatalf("start with start_resources called %q; want the pool and network started before the create", m)
	}
	h.calls = nil
	rs.want("migrate_to", rs.run("migrate_to", 20000, "migrate_target=node2"), ocf.Success)
	if m := h.mutations(); !slices.Equal(m, []string{"startpool images", "startnet lan", "migrate vd-res qemu://node2/system"}) {
		t.Fatalf("migrate_to with start_resources called %q; want the pool and network started on the target first", m)
	}
}

// fakeSystemctl records its arguments in $SYSTEMCTL_CALLS, so that no
// test talks to the host's systemd.
func fakeSystemctl(args []string) int {
	f, err := os.OpenFile(os.Getenv("SYSTEMCTL_CALLS"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 1
	}
	defer f.Close()
	f.WriteString(strings.Join(args, " ") + "\n")
	return 0
}

// TestSystemdDropIns: under systemd, start (and migrate_from) order the
// guest's shutdown before libvirtd's, as the reference agent does.
func TestSystemdDropIns(t *testing.T) {
	bin := t.TempDir()
	testenv.InstallSelf(t, filepath.Join(bin, "systemctl"))
	calls := filepath.Join(t.TempDir(), "calls")
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("SYSTEMCTL_CALLS", calls)

	proc := t.TempDir()
	os.MkdirAll(filepath.Join(proc, "1"), 0o755)
	os.WriteFile(filepath.Join(proc, "1", "comm"), []byte("systemd\n"), 0o644)
	units := t.TempDir()
	h := newFakeHV()
	rs := fakeResource(t, h, with(noUtilization, "config", guestConfig(t, t.TempDir(), "vd-sd", ""), "hypervisor", fakeURI))
	rs.agent.ProcRoot, rs.agent.SystemdDir = proc, units

	rs.want("start", rs.run("start", 20000), ocf.Success)
	for file, line := range map[string]string{"99-VirtualDomain-libvirt.conf": "After=libvirtd.service",
		"99-VirtualDomain-machines.conf": "Wants=virt-guest-shutdown.target"} {
		data, err := os.ReadFile(filepath.Join(units, "resource-agents-deps.target.d", file))
		if err != nil || string(data) != "[Unit]\n"+line+"\n" {
			t.Fatalf("drop-in %s = %q, %v; want [Unit] and %s", file, data, err, line)
		}
	}
	got, _ := os.ReadFile(calls)
	if string(got) != "daemon-reload\nstart virt-guest-shutdown.target\n" {
		t.Fatalf("systemctl calls %q; want a daemon-reload and the target started", got)
	}
	os.Remove(calls)
	rs.want("stop", rs.run("stop", 7000), ocf.Success)
	rs.want("start again", rs.run("start", 20000), ocf.Success)
	if got, _ := os.ReadFile(calls); string(got) != "start virt-guest-shutdown.target\n" {
		t.Fatalf("systemctl calls with the drop-ins in place %q; want no daemon-reload", got)
	}
}

// TestStartLeavesACrashedGuestAlone: a guest libvirt keeps as crashed
// (or suspended to memory) is not replaced by a new start; stop it first.
func TestStartLeavesACrashedGuestAlone(t *testing.T) {
	for _, st := range []virt.State{virt.Crashed, virt.PMSuspended} {
		h := newFakeHV()
		h.add("vd-crash", &fakeDom{state: st, persistent: true})
		rs := fakeResource(t, h, with(noUtilization, "config", guestConfig(t, t.TempDir(), "vd-crash", ""), "hypervisor", fakeURI))
		got := rs.run("start", 20000)
		rs.want("start of a "+st.String()+" guest", got, ocf.ErrGeneric)
		rs.wantReason("start", got, "vd-crash", st.String(), "stopped")
		if m := h.mutations(); len(m) != 0 {
			t.Fatalf("start of a %s guest changed it: %q", st, m)
		}
	}
}
