// Package drbd is the drbd agent, ocfbox's drop-in for ocf:linbit:drbd
// (drbd-utils 9.22): one DRBD resource as a promotable clone. Its state
// comes from package drbd (one `drbdsetup events2 --now` parsed in
// process); its decisions are here: when to promote, which promotion
// score the data quality earns (score.go), how start, stop, promote and
// demote drive drbdadm, and which configuration it refuses.
//
// A monitor runs exactly one program, drbdsetup. The promotion score is
// set through crm_attribute only when it changes (or at least every
// scoreRefresh), where the reference sets it on every monitor.
//
// Where this agent answers differently from the reference, the README's
// deviations table lists the case, both answers and the test that shows it.
package drbd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/drbd"
)

// Definition registers the agent with the binary.
var Definition = ocf.Definition{Name: "drbd", Metadata: metadata.Get("drbd"), New: func() ocf.Agent { return Agent{} }}

// Agent implements ocf.Agent, ocf.Promoter, ocf.Notifier and ocf.Reloader.
// It keeps no state between actions but the score cache (score.go).
type Agent struct{}

// config is the parameters, checked.
type config struct {
	res, conf                       string
	scores                          scores
	stopOutdates, failEarly         bool
	unfence, connectAfterPromote    bool
	removeIfPeerPrimary, unexpected bool
	wfc                             time.Duration
	versionGE, versionLT            string
	devices                         []string // drbdadm sh-dev, once validated
}

// names DRBD and drbdadm accept, as the reference checks them. The
// regular expressions are compiled on first use, not at the start of
// every invocation of the binary, whatever agent it runs.
var safeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[-%+./0-9:=@A-Z_a-z]+$`) })

// readConfig checks the parameters without running anything; its errors
// are marked ocf.BadParameter, so that a stop with parameters no node can
// use reports success (the ocf stop rule).
func readConfig(r *ocf.Resource) (*config, error) {
	c, err := readConfigUnmarked(r)
	return c, ocf.BadParameter(err)
}

func readConfigUnmarked(r *ocf.Resource) (*config, error) {
	p := r.Params
	c := &config{
		res:                 p.String("drbd_resource"),
		conf:                p.String("drbdconf"),
		stopOutdates:        p.Bool("stop_outdates_secondary"),
		failEarly:           p.Bool("fail_promote_early_if_peer_primary"),
		unfence:             p.Bool("unfence_if_all_uptodate"),
		connectAfterPromote: p.Bool("connect_only_after_promote"),
		versionGE:           strings.TrimSpace(p.String("require_drbd_module_version_ge")),
		versionLT:           strings.TrimSpace(p.String("require_drbd_module_version_lt")),
	}
	if !safeName().MatchString(c.res) {
		return nil, ocf.Configured("drbd_resource=%q may only contain the characters -%%+./0-9:=@A-Z_a-z", c.res)
	}
	if c.conf != "" && !safeName().MatchString(c.conf) {
		return nil, ocf.Configured("drbdconf=%q may only contain the characters -%%+./0-9:=@A-Z_a-z", c.conf)
	}
	switch v := strings.TrimSpace(p.String("remove_master_score_if_peer_primary")); {
	case v == "unexpected":
		c.removeIfPeerPrimary, c.unexpected = true, true
	default:
		c.removeIfPeerPrimary = ocf.IsTrue(v)
	}
	if w := p.Int("wfc_timeout"); w > 0 {
		c.wfc = time.Duration(w) * time.Second
	}
	for name, v := range map[string]string{"require_drbd_module_version_ge": c.versionGE, "require_drbd_module_version_lt": c.versionLT} {
		if v == "" {
			continue
		}
		if _, err := drbd.ParseVersion(v); err != nil || strings.Count(v, ".") != 2 {
			return nil, ocf.Configured("%s=%q is not a version x.y.z", name, v)
		}
	}
	s, err := parseScores(p.String("adjust_master_score"))
	if err != nil {
		r.Log.Error(fmt.Sprintf("adjust_master_score=%q: %v; using the default %q", p.String("adjust_master_score"), err, defaultScores))
	}
	c.scores = s
	if c.conf != "" {
		f, err := os.Open(c.conf)
		if err != nil {
			return nil, ocf.Installed("drbdconf=%s cannot be read: %v", c.conf, errors.Unwrap(err))
		}
		f.Close()
	}
	return c, nil
}

func (c *config) tool(r *ocf.Resource) drbd.Tool {
	return drbd.Tool{Run: r.Run, Conf: c.conf, Resource: c.res}
}

// checkMeta applies the reference's clone meta-attribute rules: one
// instance per node, at most one promoted per node, at most two promoted
// (DRBD cannot safely run more Primaries), and at most two instances on
// DRBD 8.4 or with two Primaries. version is asked only when needed.
func checkMeta(r *ocf.Resource, version func() (drbd.Version, error)) error {
	m := r.Env.Meta
	expect := func(attr string, vals []string, op string, limit int) error {
		v := ""
		for _, name := range vals {
			if v = m[name]; v != "" {
				break
			}
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		ok := err == nil && ((op == "=" && n == limit) || (op == "<=" && n <= limit))
		if ok {
			return nil
		}
		if v == "" {
			v = "unset"
		}
		return ocf.Configured("clone meta attribute %s=%s: it must be %s %d for drbd_resource=%s", attr, v, op, limit, r.Params.String("drbd_resource"))
	}
	if err := expect("clone-node-max", []string{"clone_node_max"}, "=", 1); err != nil {
		return err
	}
	if err := expect("promoted-node-max", []string{"promoted_node_max", "master_node_max"}, "=", 1); err != nil {
		return err
	}
	if err := expect("promoted-max", []string{"promoted_max", "master_max"}, "<=", 2); err != nil {
		return err
	}
	promotedMax := first(m["promoted_max"], m["master_max"])
	if cm, err := strconv.Atoi(m["clone_max"]); err == nil && cm <= 2 {
		return nil
	}
	if promotedMax != "2" {
		v, err := version()
		if err != nil {
			return err
		}
		if v.IsV9() {
			return nil
		}
	}
	return expect("clone-max", []string{"clone_max"}, "<=", 2)
}

// checkNotify: the agent relies on notifications (post-promote scores,
// pre-start adjust), so a clone without notify=true is refused.
func checkNotify(r *ocf.Resource) error {
	if r.Params.Bool("ignore_missing_notifications") || ocf.IsTrue(r.Env.Meta["notify"]) {
		return nil
	}
	if _, ok := r.Env.Meta["notify_start_uname"]; ok {
		return nil
	}
	v := r.Env.Meta["notify"]
	if v == "" {
		v = "unset"
	}
	return ocf.Configured("clone meta attribute notify=%s: set notify=true on the clone (or ignore_missing_notifications=true)", v)
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// moduleVersion is the kernel module's version as drbdadm --version
// reports it (DRBD_KERNEL_VERSION_CODE), or, when the module is not
// loaded, the version modinfo finds on disk, as the reference does.
func (a Agent) moduleVersion(ctx context.Context, r *ocf.Resource) (drbd.Version, error) {
	if out, err := r.Run.Run(ctx, "drbdadm", "--version"); err == nil {
		if m := versionCode().FindSubmatch(out); m != nil {
			if n, err := strconv.ParseInt(string(m[1]), 16, 32); err == nil && n > 0 {
				return drbd.Version(n), nil
			}
		}
	} else if errors.Is(err, exec.ErrNotFound) {
		return 0, ocf.Installed("drbdadm is not installed: %v", err)
	}
	out, merr := r.Run.Run(ctx, "modinfo", "-F", "version", "drbd")
	if merr != nil {
		return 0, ocf.Installed("DRBD kernel module not loaded and not installed (modinfo drbd: %v)", merr)
	}
	v, perr := drbd.ParseVersion(strings.TrimSpace(string(out)))
	if perr != nil {
		return 0, ocf.Installed("DRBD kernel module not loaded, and modinfo says version %q", strings.TrimSpace(string(out)))
	}
	return v, nil
}

// validate is the full check of validate-all, start, promote and reload:
// parameters, clone meta, module version, the resource in drbdconf for
// this host and its backing disks on this node. It changes nothing.
func (a Agent) validate(ctx context.Context, r *ocf.Resource) (*config, drbd.Tool, error) {
	c, err := readConfig(r)
	if err != nil {
		return nil, drbd.Tool{}, err
	}
	var ver drbd.Version
	verErr := error(nil)
	got := false
	version := func() (drbd.Version, error) {
		if !got {
			ver, verErr = a.moduleVersion(ctx, r)
			got = true
		}
		return ver, verErr
	}
	if err := checkMeta(r, version); err != nil {
		return nil, drbd.Tool{}, err
	}
	act := r.Env.Action
	if act != "validate-all" && act != "reload" {
		if err := checkNotify(r); err != nil {
			return nil, drbd.Tool{}, err
		}
	}
	v, err := version()
	if err != nil {
		return nil, drbd.Tool{}, err
	}
	if err := checkVersion(c, v); err != nil {
		return nil, drbd.Tool{}, err
	}
	t := c.tool(r)
	if c.devices, err = t.Devices(ctx); err != nil {
		stacked := t
		stacked.Stacked = true
		if c.devices, err = stacked.Devices(ctx); err != nil {
			if errors.Is(err, drbd.ErrNotInConfig) {
				return nil, t, ocf.Installed("drbd_resource=%s is not defined for this host in drbdconf=%s", c.res, c.conf)
			}
			return nil, t, ocf.Installed("drbd_resource=%s: drbdconf=%s: %v", c.res, c.conf, err)
		}
		t = stacked
	}
	lower, err := t.LowerDevices(ctx)
	if err != nil {
		return nil, t, ocf.Installed("drbd_resource=%s: backing disks: %v", c.res, err)
	}
	for _, dev := range lower {
		if dev == "none" {
			continue // an intentional diskless client
		}
		if _, err := os.Stat(dev); err != nil {
			return nil, t, ocf.Installed("drbd_resource=%s: backing disk %s does not exist on this node", c.res, dev)
		}
	}
	if (act == "start" || act == "promote") && first(r.Env.Meta["promoted_max"], r.Env.Meta["master_max"]) > "1" {
		dump, err := t.Dump(ctx)
		if err != nil || !allowTwoPrimaries().MatchString(dump) {
			return nil, t, ocf.Configured("clone meta attribute promoted-max=%s, but drbd_resource=%s does not allow-two-primaries", first(r.Env.Meta["promoted_max"], r.Env.Meta["master_max"]), c.res)
		}
	}
	return c, t, nil
}

var versionCode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^DRBD_KERNEL_VERSION_CODE=0x([0-9a-fA-F]+)$`) })

var allowTwoPrimaries = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^\s*allow-two-primaries(\s+yes)?;$`) })

func checkVersion(c *config, v drbd.Version) error {
	if c.versionGE != "" {
		if want, _ := drbd.ParseVersion(c.versionGE); v < want {
			return ocf.Installed("require_drbd_module_version_ge=%s, but the DRBD kernel module is %s", c.versionGE, v)
		}
	}
	if c.versionLT != "" {
		if want, _ := drbd.ParseVersion(c.versionLT); v >= want {
			return ocf.Installed("require_drbd_module_version_lt=%s, but the DRBD kernel module is %s", c.versionLT, v)
		}
	}
	return nil
}

// Validate is validate-all (and what Main runs before start, promote and
// reload).
func (a Agent) Validate(ctx context.Context, r *ocf.Resource) error {
	_, _, err := a.validate(ctx, r)
	return err
}

// quick is the check of the other actions: parameters and clone meta,
// no program run (a monitor runs only drbdsetup).
func (a Agent) quick(ctx context.Context, r *ocf.Resource) (*config, drbd.Tool, error) {
	c, err := readConfig(r)
	if err != nil {
		return nil, drbd.Tool{}, err
	}
	if err := checkMeta(r, func() (drbd.Version, error) { return a.moduleVersion(ctx, r) }); err != nil {
		return nil, drbd.Tool{}, err
	}
	return c, c.tool(r), nil
}

// status reads the state; a module that is not loaded is a resource
// that is not running.
func status(ctx context.Context, t drbd.Tool) (*drbd.State, error) {
	st, err := t.Status(ctx)
	if errors.Is(err, drbd.ErrNoModule) {
		return &drbd.State{Name: t.Resource}, nil
	}
	if errors.Is(err, exec.ErrNotFound) {
		return nil, ocf.Installed("drbd_resource=%s: drbd-utils not installed: %v", t.Resource, err)
	}
	if err != nil {
		return nil, ocf.Generic("drbd_resource=%s: %v", t.Resource, err)
	}
	return st, nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
