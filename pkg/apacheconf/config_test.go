package apacheconf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

// writeTree writes files (path relative to dir → content) and returns dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// copyTree copies a fixture tree (keeping symbolic links) into a
// temporary directory, so a test can point ServerRoot at it or change it.
func copyTree(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, dst)
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

func mustParse(t *testing.T, file string, opts Options) *Config {
	t.Helper()
	c, err := Parse(file, opts)
	if err != nil {
		t.Fatalf("Parse(%s): %v", file, err)
	}
	return c
}

func debianEnv(t *testing.T, envvars string) *Env {
	t.Helper()
	env := NewEnv([]string{"PATH=/usr/bin:/bin", "HOME=/root"})
	if err := env.LoadEnvFile(envvars); err != nil {
		t.Fatal(err)
	}
	return env
}

func TestDebianStockLayoutGivesPidFileAndStatusURL(t *testing.T) {
	root := copyTree(t, "testdata/debian")
	conf := filepath.Join(root, "etc/apache2/apache2.conf")
	c := mustParse(t, conf, Options{Env: debianEnv(t, filepath.Join(root, "etc/apache2/envvars")), Defines: []string{"STATUS"}})

	if want := "/var/run/apache2/apache2.pid"; c.PidFile != want {
		t.Errorf("PidFile = %q, want %q (from ${APACHE_PID_FILE} in envvars)", c.PidFile, want)
	}
	if want := "/var/run/apache2"; c.RuntimeDir != want {
		t.Errorf("RuntimeDir = %q, want %q", c.RuntimeDir, want)
	}
	if want := "/var/log/apache2/error.log"; c.ErrorLog != want {
		t.Errorf("ErrorLog = %q, want %q", c.ErrorLog, want)
	}
	u, found := c.StatusURL(0)
	if want := "http://localhost:80/server-status"; !found || u.String() != want {
		t.Errorf("StatusURL = %s (found %v), want %s from mods-enabled/status.conf, read through IncludeOptional", u, found, want)
	}
	if want := filepath.Join(root, "etc/apache2/ports.conf"); !slices.Contains(c.Files, want) {
		t.Errorf("ports.conf was not read (Include relative to the file's directory as ServerRoot); read %q", c.Files)
	}
	if len(c.Listeners) != 1 {
		t.Errorf("Listeners = %+v, want only port 80: Listen 443 is inside <IfModule ssl_module>, which is not loaded", c.Listeners)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %q, want none: every ${VAR} comes from envvars", c.Warnings)
	}
}

func TestDebianWithSSLEnabledListensOn443WithTLS(t *testing.T) {
	root := copyTree(t, "testdata/debian")
	d := filepath.Join(root, "etc/apache2")
	for _, link := range []struct{ at, to string }{
		{"mods-enabled/ssl.load", "../mods-available/ssl.load"},
		{"mods-enabled/ssl.conf", "../mods-available/ssl.conf"},
		{"sites-enabled/default-ssl.conf", "../sites-available/default-ssl.conf"},
	} {
		if err := os.Symlink(link.to, filepath.Join(d, link.at)); err != nil {
			t.Fatal(err)
		}
	}
	c := mustParse(t, filepath.Join(d, "apache2.conf"), Options{Env: debianEnv(t, filepath.Join(d, "envvars"))})
	if len(c.Listeners) != 2 {
		t.Fatalf("Listeners = %+v, want 80 and 443", c.Listeners)
	}
	if c.TLS(c.Listeners[0]) || !c.TLS(c.Listeners[1]) {
		t.Errorf("TLS(80)=%v TLS(443)=%v, want false and true", c.TLS(c.Listeners[0]), c.TLS(c.Listeners[1]))
	}
	if u, _ := c.StatusURL(0); u.String() != "http://localhost:80/server-status" {
		t.Errorf("StatusURL = %s, want the first listener's http://localhost:80/server-status", u)
	}
	if u, _ := c.StatusURL(443); u.String() != "https://localhost:443/server-status" {
		t.Errorf("StatusURL(443) = %s, want https://localhost:443/server-status", u)
	}
}

func TestRedHatLayoutGivesStatusURLAndNoPidFile(t *testing.T) {
	root := copyTree(t, "testdata/redhat")
	conf := filepath.Join(root, "etc/httpd/conf/httpd.conf")
	// The fixture says ServerRoot "/etc/httpd", as Red Hat's does; point
	// it at the copy.
	b, _ := os.ReadFile(conf)
	b = []byte(strings.Replace(string(b), `ServerRoot "/etc/httpd"`, `ServerRoot "`+filepath.Join(root, "etc/httpd")+`"`, 1))
	if err := os.WriteFile(conf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, conf, Options{ServerRoot: "/etc/httpd"})

	if c.PidFile != "" {
		t.Errorf("PidFile = %q, want none: Red Hat's httpd.conf has no PidFile", c.PidFile)
	}
	if want := filepath.Join(root, "etc/httpd/logs/error_log"); c.ErrorLog != want {
		t.Errorf("ErrorLog = %q, want %q (relative to ServerRoot)", c.ErrorLog, want)
	}
	u, found := c.StatusURL(0)
	if want := "http://localhost:80/server-status"; !found || u.String() != want {
		t.Errorf("StatusURL = %s (found %v), want %s from conf.d/server-status.conf", u, found, want)
	}
	if len(c.Listeners) != 2 || !c.TLS(c.Listeners[1]) {
		t.Errorf("Listeners = %+v, want 80 and 443 https", c.Listeners)
	}
	var read []string
	for _, f := range c.Files {
		rel, _ := filepath.Rel(filepath.Join(root, "etc/httpd"), f)
		read = append(read, rel)
	}
	want := []string{"conf/httpd.conf", "conf.modules.d/00-base.conf", "conf.modules.d/00-mpm.conf", "conf.modules.d/00-ssl.conf",
		"conf.d/server-status.conf", "conf.d/ssl.conf", "conf.d/welcome.conf"}
	if !slices.Equal(read, want) {
		t.Errorf("read %q, want %q in that order", read, want)
	}
}

func TestDebianSystemConfigurationParses(t *testing.T) {
	testenv.RequireFile(t, "/etc/apache2/apache2.conf")
	testenv.RequireFile(t, "/etc/apache2/envvars")
	env := NewEnv(nil)
	if err := env.LoadEnvFile("/etc/apache2/envvars"); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, "/etc/apache2/apache2.conf", Options{Env: env, Defines: []string{"STATUS"}})
	if want := "/var/run/apache2/apache2.pid"; c.PidFile != want {
		t.Errorf("PidFile = %q, want %q", c.PidFile, want)
	}
	u, found := c.StatusURL(0)
	if !found || u.Path != "/server-status" || u.Port() != "80" {
		t.Errorf("StatusURL = %s (found %v), want http://localhost:80/server-status: mod_status is enabled in Debian's default", u, found)
	}
}

func TestParseReadsConfigurationsAsHttpdDoes(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		check func(t *testing.T, c *Config, dir string)
	}{
		{
			name: "Listen forms: port only, IPv4, IPv6 and protocol",
			files: map[string]string{"httpd.conf": `
Listen 8080
Listen 127.0.0.1:8081
Listen [::1]:8082
Listen 0.0.0.0:8443 https
Listen [::]:8084 http
`},
			check: func(t *testing.T, c *Config, _ string) {
				want := []Listener{{"", 8080, ""}, {"127.0.0.1", 8081, ""}, {"::1", 8082, ""}, {"0.0.0.0", 8443, "https"}, {"::", 8084, "http"}}
				if !slices.Equal(c.Listeners, want) {
					t.Errorf("Listeners = %+v, want %+v", c.Listeners, want)
				}
				for i, wantURL := range []string{"http://localhost:8080/", "http://127.0.0.1:8081/", "http://[::1]:8082/", "https://127.0.0.1:8443/", "http://[::1]:8084/"} {
					if got := c.urlFor(c.Listeners[i], "/").String(); got != wantURL {
						t.Errorf("URL for %+v = %s, want %s", c.Listeners[i], got, wantURL)
					}
				}
			},
		},
		{
			name:  "IPv6 Listen gives an IPv6 status URL",
			files: map[string]string{"httpd.conf": "Listen [::1]:8080\n<Location /status>\nSetHandler server-status\n</Location>\n"},
			check: wantStatusURL("http://[::1]:8080/status", true),
		},
		{
			name: "status location inside IfModule of a loaded module",
			files: map[string]string{"httpd.conf": `Listen 127.0.0.1:8080
LoadModule status_module /usr/lib/apache2/modules/mod_status.so
<IfModule status_module>
  <Location "/st">
    SetHandler server-status
  </Location>
</IfModule>
`},
			check: wantStatusURL("http://127.0.0.1:8080/st", true),
		},
		{
			name: "status location inside IfModule of a module that is not loaded is ignored",
			files: map[string]string{"httpd.conf": `Listen 8080
<IfModule mod_status.c>
  <Location /st>
    SetHandler server-status
  </Location>
</IfModule>
`},
			check: wantStatusURL("http://localhost:8080/", false),
		},
		{
			name: "IfModule ! and built-in modules",
			files: map[string]string{"httpd.conf": `<IfModule !mod_ssl.c>
Listen 1001
</IfModule>
<IfModule mod_log_config.c>
Listen 1002
</IfModule>
<IfModule !unixd_module>
Listen 1003
</IfModule>
`},
			check: wantPorts(1001, 1002),
		},
		{
			name: "IfDefine sees -D and Define; ${VAR} from Define and the environment",
			files: map[string]string{"httpd.conf": `Define MYPORT 9090
<IfDefine STATUS>
Listen ${MYPORT}
</IfDefine>
<IfDefine !STATUS>
Listen 1
</IfDefine>
<IfDefine NOPE>
Listen 2
</IfDefine>
PidFile ${RUNDIR}/httpd.pid
`},
			opts: Options{Defines: []string{"STATUS"}, Env: NewEnv([]string{"RUNDIR=/run/web"})},
			check: func(t *testing.T, c *Config, dir string) {
				wantPorts(9090)(t, c, dir)
				if c.PidFile != "/run/web/httpd.pid" {
					t.Errorf("PidFile = %q, want /run/web/httpd.pid", c.PidFile)
				}
			},
		},
		{
			name:  "an undefined ${VAR} stays as it is, with a warning",
			files: map[string]string{"httpd.conf": "PidFile /run/${NOPE}/x.pid\n"},
			check: func(t *testing.T, c *Config, _ string) {
				if c.PidFile != "/run/${NOPE}/x.pid" || len(c.Warnings) != 1 {
					t.Errorf("PidFile = %q, warnings %q; want the literal ${NOPE} and one warning", c.PidFile, c.Warnings)
				}
			},
		},
		{
			name: "relative PidFile is relative to DefaultRuntimeDir, itself relative to ServerRoot",
			files: map[string]string{"httpd.conf": `DefaultRuntimeDir run
PidFile web.pid
`},
			check: func(t *testing.T, c *Config, dir string) {
				if want := filepath.Join(dir, "run/web.pid"); c.PidFile != want {
					t.Errorf("PidFile = %q, want %q", c.PidFile, want)
				}
			},
		},
		{
			name:  "relative PidFile without DefaultRuntimeDir is relative to ServerRoot (Debian's build)",
			files: map[string]string{"httpd.conf": "ServerRoot /srv/web\nPidFile run/web.pid\n"},
			check: func(t *testing.T, c *Config, _ string) {
				if c.PidFile != "/srv/web/run/web.pid" {
					t.Errorf("PidFile = %q, want /srv/web/run/web.pid", c.PidFile)
				}
			},
		},
		{
			name:  "relative PidFile without DefaultRuntimeDir, with Red Hat's compiled-in run",
			files: map[string]string{"httpd.conf": "ServerRoot /etc/httpd\nPidFile httpd.pid\n"},
			opts:  Options{RelRuntimeDir: "run"},
			check: func(t *testing.T, c *Config, _ string) {
				if c.PidFile != "/etc/httpd/run/httpd.pid" {
					t.Errorf("PidFile = %q, want /etc/httpd/run/httpd.pid", c.PidFile)
				}
			},
		},
		{
			name: "Include of a directory reads it recursively in name order",
			files: map[string]string{
				"httpd.conf":      "Include conf.d\n",
				"conf.d/b.conf":   "Listen 2\n",
				"conf.d/a.conf":   "Listen 1\n",
				"conf.d/z/c.conf": "Listen 3\n",
			},
			check: wantPorts(1, 2, 3),
		},
		{
			name: "wildcards in directory and file components, sorted",
			files: map[string]string{
				"httpd.conf":            "Include sites/*/*.conf\n",
				"sites/b/x.conf":        "Listen 3\n",
				"sites/a/y.conf":        "Listen 2\n",
				"sites/a/x.conf":        "Listen 1\n",
				"sites/a/ignored.other": "Listen 9\n",
			},
			check: wantPorts(1, 2, 3),
		},
		{
			name:  "IncludeOptional of nothing is fine",
			files: map[string]string{"httpd.conf": "IncludeOptional nothing/*.conf\nIncludeOptional /no/such/file.conf\nListen 1\n"},
			check: wantPorts(1),
		},
		{
			name: "quoted arguments and line continuation",
			files: map[string]string{"httpd.conf": `Listen \
  "127.0.0.1:8080"
<Location "/server status">
  SetHandler "server-status"
</Location>
`},
			check: wantStatusURL("http://127.0.0.1:8080/server%20status", true),
		},
		{
			name: "directive names are case-insensitive",
			files: map[string]string{"httpd.conf": `listen 8080
<location /s>
sethandler Server-Status
</location>
`},
			check: wantStatusURL("http://localhost:8080/s", true),
		},
		{
			name: "the last server-status location wins",
			files: map[string]string{"httpd.conf": `Listen 80
<Location /first>
SetHandler server-status
</Location>
<Location /second>
SetHandler server-status
</Location>
`},
			check: wantStatusURL("http://localhost:80/second", true),
		},
		{
			name: "a status location in an SSL virtual host is reached over https on its port",
			files: map[string]string{"httpd.conf": `Listen 127.0.0.1:8080
Listen 127.0.0.1:8443
<VirtualHost 127.0.0.1:8443>
  SSLEngine on
  <Location /server-status>
    SetHandler server-status
  </Location>
</VirtualHost>
`},
			check: func(t *testing.T, c *Config, dir string) {
				wantStatusURL("https://127.0.0.1:8443/server-status", true)(t, c, dir)
				if c.TLS(c.Listeners[0]) || !c.TLS(c.Listeners[1]) {
					t.Errorf("TLS = %v, %v; want only 8443", c.TLS(c.Listeners[0]), c.TLS(c.Listeners[1]))
				}
			},
		},
		{
			name:  "HTTPS only (Listen 443): the status URL uses https",
			files: map[string]string{"httpd.conf": "Listen 443\n<Location /server-status>\nSetHandler server-status\n</Location>\n"},
			check: wantStatusURL("https://localhost:443/server-status", true),
		},
		{
			name:  "no Listen at all: port 80",
			files: map[string]string{"httpd.conf": "<Location /s>\nSetHandler server-status\n</Location>\n"},
			check: wantStatusURL("http://localhost:80/s", true),
		},
		{
			name: "If, Macro and LocationMatch bodies do not count",
			files: map[string]string{"httpd.conf": `Listen 80
<If "%{REMOTE_ADDR} == '127.0.0.1'">
  SetHandler server-status
</If>
<Macro VHost $port>
  Listen $port
</Macro>
<LocationMatch "^/status$">
  SetHandler server-status
</LocationMatch>
`},
			check: wantStatusURL("http://localhost:80/", false),
		},
		{
			name: "IfVersion against a current 2.4",
			files: map[string]string{"httpd.conf": `<IfVersion < 2.4>
Listen 1
</IfVersion>
<IfVersion >= 2.4>
Listen 2
</IfVersion>
<IfVersion 2.4>
Listen 3
</IfVersion>
`},
			check: wantPorts(2, 3),
		},
		{
			name: "IfFile relative to ServerRoot",
			files: map[string]string{
				"httpd.conf": "<IfFile present>\nListen 1\n</IfFile>\n<IfFile !present>\nListen 2\n</IfFile>\n<IfFile absent>\nListen 3\n</IfFile>\n",
				"present":    "",
			},
			check: wantPorts(1),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			opts := tt.opts
			if opts.ServerRoot == "" {
				opts.ServerRoot = dir
			}
			tt.check(t, mustParse(t, filepath.Join(dir, "httpd.conf"), opts), dir)
		})
	}
}

func wantPorts(ports ...int) func(*testing.T, *Config, string) {
	return func(t *testing.T, c *Config, _ string) {
		t.Helper()
		var got []int
		for _, l := range c.Listeners {
			got = append(got, l.Port)
		}
		if !slices.Equal(got, ports) {
			t.Errorf("Listen ports = %v, want %v", got, ports)
		}
	}
}

func wantStatusURL(want string, wantFound bool) func(*testing.T, *Config, string) {
	return func(t *testing.T, c *Config, _ string) {
		t.Helper()
		u, found := c.StatusURL(0)
		if u.String() != want || found != wantFound {
			t.Errorf("StatusURL = %s (found %v), want %s (found %v)", u, found, want, wantFound)
		}
	}
}

func TestParseRefusesWhatHttpdRefuses(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // in the error message
		is    error
	}{
		{"Include of a missing file", map[string]string{"httpd.conf": "Include missing.conf\n"}, "include missing.conf: no such file or directory (", fs.ErrNotExist},
		{"Include wildcard matching nothing", map[string]string{"httpd.conf": "\nInclude conf.d/*.conf\n"}, "line 2", ErrNoMatch},
		{"unclosed section", map[string]string{"httpd.conf": "<IfModule x>\nListen 1\n"}, "<ifmodule> was not closed (", nil},
		{"mismatched close", map[string]string{"httpd.conf": "<Location />\n</Directory>\n"}, "expected </location> but saw </directory>", nil},
		{"section without closing >", map[string]string{"httpd.conf": "<Location /\n</Location>\n"}, "missing closing '>'", nil},
		{"bad Listen", map[string]string{"httpd.conf": "Listen 127.0.0.1:http\n"}, `port "http" is not a port number`, nil},
		{"error inside an included file names that file", map[string]string{"httpd.conf": "Include sub.conf\n", "sub.conf": "\n\nListen 0\n"}, "sub.conf line 3)", nil},
		{"include loop", map[string]string{"httpd.conf": "Include httpd.conf\n"}, "maximum include depth", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			_, err := Parse(filepath.Join(dir, "httpd.conf"), Options{ServerRoot: dir})
			if err == nil {
				t.Fatalf("Parse succeeded; want an error containing %q", tt.want)
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.want)) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not an *apacheconf.Error", err)
			}
		})
	}
}

func TestParseOfAMissingFileIsNotExist(t *testing.T) {
	_, err := Parse(filepath.Join(t.TempDir(), "nope.conf"), Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Parse of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestLenientParseTurnsMissingIncludesIntoWarnings(t *testing.T) {
	dir := writeTree(t, map[string]string{"httpd.conf": "Include missing.conf\nInclude conf.d/*.conf\nListen 8080\nPidFile run/x.pid\n<IfModule x>\n"})
	c, err := Parse(filepath.Join(dir, "httpd.conf"), Options{ServerRoot: dir, Lenient: true})
	if err != nil {
		t.Fatalf("lenient Parse: %v", err)
	}
	if len(c.Warnings) != 3 || len(c.Listeners) != 1 || c.PidFile != filepath.Join(dir, "run/x.pid") {
		t.Errorf("lenient Parse: warnings %q, listeners %+v, pid file %q; want 3 warnings and the rest read", c.Warnings, c.Listeners, c.PidFile)
	}
	loop := writeTree(t, map[string]string{"httpd.conf": "Include httpd.conf\n"})
	if _, err := Parse(filepath.Join(loop, "httpd.conf"), Options{ServerRoot: loop, Lenient: true}); err == nil {
		t.Error("lenient Parse of an Include loop succeeded; want an error")
	}
}
