package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// A trace as `strace -f -qq -e trace=execve -o FILE` writes it: a shell
// agent, a failed PATH lookup, and a call interrupted by another
// process's line and resumed later.
const trace = `13910 execve("/usr/lib/ocf/resource.d/pacemaker/Stateful", ["/usr/lib/ocf/resource.d/pacemake"..., "monitor"], 0x7fffd7e96ea8 /* 45 vars */) = 0
13912 execve("/usr/bin/basename", ["basename", "/usr/lib/ocf/resource.d/pacemake"...], 0x556ed126cd18 /* 45 vars */) = 0
13910 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=13912, si_uid=0, si_status=0, si_utime=0, si_stime=1 /* 0.01 s */} ---
13914 execve("/usr/local/sbin/crm_attribute", ["crm_attribute", "-p"], 0x556ed127c628 /* 45 vars */) = -1 ENOENT (No such file or directory)
13916 execve("/usr/bin/cat", ["cat", "/tmp/a \"quoted\" name"], 0x556ed127c628 /* 45 vars */ <unfinished ...>
13910 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=13914, si_uid=0, si_status=127, si_utime=0, si_stime=0} ---
13916 <... execve resumed>)            = 0
13919 execve("/usr/bin/cat", ["cat", "/tmp/s"], 0x556ed127c628 /* 45 vars */) = 0
13920 execve("/usr/bin/missing", ["missing"], 0x556ed127c628 /* 45 vars */ <unfinished ...>
13920 <... execve resumed>)            = -1 ENOENT (No such file or directory)
`

func TestParseExecs(t *testing.T) {
	got, err := parseExecs(strings.NewReader(trace))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Stateful", "basename", "cat", "cat"}
	if !slices.Equal(got, want) {
		t.Errorf("parseExecs = %q, want %q", got, want)
	}
	if s := programList(got); s != "Stateful, basename, cat ×2" {
		t.Errorf("programList = %q", s)
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
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("percentile(1..10 ms, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := median([]int{7, 1, 3}); got != 3 {
		t.Errorf("median(7, 1, 3) = %d, want 3", got)
	}
}

// The environment of a measured operation is the one pacemaker-execd
// gives a recurring monitor, with the side's own state.
func TestEnviron(t *testing.T) {
	sc := &scenarios[0]
	s := &side{Name: "ocfbox", Provider: "ocfbox", Dir: "/tmp/x", sc: sc,
		Params: map[string]string{"state": "/tmp/x/Dummy.state"}, Extra: map[string]string{"HA_SBIN_DIR": "/tmp/x/sbin"}}
	env := s.environ(sc.Op)
	for _, kv := range []string{
		"OCF_RESKEY_CRM_meta_interval=10000", "OCF_RESKEY_CRM_meta_timeout=20000",
		"OCF_RESOURCE_INSTANCE=bench-dummy", "OCF_RESOURCE_TYPE=Dummy", "OCF_RESOURCE_PROVIDER=ocfbox",
		"OCF_RESKEY_state=/tmp/x/Dummy.state", "HA_SBIN_DIR=/tmp/x/sbin", "HA_RSCTMP=/tmp/x",
		"OCF_RA_VERSION_MAJOR=1", "OCF_ROOT=/usr/lib/ocf",
	} {
		if !slices.Contains(env, kv) {
			t.Errorf("environment lacks %s:\n%s", kv, strings.Join(env, "\n"))
		}
	}
	for _, kv := range s.environ(map[string]string{"name": "start"}) {
		if strings.HasPrefix(kv, "OCF_RESKEY_CRM_meta_interval=") {
			t.Errorf("a start has no interval, got %s", kv)
		}
	}
}
