package measure

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

// A trace as StraceArgv has strace write it: a shell agent, pids aligned
// with two spaces (strace pads them to a common width), a failed PATH
// lookup, a call interrupted by another process's line and resumed
// later, and the end of every process.
const trace = `9910  execve("/usr/lib/ocf/resource.d/pacemaker/Stateful", ["/usr/lib/ocf/resource.d/pacemake"..., "monitor"], 0x7fffd7e96ea8 /* 45 vars */) = 0
13912 execve("/usr/bin/basename", ["basename", "/usr/lib/ocf/resource.d/pacemake"...], 0x556ed126cd18 /* 45 vars */) = 0
13912 +++ exited with 0 +++
13914 execve("/usr/local/sbin/crm_attribute", ["crm_attribute", "-p"], 0x556ed127c628 /* 45 vars */) = -1 ENOENT (No such file or directory)
13916 execve("/usr/bin/cat", ["cat", "/tmp/a \"quoted\" name"], 0x556ed127c628 /* 45 vars */ <unfinished ...>
13914 +++ exited with 127 +++
13916 <... execve resumed>)            = 0
13919 execve("/usr/bin/cat", ["cat", "/tmp/s"], 0x556ed127c628 /* 45 vars */) = 0
13920 execve("/usr/bin/missing", ["missing"], 0x556ed127c628 /* 45 vars */ <unfinished ...>
13920 <... execve resumed>)            = -1 ENOENT (No such file or directory)
13916 +++ exited with 0 +++
13921 execve("/proc/self/exe", ["ocfbox-netif-announcer", "{\"IP\":\"192.0.2.10\",\"LinkIndex\":2,"...], 0x7ffc35e3c4b0 /* 0 vars */) = 0
13919 +++ killed by SIGTERM +++
9910  +++ exited with 7 +++
`

func TestParseTrace(t *testing.T) {
	got, err := ParseTrace(strings.NewReader(trace))
	if err != nil {
		t.Fatal(err)
	}
	want := Trace{Programs: []string{"Stateful", "basename", "cat", "cat", "ocfbox-netif-announcer"}, Leader: 9910, Ended: true, Status: 7}
	if !slices.Equal(got.Programs, want.Programs) || got.Leader != want.Leader || got.Ended != want.Ended || got.Status != want.Status {
		t.Errorf("ParseTrace = %+v, want %+v", got, want)
	}
	if s := ProgramList(got.Programs); s != "Stateful, basename, cat ×2, ocfbox-netif-announcer" {
		t.Errorf("ProgramList = %q", s)
	}
}

func TestParseTraceLeaderKilledOrStillRunning(t *testing.T) {
	for _, c := range []struct {
		name, text string
		ended      bool
		status     int
	}{
		{"killed", "41 execve(\"/bin/x\", [\"x\"], 0x1 /* 1 var */) = 0\n41 +++ killed by SIGKILL +++\n", true, 128 + 9},
		{"killed with a core", "41 execve(\"/bin/x\", [\"x\"], 0x1 /* 1 var */) = 0\n41 +++ killed by SIGSEGV (core dumped) +++\n", true, 128 + 11},
		{"a child ended, the leader runs", "41 execve(\"/bin/x\", [\"x\"], 0x1 /* 1 var */) = 0\n42 +++ exited with 3 +++\n", false, 0},
		{"empty", "", false, 0},
	} {
		got, err := ParseTrace(strings.NewReader(c.text))
		if err != nil {
			t.Fatal(err)
		}
		if got.Ended != c.ended || got.Status != c.status {
			t.Errorf("%s: Ended %v Status %d, want %v %d", c.name, got.Ended, got.Status, c.ended, c.status)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 10; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.9, 9 * time.Millisecond}, {1, 10 * time.Millisecond}, {0, time.Millisecond}} {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("Percentile(1..10 ms, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Median([]int{7, 1, 3}); got != 3 {
		t.Errorf("Median(7, 1, 3) = %d, want 3", got)
	}
	if got := Median([]int(nil)); got != 0 {
		t.Errorf("Median() = %d, want 0", got)
	}
}

func TestReadMaxRSS(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		text string
		want int
		ok   bool
	}{
		{"1024\n", 1024, true},
		{"Command exited with non-zero status 7\n8812\n", 8812, true},
		{"", 0, false},
		{"Command terminated by signal 9\n", 0, false},
	} {
		f := filepath.Join(dir, "time.out")
		if err := os.WriteFile(f, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadMaxRSS(f)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ReadMaxRSS(%q) = %d, %v; want %d, ok %v", c.text, got, err, c.want, c.ok)
		}
	}
}

// A program that leaves a process running: WaitTrace returns once the
// grace has passed, with the program's status, and the process keeps
// running without strace.
func TestWaitTraceDetachesFromWhatOutlivesTheProgram(t *testing.T) {
	strace := testenv.RequireTool(t, "strace")
	dir := t.TempDir()
	file, pidFile := filepath.Join(dir, "trace"), filepath.Join(dir, "pid")
	argv := append(StraceArgv(strace, file), "/bin/sh", "-c", `sleep 30 </dev/null >/dev/null 2>&1 & echo $! >"$0"; exit 3`, pidFile)
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	tr, err := WaitTrace(context.Background(), cmd, file, 200*time.Millisecond)
	took := time.Since(began)
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid > 0 {
		defer syscall.Kill(pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Ended || tr.Status != 3 || !slices.Equal(tr.Programs, []string{"sh", "sleep"}) {
		t.Errorf("trace = %+v, want sh and sleep, status 3", tr)
	}
	if took > 20*time.Second {
		t.Errorf("WaitTrace waited for the background sleep (%v)", took)
	}
	if pid == 0 || syscall.Kill(pid, 0) != nil {
		t.Errorf("the background sleep (pid %d) did not survive strace's detaching", pid)
	}
	st, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if strings.Contains(string(st), "TracerPid:\t") && !strings.Contains(string(st), "TracerPid:\t0\n") {
		t.Errorf("the background sleep is still traced:\n%s", st)
	}
}

// A program that ends with all its processes: strace ends by itself.
func TestWaitTrace(t *testing.T) {
	strace := testenv.RequireTool(t, "strace")
	file := filepath.Join(t.TempDir(), "trace")
	argv := append(StraceArgv(strace, file), "/bin/sh", "-c", "/bin/true; exit 0")
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr, err := WaitTrace(context.Background(), cmd, file, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Ended || tr.Status != 0 || !slices.Equal(tr.Programs, []string{"sh", "true"}) {
		t.Errorf("trace = %+v, want sh and true, status 0", tr)
	}
}
