package virt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Hypervisor URIs come from the operator (hypervisor, migrateuri,
// remoteuri) and from libvirt.conf: ParseURI must not panic, and a URI
// it accepts has a driver and an endpoint decision.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"qemu:///system", "qemu+tcp://node2/system", "qemu+ssh://root@node2:2222/system?keyfile=/k",
		"qemu:///system?socket=/run/x/libvirt-sock", "test:///default", "xen:///", "lxc:///system",
		"qemu+unix:///system?mode=direct", "qemu+tls://[2001:db8::1]:16514/system", "::not a uri::", "qemu", "//x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		if u.Driver == "" {
			t.Fatalf("ParseURI(%q): no driver", s)
		}
		u.EffectiveTransport()
		u.DaemonURI()
		u.Endpoint(0)
		u.Endpoint(1000)
	})
}

func FuzzParseUUID(f *testing.F) {
	f.Add("6f1b6a3e-0c1f-4d2e-9a8b-1c2d3e4f5a6b")
	f.Add("6F1B6A3E0C1F4D2E9A8B1C2D3E4F5A6B")
	f.Add(" 6f1b6a3e-0c1f-4d2e-9a8b-1c2d3e4f5a6b\n")
	f.Add("6f1b6a3e-0c1f-4d2e-9a8b")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUUID(s)
		if err != nil {
			return
		}
		again, err := ParseUUID(u.String())
		if err != nil || again != u {
			t.Fatalf("ParseUUID(%q) = %v, which does not read back (%v, %v)", s, u, again, err)
		}
	})
}

func FuzzParseShutdownMode(f *testing.F) {
	for _, s := range []string{"", "acpi", "acpi,agent", "agent, initctl ,signal,paravirt", "bogus", ",", "ACPI"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseShutdownMode(s)
		if err != nil {
			return
		}
		again, err := ParseShutdownMode(m.String())
		if m != 0 && (err != nil || again != m) {
			t.Fatalf("ParseShutdownMode(%q) = %v, which does not read back (%v, %v)", s, m, again, err)
		}
	})
}

// migrate_options is split on white space by the agent, as the reference
// passes it to virsh.
func FuzzParseMigrateOptions(f *testing.F) {
	for _, s := range []string{
		"--compressed --auto-converge", "--bandwidth 100 --timeout 60", "--migrateuri tcp://n2:49152",
		"--listen-address 0.0.0.0 --parallel --parallel-connections 4", "--direct", "--bandwidth", "--bandwidth -1 --comp-methods xbzrle,zlib",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p MigrateParams
		ParseMigrateOptions(strings.Fields(s), &p)
	})
}

// libvirt.conf is read for uri_default and uri_aliases.
func FuzzLibvirtConf(f *testing.F) {
	f.Add("uri_default = \"qemu:///system\"\nuri_aliases = [\n  \"hail=qemu+ssh://root@hail.cloud.example.com/system\",\n  'sleet=qemu+ssh://root@sleet/system', # c\n]\n")
	f.Add("uri_default='lxc:///system' # x\n#uri_default = \"x\"\nuri_aliases = [ \"broken\n")
	f.Add("[[[[\n]]]]]]\n=\n==\nuri_default")
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(t.TempDir(), "libvirt.conf")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		DefaultURI(nil, path, 0)
		DefaultURI([]string{"LIBVIRT_DEFAULT_URI=hail"}, path, 1000)
		ResolveAlias("sleet", path)
	})
}

// /proc/<pid>/cmdline is what the process chose to put there.
func FuzzMatchesGuest(f *testing.F) {
	f.Add([]byte("/usr/bin/qemu-system-x86_64\x00-name\x00guest=vm1,debug-threads=on\x00-S\x00"), "vm1")
	f.Add([]byte("/usr/libexec/qemu-kvm\x00-name\x00vm,,1\x00"), "vm,1")
	f.Add([]byte("/usr/lib/libvirt/libvirt_lxc\x00--name\x00c1\x00"), "c1")
	f.Add([]byte("\x00\x00-name"), "")
	f.Fuzz(func(t *testing.T, cmdline []byte, name string) {
		for _, fam := range []string{FamilyQEMU, FamilyLXC} {
			// A match comes from the name itself (qemu escapes a comma
			// in it as ",,").
			if matchesGuest(cmdline, fam, name) && !strings.Contains(strings.ReplaceAll(string(cmdline), ",,", ","), name) {
				t.Fatalf("matchesGuest(%q, %s, %q) without the name in it", cmdline, fam, name)
			}
		}
	})
}
