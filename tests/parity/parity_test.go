package parity

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/tests/internal/agenttest"
)

// scenario is one situation, run from a fresh sandbox on each side. Paths
// in params, files and step checks may use $DIR, $RSCTMP and $VARRUN,
// which name the running side's own sandbox.
type scenario struct {
	name     string
	agent    string
	instance string            // OCF_RESOURCE_INSTANCE of every step that does not say otherwise
	params   map[string]string // OCF_RESKEY_*
	meta     map[string]string // OCF_RESKEY_CRM_meta_* of every step
	files    map[string]string // written before the first step
	steps    []step
	// deviation, for a scenario where ocfbox deliberately returns something
	// else than the reference, is the text README.md's deviations table
	// must contain.
	deviation string
}

// step is one action and what must hold after it.
type step struct {
	action   string // an OCF action, or "probe": monitor without an interval
	instance string
	meta     map[string]string
	ocfbox   ocf.Status // expected from ocfbox
	ref      ocf.Status // expected from the reference agent
	exists   string     // a file that must exist afterwards
	missing  string     // a file that must not exist afterwards
	score    string     // the promotion score afterwards; noScore for none; "" not checked
}

const noScore = "none"

// do is an action both agents must answer with want.
func do(action string, want ocf.Status) step {
	return step{action: action, ocfbox: want, ref: want}
}

// butReference expects the reference to answer differently: a deviation,
// which the scenario must name.
func (s step) butReference(want ocf.Status) step { s.ref = want; return s }

// as runs the step for another resource instance (a clone instance).
func (s step) as(instance string) step { s.instance = instance; return s }

// with adds an OCF_RESKEY_CRM_meta_ variable for this step.
func (s step) with(name, value string) step {
	s.meta = maps.Clone(s.meta)
	if s.meta == nil {
		s.meta = map[string]string{}
	}
	s.meta[name] = value
	return s
}

func (s step) creates(path string) step { s.exists = path; return s }
func (s step) removes(path string) step { s.missing = path; return s }
func (s step) scores(score string) step { s.score = score; return s }

const (
	dummyState    = "$DIR/dummy.state"
	statefulState = "$DIR/stateful.state"
	missingDir    = "$DIR/no-such-dir"
)

var scenarios = []scenario{
	// Dummy
	{
		name: "Dummy start, monitor and stop track the state file", agent: "Dummy",
		params: map[string]string{"state": dummyState},
		steps: []step{
			do("probe", ocf.NotRunning),
			do("start", ocf.Success).creates(dummyState),
			do("monitor", ocf.Success),
			do("probe", ocf.Success),
			do("stop", ocf.Success).removes(dummyState),
			do("monitor", ocf.NotRunning),
			do("probe", ocf.NotRunning),
		},
	},
	{
		name: "Dummy double start succeeds and keeps it running", agent: "Dummy",
		params: map[string]string{"state": dummyState},
		steps: []step{
			do("start", ocf.Success),
			do("start", ocf.Success).creates(dummyState),
			do("monitor", ocf.Success),
		},
	},
	{
		name: "Dummy stop of a stopped resource succeeds", agent: "Dummy",
		params: map[string]string{"state": dummyState},
		steps: []step{
			do("stop", ocf.Success),
			do("start", ocf.Success),
			do("stop", ocf.Success),
			do("stop", ocf.Success).removes(dummyState),
			do("monitor", ocf.NotRunning),
		},
	},
	{
		name: "Dummy migrate_to stops it on the source", agent: "Dummy",
		params: map[string]string{"state": dummyState},
		meta:   map[string]string{"migrate_source": "node1", "migrate_target": "node2"},
		steps: []step{
			do("start", ocf.Success),
			do("migrate_to", ocf.Success).removes(dummyState),
			do("monitor", ocf.NotRunning),
		},
	},
	{
		name: "Dummy migrate_from starts it on the target", agent: "Dummy",
		params: map[string]string{"state": dummyState},
		meta:   map[string]string{"migrate_source": "node1", "migrate_target": "node2"},
		steps: []step{
			do("migrate_from", ocf.Success).creates(dummyState),
			do("monitor", ocf.Success),
		},
	},
	{
		name: "Dummy reload keeps it running", agent: "Dummy",
		params: map[string]string{"state": dummyState, "fake": "changed"},
		steps: []step{
			do("start", ocf.Success),
			do("reload", ocf.Success).creates(dummyState),
			do("monitor", ocf.Success),
		},
	},
	{
		name: "Dummy default state file is named after the instance in HA_RSCTMP", agent: "Dummy",
		instance: "d1",
		steps: []step{
			do("start", ocf.Success).creates("$RSCTMP/Dummy-d1.state"),
			do("monitor", ocf.Success),
			do("stop", ocf.Success).removes("$RSCTMP/Dummy-d1.state"),
		},
	},
	{
		name: "Dummy validate-all accepts a writable state directory", agent: "Dummy",
		params: map[string]string{"state": dummyState},
		steps:  []step{do("validate-all", ocf.Success).removes(dummyState)},
	},
	{
		name: "Dummy validate-all rejects a state directory that does not exist", agent: "Dummy",
		params: map[string]string{"state": missingDir + "/dummy.state"},
		steps: []step{
			do("validate-all", ocf.ErrArgs),
			do("probe", ocf.NotRunning),
			do("monitor", ocf.NotRunning),
			do("stop", ocf.Success),
		},
	},
	{
		name: "Dummy start in a state directory that does not exist", agent: "Dummy",
		params:    map[string]string{"state": missingDir + "/dummy.state"},
		steps:     []step{do("start", ocf.ErrArgs).butReference(ocf.ErrGeneric)},
		deviation: deviationDummyValidates,
	},
	{
		name: "Dummy migrate_from into a state directory that does not exist", agent: "Dummy",
		params:    map[string]string{"state": missingDir + "/dummy.state"},
		steps:     []step{do("migrate_from", ocf.ErrArgs).butReference(ocf.ErrGeneric)},
		deviation: deviationDummyValidates,
	},
	{
		name: "Dummy reload with a state directory that does not exist", agent: "Dummy",
		params:    map[string]string{"state": missingDir + "/dummy.state"},
		steps:     []step{do("reload", ocf.ErrArgs).butReference(ocf.Success)},
		deviation: deviationDummyValidates,
	},
	{
		name: "Dummy actions it does not implement are unimplemented", agent: "Dummy",
		params: map[string]string{"state": dummyState},
		steps: []step{
			do("frobnicate", ocf.ErrUnimplemented),
			do("status", ocf.ErrUnimplemented),
			do("promote", ocf.ErrUnimplemented),
			do("demote", ocf.ErrUnimplemented),
			do("notify", ocf.ErrUnimplemented),
		},
	},
	{
		name: "Dummy reload-agent (OCF 1.1) succeeds", agent: "Dummy",
		params:    map[string]string{"state": dummyState},
		steps:     []step{do("reload-agent", ocf.Success).butReference(ocf.ErrUnimplemented)},
		deviation: deviationReloadNames,
	},
	{
		name: "Dummy meta-data and usage succeed", agent: "Dummy",
		steps: []step{do("meta-data", ocf.Success), do("usage", ocf.Success)},
	},

	// Stateful
	{
		name: "Stateful start, promote, demote and stop move through the roles", agent: "Stateful",
		instance: "s1",
		params:   map[string]string{"state": statefulState},
		steps: []step{
			do("probe", ocf.NotRunning).scores(noScore),
			do("start", ocf.Success).creates(statefulState).scores("5"),
			do("monitor", ocf.Success),
			do("promote", ocf.Success).scores("10"),
			do("monitor", ocf.RunningPromoted).with("role", "Promoted"),
			do("probe", ocf.RunningPromoted),
			do("demote", ocf.Success).scores("5"),
			do("monitor", ocf.Success).with("role", "Unpromoted"),
			do("stop", ocf.Success).removes(statefulState).scores(noScore),
			do("monitor", ocf.NotRunning),
		},
	},
	{
		name: "Stateful double start succeeds and stays unpromoted", agent: "Stateful",
		params: map[string]string{"state": statefulState},
		steps: []step{
			do("start", ocf.Success),
			do("start", ocf.Success),
			do("monitor", ocf.Success),
		},
	},
	{
		name: "Stateful stop of a stopped instance succeeds", agent: "Stateful",
		params: map[string]string{"state": statefulState},
		steps: []step{
			do("stop", ocf.Success),
			do("stop", ocf.Success).removes(statefulState),
		},
	},
	{
		name: "Stateful double promote and double demote succeed", agent: "Stateful",
		params: map[string]string{"state": statefulState},
		steps: []step{
			do("start", ocf.Success),
			do("promote", ocf.Success),
			do("promote", ocf.Success),
			do("monitor", ocf.RunningPromoted),
			do("demote", ocf.Success),
			do("demote", ocf.Success),
			do("monitor", ocf.Success),
		},
	},
	{
		name: "Stateful promote of a stopped instance is not running", agent: "Stateful",
		params: map[string]string{"state": statefulState},
		steps: []step{
			do("promote", ocf.NotRunning).removes(statefulState),
			do("monitor", ocf.NotRunning),
		},
	},
	{
		name: "Stateful demote of a stopped instance is not running", agent: "Stateful",
		params: map[string]string{"state": statefulState},
		steps: []step{
			do("demote", ocf.NotRunning).removes(statefulState),
		},
	},
	{
		name: "Stateful start over a promoted instance reports it promoted", agent: "Stateful",
		instance: "s1",
		params:   map[string]string{"state": statefulState},
		steps: []step{
			do("start", ocf.Success),
			do("promote", ocf.Success),
			do("start", ocf.RunningPromoted).scores("10"),
			do("monitor", ocf.RunningPromoted),
		},
	},
	{
		name: "Stateful stop of a promoted instance reports it promoted and drops the score", agent: "Stateful",
		instance: "s1",
		params:   map[string]string{"state": statefulState},
		steps: []step{
			do("start", ocf.Success),
			do("promote", ocf.Success),
			do("stop", ocf.RunningPromoted).creates(statefulState).scores(noScore),
			do("monitor", ocf.RunningPromoted),
		},
	},
	{
		name: "Stateful notify succeeds", agent: "Stateful",
		params: map[string]string{"state": statefulState},
		meta:   map[string]string{"notify": "true"},
		steps: []step{
			do("start", ocf.Success),
			do("notify", ocf.Success).with("notify_type", "pre").with("notify_operation", "promote"),
			do("notify", ocf.Success).with("notify_type", "post").with("notify_operation", "promote"),
		},
	},
	{
		name: "Stateful notify waits notify_delay and succeeds", agent: "Stateful",
		params: map[string]string{"state": statefulState, "notify_delay": "0.1"},
		steps: []step{
			do("validate-all", ocf.Success),
			do("notify", ocf.Success).with("notify_type", "post").with("notify_operation", "start"),
		},
	},
	{
		name: "Stateful notify with a notify_delay that is not a number still succeeds", agent: "Stateful",
		params: map[string]string{"state": statefulState, "notify_delay": "garbage"},
		steps: []step{
			do("notify", ocf.Success).with("notify_type", "post").with("notify_operation", "start"),
		},
	},
	{
		name: "Stateful validate-all and start reject a notify_delay that is not a number", agent: "Stateful",
		params: map[string]string{"state": statefulState, "notify_delay": "garbage"},
		steps: []step{
			do("validate-all", ocf.ErrConfigured).butReference(ocf.Success),
			do("start", ocf.ErrConfigured).butReference(ocf.Success),
		},
		deviation: deviationStatefulNotifyDelay,
	},
	{
		name: "Stateful reload-agent succeeds", agent: "Stateful",
		params: map[string]string{"state": statefulState},
		steps: []step{
			do("start", ocf.Success),
			do("reload-agent", ocf.Success),
			do("monitor", ocf.Success),
		},
	},
	{
		name: "Stateful reload (OCF 1.0) succeeds", agent: "Stateful",
		params:    map[string]string{"state": statefulState},
		steps:     []step{do("reload", ocf.Success).butReference(ocf.ErrUnimplemented)},
		deviation: deviationReloadNames,
	},
	{
		name: "Stateful actions it does not implement are unimplemented", agent: "Stateful",
		params: map[string]string{"state": statefulState},
		steps: []step{
			do("migrate_to", ocf.ErrUnimplemented),
			do("migrate_from", ocf.ErrUnimplemented),
			do("frobnicate", ocf.ErrUnimplemented),
		},
	},
	{
		name: "Stateful meta-data and usage succeed", agent: "Stateful",
		steps: []step{do("meta-data", ocf.Success), do("usage", ocf.Success)},
	},
	{
		name: "Stateful anonymous clone instances share one state file", agent: "Stateful",
		meta: map[string]string{"clone_max": "2", "clone_node_max": "2", "globally_unique": "false", "promotable": "true"},
		steps: []step{
			do("start", ocf.Success).as("s1:0").with("clone", "0").creates("$VARRUN/Stateful-s1.state"),
			do("probe", ocf.Success).as("s1:1").with("clone", "1"),
			do("promote", ocf.Success).as("s1:1").with("clone", "1"),
			do("probe", ocf.RunningPromoted).as("s1:0").with("clone", "0"),
			do("demote", ocf.Success).as("s1:0").with("clone", "0"),
			do("stop", ocf.Success).as("s1:1").with("clone", "1").removes("$VARRUN/Stateful-s1.state"),
			do("probe", ocf.NotRunning).as("s1:0").with("clone", "0"),
		},
	},
	{
		name: "Stateful globally unique clone instances keep their own state files", agent: "Stateful",
		meta: map[string]string{"clone_max": "2", "clone_node_max": "2", "globally_unique": "true", "promotable": "true"},
		steps: []step{
			do("start", ocf.Success).as("s1:0").with("clone", "0").creates("$VARRUN/Stateful-s1:0.state"),
			do("probe", ocf.NotRunning).as("s1:1").with("clone", "1"),
			do("start", ocf.Success).as("s1:1").with("clone", "1").creates("$VARRUN/Stateful-s1:1.state"),
			do("stop", ocf.Success).as("s1:0").with("clone", "0").removes("$VARRUN/Stateful-s1:0.state"),
			do("probe", ocf.Success).as("s1:1").with("clone", "1"),
		},
	},
	{
		name: "Stateful probe restores the promotion score of a promoted instance", agent: "Stateful",
		instance: "s1",
		params:   map[string]string{"state": statefulState},
		files:    map[string]string{statefulState: "Promoted\n"},
		steps:    []step{do("probe", ocf.RunningPromoted).scores("10")},
	},
	{
		name: "Stateful probe restores the promotion score of an unpromoted instance", agent: "Stateful",
		instance: "s1",
		params:   map[string]string{"state": statefulState},
		files:    map[string]string{statefulState: "Unpromoted\n"},
		steps: []step{
			do("monitor", ocf.Success).scores(noScore),
			do("probe", ocf.Success).scores("5"),
		},
	},
	{
		name: "Stateful monitor fails with the status injected in <state>.rc", agent: "Stateful",
		params: map[string]string{"state": statefulState},
		files:  map[string]string{statefulState: "Promoted\n", statefulState + ".rc": "9\n"},
		steps:  []step{do("monitor", ocf.FailedPromoted), do("probe", ocf.FailedPromoted)},
	},
	{
		name: "Stateful monitor of a state file with unexpected contents is an error", agent: "Stateful",
		params: map[string]string{"state": statefulState},
		files:  map[string]string{statefulState: "Sideways\n"},
		steps:  []step{do("monitor", ocf.ErrGeneric)},
	},
}

// The deviations, as README.md's deviations table must word them.
const (
	deviationDummyValidates      = "Dummy: start, migrate_from and reload return 2 when the state directory is not writable"
	deviationStatefulNotifyDelay = "Stateful: validate-all and start return 6 when notify_delay is not a number"
	deviationReloadNames         = "reload and reload-agent are accepted as each other's name"
)

// side is one implementation of the agent.
type side struct {
	name     string // "reference" or "ocfbox"
	path     string
	provider string
	sb       *agenttest.Sandbox
	env      []string // the row's environment in sb
}

func TestScenariosGiveTheExpectedStatusOnBothSides(t *testing.T) {
	inst := agenttest.Install(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			row, ok := agenttest.LookupRow(sc.agent)
			if !ok {
				t.Fatalf("agent %s has no row in tests/internal/agenttest/rows.go; add one", sc.agent)
			}
			checkDeviationIsNamed(t, sc)
			testenv.RequireFile(t, row.Reference)
			sides := []*side{
				newSide(t, row, "reference", row.Reference),
				newSide(t, row, "ocfbox", inst.Agent(sc.agent)),
			}
			for _, sd := range sides {
				for name, content := range sc.files {
					if err := os.WriteFile(sd.sb.Expand(name), []byte(content), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i, st := range sc.steps {
				label := fmt.Sprintf("step %d %s", i+1, st.action)
				if st.instance != "" {
					label += " as " + st.instance
				}
				// Both sides run before anything is checked, so the log
				// shows their statuses and exit reasons side by side.
				results := make([]agenttest.Result, len(sides))
				line := fmt.Sprintf("%-28s", label)
				for j, sd := range sides {
					results[j] = sd.run(t, sc, st)
					line += fmt.Sprintf(" | %s %d %q", sd.name, int(results[j].Status), results[j].Reason)
				}
				t.Log(line)
				for j, sd := range sides {
					want := st.ocfbox
					if sd.name == "reference" {
						want = st.ref
					}
					if res := results[j]; res.Status != want {
						t.Errorf("%s: %s returned %d (%s), the scenario expects %d (%s)\nstdout: %s\nstderr: %s",
							label, sd.name, int(res.Status), res.Status, int(want), want, res.Stdout, res.Stderr)
					}
					sd.checkAfter(t, label, sc, st)
				}
			}
		})
	}
}

func newSide(t *testing.T, row agenttest.Row, name, path string) *side {
	sb := agenttest.NewRowSandbox(t, row)
	return &side{
		name:     name,
		path:     path,
		provider: filepath.Base(filepath.Dir(path)),
		sb:       sb,
		env:      row.Environ(t, sb),
	}
}

// run runs one step on this side, with the environment pacemaker-execd
// would give it.
func (sd *side) run(t *testing.T, sc scenario, st step) agenttest.Result {
	t.Helper()
	instance := cmp.Or(st.instance, sc.instance, "rsc")
	params := map[string]string{}
	for k, v := range sc.params {
		params[k] = sd.sb.Expand(v)
	}
	meta := map[string]string{"timeout": "20000"}
	maps.Copy(meta, sc.meta)
	maps.Copy(meta, st.meta)
	action := st.action
	switch action {
	case "probe":
		action = "monitor"
	case "monitor":
		meta["interval"] = "10000"
	}
	env := append(slices.Clone(sd.env), agenttest.OCFEnv(sc.agent, sd.provider, instance, params, meta)...)
	res, err := sd.sb.RunAgent(agenttest.Context(t), sd.path, action, env)
	if err != nil {
		t.Fatalf("%s %s: %v", sd.name, st.action, err)
	}
	return res
}

// checkAfter checks the files and the promotion score a step must leave.
func (sd *side) checkAfter(t *testing.T, label string, sc scenario, st step) {
	t.Helper()
	if st.exists != "" {
		if _, err := os.Stat(sd.sb.Expand(st.exists)); err != nil {
			t.Errorf("%s: on the %s side %s should exist: %v", label, sd.name, st.exists, err)
		}
	}
	if st.missing != "" {
		if _, err := os.Stat(sd.sb.Expand(st.missing)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: on the %s side %s should not exist (stat: %v)", label, sd.name, st.missing, err)
		}
	}
	if st.score != "" {
		instance := cmp.Or(st.instance, sc.instance, "rsc")
		score, ok := agenttest.PromotionScore(t, agenttest.FakeSbin(t, sd.sb), instance)
		if !ok {
			score = noScore
		}
		if score != st.score {
			t.Errorf("%s: on the %s side the promotion score of %s is %s, want %s", label, sd.name, instance, score, st.score)
		}
	}
}

// checkDeviationIsNamed fails a scenario that expects the two sides to
// differ without saying so, or says so without expecting it: a deviation
// nobody wrote down is a bug.
func checkDeviationIsNamed(t *testing.T, sc scenario) {
	t.Helper()
	differs := slices.ContainsFunc(sc.steps, func(st step) bool { return st.ocfbox != st.ref })
	switch {
	case differs && sc.deviation == "":
		t.Fatalf("scenario expects ocfbox and the reference to differ but names no deviation: set its deviation to the line README.md's deviations table has")
	case !differs && sc.deviation != "":
		t.Fatalf("scenario names deviation %q but expects the same status from both sides", sc.deviation)
	}
}

func TestDeviationsAreInTheREADME(t *testing.T) {
	var deviations []string
	for _, sc := range scenarios {
		if sc.deviation != "" && !slices.Contains(deviations, sc.deviation) {
			deviations = append(deviations, sc.deviation)
		}
	}
	readme, err := os.ReadFile(filepath.Join(agenttest.ModuleRoot(), "README.md"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Logf("README.md does not exist yet; its deviations table needs these lines:\n%s", strings.Join(deviations, "\n"))
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deviations {
		if !strings.Contains(string(readme), d) {
			t.Errorf("README.md does not list the deviation %q: add it to the deviations table, word for word", d)
		}
	}
}
