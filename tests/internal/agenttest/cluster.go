package agenttest

import (
	"testing"

	"github.com/ocfbox/ocfbox/internal/fakecrm"
)

// FakeSbin installs the fake Pacemaker tools (internal/fakecrm) in the
// sandbox's own directory and returns it, to be the agent's HA_SBIN_DIR.
// The tools keep their scores there, so each sandbox is a node of its
// own; calling it again for the same sandbox returns the same directory.
func FakeSbin(t testing.TB, sb *Sandbox) string {
	t.Helper()
	return fakecrm.Install(t, sb.Path("sbin")).Dir
}

// PromotionScore is the score the fake tools in sbinDir hold for
// instance; ok is false when none is set.
func PromotionScore(t testing.TB, sbinDir, instance string) (score string, ok bool) {
	t.Helper()
	return fakecrm.Sbin{Dir: sbinDir}.Score(t, instance)
}

// NewCIB writes a CIB file the real Pacemaker tools can use without a
// cluster; see fakecrm.NewCIB.
func NewCIB(t testing.TB, path string) {
	t.Helper()
	fakecrm.NewCIB(t, path)
}
