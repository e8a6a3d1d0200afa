package packaging

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

// TestPackageVersion checks how packaging/pkg-version turns `git
// describe` into a version dpkg and rpm accept, and that later builds
// sort higher.
func TestPackageVersion(t *testing.T) {
	dpkg := testenv.RequireTool(t, "dpkg")
	script := filepath.Join(repoRoot(t), "packaging", "pkg-version")
	version := func(describe string) string {
		t.Helper()
		out, err := exec.Command("sh", script, describe).CombinedOutput()
		if err != nil {
			t.Fatalf("pkg-version %s: %v\n%s", describe, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for describe, want := range map[string]string{
		"v1.2.3":                  "1.2.3",
		"v1.2.3-dirty":            "1.2.3+dirty",
		"v1.2.3-4-gabc1234":       "1.2.3+4.gabc1234",
		"v1.2.3-4-gabc1234-dirty": "1.2.3+4.gabc1234.dirty",
		"dev":                     "0~0.dev",
	} {
		if got := version(describe); got != want {
			t.Errorf("pkg-version %s = %q, want %q", describe, got, want)
		}
	}
	// Before the first tag: a commit count keeps builds in order.
	if got := version("abc1234-dirty"); !strings.HasPrefix(got, "0~") || !strings.HasSuffix(got, ".gabc1234.dirty") {
		t.Errorf("pkg-version abc1234-dirty = %q, want 0~<commits>.gabc1234.dirty", got)
	}

	ordered := []string{"0~0.dev", "0~3.gabc1234", "0~12.gdef5678", "0.1.0", "0.1.0+1.gabc1234", "0.1.0+1.gabc1234.dirty", "0.1.1"}
	for i := 1; i < len(ordered); i++ {
		lo, hi := ordered[i-1], ordered[i]
		if err := exec.Command(dpkg, "--compare-versions", lo, "lt", hi).Run(); err != nil {
			t.Errorf("dpkg does not sort %s before %s", lo, hi)
		}
		if rpm, err := exec.LookPath("rpm"); err == nil {
			// rpm --eval '%{lua: print(rpm.vercmp("a", "b"))}' is -1 when a < b.
			out, err := exec.Command(rpm, "--eval", `%{lua: print(rpm.vercmp("`+lo+`", "`+hi+`"))}`).Output()
			if err != nil || strings.TrimSpace(string(out)) != "-1" {
				t.Errorf("rpm does not sort %s before %s: %q (%v)", lo, hi, out, err)
			}
		}
	}
}
