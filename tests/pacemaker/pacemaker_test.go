package pacemaker

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/agents"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/tests/internal/agenttest"
)

// setup installs the agents as provider ocfbox (serialised with every
// other test that does) and checks Pacemaker's tools are there.
func setup(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"crm_resource", "cibadmin", "crm_attribute"} {
		testenv.RequireTool(t, tool)
	}
	testenv.InstallAgents(t)
}

// crmResource runs crm_resource in sb with env (a CIB_file, say) and
// nothing else from the test's environment.
func crmResource(t *testing.T, sb *agenttest.Sandbox, env []string, args ...string) agenttest.Output {
	t.Helper()
	cmd := sb.Command(agenttest.Context(t), append([]string{"crm_resource"}, args...)...)
	cmd.Env = append([]string{agenttest.Path, "LC_ALL=C"}, env...)
	cmd.Dir = sb.Dir
	out, err := agenttest.RunCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// agentStatus is what crm_resource --output-as=xml (Pacemaker 2.1.5, API
// 2.25) reports about the agent action it ran:
//
//	<pacemaker-result …><resource-agent-action …>
//	  <agent-status code="2" message="invalid parameter" … reason="…"/>
type agentStatus struct {
	Code   int    `xml:"code,attr"`
	Reason string `xml:"reason,attr"`
}

func parseAgentStatus(t *testing.T, out agenttest.Output) agentStatus {
	t.Helper()
	var r struct {
		Action struct {
			AgentStatus *agentStatus `xml:"agent-status"`
		} `xml:"resource-agent-action"`
	}
	if err := xml.Unmarshal([]byte(out.Stdout), &r); err != nil {
		t.Fatalf("crm_resource --output-as=xml printed something that is not its XML result: %v\n%s", err, out.Combined())
	}
	if r.Action.AgentStatus == nil {
		t.Fatalf("crm_resource --output-as=xml reported no <agent-status> (did it run the agent?):\n%s", out.Combined())
	}
	return *r.Action.AgentStatus
}

func TestListAgentsListsEveryAgent(t *testing.T) {
	setup(t)
	sb := agenttest.NewSandbox(t, false)
	out := crmResource(t, sb, nil, "--list-agents", "ocf:ocfbox")
	var want []string
	for _, def := range agents.All {
		want = append(want, def.Name)
	}
	got := strings.Fields(out.Stdout)
	slices.Sort(want)
	slices.Sort(got)
	if out.ExitCode != 0 || !slices.Equal(got, want) {
		t.Errorf("crm_resource --list-agents ocf:ocfbox: exit %d, agents %q; want exit 0 and %q\n%s", out.ExitCode, got, want, out.Stderr)
	}
}

func TestShowMetadataPrintsWhatTheAgentPrints(t *testing.T) {
	setup(t)
	sb := agenttest.NewSandbox(t, false)
	for _, def := range agents.All {
		t.Run(def.Name, func(t *testing.T) {
			out := crmResource(t, sb, nil, "--show-metadata", "ocf:ocfbox:"+def.Name)
			if out.ExitCode != 0 {
				t.Fatalf("crm_resource --show-metadata ocf:ocfbox:%s: exit %d, want 0\n%s", def.Name, out.ExitCode, out.Combined())
			}
			// crm_resource runs the agent with OCF_RESOURCE_INSTANCE set to
			// the agent's name, which shows in defaults that name the instance.
			direct, err := sb.RunAgent(agenttest.Context(t), filepath.Join(testenv.OCFProviderDir, def.Name), "meta-data",
				[]string{"OCF_RESOURCE_INSTANCE=" + def.Name})
			if err != nil {
				t.Fatal(err)
			}
			if out.Stdout != direct.Stdout {
				t.Errorf("crm_resource --show-metadata ocf:ocfbox:%s printed\n%s\nwant the agent's own meta-data:\n%s", def.Name, out.Stdout, direct.Stdout)
			}
		})
	}
}

func TestValidateRunsValidateAllWithTheOptions(t *testing.T) {
	setup(t)
	type validation struct {
		name   string
		agent  string
		params func(sb *agenttest.Sandbox) map[string]string // nil: the row's
		want   ocf.Status
		reason string // a part of the exit reason crm_resource must report
	}
	var tests []validation
	for _, def := range agents.All {
		tests = append(tests, validation{name: def.Name + " with its row's parameters is valid", agent: def.Name, want: ocf.Success})
	}
	tests = append(tests,
		validation{
			name: "Dummy with a state directory that does not exist", agent: "Dummy",
			params: func(sb *agenttest.Sandbox) map[string]string {
				return map[string]string{"state": sb.Path("no-such-dir/dummy.state")}
			},
			want: ocf.ErrArgs, reason: "not writable",
		},
		validation{
			name: "Stateful with a notify_delay that is not a number", agent: "Stateful",
			params: func(*agenttest.Sandbox) map[string]string { return map[string]string{"notify_delay": "garbage"} },
			want:   ocf.ErrConfigured, reason: "notify_delay",
		},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, ok := agenttest.LookupRow(tt.agent)
			if !ok {
				t.Fatalf("agent %s has no row in tests/internal/agenttest/rows.go; add one", tt.agent)
			}
			sb := agenttest.NewRowSandbox(t, row)
			params := row.Params(sb)
			if tt.params != nil {
				params = tt.params(sb)
			}
			args := []string{"--validate", "--class", "ocf", "--provider", "ocfbox", "--agent", tt.agent, "--output-as=xml"}
			for _, k := range slices.Sorted(maps.Keys(params)) {
				args = append(args, "--option", k+"="+params[k])
			}
			out := crmResource(t, sb, row.Environ(t, sb), args...)
			t.Logf("crm_resource %s: exit %d\n%s", strings.Join(args, " "), out.ExitCode, out.Stdout)
			st := parseAgentStatus(t, out)
			if st.Code != int(tt.want) || out.ExitCode != int(tt.want) {
				t.Errorf("agent-status code %d and exit %d, want %d (%s) for both", st.Code, out.ExitCode, int(tt.want), tt.want)
			}
			if tt.reason != "" && !strings.Contains(st.Reason, tt.reason) {
				t.Errorf("agent-status reason %q, want one that mentions %q", st.Reason, tt.reason)
			}
		})
	}
}

// cib defines resources in a fresh CIB file and returns the environment
// variable that points Pacemaker's tools at it.
func cib(t *testing.T, sb *agenttest.Sandbox, resources ...string) string {
	t.Helper()
	path := sb.Path("cib.xml")
	agenttest.NewCIB(t, path)
	cibFile := "CIB_file=" + path
	for _, r := range resources {
		cmd := agenttest.Command(agenttest.Context(t), "cibadmin", "--create", "-o", "resources", "--xml-text", r)
		cmd.Env = []string{agenttest.Path, "LC_ALL=C", cibFile}
		out, err := agenttest.RunCommand(cmd)
		if err == nil && out.ExitCode != 0 {
			err = fmt.Errorf("exit status %d: %s", out.ExitCode, out.Combined())
		}
		if err != nil {
			t.Fatalf("cibadmin --create %s: %v", r, err)
		}
	}
	return cibFile
}

// promotionScore asks the real crm_attribute for an instance's promotion
// score in the CIB file; "" when none is set.
func promotionScore(t *testing.T, cibFile, instance string) string {
	t.Helper()
	cmd := agenttest.Command(agenttest.Context(t), "crm_attribute", "--promotion", "-G", "-q")
	cmd.Env = []string{agenttest.Path, "LC_ALL=C", "OCF_RESOURCE_INSTANCE=" + instance, cibFile}
	out, err := agenttest.RunCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	switch out.ExitCode {
	case 0:
		return strings.TrimSpace(out.Stdout)
	case 105: // CRM_EX_NOSUCH: no such attribute
		return ""
	}
	t.Fatalf("crm_attribute --promotion -G -q: exit %d\n%s", out.ExitCode, out.Combined())
	return ""
}

// forceStep is one crm_resource --force-* run and what it must leave.
type forceStep struct {
	resource string
	action   string // --force-start, --force-check, …
	want     ocf.Status
	reason   string // a part of the exit reason, when the step fails
	state    string // the state file's contents afterwards, or absent, or present
	score    string // for promotable resources: the promotion score afterwards, "" for none
}

// What a forceStep may expect of a state file besides exact contents.
const (
	absent  = "(absent)"
	present = "(present, any contents)"
)

func TestForceActionsRunTheAgentOnACIBResource(t *testing.T) {
	setup(t)
	sb := agenttest.NewSandbox(t, false)
	dummyState := sb.Path("d1.state")
	statefulState := sb.Path("s1.state")
	cibFile := cib(t, sb,
		fmt.Sprintf(`<primitive id="d1" class="ocf" provider="ocfbox" type="Dummy">
			<instance_attributes id="d1-ia"><nvpair id="d1-state" name="state" value=%q/></instance_attributes>
		</primitive>`, dummyState),
		fmt.Sprintf(`<primitive id="d-bad" class="ocf" provider="ocfbox" type="Dummy">
			<instance_attributes id="d-bad-ia"><nvpair id="d-bad-state" name="state" value=%q/></instance_attributes>
		</primitive>`, sb.Path("no-such-dir/d-bad.state")),
		fmt.Sprintf(`<clone id="s1-clone">
			<meta_attributes id="s1-clone-meta"><nvpair id="s1-promotable" name="promotable" value="true"/></meta_attributes>
			<primitive id="s1" class="ocf" provider="ocfbox" type="Stateful">
				<instance_attributes id="s1-ia"><nvpair id="s1-state" name="state" value=%q/></instance_attributes>
			</primitive>
		</clone>`, statefulState),
	)
	stateFiles := map[string]string{"d1": dummyState, "d-bad": sb.Path("no-such-dir/d-bad.state"), "s1": statefulState}

	steps := []forceStep{
		{resource: "d1", action: "--force-check", want: ocf.NotRunning, state: absent},
		{resource: "d1", action: "--force-start", want: ocf.Success, state: present},
		{resource: "d1", action: "--force-check", want: ocf.Success, state: present},
		{resource: "d1", action: "--force-start", want: ocf.Success, state: present},
		{resource: "d1", action: "--force-stop", want: ocf.Success, state: absent},
		{resource: "d1", action: "--force-check", want: ocf.NotRunning, state: absent},
		{resource: "d1", action: "--force-stop", want: ocf.Success, state: absent},

		{resource: "d-bad", action: "--force-start", want: ocf.ErrArgs, reason: "not writable", state: absent},
		{resource: "d-bad", action: "--force-stop", want: ocf.Success, state: absent},

		{resource: "s1", action: "--force-check", want: ocf.NotRunning, state: absent, score: ""},
		{resource: "s1", action: "--force-start", want: ocf.Success, state: "Unpromoted\n", score: "5"},
		{resource: "s1", action: "--force-check", want: ocf.Success, state: "Unpromoted\n", score: "5"},
		{resource: "s1", action: "--force-promote", want: ocf.Success, state: "Promoted\n", score: "10"},
		{resource: "s1", action: "--force-check", want: ocf.RunningPromoted, state: "Promoted\n", score: "10"},
		{resource: "s1", action: "--force-start", want: ocf.RunningPromoted, reason: "Promoted", state: "Promoted\n", score: "10"},
		{resource: "s1", action: "--force-demote", want: ocf.Success, state: "Unpromoted\n", score: "5"},
		{resource: "s1", action: "--force-stop", want: ocf.Success, state: absent, score: ""},
		{resource: "s1", action: "--force-promote", want: ocf.NotRunning, state: absent, score: ""},
	}
	for i, st := range steps {
		label := fmt.Sprintf("step %d: crm_resource -r %s %s", i+1, st.resource, st.action)
		out := crmResource(t, sb, []string{cibFile}, "-r", st.resource, st.action, "--output-as=xml")
		got := parseAgentStatus(t, out)
		t.Logf("%s: exit %d, agent-status %d %q", label, out.ExitCode, got.Code, got.Reason)
		if got.Code != int(st.want) || out.ExitCode != int(st.want) {
			t.Errorf("%s: agent-status code %d and exit %d, want %d (%s) for both\n%s", label, got.Code, out.ExitCode, int(st.want), st.want, out.Stdout)
		}
		if st.reason != "" && !strings.Contains(got.Reason, st.reason) {
			t.Errorf("%s: agent-status reason %q, want one that mentions %q", label, got.Reason, st.reason)
		}
		file := stateFiles[st.resource]
		if got := readState(t, file); got != st.state && !(st.state == present && got != absent) {
			t.Errorf("%s: state file %s holds %q, want %q", label, file, got, st.state)
		}
		if st.resource == "s1" {
			if got := promotionScore(t, cibFile, "s1"); got != st.score {
				t.Errorf("%s: promotion score of s1 in the CIB is %q, want %q", label, got, st.score)
			}
		}
	}
}

// readState returns a state file's contents, or absent.
func readState(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return absent
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
