// Command measure prints what an IPaddr2 monitor and start cost, for the
// installed reference agent and for ocfbox, measured alternately in one
// run inside a private network namespace: median wall time and programs
// executed (strace -f -e trace=execve) of a recurring monitor of a started
// IPv4 address, and the time from start returning to the first
// gratuitous ARP seen by a neighbour. It prints numbers; it asserts
// nothing. Run as root from the repository root:
//
//	go run ./agents/ipaddr2/internal/measure [-n 40] [-ocfbox path]
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ocfbox/ocfbox/internal/netnstest"
)

const reference = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"

func main() {
	n := flag.Int("n", 40, "monitors per agent")
	starts := flag.Int("starts", 5, "starts per agent for the announcement latency")
	bin := flag.String("ocfbox", "", "ocfbox binary (default: build one with CGO_ENABLED=0)")
	flag.Parse()
	if err := run(*n, *starts, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

type agent struct {
	name, path string
}

func run(n, starts int, bin string) error {
	tmp, err := os.MkdirTemp("", "ipaddr2-measure-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		bin = filepath.Join(tmp, "ocfbox")
		build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build ocfbox: %v\n%s", err, out)
		}
	}
	link := filepath.Join(tmp, "IPaddr2")
	if err := os.Symlink(bin, link); err != nil {
		return err
	}
	agents := []agent{{"reference", reference}, {"ocfbox", link}}

	node, err := netnstest.Create("measure-node")
	if err != nil {
		return err
	}
	defer node.Close()
	peer, err := netnstest.Create("measure-peer")
	if err != nil {
		return err
	}
	defer peer.Close()
	if err := node.AddVeth("va", peer, "vb"); err != nil {
		return err
	}
	if err := node.Run(exec.Command("ip", "addr", "add", "192.0.2.1/24", "brd", "+", "dev", "va")); err != nil {
		return err
	}
	rsctmp := filepath.Join(tmp, "rsctmp")
	env := func(action string, interval int, extra ...string) []string {
		return append([]string{
			"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=vip",
			"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1", "HA_RSCTMP=" + rsctmp,
			"OCF_RESKEY_CRM_meta_timeout=20000", fmt.Sprintf("OCF_RESKEY_CRM_meta_interval=%d", interval),
			"OCF_RESKEY_ip=192.0.2.10",
		}, extra...)
	}
	invoke := func(a agent, action string, interval int, wrap ...string) (time.Duration, int, error) {
		argv := append(append([]string{}, wrap...), a.path, action)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env(action, interval)
		// A file, not a pipe: the wait ends when the agent exits, not when
		// a background child it left closes its copy of the pipe.
		stderrFile, err := os.CreateTemp(tmp, "stderr-")
		if err != nil {
			return 0, -1, err
		}
		defer stderrFile.Close()
		cmd.Stderr = stderrFile
		began := time.Now()
		err = node.Run(cmd)
		took := time.Since(began)
		stderr, _ := os.ReadFile(stderrFile.Name())
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code, err = ee.ExitCode(), nil
		}
		if err != nil {
			return took, -1, fmt.Errorf("%s %s: %v\n%s", a.name, action, err, stderr)
		}
		return took, code, nil
	}
	startStop := func(a agent, action string) error {
		if _, code, err := invoke(a, action, 0); err != nil || code != 0 {
			return fmt.Errorf("%s %s: status %d %v", a.name, action, code, err)
		}
		time.Sleep(1500 * time.Millisecond) // let background announcements finish
		return nil
	}

	// Monitor wall time, alternating the agents so that both see the
	// same machine load.
	fmt.Printf("IPaddr2 recurring monitor of a started IPv4 address (veth in a private netns), %d runs each, alternated\n", n)
	walls := map[string][]time.Duration{}
	for _, a := range agents {
		if err := startStop(a, "start"); err != nil {
			return err
		}
		if _, code, err := invoke(a, "monitor", 10000); err != nil || code != 0 {
			return fmt.Errorf("%s monitor after start: status %d %v", a.name, code, err)
		}
		if err := startStop(a, "stop"); err != nil {
			return err
		}
	}
	if err := startStop(agents[1], "start"); err != nil { // either agent's address serves both monitors
		return err
	}
	for i := 0; i < n; i++ {
		for _, a := range agents {
			took, code, err := invoke(a, "monitor", 10000)
			if err != nil || code != 0 {
				return fmt.Errorf("%s monitor: status %d %v", a.name, code, err)
			}
			walls[a.name] = append(walls[a.name], took)
		}
	}
	// Programs executed, counted by strace.
	execs := map[string]int{}
	programs := map[string][]string{}
	if strace, err := exec.LookPath("strace"); err == nil {
		for _, a := range agents {
			out := filepath.Join(tmp, a.name+".strace")
			if _, _, err := invoke(a, "monitor", 10000, strace, "-f", "-qq", "-e", "trace=execve", "-o", out); err != nil {
				return err
			}
			b, _ := os.ReadFile(out)
			var progs []string
			execs[a.name], progs = countExecs(string(b))
			execs[a.name]-- // not the agent itself
			programs[a.name] = progs
		}
	}
	if err := startStop(agents[1], "stop"); err != nil {
		return err
	}
	fmt.Printf("%-10s %12s %12s %12s %22s\n", "agent", "median", "min", "max", "programs executed")
	for _, a := range agents {
		w := walls[a.name]
		slices.Sort(w)
		fmt.Printf("%-10s %12s %12s %12s %22d\n", a.name, median(w).Round(10*time.Microsecond), w[0].Round(10*time.Microsecond), w[len(w)-1].Round(10*time.Microsecond), execs[a.name])
	}
	for _, a := range agents {
		if len(programs[a.name]) > 1 {
			fmt.Printf("%s runs: %s\n", a.name, strings.Join(programs[a.name][1:], " "))
		}
	}
	ratio := float64(median(walls["reference"])) / float64(median(walls["ocfbox"]))
	fmt.Printf("ratio of medians (reference / ocfbox): %.1fx\n\n", ratio)

	// Start: wall time and first gratuitous ARP relative to start returning.
	fmt.Printf("IPaddr2 start (IPv4, default arp_count=5, arp_interval=200), %d runs each, alternated\n", starts)
	capture, err := peer.StartCapture("vb")
	if err != nil {
		return err
	}
	defer capture.Stop()
	vip := netip.MustParseAddr("192.0.2.10")
	startWall := map[string][]time.Duration{}
	firstARP := map[string][]time.Duration{}
	lastARP := map[string][]time.Duration{}
	for i := 0; i < starts; i++ {
		for _, a := range agents {
			before := len(capture.Frames())
			began := time.Now()
			took, code, err := invoke(a, "start", 0)
			returned := began.Add(took)
			if err != nil || code != 0 {
				return fmt.Errorf("%s start: status %d %v", a.name, code, err)
			}
			time.Sleep(2 * time.Second)
			var first, last time.Time
			for _, f := range capture.Frames()[before:] {
				if f.ARP != nil && f.ARP.SenderIP == vip {
					if first.IsZero() {
						first = f.At
					}
					last = f.At
				}
			}
			if first.IsZero() {
				return fmt.Errorf("%s start: no gratuitous ARP seen", a.name)
			}
			startWall[a.name] = append(startWall[a.name], took)
			firstARP[a.name] = append(firstARP[a.name], first.Sub(returned))
			lastARP[a.name] = append(lastARP[a.name], last.Sub(returned))
			if err := startStop(a, "stop"); err != nil {
				return err
			}
		}
	}
	fmt.Printf("%-10s %14s %28s %28s\n", "agent", "start median", "first ARP after return", "last ARP after return")
	for _, a := range agents {
		for _, m := range []map[string][]time.Duration{startWall, firstARP, lastARP} {
			slices.Sort(m[a.name])
		}
		fmt.Printf("%-10s %14s %28s %28s\n", a.name, median(startWall[a.name]).Round(time.Millisecond),
			median(firstARP[a.name]).Round(100*time.Microsecond), median(lastARP[a.name]).Round(time.Millisecond))
	}
	fmt.Println("(negative: before start returned)")
	return nil
}

// countExecs counts the successful execve calls in strace -f output,
// including those that strace split into "<unfinished ...>" and
// "<... execve resumed>" lines because processes ran concurrently, and
// lists the programs in order.
func countExecs(trace string) (int, []string) {
	pending := map[string]string{} // pid → program of an unfinished execve
	var progs []string
	for _, line := range strings.Split(trace, "\n") {
		pid, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		prog := ""
		if _, after, ok := strings.Cut(rest, `execve("`); ok {
			prog, _, _ = strings.Cut(after, `"`)
			prog = filepath.Base(prog)
		}
		switch {
		case prog != "" && strings.Contains(rest, "<unfinished"):
			pending[pid] = prog
		case prog != "" && strings.HasSuffix(rest, ") = 0"):
			progs = append(progs, prog)
		case strings.Contains(rest, "execve resumed>") && strings.HasSuffix(rest, ") = 0"):
			progs = append(progs, pending[pid])
			delete(pending, pid)
		}
	}
	return len(progs), progs
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[len(d)/2]
}
