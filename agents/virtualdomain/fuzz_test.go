package virtualdomain

import (
	"testing"

	"github.com/ocfbox/ocfbox/ocf"
)

// The guest's domain XML (config) and the live XML libvirt returns are
// outside input: no panic, and a config accepted has a name.
func FuzzParseConfig(f *testing.F) {
	f.Add("<domain type='qemu'><name>vm1</name><uuid>6f1b6a3e-0c1f-4d2e-9a8b-1c2d3e4f5a6b</uuid><memory>32768</memory><devices><emulator>/usr/bin/qemu-system-x86_64</emulator><disk><source pool='p' volume='v'/></disk><interface type='network'><source network='default'/></interface></devices></domain>")
	f.Add("<domain type='xen'><name> spaced </name><uuid>not-a-uuid</uuid></domain>")
	f.Add("<domain><name></name></domain>")
	f.Add("<!DOCTYPE x [<!ENTITY a 'aaaa'>]><domain><name>&a;</name></domain>")
	f.Add("<notdomain/>")
	f.Fuzz(func(t *testing.T, xml string) {
		emulatorOf(xml)
		c, err := parseConfig("/etc/libvirt/qemu/vm.xml", []byte(xml))
		if err != nil {
			if s := ocf.StatusOf(err); s != ocf.ErrInstalled {
				t.Fatalf("parseConfig error %v has status %v", err, s)
			}
			return
		}
		if c.Name == "" {
			t.Fatalf("config accepted without a name: %q", xml)
		}
	})
}
