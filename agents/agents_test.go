package agents_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/agents"
	"github.com/ocfbox/ocfbox/ocf"
)

var update = flag.Bool("update", false, "rewrite metadata/testdata/<Agent>.golden.xml from the agents' meta-data output")

// metadataDir is the metadata package's directory, seen from this one.
const metadataDir = "../metadata"

func TestAgentNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, def := range agents.All {
		if seen[def.Name] {
			t.Errorf("agents.All lists %s twice", def.Name)
		}
		seen[def.Name] = true
	}
}

func TestLookupFindsEveryAgentAndNothingElse(t *testing.T) {
	for _, def := range agents.All {
		if got, ok := agents.Lookup(def.Name); !ok || got.Name != def.Name {
			t.Errorf("Lookup(%q) = %q, %v; want the agent", def.Name, got.Name, ok)
		}
	}
	for _, name := range []string{"", "ocfbox", "dummy", "Dummy.xml", "../Dummy"} {
		if got, ok := agents.Lookup(name); ok {
			t.Errorf("Lookup(%q) found %s, want nothing", name, got.Name)
		}
	}
}

func TestEveryAgentHasItsMetadataFile(t *testing.T) {
	for _, def := range agents.All {
		t.Run(def.Name, func(t *testing.T) {
			path := filepath.Join(metadataDir, def.Name+".xml")
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("agent %s has no meta-data file: %v", def.Name, err)
			}
			if !bytes.Equal(file, def.Metadata) {
				t.Errorf("agent %s does not carry %s as its meta-data", def.Name, path)
			}
			if def.New == nil {
				t.Fatalf("agent %s has no constructor", def.Name)
			}
		})
	}
}

// The actions the Go type implements must be exactly those the meta-data
// advertises: Pacemaker schedules what the meta-data lists, and Main
// refuses what it does not.
func TestImplementedActionsMatchMetadata(t *testing.T) {
	for _, def := range agents.All {
		t.Run(def.Name, func(t *testing.T) {
			md, err := ocf.ParseMetadata(def.Metadata)
			if err != nil {
				t.Fatalf("meta-data of %s does not parse: %v", def.Name, err)
			}
			if md.Name != def.Name {
				t.Errorf("meta-data names the agent %q, want %q", md.Name, def.Name)
			}
			implemented := actionSet(ocf.Implemented(def.New()))
			var listed []string
			for _, a := range md.Actions {
				listed = append(listed, a.Name)
			}
			advertised := actionSet(listed)
			if !slices.Equal(implemented, advertised) {
				t.Errorf("%s implements %q but its meta-data lists %q", def.Name, implemented, advertised)
			}
		})
	}
}

// actionSet sorts and de-duplicates action names, leaving out the ones
// Main answers itself (status is monitor's old name, routed to Monitor
// for any agent whose meta-data lists it) and counting reload-agent as
// reload.
func actionSet(names []string) []string {
	var set []string
	for _, n := range names {
		switch n {
		case "meta-data", "usage", "help", "status":
			continue
		case "reload-agent":
			n = "reload"
		}
		set = append(set, n)
	}
	slices.Sort(set)
	return slices.Compact(set)
}

// xmlAgent is what this test reads of the meta-data, by hand rather than
// through package ocf, which does not keep the descriptions.
type xmlAgent struct {
	ShortDesc  string `xml:"shortdesc"`
	LongDesc   string `xml:"longdesc"`
	Parameters []struct {
		Name      string `xml:"name,attr"`
		ShortDesc string `xml:"shortdesc"`
		LongDesc  string `xml:"longdesc"`
	} `xml:"parameters>parameter"`
	Actions []struct {
		Name    string `xml:"name,attr"`
		Timeout string `xml:"timeout,attr"`
	} `xml:"actions>action"`
}

func TestMetadataDescribesEverything(t *testing.T) {
	for _, def := range agents.All {
		t.Run(def.Name, func(t *testing.T) {
			var a xmlAgent
			if err := xml.Unmarshal(def.Metadata, &a); err != nil {
				t.Fatalf("meta-data of %s is not XML: %v", def.Name, err)
			}
			if strings.TrimSpace(a.ShortDesc) == "" || strings.TrimSpace(a.LongDesc) == "" {
				t.Errorf("%s has no shortdesc or longdesc of its own", def.Name)
			}
			for _, p := range a.Parameters {
				if strings.TrimSpace(p.ShortDesc) == "" {
					t.Errorf("parameter %s of %s has no shortdesc", p.Name, def.Name)
				}
				if strings.TrimSpace(p.LongDesc) == "" {
					t.Errorf("parameter %s of %s has no longdesc", p.Name, def.Name)
				}
			}
			for _, act := range a.Actions {
				if act.Timeout == "" {
					t.Errorf("action %s of %s has no timeout", act.Name, def.Name)
				}
			}
		})
	}
}

// The meta-data action's output is part of the product: crmsh, pcs and
// the CIB's digests read it. A change to it must be deliberate:
// go test ./agents -update rewrites the golden files.
func TestMetadataOutputMatchesGolden(t *testing.T) {
	for _, def := range agents.All {
		t.Run(def.Name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// No environment at all, as `crm_resource --show-metadata`
			// asks: the defaults show the standard directories.
			status := ocf.Main(def, ocf.Invocation{Args: []string{def.Name, "meta-data"}, Stdout: &stdout, Stderr: &stderr})
			if status != ocf.Success {
				t.Fatalf("%s meta-data: status %s, want %s\nstderr:\n%s", def.Name, status, ocf.Success, stderr.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("%s meta-data wrote to stderr:\n%s", def.Name, stderr.String())
			}
			golden := filepath.Join(metadataDir, "testdata", def.Name+".golden.xml")
			if *update {
				if err := os.WriteFile(golden, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./agents -update writes it)", err)
			}
			if got := stdout.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("%s meta-data differs from %s (go test ./agents -update rewrites it after a deliberate change):\n%s",
					def.Name, golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, wl, gl)
		}
	}
	return "(they differ only in line endings)"
}

// Lookup, which the binary runs agents through, gives every agent the
// meta-data parsed at build time, equal to its XML parsed now.
func TestLookupGivesEveryAgentItsBuildTimeMetadata(t *testing.T) {
	for _, d := range agents.All {
		t.Run(d.Name, func(t *testing.T) {
			def, _ := agents.Lookup(d.Name)
			if def.Spec == nil {
				t.Fatalf("Lookup(%q) has no Spec: run go generate ./metadata", d.Name)
			}
			spec, err := def.ParsedMetadata()
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := ocf.ParseMetadata(def.Metadata)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", *spec) != fmt.Sprintf("%+v", *parsed) {
				t.Errorf("build-time meta-data\n%+v\ndiffers from the XML parsed\n%+v", *spec, *parsed)
			}
		})
	}
}
