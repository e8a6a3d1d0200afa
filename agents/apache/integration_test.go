package apache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
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

// These tests run the real httpd from Debian on loopback, each with a
// ServerRoot of its own and a random port, through the ocfbox binary
// called as "apache", the way Pacemaker calls it.

func TestStartMonitorStopLifecycle(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	a.want(t, "monitor", probe, ocf.NotRunning)
	a.want(t, "start", nil, ocf.Success)
	if s.pid() == 0 {
		t.Fatalf("start succeeded but %s holds no pid", s.PidFile)
	}
	a.want(t, "monitor", recurring, ocf.Success)
	a.want(t, "monitor", probe, ocf.Success)
	a.want(t, "status", nil, ocf.Success) // advertised, so it works
	a.want(t, "start", nil, ocf.Success)  // already running
	if n := len(s.procs(t)); n < 2 {
		t.Errorf("%d httpd processes after start, want a parent and workers", n)
	}
	a.want(t, "stop", nil, ocf.Success)
	if left := s.procs(t); len(left) > 0 {
		t.Errorf("processes left after stop: %v", left)
	}
	a.want(t, "stop", nil, ocf.Success)
	a.want(t, "monitor", recurring, ocf.NotRunning)
	a.want(t, "status", nil, ocf.NotRunning)
}

func TestStartWaitsUntilTheStatusPageAnswers(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	// Right after start returned, the status page answers.
	resp, err := get(s.URL)
	if err != nil {
		t.Fatalf("GET %s right after start: %v", s.URL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Apache Server Status") {
		t.Errorf("GET %s right after start: %s, want the server-status page", s.URL, resp.Status)
	}
	a.want(t, "stop", nil, ocf.Success)
}

func TestMonitorOfAHungServerFailsInTime(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	// Every httpd process stopped: the kernel still accepts connections,
	// nobody answers.
	ps := s.procs(t)
	proc.Host.SignalAll(ps, syscall.SIGSTOP)
	t.Cleanup(func() { proc.Host.SignalAll(ps, syscall.SIGCONT) })
	meta := map[string]string{"interval": "10000", "timeout": "3000"}
	// The test's own limit is the agent's timeout: pacemaker-execd would
	// SIGKILL it there; the agent must answer before.
	res := a.run(t, "monitor", meta, 3*time.Second)
	if res.Timeout {
		t.Fatalf("monitor of a hung server did not return within its 3 s timeout")
	}
	if res.Status != ocf.ErrGeneric || !strings.Contains(res.Reason, "did not answer within") || !strings.Contains(res.Reason, s.URL) {
		t.Errorf("monitor of a hung server: %s, reason %q; want 1 with a reason naming %s and the time it waited", res, res.Reason, s.URL)
	}
	// Stop succeeds on a stopped (SIGSTOP) server and leaves nothing.
	a.want(t, "stop", map[string]string{"timeout": "6000"}, ocf.Success)
	if left := s.procs(t); len(left) > 0 {
		t.Errorf("processes left after stopping a hung server: %v", left)
	}
}

func TestKilledServerIsNotRunningAndStartsAgain(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	old := s.pid()
	s.killAll(t)
	a.want(t, "monitor", recurring, ocf.NotRunning)
	a.want(t, "monitor", probe, ocf.NotRunning)
	a.want(t, "stop", nil, ocf.Success)
	a.want(t, "start", nil, ocf.Success) // over the stale pid file
	if s.pid() == old || s.pid() == 0 {
		t.Errorf("pid file holds %d after the restart, want the new httpd's (the killed one was %d)", s.pid(), old)
	}
	a.want(t, "monitor", recurring, ocf.Success)
	a.want(t, "stop", nil, ocf.Success)
}

func TestStalePidFileOfAnotherProcessIsNotRunning(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	// The pid file names a living process that is not httpd (its pid was
	// reused after a crash).
	os.WriteFile(s.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	a.want(t, "monitor", probe, ocf.NotRunning)
	a.want(t, "stop", nil, ocf.Success)
	if _, err := proc.Host.Stat(os.Getpid()); err != nil {
		t.Fatal("stop touched the process a stale pid file named")
	}
	a.want(t, "start", nil, ocf.Success)
	a.want(t, "stop", nil, ocf.Success)
}

func TestRecurringMonitorWaitsForAPidFileBeingRewritten(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	content, err := os.ReadFile(s.PidFile)
	if err != nil {
		t.Fatal(err)
	}
	// A graceful restart rewrites the pid file: for a moment there is none.
	os.Remove(s.PidFile)
	a.want(t, "monitor", probe, ocf.ErrGeneric) // a probe does not wait, and httpd runs
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(time.Second)
		os.WriteFile(s.PidFile, content, 0o644)
	}()
	a.want(t, "monitor", recurring, ocf.Success)
	<-done
	a.want(t, "stop", nil, ocf.Success)
}

func TestBrokenConfigurationFailsStartWithHttpdsMessage(t *testing.T) {
	s := newSite(t, siteOptions{Broken: true})
	a := ocfbox(t, s, nil)
	res := a.want(t, "start", nil, ocf.ErrConfigured)
	if !strings.Contains(res.Reason, "Invalid command 'NoSuchDirective'") || !strings.Contains(res.Reason, "httpd -t") {
		t.Errorf("reason %q, want httpd -t's message about NoSuchDirective", res.Reason)
	}
	if left := s.procs(t); len(left) > 0 {
		t.Errorf("processes after a failed start: %v", left)
	}
	if _, err := os.Stat(s.PidFile); err == nil {
		t.Error("a pid file exists after a start that failed its configuration test")
	}
	a.want(t, "monitor", probe, ocf.NotRunning)
	a.want(t, "stop", nil, ocf.Success)
}

func TestStartFailsFastWhenThePortIsTaken(t *testing.T) {
	s := newSite(t, siteOptions{})
	other := newSite(t, siteOptions{})
	// Another instance already holds the port.
	os.WriteFile(other.Conf, []byte(strings.ReplaceAll(mustRead(t, other.Conf), strconv.Itoa(other.Port), strconv.Itoa(s.Port))), 0o644)
	ocfbox(t, other, nil).want(t, "start", nil, ocf.Success)
	a := ocfbox(t, s, nil)
	res := a.want(t, "start", nil, ocf.ErrGeneric)
	if !strings.Contains(res.Reason, "Address already in use") {
		t.Errorf("reason %q, want httpd's bind failure", res.Reason)
	}
	if left := s.procs(t); len(left) > 0 {
		t.Errorf("processes of the failed instance: %v", left)
	}
}

func TestHTTPSStatusURLWithASelfSignedCertificate(t *testing.T) {
	s := newSite(t, siteOptions{HTTPS: true})
	// Only the status page itself matches: httpd's answer to plain HTTP
	// on its TLS port is an HTML error page, which the default regex
	// would accept.
	statusPage := map[string]string{"testregex": "Apache Server Status"}
	a := ocfbox(t, s, statusPage)
	a.want(t, "start", nil, ocf.Success)
	a.want(t, "monitor", recurring, ocf.Success)
	plain := ocfbox(t, s, map[string]string{"testregex": "Apache Server Status", "statusurl": strings.Replace(s.URL, "https:", "http:", 1)})
	plain.Dir = a.Dir
	res := plain.run(t, "monitor", recurring, 0)
	if res.Status != ocf.ErrGeneric || !strings.Contains(res.Reason, "400 Bad Request") {
		t.Errorf("monitor with http:// on the TLS port: %s, reason %q; want 1 for httpd's 400 (so the derived URL must have been https)", res, res.Reason)
	}
	a.want(t, "stop", nil, ocf.Success)
}

func TestIPv6Listen(t *testing.T) {
	s := newSite(t, siteOptions{IPv6: true})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	a.want(t, "monitor", recurring, ocf.Success)
	// A wrong regex fails, naming the IPv6 URL: the monitor fetched it.
	res := ocfbox(t, s, map[string]string{"testregex": "no such text"})
	res.Dir = a.Dir
	if r := res.run(t, "monitor", recurring, 0); r.Status != ocf.ErrGeneric || !strings.Contains(r.Reason, "[::1]") {
		t.Errorf("monitor with a regex that cannot match: %s, reason %q; want 1 naming the [::1] URL", r, r.Reason)
	}
	a.want(t, "stop", nil, ocf.Success)
}

func TestPidFileFromTheCommandLineWhenTheConfigurationHasNone(t *testing.T) {
	s := newSite(t, siteOptions{NoPidFile: true})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	pidFile := filepath.Join(a.Dir, "apache2-www.pid")
	if _, err := os.Stat(pidFile); err != nil {
		t.Errorf("no pid file %s (HA_VARRUN/<httpd>-<instance>.pid): %v", pidFile, err)
	}
	a.want(t, "monitor", recurring, ocf.Success)
	a.want(t, "stop", nil, ocf.Success)
	if left := s.procs(t); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
}

func TestEnvfilesVariablesReachTheConfiguration(t *testing.T) {
	s := newSite(t, siteOptions{Listen: "Listen ${WEB_LISTEN}"})
	envfile := filepath.Join(s.Dir, "envvars")
	os.WriteFile(envfile, []byte(fmt.Sprintf("# like Debian's envvars\nunset HOME\nADDR=127.0.0.1\nexport WEB_LISTEN=$ADDR:%d\n", s.Port)), 0o644)
	a := ocfbox(t, s, map[string]string{"envfiles": envfile})
	a.want(t, "start", nil, ocf.Success)
	a.want(t, "monitor", recurring, ocf.Success)
	a.want(t, "stop", nil, ocf.Success)
}

func TestLevel10Tests(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	level10 := "OCF_CHECK_LEVEL=10"
	tests := filepath.Join(s.Dir, "tests.conf")
	os.WriteFile(tests, []byte("test broken\n\turl /nothing-here\n\tmatch application ok\nend\n\ntest app\n\turl /app.txt\n\tmatch ^application OK$\nend\n"), 0o644)
	cases := []struct {
		name   string
		params map[string]string
		want   ocf.Status
		reason string
	}{
		{"testurl relative and matching", map[string]string{"testurl": "/app.txt", "testregex10": "application ok"}, ocf.Success, ""},
		{"testurl absolute and matching", map[string]string{"testurl": "http://127.0.0.1:" + strconv.Itoa(s.Port) + "/app.txt", "testregex10": "OK"}, ocf.Success, ""},
		{"testurl not matching", map[string]string{"testurl": "/app.txt", "testregex10": "failure"}, ocf.ErrGeneric, "/app.txt"},
		{"testurl without testregex10", map[string]string{"testurl": "/app.txt"}, ocf.ErrConfigured, "testregex10"},
		{"testconffile: the first test", map[string]string{"testconffile": tests}, ocf.ErrGeneric, "/nothing-here"},
		{"testconffile: the test testname names", map[string]string{"testconffile": tests, "testname": "app"}, ocf.Success, ""},
		{"testconffile: testname that is not there", map[string]string{"testconffile": tests, "testname": "nope"}, ocf.ErrConfigured, `testname="nope"`},
		{"level 10 with a user-defined client", map[string]string{"testurl": "/app.txt", "testregex10": "^application ok$", "client": "/usr/bin/curl", "testconffile": ""}, ocf.Success, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ocfbox(t, s, c.params)
			r.Dir = a.Dir
			res := r.run(t, "monitor", recurring, 0, level10)
			if res.Status != c.want || !strings.Contains(res.Reason, c.reason) {
				t.Errorf("level-10 monitor: %s, reason %q; want %d with a reason containing %q", res, res.Reason, int(c.want), c.reason)
			}
		})
	}
	a.want(t, "stop", nil, ocf.Success)
}

func TestStopLeavesNoChildrenBehind(t *testing.T) {
	s := newSite(t, siteOptions{CGI: true})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	spawnStrays(t, s)
	a.want(t, "stop", map[string]string{"timeout": "10000"}, ocf.Success)
	if left := s.strays(t); len(left) > 0 {
		t.Errorf("CGI children left after stop: %v", left)
	}
	if left := s.procs(t); len(left) > 0 {
		t.Errorf("processes left after stop: %v", left)
	}
}

func TestStopOfStraysWithoutAPidFile(t *testing.T) {
	s := newSite(t, siteOptions{CGI: true})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	spawnStrays(t, s)
	// The pid file is lost; httpd still runs, and is not "not running".
	os.Remove(s.PidFile)
	a.want(t, "monitor", probe, ocf.ErrGeneric)
	a.want(t, "stop", map[string]string{"timeout": "10000"}, ocf.Success)
	if left := s.procs(t); len(left) > 0 {
		t.Errorf("processes left after stop: %v", left)
	}
}

// spawnStrays asks the site's CGI to leave two children in httpd's
// session, one of which ignores SIGTERM.
func spawnStrays(t *testing.T, s *site) {
	t.Helper()
	resp, err := get(fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/spawn", s.Port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "spawned") {
		t.Fatalf("CGI answered %s %q", resp.Status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(s.strays(t)) < 2 {
		if ctx.Err() != nil {
			t.Fatalf("the CGI's children did not appear: %v", s.strays(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBadInputsChangeNothingOnTheHost(t *testing.T) {
	s := newSite(t, siteOptions{})
	missing := filepath.Join(s.Dir, "missing.conf")
	for _, c := range []struct {
		name   string
		params map[string]string
		start  ocf.Status
		probe  ocf.Status
	}{
		{"configfile missing", map[string]string{"configfile": missing}, ocf.ErrInstalled, ocf.NotRunning},
		{"statusurl not a URL (the ocft case)", map[string]string{"statusurl": "yoyoyoyo"}, ocf.ErrConfigured, ocf.ErrConfigured},
		{"port 0", map[string]string{"port": "0"}, ocf.ErrConfigured, ocf.ErrConfigured},
		{"testregex invalid", map[string]string{"testregex": "(("}, ocf.ErrConfigured, ocf.ErrConfigured},
		{"options foreground", map[string]string{"options": "-DFOREGROUND"}, ocf.ErrConfigured, ocf.ErrConfigured},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := ocfbox(t, s, c.params)
			before := listFiles(t, s.Dir, a.Dir)
			a.want(t, "validate-all", nil, c.start)
			a.want(t, "start", nil, c.start)
			a.want(t, "monitor", probe, c.probe)
			a.want(t, "stop", nil, ocf.Success)
			if left := s.procs(t); len(left) > 0 {
				t.Errorf("processes after a refused start: %v", left)
			}
			if after := listFiles(t, s.Dir, a.Dir); after != before {
				t.Errorf("files changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// get fetches a URL without keeping the connection open: httpd's graceful
// stop would wait for an idle keep-alive connection to time out.
func get(url string) (*http.Response, error) {
	return (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(url)
}

func listFiles(t *testing.T, dirs ...string) string {
	var names []string
	for _, d := range dirs {
		filepath.Walk(d, func(p string, _ os.FileInfo, err error) error {
			if err == nil {
				names = append(names, p)
			}
			return nil
		})
	}
	return strings.Join(names, " ")
}

func mustRead(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Debian's own configuration, read only: the agent's default configfile
// and envfiles validate and a probe finds it stopped. Nothing is started.
func TestDebianStockConfigurationValidates(t *testing.T) {
	apachetest.Require(t)
	testenv.RequireFile(t, "/etc/apache2/apache2.conf")
	if _, err := os.Stat("/etc/apache2/httpd.conf"); err == nil {
		t.Fatal("/etc/apache2/httpd.conf exists: the default would be SUSE's layout")
	}
	a := runner{Path: agentPath(t), Dir: apachetest.OpenDir(t)}
	a.want(t, "validate-all", nil, ocf.Success)
	// The system's apache2 normally does not run here; if it does, the
	// probe must find it.
	systemRuns := false
	if b, err := os.ReadFile("/var/run/apache2/apache2.pid"); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			p, err := proc.Host.Stat(pid)
			systemRuns = err == nil && p.Alive()
		}
	}
	res := a.run(t, "monitor", probe, 0)
	if systemRuns && res.Status == ocf.NotRunning || !systemRuns && res.Status != ocf.NotRunning {
		t.Errorf("probe with Debian's configuration: %s (reason %q); the system's apache2 runs: %v", res, res.Reason, systemRuns)
	}
}

// An edit to the configuration that would stop httpd from starting again
// does not make the monitor lose the server that runs; the next start
// reports it.
func TestConfigurationEditedWhileRunning(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	f, err := os.OpenFile(s.Conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "Include %s/missing.conf\n", s.Dir)
	f.Close()
	a.want(t, "monitor", recurring, ocf.Success)
	a.want(t, "monitor", probe, ocf.Success)
	a.want(t, "stop", nil, ocf.Success)
	if left := s.procs(t); len(left) > 0 {
		t.Errorf("processes left after stop: %v", left)
	}
	// A file missing on this node: 5, not a ban on every node.
	res := a.want(t, "start", nil, ocf.ErrInstalled)
	if !strings.Contains(res.Reason, "missing.conf") {
		t.Errorf("start reason %q, want it to name missing.conf", res.Reason)
	}
}

// With its configuration file gone (a shared file system unmounted under
// it), monitor and probe still find httpd by its command line and report
// it running but failed, and stop finds it the same way and stops it; the
// reference reports it not running and returns 0 without stopping it.
func TestStopWithTheConfigurationGone(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	if err := os.Rename(s.Conf, s.Conf+".away"); err != nil {
		t.Fatal(err)
	}
	for _, meta := range []map[string]string{probe, recurring} {
		res := a.want(t, "monitor", meta, ocf.ErrGeneric)
		if !strings.Contains(res.Reason, s.Conf) || !strings.Contains(res.Reason, "runs") {
			t.Errorf("monitor %v: reason %q, want it to say that httpd of %s runs", meta, res.Reason, s.Conf)
		}
	}
	a.want(t, "stop", nil, ocf.Success)
	if left := s.procs(t); len(left) > 0 {
		t.Errorf("processes left after stop: %v", left)
	}
	a.want(t, "monitor", probe, ocf.NotRunning)
}
