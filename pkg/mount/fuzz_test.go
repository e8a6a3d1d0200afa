package mount

import (
	"fmt"
	"strings"
	"testing"
)

// escape writes a field as the kernel does in mountinfo (space, tab,
// newline and backslash as octal escapes).
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func format(m Mount) string {
	return fmt.Sprintf("%d %d %d:%d %s %s %s - %s %s %s\n", m.ID, m.Parent, m.Major, m.Minor,
		escape(m.Root), escape(m.Mountpoint), m.Options, escape(m.FSType), escape(m.Source), m.SuperOptions)
}

// FuzzParse feeds arbitrary tables to Parse: it must never panic, and
// every table it accepts must come back unchanged when written out again
// the way the kernel writes it, so that what the agents compare (mount
// points, sources, device numbers) is exactly what the kernel said.
func FuzzParse(f *testing.F) {
	f.Add(sampleMountinfo)
	f.Add("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n")
	f.Add("44 26 0:52 / /mnt/with\\040space ro - tmpfs my\\040tmp rw\n")
	f.Add("1 1 0:1 / / rw shared:1 master:2 propagate_from:3 unbindable - rootfs rootfs rw\n")
	f.Add("21 26 0:20 / /proc rw - proc\n")
	f.Add("x y 1:2 / /a rw - t s o\n")
	f.Add("5 1 8:1 / /a\\ b rw - ext4 /dev/sda1 rw\n")
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		var out strings.Builder
		for _, m := range tab {
			if !strings.HasPrefix(m.Mountpoint, "/") {
				t.Fatalf("accepted a relative mount point %q", m.Mountpoint)
			}
			if strings.ContainsAny(m.Options, " ") || strings.ContainsAny(m.SuperOptions, " ") {
				// Fields are split on spaces; options never hold one.
				t.Fatalf("options with a space: %+v", m)
			}
			out.WriteString(format(m))
		}
		again, err := Parse(strings.NewReader(out.String()))
		if err != nil {
			t.Fatalf("the table written back does not parse: %v\n%s", err, out.String())
		}
		if len(again) != len(tab) {
			t.Fatalf("round trip: %d mounts, then %d", len(tab), len(again))
		}
		for i := range tab {
			if again[i] != tab[i] {
				t.Fatalf("round trip changed a mount:\n%+v\n%+v", tab[i], again[i])
			}
		}
		if len(tab) > 0 {
			m := tab[len(tab)-1]
			if got, ok := tab.At(m.Mountpoint); !ok || got != m {
				t.Fatalf("At(%q) is not the last mount listed there", m.Mountpoint)
			}
			for _, b := range tab.Beneath(m.Mountpoint) {
				if !strings.HasPrefix(b.Mountpoint, strings.TrimSuffix(m.Mountpoint, "/")+"/") || b.Mountpoint == m.Mountpoint {
					t.Fatalf("Beneath(%q) holds %q", m.Mountpoint, b.Mountpoint)
				}
			}
		}
	})
}
