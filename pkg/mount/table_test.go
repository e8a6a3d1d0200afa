package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const sampleMountinfo = `21 26 0:20 / /proc rw,relatime - proc proc rw
26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 26 7:0 / /srv/data rw,noatime shared:20 - ext4 /dev/loop0 rw
41 40 0:50 / /srv/data/cache rw - tmpfs tmpfs rw,size=1024k
42 41 0:51 / /srv/data/cache/deep rw - tmpfs tmpfs rw
43 26 7:0 /sub /srv/bind rw - ext4 /dev/loop0 rw
44 26 0:52 / /mnt/with\040space ro - tmpfs my\040tmp rw
45 40 7:1 / /srv/data rw - xfs /dev/loop1 rw
`

func TestParseDecodesEveryField(t *testing.T) {
	tab, err := Parse(strings.NewReader(sampleMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	if len(tab) != 8 {
		t.Fatalf("got %d mounts, want 8", len(tab))
	}
	want := Mount{ID: 43, Parent: 26, Major: 7, Minor: 0, Root: "/sub", Mountpoint: "/srv/bind", Options: "rw", FSType: "ext4", Source: "/dev/loop0", SuperOptions: "rw"}
	if tab[5] != want {
		t.Errorf("bind mount line = %+v, want %+v", tab[5], want)
	}
	if m := tab[6]; m.Mountpoint != "/mnt/with space" || m.Source != "my tmp" || !m.ReadOnly() {
		t.Errorf("escaped line = %+v, want mount point and source with a space, read-only", m)
	}
}

func TestParseRefusesMalformedLines(t *testing.T) {
	for name, line := range map[string]string{
		"too few fields":           "21 26 0:20 / /proc rw - proc",
		"no separator":             "21 26 0:20 / /proc rw shared:1 x proc proc rw extra",
		"device number is no pair": "21 26 020 / /proc rw - proc proc rw",
		"relative mount point":     "21 26 0:20 / proc rw - proc proc rw",
		"major out of range":       "21 26 99999:0 / /x rw - ext4 /dev/x rw",
	} {
		t.Run(name, func(t *testing.T) {
			if tab, err := Parse(strings.NewReader(line + "\n")); err == nil {
				t.Errorf("Parse(%q) = %+v, want an error", line, tab)
			}
		})
	}
}

func TestAtIsTheMountOnTop(t *testing.T) {
	tab, _ := Parse(strings.NewReader(sampleMountinfo))
	m, ok := tab.At("/srv/data/")
	if !ok || m.ID != 45 || m.FSType != "xfs" {
		t.Errorf("At(/srv/data/) = %+v, %v; want mount 45 (xfs, mounted over the ext4)", m, ok)
	}
	if _, ok := tab.At("/srv"); ok {
		t.Error("At(/srv) found a mount; nothing is mounted there")
	}
}

func TestBeneathListsSubmountsDeepestFirst(t *testing.T) {
	tab, _ := Parse(strings.NewReader(sampleMountinfo))
	var got []string
	for _, m := range tab.Beneath("/srv/data") {
		got = append(got, m.Mountpoint)
	}
	if want := []string{"/srv/data/cache/deep", "/srv/data/cache"}; !slices.Equal(got, want) {
		t.Errorf("Beneath(/srv/data) = %v, want %v (not /srv/data itself, not /srv/database)", got, want)
	}
	if got := tab.Beneath("/srv/bind"); len(got) != 0 {
		t.Errorf("Beneath(/srv/bind) = %v, want none", got)
	}
}

func TestOfDeviceFindsEveryMountOfADevice(t *testing.T) {
	tab, _ := Parse(strings.NewReader(sampleMountinfo))
	var ids []int
	for _, m := range tab.OfDevice(7, 0) {
		ids = append(ids, m.ID)
	}
	if !slices.Equal(ids, []int{40, 43}) {
		t.Errorf("OfDevice(7:0) = %v, want [40 43]", ids)
	}
}

func TestReadTableReadsThisProcesssTable(t *testing.T) {
	tab, err := ReadTable(SelfMountinfo)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.At("/"); !ok {
		t.Errorf("no root mount in %s", SelfMountinfo)
	}
	if _, err := ReadTable(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("ReadTable of a missing file succeeded")
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		in        string
		flags     uintptr
		data      string
		bind      bool
		userspace []string
	}{
		{"", 0, "", false, nil},
		{"defaults", 0, "", false, nil},
		{"ro,noatime,data=ordered,errors=remount-ro", unix.MS_RDONLY | unix.MS_NOATIME, "data=ordered,errors=remount-ro", false, nil},
		{"ro,rw", 0, "", false, nil},
		{"bind,ro", unix.MS_BIND | unix.MS_RDONLY, "", true, nil},
		{"rbind", unix.MS_BIND | unix.MS_REC, "", true, nil},
		{"loop,nofail,_netdev,x-systemd.automount,size=10m", 0, "size=10m", false, []string{"loop", "nofail", "_netdev", "x-systemd.automount"}},
		{" nosuid , nodev ", unix.MS_NOSUID | unix.MS_NODEV, "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			o := ParseOptions(tt.in)
			if o.Flags != tt.flags || o.Data != tt.data || o.Bind != tt.bind || !slices.Equal(o.Userspace, tt.userspace) {
				t.Errorf("ParseOptions(%q) = %+v (flags %s), want flags %s data %q bind %v userspace %v",
					tt.in, o, FlagNames(o.Flags), FlagNames(tt.flags), tt.data, tt.bind, tt.userspace)
			}
		})
	}
	if !ParseOptions("loop=/dev/loop3").HasUserspace("loop") {
		t.Error(`HasUserspace("loop") is false for loop=/dev/loop3`)
	}
	if o := ParseOptions("rshared"); o.Propagation != unix.MS_SHARED|unix.MS_REC {
		t.Errorf("rshared: propagation %s", FlagNames(o.Propagation))
	}
}

func TestErrorSaysWhatWhereAndFlags(t *testing.T) {
	err := error(&Error{Op: "mount", Source: "/dev/loop0", Target: "/srv/data", FSType: "ext4", Flags: unix.MS_RDONLY | unix.MS_NOATIME, Data: "bogus", Err: unix.EINVAL})
	want := "mount /dev/loop0 on /srv/data type ext4 flags ro|noatime options bogus: invalid argument"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if !strings.Contains((&Error{Op: "unmount", Target: "/x", Flags: unix.MNT_FORCE | unix.UMOUNT_NOFOLLOW, Err: unix.EBUSY}).Error(), "unmount /x (flags force|nofollow): device or resource busy") {
		t.Error("unmount error does not name the target and flags")
	}
	if !errors.Is(err, unix.EINVAL) {
		t.Error("the kernel's errno is not reachable with errors.Is")
	}
}

func TestParseMapsLine(t *testing.T) {
	dev, path, ok := parseMapsLine("7f00-7f10 r-xp 00000000 07:01 12345                      /srv/data/lib with space.so (deleted)")
	if !ok || dev != [2]uint32{7, 1} || path != "/srv/data/lib with space.so (deleted)" {
		t.Errorf("got %v %q %v", dev, path, ok)
	}
	for _, line := range []string{"7f00-7f10 rw-p 00000000 00:00 0 ", "7f00-7f10 rw-p 00000000 00:00 0                          [heap]", "garbage"} {
		if _, _, ok := parseMapsLine(line); ok {
			t.Errorf("parseMapsLine(%q) ok, want no file", line)
		}
	}
}

// fakeProc writes a /proc tree: for each pid, links (cwd, root, exe,
// fd/N), fdinfo mount ids and maps.
type fakeProcess struct {
	pid     int
	ns      string
	links   map[string]string // cwd, root, exe, fd/3 …
	fdMount map[string]int    // fd number → mnt_id
	maps    string
	comm    string
}

func writeFakeProc(t *testing.T, procs []fakeProcess) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range procs {
		dir := filepath.Join(root, fmt.Sprint(p.pid))
		for _, d := range []string{"fd", "fdinfo", "ns"} {
			os.MkdirAll(filepath.Join(dir, d), 0o755)
		}
		os.Symlink(p.ns, filepath.Join(dir, "ns", "mnt"))
		for name, target := range p.links {
			os.Symlink(target, filepath.Join(dir, name))
		}
		for fd, id := range p.fdMount {
			os.WriteFile(filepath.Join(dir, "fdinfo", fd), []byte(fmt.Sprintf("pos:\t0\nflags:\t02\nmnt_id:\t%d\nino:\t7\n", id)), 0o644)
		}
		os.WriteFile(filepath.Join(dir, "maps"), []byte(p.maps), 0o644)
		os.WriteFile(filepath.Join(dir, "comm"), []byte(p.comm+"\n"), 0o644)
	}
	return root
}

func TestHoldersFindsExactlyTheUsersOfTheMount(t *testing.T) {
	const ns = "mnt:[4026531832]"
	data := Mount{ID: 40, Major: 7, Minor: 0, Mountpoint: "/srv/data"}
	root := writeFakeProc(t, []fakeProcess{
		{pid: 1, ns: ns, comm: "self"}, // the caller
		{pid: 10, ns: ns, comm: "sleep", links: map[string]string{"cwd": "/srv/data/sub", "root": "/", "exe": "/usr/bin/sleep"}},
		{pid: 11, ns: ns, comm: "sleep", links: map[string]string{"cwd": "/srv/database", "root": "/", "exe": "/usr/bin/sleep"}},
		{pid: 12, ns: ns, comm: "db", links: map[string]string{"cwd": "/", "fd/3": "/srv/data/x (deleted)", "fd/4": "/etc/passwd"}, fdMount: map[string]int{"3": 40, "4": 26}},
		{pid: 13, ns: ns, comm: "other-bind", links: map[string]string{"cwd": "/", "fd/3": "/srv/bind/x"}, fdMount: map[string]int{"3": 43}},
		{pid: 14, ns: ns, comm: "mapper", links: map[string]string{"cwd": "/"}, maps: "7f-8f r-xp 0 07:00 99   /srv/data/lib.so\n7f-8f r-xp 0 07:00 99   /srv/bind/lib.so\n"},
		{pid: 15, ns: ns, comm: "bindmapper", links: map[string]string{"cwd": "/"}, maps: "7f-8f r-xp 0 07:00 99   /srv/bind/lib.so\n"},
		{pid: 16, ns: "mnt:[4026532000]", comm: "container", links: map[string]string{"cwd": "/srv/data"}},
		{pid: 17, ns: ns, comm: "chrooted", links: map[string]string{"cwd": "/", "root": "/srv/data"}},
		{pid: 18, ns: ns, comm: "prog", links: map[string]string{"cwd": "/", "exe": "/srv/data/bin/prog"}},
	})
	p := Proc{Root: root, Self: 1}
	hs, err := p.Holders([]Mount{data})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, h := range hs {
		var uses []string
		for _, u := range h.Uses {
			uses = append(uses, u.String())
		}
		got[h.PID] = strings.Join(uses, ", ")
	}
	want := map[int]string{
		10: "cwd /srv/data/sub",
		12: "fd 3 /srv/data/x (deleted)",
		14: "mmap /srv/data/lib.so",
		17: "root /srv/data",
		18: "exe /srv/data/bin/prog",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("holders = %v\nwant %v\n(11: same name elsewhere, 13 and 15: the same file system through another mount, 16: another mount namespace must not be holders)", got, want)
	}
	if d := p.Describe(hs[:1]); d != "10 (sleep: cwd /srv/data/sub)" {
		t.Errorf("Describe = %q", d)
	}
}
