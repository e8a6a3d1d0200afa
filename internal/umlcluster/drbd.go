package umlcluster

import (
	"fmt"
	"path/filepath"
	"strings"
)

// DRBD configures one DRBD 8.4 resource between two nodes, on their
// private disks (/dev/ubda, internal metadata). The harness writes its
// configuration to /etc/drbd.d in each node (a tmpfs), so the host's
// /etc/drbd.conf, which includes it, is the resource's configuration
// inside the nodes: the agents' default drbdconf and the kernel's helpers
// (plain drbdadm) find it. Cluster.DRBDConf() is the same as one file on
// the host. At a node's first boot the harness creates the metadata.
type DRBD struct {
	Resource string // default r0
	Minor    int    // /dev/drbd<Minor>; default 0
	Nodes    []int  // the two nodes; default 1, 2
	Port     int    // default 7789
	// Primary, when not 0, is the node whose first boot makes its side
	// UpToDate (drbdadm primary --force) and, with FSType, creates a file
	// system on it, then takes the resource down again: Pacemaker starts a
	// pair that resyncs from it. 0 leaves both sides Inconsistent.
	Primary int
	FSType  string // mkfs.<FSType> -q on the primed device; "" for none
	// FencePeer adds resource-level fencing: `fencing resource-only` with
	// drbd-utils' crm-fence-peer.sh / crm-unfence-peer.sh handlers.
	FencePeer bool
	// Net is extra options of the net section (default
	// "protocol C; ping-int 2;": a dead peer noticed in about 2 s).
	Net string
}

func (d *DRBD) defaults() {
	if d.Resource == "" {
		d.Resource = "r0"
	}
	if len(d.Nodes) == 0 {
		d.Nodes = []int{1, 2}
	}
	if d.Port == 0 {
		d.Port = 7789
	}
	if d.Net == "" {
		d.Net = "protocol C; ping-int 2;"
	}
}

// Device is the DRBD device, /dev/drbd<Minor>.
func (d *DRBD) Device() string { return fmt.Sprintf("/dev/drbd%d", d.Minor) }

// DRBDConf is the host path of the DRBD configuration (drbd.conf, with
// its global section), readable in every node at the same path.
func (c *Cluster) DRBDConf() string { return filepath.Join(c.cfg.Dir, "drbd.conf") }

// conf is the configuration text; withGlobal adds the global section
// (the /etc/drbd.d copy gets it from global_common.conf).
func (d *DRBD) conf(withGlobal bool) string {
	var b strings.Builder
	if withGlobal {
		b.WriteString("global { usage-count no; }\n")
	}
	fmt.Fprintf(&b, "resource %s {\n", d.Resource)
	fmt.Fprintf(&b, "\tdevice %s;\n\tdisk /dev/ubda;\n\tmeta-disk internal;\n", d.Device())
	fmt.Fprintf(&b, "\tnet { %s }\n", d.Net)
	fencing := ""
	if d.FencePeer {
		fencing = " fencing resource-only;"
	}
	fmt.Fprintf(&b, "\tdisk { c-plan-ahead 0; resync-rate 40M;%s }\n", fencing)
	if d.FencePeer {
		b.WriteString("\thandlers { fence-peer \"/usr/lib/drbd/crm-fence-peer.sh\"; after-resync-target \"/usr/lib/drbd/crm-unfence-peer.sh\"; }\n")
	}
	for _, i := range d.Nodes {
		fmt.Fprintf(&b, "\ton %s { address %s:%d; }\n", NodeName(i), NodeAddr(i), d.Port)
	}
	b.WriteString("}\n")
	return b.String()
}

func (d *DRBD) firstSetup(c *Cluster, i int) [][]string {
	conf := c.DRBDConf()
	steps := [][]string{{"drbdadm", "-c", conf, "create-md", "--force", d.Resource}}
	if i == d.Primary {
		steps = append(steps,
			[]string{"drbdadm", "-c", conf, "up", d.Resource},
			[]string{"drbdadm", "-c", conf, "primary", "--force", d.Resource})
		if d.FSType != "" {
			steps = append(steps, []string{"mkfs." + d.FSType, "-q", d.Device()})
		}
		steps = append(steps, []string{"drbdadm", "-c", conf, "down", d.Resource})
	}
	return steps
}
