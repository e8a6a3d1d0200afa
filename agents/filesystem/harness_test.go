package filesystem_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/agents/filesystem"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
	"github.com/ocfbox/ocfbox/pkg/mount"
)

func TestMain(m *testing.M) { testenv.RunInPrivateMountNamespace(m) }

// rsc is a resource under test: its parameters and meta attributes, and
// a state directory of its own.
type rsc struct {
	t      *testing.T
	name   string
	rsctmp string
	params map[string]string
	meta   map[string]string
	level  int
}

func newRsc(t *testing.T, params map[string]string) *rsc {
	t.Helper()
	// The deep checks run the binary as a child (the test binary is not it).
	filesystem.Self = testenv.Binary(t)
	return &rsc{t: t, name: "fs", rsctmp: t.TempDir(), params: params, meta: map[string]string{}}
}

func (r *rsc) environ(action string) []string {
	env := []string{
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=" + r.name, "OCF_RESOURCE_TYPE=Filesystem",
		"HA_RSCTMP=" + r.rsctmp, "HA_logfacility=none", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	}
	if r.level != 0 {
		env = append(env, "OCF_CHECK_LEVEL="+strconv.Itoa(r.level))
	}
	for _, k := range slices.Sorted(maps.Keys(r.params)) {
		env = append(env, "OCF_RESKEY_"+k+"="+r.params[k])
	}
	meta := maps.Clone(r.meta)
	if action == "monitor" {
		if _, ok := meta["interval"]; !ok {
			meta["interval"] = "20000"
		}
	}
	if action == "probe" {
		delete(meta, "interval")
	}
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		env = append(env, "OCF_RESKEY_CRM_meta_"+k+"="+meta[k])
	}
	return env
}

// do runs an action in-process ("probe" is a monitor without interval).
func (r *rsc) do(action string) ocftest.Result {
	r.t.Helper()
	act := action
	if action == "probe" {
		act = "monitor"
	}
	return ocftest.Run(filesystem.Definition, act, r.environ(action))
}

// expect runs action and checks its status; it returns the exit reason.
func (r *rsc) expect(action string, want ocf.Status) string {
	r.t.Helper()
	res := r.do(action)
	reason, _ := res.ExitReason()
	if res.Status != want {
		r.t.Fatalf("%s returned %s (%s), want %s\nstderr: %s", action, res.Status, reason, want, res.Stderr)
	}
	return reason
}

// table is this process's mount table.
func table(t *testing.T) mount.Table {
	t.Helper()
	tab, err := mount.ReadTable(mount.SelfMountinfo)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// snapshot is the mount table as a set of "source on mountpoint type"
// lines, to prove that a failed action changed nothing.
func snapshot(t *testing.T) []string {
	var out []string
	for _, m := range table(t) {
		out = append(out, m.Source+" on "+m.Mountpoint+" type "+m.FSType)
	}
	return out
}

func mountedAt(t *testing.T, dir string) (mount.Mount, bool) {
	t.Helper()
	return table(t).At(dir)
}

// spawn starts argv with its working directory in dir; the process is
// killed at the end of the test.
func spawn(t *testing.T, dir string, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	waits[cmd] = done
	return cmd
}

var waits = map[*exec.Cmd]chan struct{}{}

// gone reports whether the spawned process has exited (within 2s).
func gone(cmd *exec.Cmd) bool {
	select {
	case <-waits[cmd]:
		return true
	case <-time.After(2 * time.Second):
		return false
	}
}

func alive(cmd *exec.Cmd) bool {
	select {
	case <-waits[cmd]:
		return false
	default:
		return cmd.Process.Signal(syscall.Signal(0)) == nil
	}
}

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
