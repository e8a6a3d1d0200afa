package ocf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Metadata is an agent's meta-data XML, parsed: the single source of the
// parameters Bind accepts and of the actions Main dispatches.
type Metadata struct {
	Name       string
	Version    string // the OCF version the agent declares, e.g. "1.0"
	ShortDesc  string
	Parameters []ParamSpec
	Actions    []ActionSpec
	raw        []byte
}

// ParamSpec is one <parameter>.
type ParamSpec struct {
	Name     string
	Type     string // string, integer, boolean, time, second or select
	Default  string // may hold ${HA_RSCTMP}, ${HA_VARRUN}, ${OCF_RESOURCE_INSTANCE}
	Required bool
	Unique   bool
	Options  []string // for type select
}

// ActionSpec is one <action>.
type ActionSpec struct {
	Name     string
	Timeout  time.Duration // 0 when the meta-data gives none
	Interval time.Duration
	Role     string // Promoted or Unpromoted (OCF 1.0's Master and Slave are read as those)
}

// ParseMetadata parses meta-data XML.
func ParseMetadata(xml []byte) (*Metadata, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		return nil, fmt.Errorf("parse meta-data: %w", err)
	}
	root := doc.SelectElement("resource-agent")
	if root == nil {
		return nil, fmt.Errorf("parse meta-data: no <resource-agent> element")
	}
	md := &Metadata{Name: root.SelectAttrValue("name", ""), raw: xml}
	if v := root.SelectElement("version"); v != nil {
		md.Version = strings.TrimSpace(v.Text())
	}
	if s := root.SelectElement("shortdesc"); s != nil {
		md.ShortDesc = strings.TrimSpace(s.Text())
	}
	for _, p := range root.FindElements("./parameters/parameter") {
		spec := ParamSpec{
			Name:     p.SelectAttrValue("name", ""),
			Required: p.SelectAttrValue("required", "0") == "1",
			Unique:   p.SelectAttrValue("unique", "0") == "1",
		}
		if c := p.SelectElement("content"); c != nil {
			spec.Type = c.SelectAttrValue("type", "string")
			spec.Default = c.SelectAttrValue("default", "")
			for _, o := range c.SelectElements("option") {
				spec.Options = append(spec.Options, o.SelectAttrValue("value", ""))
			}
		}
		md.Parameters = append(md.Parameters, spec)
	}
	for _, a := range root.FindElements("./actions/action") {
		spec := ActionSpec{Name: a.SelectAttrValue("name", ""), Role: currentRole(a.SelectAttrValue("role", ""))}
		var err error
		// An action without a timeout gets Pacemaker's default (Main).
		if t := a.SelectAttrValue("timeout", ""); t != "" {
			if spec.Timeout, err = ParseDuration(t); err != nil {
				return nil, fmt.Errorf("parse meta-data: action %s timeout: %w", spec.Name, err)
			}
		}
		if iv := a.SelectAttrValue("interval", ""); iv != "" {
			if spec.Interval, err = ParseDuration(iv); err != nil {
				return nil, fmt.Errorf("parse meta-data: action %s interval: %w", spec.Name, err)
			}
		}
		md.Actions = append(md.Actions, spec)
	}
	return md, nil
}

// HasAction reports whether the meta-data lists the action.
func (md *Metadata) HasAction(name string) bool {
	_, ok := md.action(name)
	return ok
}

func (md *Metadata) action(name string) (ActionSpec, bool) {
	for _, a := range md.Actions {
		if a.Name == name {
			return a, true
		}
	}
	return ActionSpec{}, false
}

// XML returns the meta-data as printed by the meta-data action: defaults
// that name the state directories or the instance are expanded, as the
// reference agents' here-documents do, and the actions' roles are named
// as the caller knows them (Env.LegacyRoles): Master and Slave, in OCF
// 1.0 meta-data, for Pacemaker 2.0, whose CIB schema has no other names;
// Promoted and Unpromoted for Pacemaker 2.1 and 3, and for anyone else.
func (md *Metadata) XML(env *Env) []byte {
	return []byte(rolesFor(env, expandDefaults(string(md.raw), env)))
}

func rolesFor(env *Env, s string) string {
	if env.LegacyRoles() {
		return strings.NewReplacer(
			`role="`+RolePromoted+`"`, `role="`+legacyPromoted+`"`,
			`role="`+RoleUnpromoted+`"`, `role="`+legacyUnpromoted+`"`,
			"<version>1.1</version>", "<version>1.0</version>",
		).Replace(s)
	}
	return strings.NewReplacer(
		`role="`+legacyPromoted+`"`, `role="`+RolePromoted+`"`,
		`role="`+legacyUnpromoted+`"`, `role="`+RoleUnpromoted+`"`,
	).Replace(s)
}

// expandDefaults substitutes the few environment-dependent values that
// reference agents put into parameter defaults.
func expandDefaults(s string, env *Env) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return strings.NewReplacer(
		"${HA_RSCTMP}", strings.TrimSuffix(env.RscTmp, "/"),
		"${HA_VARRUN}", strings.TrimSuffix(env.VarRun, "/"),
		"${OCF_RESOURCE_INSTANCE}", env.Instance,
	).Replace(s)
}

// ParseDuration parses an OCF time value as Pacemaker does: a
// non-negative number, bare meaning seconds ("20"), or followed by one of
// the units ms/msec, us/usec, s/sec, m/min, h/hr or d, in any case and
// optionally after a space ("20s", "1.5 min", "500ms").
func ParseDuration(s string) (time.Duration, error) {
	num, unitName, ok := splitDuration(strings.TrimSpace(s))
	if !ok {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	unit, ok := durationUnit(strings.ToLower(unitName))
	if !ok {
		return 0, fmt.Errorf("%q is not a duration: unknown unit %q", s, unitName)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n*float64(unit) > float64(math.MaxInt64) {
		return 0, fmt.Errorf("%q is not a duration: out of range", s)
	}
	return time.Duration(n * float64(unit)), nil
}

// splitDuration splits a decimal number ("5", "1.5") from the letters of
// its unit, with at most one space between them. The strict form keeps
// out what strconv.ParseFloat would also take (NaN, Inf, 1e3, 0x1p4). It
// is written out rather than a regular expression because every
// invocation that binds a time parameter pays for the compilation.
func splitDuration(s string) (num, unit string, ok bool) {
	digits := func(i int) int {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i
	}
	i := digits(0)
	if i == 0 {
		return "", "", false
	}
	if i < len(s) && s[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return "", "", false
		}
		i = j
	}
	num, rest := s[:i], s[i:]
	rest = strings.TrimPrefix(rest, " ")
	for k := 0; k < len(rest); k++ {
		if c := rest[k] | 0x20; c < 'a' || c > 'z' {
			return "", "", false
		}
	}
	return num, rest, true
}

// durationUnit is a switch rather than a map: a map literal at package
// level is built by every invocation's initialisation.
func durationUnit(name string) (time.Duration, bool) {
	switch name {
	case "", "s", "sec":
		return time.Second, true
	case "ms", "msec":
		return time.Millisecond, true
	case "us", "usec":
		return time.Microsecond, true
	case "m", "min":
		return time.Minute, true
	case "h", "hr":
		return time.Hour, true
	case "d":
		return 24 * time.Hour, true
	}
	return 0, false
}
