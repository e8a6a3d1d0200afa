package metadata

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
)

// referenceAgents maps each agent to the installed reference agent it
// replaces. An agent without a row here has no reference on Debian.
var referenceAgents = map[string]string{
	"Dummy":         "/usr/lib/ocf/resource.d/heartbeat/Dummy",
	"Stateful":      "/usr/lib/ocf/resource.d/pacemaker/Stateful",
	"IPaddr2":       "/usr/lib/ocf/resource.d/heartbeat/IPaddr2",
	"apache":        "/usr/lib/ocf/resource.d/heartbeat/apache",
	"VirtualDomain": "/usr/lib/ocf/resource.d/heartbeat/VirtualDomain",
}

// metadataDeviations are the documented differences (README, deviations
// table) in a parameter's type, default, required or unique flag:
// "Agent/parameter" → why. Anything else must equal the reference.
var metadataDeviations = map[string]string{
	"apache/httpd":      "the reference's default is the binary it found on the machine that printed its meta-data; ocfbox's is empty and resolved on the node that runs the action",
	"apache/configfile": "the reference's default is the file it found on the machine that printed its meta-data; ocfbox's is empty and resolved on the node that runs the action",
	"apache/testregex":  "the reference prints a placeholder sentence instead of its default; ocfbox prints the default, </ *html *>",
}

// Every parameter of the installed reference agent exists in ocfbox's
// meta-data with the same type, default, required and unique flags:
// operators' configurations rely on them, and Pacemaker uses unique to
// refuse two resources of the same address or guest.
func TestParametersEqualTheInstalledReference(t *testing.T) {
	for _, name := range embedded(t) {
		agent := strings.TrimSuffix(name, ".xml")
		ref, ok := referenceAgents[agent]
		if !ok {
			continue
		}
		t.Run(agent, func(t *testing.T) {
			testenv.RequireFile(t, ref)
			cmd := exec.Command(ref, "meta-data")
			cmd.Env = []string{"OCF_ROOT=/usr/lib/ocf", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s meta-data: %v", ref, err)
			}
			refMD, err := ocf.ParseMetadata(out)
			if err != nil {
				t.Fatalf("reference meta-data: %v", err)
			}
			md, err := ocf.ParseMetadata(Get(agent))
			if err != nil {
				t.Fatal(err)
			}
			// As the meta-data action prints it (defaults expanded for
			// the placeholder resource), as the reference's output is.
			ours, err := ocf.ParseMetadata(md.XML(ocf.ReadEnv(cmd.Env, agent, "meta-data")))
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]ocf.ParamSpec{}
			for _, p := range ours.Parameters {
				byName[p.Name] = p
			}
			for _, rp := range refMD.Parameters {
				op, ok := byName[rp.Name]
				if !ok {
					t.Errorf("parameter %s of the reference is missing", rp.Name)
					continue
				}
				if why, ok := metadataDeviations[agent+"/"+rp.Name]; ok {
					t.Logf("%s: deviation: %s", rp.Name, why)
					continue
				}
				if op.Type != rp.Type || op.Default != rp.Default || op.Required != rp.Required || op.Unique != rp.Unique {
					t.Errorf("parameter %s: type %q default %q required %v unique %v; reference %q %q %v %v",
						rp.Name, op.Type, op.Default, op.Required, op.Unique, rp.Type, rp.Default, rp.Required, rp.Unique)
				}
			}
		})
	}
}
