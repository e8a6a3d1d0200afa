package virtualdomain_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
)

// Parity: each scenario runs against the installed reference agent and
// against ocfbox, each with its own guest, state directory and config,
// on one private libvirtd. Every step states the status both must
// return; where they differ on purpose, the scenario names the deviation
// (README.md's deviations table lists them all).

// killed is the "status" of an agent that was still running at its
// operation timeout and was killed, as pacemaker-execd would.
const killed = ocf.Status(-1)

type party struct {
	t      testing.TB
	lv     *libvirttest.Daemon
	side   string // "reference" or "ocfbox"
	agent  string
	name   string // the guest's name
	dir    string
	config string
	params map[string]string
}

func (p *party) ref() bool { return p.side == "reference" }

// act runs one action as pacemaker-execd would: the agent's path and the
// action, the OCF environment, killed with its process group at the
// operation timeout.
func (p *party) act(action string, timeoutMS int, meta ...string) result {
	p.t.Helper()
	env := partyEnv(p, timeoutMS, meta...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutMS)*time.Millisecond)
	defer cancel()
	var stderr strings.Builder
	cmd := agentCommand(ctx, p.agent, action)
	cmd.Env, cmd.Stderr, cmd.Dir = env, &stderr, p.dir
	began := time.Now()
	cmd.Run()
	res := result{status: ocf.Status(cmd.ProcessState.ExitCode()), stderr: stderr.String(), took: time.Since(began)}
	if ctx.Err() != nil {
		res.status = killed
	}
	res.reason, _ = ocftest.ExitReason(res.stderr)
	return res
}

// partyEnv is the environment pacemaker-execd gives the agent.
func partyEnv(p *party, timeoutMS int, meta ...string) []string {
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_TYPE=VirtualDomain", "OCF_RESOURCE_INSTANCE=vm-" + p.side,
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:", "HA_RSCTMP=" + p.dir, "HA_logfacility=none", "HA_debug=0",
		fmt.Sprintf("OCF_RESKEY_CRM_meta_timeout=%d", timeoutMS),
	}
	if f := os.Getenv("CIB_file"); f != "" {
		env = append(env, "CIB_file="+f)
	}
	for _, k := range slices.Sorted(maps.Keys(p.params)) {
		if p.params[k] != "" {
			env = append(env, "OCF_RESKEY_"+k+"="+p.params[k])
		}
	}
	for _, m := range meta {
		env = append(env, "OCF_RESKEY_CRM_meta_"+m)
	}
	return env
}

// expect checks a step against what this side must return.
func (p *party) expect(what string, got result, ocfbox, reference ocf.Status) {
	p.t.Helper()
	want := ocfbox
	if p.ref() {
		want = reference
	}
	if got.status != want {
		p.t.Fatalf("%s: %s returned %s (reason %q), want %s\nstderr:\n%s", what, p.side, got.status, got.reason, want, got.stderr)
	}
}

func (p *party) probe() result   { return p.act("monitor", 30000) }
func (p *party) monitor() result { return p.act("monitor", 30000, "interval=10000") }

func (p *party) guestRuns() bool { return qemuPID(p.t, p.name) != 0 }

// destroyLeftover removes the guest whatever the agent did.
func (p *party) destroyLeftover() { p.lv.Virsh("destroy", p.name) }

type scenario struct {
	name string
	// deviation names what ocfbox deliberately does differently; empty
	// for full parity.
	deviation string
	params    map[string]string // besides config and hypervisor
	run       func(p *party)
}

func TestParityWithReference(t *testing.T) {
	testenv.RequireFile(t, referenceAgent)
	testenv.RequireTool(t, "virsh")
	lv := libvirttest.Start(t)
	agents := map[string]string{"reference": referenceAgent, "ocfbox": agentLink(t)}
	for i, sc := range parityScenarios {
		t.Run(sc.name, func(t *testing.T) {
			for _, side := range []string{"reference", "ocfbox"} {
				t.Run(side, func(t *testing.T) {
					dir := t.TempDir()
					os.Chmod(dir, 0o755)
					p := &party{t: t, lv: lv, side: side, agent: agents[side], dir: dir,
						name: fmt.Sprintf("vdp%d-%s", i, side[:3])}
					p.config = guestConfig(t, dir, p.name, libvirttest.RandomUUID())
					p.params = with(noUtilization, "config", p.config, "hypervisor", lv.URI())
					for k, v := range sc.params {
						p.params[k] = strings.ReplaceAll(v, "$DIR", dir)
					}
					defer p.destroyLeftover()
					sc.run(p)
				})
			}
		})
	}
}

var parityScenarios = []scenario{
	{name: "start, monitor, stop", run: func(p *party) {
		p.expect("probe before start", p.probe(), ocf.NotRunning, ocf.NotRunning)
		p.expect("validate-all", p.act("validate-all", 5000), ocf.Success, ocf.Success)
		p.expect("start", p.act("start", 60000), ocf.Success, ocf.Success)
		p.expect("monitor", p.monitor(), ocf.Success, ocf.Success)
		p.expect("status", p.act("status", 30000), ocf.Success, ocf.Success)
		p.expect("second start", p.act("start", 60000), ocf.Success, ocf.Success)
		p.expect("stop of a guest that ignores ACPI", p.act("stop", 12000), ocf.Success, ocf.Success)
		if p.guestRuns() {
			p.t.Fatalf("%s: stop succeeded but the guest still runs", p.side)
		}
		p.expect("monitor after stop", p.monitor(), ocf.NotRunning, ocf.NotRunning)
		p.expect("second stop", p.act("stop", 12000), ocf.Success, ocf.Success)
	}},
	{name: "config missing", params: map[string]string{"config": "$DIR/missing.xml"}, run: func(p *party) {
		p.expect("validate-all", p.act("validate-all", 5000), ocf.ErrInstalled, ocf.ErrInstalled)
		p.expect("start", p.act("start", 20000), ocf.ErrInstalled, ocf.ErrInstalled)
		p.expect("probe", p.probe(), ocf.NotRunning, ocf.NotRunning)
		p.expect("monitor", p.monitor(), ocf.ErrGeneric, ocf.ErrGeneric)
		p.expect("stop", p.act("stop", 20000), ocf.Success, ocf.Success)
	}},
	{name: "config not set", deviation: "config not set: stop",
		params: map[string]string{"config": ""}, run: func(p *party) {
			p.expect("validate-all", p.act("validate-all", 5000), ocf.ErrConfigured, ocf.ErrConfigured)
			p.expect("probe", p.probe(), ocf.ErrConfigured, ocf.ErrConfigured)
			p.expect("stop", p.act("stop", 20000), ocf.Success, ocf.ErrConfigured)
		}},
	{name: "force_stop with snapshot", params: map[string]string{"force_stop": "1", "snapshot": "$DIR"}, run: func(p *party) {
		p.expect("validate-all", p.act("validate-all", 5000), ocf.ErrConfigured, ocf.ErrConfigured)
		p.expect("start", p.act("start", 20000), ocf.ErrConfigured, ocf.ErrConfigured)
		p.expect("probe", p.probe(), ocf.NotRunning, ocf.NotRunning)
		p.expect("stop", p.act("stop", 20000), ocf.Success, ocf.Success)
	}},
	{name: "negative migration_speed", params: map[string]string{"migration_speed": "-1"}, run: func(p *party) {
		p.expect("validate-all", p.act("validate-all", 5000), ocf.ErrConfigured, ocf.ErrConfigured)
		p.expect("start", p.act("start", 20000), ocf.ErrConfigured, ocf.ErrConfigured)
		p.expect("probe", p.probe(), ocf.NotRunning, ocf.NotRunning)
		p.expect("stop", p.act("stop", 20000), ocf.Success, ocf.Success)
	}},
	{name: "unknown migrate_options", deviation: "unknown migrate_options",
		params: map[string]string{"migrate_options": "--live --frobnicate"}, run: func(p *party) {
			p.expect("validate-all", p.act("validate-all", 5000), ocf.ErrConfigured, ocf.Success)
			p.expect("probe", p.probe(), ocf.NotRunning, ocf.NotRunning)
		}},
	{name: "migration_user not a user name", deviation: "invalid migration_user",
		params: map[string]string{"migration_user": "Admin"}, run: func(p *party) {
			p.expect("validate-all", p.act("validate-all", 5000), ocf.ErrConfigured, ocf.Success)
			p.expect("probe", p.probe(), ocf.NotRunning, ocf.NotRunning)
		}},
	{name: "sync_config_on_stop without csync2", deviation: "csync2 missing: probe and stop",
		params: map[string]string{"sync_config_on_stop": "true"}, run: func(p *party) {
			if _, err := lookPath("csync2"); err == nil {
				// Installed here: nothing is missing, both agents accept it.
				p.expect("validate-all", p.act("validate-all", 5000), ocf.Success, ocf.Success)
				p.expect("probe", p.probe(), ocf.NotRunning, ocf.NotRunning)
				return
			}
			p.expect("validate-all", p.act("validate-all", 5000), ocf.ErrInstalled, ocf.ErrInstalled)
			p.expect("probe", p.probe(), ocf.NotRunning, ocf.ErrInstalled)
			p.expect("stop", p.act("stop", 20000), ocf.Success, ocf.ErrInstalled)
		}},
	{name: "failing monitor script", deviation: "monitor script fails during start",
		params: map[string]string{"monitor_scripts": "/bin/false"}, run: func(p *party) {
			// 20 s, Pacemaker's default: the guest must be up (and its
			// script failing) before the deadline even on a loaded machine.
			p.expect("start waits for the scripts", p.act("start", 20000), ocf.ErrGeneric, killed)
			p.expect("monitor", p.monitor(), ocf.ErrGeneric, ocf.ErrGeneric)
			p.expect("stop", p.act("stop", 12000), ocf.Success, ocf.Success)
		}},
	{name: "paused guest", params: map[string]string{"force_stop": "1"}, run: func(p *party) {
		p.expect("start", p.act("start", 60000), ocf.Success, ocf.Success)
		p.lv.Virsh("suspend", p.name)
		p.expect("monitor of a paused guest", p.monitor(), ocf.Success, ocf.Success)
		p.expect("force stop of a paused guest", p.act("stop", 20000), ocf.Success, ocf.Success)
		if p.guestRuns() {
			p.t.Fatalf("%s: stop succeeded but the guest still runs", p.side)
		}
	}},
	{name: "guest killed behind the agent's back", run: func(p *party) {
		p.expect("start", p.act("start", 60000), ocf.Success, ocf.Success)
		syscall.Kill(qemuPID(p.t, p.name), syscall.SIGKILL)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		p.lv.WaitGone(ctx, p.name)
		p.expect("monitor", p.monitor(), ocf.NotRunning, ocf.NotRunning)
		p.expect("stop", p.act("stop", 12000), ocf.Success, ocf.Success)
	}},
	{name: "libvirtd stopped, guest running", run: func(p *party) {
		p.expect("start", p.act("start", 60000), ocf.Success, ocf.Success)
		p.expect("monitor (records the emulator)", p.monitor(), ocf.Success, ocf.Success)
		p.lv.Stop()
		defer p.lv.StartDaemon()
		p.expect("probe", p.probe(), ocf.Success, ocf.Success)
		p.expect("monitor", p.monitor(), ocf.Success, ocf.Success)
		p.expect("stop", p.act("stop", 12000), ocf.ErrGeneric, ocf.ErrGeneric)
		if !p.guestRuns() {
			p.t.Fatalf("%s: the guest died while libvirtd was stopped", p.side)
		}
		p.lv.StartDaemon()
		p.expect("stop with libvirtd back", p.act("stop", 12000), ocf.Success, ocf.Success)
	}},
	{name: "libvirtd stopped, guest gone", deviation: "libvirtd down, guest gone: stop", run: func(p *party) {
		p.expect("start", p.act("start", 60000), ocf.Success, ocf.Success)
		p.expect("monitor (records the emulator)", p.monitor(), ocf.Success, ocf.Success)
		pid := qemuPID(p.t, p.name)
		p.lv.Stop()
		defer p.lv.StartDaemon()
		syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 100 && p.guestRuns(); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		p.expect("probe", p.probe(), ocf.NotRunning, ocf.NotRunning)
		p.expect("stop", p.act("stop", 12000), ocf.Success, ocf.ErrGeneric)
	}},
	{name: "config unreadable while the guest runs", deviation: "config unreadable, guest running",
		run: func(p *party) {
			p.expect("start", p.act("start", 60000), ocf.Success, ocf.Success)
			os.Rename(p.config, p.config+".away")
			p.expect("probe", p.probe(), ocf.Success, ocf.NotRunning)
			p.expect("monitor", p.monitor(), ocf.ErrGeneric, ocf.ErrGeneric)
			p.expect("stop", p.act("stop", 12000), ocf.Success, ocf.Success)
			if p.guestRuns() != p.ref() {
				p.t.Fatalf("%s: after a successful stop the guest runs: %v", p.side, p.guestRuns())
			}
		}},
	{name: "config renamed while the guest runs", deviation: "UUID of the config runs under another name",
		run: func(p *party) {
			data, _ := os.ReadFile(p.config)
			old := filepath.Join(p.dir, "old.xml")
			os.WriteFile(old, []byte(strings.Replace(string(data), "<name>"+p.name+"</name>", "<name>"+p.name+"-old</name>", 1)), 0o644)
			if _, err := p.lv.Virsh("create", old); err != nil {
				p.t.Fatal(err)
			}
			defer p.lv.Virsh("destroy", p.name+"-old")
			p.expect("probe", p.probe(), ocf.ErrGeneric, ocf.NotRunning)
			p.expect("start", p.act("start", 20000), ocf.ErrGeneric, ocf.ErrGeneric)
			p.expect("stop", p.act("stop", 12000), ocf.Success, ocf.Success)
			if running := qemuPID(p.t, p.name+"-old") != 0; running != p.ref() {
				p.t.Fatalf("%s: after a successful stop the guest (as %s-old) runs: %v", p.side, p.name, running)
			}
		}},
	{name: "shutdown_mode", deviation: "shutdown_mode is applied",
		params: map[string]string{"shutdown_mode": "agent"}, run: func(p *party) {
			p.expect("start", p.act("start", 60000), ocf.Success, ocf.Success)
			res := p.act("stop", 20000)
			p.expect("stop", res, ocf.Success, ocf.Success)
			if applied := strings.Contains(res.stderr, "(mode agent)"); applied == p.ref() {
				p.t.Fatalf("%s: shutdown mode applied %v:\n%s", p.side, applied, res.stderr)
			}
		}},
	{name: "actions the agent does not have", deviation: "usage", run: func(p *party) {
		for _, a := range []string{"notify", "reload", "promote", "frobnicate"} {
			p.expect(a, p.act(a, 5000), ocf.ErrUnimplemented, ocf.ErrUnimplemented)
		}
		p.expect("usage", p.act("usage", 5000), ocf.Success, ocf.ErrUnimplemented)
	}},
}
