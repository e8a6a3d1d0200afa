package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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
	for _, a := range []string{"Dummy", "Stateful", "IPaddr2", "apache"} {
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
	_, err := measureRow(context.Background(), sc, counts{runs: 3, warmup: 1, rss: 1}, dir, "/bin/true", "", errors.New("no strace"), "", errors.New("no time"))
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
