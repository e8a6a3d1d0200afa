package agenttest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ocfbox/ocfbox/internal/drbdfake"
)

// drbdEnv gives the drbd agent a node without a DRBD kernel: fake
// drbdsetup and drbdadm (internal/drbdfake) replaying states recorded
// from a real DRBD 8.4.11 kernel, moving between them on up, primary,
// secondary and down; fake Pacemaker tools for the promotion score; the
// clone meta attributes Pacemaker passes a promotable clone instance.
func drbdEnv(t testing.TB, sb *Sandbox) []string {
	for _, f := range []string{"drbd.conf", "drbd0", "disk0"} {
		if err := os.WriteFile(sb.Path(f), []byte("# read by the fake drbdadm only\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fake := drbdfake.Install(t, sb.Path("drbdbin"), drbdfake.Config{
		Fixtures:          filepath.Join(ModuleRoot(), "pkg/drbd/testdata/uml84"),
		State:             "84-down",
		Resource:          "r0",
		KernelVersionCode: "0x08040b",
		Devices:           []string{sb.Path("drbd0")},
		Lower:             []string{sb.Path("disk0")},
		Next: map[string]string{"up": "84-secondary-uptodate-connected", "primary": "84-primary-uptodate-connected",
			"secondary": "84-secondary-uptodate-connected", "down": "84-down"},
	})
	sbin := FakeSbin(t, sb)
	return []string{
		"PATH=" + fake.Path + ":" + sbin + ":" + Path[len("PATH="):],
		"HA_SBIN_DIR=" + sbin,
		"OCF_RESKEY_CRM_meta_clone_max=2", "OCF_RESKEY_CRM_meta_clone_node_max=1",
		"OCF_RESKEY_CRM_meta_master_max=1", "OCF_RESKEY_CRM_meta_master_node_max=1",
		"OCF_RESKEY_CRM_meta_promoted_max=1", "OCF_RESKEY_CRM_meta_promoted_node_max=1",
		"OCF_RESKEY_CRM_meta_notify=true",
	}
}
