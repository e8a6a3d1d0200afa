package filesystem

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/mount"
	"golang.org/x/sys/unix"
)

// deviceKind is how the device parameter names what to mount.
type deviceKind int

const (
	devicePath  deviceKind = iota // a path: a block device, an image with "loop", a directory to bind
	deviceLabel                   // LABEL=, -L, --label
	deviceUUID                    // UUID=, -U, --uuid
	deviceOther                   // not a path: server:/export, //server/share, a tmpfs name
)

// config is the resource's parameters, checked and normalised.
type config struct {
	device     string // as configured
	kind       deviceKind
	key        string // the label or UUID, for deviceLabel and deviceUUID
	directory  string // absolute, clean, as configured
	fstype     string
	options    string
	opts       mount.Options
	blockdev   bool // the file system lives on a block device this node sees
	runFsck    string
	fastStop   bool
	clones     bool   // force_clones
	unmount    string // force_unmount: true, safe or false
	termSigs   []syscall.Signal
	killSigs   []syscall.Signal
	delay      time.Duration
	statusFile string
}

// Types whose device is not a local block device (the reference's list).
var notBlock = []string{"nfs4", "nfs", "aznfs", "efs", "smbfs", "cifs", "none", "glusterfs", "ceph",
	"tmpfs", "overlay", "overlayfs", "rozofs", "zfs", "cvfs", "lustre"}

// networkTypes are unmounted with MNT_FORCE when their users were killed
// and the server still holds them.
var networkTypes = []string{"nfs4", "nfs", "aznfs", "efs", "cifs", "smbfs"}

// Types fsck is not run for with run_fsck=auto: journalled, network or
// cluster file systems.
var noFsck = []string{"ext4", "ext4dev", "ext3", "reiserfs", "reiser4", "nss", "xfs", "jfs", "vfat", "fat",
	"nfs4", "nfs", "efs", "cifs", "smbfs", "ocfs2", "gfs2", "none", "lustre", "glusterfs", "ceph", "tmpfs",
	"overlay", "overlayfs", "rozofs", "zfs", "cvfs", "btrfs"}

// Clone rules: cluster-aware and network file systems may be mounted on
// several nodes at once; local ones may not, unless force_clones says so.
var (
	cloneSafe  = []string{"nfs4", "nfs", "efs", "smbfs", "cifs", "none", "gfs2", "glusterfs", "ceph", "ocfs2", "overlay", "overlayfs", "tmpfs", "cvfs", "lustre"}
	cloneLocal = []string{"ext4", "ext4dev", "ext3", "reiserfs", "reiser4", "xfs", "jfs"}
)

// parseConfig checks the parameters; its errors are marked ocf.BadParameter,
// so that a stop with parameters no node can use reports success
// (the ocf stop rule).
func parseConfig(r *ocf.Resource) (*config, error) {
	c, err := parseConfigUnmarked(r)
	return c, ocf.BadParameter(err)
}

func parseConfigUnmarked(r *ocf.Resource) (*config, error) {
	p := r.Params
	c := &config{
		device:  p.String("device"),
		fstype:  strings.TrimSpace(p.String("fstype")),
		options: strings.TrimSpace(p.String("options")),
		runFsck: p.String("run_fsck"),
		clones:  p.Bool("force_clones"),
	}
	if strings.TrimSpace(c.device) != c.device {
		return nil, ocf.Configured("device=%q has leading or trailing white space", c.device)
	}
	dir := p.String("directory")
	switch {
	case strings.TrimSpace(dir) != dir:
		return nil, ocf.Configured("directory=%q has leading or trailing white space", dir)
	case !filepath.IsAbs(dir):
		return nil, ocf.Configured("directory=%q is not an absolute path", dir)
	case filepath.Clean(dir) == "/":
		return nil, ocf.Configured("directory=%q is the root directory, which cannot be managed", dir)
	}
	c.directory = filepath.Clean(dir)
	c.opts = mount.ParseOptions(c.options)

	c.kind, c.key = classifyDevice(c.device)
	if c.kind == deviceOther && c.key == "" && strings.HasPrefix(c.device, "-") {
		return nil, ocf.Configured("device=%q is an option mount does not take as a device (use LABEL=, UUID=, -L or -U)", c.device)
	}
	if c.kind == deviceLabel || c.kind == deviceUUID {
		if c.key == "" {
			return nil, ocf.Configured("device=%q names no label or UUID", c.device)
		}
	}
	// A block device unless the type has none, the image is mounted
	// through a loop device, or the device is a directory (a bind mount).
	c.blockdev = c.kind == devicePath && !slices.Contains(notBlock, c.fstype) && !c.opts.HasUserspace("loop") && !c.opts.Bind
	if c.blockdev {
		if fi, err := os.Stat(c.device); err == nil && fi.IsDir() {
			c.blockdev = false
		}
	}

	switch c.runFsck {
	case "auto", "force", "no":
	default:
		r.Log.Warn(fmt.Sprintf("run_fsck=%q is not auto, force or no; using auto", c.runFsck))
		c.runFsck = "auto"
	}
	c.fastStop = p.Bool("fast_stop")
	if c.fstype == "gfs2" && !p.IsSet("fast_stop") {
		c.fastStop = false
	}
	switch u := strings.ToLower(strings.TrimSpace(p.String("force_unmount"))); u {
	case "true", "yes", "1", "on", "ja", "y":
		c.unmount = "true"
	case "safe":
		c.unmount = "safe"
	case "false", "no", "0", "off", "nein", "n":
		c.unmount = "false"
	default:
		return nil, ocf.Configured("force_unmount=%q is not true, safe or false", p.String("force_unmount"))
	}
	var err error
	if c.termSigs, err = parseSignals("term_signals", p.String("term_signals")); err != nil {
		return nil, err
	}
	if c.killSigs, err = parseSignals("kill_signals", p.String("kill_signals")); err != nil {
		return nil, err
	}
	if d := p.Int("signal_delay"); d < 0 {
		return nil, ocf.Configured("signal_delay=%d is negative", d)
	} else {
		c.delay = time.Duration(d) * time.Second
	}

	prefix := p.String("statusfile_prefix")
	if prefix == "" {
		prefix = ".Filesystem_status/"
	}
	suffix := r.Env.Instance
	if n, ok := r.Env.Meta["clone"]; ok && n != "" {
		suffix += "_" + n
	}
	host, _ := os.Hostname()
	c.statusFile = c.directory + "/" + prefix + suffix + "_" + host
	return c, nil
}

// classifyDevice tells a label or UUID (in any of mount(8)'s spellings)
// from a path or another specification.
func classifyDevice(d string) (deviceKind, string) {
	for _, f := range []struct {
		kind   deviceKind
		prefix []string
	}{
		{deviceLabel, []string{"LABEL=", "--label=", "--label ", "-L"}},
		{deviceUUID, []string{"UUID=", "--uuid=", "--uuid ", "-U"}},
	} {
		for _, p := range f.prefix {
			if v, ok := strings.CutPrefix(d, p); ok {
				return f.kind, strings.Trim(strings.TrimSpace(v), `"`)
			}
		}
	}
	if strings.HasPrefix(d, "/") {
		return devicePath, ""
	}
	return deviceOther, ""
}

// parseSignals reads "TERM", "SIGTERM,HUP" or "15 9".
func parseSignals(param, v string) ([]syscall.Signal, error) {
	var out []syscall.Signal
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if n, err := strconv.Atoi(f); err == nil && n > 0 && n < 65 {
			out = append(out, syscall.Signal(n))
			continue
		}
		sig := unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(f), "SIG"))
		if sig == 0 {
			return nil, ocf.Configured("%s=%q: %q is not a signal", param, v, f)
		}
		out = append(out, sig)
	}
	if len(out) == 0 {
		return nil, ocf.Configured("%s=%q names no signal", param, v)
	}
	return out, nil
}

// mountpoint is the directory with symbolic links resolved, as the
// kernel's mount table shows it. The directory itself is looked up only
// when nothing is mounted on its literal path, so that a monitor never
// touches a mounted file system (a hung NFS server would block the
// lookup).
func (c *config) mountpoint(tab mount.Table) string {
	parent, err := filepath.EvalSymlinks(filepath.Dir(c.directory))
	if err != nil {
		return c.directory
	}
	cand := filepath.Join(parent, filepath.Base(c.directory))
	if _, ok := tab.At(cand); ok {
		return cand
	}
	if fi, err := os.Lstat(cand); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if resolved, err := filepath.EvalSymlinks(cand); err == nil {
			return resolved
		}
	}
	return cand
}

// isClone is ocf_is_clone: the resource runs as a clone.
func isClone(r *ocf.Resource) bool {
	return r.Env.Clone.Max > 0
}

// checkClone applies the clone rules; it is start's, as in the
// reference.
func (c *config) checkClone(r *ocf.Resource) error {
	if !isClone(r) {
		return nil
	}
	safe := 0
	if slices.Contains(strings.Split(c.options, ","), "ro") {
		safe = 2
	}
	switch {
	case slices.Contains(cloneSafe, c.fstype):
		safe = 1
	case slices.Contains(cloneLocal, c.fstype):
		safe = 0
		if c.clones {
			safe = 2
		}
	}
	switch safe {
	case 0:
		return ocf.Configured("DANGER! %s on %s is NOT cluster-aware: refusing to run it as a clone (set force_clones=true only if every node mounts its own copy)", orUnset(c.fstype), c.device)
	case 2:
		why := "it is mounted read-only; make sure its metadata is read-only too"
		if c.clones {
			why = "force_clones is set"
		}
		r.Log.Warn(fmt.Sprintf("%s on %s is NOT cluster-aware; running it as a clone because %s", orUnset(c.fstype), c.device, why))
	}
	return nil
}

func orUnset(s string) string {
	if s == "" {
		return "(no fstype)"
	}
	return s
}

// devNumber is a Mount's device as a dev_t.
func devNumber(m mount.Mount) uint64 { return unix.Mkdev(m.Major, m.Minor) }

var errNoDevice = errors.New("no such device")
