package virtualdomain_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// node is one "host" of a migration test: a private libvirtd in its own
// network, mount and UTS namespaces, where the agent binary runs as
// pacemaker-execd would run it there, with the same parameters on every
// node (hypervisor unset: libvirt's default, qemu:///system).
type node struct {
	t      *testing.T
	lv     *libvirttest.Daemon
	rsctmp string
	agent  string
}

// agentLink installs the static ocfbox binary under the name
// VirtualDomain in a directory every namespace sees and every user can
// read (ocf-tester runs meta-data as nobody).
func agentLink(t testing.TB) string {
	t.Helper()
	return installAs(t, testenv.Binary(t), "VirtualDomain")
}

func installAs(t testing.TB, bin, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ocfbox-vd-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, filepath.Base(bin))
	if err := os.WriteFile(copyPath, data, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, name)
	if err := os.Symlink(copyPath, link); err != nil {
		t.Fatal(err)
	}
	return link
}

func newNode(t *testing.T, lv *libvirttest.Daemon, agent string) *node {
	dir := filepath.Join(lv.Dir, "rsctmp")
	os.Mkdir(dir, 0o755)
	return &node{t: t, lv: lv, rsctmp: dir, agent: agent}
}

// run runs one action of resource "vm" on this node.
func (n *node) run(action string, timeoutMS int, params map[string]string, meta ...string) result {
	n.t.Helper()
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_TYPE=VirtualDomain", "OCF_RESOURCE_PROVIDER=ocfbox", "OCF_RESOURCE_INSTANCE=vm",
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:", "HA_RSCTMP=" + n.rsctmp, "HA_logfacility=none", "HA_debug=1",
		fmt.Sprintf("OCF_RESKEY_CRM_meta_timeout=%d", timeoutMS), "OCF_RESKEY_CRM_meta_on_node=" + n.lv.Name,
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		env = append(env, "OCF_RESKEY_"+k+"="+params[k])
	}
	for _, m := range meta {
		env = append(env, "OCF_RESKEY_CRM_meta_"+m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutMS+5000)*time.Millisecond)
	defer cancel()
	cmd := n.lv.Command(ctx, n.agent, action)
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	err := cmd.Run()
	res := result{status: ocf.Status(cmd.ProcessState.ExitCode()), stderr: stderr.String(), took: time.Since(began)}
	if err != nil && cmd.ProcessState.ExitCode() < 0 {
		n.t.Fatalf("%s on %s: %v\n%s", action, n.lv.Name, err, res.stderr)
	}
	res.reason, _ = ocftest.ExitReason(res.stderr)
	return res
}

func (n *node) want(what string, got result, status ocf.Status) {
	n.t.Helper()
	if got.status != status {
		n.t.Fatalf("%s on %s: status %s (reason %q), want %s\nstderr:\n%s", what, n.lv.Name, got.status, got.reason, status, got.stderr)
	}
}

// hasGuest reports whether a qemu process of the guest runs in this
// node's namespaces.
func (n *node) hasGuest(name string) bool {
	for _, pid := range n.lv.Processes() {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(data), "guest="+name+",") {
			return true
		}
	}
	return false
}

// runsOn checks the guest runs on exactly the given node.
func runsOn(t *testing.T, name string, on *node, off *node) {
	t.Helper()
	if !on.hasGuest(name) || off.hasGuest(name) {
		t.Fatalf("guest %s: qemu on %s %v, on %s %v; want it on %s only",
			name, on.lv.Name, on.hasGuest(name), off.lv.Name, off.hasGuest(name), on.lv.Name)
	}
}

func TestLiveMigration(t *testing.T) {
	la, lb := libvirttest.StartPair(t)
	agent := agentLink(t)
	a, b := newNode(t, la, agent), newNode(t, lb, agent)
	name := "vd-mig"
	shared := t.TempDir()
	os.Chmod(shared, 0o755)
	params := with(noUtilization, "config", guestConfig(t, shared, name, ""), "migration_transport", "tcp")
	toB := []string{"migrate_source=" + la.Name, "migrate_target=" + lb.Name}
	toA := []string{"migrate_source=" + lb.Name, "migrate_target=" + la.Name}

	res := a.run("start", 90000, params)
	a.want("start", res, ocf.Success)
	t.Logf("start took %s", res.took)
	b.want("probe on the other node", b.run("monitor", 30000, params), ocf.NotRunning)

	t.Run("migrate_to then migrate_from moves the running guest", func(t *testing.T) {
		res := a.run("migrate_to", 120000, params, toB...)
		a.want("migrate_to", res, ocf.Success)
		t.Logf("migrate_to took %s", res.took)
		res = b.run("migrate_from", 60000, params, toB...)
		b.want("migrate_from", res, ocf.Success)
		t.Logf("migrate_from took %s", res.took)
		runsOn(t, name, b, a)
		b.want("monitor on the target", b.run("monitor", 30000, params, "interval=10000"), ocf.Success)
		a.want("probe on the source", a.run("monitor", 30000, params), ocf.NotRunning)
		a.want("stop on the source (Pacemaker's cleanup after migrate_from)", a.run("stop", 90000, params), ocf.Success)
		runsOn(t, name, b, a)
	})
	t.Run("back over a migration network, with speed and downtime", func(t *testing.T) {
		p := with(params, "migration_network_suffix", "-mig", "migrateport", "49200",
			"migration_speed", "100", "migration_downtime", "400")
		res := b.run("migrate_to", 120000, p, toA...)
		b.want("migrate_to", res, ocf.Success)
		for _, want := range []string{"qemu+tcp://ocfbox-a-mig/system", `data "tcp:ocfbox-a-mig:49200"`, "bandwidth 100 MiB/s"} {
			if !strings.Contains(res.stderr, want) {
				t.Fatalf("migrate_to over the migration network did not use %s:\n%s", want, res.stderr)
			}
		}
		t.Logf("migrate_to over the migration network took %s", res.took)
		if strings.Contains(res.stderr, "was not applied") {
			t.Logf("migration downtime: %s", res.stderr)
		}
		a.want("migrate_from", a.run("migrate_from", 60000, p, toA...), ocf.Success)
		runsOn(t, name, a, b)
	})
	t.Run("remoteuri and migrateuri with %n", func(t *testing.T) {
		p := with(params, "remoteuri", "qemu+tcp://%n/system", "migrateuri", "tcp://%n")
		a.want("migrate_to", a.run("migrate_to", 120000, p, toB...), ocf.Success)
		b.want("migrate_from", b.run("migrate_from", 60000, p, toB...), ocf.Success)
		runsOn(t, name, b, a)
	})
	t.Run("migrate_options are applied; unknown ones are a configuration error", func(t *testing.T) {
		bad := with(params, "migrate_options", "--auto-converge --frobnicate")
		res := b.run("migrate_to", 120000, bad, toA...)
		b.want("migrate_to with an unknown option", res, ocf.ErrConfigured)
		if !strings.Contains(res.reason, "--frobnicate") {
			t.Fatalf("exit reason %q does not name the unknown option", res.reason)
		}
		runsOn(t, name, b, a)
		good := with(params, "migrate_options", "--auto-converge --migrateuri=tcp://%n --abort-on-error")
		res = b.run("migrate_to", 120000, good, toA...)
		b.want("migrate_to with options", res, ocf.Success)
		wantFlags := fmt.Sprintf("flags %#x", uint32(virt.MigrateLive|virt.MigrateAutoConverge|virt.MigrateAbortOnError))
		if !strings.Contains(res.stderr, wantFlags) || !strings.Contains(res.stderr, `data "tcp://ocfbox-a"`) {
			t.Fatalf("migrate_to did not use the options (want %s and data tcp://ocfbox-a):\n%s", wantFlags, res.stderr)
		}
		a.want("migrate_from", a.run("migrate_from", 60000, good, toA...), ocf.Success)
		runsOn(t, name, a, b)
	})
	t.Run("migrate_to of a guest that does not run here fails", func(t *testing.T) {
		res := b.run("migrate_to", 120000, params, toA...)
		b.want("migrate_to from the wrong node", res, ocf.ErrGeneric)
		if !strings.Contains(res.reason, "not active locally") {
			t.Fatalf("exit reason %q, want it to say the guest is not active locally", res.reason)
		}
		runsOn(t, name, a, b)
	})
	t.Run("a migration to an unreachable target fails and the guest stays", func(t *testing.T) {
		p := with(params, "remoteuri", "qemu+tcp://192.0.2.99/system")
		res := a.run("migrate_to", 20000, p, toB...)
		a.want("migrate_to an unreachable target", res, ocf.ErrGeneric)
		runsOn(t, name, a, b)
		a.want("monitor after a failed migration", a.run("monitor", 30000, params, "interval=10000"), ocf.Success)
	})
	res = a.run("stop", 20000, params)
	a.want("stop", res, ocf.Success)
	t.Logf("stop (graceful attempt, then destroy) took %s", res.took)
	if a.hasGuest(name) || b.hasGuest(name) {
		t.Fatalf("guest still runs after stop")
	}

	// The reference agent, same nodes, same parameters: the same
	// statuses (it migrates through virsh, client-managed unless
	// migrate_options say --p2p).
	t.Run("the reference agent migrates alike", func(t *testing.T) {
		testenv.RequireFile(t, referenceAgent)
		ra, rb := newNode(t, la, referenceAgent), newNode(t, lb, referenceAgent)
		rname := "vd-mig-ref"
		p := with(noUtilization, "config", guestConfig(t, shared, rname, ""), "migration_transport", "tcp")
		ra.want("start", ra.run("start", 90000, p), ocf.Success)
		res := ra.run("migrate_to", 120000, p, toB...)
		ra.want("migrate_to", res, ocf.Success)
		t.Logf("reference migrate_to took %s", res.took)
		res = rb.run("migrate_from", 60000, p, toB...)
		rb.want("migrate_from", res, ocf.Success)
		t.Logf("reference migrate_from took %s", res.took)
		runsOn(t, rname, rb, ra)
		rb.want("stop", rb.run("stop", 12000, with(p, "force_stop", "1")), ocf.Success)
	})
}
