package drbd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// exitErr is a failed program as ocf.Runner reports it: an error with an
// exit code and the program's stderr in its text.
type exitErr struct {
	code   int
	stderr string
}

func (e exitErr) Error() string { return fmt.Sprintf("exit status %d: %s", e.code, e.stderr) }
func (e exitErr) ExitCode() int { return e.code }

// replay answers each argv (joined by spaces) with recorded output.
type replay struct {
	out   map[string]string
	fail  map[string]exitErr
	calls []string
}

func (r *replay) Run(_ context.Context, argv ...string) ([]byte, error) {
	k := strings.Join(argv, " ")
	r.calls = append(r.calls, k)
	if e, ok := r.fail[k]; ok {
		return nil, e
	}
	return []byte(r.out[k]), nil
}

func TestStatusRunsOneDrbdsetup(t *testing.T) {
	r := &replay{out: map[string]string{"drbdsetup events2 --now r0": string(fixture(t, "uml84/84-primary-uptodate-connected/events2-now.out"))}}
	st, err := Tool{Run: r, Resource: "r0", Conf: "/etc/x.conf"}.Status(context.Background())
	if err != nil || st.Role != RolePrimary {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if len(r.calls) != 1 {
		t.Errorf("ran %q, want exactly one drbdsetup", r.calls)
	}
}

func TestFailuresAreClassified(t *testing.T) {
	held := string(fixture(t, "uml84/secondary-held-open.txt"))
	refused := string(fixture(t, "uml84/primary-refused-outdated.txt"))
	r := &replay{fail: map[string]exitErr{
		"drbdsetup events2 --now r0": {20, "Failed to modprobe drbd (No such file or directory)"},
		"drbdadm -c c secondary r0":  {11, held},
		"drbdadm -c c primary r0":    {17, refused},
		"drbdadm -c c sh-dev r0":     {1, "'r0' not defined in your config (for this host)."},
		"drbdadm -c c sh-ll-dev r0":  {20, "Can not open 'c'."},
	}}
	tool := Tool{Run: r, Resource: "r0", Conf: "c"}
	ctx := context.Background()
	if _, err := tool.Status(ctx); !errors.Is(err, ErrNoModule) {
		t.Errorf("no module: %v", err)
	}
	if _, err := tool.Adm(ctx, "secondary", "r0"); !errors.Is(err, ErrHeldOpen) {
		t.Errorf("held open: %v", err)
	}
	if _, err := tool.Adm(ctx, "primary", "r0"); !errors.Is(err, ErrNoUpToDateData) {
		t.Errorf("refused promote: %v", err)
	}
	if _, err := tool.Devices(ctx); !errors.Is(err, ErrNotInConfig) {
		t.Errorf("unknown resource: %v", err)
	}
	if _, err := tool.LowerDevices(ctx); err == nil || errors.Is(err, ErrNotInConfig) {
		t.Errorf("unreadable config is not an unknown resource: %v", err)
	}
}
