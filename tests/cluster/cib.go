package cluster

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CIBObject is something Configure adds to the CIB: a resource or a
// constraint.
type CIBObject interface {
	scope() string
	element() any
}

// OpSpec is an operation definition of a primitive.
type OpSpec struct {
	Name     string // monitor, start, …
	Interval string // "5s"; "0" for non-recurring
	Timeout  string // "20s"
	Role     string // Promoted or Unpromoted for role-specific monitors
}

// Primitive is a resource of one agent.
type Primitive struct {
	ID     string
	Agent  string // class:provider:type, as crm configure writes it
	Params map[string]string
	Meta   map[string]string
	Ops    []OpSpec
}

// Group is an ordered, colocated group of primitives.
type Group struct {
	ID      string
	Members []Primitive
	Meta    map[string]string
}

// Clone runs a primitive on several nodes; Meta carries promotable,
// promoted-max, …
type Clone struct {
	ID        string
	Primitive Primitive
	Meta      map[string]string
}

// Location places a resource on a node with a score; with Role set
// (Promoted) it applies to that role only.
type Location struct {
	ID, Resource, Node string
	Score              string // "100", "INFINITY", "-INFINITY"
	Role               string
}

// Colocation keeps Resource where WithResource runs (in WithRole, when
// set: Promoted), as `colocation id score: rsc with-rsc:Promoted`.
type Colocation struct {
	ID, Resource, WithResource string
	WithRole                   string
	Score                      string
}

// Order starts Then after First, as `order id Mandatory: first:action
// then:action`; empty actions mean start.
type Order struct {
	ID                 string
	First, FirstAction string
	Then, ThenAction   string
	Kind               string // Mandatory (default), Optional, Serialize
}

type xNV struct {
	ID    string `xml:"id,attr"`
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xNVSet struct {
	ID    string `xml:"id,attr"`
	Pairs []xNV  `xml:"nvpair"`
}

type xOp struct {
	ID       string `xml:"id,attr"`
	Name     string `xml:"name,attr"`
	Interval string `xml:"interval,attr"`
	Timeout  string `xml:"timeout,attr,omitempty"`
	Role     string `xml:"role,attr,omitempty"`
}

type xPrimitive struct {
	XMLName  xml.Name `xml:"primitive"`
	ID       string   `xml:"id,attr"`
	Class    string   `xml:"class,attr"`
	Provider string   `xml:"provider,attr,omitempty"`
	Type     string   `xml:"type,attr"`
	Params   *xNVSet  `xml:"instance_attributes,omitempty"`
	Meta     *xNVSet  `xml:"meta_attributes,omitempty"`
	Ops      *xOps    `xml:"operations,omitempty"`
}

type xOps struct {
	Ops []xOp `xml:"op"`
}

type xGroup struct {
	XMLName    xml.Name     `xml:"group"`
	ID         string       `xml:"id,attr"`
	Meta       *xNVSet      `xml:"meta_attributes,omitempty"`
	Primitives []xPrimitive `xml:"primitive"`
}

type xClone struct {
	XMLName   xml.Name   `xml:"clone"`
	ID        string     `xml:"id,attr"`
	Meta      *xNVSet    `xml:"meta_attributes,omitempty"`
	Primitive xPrimitive `xml:"primitive"`
}

type xExpression struct {
	ID        string `xml:"id,attr"`
	Attribute string `xml:"attribute,attr"`
	Operation string `xml:"operation,attr"`
	Value     string `xml:"value,attr"`
}

type xRule struct {
	ID         string      `xml:"id,attr"`
	Role       string      `xml:"role,attr"`
	Score      string      `xml:"score,attr"`
	Expression xExpression `xml:"expression"`
}

type xLocation struct {
	XMLName xml.Name `xml:"rsc_location"`
	ID      string   `xml:"id,attr"`
	Rsc     string   `xml:"rsc,attr"`
	Node    string   `xml:"node,attr,omitempty"`
	Score   string   `xml:"score,attr,omitempty"`
	Rule    *xRule   `xml:"rule,omitempty"`
}

type xColocation struct {
	XMLName     xml.Name `xml:"rsc_colocation"`
	ID          string   `xml:"id,attr"`
	Rsc         string   `xml:"rsc,attr"`
	WithRsc     string   `xml:"with-rsc,attr"`
	WithRscRole string   `xml:"with-rsc-role,attr,omitempty"`
	Score       string   `xml:"score,attr"`
}

type xOrder struct {
	XMLName     xml.Name `xml:"rsc_order"`
	ID          string   `xml:"id,attr"`
	First       string   `xml:"first,attr"`
	FirstAction string   `xml:"first-action,attr,omitempty"`
	Then        string   `xml:"then,attr"`
	ThenAction  string   `xml:"then-action,attr,omitempty"`
	Kind        string   `xml:"kind,attr,omitempty"`
}

func nvset(id string, m map[string]string) *xNVSet {
	if len(m) == 0 {
		return nil
	}
	set := &xNVSet{ID: id}
	for _, k := range sortedKeys(m) {
		set.Pairs = append(set.Pairs, xNV{ID: id + "-" + k, Name: k, Value: m[k]})
	}
	return set
}

func (p Primitive) xml() xPrimitive {
	x := xPrimitive{ID: p.ID, Params: nvset(p.ID+"-params", p.Params), Meta: nvset(p.ID+"-meta", p.Meta)}
	parts := strings.Split(p.Agent, ":")
	switch len(parts) {
	case 3:
		x.Class, x.Provider, x.Type = parts[0], parts[1], parts[2]
	case 2:
		x.Class, x.Type = parts[0], parts[1]
	default:
		x.Class, x.Type = "ocf", p.Agent // shows up as an unknown agent
	}
	for _, o := range p.Ops {
		id := fmt.Sprintf("%s-%s-%s", p.ID, o.Name, o.Interval)
		if o.Role != "" {
			id += "-" + o.Role
		}
		if x.Ops == nil {
			x.Ops = &xOps{}
		}
		x.Ops.Ops = append(x.Ops.Ops, xOp{ID: id, Name: o.Name, Interval: o.Interval, Timeout: o.Timeout, Role: o.Role})
	}
	return x
}

func (p Primitive) scope() string { return "resources" }
func (p Primitive) element() any  { return p.xml() }

func (g Group) scope() string { return "resources" }
func (g Group) element() any {
	x := xGroup{ID: g.ID, Meta: nvset(g.ID+"-meta", g.Meta)}
	for _, p := range g.Members {
		x.Primitives = append(x.Primitives, p.xml())
	}
	return x
}

func (cl Clone) scope() string { return "resources" }
func (cl Clone) element() any {
	return xClone{ID: cl.ID, Meta: nvset(cl.ID+"-meta", cl.Meta), Primitive: cl.Primitive.xml()}
}

func (l Location) scope() string { return "constraints" }
func (l Location) element() any {
	x := xLocation{ID: l.ID, Rsc: l.Resource}
	if l.Role == "" {
		x.Node, x.Score = l.Node, l.Score
		return x
	}
	x.Rule = &xRule{ID: l.ID + "-rule", Role: l.Role, Score: l.Score,
		Expression: xExpression{ID: l.ID + "-expr", Attribute: "#uname", Operation: "eq", Value: l.Node}}
	return x
}

func (cl Colocation) scope() string { return "constraints" }
func (cl Colocation) element() any {
	score := cl.Score
	if score == "" {
		score = "INFINITY"
	}
	return xColocation{ID: cl.ID, Rsc: cl.Resource, WithRsc: cl.WithResource, WithRscRole: cl.WithRole, Score: score}
}

func (o Order) scope() string { return "constraints" }
func (o Order) element() any {
	return xOrder{ID: o.ID, First: o.First, FirstAction: o.FirstAction, Then: o.Then, ThenAction: o.ThenAction, Kind: o.Kind}
}

// XML is the CIB XML of an object, as cibadmin --create takes it.
func XML(o CIBObject) (string, error) {
	b, err := xml.Marshal(o.element())
	if err != nil {
		return "", fmt.Errorf("CIB XML: %w", err)
	}
	return string(b), nil
}

// Configure adds objects to the CIB with cibadmin --create, through the
// first node that has booted.
func (c *Cluster) Configure(ctx context.Context, objs ...CIBObject) error {
	for _, o := range objs {
		x, err := XML(o)
		if err != nil {
			return err
		}
		if _, err := c.Run(ctx, "cibadmin", "--create", "--scope", o.scope(), "--xml-text", x); err != nil {
			return fmt.Errorf("configure: %w", err)
		}
	}
	return nil
}

// Run runs a command (crm_resource, cibadmin, …) on the first node that
// has booted.
func (c *Cluster) Run(ctx context.Context, argv ...string) ([]byte, error) {
	ready := c.Ready()
	if len(ready) == 0 {
		return nil, errors.New("no node is up")
	}
	return ready[0].Run(ctx, argv...)
}

// Diagnose reports, for a failed test: crm_mon's text from a node that is
// up, and the warnings and errors at the end of each node's Pacemaker
// log.
func (c *Cluster) Diagnose(ctx context.Context, logf func(string, ...any)) {
	for _, n := range c.Up() {
		out, err := n.Run(ctx, "crm_mon", "--one-shot", "--inactive", "--show-detail")
		if err == nil {
			logf("crm_mon on %s:\n%s", n.Name, out)
			break
		}
	}
	for _, n := range c.Nodes {
		data, err := os.ReadFile(filepath.Join(n.Dir, "log-pacemaker", "pacemaker.log"))
		if err != nil {
			continue
		}
		var keep []string
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "error:") || strings.Contains(l, "warning:") || strings.Contains(l, "crit:") {
				keep = append(keep, l)
			}
		}
		if len(keep) > 30 {
			keep = keep[len(keep)-30:]
		}
		logf("%s: last warnings and errors of pacemaker.log:\n%s", n.Name, strings.Join(keep, "\n"))
	}
}
