package main_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/tests/internal/agenttest"
)

// The fake is only worth something if agents cannot tell it from the real
// crm_attribute: the same calls, in the same order, must give the same
// exit codes and output. The real one runs against a CIB file, which is
// as close to a cluster as a test gets without starting one.
func TestFakeAnswersPromotionCallsLikeTheRealCRMAttribute(t *testing.T) {
	real := testenv.RequireTool(t, "crm_attribute")
	testenv.RequireTool(t, "cibadmin")
	dir := t.TempDir()
	cib := filepath.Join(dir, "cib.xml")
	agenttest.NewCIB(t, cib)
	fake := filepath.Join(agenttest.FakeSbin(t, agenttest.NewSandbox(t, false)), "crm_attribute")

	calls := []struct {
		name     string
		instance string
		args     []string
	}{
		{"query before any score is set", "s1", []string{"--promotion", "-G", "-q"}},
		{"delete before any score is set", "s1", []string{"--promotion", "-D"}},
		{"set the unpromoted score", "s1", []string{"--promotion", "-v", "5"}},
		{"quiet query prints the score", "s1", []string{"--promotion", "-G", "-q"}},
		{"query prints scope, name and value", "s1", []string{"--promotion", "-G"}},
		{"set the promoted score", "s1", []string{"--promotion", "-v", "10"}},
		{"query sees the new score", "s1", []string{"--promotion", "-G", "-q"}},
		{"scores are per instance", "s2", []string{"--promotion", "-G", "-q"}},
		{"delete says what it deleted", "s1", []string{"--promotion", "-D"}},
		{"query after delete finds nothing", "s1", []string{"--promotion", "-G", "-q"}},
		{"promotion outside an agent is a usage error", "", []string{"--promotion", "-v", "5"}},
	}
	for _, c := range calls {
		env := []string{agenttest.Path, "LC_ALL=C", "CIB_file=" + cib}
		if c.instance != "" {
			env = append(env, "OCF_RESOURCE_INSTANCE="+c.instance)
		}
		run := func(bin string) agenttest.Output {
			cmd := agenttest.Command(agenttest.Context(t), append([]string{bin}, c.args...)...)
			cmd.Env = env
			out, err := agenttest.RunCommand(cmd)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			return out
		}
		want, got := run(real), run(fake)
		t.Logf("%s: crm_attribute %s -> exit %d %q %q", c.name, strings.Join(c.args, " "), want.ExitCode, want.Stdout, want.Stderr)
		if got != want {
			t.Errorf("%s: crm_attribute %s:\nreal: exit %d, stdout %q, stderr %q\nfake: exit %d, stdout %q, stderr %q",
				c.name, strings.Join(c.args, " "), want.ExitCode, want.Stdout, want.Stderr, got.ExitCode, got.Stdout, got.Stderr)
		}
	}
}
