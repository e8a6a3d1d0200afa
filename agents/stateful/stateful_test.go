package stateful_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/agents/stateful"
	"github.com/ocfbox/ocfbox/internal/fakecrm"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
)

// recurring makes a monitor a recurring one; without it a monitor is a
// probe, as Pacemaker sends it.
const recurring = "OCF_RESKEY_CRM_meta_interval=10000"

// The promotion-score commands the agent must run (argv after the path),
// as the reference agent runs them.
const (
	scoreUnpromoted = "crm_attribute --promotion -v 5"
	scorePromoted   = "crm_attribute --promotion -v 10"
	scoreDeleted    = "crm_attribute --promotion -D"
)

// resource is one Stateful instance: its OCF environment, with
// HA_SBIN_DIR holding the fake crm_attribute and crm_master.
type resource struct {
	t       *testing.T
	varrun  string
	sbin    fakecrm.Sbin
	seen    *int // how many of sbin's calls calls() has returned
	environ []string
}

func newResource(t *testing.T, instance string, extra ...string) *resource {
	t.Helper()
	r := &resource{t: t, varrun: t.TempDir(), sbin: fakecrm.Install(t, t.TempDir()), seen: new(int)}
	r.environ = append(r.ocfEnv(instance), extra...)
	return r
}

// sibling is another instance (e.g. another clone number) on the same
// node: same directories, same fake tools.
func (r *resource) sibling(instance string, extra ...string) *resource {
	s := *r
	s.environ = append(r.ocfEnv(instance), extra...)
	return &s
}

func (r *resource) ocfEnv(instance string) []string {
	return []string{
		"OCF_ROOT=/usr/lib/ocf",
		"OCF_RA_VERSION_MAJOR=1",
		"OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=" + instance,
		"OCF_RESOURCE_TYPE=Stateful",
		"OCF_RESOURCE_PROVIDER=ocfbox",
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"OCF_RESKEY_CRM_meta_timeout=20000",
		"OCF_RESKEY_crm_feature_set=3.16.1",
		"HA_RSCTMP=" + r.varrun,
		"HA_VARRUN=" + r.varrun,
		"HA_SBIN_DIR=" + r.sbin.Dir,
		"HA_LOGFACILITY=none",
		"HA_debug=0",
	}
}

// result is what an action left behind.
type result struct {
	ocftest.Result
	reason    string // the last exit reason on stderr, "" when none
	hasReason bool   // whether stderr had an exit reason at all
}

// do runs one action through ocf.Main, as pacemaker-execd runs an agent:
// argv [name, action] and the environment, extra added for this action.
func (r *resource) do(action string, extra ...string) result {
	r.t.Helper()
	res := result{Result: ocftest.Run(stateful.Definition, action, append(append([]string{}, r.environ...), extra...))}
	res.reason, res.hasReason = res.ExitReason()
	return res
}

// step is one action and what it must return. reason "" means the action
// must not print an exit reason; otherwise the reason must contain it.
type step struct {
	action string
	env    []string
	want   ocf.Status
	reason string
}

func (r *resource) run(steps ...step) {
	r.t.Helper()
	for i, s := range steps {
		got := r.do(s.action, s.env...)
		desc := strings.TrimSpace(s.action + " " + strings.Join(s.env, " "))
		if got.Status != s.want {
			r.t.Fatalf("step %d (%s): status %s (reason %q), want %s\nstderr:\n%s", i+1, desc, got.Status, got.reason, s.want, got.Stderr)
		}
		switch {
		case s.reason == "" && got.hasReason:
			r.t.Errorf("step %d (%s): exit reason %q, want none", i+1, desc, got.reason)
		case s.reason != "" && !strings.Contains(got.reason, s.reason):
			r.t.Errorf("step %d (%s): exit reason %q, want one containing %q", i+1, desc, got.reason, s.reason)
		}
	}
}

// calls returns the promotion-score commands run so far (argv, without
// the directory) and forgets them.
func (r *resource) calls() []string {
	r.t.Helper()
	all := r.sbin.Calls(r.t)
	var argvs []string
	for _, c := range all[*r.seen:] {
		argvs = append(argvs, strings.Join(c.Argv, " "))
	}
	*r.seen = len(all)
	return argvs
}

func (r *resource) wantCalls(when string, want ...string) {
	r.t.Helper()
	if got := r.calls(); !slices.Equal(got, want) {
		r.t.Errorf("%s: promotion-score commands %q, want %q", when, got, want)
	}
}

func (r *resource) defaultState(instance string) string {
	return filepath.Join(r.varrun, "Stateful-"+instance+".state")
}

func (r *resource) writeState(instance, content string) {
	r.t.Helper()
	if err := os.WriteFile(r.defaultState(instance), []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat %s: %v", path, err)
	}
	return err == nil
}

func TestRoleSequences(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"probe of a never-started instance is not running, without an exit reason", []step{
			{"monitor", nil, ocf.NotRunning, ""},
		}},
		{"recurring monitor of a stopped instance is not running, with an exit reason", []step{
			{"monitor", []string{recurring}, ocf.NotRunning, "not started"},
		}},
		{"start leaves the instance Unpromoted", []step{
			{"start", nil, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.Success, ""},
		}},
		{"promote makes monitor report Promoted", []step{
			{"start", nil, ocf.Success, ""},
			{"promote", nil, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.RunningPromoted, ""},
			{"monitor", nil, ocf.RunningPromoted, ""},
		}},
		{"demote makes monitor report Unpromoted", []step{
			{"start", nil, ocf.Success, ""},
			{"promote", nil, ocf.Success, ""},
			{"demote", nil, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.Success, ""},
		}},
		{"promote of a Promoted instance succeeds", []step{
			{"start", nil, ocf.Success, ""},
			{"promote", nil, ocf.Success, ""},
			{"promote", nil, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.RunningPromoted, ""},
		}},
		{"demote of an Unpromoted instance succeeds", []step{
			{"start", nil, ocf.Success, ""},
			{"demote", nil, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.Success, ""},
		}},
		{"start of a started instance succeeds", []step{
			{"start", nil, ocf.Success, ""},
			{"start", nil, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.Success, ""},
		}},
		{"stop makes monitor report not running", []step{
			{"start", nil, ocf.Success, ""},
			{"stop", nil, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.NotRunning, "not started"},
		}},
		{"stop of a stopped instance succeeds", []step{
			{"stop", nil, ocf.Success, ""},
			{"stop", nil, ocf.Success, ""},
		}},
		{"promote of a stopped instance is not running", []step{
			{"promote", nil, ocf.NotRunning, "not started"},
			{"monitor", nil, ocf.NotRunning, ""},
		}},
		{"demote of a stopped instance is not running", []step{
			{"demote", nil, ocf.NotRunning, "not started"},
			{"monitor", nil, ocf.NotRunning, ""},
		}},
		{"start of a Promoted instance is refused as running promoted", []step{
			{"start", nil, ocf.Success, ""},
			{"promote", nil, ocf.Success, ""},
			{"start", nil, ocf.RunningPromoted, "already Promoted"},
			{"monitor", []string{recurring}, ocf.RunningPromoted, ""},
		}},
		{"stop of a Promoted instance is refused as running promoted, as the reference does", []step{
			{"start", nil, ocf.Success, ""},
			{"promote", nil, ocf.Success, ""},
			{"stop", nil, ocf.RunningPromoted, "still Promoted"},
			{"monitor", []string{recurring}, ocf.RunningPromoted, ""},
		}},
		{"notify succeeds", []step{
			{"start", nil, ocf.Success, ""},
			{"notify", []string{"OCF_RESKEY_CRM_meta_notify_type=post", "OCF_RESKEY_CRM_meta_notify_operation=start"}, ocf.Success, ""},
		}},
		{"reload succeeds and keeps the role", []step{
			{"start", nil, ocf.Success, ""},
			{"promote", nil, ocf.Success, ""},
			{"reload", []string{"OCF_RESKEY_notify_delay=1"}, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.RunningPromoted, ""},
		}},
		{"validate-all succeeds with defaults", []step{
			{"validate-all", nil, ocf.Success, ""},
		}},
		{"an unknown action is unimplemented and names the action", []step{
			{"migrate_to", nil, ocf.ErrUnimplemented, `"migrate_to"`},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newResource(t, "rsc").run(tc.steps...)
		})
	}
}

func TestMonitorOfABadStateFile(t *testing.T) {
	tests := []struct {
		name   string
		state  string // content of the state file
		rc     string // content of "<state>.rc"; none when ""
		want   ocf.Status
		reason string
	}{
		{"garbage in the state file is a generic error naming it", "Sideways\n", "", ocf.ErrGeneric, `holds "Sideways"`},
		{"an empty state file is a generic error", "", "", ocf.ErrGeneric, `holds ""`},
		{"<state>.rc injects a failed promoted instance", "Promoted\n", "9\n", ocf.FailedPromoted, "injected"},
		{"<state>.rc injects a generic failure", "Unpromoted\n", "1", ocf.ErrGeneric, "injected"},
		{"<state>.rc injects not running", "Unpromoted\n", "7", ocf.NotRunning, "injected"},
		{"<state>.rc with 0 injects success", "Promoted\n", "0", ocf.Success, ""},
		{"<state>.rc holding garbage is a generic error naming the file", "Unpromoted\n", "lots", ocf.ErrGeneric, `"lots" is not an exit status`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newResource(t, "rsc")
			r.writeState("rsc", tc.state)
			if tc.rc != "" {
				if err := os.WriteFile(r.defaultState("rsc")+".rc", []byte(tc.rc), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r.run(step{"monitor", []string{recurring}, tc.want, tc.reason})
		})
	}
}

func TestPromotionScores(t *testing.T) {
	t.Run("start sets the Unpromoted score", func(t *testing.T) {
		r := newResource(t, "rsc")
		r.run(step{"start", nil, ocf.Success, ""})
		r.wantCalls("start", scoreUnpromoted)
	})
	t.Run("promote sets the Promoted score, demote the Unpromoted one", func(t *testing.T) {
		r := newResource(t, "rsc")
		r.run(step{"start", nil, ocf.Success, ""})
		r.calls()
		r.run(step{"promote", nil, ocf.Success, ""})
		r.wantCalls("promote", scorePromoted)
		r.run(step{"demote", nil, ocf.Success, ""})
		r.wantCalls("demote", scoreUnpromoted)
	})
	t.Run("stop deletes the score", func(t *testing.T) {
		r := newResource(t, "rsc")
		r.run(step{"start", nil, ocf.Success, ""})
		r.calls()
		r.run(step{"stop", nil, ocf.Success, ""})
		r.wantCalls("stop", scoreDeleted)
	})
	t.Run("stop of a Promoted instance deletes the score before refusing", func(t *testing.T) {
		r := newResource(t, "rsc")
		r.writeState("rsc", "Promoted\n")
		r.run(step{"stop", nil, ocf.RunningPromoted, "still Promoted"})
		r.wantCalls("stop", scoreDeleted)
		if !exists(t, r.defaultState("rsc")) {
			t.Error("a refused stop removed the state file")
		}
	})
	t.Run("a probe restores the score of a Promoted instance", func(t *testing.T) {
		r := newResource(t, "rsc")
		r.writeState("rsc", "Promoted\n")
		r.run(step{"monitor", nil, ocf.RunningPromoted, ""})
		r.wantCalls("probe", scorePromoted)
	})
	t.Run("a probe restores the score of an Unpromoted instance", func(t *testing.T) {
		r := newResource(t, "rsc")
		r.writeState("rsc", "Unpromoted\n")
		r.run(step{"monitor", nil, ocf.Success, ""})
		r.wantCalls("probe", scoreUnpromoted)
	})
	t.Run("a recurring monitor leaves the score alone", func(t *testing.T) {
		r := newResource(t, "rsc")
		for _, role := range []string{"Promoted\n", "Unpromoted\n"} {
			r.writeState("rsc", role)
			r.do("monitor", recurring)
			r.wantCalls("recurring monitor of " + strings.TrimSpace(role))
		}
	})
	t.Run("a probe of a stopped instance sets no score", func(t *testing.T) {
		r := newResource(t, "rsc")
		r.run(step{"monitor", nil, ocf.NotRunning, ""})
		r.wantCalls("probe")
	})
	t.Run("failed promote and demote of a stopped instance set no score", func(t *testing.T) {
		r := newResource(t, "rsc")
		r.run(step{"promote", nil, ocf.NotRunning, "not started"}, step{"demote", nil, ocf.NotRunning, "not started"})
		r.wantCalls("promote and demote")
	})
	t.Run("before Pacemaker 2.1 the score is set with crm_master", func(t *testing.T) {
		r := newResource(t, "rsc", "OCF_RESKEY_crm_feature_set=3.9.0")
		r.run(step{"start", nil, ocf.Success, ""}, step{"stop", nil, ocf.Success, ""})
		r.wantCalls("start and stop with crm_feature_set 3.9.0",
			"crm_master -l reboot -v 5", "crm_master -l reboot -D")
	})
	t.Run("without a cluster to take the score, actions still succeed and say why", func(t *testing.T) {
		r := newResource(t, "rsc")
		r.sbin.NoCluster(t)
		for _, action := range []string{"start", "promote", "demote", "stop"} {
			got := r.do(action)
			if got.Status != ocf.Success {
				t.Fatalf("%s with crm_attribute failing: status %s (reason %q), want %s", action, got.Status, got.reason, ocf.Success)
			}
			if !strings.Contains(got.Stderr, "Could not connect to the CIB") {
				t.Errorf("%s: the log does not pass on crm_attribute's error:\n%s", action, got.Stderr)
			}
		}
	})
}

// crm_attribute --promotion without a resource name acts on
// OCF_RESOURCE_INSTANCE, so it must see the instance's environment.
func TestPromotionScoreCommandSeesTheInstance(t *testing.T) {
	r := newResource(t, "rsc-env")
	r.run(step{"start", nil, ocf.Success, ""})
	calls := r.sbin.Calls(t)
	if len(calls) == 0 || calls[len(calls)-1].Instance != "rsc-env" {
		t.Errorf("crm_attribute ran as %+v, want OCF_RESOURCE_INSTANCE=rsc-env in its environment", calls)
	}
}

func TestStateFileOfClones(t *testing.T) {
	clone := func(unique string, number string) []string {
		return []string{
			"OCF_RESKEY_CRM_meta_clone_max=2", "OCF_RESKEY_CRM_meta_clone_node_max=2",
			"OCF_RESKEY_CRM_meta_promotable=true", "OCF_RESKEY_CRM_meta_promoted_max=1",
			"OCF_RESKEY_CRM_meta_globally_unique=" + unique, "OCF_RESKEY_CRM_meta_clone=" + number,
		}
	}
	t.Run("anonymous clone instances share one state file without the clone number", func(t *testing.T) {
		zero := newResource(t, "rsc:0", clone("false", "0")...)
		one := zero.sibling("rsc:1", clone("false", "1")...)
		zero.run(step{"start", nil, ocf.Success, ""})
		if !exists(t, zero.defaultState("rsc")) {
			t.Fatalf("start of rsc:0 did not create %s", zero.defaultState("rsc"))
		}
		one.run(step{"monitor", nil, ocf.Success, ""})
	})
	t.Run("an unset globally_unique counts as anonymous, as in the reference", func(t *testing.T) {
		r := newResource(t, "rsc:3")
		r.run(step{"start", nil, ocf.Success, ""})
		if !exists(t, r.defaultState("rsc")) {
			t.Fatalf("start of rsc:3 did not create %s", r.defaultState("rsc"))
		}
	})
	t.Run("globally-unique clone instances each have their own state file", func(t *testing.T) {
		zero := newResource(t, "rsc:0", clone("true", "0")...)
		one := zero.sibling("rsc:1", clone("true", "1")...)
		zero.run(step{"start", nil, ocf.Success, ""}, step{"promote", nil, ocf.Success, ""})
		if !exists(t, zero.defaultState("rsc:0")) {
			t.Fatalf("start of rsc:0 did not create %s", zero.defaultState("rsc:0"))
		}
		one.run(step{"monitor", nil, ocf.NotRunning, ""}, step{"start", nil, ocf.Success, ""})
		zero.run(step{"monitor", []string{recurring}, ocf.RunningPromoted, ""})
		one.run(step{"monitor", []string{recurring}, ocf.Success, ""})
	})
	t.Run("an explicit state parameter is used as given, clone number and all", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "mine:0.state")
		r := newResource(t, "rsc:0", append(clone("false", "0"), "OCF_RESKEY_state="+state)...)
		r.run(step{"start", nil, ocf.Success, ""})
		if !exists(t, state) {
			t.Fatalf("start did not create state=%s", state)
		}
	})
}

func TestMetadataShowsTheExpandedStateDefault(t *testing.T) {
	r := newResource(t, "rsc")
	got := r.do("meta-data")
	if got.Status != ocf.Success {
		t.Fatalf("meta-data: status %s, want %s", got.Status, ocf.Success)
	}
	if want := `default="` + r.defaultState("rsc") + `"`; !strings.Contains(got.Stdout, want) {
		t.Errorf("meta-data does not show the state default as %s:\n%s", want, got.Stdout)
	}
}

func TestNotifyDelay(t *testing.T) {
	postStart := []string{"OCF_RESKEY_CRM_meta_notify_type=post", "OCF_RESKEY_CRM_meta_notify_operation=start"}

	t.Run("notify waits notify_delay", func(t *testing.T) {
		r := newResource(t, "rsc", "OCF_RESKEY_notify_delay=0.3")
		began := time.Now()
		r.run(step{"notify", postStart, ocf.Success, ""})
		if waited := time.Since(began); waited < 300*time.Millisecond {
			t.Errorf("notify returned after %s, want it to wait notify_delay=0.3 first", waited)
		}
	})
	t.Run("notify gives up at its deadline and still succeeds", func(t *testing.T) {
		const delay = 60 * time.Second
		r := newResource(t, "rsc", "OCF_RESKEY_notify_delay=60")
		began := time.Now()
		got := r.do("notify", append(postStart, "OCF_RESKEY_CRM_meta_timeout=1000")...)
		if waited := time.Since(began); waited >= delay {
			t.Fatalf("notify with a 1s timeout waited %s, the whole notify_delay", waited)
		}
		if got.Status != ocf.Success {
			t.Errorf("notify cut by its deadline: status %s (reason %q), want %s: notify never fails", got.Status, got.reason, ocf.Success)
		}
		if !strings.Contains(got.Stderr, "notify_delay") {
			t.Errorf("the log does not say notify_delay was cut short:\n%s", got.Stderr)
		}
	})

	tests := []struct {
		value  string
		want   ocf.Status
		reason string
	}{
		{"", ocf.Success, ""},
		{"0", ocf.Success, ""},
		{"1.5", ocf.Success, ""},
		{"2s", ocf.Success, ""}, // sleep(1), which the reference uses, takes it
		{"1m", ocf.Success, ""},
		{"garbage", ocf.ErrConfigured, `notify_delay="garbage"`},
		{"-1", ocf.ErrConfigured, `notify_delay="-1"`},
		{"5 minutes", ocf.ErrConfigured, `notify_delay="5 minutes"`},
	}
	for _, tc := range tests {
		t.Run("validate-all with notify_delay="+tc.value, func(t *testing.T) {
			r := newResource(t, "rsc", "OCF_RESKEY_notify_delay="+tc.value)
			r.run(step{"validate-all", nil, tc.want, tc.reason})
		})
	}

	t.Run("a bad notify_delay stops start before it changes anything", func(t *testing.T) {
		r := newResource(t, "rsc", "OCF_RESKEY_notify_delay=garbage")
		r.run(step{"start", nil, ocf.ErrConfigured, "notify_delay"})
		if exists(t, r.defaultState("rsc")) {
			t.Error("a refused start created the state file")
		}
		r.wantCalls("refused start")
	})
	t.Run("a bad notify_delay does not fail notify", func(t *testing.T) {
		r := newResource(t, "rsc", "OCF_RESKEY_notify_delay=garbage")
		r.run(step{"notify", postStart, ocf.Success, ""})
	})
}

func TestEnvfileRecordsEveryAction(t *testing.T) {
	envfile := filepath.Join(t.TempDir(), "env.log")
	r := newResource(t, "rsc-env", "OCF_RESKEY_envfile="+envfile)
	actions := []string{"start", "monitor", "promote", "demote", "notify", "stop", "validate-all"}
	for _, action := range actions {
		if got := r.do(action); got.Status != ocf.Success && got.Status != ocf.NotRunning {
			t.Fatalf("%s: status %s (reason %q)", action, got.Status, got.reason)
		}
	}
	b, err := os.ReadFile(envfile)
	if err != nil {
		t.Fatalf("envfile=%s was not written: %v", envfile, err)
	}
	var headers []string
	for _, line := range strings.Split(string(b), "\n") {
		if action, ok := strings.CutPrefix(line, "### "); ok {
			action, _, _ = strings.Cut(action, " @ ")
			headers = append(headers, action)
		}
	}
	if !slices.Equal(headers, actions) {
		t.Errorf("envfile has blocks for %q, want one per action %q", headers, actions)
	}
	if n := strings.Count(string(b), "\n###\n"); n != len(actions) {
		t.Errorf("envfile has %d closing ### lines, want %d", n, len(actions))
	}
	for _, want := range []string{"OCF_RESOURCE_INSTANCE=rsc-env\n", "OCF_RESKEY_envfile=" + envfile + "\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("envfile does not record %q", strings.TrimSpace(want))
		}
	}
}

func TestEnvfileThatCannotBeWrittenDoesNotFailActions(t *testing.T) {
	envfile := filepath.Join(t.TempDir(), "missing", "env.log")
	r := newResource(t, "rsc", "OCF_RESKEY_envfile="+envfile)
	got := r.do("start")
	if got.Status != ocf.Success {
		t.Fatalf("start with an unwritable envfile: status %s (reason %q), want %s", got.Status, got.reason, ocf.Success)
	}
	if !strings.Contains(got.Stderr, "envfile="+envfile) {
		t.Errorf("the log does not name envfile=%s:\n%s", envfile, got.Stderr)
	}
}
