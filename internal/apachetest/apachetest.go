// Package apachetest writes minimal apache2 sites for tests: one
// configuration file, its document root and its run files, all in one
// directory, for Debian's httpd and modules. The agent's own tests, the
// cross-agent suites and the cluster harness all start their web servers
// from such a site, so there is one place that knows what a working
// configuration needs.
//
// A site listens on one address, loads only the modules it needs
// (mpm_event or mpm_prefork, authz_core, authz_host, dir, status, and
// what Options adds), serves its page at / and the status page at
// /server-status to local clients, and keeps its pid file, error log and
// runtime directory inside its directory, so that sites never share a
// file and a test can start as many as it likes.
package apachetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/pkg/proc"
)

// The programs and files of Debian's apache2 a site runs with.
const (
	Apache2    = "/usr/sbin/apache2"
	ModulesDir = "/usr/lib/apache2/modules"
)

// ConfigName is the name of a site's configuration file in its
// directory.
const ConfigName = "httpd.conf"

// DefaultPage is the page a site serves at / when Options.Page is empty:
// an HTML page, which the agents' default test regex (</html>) matches.
const DefaultPage = "<html><body>ocfbox test site</body></html>\n"

// Require skips (or in CI fails) a test that runs the real httpd: it
// needs root (httpd switches to www-data) and Debian's apache2.
func Require(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireFile(t, Apache2)
	testenv.RequireFile(t, filepath.Join(ModulesDir, "mod_status.so"))
}

// Options describe a site.
type Options struct {
	// Listen is the address httpd listens on, host:port: "127.0.0.1:8080",
	// "[::1]:8080", or a wildcard such as "0.0.0.0:80".
	Listen string
	// Page is the text of htdocs/index.html, served at /; DefaultPage
	// when empty.
	Page string
	// Root is the directory as httpd will see it, when that is not the
	// path the site is written through (a node's own mount namespace,
	// written through /proc/PID/root): the configuration names its files
	// under Root. Empty: the directory itself.
	Root string
	// TLS makes the listener speak https, with a self-signed certificate
	// for localhost, 127.0.0.1 and ::1 (cert.pem and key.pem in the
	// directory).
	TLS bool
	// MPM is the multi-processing module: "event" (the default) or
	// "prefork" (which mod_cgi needs).
	MPM string
	// Modules are more modules to load, by the name in mod_NAME.so:
	// "alias", "cgi".
	Modules []string
	// NoPidFile leaves the PidFile directive out: whoever starts httpd
	// must give one (with -c) or accept httpd's default.
	NoPidFile bool
	// ListenDirective replaces the Listen directive (say "Listen
	// ${WEB_LISTEN}", which an environment file defines); Listen still
	// names the address the site's URL uses.
	ListenDirective string
	// Extra is configuration appended at the end.
	Extra string
}

// Site is a site as Write made it. Paths are those the caller wrote
// through (under the directory given to Write), not those in the
// configuration (under Options.Root).
type Site struct {
	Dir          string // the site's directory
	Conf         string // its configuration file, Dir/httpd.conf
	PidFile      string // Dir/run/httpd.pid; "" with Options.NoPidFile
	ErrorLog     string // Dir/error.log
	DocumentRoot string // Dir/htdocs
	// Host and Port are the address a local client connects to: Listen's,
	// with loopback for a wildcard address.
	Host string
	Port int
	// URL is the status page: http(s)://Host:Port/server-status.
	URL string
}

var confTemplate = template.Must(template.New(ConfigName).Parse(`# a minimal apache2 site written by internal/apachetest
ServerRoot "{{.Root}}"
ServerName localhost
{{if .ListenDirective}}{{.ListenDirective}}{{else}}Listen {{.Listen}}{{if .TLS}} https{{end}}{{end}}
{{- range .Modules}}
LoadModule {{.}}_module {{$.ModulesDir}}/mod_{{.}}.so
{{- end}}
User www-data
Group www-data
DefaultRuntimeDir "{{.Root}}/run"
{{if not .NoPidFile}}PidFile "{{.Root}}/run/httpd.pid"
{{end -}}
ErrorLog "{{.Root}}/error.log"
LogLevel info
DocumentRoot "{{.Root}}/htdocs"
DirectoryIndex index.html
<Directory "{{.Root}}/htdocs">
	Require all granted
</Directory>
<IfModule mod_status.c>
	<Location /server-status>
		SetHandler server-status
		Require local
	</Location>
</IfModule>
{{- if .TLS}}
<VirtualHost {{.Listen}}>
	SSLEngine on
	SSLCertificateFile "{{.Root}}/cert.pem"
	SSLCertificateKeyFile "{{.Root}}/key.pem"
</VirtualHost>
{{- end}}
{{.Extra}}
`))

// Write writes a site into dir, creating it (mode 0755) if need be:
// the configuration file, htdocs/index.html, the run directory, and with
// TLS the certificate and its key. It starts nothing.
func Write(dir string, o Options) (*Site, error) {
	host, portText, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("apachetest: Listen %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("apachetest: Listen %q: the port is not a number from 1 to 65535", o.Listen)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	mpm := o.MPM
	if mpm == "" {
		mpm = "event"
	}
	root := o.Root
	if root == "" {
		root = dir
	}
	page := o.Page
	if page == "" {
		page = DefaultPage
	}
	scheme := "http"
	modules := []string{"mpm_" + mpm, "authz_core", "authz_host", "dir", "status"}
	if o.TLS {
		scheme = "https"
		modules = append(modules, "socache_shmcb", "ssl")
	}
	for _, m := range o.Modules {
		if !slices.Contains(modules, m) {
			modules = append(modules, m)
		}
	}
	s := &Site{
		Dir:          dir,
		Conf:         filepath.Join(dir, ConfigName),
		ErrorLog:     filepath.Join(dir, "error.log"),
		DocumentRoot: filepath.Join(dir, "htdocs"),
		Host:         host,
		Port:         port,
	}
	if !o.NoPidFile {
		s.PidFile = filepath.Join(dir, "run", "httpd.pid")
	}
	s.URL = fmt.Sprintf("%s://%s/server-status", scheme, net.JoinHostPort(host, portText))

	var conf strings.Builder
	err = confTemplate.Execute(&conf, map[string]any{
		"Root": root, "Listen": o.Listen, "ListenDirective": o.ListenDirective, "TLS": o.TLS,
		"ModulesDir": ModulesDir, "Modules": modules, "NoPidFile": o.NoPidFile, "Extra": o.Extra,
	})
	if err != nil {
		return nil, fmt.Errorf("apachetest: %w", err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "run"), s.DocumentRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("apachetest: %w", err)
		}
	}
	if o.TLS {
		if err := writeCertificate(dir); err != nil {
			return nil, fmt.Errorf("apachetest: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.DocumentRoot, "index.html"), []byte(page), 0o644); err != nil {
		return nil, fmt.Errorf("apachetest: %w", err)
	}
	if err := os.WriteFile(s.Conf, []byte(conf.String()), 0o644); err != nil {
		return nil, fmt.Errorf("apachetest: %w", err)
	}
	return s, nil
}

// New writes a site into dir for a test (see Write) and makes sure at the
// test's cleanup that no httpd of it survives (see Kill). dir and its
// parents up to the temporary directory become searchable by every user,
// as httpd's workers (www-data) need.
func New(t testing.TB, dir string, o Options) *Site {
	t.Helper()
	Require(t)
	s, err := Write(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := searchable(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Kill(t, s.Conf) })
	return s
}

// OpenDir is a fresh temporary directory every user can enter: httpd's
// workers (www-data) and agents run as nobody (ocf-tester's meta-data
// check) must.
func OpenDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := searchable(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// searchable gives dir and its parents below the temporary directory
// (t.TempDir's are 0700) mode 0755.
func searchable(dir string) error {
	tmp := filepath.Clean(os.TempDir())
	dir = filepath.Clean(dir)
	if !strings.HasPrefix(dir, tmp+string(filepath.Separator)) {
		return nil
	}
	for d := dir; d != tmp; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			return fmt.Errorf("apachetest: %w", err)
		}
	}
	return nil
}

// FreePort is a TCP port nothing listens on right now on host (a
// loopback address, "127.0.0.1" or "::1").
func FreePort(t testing.TB, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("find a free port on %s: %v", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Kill SIGKILLs every process whose command line names conf (an httpd
// started with -f conf, and its workers) and everything of their
// families (pkg/proc: descendants and session: a CGI's children), then
// waits up to 10 s until they are gone. A test that failed half-way must
// not leave httpd behind.
func Kill(t testing.TB, conf string) {
	t.Helper()
	httpds, err := proc.Host.Find(func(_ proc.Proc, argv []string) bool { return slices.Contains(argv, conf) })
	if err != nil {
		t.Errorf("apachetest: find the processes of %s: %v", conf, err)
		return
	}
	var all []proc.Proc
	for _, p := range httpds {
		fam, _ := proc.Host.Family(p)
		for _, q := range append(fam, p) {
			if !slices.ContainsFunc(all, func(r proc.Proc) bool { return r.PID == q.PID }) {
				all = append(all, q)
			}
		}
	}
	if err := proc.Host.SignalAll(all, syscall.SIGKILL); err != nil {
		t.Errorf("apachetest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if left := proc.Host.WaitGone(ctx, all, 10*time.Millisecond); len(left) > 0 {
		t.Errorf("apachetest: processes of %s still there 10 s after SIGKILL: %v", conf, left)
	}
}

// writeCertificate writes a self-signed certificate for localhost,
// 127.0.0.1 and ::1, and its key, into dir.
func writeCertificate(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}
