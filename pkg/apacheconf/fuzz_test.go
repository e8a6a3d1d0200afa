package apacheconf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The configuration file is outside input. Parse must not panic, and what
// it derives (pid file, runtime directory, URLs) must be usable.
//
// Inputs that name other files (Include, IncludeOptional, ServerRoot) are
// skipped: they would have the fuzzer walk the host's file system, and
// config_test.go covers them on files of its own.
func FuzzParse(f *testing.F) {
	f.Add("Listen 127.0.0.1:8080\nPidFile /run/x.pid\n<Location /server-status>\nSetHandler server-status\n</Location>\n")
	f.Add("Define X\n<IfDefine X>\nListen [::1]:443 https\n</IfDefine>\n<IfModule !mod_ssl.c>\nListen 80\n</IfModule>\n")
	f.Add("<VirtualHost *:8080>\nServerName a\n<Location \"/s\">\nSetHandler server-status\n</Location>\n</VirtualHost>\nDefaultRuntimeDir ${APACHE_RUN_DIR}\n")
	f.Add("Listen \\\n 8080\n<IfVersion >= 2.4>\nErrorLog \"|/usr/bin/logger\"\n</IfVersion>\n<If \"%{HTTPS}\">\n")
	f.Add("PidFile relative.pid\nListen 0.0.0.0:notaport\n</Location>\n<Directory /\n")
	f.Fuzz(func(t *testing.T, text string) {
		lower := strings.ToLower(text)
		if strings.Contains(lower, "include") || strings.Contains(lower, "serverroot") {
			t.Skip("names other files")
		}
		dir := t.TempDir()
		file := filepath.Join(dir, "httpd.conf")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, lenient := range []bool{false, true} {
			c, err := Parse(file, Options{Env: NewEnv([]string{"APACHE_RUN_DIR=/run/apache2"}), Defines: []string{"STATUS"}, Lenient: lenient})
			if err != nil {
				continue
			}
			if c.PidFile != "" && !filepath.IsAbs(c.PidFile) {
				t.Fatalf("PidFile %q is not absolute", c.PidFile)
			}
			if c.RuntimeDir != "" && !filepath.IsAbs(c.RuntimeDir) {
				t.Fatalf("RuntimeDir %q is not absolute", c.RuntimeDir)
			}
			for _, port := range []int{0, 8080} {
				if u := c.BaseURL(port); u == nil || u.Host == "" {
					t.Fatalf("BaseURL(%d) = %v", port, u)
				}
				c.StatusURL(port)
			}
		}
	})
}

// Environment files (Debian's envvars) are read without a shell: no
// panic, and nothing is ever executed or read from elsewhere.
func FuzzLoadEnvFile(f *testing.F) {
	f.Add("export APACHE_RUN_DIR=/var/run/apache2$SUFFIX\nAPACHE_PID_FILE=$APACHE_RUN_DIR/apache2.pid\n")
	f.Add("if [ \"${APACHE_CONFDIR##/etc/apache2-}\" != \"${APACHE_CONFDIR}\" ] ; then\n\tSUFFIX=\"-${APACHE_CONFDIR##/etc/apache2-}\"\nelse\n\tSUFFIX=\nfi\n")
	f.Add("unset HOME\nexport LANG\n. /etc/default/locale\nA='single $quoted' B=\"x${A:-d}\" C=$(date)\n")
	f.Add("case $x in\n a) X=1;;\nesac\nwhile true; do :; done\nfunction f() { :; }\n")
	f.Fuzz(func(t *testing.T, text string) {
		e := NewEnv([]string{"PATH=/usr/bin", "APACHE_CONFDIR=/etc/apache2"})
		if err := e.load("envvars", bytes.NewReader([]byte(text))); err != nil {
			return
		}
		for _, kv := range e.Environ() {
			if !strings.Contains(kv, "=") {
				t.Fatalf("environment entry %q has no =", kv)
			}
		}
	})
}
