package apachetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/pkg/proc"
)

// A site written through one path for an httpd that sees it at another
// (a cluster node's /run, reached through /proc/PID/root) names its files
// under the httpd's path, and reports its own under the written one.
func TestWriteNamesFilesUnderRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site")
	s, err := Write(dir, Options{Listen: "0.0.0.0:80", Root: "/run/www", Page: "served by n1\n"})
	if err != nil {
		t.Fatal(err)
	}
	want := Site{
		Dir: dir, Conf: filepath.Join(dir, "httpd.conf"), PidFile: filepath.Join(dir, "run/httpd.pid"),
		ErrorLog: filepath.Join(dir, "error.log"), DocumentRoot: filepath.Join(dir, "htdocs"),
		Host: "127.0.0.1", Port: 80, URL: "http://127.0.0.1:80/server-status",
	}
	if *s != want {
		t.Errorf("Write returned %+v, want %+v", *s, want)
	}
	conf, err := os.ReadFile(s.Conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{`ServerRoot "/run/www"`, `PidFile "/run/www/run/httpd.pid"`, `ErrorLog "/run/www/error.log"`,
		`DocumentRoot "/run/www/htdocs"`, `DefaultRuntimeDir "/run/www/run"`, "Listen 0.0.0.0:80"} {
		if !slices.Contains(strings.Split(string(conf), "\n"), line) {
			t.Errorf("the configuration has no line %q:\n%s", line, conf)
		}
	}
	if strings.Contains(string(conf), dir) {
		t.Errorf("the configuration names the path it was written through, %s:\n%s", dir, conf)
	}
	if page, _ := os.ReadFile(filepath.Join(dir, "htdocs/index.html")); string(page) != "served by n1\n" {
		t.Errorf("index.html holds %q, want the page given", page)
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); err != nil {
		t.Errorf("no run directory: %v", err)
	}
}

func TestWriteRejectsAListenAddressWithoutAPort(t *testing.T) {
	for _, listen := range []string{"", "80", "127.0.0.1", "127.0.0.1:http", "[::1]:0", "[::1]:65536"} {
		if _, err := Write(t.TempDir(), Options{Listen: listen}); err == nil {
			t.Errorf("Write with Listen %q succeeded, want an error", listen)
		}
	}
}

// httpd -t accepts what Write writes, with every option.
func TestHttpdAcceptsTheConfiguration(t *testing.T) {
	Require(t)
	for name, o := range map[string]Options{
		"IPv4":             {Listen: "127.0.0.1:8080"},
		"IPv6":             {Listen: "[::1]:8080"},
		"wildcard":         {Listen: "0.0.0.0:80"},
		"TLS":              {Listen: "127.0.0.1:8443", TLS: true},
		"prefork and CGI":  {Listen: "127.0.0.1:8080", MPM: "prefork", Modules: []string{"alias", "cgi"}, Extra: "ScriptAlias /cgi-bin/ /nonexistent/\n"},
		"no pid file":      {Listen: "127.0.0.1:8080", NoPidFile: true},
		"listen directive": {Listen: "127.0.0.1:8080", ListenDirective: "Listen 127.0.0.1:8081"},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Write(OpenDir(t), o)
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(Apache2, "-t", "-f", s.Conf).CombinedOutput()
			if err != nil {
				t.Errorf("apache2 -t -f %s: %v\n%s", s.Conf, err, out)
			}
		})
	}
}

// The broken directive proves the check above runs httpd's parser.
func TestHttpdRejectsExtraItDoesNotKnow(t *testing.T) {
	Require(t)
	s, err := Write(OpenDir(t), Options{Listen: "127.0.0.1:8080", Extra: "NoSuchDirective on\n"})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(Apache2, "-t", "-f", s.Conf).CombinedOutput(); err == nil {
		t.Errorf("apache2 -t accepted NoSuchDirective:\n%s", out)
	}
}

// A site started with httpd serves its page at / and the status page to
// a local client, over IPv4, IPv6 and TLS; Kill leaves nothing of it.
func TestSiteServesAndKillRemovesIt(t *testing.T) {
	Require(t)
	for _, c := range []struct {
		name, host string
		tls        bool
	}{{"IPv4", "127.0.0.1", false}, {"IPv6", "::1", false}, {"TLS", "127.0.0.1", true}} {
		t.Run(c.name, func(t *testing.T) {
			listen := net.JoinHostPort(c.host, strconv.Itoa(FreePort(t, c.host)))
			s := New(t, filepath.Join(t.TempDir(), "www"), Options{Listen: listen, Page: "hello from " + c.name + "\n", TLS: c.tls})
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			if c.tls {
				pool := x509.NewCertPool()
				cert, err := os.ReadFile(filepath.Join(s.Dir, "cert.pem"))
				if err != nil || !pool.AppendCertsFromPEM(cert) {
					t.Fatalf("read the site's certificate: %v", err)
				}
				client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
			}
			if out, err := exec.Command(Apache2, "-f", s.Conf, "-k", "start").CombinedOutput(); err != nil {
				t.Fatalf("apache2 -f %s -k start: %v\n%s", s.Conf, err, out)
			}
			base := strings.TrimSuffix(s.URL, "/server-status")
			if got := fetch(t, client, base+"/"); got != "hello from "+c.name+"\n" {
				t.Errorf("GET %s/: %q, want the page", base, got)
			}
			if got := fetch(t, client, s.URL); !strings.Contains(got, "Apache Server Status") {
				t.Errorf("GET %s: %q, want the status page", s.URL, got)
			}
			if b, err := os.ReadFile(s.PidFile); err != nil || strings.TrimSpace(string(b)) == "" {
				t.Errorf("pid file %s: %q, %v", s.PidFile, b, err)
			}
			Kill(t, s.Conf)
			left, err := proc.Host.Find(func(_ proc.Proc, argv []string) bool { return slices.Contains(argv, s.Conf) })
			if err != nil || len(left) > 0 {
				t.Errorf("after Kill: %v (%v)", left, err)
			}
		})
	}
}

// fetch GETs url, retrying for a few seconds while httpd starts.
func fetch(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
			}
			return string(b)
		}
		if ctx.Err() != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFreePortIsFree(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		port := FreePort(t, host)
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			t.Errorf("listen on the free port %s %d: %v", host, port, err)
			continue
		}
		l.Close()
	}
}
