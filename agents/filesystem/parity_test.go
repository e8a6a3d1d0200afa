package filesystem_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/looptest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
	"github.com/ocfbox/ocfbox/pkg/mount"
	"golang.org/x/sys/unix"
)

// Parity: the same scenario, step by step, against the installed
// reference agent (resource-agents 4.12) and ocfbox's binary, each with a
// loop device, directories and processes of its own, in the test's
// private mount namespace. Each step says what both return; where they
// differ the scenario names the deviation, which README.md's deviations
// table lists.

// timedOut is the pseudo-status of an agent that did not return before
// the step's limit (Pacemaker would have killed it).
const timedOut ocf.Status = -1

// notRun marks a step the reference must not run: with directory=/ its
// stop finds "users" with fuser -m / and kills every process of the
// machine (verified the hard way; the test runs in a private mount
// namespace, but processes are not private).
const notRun ocf.Status = -2

type pstep struct {
	do          string // an action (probe, monitor, monitor10, monitor20, monitor15, start, stop, validate-all, status), or an event
	ref, ocfbox ocf.Status
	meta        map[string]string
	limit       time.Duration
}

func both(do string, s ocf.Status) pstep           { return pstep{do: do, ref: s, ocfbox: s} }
func differ(do string, ref, ours ocf.Status) pstep { return pstep{do: do, ref: ref, ocfbox: ours} }
func event(do string) pstep                        { return pstep{do: do} }
func expectEvent(do string, ref, ours bool) pstep {
	return pstep{do: do, ref: boolStatus(ref), ocfbox: boolStatus(ours)}
}
func boolStatus(b bool) ocf.Status { return map[bool]ocf.Status{true: 0, false: 1}[b] }

// pside is one side's surroundings.
type pside struct {
	name, agent string
	dev, dev2   *looptest.Device
	base        string // a directory of its own, on a tmpfs of its own
	params      map[string]string
	procs       map[string]*exec.Cmd
	freezeFD    int
}

type pscenario struct {
	name      string
	params    func(s *pside) map[string]string
	meta      map[string]string
	steps     []pstep
	deviation string
}

func parityScenarios() []pscenario {
	ext4 := func(s *pside) map[string]string {
		return map[string]string{"device": s.dev.Path, "directory": s.base + "/mnt", "fstype": "ext4"}
	}
	with := func(p func(*pside) map[string]string, kv ...string) func(*pside) map[string]string {
		return func(s *pside) map[string]string {
			m := p(s)
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i]] = strings.NewReplacer("$BASE", s.base, "$DEV", s.dev.Path).Replace(kv[i+1])
			}
			return m
		}
	}
	clone := map[string]string{"clone_max": "2", "clone_node_max": "1", "clone": "0"}
	return []pscenario{
		{
			name:   "ext4 lifecycle, directory created, depths 0, 10 and 20",
			params: ext4,
			steps: []pstep{
				both("probe", ocf.NotRunning), both("validate-all", ocf.Success), both("start", ocf.Success),
				both("monitor", ocf.Success), both("monitor10", ocf.Success), both("monitor20", ocf.Success),
				both("status", ocf.Success), both("start", ocf.Success), both("probe", ocf.Success),
				both("stop", ocf.Success), both("stop", ocf.Success), both("monitor", ocf.NotRunning), both("probe", ocf.NotRunning),
			},
		},
		{
			name: "xfs by -L label",
			params: func(s *pside) map[string]string {
				return map[string]string{"device": "-L " + s.dev2.Label, "directory": s.base + "/x", "fstype": "xfs"}
			},
			steps: []pstep{both("start", ocf.Success), both("monitor", ocf.Success), both("monitor20", ocf.Success), both("stop", ocf.Success), both("monitor", ocf.NotRunning)},
		},
		{
			name: "xfs by LABEL=",
			params: func(s *pside) map[string]string {
				return map[string]string{"device": "LABEL=" + s.dev2.Label, "directory": s.base + "/x", "fstype": "xfs"}
			},
			steps:     []pstep{differ("start", ocf.ErrInstalled, ocf.Success), differ("monitor", ocf.NotRunning, ocf.Success), both("stop", ocf.Success), both("monitor", ocf.NotRunning)},
			deviation: "device=LABEL=… or UUID=… (mount(8)'s own spelling): 4.12 takes it for a device path that does not exist (start 5); ocfbox mounts the device with that label, as it does for -L and -U",
		},
		{
			name: "bind,ro mount",
			params: func(s *pside) map[string]string {
				return map[string]string{"device": s.base, "directory": s.base + "/../bound-" + s.name, "fstype": "none", "options": "bind,ro"}
			},
			steps: []pstep{both("start", ocf.Success), both("monitor", ocf.Success), both("monitor10", ocf.Success), both("stop", ocf.Success), both("probe", ocf.NotRunning)},
		},
		{
			name: "tmpfs",
			params: func(s *pside) map[string]string {
				return map[string]string{"device": "pt-" + s.name, "directory": s.base + "/t", "fstype": "tmpfs", "options": "size=4m"}
			},
			steps: []pstep{both("start", ocf.Success), both("monitor20", ocf.Success), both("stop", ocf.Success), both("monitor", ocf.NotRunning)},
		},
		{
			name:   "missing device",
			params: with(ext4, "device", "/dev/ocfbx-missing"),
			steps:  []pstep{both("validate-all", ocf.Success), both("probe", ocf.NotRunning), both("start", ocf.ErrInstalled), both("stop", ocf.Success), expectEvent("nothing-mounted", true, true)},
		},
		{
			name:   "unknown fstype",
			params: with(ext4, "fstype", "ocfbxfs"),
			steps:  []pstep{both("validate-all", ocf.Success), both("start", ocf.ErrInstalled), both("stop", ocf.Success), expectEvent("nothing-mounted", true, true)},
		},
		{
			name:   "directory that is a file",
			params: with(ext4, "directory", "$BASE/a-file"),
			steps:  []pstep{both("start", ocf.ErrInstalled), both("probe", ocf.NotRunning), expectEvent("nothing-mounted", true, true)},
		},
		{
			name:   "options the kernel refuses",
			params: with(ext4, "options", "ocfbx_bogus=1"),
			steps:  []pstep{both("start", ocf.ErrGeneric), both("probe", ocf.NotRunning), expectEvent("nothing-mounted", true, true)},
		},
		{
			name:   "wrong fstype for the device",
			params: with(ext4, "fstype", "xfs"),
			steps:  []pstep{both("start", ocf.ErrGeneric), expectEvent("nothing-mounted", true, true)},
		},
		{
			name:   "another device already mounted on the directory",
			params: ext4,
			steps: []pstep{
				event("mount-other"),
				differ("probe", ocf.Success, ocf.NotRunning), differ("monitor", ocf.Success, ocf.ErrGeneric),
				differ("start", ocf.Success, ocf.ErrGeneric),
				both("stop", ocf.Success), expectEvent("other-still-mounted", false, true),
			},
			deviation: "another device mounted on the directory: 4.12 takes it for the resource (probe, monitor and start 0) and its stop unmounts it; ocfbox reports it (probe 7, monitor 1, start 1 without mounting over it) and its stop leaves it mounted",
		},
		{
			name:   "ext4 as a clone",
			params: ext4, meta: clone,
			steps: []pstep{both("validate-all", ocf.Success), both("start", ocf.ErrConfigured), both("probe", ocf.NotRunning), both("stop", ocf.Success), expectEvent("nothing-mounted", true, true)},
		},
		{
			name:   "ext4 as a clone with force_clones",
			params: with(ext4, "force_clones", "true"), meta: clone,
			steps: []pstep{both("start", ocf.Success), both("monitor", ocf.Success), both("stop", ocf.Success)},
		},
		{
			name:      "directory /",
			params:    with(ext4, "directory", "/"),
			steps:     []pstep{differ("probe", ocf.Success, ocf.ErrConfigured), differ("start", ocf.Success, ocf.ErrConfigured), differ("stop", notRun, ocf.Success)},
			deviation: "directory=/: 4.12 takes the root file system for the resource (probe and start 0), and its stop unmounts everything and kills every process using the root file system (fuser -m /); ocfbox answers 6 to probe and start and 0 to stop, touching nothing",
		},
		{
			name:      "device with a trailing blank",
			params:    with(ext4, "device", "$DEV "),
			steps:     []pstep{differ("start", ocf.ErrInstalled, ocf.ErrConfigured), both("stop", ocf.Success)},
			deviation: "device or directory with a leading or trailing blank: 4.12 looks for a device of that name (start 5); ocfbox refuses the configuration (6), as later resource-agents do",
		},
		{
			name:   "unsupported OCF_CHECK_LEVEL",
			params: ext4,
			steps:  []pstep{both("start", ocf.Success), both("monitor15", ocf.ErrConfigured), both("stop", ocf.Success)},
		},
		{
			name:   "stop with users of the mount",
			params: ext4,
			steps: []pstep{
				both("start", ocf.Success), event("spawn-users"),
				both("stop", ocf.Success), expectEvent("users-gone", true, true), both("monitor", ocf.NotRunning),
			},
		},
		{
			// The bind mount's source is on a tmpfs of the side's own:
			// fuser -m matches every process on that file system.
			name: "stop of a bind mount kills only its users",
			params: func(s *pside) map[string]string {
				return map[string]string{"device": s.base + "/src", "directory": s.base + "/bind", "fstype": "none", "options": "bind"}
			},
			steps: []pstep{
				both("start", ocf.Success), event("spawn-bind-users"),
				both("stop", ocf.Success), expectEvent("users-gone", true, true),
				expectEvent("bystander-alive", false, true),
			},
			deviation: "stop of a busy bind mount: 4.12 finds users with fuser -m, which matches every process on the source's file system, and kills a process that only works in another directory of it; ocfbox signals only the processes using this mount",
		},
		{
			name:   "a frozen file system at depth 20",
			params: ext4,
			steps: []pstep{
				both("start", ocf.Success), event("freeze"),
				{do: "monitor20", ref: timedOut, ocfbox: ocf.ErrGeneric, meta: map[string]string{"timeout": "4000"}, limit: 8 * time.Second},
				event("thaw"), both("monitor20", ocf.Success), both("stop", ocf.Success),
			},
			deviation: "depth-20 monitor of a file system that does not answer: the reference's dd blocks past the timeout (until Pacemaker kills it, and longer: a process in uninterruptible I/O cannot die); ocfbox answers 1 at its deadline",
		},
	}
}

func TestParity(t *testing.T) {
	testenv.RequirePrivateMountNamespace(t)
	testenv.RequireFile(t, reference)
	testenv.RequireTool(t, "fuser")
	ours := agentLink(t)
	for _, sc := range parityScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			sides := []*pside{newPside(t, "reference", reference), newPside(t, "ocfbox", ours)}
			for _, s := range sides {
				s.params = sc.params(s)
			}
			for i, st := range sc.steps {
				for _, s := range sides {
					want := st.ocfbox
					if s.name == "reference" {
						want = st.ref
					}
					if want == notRun {
						t.Logf("step %d %s: %s not run", i+1, st.do, s.name)
						continue
					}
					got, reason := s.step(t, sc, st)
					t.Logf("step %d %s: %s %d %q", i+1, st.do, s.name, int(got), reason)
					if got != want {
						t.Errorf("step %d %s: %s returned %d (%s), the scenario expects %d", i+1, st.do, s.name, int(got), reason, int(want))
					}
				}
			}
			for _, s := range sides {
				s.cleanup()
			}
		})
	}
}

// agentLink is the built binary linked as Filesystem.
func agentLink(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	link := filepath.Join(dir, "Filesystem")
	if err := os.Symlink(testenv.Binary(t), link); err != nil {
		t.Fatal(err)
	}
	return link
}

func newPside(t *testing.T, name, agent string) *pside {
	t.Helper()
	root := t.TempDir()
	base := filepath.Join(root, name)
	mkdir(t, base)
	// A tmpfs of the side's own: what fuser -m can match is confined to
	// it.
	if err := mount.Syscall("parity-"+name, base, "tmpfs", mount.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(base, unix.MNT_DETACH) })
	mkdir(t, base, "src")
	mkdir(t, base, "elsewhere")
	os.WriteFile(filepath.Join(base, "a-file"), []byte("x"), 0o644)
	return &pside{
		name: name, agent: agent, base: base, procs: map[string]*exec.Cmd{}, freezeFD: -1,
		dev: looptest.New(t, looptest.Options{}),
		// A label of its own: a label two devices share is refused.
		dev2: looptest.New(t, looptest.Options{FSType: "xfs", Label: fmt.Sprintf("p%s%06d", name[:1], rand.IntN(1000000))}),
	}
}

func (s *pside) dir() string { return s.params["directory"] }

// step runs one step; events answer 0 (true) or 1 (false).
func (s *pside) step(t *testing.T, sc pscenario, st pstep) (ocf.Status, string) {
	t.Helper()
	switch st.do {
	case "mount-other":
		mkdir(t, s.dir())
		if err := mount.Syscall(s.dev2.Path, s.dir(), "xfs", mount.Options{}); err != nil {
			t.Fatal(err)
		}
		return 0, ""
	case "other-still-mounted":
		m, ok := mountedAt(t, s.dir())
		if ok {
			unix.Unmount(s.dir(), unix.MNT_DETACH)
		}
		return boolStatus(ok && m.FSType == "xfs"), ""
	case "nothing-mounted":
		_, ok := mountedAt(t, s.dir())
		return boolStatus(!ok), ""
	case "spawn-users":
		s.procs["user"] = spawnQuiet(t, s.dir(), "sleep", "1000")
		time.Sleep(100 * time.Millisecond)
		return 0, ""
	case "spawn-bind-users":
		s.procs["user"] = spawnQuiet(t, s.dir(), "sleep", "1000")
		s.procs["bystander"] = spawnQuiet(t, filepath.Join(s.base, "elsewhere"), "sleep", "1000")
		time.Sleep(100 * time.Millisecond)
		return 0, ""
	case "users-gone":
		return boolStatus(gone(s.procs["user"])), ""
	case "bystander-alive":
		return boolStatus(alive(s.procs["bystander"])), ""
	case "freeze":
		fd, err := unix.Open(s.dir(), unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err == nil {
			err = unix.IoctlSetInt(fd, fiFreeze, 0)
		}
		if err != nil {
			t.Fatalf("freeze: %v", err)
		}
		s.freezeFD = fd
		return 0, ""
	case "thaw":
		s.thaw()
		return 0, ""
	}
	if s.name == "reference" && st.do == "stop" && filepath.Clean(s.params["directory"]) == "/" {
		// Never: see notRun.
		t.Fatal("refusing to run the reference's stop with directory=/")
	}
	action, level := st.do, ""
	switch {
	case action == "probe":
	case strings.HasPrefix(action, "monitor") && action != "monitor":
		level = strings.TrimPrefix(action, "monitor")
		action = "monitor"
	}
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=pfs", "OCF_RESOURCE_TYPE=Filesystem", "HA_RSCTMP=" + filepath.Join(filepath.Dir(s.base), "rsctmp-"+s.name),
		"HA_logfacility=none", "OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
	}
	if level != "" {
		env = append(env, "OCF_CHECK_LEVEL="+level)
	}
	meta := map[string]string{"timeout": "20000"}
	maps.Copy(meta, sc.meta)
	maps.Copy(meta, st.meta)
	switch action {
	case "probe":
		action = "monitor"
	case "monitor":
		meta["interval"] = "20000"
	}
	for _, k := range slices.Sorted(maps.Keys(s.params)) {
		env = append(env, "OCF_RESKEY_"+k+"="+s.params[k])
	}
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		env = append(env, "OCF_RESKEY_CRM_meta_"+k+"="+meta[k])
	}
	limit := st.limit
	if limit == 0 {
		limit = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.agent, action)
	cmd.Env = env
	cmd.Dir = "/" // not on the side's tmpfs, where fuser -m would find the agent itself
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// A process stuck in a frozen file system only dies once it is
		// thawed: thaw when the limit is reached, then kill.
		s.thaw()
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	began := time.Now()
	err := cmd.Run()
	reason, _ := ocftest.ExitReason(stderr.String())
	if ctx.Err() != nil || (meta["timeout"] != "" && time.Since(began) > durationMS(meta["timeout"])) {
		return timedOut, "no answer within the timeout: " + reason
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ocf.Status(ee.ExitCode()), reason
	} else if err != nil {
		t.Fatalf("%s %s: %v", s.name, action, err)
	}
	return 0, reason
}

func durationMS(s string) time.Duration {
	n, _ := strconv.Atoi(s)
	return time.Duration(n) * time.Millisecond
}

func (s *pside) thaw() {
	if s.freezeFD >= 0 {
		unix.IoctlSetInt(s.freezeFD, fiThaw, 0)
		unix.Close(s.freezeFD)
		s.freezeFD = -1
	}
}

func (s *pside) cleanup() {
	s.thaw()
	for _, p := range s.procs {
		p.Process.Kill()
	}
	for _, d := range []string{s.base + "/mnt", s.base + "/x", s.base + "/t", s.base + "/bind", filepath.Dir(s.base) + "/bound-" + s.name} {
		for unix.Unmount(d, unix.MNT_DETACH) == nil {
		}
	}
}

// spawnQuiet is spawn without the test's helper bookkeeping of output.
func spawnQuiet(t *testing.T, dir string, argv ...string) *exec.Cmd { return spawn(t, dir, argv...) }
