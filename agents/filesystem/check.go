package filesystem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ocfbox/ocfbox/ocf"
	"golang.org/x/sys/unix"
)

// blockSize is what the deep checks read and write: one aligned block,
// which direct I/O needs.
const blockSize = 4096

// bounded runs io in a goroutine and waits for it at most until ctx
// ends: a device or file system that does not answer (a dead SAN path, a
// frozen or hung file system) makes the check fail in time instead of
// blocking the agent until Pacemaker kills it. The goroutine is left
// behind; the process ends soon after.
func bounded(ctx context.Context, what string, io func() error) error {
	done := make(chan error, 1)
	go func() { done <- io() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ocf.Generic("%s did not complete before the monitor's deadline: the file system or its device does not answer", what)
	}
}

// alignedBlock is a page-aligned block of memory, as O_DIRECT needs.
func alignedBlock() ([]byte, func(), error) {
	b, err := unix.Mmap(-1, 0, blockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, fmt.Errorf("allocate an aligned buffer: %w", err)
	}
	return b, func() { unix.Munmap(b) }, nil
}

// readDevice is the depth-10 check: read the device's first block with
// direct I/O, past the page cache.
func (a *Agent) readDevice(ctx context.Context, r *ocf.Resource, c *config, st mounted) error {
	dev := c.device
	switch {
	case c.kind == deviceLabel || c.kind == deviceUUID:
		if dev = a.byLink(c); dev == "" {
			dev = recordedDevice(r)
		}
	case !c.blockdev:
		r.Log.Warn(fmt.Sprintf("%s is not a block device; the depth-10 check has nothing to read", c.device))
		return nil
	}
	if dev == "" {
		r.Log.Warn(fmt.Sprintf("%s: the block device is not known on this node; the depth-10 check has nothing to read", c.device))
		return nil
	}
	return bounded(ctx, "reading "+dev, func() error {
		fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
		if err != nil {
			return ocf.Generic("read device %s: %v", dev, err)
		}
		defer unix.Close(fd)
		buf, free, err := alignedBlock()
		if err != nil {
			return ocf.Generic("read device %s: %w", dev, err)
		}
		defer free()
		if _, err := unix.Pread(fd, buf, 0); err != nil {
			return ocf.Generic("read device %s: %v", dev, err)
		}
		return nil
	})
}

// writeStatusFile is the depth-20 check: write the resource's name to a
// status file on the mounted file system, synchronously (and with direct
// I/O on a block device), then read it back.
func (a *Agent) writeStatusFile(ctx context.Context, r *ocf.Resource, c *config, st mounted) error {
	path := statusPath(c, st)
	return bounded(ctx, "writing the status file "+path, func() error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return ocf.Generic("create the status file's directory: %v", errors.Unwrap(err))
		}
		buf, free, err := alignedBlock()
		if err != nil {
			return ocf.Generic("write status file %s: %w", path, err)
		}
		defer free()
		clear(buf)
		copy(buf, r.Env.Instance+"\n")
		flags := unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_SYNC | unix.O_CLOEXEC
		direct := c.blockdev
		fd, err := unix.Open(path, flags|directFlag(direct), 0o644)
		if errors.Is(err, unix.EINVAL) && direct {
			direct = false // the file system does not do direct I/O
			fd, err = unix.Open(path, flags, 0o644)
		}
		if err != nil {
			return ocf.Generic("write status file %s: %v", path, err)
		}
		_, werr := unix.Write(fd, buf)
		if werr == nil {
			werr = unix.Fsync(fd)
		}
		unix.Close(fd)
		if werr != nil {
			return ocf.Generic("write status file %s: %v", path, werr)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			return ocf.Generic("read status file %s back: %v", path, errors.Unwrap(err))
		}
		if !bytes.HasPrefix(got, []byte(r.Env.Instance+"\n")) {
			return ocf.Generic("status file %s reads back differently from what was written", path)
		}
		return nil
	})
}

func directFlag(on bool) int {
	if on {
		return unix.O_DIRECT
	}
	return 0
}

// statusPath is <mount point>/<statusfile_prefix><instance>[_<clone>]_<node>.
func statusPath(c *config, st mounted) string {
	rel := c.statusFile[len(c.directory):]
	return st.mountpoint + rel
}

// removeStatusFile removes the depth-20 status file before unmounting,
// as the reference does when the stop runs at that depth.
func (a *Agent) removeStatusFile(ctx context.Context, r *ocf.Resource, c *config, st mounted) {
	path := statusPath(c, st)
	err := bounded(ctx, "removing the status file "+path, func() error { return os.Remove(path) })
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		r.Log.Warn(fmt.Sprintf("could not remove the status file %s: %v", path, err))
	}
}
