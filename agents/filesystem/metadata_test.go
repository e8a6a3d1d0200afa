package filesystem_test

import (
	"os/exec"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
)

const reference = "/usr/lib/ocf/resource.d/heartbeat/Filesystem"

// Every parameter of the installed reference (resource-agents 4.12) has
// the same name, type, default and flags, except force_unmount, which the
// reference declares boolean but documents and accepts as true, safe or
// false (ocfbox declares it a string, so that "safe" binds); the only
// others are the stop-escalation parameters of later resource-agents.
func TestParametersMatchTheInstalledReference(t *testing.T) {
	testenv.RequireFile(t, reference)
	cmd := exec.Command(reference, "meta-data")
	cmd.Env = []string{"OCF_ROOT=/usr/lib/ocf", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s meta-data: %v", reference, err)
	}
	ref, err := ocf.ParseMetadata(out)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := ocf.ParseMetadata(metadata.Get("Filesystem"))
	if err != nil {
		t.Fatal(err)
	}
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
		if want.Name == "force_unmount" && want.Type == "boolean" {
			want.Type = "string"
		}
		if got.Type != want.Type || got.Default != want.Default || got.Required != want.Required || got.Unique != want.Unique {
			t.Errorf("parameter %s: type %q default %q required %v unique %v; the reference has %q %q %v %v",
				want.Name, got.Type, got.Default, got.Required, got.Unique, want.Type, want.Default, want.Required, want.Unique)
		}
		delete(byName, want.Name)
	}
	for name := range byName {
		switch name {
		case "term_signals", "kill_signals", "signal_delay":
		default:
			t.Errorf("parameter %s is not the reference's", name)
		}
	}
	for _, a := range ref.Actions {
		if !ours.HasAction(a.Name) {
			t.Errorf("action %s of the reference is missing", a.Name)
		}
	}
}
