// Package metadata holds every agent's meta-data XML, written by hand and
// embedded in the binary. It is the one source of truth for parameter
// names, types, defaults and actions: package ocf binds OCF_RESKEY_*
// values from it and the meta-data action prints it.
//
// `go generate ./metadata` compiles the files into Go values
// (zz_generated.go): the XML as data the compiler lays out statically and
// the XML parsed, so that an agent invocation neither copies nor parses
// XML. The tests fail when that file no longer matches the *.xml files.
package metadata

//go:generate go run gen.go

import (
	"embed"
	"fmt"

	"github.com/ocfbox/ocfbox/ocf"
)

// files are the *.xml files themselves, for a file added or changed since
// the last go generate (the tests catch that, and it still works).
//
//go:embed *.xml
var files embed.FS

// Get returns the meta-data XML of an agent, which the caller must not
// modify; it panics for an agent without a file, which is a build mistake
// caught by the tests.
func Get(agent string) []byte {
	if b, _ := compiled(agent); b != nil {
		return b
	}
	b, err := files.ReadFile(agent + ".xml")
	if err != nil {
		panic(fmt.Sprintf("metadata: no meta-data for agent %q (no %s.xml embedded)", agent, agent))
	}
	return b
}

// Spec returns the agent's meta-data as parsed when the binary was built,
// for ocf.Definition.Spec; nil for a file newer than the generated one
// (ocf.Main then parses the XML).
func Spec(agent string) *ocf.Metadata {
	_, md := compiled(agent)
	return md
}
