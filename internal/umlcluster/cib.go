package umlcluster

import (
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Helpers that write CIB elements for Config.Resources and
// Config.Constraints (or cibadmin --create), so tests can swap agents
// by name: Primitive("p_fs", "ocf:ocfbox:Filesystem", params, ops...).

// Op is an operation of a primitive.
type Op struct {
	Name     string // monitor, start, …
	Interval string // "10s"; "" for 0s
	Timeout  string // "20s"
	Role     string // Promoted or Unpromoted for role-specific monitors
}

func attr(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

func nvset(kind, id string, m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<%s id="%s">`, kind, attr(id))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, `<nvpair id="%s-%s" name="%s" value="%s"/>`, attr(id), attr(k), attr(k), attr(m[k]))
	}
	fmt.Fprintf(&b, `</%s>`, kind)
	return b.String()
}

// Primitive is a <primitive> of agent "class:provider:type" (or
// "class:type", as stonith:fence_x).
func Primitive(id, agent string, params map[string]string, ops ...Op) string {
	parts := strings.Split(agent, ":")
	var class, provider, typ string
	switch len(parts) {
	case 3:
		class, provider, typ = parts[0], parts[1], parts[2]
	case 2:
		class, typ = parts[0], parts[1]
	default:
		class, typ = "ocf", agent
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<primitive id="%s" class="%s"`, attr(id), attr(class))
	if provider != "" {
		fmt.Fprintf(&b, ` provider="%s"`, attr(provider))
	}
	fmt.Fprintf(&b, ` type="%s">`, attr(typ))
	b.WriteString(nvset("instance_attributes", id+"-params", params))
	if len(ops) > 0 {
		b.WriteString("<operations>")
		for _, o := range ops {
			interval := o.Interval
			if interval == "" {
				interval = "0s"
			}
			oid := id + "-" + o.Name + "-" + interval
			if o.Role != "" {
				oid += "-" + o.Role
			}
			fmt.Fprintf(&b, `<op id="%s" name="%s" interval="%s"`, attr(oid), attr(o.Name), attr(interval))
			if o.Timeout != "" {
				fmt.Fprintf(&b, ` timeout="%s"`, attr(o.Timeout))
			}
			if o.Role != "" {
				fmt.Fprintf(&b, ` role="%s"`, attr(o.Role))
			}
			b.WriteString("/>")
		}
		b.WriteString("</operations>")
	}
	b.WriteString("</primitive>")
	return b.String()
}

// Clone wraps a primitive (from Primitive) in a <clone> with meta
// attributes (promotable, promoted-max, clone-max, notify, interleave …).
func Clone(id string, meta map[string]string, primitive string) string {
	return fmt.Sprintf(`<clone id="%s">%s%s</clone>`, attr(id), nvset("meta_attributes", id+"-meta", meta), primitive)
}

// Group is a <group> of primitives.
func Group(id string, primitives ...string) string {
	return fmt.Sprintf(`<group id="%s">%s</group>`, attr(id), strings.Join(primitives, ""))
}

// Colocation keeps rsc with withRsc (in withRole, if not ""), score
// INFINITY.
func Colocation(id, rsc, withRsc, withRole string) string {
	role := ""
	if withRole != "" {
		role = fmt.Sprintf(` with-rsc-role="%s"`, attr(withRole))
	}
	return fmt.Sprintf(`<rsc_colocation id="%s" rsc="%s" with-rsc="%s"%s score="INFINITY"/>`, attr(id), attr(rsc), attr(withRsc), role)
}

// Order makes then's thenAction follow first's firstAction (Mandatory).
func Order(id, first, firstAction, then, thenAction string) string {
	return fmt.Sprintf(`<rsc_order id="%s" first="%s" first-action="%s" then="%s" then-action="%s" kind="Mandatory"/>`,
		attr(id), attr(first), attr(firstAction), attr(then), attr(thenAction))
}

// Location scores rsc on node ("INFINITY", "-INFINITY", "100").
func Location(id, rsc, node, score string) string {
	return fmt.Sprintf(`<rsc_location id="%s" rsc="%s" node="%s" score="%s"/>`, attr(id), attr(rsc), attr(node), attr(score))
}
