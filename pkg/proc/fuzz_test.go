package proc

import (
	"strings"
	"testing"
)

// /proc/<pid>/stat holds the command name, which the process chose.
func FuzzParseStat(f *testing.F) {
	f.Add("4242 (apache2) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n")
	f.Add("7 (a) b) (c) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551615 0 0")
	f.Add("1 () Z 0 0 0")
	f.Add(") (")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseStat(s)
		if err != nil {
			return
		}
		if !strings.Contains(s, "("+p.Comm+")") {
			t.Fatalf("parseStat(%q): comm %q is not between the parentheses", s, p.Comm)
		}
	})
}
