package mount

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Options is a mount(8) option string split into what the mount system
// call takes: flags, the file system's own data, and what only mount(8)
// and fstab understand.
type Options struct {
	Flags uintptr // MS_* flags
	Data  string  // the options the file system itself parses, comma-separated
	// Bind is a bind mount ("bind", or "rbind" with Flags holding MS_REC).
	Bind bool
	// Propagation is MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE
	// (with MS_REC for the r… forms), applied by a second call.
	Propagation uintptr
	// Userspace are options mount(8) or a mount helper acts on, which the
	// kernel would refuse: loop, nofail, _netdev, x-…, user, …
	Userspace []string
}

// ReadOnly reports whether the options ask for a read-only mount.
func (o Options) ReadOnly() bool { return o.Flags&unix.MS_RDONLY != 0 }

var flagOptions = map[string]struct {
	set, clear uintptr
}{
	"ro": {set: unix.MS_RDONLY}, "rw": {clear: unix.MS_RDONLY},
	"nosuid": {set: unix.MS_NOSUID}, "suid": {clear: unix.MS_NOSUID},
	"nodev": {set: unix.MS_NODEV}, "dev": {clear: unix.MS_NODEV},
	"noexec": {set: unix.MS_NOEXEC}, "exec": {clear: unix.MS_NOEXEC},
	"sync": {set: unix.MS_SYNCHRONOUS}, "async": {clear: unix.MS_SYNCHRONOUS},
	"dirsync": {set: unix.MS_DIRSYNC},
	"mand":    {set: unix.MS_MANDLOCK}, "nomand": {clear: unix.MS_MANDLOCK},
	"noatime": {set: unix.MS_NOATIME}, "atime": {clear: unix.MS_NOATIME},
	"nodiratime": {set: unix.MS_NODIRATIME}, "diratime": {clear: unix.MS_NODIRATIME},
	"relatime": {set: unix.MS_RELATIME}, "norelatime": {clear: unix.MS_RELATIME},
	"strictatime": {set: unix.MS_STRICTATIME}, "nostrictatime": {clear: unix.MS_STRICTATIME},
	"lazytime": {set: unix.MS_LAZYTIME}, "nolazytime": {clear: unix.MS_LAZYTIME},
	"silent": {set: unix.MS_SILENT}, "loud": {clear: unix.MS_SILENT},
	"remount": {set: unix.MS_REMOUNT},
	"bind":    {set: unix.MS_BIND}, "rbind": {set: unix.MS_BIND | unix.MS_REC},
	"defaults": {},
}

var propagationOptions = map[string]uintptr{
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// userspaceOptions are acted on by mount(8) (or only meaningful in
// fstab); passing them to the kernel would fail the mount.
var userspaceOptions = []string{
	"loop", "auto", "noauto", "user", "users", "nouser", "owner", "group",
	"nofail", "_netdev", "x-systemd", "comment", "helper", "offset", "sizelimit", "encryption",
}

// ParseOptions splits a mount(8) option string ("ro,noatime,data=ordered").
func ParseOptions(s string) Options {
	var o Options
	var data []string
	for _, opt := range strings.Split(s, ",") {
		opt = strings.TrimSpace(opt)
		if opt == "" {
			continue
		}
		name, _, _ := strings.Cut(opt, "=")
		if f, ok := flagOptions[opt]; ok {
			o.Flags = o.Flags&^f.clear | f.set
			if f.set&unix.MS_BIND != 0 {
				o.Bind = true
			}
			continue
		}
		if p, ok := propagationOptions[opt]; ok {
			o.Propagation = p
			continue
		}
		if slices.Contains(userspaceOptions, name) || strings.HasPrefix(name, "x-") {
			o.Userspace = append(o.Userspace, opt)
			continue
		}
		data = append(data, opt)
	}
	o.Data = strings.Join(data, ",")
	return o
}

// HasUserspace reports whether the options hold name (e.g. "loop").
func (o Options) HasUserspace(name string) bool {
	for _, u := range o.Userspace {
		if n, _, _ := strings.Cut(u, "="); n == name {
			return true
		}
	}
	return false
}

// Error is a failed mount or unmount: the operation, what, where, the
// flags and data it was given, and the kernel's error.
type Error struct {
	Op     string // "mount", "remount", "unmount", "propagation"
	Source string
	Target string
	FSType string
	Flags  uintptr
	Data   string
	Err    error
}

func (e *Error) Error() string {
	switch e.Op {
	case "unmount":
		return fmt.Sprintf("unmount %s (flags %s): %v", e.Target, unmountFlagNames(int(e.Flags)), e.Err)
	case "propagation":
		return fmt.Sprintf("set propagation of %s to %s: %v", e.Target, FlagNames(e.Flags), e.Err)
	}
	s := fmt.Sprintf("%s %s on %s", e.Op, e.Source, e.Target)
	if e.FSType != "" {
		s += " type " + e.FSType
	}
	s += " flags " + FlagNames(e.Flags)
	if e.Data != "" {
		s += " options " + e.Data
	}
	return fmt.Sprintf("%s: %v", s, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

var flagNames = []struct {
	f    uintptr
	name string
}{
	{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"},
	{unix.MS_SYNCHRONOUS, "sync"}, {unix.MS_REMOUNT, "remount"}, {unix.MS_MANDLOCK, "mand"},
	{unix.MS_DIRSYNC, "dirsync"}, {unix.MS_NOATIME, "noatime"}, {unix.MS_NODIRATIME, "nodiratime"},
	{unix.MS_BIND, "bind"}, {unix.MS_MOVE, "move"}, {unix.MS_REC, "rec"}, {unix.MS_SILENT, "silent"},
	{unix.MS_UNBINDABLE, "unbindable"}, {unix.MS_PRIVATE, "private"}, {unix.MS_SLAVE, "slave"},
	{unix.MS_SHARED, "shared"}, {unix.MS_RELATIME, "relatime"}, {unix.MS_STRICTATIME, "strictatime"},
	{unix.MS_LAZYTIME, "lazytime"},
}

// FlagNames names MS_* flags as mount(8) options ("ro|noatime"), "0"
// for none.
func FlagNames(flags uintptr) string {
	var names []string
	for _, f := range flagNames {
		if flags&f.f != 0 {
			names = append(names, f.name)
			flags &^= f.f
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

func unmountFlagNames(flags int) string {
	var names []string
	for _, f := range []struct {
		f    int
		name string
	}{{unix.MNT_FORCE, "force"}, {unix.MNT_DETACH, "detach"}, {unix.UMOUNT_NOFOLLOW, "nofollow"}} {
		if flags&f.f != 0 {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// Syscall mounts source on target with mount(2); a bind mount that asks
// for ro (or other per-mount flags) is remounted with them, as mount(8)
// does, because the kernel ignores them on the bind itself; propagation
// options are applied last. On a failure after the mount itself, the
// mount is undone.
func Syscall(source, target, fstype string, o Options) error {
	flags := o.Flags
	if err := unix.Mount(source, target, fstype, flags, o.Data); err != nil {
		return &Error{Op: "mount", Source: source, Target: target, FSType: fstype, Flags: flags, Data: o.Data, Err: err}
	}
	if o.Bind && flags&^(unix.MS_BIND|unix.MS_REC) != 0 {
		rf := unix.MS_REMOUNT | unix.MS_BIND | flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT)
		if err := unix.Mount("", target, "", rf, ""); err != nil {
			unix.Unmount(target, 0)
			return &Error{Op: "remount", Source: source, Target: target, Flags: rf, Err: err}
		}
	}
	if o.Propagation != 0 {
		if err := unix.Mount("", target, "", o.Propagation, ""); err != nil {
			unix.Unmount(target, 0)
			return &Error{Op: "propagation", Target: target, Flags: o.Propagation, Err: err}
		}
	}
	return nil
}

// Unmount unmounts target with umount2(2) and UMOUNT_NOFOLLOW (a symlink
// put in place of the mount point must not redirect the unmount). force
// adds MNT_FORCE, which only network file systems act on.
func Unmount(target string, force bool) error {
	flags := unix.UMOUNT_NOFOLLOW
	if force {
		flags |= unix.MNT_FORCE
	}
	if err := unix.Unmount(target, flags); err != nil {
		return &Error{Op: "unmount", Target: target, Flags: uintptr(flags), Err: err}
	}
	return nil
}
