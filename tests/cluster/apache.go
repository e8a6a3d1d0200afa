package cluster

import (
	"context"
	"fmt"

	"github.com/ocfbox/ocfbox/internal/apachetest"
)

// ApacheDir holds, on every node, a web server's configuration, run files
// and document root: in the node's /run, so every boot starts clean, and
// at the same path on every node, as an apache primitive's configfile
// parameter needs.
const ApacheDir = "/run/" + Prefix + "apache"

// ApacheConfigFile is the configfile parameter for an apache primitive on
// nodes prepared by SetupApache.
const ApacheConfigFile = ApacheDir + "/" + apachetest.ConfigName

// ApachePage is the page a node prepared by SetupApache serves: its name,
// so a client can tell which node answered.
func ApachePage(node string) string { return "served by " + node + "\n" }

// SetupApache is a NodeSetup that prepares a node for an apache
// primitive with configfile=ApacheConfigFile (the web server itself is
// the agent's to start): an internal/apachetest site in ApacheDir, on
// port 80 of every IPv4 address of the node (the VIP's too, whenever it
// arrives), serving ApachePage at / and /server-status for the agents'
// monitor.
func SetupApache(_ context.Context, n *Node) error {
	_, err := apachetest.Write(n.Path(ApacheDir), apachetest.Options{Listen: "0.0.0.0:80", Root: ApacheDir, Page: ApachePage(n.Name)})
	if err != nil {
		return fmt.Errorf("%s: apache: %w", n.Name, err)
	}
	return nil
}

// HTTPGet fetches url with curl from the client namespace (5 s at most)
// and returns the body.
func (c *Cluster) HTTPGet(ctx context.Context, url string) (string, error) {
	out, err := output(c.ClientCommand(ctx, "curl", "--silent", "--show-error", "--fail", "--max-time", "5", url))
	if err != nil {
		return "", fmt.Errorf("from the client: %w", err)
	}
	return string(out), nil
}
