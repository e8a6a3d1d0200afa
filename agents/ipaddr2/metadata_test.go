package ipaddr2

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
)

const referenceAgent = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"

func ourMetadata(t *testing.T) *ocf.Metadata {
	t.Helper()
	md, err := ocf.ParseMetadata(metadata.Get("IPaddr2"))
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func referenceMetadata(t *testing.T) *ocf.Metadata {
	t.Helper()
	testenv.RequireFile(t, referenceAgent)
	cmd := exec.Command(referenceAgent, "meta-data")
	cmd.Env = []string{"OCF_ROOT=/usr/lib/ocf", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s meta-data: %v", referenceAgent, err)
	}
	md, err := ocf.ParseMetadata(out)
	if err != nil {
		t.Fatalf("parse the reference meta-data: %v", err)
	}
	return md
}

// Every parameter of the installed reference agent exists with the same
// name, type, default, required and unique flags, and there are no others.
func TestParametersMatchTheInstalledReference(t *testing.T) {
	ref, ours := referenceMetadata(t), ourMetadata(t)
	byName := map[string]ocf.ParamSpec{}
	for _, p := range ours.Parameters {
		byName[p.Name] = p
	}
	for _, want := range ref.Parameters {
		got, ok := byName[want.Name]
		if !ok {
			t.Errorf("parameter %s of the reference is missing", want.Name)
			continue
		}
		if got.Type != want.Type || got.Default != want.Default || got.Required != want.Required || got.Unique != want.Unique {
			t.Errorf("parameter %s: type %q default %q required %v unique %v; the reference has %q %q %v %v",
				want.Name, got.Type, got.Default, got.Required, got.Unique, want.Type, want.Default, want.Required, want.Unique)
		}
		delete(byName, want.Name)
	}
	for name := range byName {
		t.Errorf("parameter %s is not in the reference", name)
	}
}

func TestActionsMatchTheInstalledReference(t *testing.T) {
	ref, ours := referenceMetadata(t), ourMetadata(t)
	if !slices.Equal(ours.Actions, ref.Actions) {
		t.Errorf("actions = %+v\nthe reference has %+v", ours.Actions, ref.Actions)
	}
}

// The actions the Go type implements are exactly those the meta-data
// lists; "status" is routed to Monitor by package ocf.
func TestImplementedActionsAreTheListedOnes(t *testing.T) {
	var listed []string
	for _, a := range ourMetadata(t).Actions {
		if a.Name == "status" {
			a.Name = "monitor"
		}
		if !slices.Contains(listed, a.Name) {
			listed = append(listed, a.Name)
		}
	}
	impl := ocf.Implemented(Definition.New())
	slices.Sort(listed)
	slices.Sort(impl)
	if !slices.Equal(listed, impl) {
		t.Errorf("meta-data lists %v, the agent implements %v", listed, impl)
	}
}

// The meta-data action's output validates against the DTD ocf-tester uses
// and against resource-agents' RELAX NG schema.
func TestMetadataValidates(t *testing.T) {
	xmllint := testenv.RequireTool(t, "xmllint")
	const dir = "/usr/share/resource-agents"
	testenv.RequireFile(t, filepath.Join(dir, "ra-api-1.dtd"))
	testenv.RequireFile(t, filepath.Join(dir, "metadata.rng"))
	link := filepath.Join(t.TempDir(), "IPaddr2")
	if err := os.Symlink(testenv.Binary(t), link); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(link, "meta-data").Output()
	if err != nil {
		t.Fatalf("IPaddr2 meta-data: %v", err)
	}
	if !bytes.Equal(out, metadata.Get("IPaddr2")) {
		t.Errorf("meta-data output differs from metadata/IPaddr2.xml")
	}
	for _, args := range [][]string{{"--noout", "--valid", "-"}, {"--noout", "--relaxng", "metadata.rng", "-"}} {
		cmd := exec.Command(xmllint, args...)
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("xmllint %v: %v\n%s", args, err, msg)
		}
	}
}
