// Command fence_ocfbox is the test labs' fence agent (package
// internal/fencelab): Pacemaker's fencer runs it with the fence-agents
// stdin protocol (key=value lines), and it asks the lab's fence service
// at ipaddr:ipport to power the node off or on.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/internal/fencelab"
)

const metadata = `<?xml version="1.0" ?>
<resource-agent name="fence_ocfbox" shortdesc="Fence agent of the ocfbox test labs">
<longdesc>fence_ocfbox asks the fence service of an ocfbox test lab (internal/fencelab), over the lab network, to cut or restore a node's power.</longdesc>
<vendor-url>https://github.com/ocfbox/ocfbox</vendor-url>
<parameters>
	<parameter name="action" unique="0" required="1">
		<getopt mixed="-o, --action=[action]" />
		<content type="string" default="reboot" />
		<shortdesc lang="en">Fencing action</shortdesc>
	</parameter>
	<parameter name="ipaddr" unique="0" required="1">
		<getopt mixed="-a, --ip=[ip]" />
		<content type="string" />
		<shortdesc lang="en">Address of the lab's fence service</shortdesc>
	</parameter>
	<parameter name="ipport" unique="0" required="1">
		<getopt mixed="-u, --ipport=[port]" />
		<content type="integer" />
		<shortdesc lang="en">TCP port of the lab's fence service</shortdesc>
	</parameter>
	<parameter name="plug" unique="0" required="0" obsoletes="port">
		<getopt mixed="-n, --plug=[id]" />
		<content type="string" />
		<shortdesc lang="en">Node to fence</shortdesc>
	</parameter>
	<parameter name="port" unique="0" required="0" deprecated="1">
		<getopt mixed="-n, --plug=[id]" />
		<content type="string" />
		<shortdesc lang="en">Node to fence</shortdesc>
	</parameter>
	<parameter name="timeout" unique="0" required="0">
		<content type="second" default="60" />
		<shortdesc lang="en">Seconds to wait for the service</shortdesc>
	</parameter>
</parameters>
<actions>
	<action name="on" automatic="0"/>
	<action name="off" />
	<action name="reboot" />
	<action name="status" />
	<action name="list" />
	<action name="list-status" />
	<action name="monitor" />
	<action name="metadata" />
	<action name="validate-all" />
</actions>
</resource-agent>
`

func main() { os.Exit(run(os.Stdin, os.Stdout, os.Stderr, os.Args[1:])) }

// run reads key=value lines from stdin (and --key=value arguments) and
// carries out the action. Exit: 0 done (status: on), 1 failure, 2 status
// off, as fence-agents do.
func run(stdin io.Reader, stdout, stderr io.Writer, args []string) int {
	opts := map[string]string{}
	for _, a := range args {
		if k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok {
			opts[k] = v
		}
	}
	if len(args) == 0 {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if k, v, ok := strings.Cut(line, "="); ok {
				opts[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	action := opts["action"]
	if action == "" {
		action = opts["option"] // the old name
	}
	if action == "" {
		action = "reboot"
	}
	if action == "metadata" {
		io.WriteString(stdout, metadata)
		return 0
	}
	node := opts["plug"]
	if node == "" {
		node = opts["port"]
	}
	if node == "" {
		node = opts["nodename"]
	}
	addr := net.JoinHostPort(opts["ipaddr"], opts["ipport"])
	if opts["ipaddr"] == "" || opts["ipport"] == "" {
		fmt.Fprintln(stderr, "fence_ocfbox: ipaddr and ipport are required")
		return 1
	}
	if action == "validate-all" {
		return 0
	}
	switch action {
	case "off", "on", "reboot", "status":
		if node == "" {
			fmt.Fprintf(stderr, "fence_ocfbox: %s needs plug (or port)\n", action)
			return 1
		}
	case "list", "list-status", "monitor":
		node = ""
	default:
		fmt.Fprintf(stderr, "fence_ocfbox: unknown action %q\n", action)
		return 1
	}
	timeout := 60 * time.Second
	if t, err := time.ParseDuration(opts["timeout"] + "s"); err == nil && t > 0 {
		timeout = t
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "fence_ocfbox: %s %s: %v\n", action, node, err)
		return 1
	}
	wireAction := action
	if action == "list-status" {
		wireAction = "list"
	}
	words, err := fencelab.Ask(ctx, conn, wireAction, node)
	if err != nil {
		fmt.Fprintf(stderr, "fence_ocfbox: %s %s: %v\n", action, node, err)
		return 1
	}
	switch action {
	case "status":
		if len(words) > 0 && words[0] == "off" {
			fmt.Fprintln(stdout, "Status: OFF")
			return 2
		}
		fmt.Fprintln(stdout, "Status: ON")
	case "list":
		for _, w := range words {
			fmt.Fprintf(stdout, "%s,\n", w)
		}
	case "list-status":
		for _, w := range words {
			fmt.Fprintf(stdout, "%s,,on\n", w)
		}
	}
	return 0
}
