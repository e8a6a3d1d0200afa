// Package metadata holds every agent's meta-data XML, written by hand and
// embedded in the binary. It is the one source of truth for parameter
// names, types, defaults and actions: package ocf binds OCF_RESKEY_*
// values from it and the meta-data action prints it.
package metadata

import (
	"embed"
	"fmt"
)

//go:embed *.xml
var files embed.FS

// Get returns the meta-data XML of an agent; it panics for an agent
// without a file, which is a build mistake caught by the tests.
func Get(agent string) []byte {
	b, err := files.ReadFile(agent + ".xml")
	if err != nil {
		panic(fmt.Sprintf("metadata: no meta-data for agent %q (no %s.xml embedded)", agent, agent))
	}
	return b
}
