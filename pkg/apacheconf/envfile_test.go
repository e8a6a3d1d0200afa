package apacheconf

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDebianEnvvarsFixture(t *testing.T) {
	env := NewEnv([]string{"HOME=/root", "PATH=/bin"})
	if err := env.LoadEnvFile("testdata/debian/etc/apache2/envvars"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"APACHE_LOCK_DIR=/var/lock/apache2", "APACHE_LOG_DIR=/var/log/apache2",
		"APACHE_PID_FILE=/var/run/apache2/apache2.pid", "APACHE_RUN_DIR=/var/run/apache2",
		"APACHE_RUN_GROUP=www-data", "APACHE_RUN_USER=www-data", "LANG=C", "PATH=/bin",
	}
	if got := env.Environ(); !slices.Equal(got, want) {
		t.Errorf("environment after envvars:\n got %q\nwant %q\n(HOME unset, SUFFIX not exported)", got, want)
	}
	if len(env.Skipped) != 5 {
		t.Errorf("skipped %d lines, want the 5 lines of the if block: %q", len(env.Skipped), env.Skipped)
	}
}

func TestLoadEnvFileUnderstandsAssignmentsAndSkipsTheRest(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		want    []string // Environ() afterwards
		skipped int
	}{
		{"plain and exported", "A=1\nexport B=2\n", nil, []string{"B=2"}, 0},
		{"export after assignment", "A=1\nexport A\n", nil, []string{"A=1"}, 0},
		{"export before assignment", "export A\nA=1\n", nil, []string{"A=1"}, 0},
		{"quotes", `export A='x $B y' B="q $C" C=plain` + "\n", []string{"C=c"}, []string{"A=x $B y", "B=q c", "C=plain"}, 0},
		{"expansion of unexported variables", "S=-two\nexport D=/run/web$S E=${S}x\n", nil, []string{"D=/run/web-two", "E=-twox"}, 0},
		{"unset", "unset HOME\n", []string{"HOME=/root", "X=1"}, []string{"X=1"}, 0},
		{"comments and blank lines", "# c\n\n   # d\nexport A=1 # trailing\n", nil, []string{"A=1"}, 0},
		{"escapes", `export A=a\ b B="x\"y\\z"` + "\n", nil, []string{"A=a b", `B=x"y\z`}, 0},
		{"several statements on a line", "export A=1; export B=2\n", nil, []string{"A=1", "B=2"}, 0},
		{"command substitution is skipped", "export A=$(hostname)\nexport B=`id -u`\n", nil, nil, 2},
		{"parameter operators are skipped", "export A=${X:-default}\n", nil, nil, 1},
		{"commands are skipped", ". /etc/default/locale\nulimit -n 65536\nsource x\n", nil, nil, 3},
		{"if blocks are skipped whole", "if [ -f x ]; then\n  export A=1\nelse\n  export A=2\nfi\nexport B=3\n", nil, []string{"B=3"}, 5},
		{"one-line if is skipped", "if true; then export A=1; fi\n", nil, nil, 1},
		{"nested blocks", "if a; then\nif b; then\nA=1\nfi\nB=1\nfi\nexport C=1\n", nil, []string{"C=1"}, 6},
		{"function definitions are skipped", "f() {\n  export A=1\n}\ng()\n{\nexport B=1\n}\nexport C=1\n", nil, []string{"C=1"}, 7},
		{"an assignment with () in quotes is not a function", `export A="f()"` + "\n", nil, []string{"A=f()"}, 0},
		{"unterminated quote is skipped", "export A='x\n", nil, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "envvars")
			if err := os.WriteFile(path, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			env := NewEnv(tt.environ)
			if err := env.LoadEnvFile(path); err != nil {
				t.Fatal(err)
			}
			if got := env.Environ(); !slices.Equal(got, tt.want) {
				t.Errorf("Environ() = %q, want %q", got, tt.want)
			}
			if len(env.Skipped) != tt.skipped {
				t.Errorf("skipped %q, want %d lines skipped", env.Skipped, tt.skipped)
			}
			for _, s := range env.Skipped {
				if !strings.HasPrefix(s, path+":") {
					t.Errorf("skipped line %q does not name its file and line", s)
				}
			}
		})
	}
}

func TestLoadEnvFileIgnoresAMissingFile(t *testing.T) {
	env := NewEnv([]string{"A=1"})
	if err := env.LoadEnvFile(filepath.Join(t.TempDir(), "none")); err != nil {
		t.Errorf("LoadEnvFile of a missing file: %v, want nil (the reference skips it too)", err)
	}
}

func TestLoadEnvFileReportsAnUnreadableFile(t *testing.T) {
	env := NewEnv(nil)
	err := env.LoadEnvFile(t.TempDir()) // a directory cannot be read as a file
	if err == nil {
		t.Fatal("LoadEnvFile of a directory succeeded, want an error")
	}
}

func TestLookupSeesOnlyExportedVariables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "envvars")
	os.WriteFile(path, []byte("A=1\nexport B=2\n"), 0o644)
	env := NewEnv(nil)
	if err := env.LoadEnvFile(path); err != nil {
		t.Fatal(err)
	}
	if _, ok := env.Lookup("A"); ok {
		t.Error("Lookup(A) found a variable that is not exported; httpd would not see it")
	}
	if v, ok := env.Lookup("B"); !ok || v != "2" {
		t.Errorf("Lookup(B) = %q, %v; want 2, true", v, ok)
	}
}
