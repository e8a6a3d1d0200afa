package ocf_test

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
)

// meta turns "name=value" pairs into OCF_RESKEY_CRM_meta_ variables.
func meta(pairs ...string) []string {
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = "OCF_RESKEY_CRM_meta_" + p
	}
	return out
}

// What crm_resource --validate hands an agent, as dumped on the test
// machine (drbd-ocf.md B.2).
func TestReadEnvOfCrmResourceValidate(t *testing.T) {
	environ := []string{
		"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1", "OCF_ROOT=/usr/lib/ocf",
		"OCF_RESOURCE_INSTANCE=test", "OCF_RESOURCE_TYPE=envdump", "OCF_RESOURCE_PROVIDER=zzresearch",
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:", "OCF_OUTPUT_FORMAT=xml",
		"OCF_RESKEY_foo=bar", "OCF_RESKEY_CRM_meta_timeout=20000", "OCF_RESKEY_crm_feature_set=3.16.1",
		"OCF_TRACE_FILE=/dev/stderr", "OCF_CHECK_LEVEL=10",
		"HA_debug=0", "HA_logfacility=none", "PCMK_logfacility=none", "PCMK_service=crm_resource",
	}
	e := ocf.ReadEnv(environ, "Tester", "validate-all")
	got := []struct {
		field     string
		got, want any
	}{
		{"Action", e.Action, "validate-all"},
		{"Type", e.Type, "envdump"},
		{"Provider", e.Provider, "zzresearch"},
		{"Instance", e.Instance, "test"},
		{"Root", e.Root, "/usr/lib/ocf"},
		{"RAVersionMajor", e.RAVersionMajor, 1},
		{"RAVersionMinor", e.RAVersionMinor, 1},
		{"FeatureSet", e.FeatureSet, "3.16.1"},
		{"ExitReasonPrefix", e.ExitReasonPrefix, "ocf-exit-reason:"},
		{"OutputFormat", e.OutputFormat, "xml"},
		{"CheckLevel", e.CheckLevel, 10},
		{"Timeout", e.Timeout, 20 * time.Second},
		{"Interval", e.Interval, time.Duration(0)},
		{"Params[foo]", e.Params["foo"], "bar"},
		{"Meta[timeout]", e.Meta["timeout"], "20000"},
		{"TraceFile", e.TraceFile, "/dev/stderr"},
		{"TraceRA", e.TraceRA, false},
		{"Service", e.Service, "crm_resource"},
		{"Log", e.Log, ocf.LogConfig{}},
		{"Clone", e.Clone, ocf.CloneInfo{}},
		{"Environ", e.Environ, environ},
	}
	for _, g := range got {
		if !reflect.DeepEqual(g.got, g.want) {
			t.Errorf("Env.%s = %#v, want %#v", g.field, g.got, g.want)
		}
	}
	if _, ok := e.Params["CRM_meta_timeout"]; ok {
		t.Errorf("Params holds CRM_meta_timeout; meta attributes belong in Meta only")
	}
}

func TestReadEnvDefaults(t *testing.T) {
	e := ocf.ReadEnv(nil, "Tester", "start")
	got := []struct {
		field     string
		got, want any
	}{
		{"Type (the agent's own name)", e.Type, "Tester"},
		{"Instance (init-script mode)", e.Instance, "default"},
		{"Root", e.Root, "/usr/lib/ocf"},
		{"ExitReasonPrefix", e.ExitReasonPrefix, "ocf-exit-reason:"},
		{"RscTmp", e.RscTmp, "/run/resource-agents"},
		{"VarRun", e.VarRun, "/var/run"},
		{"SbinDir", e.SbinDir, "/usr/sbin"},
		{"CheckLevel", e.CheckLevel, 0},
		{"Timeout", e.Timeout, time.Duration(0)},
		{"TesterNoBinaries", e.TesterNoBinaries, false},
	}
	for _, g := range got {
		if !reflect.DeepEqual(g.got, g.want) {
			t.Errorf("with an empty environment, Env.%s = %#v, want %#v", g.field, g.got, g.want)
		}
	}
	e = ocf.ReadEnv([]string{"HA_RSCTMP=/srv/state", "HA_VARRUN=/srv/run", "HA_SBIN_DIR=/opt/sbin", "OCF_TESTER_FAIL_HAVE_BINARY=1"}, "Tester", "start")
	if e.RscTmp != "/srv/state" || e.VarRun != "/srv/run" || e.SbinDir != "/opt/sbin" || !e.TesterNoBinaries {
		t.Errorf("RscTmp, VarRun, SbinDir, TesterNoBinaries = %q, %q, %q, %v; want the environment's /srv/state, /srv/run, /opt/sbin, true",
			e.RscTmp, e.VarRun, e.SbinDir, e.TesterNoBinaries)
	}
}

func TestReadEnvProbeAndInterval(t *testing.T) {
	tests := []struct {
		name         string
		action       string
		environ      []string
		wantInterval time.Duration
		wantProbe    bool
	}{
		{"a monitor without CRM_meta_interval is a probe", "monitor",
			meta("clone=0", "clone_max=2", "on_node=f20node2", "op_target_rc=7", "timeout=20000"), 0, true},
		{"a monitor with CRM_meta_interval=0 is a probe", "monitor", meta("interval=0"), 0, true},
		{"a monitor with an interval is recurring", "monitor", meta("interval=10000"), 10 * time.Second, false},
		{"a start is no probe", "start", nil, 0, false},
	}
	for _, tt := range tests {
		e := ocf.ReadEnv(tt.environ, "Tester", tt.action)
		if e.Interval != tt.wantInterval || e.IsProbe() != tt.wantProbe {
			t.Errorf("%s: Interval %v, IsProbe %v; want %v, %v", tt.name, e.Interval, e.IsProbe(), tt.wantInterval, tt.wantProbe)
		}
	}
}

func TestReadEnvCloneMeta(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    ocf.CloneInfo
	}{
		{
			name:    "not a clone",
			environ: meta("timeout=20000"),
			want:    ocf.CloneInfo{},
		},
		{
			name: "a recurring monitor of a promotable clone (Pacemaker's scheduler test a-demote-then-b-migrate)",
			environ: meta("clone=0", "clone_max=2", "clone_node_max=1", "globally_unique=false", "interval=10000",
				"master_max=2", "master_node_max=1", "name=monitor", "notify=true", "on_node=node1", "on_node_uuid=node1",
				"promoted_max=2", "promoted_node_max=1", "role=Unpromoted", "timeout=20000"),
			want: ocf.CloneInfo{IsClone: true, Number: 0, Max: 2, NodeMax: 1, Promotable: true,
				PromotedMax: 2, PromotedNodeMax: 1, GloballyUnique: false, Notify: true},
		},
		{
			name:    "crm_resource --force-check of a promotable clone",
			environ: meta("clone=1", "clone_max=2", "globally_unique=false", "notify=true", "promotable=true", "promoted_max=1"),
			want:    ocf.CloneInfo{IsClone: true, Number: 1, Max: 2, Promotable: true, PromotedMax: 1, Notify: true},
		},
		{
			name:    "legacy master_max alone makes a promotable clone",
			environ: meta("clone_max=3", "master_max=1", "master_node_max=1"),
			want:    ocf.CloneInfo{IsClone: true, Max: 3, Promotable: true, PromotedMax: 1, PromotedNodeMax: 1},
		},
		{
			name:    "promotable=true alone makes a promotable clone",
			environ: meta("clone_max=2", "promotable=true"),
			want:    ocf.CloneInfo{IsClone: true, Max: 2, Promotable: true},
		},
		{
			name:    "a globally unique clone",
			environ: meta("clone=3", "clone_max=4", "clone_node_max=2", "globally_unique=true"),
			want:    ocf.CloneInfo{IsClone: true, Number: 3, Max: 4, NodeMax: 2, GloballyUnique: true},
		},
	}
	for _, tt := range tests {
		if got := ocf.ReadEnv(tt.environ, "Tester", "monitor").Clone; got != tt.want {
			t.Errorf("%s:\n got  %+v\n want %+v", tt.name, got, tt.want)
		}
	}
}

func TestReadEnvNotify(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    ocf.NotifyInfo
	}{
		{
			name: `a post-promote notification; " " is an empty list (Pacemaker's a-demote-then-b-migrate)`,
			environ: meta("notify_type=post", "notify_operation=promote", "notify_key_type=post", "notify_key_operation=promoted",
				"notify_active_resource=rsc1:0 rsc1:1", "notify_active_uname=node1 node2", "notify_inactive_resource= ",
				"notify_promote_resource=rsc1:1", "notify_promote_uname=node2", "notify_demote_resource=rsc1:0",
				"notify_demote_uname=node1", "notify_promoted_resource=rsc1:0", "notify_promoted_uname=node1",
				"notify_master_resource=rsc1:0", "notify_master_uname=node1", "notify_unpromoted_resource=rsc1:1",
				"notify_unpromoted_uname=node2", "notify_slave_resource=rsc1:1", "notify_slave_uname=node2",
				"notify_start_resource= ", "notify_start_uname= ", "notify_stop_resource= ", "notify_stop_uname= ",
				"notify_all_uname=node1 node2", "notify_available_uname=node1 node2"),
			want: ocf.NotifyInfo{
				Type: "post", Operation: "promote",
				ActiveResource: []string{"rsc1:0", "rsc1:1"}, ActiveUname: []string{"node1", "node2"},
				PromoteResource: []string{"rsc1:1"}, PromoteUname: []string{"node2"},
				DemoteResource: []string{"rsc1:0"}, DemoteUname: []string{"node1"},
				PromotedResource: []string{"rsc1:0"}, PromotedUname: []string{"node1"},
				UnpromotedResource: []string{"rsc1:1"}, UnpromotedUname: []string{"node2"},
				AllUname: []string{"node1", "node2"}, AvailableUname: []string{"node1", "node2"},
			},
		},
		{
			name: "only the legacy master and slave names (Pacemaker before 2.1)",
			environ: meta("notify_type=pre", "notify_operation=demote", "notify_master_resource=db:0",
				"notify_master_uname=alpha", "notify_slave_resource=db:1 db:2", "notify_slave_uname=beta gamma"),
			want: ocf.NotifyInfo{
				Type: "pre", Operation: "demote",
				PromotedResource: []string{"db:0"}, PromotedUname: []string{"alpha"},
				UnpromotedResource: []string{"db:1", "db:2"}, UnpromotedUname: []string{"beta", "gamma"},
			},
		},
		{
			name: "a start notification with stops and starts",
			environ: meta("notify_type=pre", "notify_operation=start", "notify_start_resource=rsc:2", "notify_start_uname=node3",
				"notify_stop_resource=rsc:1", "notify_stop_uname=node2", "notify_inactive_resource=rsc:1 rsc:2"),
			want: ocf.NotifyInfo{
				Type: "pre", Operation: "start",
				StartResource: []string{"rsc:2"}, StartUname: []string{"node3"},
				StopResource: []string{"rsc:1"}, StopUname: []string{"node2"},
				InactiveResource: []string{"rsc:1", "rsc:2"},
			},
		},
	}
	for _, tt := range tests {
		got := ocf.ReadEnv(tt.environ, "Tester", "notify").Notify
		if !reflect.DeepEqual(emptyListsNil(got), tt.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", tt.name, got, tt.want)
		}
	}
}

// emptyListsNil makes every empty list nil, so that a test need not care
// whether an empty list is nil.
func emptyListsNil(n ocf.NotifyInfo) ocf.NotifyInfo {
	v := reflect.ValueOf(&n).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() == 0 {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return n
}

func TestReadEnvCheckLevel(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    int
	}{
		{"unset is 0", nil, 0},
		{"OCF_CHECK_LEVEL, as Pacemaker passes it", []string{"OCF_CHECK_LEVEL=10"}, 10},
		{"OCF_RESKEY_OCF_CHECK_LEVEL when OCF_CHECK_LEVEL is unset", []string{"OCF_RESKEY_OCF_CHECK_LEVEL=20"}, 20},
		{"OCF_CHECK_LEVEL wins over OCF_RESKEY_OCF_CHECK_LEVEL", []string{"OCF_CHECK_LEVEL=10", "OCF_RESKEY_OCF_CHECK_LEVEL=20"}, 10},
	}
	for _, tt := range tests {
		if got := ocf.ReadEnv(tt.environ, "Tester", "monitor").CheckLevel; got != tt.want {
			t.Errorf("%s: CheckLevel = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestReadEnvLogConfig(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    ocf.LogConfig
	}{
		{"nothing set: stderr only", nil, ocf.LogConfig{}},
		{"pacemaker-execd with a log file and debug",
			[]string{"HA_LOGFACILITY=daemon", "HA_LOGFILE=/var/log/pacemaker/pacemaker.log", "HA_DEBUGLOG=/var/log/pacemaker/pacemaker.log", "HA_debug=1"},
			ocf.LogConfig{Facility: "daemon", File: "/var/log/pacemaker/pacemaker.log", DebugLog: "/var/log/pacemaker/pacemaker.log", Debug: true}},
		{"the lower-case mirrors Pacemaker also sets",
			[]string{"HA_logfacility=local5", "HA_logfile=/var/log/ha.log", "HA_debuglog=/var/log/ha-debug.log"},
			ocf.LogConfig{Facility: "local5", File: "/var/log/ha.log", DebugLog: "/var/log/ha-debug.log"}},
		{"HA_logfacility=none is no syslog", []string{"HA_logfacility=none", "PCMK_logfacility=none"}, ocf.LogConfig{}},
		{"HA_LOGFACILITY=none wins over a lower-case facility", []string{"HA_LOGFACILITY=none", "HA_logfacility=daemon"}, ocf.LogConfig{}},
		{"a log file named none is no log file", []string{"HA_logfile=none", "HA_DEBUGLOG=none"}, ocf.LogConfig{}},
		{"HA_debug=0 is off", []string{"HA_debug=0"}, ocf.LogConfig{}},
		{"HA_debug=no is off", []string{"HA_debug=no"}, ocf.LogConfig{}},
		{"HA_debug=2 is on, as in ocf_log", []string{"HA_debug=2"}, ocf.LogConfig{Debug: true}},
		{"HA_debug=yes is on", []string{"HA_debug=yes"}, ocf.LogConfig{Debug: true}},
		{"OCF_TRACE_RA turns debug on", []string{"OCF_TRACE_RA=1"}, ocf.LogConfig{Debug: true}},
		{"OCF_RESKEY_trace_ra turns debug on", []string{"OCF_RESKEY_trace_ra=true"}, ocf.LogConfig{Debug: true}},
	}
	for _, tt := range tests {
		if got := ocf.ReadEnv(tt.environ, "Tester", "start").Log; got != tt.want {
			t.Errorf("%s (%s):\n got  %+v\n want %+v", tt.name, strings.Join(tt.environ, " "), got, tt.want)
		}
	}
}

// crm_feature_set decides between crm_attribute --promotion and
// crm_master (Pacemaker 2.1.0 is 3.10.0; 2.0.5 is 3.6.1; 2.1.5 is 3.16.1).
func TestFeatureSetAtLeast(t *testing.T) {
	tests := []struct {
		have, want string
		atLeast    bool
	}{
		{"3.9.5", "3.10.0", false},
		{"3.6.1", "3.10.0", false},
		{"3.10.0", "3.10.0", true},
		{"3.16.1", "3.10.0", true},
		{"3.20.0", "3.10.0", true},
		{"4.0", "3.10.0", true},
		{"3.10", "3.10.0", true},
		{"2.99.99", "3.10.0", false},
		{"", "3.10.0", false},
	}
	for _, tt := range tests {
		e := ocf.ReadEnv([]string{"OCF_RESKEY_crm_feature_set=" + tt.have}, "Tester", "start")
		if got := e.FeatureSetAtLeast(tt.want); got != tt.atLeast {
			t.Errorf("feature set %q at least %q = %v, want %v", tt.have, tt.want, got, tt.atLeast)
		}
	}
}

func TestIsTrue(t *testing.T) {
	for _, v := range []string{"yes", "true", "1", "on", "ja", "YES", "TRUE", "True", "ON"} {
		if !ocf.IsTrue(v) {
			t.Errorf("IsTrue(%q) = false, want true as ocf_is_true", v)
		}
	}
	// ocf_is_true is a case pattern: these are false in the reference.
	for _, v := range []string{"no", "false", "0", "off", "", "nein", "maybe", "2", "Yes", "y", "Y", "On", "tRUE", " yes ", "yes "} {
		if ocf.IsTrue(v) {
			t.Errorf("IsTrue(%q) = true, want false", v)
		}
	}
}

// IsTrue answers as resource-agents' own ocf_is_true does, value for
// value (the installed ocf-shellfuncs, run by sh).
func TestIsTrueAgreesWithOCFShellfuncs(t *testing.T) {
	const shellfuncs = "/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs"
	testenv.RequireFile(t, shellfuncs)
	sh := testenv.RequireTool(t, "sh")
	for _, v := range []string{"yes", "true", "1", "YES", "TRUE", "True", "ja", "on", "ON",
		"Yes", "y", "Y", "On", "oN", "tRUE", "JA", "Ja", " yes", "yes ", "no", "false", "0", "off", "", "maybe", "2", "-1", "nein"} {
		// The value is an argument of the script, never part of it.
		err := exec.Command(sh, "-c", `. "$1" >/dev/null 2>&1; ocf_is_true "$2"`, "sh", shellfuncs, v).Run()
		want := err == nil
		if got := ocf.IsTrue(v); got != want {
			t.Errorf("IsTrue(%q) = %v; ocf_is_true says %v", v, got, want)
		}
	}
}

// Pacemaker 2.0 names the roles Master and Slave, 2.1 and 3 Promoted and
// Unpromoted; agents see the current names either way.
func TestRoleIsNamedAsOCF11Does(t *testing.T) {
	for meta, want := range map[string]string{
		"Master": "Promoted", "Slave": "Unpromoted", "Promoted": "Promoted", "Unpromoted": "Unpromoted",
		"Started": "Started", "": "",
	} {
		env := []string{"OCF_RESOURCE_INSTANCE=r"}
		if meta != "" {
			env = append(env, "OCF_RESKEY_CRM_meta_role="+meta)
		}
		if got := ocf.ReadEnv(env, "A", "monitor").Role; got != want {
			t.Errorf("CRM_meta_role=%q: Role = %q, want %q", meta, got, want)
		}
	}
}

func TestLegacyRolesFollowTheCallersOCFVersionThenItsFeatureSet(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    bool
	}{
		{"Pacemaker 2.0.5: OCF 1.0, feature set 3.6.1", []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=0", "OCF_RESKEY_crm_feature_set=3.6.1"}, true},
		{"Pacemaker 2.1.5: OCF 1.1, feature set 3.16.1", []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1", "OCF_RESKEY_crm_feature_set=3.16.1"}, false},
		{"Pacemaker 3.0: OCF 1.1, feature set 3.20.0", []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1", "OCF_RESKEY_crm_feature_set=3.20.0"}, false},
		{"OCF 1.0 without a feature set (meta-data from Pacemaker 2.0)", []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=0"}, true},
		{"the OCF version decides over the feature set", []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1", "OCF_RESKEY_crm_feature_set=3.6.1"}, false},
		{"a feature set before 3.10.0 alone", []string{"OCF_RESKEY_crm_feature_set=3.9.5"}, true},
		{"feature set 3.10.0 alone (Pacemaker 2.1.0)", []string{"OCF_RESKEY_crm_feature_set=3.10.0"}, false},
		{"neither (a person, ocf-tester)", nil, false},
	}
	for _, tt := range tests {
		if got := ocf.ReadEnv(tt.environ, "A", "meta-data").LegacyRoles(); got != tt.want {
			t.Errorf("%s: LegacyRoles() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
