package ocf

import (
	"strconv"
	"strings"
	"time"
)

// Env is everything Pacemaker (or ocf-tester, or crm_resource) tells an
// agent through its environment, read once. Reference: drbd-ocf.md B.2.
type Env struct {
	Action   string // argv[1]
	Type     string // OCF_RESOURCE_TYPE, or the agent's own name
	Provider string // OCF_RESOURCE_PROVIDER
	// Instance is OCF_RESOURCE_INSTANCE: "rsc", or "rsc:N" for unique
	// clones. Missing, it is "RESOURCE_ID" for meta-data and "default"
	// without OCF_RA_VERSION_MAJOR (init-script mode), as ocf-shellfuncs
	// has it; otherwise "", which Main refuses with ErrArgs.
	Instance string
	Root     string // OCF_ROOT

	RAVersionMajor, RAVersionMinor int
	FeatureSet                     string // OCF_RESKEY_crm_feature_set
	ExitReasonPrefix               string // OCF_EXIT_REASON_PREFIX
	OutputFormat                   string // OCF_OUTPUT_FORMAT: text or xml
	CheckLevel                     int    // OCF_CHECK_LEVEL

	Interval time.Duration // CRM_meta_interval; 0 when unset (a probe)
	Timeout  time.Duration // CRM_meta_timeout; 0 when unset
	// Role is the role the operation is for (CRM_meta_role), with
	// Pacemaker 2.0's names (Master, Slave) given as Pacemaker 2.1 and 3
	// name them: Promoted, Unpromoted, Started or Stopped; "" when unset.
	Role string

	Environ []string          // the whole environment, as given
	Params  map[string]string // OCF_RESKEY_<name>, without CRM_meta_*
	Meta    map[string]string // OCF_RESKEY_CRM_meta_<name>, as given

	Clone  CloneInfo
	Notify NotifyInfo

	Log LogConfig

	RscTmp  string // HA_RSCTMP: state directory, emptied at boot
	VarRun  string // HA_VARRUN
	SbinDir string // HA_SBIN_DIR: where crm_attribute and friends live

	// TesterNoBinaries is ocf-tester's "pretend every binary is missing"
	// (OCF_TESTER_FAIL_HAVE_BINARY), honoured by Runner.
	TesterNoBinaries bool
	// TraceRA is OCF_TRACE_RA / OCF_RESKEY_trace_ra: log at debug level.
	TraceRA bool
	// TraceFile is OCF_TRACE_FILE, where crm_resource -V wants the trace.
	TraceFile string
	// Service is PCMK_service: the Pacemaker component running the agent
	// (pacemaker-execd, crm_resource), empty when run by hand.
	Service string
}

// CloneInfo is the clone and promotable meta-data of the resource.
type CloneInfo struct {
	IsClone         bool // CRM_meta_clone_max is set
	Number          int  // CRM_meta_clone: this instance's number
	Max, NodeMax    int
	Promotable      bool
	PromotedMax     int
	PromotedNodeMax int
	GloballyUnique  bool
	Notify          bool
}

// NotifyInfo is the environment of a notify action (drbd-ocf.md B.5).
// Lists are split on white space; Pacemaker sends " " for an empty list.
type NotifyInfo struct {
	Type      string // pre or post
	Operation string // start, stop, promote or demote

	StartResource, StopResource, ActiveResource, InactiveResource []string
	PromoteResource, DemoteResource                               []string
	PromotedResource, UnpromotedResource                          []string
	StartUname, StopUname, ActiveUname, PromoteUname, DemoteUname []string
	PromotedUname, UnpromotedUname, AvailableUname, AllUname      []string
}

// LogConfig is how ocf_log would log for this invocation.
type LogConfig struct {
	File     string // HA_LOGFILE
	DebugLog string // HA_DEBUGLOG
	Facility string // HA_LOGFACILITY; "" or "none" means no syslog
	Debug    bool   // HA_debug
}

// IsProbe reports whether this is a probe: a monitor without an interval.
func (e *Env) IsProbe() bool { return e.Action == "monitor" && e.Interval == 0 }

// DefaultStateDir is where resource-agents keeps per-resource state.
const DefaultStateDir = "/run/resource-agents"

// The instance names ocf-shellfuncs fills in when none is given: the
// meta-data action shows parameter defaults for a placeholder resource,
// and an agent run without OCF_RA_VERSION_MAJOR is being used as an init
// script.
const (
	metadataInstance   = "RESOURCE_ID"
	initScriptInstance = "default"
)

// ReadEnv reads an agent's environment (os.Environ() form) for one action.
func ReadEnv(environ []string, agent, action string) *Env {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	e := &Env{
		Action:           action,
		Type:             first(vars["OCF_RESOURCE_TYPE"], agent),
		Provider:         vars["OCF_RESOURCE_PROVIDER"],
		Instance:         instanceName(vars, action),
		Root:             first(vars["OCF_ROOT"], "/usr/lib/ocf"),
		RAVersionMajor:   atoi(vars["OCF_RA_VERSION_MAJOR"]),
		RAVersionMinor:   atoi(vars["OCF_RA_VERSION_MINOR"]),
		FeatureSet:       vars["OCF_RESKEY_crm_feature_set"],
		ExitReasonPrefix: first(vars["OCF_EXIT_REASON_PREFIX"], "ocf-exit-reason:"),
		OutputFormat:     vars["OCF_OUTPUT_FORMAT"],
		CheckLevel:       atoi(first(vars["OCF_CHECK_LEVEL"], vars["OCF_RESKEY_OCF_CHECK_LEVEL"])),
		Environ:          environ,
		Params:           map[string]string{},
		Meta:             map[string]string{},
		RscTmp:           first(vars["HA_RSCTMP"], DefaultStateDir),
		VarRun:           first(vars["HA_VARRUN"], "/var/run"),
		SbinDir:          first(vars["HA_SBIN_DIR"], "/usr/sbin"),
		TesterNoBinaries: vars["OCF_TESTER_FAIL_HAVE_BINARY"] == "1",
		TraceRA:          IsTrue(vars["OCF_TRACE_RA"]) || IsTrue(vars["OCF_RESKEY_trace_ra"]),
		TraceFile:        vars["OCF_TRACE_FILE"],
		Service:          vars["PCMK_service"],
	}
	for k, v := range vars {
		name, ok := strings.CutPrefix(k, "OCF_RESKEY_")
		if !ok {
			continue
		}
		if meta, ok := strings.CutPrefix(name, "CRM_meta_"); ok {
			e.Meta[meta] = v
		} else {
			e.Params[name] = v
		}
	}
	e.Interval = millis(e.Meta["interval"])
	e.Timeout = millis(e.Meta["timeout"])
	e.Role = currentRole(e.Meta["role"])
	e.Clone = CloneInfo{
		IsClone:         e.Meta["clone_max"] != "",
		Number:          atoi(e.Meta["clone"]),
		Max:             atoi(e.Meta["clone_max"]),
		NodeMax:         atoi(e.Meta["clone_node_max"]),
		PromotedMax:     atoi(first(e.Meta["promoted_max"], e.Meta["master_max"])),
		PromotedNodeMax: atoi(first(e.Meta["promoted_node_max"], e.Meta["master_node_max"])),
		GloballyUnique:  pacemakerTrue(e.Meta["globally_unique"]),
		Notify:          pacemakerTrue(e.Meta["notify"]),
	}
	e.Clone.Promotable = pacemakerTrue(e.Meta["promotable"]) || e.Clone.PromotedMax > 0
	list := func(name string) []string { return strings.Fields(e.Meta["notify_"+name]) }
	listOr := func(name, legacy string) []string {
		if l := list(name); len(l) > 0 {
			return l
		}
		return list(legacy)
	}
	e.Notify = NotifyInfo{
		Type:               e.Meta["notify_type"],
		Operation:          e.Meta["notify_operation"],
		StartResource:      list("start_resource"),
		StopResource:       list("stop_resource"),
		ActiveResource:     list("active_resource"),
		InactiveResource:   list("inactive_resource"),
		PromoteResource:    list("promote_resource"),
		DemoteResource:     list("demote_resource"),
		PromotedResource:   listOr("promoted_resource", "master_resource"),
		UnpromotedResource: listOr("unpromoted_resource", "slave_resource"),
		StartUname:         list("start_uname"),
		StopUname:          list("stop_uname"),
		ActiveUname:        list("active_uname"),
		PromoteUname:       list("promote_uname"),
		DemoteUname:        list("demote_uname"),
		PromotedUname:      listOr("promoted_uname", "master_uname"),
		UnpromotedUname:    listOr("unpromoted_uname", "slave_uname"),
		AvailableUname:     list("available_uname"),
		AllUname:           list("all_uname"),
	}
	// Pacemaker exports its options under both HA_ and PCMK_ names, and
	// "none" for a destination it does not use.
	e.Log = LogConfig{
		File:     notNone(first(vars["HA_LOGFILE"], vars["HA_logfile"])),
		DebugLog: notNone(first(vars["HA_DEBUGLOG"], vars["HA_debuglog"])),
		Facility: notNone(first(vars["HA_LOGFACILITY"], vars["HA_logfacility"])),
		Debug:    debugOn(first(vars["HA_debug"], vars["HA_DEBUG"])) || e.TraceRA,
	}
	return e
}

// instanceName applies ocf-shellfuncs' defaults for OCF_RESOURCE_INSTANCE.
func instanceName(vars map[string]string, action string) string {
	switch {
	case vars["OCF_RESOURCE_INSTANCE"] != "":
		return vars["OCF_RESOURCE_INSTANCE"]
	case action == "meta-data":
		return metadataInstance
	case vars["OCF_RA_VERSION_MAJOR"] == "":
		return initScriptInstance
	}
	return ""
}

// debugOn reads HA_debug as ocf_log does: any value but empty or "0"
// (or a word meaning off) turns debug logging on; Pacemaker passes
// PCMK_debug through, which may be "1", "yes" or a list of daemons.
func debugOn(v string) bool { return strings.TrimSpace(v) != "" && !isFalse(v) }

func notNone(v string) string {
	if strings.EqualFold(strings.TrimSpace(v), "none") {
		return ""
	}
	return v
}

// The role names of OCF 1.1 (Pacemaker 2.1 and later) and those of OCF
// 1.0 (Pacemaker 2.0 and before) they replace.
const (
	RolePromoted     = "Promoted"
	RoleUnpromoted   = "Unpromoted"
	legacyPromoted   = "Master"
	legacyUnpromoted = "Slave"
)

// currentRole names a role as OCF 1.1 does.
func currentRole(role string) string {
	switch role {
	case legacyPromoted:
		return RolePromoted
	case legacyUnpromoted:
		return RoleUnpromoted
	}
	return role
}

// LegacyRoles reports whether the caller speaks OCF 1.0 and knows the
// roles as Master and Slave: Pacemaker before 2.1, which passes
// OCF_RA_VERSION_MINOR=0 and a feature set before 3.10.0. Pacemaker 2.1
// and 3 pass 1.1 and understand only Promoted and Unpromoted (3 refuses
// the old names). Without either variable (a person, ocf-tester), the
// current names.
func (e *Env) LegacyRoles() bool {
	if e.RAVersionMajor > 0 {
		return e.RAVersionMajor == 1 && e.RAVersionMinor == 0
	}
	return e.FeatureSet != "" && !e.FeatureSetAtLeast("3.10.0")
}

// FeatureSetAtLeast compares OCF_RESKEY_crm_feature_set with a dotted
// version such as "3.10.0"; an unset feature set is older than anything.
func (e *Env) FeatureSetAtLeast(want string) bool {
	if e.FeatureSet == "" {
		return false
	}
	have, need := strings.Split(e.FeatureSet, "."), strings.Split(want, ".")
	for i := 0; i < len(need); i++ {
		h := 0
		if i < len(have) {
			h = atoi(have[i])
		}
		if n := atoi(need[i]); h != n {
			return h > n
		}
	}
	return true
}

// IsTrue is ocf_is_true exactly as resource-agents' ocf-shellfuncs
// defines it: yes, true, 1, YES, TRUE, True, ja, on and ON are true, and
// every other value (Yes, y, On, " yes ", …) is false. Operators' CIBs
// were written against that reading; Bind refuses, on actions that
// change what runs, a value it reads as false that looks meant as true.
func IsTrue(s string) bool {
	switch s {
	case "yes", "true", "1", "YES", "TRUE", "True", "ja", "on", "ON":
		return true
	}
	return false
}

// isFalse is the counterpart of IsTrue for values an operator writes to
// mean "off", in any case.
func isFalse(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "no", "false", "0", "off", "nein", "n":
		return true
	}
	return false
}

// pacemakerTrue is Pacemaker's own reading of a boolean (crm_is_true),
// for the meta attributes it passes: true, on, yes, y or 1, in any case.
func pacemakerTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "on", "yes", "y", "1":
		return true
	}
	return false
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

func millis(s string) time.Duration {
	return time.Duration(atoi(s)) * time.Millisecond
}
