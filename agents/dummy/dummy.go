// Package dummy is the Dummy agent, ocfbox's drop-in for
// ocf:heartbeat:Dummy: a resource whose only state is a file. It exists
// for people testing cluster configurations, and to prove the plumbing of
// start, stop, monitor, migrate and reload without touching anything real.
package dummy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
)

// Definition registers the agent with the binary.
var Definition = ocf.Definition{Name: "Dummy", Metadata: metadata.Get("Dummy"), New: func() ocf.Agent { return Agent{} }}

// Agent implements ocf.Agent, ocf.Migrator and ocf.Reloader.
type Agent struct{}

func stateFile(r *ocf.Resource) string { return r.Params.String("state") }

// Validate checks that the state file can be created: its directory is
// writable, and the path is not already something other than a file (a
// directory given as state would otherwise be reported running forever,
// and removed by stop when empty).
func (Agent) Validate(_ context.Context, r *ocf.Resource) error {
	state := stateFile(r)
	if fi, err := os.Stat(state); err == nil && !fi.Mode().IsRegular() {
		return ocf.Args("state=%s is a %s, not a regular file", state, kind(fi.Mode()))
	}
	dir := filepath.Dir(state)
	f, err := os.CreateTemp(dir, ".ocfbox-probe-")
	if err != nil {
		return ocf.Args("state=%s is not writable: %v", state, errors.Unwrap(err))
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return ocf.Generic("remove write test file: %w", err)
	}
	return nil
}

// kind names a file type for an operator.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// Start creates the state file.
func (a Agent) Start(ctx context.Context, r *ocf.Resource) error {
	if _, err := a.Monitor(ctx, r); err == nil {
		return nil
	}
	f, err := os.OpenFile(stateFile(r), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return ocf.Generic("create state file: %w", err)
	}
	return f.Close()
}

// Stop removes the state file. Only a regular file is the resource's
// state; anything else at that path is left alone, as the reference does.
func (a Agent) Stop(ctx context.Context, r *ocf.Resource) error {
	status, err := a.Monitor(ctx, r)
	if status == ocf.NotRunning {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.Remove(stateFile(r)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ocf.Generic("remove state file: %w", err)
	}
	return nil
}

// Monitor reports running while the state file exists as a regular file.
func (Agent) Monitor(_ context.Context, r *ocf.Resource) (ocf.Status, error) {
	fi, err := os.Stat(stateFile(r))
	switch {
	case err == nil && fi.Mode().IsRegular():
		return ocf.Success, nil
	case err == nil:
		return ocf.NotRunning, ocf.Stopped("state=%s is a %s, not a state file", stateFile(r), kind(fi.Mode()))
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return ocf.NotRunning, ocf.Stopped("not started: no state file %s", stateFile(r))
	}
	return ocf.ErrGeneric, ocf.Generic("check state file: %w", err)
}

// MigrateTo stops the resource here; Pacemaker starts it on the target
// with migrate_from.
func (a Agent) MigrateTo(ctx context.Context, r *ocf.Resource) error {
	r.Log.Info(fmt.Sprintf("migrating %s to %s", r.Env.Instance, r.Env.Meta["migrate_target"]))
	return a.Stop(ctx, r)
}

// MigrateFrom starts the resource here.
func (a Agent) MigrateFrom(ctx context.Context, r *ocf.Resource) error {
	r.Log.Info(fmt.Sprintf("migrating %s from %s", r.Env.Instance, r.Env.Meta["migrate_source"]))
	return a.Start(ctx, r)
}

// Reload has nothing to apply: fake has no effect.
func (Agent) Reload(_ context.Context, r *ocf.Resource) error {
	r.Log.Info("reloading " + r.Env.Instance)
	return nil
}
