package ocf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Cluster is what an agent asks of Pacemaker: its node name and its
// promotion score. Commands are looked up in HA_SBIN_DIR first, then PATH.
type Cluster struct {
	Env *Env
	Run *Runner
}

// tool returns the path to run a cluster command by: HA_SBIN_DIR/name
// when it is there, else the bare name for PATH.
func (c *Cluster) tool(name string) string {
	p := filepath.Join(c.Env.SbinDir, name)
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() && !c.Run.NoBinaries {
		return p
	}
	return name
}

// have reports whether a cluster command is installed.
func (c *Cluster) have(name string) bool {
	_, err := c.Run.LookPath(c.tool(name))
	return err == nil
}

// NodeName is the local node's name in the cluster. A cluster-scheduled
// action carries it (CRM_meta_on_node), which saves running crm_node;
// otherwise crm_node -n, and the host name when no cluster answers.
func (c *Cluster) NodeName(ctx context.Context) string {
	if n := c.Env.Meta["on_node"]; n != "" {
		return n
	}
	if out, err := c.Run.Run(ctx, c.tool("crm_node"), "-n"); err == nil {
		if n := strings.TrimSpace(string(out)); n != "" {
			return n
		}
	}
	h, _ := os.Hostname()
	return h
}

// promotionArgv is ocf_promotion_score: crm_attribute --promotion on
// Pacemaker 2.1 and later (feature set 3.10.0) or when no feature set is
// given, crm_master -l reboot for an older DC, unless this node has no
// crm_master any more (Pacemaker 3 removed it; a rolling upgrade can
// still have an old DC). Both act on OCF_RESOURCE_INSTANCE from the
// environment the Runner passes on.
func (c *Cluster) promotionArgv(args ...string) []string {
	if c.Env.FeatureSet == "" || c.Env.FeatureSetAtLeast("3.10.0") || !c.have("crm_master") {
		return append([]string{c.tool("crm_attribute"), "--promotion"}, args...)
	}
	return append([]string{c.tool("crm_master"), "-l", "reboot"}, args...)
}

// SetPromotionScore sets this instance's promotion score on this node.
func (c *Cluster) SetPromotionScore(ctx context.Context, score int) error {
	if _, err := c.Run.Run(ctx, c.promotionArgv("-v", strconv.Itoa(score))...); err != nil {
		return fmt.Errorf("set promotion score of %s to %d: %w", c.Env.Instance, score, err)
	}
	return nil
}

// DeletePromotionScore removes this instance's promotion score.
func (c *Cluster) DeletePromotionScore(ctx context.Context) error {
	if _, err := c.Run.Run(ctx, c.promotionArgv("-D")...); err != nil {
		return fmt.Errorf("delete promotion score of %s: %w", c.Env.Instance, err)
	}
	return nil
}
