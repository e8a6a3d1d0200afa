// Package virtualdomain is the VirtualDomain agent, ocfbox's drop-in for
// ocf:heartbeat:VirtualDomain: one libvirt guest as a cluster resource,
// started from its XML file as a transient domain, stopped gracefully
// (with the configured shutdown mode) and destroyed when the guest does
// not go down in time, monitored, saved and restored, and live-migrated
// peer-to-peer through libvirtd. Every decision about the guest lives
// here; talking to libvirt is package virt's job.
//
// Where it deliberately differs from the reference agent is listed in
// the README's deviations table; each difference has a test here.
package virtualdomain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// Definition registers the agent with the binary.
var Definition = ocf.Definition{
	Name:     "VirtualDomain",
	Metadata: metadata.Get("VirtualDomain"),
	New:      func() ocf.Agent { return New() },
}

// Agent implements ocf.Agent and ocf.Migrator. Its fields are the system
// interfaces it uses, so tests can replace them.
type Agent struct {
	// Connect opens a hypervisor connection (virt.Connect).
	Connect func(ctx context.Context, uri string) (virt.Conn, error)
	// ProcRoot is /proc: the guest's process is looked up there while
	// libvirtd cannot be asked, and /proc/1/comm tells whether systemd runs.
	ProcRoot string
	// SystemdDir is where runtime systemd units and drop-ins go.
	SystemdDir string
	// LibvirtConf is libvirt's client configuration (uri_default, aliases).
	LibvirtConf string
	// Poll is how often a waiting action looks at the guest again.
	Poll time.Duration
}

// New returns the agent wired to the real system.
func New() *Agent {
	return &Agent{
		Connect:     virt.Connect,
		ProcRoot:    "/proc",
		SystemdDir:  "/run/systemd/system",
		LibvirtConf: virt.DefaultURIConfig,
		Poll:        500 * time.Millisecond,
	}
}

// invocation is one action's view of the guest.
type invocation struct {
	a      *Agent
	r      *ocf.Resource
	s      *settings
	cfg    *guestConfig // nil when the config file is unusable
	cfgErr error
	name   string    // the domain name: from the config, else from the record
	uuid   virt.UUID // the config's UUID, else the record's
	rec    record    // as loaded at the start of the action
	conn   virt.Conn
}

// begin checks the parameters and reads the config file and the record.
// A bad parameter is returned as an error; an unusable config file is
// kept in cfgErr for the action to decide.
func (a *Agent) begin(r *ocf.Resource) (*invocation, error) {
	s, err := a.loadSettings(r)
	if err != nil {
		return nil, err
	}
	v := &invocation{a: a, r: r, s: s, rec: loadRecord(r.Env)}
	v.cfg, v.cfgErr = readConfig(s.ConfigPath)
	switch {
	case v.cfg != nil:
		v.name, v.uuid = v.cfg.Name, v.cfg.UUID
	case v.rec.Domain != "":
		v.name = v.rec.Domain
		v.uuid, _ = virt.ParseUUID(v.rec.UUID)
	}
	return v, nil
}

func (v *invocation) close() {
	if v.conn != nil {
		v.conn.Close()
		v.conn = nil
	}
}

func (v *invocation) poll(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(v.a.Poll):
		return nil
	}
}

// connect opens the hypervisor connection. While libvirtd is unreachable
// it retries once a second until the time until (a zero time means a
// single attempt), as the reference agent keeps retrying virsh.
func (v *invocation) connect(ctx context.Context, until time.Time) (virt.Conn, error) {
	if v.conn != nil {
		return v.conn, nil
	}
	for {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if !until.IsZero() {
			// A daemon that accepts but does not answer must not hold
			// the attempt past until either.
			actx, cancel = context.WithDeadline(ctx, until)
		}
		c, err := v.a.Connect(actx, v.s.URI)
		cancel()
		if err == nil {
			v.conn = c
			return c, nil
		}
		if !errors.Is(err, virt.ErrUnreachable) || !time.Now().Before(until) || ctx.Err() != nil {
			return nil, connError(err)
		}
		v.r.Log.Debug(fmt.Sprintf("libvirt at %s is unreachable, retrying: %v", v.s.URI, err))
		select {
		case <-ctx.Done():
			return nil, connError(err)
		case <-time.After(min(time.Second, time.Until(until))):
		}
	}
}

// connError gives a connection failure its OCF status: a URI that cannot
// work anywhere is a configuration error, a driver this host does not
// have is missing software, anything else is a failure.
func connError(err error) error {
	switch {
	case errors.Is(err, virt.ErrInvalidURI):
		return ocf.Configured("%w", err)
	case errors.Is(err, virt.ErrNoDriver), errors.Is(err, virt.ErrUnsupported):
		return ocf.Installed("%w", err)
	}
	return ocf.Generic("%w", err)
}

// brief keeps an operator-facing reason short: a libvirt error is told
// by libvirt's own message (the reason names the domain already, and
// Pacemaker keeps only 128 characters), while errors.Is and errors.As
// still see the whole error.
func brief(err error) error { return briefError{err} }

type briefError struct{ err error }

func (b briefError) Unwrap() error { return b.err }

func (b briefError) Error() string {
	var ve *virt.Error
	if errors.As(b.err, &ve) && ve.Err != nil {
		return ve.Err.Error()
	}
	return b.err.Error()
}

// deadline is the action's deadline, or a far one when it has none.
func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(time.Hour)
}

// Validate checks the parameters, the config file and the programs the
// configuration needs on this node.
func (a *Agent) Validate(ctx context.Context, r *ocf.Resource) error {
	v, err := a.begin(r)
	if err != nil {
		return err
	}
	if len(v.s.Problems) > 0 {
		return v.s.Problems[0]
	}
	if v.cfgErr != nil {
		return v.cfgErr
	}
	return a.checkHost(ctx, r, v.s)
}

// guest is what libvirt says about the configured domain.
type guest struct {
	dom    virt.Domain
	exists bool
	state  virt.State
	reason int
	info   virt.Info
	// other is a domain of another name that holds the config's UUID.
	other *virt.Domain
	// otherState is its state.
	otherState virt.State
}

// active reports whether a state counts as running for the cluster, as
// in the reference agent: running, idle (blocked), paused (a migration
// target, or a guest paused by hand) and in shutdown.
func active(s virt.State) bool {
	switch s {
	case virt.Running, virt.Blocked, virt.Paused, virt.Shutdown:
		return true
	}
	return false
}

// inspect looks the domain up by name, and by the config's UUID when the
// name is unknown. A "no state" answer, which libvirt gives briefly while
// a domain is changing, is asked again up to three times.
func (v *invocation) inspect(ctx context.Context) (guest, error) {
	var g guest
	d, err := v.conn.Lookup(ctx, v.name)
	if errors.Is(err, virt.ErrNoDomain) {
		if !v.uuid.IsZero() {
			o, err := v.conn.LookupUUID(ctx, v.uuid)
			if err == nil && o.Name != v.name {
				g.other = &o
				g.otherState, _, _ = v.conn.State(ctx, o)
			}
		}
		return g, nil
	}
	if err != nil {
		return g, err
	}
	g.dom, g.exists = d, true
	for try := 1; ; try++ {
		info, err := v.conn.Info(ctx, d)
		if errors.Is(err, virt.ErrNoDomain) {
			return guest{}, nil
		}
		if err != nil {
			return g, err
		}
		g.info, g.state = info, info.State
		if g.state != virt.NoState || try >= 3 {
			return g, nil
		}
		select {
		case <-ctx.Done():
			return g, nil
		case <-time.After(time.Second):
		}
	}
}

// conflict is the error for a config whose UUID another domain holds.
func (v *invocation) conflict(g guest) error {
	return ocf.Generic("domain %s: its UUID %s runs here as domain %s (%s); config %s",
		v.name, v.uuid, g.other.Name, g.otherState, v.s.ConfigPath)
}

// statusOf maps what libvirt says to a monitor result.
func (v *invocation) statusOf(g guest) (ocf.Status, error) {
	switch {
	case g.other != nil:
		return ocf.ErrGeneric, v.conflict(g)
	case !g.exists:
		return ocf.NotRunning, ocf.Stopped("domain %s is not running (not defined)", v.name)
	case active(g.state):
		return ocf.Success, nil
	case g.state == virt.Shutoff:
		return ocf.NotRunning, ocf.Stopped("domain %s is shut off", v.name)
	}
	return ocf.ErrGeneric, ocf.Generic("domain %s is %s", v.name, g.state)
}
