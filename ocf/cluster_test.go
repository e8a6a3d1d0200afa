package ocf_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/fakecrm"
	"github.com/ocfbox/ocfbox/ocf"
)

// newFakeCluster puts the fake Pacemaker tools (internal/fakecrm) in a
// new HA_SBIN_DIR and returns a Cluster that uses them, with the
// environment given, and the tools' directory.
func newFakeCluster(t *testing.T, environ ...string) (*ocf.Cluster, fakecrm.Sbin) {
	t.Helper()
	sbin := fakecrm.Install(t, t.TempDir())
	environ = append([]string{"OCF_RA_VERSION_MAJOR=1", "OCF_RESOURCE_INSTANCE=db:1", "HA_SBIN_DIR=" + sbin.Dir}, environ...)
	env := ocf.ReadEnv(environ, "Tester", "start")
	return &ocf.Cluster{Env: env, Run: &ocf.Runner{Environ: environ}}, sbin
}

// ocf_promotion_score (drbd-ocf.md B.7, B.10): crm_attribute --promotion
// from Pacemaker 2.1 (feature set 3.10.0) on, crm_master before.
func TestPromotionScoreCommand(t *testing.T) {
	tests := []struct {
		name        string
		featureSet  string // "" leaves OCF_RESKEY_crm_feature_set unset
		noCRMMaster bool   // neither HA_SBIN_DIR nor PATH has crm_master
		wantSet     []string
		wantDelete  []string
	}{
		{name: "Pacemaker 2.1.5 (3.16.1)", featureSet: "3.16.1",
			wantSet: []string{"crm_attribute", "--promotion", "-v", "10"}, wantDelete: []string{"crm_attribute", "--promotion", "-D"}},
		{name: "Pacemaker 2.1.0 (3.10.0)", featureSet: "3.10.0",
			wantSet: []string{"crm_attribute", "--promotion", "-v", "10"}, wantDelete: []string{"crm_attribute", "--promotion", "-D"}},
		{name: "no feature set", featureSet: "",
			wantSet: []string{"crm_attribute", "--promotion", "-v", "10"}, wantDelete: []string{"crm_attribute", "--promotion", "-D"}},
		{name: "feature set 3.9.5", featureSet: "3.9.5",
			wantSet: []string{"crm_master", "-l", "reboot", "-v", "10"}, wantDelete: []string{"crm_master", "-l", "reboot", "-D"}},
		{name: "Pacemaker 2.0.5 (3.6.1)", featureSet: "3.6.1",
			wantSet: []string{"crm_master", "-l", "reboot", "-v", "10"}, wantDelete: []string{"crm_master", "-l", "reboot", "-D"}},
		{name: "Pacemaker 3.0 (3.20.0), which has no crm_master", featureSet: "3.20.0", noCRMMaster: true,
			wantSet: []string{"crm_attribute", "--promotion", "-v", "10"}, wantDelete: []string{"crm_attribute", "--promotion", "-D"}},
		{name: "an old feature set on a node without crm_master", featureSet: "3.9.5", noCRMMaster: true,
			wantSet: []string{"crm_attribute", "--promotion", "-v", "10"}, wantDelete: []string{"crm_attribute", "--promotion", "-D"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var environ []string
			if tt.featureSet != "" {
				environ = append(environ, "OCF_RESKEY_crm_feature_set="+tt.featureSet)
			}
			c, sbin := newFakeCluster(t, environ...)
			if tt.noCRMMaster {
				t.Setenv("PATH", t.TempDir())
				if err := os.Remove(filepath.Join(sbin.Dir, "crm_master")); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.SetPromotionScore(t.Context(), 10); err != nil {
				t.Fatalf("SetPromotionScore: %v", err)
			}
			if err := c.DeletePromotionScore(t.Context()); err != nil {
				t.Fatalf("DeletePromotionScore: %v", err)
			}
			want := []fakecrm.Call{{Argv: tt.wantSet, Instance: "db:1"}, {Argv: tt.wantDelete, Instance: "db:1"}}
			if got := sbin.Calls(t); !reflect.DeepEqual(got, want) {
				t.Errorf("commands run from HA_SBIN_DIR:\n got  %+v\n want %+v (OCF_RESOURCE_INSTANCE in their environment)", got, want)
			}
		})
	}
}

func TestPromotionScoreFailureSaysWhatAndWhy(t *testing.T) {
	c, sbin := newFakeCluster(t)
	sbin.NoCluster(t)
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
	crmNode := []fakecrm.Call{{Argv: []string{"crm_node", "-n"}, Instance: "db:1"}}
	tests := []struct {
		name      string
		environ   []string
		noCluster bool
		nodeName  string // what crm_node -n prints
		want      string
		wantCalls []fakecrm.Call
	}{
		{
			name:     "from CRM_meta_on_node, without running anything",
			environ:  []string{"OCF_RESKEY_CRM_meta_on_node=node7"},
			nodeName: "alpha",
			want:     "node7",
		},
		{
			name:      "from crm_node -n when Pacemaker did not say",
			nodeName:  "alpha",
			want:      "alpha",
			wantCalls: crmNode,
		},
		{
			name:      "the host name when crm_node fails",
			noCluster: true,
			nodeName:  "alpha",
			want:      hostname,
			wantCalls: crmNode,
		},
		{
			name:      "the host name when crm_node prints nothing",
			nodeName:  "",
			want:      hostname,
			wantCalls: crmNode,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, sbin := newFakeCluster(t, tt.environ...)
			sbin.SetNodeName(t, tt.nodeName)
			if tt.noCluster {
				sbin.NoCluster(t)
			}
			if got := c.NodeName(t.Context()); got != tt.want {
				t.Errorf("NodeName = %q, want %q", got, tt.want)
			}
			if got := sbin.Calls(t); !reflect.DeepEqual(got, tt.wantCalls) {
				t.Errorf("commands run: %+v, want %+v", got, tt.wantCalls)
			}
		})
	}
}

// Under Main, the cluster commands an agent runs see the invocation's
// environment, as those of a shell agent do.
func TestMainRunsClusterCommandsWithTheInvocationsEnvironment(t *testing.T) {
	sbin := fakecrm.Install(t, t.TempDir())
	a := &testAgent{do: map[string]step{"start": func(ctx context.Context, r *ocf.Resource) error {
		return r.Cluster.SetPromotionScore(ctx, 5)
	}}}
	got := runAgent(t, a, execdEnv(t, "HA_SBIN_DIR="+sbin.Dir, "OCF_RESOURCE_INSTANCE=db:0"), "start")
	if got.status != ocf.Success {
		t.Fatalf("start exited %v, want OCF_SUCCESS; stderr:\n%s", got.status, got.stderr)
	}
	want := []fakecrm.Call{{Argv: []string{"crm_attribute", "--promotion", "-v", "5"}, Instance: "db:0"}}
	if calls := sbin.Calls(t); !reflect.DeepEqual(calls, want) {
		t.Errorf("commands run: %+v, want %+v", calls, want)
	}
}
