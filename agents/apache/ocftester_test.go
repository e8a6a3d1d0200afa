package apache_test

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/apachetest"
	"github.com/ocfbox/ocfbox/internal/testenv"
)

// ocf-tester, resource-agents' own conformance run (meta-data against the
// DTD, as nobody too; validate-all; the probe with every binary "missing";
// start, monitor, double start, stop, double stop), passes against the
// agent on a real httpd.
func TestOCFTesterPasses(t *testing.T) {
	tester := testenv.RequireTool(t, "ocf-tester")
	testenv.RequireFile(t, "/usr/share/resource-agents/ra-api-1.dtd")
	testenv.RequireTool(t, "xmllint")
	s := newSite(t, siteOptions{})
	agent := agentPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tester, "-v", "-n", "www", "-o", "configfile="+s.Conf, agent)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HA_VARRUN=" + apachetest.OpenDir(t), "HA_RSCTMP=" + apachetest.OpenDir(t)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Fatalf("ocf-tester: %v\n%s", err, out)
	}
	if left := s.procs(t); len(left) > 0 {
		t.Errorf("processes left after ocf-tester's final stop: %v", left)
	}
}
