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

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
)

// Definition registers the agent with the binary.
var Definition = ocf.Definition{Name: "Dummy", Metadata: metadata.Get("Dummy"), New: func() ocf.Agent { return Agent{} }}

// Agent implements ocf.Agent, ocf.Migrator and ocf.Reloader.
type Agent struct{}

func stateFile(r *ocf.Resource) string { return r.Params.String("state") }

// Validate checks that the state file can be written.
func (Agent) Validate(_ context.Context, r *ocf.Resource) error {
	dir := filepath.Dir(stateFile(r))
	f, err := os.CreateTemp(dir, ".ocfbox-probe-")
	if err != nil {
		return ocf.Args("state=%s: directory %s is not writable: %v", stateFile(r), dir, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
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

// Stop removes the state file.
func (Agent) Stop(_ context.Context, r *ocf.Resource) error {
	if err := os.Remove(stateFile(r)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ocf.Generic("remove state file: %w", err)
	}
	return nil
}

// Monitor reports running while the state file exists.
func (Agent) Monitor(_ context.Context, r *ocf.Resource) (ocf.Status, error) {
	_, err := os.Stat(stateFile(r))
	switch {
	case err == nil:
		return ocf.Success, nil
	case errors.Is(err, fs.ErrNotExist):
		return ocf.NotRunning, ocf.Stopped("state file %s does not exist", stateFile(r))
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
