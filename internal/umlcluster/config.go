package umlcluster

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/ocfbox/ocfbox/internal/umlcluster/wire"
)

// Directories every node mounts as tmpfs, when the host has them (the
// mount point must exist; the root is the host's).
var privateDirs = []string{
	"/var/log", "/var/tmp", "/var/lib/pacemaker", "/var/lib/corosync", "/var/lib/heartbeat",
	"/var/lib/drbd", "/etc/corosync", "/etc/drbd.d", "/etc/ocfs2",
}

// Programs copied into the cluster's directory, so that the nodes find
// them after hiding the host's /tmp.
func (c *Cluster) binDir() string { return filepath.Join(c.cfg.Dir, "bin") }

func copyProgram(src, dir string) (string, error) {
	dst := filepath.Join(dir, filepath.Base(src))
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	return dst, out.Close()
}

func (c *Cluster) corosyncConf() string { return filepath.Join(c.cfg.Dir, "corosync.conf") }
func (c *Cluster) cibSeed() string      { return filepath.Join(c.cfg.Dir, "cib-seed.xml") }

// writeConfig writes what every node reads at boot: the programs,
// corosync.conf, the seed CIB and the DRBD configuration.
func (c *Cluster) writeConfig(ctx context.Context) error {
	if err := os.MkdirAll(c.binDir(), 0o755); err != nil {
		return fmt.Errorf("umlcluster: %w", err)
	}
	var err error
	if c.init, err = copyProgram(c.init, c.binDir()); err != nil {
		return fmt.Errorf("umlcluster: node init: %w", err)
	}
	if c.fence != nil {
		if c.fence.agent, err = copyProgram(c.fence.agent, c.binDir()); err != nil {
			return fmt.Errorf("umlcluster: fence agent: %w", err)
		}
	}

	// udpu rather than knet: knet's threads and buffers cost a UML node
	// about twice the memory (and mlockall-faulted, tens of seconds at
	// start on a loaded host); the agents under test do not see the
	// difference, DLM has its own connections.
	var b strings.Builder
	fmt.Fprintf(&b, "totem {\n\tversion: 2\n\tcluster_name: %s\n\ttransport: udpu\n\tcrypto_cipher: none\n\tcrypto_hash: none\n\ttoken: %d\n}\n",
		ClusterName, c.cfg.Token.Milliseconds())
	b.WriteString("nodelist {\n")
	for i := 1; i <= c.cfg.Nodes; i++ {
		fmt.Fprintf(&b, "\tnode {\n\t\tring0_addr: %s\n\t\tname: %s\n\t\tnodeid: %d\n\t}\n", NodeAddr(i), NodeName(i), i)
	}
	b.WriteString("}\nquorum {\n\tprovider: corosync_votequorum\n")
	if c.cfg.Nodes == 2 {
		b.WriteString("\ttwo_node: 1\n")
	}
	b.WriteString("}\nlogging {\n\tto_logfile: yes\n\tlogfile: @LOGFILE@\n\tto_syslog: no\n\tto_stderr: no\n\ttimestamp: hires\n}\n")
	if err := os.WriteFile(c.corosyncConf(), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("umlcluster: %w", err)
	}
	if err := c.writeCIB(ctx); err != nil {
		return err
	}
	if d := c.cfg.DRBD; d != nil {
		if err := os.WriteFile(c.DRBDConf(), []byte(d.conf(true)), 0o644); err != nil {
			return fmt.Errorf("umlcluster: %w", err)
		}
	}
	return nil
}

// Properties the harness sets unless Config.Properties does.
func (c *Cluster) properties() map[string]string {
	p := map[string]string{
		"stonith-enabled":  fmt.Sprint(!c.cfg.NoFencing),
		"no-quorum-policy": "stop",
		"dc-deadtime":      "5s",
	}
	maps.Copy(p, c.cfg.Properties)
	return p
}

// writeCIB builds the seed CIB from Pacemaker's empty one and checks it
// with crm_verify.
func (c *Cluster) writeCIB(ctx context.Context) error {
	empty, err := exec.CommandContext(ctx, "cibadmin", "--empty").Output()
	if err != nil {
		return fmt.Errorf("umlcluster: cibadmin --empty: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(empty); err != nil {
		return fmt.Errorf("umlcluster: empty CIB: %w", err)
	}
	conf := doc.FindElement("//configuration")
	if conf == nil {
		return fmt.Errorf("umlcluster: empty CIB has no configuration: %s", empty)
	}
	crm := conf.SelectElement("crm_config")
	set := crm.CreateElement("cluster_property_set")
	set.CreateAttr("id", "cib-bootstrap-options")
	addNVPairs(set, "cib-bootstrap-options", c.properties())
	resources := conf.SelectElement("resources")
	var fragments []string
	if c.fence != nil {
		fragments = append(fragments, c.fence.primitive())
	}
	fragments = append(fragments, c.cfg.Resources...)
	if err := addFragments(resources, fragments); err != nil {
		return err
	}
	if err := addFragments(conf.SelectElement("constraints"), c.cfg.Constraints); err != nil {
		return err
	}
	if len(c.cfg.RscDefaults) > 0 {
		rd := conf.SelectElement("rsc_defaults")
		if rd == nil {
			rd = conf.CreateElement("rsc_defaults")
		}
		m := rd.CreateElement("meta_attributes")
		m.CreateAttr("id", "rsc-options")
		addNVPairs(m, "rsc-options", c.cfg.RscDefaults)
	}
	if len(c.cfg.OpDefaults) > 0 {
		od := conf.SelectElement("op_defaults")
		if od == nil {
			od = conf.CreateElement("op_defaults")
		}
		m := od.CreateElement("meta_attributes")
		m.CreateAttr("id", "op-options")
		addNVPairs(m, "op-options", c.cfg.OpDefaults)
	}
	doc.Indent(1)
	if err := doc.WriteToFile(c.cibSeed()); err != nil {
		return fmt.Errorf("umlcluster: %w", err)
	}
	if out, err := exec.CommandContext(ctx, "crm_verify", "--xml-file", c.cibSeed()).CombinedOutput(); err != nil {
		return fmt.Errorf("umlcluster: the seed CIB %s does not verify: %w: %s", c.cibSeed(), err, trimOutput(out))
	}
	return nil
}

func addNVPairs(parent *etree.Element, prefix string, m map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		nv := parent.CreateElement("nvpair")
		nv.CreateAttr("id", prefix+"-"+k)
		nv.CreateAttr("name", k)
		nv.CreateAttr("value", m[k])
	}
}

func addFragments(parent *etree.Element, fragments []string) error {
	for _, f := range fragments {
		d := etree.NewDocument()
		if err := d.ReadFromString(f); err != nil {
			return fmt.Errorf("umlcluster: CIB element %q: %w", f, err)
		}
		for _, e := range d.ChildElements() {
			parent.AddChild(e.Copy())
		}
	}
	return nil
}

// buildRoot is where internal/testenv builds programs (the ocfbox binary
// that testenv.InstallAgents links the agents to).
func buildRoot() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("ocfbox-test-builds-%d", os.Getuid()))
}

// initConfig is what node n's init does at this boot.
func (c *Cluster) initConfig(n *Node, first bool) *wire.Config {
	conf := &wire.Config{
		Name:         n.Name,
		ID:           n.Index,
		Addr:         fmt.Sprintf("%s/%d", n.Addr, prefixLen),
		Iface:        "vec0",
		Expose:       []string{c.cfg.Dir},
		LogDir:       n.dir,
		Modules:      c.cfg.Modules,
		FirstBoot:    first,
		Cluster:      true,
		CIB:          c.cibSeed(),
		CorosyncConf: c.corosyncConf(),
	}
	if fi, err := os.Stat(buildRoot()); err == nil && fi.IsDir() {
		conf.Expose = append(conf.Expose, buildRoot())
	}
	for _, d := range privateDirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			conf.Tmpfs = append(conf.Tmpfs, d)
		}
	}
	if c.fence != nil {
		conf.SbinOverlay = map[string]string{fenceAgentName: c.fence.agent}
	}
	if d := c.cfg.DRBD; d != nil {
		conf.Files = append(conf.Files,
			wire.File{Path: "/etc/drbd.d/global_common.conf", Data: "global { usage-count no; }\n"},
			wire.File{Path: "/etc/drbd.d/" + d.Resource + ".res", Data: d.conf(false)})
		if slices.Contains(d.Nodes, n.Index) {
			conf.FirstSetup = append(conf.FirstSetup, d.firstSetup(c, n.Index)...)
		}
	}
	if c.cfg.FirstSetup != nil {
		conf.FirstSetup = append(conf.FirstSetup, c.cfg.FirstSetup(n.Index)...)
	}
	if c.cfg.Setup != nil {
		conf.Setup = c.cfg.Setup(n.Index)
	}
	return conf
}
