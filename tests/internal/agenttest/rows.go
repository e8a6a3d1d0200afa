package agenttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/libvirttest"
)

// Row says what one agent needs to run outside a cluster. Every agent in
// agents.All has one; the conformance suite fails for an agent without a
// row, so adding an agent means adding its row here.
type Row struct {
	// Agent is the agent's name, as in agents.All.
	Agent string
	// Reference is the shell agent it replaces, which the suites run side
	// by side with it.
	Reference string
	// ReferenceOCFTesterNote, when set, says why the reference agent is
	// not run through ocf-tester for comparison (e.g. it never finishes).
	ReferenceOCFTesterNote string
	// OCFTesterInLab, when set, says where ocf-tester runs on the agent
	// instead of this host, whose kernel lacks what it manages (OCFS2,
	// configfs, the DLM): the UML lab.
	OCFTesterInLab string
	// Netns runs the agent (and ocf-tester, crm_resource) inside a network
	// namespace the test creates, never in the host's.
	Netns bool
	// MountNS runs the agent (and ocf-tester, crm_resource) in a private
	// mount namespace (agents that mount).
	MountNS bool
	// Params are the parameters of a resource that can start and stop in
	// the sandbox.
	Params func(sb *Sandbox) map[string]string
	// Env prepares what the agent needs from the host in the sandbox
	// (fake cluster tools, a veth pair in its namespace, …) and returns
	// the environment variables that point the agent at it; nil when it
	// needs nothing.
	Env func(t testing.TB, sb *Sandbox) []string
}

// Rows are the agents' rows, in the order of agents.All.
var Rows = []Row{
	{
		Agent:     "Dummy",
		Reference: "/usr/lib/ocf/resource.d/heartbeat/Dummy",
		Params: func(sb *Sandbox) map[string]string {
			return map[string]string{"state": sb.Path("Dummy.state")}
		},
	},
	{
		Agent:     "Stateful",
		Reference: "/usr/lib/ocf/resource.d/pacemaker/Stateful",
		Params: func(sb *Sandbox) map[string]string {
			return map[string]string{"state": sb.Path("Stateful.state")}
		},
		// Stateful sets its promotion score with crm_attribute, which
		// needs a running cluster: a fake in HA_SBIN_DIR records it instead.
		Env: func(t testing.TB, sb *Sandbox) []string {
			return []string{"HA_SBIN_DIR=" + FakeSbin(t, sb)}
		},
	},
	{
		Agent:     "IPaddr2",
		Reference: "/usr/lib/ocf/resource.d/heartbeat/IPaddr2",
		Netns:     true,
		// The NIC and netmask come from the routing table, as in most
		// clusters: the namespace's veth holds the subnet's base address.
		Params: func(sb *Sandbox) map[string]string {
			return map[string]string{"ip": "192.0.2.10"}
		},
		Env: func(t testing.TB, sb *Sandbox) []string {
			sb.Netns.Veth(t, "eth0", sb.Netns, "eth0-peer")
			sb.Netns.MustRun(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
			return nil
		},
	},
	{
		Agent:     "apache",
		Reference: "/usr/lib/ocf/resource.d/heartbeat/apache",
		// A web site of the sandbox's own on 127.0.0.1; envfiles names a
		// file that does not exist, which both agents skip, so that
		// neither reads Debian's /etc/apache2/envvars (the default).
		Params: func(sb *Sandbox) map[string]string {
			return map[string]string{"configfile": apacheConfig(sb), "envfiles": sb.Path("no-envvars")}
		},
		Env: apacheEnv,
	},
	{
		Agent:     "VirtualDomain",
		Reference: "/usr/lib/ocf/resource.d/heartbeat/VirtualDomain",
		// ocf-tester's migrate_from has no guest arriving: the reference
		// waits for it until it is killed (ocfbox returns 1 at its deadline).
		ReferenceOCFTesterNote: "its migrate_from loops until killed when no guest arrives",
		// force_stop: the test guest has no operating system, so an ACPI
		// shutdown would only end at the stop's deadline.
		Params: func(sb *Sandbox) map[string]string {
			return map[string]string{"config": sb.Path("guest.xml"), "force_stop": "1"}
		},
		// A private libvirtd running qemu under TCG, reached through
		// LIBVIRT_DEFAULT_URI as both agents (and virsh) honour it.
		Env: func(t testing.TB, sb *Sandbox) []string {
			d := libvirttest.Start(t)
			name := "ocfbox-" + strings.NewReplacer("/", "-", ".", "-").Replace(filepath.Base(sb.Dir))
			if err := os.WriteFile(sb.Path("guest.xml"), []byte(libvirttest.GuestXML(name, "")), 0o644); err != nil {
				t.Fatalf("write guest config: %v", err)
			}
			return []string{"LIBVIRT_DEFAULT_URI=" + d.URI()}
		},
	},
	{
		Agent:     "Filesystem",
		Reference: "/usr/lib/ocf/resource.d/heartbeat/Filesystem",
		MountNS:   true,
		// A tmpfs on a directory of the sandbox: a real mount, in the
		// mount namespace of the command, that needs no device.
		Params: func(sb *Sandbox) map[string]string {
			return map[string]string{"device": "ocfbox-conformance", "fstype": "tmpfs", "directory": sb.Path("mnt")}
		},
	},
	{
		Agent:     "drbd",
		Reference: "/usr/lib/ocf/resource.d/linbit/drbd",
		// This host has no DRBD kernel module: fake drbd-utils replay
		// states recorded from a real DRBD 8.4.11 kernel (drbdEnv).
		ReferenceOCFTesterNote: "without /proc/drbd (no DRBD module on this host) it cannot start",
		Params: func(sb *Sandbox) map[string]string {
			return map[string]string{"drbd_resource": "r0", "drbdconf": sb.Path("drbd.conf")}
		},
		Env: drbdEnv,
	},
	{
		Agent:          "o2cb",
		Reference:      "/usr/lib/ocf/resource.d/pacemaker/o2cb",
		OCFTesterInLab: "it needs configfs, OCFS2 and a running dlm_controld, which this host's kernel lacks: a UML node of the lab has them; agents/o2cb's tests cover its actions on a fake sysfs and /proc",
		Params:         func(sb *Sandbox) map[string]string { return map[string]string{} },
	},
}

// LookupRow finds an agent's row.
func LookupRow(agent string) (Row, bool) {
	for _, r := range Rows {
		if r.Agent == agent {
			return r, true
		}
	}
	return Row{}, false
}

// Environ is the environment the row's agent runs with in sb: the
// sandbox's, plus what the row's Env prepares.
func (r Row) Environ(t testing.TB, sb *Sandbox) []string {
	var extra []string
	if r.Env != nil {
		extra = r.Env(t, sb)
	}
	return sb.Environ(extra...)
}
