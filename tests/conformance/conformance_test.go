package conformance

import (
	"bytes"
	"context"
	"maps"
	"os/user"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/agents"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/tests/internal/agenttest"
)

// Where resource-agents installs the schemas ocf-tester and its own
// `make check` validate meta-data with.
const (
	schemaDir = "/usr/share/resource-agents"
	dtd       = schemaDir + "/ra-api-1.dtd"
	rng       = schemaDir + "/metadata.rng"
)

func TestEveryAgentHasARow(t *testing.T) {
	var names []string
	for _, def := range agents.All {
		names = append(names, def.Name)
		if _, ok := agenttest.LookupRow(def.Name); !ok {
			t.Errorf("agent %s has no row in tests/internal/agenttest/rows.go: add one that says which parameters "+
				"and environment it needs to start and stop in a sandbox (and Netns: true if it manages addresses)", def.Name)
		}
	}
	for _, row := range agenttest.Rows {
		if !slices.Contains(names, row.Agent) {
			t.Errorf("tests/internal/agenttest/rows.go has a row for %s, which is not in agents.All: remove it or register the agent", row.Agent)
		}
	}
}

// metadata runs `<link> meta-data` with an empty environment, as root or
// (cred != nil) as another user, from "/" so that the caller's working
// directory does not matter.
func metadata(t *testing.T, link string, cred *syscall.Credential) agenttest.Output {
	t.Helper()
	cmd := agenttest.Command(agenttest.Context(t), link, "meta-data")
	cmd.Env = []string{}
	cmd.Dir = "/"
	if cred != nil {
		cmd.SysProcAttr.Credential = cred
	}
	out, err := agenttest.RunCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// xmllint validates xml the way ocf-tester does, in the schema directory
// so that the DOCTYPE's "ra-api-1.dtd" resolves; args choose the schema.
func xmllint(t *testing.T, xml []byte, args ...string) agenttest.Output {
	t.Helper()
	cmd := agenttest.Command(agenttest.Context(t), append(append([]string{"xmllint", "--noout"}, args...), "-")...)
	cmd.Dir = schemaDir
	cmd.Env = []string{agenttest.Path, "LC_ALL=C"}
	cmd.Stdin = bytes.NewReader(xml)
	out, err := agenttest.RunCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var validators = []struct {
	name string
	args []string
}{
	{"ra-api-1.dtd", []string{"--valid"}},
	{"metadata.rng", []string{"--relaxng", rng}},
}

func requireValidators(t *testing.T) {
	testenv.RequireTool(t, "xmllint")
	testenv.RequireFile(t, dtd)
	testenv.RequireFile(t, rng)
}

func TestMetadataValidatesAgainstDTDAndRelaxNG(t *testing.T) {
	requireValidators(t)
	inst := agenttest.Install(t)
	for _, def := range agents.All {
		t.Run(def.Name, func(t *testing.T) {
			out := metadata(t, inst.Agent(def.Name), nil)
			if out.ExitCode != 0 {
				t.Fatalf("%s meta-data: exit %d, want 0\n%s", def.Name, out.ExitCode, out.Stderr)
			}
			for _, v := range validators {
				t.Run(v.name, func(t *testing.T) {
					if res := xmllint(t, []byte(out.Stdout), v.args...); res.ExitCode != 0 {
						t.Errorf("xmllint --noout %s: exit %d, want 0 (valid):\n%s", strings.Join(v.args, " "), res.ExitCode, res.Stderr)
					}
				})
			}
		})
	}
}

// actionTimeout matches the timeout attribute of every <action>.
var actionTimeout = regexp.MustCompile(`(<action\s[^>]*?)\s+timeout="[^"]*"`)

// The checks above are worth something only if the validators do reject
// bad meta-data; this one proves they ran against the schemas.
func TestValidatorsRejectInvalidMetadata(t *testing.T) {
	requireValidators(t)
	good := metadata(t, agenttest.Install(t).Agent("Dummy"), nil).Stdout
	tests := []struct {
		name string
		xml  string
		args []string
	}{
		{"DTD rejects a parameter type it does not know", strings.Replace(good, `type="string"`, `type="float"`, 1), []string{"--valid"}},
		{"DTD rejects meta-data without the DOCTYPE line", strings.Replace(good, `<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">`, "", 1), []string{"--valid"}},
		{"RNG rejects a parameter type it does not know", strings.Replace(good, `type="string"`, `type="float"`, 1), []string{"--relaxng", rng}},
		{"RNG rejects an action without a timeout", actionTimeout.ReplaceAllString(good, "$1"), []string{"--relaxng", rng}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.xml == good {
				t.Fatalf("the test's edit did not change Dummy's meta-data; update the test to its current text")
			}
			if res := xmllint(t, []byte(tt.xml), tt.args...); res.ExitCode == 0 {
				t.Errorf("xmllint --noout %s accepted invalid meta-data, want a non-zero exit", strings.Join(tt.args, " "))
			}
		})
	}
}

// ocf-tester runs meta-data as nobody (su nobody), and Pacemaker's
// controller may ask for it with no configuration at all: it must work
// for any user with nothing in the environment, and say the same thing.
func TestMetadataWorksAsNobodyWithEmptyEnvironment(t *testing.T) {
	testenv.RequireRoot(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("look up user nobody: %v", err)
	}
	uid, _ := strconv.ParseUint(nobody.Uid, 10, 32)
	gid, _ := strconv.ParseUint(nobody.Gid, 10, 32)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	inst := agenttest.Install(t)

	for _, def := range agents.All {
		t.Run(def.Name, func(t *testing.T) {
			link := inst.Agent(def.Name)
			asRoot := metadata(t, link, nil)
			asNobody := metadata(t, link, cred)
			if asNobody.ExitCode != 0 {
				t.Fatalf("%s meta-data as nobody: exit %d, want 0\nstderr: %s", link, asNobody.ExitCode, asNobody.Stderr)
			}
			if asNobody.Stderr != "" {
				t.Errorf("%s meta-data as nobody wrote to stderr, want nothing:\n%s", link, asNobody.Stderr)
			}
			if asNobody.Stdout == "" || asNobody.Stdout != asRoot.Stdout {
				t.Errorf("%s meta-data as nobody printed\n%s\nwant what it prints as root:\n%s", link, asNobody.Stdout, asRoot.Stdout)
			}
			cli := agenttest.Command(agenttest.Context(t), inst.Binary, "meta-data", def.Name)
			cli.Env = []string{}
			out, err := agenttest.RunCommand(cli)
			if err != nil {
				t.Fatal(err)
			}
			if out.ExitCode != 0 || out.Stdout != asRoot.Stdout {
				t.Errorf("ocfbox meta-data %s: exit %d and\n%s\nwant exit 0 and what the agent's link prints:\n%s", def.Name, out.ExitCode, out.Stdout, asRoot.Stdout)
			}
		})
	}
}

// ocfTesterTimeout bounds one ocf-tester run. It is a whole sequence of
// actions, not one command, so agenttest.CommandTimeout is too short for
// it: VirtualDomain's run (a guest started and stopped several times) went
// past 30 s on a loaded 2-CPU machine, and the reference apache's recurring
// monitor of a stopped server retries for 5 s, so its run takes about 35 s.
const ocfTesterTimeout = 3 * time.Minute

// ocfTester runs ocf-tester on the agent at path in a fresh sandbox with
// the row's parameters and environment, until ctx ends.
func ocfTester(t *testing.T, ctx context.Context, row agenttest.Row, path string) (agenttest.Output, error) {
	t.Helper()
	sb := agenttest.NewRowSandbox(t, row)
	argv := []string{"ocf-tester", "-n", strings.ToLower(row.Agent) + "-conformance"}
	params := row.Params(sb)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		argv = append(argv, "-o", k+"="+params[k])
	}
	cmd := sb.Command(ctx, append(argv, path)...)
	cmd.Env = row.Environ(t, sb)
	cmd.Dir = sb.Dir
	return agenttest.RunCommand(cmd)
}

func TestOCFTesterPasses(t *testing.T) {
	testenv.RequireRoot(t) // ocf-tester checks permissions as nobody only when root
	testenv.RequireTool(t, "ocf-tester")
	testenv.RequireTool(t, "xmllint")
	testenv.RequireFile(t, dtd)
	inst := agenttest.Install(t)
	for _, def := range agents.All {
		t.Run(def.Name, func(t *testing.T) {
			row, ok := agenttest.LookupRow(def.Name)
			if !ok {
				t.Fatalf("agent %s has no row in tests/internal/agenttest/rows.go; add one", def.Name)
			}
			if row.OCFTesterInLab != "" {
				t.Logf("ocf-tester runs on %s elsewhere: %s", def.Name, row.OCFTesterInLab)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), ocfTesterTimeout)
			defer cancel()
			start := time.Now()
			ours, err := ocfTester(t, ctx, row, inst.Agent(def.Name))
			if err != nil {
				t.Fatalf("ocf-tester on ocfbox's %s: %v", def.Name, err)
			}
			t.Logf("ocfbox %s: ocf-tester exit %d in %s\n%s", def.Name, ours.ExitCode, time.Since(start).Round(100*time.Millisecond), ours.Combined())
			if ours.ExitCode != 0 || !strings.Contains(ours.Stdout, "passed all tests") {
				t.Errorf("ocf-tester on ocfbox's %s: exit %d, want 0 and \"passed all tests\":\n%s", def.Name, ours.ExitCode, ours.Combined())
			}

			// The reference runs for comparison only: our verdict must not
			// depend on it (Pacemaker's Stateful has no DOCTYPE, so it fails
			// ocf-tester's DTD check), not even when it does not finish.
			if row.Reference == "" {
				t.Logf("%s has no reference agent", def.Name)
				return
			}
			if row.ReferenceOCFTesterNote != "" {
				t.Logf("reference %s is not run through ocf-tester: %s", row.Reference, row.ReferenceOCFTesterNote)
				return
			}
			ctx, cancel = context.WithTimeout(context.Background(), ocfTesterTimeout)
			defer cancel()
			start = time.Now()
			ref, err := ocfTester(t, ctx, row, row.Reference)
			took := time.Since(start).Round(100 * time.Millisecond)
			if err != nil {
				t.Logf("reference %s: ocf-tester did not finish (%s; for comparison only, not a failure): %v", row.Reference, took, err)
				return
			}
			t.Logf("reference %s: ocf-tester exit %d in %s\n%s", row.Reference, ref.ExitCode, took, ref.Combined())
		})
	}
}
