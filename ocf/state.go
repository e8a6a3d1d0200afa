package ocf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// StatePath is the path of a per-resource file in the state directory
// (HA_RSCTMP, a tmpfs emptied at boot), e.g. "<dir>/Dummy-web.lock".
// The instance's ":N" clone suffix and any "/" are kept out of the name.
func (e *Env) StatePath(suffix string) string {
	inst := strings.NewReplacer("/", "_", ":", "_").Replace(e.Instance)
	return filepath.Join(e.RscTmp, fmt.Sprintf("%s-%s%s", e.Type, inst, suffix))
}

// Lock is a held per-resource lock; Unlock releases it. The kernel
// releases it too when the process dies, so a SIGKILLed agent never
// leaves a stale lock behind (unlike ocf_take_lock's mkdir locks).
type Lock struct {
	f    *os.File
	path string
}

// Unlock releases the lock and removes its file, so that an action
// leaves nothing in the state directory. It removes the file while it
// still holds the lock: a waiter that then gets the lock on the removed
// file sees that the path no longer names it, and takes it anew.
func (l *Lock) Unlock() error {
	os.Remove(l.path)
	return l.f.Close()
}

// current reports whether path still names the open file f.
func current(f *os.File, path string) bool {
	held, err := f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(path)
	return err == nil && os.SameFile(held, now)
}

// TakeLock takes the resource's exclusive lock named suffix, waiting at
// most until ctx is done.
func (e *Env) TakeLock(ctx context.Context, suffix string) (*Lock, error) {
	path := e.StatePath(suffix + ".lock")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("take lock %s: %w", path, err)
	}
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("take lock %s: %w", path, err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if current(f, path) {
				return &Lock{f: f, path: path}, nil
			}
			err = syscall.EWOULDBLOCK // its holder removed it: take the new one
		}
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("take lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("take lock %s: held by another action: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
