// Command bench measures ocfbox's agents against the reference shell
// agents in one run and prints a markdown table.
//
//	go run ./tests/bench [-n 200] [-n-change 10] [-bin bin/ocfbox] [-run 'IPaddr2 start']
//
// Every row is one agent's action (monitor of a started resource, start,
// stop; scenarios.go has them). For each row it prepares one resource per
// side, ocfbox and reference, each with its own temporary state (and its
// own network namespace, web site or guest where the agent needs one;
// the guests run on one private libvirtd for the whole run), then runs
// the action alternately, ocfbox then reference, with the environment
// pacemaker-execd gives that operation, and reports:
//
//   - the median and 90th percentile wall time of one invocation, fork to
//     exit as the caller sees it, and its CPU time (user + system of the
//     process tree the agent waited for, from wait4);
//   - the programs one invocation executes (successful execve calls under
//     `strace -f`, the agent itself included);
//   - the peak resident set size: ru_maxrss of the invocation's process
//     tree (the largest single process in it), from GNU time;
//   - for some rows one more figure (scenario.Observe), such as when
//     IPaddr2's first gratuitous ARP reaches the wire.
//
// A start is measured from a stopped resource and followed by an
// unmeasured stop; a stop is preceded by an unmeasured start; so every
// start is followed by a stop, and a row ends with a stop of each side
// whatever happened. Statuses are checked everywhere: an invocation that
// does not return what it must stops the run, so a broken agent is never
// reported as fast. Speed is a measurement, not a test: nothing here
// passes or fails on a number. internal/measure has what other
// benchmarks share with this one (trace parsing, percentiles).
package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/internal/measure"
	"github.com/ocfbox/ocfbox/internal/netnstest"
)

// scenario is one row of the table: an agent's action on a resource that
// Prepare and Setup made ready.
type scenario struct {
	Agent     string // name of the ocfbox agent (and of its symlink)
	Action    string // the measured action
	Reference string // path of the reference agent
	Want      int    // the status every measured invocation must return
	Root      bool   // needs root (network namespaces, httpd, libvirtd)
	// Op is the measured operation's meta attributes (CRM_meta_*), as
	// Pacemaker sets them for it, e.g. interval and role.
	Op map[string]string
	// Resource is the resource's meta attributes (clone, promotable …),
	// given to every action.
	Resource map[string]string
	// Prepare gives a side its parameters and surroundings, registering
	// with side.cleanup what undoes them; the resource is stopped.
	Prepare func(s *side) error
	// Setup, if set, then brings the resource to the state every measured
	// invocation starts from (started, for a monitor).
	Setup func(s *side) error
	// Before and After run around every measured invocation, unmeasured:
	// a start row stops after each start, a stop row starts before each
	// stop. Rows that have them change the resource's state and are
	// measured fewer times (counts).
	Before, After func(s *side) error
	// Observe, if set, measures one more figure after every timed
	// invocation.
	Observe *observation
	// Surroundings, if set, says for the notes under the table what
	// Prepare set up around the agent.
	Surroundings string
}

// observation is a figure measured after each timed invocation, reported
// under the table as median / p90 per side.
type observation struct {
	What string // what is measured, e.g. "first gratuitous ARP …, after start returned"
	// Measure returns the figure for the invocation that ran from began
	// to returned.
	Measure func(s *side, began, returned time.Time) (time.Duration, error)
}

func (sc *scenario) name() string { return sc.Agent + " " + sc.Action }

// changesState tells start and stop rows from monitor rows.
func (sc *scenario) changesState() bool { return sc.Before != nil || sc.After != nil }

// counts is how often each side of a row runs.
type counts struct {
	runs, warmup, rss int
}

// bench is what every row of one run uses: the binary and the
// measuring tools, and what several rows share (a private libvirtd),
// started by the first row that needs it and closed when the run ends,
// whatever happened.
type bench struct {
	ctx       context.Context // ends at Ctrl-C
	work, bin string
	strace    string
	straceErr error // strace is missing
	gnuTime   string
	timeErr   error // GNU time is missing or unusable
	libvirt   *libvirttest.Daemon
}

// close closes what the rows shared.
func (b *bench) close() error {
	if b.libvirt == nil {
		return nil
	}
	err := b.libvirt.Close()
	b.libvirt = nil
	return err
}

// side is one agent implementation of a scenario, with its own directory.
type side struct {
	Name     string // "ocfbox" or "reference"
	Exe      string // what is executed: a symlink named like the agent, or the script
	Provider string
	Dir      string
	Params   map[string]string // OCF_RESKEY_<name>
	Extra    map[string]string // other variables, e.g. HA_SBIN_DIR
	// NetNS, if set, is the network namespace the agent runs in: every
	// invocation (and its strace or GNU time) is forked from a thread
	// inside it.
	NetNS *netnstest.Namespace
	// Capture records announcements a neighbour sees (IPaddr2).
	Capture *netnstest.Capture
	// Prefix runs every invocation through a program first (Filesystem:
	// nsenter into the side's private mount namespace).
	Prefix   []string
	sc       *scenario
	bench    *bench
	prepared bool // Prepare succeeded: the final stop is due
	cleanups []func() error
}

func (s *side) path(name string) string { return filepath.Join(s.Dir, name) }

// instance is the resource's name, OCF_RESOURCE_INSTANCE.
func (s *side) instance() string { return "bench-" + strings.ToLower(s.sc.Agent) }

// cleanup registers what undoes a part of Prepare; they run last first,
// after the row's final stop.
func (s *side) cleanup(fn func() error) { s.cleanups = append(s.cleanups, fn) }

// featureSet is the CRM feature set of Debian 12's Pacemaker 2.1.5
// (pacemakerd --features), which pacemaker-execd gives agents as
// crm_feature_set and an empty CIB carries (cibadmin --empty).
const featureSet = "3.16.1"

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
		"OCF_RESOURCE_INSTANCE":            s.instance(),
		"OCF_RESOURCE_TYPE":                s.sc.Agent,
		"OCF_RESOURCE_PROVIDER":            s.Provider,
		"OCF_EXIT_REASON_PREFIX":           "ocf-exit-reason:",
		"OCF_RESKEY_crm_feature_set":       featureSet,
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

// limit is when an invocation is killed: 10 s after the operation's
// timeout (CRM_meta_timeout: 20 s unless the operation's meta says
// otherwise), which a working agent never reaches.
func limit(op map[string]string) time.Duration {
	ms, err := strconv.Atoi(op["timeout"])
	if err != nil {
		ms = 20000
	}
	return time.Duration(ms)*time.Millisecond + 10*time.Second
}

// invocation is one run of an action, optionally through a wrapper
// (strace, GNU time), in its own process group as pacemaker-execd runs
// agents. Its output goes to a file, not a pipe: the wait ends when the
// agent exits, not when a background child it left (send_arp, httpd)
// closes its copy.
type invocation struct {
	s      *side
	action string
	cmd    *exec.Cmd
	out    *os.File
	cancel context.CancelFunc
	limit  time.Duration
	began  time.Time
}

func (s *side) invoke(action string, op map[string]string, wrapper ...string) (*invocation, error) {
	out, err := os.Create(s.path("output"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit(op))
	argv := slices.Concat(wrapper, s.Prefix, []string{s.Exe, action})
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = s.environ(op)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	inv := &invocation{s: s, action: action, cmd: cmd, out: out, cancel: cancel, limit: limit(op)}
	start := func() error {
		inv.began = time.Now()
		return cmd.Start()
	}
	if s.NetNS != nil {
		err = s.NetNS.Do(start)
	} else {
		err = start()
	}
	if err != nil {
		inv.close()
		return nil, fmt.Errorf("%s %s %s: %w", s.Name, s.sc.Agent, action, err)
	}
	return inv, nil
}

func (inv *invocation) close() {
	inv.cancel()
	inv.out.Close()
}

// wait waits for the invocation and checks its exit status.
func (inv *invocation) wait(want int) error {
	err := inv.cmd.Wait()
	inv.cancel()
	return inv.check(err, want)
}

// check turns the result of Wait into an error unless the status is
// want; the error says which side, agent and action, and what the agent
// wrote.
func (inv *invocation) check(err error, want int) error {
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		return inv.fail("%v", err)
	}
	if got != want {
		return inv.fail("exit status %d, want %d", got, want)
	}
	return nil
}

func (inv *invocation) fail(format string, args ...any) error {
	out, _ := os.ReadFile(inv.out.Name())
	what := fmt.Sprintf(format, args...)
	if d := time.Since(inv.began); d >= inv.limit {
		what += fmt.Sprintf(" (killed after %v)", inv.limit)
	}
	return fmt.Errorf("%s %s %s: %s\n%s", inv.s.Name, inv.s.sc.Agent, inv.action, what, out)
}

// act runs a setup action (start, stop) with that action's own
// operation meta and requires status 0.
func (s *side) act(action string) error {
	inv, err := s.invoke(action, map[string]string{"name": action})
	if err != nil {
		return err
	}
	defer inv.close()
	return inv.wait(0)
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

// timeOnce runs the measured action once and returns when it began and
// returned, and the CPU time (user + system) of its process tree, which
// wait4 reports with the processes the agent itself waited for.
func (s *side) timeOnce() (began, returned time.Time, cpu time.Duration, err error) {
	inv, err := s.invoke(s.sc.Action, s.sc.Op)
	if err != nil {
		return
	}
	defer inv.close()
	err = inv.cmd.Wait()
	returned = time.Now()
	if ps := inv.cmd.ProcessState; ps != nil {
		cpu = ps.UserTime() + ps.SystemTime()
	}
	return inv.began, returned, cpu, inv.check(err, s.sc.Want)
}

// traceGrace is how long a traced invocation's background helpers (an
// ARP sender) may go on after it returned and still be counted; strace
// is then detached from what still runs (httpd).
const traceGrace = 2 * time.Second

// programs runs the measured action once under strace and returns the
// programs it executed successfully, in order.
func (s *side) programs(strace string) ([]string, error) {
	file := s.path("strace.out")
	inv, err := s.invoke(s.sc.Action, s.sc.Op, measure.StraceArgv(strace, file)...)
	if err != nil {
		return nil, err
	}
	defer inv.close()
	ctx, cancel := context.WithTimeout(context.Background(), inv.limit+traceGrace)
	defer cancel()
	tr, err := measure.WaitTrace(ctx, inv.cmd, file, traceGrace)
	if err != nil {
		return nil, inv.fail("under strace: %v", err)
	}
	if tr.Status != s.sc.Want {
		return nil, inv.fail("under strace: exit status %d, want %d", tr.Status, s.sc.Want)
	}
	return tr.Programs, nil
}

// peakRSS runs the measured action from GNU time and returns ru_maxrss
// in KiB.
func (s *side) peakRSS(gnuTime string) (int, error) {
	file := s.path("time.out")
	inv, err := s.invoke(s.sc.Action, s.sc.Op, measure.TimeArgv(gnuTime, file)...)
	if err != nil {
		return 0, err
	}
	defer inv.close()
	if err := inv.wait(s.sc.Want); err != nil {
		return 0, err
	}
	return measure.ReadMaxRSS(file)
}

// result is what was measured of one side of one scenario.
type result struct {
	times    []time.Duration
	cpu      []time.Duration
	observed []time.Duration
	execs    []string // basenames of the programs executed, in order
	execsErr string
	rss      []int // KiB
	rssErr   string
}

type row struct {
	sc       *scenario
	ocf, ref result
}

func main() {
	n := flag.Int("n", 200, "invocations of each side per monitor row")
	nChange := flag.Int("n-change", 10, "invocations of each side per start or stop row")
	warmup := flag.Int("warmup", 10, "unmeasured invocations of each side first (start and stop rows: at most 1)")
	rssRuns := flag.Int("rss-runs", 20, "invocations of each side for the peak RSS (start and stop rows: at most 3)")
	bin := flag.String("bin", "", "ocfbox binary to measure (default: build one, statically, from this module)")
	only := flag.String("run", "", "only rows whose \"Agent action\" contains this")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	monitor := counts{runs: *n, warmup: *warmup, rss: *rssRuns}
	change := counts{runs: *nChange, warmup: min(*warmup, 1), rss: min(*rssRuns, 3)}
	// The table is written once everything is cleaned up: a reader that
	// goes away (| head) must not leave namespaces or httpd behind.
	var table bytes.Buffer
	if err := run(ctx, monitor, change, *bin, *only, &table); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	os.Stdout.Write(table.Bytes())
}

func run(ctx context.Context, monitor, change counts, bin, only string, stdout io.Writer) (err error) {
	if monitor.runs < 1 || change.runs < 1 {
		return fmt.Errorf("-n %d, -n-change %d: need at least one invocation", monitor.runs, change.runs)
	}
	var selected []*scenario
	for i := range scenarios {
		if strings.Contains(scenarios[i].name(), only) {
			selected = append(selected, &scenarios[i])
		}
	}
	if len(selected) == 0 {
		return fmt.Errorf("-run %q matches no row", only)
	}
	for _, sc := range selected {
		if _, err := os.Stat(sc.Reference); err != nil {
			return fmt.Errorf("%s: reference agent: %w", sc.name(), err)
		}
		if sc.Root && os.Geteuid() != 0 {
			return fmt.Errorf("%s needs root (network namespaces, httpd, libvirtd); run as root, or leave it out with -run", sc.name())
		}
	}
	work, err := os.MkdirTemp("", "ocfbox-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// httpd's workers (www-data) must reach their site's files.
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
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
	b := &bench{ctx: ctx, work: work, bin: bin}
	defer func() { err = errors.Join(err, b.close()) }()
	b.strace, b.straceErr = exec.LookPath("strace")
	b.gnuTime, b.timeErr = measure.LookGNUTime()
	rssFloor := 0
	if b.timeErr == nil {
		rssFloor, b.timeErr = floor(b.gnuTime, work)
	}

	loads := []float64{loadavg()}
	began := time.Now()
	base, err := baseline(work, monitor.runs, monitor.warmup, monitor.rss, b.gnuTime, b.timeErr)
	if err != nil {
		return err
	}
	var rows []row
	for _, sc := range selected {
		n := monitor
		if sc.changesState() {
			n = change
		}
		loads = append(loads, loadavg())
		fmt.Fprintf(os.Stderr, "bench: %s: %d + %d invocations (load average %.2f)\n", sc.name(), n.runs, n.runs, loads[len(loads)-1])
		rowBegan := time.Now()
		r, err := b.measureRow(sc, n)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name(), err)
		}
		fmt.Fprintf(os.Stderr, "bench: %s: done in %v\n", sc.name(), time.Since(rowBegan).Round(time.Second))
		rows = append(rows, r)
	}
	report(stdout, rows, reportInfo{
		base: base, monitor: monitor, change: change, bin: bin, rssFloor: rssFloor, timeErr: b.timeErr,
		loads: append(loads, loadavg()), took: time.Since(began),
	})
	return nil
}

// measureRow prepares both sides of a scenario, measures them alternating
// ocfbox and reference, and stops both whatever happened.
func (b *bench) measureRow(sc *scenario, n counts) (_ row, err error) {
	var sides []*side
	defer func() {
		for _, s := range sides {
			err = errors.Join(err, s.teardown())
		}
	}()
	for _, name := range []string{"ocfbox", "reference"} {
		dir := filepath.Join(b.work, strings.ReplaceAll(sc.name(), " ", "-"), name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return row{}, err
		}
		s := &side{Name: name, Dir: dir, Params: map[string]string{}, Extra: map[string]string{}, sc: sc, bench: b}
		if name == "ocfbox" {
			s.Provider = "ocfbox"
			s.Exe = filepath.Join(dir, sc.Agent)
			if err := os.Symlink(b.bin, s.Exe); err != nil {
				return row{}, err
			}
		} else {
			s.Provider = filepath.Base(filepath.Dir(sc.Reference))
			s.Exe = sc.Reference
		}
		sides = append(sides, s)
		if err := sc.Prepare(s); err != nil {
			return row{}, fmt.Errorf("%s: prepare: %w", name, err)
		}
		s.prepared = true
		if sc.Setup != nil {
			if err := sc.Setup(s); err != nil {
				return row{}, fmt.Errorf("%s: setup: %w", name, err)
			}
		}
	}

	// around runs one measured invocation between the row's Before and
	// After.
	around := func(s *side, measured func() error) error {
		if err := b.ctx.Err(); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		if sc.Before != nil {
			if err := sc.Before(s); err != nil {
				return err
			}
		}
		if err := measured(); err != nil {
			return err
		}
		if sc.After != nil {
			return sc.After(s)
		}
		return nil
	}

	results := make([]result, len(sides))
	for i := 0; i < n.warmup+n.runs; i++ {
		for j, s := range sides {
			err := around(s, func() error {
				began, returned, cpu, err := s.timeOnce()
				if err != nil {
					return err
				}
				var seen time.Duration
				if sc.Observe != nil {
					if seen, err = sc.Observe.Measure(s, began, returned); err != nil {
						return fmt.Errorf("%s: %w", s.Name, err)
					}
				}
				if i >= n.warmup {
					results[j].times = append(results[j].times, returned.Sub(began))
					results[j].cpu = append(results[j].cpu, cpu)
					if sc.Observe != nil {
						results[j].observed = append(results[j].observed, seen)
					}
				}
				return nil
			})
			if err != nil {
				return row{}, err
			}
		}
	}
	for j, s := range sides {
		if b.straceErr != nil {
			results[j].execsErr = "strace not installed"
			continue
		}
		err := around(s, func() (err error) {
			results[j].execs, err = s.programs(b.strace)
			return err
		})
		if err != nil {
			return row{}, err
		}
	}
	for range n.rss {
		for j, s := range sides {
			if b.timeErr != nil {
				results[j].rssErr = b.timeErr.Error()
				continue
			}
			err := around(s, func() error {
				kib, err := s.peakRSS(b.gnuTime)
				results[j].rss = append(results[j].rss, kib)
				return err
			})
			if err != nil {
				return row{}, err
			}
		}
	}
	return row{sc: sc, ocf: results[0], ref: results[1]}, nil
}

// teardown stops the resource (a stopped one stops with 0 as well),
// unless Prepare failed before the resource could be, and undoes Prepare,
// last part first.
func (s *side) teardown() error {
	var err error
	if s.prepared {
		if err = s.act("stop"); err != nil {
			err = fmt.Errorf("final stop: %w", err)
		}
	}
	for _, fn := range slices.Backward(s.cleanups) {
		if cerr := fn(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("%s %s cleanup: %w", s.Name, s.sc.name(), cerr))
		}
	}
	return err
}

// starts are the process start costs of this machine, measured like the
// agents: what any program pays before it does anything. The Go no-op is
// the floor an agent's invocation cannot go below, printed as the table's
// first row.
type starts struct {
	trueCmd, goNoop []time.Duration
	goNoopCPU       []time.Duration
	goNoopRSS       []int // KiB
	rssErr          string
}

// baseline times /bin/true and a static Go program that does nothing,
// alternately, and measures the no-op's peak RSS as the rows' (gnuTime
// empty: not measured, why in timeErr).
func baseline(work string, n, warmup, rssRuns int, gnuTime string, timeErr error) (starts, error) {
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
			cpu  *[]time.Duration
		}{{"/bin/true", &s.trueCmd, nil}, {noop, &s.goNoop, &s.goNoopCPU}} {
			c := exec.Command(x.path)
			began := time.Now()
			if err := c.Run(); err != nil {
				return starts{}, fmt.Errorf("%s: %w", x.path, err)
			}
			if i >= warmup {
				*x.into = append(*x.into, time.Since(began))
				if x.cpu != nil {
					*x.cpu = append(*x.cpu, c.ProcessState.UserTime()+c.ProcessState.SystemTime())
				}
			}
		}
	}
	if timeErr != nil {
		s.rssErr = timeErr.Error()
		return s, nil
	}
	file := filepath.Join(dir, "time.out")
	for range rssRuns {
		argv := append(measure.TimeArgv(gnuTime, file), noop)
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return starts{}, fmt.Errorf("%s %s: %v: %s", gnuTime, noop, err, out)
		}
		kib, err := measure.ReadMaxRSS(file)
		if err != nil {
			return starts{}, err
		}
		s.goNoopRSS = append(s.goNoopRSS, kib)
	}
	return s, nil
}

// floor is the peak RSS GNU time reports for /bin/true: what any
// invocation measured this way reports at least.
func floor(gnuTime, work string) (int, error) {
	file := filepath.Join(work, "floor.out")
	var kib []int
	for range 5 {
		argv := append(measure.TimeArgv(gnuTime, file), "/bin/true")
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%s /bin/true: %v: %s", gnuTime, err, out)
		}
		k, err := measure.ReadMaxRSS(file)
		if err != nil {
			return 0, err
		}
		kib = append(kib, k)
	}
	return measure.Median(kib), nil
}

// build compiles the ocfbox binary from this module as `make` does.
func build(work string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(work, "ocfbox")
	cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
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
