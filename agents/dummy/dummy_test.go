package dummy_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocfbox/ocfbox/agents/dummy"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
)

// recurring makes a monitor a recurring one; without it a monitor is a
// probe, as Pacemaker sends it.
const recurring = "OCF_RESKEY_CRM_meta_interval=10000"

// resource is one Dummy resource with its own state directory.
type resource struct {
	t       *testing.T
	rsctmp  string
	environ []string
}

// newResource returns a resource named instance whose environment is what
// pacemaker-execd passes, plus extra (NAME=value).
func newResource(t *testing.T, instance string, extra ...string) *resource {
	t.Helper()
	rsctmp := t.TempDir()
	environ := append([]string{
		"OCF_ROOT=/usr/lib/ocf",
		"OCF_RA_VERSION_MAJOR=1",
		"OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=" + instance,
		"OCF_RESOURCE_TYPE=Dummy",
		"OCF_RESOURCE_PROVIDER=ocfbox",
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"OCF_RESKEY_CRM_meta_timeout=20000",
		"OCF_RESKEY_crm_feature_set=3.16.1",
		"HA_RSCTMP=" + rsctmp,
		"HA_VARRUN=" + t.TempDir(),
		"HA_LOGFACILITY=none",
		"HA_debug=0",
	}, extra...)
	return &resource{t: t, rsctmp: rsctmp, environ: environ}
}

// result is what an action left behind.
type result struct {
	ocftest.Result
	reason string // the last exit reason on stderr, "" when none
	hasRsn bool   // whether stderr had an exit reason at all
}

// do runs one action through ocf.Main, as pacemaker-execd runs an agent:
// argv [name, action] and the environment, extra added for this action.
func (r *resource) do(action string, extra ...string) result {
	r.t.Helper()
	res := result{Result: ocftest.Run(dummy.Definition, action, append(append([]string{}, r.environ...), extra...))}
	res.reason, res.hasRsn = res.ExitReason()
	return res
}

// step is one action and what it must return. reason "" means the action
// must not print an exit reason; otherwise the reason must contain it.
type step struct {
	action string
	env    []string
	want   ocf.Status
	reason string
}

func (r *resource) run(steps []step) {
	r.t.Helper()
	for i, s := range steps {
		got := r.do(s.action, s.env...)
		desc := s.action
		if len(s.env) > 0 {
			desc += " " + strings.Join(s.env, " ")
		}
		if got.Status != s.want {
			r.t.Fatalf("step %d (%s): status %s (reason %q), want %s\nstderr:\n%s", i+1, desc, got.Status, got.reason, s.want, got.Stderr)
		}
		switch {
		case s.reason == "" && got.hasRsn:
			r.t.Errorf("step %d (%s): exit reason %q, want none", i+1, desc, got.reason)
		case s.reason != "" && !strings.Contains(got.reason, s.reason):
			r.t.Errorf("step %d (%s): exit reason %q, want one containing %q", i+1, desc, got.reason, s.reason)
		}
	}
}

func (r *resource) defaultState(instance string) string {
	return filepath.Join(r.rsctmp, "Dummy-"+instance+".state")
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat %s: %v", path, err)
	}
	return err == nil
}

func TestActionSequences(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"probe of a never-started resource is not running, without an exit reason", []step{
			{"monitor", nil, ocf.NotRunning, ""},
		}},
		{"recurring monitor of a stopped resource is not running, with an exit reason", []step{
			{"monitor", []string{recurring}, ocf.NotRunning, "not started"},
		}},
		{"start makes monitor and probe report running", []step{
			{"start", nil, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.Success, ""},
			{"monitor", nil, ocf.Success, ""},
		}},
		{"stop makes monitor report not running", []step{
			{"start", nil, ocf.Success, ""},
			{"stop", nil, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.NotRunning, "not started"},
			{"monitor", nil, ocf.NotRunning, ""},
		}},
		{"start of a running resource succeeds and it keeps running", []step{
			{"start", nil, ocf.Success, ""},
			{"start", nil, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.Success, ""},
		}},
		{"stop of a stopped resource succeeds", []step{
			{"start", nil, ocf.Success, ""},
			{"stop", nil, ocf.Success, ""},
			{"stop", nil, ocf.Success, ""},
		}},
		{"stop of a never-started resource succeeds", []step{
			{"stop", nil, ocf.Success, ""},
		}},
		{"migrate_to stops the resource on the source", []step{
			{"start", nil, ocf.Success, ""},
			{"migrate_to", []string{"OCF_RESKEY_CRM_meta_migrate_target=node2"}, ocf.Success, ""},
			{"monitor", nil, ocf.NotRunning, ""},
		}},
		{"migrate_from starts the resource on the target", []step{
			{"migrate_from", []string{"OCF_RESKEY_CRM_meta_migrate_source=node1"}, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.Success, ""},
		}},
		{"reload of a running resource succeeds and it keeps running", []step{
			{"start", nil, ocf.Success, ""},
			{"reload", []string{"OCF_RESKEY_fake=changed"}, ocf.Success, ""},
			{"monitor", []string{recurring}, ocf.Success, ""},
		}},
		{"reload of a stopped resource succeeds and does not start it", []step{
			{"reload", nil, ocf.Success, ""},
			{"monitor", nil, ocf.NotRunning, ""},
		}},
		{"validate-all with the default state succeeds", []step{
			{"validate-all", nil, ocf.Success, ""},
		}},
		{"an unknown action is unimplemented and names the action", []step{
			{"frobnicate", nil, ocf.ErrUnimplemented, `"frobnicate"`},
		}},
		{"promote is unimplemented: Dummy is not promotable", []step{
			{"promote", nil, ocf.ErrUnimplemented, `"promote"`},
		}},
		{"usage succeeds", []step{
			{"usage", nil, ocf.Success, ""},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newResource(t, "dummy1").run(tc.steps)
		})
	}
}

func TestStateFileDefaultsToRscTmpAndInstance(t *testing.T) {
	r := newResource(t, "web-test")
	r.run([]step{{"start", nil, ocf.Success, ""}})
	if want := r.defaultState("web-test"); !exists(t, want) {
		t.Fatalf("start did not create the default state file %s", want)
	}
	r.run([]step{{"stop", nil, ocf.Success, ""}})
	if want := r.defaultState("web-test"); exists(t, want) {
		t.Fatalf("stop left the state file %s behind", want)
	}
}

func TestStateParameterChoosesTheFile(t *testing.T) {
	state := filepath.Join(t.TempDir(), "custom.state")
	r := newResource(t, "dummy1", "OCF_RESKEY_state="+state)
	r.run([]step{{"start", nil, ocf.Success, ""}})
	if !exists(t, state) {
		t.Fatalf("start did not create state=%s", state)
	}
	if other := r.defaultState("dummy1"); exists(t, other) {
		t.Fatalf("start created the default state file %s although state=%s", other, state)
	}
	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	r.run([]step{{"monitor", []string{recurring}, ocf.NotRunning, state}})
}

func TestMetadataShowsTheExpandedStateDefault(t *testing.T) {
	r := newResource(t, "web-test")
	got := r.do("meta-data")
	if got.Status != ocf.Success {
		t.Fatalf("meta-data: status %s, want %s", got.Status, ocf.Success)
	}
	want := `default="` + r.defaultState("web-test") + `"`
	if !strings.Contains(got.Stdout, want) {
		t.Errorf("meta-data does not show the state default as %s:\n%s", want, got.Stdout)
	}
}

// A state parameter that cannot work is an error of this host's
// configuration (OCF_ERR_ARGS), named in the exit reason, and the actions
// that check it change nothing on the system.
func TestBadStateParameter(t *testing.T) {
	base := t.TempDir()
	aFile := filepath.Join(base, "regular-file")
	if err := os.WriteFile(aFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	aDir := filepath.Join(base, "a-directory")
	if err := os.Mkdir(aDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		state string
	}{
		{"directory does not exist", filepath.Join(base, "missing", "Dummy.state")},
		{"parent is a regular file", filepath.Join(aFile, "Dummy.state")},
		{"state is a directory", aDir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newResource(t, "dummy1", "OCF_RESKEY_state="+tc.state)
			before := listTree(t, base)
			for _, action := range []string{"validate-all", "start", "migrate_from", "reload"} {
				r.run([]step{{action, nil, ocf.ErrArgs, "state=" + tc.state}})
			}
			if after := listTree(t, base); after != before {
				t.Errorf("a refused action changed the file system:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			// What a stopped resource with this configuration reports.
			r.run([]step{
				{"monitor", nil, ocf.NotRunning, ""},
				{"stop", nil, ocf.Success, ""},
			})
			if !exists(t, aDir) {
				t.Errorf("stop removed the directory %s given as state", aDir)
			}
		})
	}
}

func TestValidateAllLeavesNothingBehind(t *testing.T) {
	r := newResource(t, "dummy1")
	r.run([]step{{"validate-all", nil, ocf.Success, ""}})
	if tree := listTree(t, r.rsctmp); tree != "" {
		t.Errorf("validate-all left files in the state directory:\n%s", tree)
	}
}

// listTree describes every path under dir, one per line.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			b.WriteString(strings.TrimPrefix(path, dir) + " " + d.Type().String() + "\n")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The binary, run under the name Dummy by a user who cannot write the
// state directory, refuses validate-all with OCF_ERR_ARGS naming state=.
// As root this needs a second user: root writes any directory.
func TestValidateAllUnwritableStateDirectoryAsOtherUser(t *testing.T) {
	testenv.RequireRoot(t)
	bin := testenv.Binary(t)

	top := t.TempDir()
	bindir := filepath.Join(top, "bin")
	stateDir := filepath.Join(top, "state")
	for _, d := range []string{bindir, stateDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The user must reach the binary and the state directory, not write
	// them; t.TempDir makes its directory and the one above it private.
	for _, d := range []string{filepath.Dir(top), top} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, bin, filepath.Join(bindir, "ocfbox"), 0o755)
	agent := filepath.Join(bindir, "Dummy")
	if err := os.Symlink("ocfbox", agent); err != nil {
		t.Fatal(err)
	}

	state := filepath.Join(stateDir, "Dummy.state")
	cmd := exec.Command(agent, "validate-all")
	cmd.Env = []string{
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=dummy1", "OCF_RESOURCE_TYPE=Dummy",
		"OCF_RESKEY_state=" + state, "HA_RSCTMP=" + stateDir,
	}
	const nobody = 65534
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Dummy validate-all as uid %d: %v, want exit %d\nstderr:\n%s", nobody, err, ocf.ErrArgs, stderr.String())
	}
	if got := ocf.Status(ee.ExitCode()); got != ocf.ErrArgs {
		t.Fatalf("Dummy validate-all with an unwritable state directory: exit %s, want %s\nstderr:\n%s", got, ocf.ErrArgs, stderr.String())
	}
	if want := "ocf-exit-reason:state=" + state; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr has no exit reason starting %q:\n%s", want, stderr.String())
	}
	if tree := listTree(t, stateDir); tree != "" {
		t.Errorf("validate-all changed the state directory:\n%s", tree)
	}
}

func copyFile(t *testing.T, from, to string, mode fs.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
