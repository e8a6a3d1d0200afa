// Package fakecrm is the one stand-in for the Pacemaker tools agents run,
// for tests that run agents without a cluster: crm_attribute
// (--promotion[=RESOURCE] -v SCORE | -D | -G [-q]), crm_master
// (-l reboot -v SCORE | -D | -G [-q]) and crm_node (-n). The program,
// cmd/fakecrm, answers as the tool it is run as, with the real tools'
// output and exit codes: its tests compare the two, the real tools
// working on a CIB file (NewCIB) or finding no cluster.
//
// Install puts the tools in a directory, to be an agent's HA_SBIN_DIR.
// They keep their state in that directory: the promotion scores, the
// node name crm_node prints, and a record of every call, which the test
// reads back through Sbin.
package fakecrm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

// Files the tools keep in their directory, next to themselves.
const (
	callsFile     = "calls.jsonl" // one Call as JSON a line
	nodeNameFile  = "node-name"   // what crm_node -n prints
	noClusterFile = "no-cluster"  // there: every tool fails as without a cluster
	scorePrefix   = "master-"     // master-INSTANCE holds INSTANCE's promotion score
)

// nodeID is the id of the local node in the CIB that NewCIB writes, which
// crm_attribute puts in the ids of the attributes it sets.
const nodeID = "1"

// tools are the names the program answers to.
var tools = []string{"crm_attribute", "crm_master", "crm_node"}

// Sbin is a directory holding the fake tools.
type Sbin struct {
	Dir string
}

// Install builds the fake tools once per test process and installs them
// in dir, which it creates if need be, and returns it. Installing in a
// directory that already has them keeps them and their state.
func Install(t testing.TB, dir string) Sbin {
	t.Helper()
	prog := testenv.Build(t, "./internal/fakecrm/cmd/fakecrm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("install the fake Pacemaker tools: %v", err)
	}
	for _, name := range tools {
		// A hard link, not a symlink: the program finds its state next to
		// the path it runs from (os.Executable resolves symlinks).
		err := os.Link(prog, filepath.Join(dir, name))
		if err != nil && !errors.Is(err, fs.ErrExist) {
			t.Fatalf("install the fake Pacemaker tools: %v", err)
		}
	}
	return Sbin{Dir: dir}
}

// Score is the promotion score the tools hold for instance; ok is false
// when none is set.
func (s Sbin) Score(t testing.TB, instance string) (score string, ok bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir, scorePrefix+instance))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatalf("promotion score of %s: %v", instance, err)
	}
	return strings.TrimSuffix(string(b), "\n"), true
}

// Call is one run of a fake tool.
type Call struct {
	Argv     []string // the name it ran as (without a directory), then its arguments
	Instance string   // the OCF_RESOURCE_INSTANCE in its environment
}

// Calls are the tools' runs so far, in order.
func (s Sbin) Calls(t testing.TB) []Call {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir, callsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("calls of the fake Pacemaker tools: %v", err)
	}
	var calls []Call
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var c Call
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("calls of the fake Pacemaker tools: line %q: %v", line, err)
		}
		calls = append(calls, c)
	}
	return calls
}

// SetNodeName makes crm_node -n print name; it prints the host name
// before. An empty name makes it print an empty line.
func (s Sbin) SetNodeName(t testing.TB, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.Dir, nodeNameFile), []byte(name), 0o644); err != nil {
		t.Fatalf("set the fake node name: %v", err)
	}
}

// NoCluster makes every later call fail as the real tools do on a node
// where Pacemaker is not running.
func (s Sbin) NoCluster(t testing.TB) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.Dir, noClusterFile), nil, 0o644); err != nil {
		t.Fatalf("take the fake cluster down: %v", err)
	}
}

// NewCIB writes an empty CIB (cibadmin --empty) to path with the local
// host as a node and its node_state in the status section, which is what
// crm_attribute needs to set a transient (promotion) attribute in a CIB
// file without a running cluster. Run Pacemaker's tools against it with
// CIB_file=path in their environment.
func NewCIB(t testing.TB, path string) {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatalf("CIB: %v", err)
	}
	run := func(argv ...string) []byte {
		cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "CIB_file=" + path}
		out, err := cmd.Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		if err != nil {
			t.Fatalf("CIB: %s: %v", strings.Join(argv, " "), err)
		}
		return out
	}
	if err := os.WriteFile(path, run("cibadmin", "--empty"), 0o600); err != nil {
		t.Fatalf("CIB: %v", err)
	}
	run("cibadmin", "--create", "-o", "nodes", "--xml-text",
		fmt.Sprintf(`<node id=%q uname=%q/>`, nodeID, host))
	run("cibadmin", "--create", "-o", "status", "--xml-text",
		fmt.Sprintf(`<node_state id=%q uname=%q/>`, nodeID, host))
}
