// Package stateful is the Stateful agent, ocfbox's drop-in for
// ocf:pacemaker:Stateful: a promotable test resource whose role lives in a
// state file. It proves promote, demote, notify and the promotion-score
// plumbing that drbd and other promotable agents rely on.
package stateful

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
)

// Definition registers the agent with the binary.
var Definition = ocf.Definition{Name: "Stateful", Metadata: metadata.Get("Stateful"), New: func() ocf.Agent { return Agent{} }}

// The roles written to the state file, and the promotion scores that go
// with them (the reference's values).
const (
	Promoted   = "Promoted"
	Unpromoted = "Unpromoted"

	ScorePromoted   = 10
	ScoreUnpromoted = 5
)

// Agent implements ocf.Agent, ocf.Promoter, ocf.Notifier and ocf.Reloader.
type Agent struct{}

// Regular expressions are compiled on first use: the binary's every
// invocation, of any agent, would pay for them at start-up otherwise.
var cloneSuffix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`:[0-9]+$`) })

// stateFile is the state parameter, or its default; instances of an
// anonymous clone share a name without their ":N".
func stateFile(r *ocf.Resource) string {
	if r.Params.IsSet("state") {
		return r.Params.String("state")
	}
	inst := r.Env.Instance
	if !r.Env.Clone.GloballyUnique {
		inst = cloneSuffix().ReplaceAllString(inst, "")
	}
	return filepath.Join(r.Env.VarRun, "Stateful-"+inst+".state")
}

// role reads the state file; started is false when there is none.
func role(r *ocf.Resource) (role string, started bool, err error) {
	b, err := os.ReadFile(stateFile(r))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, ocf.Generic("read state file: %w", err)
	}
	return strings.TrimSpace(string(b)), true, nil
}

func setRole(r *ocf.Resource, role string) error {
	if err := os.WriteFile(stateFile(r), []byte(role+"\n"), 0o644); err != nil {
		return ocf.Generic("write state file: %w", err)
	}
	return nil
}

// setScore sets the promotion score. Like the reference, a failure (no
// cluster to talk to) is logged, not fatal: the resource itself is fine.
func setScore(ctx context.Context, r *ocf.Resource, score int) {
	if err := r.Cluster.SetPromotionScore(ctx, score); err != nil {
		r.Log.Warn(err.Error())
	}
}

// notifyDelay is the notify_delay parameter: seconds, with the suffixes
// sleep(1) accepts (s, m, h, d), which the reference passes to sleep.
func notifyDelay(r *ocf.Resource) (time.Duration, error) {
	v := strings.TrimSpace(r.Params.String("notify_delay"))
	if v == "" {
		return 0, nil
	}
	d, err := ocf.ParseDuration(v)
	if err != nil {
		return 0, ocf.Configured("notify_delay=%q is not a number of seconds", v)
	}
	return d, nil
}

// dumpEnv appends the environment to envfile when it is set.
func dumpEnv(r *ocf.Resource) {
	path := r.Params.String("envfile")
	if path == "" {
		return
	}
	vars := slices.Clone(r.Env.Environ)
	slices.Sort(vars)
	text := fmt.Sprintf("### %s @ %s ###\n%s\n###\n", r.Env.Action, time.Now().Format(time.UnixDate), strings.Join(vars, "\n"))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = f.WriteString(text)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		r.Log.Warn(fmt.Sprintf("envfile=%s: %v", path, err))
	}
}

// Validate checks notify_delay.
func (Agent) Validate(_ context.Context, r *ocf.Resource) error {
	if r.Env.Action == "validate-all" { // otherwise the action itself dumps
		dumpEnv(r)
	}
	_, err := notifyDelay(r)
	return err
}

// Start brings the instance up in the Unpromoted role.
func (Agent) Start(ctx context.Context, r *ocf.Resource) error {
	dumpEnv(r)
	cur, _, err := role(r)
	if err != nil {
		return err
	}
	if cur == Promoted {
		return ocf.Errorf(ocf.RunningPromoted, "start refused: the instance is already Promoted (state file %s)", stateFile(r))
	}
	if err := setRole(r, Unpromoted); err != nil {
		return err
	}
	setScore(ctx, r, ScoreUnpromoted)
	return nil
}

// Stop removes the promotion score and the state file.
func (Agent) Stop(ctx context.Context, r *ocf.Resource) error {
	dumpEnv(r)
	if err := r.Cluster.DeletePromotionScore(ctx); err != nil {
		r.Log.Warn(err.Error())
	}
	cur, _, err := role(r)
	if err != nil {
		return err
	}
	if cur == Promoted {
		return ocf.Errorf(ocf.RunningPromoted, "stop refused: the instance is still Promoted, demote it first (state file %s)", stateFile(r))
	}
	if err := os.Remove(stateFile(r)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ocf.Generic("remove state file: %w", err)
	}
	return nil
}

// Monitor reports the role in the state file. A file "<state>.rc" holding
// a status makes monitor return it, so cluster tests can inject a failure.
func (Agent) Monitor(ctx context.Context, r *ocf.Resource) (ocf.Status, error) {
	dumpEnv(r)
	if status, found, err := injected(r); found {
		return status, err
	}
	cur, started, err := role(r)
	if err != nil {
		return ocf.ErrGeneric, err
	}
	if !started {
		return ocf.NotRunning, ocf.Stopped("not started: no state file %s", stateFile(r))
	}
	switch cur {
	case Promoted:
		if r.Env.IsProbe() {
			setScore(ctx, r, ScorePromoted) // restore the score after a reboot of the cluster stack
		}
		return ocf.RunningPromoted, nil
	case Unpromoted:
		if r.Env.IsProbe() {
			setScore(ctx, r, ScoreUnpromoted)
		}
		return ocf.Success, nil
	}
	return ocf.ErrGeneric, ocf.Generic("state file holds %q, not %s or %s (%s)", cur, Promoted, Unpromoted, stateFile(r))
}

// injected reads the status in "<state>.rc"; found is false when there
// is no such file.
func injected(r *ocf.Resource) (status ocf.Status, found bool, err error) {
	path := stateFile(r) + ".rc"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false, nil
	}
	v := strings.TrimSpace(string(b))
	rc, err := strconv.Atoi(v)
	if err != nil || rc < 0 || rc > 255 {
		return ocf.ErrGeneric, true, ocf.Generic("injected status %q is not an exit status (%s)", v, path)
	}
	if rc == 0 {
		return ocf.Success, true, nil
	}
	return ocf.Status(rc), true, ocf.Errorf(ocf.Status(rc), "status %d injected through %s", rc, path)
}

// Promote moves a started instance to the Promoted role.
func (Agent) Promote(ctx context.Context, r *ocf.Resource) error {
	dumpEnv(r)
	return changeRole(ctx, r, Promoted, ScorePromoted)
}

// Demote moves a started instance to the Unpromoted role.
func (Agent) Demote(ctx context.Context, r *ocf.Resource) error {
	dumpEnv(r)
	return changeRole(ctx, r, Unpromoted, ScoreUnpromoted)
}

func changeRole(ctx context.Context, r *ocf.Resource, to string, score int) error {
	_, started, err := role(r)
	if err != nil {
		return err
	}
	if !started {
		return ocf.Stopped("%s: the instance is not started (no state file %s)", r.Env.Action, stateFile(r))
	}
	if err := setRole(r, to); err != nil {
		return err
	}
	setScore(ctx, r, score)
	return nil
}

// Notify waits notify_delay and succeeds.
func (Agent) Notify(ctx context.Context, r *ocf.Resource) error {
	dumpEnv(r)
	d, err := notifyDelay(r)
	if err != nil || d == 0 {
		return err
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("notify_delay=%s: %w", d, ctx.Err())
	}
}

// Reload has nothing to apply: envfile and notify_delay are read on every
// action.
func (Agent) Reload(_ context.Context, r *ocf.Resource) error {
	dumpEnv(r)
	return nil
}
