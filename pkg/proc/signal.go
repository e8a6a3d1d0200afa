package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

var errESRCH = syscall.ESRCH

// Signal sends sig to the process p names, unless it is gone or its pid
// now belongs to another process. The pid is pinned with a pidfd before
// its start time is checked, so the signal cannot reach a process that
// took the pid over in between. A process that is gone is not an error.
func (f FS) Signal(p Proc, sig syscall.Signal) error {
	h, err := os.FindProcess(p.PID) // a pidfd on Linux 5.3 and later
	if err != nil {
		return nil
	}
	defer h.Release()
	if !f.Current(p) {
		return nil
	}
	if err := h.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send %v to process %s: %w", sig, p, err)
	}
	return nil
}

// SignalAll sends sig to each of procs (see Signal) and returns the first
// error.
func (f FS) SignalAll(procs []Proc, sig syscall.Signal) error {
	var first error
	for _, p := range procs {
		if err := f.Signal(p, sig); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Remaining is those of procs that are still running.
func (f FS) Remaining(procs []Proc) []Proc {
	var out []Proc
	for _, p := range procs {
		if f.Current(p) {
			out = append(out, p)
		}
	}
	return out
}

// WaitGone polls every interval until none of procs runs any more, or
// ctx ends. It returns those still running.
func (f FS) WaitGone(ctx context.Context, procs []Proc, interval time.Duration) []Proc {
	for {
		procs = f.Remaining(procs)
		if len(procs) == 0 {
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return f.Remaining(procs)
		case <-t.C:
		}
	}
}
