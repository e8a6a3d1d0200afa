package ocf_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ocfbox/ocfbox/ocf"
)

// The OCF exit codes and their names (drbd-ocf.md B.1).
func TestStatusNamesAndValidity(t *testing.T) {
	tests := []struct {
		status ocf.Status
		code   int
		name   string
		valid  bool
	}{
		{ocf.Success, 0, "OCF_SUCCESS", true},
		{ocf.ErrGeneric, 1, "OCF_ERR_GENERIC", true},
		{ocf.ErrArgs, 2, "OCF_ERR_ARGS", true},
		{ocf.ErrUnimplemented, 3, "OCF_ERR_UNIMPLEMENTED", true},
		{ocf.ErrPerm, 4, "OCF_ERR_PERM", true},
		{ocf.ErrInstalled, 5, "OCF_ERR_INSTALLED", true},
		{ocf.ErrConfigured, 6, "OCF_ERR_CONFIGURED", true},
		{ocf.NotRunning, 7, "OCF_NOT_RUNNING", true},
		{ocf.RunningPromoted, 8, "OCF_RUNNING_PROMOTED", true},
		{ocf.FailedPromoted, 9, "OCF_FAILED_PROMOTED", true},
		{ocf.Degraded, 190, "OCF_DEGRADED", true},
		{ocf.DegradedPromoted, 191, "OCF_DEGRADED_PROMOTED", true},
		{ocf.RunningMaster, 8, "OCF_RUNNING_PROMOTED", true},
		{ocf.FailedMaster, 9, "OCF_FAILED_PROMOTED", true},
		{ocf.DegradedMaster, 191, "OCF_DEGRADED_PROMOTED", true},
		{ocf.Status(10), 10, "OCF_STATUS_10", false},
		{ocf.Status(189), 189, "OCF_STATUS_189", false},
		{ocf.Status(-1), -1, "OCF_STATUS_-1", false},
	}
	for _, tt := range tests {
		if int(tt.status) != tt.code || tt.status.String() != tt.name || tt.status.Valid() != tt.valid {
			t.Errorf("status %d: code %d, name %q, valid %v; want code %d, name %q, valid %v",
				tt.code, int(tt.status), tt.status.String(), tt.status.Valid(), tt.code, tt.name, tt.valid)
		}
	}
}

func TestStatusOf(t *testing.T) {
	_, lookErr := exec.LookPath("ocfbox-no-such-program")
	tests := []struct {
		name string
		err  error
		want ocf.Status
	}{
		{"no error is success", nil, ocf.Success},
		{"an OCF error gives its status", ocf.Configured("bad"), ocf.ErrConfigured},
		{"a wrapped OCF error gives its status", fmt.Errorf("stop vip: %w", ocf.Perm("need root")), ocf.ErrPerm},
		{"the outermost OCF error wins", ocf.Generic("start: %w", ocf.Configured("bad")), ocf.ErrGeneric},
		{"ErrNotRunning is not running", ocf.ErrNotRunning, ocf.NotRunning},
		{"a wrapped ErrNotRunning is not running", fmt.Errorf("pid 42: %w", ocf.ErrNotRunning), ocf.NotRunning},
		{"Stopped is not running", ocf.Stopped("pid %d is gone", 42), ocf.NotRunning},
		{"a program not found is not installed", lookErr, ocf.ErrInstalled},
		{"exec.ErrNotFound wrapped is not installed", fmt.Errorf("run ip: %w", exec.ErrNotFound), ocf.ErrInstalled},
		{"a plain error is generic", errors.New("boom"), ocf.ErrGeneric},
		{"a file error is generic", &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}, ocf.ErrGeneric},
		{"a context deadline is generic", context.DeadlineExceeded, ocf.ErrGeneric},
		{"a wrapped context deadline is generic", fmt.Errorf("wait: %w", context.DeadlineExceeded), ocf.ErrGeneric},
	}
	for _, tt := range tests {
		if got := ocf.StatusOf(tt.err); got != tt.want {
			t.Errorf("%s: StatusOf(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestErrorHelpersGiveTheirStatus(t *testing.T) {
	tests := []struct {
		err  error
		want ocf.Status
	}{
		{ocf.Generic("x"), ocf.ErrGeneric},
		{ocf.Args("x"), ocf.ErrArgs},
		{ocf.Perm("x"), ocf.ErrPerm},
		{ocf.Installed("x"), ocf.ErrInstalled},
		{ocf.Configured("x"), ocf.ErrConfigured},
		{ocf.Stopped("x"), ocf.NotRunning},
		{ocf.Errorf(ocf.FailedPromoted, "x"), ocf.FailedPromoted},
	}
	for _, tt := range tests {
		if got := ocf.StatusOf(tt.err); got != tt.want {
			t.Errorf("StatusOf(%#v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestErrorfKeepsEveryCauseReachable(t *testing.T) {
	first, second := errors.New("first"), &fs.PathError{Op: "open", Path: "/etc/x", Err: fs.ErrPermission}
	one := ocf.Generic("start: %w", first)
	if !errors.Is(one, first) {
		t.Errorf("errors.Is(%v, first) = false, want the %%w cause reachable", one)
	}
	if e := (*ocf.Error)(nil); !errors.As(one, &e) || e.Err != first {
		t.Errorf("Generic(%%w).Err = %v, want the cause itself", e.Err)
	}
	both := ocf.Perm("start: %w and %w", first, second)
	var pe *fs.PathError
	if !errors.Is(both, first) || !errors.As(both, &pe) || !errors.Is(both, fs.ErrPermission) {
		t.Errorf("error %q with two %%w: want both causes reachable with errors.Is and errors.As", both)
	}
	if got := ocf.ReasonOf(both); got != "start: first and open /etc/x: permission denied" {
		t.Errorf("reason %q, want the formatted message", got)
	}
	if ocf.StatusOf(both) != ocf.ErrPerm {
		t.Errorf("status %v, want OCF_ERR_PERM", ocf.StatusOf(both))
	}
}

func TestReasonOf(t *testing.T) {
	long := "a" + strings.Repeat("é", 100) // 201 bytes; byte 128 is inside an é
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no error, no reason", nil, ""},
		{"an OCF error's reason", ocf.Configured(`ip=%q is not an IP address`, "x"), `ip="x" is not an IP address`},
		{"a wrapped OCF error keeps the context", fmt.Errorf("stop vip: %w", ocf.Configured("bad ip")), "stop vip: bad ip"},
		{"a plain error's message", errors.New("boom"), "boom"},
		{"lines joined into one", errors.New("mount failed:\n\tmount: wrong fs type\r\n"), "mount failed: mount: wrong fs type"},
		{"a deadline the message does not mention is named",
			&ocf.Error{Status: ocf.ErrGeneric, Reason: "waiting for the peer", Err: context.DeadlineExceeded},
			"waiting for the peer (action deadline reached)"},
		{"a deadline the message mentions is not repeated",
			fmt.Errorf("wait: %w", context.DeadlineExceeded), "wait: context deadline exceeded"},
		{"cut to 128 bytes at a character boundary", errors.New(long), long[:127]},
		{"128 bytes of ASCII are kept whole", errors.New(strings.Repeat("x", 128)), strings.Repeat("x", 128)},
	}
	for _, tt := range tests {
		got := ocf.ReasonOf(tt.err)
		if got != tt.want {
			t.Errorf("%s: ReasonOf = %q, want %q", tt.name, got, tt.want)
		}
		if len(got) > 128 || !utf8.ValidString(got) || strings.ContainsAny(got, "\r\n") {
			t.Errorf("%s: ReasonOf = %q (%d bytes), want one line of valid UTF-8, at most 128 bytes", tt.name, got, len(got))
		}
	}
}
