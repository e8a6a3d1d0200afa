package umlcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Status is the cluster as one node's crm_mon sees it.
type Status struct {
	From      string // the node asked
	Online    []string
	Offline   []string
	Resources []Resource
	Failures  []string // failed operations, "rsc op on node: status"
	Raw       []byte   // crm_mon's XML
}

// Resource is one resource instance in crm_mon (a clone shows one per
// node it is on, all with the primitive's id).
type Resource struct {
	ID     string
	Agent  string // class:provider:type
	Role   string // Started, Stopped, Promoted, Unpromoted, Starting, …
	Active bool
	Failed bool
	Nodes  []string
}

// ParseStatus reads `crm_mon --output-as=xml`.
func ParseStatus(data []byte) (*Status, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("crm_mon XML: %w", err)
	}
	root := doc.Root()
	if root == nil {
		return nil, errors.New("crm_mon XML: empty")
	}
	s := &Status{Raw: data}
	for _, n := range root.FindElements("./nodes/node") {
		if n.SelectAttrValue("online", "") == "true" {
			s.Online = append(s.Online, n.SelectAttrValue("name", ""))
		} else {
			s.Offline = append(s.Offline, n.SelectAttrValue("name", ""))
		}
	}
	for _, r := range root.FindElements("./resources//resource") {
		role := r.SelectAttrValue("role", "")
		switch role { // the names before Pacemaker 2.1
		case "Master":
			role = "Promoted"
		case "Slave":
			role = "Unpromoted"
		}
		res := Resource{
			ID:     r.SelectAttrValue("id", ""),
			Agent:  r.SelectAttrValue("resource_agent", ""),
			Role:   role,
			Active: r.SelectAttrValue("active", "") == "true",
			Failed: r.SelectAttrValue("failed", "") == "true",
		}
		for _, n := range r.SelectElements("node") {
			res.Nodes = append(res.Nodes, n.SelectAttrValue("name", ""))
		}
		s.Resources = append(s.Resources, res)
	}
	for _, f := range root.FindElements("./failures/failure") {
		s.Failures = append(s.Failures, fmt.Sprintf("%s on %s: %s (exit %s, %s)",
			f.SelectAttrValue("op_key", ""), f.SelectAttrValue("node", ""),
			f.SelectAttrValue("status", ""), f.SelectAttrValue("exitstatus", ""),
			f.SelectAttrValue("exitreason", "")))
	}
	return s, nil
}

// IsOnline reports whether node is online.
func (s *Status) IsOnline(node string) bool { return slices.Contains(s.Online, node) }

// RunningOn lists the nodes where resource id (a primitive, also inside
// a group or clone) is active in any role, also while it is starting or
// stopping (InRole(id, "Started") for a settled one).
func (s *Status) RunningOn(id string) []string {
	var nodes []string
	for _, r := range s.Resources {
		if r.ID == id && r.Active {
			nodes = append(nodes, r.Nodes...)
		}
	}
	slices.Sort(nodes)
	return nodes
}

// InRole lists the nodes where resource id is active in role (Promoted,
// Unpromoted, Started) and has not failed there.
func (s *Status) InRole(id, role string) []string {
	var nodes []string
	for _, r := range s.Resources {
		if r.ID == id && r.Active && !r.Failed && r.Role == role {
			nodes = append(nodes, r.Nodes...)
		}
	}
	slices.Sort(nodes)
	return nodes
}

// Status asks crm_mon on this node.
func (n *Node) Status(ctx context.Context) (*Status, error) {
	out, err := n.Output(ctx, "crm_mon", "--one-shot", "--inactive", "--output-as=xml")
	if err != nil {
		return nil, err
	}
	s, err := ParseStatus([]byte(out))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name, err)
	}
	s.From = n.Name
	return s, nil
}

// Status asks crm_mon on the first node that is up and answers.
func (c *Cluster) Status(ctx context.Context) (*Status, error) {
	var errs []error
	for _, n := range c.nodes {
		if !n.IsUp() {
			continue
		}
		s, err := n.Status(ctx)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, errors.New("umlcluster: no node is up")
	}
	return nil, errors.Join(errs...)
}

// WaitFor asks crm_mon every 2 seconds until cond accepts its view
// (returns nil) or ctx ends; the error then carries cond's last
// complaint. (crm_mon is a heavy program in a UML node: seconds on a
// loaded host; time-critical waits use Node.WaitFile.)
func (c *Cluster) WaitFor(ctx context.Context, what string, cond func(*Status) error) (*Status, error) {
	var last error
	for {
		s, err := c.Status(ctx)
		if err == nil {
			if err = cond(s); err == nil {
				return s, nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("umlcluster: waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(2 * time.Second):
		}
	}
}

// WaitOnline waits until the nodes that are up (all of them, if names is
// empty: the ones named otherwise) are online in crm_mon.
func (c *Cluster) WaitOnline(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		for _, n := range c.nodes {
			if n.IsUp() {
				names = append(names, n.Name)
			}
		}
	}
	_, err := c.WaitFor(ctx, "nodes "+strings.Join(names, ", ")+" online", func(s *Status) error {
		for _, n := range names {
			if !s.IsOnline(n) {
				return fmt.Errorf("%s is not online (online: %v)", n, s.Online)
			}
		}
		return nil
	})
	if err != nil || c.fence == nil {
		return err
	}
	for _, name := range names {
		if err := c.NodeByName(name).ensureFencer(ctx); err != nil {
			return err
		}
	}
	return nil
}

// ensureFencer makes sure the node's fencer has the lab's fence device.
// Pacemaker 2.1.5's pacemaker-fenced gives up connecting to the CIB after
// a few tries at start (a UML node on a loaded host starts the CIB
// manager slowly) and then runs without any device, so the node cannot
// fence; restarted by pacemakerd once the CIB is up, it registers them.
func (n *Node) ensureFencer(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		out, _, _, err := n.Run(ctx, "stonith_admin", "--list-registered")
		if err != nil {
			return err
		}
		if strings.Contains(string(out), FenceDevice) {
			return nil
		}
		if attempt%10 == 5 { // 10 s without the device; then 20 s more for the new fencer
			pid, _, _, err := n.Run(ctx, "pidof", "pacemaker-fenced")
			if err != nil {
				return err
			}
			if p := strings.Fields(string(pid)); len(p) == 1 {
				n.c.logf("%s: pacemaker-fenced has no fence device (it started before the CIB manager answered): restarting it", n.Name)
				n.Run(ctx, "kill", p[0])
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("umlcluster: %s: the fencer has no device %s: %w", n.Name, FenceDevice, ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}

// Diagnose logs what helps understand a failed test: crm_mon from a node
// that answers, and the last warnings and errors of each node's
// Pacemaker log and the end of its console.
func (c *Cluster) Diagnose(ctx context.Context) {
	for _, n := range c.nodes {
		if !n.IsUp() {
			continue
		}
		if out, err := n.Output(ctx, "crm_mon", "--one-shot", "--inactive", "--show-detail", "--fence-history=2"); err == nil {
			c.logf("crm_mon on %s:\n%s", n.Name, out)
			break
		}
	}
	for _, n := range c.nodes {
		data, err := os.ReadFile(filepath.Join(n.dir, "pacemaker.log"))
		if err == nil {
			var keep []string
			for _, l := range strings.Split(string(data), "\n") {
				if strings.Contains(l, "error") || strings.Contains(l, "warning:") || strings.Contains(l, "crit:") {
					keep = append(keep, l)
				}
			}
			if len(keep) > 25 {
				keep = keep[len(keep)-25:]
			}
			c.logf("%s: last warnings and errors of %s/pacemaker.log:\n%s", n.Name, n.dir, strings.Join(keep, "\n"))
		}
		c.logf("%s", n.consoleTail(10))
	}
}
