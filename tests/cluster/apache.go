package cluster

import (
	"context"
	"fmt"
	"os"
)

// ApacheDir holds, on every node, a web server's configuration, run files
// and document root: in the node's /run, so every boot starts clean, and
// at the same path on every node, as an apache primitive's configfile
// parameter needs.
const ApacheDir = "/run/" + Prefix + "apache"

// ApacheConfigFile is the configfile parameter for an apache primitive on
// nodes prepared by SetupApache.
const ApacheConfigFile = ApacheDir + "/apache2.conf"

// apacheConf is a minimal apache2 on port 80 of every address of the
// node, with /server-status for the agents' monitor.
const apacheConf = `# ocfbox cluster harness: a minimal apache2 on port 80 of every address
ServerRoot /etc/apache2
ServerName localhost
DefaultRuntimeDir ` + ApacheDir + `
PidFile ` + ApacheDir + `/apache2.pid
ErrorLog ` + ApacheDir + `/error.log
LogLevel warn
Listen 80
User www-data
Group www-data
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_host_module /usr/lib/apache2/modules/mod_authz_host.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule status_module /usr/lib/apache2/modules/mod_status.so
DocumentRoot ` + ApacheDir + `/htdocs
DirectoryIndex index.html
<Directory ` + ApacheDir + `/htdocs>
	Require all granted
</Directory>
<Location /server-status>
	SetHandler server-status
	Require local
</Location>
`

// ApachePage is the page a node prepared by SetupApache serves: its name,
// so a client can tell which node answered.
func ApachePage(node string) string { return "served by " + node + "\n" }

// SetupApache is a NodeSetup that prepares a node for an apache
// primitive with configfile=ApacheConfigFile (the web server itself is
// the agent's to start).
func SetupApache(_ context.Context, n *Node) error {
	if err := os.MkdirAll(n.Path(ApacheDir+"/htdocs"), 0o755); err != nil {
		return fmt.Errorf("%s: apache: %w", n.Name, err)
	}
	if err := os.WriteFile(n.Path(ApacheConfigFile), []byte(apacheConf), 0o644); err != nil {
		return fmt.Errorf("%s: apache: %w", n.Name, err)
	}
	if err := os.WriteFile(n.Path(ApacheDir+"/htdocs/index.html"), []byte(ApachePage(n.Name)), 0o644); err != nil {
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
