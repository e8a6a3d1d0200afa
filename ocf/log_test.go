package ocf_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/ocf"
)

// logLine is the ocf_log line format in a log file:
// "<date> <Agent>(<instance>)[<pid>]:    <LEVEL>: <message>".
func logLine(level, msg string) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`^[A-Z][a-z]{2} [0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} Tester\(rsc1\)\[%d\]:    %s: %s$`,
		os.Getpid(), level, regexp.QuoteMeta(msg)))
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func logEnv(kv ...string) *ocf.Env {
	return ocf.ReadEnv(append([]string{"OCF_RA_VERSION_MAJOR=1", "OCF_RESOURCE_INSTANCE=rsc1"}, kv...), "Tester", "start")
}

func TestLoggerWritesOcfLogLinesToHA_LOGFILE(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ha.log")
	var stderr bytes.Buffer
	log := ocf.NewLogger(logEnv("HA_LOGFILE="+file, "HA_debug=1"), &stderr)
	log.Debug("looking")
	log.Info("started", "argv", "ip addr add 192.0.2.10/24 dev veth0")
	log.Warn("slow")
	log.Error("failed")
	log.Log(t.Context(), ocf.LevelCritical, "on fire")
	want := []*regexp.Regexp{
		logLine("DEBUG", "looking"),
		logLine("INFO", `started argv="ip addr add 192.0.2.10/24 dev veth0"`),
		logLine("WARNING", "slow"),
		logLine("ERROR", "failed"),
		logLine("CRIT", "on fire"),
	}
	lines := readLines(t, file)
	if len(lines) != len(want) {
		t.Fatalf("log file has %d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("log line %d = %q, want it to match %s", i+1, lines[i], re)
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr got %q; with HA_LOGFILE, lines go to the file only", stderr.String())
	}
}

func TestLoggerDropsDebugUnlessHA_debug(t *testing.T) {
	for _, debug := range []string{"HA_debug=0", "HA_debug="} {
		file := filepath.Join(t.TempDir(), "ha.log")
		log := ocf.NewLogger(logEnv("HA_LOGFILE="+file, debug), &bytes.Buffer{})
		log.Debug("looking")
		log.Info("started")
		if lines := readLines(t, file); len(lines) != 1 || !logLine("INFO", "started").MatchString(lines[0]) {
			t.Errorf("with %s, log file holds %q; want only the INFO line", debug, lines)
		}
	}
}

func TestLoggerSendsDebugLinesToHA_DEBUGLOG(t *testing.T) {
	dir := t.TempDir()
	file, debugFile := filepath.Join(dir, "ha.log"), filepath.Join(dir, "ha-debug.log")
	log := ocf.NewLogger(logEnv("HA_LOGFILE="+file, "HA_DEBUGLOG="+debugFile, "HA_debug=1"), &bytes.Buffer{})
	log.Debug("looking")
	log.Info("started")
	if lines := readLines(t, file); len(lines) != 1 || !logLine("INFO", "started").MatchString(lines[0]) {
		t.Errorf("HA_LOGFILE holds %q; want only the INFO line", lines)
	}
	lines := readLines(t, debugFile)
	if len(lines) != 2 || !logLine("DEBUG", "looking").MatchString(lines[0]) || !logLine("INFO", "started").MatchString(lines[1]) {
		t.Errorf("HA_DEBUGLOG holds %q; want the DEBUG line and, as ocf_log does, a copy of the INFO line", lines)
	}
}

func TestLoggerFallsBackToStderr(t *testing.T) {
	_, devLogErr := os.Stat("/dev/log")
	noSyslog := devLogErr != nil
	tests := []struct {
		name       string
		environ    []string
		wantStderr bool
	}{
		{"without HA_LOGFILE or HA_LOGFACILITY", nil, true},
		{"when HA_LOGFILE cannot be written", []string{"HA_LOGFILE=/nonexistent-dir/ha.log"}, true},
		{"with HA_LOGFACILITY naming no facility", []string{"HA_LOGFACILITY=nosuch"}, true},
		// The test machine runs no syslog daemon, so it has no /dev/log:
		// the line must reach stderr. Where syslog takes it, it must not.
		{fmt.Sprintf("with HA_LOGFACILITY=daemon (/dev/log missing: %v)", noSyslog), []string{"HA_LOGFACILITY=daemon"}, noSyslog},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		log := ocf.NewLogger(logEnv(tt.environ...), &stderr)
		log.Info("started")
		want := fmt.Sprintf("Tester(rsc1)[%d] INFO: started\n", os.Getpid())
		if got := stderr.String() == want; got != tt.wantStderr {
			t.Errorf("%s: stderr = %q; want the line on stderr: %v", tt.name, stderr.String(), tt.wantStderr)
		}
	}
}

func TestLoggerKeepsAttributesAndFlattensGroups(t *testing.T) {
	var stderr bytes.Buffer
	log := ocf.NewLogger(logEnv(), &stderr).With("device", "/dev/sdb1").WithGroup("mount")
	log.Info("mounted", "dir", "/srv")
	if want := fmt.Sprintf("Tester(rsc1)[%d] INFO: mounted device=\"/dev/sdb1\" dir=\"/srv\"\n", os.Getpid()); stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}

func TestLoggerTagUsesOCF_RESOURCE_TYPE(t *testing.T) {
	var stderr bytes.Buffer
	env := ocf.ReadEnv([]string{"OCF_RESOURCE_TYPE=IPaddr2", "OCF_RESOURCE_INSTANCE=vip"}, "Tester", "start")
	ocf.NewLogger(env, &stderr).Info("up")
	if want := fmt.Sprintf("IPaddr2(vip)[%d] INFO: up\n", os.Getpid()); stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}
