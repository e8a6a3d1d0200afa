package apache_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/apachetest"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
)

// BenchmarkAgainstTheReference measures, on the same running httpd and in
// one run, the reference agent and ocfbox alternately: the median wall
// time of a recurring monitor, the programs a monitor executes (strace -f
// -e trace=execve, the agent itself included), and the wall time of start
// and stop. It prints the numbers and asserts nothing about speed:
//
//	go test -run '^$' -bench AgainstTheReference -benchtime 1x ./agents/apache
func BenchmarkAgainstTheReference(b *testing.B) {
	apachetest.Require(b)
	testenv.RequireFile(b, reference)
	strace := testenv.RequireTool(b, "strace")
	s := newSite(b, siteOptions{})
	ours := ocfbox(b, s, nil)
	ref := runner{Path: reference, Dir: ours.Dir, Params: ours.Params}

	// start and stop, alternated: ref start, ref stop, ocfbox start, …
	const cycles = 5
	var startRef, stopRef, startOurs, stopOurs []time.Duration
	for range cycles {
		startRef = append(startRef, ref.want(b, "start", nil, ocf.Success).Took)
		stopRef = append(stopRef, ref.want(b, "stop", nil, ocf.Success).Took)
		startOurs = append(startOurs, ours.want(b, "start", nil, ocf.Success).Took)
		stopOurs = append(stopOurs, ours.want(b, "stop", nil, ocf.Success).Took)
	}

	ours.want(b, "start", nil, ocf.Success)
	defer ours.want(b, "stop", nil, ocf.Success)
	const monitors = 40
	var monRef, monOurs []time.Duration
	for i := range monitors + 2 {
		r := ref.want(b, "monitor", recurring, ocf.Success).Took
		o := ours.want(b, "monitor", recurring, ocf.Success).Took
		if i >= 2 { // the first runs warm the page cache
			monRef, monOurs = append(monRef, r), append(monOurs, o)
		}
	}
	execRef, execOurs := execs(b, strace, ref), execs(b, strace, ours)

	b.ReportMetric(ms(median(monRef)), "ref-monitor-ms")
	b.ReportMetric(ms(median(monOurs)), "ocfbox-monitor-ms")
	b.ReportMetric(float64(len(execRef)), "ref-monitor-execs")
	b.ReportMetric(float64(len(execOurs)), "ocfbox-monitor-execs")
	b.Logf("\n"+
		"                    reference   ocfbox    ratio\n"+
		"monitor median      %8.1fms %8.1fms %6.1fx   (%d each, alternated)\n"+
		"monitor execs       %8d   %8d\n"+
		"start median        %8.1fms %8.1fms %6.1fx   (%d each, alternated)\n"+
		"stop median         %8.1fms %8.1fms %6.1fx\n"+
		"reference execs: %s",
		ms(median(monRef)), ms(median(monOurs)), ms(median(monRef))/ms(median(monOurs)), monitors,
		len(execRef), len(execOurs),
		ms(median(startRef)), ms(median(startOurs)), ms(median(startRef))/ms(median(startOurs)), cycles,
		ms(median(stopRef)), ms(median(stopOurs)), ms(median(stopRef))/ms(median(stopOurs)),
		summarize(execRef))
}

// execs runs one recurring monitor under strace and returns the programs
// it executed.
func execs(b *testing.B, strace string, r runner) []string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "trace")
	traced := r
	traced.Wrap = []string{strace, "-f", "-qq", "-e", "trace=execve", "-o", out}
	traced.want(b, "monitor", recurring, ocf.Success)
	data, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	// "PID execve("/bin/x", …) = 0", or, interrupted by another process's
	// line, "PID execve("/bin/x", … <unfinished ...>" then
	// "PID <... execve resumed>) = 0".
	var progs []string
	pending := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		pid, rest, _ := strings.Cut(l, " ")
		switch {
		case strings.HasPrefix(rest, "execve(\""):
			prog := rest[len("execve(\""):]
			prog = filepath.Base(prog[:strings.IndexByte(prog, '"')])
			if strings.HasSuffix(l, "= 0") {
				progs = append(progs, prog)
			} else if strings.HasSuffix(l, "<unfinished ...>") {
				pending[pid] = prog
			}
		case strings.HasPrefix(rest, "<... execve resumed>") && strings.HasSuffix(l, "= 0"):
			progs = append(progs, pending[pid])
		}
	}
	return progs
}

// summarize counts programs by name: "grep×5 sh×4 …".
func summarize(progs []string) string {
	count := map[string]int{}
	for _, p := range progs {
		count[p]++
	}
	names := make([]string, 0, len(count))
	for n := range count {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return count[b] - count[a] })
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s×%d", n, count[n]))
	}
	return strings.Join(parts, " ")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
