package cluster

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is one node's view of the cluster, from crm_mon's XML.
type Status struct {
	From      string // the node that was asked
	DC        string // the designated controller, "" while there is none
	Quorum    bool
	Online    []string
	Instances []Instance
	Failures  []Failure
}

// Instance is a primitive, or one instance of a cloned primitive, as
// crm_mon lists it.
type Instance struct {
	ID     string // primitive id, without a clone's ":N"
	Agent  string // class:provider:type
	Role   string // Started, Stopped, Promoted, Unpromoted, …
	Active bool
	Failed bool
	Nodes  []string // where it is active
	Group  string   // enclosing group, if any
	Clone  string   // enclosing clone, if any
}

// Failure is a failed action crm_mon reports.
type Failure struct {
	OpKey, Node, Status, Reason string
	ExitCode                    int
}

func (f Failure) String() string {
	s := fmt.Sprintf("%s on %s: exit %d (%s)", f.OpKey, f.Node, f.ExitCode, f.Status)
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}

// IsOnline reports whether the view has node online.
func (s *Status) IsOnline(node string) bool { return slices.Contains(s.Online, node) }

// ActiveOn lists the nodes where primitive id (any of its instances) is
// active, one entry per active instance.
func (s *Status) ActiveOn(id string) []string {
	var nodes []string
	for _, in := range s.Instances {
		if in.ID == id && in.Active {
			nodes = append(nodes, in.Nodes...)
		}
	}
	return nodes
}

// StartedOn lists the nodes where an instance of primitive id has
// settled in a running role (Started, Promoted, Unpromoted): not failed,
// and no start, stop, promote or demote pending. For "runs at most once"
// checks use ActiveOn, which counts pending actions too.
func (s *Status) StartedOn(id string) []string {
	var nodes []string
	for _, in := range s.Instances {
		if in.ID == id && in.Active && !in.Failed && settled(in.Role) {
			nodes = append(nodes, in.Nodes...)
		}
	}
	return nodes
}

func settled(role string) bool {
	switch role {
	case "Started", "Promoted", "Unpromoted", "Master", "Slave":
		return true
	}
	return false
}

// PromotedOn lists the nodes where an instance of primitive id is
// promoted.
func (s *Status) PromotedOn(id string) []string {
	var nodes []string
	for _, in := range s.Instances {
		if in.ID == id && in.Active && isPromoted(in.Role) {
			nodes = append(nodes, in.Nodes...)
		}
	}
	return nodes
}

func isPromoted(role string) bool { return role == "Promoted" || role == "Master" }

// Placement is a one-line summary of where every primitive runs, for
// messages.
func (s *Status) Placement() string {
	var parts []string
	for _, in := range s.Instances {
		where := "stopped"
		if in.Active {
			where = strings.Join(in.Nodes, ",")
		}
		parts = append(parts, fmt.Sprintf("%s=%s@%s", in.ID, in.Role, where))
	}
	return fmt.Sprintf("[%s] dc=%q quorum=%v online=%v", strings.Join(parts, " "), s.DC, s.Quorum, s.Online)
}

type xmlMon struct {
	Summary struct {
		DC struct {
			Present    bool   `xml:"present,attr"`
			Name       string `xml:"name,attr"`
			WithQuorum bool   `xml:"with_quorum,attr"`
		} `xml:"current_dc"`
	} `xml:"summary"`
	Nodes []struct {
		Name   string `xml:"name,attr"`
		Online bool   `xml:"online,attr"`
	} `xml:"nodes>node"`
	Resources struct {
		xmlMembers
		Clones []struct {
			ID string `xml:"id,attr"`
			xmlMembers
		} `xml:"clone"`
	} `xml:"resources"`
	Failures []struct {
		OpKey    string `xml:"op_key,attr"`
		Node     string `xml:"node,attr"`
		ExitCode int    `xml:"exitcode,attr"`
		Status   string `xml:"exitstatus,attr"`
		Reason   string `xml:"exitreason,attr"`
	} `xml:"failures>failure"`
}

type xmlMembers struct {
	Primitives []xmlPrimitive `xml:"resource"`
	Groups     []struct {
		ID         string         `xml:"id,attr"`
		Primitives []xmlPrimitive `xml:"resource"`
	} `xml:"group"`
}

type xmlPrimitive struct {
	ID     string `xml:"id,attr"`
	Agent  string `xml:"resource_agent,attr"`
	Role   string `xml:"role,attr"`
	Active bool   `xml:"active,attr"`
	Failed bool   `xml:"failed,attr"`
	Nodes  []struct {
		Name string `xml:"name,attr"`
	} `xml:"node"`
}

// ParseStatus reads crm_mon --output-as=xml.
func ParseStatus(data []byte) (*Status, error) {
	var m xmlMon
	if err := xml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parse crm_mon XML: %w", err)
	}
	s := &Status{Quorum: m.Summary.DC.WithQuorum}
	if m.Summary.DC.Present {
		s.DC = m.Summary.DC.Name
	}
	for _, n := range m.Nodes {
		if n.Online {
			s.Online = append(s.Online, n.Name)
		}
	}
	add := func(p xmlPrimitive, group, clone string) {
		in := Instance{ID: p.ID, Agent: p.Agent, Role: p.Role, Active: p.Active, Failed: p.Failed, Group: group, Clone: clone}
		if i := strings.IndexByte(in.ID, ':'); i >= 0 {
			in.ID = in.ID[:i]
		}
		for _, n := range p.Nodes {
			in.Nodes = append(in.Nodes, n.Name)
		}
		s.Instances = append(s.Instances, in)
	}
	members := func(m xmlMembers, clone string) {
		for _, p := range m.Primitives {
			add(p, "", clone)
		}
		for _, g := range m.Groups {
			id := g.ID
			if i := strings.IndexByte(id, ':'); i >= 0 {
				id = id[:i]
			}
			for _, p := range g.Primitives {
				add(p, id, clone)
			}
		}
	}
	members(m.Resources.xmlMembers, "")
	for _, cl := range m.Resources.Clones {
		members(cl.xmlMembers, cl.ID)
	}
	for _, f := range m.Failures {
		s.Failures = append(s.Failures, Failure{OpKey: f.OpKey, Node: f.Node, Status: f.Status, Reason: f.Reason, ExitCode: f.ExitCode})
	}
	return s, nil
}

// Status is this node's view of the cluster.
func (n *Node) Status(ctx context.Context) (*Status, error) {
	out, err := n.Run(ctx, "crm_mon", "--one-shot", "--inactive", "--output-as=xml")
	if err != nil {
		return nil, err
	}
	s, err := ParseStatus(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name, err)
	}
	s.From = n.Name
	return s, nil
}

// Status is the cluster's state as a running member sees it: the first
// node (in order) whose view has a DC and itself online, else the first
// view any node gives.
func (c *Cluster) Status(ctx context.Context) (*Status, error) {
	var first *Status
	var errs []error
	for _, n := range c.Ready() {
		s, err := n.Status(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s.DC != "" && s.IsOnline(n.Name) {
			return s, nil
		}
		if first == nil {
			first = s
		}
	}
	if first != nil {
		return first, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("no node is up")
	}
	return nil, errors.Join(errs...)
}

// Condition tells why a view is not yet what a test waits for (nil: it is).
// An error that wraps ErrHopeless ends the wait at once.
type Condition func(*Status) error

// ErrHopeless marks a condition that cannot come true by waiting, such as
// a failed action (it stays in the history until a cleanup).
var ErrHopeless = errors.New("will not change by waiting")

// NoFailures is a condition that holds while no action has failed; a
// failure is hopeless.
func NoFailures(s *Status) error {
	if len(s.Failures) > 0 {
		return fmt.Errorf("%w: failed actions: %v", ErrHopeless, s.Failures)
	}
	return nil
}

// WaitFor polls the cluster's status every 300ms until cond holds, for at
// most limit. The error says what was last seen.
func (c *Cluster) WaitFor(ctx context.Context, limit time.Duration, what string, cond Condition) (*Status, error) {
	return c.waitFor(ctx, limit, what, cond, c.Status)
}

// WaitFor is Cluster.WaitFor with this node's view.
func (n *Node) WaitFor(ctx context.Context, limit time.Duration, what string, cond Condition) (*Status, error) {
	return n.c.waitFor(ctx, limit, what, cond, n.Status)
}

func (c *Cluster) waitFor(ctx context.Context, limit time.Duration, what string, cond Condition, view func(context.Context) (*Status, error)) (*Status, error) {
	deadline := time.Now().Add(limit)
	var last error
	var lastStatus *Status
	for {
		s, err := view(ctx)
		if err == nil {
			lastStatus = s
			if err = cond(s); err == nil {
				return s, nil
			}
		}
		last = err
		if time.Now().After(deadline) || errors.Is(err, ErrHopeless) {
			msg := fmt.Sprintf("waited %s for %s: %v", time.Since(deadline.Add(-limit)).Round(100*time.Millisecond), what, last)
			if lastStatus != nil {
				msg += fmt.Sprintf("\nlast view (from %s): %s", lastStatus.From, lastStatus.Placement())
			}
			return lastStatus, errors.New(msg)
		}
		select {
		case <-ctx.Done():
			return lastStatus, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// AllOnline holds when there is a DC with quorum and every named node is
// online.
func AllOnline(nodes ...string) Condition {
	return func(s *Status) error {
		if s.DC == "" {
			return errors.New("no DC yet")
		}
		if !s.Quorum {
			return errors.New("no quorum")
		}
		for _, n := range nodes {
			if !s.IsOnline(n) {
				return fmt.Errorf("%s is not online (online: %v)", n, s.Online)
			}
		}
		return nil
	}
}

// Op is one entry of a node's operation history in the CIB status
// section (lrm_rsc_op): the last result of each operation the node ran.
type Op struct {
	Node      string
	Resource  string // primitive id
	Agent     string // class:provider:type
	Key       string // operation key: rsc_start_0, rsc_monitor_5000, …
	Operation string
	Interval  time.Duration
	CallID    int
	RC        int // OCF exit status; 193 while pending
	OpStatus  int // 0 when the operation completed
	// LastRCChange is when the result last changed, as recorded by the
	// executor: whole seconds only.
	LastRCChange time.Time
	ExecTime     time.Duration
	QueueTime    time.Duration
}

type xmlCIBStatus struct {
	NodeStates []struct {
		Uname     string `xml:"uname,attr"`
		Resources []struct {
			ID       string `xml:"id,attr"`
			Class    string `xml:"class,attr"`
			Provider string `xml:"provider,attr"`
			Type     string `xml:"type,attr"`
			Ops      []struct {
				Key          string `xml:"operation_key,attr"`
				Operation    string `xml:"operation,attr"`
				Interval     int64  `xml:"interval,attr"`
				CallID       int    `xml:"call-id,attr"`
				RC           int    `xml:"rc-code,attr"`
				OpStatus     int    `xml:"op-status,attr"`
				LastRCChange int64  `xml:"last-rc-change,attr"`
				ExecTime     int64  `xml:"exec-time,attr"`
				QueueTime    int64  `xml:"queue-time,attr"`
			} `xml:"lrm_rsc_op"`
		} `xml:"lrm>lrm_resources>lrm_resource"`
	} `xml:"node_state"`
}

// ParseOps reads the CIB's status section (cibadmin --query --scope status).
func ParseOps(data []byte) ([]Op, error) {
	var st xmlCIBStatus
	if err := xml.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("parse CIB status: %w", err)
	}
	var ops []Op
	for _, ns := range st.NodeStates {
		for _, r := range ns.Resources {
			agent := r.Class + ":" + r.Provider + ":" + r.Type
			if r.Provider == "" {
				agent = r.Class + ":" + r.Type
			}
			for _, o := range r.Ops {
				ops = append(ops, Op{
					Node: ns.Uname, Resource: r.ID, Agent: agent, Key: o.Key, Operation: o.Operation,
					Interval: time.Duration(o.Interval) * time.Millisecond, CallID: o.CallID, RC: o.RC, OpStatus: o.OpStatus,
					LastRCChange: time.Unix(o.LastRCChange, 0),
					ExecTime:     time.Duration(o.ExecTime) * time.Millisecond,
					QueueTime:    time.Duration(o.QueueTime) * time.Millisecond,
				})
			}
		}
	}
	return ops, nil
}

// Ops is the operation history in this node's copy of the CIB.
func (n *Node) Ops(ctx context.Context) ([]Op, error) {
	out, err := n.Run(ctx, "cibadmin", "--query", "--scope", "status")
	if err != nil {
		return nil, err
	}
	return ParseOps(out)
}
