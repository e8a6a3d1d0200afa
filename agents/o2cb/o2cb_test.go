package o2cb

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/metadata"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/proc"
)

// node is a fake node: sysfs, /proc/filesystems, a mount table and /proc.
type node struct {
	dir   string
	agent *Agent
}

func newNode(t *testing.T, stack string, dlm bool) *node {
	t.Helper()
	n := &node{dir: t.TempDir()}
	os.MkdirAll(n.path("sys/fs/ocfs2"), 0o755)
	os.WriteFile(n.path("sys/fs/ocfs2/loaded_plugins"), []byte("o2cb\nuser\n"), 0o644)
	os.WriteFile(n.path("sys/fs/ocfs2/cluster_stack"), []byte(stack+"\n"), 0o644)
	os.WriteFile(n.path("filesystems"), []byte("nodev\tconfigfs\n\tocfs2\n"), 0o644)
	os.WriteFile(n.path("mountinfo"), []byte("30 1 0:30 / "+n.path("config")+" rw - configfs configfs rw\n"), 0o644)
	os.MkdirAll(n.path("proc"), 0o755)
	if dlm {
		n.process(t, 321, "dlm_controld")
	}
	n.agent = &Agent{Proc: proc.FS{Root: n.path("proc")}, Filesystems: n.path("filesystems"), Mountinfo: n.path("mountinfo")}
	return n
}

func (n *node) path(p string) string { return filepath.Join(n.dir, p) }

func (n *node) process(t *testing.T, pid int, comm string) {
	d := n.path("proc/" + itoa(pid))
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(d, "stat"), []byte(itoa(pid)+" ("+comm+") S 1 "+itoa(pid)+" "+itoa(pid)+" 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n"), 0o644)
	os.WriteFile(filepath.Join(d, "cmdline"), []byte("/usr/sbin/"+comm+"\x00-s\x000\x00"), 0o644)
}

func itoa(n int) string { return strconv.Itoa(n) }

func (n *node) resource(t *testing.T, action string, extra map[string]string) *ocf.Resource {
	t.Helper()
	md, err := ocf.ParseMetadata(metadata.Get("o2cb"))
	if err != nil {
		t.Fatal(err)
	}
	env := ocf.ReadEnv([]string{"OCF_RESOURCE_INSTANCE=o2cb", "HA_RSCTMP=" + n.path("rsctmp"), "OCF_RA_VERSION_MAJOR=1"}, "o2cb", action)
	raw := map[string]string{"sysfs": n.path("sys/fs"), "configfs": n.path("config"), "daemon_timeout": "0"}
	for k, v := range extra {
		raw[k] = v
	}
	p, err := md.Bind(raw, env)
	if err != nil {
		t.Fatal(err)
	}
	return &ocf.Resource{Env: env, Params: p, Log: slog.New(slog.DiscardHandler), Run: &ocf.Runner{NoBinaries: true}}
}

func (n *node) monitor(t *testing.T) (ocf.Status, error) {
	return n.agent.Monitor(context.Background(), n.resource(t, "monitor", nil))
}

func TestLifecycleOnANodeReadyForThePacemakerStack(t *testing.T) {
	n := newNode(t, "o2cb", true)
	if st, _ := n.monitor(t); st != ocf.NotRunning {
		t.Fatalf("probe before start: %s, want 7", st)
	}
	if err := n.agent.Start(context.Background(), n.resource(t, "start", nil)); err != nil {
		t.Fatalf("start: %v", err)
	}
	if b, _ := os.ReadFile(n.path("sys/fs/ocfs2/cluster_stack")); strings.TrimSpace(string(b)) != "pcmk" {
		t.Errorf("start left the cluster stack %q, want pcmk", b)
	}
	if st, err := n.monitor(t); st != ocf.Success {
		t.Fatalf("monitor after start: %s %v", st, err)
	}
	os.RemoveAll(n.path("proc/321"))
	if st, err := n.monitor(t); st != ocf.ErrGeneric || !strings.Contains(err.Error(), "dlm_controld is not running") {
		t.Errorf("monitor without dlm_controld: %s %v, want 1 naming dlm_controld", st, err)
	}
	if err := n.agent.Stop(context.Background(), n.resource(t, "stop", nil)); err != nil {
		t.Fatal(err)
	}
	if st, _ := n.monitor(t); st != ocf.NotRunning {
		t.Errorf("monitor after stop: %s, want 7", st)
	}
}

func TestStartFailsWithWhatIsMissing(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(n *node)
		params map[string]string
		want   ocf.Status
		reason string
	}{
		{"no dlm_controld", func(n *node) { os.RemoveAll(n.path("proc/321")) }, nil, ocf.ErrGeneric, "dlm_controld is not running"},
		{"no user-space stack plugin and no modprobe", func(n *node) { os.WriteFile(n.path("sys/fs/ocfs2/loaded_plugins"), []byte("o2cb\n"), 0o644) }, nil, ocf.ErrInstalled, "ocfs2_stack_user"},
		{"no ocfs2 and no modprobe", func(n *node) { os.WriteFile(n.path("filesystems"), []byte("nodev\tconfigfs\n"), 0o644) }, nil, ocf.ErrInstalled, "ocfs2"},
		{"another stack", nil, map[string]string{"stack": "o2cb"}, ocf.ErrConfigured, `stack="o2cb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, "pcmk", true)
			if tt.setup != nil {
				tt.setup(n)
			}
			r := n.resource(t, "start", tt.params)
			err := n.agent.Validate(context.Background(), r)
			if err == nil {
				err = n.agent.Start(context.Background(), r)
			}
			if ocf.StatusOf(err) != tt.want || err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("start: %v (%s), want %s naming %q", err, ocf.StatusOf(err), tt.want, tt.reason)
			}
			if _, err := os.Stat(stateFile(r)); err == nil {
				t.Error("a failed start recorded the resource as started")
			}
		})
	}
}
