// Package mount is the system side of file system resources: it reads the
// mount table (/proc/self/mountinfo, never a program), mounts and
// unmounts with the system calls and typed errors that say what was
// mounted where with which flags, and finds exactly the processes that
// hold a mount busy (open files, working directory, root, executable and
// memory maps, through /proc), so that a stop signals only those: never
// `fuser -m`, which also matches everything else on the same file system.
package mount

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// Mount is one line of a mountinfo table.
type Mount struct {
	ID, Parent   int
	Major, Minor uint32 // st_dev of the files on this mount
	Root         string // the directory of the file system mounted here ("/" unless a bind mount of a subdirectory)
	Mountpoint   string
	Options      string // per-mount options: rw, ro, noatime, …
	FSType       string
	Source       string // the device, or file system specific ("tmpfs", "server:/export")
	SuperOptions string // per-superblock options
}

// ReadOnly reports whether the mount is read-only.
func (m Mount) ReadOnly() bool {
	for _, o := range strings.Split(m.Options, ",") {
		if o == "ro" {
			return true
		}
	}
	return false
}

// Table is a mount table in the order the kernel lists it: a mount
// listed later at the same mount point is on top of an earlier one.
type Table []Mount

// Parse reads a mountinfo table (proc(5)): octal escapes (\040 for a
// space) are decoded. A malformed line is an error naming it.
func Parse(r io.Reader) (Table, error) {
	infos, err := mountinfo.GetMountsFromReader(r, nil)
	if err != nil {
		return nil, fmt.Errorf("parse mount table: %w", err)
	}
	t := make(Table, 0, len(infos))
	for _, i := range infos {
		if i.Major < 0 || i.Minor < 0 || i.Major > 0xfff || i.Minor > 0xfffff {
			return nil, fmt.Errorf("parse mount table: mount %d at %q: device number %d:%d out of range", i.ID, i.Mountpoint, i.Major, i.Minor)
		}
		// The kernel writes clean absolute paths; anything else is not a
		// mount table, and would not compare with the paths agents use.
		if !strings.HasPrefix(i.Mountpoint, "/") || filepath.Clean(i.Mountpoint) != i.Mountpoint {
			return nil, fmt.Errorf("parse mount table: mount %d: mount point %q is not a clean absolute path", i.ID, i.Mountpoint)
		}
		t = append(t, Mount{
			ID: i.ID, Parent: i.Parent, Major: uint32(i.Major), Minor: uint32(i.Minor),
			Root: i.Root, Mountpoint: i.Mountpoint, Options: i.Options,
			FSType: i.FSType, Source: i.Source, SuperOptions: i.VFSOptions,
		})
	}
	return t, nil
}

// SelfMountinfo is the calling process's mount table.
const SelfMountinfo = "/proc/self/mountinfo"

// ReadTable reads a mountinfo file. The kernel builds the file in pieces
// as it is read, so a mount or unmount meanwhile can show a table that
// never existed; it is read again until two reads agree (at most five
// times).
func ReadTable(path string) (Table, error) {
	var prev []byte
	for range 5 {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read mount table: %w", err)
		}
		if prev != nil && bytes.Equal(b, prev) {
			break
		}
		prev = b
	}
	return Parse(bytes.NewReader(prev))
}

// At returns the mount on top at mountpoint (the one a path lookup
// reaches), or false when nothing is mounted there.
func (t Table) At(mountpoint string) (Mount, bool) {
	mountpoint = filepath.Clean(mountpoint)
	for i := len(t) - 1; i >= 0; i-- {
		if t[i].Mountpoint == mountpoint {
			return t[i], true
		}
	}
	return Mount{}, false
}

// Beneath lists the mounts strictly below dir (dir/…), deepest first,
// which is the order they can be unmounted in.
func (t Table) Beneath(dir string) []Mount {
	dir = filepath.Clean(dir)
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	var out []Mount
	for i := len(t) - 1; i >= 0; i-- {
		if t[i].Mountpoint != dir && strings.HasPrefix(t[i].Mountpoint, prefix) {
			out = append(out, t[i])
		}
	}
	// Deepest first: a longer mount point is never the parent of a
	// shorter one; among equals keep the kernel's order reversed (top
	// first).
	sortByDepth(out)
	return out
}

func sortByDepth(ms []Mount) {
	depth := func(m Mount) int { return strings.Count(m.Mountpoint, "/") }
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && depth(ms[j]) > depth(ms[j-1]); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// OfDevice lists the mounts whose files have st_dev major:minor, in the
// kernel's order.
func (t Table) OfDevice(major, minor uint32) []Mount {
	var out []Mount
	for _, m := range t {
		if m.Major == major && m.Minor == minor {
			out = append(out, m)
		}
	}
	return out
}

// ErrNotMounted is a mount point where nothing (or not the expected
// mount) is mounted.
var ErrNotMounted = errors.New("not mounted")
