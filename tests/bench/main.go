// Command bench measures ocfbox's agents against the reference shell
// agents in one run and prints a markdown table.
//
//	go run ./tests/bench [-n 200] [-bin bin/ocfbox] [-run Dummy]
//
// For every scenario (agent, action, setup) it prepares one resource per
// side, each with its own temporary state, then runs the action
// alternately, ocfbox then reference, n times each, with the environment
// pacemaker-execd gives that operation, and reports:
//
//   - the median and 90th percentile wall time of one invocation, fork to
//     exit as the caller sees it;
//   - the programs one invocation executes (successful execve calls under
//     `strace -f`, the agent itself included);
//   - the peak resident set size: ru_maxrss of the invocation's process
//     tree (the largest single process in it) as wait4 reports it. The
//     invocation is started from GNU time, because Linux folds the
//     address space a process replaces at execve into its ru_maxrss: a
//     child of this (larger) Go program would report this program's RSS.
//     The floor printed is /bin/true measured the same way.
//
// Speed is a measurement, not a test: nothing here passes or fails on a
// number. An invocation that does not return the expected status stops
// the run, so a broken agent is never reported as fast.
package main

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scenario is one row of the table: an agent's action on a resource that
// setup prepared.
type scenario struct {
	Agent     string // name of the ocfbox agent (and of its symlink)
	Action    string // the measured action
	Reference string // path of the reference agent
	Want      int    // the status every measured invocation must return
	// Op is the measured operation's meta attributes (CRM_meta_*), as
	// Pacemaker sets them for it, e.g. interval and role.
	Op map[string]string
	// Resource is the resource's meta attributes (clone, promotable …),
	// given to every action.
	Resource map[string]string
	// Setup gives the resource its parameters and brings it to the state
	// the action is measured in, e.g. started.
	Setup func(s *side) error
	// Teardown undoes Setup; nil means stop.
	Teardown func(s *side) error
}

// scenarios are the rows. A new agent adds its own here.
var scenarios = []scenario{
	{
		Agent: "Dummy", Action: "monitor", Want: 0,
		Reference: "/usr/lib/ocf/resource.d/heartbeat/Dummy",
		Op:        map[string]string{"interval": "10000", "name": "monitor"},
		Setup: func(s *side) error {
			s.Params["state"] = s.path("Dummy.state")
			return s.expect("start", 0)
		},
	},
	{
		// A promotable clone instance in the Unpromoted role. Its recurring
		// monitor does not touch the promotion score; start does, so
		// crm_attribute is a fake in HA_SBIN_DIR and nothing reaches a
		// cluster.
		Agent: "Stateful", Action: "monitor", Want: 0,
		Reference: "/usr/lib/ocf/resource.d/pacemaker/Stateful",
		Op:        map[string]string{"interval": "11000", "name": "monitor", "role": "Unpromoted"},
		Resource: map[string]string{
			"clone": "0", "clone_max": "2", "clone_node_max": "1", "globally_unique": "false",
			"notify": "false", "promotable": "true", "promoted_max": "1", "promoted_node_max": "1",
		},
		Setup: func(s *side) error {
			s.Params["state"] = s.path("Stateful.state")
			if err := s.fakeTool("crm_attribute"); err != nil {
				return err
			}
			return s.expect("start", 0)
		},
	},
}

// side is one agent implementation of a scenario, with its own directory.
type side struct {
	Name     string // "ocfbox" or "reference"
	Exe      string // what is executed: a symlink named like the agent, or the script
	Provider string
	Dir      string
	Params   map[string]string // OCF_RESKEY_<name>
	Extra    map[string]string // other variables, e.g. HA_SBIN_DIR
	sc       *scenario
}

func (s *side) path(name string) string { return filepath.Join(s.Dir, name) }

// environ is what pacemaker-execd gives the agent for one operation:
// its own environment (PATH and Pacemaker's logging options, here with
// Pacemaker's defaults and the log file in the side's directory), the
// OCF variables, the parameters and the meta attributes.
func (s *side) environ(op map[string]string) []string {
	env := map[string]string{
		"PATH":                             "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"PCMK_service":                     "pacemaker-execd",
		"PCMK_logfacility":                 "daemon",
		"HA_logfacility":                   "daemon",
		"HA_LOGFACILITY":                   "daemon",
		"PCMK_logfile":                     s.path("pacemaker.log"),
		"HA_logfile":                       s.path("pacemaker.log"),
		"HA_LOGFILE":                       s.path("pacemaker.log"),
		"PCMK_debug":                       "0",
		"HA_debug":                         "0",
		"HA_RSCTMP":                        s.Dir,
		"OCF_ROOT":                         "/usr/lib/ocf",
		"OCF_RA_VERSION_MAJOR":             "1",
		"OCF_RA_VERSION_MINOR":             "1",
		"OCF_RESOURCE_INSTANCE":            "bench-" + strings.ToLower(s.sc.Agent),
		"OCF_RESOURCE_TYPE":                s.sc.Agent,
		"OCF_RESOURCE_PROVIDER":            s.Provider,
		"OCF_EXIT_REASON_PREFIX":           "ocf-exit-reason:",
		"OCF_RESKEY_crm_feature_set":       "3.16.2",
		"OCF_RESKEY_CRM_meta_timeout":      "20000",
		"OCF_RESKEY_CRM_meta_on_node":      "node1",
		"OCF_RESKEY_CRM_meta_on_node_uuid": "1",
	}
	for k, v := range s.sc.Resource {
		env["OCF_RESKEY_CRM_meta_"+k] = v
	}
	for k, v := range op {
		env["OCF_RESKEY_CRM_meta_"+k] = v
	}
	for k, v := range s.Params {
		env["OCF_RESKEY_"+k] = v
	}
	maps.Copy(env, s.Extra)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// command is one invocation of action, optionally through a wrapper
// (strace, time).
func (s *side) command(action string, op map[string]string, wrapper ...string) *exec.Cmd {
	argv := append(slices.Clone(wrapper), s.Exe, action)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = s.environ(op)
	cmd.Dir = s.Dir
	return cmd
}

// expect runs a (setup) action with that action's own operation meta.
func (s *side) expect(action string, want int) error {
	cmd := s.command(action, map[string]string{"name": action})
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return checkStatus(s, action, cmd.Run(), want, out.Bytes())
}

// fakeTool puts a program that does nothing and succeeds in a directory
// named by HA_SBIN_DIR, where agents look for Pacemaker's tools.
func (s *side) fakeTool(name string) error {
	dir := s.path("sbin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.Extra["HA_SBIN_DIR"] = dir
	return os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\nexit 0\n"), 0o755)
}

func checkStatus(s *side, action string, err error, want int, out []byte) error {
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		return fmt.Errorf("%s %s %s: %w", s.Name, s.sc.Agent, action, err)
	}
	if got != want {
		return fmt.Errorf("%s %s %s: exit status %d, want %d\n%s", s.Name, s.sc.Agent, action, got, want, out)
	}
	return nil
}

// timeOnce runs the measured action once and returns its wall time and
// the CPU time (user + system) of its whole process tree, which wait4
// reports with the processes the agent itself waited for.
func (s *side) timeOnce() (wall, cpu time.Duration, err error) {
	cmd := s.command(s.sc.Action, s.sc.Op)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err = cmd.Run()
	wall = time.Since(began)
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return wall, cpu, checkStatus(s, s.sc.Action, err, s.sc.Want, out.Bytes())
}

// result is what was measured of one side of one scenario.
type result struct {
	times    []time.Duration
	cpu      []time.Duration
	execs    []string // basenames of the programs executed, in order
	execsErr string
	rss      []int // KiB
	rssErr   string
}

// programs runs the action once under strace and returns the programs
// it executed successfully, in order.
func (s *side) programs(strace string) ([]string, error) {
	trace := s.path("strace.out")
	cmd := s.command(s.sc.Action, s.sc.Op, strace, "-f", "-qq", "-e", "trace=execve", "-o", trace)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := checkStatus(s, s.sc.Action+" (strace)", cmd.Run(), s.sc.Want, out.Bytes()); err != nil {
		return nil, err
	}
	f, err := os.Open(trace)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseExecs(f)
}

var (
	execCall = regexp.MustCompile(`^(\d+)\s+execve\("((?:[^"\\]|\\.)*)"`)
	resumed  = regexp.MustCompile(`^(\d+)\s+<\.\.\. execve resumed>`)
	success  = regexp.MustCompile(`= 0$`)
)

// parseExecs reads `strace -f -o` output and returns the basename of
// every execve that succeeded; an interrupted call is matched with its
// "resumed" line by pid.
func parseExecs(r io.Reader) ([]string, error) {
	var names []string
	pending := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := execCall.FindStringSubmatch(line); m != nil {
			if strings.HasSuffix(line, "<unfinished ...>") {
				pending[m[1]] = m[2]
				continue
			}
			if success.MatchString(line) {
				names = append(names, filepath.Base(m[2]))
			}
			continue
		}
		if m := resumed.FindStringSubmatch(line); m != nil {
			path, ok := pending[m[1]]
			delete(pending, m[1])
			if ok && success.MatchString(line) {
				names = append(names, filepath.Base(path))
			}
		}
	}
	return names, sc.Err()
}

// peakRSS runs the action from GNU time and returns ru_maxrss in KiB.
func (s *side) peakRSS(gnuTime string) (int, error) {
	report := s.path("time.out")
	cmd := s.command(s.sc.Action, s.sc.Op, gnuTime, "-f", "%M", "-o", report)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := checkStatus(s, s.sc.Action+" (time)", cmd.Run(), s.sc.Want, out.Bytes()); err != nil {
		return 0, err
	}
	return readKiB(report)
}

func readKiB(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// GNU time writes "Command exited with non-zero status N" first when
	// the command failed; the number is the last line.
	lines := strings.Fields(string(b))
	if len(lines) == 0 {
		return 0, fmt.Errorf("%s is empty", path)
	}
	return strconv.Atoi(lines[len(lines)-1])
}

func main() {
	n := flag.Int("n", 200, "invocations of each side per scenario")
	warmup := flag.Int("warmup", 10, "unmeasured invocations of each side first")
	rssRuns := flag.Int("rss-runs", 20, "invocations of each side for the peak RSS")
	bin := flag.String("bin", "", "ocfbox binary to measure (default: build one, statically, from this module)")
	only := flag.String("run", "", "only scenarios whose \"Agent action\" contains this")
	flag.Parse()
	if err := run(*n, *warmup, *rssRuns, *bin, *only, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, warmup, rssRuns int, bin, only string, stdout io.Writer) error {
	if n < 1 {
		return fmt.Errorf("-n %d: need at least one invocation", n)
	}
	work, err := os.MkdirTemp("", "ocfbox-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if bin == "" {
		if bin, err = build(work); err != nil {
			return err
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	if err := requireStatic(bin); err != nil {
		return err
	}
	strace, straceErr := exec.LookPath("strace")
	gnuTime, timeErr := exec.LookPath("time") // GNU time, /usr/bin/time (package time)
	if timeErr == nil {
		if out, err := exec.Command(gnuTime, "--version").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("GNU")) {
			timeErr = fmt.Errorf("%s is not GNU time", gnuTime)
		}
	}
	rssFloor := 0
	if timeErr == nil {
		rssFloor, timeErr = floor(gnuTime, work)
	}

	loadBefore := loadavg()
	base, err := baseline(work, n, warmup)
	if err != nil {
		return err
	}

	var rows []row
	for i := range scenarios {
		sc := &scenarios[i]
		if !strings.Contains(sc.Agent+" "+sc.Action, only) {
			continue
		}
		if _, err := os.Stat(sc.Reference); err != nil {
			return fmt.Errorf("%s %s: reference agent: %w", sc.Agent, sc.Action, err)
		}
		fmt.Fprintf(os.Stderr, "bench: %s %s: %d + %d invocations\n", sc.Agent, sc.Action, n, n)
		r, err := measure(sc, work, bin, n, warmup, rssRuns, strace, straceErr, gnuTime, timeErr)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return fmt.Errorf("-run %q matches no scenario", only)
	}
	report(stdout, rows, base, n, bin, rssFloor, timeErr, loadBefore+" before, "+loadavg()+" after")
	return nil
}

// starts are the process start costs of this machine, measured like the
// agents: what any program pays before it does anything.
type starts struct{ trueCmd, goNoop []time.Duration }

// baseline times /bin/true and a static Go program that does nothing,
// alternately.
func baseline(work string, n, warmup int) (starts, error) {
	dir := filepath.Join(work, "noop")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return starts{}, err
	}
	for name, text := range map[string]string{
		"go.mod":  "module noop\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() {}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return starts{}, err
		}
	}
	noop := filepath.Join(dir, "noop")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", noop, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return starts{}, fmt.Errorf("build a Go no-op: %v\n%s", err, out)
	}
	var s starts
	for i := 0; i < warmup+n; i++ {
		for _, x := range []struct {
			path string
			into *[]time.Duration
		}{{"/bin/true", &s.trueCmd}, {noop, &s.goNoop}} {
			began := time.Now()
			if err := exec.Command(x.path).Run(); err != nil {
				return starts{}, fmt.Errorf("%s: %w", x.path, err)
			}
			if i >= warmup {
				*x.into = append(*x.into, time.Since(began))
			}
		}
	}
	return s, nil
}

type row struct {
	sc       *scenario
	ocf, ref result
}

// measure prepares both sides of a scenario and measures them,
// alternating ocfbox and reference.
func measure(sc *scenario, work, bin string, n, warmup, rssRuns int,
	strace string, straceErr error, gnuTime string, timeErr error) (row, error) {
	sides := make([]*side, 2)
	for i, name := range []string{"ocfbox", "reference"} {
		dir := filepath.Join(work, sc.Agent+"-"+sc.Action, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return row{}, err
		}
		s := &side{Name: name, Dir: dir, Params: map[string]string{}, Extra: map[string]string{}, sc: sc}
		if name == "ocfbox" {
			s.Provider = "ocfbox"
			s.Exe = filepath.Join(dir, sc.Agent)
			if err := os.Symlink(bin, s.Exe); err != nil {
				return row{}, err
			}
		} else {
			s.Provider = filepath.Base(filepath.Dir(sc.Reference))
			s.Exe = sc.Reference
		}
		if err := sc.Setup(s); err != nil {
			return row{}, fmt.Errorf("setup: %w", err)
		}
		sides[i] = s
	}
	defer func() {
		for _, s := range sides {
			if sc.Teardown != nil {
				sc.Teardown(s)
			} else {
				s.expect("stop", 0)
			}
		}
	}()

	results := make([]result, 2)
	for i := 0; i < warmup+n; i++ {
		for j, s := range sides {
			wall, cpu, err := s.timeOnce()
			if err != nil {
				return row{}, err
			}
			if i >= warmup {
				results[j].times = append(results[j].times, wall)
				results[j].cpu = append(results[j].cpu, cpu)
			}
		}
	}
	for j, s := range sides {
		switch {
		case straceErr != nil:
			results[j].execsErr = "strace not installed"
		default:
			names, err := s.programs(strace)
			if err != nil {
				return row{}, err
			}
			results[j].execs = names
		}
	}
	for i := 0; i < rssRuns; i++ {
		for j, s := range sides {
			if timeErr != nil {
				results[j].rssErr = timeErr.Error()
				continue
			}
			kib, err := s.peakRSS(gnuTime)
			if err != nil {
				return row{}, err
			}
			results[j].rss = append(results[j].rss, kib)
		}
	}
	return row{sc: sc, ocf: results[0], ref: results[1]}, nil
}

// floor is the peak RSS GNU time reports for /bin/true: what any
// invocation measured this way reports at least.
func floor(gnuTime, work string) (int, error) {
	report := filepath.Join(work, "floor.out")
	var kib []int
	for range 5 {
		if out, err := exec.Command(gnuTime, "-f", "%M", "-o", report, "/bin/true").CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%s /bin/true: %v: %s", gnuTime, err, out)
		}
		k, err := readKiB(report)
		if err != nil {
			return 0, err
		}
		kib = append(kib, k)
	}
	return median(kib), nil
}

// build compiles the ocfbox binary from this module as `make` does.
func build(work string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(work, "ocfbox")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build ocfbox: %v\n%s", err, out)
	}
	return bin, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the ocfbox module (no go.mod above the working directory); pass -bin")
		}
		dir = parent
	}
}

// requireStatic refuses a binary that needs a dynamic loader or shared
// libraries: the product is the static binary.
func requireStatic(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (has a program interpreter); build it with CGO_ENABLED=0", bin)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return fmt.Errorf("%s needs shared libraries %v", bin, libs)
	}
	return nil
}

// percentile is the nearest-rank percentile of sorted values.
func percentile[T int | time.Duration](sorted []T, p float64) T {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p + 0.999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func median[T int | time.Duration](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	return percentile(s, 0.5)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// programList is "Dummy" or "Dummy, basename ×2, uname".
func programList(names []string) string {
	counts := map[string]int{}
	var order []string
	for _, n := range names {
		if counts[n] == 0 {
			order = append(order, n)
		}
		counts[n]++
	}
	parts := make([]string, len(order))
	for i, n := range order {
		parts[i] = n
		if counts[n] > 1 {
			parts[i] += fmt.Sprintf(" ×%d", counts[n])
		}
	}
	return strings.Join(parts, ", ")
}

func execCount(r result) string {
	if r.execsErr != "" {
		return "n/a (" + r.execsErr + ")"
	}
	return strconv.Itoa(len(r.execs))
}

func rssCell(r result) string {
	if r.rssErr != "" {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(median(r.rss))/1024)
}

func report(w io.Writer, rows []row, base starts, n int, bin string, rssFloor int, timeErr error, load string) {
	fmt.Fprintf(w, "| agent | action | ocfbox median / p90 | reference median / p90 | reference ÷ ocfbox (median) | CPU time ocfbox / reference (median) | programs executed ocfbox / reference | peak RSS ocfbox / reference |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		ot, rt := slices.Sorted(slices.Values(r.ocf.times)), slices.Sorted(slices.Values(r.ref.times))
		om, rm := percentile(ot, 0.5), percentile(rt, 0.5)
		fmt.Fprintf(w, "| %s | %s | %s / %s | %s / %s | %.1f× | %s / %s | %s / %s | %s / %s |\n",
			r.sc.Agent, r.sc.Action,
			ms(om), ms(percentile(ot, 0.9)), ms(rm), ms(percentile(rt, 0.9)),
			float64(rm)/float64(om),
			ms(median(r.ocf.cpu)), ms(median(r.ref.cpu)),
			execCount(r.ocf), execCount(r.ref), rssCell(r.ocf), rssCell(r.ref))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Programs executed by one invocation (successful execve under strace -f, the agent included):")
	fmt.Fprintln(w)
	for _, r := range rows {
		for _, x := range []struct {
			name string
			res  result
			exe  string
		}{{"ocfbox", r.ocf, "ocfbox"}, {"reference", r.ref, r.sc.Reference}} {
			list := programList(x.res.execs)
			if x.res.execsErr != "" {
				list = "n/a (" + x.res.execsErr + ")"
			}
			fmt.Fprintf(w, "- %s %s, %s (%s): %s\n", r.sc.Agent, r.sc.Action, x.name, x.exe, list)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- machine: %s, %d CPUs, kernel %s; load average %s\n", cpuModel(), runtime.NumCPU(), kernel(), load)
	fmt.Fprintf(w, "- ocfbox binary: %s (static, %s, %s; agents linked in: %s)\n", bin, size(bin), buildOf(bin), agentsOf(bin))
	fmt.Fprintf(w, "- %d invocations of each side per row, alternating ocfbox and reference, after a warm-up; wall time from fork to exit as the caller sees it; CPU time is user + system of the invocation's process tree (wait4)\n", n)
	fmt.Fprintf(w, "- process start on this machine, measured the same way: /bin/true %s, a static Go program that does nothing %s (medians)\n",
		ms(median(base.trueCmd)), ms(median(base.goNoop)))
	fmt.Fprintf(w, "- environment: a recurring monitor as pacemaker-execd runs it (OCF_RESKEY_CRM_meta_interval, _timeout=20000, crm_feature_set 3.16.2, Pacemaker's default logging: HA_LOGFACILITY=daemon, HA_LOGFILE); syslog socket /dev/log %s\n", presence("/dev/log"))
	if timeErr != nil {
		fmt.Fprintf(w, "- peak RSS: not measured (%v)\n", timeErr)
	} else {
		fmt.Fprintf(w, "- peak RSS: ru_maxrss (largest single process of the invocation's tree) from wait4 in GNU time, median; floor (/bin/true measured the same way): %.1f MiB\n", float64(rssFloor)/1024)
	}
}

// loadavg is the 1-minute load average: other work on the machine
// makes every number above larger and noisier.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// agentsOf is what `ocfbox list` names: every agent linked in adds its
// packages' initialisation to every invocation.
func agentsOf(bin string) string {
	out, err := exec.Command(bin, "list").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, _, _ := strings.Cut(line, "\t")
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

// buildOf says which Go built the binary, with which tags.
func buildOf(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "build information unreadable: " + err.Error()
	}
	tags := "no build tags"
	for _, s := range info.Settings {
		if s.Key == "-tags" && s.Value != "" {
			tags = "-tags=" + s.Value
		}
	}
	return info.GoVersion + ", " + tags
}

func presence(path string) string {
	if _, err := os.Stat(path); err != nil {
		return "absent (no syslog daemon: log lines are not sent)"
	}
	return "present"
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func size(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(fi.Size())/(1<<20))
}
