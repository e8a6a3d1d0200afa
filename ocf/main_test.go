package ocf_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ocfbox/ocfbox/ocf"
)

// The meta-data action (drbd-ocf.md B.4 rule 2).
func TestMetaData(t *testing.T) {
	expanded := func(rsctmp, varrun, instance string) string {
		return strings.NewReplacer("${HA_RSCTMP}", rsctmp, "${HA_VARRUN}", varrun,
			"${OCF_RESOURCE_INSTANCE}", instance).Replace(string(testerXML))
	}
	tests := []struct {
		name    string
		environ []string
		want    string
	}{
		{
			name:    "works with no environment at all and shows the standard directories",
			environ: nil,
			want:    expanded("/run/resource-agents", "/var/run", "RESOURCE_ID"),
		},
		{
			name:    "works without OCF_RESOURCE_INSTANCE under an OCF 1.1 caller",
			environ: []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1"},
			want:    expanded("/run/resource-agents", "/var/run", "RESOURCE_ID"),
		},
		{
			name:    "expands HA_RSCTMP, HA_VARRUN and OCF_RESOURCE_INSTANCE",
			environ: []string{"HA_RSCTMP=/srv/state/", "HA_VARRUN=/srv/run", "OCF_RESOURCE_INSTANCE=db"},
			want:    expanded("/srv/state", "/srv/run", "db"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			constructed := false
			def := ocf.Definition{Name: "Tester", Metadata: testerXML,
				New: func() ocf.Agent { constructed = true; return &testAgent{} }}
			got := runDefinition(t, def, tt.environ, "meta-data")
			if got.status != ocf.Success {
				t.Errorf("meta-data exited %v, want OCF_SUCCESS; stderr:\n%s", got.status, got.stderr)
			}
			if got.stdout != tt.want {
				t.Errorf("meta-data printed:\n%s\nwant the meta-data exactly once, expanded:\n%s", got.stdout, tt.want)
			}
			if got.stderr != "" {
				t.Errorf("meta-data wrote to stderr: %q, want nothing", got.stderr)
			}
			if constructed {
				t.Error("meta-data constructed the agent; it must not depend on anything the agent does")
			}
		})
	}
}

func TestUsageAndHelpPrintTheActionsAndSucceed(t *testing.T) {
	for _, action := range []string{"usage", "help"} {
		t.Run(action, func(t *testing.T) {
			a := &testAgent{}
			got := runAgent(t, a, nil, action)
			if got.status != ocf.Success {
				t.Errorf("%s exited %v, want OCF_SUCCESS", action, got.status)
			}
			want := "usage: Tester {start|stop|monitor|promote|demote|notify|migrate_to|migrate_from|reload|meta-data|validate-all}\n"
			if !strings.HasPrefix(got.stdout, want) {
				t.Errorf("%s printed %q, want it to begin with %q", action, got.stdout, want)
			}
			if len(a.called()) > 0 {
				t.Errorf("%s called the agent's %v", action, a.called())
			}
		})
	}
}

// withoutAction returns the test meta-data without the named action.
func withoutAction(name string) []byte {
	re := regexp.MustCompile(`(?m)^<action name="` + regexp.QuoteMeta(name) + `".*\n`)
	return re.ReplaceAll(testerXML, nil)
}

// Which action runs (B.4 rule 1): argv[1], anything after it ignored,
// only actions both the meta-data and the Go type have.
func TestActionDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		metadata   []byte // default: testdata/Tester.xml
		basic      bool   // the agent implements only the four actions every agent has
		environ    []string
		wantStatus ocf.Status
		wantCalls  []string
		wantReason string // a part of the exit reason; "" for none
		wantUsage  bool   // the usage text is on stderr
	}{
		{
			name: "no action is unimplemented, with the usage and a reason",
			args: nil, wantStatus: ocf.ErrUnimplemented, wantReason: "no action given to Tester", wantUsage: true,
		},
		{
			name: "an unknown action is unimplemented, with the usage and a reason",
			args: []string{"frobnicate"}, wantStatus: ocf.ErrUnimplemented,
			wantReason: `action "frobnicate" is not supported by Tester`, wantUsage: true,
		},
		{
			name: "an unknown action is refused before the environment is checked",
			args: []string{"frobnicate"}, environ: []string{"OCF_RESOURCE_INSTANCE"},
			wantStatus: ocf.ErrUnimplemented, wantReason: `"frobnicate" is not supported`, wantUsage: true,
		},
		{
			name: "an action the Go type implements but the meta-data does not list is unimplemented",
			args: []string{"migrate_to"}, metadata: withoutAction("migrate_to"),
			wantStatus: ocf.ErrUnimplemented, wantReason: `"migrate_to" is not supported`, wantUsage: true,
		},
		{
			name: "an action the meta-data lists but the Go type does not implement is unimplemented",
			args: []string{"notify"}, basic: true,
			wantStatus: ocf.ErrUnimplemented, wantReason: `"notify" is not supported`, wantUsage: true,
		},
		{
			name: "status is unimplemented when the meta-data does not list it",
			args: []string{"status"}, wantStatus: ocf.ErrUnimplemented, wantReason: `"status" is not supported`, wantUsage: true,
		},
		{
			name: "arguments after the action are ignored",
			args: []string{"monitor", "extra", "--verbose"}, environ: []string{recurring},
			wantStatus: ocf.Success, wantCalls: []string{"monitor"},
		},
		{
			name: "reload-agent runs Reload when the meta-data lists reload",
			args: []string{"reload-agent"}, wantStatus: ocf.Success, wantCalls: []string{"validate", "reload"},
		},
		{
			name:       "reload runs Reload when the meta-data lists only reload-agent",
			args:       []string{"reload"},
			metadata:   bytes.Replace(testerXML, []byte(`<action name="reload" `), []byte(`<action name="reload-agent" `), 1),
			wantStatus: ocf.Success, wantCalls: []string{"validate", "reload"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &testAgent{}
			var agent ocf.Agent = a
			if tt.basic {
				agent = basicAgent{a}
			}
			md := tt.metadata
			if md == nil {
				md = testerXML
			}
			def := ocf.Definition{Name: "Tester", Metadata: md, New: func() ocf.Agent { return agent }}
			got := runDefinition(t, def, execdEnv(t, tt.environ...), tt.args...)
			if got.status != tt.wantStatus {
				t.Errorf("exit status %v, want %v; stderr:\n%s", got.status, tt.wantStatus, got.stderr)
			}
			if !slices.Equal(a.called(), tt.wantCalls) {
				t.Errorf("the agent's actions called: %v, want %v", a.called(), tt.wantCalls)
			}
			checkReason(t, got, tt.wantReason)
			if hasUsage := strings.Contains(got.stderr, "usage: Tester {"); hasUsage != tt.wantUsage {
				t.Errorf("usage text on stderr: %v, want %v; stderr:\n%s", hasUsage, tt.wantUsage, got.stderr)
			}
			if got.stdout != "" {
				t.Errorf("stdout = %q, want nothing: stdout is for meta-data and usage only", got.stdout)
			}
		})
	}
}

// checkReason checks the exit reason: contains want, or absent when want
// is "".
func checkReason(t *testing.T, got outcome, want string) {
	t.Helper()
	reason := got.exitReason()
	switch {
	case want == "" && strings.Contains(got.stderr, "ocf-exit-reason:"):
		t.Errorf("exit reason %q, want none; stderr:\n%s", reason, got.stderr)
	case want != "" && !strings.Contains(reason, want):
		t.Errorf("exit reason %q, want one containing %q; stderr:\n%s", reason, want, got.stderr)
	}
}

// OCF_RESOURCE_INSTANCE and ocf-shellfuncs' defaults for it (B.7).
func TestResourceInstance(t *testing.T) {
	tests := []struct {
		name         string
		environ      []string
		wantStatus   ocf.Status
		wantInstance string // what the agent saw; "" when it did not run
		wantReason   string
	}{
		{
			name:       "missing under an OCF caller is an argument error and runs nothing",
			environ:    []string{"OCF_RESOURCE_INSTANCE"},
			wantStatus: ocf.ErrArgs, wantReason: "OCF_RESOURCE_INSTANCE is not set",
		},
		{
			name:       "missing and empty are the same",
			environ:    []string{"OCF_RESOURCE_INSTANCE="},
			wantStatus: ocf.ErrArgs, wantReason: "OCF_RESOURCE_INSTANCE is not set",
		},
		{
			name:       "missing without OCF_RA_VERSION_MAJOR is init-script mode: instance default",
			environ:    []string{"OCF_RESOURCE_INSTANCE", "OCF_RA_VERSION_MAJOR", "OCF_RA_VERSION_MINOR"},
			wantStatus: ocf.Success, wantInstance: "default",
		},
		{
			name:       "given, it is the instance",
			environ:    []string{"OCF_RESOURCE_INSTANCE=web:2"},
			wantStatus: ocf.Success, wantInstance: "web:2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen string
			a := &testAgent{do: map[string]step{"start": func(_ context.Context, r *ocf.Resource) error {
				seen = r.Env.Instance
				return nil
			}}}
			got := runAgent(t, a, execdEnv(t, tt.environ...), "start")
			if got.status != tt.wantStatus {
				t.Errorf("exit status %v, want %v; stderr:\n%s", got.status, tt.wantStatus, got.stderr)
			}
			if seen != tt.wantInstance {
				t.Errorf("the agent saw instance %q, want %q", seen, tt.wantInstance)
			}
			checkReason(t, got, tt.wantReason)
		})
	}
}

// The rules Main applies to what an action returns (B.4 rules 7, 8, 9,
// 11; B.1).
func TestRules(t *testing.T) {
	tests := []struct {
		name       string
		action     string
		environ    []string
		agent      behaviour
		newPanics  bool
		wantStatus ocf.Status
		wantReason string // part of the exit reason; "" for none
		wantLog    string // part of what was logged (to stderr here)
	}{
		{
			name:   "a probe of a resource whose software is missing reports not running",
			action: "monitor", agent: behaviour{monitor: report(ocf.ErrInstalled, ocf.Installed("program tester-daemon is not installed"))},
			wantStatus: ocf.NotRunning, wantLog: "INFO: probe: program tester-daemon is not installed; reporting not running",
		},
		{
			name:   "a probe that finds a program missing (exec.ErrNotFound) reports not running",
			action: "monitor", agent: behaviour{monitor: report(ocf.ErrInstalled, &exec.Error{Name: "tester-daemon", Err: exec.ErrNotFound})},
			wantStatus: ocf.NotRunning,
		},
		{
			name:   "a probe with parameters invalid on this host reports not running",
			action: "monitor", agent: behaviour{monitor: report(ocf.ErrArgs, ocf.Args("interface eth9 does not exist here"))},
			wantStatus: ocf.NotRunning,
		},
		{
			name:   "a probe with a configuration invalid everywhere stays a configuration error",
			action: "monitor", agent: behaviour{monitor: report(ocf.ErrConfigured, ocf.Configured(`ip="x" is not an IP address`))},
			wantStatus: ocf.ErrConfigured, wantReason: `ip="x" is not an IP address`,
		},
		{
			name:   "a probe of a stopped resource gives no exit reason",
			action: "monitor", agent: behaviour{monitor: report(ocf.NotRunning, ocf.Stopped("state file is absent"))},
			wantStatus: ocf.NotRunning,
		},
		{
			name:   "a recurring monitor of a stopped resource gives its exit reason",
			action: "monitor", environ: []string{recurring},
			agent:      behaviour{monitor: report(ocf.NotRunning, ocf.Stopped("state file is absent"))},
			wantStatus: ocf.NotRunning, wantReason: "state file is absent",
		},
		{
			name:   "a recurring monitor keeps a missing-software failure",
			action: "monitor", environ: []string{recurring},
			agent:      behaviour{monitor: report(ocf.ErrInstalled, ocf.Installed("program tester-daemon is not installed"))},
			wantStatus: ocf.ErrInstalled, wantReason: "program tester-daemon is not installed",
		},
		{
			name:   "a monitor may report the promoted role",
			action: "monitor", environ: []string{recurring},
			agent:      behaviour{monitor: report(ocf.RunningPromoted, nil)},
			wantStatus: ocf.RunningPromoted,
		},
		{
			name:   "a monitor may report a degraded resource",
			action: "monitor", environ: []string{recurring},
			agent:      behaviour{monitor: report(ocf.Degraded, nil)},
			wantStatus: ocf.Degraded,
		},
		{
			name:   "a monitor failure without an error still gets a reason",
			action: "monitor", environ: []string{recurring},
			agent:      behaviour{monitor: report(ocf.ErrGeneric, nil)},
			wantStatus: ocf.ErrGeneric, wantReason: "monitor returned OCF_ERR_GENERIC",
		},
		{
			name:   "a monitor that returns success with an error fails with the error's status",
			action: "monitor", environ: []string{recurring},
			agent:      behaviour{monitor: report(ocf.Success, ocf.Configured("mode=fast needs count=1"))},
			wantStatus: ocf.ErrConfigured, wantReason: "mode=fast needs count=1",
		},
		{
			name:   "a monitor that returns a status outside OCF fails",
			action: "monitor", environ: []string{recurring},
			agent:      behaviour{monitor: report(ocf.Status(42), nil)},
			wantStatus: ocf.ErrGeneric, wantReason: "monitor returned 42, which is not an OCF status",
		},
		{
			name:   "a stop of a resource that is not running succeeds",
			action: "stop", agent: behaviour{do: map[string]step{"stop": fail(ocf.ErrNotRunning)}},
			wantStatus: ocf.Success,
		},
		{
			name:   "a stop that reports Stopped succeeds",
			action: "stop", agent: behaviour{do: map[string]step{"stop": fail(ocf.Stopped("already gone"))}},
			wantStatus: ocf.Success,
		},
		{
			name:   "a stop with a configuration invalid everywhere succeeds with a warning",
			action: "stop", agent: behaviour{do: map[string]step{"stop": fail(ocf.BadParameter(ocf.Configured(`ip="x" is not an IP address`)))}},
			wantStatus: ocf.Success, wantLog: `WARNING: stop: ip="x" is not an IP address; a resource with this configuration cannot have been started here`,
		},
		{
			name:   "a stop with parameters invalid on this host succeeds with a warning",
			action: "stop", agent: behaviour{do: map[string]step{"stop": fail(ocf.BadParameter(ocf.Args("interface eth9 does not exist here")))}},
			wantStatus: ocf.Success, wantLog: "WARNING: stop: interface eth9 does not exist here",
		},
		{
			name:   "a stop whose look at the system finds a configuration error fails, without banning the resource",
			action: "stop", agent: behaviour{do: map[string]step{"stop": fail(ocf.Configured("the running guest's config names another disk"))}},
			wantStatus: ocf.ErrGeneric, wantReason: "the running guest's config names another disk",
		},
		{
			name:   "a stop whose look at the system finds a local problem fails",
			action: "stop", agent: behaviour{do: map[string]step{"stop": fail(ocf.Args("interface eth9 vanished while the address was on it"))}},
			wantStatus: ocf.ErrGeneric, wantReason: "interface eth9 vanished while the address was on it",
		},
		{
			name:   "a stop with a bad parameter value succeeds with a warning",
			action: "stop", environ: []string{"OCF_RESKEY_count=many"},
			wantStatus: ocf.Success, wantLog: `WARNING: stop: parameter count="many" is not an integer`,
		},
		{
			name:   "a stop that fails is a failure",
			action: "stop", agent: behaviour{do: map[string]step{"stop": fail(ocf.Generic("umount /srv: device is busy"))}},
			wantStatus: ocf.ErrGeneric, wantReason: "umount /srv: device is busy",
		},
		{
			name:   "a notify that fails succeeds with a warning",
			action: "notify", agent: behaviour{do: map[string]step{"notify": fail(ocf.Generic("peer unreachable"))}},
			wantStatus: ocf.Success, wantLog: "WARNING: notify: peer unreachable (notify never fails)",
		},
		{
			name:   "a notify that panics succeeds",
			action: "notify", agent: behaviour{do: map[string]step{"notify": func(context.Context, *ocf.Resource) error { panic("boom") }}},
			wantStatus: ocf.Success,
		},
		{
			name:   "an action's error gives its status",
			action: "start", agent: behaviour{do: map[string]step{"start": fail(ocf.Perm("%s is not writable", "/srv"))}},
			wantStatus: ocf.ErrPerm, wantReason: "/srv is not writable",
		},
		{
			name:   "an action's plain error is a generic failure",
			action: "start", agent: behaviour{do: map[string]step{"start": fail(errors.New("no luck"))}},
			wantStatus: ocf.ErrGeneric, wantReason: "no luck",
		},
		{
			name:   "an action's error with success status is still a failure",
			action: "start", agent: behaviour{do: map[string]step{"start": fail(&ocf.Error{Reason: "half made"})}},
			wantStatus: ocf.ErrGeneric, wantReason: "half made",
		},
		{
			name:   "an action's error without a reason gets one",
			action: "start", agent: behaviour{do: map[string]step{"start": fail(&ocf.Error{Status: ocf.ErrPerm})}},
			wantStatus: ocf.ErrPerm, wantReason: "start returned OCF_ERR_PERM",
		},
		{
			name:   "an action's error with a status outside OCF fails",
			action: "start", agent: behaviour{do: map[string]step{"start": fail(ocf.Errorf(ocf.Status(42), "odd"))}},
			wantStatus: ocf.ErrGeneric, wantReason: "start returned 42, which is not an OCF status",
		},
		{
			name:   "a panic in an action fails with a reason, not Go's exit status 2",
			action: "start", agent: behaviour{do: map[string]step{"start": func(context.Context, *ocf.Resource) error { panic("boom") }}},
			wantStatus: ocf.ErrGeneric, wantReason: "internal error in Tester start: boom",
		},
		{
			name:   "asking for an undeclared parameter fails with a reason naming it",
			action: "start",
			agent: behaviour{do: map[string]step{"start": func(_ context.Context, r *ocf.Resource) error {
				r.Params.String("nonesuch")
				return nil
			}}},
			wantStatus: ocf.ErrGeneric, wantReason: `parameter "nonesuch" is not declared in its meta-data`,
		},
		{
			name:   "a panic constructing the agent fails with a reason",
			action: "start", newPanics: true,
			wantStatus: ocf.ErrGeneric, wantReason: "internal error in Tester start: constructor exploded",
		},
		{
			name:   "validate-all reports the configuration error once",
			action: "validate-all", agent: behaviour{do: map[string]step{"validate": fail(ocf.Configured("mode=fast needs count=1"))}},
			wantStatus: ocf.ErrConfigured, wantReason: "mode=fast needs count=1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &testAgent{do: tt.agent.do, monitor: tt.agent.monitor}
			def := ocf.Definition{Name: "Tester", Metadata: testerXML, New: func() ocf.Agent {
				if tt.newPanics {
					panic("constructor exploded")
				}
				return a
			}}
			got := runDefinition(t, def, execdEnv(t, tt.environ...), tt.action)
			if got.status != tt.wantStatus {
				t.Errorf("%s exited %v, want %v; stderr:\n%s", tt.action, got.status, tt.wantStatus, got.stderr)
			}
			checkReason(t, got, tt.wantReason)
			if !strings.Contains(got.stderr, tt.wantLog) {
				t.Errorf("log (stderr) lacks %q:\n%s", tt.wantLog, got.stderr)
			}
		})
	}
}

// Actions that change what runs check the configuration first (B.4,
// ocf-tester); the others must work whatever the configuration.
func TestValidateRunsFirstOnlyForActionsThatChangeWhatRuns(t *testing.T) {
	tests := []struct {
		action        string
		environ       []string
		validateFirst bool
	}{
		{action: "start", validateFirst: true},
		{action: "promote", validateFirst: true},
		{action: "migrate_from", validateFirst: true},
		{action: "reload", validateFirst: true},
		{action: "reload-agent", validateFirst: true},
		{action: "stop"},
		{action: "monitor"},
		{action: "monitor", environ: []string{recurring}},
		{action: "demote"},
		{action: "notify"},
		{action: "migrate_to"},
	}
	for _, tt := range tests {
		name := tt.action
		if len(tt.environ) > 0 {
			name += " (recurring)"
		}
		t.Run(name, func(t *testing.T) {
			method := tt.action
			if method == "reload-agent" {
				method = "reload"
			}
			a := &testAgent{}
			got := runAgent(t, a, execdEnv(t, tt.environ...), tt.action)
			want := []string{method}
			if tt.validateFirst {
				want = []string{"validate", method}
			}
			if got.status != ocf.Success || !slices.Equal(a.called(), want) {
				t.Errorf("%s exited %v and called %v, want OCF_SUCCESS and %v", tt.action, got.status, a.called(), want)
			}

			// A failed validation stops the action there.
			a = &testAgent{do: map[string]step{"validate": fail(ocf.Configured("mode=fast needs count=1"))}}
			got = runAgent(t, a, execdEnv(t, tt.environ...), tt.action)
			if tt.validateFirst {
				want, wantStatus := []string{"validate"}, ocf.ErrConfigured
				if got.status != wantStatus || !slices.Equal(a.called(), want) {
					t.Errorf("with validation failing, %s exited %v and called %v, want %v and %v",
						tt.action, got.status, a.called(), wantStatus, want)
				}
				checkReason(t, got, "mode=fast needs count=1")
			} else if !slices.Equal(a.called(), []string{method}) {
				t.Errorf("with validation failing, %s called %v, want only %v", tt.action, a.called(), method)
			}
		})
	}
}

// The exit reason Pacemaker records (B.4 rule 11).
func TestExitReason(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	tests := []struct {
		name    string
		environ []string
		err     error
		prefix  string
		want    string
	}{
		{
			name:    "uses OCF_EXIT_REASON_PREFIX",
			environ: []string{"OCF_EXIT_REASON_PREFIX=reason=>"}, prefix: "reason=>",
			err: ocf.Generic("disk full"), want: "disk full",
		},
		{
			name:    "defaults to ocf-exit-reason: without OCF_EXIT_REASON_PREFIX",
			environ: []string{"OCF_EXIT_REASON_PREFIX"}, prefix: "ocf-exit-reason:",
			err: ocf.Generic("disk full"), want: "disk full",
		},
		{
			name: "is one line", prefix: "ocf-exit-reason:",
			err: ocf.Generic("mount /dev/sdb1 failed:\n  mount: wrong fs type\n\n"), want: "mount /dev/sdb1 failed: mount: wrong fs type",
		},
		{
			name: "keeps the context wrapped around an OCF error", prefix: "ocf-exit-reason:",
			err: fmt.Errorf("stop vip: %w", ocf.Configured(`ip="x" is not an IP address`)), want: `stop vip: ip="x" is not an IP address`,
		},
		{
			name: "is cut to 128 bytes at a character boundary", prefix: "ocf-exit-reason:",
			err: ocf.Generic("a%s", long), want: "a" + long[:126],
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &testAgent{do: map[string]step{"start": func(_ context.Context, r *ocf.Resource) error {
				r.Log.Info("about to fail")
				return tt.err
			}}}
			got := runAgent(t, a, execdEnv(t, tt.environ...), "start")
			lines := strings.Split(strings.TrimSuffix(got.stderr, "\n"), "\n")
			if last := lines[len(lines)-1]; last != tt.prefix+tt.want {
				t.Errorf("last line on stderr is %q, want %q; stderr:\n%s", last, tt.prefix+tt.want, got.stderr)
			}
			if !utf8.ValidString(tt.want) || len(tt.want) > 128 {
				t.Fatalf("bad test case: want is not valid UTF-8 of at most 128 bytes")
			}
		})
	}
}

func TestMainWithoutStreamsDoesNotCrash(t *testing.T) {
	def := ocf.Definition{Name: "Tester", Metadata: testerXML, New: func() ocf.Agent { return &testAgent{} }}
	for action, want := range map[string]ocf.Status{"meta-data": ocf.Success, "frobnicate": ocf.ErrUnimplemented} {
		if got := ocf.Main(def, ocf.Invocation{Args: []string{"Tester", action}}); got != want {
			t.Errorf("%s with nil Stdout and Stderr exited %v, want %v", action, got, want)
		}
	}
}

func TestMetadataThatDoesNotParseIsAGenericFailure(t *testing.T) {
	def := ocf.Definition{Name: "Broken", Metadata: []byte("<resource-agent"), New: func() ocf.Agent { return &testAgent{} }}
	got := runDefinition(t, def, execdEnv(t, "OCF_EXIT_REASON_PREFIX=why:"), "start")
	if got.status != ocf.ErrGeneric {
		t.Errorf("exit status %v, want OCF_ERR_GENERIC", got.status)
	}
	if reason := exitReasonWith(got.stderr, "why:"); !strings.Contains(reason, "Broken: parse meta-data") {
		t.Errorf("exit reason %q, want one about parsing Broken's meta-data (with the prefix from the environment)", reason)
	}
}

func TestDeadlineSplitsTheTimeout(t *testing.T) {
	tests := []struct {
		timeout, budget, grace time.Duration
	}{
		{timeout: 20 * time.Second, budget: 18 * time.Second, grace: time.Second},
		{timeout: 200 * time.Second, budget: 195 * time.Second, grace: 2500 * time.Millisecond},
		{timeout: 2 * time.Second, budget: 1500 * time.Millisecond, grace: 250 * time.Millisecond},
		{timeout: 600 * time.Millisecond, budget: 300 * time.Millisecond, grace: 150 * time.Millisecond},
	}
	for _, tt := range tests {
		budget, grace := ocf.Deadline(tt.timeout)
		if budget != tt.budget || grace != tt.grace {
			t.Errorf("Deadline(%v) = %v, %v; want %v, %v", tt.timeout, budget, grace, tt.budget, tt.grace)
		}
		if budget+grace >= tt.timeout {
			t.Errorf("Deadline(%v): an action would be abandoned at %v, want before the timeout", tt.timeout, budget+grace)
		}
	}
}

// Where an action's timeout comes from (B.4 rule 13, B.6).
func TestActionContextDeadline(t *testing.T) {
	tests := []struct {
		name        string
		action      string
		environ     []string
		wantTimeout time.Duration
	}{
		{name: "CRM_meta_timeout", action: "start", environ: []string{"OCF_RESKEY_CRM_meta_timeout=7000"}, wantTimeout: 7 * time.Second},
		{name: "the meta-data's timeout without CRM_meta_timeout", action: "start",
			environ: []string{"OCF_RESKEY_CRM_meta_timeout"}, wantTimeout: 30 * time.Second},
		{name: "the meta-data's timeout for the monitor with this interval", action: "monitor",
			environ: []string{"OCF_RESKEY_CRM_meta_timeout", "OCF_RESKEY_CRM_meta_interval=11000"}, wantTimeout: 9 * time.Second},
		{name: "reload's timeout for reload-agent", action: "reload-agent",
			environ: []string{"OCF_RESKEY_CRM_meta_timeout"}, wantTimeout: 14 * time.Second},
		{name: "20s when the meta-data gives no timeout either", action: "demote",
			environ: []string{"OCF_RESKEY_CRM_meta_timeout"}, wantTimeout: 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var deadline time.Time
			var hasDeadline bool
			record := func(ctx context.Context, _ *ocf.Resource) error {
				deadline, hasDeadline = ctx.Deadline()
				return nil
			}
			a := &testAgent{do: map[string]step{"start": record, "reload": record, "demote": record}}
			a.monitor = func(ctx context.Context, r *ocf.Resource) (ocf.Status, error) { return ocf.Success, record(ctx, r) }
			before := time.Now()
			got := runAgent(t, a, execdEnv(t, tt.environ...), tt.action)
			after := time.Now()
			if got.status != ocf.Success || !hasDeadline {
				t.Fatalf("%s exited %v, deadline set: %v; want OCF_SUCCESS with a deadline", tt.action, got.status, hasDeadline)
			}
			budget, _ := ocf.Deadline(tt.wantTimeout)
			if deadline.Before(before.Add(budget)) || deadline.After(after.Add(budget)) {
				t.Errorf("context deadline %v after the call began, want the %v budget of a %v timeout",
					deadline.Sub(before), budget, tt.wantTimeout)
			}
		})
	}
}

// An action that ignores its context must not run into pacemaker-execd's
// SIGKILL: Main gives up first and says why (B.6).
func TestActionThatIgnoresItsDeadlineIsAbandonedBeforeTheTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	a := &testAgent{do: map[string]step{"start": func(context.Context, *ocf.Resource) error {
		<-release
		return nil
	}}}
	const timeout = 2 * time.Second
	environ := execdEnv(t, "OCF_RESKEY_CRM_meta_timeout=2000")
	began := time.Now()
	result := make(chan outcome, 1)
	go func() { result <- runAgent(t, a, environ, "start") }()
	var got outcome
	select {
	case got = <-result:
	case <-time.After(5 * timeout):
		t.Fatalf("Main still waited for the action %v after it began; pacemaker-execd kills the agent at %v", 5*timeout, timeout)
	}
	took := time.Since(began)
	t.Logf("Main returned %v after it began, with CRM_meta_timeout %v", took.Round(time.Millisecond), timeout)
	if took >= timeout {
		t.Errorf("Main returned %v after it began, want before the %v timeout at which pacemaker-execd kills the agent", took, timeout)
	}
	if got.status != ocf.ErrGeneric {
		t.Errorf("exit status %v, want OCF_ERR_GENERIC", got.status)
	}
	checkReason(t, got, "start did not finish by its deadline (1.5s of its 2s timeout) and was abandoned")
}

func TestActionThatHonoursItsDeadlineReturnsItsOwnError(t *testing.T) {
	tests := []struct {
		name       string
		err        func(ctx context.Context) error
		wantStatus ocf.Status
		wantReason string
	}{
		{
			name:       "an error that wraps the context's",
			err:        func(ctx context.Context) error { return ocf.Generic("waiting for the peer: %w", ctx.Err()) },
			wantStatus: ocf.ErrGeneric, wantReason: "waiting for the peer: context deadline exceeded",
		},
		{
			name:       "an error with its own status",
			err:        func(context.Context) error { return ocf.Args("interface eth9 never appeared") },
			wantStatus: ocf.ErrArgs, wantReason: "interface eth9 never appeared",
		},
		{
			name:       "a generic error that does not mention the deadline gets it added",
			err:        func(context.Context) error { return ocf.Generic("peer did not answer") },
			wantStatus: ocf.ErrGeneric, wantReason: "start did not finish by its deadline (500ms of its 1s timeout): peer did not answer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &testAgent{do: map[string]step{"start": func(ctx context.Context, _ *ocf.Resource) error {
				<-ctx.Done()
				return tt.err(ctx)
			}}}
			got := runAgent(t, a, execdEnv(t, "OCF_RESKEY_CRM_meta_timeout=1000"), "start")
			if got.status != tt.wantStatus {
				t.Errorf("exit status %v, want %v", got.status, tt.wantStatus)
			}
			if reason := got.exitReason(); reason != tt.wantReason {
				t.Errorf("exit reason %q, want %q", reason, tt.wantReason)
			}
		})
	}
}

func TestStatusPrintsRunningOrStopped(t *testing.T) {
	tests := []struct {
		name    string
		monitor ocf.Status
		want    string
	}{
		{"a running resource prints running", ocf.Success, "running\n"},
		{"a promoted resource prints running", ocf.RunningPromoted, "running\n"},
		{"a stopped resource prints stopped", ocf.NotRunning, "stopped\n"},
		{"a failed resource prints nothing", ocf.ErrGeneric, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runStatusAction(t, tc.monitor)
			if got != tc.want {
				t.Errorf("status printed %q on stdout, want %q", got, tc.want)
			}
		})
	}
}

// runStatusAction runs "status" on an agent whose meta-data lists it and
// whose monitor reports monitor; it returns what was printed on stdout.
func runStatusAction(t *testing.T, monitor ocf.Status) string {
	t.Helper()
	xml := strings.Replace(string(testerXML), `<action name="meta-data"`, `<action name="status" timeout="20s" />
<action name="meta-data"`, 1)
	var err error
	if monitor != ocf.Success && monitor != ocf.RunningPromoted {
		err = ocf.Errorf(monitor, "monitor says %s", monitor)
	}
	agent := &testAgent{monitor: report(monitor, err)}
	def := ocf.Definition{Name: "Tester", Metadata: []byte(xml), New: func() ocf.Agent { return agent }}
	out := runDefinition(t, def, execdEnv(t), "status")
	if out.status != monitor {
		t.Fatalf("status exited %s, want the monitor's %s", out.status, monitor)
	}
	return out.stdout
}

// A definition with meta-data parsed at build time runs without parsing
// its XML: the actions and parameters come from Spec, the meta-data
// action prints the XML as it is.
func TestMainUsesTheBuildTimeSpecInsteadOfParsing(t *testing.T) {
	spec, err := ocf.ParseMetadata(testerXML)
	if err != nil {
		t.Fatal(err)
	}
	unparsable := []byte("<resource-agent name=\"Tester\"> not closed")
	def := ocf.Definition{Name: "Tester", Metadata: unparsable, Spec: spec,
		New: func() ocf.Agent { return &testAgent{} }}
	env := []string{"OCF_RESOURCE_INSTANCE=r1", "OCF_RESKEY_name=x"}
	got := runDefinition(t, def, env, "monitor")
	if got.status != ocf.Success {
		t.Errorf("monitor with a Spec exited %v, want OCF_SUCCESS; stderr:\n%s", got.status, got.stderr)
	}
	if got := runDefinition(t, def, nil, "meta-data"); got.stdout != string(unparsable) {
		t.Errorf("meta-data printed %q, want the definition's XML %q", got.stdout, unparsable)
	}
	def.Spec = nil
	if got := runDefinition(t, def, env, "monitor"); got.status != ocf.ErrGeneric {
		t.Errorf("monitor without a Spec, of unparsable XML, exited %v, want OCF_ERR_GENERIC", got.status)
	}
}

// recordStopper is a test agent that also stops what its record names.
type recordStopper struct {
	*testAgent
	recorded func(ctx context.Context, r *ocf.Resource) error
}

func (a recordStopper) StopRecorded(ctx context.Context, r *ocf.Resource) error {
	a.run(ctx, r, "stop-recorded")
	if a.recorded != nil {
		return a.recorded(ctx, r)
	}
	return nil
}

// The stop rule: 2 or 6 from stop becomes 0 only for a failure of the
// parameters, and only after what start recorded is stopped; a failure
// found while looking at the system stays a failure.
func TestStopRule(t *testing.T) {
	badParam := fail(ocf.BadParameter(ocf.Configured(`ip="x" is not an IP address`)))
	tests := []struct {
		name       string
		environ    []string
		stop       step
		recorded   step // nil: the agent keeps no record (no RecordStopper)
		noRecorder bool
		wantStatus ocf.Status
		wantCalls  []string
		wantReason string
	}{
		{
			name:    "a parameter that does not bind: what start recorded is stopped, then success",
			environ: []string{"OCF_RESKEY_count=many"}, wantStatus: ocf.Success,
			wantCalls: []string{"stop-recorded"},
		},
		{
			name:       "a parameter that does not bind, and the recorded resource cannot be stopped: failure",
			environ:    []string{"OCF_RESKEY_count=many"},
			recorded:   fail(ocf.Generic("domain web still runs")),
			wantStatus: ocf.ErrGeneric, wantCalls: []string{"stop-recorded"},
			wantReason: `stop: parameter count="many" is not an integer, and what start recorded could not be stopped: domain web still runs`,
		},
		{
			name: "the agent's own parameter check fails: what start recorded is stopped, then success",
			stop: badParam, wantStatus: ocf.Success, wantCalls: []string{"stop", "stop-recorded"},
		},
		{
			name: "the agent's own parameter check fails and the recorded resource cannot be stopped: failure",
			stop: badParam, recorded: fail(ocf.Generic("address still on eth0")),
			wantStatus: ocf.ErrGeneric, wantCalls: []string{"stop", "stop-recorded"},
			wantReason: "address still on eth0",
		},
		{
			name: "an agent without a record: a parameter failure is success",
			stop: badParam, noRecorder: true, wantStatus: ocf.Success, wantCalls: []string{"stop"},
		},
		{
			name:       "a configuration error found on the system is a failure; the record is not consulted",
			stop:       fail(ocf.Configured("config file names a disk that is gone")),
			wantStatus: ocf.ErrGeneric, wantCalls: []string{"stop"}, wantReason: "config file names a disk that is gone",
		},
		{
			name:       "not installed found on the system stays a failure",
			stop:       fail(ocf.Installed("libvirtd answers without its qemu driver")),
			wantStatus: ocf.ErrInstalled, wantCalls: []string{"stop"}, wantReason: "libvirtd answers without its qemu driver",
		},
		{
			name:       "a stop that succeeds does not consult the record",
			wantStatus: ocf.Success, wantCalls: []string{"stop"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := &testAgent{do: map[string]step{}}
			if tt.stop != nil {
				ta.do["stop"] = tt.stop
			}
			var a ocf.Agent = recordStopper{testAgent: ta, recorded: tt.recorded}
			if tt.noRecorder {
				a = ta
			}
			got := runAgent(t, a, execdEnv(t, tt.environ...), "stop")
			if got.status != tt.wantStatus {
				t.Errorf("stop exited %v, want %v; stderr:\n%s", got.status, tt.wantStatus, got.stderr)
			}
			if !slices.Equal(ta.called(), tt.wantCalls) {
				t.Errorf("calls %q, want %q", ta.called(), tt.wantCalls)
			}
			checkReason(t, got, tt.wantReason)
		})
	}
}

// Two actions that change what runs never run at once for one resource:
// the second waits for the first (here, a start and a stop racing).
func TestActionsOfOneResourceAreSerialized(t *testing.T) {
	var inside, most atomic.Int32
	busy := func(context.Context, *ocf.Resource) error {
		n := inside.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
		inside.Add(-1)
		return nil
	}
	env := execdEnv(t)
	var wg sync.WaitGroup
	statuses := make([]ocf.Status, 4)
	for i, action := range []string{"start", "stop", "start", "stop"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := &testAgent{do: map[string]step{"start": busy, "stop": busy}}
			statuses[i] = runAgent(t, a, env, action).status
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d actions of one resource ran at once", most.Load())
	}
	for i, s := range statuses {
		if s != ocf.Success {
			t.Errorf("action %d: %v", i, s)
		}
	}
}

// While another process holds the resource's action lock (an action that
// still runs), a start gives up at its deadline without running, with a
// reason; a monitor is not held up.
func TestActionWaitsForAnotherActionUntilItsDeadline(t *testing.T) {
	env := execdEnv(t, "OCF_RESKEY_CRM_meta_timeout=2000")
	rsctmp := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HA_RSCTMP="); ok {
			rsctmp = v
		}
	}
	holder := exec.Command(filepath.Join(helperDir(t, "lock-holder"), "lock-holder"), rsctmp, "rsc1", ".action")
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	line := make([]byte, 7)
	if _, err := io.ReadFull(out, line); err != nil || string(line) != "locked\n" {
		t.Fatalf("lock holder: %q %v", line, err)
	}
	a := &testAgent{}
	got := runAgent(t, a, env, "start")
	if got.status != ocf.ErrGeneric || len(a.called()) > 0 {
		t.Errorf("start while another action runs: %v, calls %v; want OCF_ERR_GENERIC and no call", got.status, a.called())
	}
	checkReason(t, got, "start: another action of rsc1 is still running")
	if got := runAgent(t, &testAgent{}, env, "monitor"); got.status != ocf.Success {
		t.Errorf("monitor while another action runs: %v", got.status)
	}
}

// The meta-data names the roles as the caller knows them: Pacemaker 2.0's
// CIB schema has only Master and Slave (OCF 1.0), Pacemaker 3 only
// Promoted and Unpromoted.
func TestMetaDataRolesAreTheCallers(t *testing.T) {
	const current = `<resource-agent name="Tester"><version>1.1</version><actions>` +
		`<action name="monitor" interval="10s" role="Promoted"/><action name="monitor" interval="11s" role="Unpromoted"/>` +
		`<action name="start"/><action name="stop"/><action name="meta-data"/><action name="validate-all"/></actions></resource-agent>`
	const legacy = `<resource-agent name="Tester"><version>1.0</version><actions>` +
		`<action name="monitor" interval="10s" role="Master"/><action name="monitor" interval="11s" role="Slave"/>` +
		`<action name="start"/><action name="stop"/><action name="meta-data"/><action name="validate-all"/></actions></resource-agent>`
	pacemaker20 := []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=0", "OCF_RESKEY_crm_feature_set=3.6.1"}
	pacemaker21 := []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1", "OCF_RESKEY_crm_feature_set=3.16.1"}
	pacemaker30 := []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1", "OCF_RESKEY_crm_feature_set=3.20.0"}
	tests := []struct {
		name, file string
		environ    []string
		want       string
	}{
		{"Pacemaker 2.0 gets OCF 1.0 roles", current, pacemaker20, legacy},
		{"Pacemaker 2.1 gets the file's current roles", current, pacemaker21, current},
		{"Pacemaker 3.0 gets the file's current roles", current, pacemaker30, current},
		{"a person gets the file's current roles", current, nil, current},
		{"Pacemaker 3.0 gets current roles from a file with the old ones", legacy, pacemaker30, strings.ReplaceAll(current, "<version>1.1</version>", "<version>1.0</version>")},
		{"Pacemaker 2.0 gets a file with the old roles as it is", legacy, pacemaker20, legacy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := ocf.Definition{Name: "Tester", Metadata: []byte(tt.file), New: func() ocf.Agent { return &testAgent{} }}
			got := runDefinition(t, def, tt.environ, "meta-data")
			if got.status != ocf.Success || got.stdout != tt.want {
				t.Errorf("meta-data exited %v and printed\n%s\nwant\n%s", got.status, got.stdout, tt.want)
			}
		})
	}
}

// A monitor per role in meta-data with the old names still gets its own
// timeout: the roles are read as the current ones.
func TestMetadataReadsOldRoleNames(t *testing.T) {
	md, err := ocf.ParseMetadata([]byte(`<resource-agent name="T"><actions><action name="monitor" role="Master"/><action name="monitor" role="Slave"/></actions></resource-agent>`))
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{md.Actions[0].Role, md.Actions[1].Role}; !slices.Equal(got, []string{"Promoted", "Unpromoted"}) {
		t.Errorf("roles read as %q, want Promoted and Unpromoted", got)
	}
}
