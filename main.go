// Command ocfbox is a suite of Pacemaker OCF resource agents in one
// binary. Installed as symlinks under /usr/lib/ocf/resource.d/<provider>/,
// it runs the agent named by the link (argv[0]) with the action in
// argv[1], exactly as pacemaker-execd calls a shell agent. Run as
// "ocfbox", it is a command-line tool for people (see cli.go).
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ocfbox/ocfbox/agents"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/mount"
	"github.com/ocfbox/ocfbox/pkg/netif"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// IPaddr2 re-runs this executable, detached, to send announcements in
	// the background (arp_bg).
	if code, ok := netif.RunAnnouncer(os.Args); ok {
		os.Exit(code)
	}
	// Filesystem's deep monitors do their I/O in a child (pkg/mount).
	if code, ok := mount.RunCheck(os.Args, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args, os.Environ(), os.Stdout, os.Stderr))
}

// run dispatches on the name the binary was called by: an agent's name
// runs that agent; anything else is the human CLI.
func run(args, environ []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		name := filepath.Base(args[0])
		if def, ok := agents.Lookup(name); ok {
			return int(ocf.Main(def, ocf.Invocation{Args: args, Environ: environ, Stdout: stdout, Stderr: stderr}))
		}
		if inProviderDir(args[0]) && name != "ocfbox" {
			// A link left from a build that had this agent: tell
			// Pacemaker it is not installed, not a CLI usage error.
			fmt.Fprintf(stderr, "ocf-exit-reason:ocfbox %s has no agent named %s\n", version, name)
			return int(ocf.ErrInstalled)
		}
	}
	return runCLI(args, environ, stdout, stderr)
}

// inProviderDir reports whether path is <something>/resource.d/<provider>/<name>,
// where Pacemaker runs OCF agents from.
func inProviderDir(path string) bool {
	return filepath.Base(filepath.Dir(filepath.Dir(path))) == "resource.d"
}
