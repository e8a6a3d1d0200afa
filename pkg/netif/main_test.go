package netif_test

import (
	"os"
	"testing"

	"github.com/ocfbox/ocfbox/pkg/netif"
)

// TestMain lets the tests start background announcers from the test
// binary itself, as the ocfbox binary does.
func TestMain(m *testing.M) {
	if code, ok := netif.RunAnnouncer(os.Args); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
