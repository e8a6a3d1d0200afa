package ocf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Params are an agent's parameters after Bind: every declared parameter
// has a value (its default when unset) of the declared type.
type Params struct {
	agent  string
	values map[string]string
	set    map[string]bool
	// Warnings are what Bind accepted but the operator should hear about.
	Warnings []string
}

// Bind checks OCF_RESKEY_* values against the meta-data: required
// parameters present, integers, booleans, times and selects well-formed,
// defaults applied. Keys the meta-data does not declare are ignored, as
// Pacemaker may pass parameters an older or newer agent version knew.
// An empty value counts as unset. env expands defaults such as
// ${HA_RSCTMP}; nil means an empty environment (handy in agents' tests).
func (md *Metadata) Bind(raw map[string]string, env *Env) (Params, error) {
	if env == nil {
		env = ReadEnv(nil, md.Name, "")
	}
	p := Params{agent: md.Name, values: map[string]string{}, set: map[string]bool{}}
	for _, spec := range md.Parameters {
		v, ok := raw[spec.Name]
		ok = ok && v != ""
		if !ok {
			if spec.Required {
				return p, BadParameter(Configured("required parameter %s is not set", spec.Name))
			}
			p.values[spec.Name] = expandDefaults(spec.Default, env)
			continue
		}
		if err := checkType(spec, v); err != nil {
			if !(spec.Type == "boolean" && !validateFirst[env.Action]) {
				return p, BadParameter(err)
			}
			// A boolean ocf_is_true does not know reads as false, as in
			// the reference agents. Only actions that change what runs
			// refuse it: a probe, monitor or stop must still see (and
			// stop) what runs, on every node.
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s; read as false, as ocf_is_true does", ReasonOf(err)))
		}
		p.values[spec.Name] = v
		p.set[spec.Name] = true
	}
	return p, nil
}

func checkType(spec ParamSpec, v string) error {
	switch spec.Type {
	case "integer":
		if _, err := strconv.Atoi(strings.TrimSpace(v)); err != nil {
			return Configured("parameter %s=%q is not an integer", spec.Name, v)
		}
	case "boolean":
		if !IsTrue(v) && !isFalse(v) {
			return Configured("parameter %s=%q is not a boolean ocf_is_true knows (yes, true, 1, on; no, false, 0, off)", spec.Name, v)
		}
	case "time", "second":
		if _, err := ParseDuration(v); err != nil {
			return Configured("parameter %s=%q is not a time (e.g. 20s)", spec.Name, v)
		}
	case "select":
		if !slices.Contains(spec.Options, v) {
			return Configured("parameter %s=%q is not one of %s", spec.Name, v, strings.Join(spec.Options, ", "))
		}
	}
	return nil
}

// get returns a declared parameter's value. Asking for an undeclared one
// is a bug in the agent, caught by its unit tests.
func (p Params) get(name string) string {
	v, ok := p.values[name]
	if !ok {
		panic(fmt.Sprintf("%s: parameter %q is not declared in its meta-data", p.agent, name))
	}
	return v
}

// String returns the parameter's value or its default.
func (p Params) String(name string) string { return p.get(name) }

// Int returns an integer parameter (Bind checked its form).
func (p Params) Int(name string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(p.get(name)))
	return n
}

// Bool returns a boolean parameter.
func (p Params) Bool(name string) bool { return IsTrue(p.get(name)) }

// Duration returns a time parameter; bare numbers are seconds.
func (p Params) Duration(name string) time.Duration {
	d, _ := ParseDuration(p.get(name))
	return d
}

// IsSet reports whether the operator set the parameter (rather than the
// default applying).
func (p Params) IsSet(name string) bool {
	p.get(name)
	return p.set[name]
}
