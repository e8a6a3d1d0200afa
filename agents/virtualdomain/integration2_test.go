package virtualdomain_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
)

var noUtilization = map[string]string{
	"autoset_utilization_cpu": "false", "autoset_utilization_hv_memory": "false", "autoset_utilization_host_memory": "false",
}

func with(base map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestSnapshotRoundTrip(t *testing.T) {
	lv := libvirttest.Start(t)
	name := "vd-snap"
	snap := filepath.Join(lv.Dir, "snapshots")
	os.Mkdir(snap, 0o755)
	uuid := libvirttest.RandomUUID()
	rs := newResource(t, with(noUtilization, "config", guestConfig(t, t.TempDir(), name, uuid), "hypervisor", lv.URI(), "snapshot", snap))
	rs.want("start", rs.run("start", 60000), ocf.Success)
	res := rs.run("stop", 120000)
	rs.want("stop with snapshot", res, ocf.Success)
	image := filepath.Join(snap, name+".state")
	if fi, err := os.Stat(image); err != nil || fi.Size() == 0 {
		t.Fatalf("stop with snapshot left no state file %s: %v", image, err)
	}
	if strings.Contains(res.stderr, "destroying") {
		t.Fatalf("stop with snapshot destroyed the guest instead of saving it:\n%s", res.stderr)
	}
	rs.want("monitor after a saving stop", rs.monitor(), ocf.NotRunning)
	res = rs.run("start", 60000)
	rs.want("start from snapshot", res, ocf.Success)
	if !strings.Contains(res.stderr, "restored domain "+name) {
		t.Fatalf("start did not restore from the state file:\n%s", res.stderr)
	}
	if _, err := os.Stat(image); !os.IsNotExist(err) {
		t.Fatalf("state file %s still exists after restore: %v", image, err)
	}
	if out := virshOut(t, lv, "domuuid", name); strings.TrimSpace(out) != uuid {
		t.Fatalf("restored guest has UUID %q, want %s", out, uuid)
	}
	rs.want("monitor after restore", rs.monitor(), ocf.Success)
	rs.want("force stop", rs.run("stop", 120000), ocf.Success)
}

// TestShutdownModeIsApplied: the reference agent never passes
// shutdown_mode to libvirt. With shutdown_mode=agent and no guest agent
// in the guest, libvirt refuses the request, which shows the mode went
// through; the agent then destroys the guest at once instead of waiting.
func TestShutdownModeIsApplied(t *testing.T) {
	lv := libvirttest.Start(t)
	name := "vd-mode"
	rs := newResource(t, with(noUtilization, "config", guestConfig(t, t.TempDir(), name, ""), "hypervisor", lv.URI(), "shutdown_mode", "agent"))
	rs.want("start", rs.run("start", 60000), ocf.Success)
	res := rs.run("stop", 120000)
	rs.want("stop", res, ocf.Success)
	if !strings.Contains(res.stderr, "refused the shutdown request (mode agent)") {
		t.Fatalf("stop with shutdown_mode=agent did not ask libvirt in agent mode:\n%s", res.stderr)
	}
	if strings.Contains(res.stderr, "did not shut down in time") {
		t.Fatalf("stop waited for a shutdown libvirt had refused:\n%s", res.stderr)
	}
	if qemuPID(t, name) != 0 {
		t.Fatalf("qemu still runs after stop")
	}
	bad := newResource(t, with(noUtilization, "config", guestConfig(t, t.TempDir(), name, ""), "hypervisor", lv.URI(), "shutdown_mode", "reboot"))
	got := bad.run("validate-all", 5000)
	bad.want("validate-all with shutdown_mode=reboot", got, ocf.ErrConfigured)
	bad.wantReason("validate-all", got, "shutdown_mode", "reboot")
}

// TestDefinedGuestIsUndefinedWithoutLosingTheConfig: a guest defined
// outside the agent is undefined before the transient start, as the
// reference agent does; when the config is libvirt's own copy (which
// undefine deletes) it is written back.
func TestDefinedGuestIsUndefinedWithoutLosingTheConfig(t *testing.T) {
	lv := libvirttest.Start(t)
	name := "vd-defined"
	// Defined through libvirt, the config lives in the daemon's
	// /etc/libvirt/qemu, which is lv.Dir/etc/qemu seen from here.
	src := guestConfig(t, t.TempDir(), name, "")
	virshOut(t, lv, "define", src)
	config := filepath.Join(lv.Dir, "etc", "qemu", name+".xml")
	want, err := os.ReadFile(config)
	if err != nil {
		t.Fatalf("libvirt's copy of the definition: %v", err)
	}
	rs := newResource(t, with(noUtilization, "config", config, "hypervisor", lv.URI()))
	rs.want("start of a defined guest", rs.run("start", 60000), ocf.Success)
	if info := virshOut(t, lv, "dominfo", name); !strings.Contains(info, "Persistent:     no") {
		t.Fatalf("the guest is still persistent after start:\n%s", info)
	}
	got, err := os.ReadFile(config)
	if err != nil || string(got) != string(want) {
		t.Fatalf("config %s after start: %v; want it unchanged (undefine deletes it, the agent must put it back)", config, err)
	}
	rs.want("stop", rs.run("stop", 12000), ocf.Success)
}

// TestRenamedConfigOfARunningGuest: the config now names the guest
// differently while the guest runs under its old name with the same
// UUID. Monitor must not report it stopped (Pacemaker would start the
// same guest elsewhere), and stop must stop it.
func TestRenamedConfigOfARunningGuest(t *testing.T) {
	lv := libvirttest.Start(t)
	uuid := libvirttest.RandomUUID()
	dir := t.TempDir()
	virshOut(t, lv, "create", guestConfig(t, dir, "vd-oldname", uuid))
	rs := newResource(t, with(noUtilization, "config", guestConfig(t, dir, "vd-newname", uuid), "hypervisor", lv.URI()))
	for _, what := range []string{"probe", "monitor"} {
		res := rs.probe()
		if what == "monitor" {
			res = rs.monitor()
		}
		rs.want(what+" of a renamed running guest", res, ocf.ErrGeneric)
		rs.wantReason(what, res, "vd-newname", uuid, "vd-oldname")
	}
	res := rs.run("start", 20000)
	rs.want("start while the UUID runs under another name", res, ocf.ErrGeneric)
	rs.wantReason("start", res, "vd-oldname")
	rs.want("stop", rs.run("stop", 12000), ocf.Success)
	if qemuPID(t, "vd-oldname") != 0 {
		t.Fatalf("stop reported success while the guest (as vd-oldname) still runs")
	}
	rs.want("monitor after stop", rs.monitor(), ocf.NotRunning)
}

// TestUtilizationIsWrittenOnlyWhenItChanges: the first monitor after a
// start reads the CIB once and writes what differs; a steady monitor
// runs no crm_resource at all.
func TestUtilizationIsWrittenOnlyWhenItChanges(t *testing.T) {
	lv := libvirttest.Start(t)
	name := "vd-util"
	rs := newResource(t, map[string]string{"config": guestConfig(t, t.TempDir(), name, ""), "hypervisor": lv.URI(),
		"autoset_utilization_hv_memory": "false", "unset_utilization_hv_memory": "true"})
	cib := newCIB(t, rs.instance)
	rs.want("start", rs.run("start", 60000), ocf.Success)
	cib.takeCalls(t)
	rs.want("first monitor", rs.monitor(), ocf.Success)
	calls := cib.takeCalls(t)
	for _, want := range []string{
		"-Q -r " + rs.instance + " -z -g cpu", "-r " + rs.instance + " -z -p cpu -v 1",
		"-Q -r " + rs.instance + " -z -g host_memory", "-r " + rs.instance + " -z -p host_memory -v 32",
		"--resource " + rs.instance + " --utilization --delete-parameter hv_memory",
	} {
		if !slices.Contains(calls, want) {
			t.Fatalf("first monitor's crm_resource calls %q lack %q", calls, want)
		}
	}
	if got := cib.utilization(t, rs.instance, "cpu"); got != "1" {
		t.Fatalf("cpu utilization in the CIB = %q, want 1", got)
	}
	if got := cib.utilization(t, rs.instance, "host_memory"); got != "32" {
		t.Fatalf("host_memory utilization in the CIB = %q, want 32", got)
	}
	for i := 0; i < 3; i++ {
		rs.want("steady monitor", rs.monitor(), ocf.Success)
	}
	if calls := cib.takeCalls(t); len(calls) != 0 {
		t.Fatalf("steady monitors ran crm_resource %q; want no calls", calls)
	}
	virshOut(t, lv, "setvcpus", name, "1", "--live") // no change: still no call
	rs.want("monitor", rs.monitor(), ocf.Success)
	if calls := cib.takeCalls(t); len(calls) != 0 {
		t.Fatalf("a monitor with unchanged values ran crm_resource %q", calls)
	}
	rs.want("stop", rs.run("stop", 12000), ocf.Success)
	rs.want("start", rs.run("start", 60000), ocf.Success)
	rs.want("first monitor after a new start", rs.monitor(), ocf.Success)
	calls = cib.takeCalls(t)
	if !slices.Contains(calls, "-Q -r "+rs.instance+" -z -g cpu") || slices.Contains(calls, "-r "+rs.instance+" -z -p cpu -v 1") {
		t.Fatalf("first monitor after a restart: calls %q; want the CIB read again and no write of an unchanged value", calls)
	}
	rs.want("stop", rs.run("stop", 12000), ocf.Success)
}

// TestSaveConfig: with save_config_on_stop the guest's definition as
// libvirt holds it is written back to config (keeping its mode) once it
// differs, and not rewritten while it stays the same.
func TestSaveConfig(t *testing.T) {
	lv := libvirttest.Start(t)
	name := "vd-save"
	config := guestConfig(t, t.TempDir(), name, "")
	os.Chmod(config, 0o640)
	rs := newResource(t, with(noUtilization, "config", config, "hypervisor", lv.URI(), "save_config_on_stop", "true"))
	rs.want("start", rs.run("start", 60000), ocf.Success)
	res := rs.monitor()
	rs.want("monitor", res, ocf.Success)
	data, _ := os.ReadFile(config)
	if !strings.Contains(string(data), "<uuid>") || !strings.Contains(res.stderr, "saved the definition of domain "+name) {
		t.Fatalf("monitor with save_config_on_stop did not write libvirt's definition (with its UUID) to %s:\n%s", config, data)
	}
	if fi, _ := os.Stat(config); fi.Mode().Perm() != 0o640 {
		t.Fatalf("saving changed the config's mode to %v, want 0640", fi.Mode().Perm())
	}
	res = rs.monitor()
	if strings.Contains(res.stderr, "saved the definition") {
		t.Fatalf("an unchanged definition was written again:\n%s", res.stderr)
	}
	rs.want("stop", rs.run("stop", 12000), ocf.Success)
}

// TestBackingFile: with backingfile the guest runs on a copy-on-write
// image next to its config, created on first start (and on every start
// when stateless), defined and started, as in the reference agent; the
// image is created with the backing file's format, which qemu-img 6.1
// and later require (the reference agent's call fails there).
func TestBackingFile(t *testing.T) {
	lv := libvirttest.Start(t)
	qemuImg := testenv.RequireTool(t, "qemu-img")
	dir := filepath.Join(lv.Dir, "cow")
	os.Mkdir(dir, 0o755)
	base := filepath.Join(dir, "base.img")
	if out, err := exec.Command(qemuImg, "create", "-f", "qcow2", base, "16M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	name := "vd-cow"
	image := filepath.Join(dir, name+".qcow2")
	xml := strings.Replace(libvirttest.GuestXML(name, ""), "<devices>", `<devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='`+image+`'/><target dev='vda' bus='virtio'/></disk>`, 1)
	config := filepath.Join(dir, name+".xml")
	os.WriteFile(config, []byte(xml), 0o644)
	rs := newResource(t, with(noUtilization, "config", config, "hypervisor", lv.URI(), "backingfile", base, "force_stop", "1"))

	created := "created image " + image
	res := rs.run("start", 60000)
	rs.want("start", res, ocf.Success)
	info, err := exec.Command(qemuImg, "info", "-U", image).CombinedOutput()
	if err != nil || !strings.Contains(string(info), "backing file: "+base) || !strings.Contains(res.stderr, created) {
		t.Fatalf("image %s after the first start: %v\n%s\n%s", image, err, info, res.stderr)
	}
	if out := virshOut(t, lv, "dominfo", name); !strings.Contains(out, "Persistent:     yes") {
		t.Fatalf("a backingfile guest is defined; dominfo:\n%s", out)
	}
	rs.want("monitor", rs.monitor(), ocf.Success)
	rs.want("stop", rs.run("stop", 20000), ocf.Success)
	res = rs.run("start", 60000)
	rs.want("second start", res, ocf.Success)
	if strings.Contains(res.stderr, created) {
		t.Fatalf("a start that is not stateless recreated the image:\n%s", res.stderr)
	}
	rs.want("stop", rs.run("stop", 20000), ocf.Success)
	rs.params["stateless"] = "true"
	res = rs.run("start", 60000)
	rs.want("stateless start", res, ocf.Success)
	if !strings.Contains(res.stderr, created) {
		t.Fatalf("a stateless start did not recreate the image:\n%s", res.stderr)
	}
	rs.want("stop", rs.run("stop", 20000), ocf.Success)
	virshOut(t, lv, "undefine", name)
}
