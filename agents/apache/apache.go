// Package apache is the apache agent, ocfbox's drop-in for
// ocf:heartbeat:apache: it starts one Apache httpd instance from its
// configuration file, monitors it by fetching its server-status page (or
// a test URL) over loopback with an in-process HTTP client, and stops it
// with everything it started. The configuration is read by
// pkg/apacheconf as httpd reads it; processes are found and signalled
// through pkg/proc.
package apache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/proc"
)

// Definition registers the agent with the binary.
var Definition = ocf.Definition{Name: "apache", Metadata: metadata.Get("apache"), New: func() ocf.Agent { return New() }}

// DefaultHTTPDs are the binaries tried, in order, when the httpd
// parameter does not name an executable file (the reference's list).
var DefaultHTTPDs = []string{
	"/sbin/httpd2", "/usr/sbin/httpd2", "/usr/sbin/apache2", "/sbin/httpd",
	"/usr/sbin/httpd", "/usr/sbin/apache", "/opt/IBMHTTPServer/bin/httpd",
}

// DefaultConfigs are the configuration files configfile defaults to: the
// first that exists of all but the last, else the last (SUSE, Debian,
// Red Hat).
var DefaultConfigs = []string{"/etc/apache2/httpd.conf", "/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf"}

// Agent implements ocf.Agent for one invocation.
type Agent struct {
	HTTPDs         []string
	DefaultConfigs []string
	Proc           proc.FS
	// Poll is how often start and stop look again.
	Poll time.Duration
	// PidFileWait bounds a recurring monitor's wait for a pid file that
	// is missing (a graceful restart rewrites it; reference PR #1210
	// waits 5 × 1 s).
	PidFileWait time.Duration

	loaded    *instance
	loadedErr error
	binary    string // the httpd to run, once found
}

// New returns the agent with the host's defaults.
func New() *Agent {
	return &Agent{
		HTTPDs: DefaultHTTPDs, DefaultConfigs: DefaultConfigs, Proc: proc.Host,
		Poll: 100 * time.Millisecond, PidFileWait: 5 * time.Second,
	}
}

// instance loads the resource once per invocation (validate and start
// both need it). Validate and start read the configuration strictly, as
// httpd will; monitor and stop leniently (see apacheconf.Options), so
// that an edit that would only break the next start does not make them
// lose a server that runs.
func (a *Agent) instance(r *ocf.Resource) (*instance, error) {
	if a.loaded == nil && a.loadedErr == nil {
		lenient := r.Env.Action != "start" && r.Env.Action != "validate-all"
		a.loaded, a.loadedErr = a.load(r, lenient)
	}
	return a.loaded, a.loadedErr
}

// Validate checks the parameters, the configuration and the binary.
func (a *Agent) Validate(_ context.Context, r *ocf.Resource) error {
	in, err := a.instance(r)
	if err != nil {
		return err
	}
	if _, err := a.httpd(r, in); err != nil {
		return err
	}
	if r.Params.IsSet("testconffile") {
		if _, err := in.level10Test(r); err != nil {
			return err
		}
	}
	return nil
}

// Monitor reports whether httpd runs (its pid file names a live httpd)
// and answers: at level 0 its status URL must match testregex, at level
// 10 the test URL (or the testconffile test) must match.
func (a *Agent) Monitor(ctx context.Context, r *ocf.Resource) (ocf.Status, error) {
	in, err := a.instance(r)
	if err != nil {
		// An httpd of this configuration file that still runs is this
		// resource, though it cannot be checked: "not running" (what a
		// probe makes of a missing configuration) would let Pacemaker
		// start it on a second node.
		if fb, ferr := a.fallbackInstance(r); ferr == nil {
			if procs := a.instanceProcs(fb); len(procs) > 0 {
				return ocf.ErrGeneric, ocf.Generic("httpd of %s runs (pid %d) but cannot be checked: %s", fb.configFile, procs[0].PID, ocf.ReasonOf(err))
			}
		}
		return ocf.StatusOf(err), err
	}
	recurring := r.Env.Action == "monitor" && r.Env.Interval > 0
	master, why := a.running(ctx, in, recurring)
	if master == nil {
		// No pid file (or a stale one), but an httpd of this
		// configuration file runs: "not running" would have Pacemaker
		// start a second one here or elsewhere.
		if procs := a.instanceProcs(in); len(procs) > 0 {
			return ocf.ErrGeneric, ocf.Generic("httpd of %s runs (pid %d) but %s", in.configFile, procs[0].PID, why)
		}
		return ocf.NotRunning, ocf.Stopped("%s", why)
	}
	if r.Env.CheckLevel >= 10 {
		err = a.checkLevel10(ctx, r, in)
	} else {
		err = a.checkStatus(ctx, r, in, 0)
	}
	if err != nil {
		var ce *checkError
		if errors.As(err, &ce) {
			return ocf.ErrGeneric, ocf.Generic("httpd pid %d runs but %v", master.PID, err)
		}
		return ocf.StatusOf(err), err
	}
	return ocf.Success, nil
}

// checkStatus is the level-0 check: the status URL must match testregex.
// When the operator set none of the monitor's parameters, a server whose
// status page fails still passes if it answers at all on its base URL
// (the reference's fallback for servers without mod_status), unless it
// did not answer in time.
func (a *Agent) checkStatus(ctx context.Context, r *ocf.Resource, in *instance, limit time.Duration) error {
	err := request{url: in.statusURL, re: in.testRegex, regexName: "testregex", ipv6: in.useIPv6, limit: limit}.do(ctx)
	var ce *checkError
	if err == nil || in.explicit || !errors.As(err, &ce) || ce.timedOut {
		return err
	}
	if (request{url: in.baseURL, ipv6: in.useIPv6, limit: limit}).do(ctx) == nil {
		r.Log.Debug(fmt.Sprintf("%v; %s answers, which is enough when no monitor parameter is set", err, in.baseURL))
		return nil
	}
	return err
}

// level10Test is the level-10 test: the testconffile block named by
// testname (the first without testname), else testurl and testregex10.
func (in *instance) level10Test(r *ocf.Resource) (webTest, error) {
	p := r.Params
	var t webTest
	if file := p.String("testconffile"); p.IsSet("testconffile") {
		var err error
		t, err = readTestConf(file, p.String("testname"))
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe):
			return t, ocf.Installed("testconffile=%q cannot be read: %v", file, pe.Err)
		case errors.Is(err, errNoTest) && p.IsSet("testname"):
			return t, ocf.Configured("testname=%q: %v", p.String("testname"), err)
		case err != nil:
			return t, ocf.Configured("testconffile=%q: %v", file, err)
		}
	} else {
		t = webTest{url: strings.TrimSpace(p.String("testurl")), match: p.String("testregex10")}
		if t.url == "" || !p.IsSet("testregex10") {
			return t, ocf.Configured("OCF_CHECK_LEVEL=%d needs testurl and testregex10 (or testconffile); testurl=%q testregex10=%q",
				r.Env.CheckLevel, t.url, t.match)
		}
	}
	if !strings.HasPrefix(t.url, "http") {
		// Relative to the local base URL, as the reference's fixtesturl.
		t.url = strings.TrimSuffix(in.baseURL.String(), "/") + "/" + strings.TrimPrefix(t.url, "/")
	}
	return t, nil
}

// checkLevel10 runs the level-10 test, with the built-in client for curl
// and wget (and no client), else with the program the test names.
func (a *Agent) checkLevel10(ctx context.Context, r *ocf.Resource, in *instance) error {
	t, err := in.level10Test(r)
	if err != nil {
		return err
	}
	re, err := compileRegex(t.match)
	if err != nil {
		return ocf.Configured("testregex10=%q: %v", t.match, err)
	}
	client := t.client
	if client == "" {
		client = in.client
		if client != "" {
			// A client parameter naming a program that is not
			// installed falls back to the built-in one, as the
			// reference falls back to wget or curl.
			if _, err := r.Run.LookPath(client); err != nil {
				client = ""
			}
		}
	}
	switch client {
	case "", "curl", "wget":
		if t.clientOpts != "" {
			r.Log.Warn(fmt.Sprintf("test %q: client_opts %q are not used with the built-in client", t.name, t.clientOpts))
		}
		u, err := parseHTTPURL(t.url)
		if err != nil {
			return ocf.Configured("level-10 test URL %q: %v", t.url, err)
		}
		return request{url: u, re: re, regexName: "the level-10 regex", user: t.user, password: t.password, ipv6: in.useIPv6}.do(ctx)
	}
	// A program of the operator's: client_opts split on white space, the
	// URL last, its output matched.
	argv := append(append([]string{client}, strings.Fields(t.clientOpts)...), t.url)
	rctx, cancel, budget := requestContext(ctx, 0)
	defer cancel()
	out, err := r.Run.Run(rctx, argv...)
	if ocf.StatusOf(err) == ocf.ErrInstalled {
		return ocf.Installed("level-10 test client %q is not installed", client)
	}
	if matchLines(re, out) {
		return nil
	}
	if rctx.Err() != nil {
		return &checkError{timedOut: true, msg: fmt.Sprintf("%s %s did not finish within %s", client, t.url, budget.Round(time.Millisecond))}
	}
	msg := fmt.Sprintf("no line of what %s printed for %s matches %q", client, t.url, t.match)
	if err != nil {
		msg += fmt.Sprintf(" (%v)", err)
	}
	return &checkError{msg: msg}
}

// running finds the live httpd the pid file names. A recurring monitor
// waits up to PidFileWait (and at most half its time) for a pid file that
// is missing or empty while httpd processes of this configuration run, as
// a graceful restart briefly leaves it (the reference waits 5 × 1 s
// whether httpd runs or not). Else it says why httpd is not running.
func (a *Agent) running(ctx context.Context, in *instance, wait bool) (*proc.Proc, string) {
	if in.pidFile == "" {
		return nil, "the pid file is unknown"
	}
	var giveUp time.Time
	if wait {
		giveUp = time.Now().Add(a.PidFileWait)
		if d, ok := ctx.Deadline(); ok {
			giveUp = minTime(giveUp, time.Now().Add(time.Until(d)/2))
		}
	}
	for {
		b, err := os.ReadFile(in.pidFile)
		text := strings.TrimSpace(string(b))
		if err == nil && text != "" || err != nil && !errors.Is(err, fs.ErrNotExist) {
			break
		}
		if !time.Now().Before(giveUp) || len(a.instanceProcs(in)) == 0 || !sleep(ctx, 200*time.Millisecond) {
			return nil, fmt.Sprintf("no pid file %s", in.pidFile)
		}
	}
	b, err := os.ReadFile(in.pidFile)
	if err != nil {
		return nil, fmt.Sprintf("pid file %s cannot be read: %v", in.pidFile, err)
	}
	text := strings.TrimSpace(string(b))
	pid, err := strconv.Atoi(text)
	if err != nil || pid <= 0 {
		return nil, fmt.Sprintf("pid file %s holds %q, not a pid", in.pidFile, text)
	}
	p, err := a.Proc.Stat(pid)
	if err != nil || !p.Alive() {
		return nil, fmt.Sprintf("pid %d from %s is not running", pid, in.pidFile)
	}
	if !a.isHTTPD(in, p) {
		return nil, fmt.Sprintf("pid %d from %s is %s, not httpd: the pid file is stale", pid, in.pidFile, p.Comm)
	}
	return &p, ""
}

// httpdNames are the base names an httpd of this instance runs under.
func (a *Agent) httpdNames(in *instance) []string {
	names := []string{filepath.Base(in.httpdParam)}
	if p := a.resolveHTTPD(in.httpdParam); p != "" {
		names = append(names, filepath.Base(p))
		if real, err := filepath.EvalSymlinks(p); err == nil {
			names = append(names, filepath.Base(real))
		}
	}
	for _, h := range a.HTTPDs {
		names = append(names, filepath.Base(h))
	}
	return names
}

// isHTTPD tells a pid file's process from an unrelated one that reused a
// stale pid: it runs this configuration file, or its executable or
// argv[0] is an httpd. When that cannot be read, it is taken to be httpd.
//
// An httpd run with another configuration file (-f) is another
// instance, whose pid the stale file names after a crash and a reboot:
// not this resource's, never to be reported as it or stopped by it.
func (a *Agent) isHTTPD(in *instance, p proc.Proc) bool {
	argv, err := a.Proc.Cmdline(p.PID)
	if err != nil {
		return true // cannot tell
	}
	if in.isInstanceArgv(argv) {
		return true
	}
	if _, other := configArg(argv); other {
		return false
	}
	return a.runsHTTPD(in, p, argv)
}

// configArg is the configuration file an httpd command line names with
// -f FILE or -fFILE, if any.
func configArg(argv []string) (string, bool) {
	for i, a := range argv {
		switch {
		case a == "-f" && i+1 < len(argv):
			return argv[i+1], true
		case strings.HasPrefix(a, "-f") && len(a) > 2:
			return a[2:], true
		}
	}
	return "", false
}

// runsHTTPD reports whether the process's argv[0] or executable is an
// httpd; when the executable cannot be read (not root), argv[0] decides.
func (a *Agent) runsHTTPD(in *instance, p proc.Proc, argv []string) bool {
	names := a.httpdNames(in)
	if len(argv) > 0 && slices.Contains(names, filepath.Base(argv[0])) {
		return true
	}
	exe, err := a.Proc.Exe(p.PID)
	return err == nil && slices.Contains(names, filepath.Base(exe))
}

// instanceProcs are the living httpd processes run with this instance's
// configuration file (-f FILE), whatever its pid file says: an exact
// argument match on an httpd binary, where the reference uses
// pkill -f "$HTTPD.*$CONFIGFILE".
func (a *Agent) instanceProcs(in *instance) []proc.Proc {
	procs, _ := a.Proc.Find(func(p proc.Proc, argv []string) bool {
		return in.isInstanceArgv(argv) && a.runsHTTPD(in, p, argv)
	})
	return procs
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
