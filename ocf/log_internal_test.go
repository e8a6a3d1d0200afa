package ocf

import (
	"bytes"
	"errors"
	"fmt"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSyslog listens on a Unix datagram socket as syslogd does on
// /dev/log, and points NewLogger at it for the test.
func fakeSyslog(t *testing.T) *net.UnixConn {
	path := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	dial := dialSyslog
	t.Cleanup(func() { dialSyslog = dial })
	dialSyslog = func(facility syslog.Priority, tag string) (*syslog.Writer, error) {
		return syslog.Dial("unixgram", path, facility|syslog.LOG_INFO, tag)
	}
	return conn
}

func TestLoggerSendsToSyslogWithFacilityAndSeverity(t *testing.T) {
	conn := fakeSyslog(t)
	var stderr bytes.Buffer
	env := ReadEnv([]string{"OCF_RESOURCE_INSTANCE=rsc1", "HA_LOGFACILITY=local3", "HA_debug=1"}, "Tester", "start")
	log := NewLogger(env, &stderr)
	log.Debug("looking")
	log.Info("started")
	log.Warn("slow")
	log.Error("failed")
	log.Log(t.Context(), LevelCritical, "on fire")
	const local3 = 19 << 3
	want := []struct {
		priority int
		text     string
	}{
		{local3 + 7, "DEBUG: looking"},
		{local3 + 6, "INFO: started"},
		{local3 + 4, "WARNING: slow"},
		{local3 + 3, "ERROR: failed"},
		{local3 + 2, "CRIT: on fire"},
	}
	buf := make([]byte, 4096)
	for _, w := range want {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("read syslog message for %q: %v", w.text, err)
		}
		msg := string(buf[:n])
		wantTail := fmt.Sprintf(" Tester(rsc1)[%d]: %s\n", os.Getpid(), w.text)
		if !strings.HasPrefix(msg, fmt.Sprintf("<%d>", w.priority)) || !strings.HasSuffix(msg, wantTail) {
			t.Errorf("syslog got %q, want priority <%d> and the ocf_log tag once: %q", msg, w.priority, wantTail)
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr got %q; lines syslog took must not be repeated there", stderr.String())
	}
}

func TestLoggerFallsBackToStderrWhenSyslogIsUnreachable(t *testing.T) {
	dial := dialSyslog
	t.Cleanup(func() { dialSyslog = dial })
	dialSyslog = func(syslog.Priority, string) (*syslog.Writer, error) {
		return nil, errors.New("dial unixgram /dev/log: connect: no such file or directory")
	}
	var stderr bytes.Buffer
	env := ReadEnv([]string{"OCF_RESOURCE_INSTANCE=rsc1", "HA_LOGFACILITY=daemon"}, "Tester", "start")
	NewLogger(env, &stderr).Info("started")
	if want := fmt.Sprintf("Tester(rsc1)[%d] INFO: started\n", os.Getpid()); stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}

func TestLoggerConnectsToSyslogOnlyWhenItWritesAndOnlyOnce(t *testing.T) {
	conn := fakeSyslog(t)
	inner := dialSyslog
	dials := 0
	dialSyslog = func(facility syslog.Priority, tag string) (*syslog.Writer, error) {
		dials++
		return inner(facility, tag)
	}
	env := ReadEnv([]string{"OCF_RESOURCE_INSTANCE=rsc1", "HA_LOGFACILITY=daemon"}, "Tester", "monitor")
	log := NewLogger(env, new(bytes.Buffer))
	log.Debug("not logged without HA_debug")
	if dials != 0 {
		t.Fatalf("dialled syslog %d times before any line was written; a quiet monitor must not connect", dials)
	}
	log.Info("one")
	log.Info("two")
	if dials != 1 {
		t.Errorf("dialled syslog %d times for two lines, want once", dials)
	}
	buf := make([]byte, 4096)
	for _, want := range []string{"INFO: one", "INFO: two"} {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil || !strings.Contains(string(buf[:n]), want) {
			t.Errorf("syslog got %q, %v; want a message with %q", buf[:n], err, want)
		}
	}
}
