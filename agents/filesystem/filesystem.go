// Package filesystem is the Filesystem agent, ocfbox's drop-in for
// ocf:heartbeat:Filesystem: a file system mounted on a directory, from a
// block device, a label or UUID, a bind mount, a network file system or
// a tmpfs, and cluster file systems (OCFS2, GFS2) mounted on every node
// of a clone at once.
//
// What it decides here: whether what is mounted on the directory is this
// resource (by device number, not by name), the clone rules per file
// system type, and the stop escalation. Reading the mount table,
// mounting and finding the processes that hold a mount are pkg/mount's.
package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/mount"
	"golang.org/x/sys/unix"
)

// Definition registers the agent with the binary.
var Definition = ocf.Definition{Name: "Filesystem", Metadata: metadata.Get("Filesystem"), New: func() ocf.Agent { return New() }}

// Agent implements ocf.Agent.
type Agent struct {
	// Mountinfo is the mount table to read; Proc is where holders are
	// looked for. Tests point them elsewhere.
	Mountinfo string
	Proc      mount.Proc
	// Filesystems is the kernel's list of supported types.
	Filesystems string
	// DiskByDir is where udev keeps by-label and by-uuid links.
	DiskByDir string
}

// New is the agent on this host.
func New() *Agent {
	return &Agent{Mountinfo: mount.SelfMountinfo, Proc: mount.HostProc, Filesystems: "/proc/filesystems", DiskByDir: "/dev/disk"}
}

func (a *Agent) table() (mount.Table, error) {
	t, err := mount.ReadTable(a.Mountinfo)
	if err != nil {
		return nil, ocf.Generic("%w", err)
	}
	return t, nil
}

// Validate checks the parameters; nothing on this host is looked at
// beyond what parsing them needs.
func (a *Agent) Validate(_ context.Context, r *ocf.Resource) error {
	_, err := parseConfig(r)
	return err
}

// mounted is what the mount table shows on the resource's directory.
type mounted struct {
	mountpoint string
	m          mount.Mount
	ok         bool // something is mounted there
	ours       bool // and it is this resource's device
	why        string
}

func (a *Agent) look(r *ocf.Resource, c *config, tab mount.Table) mounted {
	mp := c.mountpoint(tab)
	m, ok := tab.At(mp)
	st := mounted{mountpoint: mp, m: m, ok: ok}
	if ok {
		st.ours, st.why = a.isOurs(r, c, tab, m)
	}
	return st
}

// isOurs tells whether mount m on the directory is the configured device
// (why says what else it is). Block devices compare by device number,
// which survives udev renames and /dev/disk links; nothing here runs a
// program or touches the mounted file system.
func (a *Agent) isOurs(r *ocf.Resource, c *config, tab mount.Table, m mount.Mount) (bool, string) {
	other := fmt.Sprintf("another device (%s, %s) is mounted on %s", m.Source, m.FSType, m.Mountpoint)
	switch {
	case c.opts.Bind:
		var st unix.Stat_t
		if err := unix.Stat(c.device, &st); err != nil {
			return m.Source == c.device, other
		}
		if st.Dev != devNumber(m) {
			return false, other
		}
		// The same file system: is it the same directory of it?
		src, err := filepath.EvalSymlinks(c.device)
		if err != nil {
			return true, ""
		}
		host, ok := containing(tab, src)
		if !ok {
			return true, ""
		}
		rel := strings.TrimPrefix(src, strings.TrimSuffix(host.Mountpoint, "/"))
		want := filepath.Clean(filepath.Join(host.Root, rel))
		return want == m.Root, fmt.Sprintf("another directory (%s of %s) is bound on %s", m.Root, m.Source, m.Mountpoint)
	case c.opts.HasUserspace("loop"):
		img, err := filepath.EvalSymlinks(c.device)
		if err != nil {
			img = c.device
		}
		backing, _ := os.ReadFile(filepath.Join("/sys/dev/block", fmt.Sprintf("%d:%d", m.Major, m.Minor), "loop", "backing_file"))
		return strings.TrimSpace(string(backing)) == img || m.Source == c.device, other
	case c.kind == deviceLabel || c.kind == deviceUUID:
		dev := a.byLink(c)
		if dev == "" {
			dev = recordedDevice(r)
		}
		if dev == "" {
			// Nothing on this node says which device the label names
			// without a program (no udev links): as the reference,
			// accept a mount of the configured type.
			return c.fstype == "" || c.fstype == m.FSType, other
		}
		return sameDevice(dev, m), other
	case c.kind == devicePath && c.blockdev:
		return sameDevice(c.device, m), other
	case c.fstype == "tmpfs" || c.fstype == "ramfs":
		return m.Source == c.device, other
	}
	// Network and other file systems: the kernel may write the source
	// differently from the configuration; as the reference, what is
	// mounted there is taken to be it.
	return true, ""
}

// sameDevice reports whether m is a mount of the block device at path:
// by device number, or (file systems such as btrfs give their mounts an
// anonymous device number) by the path the kernel shows as its source.
func sameDevice(path string, m mount.Mount) bool {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK && st.Rdev == devNumber(m) {
		return true
	}
	canon, err := filepath.EvalSymlinks(path)
	if err != nil {
		canon = path
	}
	src, err := filepath.EvalSymlinks(m.Source)
	if err != nil {
		src = m.Source
	}
	return canon == src
}

// containing is the mount a path is on: the longest mount point that
// is a prefix of it.
func containing(tab mount.Table, path string) (mount.Mount, bool) {
	var best mount.Mount
	found := false
	for _, m := range tab {
		if m.Mountpoint == path || m.Mountpoint == "/" || strings.HasPrefix(path, m.Mountpoint+"/") {
			if !found || len(m.Mountpoint) >= len(best.Mountpoint) {
				best, found = m, true
			}
		}
	}
	return best, found
}

// byLink is the device udev's /dev/disk/by-label or by-uuid link names,
// or "".
func (a *Agent) byLink(c *config) string {
	sub := "by-label"
	if c.kind == deviceUUID {
		sub = "by-uuid"
	}
	p := filepath.Join(a.DiskByDir, sub, c.key)
	if dev, err := filepath.EvalSymlinks(p); err == nil {
		return dev
	}
	return ""
}

func deviceRecord(r *ocf.Resource) string { return r.Env.StatePath(".device") }

// recordedDevice is the device start found for a label or UUID.
func recordedDevice(r *ocf.Resource) string {
	b, err := os.ReadFile(deviceRecord(r))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Monitor reads the mount table: the device mounted on the directory is
// running, nothing mounted is stopped, another device mounted there is a
// failure (stopped for a probe: this resource does not run). With
// OCF_CHECK_LEVEL 10 or 20 it also reads the device or writes and reads
// a status file, giving up at the deadline when they do not answer.
func (a *Agent) Monitor(ctx context.Context, r *ocf.Resource) (ocf.Status, error) {
	c, err := parseConfig(r)
	if err != nil {
		return ocf.StatusOf(err), err
	}
	tab, err := a.table()
	if err != nil {
		return ocf.ErrGeneric, err
	}
	st := a.look(r, c, tab)
	switch {
	case !st.ok:
		return ocf.NotRunning, ocf.Stopped("%s is not mounted", st.mountpoint)
	case !st.ours && r.Env.IsProbe():
		return ocf.NotRunning, ocf.Stopped("%s", st.why)
	case !st.ours:
		return ocf.ErrGeneric, ocf.Generic("%s", st.why)
	}
	switch r.Env.CheckLevel {
	case 0:
		return ocf.Success, nil
	case 10:
		if err := a.readDevice(ctx, r, c, st); err != nil {
			return ocf.ErrGeneric, err
		}
	case 20:
		if err := a.writeStatusFile(ctx, r, c, st); err != nil {
			return ocf.ErrGeneric, err
		}
	default:
		return ocf.ErrConfigured, ocf.Configured("unsupported monitor level OCF_CHECK_LEVEL=%d (0, 10 or 20)", r.Env.CheckLevel)
	}
	return ocf.Success, nil
}

// Start mounts the file system, unless it already is.
func (a *Agent) Start(ctx context.Context, r *ocf.Resource) error {
	c, err := parseConfig(r)
	if err != nil {
		return err
	}
	if err := c.checkClone(r); err != nil {
		return err
	}
	tab, err := a.table()
	if err != nil {
		return err
	}
	st := a.look(r, c, tab)
	if below := tab.Beneath(st.mountpoint); len(below) > 0 {
		return ocf.Configured("%s has file systems mounted below it (%s); unmount them or mount them from their own resources after this one", st.mountpoint, below[0].Mountpoint)
	}
	switch {
	case st.ok && st.ours:
		r.Log.Info(fmt.Sprintf("%s is already mounted on %s", c.device, st.mountpoint))
		return nil
	case st.ok:
		return ocf.Generic("%s; not mounting %s over it", st.why, c.device)
	}
	if err := a.supported(ctx, r, c); err != nil {
		return err
	}
	source, err := a.resolve(ctx, r, c)
	if err != nil {
		return err
	}
	if err := fsck(ctx, r, c, source); err != nil {
		return err
	}
	if err := makeMountpoint(st.mountpoint); err != nil {
		return err
	}
	if c.blockdev || c.kind == deviceLabel || c.kind == deviceUUID {
		flushBuffers(source)
	}
	if err := a.mount(ctx, r, c, source, st.mountpoint); err != nil {
		return err
	}
	if c.kind == deviceLabel || c.kind == deviceUUID {
		if err := os.MkdirAll(r.Env.RscTmp, 0o755); err == nil {
			os.WriteFile(deviceRecord(r), []byte(source+"\n"), 0o644)
		}
	}
	// What the kernel mounted must be what a monitor recognises.
	tab, err = a.table()
	if err != nil {
		return err
	}
	if now := a.look(r, c, tab); !now.ok || !now.ours {
		return ocf.Generic("mounted %s on %s, but the mount table then shows %s", source, st.mountpoint, now.describe())
	}
	return nil
}

func (st mounted) describe() string {
	if !st.ok {
		return "nothing there"
	}
	return fmt.Sprintf("%s (%s)", st.m.Source, st.m.FSType)
}

// makeMountpoint creates the directory when it is missing; something
// else than a directory there is not installed on this node (the
// reference's status).
func makeMountpoint(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return ocf.Installed("directory=%s is a %s, not a directory to mount on", dir, kind(fi.Mode()))
	case !errors.Is(err, fs.ErrNotExist):
		return ocf.Installed("directory=%s: %v", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ocf.Installed("create directory=%s: %v", dir, errors.Unwrap(err))
	}
	return nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// supported checks that the kernel knows the file system type, loading
// its module when modprobe exists, as mount would need it.
func (a *Agent) supported(ctx context.Context, r *ocf.Resource, c *config) error {
	if c.fstype == "" || c.fstype == "none" {
		return nil
	}
	want := c.fstype
	switch {
	case strings.HasPrefix(want, "fuse.") || want == "glusterfs" || want == "rozofs":
		want = "fuse"
	case want == "efs":
		want = "nfs4"
	}
	if a.kernelHas(want) || hasHelper(c.fstype) {
		return nil
	}
	modprobe, err := r.Run.LookPath("modprobe")
	if err == nil {
		if _, err := r.Run.Run(ctx, modprobe, want); err == nil {
			for i := 0; i < 50 && ctx.Err() == nil; i++ {
				if a.kernelHas(want) {
					return nil
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	return ocf.Installed("fstype=%s: the kernel does not support it (not in %s, and no module could be loaded)", c.fstype, a.Filesystems)
}

func (a *Agent) kernelHas(fstype string) bool {
	b, err := os.ReadFile(a.Filesystems)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == fstype {
			return true
		}
	}
	return false
}

// hasHelper reports whether mount(8) would run a helper for the type
// (mount.nfs, mount.ocfs2, mount.cifs, …): those file systems are mounted
// through mount(8), which runs it.
func hasHelper(fstype string) bool {
	if fstype == "" || strings.ContainsAny(fstype, "/ ") {
		return false
	}
	for _, dir := range []string{"/sbin", "/usr/sbin", "/usr/local/sbin"} {
		if fi, err := os.Stat(filepath.Join(dir, "mount."+fstype)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// resolve finds what to mount: the block device of a label or UUID, a
// device that must exist, or the configured source as it is.
func (a *Agent) resolve(ctx context.Context, r *ocf.Resource, c *config) (string, error) {
	switch c.kind {
	case deviceLabel, deviceUUID:
		if dev := a.byLink(c); dev != "" {
			return dev, nil
		}
		tag := "LABEL"
		if c.kind == deviceUUID {
			tag = "UUID"
		}
		blkid, err := r.Run.LookPath("blkid")
		if err != nil {
			return "", ocf.Installed("device=%s: no %s/by-%s link and blkid is not installed: %v", c.device, a.DiskByDir, strings.ToLower(tag), err)
		}
		// -c /dev/null: probe the devices, not a cache that may predate
		// them. Every match is listed: a label on two devices is refused
		// rather than one of them mounted at random.
		out, err := r.Run.Run(ctx, blkid, "-c", "/dev/null", "-o", "device", "-t", tag+"="+c.key)
		devs := strings.Fields(string(out))
		switch {
		case err != nil || len(devs) == 0:
			return "", ocf.Installed("device=%s: no block device with %s=%s on this node", c.device, tag, c.key)
		case len(devs) > 1:
			return "", ocf.Installed("device=%s: several block devices have %s=%s (%s)", c.device, tag, c.key, strings.Join(devs, ", "))
		}
		return devs[0], nil
	case devicePath:
		if !c.blockdev && !c.opts.Bind && !c.opts.HasUserspace("loop") {
			return c.device, nil // //server/share, a name for a tmpfs that looks like a path
		}
		fi, err := os.Stat(c.device)
		if err != nil {
			return "", ocf.Installed("device=%s does not exist on this node", c.device)
		}
		if c.blockdev && fi.Mode()&fs.ModeDevice == 0 {
			return "", ocf.Installed("device=%s is a %s, not a block device (mount an image with options=loop)", c.device, kind(fi.Mode()))
		}
		if c.opts.Bind && !fi.IsDir() && !fi.Mode().IsRegular() {
			return "", ocf.Installed("device=%s is a %s; a bind mount needs a directory or a file", c.device, kind(fi.Mode()))
		}
	}
	return c.device, nil
}

// fsck runs fsck -p before mounting when run_fsck asks for it; an exit
// status of 4 or more means errors left uncorrected.
func fsck(ctx context.Context, r *ocf.Resource, c *config, dev string) error {
	if !c.blockdev && c.kind != deviceLabel && c.kind != deviceUUID {
		return nil
	}
	switch {
	case c.runFsck == "no":
		return nil
	case c.runFsck == "auto" && slices.Contains(noFsck, c.fstype):
		return nil
	}
	argv := []string{"fsck"}
	if c.fstype != "" {
		argv = append(argv, "-t", c.fstype)
	}
	argv = append(argv, "-p", dev)
	r.Log.Info("checking the file system on " + dev)
	_, err := r.Run.Run(ctx, argv...)
	var re *ocf.RunError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re) && re.ExitCode >= 0 && re.ExitCode < 4:
		r.Log.Info(fmt.Sprintf("fsck corrected errors on %s (exit %d)", dev, re.ExitCode))
		return nil
	case errors.As(err, &re) && re.ExitCode < 0 && ocf.StatusOf(re.Err) == ocf.ErrInstalled:
		return ocf.Installed("run_fsck=%s: fsck is not installed", c.runFsck)
	}
	return ocf.Generic("fsck of %s failed: %w", dev, err)
}

// mount mounts with the system call, or through mount(8) when a helper
// or mount(8) itself has to act (a mount.<type> helper, a loop device).
func (a *Agent) mount(ctx context.Context, r *ocf.Resource, c *config, source, target string) error {
	if hasHelper(c.fstype) || c.opts.HasUserspace("loop") || strings.HasPrefix(c.fstype, "fuse") {
		argv := []string{"mount"}
		if c.fstype != "" && c.fstype != "none" {
			argv = append(argv, "-t", c.fstype)
		}
		if c.options != "" {
			argv = append(argv, "-o", c.options)
		}
		argv = append(argv, source, target)
		if _, err := r.Run.Run(ctx, argv...); err != nil {
			return ocf.Generic("mount %s on %s failed: %w", source, target, err)
		}
		return nil
	}
	fstype := c.fstype
	if fstype == "none" {
		fstype = ""
	}
	if len(c.opts.Userspace) > 0 {
		r.Log.Info(fmt.Sprintf("ignoring options only mount(8) acts on: %s", strings.Join(c.opts.Userspace, ",")))
	}
	if err := mount.Syscall(source, target, fstype, c.opts); err != nil {
		return ocf.Generic("%w", err)
	}
	r.Log.Info(fmt.Sprintf("mounted %s on %s", source, target))
	return nil
}

// flushBuffers drops the device's buffer cache (blockdev --flushbufs),
// so that what another node wrote while it was not mounted here is read
// from the disk.
func flushBuffers(dev string) {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	unix.IoctlSetInt(fd, unix.BLKFLSBUF, 0)
}
