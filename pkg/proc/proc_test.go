package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Proc
	}{
		{"plain", "42 (apache2) S 1 42 42 0 -1 4194624 1 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n",
			Proc{PID: 42, PPID: 1, PGID: 42, SID: 42, State: 'S', StartTime: 777, Comm: "apache2"}},
		{"comm with spaces and parentheses", "7 (a (b) c) Z 3 4 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0 0",
			Proc{PID: 7, PPID: 3, PGID: 4, SID: 5, State: 'Z', StartTime: 9, Comm: "a (b) c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat(tt.line)
			if err != nil || got != tt.want {
				t.Errorf("parseStat = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "42 apache2 S 1", "42 (x) S 1 2 3", "x (y) S 1 2 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) succeeded, want an error", bad)
		}
	}
}

// fakeProc is one process of a fake /proc tree.
type fakeProc struct {
	pid, ppid, sid int
	state          byte
	start          uint64
	argv           []string
	exe            string
}

func fakeFS(t *testing.T, procs ...fakeProc) FS {
	t.Helper()
	root := t.TempDir()
	for _, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(p.pid))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		state := p.state
		if state == 0 {
			state = 'S'
		}
		stat := fmt.Sprintf("%d (%s) %c %d %d %d 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0\n",
			p.pid, filepath.Base(first(p.argv)), state, p.ppid, p.sid, p.sid, p.start)
		os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644)
		os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.Join(p.argv, "\x00")+"\x00"), 0o644)
		if p.exe != "" {
			os.Symlink(p.exe, filepath.Join(dir, "exe"))
		}
	}
	os.Mkdir(filepath.Join(root, "self"), 0o755) // not a pid: skipped
	return FS{Root: root}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func pids(ps []Proc) []int {
	var out []int
	for _, p := range ps {
		out = append(out, p.PID)
	}
	slices.Sort(out)
	return out
}

func TestFamilyFindsDescendantsAndSessionMembers(t *testing.T) {
	leader := fakeProc{pid: 100, ppid: 1, sid: 100, start: 1000, argv: []string{"httpd"}}
	others := []fakeProc{
		{pid: 101, ppid: 100, sid: 100, start: 1001, argv: []string{"httpd"}},              // worker
		{pid: 102, ppid: 100, sid: 102, start: 1002, argv: []string{"logger"}},             // child in a session of its own
		{pid: 103, ppid: 102, sid: 102, start: 1003, argv: []string{"logger-child"}},       // its child
		{pid: 104, ppid: 1, sid: 100, start: 1004, argv: []string{"orphan"}},               // orphaned, still in the session
		{pid: 105, ppid: 1, sid: 105, start: 1005, argv: []string{"unrelated"}},            // someone else
		{pid: 106, ppid: 100, sid: 100, start: 1006, argv: []string{"zombie"}, state: 'Z'}, // exited, not reaped
		{pid: 107, ppid: 1, sid: 100, start: 10, argv: []string{"older"}},                  // older than the leader: not its session
	}
	tests := []struct {
		name   string
		procs  []fakeProc
		leader Proc
		want   []int
	}{
		{"leader alive", append([]fakeProc{leader}, others...), Proc{PID: 100, SID: 100, StartTime: 1000}, []int{100, 101, 102, 103, 104}},
		{"leader gone: the session still finds the orphans", others, Proc{PID: 100, SID: 100, StartTime: 1000}, []int{101, 104}},
		{"leader's pid reused: nothing is its family",
			append([]fakeProc{{pid: 100, ppid: 1, sid: 100, start: 5000, argv: []string{"new"}}}, others...),
			Proc{PID: 100, SID: 100, StartTime: 1000}, nil},
		{"leader not a session leader: descendants only", append([]fakeProc{{pid: 100, ppid: 1, sid: 1, start: 1000}}, others...),
			Proc{PID: 100, SID: 1, StartTime: 1000}, []int{100, 101, 102, 103}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := fakeFS(t, tt.procs...)
			got, err := fs.Family(tt.leader)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pids(got), tt.want) {
				t.Errorf("Family = %v, want %v", pids(got), tt.want)
			}
		})
	}
}

func TestFindMatchesCommandLines(t *testing.T) {
	fs := fakeFS(t,
		fakeProc{pid: 10, ppid: 1, sid: 10, start: 1, argv: []string{"/usr/sbin/apache2", "-DSTATUS", "-f", "/etc/web.conf"}},
		fakeProc{pid: 11, ppid: 10, sid: 10, start: 2, argv: []string{"/usr/sbin/apache2", "-DSTATUS", "-f", "/etc/web.conf.old"}},
		fakeProc{pid: 12, ppid: 10, sid: 10, start: 3, argv: []string{"/usr/sbin/apache2", "-f", "/etc/web.conf"}, state: 'Z'},
	)
	got, err := fs.Find(func(_ Proc, argv []string) bool { return slices.Contains(argv, "/etc/web.conf") })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pids(got), []int{10}) {
		t.Errorf("Find = %v, want [10]: exact argument match, zombies left out", pids(got))
	}
}

func TestExeDropsDeletedSuffix(t *testing.T) {
	fs := fakeFS(t, fakeProc{pid: 10, ppid: 1, sid: 10, start: 1, argv: []string{"apache2"}, exe: "/usr/sbin/apache2 (deleted)"})
	if got, err := fs.Exe(10); err != nil || got != "/usr/sbin/apache2" {
		t.Errorf("Exe = %q, %v; want /usr/sbin/apache2", got, err)
	}
	if _, err := fs.Exe(11); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Exe of a missing process: %v, want ErrNoProcess", err)
	}
	if _, err := fs.Stat(11); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Stat of a missing process: %v, want ErrNoProcess", err)
	}
}

// startSleep starts a real process that the test owns and reaps.
func startSleep(t *testing.T) (*exec.Cmd, Proc) {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p, err := Host.Stat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, p
}

func TestSignalAndWaitGoneOnRealProcesses(t *testing.T) {
	cmd, p := startSleep(t)
	go cmd.Wait() // reap, so that the process does not stay a zombie
	if !Host.Current(p) {
		t.Fatal("a fresh sleep is not Current")
	}
	if err := Host.Signal(p, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if left := Host.WaitGone(ctx, []Proc{p}, 10*time.Millisecond); len(left) != 0 {
		t.Errorf("sleep still runs after SIGTERM: %v", left)
	}
	if err := Host.Signal(p, syscall.SIGKILL); err != nil {
		t.Errorf("Signal to a process that is gone: %v, want nil", err)
	}
}

func TestSignalSparesAProcessThatReusedThePid(t *testing.T) {
	_, p := startSleep(t)
	stale := p
	stale.StartTime-- // as if p were an older process with the same pid
	if err := Host.Signal(stale, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if !Host.Current(p) {
		t.Error("Signal killed a process whose start time differs from the one it was asked to signal")
	}
}

func TestWaitGoneReturnsWhatRunsAtTheDeadline(t *testing.T) {
	_, p := startSleep(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if left := Host.WaitGone(ctx, []Proc{p}, 10*time.Millisecond); !slices.Equal(pids(left), []int{p.PID}) {
		t.Errorf("WaitGone = %v, want the sleep that still runs", pids(left))
	}
}
