package apache

import (
	"os"
	"testing"
)

func TestMissingPath(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/httpd.conf", nil, 0o644)
	for _, tt := range []struct{ out, want string }{
		{"httpd: Syntax error on line 3 of " + dir + "/httpd.conf: Cannot load " + dir + "/mod_x.so into server: " + dir + "/mod_x.so: cannot open shared object file: No such file or directory", dir + "/mod_x.so"},
		{"AH00526: Syntax error on line 9 of " + dir + ":\nSSLCertificateFile: file '" + dir + "/x.pem' does not exist or is empty", dir + "/x.pem"},
		{"AH00526: Syntax error on line 9 of " + dir + ":\nInvalid command 'NoSuchDirective'", ""},
		{"[Thu Dec 03 10:00:00 2026] [core:warn] AH00111: DocumentRoot [" + dir + "/gone] does not exist\nInvalid command 'X'", ""},
	} {
		if got := missingPath(tt.out); got != tt.want {
			t.Errorf("missingPath(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}
