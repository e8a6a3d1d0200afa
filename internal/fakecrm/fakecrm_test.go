package fakecrm_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/ocfbox/ocfbox/internal/fakecrm"
	"github.com/ocfbox/ocfbox/internal/testenv"
)

// output is how a tool answered.
type output struct {
	exit           int
	stdout, stderr string
}

// run runs argv with env (and attr, when not nil) to completion.
func run(t *testing.T, env []string, attr *syscall.SysProcAttr, argv ...string) output {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
	cmd.Env, cmd.SysProcAttr = env, attr
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return output{exit: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// call is one call of a tool, with the OCF_RESOURCE_INSTANCE it gets.
type call struct {
	name     string
	instance string
	argv     []string
}

// compare runs each call with the real tool and with the fake one, and
// fails the test where their answers differ. realEnv and realAttr are
// what the real tools run with besides OCF_RESOURCE_INSTANCE.
func compare(t *testing.T, sbin fakecrm.Sbin, realEnv []string, realAttr *syscall.SysProcAttr, calls []call) {
	t.Helper()
	for _, c := range calls {
		env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
		if c.instance != "" {
			env = append(env, "OCF_RESOURCE_INSTANCE="+c.instance)
		}
		want := run(t, append(env, realEnv...), realAttr, append([]string{testenv.RequireTool(t, c.argv[0])}, c.argv[1:]...)...)
		got := run(t, env, nil, append([]string{filepath.Join(sbin.Dir, c.argv[0])}, c.argv[1:]...)...)
		cmdline := strings.Join(c.argv, " ")
		t.Logf("%s: %s -> exit %d %q %q", c.name, cmdline, want.exit, want.stdout, want.stderr)
		if got != want {
			t.Errorf("%s: %s:\nreal: exit %d, stdout %q, stderr %q\nfake: exit %d, stdout %q, stderr %q",
				c.name, cmdline, want.exit, want.stdout, want.stderr, got.exit, got.stdout, got.stderr)
		}
	}
}

// The fake is only worth something if agents cannot tell it from the real
// tools: the same calls, in the same order, must give the same exit codes
// and output. The real ones run against a CIB file, which is as close to
// a cluster as a test gets without starting one.
func TestFakeAnswersPromotionCallsLikeTheRealTools(t *testing.T) {
	testenv.RequireTool(t, "cibadmin")
	cib := filepath.Join(t.TempDir(), "cib.xml")
	fakecrm.NewCIB(t, cib)
	sbin := fakecrm.Install(t, t.TempDir())

	calls := []call{
		{"query before any score is set", "s1", []string{"crm_attribute", "--promotion", "-G", "-q"}},
		{"delete before any score is set", "s1", []string{"crm_attribute", "--promotion", "-D"}},
		{"set the unpromoted score", "s1", []string{"crm_attribute", "--promotion", "-v", "5"}},
		{"quiet query prints the score", "s1", []string{"crm_attribute", "--promotion", "-G", "-q"}},
		{"query prints scope, name and value", "s1", []string{"crm_attribute", "--promotion", "-G"}},
		{"set the promoted score", "s1", []string{"crm_attribute", "--promotion", "-v", "10"}},
		{"query sees the new score", "s1", []string{"crm_attribute", "--promotion", "-G", "-q"}},
		{"scores are per instance", "s2", []string{"crm_attribute", "--promotion", "-G", "-q"}},
		{"--promotion=RESOURCE names the instance", "", []string{"crm_attribute", "--promotion=s1", "-G", "-q"}},
		{"delete says what it deleted", "s1", []string{"crm_attribute", "--promotion", "-D"}},
		{"query after delete finds nothing", "s1", []string{"crm_attribute", "--promotion", "-G", "-q"}},
		{"promotion outside an agent is a usage error", "", []string{"crm_attribute", "--promotion", "-v", "5"}},
		{"crm_master sets a score", "s3", []string{"crm_master", "-l", "reboot", "-v", "5"}},
		{"crm_attribute sees crm_master's score", "s3", []string{"crm_attribute", "--promotion", "-G", "-q"}},
		{"crm_master sees crm_attribute's score", "s3", []string{"crm_master", "-l", "reboot", "-G"}},
		{"crm_master quiet query", "s3", []string{"crm_master", "-l", "reboot", "-G", "-q"}},
		{"crm_master delete says what it deleted", "s3", []string{"crm_master", "-l", "reboot", "-D"}},
		{"crm_master query after delete finds nothing", "s3", []string{"crm_master", "-l", "reboot", "-G", "-q"}},
		{"crm_master outside an agent is a usage error", "", []string{"crm_master", "-l", "reboot", "-v", "5"}},
	}
	compare(t, sbin, []string{"CIB_file=" + cib}, nil, calls)

	var want []fakecrm.Call
	for _, c := range calls {
		want = append(want, fakecrm.Call{Argv: c.argv, Instance: c.instance})
	}
	if got := sbin.Calls(t); !reflect.DeepEqual(got, want) {
		t.Errorf("recorded calls:\n got  %q\n want %q", got, want)
	}
}

// The real tools run in a network namespace of their own, where no
// cluster's IPC sockets (abstract unix sockets) are reachable.
func TestFakeFailsLikeTheRealToolsWithoutACluster(t *testing.T) {
	testenv.RequireRoot(t)
	sbin := fakecrm.Install(t, t.TempDir())
	sbin.NoCluster(t)
	compare(t, sbin, nil, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}, []call{
		{"set", "s1", []string{"crm_attribute", "--promotion", "-v", "5"}},
		{"delete", "s1", []string{"crm_attribute", "--promotion", "-D"}},
		{"query", "s1", []string{"crm_attribute", "--promotion", "-G", "-q"}},
		{"crm_master set", "s1", []string{"crm_master", "-l", "reboot", "-v", "5"}},
		{"crm_master delete", "s1", []string{"crm_master", "-l", "reboot", "-D"}},
		{"a usage error comes first", "", []string{"crm_attribute", "--promotion", "-v", "5"}},
		{"crm_node -n", "s1", []string{"crm_node", "-n"}},
	})
}

func TestFakeCRMNodePrintsTheNodeName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	sbin := fakecrm.Install(t, t.TempDir())
	env := []string{"PATH=/usr/bin:/bin"}
	crmNode := filepath.Join(sbin.Dir, "crm_node")
	if got, want := run(t, env, nil, crmNode, "-n"), (output{stdout: host + "\n"}); got != want {
		t.Errorf("crm_node -n before SetNodeName: %+v, want %+v", got, want)
	}
	sbin.SetNodeName(t, "alpha")
	if got, want := run(t, env, nil, crmNode, "-n"), (output{stdout: "alpha\n"}); got != want {
		t.Errorf("crm_node -n after SetNodeName(alpha): %+v, want %+v", got, want)
	}
}

// Each directory is a node of its own: the score set through one
// installation is not in another.
func TestInstallationsKeepTheirOwnScores(t *testing.T) {
	a, b := fakecrm.Install(t, t.TempDir()), fakecrm.Install(t, t.TempDir())
	env := []string{"PATH=/usr/bin:/bin", "OCF_RESOURCE_INSTANCE=rsc"}
	if out := run(t, env, nil, filepath.Join(a.Dir, "crm_attribute"), "--promotion", "-v", "7"); out.exit != 0 {
		t.Fatalf("crm_attribute --promotion -v 7: %+v", out)
	}
	if score, ok := a.Score(t, "rsc"); score != "7" || !ok {
		t.Errorf("score of rsc where it was set: %q, %v; want 7, true", score, ok)
	}
	if score, ok := b.Score(t, "rsc"); ok {
		t.Errorf("score of rsc in another installation: %q, want none", score)
	}
	if again := fakecrm.Install(t, a.Dir); !reflect.DeepEqual(again.Calls(t), a.Calls(t)) || len(a.Calls(t)) != 1 {
		t.Errorf("installing again lost the calls: %+v", again.Calls(t))
	}
	if score, ok := a.Score(t, "rsc"); score != "7" || !ok {
		t.Errorf("score of rsc after installing again: %q, %v; want 7, true", score, ok)
	}
}
