package apache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/apachetest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
	"github.com/ocfbox/ocfbox/pkg/proc"
)

// reference is the shell agent the parity tests and the benchmark run
// beside ocfbox's.
const reference = "/usr/lib/ocf/resource.d/heartbeat/apache"

var (
	installOnce sync.Once
	installDir  string
	installErr  error
)

// agentPath is the test binary installed as an agent named apache, in a
// directory every user can read.
func agentPath(t testing.TB) string {
	t.Helper()
	bin := testenv.Binary(t)
	installOnce.Do(func() {
		installDir, installErr = os.MkdirTemp("", "ocfbox-apache-agent-")
		if installErr != nil {
			return
		}
		os.Chmod(installDir, 0o755)
		installErr = copyFile(bin, filepath.Join(installDir, "ocfbox"))
		if installErr == nil {
			installErr = os.Symlink("ocfbox", filepath.Join(installDir, "apache"))
		}
	})
	if installErr != nil {
		t.Fatalf("install the agent: %v", installErr)
	}
	return filepath.Join(installDir, "apache")
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// site is an httpd instance's ServerRoot (internal/apachetest), built by
// the test.
type site struct {
	*apachetest.Site
	Marker string // the sleep argument its CGI children use
}

type siteOptions struct {
	IPv6      bool   // Listen [::1]:port
	HTTPS     bool   // TLS on the listener, self-signed certificate
	CGI       bool   // prefork + mod_cgi and a CGI that leaves children behind
	NoPidFile bool   // no PidFile: the agent passes one with -c
	Listen    string // a Listen line of its own ("Listen ${PORT}"), instead of the default
	Broken    bool   // a directive httpd does not know
}

var siteSeq struct {
	sync.Mutex
	n int
}

// newSite writes an httpd configuration into a fresh directory, and makes
// sure at cleanup that no process of it survives the test.
func newSite(t testing.TB, o siteOptions) *site {
	t.Helper()
	apachetest.Require(t)
	dir := apachetest.OpenDir(t)
	host := "127.0.0.1"
	if o.IPv6 {
		host = "::1"
	}
	ao := apachetest.Options{
		Listen:          net.JoinHostPort(host, strconv.Itoa(apachetest.FreePort(t, host))),
		TLS:             o.HTTPS,
		NoPidFile:       o.NoPidFile,
		ListenDirective: o.Listen,
	}
	var extra strings.Builder
	if o.CGI {
		ao.MPM, ao.Modules = "prefork", []string{"alias", "cgi"}
		fmt.Fprintf(&extra, "ScriptAlias /cgi-bin/ \"%[1]s/cgi-bin/\"\n<Directory \"%[1]s/cgi-bin\">\n\tRequire all granted\n</Directory>\n", dir)
	}
	if o.Broken {
		extra.WriteString("NoSuchDirective on\n")
	}
	ao.Extra = extra.String()
	s := &site{Site: apachetest.New(t, dir, ao)}
	siteSeq.Lock()
	siteSeq.n++
	s.Marker = fmt.Sprintf("3600.%d%04d", os.Getpid(), siteSeq.n)
	siteSeq.Unlock()
	if err := os.WriteFile(filepath.Join(s.DocumentRoot, "app.txt"), []byte("application ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if o.CGI {
		// A CGI that leaves two children in httpd's session: one that
		// exits on SIGTERM, one that ignores it.
		cgi := fmt.Sprintf("#!/bin/sh\nsleep %[1]s </dev/null >/dev/null 2>&1 &\n(trap '' TERM; exec sleep %[1]s) </dev/null >/dev/null 2>&1 &\nprintf 'Content-Type: text/plain\\r\\n\\r\\nspawned\\n'\n", s.Marker)
		if err := os.Mkdir(filepath.Join(dir, "cgi-bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgi-bin", "spawn"), []byte(cgi), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// apachetest.New kills httpd at cleanup; this also kills CGI children
	// that outlived it.
	t.Cleanup(func() { s.killAll(t) })
	return s
}

// procs are the living processes of the site: httpd run with its
// configuration, everything in their sessions, and its CGI's children.
func (s *site) procs(t testing.TB) []proc.Proc {
	t.Helper()
	httpds, err := proc.Host.Find(func(_ proc.Proc, argv []string) bool {
		return slices.Contains(argv, s.Conf) || (len(argv) == 2 && argv[1] == s.Marker)
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	var out []proc.Proc
	for _, p := range httpds {
		fam, _ := proc.Host.Family(p)
		for _, q := range append(fam, p) {
			if !seen[q.PID] && q.Alive() {
				seen[q.PID] = true
				out = append(out, q)
			}
		}
	}
	return out
}

// strays are the site's CGI children still running.
func (s *site) strays(t testing.TB) []proc.Proc {
	t.Helper()
	ps, err := proc.Host.Find(func(_ proc.Proc, argv []string) bool { return len(argv) == 2 && argv[1] == s.Marker })
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// killAll kills whatever of the site still runs (a test that failed
// half-way must not leave httpd behind).
func (s *site) killAll(t testing.TB) {
	ps := s.procs(t)
	proc.Host.SignalAll(ps, syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	proc.Host.WaitGone(ctx, ps, 10*time.Millisecond)
}

// pid is the pid in the site's pid file, 0 when there is none.
func (s *site) pid() int {
	b, err := os.ReadFile(s.PidFile)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// result is one run of an agent.
type result struct {
	Status  ocf.Status
	Reason  string
	Stderr  string
	Took    time.Duration
	Timeout bool // killed by the test's own limit: the agent did not return
}

func (r result) String() string {
	if r.Timeout {
		return "timeout"
	}
	return fmt.Sprintf("%d (%s)", int(r.Status), r.Status)
}

// runner runs an agent (ocfbox's or the reference) as pacemaker-execd
// does: argv is the path and the action, the environment is the OCF one.
type runner struct {
	Path     string
	Wrap     []string // a command the agent runs under (strace …)
	Dir      string   // HA_RSCTMP and HA_VARRUN
	Instance string
	Params   map[string]string
}

// run runs one action. meta holds CRM_meta_* values (timeout defaults to
// 20000); the test kills the agent at limit (default: the timeout plus
// 10 s), which a correct agent never reaches.
func (r runner) run(t testing.TB, action string, meta map[string]string, limit time.Duration, extra ...string) result {
	t.Helper()
	meta = maps.Clone(meta)
	if meta == nil {
		meta = map[string]string{}
	}
	if meta["timeout"] == "" {
		meta["timeout"] = "20000"
	}
	if limit == 0 {
		ms, _ := strconv.Atoi(meta["timeout"])
		limit = time.Duration(ms)*time.Millisecond + 10*time.Second
	}
	inst := r.Instance
	if inst == "" {
		inst = "www"
	}
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_TYPE=apache", "OCF_RESOURCE_INSTANCE=" + inst,
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"HA_RSCTMP=" + r.Dir, "HA_VARRUN=" + r.Dir + "/", "HA_logfacility=none", "HA_debug=0",
	}
	for _, k := range slices.Sorted(maps.Keys(r.Params)) {
		env = append(env, "OCF_RESKEY_"+k+"="+r.Params[k])
	}
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		env = append(env, "OCF_RESKEY_CRM_meta_"+k+"="+meta[k])
	}
	env = append(env, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	argv := append(slices.Clone(r.Wrap), r.Path, action)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = r.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	res := result{Took: time.Since(start), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.Timeout, res.Status = true, ocf.ErrGeneric
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		res.Status = ocf.Status(ee.ExitCode())
	default:
		t.Fatalf("%s %s: %v\n%s", r.Path, action, err, res.Stderr)
	}
	res.Reason, _ = ocftest.ExitReason(res.Stderr)
	return res
}

// ocfbox is a runner for ocfbox's agent on the site, in a sandbox of its
// own; params add to (or, with "", remove) the defaults.
func ocfbox(t testing.TB, s *site, params map[string]string) runner {
	return runner{Path: agentPath(t), Dir: apachetest.OpenDir(t), Params: siteParams(s, params)}
}

func siteParams(s *site, params map[string]string) map[string]string {
	p := map[string]string{"configfile": s.Conf, "envfiles": ""}
	for k, v := range params {
		if v == "" {
			delete(p, k)
			continue
		}
		p[k] = v
	}
	return p
}

var (
	recurring = map[string]string{"interval": "10000"}
	probe     = map[string]string{}
)

// want runs an action and fails the test unless it returns status.
func (r runner) want(t testing.TB, action string, meta map[string]string, status ocf.Status, extra ...string) result {
	t.Helper()
	res := r.run(t, action, meta, 0, extra...)
	if res.Timeout || res.Status != status {
		name := action
		if action == "monitor" && meta["interval"] == "" {
			name = "probe"
		}
		t.Fatalf("%s: %s, want %d (%s); reason %q\n%s", name, res, int(status), status, res.Reason, res.Stderr)
	}
	return res
}
