package ocf

import (
	"context"
	"log/slog"
)

// Resource is one invocation's view of the resource: its environment,
// bound parameters and the system interfaces the ocf package provides.
// Agents get everything through it; nothing is global.
type Resource struct {
	Env     *Env
	Params  Params
	Log     *slog.Logger
	Run     *Runner
	Cluster *Cluster
}

// Agent is what every resource agent implements. Monitor returns Success,
// RunningPromoted, Degraded or DegradedPromoted when the resource is
// active, or an error: ErrNotRunning (or Stopped) when it is cleanly
// stopped, an *Error with another status when it failed.
type Agent interface {
	Validate(ctx context.Context, r *Resource) error
	Start(ctx context.Context, r *Resource) error
	Stop(ctx context.Context, r *Resource) error
	Monitor(ctx context.Context, r *Resource) (Status, error)
}

// Promoter is implemented by agents of promotable clones.
type Promoter interface {
	Promote(ctx context.Context, r *Resource) error
	Demote(ctx context.Context, r *Resource) error
}

// Notifier is implemented by agents that act on clone notifications.
type Notifier interface {
	Notify(ctx context.Context, r *Resource) error
}

// Migrator is implemented by agents that support live migration.
type Migrator interface {
	MigrateTo(ctx context.Context, r *Resource) error
	MigrateFrom(ctx context.Context, r *Resource) error
}

// Reloader is implemented by agents that can apply changed parameters
// without a restart (the "reload" action of OCF 1.0, "reload-agent" of
// OCF 1.1; Main routes both here).
type Reloader interface {
	Reload(ctx context.Context, r *Resource) error
}

// RecordStopper is implemented by agents that record, in the state
// directory, what start put on the system. When a stop fails over its
// parameters (binding, or the agent's own check, marked with
// ErrBadParameter), Main calls StopRecorded before it reports the
// resource stopped: the record, not the parameters, says what runs here,
// and that must be removed first. r.Params is not to be used (it may be
// incomplete); everything comes from the record and r.Env. No record
// means nothing was started here: return nil.
type RecordStopper interface {
	StopRecorded(ctx context.Context, r *Resource) error
}

// Definition is an agent as the binary knows it: its name (the symlink
// name Pacemaker runs), its meta-data XML and a constructor.
type Definition struct {
	Name     string
	Metadata []byte
	// Spec, if set, is Metadata parsed when the binary was built (package
	// metadata's go:generate), so that an invocation parses no XML; its
	// tests prove the two agree. Without it, Main parses Metadata.
	Spec *Metadata
	New  func() Agent
}

// ParsedMetadata is the agent's meta-data, parsed: Spec when the build
// has it, otherwise parsed from Metadata now.
func (d Definition) ParsedMetadata() (*Metadata, error) {
	if d.Spec == nil {
		return ParseMetadata(d.Metadata)
	}
	md := *d.Spec
	md.raw = d.Metadata
	return &md, nil
}

// Implemented lists the OCF actions an agent's Go type supports, which a
// test compares with the actions its meta-data lists.
func Implemented(a Agent) []string {
	acts := []string{"start", "stop", "monitor", "validate-all", "meta-data"}
	if _, ok := a.(Promoter); ok {
		acts = append(acts, "promote", "demote")
	}
	if _, ok := a.(Notifier); ok {
		acts = append(acts, "notify")
	}
	if _, ok := a.(Migrator); ok {
		acts = append(acts, "migrate_to", "migrate_from")
	}
	if _, ok := a.(Reloader); ok {
		acts = append(acts, "reload")
	}
	return acts
}

// actionFunc returns the agent's implementation of an action, or nil.
func actionFunc(a Agent, action string) func(context.Context, *Resource) (Status, error) {
	wrap := func(f func(context.Context, *Resource) error) func(context.Context, *Resource) (Status, error) {
		return func(ctx context.Context, r *Resource) (Status, error) {
			err := f(ctx, r)
			return StatusOf(err), err
		}
	}
	switch action {
	case "start":
		return wrap(a.Start)
	case "stop":
		return wrap(a.Stop)
	case "monitor", "status":
		return a.Monitor
	case "validate-all":
		return wrap(a.Validate)
	}
	if p, ok := a.(Promoter); ok {
		switch action {
		case "promote":
			return wrap(p.Promote)
		case "demote":
			return wrap(p.Demote)
		}
	}
	if n, ok := a.(Notifier); ok && action == "notify" {
		return wrap(n.Notify)
	}
	if m, ok := a.(Migrator); ok {
		switch action {
		case "migrate_to":
			return wrap(m.MigrateTo)
		case "migrate_from":
			return wrap(m.MigrateFrom)
		}
	}
	if rl, ok := a.(Reloader); ok && (action == "reload" || action == "reload-agent") {
		return wrap(rl.Reload)
	}
	return nil
}
