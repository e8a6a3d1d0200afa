package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

// The environment of a measured operation is the one pacemaker-execd
// gives it, with the side's own state.
func TestEnviron(t *testing.T) {
	sc := &scenarios[0]
	if sc.name() != "Dummy monitor" {
		t.Fatalf("the first row is %s", sc.name())
	}
	s := &side{Name: "ocfbox", Provider: "ocfbox", Dir: "/tmp/x", sc: sc,
		Params: map[string]string{"state": "/tmp/x/Dummy.state"}, Extra: map[string]string{"HA_SBIN_DIR": "/tmp/x/sbin"}}
	env := s.environ(sc.Op)
	for _, kv := range []string{
		"OCF_RESKEY_CRM_meta_interval=10000", "OCF_RESKEY_CRM_meta_timeout=20000",
		"OCF_RESOURCE_INSTANCE=bench-dummy", "OCF_RESOURCE_TYPE=Dummy", "OCF_RESOURCE_PROVIDER=ocfbox",
		"OCF_RESKEY_state=/tmp/x/Dummy.state", "HA_SBIN_DIR=/tmp/x/sbin", "HA_RSCTMP=/tmp/x",
		"OCF_RA_VERSION_MAJOR=1", "OCF_ROOT=/usr/lib/ocf",
	} {
		if !slices.Contains(env, kv) {
			t.Errorf("environment lacks %s:\n%s", kv, strings.Join(env, "\n"))
		}
	}
	for _, kv := range s.environ(map[string]string{"name": "start"}) {
		if strings.HasPrefix(kv, "OCF_RESKEY_CRM_meta_interval=") {
			t.Errorf("a start has no interval, got %s", kv)
		}
	}
}

// Every agent has a monitor of a started resource, a start that is
// stopped after, and a stop that is started before; only start and stop
// rows count as changing the state (they run fewer times).
func TestRows(t *testing.T) {
	byAgent := map[string][]string{}
	for i := range scenarios {
		sc := &scenarios[i]
		byAgent[sc.Agent] = append(byAgent[sc.Agent], sc.Action)
		if sc.Prepare == nil || sc.Want != 0 {
			t.Errorf("%s: Prepare %v, Want %d", sc.name(), sc.Prepare != nil, sc.Want)
		}
		switch sc.Action {
		case "monitor":
			if sc.changesState() || sc.Setup == nil || sc.Op["interval"] == "" {
				t.Errorf("%s: a recurring monitor of a started resource, got Before/After or no interval", sc.name())
			}
		case "start":
			if sc.Before != nil || sc.After == nil {
				t.Errorf("%s: every start is followed by a stop", sc.name())
			}
		case "stop":
			if sc.Before == nil || sc.After != nil {
				t.Errorf("%s: every stop is preceded by a start", sc.name())
			}
		}
	}
	for _, a := range []string{"Dummy", "Stateful", "IPaddr2", "apache", "VirtualDomain"} {
		if got := byAgent[a]; !slices.Equal(got, []string{"monitor", "start", "stop"}) {
			t.Errorf("%s rows: %v", a, got)
		}
	}
	for i := range scenarios {
		if sc := &scenarios[i]; sc.Agent == "IPaddr2" && sc.Action == "start" && sc.Observe == nil {
			t.Error("IPaddr2 start: the first ARP is not observed")
		}
	}
}

// An invocation is killed 10 s after the operation's own timeout.
func TestLimit(t *testing.T) {
	if got := limit(map[string]string{"name": "start"}); got != 30*time.Second {
		t.Errorf("limit without a timeout = %v, want 30s", got)
	}
	if got := limit(map[string]string{"timeout": "90000"}); got != 100*time.Second {
		t.Errorf("limit with timeout=90000 = %v, want 100s", got)
	}
}

// An invocation that returns the wrong status stops the row with a
// message naming the side, the agent, the action and what the agent
// wrote; both sides are still stopped and cleaned up.
func TestWrongStatusStopsTheRowAndTearsDown(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	reference := filepath.Join(dir, "Fake")
	script := "#!/bin/sh\necho \"$1\" >>" + calls + "\nif [ \"$1\" = monitor ]; then echo 'ocf-exit-reason:not running' >&2; exit 7; fi\nexit 0\n"
	if err := os.WriteFile(reference, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var cleaned []string
	sc := &scenario{
		Agent: "Fake", Action: "monitor", Reference: reference, Op: map[string]string{"interval": "10000"},
		Prepare: func(s *side) error {
			s.cleanup(func() error { cleaned = append(cleaned, s.Name); return nil })
			return nil
		},
		Setup: func(s *side) error { return s.act("start") },
	}
	bn := &bench{ctx: context.Background(), work: dir, bin: "/bin/true", straceErr: errors.New("no strace"), timeErr: errors.New("no time")}
	_, err := bn.measureRow(sc, counts{runs: 3, warmup: 1, rss: 1})
	if err == nil || !strings.Contains(err.Error(), "reference Fake monitor: exit status 7, want 0") || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("err = %v", err)
	}
	b, _ := os.ReadFile(calls)
	if got := strings.Fields(string(b)); !slices.Equal(got, []string{"start", "monitor", "stop"}) {
		t.Errorf("the reference ran %v, want start, monitor, stop", got)
	}
	if !slices.Equal(cleaned, []string{"ocfbox", "reference"}) {
		t.Errorf("cleaned up %v, want both sides", cleaned)
	}
}

// A VirtualDomain side manages a guest of its own on the daemon it is
// given, stopped with force_stop (the guest boots no OS), with its
// utilization attributes kept in a CIB file in its own directory.
func TestGuestSide(t *testing.T) {
	const uri = "qemu:///system?socket=/tmp/x/run/libvirt-sock"
	names := map[string]bool{}
	for _, name := range []string{"ocfbox", "reference"} {
		s := vdSide(t, name)
		guest, err := guestSide(s, uri)
		if err != nil {
			t.Fatal(err)
		}
		names[guest] = true
		if s.Params["hypervisor"] != uri || s.Params["force_stop"] != "true" {
			t.Errorf("%s: parameters %v, want hypervisor=%s and force_stop=true", name, s.Params, uri)
		}
		xml, err := os.ReadFile(s.Params["config"])
		if err != nil || !strings.Contains(string(xml), "<name>"+guest+"</name>") {
			t.Errorf("%s: config %s does not define guest %s: %v\n%s", name, s.Params["config"], guest, err, xml)
		}
		if filepath.Dir(s.Extra["CIB_file"]) != s.Dir {
			t.Errorf("%s: CIB_file %q is not in the side's directory", name, s.Extra["CIB_file"])
		}
	}
	if len(names) != 2 {
		t.Errorf("the sides share a guest: %v", names)
	}
}

// crm_resource finds the resource in a VirtualDomain side's CIB file
// and keeps its utilization attributes there, as both agents' monitors
// need.
func TestGuestSideCIBServesCRMResource(t *testing.T) {
	testenv.RequireTool(t, "crm_resource")
	s := vdSide(t, "reference")
	if _, err := guestSide(s, "qemu:///system"); err != nil {
		t.Fatal(err)
	}
	crm := func(args ...string) (string, error) {
		cmd := exec.Command("crm_resource", args...)
		cmd.Env = append(os.Environ(), "CIB_file="+s.Extra["CIB_file"])
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := crm("-r", s.instance(), "-z", "-p", "cpu", "-v", "1"); err != nil {
		t.Fatalf("crm_resource cannot set a utilization attribute of %s in the CIB file: %v\n%s", s.instance(), err, out)
	}
	if out, err := crm("-Q", "-r", s.instance(), "-z", "-g", "cpu"); err != nil || out != "1" {
		t.Errorf("crm_resource reads cpu back as %q (%v), want 1", out, err)
	}
}

func vdSide(t *testing.T, name string) *side {
	t.Helper()
	for i := range scenarios {
		if sc := &scenarios[i]; sc.name() == "VirtualDomain stop" {
			return &side{Name: name, Provider: "heartbeat", Dir: t.TempDir(), sc: sc, Params: map[string]string{}, Extra: map[string]string{}}
		}
	}
	t.Fatal("no VirtualDomain stop row")
	return nil
}

// The notes name each agent's surroundings once, in the table's order.
func TestSurroundings(t *testing.T) {
	var rows []row
	for i := range scenarios {
		rows = append(rows, row{sc: &scenarios[i]})
	}
	got := surroundings(rows)
	for _, a := range []string{"Stateful's crm_attribute", "IPaddr2 runs", "apache manages", "VirtualDomain: one private libvirtd"} {
		if strings.Count(got, a) != 1 {
			t.Errorf("surroundings mention %q %d times, want once:\n%s", a, strings.Count(got, a), got)
		}
	}
	if strings.Index(got, "IPaddr2") > strings.Index(got, "VirtualDomain") {
		t.Errorf("surroundings not in the table's order:\n%s", got)
	}
}

func TestLoadNote(t *testing.T) {
	if got := loadNote([]float64{0.5, 0.9, 0.7}, 2); got != "load average 0.50 before, 0.70 after, 0.90 at most" {
		t.Errorf("quiet machine: %q", got)
	}
	if got := loadNote([]float64{1.5, 4.96, 2.65}, 2); !strings.Contains(got, "4.96 at most (more than its 2 CPUs: other work ran") {
		t.Errorf("busy machine: %q", got)
	}
	if got := loadNote([]float64{-1, 1}, 2); got != "load average unknown" {
		t.Errorf("unknown: %q", got)
	}
}
