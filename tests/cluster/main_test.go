package cluster_test

import (
	"os"
	"testing"

	"github.com/ocfbox/ocfbox/tests/cluster"
)

func TestMain(m *testing.M) {
	cluster.MaybeNodeInit() // a node's init never returns from here
	os.Exit(m.Run())
}
