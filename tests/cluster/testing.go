package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

// Tools the harness runs.
var tools = []string{
	"corosync", "corosync-cmapctl", "pacemakerd", "cibadmin", "crm_mon", "crm_resource", "crm_attribute",
	"ip", "unshare", "nsenter", "mount", "hostname", "ping", "curl",
}

// StartT starts a cluster for a test, with the ocfbox binary built from
// this tree as provider "ocfbox", and tears it down when the test ends
// (after reporting crm_mon and the nodes' logs if the test failed). A
// test that cannot run here (not root, a tool missing) skips, or fails
// under OCFBOX_REQUIRE_ALL=1.
func StartT(t *testing.T, opts Options) *Cluster {
	t.Helper()
	testenv.RequireRoot(t)
	for _, tool := range tools {
		testenv.RequireTool(t, tool)
	}
	if opts.OCFBox == "" {
		opts.OCFBox = testenv.Binary(t)
	}
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // mostly waiting for the lock
	defer cancel()
	c, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			c.Diagnose(ctx, t.Logf)
			cancel()
		}
		if err := c.Close(); err != nil {
			t.Errorf("tear down the cluster: %v", err)
		}
	})
	return c
}
