package apache_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/proc"
)

// An httpd of this configuration runs, but its pid file is gone (removed
// by hand, a tmpfs cleaned): neither a probe nor a recurring monitor may
// report it stopped, and stop stops it.
func TestMissingPidFileWhileHttpdRunsIsNotStopped(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	os.Remove(s.PidFile)
	res := a.want(t, "monitor", probe, ocf.ErrGeneric)
	if !strings.Contains(res.Reason, "runs") {
		t.Errorf("probe reason %q does not say httpd runs", res.Reason)
	}
	a.want(t, "monitor", map[string]string{"interval": "10000", "timeout": "4000"}, ocf.ErrGeneric)
	a.want(t, "stop", nil, ocf.Success)
	if left := s.procs(t); len(left) > 0 {
		t.Fatalf("stop left %v", left)
	}
	a.want(t, "monitor", probe, ocf.NotRunning)
}

// A stale pid file (httpd was killed, the machine rebooted) names the
// master of another httpd instance, run with another configuration: it
// is not this resource. A probe says not running, and stop leaves the
// other instance alone.
func TestStalePidFileNamingAnotherHttpdInstance(t *testing.T) {
	mine, other := newSite(t, siteOptions{}), newSite(t, siteOptions{})
	a, b := ocfbox(t, mine, nil), ocfbox(t, other, nil)
	b.want(t, "start", nil, ocf.Success)
	otherPID := other.pid()
	if err := os.WriteFile(mine.PidFile, []byte(strconv.Itoa(otherPID)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.want(t, "monitor", probe, ocf.NotRunning)
	a.want(t, "stop", nil, ocf.Success)
	if p, err := proc.Host.Stat(otherPID); err != nil || !p.Alive() {
		t.Fatalf("stop of one instance killed the other instance's httpd (pid %d)", otherPID)
	}
	b.want(t, "monitor", recurring, ocf.Success)
	a.want(t, "start", nil, ocf.Success)
	a.want(t, "monitor", recurring, ocf.Success)
	b.want(t, "monitor", recurring, ocf.Success)
	a.want(t, "stop", nil, ocf.Success)
	b.want(t, "stop", nil, ocf.Success)
}

// httpd -t fails because a file the configuration names is missing on this
// node (a module, a certificate): another node may have it, so start
// answers 5 (this node), not 6 (everywhere). A real syntax error stays 6
// (TestBrokenConfigurationFailsStartWithHttpdsMessage).
func TestConfigTestFailingForAFileMissingHereIsLocal(t *testing.T) {
	s := newSite(t, siteOptions{})
	missing := filepath.Join(t.TempDir(), "mod_gone.so")
	f, err := os.OpenFile(s.Conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("LoadModule gone_module " + missing + "\n")
	f.Close()
	a := ocfbox(t, s, nil)
	res := a.want(t, "start", nil, ocf.ErrInstalled)
	if !strings.Contains(res.Reason, missing) {
		t.Errorf("reason %q does not name %s", res.Reason, missing)
	}
	if left := s.procs(t); len(left) > 0 {
		t.Fatalf("a failed start left %v", left)
	}
}

// A stop whose parameters became invalid while httpd runs (statusurl
// edited to garbage) stops the httpd start recorded, then succeeds.
func TestStopWithInvalidParametersStopsTheRecordedHttpd(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	a.want(t, "start", nil, ocf.Success)
	bad := a
	bad.Params = siteParams(s, map[string]string{"statusurl": "yoyoyoyo"})
	bad.want(t, "stop", nil, ocf.Success)
	if left := s.procs(t); len(left) > 0 {
		t.Fatalf("stop with invalid parameters reported success and left %v", left)
	}
	a.want(t, "monitor", probe, ocf.NotRunning)
}

// The agent SIGKILLed at several points of a start (pacemaker-execd at
// the timeout): whatever it left, the next probe never says "not running"
// while an httpd of the configuration runs, and the stop that follows
// leaves nothing; a new start then runs exactly one httpd.
func TestAgentKilledInTheMiddleOfStart(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	for _, at := range []time.Duration{2 * time.Millisecond, 8 * time.Millisecond, 15 * time.Millisecond, 25 * time.Millisecond, 40 * time.Millisecond} {
		res := a.run(t, "start", nil, at)
		time.Sleep(300 * time.Millisecond) // what the start launched settles
		running := len(s.procs(t)) > 0
		probe := a.run(t, "monitor", probe, 0)
		if running && probe.Status == ocf.NotRunning {
			t.Fatalf("start killed after %s (%s): probe says not running while httpd runs: %v", at, res, s.procs(t))
		}
		if !running && probe.Status != ocf.NotRunning {
			t.Errorf("start killed after %s (%s): probe %s with no httpd", at, res, probe)
		}
		a.want(t, "stop", nil, ocf.Success)
		if left := s.procs(t); len(left) > 0 {
			t.Fatalf("start killed after %s: stop left %v", at, left)
		}
	}
	a.want(t, "start", nil, ocf.Success)
	a.want(t, "monitor", recurring, ocf.Success)
	a.want(t, "stop", nil, ocf.Success)
}

// Two starts of the resource at once (an operator's crm_resource
// --force-start while Pacemaker starts it): one httpd, both report it
// started; then a stop racing a start leaves a consistent answer.
func TestTwoActionsAtOnce(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := ocfbox(t, s, nil)
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = a.run(t, "start", nil, 0) }()
	}
	wg.Wait()
	for i, r := range results {
		if r.Status != ocf.Success {
			t.Errorf("start %d: %s (%s)", i, r, r.Reason)
		}
	}
	masters := 0
	for _, p := range s.procs(t) {
		if p.PID == p.SID {
			masters++
		}
	}
	if masters != 1 {
		t.Fatalf("two starts at once left %d httpd masters: %v", masters, s.procs(t))
	}
	var stop, start result
	wg.Add(2)
	go func() { defer wg.Done(); stop = a.run(t, "stop", nil, 0) }()
	go func() { defer wg.Done(); start = a.run(t, "start", nil, 0) }()
	wg.Wait()
	if stop.Status != ocf.Success || start.Status != ocf.Success {
		t.Fatalf("stop %s, start %s", stop, start)
	}
	probe := a.run(t, "monitor", probe, 0)
	if running := len(s.procs(t)) > 0; running != (probe.Status == ocf.Success) {
		t.Fatalf("after a stop and a start at once: probe %s, httpd processes %v", probe, s.procs(t))
	}
	a.want(t, "stop", nil, ocf.Success)
}
