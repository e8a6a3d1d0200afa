package apache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/proc"
)

// Stop stops httpd and everything it started: a graceful stop (SIGWINCH)
// for up to half the time, then SIGTERM, then SIGKILL to the whole
// family by the deadline. It also stops httpd processes run with this
// configuration file that the pid file does not name (a crashed parent's
// children, an instance whose pid file was lost), found by their exact
// command line. Not running is success.
func (a *Agent) Stop(ctx context.Context, r *ocf.Resource) error {
	in, err := a.instance(r)
	if in == nil {
		loadErr := err
		if in, err = a.fallbackInstance(r); in == nil {
			return err // a parameter error: Main reports success
		}
		r.Log.Warn(fmt.Sprintf("stop: %s; looking for httpd by its pid file %s and command line", ocf.ReasonOf(loadErr), in.pidFile))
	}
	return a.stop(ctx, r, in)
}

// stop stops the httpd of in: the one its pid file names and those run
// with its configuration file.
func (a *Agent) stop(ctx context.Context, r *ocf.Resource, in *instance) error {
	master, _ := a.running(ctx, in, false)
	others := a.instanceProcs(in)
	if master == nil && len(others) == 0 {
		r.Log.Info("httpd is not running")
		forgetRecord(r)
		return nil
	}
	if err := a.terminate(ctx, r, in, master, others); err != nil {
		return ocf.Generic("stop: %w", err)
	}
	r.Log.Info("httpd stopped")
	forgetRecord(r)
	return nil
}

// startRecord is what start records, in the state directory, about the
// httpd it runs: enough for a stop whose parameters cannot be used to
// find it (its configuration file, pid file and binary).
type startRecord struct {
	ConfigFile string `json:"configfile"`
	PidFile    string `json:"pidfile"`
	HTTPD      string `json:"httpd"`
}

func recordFile(r *ocf.Resource) string { return r.Env.StatePath(".started") }

// record writes the start record; a failure is logged (httpd can run
// without it, only a stop with broken parameters needs it).
func (a *Agent) record(r *ocf.Resource, in *instance) {
	b, _ := json.Marshal(startRecord{ConfigFile: in.configFile, PidFile: in.pidFile, HTTPD: in.httpdParam})
	err := os.MkdirAll(filepath.Dir(recordFile(r)), 0o755)
	if err == nil {
		err = os.WriteFile(recordFile(r), b, 0o644)
	}
	if err != nil {
		r.Log.Warn(fmt.Sprintf("cannot record the start in %s: %v", recordFile(r), err))
	}
}

func forgetRecord(r *ocf.Resource) {
	if err := os.Remove(recordFile(r)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.Log.Warn(fmt.Sprintf("remove %s: %v", recordFile(r), err))
	}
}

// StopRecorded stops the httpd start recorded, for a stop whose
// parameters cannot be used (ocf.RecordStopper).
func (a *Agent) StopRecorded(ctx context.Context, r *ocf.Resource) error {
	b, err := os.ReadFile(recordFile(r))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var rec startRecord
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil || rec.ConfigFile == "" {
		return ocf.Generic("start record %s cannot be read (%v): the httpd it names cannot be found", recordFile(r), err)
	}
	r.Log.Warn(fmt.Sprintf("stopping the httpd of %s (pid file %s) that start recorded", rec.ConfigFile, rec.PidFile))
	return a.stop(ctx, r, &instance{configFile: rec.ConfigFile, pidFile: rec.PidFile, httpdParam: rec.HTTPD})
}

// fallbackInstance is what stop and monitor can know when the
// configuration cannot be read: the configuration file's name (its
// processes are found by command line) and the pid file the agent names
// when the configuration has none.
func (a *Agent) fallbackInstance(r *ocf.Resource) (*instance, error) {
	in, err := params(r)
	if err != nil {
		return nil, err
	}
	if !r.Params.IsSet("configfile") {
		in.configFile = a.defaultConfig()
	}
	in.pidFile = defaultPidFile(r, a.resolveHTTPD(in.httpdParam), in.httpdParam)
	return in, nil
}

// terminate stops master (if not nil) and its family, and others.
func (a *Agent) terminate(ctx context.Context, r *ocf.Resource, in *instance, master *proc.Proc, others []proc.Proc) error {
	type key struct {
		pid   int
		start uint64
	}
	known := map[key]proc.Proc{}
	remember := func(ps []proc.Proc) {
		for _, p := range ps {
			known[key{p.PID, p.StartTime}] = p
		}
	}
	family := func() {
		if master != nil {
			if fam, err := a.Proc.Family(*master); err == nil {
				remember(fam)
			}
		}
	}
	all := func() []proc.Proc {
		if master != nil {
			remember([]proc.Proc{*master})
		}
		var ps []proc.Proc
		for _, p := range known {
			ps = append(ps, p)
		}
		return ps
	}
	// signal sends sig to the master, then SIGCONT to the whole family,
	// so that a stopped (SIGSTOP) process acts on it, as systemd does.
	signal := func(sig syscall.Signal) error {
		if err := a.Proc.Signal(*master, sig); err != nil {
			return err
		}
		a.Proc.SignalAll(all(), syscall.SIGCONT)
		return nil
	}
	remember(others)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(60 * time.Second)
	}
	// A session leader among the others is a master without a pid file.
	if master == nil {
		for _, p := range others {
			if p.PID == p.SID {
				master = &p
				break
			}
		}
	}
	if master != nil && a.Proc.Current(*master) {
		family()
		graceful := time.Until(deadline) / 2
		r.Log.Info(fmt.Sprintf("graceful stop of httpd pid %d (SIGWINCH), waiting up to %s", master.PID, graceful.Round(time.Millisecond)))
		if err := signal(syscall.SIGWINCH); err != nil {
			return err
		}
		if !a.waitExit(ctx, *master, graceful, family) {
			// Keep a quarter of what is left for SIGKILL.
			term := min(10*time.Second, time.Until(deadline)*3/4)
			r.Log.Info(fmt.Sprintf("httpd pid %d still runs after its graceful stop: SIGTERM, waiting up to %s", master.PID, term.Round(time.Millisecond)))
			if err := signal(syscall.SIGTERM); err != nil {
				return err
			}
			if !a.waitExit(ctx, *master, term, family) {
				family()
				ps := all()
				r.Log.Info(fmt.Sprintf("httpd pid %d still runs after SIGTERM: SIGKILL to it and its family: %s", master.PID, procList(ps)))
				a.Proc.SignalAll(ps, syscall.SIGKILL)
				a.Proc.WaitGone(ctx, ps, a.Poll)
			}
		}
	}
	// What the master left behind: children it did not reap, orphans in
	// its session, processes the pid file never named.
	family()
	left := a.Proc.Remaining(all())
	if len(left) > 0 {
		r.Log.Info(fmt.Sprintf("stopping %d processes httpd left behind: %s", len(left), procList(left)))
		a.Proc.SignalAll(left, syscall.SIGTERM)
		a.Proc.SignalAll(left, syscall.SIGCONT)
		wctx, cancel := context.WithTimeout(ctx, min(time.Second, time.Until(deadline)/2))
		left = a.Proc.WaitGone(wctx, left, a.Poll)
		cancel()
		if len(left) > 0 {
			r.Log.Info(fmt.Sprintf("SIGKILL to %d processes that ignored SIGTERM: %s", len(left), procList(left)))
			a.Proc.SignalAll(left, syscall.SIGKILL)
			left = a.Proc.WaitGone(ctx, left, a.Poll)
		}
	}
	if master != nil {
		a.removeStalePidFile(r, in, master.PID)
	}
	if len(left) > 0 {
		return fmt.Errorf("%d httpd processes still run after SIGKILL: %s", len(left), procList(left))
	}
	return nil
}

// waitExit waits up to d for p to exit, calling each (to follow the
// family as it changes) while it runs. It reports whether p exited.
func (a *Agent) waitExit(ctx context.Context, p proc.Proc, d time.Duration, each func()) bool {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for a.Proc.Current(p) {
		each()
		if !sleep(wctx, a.Poll) {
			return !a.Proc.Current(p)
		}
	}
	return true
}

// removeStalePidFile removes the pid file if it still names the stopped
// master: httpd removes it on a clean exit, not when killed, and a stale
// one may later name an unrelated process.
func (a *Agent) removeStalePidFile(r *ocf.Resource, in *instance, pid int) {
	b, err := os.ReadFile(in.pidFile)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
		return
	}
	if err := os.Remove(in.pidFile); err != nil {
		r.Log.Warn(fmt.Sprintf("remove stale pid file: %v", err))
	}
}

func procList(ps []proc.Proc) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}
