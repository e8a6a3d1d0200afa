package ocf_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
)

func testerMetadata(t *testing.T) *ocf.Metadata {
	t.Helper()
	md, err := ocf.ParseMetadata(testerXML)
	if err != nil {
		t.Fatalf("parse testdata/Tester.xml: %v", err)
	}
	return md
}

func TestParseMetadata(t *testing.T) {
	md := testerMetadata(t)
	if md.Name != "Tester" || md.Version != "1.1" || md.ShortDesc != "Test agent of package ocf" {
		t.Errorf("name, version, shortdesc = %q, %q, %q; want Tester, 1.1, Test agent of package ocf", md.Name, md.Version, md.ShortDesc)
	}
	wantParams := []ocf.ParamSpec{
		{Name: "name", Type: "string", Required: true, Unique: true},
		{Name: "count", Type: "integer", Default: "3"},
		{Name: "enabled", Type: "boolean", Default: "false"},
		{Name: "wait", Type: "time", Default: "20s"},
		{Name: "mode", Type: "select", Default: "safe", Options: []string{"fast", "safe"}},
		{Name: "state", Type: "string", Default: "${HA_RSCTMP}/Tester-${OCF_RESOURCE_INSTANCE}.state"},
		{Name: "pidfile", Type: "string", Default: "${HA_VARRUN}/tester.pid"},
	}
	if !reflect.DeepEqual(md.Parameters, wantParams) {
		t.Errorf("parameters:\n got  %+v\n want %+v", md.Parameters, wantParams)
	}
	wantActions := []ocf.ActionSpec{
		{Name: "start", Timeout: 30 * time.Second},
		{Name: "stop", Timeout: 25 * time.Second},
		{Name: "monitor", Timeout: 15 * time.Second, Interval: 10 * time.Second, Role: "Promoted"},
		{Name: "monitor", Timeout: 9 * time.Second, Interval: 11 * time.Second, Role: "Unpromoted"},
		{Name: "promote", Timeout: 12 * time.Second},
		{Name: "demote"},
		{Name: "notify", Timeout: 5 * time.Second},
		{Name: "migrate_to", Timeout: 40 * time.Second},
		{Name: "migrate_from", Timeout: 40 * time.Second},
		{Name: "reload", Timeout: 14 * time.Second},
		{Name: "meta-data", Timeout: 5 * time.Second},
		{Name: "validate-all", Timeout: 30 * time.Second},
	}
	if !reflect.DeepEqual(md.Actions, wantActions) {
		t.Errorf("actions:\n got  %+v\n want %+v", md.Actions, wantActions)
	}
	if !md.HasAction("notify") || md.HasAction("status") {
		t.Errorf("HasAction(notify), HasAction(status) = %v, %v; want true, false", md.HasAction("notify"), md.HasAction("status"))
	}
}

func TestParseMetadataRejects(t *testing.T) {
	tests := []struct {
		name, xml, wantErr string
	}{
		{"text that is not XML", "<resource-agent", "parse meta-data"},
		{"XML without <resource-agent>", "<agent/>", "no <resource-agent> element"},
		{"an action timeout that is no time", `<resource-agent name="x"><actions><action name="start" timeout="soon"/></actions></resource-agent>`,
			`action start timeout: "soon" is not a duration`},
		{"an action interval that is no time", `<resource-agent name="x"><actions><action name="monitor" timeout="20s" interval="often"/></actions></resource-agent>`,
			`action monitor interval: "often" is not a duration`},
	}
	for _, tt := range tests {
		_, err := ocf.ParseMetadata([]byte(tt.xml))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestImplementedListsTheActionsOfTheGoType(t *testing.T) {
	all := ocf.Implemented(&testAgent{})
	want := []string{"start", "stop", "monitor", "validate-all", "meta-data", "promote", "demote", "notify", "migrate_to", "migrate_from", "reload"}
	if !slices.Equal(all, want) {
		t.Errorf("Implemented(testAgent) = %v, want %v", all, want)
	}
	basic := ocf.Implemented(basicAgent{})
	if want := []string{"start", "stop", "monitor", "validate-all", "meta-data"}; !slices.Equal(basic, want) {
		t.Errorf("Implemented(basicAgent) = %v, want %v", basic, want)
	}
}

func TestBindAppliesDefaults(t *testing.T) {
	md := testerMetadata(t)
	env := ocf.ReadEnv([]string{"HA_RSCTMP=/srv/state", "HA_VARRUN=/srv/run", "OCF_RESOURCE_INSTANCE=rsc1", "OCF_RA_VERSION_MAJOR=1"}, "Tester", "start")
	p, err := md.Bind(map[string]string{"name": "web", "count": "", "colour": "blue"}, env)
	if err != nil {
		t.Fatalf("Bind: %v, want no error (an unknown key and an empty value are fine)", err)
	}
	got := []struct {
		what      string
		got, want any
	}{
		{`String("name")`, p.String("name"), "web"},
		{`IsSet("name")`, p.IsSet("name"), true},
		{`Int("count") (empty counts as unset)`, p.Int("count"), 3},
		{`IsSet("count")`, p.IsSet("count"), false},
		{`Bool("enabled")`, p.Bool("enabled"), false},
		{`Duration("wait")`, p.Duration("wait"), 20 * time.Second},
		{`String("mode")`, p.String("mode"), "safe"},
		{`String("state")`, p.String("state"), "/srv/state/Tester-rsc1.state"},
		{`String("pidfile")`, p.String("pidfile"), "/srv/run/tester.pid"},
	}
	for _, g := range got {
		if !reflect.DeepEqual(g.got, g.want) {
			t.Errorf("%s = %#v, want %#v", g.what, g.got, g.want)
		}
	}
}

func TestBindTakesWellFormedValues(t *testing.T) {
	p, err := testerMetadata(t).Bind(map[string]string{
		"name": "web", "count": " 12 ", "enabled": "yes", "wait": "1.5min", "mode": "fast",
	}, nil)
	if err != nil {
		t.Fatalf("Bind: %v, want no error", err)
	}
	if p.Int("count") != 12 || !p.Bool("enabled") || p.Duration("wait") != 90*time.Second || p.String("mode") != "fast" || !p.IsSet("wait") {
		t.Errorf("count, enabled, wait, mode = %d, %v, %v, %q; want 12, true, 1m30s, fast",
			p.Int("count"), p.Bool("enabled"), p.Duration("wait"), p.String("mode"))
	}
	if got := p.String("state"); got != "/run/resource-agents/Tester-default.state" {
		t.Errorf("state default with no environment = %q, want the standard state directory and instance default", got)
	}
}

// Every bad value is a configuration error that names the parameter and
// the value, and the agent never runs (B.4 rule 15).
func TestBindRejectsBadValues(t *testing.T) {
	tests := []struct {
		name       string
		params     []string
		wantReason string
	}{
		{"a required parameter missing", []string{"OCF_RESKEY_name"}, "required parameter name is not set"},
		{"a required parameter empty", []string{"OCF_RESKEY_name="}, "required parameter name is not set"},
		{"an integer that is a word", []string{"OCF_RESKEY_count=many"}, `parameter count="many" is not an integer`},
		{"an integer with a fraction", []string{"OCF_RESKEY_count=1.5"}, `parameter count="1.5" is not an integer`},
		{"an integer too large", []string{"OCF_RESKEY_count=99999999999999999999"}, `parameter count="99999999999999999999" is not an integer`},
		{"a boolean that is neither", []string{"OCF_RESKEY_enabled=maybe"}, `parameter enabled="maybe" is not a boolean ocf_is_true knows (yes, true, 1, on; no, false, 0, off)`},
		{"a boolean that looks true but ocf_is_true reads as false", []string{"OCF_RESKEY_enabled=Yes"}, `parameter enabled="Yes" is not a boolean ocf_is_true knows (yes, true, 1, on; no, false, 0, off)`},
		{"a time that is a word", []string{"OCF_RESKEY_wait=soon"}, `parameter wait="soon" is not a time (e.g. 20s)`},
		{"a negative time", []string{"OCF_RESKEY_wait=-5"}, `parameter wait="-5" is not a time (e.g. 20s)`},
		{"a time that is NaN", []string{"OCF_RESKEY_wait=NaN"}, `parameter wait="NaN" is not a time (e.g. 20s)`},
		{"a time that is infinite", []string{"OCF_RESKEY_wait=Inf"}, `parameter wait="Inf" is not a time (e.g. 20s)`},
		{"a time with an unknown unit", []string{"OCF_RESKEY_wait=5 fortnights"}, `parameter wait="5 fortnights" is not a time (e.g. 20s)`},
		{"a select value not offered", []string{"OCF_RESKEY_mode=reckless"}, `parameter mode="reckless" is not one of fast, safe`},
		{"a select value in the wrong case", []string{"OCF_RESKEY_mode=FAST"}, `parameter mode="FAST" is not one of fast, safe`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &testAgent{}
			got := runAgent(t, a, execdEnv(t, tt.params...), "start")
			if got.status != ocf.ErrConfigured {
				t.Errorf("start exited %v, want OCF_ERR_CONFIGURED", got.status)
			}
			if reason := got.exitReason(); reason != tt.wantReason {
				t.Errorf("exit reason %q, want %q", reason, tt.wantReason)
			}
			if len(a.called()) > 0 {
				t.Errorf("the agent ran %v; with a bad parameter nothing may run", a.called())
			}
		})
	}
}

func TestParamsPanicOnAnUndeclaredName(t *testing.T) {
	p, err := testerMetadata(t).Bind(map[string]string{"name": "web"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	accessors := map[string]func(string){
		"String":   func(n string) { p.String(n) },
		"Int":      func(n string) { p.Int(n) },
		"Bool":     func(n string) { p.Bool(n) },
		"Duration": func(n string) { p.Duration(n) },
		"IsSet":    func(n string) { p.IsSet(n) },
	}
	for name, get := range accessors {
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			get("colour")
			return "no panic"
		}()
		if want := `Tester: parameter "colour" is not declared in its meta-data`; msg != want {
			t.Errorf("%s(colour) panicked with %q, want %q", name, msg, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
	}{
		{"20", 20 * time.Second},
		{"20s", 20 * time.Second},
		{"20sec", 20 * time.Second},
		{"20S", 20 * time.Second},
		{"10 s", 10 * time.Second},
		{" 30s ", 30 * time.Second},
		{"0", 0},
		{"500ms", 500 * time.Millisecond},
		{"500msec", 500 * time.Millisecond},
		{"250us", 250 * time.Microsecond},
		{"2m", 2 * time.Minute},
		{"2min", 2 * time.Minute},
		{"1.5m", 90 * time.Second},
		{"1h", time.Hour},
		{"1hr", time.Hour},
		{"1d", 24 * time.Hour},
		{"1.5 MIN", 90 * time.Second},
		{"007", 7 * time.Second},
	}
	for _, tt := range good {
		if got, err := ocf.ParseDuration(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "s", "soon", "-5", "-5s", "NaN", "Inf", "+Inf", "1e3", "0x10", "1.5.2", ".5", "5 fortnights", "5 s s", "99999999999h",
		"5  s", "5s ms", "5.s", "5.", "s5", "5s5", "5_s", "5\ts", "5é"} {
		if got, err := ocf.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

// A boolean ocf_is_true does not know ("Yes", "y", "maybe") reads as
// false, as the reference agents read it; start refuses it (it would
// silently turn a feature off, or the operator meant it on), but a probe,
// a monitor or a stop runs, so that what runs is still seen and stopped
// on every node, and logs why.
func TestUnknownBooleanIsFalseOutsideActionsThatChangeWhatRuns(t *testing.T) {
	for _, v := range []string{"Yes", "y", "On", "maybe", " yes "} {
		for _, tt := range []struct {
			action  string
			environ []string
		}{
			{"monitor", nil},
			{"monitor", []string{recurring}},
			{"stop", nil},
		} {
			var got bool
			a := &testAgent{do: map[string]step{"stop": func(_ context.Context, r *ocf.Resource) error {
				got = r.Params.Bool("enabled")
				return nil
			}}, monitor: func(_ context.Context, r *ocf.Resource) (ocf.Status, error) {
				got = r.Params.Bool("enabled")
				return ocf.Success, nil
			}}
			out := runAgent(t, a, execdEnv(t, append(tt.environ, "OCF_RESKEY_enabled="+v)...), tt.action)
			if out.status != ocf.Success || got {
				t.Errorf("%s %v with enabled=%q: status %v, enabled read as %v; want success and false", tt.action, tt.environ, v, out.status, got)
			}
			if !strings.Contains(out.stderr, "read as false") {
				t.Errorf("%s with enabled=%q logged no warning:\n%s", tt.action, v, out.stderr)
			}
		}
	}
	for _, v := range []string{"yes", "true", "1", "YES", "TRUE", "True", "ja", "on", "ON"} {
		var got bool
		a := &testAgent{do: map[string]step{"start": func(_ context.Context, r *ocf.Resource) error {
			got = r.Params.Bool("enabled")
			return nil
		}}}
		if out := runAgent(t, a, execdEnv(t, "OCF_RESKEY_enabled="+v), "start"); out.status != ocf.Success || !got {
			t.Errorf("start with enabled=%q: %v, enabled=%v; want success and true", v, out.status, got)
		}
	}
}
