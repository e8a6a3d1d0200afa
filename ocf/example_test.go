package ocf_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ocfbox/ocfbox/ocf"
)

// hello is an agent whose resource is never running.
type hello struct{}

func (hello) Validate(context.Context, *ocf.Resource) error { return nil }
func (hello) Start(context.Context, *ocf.Resource) error    { return nil }
func (hello) Stop(context.Context, *ocf.Resource) error     { return nil }
func (hello) Monitor(_ context.Context, r *ocf.Resource) (ocf.Status, error) {
	return ocf.NotRunning, ocf.Stopped("%s is not running", r.Params.String("name"))
}

const helloXML = `<?xml version="1.0"?>
<resource-agent name="Hello">
<version>1.1</version>
<parameters>
<parameter name="name"><content type="string" default="world"/></parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s"/>
<action name="validate-all" timeout="20s"/>
<action name="meta-data" timeout="5s"/>
</actions>
</resource-agent>
`

// An agent is a Go type, its meta-data and a name; a multi-call binary's
// main hands it to ocf.Main with os.Args and os.Environ() and exits with
// the status. Here Pacemaker probes the resource.
func Example() {
	def := ocf.Definition{Name: "Hello", Metadata: []byte(helloXML), New: func() ocf.Agent { return hello{} }}
	status := ocf.Main(def, ocf.Invocation{
		Args:    []string{"/usr/lib/ocf/resource.d/ocfbox/Hello", "monitor"},
		Environ: []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RESOURCE_INSTANCE=hello1", "OCF_RESKEY_CRM_meta_timeout=20000"},
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
	})
	fmt.Println(int(status), status)
	// Output: 7 OCF_NOT_RUNNING
}
