// Package agents is the registry of every agent the ocfbox binary
// contains, in the order `ocfbox list` shows them.
package agents

import (
	"github.com/ocfbox/ocfbox/agents/apache"
	"github.com/ocfbox/ocfbox/agents/drbd"
	"github.com/ocfbox/ocfbox/agents/dummy"
	"github.com/ocfbox/ocfbox/agents/filesystem"
	"github.com/ocfbox/ocfbox/agents/ipaddr2"
	"github.com/ocfbox/ocfbox/agents/o2cb"
	"github.com/ocfbox/ocfbox/agents/stateful"
	"github.com/ocfbox/ocfbox/agents/virtualdomain"
	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
)

// All lists the agents.
var All = []ocf.Definition{
	dummy.Definition,
	stateful.Definition,
	ipaddr2.Definition,
	apache.Definition,
	virtualdomain.Definition,
	filesystem.Definition,
	drbd.Definition,
	o2cb.Definition,
}

// Lookup finds an agent by the name Pacemaker runs it under, with its
// meta-data as parsed at build time (metadata.Spec), so that running it
// parses no XML.
func Lookup(name string) (ocf.Definition, bool) {
	for _, d := range All {
		if d.Name == name {
			if d.Spec == nil {
				d.Spec = metadata.Spec(name)
			}
			return d, true
		}
	}
	return ocf.Definition{}, false
}
