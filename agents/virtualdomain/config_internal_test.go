package virtualdomain

import (
	"testing"

	"github.com/ocfbox/ocfbox/ocf"
)

func TestMigrationURIs(t *testing.T) {
	tests := []struct {
		name         string
		s            settings
		target       string
		remote, data string
		wantErr      bool
	}{
		{"transport added to the local URI", settings{URI: "qemu:///system", Transport: "tcp"}, "node2",
			"qemu+tcp://node2/system", "", false},
		{"no transport: libvirt's default (tls)", settings{URI: "qemu:///system"}, "node2",
			"qemu://node2/system", "", false},
		{"user and ssh", settings{URI: "qemu:///system", Transport: "ssh", User: "hauser"}, "node2",
			"qemu+ssh://hauser@node2/system", "", false},
		{"a transport in the local URI is replaced", settings{URI: "qemu+unix:///system", Transport: "TCP"}, "node2",
			"qemu+tcp://node2/system", "", false},
		{"port kept", settings{URI: "qemu+tcp://node1:16600/system"}, "node2",
			"qemu+tcp://node2:16600/system", "", false},
		{"migration network suffix after the first label", settings{URI: "qemu:///system", Transport: "tcp", NetSuffix: "-mig", MigratePort: 49200},
			"node2.example.com", "qemu+tcp://node2-mig.example.com/system", "tcp:node2-mig.example.com:49200", false},
		{"xen data URI is the host", settings{URI: "xen:///system", NetSuffix: "-mig"}, "node2",
			"xen://node2-mig/system", "node2-mig", false},
		{"lxc has no data URI", settings{URI: "lxc:///system", NetSuffix: "-mig"}, "node2",
			"lxc://node2-mig/system", "", false},
		{"remoteuri and migrateuri with %n (the plain node name)", settings{URI: "qemu:///system", RemoteURI: "qemu+ssh://%n/system",
			MigrateURI: "tcp://%n-mig", User: "hauser", NetSuffix: "-x"}, "node2", "qemu+ssh://node2/system", "tcp://node2-mig", false},
		{"--migrateuri from migrate_options", settings{URI: "qemu:///system", Transport: "tcp", OptMigrateURI: "tcp://%n:49300", NetSuffix: "-mig"},
			"node2", "qemu+tcp://node2-mig/system", "tcp://node2:49300", false},
		{"migrateuri wins over --migrateuri", settings{URI: "qemu:///system", MigrateURI: "tcp://a", OptMigrateURI: "tcp://b"},
			"node2", "qemu://node2/system", "tcp://a", false},
		{"the local socket is not the target's", settings{URI: "qemu:///system?socket=/tmp/x/sock&mode=legacy&keyfile=k", Transport: "ssh"},
			"node2", "qemu+ssh://node2/system?keyfile=k", "", false},
		{"a URI without a path cannot be rewritten", settings{URI: "qemu+tcp://node1"}, "node2", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote, data, err := tt.s.migrationURIs(tt.target)
			if tt.wantErr {
				if ocf.StatusOf(err) != ocf.ErrConfigured {
					t.Fatalf("migrationURIs = %q, %q, %v; want a configuration error", remote, data, err)
				}
				return
			}
			if err != nil || remote != tt.remote || data != tt.data {
				t.Fatalf("migrationURIs(%q) = %q, %q, %v; want %q, %q", tt.target, remote, data, err, tt.remote, tt.data)
			}
		})
	}
}

func TestSplitNode(t *testing.T) {
	for _, tt := range []struct{ node, suffix, want string }{
		{"node2", "-mig", "node2-mig"},
		{"node2.example.com", "-mig", "node2-mig.example.com"},
		{"node2", "", "node2"},
	} {
		if got := splitNode(tt.node, tt.suffix); got != tt.want {
			t.Errorf("splitNode(%q, %q) = %q, want %q", tt.node, tt.suffix, got, tt.want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	c, err := parseConfig("/x.xml", []byte(`<domain type='kvm'>
  <name> web </name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='volume'><source pool='images' volume='web.qcow2'/></disk>
    <disk type='volume'><source pool='images' volume='web-data.qcow2'/></disk>
    <interface type='network'><source network='default'/></interface>
  </devices>
</domain>`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "web" || c.UUID.String() != "4dea22b3-1d52-d8f3-2516-782e98ab3fa0" || c.Emulator != "/usr/bin/qemu-system-x86_64" ||
		len(c.Pools) != 1 || c.Pools[0] != "images" || len(c.Networks) != 1 || c.Networks[0] != "default" {
		t.Fatalf("parseConfig = %+v", c)
	}
	for _, bad := range []string{"", "<domain>", "<domain></domain>", "<network><name>x</name></network>",
		"<domain><name>x</name><uuid>nope</uuid></domain>"} {
		if _, err := parseConfig("/bad.xml", []byte(bad)); ocf.StatusOf(err) != ocf.ErrInstalled {
			t.Errorf("parseConfig(%q) = %v; want an ErrInstalled error", bad, err)
		}
	}
}
