package ipaddr2_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/measure"
	"github.com/ocfbox/ocfbox/internal/netnstest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
	"github.com/ocfbox/ocfbox/pkg/netif"
)

// The agents under test: ocfbox's, through a symlink named IPaddr2 (the
// name selects the agent), and the installed reference.
const reference = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"

var (
	linkOnce sync.Once
	linkPath string
	linkErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if linkPath != "" {
		os.RemoveAll(filepath.Dir(linkPath))
	}
	os.Exit(code)
}

func ocfbox(t testing.TB) string {
	t.Helper()
	bin := testenv.Binary(t)
	linkOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ocfbox-ipaddr2-")
		if err != nil {
			linkErr = err
			return
		}
		os.Chmod(dir, 0o755)
		os.Chmod(filepath.Dir(bin), 0o755) // reachable for tests that run the agent as nobody
		linkPath = filepath.Join(dir, "IPaddr2")
		linkErr = os.Symlink(bin, linkPath)
	})
	if linkErr != nil {
		t.Fatal(linkErr)
	}
	return linkPath
}

func referenceAgentPath(t testing.TB) string {
	t.Helper()
	testenv.RequireFile(t, reference)
	return reference
}

func agentName(path string) string {
	if path == reference {
		return "reference IPaddr2"
	}
	return "ocfbox IPaddr2"
}

// lab is a node for one test: namespace ns with interface va (192.0.2.1/24
// brd 192.0.2.255 and 2001:db8::1/64), whose veth peer vb lives in
// namespace peer, the rest of the LAN, where captures listen.
type lab struct {
	ns, peer *netnstest.Namespace
	rsctmp   string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	testenv.RequireRoot(t)
	l := &lab{ns: netnstest.New(t), peer: netnstest.New(t), rsctmp: t.TempDir()}
	l.wire(t)
	return l
}

// wire (re)creates va–vb and va's own addresses.
func (l *lab) wire(t *testing.T) {
	t.Helper()
	l.ns.Veth(t, "va", l.peer, "vb")
	l.ip(t, "addr add 192.0.2.1/24 brd + dev va")
	l.ip(t, "-6 addr add 2001:db8::1/64 dev va nodad")
	// Even without DAD the kernel installs the address's local route from
	// a work queue, after `ip addr add` returns: wait for it, or a snapshot
	// taken now differs from one taken later with nothing having changed.
	for end := time.Now().Add(5 * time.Second); !strings.Contains(l.ip(t, "-6 route show table local"), "local 2001:db8::1 "); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the local route of 2001:db8::1 on va did not appear within 5 s")
		}
	}
}

// reset puts the lab back as newLab left it: every interface but lo
// deleted and va–vb wired again, the state directory emptied.
func (l *lab) reset(t *testing.T) {
	t.Helper()
	for _, ns := range []*netnstest.Namespace{l.ns, l.peer} {
		for _, line := range strings.Split(strings.TrimSpace(ns.MustRun(t, "ip", "-o", "link", "show")), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if name != "lo" {
				ns.Run(exec.Command("ip", "link", "del", name)) // a veth's peer may already be gone
			}
		}
		ns.MustRun(t, "ip", "addr", "flush", "dev", "lo")
		ns.MustRun(t, "ip", "addr", "add", "127.0.0.1/8", "dev", "lo")
	}
	entries, _ := os.ReadDir(l.rsctmp)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(l.rsctmp, e.Name()))
	}
	l.wire(t)
}

// ip runs ip(8) in the node's namespace: l.ip(t, "addr add … dev va").
func (l *lab) ip(t *testing.T, args string) string {
	t.Helper()
	return l.ns.MustRun(t, append([]string{"ip"}, strings.Fields(args)...)...)
}

// call is one invocation of an agent.
type call struct {
	action   string
	params   map[string]string
	interval time.Duration     // recurring monitor; 0 is a probe
	meta     map[string]string // CRM_meta_* attributes
	uid      int               // run as this user when not 0
	outside  *netnstest.Namespace
	strace   string // when set, run under this strace, its trace in traceTo
	traceTo  string
}

// outcome is what an invocation returned.
type outcome struct {
	status   ocf.Status
	reason   string // the last ocf-exit-reason line
	stderr   string
	returned time.Time
}

func (o outcome) String() string {
	return fmt.Sprintf("%s (%q)", o.status, o.reason)
}

// run invokes agent inside the node's namespace (or c.outside) as
// pacemaker-execd would.
func (l *lab) run(t *testing.T, agent string, c call) outcome {
	t.Helper()
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"OCF_ROOT=/usr/lib/ocf",
		"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=vip",
		"OCF_RESOURCE_TYPE=IPaddr2",
		"HA_RSCTMP=" + l.rsctmp,
		"OCF_RESKEY_CRM_meta_timeout=20000",
		fmt.Sprintf("OCF_RESKEY_CRM_meta_interval=%d", c.interval.Milliseconds()),
	}
	for k, v := range c.params {
		env = append(env, "OCF_RESKEY_"+k+"="+v)
	}
	for k, v := range c.meta {
		env = append(env, "OCF_RESKEY_CRM_meta_"+k+"="+v)
	}
	argv := []string{agent, c.action}
	if c.strace != "" {
		argv = append(measure.StraceArgv(c.strace, c.traceTo), argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	// Files, not pipes: the wait ends when the agent exits, not when a
	// background child it left (the reference's send_arp) closes its
	// copy of a pipe.
	stderr, err := os.CreateTemp(t.TempDir(), "stderr-")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	if c.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.uid)}}
	}
	ns := l.ns
	if c.outside != nil {
		ns = c.outside
	}
	err = ns.Run(cmd)
	o := outcome{returned: time.Now()}
	b, _ := os.ReadFile(stderr.Name())
	o.stderr = string(b)
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		o.status = ocf.Status(ee.ExitCode())
	default:
		t.Fatalf("run %s %s: %v", agent, c.action, err)
	}
	o.reason, _ = ocftest.ExitReason(o.stderr)
	return o
}

// expect runs the call and fails the test unless the status is want.
func (l *lab) expect(t *testing.T, agent string, c call, want ocf.Status) outcome {
	t.Helper()
	o := l.run(t, agent, c)
	if o.status != want {
		t.Fatalf("%s %s %v (interval %v): %s; want %s\nstderr:\n%s", agentName(agent), c.action, c.params, c.interval, o, want, o.stderr)
	}
	return o
}

// addrs lists the node's addresses equal to ip, on any interface, each as
// "<prefix> on <link>".
func (l *lab) addrs(t *testing.T, ip string) []netif.Address {
	t.Helper()
	var out []netif.Address
	err := l.ns.Do(func() error {
		h, err := netif.Open()
		if err != nil {
			return err
		}
		defer h.Close()
		out, err = h.Find(netip.MustParseAddr(ip), 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// where describes where ip is: "192.0.2.10/24 on va", sorted, "" when
// nowhere.
func (l *lab) where(t *testing.T, ip string) string {
	t.Helper()
	var out []string
	for _, a := range l.addrs(t, ip) {
		out = append(out, fmt.Sprintf("%s on %s", a.Prefix, l.linkName(t, a.LinkIndex)))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func (l *lab) linkName(t *testing.T, index int) string {
	t.Helper()
	var name string
	err := l.ns.Do(func() error {
		h, err := netif.Open()
		if err != nil {
			return err
		}
		defer h.Close()
		lk, err := h.LinkByIndex(index)
		name = lk.Name
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// snapshot is everything of the node's network configuration that an
// agent could change.
func (l *lab) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, args := range []string{"-o addr show", "-o link show", "route show table all", "-6 route show table all", "addrlabel list"} {
		b.WriteString(l.ip(t, args))
	}
	return b.String()
}

// waitNoProcesses waits (bounded) until nothing runs in the node's
// namespace any more, e.g. a background announcer that should end.
func (l *lab) waitNoProcesses(t *testing.T, within time.Duration) []int {
	t.Helper()
	var pids []int
	for end := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		pids, _ = l.ns.Processes()
		if len(pids) == 0 || time.Now().After(end) {
			return pids
		}
	}
}
