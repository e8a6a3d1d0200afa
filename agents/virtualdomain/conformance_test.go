package virtualdomain_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/agents/virtualdomain"
	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
)

const (
	referenceAgent = "/usr/lib/ocf/resource.d/heartbeat/VirtualDomain"
	raDir          = "/usr/share/resource-agents"
)

func ourMetadata(t *testing.T) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if st := ocf.Main(virtualdomain.Definition, ocf.Invocation{Args: []string{"VirtualDomain", "meta-data"},
		Stdout: &stdout, Stderr: &stderr}); st != ocf.Success {
		t.Fatalf("meta-data: %s\n%s", st, stderr.String())
	}
	return stdout.Bytes()
}

// TestMetadataValidates checks the meta-data against resource-agents'
// DTD (as ocf-tester does, through the DOCTYPE) and its RELAX NG schema.
func TestMetadataValidates(t *testing.T) {
	xmllint := testenv.RequireTool(t, "xmllint")
	testenv.RequireFile(t, filepath.Join(raDir, "ra-api-1.dtd"))
	testenv.RequireFile(t, filepath.Join(raDir, "metadata.rng"))
	md := ourMetadata(t)
	for _, args := range [][]string{{"--noout", "--valid", "-"}, {"--noout", "--relaxng", "metadata.rng", "-"}} {
		cmd := exec.Command(xmllint, args...)
		cmd.Dir = raDir
		cmd.Stdin = bytes.NewReader(md)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("xmllint %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

type mdParam struct {
	Name     string `xml:"name,attr"`
	Required string `xml:"required,attr"`
	Unique   string `xml:"unique,attr"`
	Content  struct {
		Type    string  `xml:"type,attr"`
		Default *string `xml:"default,attr"`
	} `xml:"content"`
}

type mdDoc struct {
	Params  []mdParam `xml:"parameters>parameter"`
	Actions []struct {
		Name string `xml:"name,attr"`
	} `xml:"actions>action"`
}

// TestEveryReferenceParameterExists compares the parameters with the
// installed reference agent's: every one exists with the same type,
// default, required and unique flags, and no other is added.
func TestEveryReferenceParameterExists(t *testing.T) {
	testenv.RequireFile(t, referenceAgent)
	cmd := exec.Command(referenceAgent, "meta-data")
	cmd.Env = []string{"OCF_ROOT=/usr/lib/ocf", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	refXML, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference meta-data: %v", err)
	}
	var ref, ours mdDoc
	if err := xml.Unmarshal(refXML, &ref); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(ourMetadata(t), &ours); err != nil {
		t.Fatal(err)
	}
	byName := map[string]mdParam{}
	for _, p := range ours.Params {
		byName[p.Name] = p
	}
	norm := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	for _, rp := range ref.Params {
		op, ok := byName[rp.Name]
		if !ok {
			t.Errorf("parameter %s of the reference is missing", rp.Name)
			continue
		}
		delete(byName, rp.Name)
		if rp.Content.Type != op.Content.Type || norm(rp.Required, "0") != norm(op.Required, "0") || norm(rp.Unique, "0") != norm(op.Unique, "0") {
			t.Errorf("parameter %s: type %q required %q unique %q, reference %q %q %q", rp.Name,
				op.Content.Type, op.Required, op.Unique, rp.Content.Type, rp.Required, rp.Unique)
		}
		rd, od := "", ""
		if rp.Content.Default != nil {
			rd = *rp.Content.Default
		}
		if op.Content.Default != nil {
			od = *op.Content.Default
		}
		if rd != od {
			t.Errorf("parameter %s: default %q, reference %q", rp.Name, od, rd)
		}
	}
	for name := range byName {
		t.Errorf("parameter %s is not in the reference", name)
	}
	var refActions, ourActions []string
	for _, a := range ref.Actions {
		refActions = append(refActions, a.Name)
	}
	for _, a := range ours.Actions {
		ourActions = append(ourActions, a.Name)
	}
	if strings.Join(refActions, " ") != strings.Join(ourActions, " ") {
		t.Errorf("actions %q, reference %q", ourActions, refActions)
	}
}

// TestOCFTester runs resource-agents' ocf-tester against the agent with
// a real guest. (The reference agent cannot pass it here: ocf-tester
// calls migrate_from on a stopped resource, and the reference loops for
// ever waiting for the guest; ocfbox gives up at its deadline.)
func TestOCFTester(t *testing.T) {
	tester := testenv.RequireTool(t, "ocf-tester")
	lv := libvirttest.Start(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	name := "vd-tester"
	config := guestConfig(t, dir, name, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tester, "-n", "vm-tester", "-o", "config="+config, "-o", "hypervisor="+lv.URI(),
		"-o", "force_stop=1", agentLink(t))
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP=" + dir, "LC_ALL=C"}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Fatalf("ocf-tester: %v\n%s", err, out)
	}
	if qemuPID(t, name) != 0 {
		t.Fatalf("ocf-tester left guest %s running", name)
	}
}
