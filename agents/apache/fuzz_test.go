package apache

import (
	"strings"
	"testing"
)

// testconffile is the operator's file of level-10 tests.
func FuzzParseTestConf(f *testing.F) {
	f.Add("test first\nrequest GET /app.txt\nexpect application ok\nclient curl\nclient_opts -k\nuser u\npassword p\nend\n", "")
	f.Add("test a\nurl http://127.0.0.1/\nend\ntest b\nrequest GET\nend\n", "b")
	f.Add("test\nend\nend\ntest x\n", "x")
	f.Fuzz(func(t *testing.T, text, name string) {
		parseTestConf(strings.NewReader(text), "tests.conf", name)
	})
}

// httpd's own error output decides the exit reason and whether a failed
// configuration test is this node's problem.
func FuzzFirstError(f *testing.F) {
	f.Add("AH00526: Syntax error on line 3 of /etc/apache2/apache2.conf:\nInvalid command 'NoSuchDirective', perhaps misspelled\n")
	f.Add("[Thu Dec 03 10:00:00.1 2026] [core:warn] [pid 1] AH00111: Config variable ${X} is not defined\nSyntax OK\n")
	f.Add("apache2: Syntax error on line 28 of /x.conf: Cannot load /nonexistent/mod_x.so into server: /nonexistent/mod_x.so: cannot open shared object file: No such file or directory")
	f.Fuzz(func(t *testing.T, out string) {
		if msg := firstError([]byte(out)); msg == "" {
			t.Fatalf("firstError(%q) is empty", out)
		}
		if p := missingPath(out); p != "" && !strings.Contains(out, p) {
			t.Fatalf("missingPath(%q) = %q, not in the output", out, p)
		}
		compileRegex(out)
	})
}
