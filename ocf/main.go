package ocf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
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

// Main runs one action of an agent and returns the status to exit with.
// Every OCF rule that is not an agent's own decision is applied here.
func Main(def Definition, inv Invocation) Status {
	action := ""
	if len(inv.Args) > 1 {
		action = inv.Args[1]
	}
	md, err := ParseMetadata(def.Metadata)
	if err != nil {
		fmt.Fprintf(inv.Stderr, "ocf-exit-reason:%s\n", oneLine(fmt.Sprintf("%s: %v", def.Name, err)))
		return ErrGeneric
	}
	env := ReadEnv(inv.Environ, def.Name, action)
	switch action {
	case "meta-data":
		inv.Stdout.Write(md.XML(env))
		return Success
	case "usage", "help":
		fmt.Fprint(inv.Stdout, md.Usage())
		return Success
	}
	agent := def.New()
	fn := actionFunc(agent, action)
	if fn == nil || !md.supports(action) {
		fmt.Fprint(inv.Stderr, md.Usage())
		exitReason(inv.Stderr, env, fmt.Sprintf("action %q is not supported by %s", action, def.Name))
		return ErrUnimplemented
	}
	if env.Instance == "" {
		exitReason(inv.Stderr, env, "OCF_RESOURCE_INSTANCE is not set")
		return ErrArgs
	}

	log := NewLogger(env, inv.Stderr)
	run := &Runner{Log: log, NoBinaries: env.TesterNoBinaries}
	r := &Resource{Env: env, Log: log, Run: run, Cluster: &Cluster{Env: env, Run: run}}
	timeout := env.Timeout
	if timeout <= 0 {
		timeout = md.timeout(action)
	}
	budget, grace := Deadline(timeout)
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()

	began := time.Now()
	status, err := execute(ctx, grace, md, agent, fn, r)
	status, err = applyRules(env, log, status, err)
	took := time.Since(began).Round(time.Millisecond)
	if err != nil && !(status == NotRunning && env.IsProbe()) {
		reason := ReasonOf(err)
		log.Error(fmt.Sprintf("%s: %s", action, reason), "status", status.String(), "took", took)
		if status != Success {
			exitReason(inv.Stderr, env, reason)
		}
	} else {
		level := slog.LevelInfo
		if action == "monitor" {
			level = slog.LevelDebug
		}
		log.Log(context.Background(), level, fmt.Sprintf("%s: %s", action, status), "took", took)
	}
	return status
}

// Deadline splits an action's timeout into the budget the action may use
// and a grace period: pacemaker-execd SIGKILLs the process group at the
// timeout without warning, so the agent must give up first and still
// have time to say why. The margin is a tenth of the timeout, at least
// 500ms and at most 5s.
func Deadline(timeout time.Duration) (budget, grace time.Duration) {
	margin := min(max(timeout/10, 500*time.Millisecond), 5*time.Second)
	if margin > timeout/2 {
		margin = timeout / 2
	}
	return timeout - margin, margin / 2
}

// execute binds the parameters, validates when the action calls for it,
// and runs the action, recovering a panic and refusing to wait past the
// deadline for an action that does not honour its context.
func execute(ctx context.Context, grace time.Duration, md *Metadata, agent Agent,
	fn func(context.Context, *Resource) (Status, error), r *Resource) (Status, error) {
	params, err := md.Bind(r.Env.Params, r.Env)
	if err != nil {
		return StatusOf(err), err
	}
	r.Params = params
	action := r.Env.Action
	type result struct {
		status Status
		err    error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				r.Log.Error("panic", "value", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- result{ErrGeneric, Generic("internal error in %s %s: %v", md.Name, action, p)}
			}
		}()
		if validateFirst[action] && action != "validate-all" {
			if err := agent.Validate(ctx, r); err != nil {
				done <- result{StatusOf(err), err}
				return
			}
		}
		s, err := fn(ctx, r)
		done <- result{s, err}
	}()
	select {
	case res := <-done:
		if res.err != nil && res.status == Success {
			res.status = StatusOf(res.err)
		}
		if res.err != nil && ctx.Err() != nil && StatusOf(res.err) == ErrGeneric {
			res.err = Generic("%s did not finish within its %s budget: %v", action, budgetOf(ctx), res.err)
		}
		return res.status, res.err
	case <-ctx.Done():
	}
	select {
	case res := <-done:
		return res.status, res.err
	case <-time.After(grace):
		return ErrGeneric, Generic("%s did not finish within its %s budget; gave up before Pacemaker's timeout", action, budgetOf(ctx))
	}
}

func budgetOf(ctx context.Context) string {
	if d, ok := ctx.Deadline(); ok {
		return fmt.Sprintf("deadline at %s", d.Format("15:04:05.000"))
	}
	return "deadline"
}

// applyRules turns what an agent returned into what OCF allows.
func applyRules(env *Env, log *slog.Logger, status Status, err error) (Status, error) {
	switch {
	case env.Action == "stop" && status == NotRunning:
		return Success, nil
	case env.Action == "stop" && (status == ErrConfigured || status == ErrArgs):
		log.Warn(fmt.Sprintf("stop: %s; a resource with this configuration cannot have been started here, so it is stopped", ReasonOf(err)))
		return Success, nil
	case env.IsProbe() && (status == ErrInstalled || status == ErrArgs):
		log.Info(fmt.Sprintf("probe: %s; reporting not running", ReasonOf(err)))
		return NotRunning, err
	case env.Action == "notify" && status != Success:
		log.Warn(fmt.Sprintf("notify: %s (notify never fails)", ReasonOf(err)))
		return Success, nil
	case env.Action != "monitor" && status != Success && err == nil:
		return ErrGeneric, Generic("%s returned %s", env.Action, status)
	case !status.Valid():
		return ErrGeneric, Generic("%s returned %d, which is not an OCF status", env.Action, int(status))
	}
	return status, err
}

func exitReason(w io.Writer, env *Env, reason string) {
	fmt.Fprintf(w, "%s%s\n", env.ExitReasonPrefix, oneLine(reason))
}

// supports reports whether the meta-data lists the action; reload and
// reload-agent stand for each other (OCF 1.0 and 1.1 names).
func (md *Metadata) supports(action string) bool {
	switch action {
	case "reload", "reload-agent":
		return md.HasAction("reload") || md.HasAction("reload-agent")
	}
	return md.HasAction(action)
}

// timeout is the meta-data's advised timeout for the action.
func (md *Metadata) timeout(action string) time.Duration {
	if a, ok := md.action(action); ok && a.Timeout > 0 {
		return a.Timeout
	}
	return DefaultTimeout
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
