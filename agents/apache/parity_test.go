package apache_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/apachetest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/proc"
)

// Parity: the same configuration and the same sequence of actions, run
// against the installed reference agent (resource-agents 4.12) and
// against ocfbox, each on a fresh site. Every step says what each side
// returns; where they differ, the scenario names the deviation, which
// README.md's deviations table lists.

// outcome is an OCF status, or timedOut: the agent did not return before
// the test's limit (pacemaker-execd would have killed it: a failure).
type outcome int

const timedOut outcome = -1

func (o outcome) String() string {
	if o == timedOut {
		return "timeout"
	}
	return strconv.Itoa(int(o))
}

func st(s ocf.Status) outcome { return outcome(s) }

// pstep is one step: an agent action, or something the test does to the
// site (kill, stop, spawn children, count what is left).
type pstep struct {
	do      string // probe, monitor, monitor10, start, stop, status, validate-all; or kill, sigstop, sigcont, spawn, strays
	ref     outcome
	ocfbox  outcome
	meta    map[string]string
	limit   time.Duration // the test's own limit for the reference (it may hang)
	comment string
}

func both(do string, s ocf.Status) pstep { return pstep{do: do, ref: st(s), ocfbox: st(s)} }
func differ(do string, ref, ours outcome) pstep {
	return pstep{do: do, ref: ref, ocfbox: ours}
}
func event(do string) pstep { return pstep{do: do} }

type pscenario struct {
	name      string
	site      siteOptions
	params    func(s *site) map[string]string
	steps     []pstep
	deviation string // why ocfbox differs; "" when it does not
}

// Pseudo-outcomes of the "strays" step.
const (
	noStrays   outcome = 0
	straysLeft outcome = 1
)

func parityScenarios() []pscenario {
	testsConf := func(s *site) map[string]string {
		path := filepath.Join(s.Dir, "tests.conf")
		os.WriteFile(path, []byte("test broken\n\turl /nothing-here\n\tmatch application ok\nend\ntest app\n\turl /app.txt\n\tmatch application ok\nend\n"), 0o644)
		return map[string]string{"testconffile": path, "testname": "app"}
	}
	hung := map[string]string{"interval": "10000", "timeout": "3000"}
	return []pscenario{
		{
			name: "lifecycle: probe, start, monitor, double start, double stop",
			steps: []pstep{
				both("probe", ocf.NotRunning), both("start", ocf.Success), both("monitor", ocf.Success),
				both("probe", ocf.Success), both("start", ocf.Success), both("stop", ocf.Success),
				both("stop", ocf.Success), both("monitor", ocf.NotRunning), both("probe", ocf.NotRunning),
			},
		},
		{
			name: "killed server: not running, stop succeeds, start again",
			steps: []pstep{
				both("start", ocf.Success), event("kill"), both("probe", ocf.NotRunning), both("monitor", ocf.NotRunning),
				both("stop", ocf.Success), both("start", ocf.Success), both("monitor", ocf.Success), both("stop", ocf.Success),
			},
		},
		{
			name:   "configfile missing",
			params: func(s *site) map[string]string { return map[string]string{"configfile": s.Dir + "/missing.conf"} },
			steps: []pstep{
				both("validate-all", ocf.ErrInstalled), both("probe", ocf.NotRunning),
				differ("monitor", st(ocf.ErrGeneric), st(ocf.ErrInstalled)),
				both("start", ocf.ErrInstalled), both("stop", ocf.Success),
			},
			deviation: "recurring monitor with the configuration file missing: the reference maps every validation failure of a recurring monitor to 1; ocfbox reports 5 (not installed on this node)",
		},
		{
			name: "configuration httpd rejects",
			site: siteOptions{Broken: true},
			steps: []pstep{
				{do: "start", ref: timedOut, ocfbox: st(ocf.ErrConfigured), meta: map[string]string{"timeout": "6000"}, limit: 8 * time.Second,
					comment: "the reference ignores httpd's exit status and waits for a pid file until it is killed"},
				both("probe", ocf.NotRunning), both("stop", ocf.Success),
			},
			deviation: "start with a configuration httpd -t rejects: the reference (outside Debian's and SUSE's default paths) runs httpd, ignores its failure and waits until the start times out; ocfbox returns 6 with httpd's first error line",
		},
		{
			name:   "statusurl that is not a URL (ocft's case)",
			params: func(*site) map[string]string { return map[string]string{"statusurl": "yoyoyoyo"} },
			steps: []pstep{
				differ("validate-all", st(ocf.Success), st(ocf.ErrConfigured)),
				differ("probe", st(ocf.NotRunning), st(ocf.ErrConfigured)),
				differ("start", st(ocf.ErrGeneric), st(ocf.ErrConfigured)),
				both("stop", ocf.Success),
			},
			deviation: "statusurl that is not an http(s) URL: the reference starts httpd, fails its monitor and returns 1 (ocft expects 1); ocfbox refuses the parameter with 6 before starting anything",
		},
		{
			name:   "port out of range",
			params: func(*site) map[string]string { return map[string]string{"port": "0"} },
			steps: []pstep{
				differ("start", st(ocf.Success), st(ocf.ErrConfigured)), both("stop", ocf.Success),
			},
			deviation: "port outside 1-65535: the reference ignores it silently; ocfbox returns 6",
		},
		{
			name:   "testregex that is not a regular expression",
			params: func(*site) map[string]string { return map[string]string{"testregex": "((html"} },
			steps: []pstep{
				differ("start", st(ocf.ErrGeneric), st(ocf.ErrConfigured)), both("stop", ocf.Success),
			},
			deviation: "testregex that does not compile: the reference's grep fails, so start returns 1 after starting and stopping httpd; ocfbox returns 6 before starting",
		},
		{
			name:   "testurl blank",
			params: func(*site) map[string]string { return map[string]string{"testurl": "  "} },
			steps: []pstep{
				both("validate-all", ocf.ErrConfigured), differ("probe", st(ocf.NotRunning), st(ocf.ErrConfigured)),
				both("start", ocf.ErrConfigured), both("stop", ocf.Success),
			},
			deviation: "probe with an invalid parameter (blank testurl): the reference reports 7; ocfbox reports 6, the same as validate-all and start",
		},
		{
			name: "status action",
			steps: []pstep{
				differ("status", st(ocf.ErrUnimplemented), st(ocf.NotRunning)), both("start", ocf.Success),
				differ("status", st(ocf.ErrUnimplemented), st(ocf.Success)), both("stop", ocf.Success),
			},
			deviation: "status: the reference advertises it in its meta-data but returns 3; ocfbox answers it as monitor",
		},
		{
			name:   "level 10 with testname selecting the second test",
			params: testsConf,
			steps: []pstep{
				both("start", ocf.Success), differ("monitor10", st(ocf.ErrGeneric), st(ocf.Success)), both("stop", ocf.Success),
			},
			deviation: "testname: the reference ignores it and always runs the first test of testconffile; ocfbox runs the test testname names",
		},
		{
			name: "IPv6 Listen [::1]:port, default parameters",
			site: siteOptions{IPv6: true},
			steps: []pstep{
				both("start", ocf.Success), both("monitor", ocf.Success), both("stop", ocf.Success),
			},
			// The reference's status request fails (see below), but with
			// no monitor parameter set its fallback request for the
			// front page (curl --interface lo) succeeds.
		},
		{
			name:   "IPv6 Listen [::1]:port, testregex set",
			site:   siteOptions{IPv6: true},
			params: func(*site) map[string]string { return map[string]string{"testregex": "Apache Server Status"} },
			steps: []pstep{
				differ("start", st(ocf.ErrGeneric), st(ocf.Success)), differ("monitor", st(ocf.NotRunning), st(ocf.Success)),
				both("stop", ocf.Success),
			},
			deviation: "IPv6 status URL without use_ipv6: the reference's IPv6 detection runs before the URL is known, so its client binds 127.0.0.1 and fails (start 1); ocfbox connects from ::1",
		},
		{
			name: "HTTPS status page, self-signed certificate",
			site: siteOptions{HTTPS: true},
			params: func(s *site) map[string]string {
				return map[string]string{"statusurl": s.URL, "testregex": "Apache Server Status"}
			},
			steps: []pstep{
				differ("start", st(ocf.ErrGeneric), st(ocf.Success)), differ("monitor", st(ocf.NotRunning), st(ocf.Success)),
				both("stop", ocf.Success),
			},
			deviation: "https status URL with a self-signed certificate: the reference's wget/curl verify the certificate and fail (start 1); ocfbox accepts any certificate of the local server",
		},
		{
			name: "client naming a program other than curl or wget, testregex set",
			params: func(*site) map[string]string {
				// (with no monitor parameter set, the reference's fallback
				// request for the front page hides the failure)
				return map[string]string{"client": "/usr/bin/curl", "testregex": "Apache Server Status"}
			},
			steps: []pstep{
				differ("start", st(ocf.ErrGeneric), st(ocf.Success)), both("stop", ocf.Success),
			},
			deviation: "client other than curl or wget: the reference calls a shell function named after it, which does not exist, so the monitor (and start) fails with 1; ocfbox uses its built-in client at level 0 and the named program only for level-10 tests",
		},
		{
			name: "hung server (SIGSTOP)",
			steps: []pstep{
				both("start", ocf.Success), event("sigstop"),
				{do: "monitor", ref: timedOut, ocfbox: st(ocf.ErrGeneric), meta: hung, limit: 6 * time.Second,
					comment: "wget waits 900 s for an answer"},
				event("sigcont"), both("stop", ocf.Success),
			},
			deviation: "monitor of a server that accepts connections but does not answer: the reference waits until Pacemaker kills it (a timeout); ocfbox returns 1 before its deadline with a reason",
		},
		{
			name: "stop with stray children",
			site: siteOptions{CGI: true},
			steps: []pstep{
				both("start", ocf.Success), event("spawn"), both("stop", ocf.Success),
				{do: "strays", ref: straysLeft, ocfbox: noStrays},
			},
			deviation: "stop of an httpd whose CGI left children: the reference's pkill -f pattern only matches httpd's own command line, so they survive; ocfbox stops every process of httpd's session and descendants",
		},
	}
}

func TestParityWithTheReferenceAgent(t *testing.T) {
	apachetest.Require(t)
	testenv.RequireFile(t, reference)
	testenv.RequireTool(t, "wget")
	var table []string
	for _, sc := range parityScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			ref := runScenario(t, sc, reference)
			ours := runScenario(t, sc, agentPath(t))
			deviates := false
			for i, step := range sc.steps {
				if step.do != "strays" && !isAction(step.do) {
					continue
				}
				if ref[i] != step.ref {
					t.Errorf("step %d %s: the reference returned %s, the scenario expects %s", i+1, step.do, ref[i], step.ref)
				}
				if ours[i] != step.ocfbox {
					t.Errorf("step %d %s: ocfbox returned %s, the scenario expects %s", i+1, step.do, ours[i], step.ocfbox)
				}
				if step.ref != step.ocfbox {
					deviates = true
					table = append(table, fmt.Sprintf("| %s: %s | %s | %s |", sc.name, step.do, step.ref, step.ocfbox))
				}
			}
			if deviates && sc.deviation == "" {
				t.Errorf("ocfbox deviates from the reference but the scenario names no deviation")
			}
			if !deviates && sc.deviation != "" {
				t.Errorf("the scenario names a deviation but no step deviates")
			}
		})
	}
	t.Logf("deviations (situation | reference | ocfbox):\n%s", strings.Join(table, "\n"))
}

func isAction(do string) bool {
	switch do {
	case "probe", "monitor", "monitor10", "start", "stop", "status", "validate-all":
		return true
	}
	return false
}

// runScenario runs the steps against one agent on a fresh site and
// returns each step's outcome.
func runScenario(t *testing.T, sc pscenario, agent string) []outcome {
	t.Helper()
	s := newSite(t, sc.site)
	params := map[string]string{}
	if sc.params != nil {
		params = sc.params(s)
	}
	// The reference needs the environment files unset differently: its
	// default (Debian's envvars) only adds APACHE_* variables; both sides
	// read none.
	r := runner{Path: agent, Dir: apachetest.OpenDir(t), Params: siteParams(s, params)}
	out := make([]outcome, len(sc.steps))
	for i, step := range sc.steps {
		switch step.do {
		case "kill":
			killAndReap(t, s)
		case "sigstop":
			proc.Host.SignalAll(s.procs(t), syscall.SIGSTOP)
		case "sigcont":
			proc.Host.SignalAll(s.procs(t), syscall.SIGCONT)
		case "spawn":
			spawnStrays(t, s)
		case "strays":
			if len(s.strays(t)) > 0 {
				out[i] = straysLeft
			}
		default:
			action, meta, extra := step.do, step.meta, []string(nil)
			switch step.do {
			case "probe":
				action = "monitor"
			case "monitor", "monitor10":
				action = "monitor"
				if meta == nil {
					meta = recurring
				}
				if step.do == "monitor10" {
					extra = []string{"OCF_CHECK_LEVEL=10"}
				}
			}
			limit := step.limit
			if limit == 0 {
				limit = 40 * time.Second
			}
			res := r.run(t, action, meta, limit, extra...)
			out[i] = outcome(res.Status)
			if res.Timeout {
				out[i] = timedOut
			}
			t.Logf("%s %s: %s in %s; reason %q", filepath.Base(agent), step.do, out[i], res.Took.Round(time.Millisecond), res.Reason)
			if res.Timeout {
				// What the killed agent left running must not
				// disturb the next step.
				s.killAll(t)
			}
		}
	}
	s.killAll(t)
	return out
}

// killAndReap kills the site's processes and waits until they are gone
// from /proc, not just dead: the reference agent takes a zombie for a
// running process, and init reaps orphans only after a moment.
func killAndReap(t *testing.T, s *site) {
	t.Helper()
	ps := s.procs(t)
	proc.Host.SignalAll(ps, syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, p := range ps {
		for {
			if _, err := proc.Host.Stat(p.PID); err != nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("process %v was not reaped", p)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
