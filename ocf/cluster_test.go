package ocf_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/ocf"
)

// newFakeCluster puts fake cluster commands (see fakeCluster in
// helpers_test.go) in a new HA_SBIN_DIR and returns a Cluster that uses
// them, with the environment given, and the file they record their argv in.
func newFakeCluster(t *testing.T, tools []string, environ ...string) (*ocf.Cluster, string) {
	t.Helper()
	record := filepath.Join(t.TempDir(), "calls.jsonl")
	environ = append([]string{
		"OCF_RA_VERSION_MAJOR=1", "OCF_RESOURCE_INSTANCE=db:1",
		"HA_SBIN_DIR=" + helperDir(t, tools...), "OCFTEST_RECORD=" + record,
	}, environ...)
	env := ocf.ReadEnv(environ, "Tester", "start")
	return &ocf.Cluster{Env: env, Run: &ocf.Runner{Environ: environ}}, record
}

// ocf_promotion_score (drbd-ocf.md B.7, B.10): crm_attribute --promotion
// from Pacemaker 2.1 (feature set 3.10.0) on, crm_master before.
func TestPromotionScoreCommand(t *testing.T) {
	both := []string{"crm_attribute", "crm_master"}
	tests := []struct {
		name       string
		featureSet string // "" leaves OCF_RESKEY_crm_feature_set unset
		tools      []string
		emptyPATH  bool
		wantSet    []string
		wantDelete []string
	}{
		{name: "Pacemaker 2.1.5 (3.16.1)", featureSet: "3.16.1", tools: both,
			wantSet: []string{"crm_attribute", "--promotion", "-v", "10"}, wantDelete: []string{"crm_attribute", "--promotion", "-D"}},
		{name: "Pacemaker 2.1.0 (3.10.0)", featureSet: "3.10.0", tools: both,
			wantSet: []string{"crm_attribute", "--promotion", "-v", "10"}, wantDelete: []string{"crm_attribute", "--promotion", "-D"}},
		{name: "no feature set", featureSet: "", tools: both,
			wantSet: []string{"crm_attribute", "--promotion", "-v", "10"}, wantDelete: []string{"crm_attribute", "--promotion", "-D"}},
		{name: "feature set 3.9.5", featureSet: "3.9.5", tools: both,
			wantSet: []string{"crm_master", "-l", "reboot", "-v", "10"}, wantDelete: []string{"crm_master", "-l", "reboot", "-D"}},
		{name: "Pacemaker 2.0.5 (3.6.1)", featureSet: "3.6.1", tools: both,
			wantSet: []string{"crm_master", "-l", "reboot", "-v", "10"}, wantDelete: []string{"crm_master", "-l", "reboot", "-D"}},
		{name: "an old feature set on a node without crm_master", featureSet: "3.9.5", tools: []string{"crm_attribute"}, emptyPATH: true,
			wantSet: []string{"crm_attribute", "--promotion", "-v", "10"}, wantDelete: []string{"crm_attribute", "--promotion", "-D"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.emptyPATH {
				t.Setenv("PATH", t.TempDir())
			}
			var environ []string
			if tt.featureSet != "" {
				environ = append(environ, "OCF_RESKEY_crm_feature_set="+tt.featureSet)
			}
			c, record := newFakeCluster(t, tt.tools, environ...)
			if err := c.SetPromotionScore(t.Context(), 10); err != nil {
				t.Fatalf("SetPromotionScore: %v", err)
			}
			if err := c.DeletePromotionScore(t.Context()); err != nil {
				t.Fatalf("DeletePromotionScore: %v", err)
			}
			want := []call{{Argv: tt.wantSet, Instance: "db:1"}, {Argv: tt.wantDelete, Instance: "db:1"}}
			if got := readCalls(t, record); !reflect.DeepEqual(got, want) {
				t.Errorf("commands run from HA_SBIN_DIR:\n got  %+v\n want %+v (OCF_RESOURCE_INSTANCE in their environment)", got, want)
			}
		})
	}
}

func TestPromotionScoreFailureSaysWhatAndWhy(t *testing.T) {
	c, _ := newFakeCluster(t, []string{"crm_attribute"}, "OCFTEST_FAIL=1")
	err := c.SetPromotionScore(t.Context(), 10)
	if err == nil || !strings.Contains(err.Error(), "set promotion score of db:1 to 10") || !strings.Contains(err.Error(), "Could not connect to the CIB") {
		t.Errorf("SetPromotionScore error %v, want one naming the instance, the score and crm_attribute's complaint", err)
	}
	err = c.DeletePromotionScore(t.Context())
	if err == nil || !strings.Contains(err.Error(), "delete promotion score of db:1") {
		t.Errorf("DeletePromotionScore error %v, want one naming the instance", err)
	}
}

func TestNodeName(t *testing.T) {
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		environ   []string
		want      string
		wantCalls []call
	}{
		{
			name:    "from CRM_meta_on_node, without running anything",
			environ: []string{"OCF_RESKEY_CRM_meta_on_node=node7", "OCFTEST_NODE_NAME=alpha"},
			want:    "node7",
		},
		{
			name:      "from crm_node -n when Pacemaker did not say",
			environ:   []string{"OCFTEST_NODE_NAME=alpha"},
			want:      "alpha",
			wantCalls: []call{{Argv: []string{"crm_node", "-n"}, Instance: "db:1"}},
		},
		{
			name:      "the host name when crm_node fails",
			environ:   []string{"OCFTEST_FAIL=1"},
			want:      hostname,
			wantCalls: []call{{Argv: []string{"crm_node", "-n"}, Instance: "db:1"}},
		},
		{
			name:      "the host name when crm_node prints nothing",
			environ:   []string{"OCFTEST_NODE_NAME="},
			want:      hostname,
			wantCalls: []call{{Argv: []string{"crm_node", "-n"}, Instance: "db:1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, record := newFakeCluster(t, []string{"crm_node"}, tt.environ...)
			if got := c.NodeName(t.Context()); got != tt.want {
				t.Errorf("NodeName = %q, want %q", got, tt.want)
			}
			if got := readCalls(t, record); !reflect.DeepEqual(got, tt.wantCalls) {
				t.Errorf("commands run: %+v, want %+v", got, tt.wantCalls)
			}
		})
	}
}

// Under Main, the cluster commands an agent runs see the invocation's
// environment, as those of a shell agent do.
func TestMainRunsClusterCommandsWithTheInvocationsEnvironment(t *testing.T) {
	record := filepath.Join(t.TempDir(), "calls.jsonl")
	a := &testAgent{do: map[string]step{"start": func(ctx context.Context, r *ocf.Resource) error {
		return r.Cluster.SetPromotionScore(ctx, 5)
	}}}
	got := runAgent(t, a, execdEnv(t, "HA_SBIN_DIR="+helperDir(t, "crm_attribute"), "OCFTEST_RECORD="+record,
		"OCF_RESOURCE_INSTANCE=db:0"), "start")
	if got.status != ocf.Success {
		t.Fatalf("start exited %v, want OCF_SUCCESS; stderr:\n%s", got.status, got.stderr)
	}
	want := []call{{Argv: []string{"crm_attribute", "--promotion", "-v", "5"}, Instance: "db:0"}}
	if calls := readCalls(t, record); !reflect.DeepEqual(calls, want) {
		t.Errorf("commands run: %+v, want %+v", calls, want)
	}
}
