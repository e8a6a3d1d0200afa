package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Recovery is how a resource came back after a node was killed, from the
// cluster's own operation history: the CIB's lrm_rsc_op entries on the
// node that took over.
type Recovery struct {
	Resource, Agent, Node string
	Killed                time.Time
	Ops                   []Op // the recovery operations, in the order asked for
	// Healthy is when the last of Ops completed. The executor records
	// whole seconds, so the true moment lies in [Healthy, Healthy+1s).
	Healthy time.Time
}

// Min and Max bound the time from the kill to the resource being healthy
// on the survivor (the one-second resolution of last-rc-change).
func (r Recovery) Min() time.Duration { return max(r.Healthy.Sub(r.Killed), 0) }
func (r Recovery) Max() time.Duration { return r.Healthy.Add(time.Second).Sub(r.Killed) }

// MarkdownRow is the recovery as a row of RecoveryTable.
func (r Recovery) MarkdownRow() string {
	var ops []string
	for _, o := range r.Ops {
		ops = append(ops, fmt.Sprintf("%s %d ms", opName(o), o.ExecTime.Milliseconds()))
	}
	return fmt.Sprintf("| %s | %s | %s | %.1f–%.1f | %s |", r.Resource, r.Agent, r.Node,
		r.Min().Seconds(), r.Max().Seconds(), strings.Join(ops, ", "))
}

// RecoveryTable formats recoveries as a markdown table.
func RecoveryTable(rs []Recovery) string {
	var b strings.Builder
	b.WriteString("| resource | agent | survivor | node kill → healthy (s) | recovery operations (exec-time) |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, r := range rs {
		b.WriteString(r.MarkdownRow() + "\n")
	}
	return b.String()
}

func opName(o Op) string {
	if o.Interval > 0 {
		return fmt.Sprintf("%s/%s", o.Operation, o.Interval)
	}
	return o.Operation
}

// WaitRecovery waits (at most limit) until resource rsc has completed
// each of the operations ops on node with success (0, or 8 for a
// promoted monitor) after killed, and returns them: for a primitive
// "start", "monitor"; for a promotable clone's new promoted instance
// "promote", "monitor". "monitor" means the recurring one.
func (c *Cluster) WaitRecovery(ctx context.Context, limit time.Duration, rsc, node string, killed time.Time, ops ...string) (Recovery, error) {
	deadline := time.Now().Add(limit)
	since := killed.Truncate(time.Second)
	var last string
	for {
		r, missing, err := c.recovery(ctx, rsc, node, since, ops)
		if err == nil && len(missing) == 0 {
			r.Killed = killed
			return r, nil
		}
		last = fmt.Sprintf("missing %v", missing)
		if err != nil {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return Recovery{}, fmt.Errorf("waited %s for %s to recover on %s (%v): %s", limit, rsc, node, ops, last)
		}
		select {
		case <-ctx.Done():
			return Recovery{}, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (c *Cluster) recovery(ctx context.Context, rsc, node string, since time.Time, want []string) (Recovery, []string, error) {
	n := c.Node(node)
	if n == nil || !n.IsUp() {
		return Recovery{}, want, fmt.Errorf("%s is not up", node)
	}
	all, err := n.Ops(ctx)
	if err != nil {
		return Recovery{}, want, err
	}
	r, missing := FindRecovery(all, rsc, node, since, want...)
	return r, missing, nil
}

// FindRecovery picks from an operation history the operations want of
// rsc on node that succeeded at or after since, and lists those not
// found.
func FindRecovery(all []Op, rsc, node string, since time.Time, want ...string) (Recovery, []string) {
	r := Recovery{Resource: rsc, Node: node}
	var missing []string
	for _, w := range want {
		i := slices.IndexFunc(all, func(o Op) bool {
			return o.Node == node && o.Resource == rsc && o.Operation == w &&
				(w != "monitor" || o.Interval > 0) &&
				o.OpStatus == 0 && (o.RC == 0 || (o.RC == 8 && w == "monitor")) &&
				!o.LastRCChange.Before(since)
		})
		if i < 0 {
			missing = append(missing, w)
			continue
		}
		o := all[i]
		r.Agent = o.Agent
		r.Ops = append(r.Ops, o)
		if o.LastRCChange.After(r.Healthy) {
			r.Healthy = o.LastRCChange
		}
	}
	return r, missing
}
