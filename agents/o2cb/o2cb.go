// Package o2cb is the o2cb agent: it prepares a node for OCFS2 on the
// Pacemaker cluster stack the way today's kernel needs it (configfs,
// ocfs2_stack_user and ocfs2 loaded, the kernel's cluster stack set to
// pcmk, the DLM's dlm_controld running), so that configurations written
// for ocf:ocfs2:o2cb, whose ocfs2_controld.pcmk daemon is gone from
// current distributions, run with only the provider changed.
package o2cb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/mount"
	"github.com/ocfbox/ocfbox/pkg/proc"
)

// Definition registers the agent with the binary.
var Definition = ocf.Definition{Name: "o2cb", Metadata: metadata.Get("o2cb"), New: func() ocf.Agent { return New() }}

// Agent implements ocf.Agent. Its fields are where it looks; tests point
// them at fake trees.
type Agent struct {
	Proc        proc.FS
	Filesystems string // /proc/filesystems
	Mountinfo   string // /proc/self/mountinfo
}

// New is the agent on this host.
func New() *Agent {
	return &Agent{Proc: proc.Host, Filesystems: "/proc/filesystems", Mountinfo: mount.SelfMountinfo}
}

type config struct {
	sysfs, configfs, stack string
	wait                   time.Duration
}

func parse(r *ocf.Resource) (config, error) {
	c := config{sysfs: r.Params.String("sysfs"), configfs: r.Params.String("configfs"), stack: r.Params.String("stack")}
	for name, v := range map[string]string{"sysfs": c.sysfs, "configfs": c.configfs} {
		if !filepath.IsAbs(v) {
			return c, ocf.Configured("%s=%q is not an absolute path", name, v)
		}
	}
	if c.stack != "pcmk" {
		return c, ocf.Configured("stack=%q: only the Pacemaker stack, pcmk, can run under Pacemaker", c.stack)
	}
	n, err := strconv.Atoi(strings.TrimSpace(r.Params.String("daemon_timeout")))
	if err != nil || n < 0 {
		return c, ocf.Configured("daemon_timeout=%q is not a number of seconds", r.Params.String("daemon_timeout"))
	}
	c.wait = time.Duration(n) * time.Second
	return c, nil
}

func stateFile(r *ocf.Resource) string { return r.Env.StatePath(".state") }

// Validate checks the parameters.
func (a *Agent) Validate(_ context.Context, r *ocf.Resource) error {
	_, err := parse(r)
	return err
}

// problem is what keeps this node from mounting OCFS2 on the pcmk stack,
// or "" when nothing does. It runs no program.
func (a *Agent) problem(c config) string {
	if !a.kernelHas("configfs") {
		return "configfs is not loaded"
	}
	if tab, err := mount.ReadTable(a.Mountinfo); err != nil {
		return err.Error()
	} else if m, ok := tab.At(c.configfs); !ok || m.FSType != "configfs" {
		return "configfs is not mounted on " + c.configfs
	}
	plugins, err := os.ReadFile(filepath.Join(c.sysfs, "ocfs2", "loaded_plugins"))
	if err != nil || !slices.Contains(strings.Fields(string(plugins)), "user") {
		return "the OCFS2 user-space stack plugin (ocfs2_stack_user) is not loaded"
	}
	stack, err := os.ReadFile(filepath.Join(c.sysfs, "ocfs2", "cluster_stack"))
	if err != nil || strings.TrimSpace(string(stack)) != c.stack {
		return fmt.Sprintf("the kernel's OCFS2 cluster stack is %q, not %q", strings.TrimSpace(string(stack)), c.stack)
	}
	if !a.kernelHas("ocfs2") {
		return "the ocfs2 file system is not loaded"
	}
	if !a.dlmControld() {
		return "dlm_controld is not running (start the DLM, ocf:pacemaker:controld, before o2cb)"
	}
	return ""
}

func (a *Agent) kernelHas(fstype string) bool {
	b, err := os.ReadFile(a.Filesystems)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == fstype {
			return true
		}
	}
	return false
}

func (a *Agent) dlmControld() bool {
	ps, err := a.Proc.Find(func(p proc.Proc, argv []string) bool {
		return p.Comm == "dlm_controld" || filepath.Base(argv[0]) == "dlm_controld"
	})
	return err == nil && len(ps) > 0
}

// Monitor is running when start ran here and the node still has all that
// OCFS2 on pcmk needs; a node that lost some of it is a failure.
func (a *Agent) Monitor(_ context.Context, r *ocf.Resource) (ocf.Status, error) {
	c, err := parse(r)
	if err != nil {
		return ocf.ErrConfigured, err
	}
	if _, err := os.Stat(stateFile(r)); errors.Is(err, fs.ErrNotExist) {
		return ocf.NotRunning, ocf.Stopped("o2cb is not started on this node")
	}
	if p := a.problem(c); p != "" {
		return ocf.ErrGeneric, ocf.Generic("%s", p)
	}
	return ocf.Success, nil
}

// Start loads and sets up what is missing, waits for dlm_controld, and
// records that the resource runs.
func (a *Agent) Start(ctx context.Context, r *ocf.Resource) error {
	c, err := parse(r)
	if err != nil {
		return err
	}
	modprobe := func(module string) error {
		path, err := r.Run.LookPath("modprobe")
		if err != nil {
			return ocf.Installed("%s is not loaded and modprobe is not installed", module)
		}
		if _, err := r.Run.Run(ctx, path, module); err != nil {
			return ocf.Installed("load %s: %w", module, err)
		}
		return nil
	}
	if !a.kernelHas("configfs") {
		if err := modprobe("configfs"); err != nil {
			return err
		}
	}
	if tab, err := mount.ReadTable(a.Mountinfo); err != nil {
		return ocf.Generic("%w", err)
	} else if m, ok := tab.At(c.configfs); !ok || m.FSType != "configfs" {
		if err := mount.Syscall("configfs", c.configfs, "configfs", mount.Options{}); err != nil {
			return ocf.Generic("%w", err)
		}
	}
	plugins := filepath.Join(c.sysfs, "ocfs2", "loaded_plugins")
	if b, err := os.ReadFile(plugins); err != nil || !slices.Contains(strings.Fields(string(b)), "user") {
		if err := modprobe("ocfs2_stack_user"); err != nil {
			return err
		}
	}
	stackFile := filepath.Join(c.sysfs, "ocfs2", "cluster_stack")
	if b, err := os.ReadFile(stackFile); err != nil || strings.TrimSpace(string(b)) != c.stack {
		if err := os.WriteFile(stackFile, []byte(c.stack+"\n"), 0o644); err != nil {
			return ocf.Installed("set the OCFS2 cluster stack to %s: %v (a volume of another stack is mounted?)", c.stack, err)
		}
	}
	if !a.kernelHas("ocfs2") {
		if err := modprobe("ocfs2"); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(c.wait)
	for !a.dlmControld() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return ocf.Generic("dlm_controld is not running after %s: start the DLM (ocf:pacemaker:controld) before o2cb", c.wait)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if p := a.problem(c); p != "" {
		return ocf.Generic("after start: %s", p)
	}
	if err := os.MkdirAll(filepath.Dir(stateFile(r)), 0o755); err != nil {
		return ocf.Generic("record the start: %w", err)
	}
	if err := os.WriteFile(stateFile(r), []byte(c.stack+"\n"), 0o644); err != nil {
		return ocf.Generic("record the start: %w", err)
	}
	return nil
}

// Stop takes the resource out of service. The modules stay: unloading
// them fails while a volume is mounted, and buys nothing.
func (a *Agent) Stop(_ context.Context, r *ocf.Resource) error {
	if err := os.Remove(stateFile(r)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ocf.Generic("stop: %w", err)
	}
	return nil
}
