package ocftest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/agents/dummy"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
)

func TestRunRunsOneActionWithTheGivenEnvironmentOnly(t *testing.T) {
	// Were Run to read the test process's environment, the case without
	// an instance would find this one.
	t.Setenv("OCF_RESOURCE_INSTANCE", "from-the-test-process")
	dir := t.TempDir()
	base := []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1", "OCF_RESKEY_CRM_meta_timeout=20000",
		"HA_RSCTMP=" + dir, "HA_VARRUN=" + dir, "HA_LOGFACILITY=none"}
	// A state file in a directory that does not exist: start refuses it
	// and changes nothing.
	badState := filepath.Join(dir, "missing", "Dummy.state")
	tests := []struct {
		name       string
		action     string
		environ    []string
		want       ocf.Status
		wantStdout string // substring; "" means stdout must be empty
		wantReason string // substring of the exit reason; "" means none
	}{
		{"meta-data is printed on stdout", "meta-data", nil, ocf.Success, `<resource-agent name="Dummy"`, ""},
		{"the action runs with the parameters of the environment", "start", []string{"OCF_RESOURCE_INSTANCE=d1", "OCF_RESKEY_state=" + badState}, ocf.ErrArgs, "", "state=" + badState},
		{"an action the agent lacks is named in the reason with the agent's name", "frobnicate", []string{"OCF_RESOURCE_INSTANCE=d1"}, ocf.ErrUnimplemented, "", `"frobnicate" is not supported by Dummy`},
		{"only the given environment reaches the agent", "start", nil, ocf.ErrArgs, "", "OCF_RESOURCE_INSTANCE is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ocftest.Run(dummy.Definition, tc.action, append(append([]string{}, base...), tc.environ...))
			if got.Status != tc.want {
				t.Fatalf("%s: status %s, want %s\nstderr:\n%s", tc.action, got.Status, tc.want, got.Stderr)
			}
			if tc.wantStdout == "" && got.Stdout != "" {
				t.Errorf("%s wrote to stdout, want nothing there:\n%s", tc.action, got.Stdout)
			}
			if !strings.Contains(got.Stdout, tc.wantStdout) {
				t.Errorf("%s: stdout does not contain %q:\n%s", tc.action, tc.wantStdout, got.Stdout)
			}
			reason, ok := got.ExitReason()
			switch {
			case tc.wantReason == "" && ok:
				t.Errorf("%s: exit reason %q, want none", tc.action, reason)
			case tc.wantReason != "" && !strings.Contains(reason, tc.wantReason):
				t.Errorf("%s: exit reason %q, want one containing %q\nstderr:\n%s", tc.action, reason, tc.wantReason, got.Stderr)
			}
		})
	}
}

func TestExitReasonIsTheLastReasonLine(t *testing.T) {
	tests := []struct {
		name, stderr, want string
		wantOK             bool
	}{
		{"no reason", "some log line\n", "", false},
		{"empty stderr", "", "", false},
		{"one reason among log lines", "INFO: x\nocf-exit-reason:disk gone\nINFO: y\n", "disk gone", true},
		{"last reason wins", "ocf-exit-reason:first\nocf-exit-reason:second\n", "second", true},
		{"reason without trailing newline", "ocf-exit-reason:cut", "cut", true},
		{"prefix must start the line", "log: ocf-exit-reason:quoted\n", "", false},
		{"the prefix alone is an empty reason", "ocf-exit-reason:\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ocftest.ExitReason(tt.stderr)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ExitReason(%q) = %q, %v; want %q, %v", tt.stderr, got, ok, tt.want, tt.wantOK)
			}
			if got, ok := (ocftest.Result{Stderr: tt.stderr}).ExitReason(); got != tt.want || ok != tt.wantOK {
				t.Errorf("Result{Stderr: %q}.ExitReason() = %q, %v; want %q, %v", tt.stderr, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
