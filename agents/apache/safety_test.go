package apache_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
