package main

import (
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/internal/measure"
)

// reportInfo is what the notes under the table say about the run.
type reportInfo struct {
	base            starts
	monitor, change counts
	bin             string
	rssFloor        int // KiB
	timeErr         error
	loads           []float64 // 1-minute load averages: before, at each row's start, after
	took            time.Duration
}

func report(w io.Writer, rows []row, info reportInfo) {
	fmt.Fprintf(w, "| agent | action | ocfbox median / p90 | reference median / p90 | reference ÷ ocfbox (median) | ocfbox ÷ Go no-op (median) | CPU time ocfbox / reference (median) | programs executed ocfbox / reference | peak RSS ocfbox / reference |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|\n")
	// The floor: a static Go program that does nothing, measured the same
	// way in the same run, in the ocfbox columns.
	nt := slices.Sorted(slices.Values(info.base.goNoop))
	noop := measure.Percentile(nt, 0.5)
	fmt.Fprintf(w, "| Go no-op | (exits at once) | %s / %s | – | – | 1.0× | %s / – | 1 / – | %s / – |\n",
		ms(noop), ms(measure.Percentile(nt, 0.9)), ms(measure.Median(info.base.goNoopCPU)),
		rssCell(result{rss: info.base.goNoopRSS, rssErr: info.base.rssErr}))
	for _, r := range rows {
		ot, rt := slices.Sorted(slices.Values(r.ocf.times)), slices.Sorted(slices.Values(r.ref.times))
		om, rm := measure.Percentile(ot, 0.5), measure.Percentile(rt, 0.5)
		fmt.Fprintf(w, "| %s | %s | %s / %s | %s / %s | %.1f× | %.2f× | %s / %s | %s / %s | %s / %s |\n",
			r.sc.Agent, r.sc.Action,
			ms(om), ms(measure.Percentile(ot, 0.9)), ms(rm), ms(measure.Percentile(rt, 0.9)),
			float64(rm)/float64(om), float64(om)/float64(noop),
			ms(measure.Median(r.ocf.cpu)), ms(measure.Median(r.ref.cpu)),
			execCount(r.ocf), execCount(r.ref), rssCell(r.ocf), rssCell(r.ref))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Programs executed by one invocation (successful execve under strace -f, the agent included):")
	fmt.Fprintln(w)
	for _, r := range rows {
		for _, x := range []struct {
			name string
			res  result
			exe  string
		}{{"ocfbox", r.ocf, "ocfbox"}, {"reference", r.ref, r.sc.Reference}} {
			list := measure.ProgramList(x.res.execs)
			if x.res.execsErr != "" {
				list = "n/a (" + x.res.execsErr + ")"
			}
			fmt.Fprintf(w, "- %s, %s (%s): %s\n", r.sc.name(), x.name, x.exe, list)
		}
	}
	var observed []row
	for _, r := range rows {
		if r.sc.Observe != nil {
			observed = append(observed, r)
		}
	}
	if len(observed) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Measured after every timed invocation as well (median / p90):")
		fmt.Fprintln(w)
		for _, r := range observed {
			o, f := slices.Sorted(slices.Values(r.ocf.observed)), slices.Sorted(slices.Values(r.ref.observed))
			fmt.Fprintf(w, "- %s, %s: ocfbox %s / %s, reference %s / %s\n", r.sc.name(), r.sc.Observe.What,
				ms(measure.Percentile(o, 0.5)), ms(measure.Percentile(o, 0.9)),
				ms(measure.Percentile(f, 0.5)), ms(measure.Percentile(f, 0.9)))
		}
	}
	m, c := info.monitor, info.change
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- machine: %s, %d CPUs, kernel %s; %s\n", cpuModel(), runtime.NumCPU(), kernel(), loadNote(info.loads, runtime.NumCPU()))
	fmt.Fprintf(w, "- ocfbox binary: %s (static, %s, %s; agents linked in: %s)\n", info.bin, size(info.bin), buildOf(info.bin), agentsOf(info.bin))
	fmt.Fprintf(w, "- invocations of each side per row, alternating ocfbox and reference: %d for a monitor (after %d unmeasured), %d for a start or a stop (after %d), which take longer and each need an unmeasured stop or start beside them: a start is measured from a stopped resource and stopped after, a stop is measured on a resource started just before (IPaddr2: once the start's announcements are over); the whole run took %v\n",
		m.runs, m.warmup, c.runs, c.warmup, info.took.Round(time.Second))
	fmt.Fprintf(w, "- wall time from fork to exit as the caller sees it; CPU time is user + system of the invocation's process tree that the agent waited for (wait4): what it leaves running (httpd, an ARP sender in the background) is not in it\n")
	fmt.Fprintf(w, "- process start on this machine, measured the same way, alternately: /bin/true %s, a static Go program that does nothing (the Go no-op row, %d invocations; `func main() {}` built with -trimpath -ldflags '-s -w') %s (medians)\n",
		ms(measure.Median(info.base.trueCmd)), len(info.base.goNoop), ms(measure.Median(info.base.goNoop)))
	fmt.Fprintf(w, "- environment: the operation as pacemaker-execd runs it (a recurring monitor with OCF_RESKEY_CRM_meta_interval, start and stop without; _timeout=20000, crm_feature_set %s, Pacemaker's default logging: HA_LOGFACILITY=daemon, HA_LOGFILE), each side with its own state directory; syslog socket /dev/log %s\n", featureSet, presence("/dev/log"))
	if around := surroundings(rows); around != "" {
		fmt.Fprintf(w, "- surroundings: %s\n", around)
	}
	fmt.Fprintf(w, "- programs executed: one invocation under strace -f, with what it left in the background for %v after it returned; strace then detaches from what still runs (httpd)\n", traceGrace)
	if info.timeErr != nil {
		fmt.Fprintf(w, "- peak RSS: not measured (%v)\n", info.timeErr)
	} else {
		fmt.Fprintf(w, "- peak RSS: ru_maxrss (largest single process of the tree the agent waited for) from wait4 in GNU time, median of %d invocations for a monitor, %d for a start or a stop; floor (/bin/true measured the same way): %.1f MiB\n",
			m.rss, c.rss, float64(info.rssFloor)/1024)
	}
}

// surroundings are what the rows' agents had around them, each agent
// once, in the order of the table.
func surroundings(rows []row) string {
	var said []string
	for _, r := range rows {
		if r.sc.Surroundings != "" && !slices.Contains(said, r.sc.Surroundings) {
			said = append(said, r.sc.Surroundings)
		}
	}
	return strings.Join(said, "; ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func execCount(r result) string {
	if r.execsErr != "" {
		return "n/a (" + r.execsErr + ")"
	}
	return strconv.Itoa(len(r.execs))
}

func rssCell(r result) string {
	if r.rssErr != "" {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(measure.Median(r.rss))/1024)
}

// loadavg is the 1-minute load average (-1 when unknown): other work on
// the machine makes every time in the table larger and noisier.
func loadavg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			return v
		}
	}
	return -1
}

// loadNote says what the load was (loads: before, at each row's start,
// after) and, when other work kept the CPUs busy, what that does to the
// numbers.
func loadNote(loads []float64, cpus int) string {
	if len(loads) < 2 || slices.Contains(loads, -1) {
		return "load average unknown"
	}
	peak := slices.Max(loads)
	note := fmt.Sprintf("load average %.2f before, %.2f after, %.2f at most", loads[0], loads[len(loads)-1], peak)
	if peak >= float64(cpus) {
		note += fmt.Sprintf(" (more than its %d CPUs: other work ran at the same time, so the times are inflated and spread wide; programs executed and peak RSS do not depend on the load)", cpus)
	}
	return note
}

// agentsOf is what `ocfbox list` names: every agent linked in adds its
// packages' initialisation to every invocation.
func agentsOf(bin string) string {
	out, err := exec.Command(bin, "list").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, _, _ := strings.Cut(line, "\t")
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

// buildOf says which Go built the binary, with which tags.
func buildOf(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "build information unreadable: " + err.Error()
	}
	tags := "no build tags"
	for _, s := range info.Settings {
		if s.Key == "-tags" && s.Value != "" {
			tags = "-tags=" + s.Value
		}
	}
	return info.GoVersion + ", " + tags
}

func presence(path string) string {
	if _, err := os.Stat(path); err != nil {
		return "absent (no syslog daemon: log lines are not sent)"
	}
	return "present"
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func size(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(fi.Size())/(1<<20))
}
