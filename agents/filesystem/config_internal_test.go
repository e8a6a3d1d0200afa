package filesystem

import (
	"slices"
	"syscall"
	"testing"
)

func TestClassifyDevice(t *testing.T) {
	tests := []struct {
		in   string
		kind deviceKind
		key  string
	}{
		{"/dev/sdb1", devicePath, ""},
		{"LABEL=data", deviceLabel, "data"},
		{`LABEL="my data"`, deviceLabel, "my data"},
		{"-L data", deviceLabel, "data"},
		{"-Ldata", deviceLabel, "data"},
		{"--label=data", deviceLabel, "data"},
		{"--label data", deviceLabel, "data"},
		{"UUID=1234-abcd", deviceUUID, "1234-abcd"},
		{"-U 1234", deviceUUID, "1234"},
		{"--uuid=1234", deviceUUID, "1234"},
		{"server:/export", deviceOther, ""},
		{"//server/share", devicePath, ""},
		{"tmpfs", deviceOther, ""},
	}
	for _, tt := range tests {
		if kind, key := classifyDevice(tt.in); kind != tt.kind || key != tt.key {
			t.Errorf("classifyDevice(%q) = %v %q, want %v %q", tt.in, kind, key, tt.kind, tt.key)
		}
	}
}

func TestParseSignals(t *testing.T) {
	for in, want := range map[string][]syscall.Signal{
		"TERM":         {syscall.SIGTERM},
		"SIGTERM,HUP":  {syscall.SIGTERM, syscall.SIGHUP},
		"15 9":         {syscall.SIGTERM, syscall.SIGKILL},
		" int , usr1 ": {syscall.SIGINT, syscall.SIGUSR1},
	} {
		got, err := parseSignals("term_signals", in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseSignals(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "NOPE", "TERM,0", "99", ","} {
		if got, err := parseSignals("term_signals", bad); err == nil {
			t.Errorf("parseSignals(%q) = %v, want an error", bad, got)
		}
	}
}
