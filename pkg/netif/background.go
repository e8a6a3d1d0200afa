package netif

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// announcerArgv0 is the name under which the executable runs as a
// background announcer. No agent or command has this name, so
// RunAnnouncer can never catch a normal invocation.
const announcerArgv0 = "ocfbox-netif-announcer"

// RunAnnouncer runs this process as the background announcer when
// StartBackground started it as one (argv[0] is the announcer's reserved
// name), and returns its exit code and true; otherwise it returns false
// at once. The program's main (and the TestMain of tests that start
// announcers from the test binary) calls it first.
func RunAnnouncer(args []string) (code int, ok bool) {
	if len(args) != 2 || args[0] != announcerArgv0 {
		return 0, false
	}
	return runBackground(args[1], time.Now), true
}

// Background says how StartBackground runs the announcer.
type Background struct {
	// Namespace is the named network namespace the announcer enters
	// first; "" leaves it in the one it is started in (the calling
	// thread's).
	Namespace string
	// PIDFile records the announcer's process ID until it ends, so that
	// StopBackground can end it early. Required.
	PIDFile string
	// LogFile, if not "", receives the announcer's log lines (appended).
	LogFile string
	// Executable is the program to re-run; default /proc/self/exe, the
	// running executable.
	Executable string
	// Delay is how long the announcer waits before its first packet, e.g.
	// one interval after an announcement the caller made itself.
	Delay time.Duration
}

// backgroundJob is what the parent hands the announcer, as JSON in argv[1].
type backgroundJob struct {
	IP         string `json:"ip"`
	LinkIndex  int    `json:"ifindex"`
	LinkName   string `json:"ifname"`
	HWAddr     string `json:"hwaddr"`
	EncapType  string `json:"encap"`
	Count      int    `json:"count"`
	IntervalMS int64  `json:"interval_ms"`
	ARPMode    int    `json:"arp_mode"`
	DelayMS    int64  `json:"delay_ms,omitempty"`
	Namespace  string `json:"netns,omitempty"`
	PIDFile    string `json:"pidfile"`
	LogFile    string `json:"logfile,omitempty"`
}

// backgroundSlack is how much longer than Count×Interval an announcer may
// live, whatever happens: the loop is bounded in count and in time.
const backgroundSlack = 5 * time.Second

// StartBackground makes the announcement from a detached copy of the
// running executable (its own session, standard streams on /dev/null),
// so that the caller can return at once, and records its process ID in
// bg.PIDFile. The announcer stops early when the address is no longer on
// the link, and always within Delay + Count×Interval plus a few seconds.
// It is the only process this package ever starts.
func StartBackground(a Announcement, bg Background) (int, error) {
	if bg.PIDFile == "" {
		return 0, errors.New("start background announcer: no PID file given")
	}
	job := backgroundJob{
		IP: a.IP.String(), LinkIndex: a.Link.Index, LinkName: a.Link.Name,
		HWAddr: a.Link.HardwareAddr.String(), EncapType: a.Link.EncapType,
		Count: a.Count, IntervalMS: a.Interval.Milliseconds(), ARPMode: int(a.ARPMode), DelayMS: bg.Delay.Milliseconds(),
		Namespace: bg.Namespace, PIDFile: bg.PIDFile, LogFile: bg.LogFile,
	}
	arg, err := json.Marshal(job)
	if err != nil {
		return 0, err
	}
	exe := bg.Executable
	if exe == "" {
		exe = "/proc/self/exe"
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, opErr("start background announcer for", a.IP.String(), err)
	}
	defer devnull.Close()
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{announcerArgv0, string(arg)},
		Env:         []string{},
		Stdin:       devnull,
		Stdout:      devnull,
		Stderr:      devnull,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return 0, opErr("start background announcer for", a.IP.String(), err)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	if err := writePIDFile(bg.PIDFile, pid); err != nil {
		syscall.Kill(pid, syscall.SIGTERM)
		return 0, opErr("record background announcer in", bg.PIDFile, err)
	}
	return pid, nil
}

func writePIDFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// StopBackground ends the announcer recorded in pidFile, if it is still
// running, waits (a second at most, then kills it) until it is gone, and
// removes the file. It reports whether it ended one. A PID that now
// belongs to another process is left alone.
func StopBackground(pidFile string) (bool, error) {
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, opErr("read", pidFile, err)
	}
	defer os.Remove(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false, nil
	}
	if !isAnnouncer(pid, pidFile) {
		return false, nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return false, nil
		}
		return false, opErr("stop background announcer", strconv.Itoa(pid), err)
	}
	for end := time.Now().Add(time.Second); alive(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			syscall.Kill(pid, syscall.SIGKILL)
			break
		}
	}
	return true, nil
}

// alive reports whether pid is a process that has not ended (a zombie has).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// the state follows the command name in parentheses
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// isAnnouncer reports whether pid is a background announcer started with
// this PID file.
func isAnnouncer(pid int, pidFile string) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
	if len(args) != 2 || string(args[0]) != announcerArgv0 {
		return false
	}
	var job backgroundJob
	return json.Unmarshal(args[1], &job) == nil && job.PIDFile == pidFile
}

// runBackground is the announcer process.
func runBackground(arg string, now func() time.Time) int {
	var job backgroundJob
	if err := json.Unmarshal([]byte(arg), &job); err != nil {
		return 2
	}
	log := io.Discard
	if job.LogFile != "" {
		if f, err := os.OpenFile(job.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			defer f.Close()
			log = f
		}
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(log, "%s %s[%d]: %s\n", now().Format(time.RFC3339Nano), announcerArgv0, os.Getpid(), fmt.Sprintf(format, args...))
	}
	defer removeOwnPIDFile(job.PIDFile)
	a, err := job.announcement()
	if err != nil {
		logf("bad job %s: %v", arg, err)
		return 2
	}
	if job.Namespace != "" {
		if err := EnterNamespace(job.Namespace); err != nil {
			logf("%v", err)
			return 1
		}
	}
	h, err := Open()
	if err != nil {
		logf("%v", err)
		return 1
	}
	defer h.Close()
	delay := time.Duration(job.DelayMS) * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), delay+time.Duration(a.Count)*a.Interval+backgroundSlack)
	defer cancel()
	if err := sleep(ctx, delay); err != nil {
		return 1
	}
	present := func() bool {
		found, err := h.Find(a.IP, a.Link.Index)
		return err == nil && len(found) > 0
	}
	sent, err := Announce(ctx, a, present)
	if err != nil {
		logf("announced %s on %s %d times, then: %v", a.IP, a.Link.Name, sent, err)
		return 1
	}
	logf("announced %s on %s: %d packets", a.IP, a.Link.Name, sent)
	return 0
}

func (job backgroundJob) announcement() (Announcement, error) {
	ip, err := netip.ParseAddr(job.IP)
	if err != nil {
		return Announcement{}, err
	}
	hw, err := net.ParseMAC(job.HWAddr)
	if err != nil {
		return Announcement{}, err
	}
	if job.Count < 0 || job.IntervalMS < 0 || job.DelayMS < 0 {
		return Announcement{}, errors.New("negative count or interval")
	}
	return Announcement{
		IP:       ip,
		Link:     Link{Index: job.LinkIndex, Name: job.LinkName, HardwareAddr: hw, EncapType: job.EncapType},
		Count:    job.Count,
		Interval: time.Duration(job.IntervalMS) * time.Millisecond,
		ARPMode:  ARPMode(job.ARPMode),
	}, nil
}

func removeOwnPIDFile(path string) {
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		os.Remove(path)
	}
}
