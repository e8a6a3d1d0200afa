package ocf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Invocation is one run of an agent: argv (argv[1] is the action; anything
// after it is ignored, as OCF requires), the environment and the streams.
type Invocation struct {
	Args    []string
	Environ []string
	Stdout  io.Writer
	Stderr  io.Writer
}

// DefaultTimeout is Pacemaker's default operation timeout, used when
// neither CRM_meta_timeout nor the meta-data gives one.
const DefaultTimeout = 20 * time.Second

// actions that change what runs validate their configuration first.
var validateFirst = map[string]bool{
	"validate-all": true, "start": true, "promote": true, "migrate_from": true,
	"reload": true, "reload-agent": true,
}

// serialized are the actions that change what runs: two of them for one
// resource never run at once (an operator's crm_resource --force-start
// while Pacemaker stops it, an action Pacemaker retried while the first
// still ran); the second waits for the first, until its own deadline.
var serialized = map[string]bool{
	"start": true, "stop": true, "promote": true, "demote": true,
	"migrate_to": true, "migrate_from": true, "reload": true, "reload-agent": true,
}

// Main runs one action of an agent and returns the status to exit with.
// Every OCF rule that is not an agent's own decision is applied here.
func Main(def Definition, inv Invocation) (status Status) {
	action := ""
	if len(inv.Args) > 1 {
		action = inv.Args[1]
	}
	stdout, stderr := orDiscard(inv.Stdout), &syncWriter{w: orDiscard(inv.Stderr)}
	env := ReadEnv(inv.Environ, def.Name, action)
	// A panic outside the action itself (in the agent's constructor, say)
	// is still a failure with a reason, never Go's exit status 2.
	defer func() {
		if p := recover(); p != nil {
			exitReason(stderr, env, fmt.Sprintf("internal error in %s %s: %v", def.Name, action, p))
			status = ErrGeneric
		}
	}()
	md, err := def.ParsedMetadata()
	if err != nil {
		exitReason(stderr, env, fmt.Sprintf("%s: %v", def.Name, err))
		return ErrGeneric
	}
	switch action {
	case "meta-data":
		stdout.Write(md.XML(env))
		return Success
	case "usage", "help":
		fmt.Fprint(stdout, md.Usage())
		return Success
	}
	agent := def.New()
	fn := actionFunc(agent, action)
	if fn == nil || !md.supports(action) {
		fmt.Fprint(stderr, md.Usage())
		reason := fmt.Sprintf("action %q is not supported by %s", action, def.Name)
		if action == "" {
			reason = fmt.Sprintf("no action given to %s", def.Name)
		}
		exitReason(stderr, env, reason)
		return ErrUnimplemented
	}
	if env.Instance == "" {
		exitReason(stderr, env, "OCF_RESOURCE_INSTANCE is not set")
		return ErrArgs
	}

	log := NewLogger(env, stderr)
	run := &Runner{Log: log, NoBinaries: env.TesterNoBinaries, Environ: inv.Environ}
	r := &Resource{Env: env, Log: log, Run: run, Cluster: &Cluster{Env: env, Run: run}}
	timeout := env.Timeout
	if timeout <= 0 {
		timeout = md.timeout(action, env.Interval)
	}

	began := time.Now()
	status, err = execute(timeout, md, agent, fn, r)
	status, err = applyRules(env, log, status, err)
	if action == "status" {
		// The LSB-style answer the reference agents print for status.
		if status.running() {
			fmt.Fprintln(stdout, "running")
		} else if status == NotRunning {
			fmt.Fprintln(stdout, "stopped")
		}
	}
	took := time.Since(began).Round(time.Millisecond)
	if err != nil && !(status == NotRunning && env.IsProbe()) {
		reason := ReasonOf(err)
		if reason == "" {
			reason = fmt.Sprintf("%s returned %s", action, status)
		}
		log.Error(fmt.Sprintf("%s: %s", action, reason), "status", status.String(), "took", took)
		exitReason(stderr, env, reason)
	} else {
		// Success is not news: like the reference agents, say it only
		// when debugging, so crm_resource output stays clean.
		log.Debug(fmt.Sprintf("%s: %s", action, status), "took", took)
	}
	return status
}

// Deadline splits an action's timeout into the budget the action may use
// and a grace period: pacemaker-execd SIGKILLs the process group at the
// timeout without warning, so the agent must give up first and still
// have time to say why. The margin is a tenth of the timeout, at least
// 500ms and at most 5s, and never more than half the timeout. An action
// that ignores its context is abandoned at budget+grace, half a margin
// before the timeout.
func Deadline(timeout time.Duration) (budget, grace time.Duration) {
	margin := min(max(timeout/10, 500*time.Millisecond), 5*time.Second)
	if margin > timeout/2 {
		margin = timeout / 2
	}
	return timeout - margin, margin / 2
}

type actionFn = func(context.Context, *Resource) (Status, error)

// execute binds the parameters, validates when the action calls for it,
// and runs the action under its deadline, recovering a panic and refusing
// to wait past the deadline for an action that does not honour its
// context.
func execute(timeout time.Duration, md *Metadata, agent Agent, fn actionFn, r *Resource) (Status, error) {
	params, bindErr := md.Bind(r.Env.Params, r.Env)
	action := r.Env.Action
	if bindErr != nil && action != "stop" {
		return StatusOf(bindErr), bindErr
	}
	r.Params = params
	for _, w := range params.Warnings {
		r.Log.Warn(w)
	}
	budget, grace := Deadline(timeout)
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()

	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				r.Log.Error("panic", "value", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- result{ErrGeneric, Generic("internal error in %s %s: %v", md.Name, action, p)}
			}
		}()
		if serialized[action] {
			lock, err := r.Env.TakeLock(ctx, ".action")
			switch {
			case err == nil:
				defer lock.Unlock()
			case ctx.Err() != nil:
				done <- result{ErrGeneric, Generic("%s: another action of %s is still running: %w", action, r.Env.Instance, err)}
				return
			default:
				// No state directory to lock in (an unprivileged run
				// by hand): go on, as the reference agents always do.
				r.Log.Debug(fmt.Sprintf("%s: running without the resource lock: %v", action, err))
			}
		}
		if action == "stop" {
			done <- stop(ctx, agent, fn, r, bindErr)
			return
		}
		if validateFirst[action] && action != "validate-all" {
			if err := agent.Validate(ctx, r); err != nil {
				done <- result{failureStatus(err), err}
				return
			}
		}
		s, err := fn(ctx, r)
		done <- result{s, err}
	}()
	settle := func(res result) (Status, error) {
		if res.err == nil {
			return res.status, nil
		}
		if res.status == Success {
			res.status = failureStatus(res.err)
		}
		// A failure that came after the deadline without saying so gets
		// the deadline into its reason; one that says so is kept as is.
		if ctx.Err() != nil && res.status == ErrGeneric && !errors.Is(res.err, context.DeadlineExceeded) {
			res.err = Generic("%s did not finish by its deadline (%s of its %s timeout): %w", action, budget, timeout, res.err)
		}
		return res.status, res.err
	}
	select {
	case res := <-done:
		return settle(res)
	case <-ctx.Done():
	}
	select {
	case res := <-done:
		return settle(res)
	case <-time.After(grace):
		return ErrGeneric, Generic("%s did not finish by its deadline (%s of its %s timeout) and was abandoned before Pacemaker's timeout", action, budget, timeout)
	}
}

type result struct {
	status Status
	err    error
}

// stop runs the agent's stop, unless the parameters did not bind. A stop
// that fails over its parameters (ErrBadParameter, status 2 or 6) has the
// agent remove what its record says start put on the system (a
// RecordStopper), and is a success only when that worked; applyRules
// turns it into 0. Any other failure stays a failure.
func stop(ctx context.Context, agent Agent, fn actionFn, r *Resource, bindErr error) result {
	res := result{StatusOf(bindErr), bindErr}
	if bindErr == nil {
		res.status, res.err = fn(ctx, r)
	}
	if !isParamFailure(res.status, res.err) {
		return res
	}
	rs, ok := agent.(RecordStopper)
	if !ok {
		return res
	}
	r.Log.Warn(fmt.Sprintf("stop: %s; stopping what start recorded", ReasonOf(res.err)))
	if err := rs.StopRecorded(ctx, r); err != nil {
		return result{failureStatus(err), Errorf(failureStatus(err), "stop: %s, and what start recorded could not be stopped: %w", ReasonOf(res.err), err)}
	}
	return res
}

// isParamFailure reports whether an action failed over its parameters
// alone: status 2 or 6 marked with ErrBadParameter.
func isParamFailure(status Status, err error) bool {
	return (status == ErrConfigured || status == ErrArgs) && errors.Is(err, ErrBadParameter)
}

// failureStatus is the status of an action that returned err: an error
// always means failure, even an *Error that forgot to say which.
func failureStatus(err error) Status {
	if s := StatusOf(err); s != Success {
		return s
	}
	return ErrGeneric
}

// applyRules turns what an agent returned into what OCF allows.
func applyRules(env *Env, log *slog.Logger, status Status, err error) (Status, error) {
	monitor := env.Action == "monitor" || env.Action == "status"
	switch {
	case env.Action == "stop" && status == NotRunning:
		return Success, nil
	case env.Action == "stop" && isParamFailure(status, err):
		log.Warn(fmt.Sprintf("stop: %s; a resource with this configuration cannot have been started here, so it is stopped", ReasonOf(err)))
		return Success, nil
	case env.Action == "stop" && (status == ErrConfigured || status == ErrArgs):
		// Found while looking at the system: the stop failed, and this
		// node's problem must not ban the resource from every node.
		return ErrGeneric, err
	case env.IsProbe() && (status == ErrInstalled || status == ErrArgs):
		log.Info(fmt.Sprintf("probe: %s; reporting not running", ReasonOf(err)))
		return NotRunning, err
	case env.Action == "notify" && status != Success:
		log.Warn(fmt.Sprintf("notify: %s (notify never fails)", ReasonOf(err)))
		return Success, nil
	case !status.Valid():
		return ErrGeneric, Generic("%s returned %d, which is not an OCF status", env.Action, int(status))
	case err != nil || status == Success:
		return status, err
	case !monitor:
		return ErrGeneric, Generic("%s returned %s without an error", env.Action, status)
	case !status.running() && status != NotRunning:
		// A monitor's failure status is its answer; give it a reason.
		return status, Errorf(status, "%s returned %s", env.Action, status)
	}
	return status, err
}

func exitReason(w io.Writer, env *Env, reason string) {
	fmt.Fprintf(w, "%s%s\n", env.ExitReasonPrefix, oneLine(reason))
}

// syncWriter lets the logger and Main share stderr.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func isReload(action string) bool { return action == "reload" || action == "reload-agent" }

// supports reports whether the meta-data lists the action; reload and
// reload-agent stand for each other (OCF 1.0 and 1.1 names).
func (md *Metadata) supports(action string) bool {
	if isReload(action) {
		return md.HasAction("reload") || md.HasAction("reload-agent")
	}
	return md.HasAction(action)
}

// timeout is the meta-data's advised timeout for the action: of several
// entries (monitors per role), the one with the operation's interval.
func (md *Metadata) timeout(action string, interval time.Duration) time.Duration {
	var best *ActionSpec
	for i, a := range md.Actions {
		if a.Name != action && !(isReload(a.Name) && isReload(action)) {
			continue
		}
		if best == nil || (a.Interval == interval && best.Interval != interval) {
			best = &md.Actions[i]
		}
	}
	if best == nil || best.Timeout <= 0 {
		return DefaultTimeout
	}
	return best.Timeout
}

// Usage is the agent's usage line, built from its meta-data's actions.
func (md *Metadata) Usage() string {
	var names []string
	seen := map[string]bool{}
	for _, a := range md.Actions {
		if !seen[a.Name] {
			seen[a.Name] = true
			names = append(names, a.Name)
		}
	}
	return fmt.Sprintf("usage: %s {%s}\n\nExpects an OCF environment (OCF_RESKEY_* parameters) as Pacemaker provides.\n",
		md.Name, strings.Join(names, "|"))
}
