package filesystem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/mount"
)

// Self is the executable the deep checks run as a child (pkg/mount's
// CheckArg); tests that run the agent in-process point it at the built
// binary.
var Self = "/proc/self/exe"

// check runs one of pkg/mount's I/O checks in a child process and waits
// for it at most until ctx ends: a device or file system that does not
// answer (a dead SAN path, a frozen or hung file system) fails the
// monitor in time. The I/O is never done in the agent's own process,
// which could then not exit until the I/O ends; the child, killed at the
// deadline, dies when it does.
func check(ctx context.Context, r *ocf.Resource, what string, argv []string) error {
	done := make(chan error, 1)
	go func() {
		_, err := r.Run.Run(ctx, append([]string{Self}, argv...)...)
		done <- err
	}()
	select {
	case err := <-done:
		var re *ocf.RunError
		if errors.As(err, &re) && ctx.Err() == nil {
			return ocf.Generic("%s: %s", what, strings.TrimSpace(re.Stderr))
		}
		if err != nil && ctx.Err() == nil {
			return ocf.Generic("%s: %w", what, err)
		}
		if err == nil {
			return nil
		}
	case <-ctx.Done():
	}
	return ocf.Generic("the file system or its device does not answer: %s did not complete by the deadline: %w", what, ctx.Err())
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
	return check(ctx, r, "reading "+dev, mount.ReadCheckArgv(dev))
}

// writeStatusFile is the depth-20 check: write the resource's name to a
// status file on the mounted file system, synchronously (and with direct
// I/O on a block device), then read it back.
func (a *Agent) writeStatusFile(ctx context.Context, r *ocf.Resource, c *config, st mounted) error {
	path := statusPath(c, st)
	return check(ctx, r, "writing the status file "+path, mount.WriteCheckArgv(path, r.Env.Instance+"\n", c.blockdev))
}

// statusPath is <mount point>/<statusfile_prefix><instance>[_<clone>]_<node>.
func statusPath(c *config, st mounted) string {
	rel := c.statusFile[len(c.directory):]
	return st.mountpoint + rel
}

// removeStatusFile removes the depth-20 status file before unmounting,
// as the reference does when the stop runs at that depth. A hung file
// system fails the unmount after it anyway.
func (a *Agent) removeStatusFile(ctx context.Context, r *ocf.Resource, c *config, st mounted) {
	path := statusPath(c, st)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.Log.Warn(fmt.Sprintf("could not remove the status file %s: %v", path, err))
	}
}
