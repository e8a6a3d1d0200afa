// Package looptest gives tests real block devices with a file system on
// them: a sparse image file attached to a loop device (losetup) and
// formatted (mkfs.ext4, mkfs.xfs), detached when the test ends. Tests that
// mount them run in a private mount namespace
// (testenv.RunInPrivateMountNamespace).
package looptest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"golang.org/x/sys/unix"
)

// Device is a formatted loop device.
type Device struct {
	Path   string // /dev/loopN
	Image  string
	FSType string
	Label  string
	UUID   string
}

// Options choose the file system.
type Options struct {
	FSType string // ext4 (default) or xfs
	Label  string
	SizeMB int // 64 by default (xfs needs at least 300 MiB since xfsprogs 5.19)
}

// New makes a loop device with a fresh file system, detached at the end
// of the test.
func New(t testing.TB, o Options) *Device {
	t.Helper()
	testenv.RequirePrivateMountNamespace(t)
	testenv.RequireTool(t, "losetup")
	if o.FSType == "" {
		o.FSType = "ext4"
	}
	if o.SizeMB == 0 {
		o.SizeMB = 64
		if o.FSType == "xfs" {
			o.SizeMB = 300
		}
	}
	mkfs := testenv.RequireTool(t, "mkfs."+o.FSType)
	img := filepath.Join(t.TempDir(), o.FSType+".img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(o.SizeMB) << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	args := []string{"-q"}
	if o.Label != "" {
		args = append(args, "-L", o.Label)
	}
	if o.FSType == "ext4" {
		args = append(args, "-F")
	} else {
		args = append(args, "-f")
	}
	run(t, mkfs, append(args, img)...)
	dev := strings.TrimSpace(run(t, "losetup", "--find", "--show", img))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	// A loop device used before may still have the previous image's
	// blocks in its page cache: blkid would see both file systems.
	if fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		unix.IoctlSetInt(fd, unix.BLKFLSBUF, 0)
		unix.Close(fd)
	}
	d := &Device{Path: dev, Image: img, FSType: o.FSType, Label: o.Label}
	if p, err := exec.LookPath("blkid"); err == nil {
		d.UUID = strings.TrimSpace(run(t, p, "-p", "-s", "UUID", "-o", "value", dev))
	}
	return d
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = nil
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v %s", name, strings.Join(args, " "), err, msg)
	}
	return string(out)
}
