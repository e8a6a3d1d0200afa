package virtualdomain_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// libvirtd answers, but without the URI's driver (it failed to load, say)
// while the guest's qemu still runs: stop must not report the guest
// stopped, and a probe must not report it not running. Without a qemu of
// the guest, both say stopped.
func TestDriverMissingWhileTheGuestRuns(t *testing.T) {
	config := guestConfig(t, t.TempDir(), "vd-nodrv", "")
	h := newFakeHV()
	h.noDriver = true
	rs := fakeResource(t, h, with(noUtilization, "config", config, "hypervisor", fakeURI))
	rs.agent.ProcRoot = fakeProc(t, "vd-nodrv")
	got := rs.probe()
	rs.want("probe, libvirtd without driver, guest process present", got, ocf.ErrGeneric)
	rs.wantReason("probe", got, "vd-nodrv", "runs")
	rs.want("monitor, libvirtd without driver, guest process present", rs.monitor(), ocf.ErrGeneric)
	got = rs.run("stop", 6000)
	rs.want("stop, libvirtd without driver, guest process present", got, ocf.ErrGeneric)
	rs.wantReason("stop", got, "vd-nodrv", "still runs")

	rs.agent.ProcRoot = fakeProc(t, "another-guest")
	rs.want("probe, libvirtd without driver, no guest process", rs.probe(), ocf.NotRunning)
	rs.want("stop, libvirtd without driver, no guest process", rs.run("stop", 6000), ocf.Success)
}

// libvirt unreachable and no emulator known (the config names none, no
// record): the guest's qemu is looked for in /proc all the same, and only
// its absence is "not running".
func TestUnreachableWithoutAKnownEmulatorLooksForQEMU(t *testing.T) {
	config := filepath.Join(t.TempDir(), "vd-noemu.xml")
	os.WriteFile(config, []byte("<domain type='kvm'><name>vd-noemu</name><memory>32768</memory></domain>"), 0o644)
	h := newFakeHV()
	h.down = true
	rs := fakeResource(t, h, with(noUtilization, "config", config, "hypervisor", fakeURI))
	rs.agent.ProcRoot = fakeProc(t, "vd-noemu")
	rs.want("probe, guest's qemu present", rs.probe(), ocf.Success)
	rs.want("recurring monitor, guest's qemu present", rs.monitor(), ocf.Success)
	rs.want("stop, guest's qemu present", rs.run("stop", 6000), ocf.ErrGeneric)

	rs.agent.ProcRoot = fakeProc(t, "another-guest")
	rs.want("probe, no qemu of the guest", rs.probe(), ocf.NotRunning)
	rs.want("stop, no qemu of the guest", rs.run("stop", 6000), ocf.Success)
}

// A stop whose parameters are invalid (changed while the guest ran)
// stops the guest start recorded before it reports success.
func TestStopWithInvalidParametersStopsTheRecordedGuest(t *testing.T) {
	for name, bad := range map[string][]string{
		"a parameter that does not bind":    {"force_stop", "maybe"},
		"a hypervisor URI that cannot work": {"hypervisor", "::not a uri::"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newFakeHV()
			config := guestConfig(t, t.TempDir(), "vd-badstop", "")
			params := with(noUtilization, "config", config, "hypervisor", fakeURI)
			rs := fakeResource(t, h, params)
			rs.want("start", rs.run("start", 20000), ocf.Success)
			rs.params = with(params, bad...)
			rs.want("stop with "+bad[0]+"="+bad[1], rs.run("stop", 7000), ocf.Success)
			if st, ok := h.state("vd-badstop"); ok && st != virt.Shutoff {
				t.Fatalf("stop with invalid parameters reported success with the guest %s", st)
			}
			rs.params = params
			rs.want("probe after that", rs.probe(), ocf.NotRunning)
		})
	}
}

// stateless=Yes is false for ocf_is_true (the reference keeps the guest's
// image); ocfbox never reads it as true (a fresh image would wipe the
// guest's disk): start refuses it naming the value, and a probe still
// looks at the guest.
func TestStatelessYesNeverWipesTheDisk(t *testing.T) {
	dir := t.TempDir()
	backing := filepath.Join(dir, "base.qcow2")
	os.WriteFile(backing, []byte("backing"), 0o644)
	config := guestConfig(t, dir, "vd-yes", "")
	h := newFakeHV()
	rs := fakeResource(t, h, with(noUtilization, "config", config, "hypervisor", fakeURI, "backingfile", backing, "stateless", "Yes"))
	got := rs.run("start", 20000)
	rs.want("start with stateless=Yes", got, ocf.ErrConfigured)
	rs.wantReason("start", got, "stateless", "Yes")
	if m := h.mutations(); len(m) > 0 {
		t.Fatalf("a refused start changed %q", m)
	}
	rs.want("probe with stateless=Yes", rs.probe(), ocf.NotRunning)
	rs.want("stop with stateless=Yes", rs.run("stop", 7000), ocf.Success)
}

// What an agent SIGKILLed in the middle of a start or a stop leaves: a
// guest running that start never recorded (killed between create and
// record), or a guest in the middle of its shutdown. The next probe sees
// it running, and the next stop stops it for good.
func TestStateLeftByAKilledStartOrStop(t *testing.T) {
	for name, dom := range map[string]*fakeDom{
		"killed in start, after create, before the record": {state: virt.Running},
		"killed in stop, the guest shutting down":          {state: virt.Shutdown},
		"killed in stop, the guest paused by a save":       {state: virt.Paused},
	} {
		t.Run(name, func(t *testing.T) {
			h := newFakeHV()
			h.add("vd-killed", dom)
			rs := fakeResource(t, h, with(noUtilization, "config", guestConfig(t, t.TempDir(), "vd-killed", ""), "hypervisor", fakeURI))
			rs.want("probe", rs.probe(), ocf.Success)
			rs.want("stop", rs.run("stop", 7000), ocf.Success)
			if st, ok := h.state("vd-killed"); ok && st != virt.Shutoff {
				t.Fatalf("stop reported success with the guest %s", st)
			}
			rs.want("probe after the stop", rs.probe(), ocf.NotRunning)
		})
	}
}
