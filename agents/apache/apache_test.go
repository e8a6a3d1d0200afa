package apache

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
	"github.com/ocfbox/ocfbox/pkg/proc"
)

// invoke runs one action in-process through ocf.Main, with agent as the
// agent (so a test can change its search lists), and returns the status
// and the exit reason.
func invoke(t *testing.T, agent *Agent, action string, params map[string]string, extra ...string) (ocf.Status, string) {
	t.Helper()
	dir := t.TempDir()
	env := []string{
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=www", "OCF_RESKEY_CRM_meta_timeout=5000",
		"HA_RSCTMP=" + dir, "HA_VARRUN=" + dir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	}
	for k, v := range params {
		env = append(env, "OCF_RESKEY_"+k+"="+v)
	}
	env = append(env, extra...)
	def := ocf.Definition{Name: "apache", Metadata: metadata.Get("apache"), New: func() ocf.Agent { return agent }}
	got := ocftest.Run(def, action, env)
	reason, _ := got.ExitReason()
	return got.Status, reason
}

// testAgent is an agent that finds httpd only where the test says.
func testAgent(t *testing.T, httpds ...string) *Agent {
	a := New()
	a.HTTPDs = httpds
	a.DefaultConfigs = []string{filepath.Join(t.TempDir(), "none", "httpd.conf")}
	return a
}

// fakeHTTPD is an executable that is not run by these tests.
func fakeHTTPD(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "httpd")
	if err := os.WriteFile(p, []byte("#!/bin/false\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "httpd.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const minimalConfig = "Listen 127.0.0.1:8080\nPidFile /nonexistent/ocfbox-test/httpd.pid\n<Location /server-status>\nSetHandler server-status\n</Location>\n"

// Every bad input gets its status and a reason that names the parameter
// and its value, from validate-all, start and a probe; stop succeeds.
func TestBadInputsGetTheirStatusAndAReasonNamingTheParameter(t *testing.T) {
	httpd := fakeHTTPD(t)
	conf := writeConfig(t, minimalConfig)
	missing := filepath.Join(t.TempDir(), "missing.conf")
	unreadableTests := t.TempDir() // a directory: not a readable test file
	tests := []struct {
		name   string
		params map[string]string
		status ocf.Status // from validate-all and start
		probe  ocf.Status
		reason []string // all in the reason
	}{
		{"port out of range", map[string]string{"port": "0"}, ocf.ErrConfigured, ocf.ErrConfigured, []string{"port=", `"0"`}},
		{"port not a number", map[string]string{"port": "http"}, ocf.ErrConfigured, ocf.ErrConfigured, []string{"port", `"http"`}},
		{"statusurl not a URL", map[string]string{"statusurl": "yoyoyoyo"}, ocf.ErrConfigured, ocf.ErrConfigured, []string{"statusurl=", "yoyoyoyo"}},
		{"statusurl of another scheme", map[string]string{"statusurl": "ftp://localhost/x"}, ocf.ErrConfigured, ocf.ErrConfigured, []string{"statusurl=", "ftp://localhost/x"}},
		{"testregex not a regular expression", map[string]string{"testregex": "(html"}, ocf.ErrConfigured, ocf.ErrConfigured, []string{"testregex=", "(html"}},
		{"testregex10 not a regular expression", map[string]string{"testregex10": "a[b"}, ocf.ErrConfigured, ocf.ErrConfigured, []string{"testregex10=", "a[b"}},
		{"testurl blank", map[string]string{"testurl": "  "}, ocf.ErrConfigured, ocf.ErrConfigured, []string{"testurl=", "is blank"}},
		{"options keep httpd in the foreground", map[string]string{"options": "-D FOREGROUND"}, ocf.ErrConfigured, ocf.ErrConfigured, []string{"options=", "FOREGROUND"}},
		{"options -X", map[string]string{"options": "-X"}, ocf.ErrConfigured, ocf.ErrConfigured, []string{"options=", "-X"}},
		{"configfile relative", map[string]string{"configfile": "conf/httpd.conf"}, ocf.ErrConfigured, ocf.ErrConfigured, []string{"configfile=", "conf/httpd.conf"}},
		{"configfile missing", map[string]string{"configfile": missing}, ocf.ErrInstalled, ocf.NotRunning, []string{"configfile=", missing, "does not exist"}},
		{"configfile a directory", map[string]string{"configfile": t.TempDir()}, ocf.ErrInstalled, ocf.NotRunning, []string{"configfile=", "not a regular file"}},
		{"testconffile unreadable", map[string]string{"testconffile": unreadableTests}, ocf.ErrInstalled, ocf.Success, []string{"testconffile=", unreadableTests}},
		{"use_ipv6 not a boolean (a probe reads it as false, as ocf_is_true)", map[string]string{"use_ipv6": "maybe"}, ocf.ErrConfigured, ocf.NotRunning, []string{"use_ipv6", "maybe"}},
		{"httpd missing everywhere", map[string]string{"httpd": "/nonexistent/httpd"}, ocf.ErrInstalled, ocf.NotRunning, []string{"httpd=", "/nonexistent/httpd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := map[string]string{"configfile": conf, "httpd": httpd, "envfiles": ""}
			for k, v := range tt.params {
				params[k] = v
			}
			for _, action := range []string{"validate-all", "start"} {
				status, reason := invoke(t, testAgent(t), action, params)
				if status != tt.status {
					t.Errorf("%s: status %s, want %s (reason %q)", action, status, tt.status, reason)
				}
				for _, want := range tt.reason {
					if !strings.Contains(reason, want) {
						t.Errorf("%s: reason %q does not contain %q", action, reason, want)
					}
				}
			}
			// The probe: 5 becomes 7 (ocf.Main); a not-running server
			// with a bad testconffile is still just not running.
			probe := tt.probe
			if probe == ocf.Success {
				probe = ocf.NotRunning
			}
			if status, reason := invoke(t, testAgent(t), "monitor", params); status != probe {
				t.Errorf("probe: status %s, want %s (reason %q)", status, probe, reason)
			}
			if status, reason := invoke(t, testAgent(t), "stop", params); status != ocf.Success {
				t.Errorf("stop: status %s, want success (reason %q)", status, reason)
			}
		})
	}
}

func TestMissingHTTPDIsNotInstalledExceptOnAProbe(t *testing.T) {
	conf := writeConfig(t, minimalConfig)
	params := map[string]string{"configfile": conf, "httpd": "/nonexistent/httpd", "envfiles": ""}
	for _, tt := range []struct {
		action string
		extra  []string
		want   ocf.Status
	}{
		{"validate-all", nil, ocf.ErrInstalled},
		{"start", nil, ocf.ErrInstalled},
		{"monitor", nil, ocf.NotRunning}, // a probe
		{"monitor", []string{"OCF_RESKEY_CRM_meta_interval=10000"}, ocf.NotRunning},
		{"stop", nil, ocf.Success},
	} {
		if got, reason := invoke(t, testAgent(t, "/nonexistent/apache2"), tt.action, params, tt.extra...); got != tt.want {
			t.Errorf("%s %v with no httpd anywhere: %s, want %s (reason %q)", tt.action, tt.extra, got, tt.want, reason)
		}
	}
}

func TestHTTPDFallsBackToTheSearchList(t *testing.T) {
	httpd := fakeHTTPD(t)
	a := testAgent(t, "/nonexistent/httpd2", httpd)
	in := &instance{httpdParam: "/usr/sbin/httpd-not-here"}
	if got := a.resolveHTTPD(in.httpdParam); got != httpd {
		t.Errorf("resolveHTTPD = %q, want the first executable of the list, %q", got, httpd)
	}
	if got := httpdName("/usr/sbin/httpd-prefork", ""); got != "httpd" {
		t.Errorf("httpdName(httpd-prefork) = %q, want httpd (the default pid file's name)", got)
	}
}

func TestValidateFindsTheDefaultConfigurationLikeTheReference(t *testing.T) {
	dir := t.TempDir()
	suse, debian, redhat := filepath.Join(dir, "suse.conf"), filepath.Join(dir, "debian.conf"), filepath.Join(dir, "redhat.conf")
	a := New()
	a.DefaultConfigs = []string{suse, debian, redhat}
	if got := a.defaultConfig(); got != redhat {
		t.Errorf("nothing exists: %q, want the last, %q", got, redhat)
	}
	os.WriteFile(debian, nil, 0o644)
	if got := a.defaultConfig(); got != debian {
		t.Errorf("Debian's exists: %q, want %q", got, debian)
	}
	os.WriteFile(suse, nil, 0o644)
	if got := a.defaultConfig(); got != suse {
		t.Errorf("SUSE's exists: %q, want %q", got, suse)
	}
}

func TestStartArgvAddsPidFileOnlyWhenTheConfigurationHasNone(t *testing.T) {
	in := &instance{configFile: "/etc/web.conf", options: []string{"-DSSL", "-e", "debug"}}
	want := "/usr/sbin/apache2 -DSTATUS -DSSL -e debug -f /etc/web.conf"
	if got := strings.Join(in.argv("/usr/sbin/apache2"), " "); got != want {
		t.Errorf("argv = %q, want %q", got, want)
	}
	in.pidDirective, in.pidFile = true, "/run/apache2-www.pid"
	want += ` -c PidFile "/run/apache2-www.pid"`
	if got := strings.Join(in.argv("/usr/sbin/apache2"), " "); got != want {
		t.Errorf("argv = %q, want %q", got, want)
	}
}

func TestFirstErrorIsTheLineThatSaysWhatIsWrong(t *testing.T) {
	tests := []struct{ out, want string }{
		{"AH00526: Syntax error on line 11 of /tmp/httpd.conf:\nInvalid command 'Foo', perhaps misspelled\n",
			"Invalid command 'Foo', perhaps misspelled (/tmp/httpd.conf line 11)"},
		{"[Sun Nov 22 04:36:26.448405 2026] [core:warn] [pid 1:tid 1] AH00111: Config variable ${X} is not defined\n" +
			"apache2: Syntax error on line 80 of /etc/apache2/apache2.conf: DefaultRuntimeDir must be a valid directory\n",
			"apache2: Syntax error on line 80 of /etc/apache2/apache2.conf: DefaultRuntimeDir must be a valid directory"},
		{"[Sun Nov 22 04:51:45 2026] [core:error] [pid 2:tid 2] (98)Address already in use: AH00072: make_sock: could not bind\n",
			"(98)Address already in use: AH00072: make_sock: could not bind"},
		{"Syntax OK\n", "no error message"},
	}
	for _, tt := range tests {
		if got := firstError([]byte(tt.out)); got != tt.want {
			t.Errorf("firstError(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}

func TestRegexMatchesLinesCaseInsensitivelyAsGrepEi(t *testing.T) {
	tests := []struct {
		re, body string
		want     bool
	}{
		{"</ *html *>", "<html>\n</HTML>\n", true},
		{"</ *html *>", "<html>\n</body>", false},
		{"^Total Accesses", "x\nTotal Accesses: 3\n", true},      // ^ at each line
		{"a.b", "a\nb", false},                                   // . does not cross lines
		{`\<word\>`, "a word here", true},                        // GNU word boundaries
		{`\<word\>`, "swordfish", false},                         //
		{"[[:digit:]]+ requests", "12 requests/sec", true},       // POSIX classes
		{"", "anything", true},                                   // grep -E "" matches every line
		{"scoreboard", "Scoreboard Key:\n_ waiting", true},       // case-insensitive
		{"busyworkers: [1-9]", "BusyWorkers: 0\nIdle: 1", false}, //
	}
	for _, tt := range tests {
		re, err := compileRegex(tt.re)
		if err != nil {
			t.Fatalf("compileRegex(%q): %v", tt.re, err)
		}
		if got := matchLines(re, []byte(tt.body)); got != tt.want {
			t.Errorf("%q on %q: %v, want %v", tt.re, tt.body, got, tt.want)
		}
	}
	if _, err := compileRegex(`(a)\1`); err == nil {
		t.Error("a back-reference compiled; want an error (RE2 has none), which validate turns into status 6")
	}
}

func TestParseTestConf(t *testing.T) {
	const file = `# two tests
test first
	url http://localhost/broken
	match never
end

test second
	url /app/health\
z
	match  ok\.$   
	user admin
	password s\ ecret
	client_opts -k
	# a comment inside
end
test third
	url http://x/
	match x
	bogus 1
end
test half
	url http://x/
	match x
	user admin
end
`
	tests := []struct {
		name    string
		want    webTest
		wantErr string
	}{
		{"", webTest{name: "first", url: "http://localhost/broken", match: "never"}, ""},
		{"second", webTest{name: "second", url: "/app/healthz", match: `ok.$`, user: "admin", password: "s ecret", clientOpts: "-k"}, ""},
		{"third", webTest{}, `unknown keyword "bogus"`},
		{"half", webTest{}, "user without a password"},
		{"absent", webTest{}, `there is no test "absent" in tests.conf`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTestConf(strings.NewReader(file), "tests.conf", tt.name)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRequestChecksTheAnswer(t *testing.T) {
	hang := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>\nTotal Accesses: 1\n</html>\n")) })
	mux.HandleFunc("/forbidden", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("<html><body>Forbidden</body></html>\n"))
	})
	mux.HandleFunc("/hang", func(http.ResponseWriter, *http.Request) { <-hang })
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte("secret ok\n"))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/status", http.StatusFound) })
	plain := httptest.NewServer(mux)
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(mux) // self-signed
	t.Cleanup(tlsSrv.Close)
	l6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatalf("no IPv6 loopback: %v", err)
	}
	v6 := &httptest.Server{Listener: l6, Config: &http.Server{Handler: mux}}
	v6.Start()
	t.Cleanup(v6.Close)
	// Cleanups run last first: release the hanging handler before the
	// servers' Close waits for it.
	t.Cleanup(func() { close(hang) })

	html, _ := compileRegex("</ *html *>")
	accesses, _ := compileRegex("^Total Accesses")
	okRe, _ := compileRegex("secret ok")
	tests := []struct {
		name     string
		q        request
		wantErr  string // "" for success
		answered bool
		timedOut bool
		bindIPv6 bool
	}{
		{name: "status page matches", q: request{url: mustURL(t, plain.URL+"/status"), re: accesses}},
		{name: "an error page counts as an answer, as with curl without -f", q: request{url: mustURL(t, plain.URL+"/forbidden"), re: html}},
		{name: "no match", q: request{url: mustURL(t, plain.URL+"/forbidden"), re: accesses, regexName: "testregex"},
			wantErr: `answered "403 Forbidden" but no line matches testregex "^Total Accesses"`, answered: true},
		{name: "redirects are followed", q: request{url: mustURL(t, plain.URL+"/redirect"), re: accesses}},
		{name: "self-signed HTTPS is accepted", q: request{url: mustURL(t, tlsSrv.URL+"/status"), re: accesses}},
		{name: "IPv6 URL without use_ipv6", q: request{url: mustURL(t, v6.URL+"/status"), re: accesses}},
		{name: "basic authentication", q: request{url: mustURL(t, plain.URL+"/auth"), re: okRe, user: "admin", password: "pw"}},
		{name: "a hanging server fails in time", q: request{url: mustURL(t, plain.URL+"/hang"), re: html, limit: 200 * time.Millisecond},
			wantErr: "did not answer within 200ms", timedOut: true},
		{name: "HEAD passes with any answer", q: request{url: mustURL(t, plain.URL+"/forbidden")}},
		{name: "connection refused", q: request{url: mustURL(t, "http://127.0.0.1:1/")}, wantErr: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.q.do(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("do: %v, want success", err)
				}
				return
			}
			ce, ok := err.(*checkError)
			if !ok || !strings.Contains(ce.msg, tt.wantErr) {
				t.Fatalf("do: %v, want a check error containing %q", err, tt.wantErr)
			}
			if ce.answered != tt.answered || ce.timedOut != tt.timedOut {
				t.Errorf("answered=%v timedOut=%v, want %v %v", ce.answered, ce.timedOut, tt.answered, tt.timedOut)
			}
		})
	}
}

func TestRequestNeverUsesAProxy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("</html>")) }))
	t.Cleanup(srv.Close)
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("http_proxy", "http://127.0.0.1:1")
	re, _ := compileRegex("html")
	// A non-loopback name for the same server would be proxied by Go's
	// default transport; ours connects directly.
	u := mustURL(t, srv.URL)
	u.Host = "localhost:" + u.Port()
	if err := (request{url: u, re: re}).do(context.Background()); err != nil {
		t.Errorf("do with HTTP_PROXY set: %v, want a direct connection", err)
	}
}

func TestRequestContextEndsBeforeTheActionDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rctx, rcancel, d := requestContext(ctx, 0)
	defer rcancel()
	outer, _ := ctx.Deadline()
	inner, _ := rctx.Deadline()
	if !inner.Before(outer) || d <= 0 {
		t.Errorf("request deadline %v is not before the action's %v", inner, outer)
	}
	_, c2, d2 := requestContext(ctx, time.Second)
	defer c2()
	if d2 != time.Second {
		t.Errorf("limit 1s gave %v", d2)
	}
}

func TestIsInstanceArgvNeedsTheExactConfigurationFile(t *testing.T) {
	in := &instance{configFile: "/etc/web.conf"}
	for _, tt := range []struct {
		argv []string
		want bool
	}{
		{[]string{"/usr/sbin/apache2", "-DSTATUS", "-f", "/etc/web.conf"}, true},
		{[]string{"/usr/sbin/apache2", "-f/etc/web.conf"}, true},
		{[]string{"/usr/sbin/apache2", "-f", "/etc/web.conf.bak"}, false},
		{[]string{"/usr/sbin/apache2", "/etc/web.conf"}, false},
		{[]string{"/usr/sbin/apache2", "-f"}, false},
	} {
		if got := in.isInstanceArgv(tt.argv); got != tt.want {
			t.Errorf("isInstanceArgv(%q) = %v, want %v", tt.argv, got, tt.want)
		}
	}
}

func TestRunningTellsAStalePidFileFromHttpd(t *testing.T) {
	// The pid file names this test process, which is not httpd.
	pidFile := filepath.Join(t.TempDir(), "httpd.pid")
	a := testAgent(t, "/usr/sbin/apache2")
	in := &instance{configFile: "/etc/web.conf", httpdParam: "/usr/sbin/httpd", pidFile: pidFile}
	for _, tt := range []struct {
		content string
		want    string
	}{
		{"", "no pid file"},
		{"garbage", "not a pid"},
		{"999999999", "is not running"},
		{strconv.Itoa(os.Getpid()), "not httpd: the pid file is stale"},
	} {
		os.WriteFile(pidFile, []byte(tt.content), 0o644)
		p, why := a.running(context.Background(), in, false)
		if p != nil || !strings.Contains(why, tt.want) {
			t.Errorf("pid file %q: running = %v, %q; want not running because %q", tt.content, p, why, tt.want)
		}
	}
	os.Remove(pidFile)
	if p, why := a.running(context.Background(), in, false); p != nil || !strings.Contains(why, "no pid file") {
		t.Errorf("no pid file: %v, %q", p, why)
	}
}

// fakeProcFS is a /proc with one process.
func fakeProcFS(t *testing.T, pid int, argv ...string) proc.FS {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, strconv.Itoa(pid))
	os.Mkdir(dir, 0o755)
	stat := fmt.Sprintf("%d (%s) S 1 %d %d 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n", pid, filepath.Base(argv[0]), pid, pid)
	os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644)
	os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.Join(argv, "\x00")+"\x00"), 0o644)
	return proc.FS{Root: root}
}

func TestRecurringMonitorWaitsBoundedlyForAMissingPidFile(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "httpd.pid")
	a := testAgent(t)
	a.PidFileWait = time.Hour
	a.Proc = fakeProcFS(t, 4242, "/usr/sbin/apache2", "-DSTATUS", "-f", "/etc/web.conf")
	in := &instance{configFile: "/etc/web.conf", httpdParam: "/usr/sbin/apache2", pidFile: pidFile}
	// httpd of this configuration runs, and its pid file appears again (a
	// graceful restart rewrote it) while the recurring monitor waits.
	go func() {
		time.Sleep(100 * time.Millisecond)
		os.WriteFile(pidFile, []byte("4242\n"), 0o644)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if p, why := a.running(ctx, in, true); p == nil || p.PID != 4242 {
		t.Errorf("recurring monitor during a pid file rewrite: not running (%q); want it to wait for the file", why)
	}
	// A probe does not wait.
	os.Remove(pidFile)
	if p, why := a.running(ctx, in, false); p != nil || !strings.Contains(why, "no pid file") {
		t.Errorf("probe without a pid file: %v %q, want no pid file", p, why)
	}
	// With httpd running but no pid file coming back, the wait ends at
	// half the deadline, whatever PidFileWait says.
	short, cancel2 := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel2()
	if p, why := a.running(short, in, true); p != nil || !strings.Contains(why, "no pid file") {
		t.Errorf("recurring monitor, no pid file: %v %q, want no pid file", p, why)
	}
	// With no httpd of this configuration at all there is nothing to wait
	// for: no restart is under way. (Without a deadline, a wait here would
	// last PidFileWait, an hour, and the test would time out.)
	a.Proc = proc.FS{Root: t.TempDir()}
	if p, why := a.running(context.Background(), in, true); p != nil || !strings.Contains(why, "no pid file") {
		t.Errorf("recurring monitor, no httpd: %v %q, want no pid file", p, why)
	}
}
