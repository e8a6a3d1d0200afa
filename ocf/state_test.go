package ocf_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
)

func stateEnv(rsctmp, instance string) *ocf.Env {
	return ocf.ReadEnv([]string{"OCF_RA_VERSION_MAJOR=1", "HA_RSCTMP=" + rsctmp, "OCF_RESOURCE_INSTANCE=" + instance}, "Tester", "start")
}

func TestStatePath(t *testing.T) {
	tests := []struct {
		name, instance, resourceType, suffix, want string
	}{
		{"a primitive", "web", "", ".state", "/run/ra/Tester-web.state"},
		{"a clone instance's :N is kept out of the name", "web:2", "", ".lock", "/run/ra/Tester-web_2.lock"},
		{"a slash cannot leave the directory", "../etc/passwd", "", "", "/run/ra/Tester-.._etc_passwd"},
		{"the resource type comes from OCF_RESOURCE_TYPE", "vip", "IPaddr2", ".pid", "/run/ra/IPaddr2-vip.pid"},
	}
	for _, tt := range tests {
		environ := []string{"HA_RSCTMP=/run/ra", "OCF_RESOURCE_INSTANCE=" + tt.instance}
		if tt.resourceType != "" {
			environ = append(environ, "OCF_RESOURCE_TYPE="+tt.resourceType)
		}
		if got := ocf.ReadEnv(environ, "Tester", "start").StatePath(tt.suffix); got != tt.want {
			t.Errorf("%s: StatePath(%q) = %q, want %q", tt.name, tt.suffix, got, tt.want)
		}
	}
}

func takeLock(t *testing.T, env *ocf.Env, suffix string, wait time.Duration) (*ocf.Lock, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return env.TakeLock(ctx, suffix)
}

func TestTakeLockWaitsForTheHolder(t *testing.T) {
	env := stateEnv(filepath.Join(t.TempDir(), "not", "yet", "there"), "db:1")
	held, err := takeLock(t, env, "promote", time.Second)
	if err != nil {
		t.Fatalf("first TakeLock: %v (the state directory should be created)", err)
	}

	_, err = takeLock(t, env, "promote", 300*time.Millisecond)
	path := env.StatePath("promote.lock")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "take lock "+path+": held by another action") {
		t.Errorf("second TakeLock while held: error %v, want one naming %s, saying it is held, wrapping the deadline", err, path)
	}

	// Other locks of this resource, and the same lock of another
	// resource, are independent.
	for _, other := range []struct {
		env    *ocf.Env
		suffix string
	}{{env, "monitor"}, {stateEnv(env.RscTmp, "db:2"), "promote"}} {
		l, err := takeLock(t, other.env, other.suffix, time.Second)
		if err != nil {
			t.Errorf("TakeLock of %s: %v, want it free", other.env.StatePath(other.suffix+".lock"), err)
			continue
		}
		l.Unlock()
	}

	got := make(chan error, 1)
	go func() {
		l, err := takeLock(t, env, "promote", 10*time.Second)
		if err == nil {
			l.Unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("TakeLock returned (%v) while the lock was held, want it to wait", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := held.Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if err := <-got; err != nil {
		t.Errorf("waiting TakeLock after the holder unlocked: %v, want the lock", err)
	}
}

// The kernel drops a dead holder's lock: an agent SIGKILLed by
// pacemaker-execd leaves no stale lock behind.
func TestTakeLockSucceedsOnceTheHoldingProcessDies(t *testing.T) {
	rsctmp := t.TempDir()
	holder := exec.Command(filepath.Join(helperDir(t, "lock-holder"), "lock-holder"), rsctmp, "db:1", "promote")
	holder.Stderr = os.Stderr
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatalf("start the lock holder: %v", err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "locked\n" {
		t.Fatalf("lock holder said %q (%v), want \"locked\"", line, err)
	}

	env := stateEnv(rsctmp, "db:1")
	if _, err := takeLock(t, env, "promote", 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("TakeLock while another process holds it: %v, want a deadline error", err)
	}
	holder.Process.Kill()
	holder.Wait()
	l, err := takeLock(t, env, "promote", 10*time.Second)
	if err != nil {
		t.Fatalf("TakeLock after the holder was killed: %v, want the lock", err)
	}
	l.Unlock()
}

func TestTakeLockReportsALockFileItCannotOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	inDir := stateEnv(dir, "db:1")
	if err := os.Mkdir(inDir.StatePath("promote.lock"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  *ocf.Env
	}{
		{"a state directory under a file", stateEnv(filepath.Join(file, "dir"), "db:1")},
		{"a lock file that is a directory", inDir},
	}
	for _, tt := range tests {
		_, err := takeLock(t, tt.env, "promote", time.Second)
		if err == nil || !strings.Contains(err.Error(), "take lock "+tt.env.StatePath("promote.lock")+": ") {
			t.Errorf("%s: TakeLock error %v, want one naming the lock file", tt.name, err)
		}
	}
}

// An action leaves nothing in the state directory: Unlock removes the
// lock's file, and a waiter that had opened the removed file takes the
// lock anew instead of holding a lock nobody else sees.
func TestUnlockLeavesNoFileAndWaitersStillExclude(t *testing.T) {
	rsctmp := t.TempDir()
	env := stateEnv(rsctmp, "web")
	first, err := takeLock(t, env, ".action", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *ocf.Lock, 2)
	for range 2 {
		go func() {
			l, err := takeLock(t, env, ".action", 10*time.Second)
			if err != nil {
				t.Error(err)
			}
			got <- l
		}()
	}
	time.Sleep(150 * time.Millisecond)
	first.Unlock()
	second := <-got
	select {
	case l := <-got:
		t.Fatalf("two waiters hold the lock at once (%v, %v)", second, l)
	case <-time.After(300 * time.Millisecond):
	}
	second.Unlock()
	(<-got).Unlock()
	if entries, _ := os.ReadDir(rsctmp); len(entries) > 0 {
		t.Errorf("the state directory holds %v after every lock was released", entries)
	}
}
