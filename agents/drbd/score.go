package drbd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/drbd"
)

// scores are adjust_master_score: the promotion scores for (0) only
// Consistent data, (1) only a peer's UpToDate data, (2) local UpToDate
// data with a peer's disk unknown, (3) data as good as it gets.
type scores [4]int

const defaultScores = "0 10 1000 10000"

// parseScores reads four non-decreasing whole numbers; on error it
// returns the default, as the reference falls back to it.
func parseScores(s string) (scores, error) {
	def := scores{0, 10, 1000, 10000}
	f := strings.Fields(s)
	if len(f) != 4 {
		return def, fmt.Errorf("%d values, not 4", len(f))
	}
	var out scores
	for i, v := range f {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || strings.ContainsAny(v, "+-") {
			return def, fmt.Errorf("%q is not a whole number", v)
		}
		if i > 0 && n < out[i-1] {
			return def, fmt.Errorf("%d after %d is decreasing", n, out[i-1])
		}
		out[i] = n
	}
	return out, nil
}

// verdict is what the state earns: a score to set (<= 0 removes it), or
// keep (a transitional disk state, leave whatever is set).
type verdict struct {
	keep  bool
	score int
	why   string
}

// decide is the promotion score for a state, in the reference's order
// (drbd-ocf.md A.3). peerPrimaryRule says whether a connected Primary
// peer takes this node's score away (remove_master_score_if_peer_primary,
// with "unexpected" already resolved by the caller).
func decide(sum drbd.Summary, s scores, peerPrimaryRule bool) verdict {
	switch {
	case !sum.Quorate:
		return verdict{score: 0, why: "no quorum"}
	case peerPrimaryRule && !sum.Primary && sum.PeerPrimary && sum.SomePeerAllUpToDate:
		return verdict{score: 0, why: "connected to a Primary peer with UpToDate data"}
	case sum.DisklessClient:
		switch {
		case sum.Primary && sum.SomePeerAllUpToDate, sum.PeersAllUpToDate:
			return verdict{score: s[3] - 1, why: "diskless client reaching UpToDate data on every peer"}
		case sum.SomePeerAllUpToDate:
			return verdict{score: s[2] - 1, why: "diskless client reaching UpToDate data on some peer"}
		}
		return verdict{score: 0, why: "diskless client without access to UpToDate data"}
	case sum.DiskAllUpToDate && sum.Primary:
		return verdict{score: s[3], why: "Primary with UpToDate data"}
	case sum.DiskAllUpToDate && sum.PeerDiskUnknown:
		return verdict{score: s[2], why: "UpToDate data, some peer's disk state unknown"}
	case sum.DiskAllUpToDate:
		return verdict{score: s[3], why: "UpToDate data, every peer's disk state known"}
	case sum.SomePeerAllUpToDate:
		return verdict{score: s[1], why: "local data not UpToDate, a peer's is"}
	case sum.DiskTransitional:
		return verdict{keep: true, why: "disk attaching or negotiating"}
	case sum.DiskAllConsistent:
		return verdict{score: s[0], why: "data only Consistent"}
	}
	return verdict{score: 0, why: "no access to UpToDate or Consistent data"}
}

// scoreRefresh bounds how long a cached score is trusted: the node
// attribute lives in Pacemaker's attribute daemon, which forgets it when
// Pacemaker restarts without a reboot of the node.
const scoreRefresh = 5 * time.Minute

// scoreFile caches the last score set for this instance on this node
// ("-" when it was removed), so a monitor whose score did not change runs
// no crm_attribute.
func scoreFile(r *ocf.Resource) string {
	return filepath.Join(r.Env.RscTmp, "drbd-"+strings.ReplaceAll(r.Env.Instance, "/", "_")+".score")
}

func cachedScore(r *ocf.Resource) (string, bool) {
	p := scoreFile(r)
	fi, err := os.Stat(p)
	if err != nil || time.Since(fi.ModTime()) > scoreRefresh {
		return "", false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

func cacheScore(r *ocf.Resource, v string) {
	p := scoreFile(r)
	if v == "" {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.Log.Warn(fmt.Sprintf("remove score cache %s: %v", p, err))
		}
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
		err = os.WriteFile(p, []byte(v+"\n"), 0o644)
		if err == nil {
			return
		}
	}
	r.Log.Debug("score cache not written", "path", p)
}

// setScore makes the node attribute hold score (score <= 0 removes it,
// as the reference never writes a score of 0 or less). Unless force is
// set, nothing runs when the cache says the attribute holds it already.
// A failure is logged, not fatal: the resource itself is fine.
func setScore(ctx context.Context, r *ocf.Resource, score int, force bool) {
	want := "-"
	if score > 0 {
		want = strconv.Itoa(score)
	}
	if cur, ok := cachedScore(r); ok && cur == want && !force {
		return
	}
	var err error
	if score > 0 {
		err = r.Cluster.SetPromotionScore(ctx, score)
	} else {
		err = r.Cluster.DeletePromotionScore(ctx)
	}
	if err != nil {
		r.Log.Warn(err.Error())
		cacheScore(r, "")
		return
	}
	cacheScore(r, want)
}

// hasScore reports whether a score is set, as far as the cache knows.
func hasScore(r *ocf.Resource) bool {
	cur, ok := cachedScore(r)
	return !ok || cur != "-"
}
