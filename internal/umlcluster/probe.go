package umlcluster

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// IOOp is one round of an I/O probe: read another node's file, append to
// one's own and fsync, list the directory.
type IOOp struct {
	Start, End time.Time
	Err        string
}

// Duration is how long the round took.
func (o IOOp) Duration() time.Duration { return o.End.Sub(o.Start) }

// IOProbe runs I/O rounds inside the node (one process, no fork per
// round; see cmd/umlinit's ioprobe) on dir, reading readFile and
// appending to writeFile, until max has passed or a round that blocked
// for a second or more was followed by five fast ones. The times are the
// node's clock, which is the host's.
func (n *Node) IOProbe(ctx context.Context, dir, readFile, writeFile string, max time.Duration) ([]IOOp, error) {
	out, stderr, exit, err := n.Run(ctx, n.c.init, "ioprobe", "-dir", dir, "-read", readFile, "-write", writeFile, "-for", max.String())
	if err != nil {
		return nil, err
	}
	if exit != 0 {
		return nil, fmt.Errorf("umlcluster: %s: ioprobe: exit %d: %s", n.Name, exit, trimOutput(stderr))
	}
	return parseIOOps(out)
}

func parseIOOps(out []byte) ([]IOOp, error) {
	var ops []IOOp
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 {
			continue
		}
		a, err1 := strconv.ParseInt(f[0], 10, 64)
		b, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("umlcluster: ioprobe line %q", l)
		}
		op := IOOp{Start: time.Unix(0, a), End: time.Unix(0, b)}
		if f[2] != "-" {
			op.Err = f[2]
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// FormatOCFS2 makes a fresh OCFS2 volume of sizeMB in the host file path
// for the lab's cluster (stack pcmk, cluster name ClusterName, slots node
// slots). It formats on the host, before any node has the file: inside a
// node mkfs.ocfs2 can wait forever at a confirmation prompt (it reads the
// UML console), and -x with stdin from /dev/null keeps it from asking.
func FormatOCFS2(ctx context.Context, path string, sizeMB, slots int) error {
	cmd := exec.CommandContext(ctx, "truncate", "-s", fmt.Sprintf("%dM", sizeMB), path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("umlcluster: truncate %s: %w: %s", path, err, out)
	}
	cmd = exec.CommandContext(ctx, "mkfs.ocfs2", "-q", "-x", "-N", strconv.Itoa(slots),
		"--cluster-stack=pcmk", "--cluster-name="+ClusterName, path)
	cmd.Stdin = nil // /dev/null
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("umlcluster: mkfs.ocfs2 %s: %w: %s", path, err, out)
	}
	return nil
}
