// Package drbdfake is a stand-in for drbd-utils (drbdsetup, drbdadm) in
// tests that run the drbd agents without a DRBD kernel: it replays output
// RECORDED from a real DRBD 8.4.11 kernel (pkg/drbd/testdata/uml84) or
// DRBD 9 events2 text, answering `drbdsetup events2 --now` and
// `drbdsetup sh-status` (what ocfbox and the reference agent read) with
// the current state's recording, and moving between recorded states on
// adjust/up/attach, primary, secondary and down as the real tools do.
// Refusals (held open, no UpToDate data) replay the recorded messages.
//
// Install puts the tools in a directory, first in PATH for the agent.
// The directory holds the fake's configuration (fake.json) and a record
// of every call (calls.jsonl), which the test reads back through Dir.
package drbdfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

// Config is the fake's state (fake.json).
type Config struct {
	// Fixtures is the directory of recorded states (one subdirectory each).
	Fixtures string
	// State is the current state's subdirectory; "" is down.
	State string
	// Events2 and ShStatus, when set, are answered instead of the state's
	// recordings (a DRBD 9 state given as text).
	Events2, ShStatus string
	// Resource is the resource drbdadm knows for this host.
	Resource string
	// KernelVersionCode is DRBD_KERNEL_VERSION_CODE of drbdadm --version,
	// e.g. 0x08040b; "0x000000" when no module is loaded.
	KernelVersionCode string
	// NoModule makes drbdsetup fail as without the kernel module (exit 20).
	NoModule bool
	// Devices and Lower are what sh-dev and sh-ll-dev print.
	Devices, Lower []string
	// Next maps a state-changing command (up, primary, secondary, down) to
	// the state it leads to; a command not in it leaves the state.
	Next map[string]string
	// Fail makes a drbdadm/drbdsetup subcommand fail with a recorded
	// message: the name of a file in Fixtures ("secondary-held-open.txt")
	// whose text is the message, and the exit code.
	Fail map[string]Failure
	// Dump is what drbdadm dump prints.
	Dump string
}

// Failure is a refused command.
type Failure struct {
	Code int
	File string
}

// Call is one run of a fake tool.
type Call struct{ Argv []string }

const (
	configFile = "fake.json"
	callsFile  = "calls.jsonl"
)

var tools = []string{"drbdsetup", "drbdadm"}

// Dir is a directory holding the fake tools.
type Dir struct{ Path string }

// Install builds the fake once per test process, links it as drbdsetup
// and drbdadm into dir and writes its configuration.
func Install(t testing.TB, dir string, c Config) Dir {
	t.Helper()
	prog := testenv.Build(t, "./internal/drbdfake/cmd/drbdfake")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range tools {
		if err := os.Link(prog, filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrExist) {
			t.Fatalf("install the fake drbd-utils: %v", err)
		}
	}
	d := Dir{Path: dir}
	d.Set(t, c)
	return d
}

// Set replaces the fake's configuration.
func (d Dir) Set(t testing.TB, c Config) {
	t.Helper()
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Path, configFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Config reads the fake's configuration back (the state it is in now).
func (d Dir) Config(t testing.TB) Config {
	t.Helper()
	c, err := load(d.Path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Calls are the runs so far, in order, each as one string.
func (d Dir) Calls(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.Path, callsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var c Call
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(c.Argv, " "))
	}
	return out
}

// Reset forgets the calls so far.
func (d Dir) Reset(t testing.TB) {
	t.Helper()
	if err := os.Remove(filepath.Join(d.Path, callsFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}

func load(dir string) (Config, error) {
	var c Config
	b, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(b, &c)
}

// Main is the fake tools' program; it returns the exit code.
func Main() int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "drbdfake:", err)
		return 1
	}
	dir := filepath.Dir(exe)
	name, args := filepath.Base(os.Args[0]), os.Args[1:]
	if line, err := json.Marshal(Call{Argv: append([]string{name}, args...)}); err == nil {
		if f, err := os.OpenFile(filepath.Join(dir, callsFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			f.Write(append(line, '\n'))
			f.Close()
		}
	}
	c, err := load(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "drbdfake: configuration:", err)
		return 1
	}
	f := &fake{dir: dir, c: c}
	switch name {
	case "drbdsetup":
		return f.drbdsetup(args)
	case "drbdadm":
		return f.drbdadm(args)
	}
	fmt.Fprintf(os.Stderr, "drbdfake: run as %s, want drbdsetup or drbdadm\n", name)
	return 1
}

type fake struct {
	dir string
	c   Config
}

func (f *fake) save() {
	b, _ := json.MarshalIndent(f.c, "", " ")
	os.WriteFile(filepath.Join(f.dir, configFile), b, 0o644)
}

func (f *fake) recorded(file string) (string, bool) {
	if f.c.State == "" {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(f.c.Fixtures, f.c.State, file))
	return string(b), err == nil
}

// move applies a state-changing command, unless it is configured to fail.
func (f *fake) move(cmd string) int {
	if fl, ok := f.c.Fail[cmd]; ok {
		b, _ := os.ReadFile(filepath.Join(f.c.Fixtures, fl.File))
		// The recordings hold the node's shell's "rc=N" lines too.
		var msg []string
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" && !strings.HasPrefix(l, "rc=") {
				msg = append(msg, l)
			}
		}
		fmt.Fprintln(os.Stderr, strings.Join(msg, "\n"))
		return fl.Code
	}
	if next, ok := f.c.Next[cmd]; ok {
		f.c.State = next
		f.c.Events2, f.c.ShStatus = "", ""
		f.save()
	}
	return 0
}

func (f *fake) drbdsetup(args []string) int {
	if f.c.NoModule {
		fmt.Fprintln(os.Stderr, "Failed to modprobe drbd (No such file or directory)")
		return 20
	}
	if len(args) == 0 {
		return 20
	}
	switch args[0] {
	case "events2":
		if f.c.Events2 != "" {
			fmt.Print(f.c.Events2)
			return 0
		}
		if out, ok := f.recorded("events2-now.out"); ok && slices.Contains(args, f.c.Resource) {
			fmt.Print(out)
			return 0
		}
		fmt.Println("exists -")
		return 0
	case "sh-status":
		if f.c.ShStatus != "" {
			fmt.Print(f.c.ShStatus)
			return 0
		}
		if out, ok := f.recorded("sh-status.out"); ok && slices.Contains(args, f.c.Resource) {
			fmt.Print(out)
			return 0
		}
		return 19 // what the 8.4 drbdsetup answers for a resource that is down
	case "down", "secondary", "primary":
		return f.move(args[0])
	}
	return 0 // wait-connect, and anything else: done
}

func (f *fake) drbdadm(args []string) int {
	// Options before the command: -c FILE, -S, -d, -v, --stacked.
	var rest []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-c":
			i++
		case "-S", "--stacked", "-d", "-v", "--":
		default:
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 {
		return 20
	}
	cmd, res := rest[0], ""
	for _, a := range rest[1:] {
		if !strings.HasPrefix(a, "-") {
			res, _, _ = strings.Cut(a, ":")
		}
	}
	if cmd == "--version" {
		fmt.Printf("DRBDADM_BUILDTAG=GIT-hash:\\ 409097fe02187f83790b88ac3e0d94f3c167adab\\ reproducible\\ build\\,\\ 2023-01-09\\ 14:51:18\nDRBDADM_API_VERSION=1\nDRBD_KERNEL_VERSION_CODE=%s\nDRBDADM_VERSION_CODE=0x091600\nDRBDADM_VERSION=9.22.0\n", f.c.KernelVersionCode)
		return 0
	}
	if cmd == "sh-mod-parms" {
		fmt.Println("minor_count=32")
		return 0
	}
	if res != "" && res != f.c.Resource {
		fmt.Fprintf(os.Stderr, "'%s' not defined in your config (for this host).\n", res)
		return 1
	}
	switch cmd {
	case "sh-dev":
		fmt.Println(strings.Join(f.c.Devices, "\n"))
	case "sh-ll-dev":
		fmt.Println(strings.Join(f.c.Lower, "\n"))
	case "dump":
		fmt.Print(f.c.Dump)
	case "up", "adjust", "attach":
		if f.c.State == "" || strings.HasSuffix(f.c.State, "-down") {
			return f.move("up")
		}
		if _, ok := f.c.Fail[cmd]; ok {
			return f.move(cmd)
		}
	case "primary", "secondary", "down":
		return f.move(cmd)
	}
	return 0 // check-resize, new-resource, new-minor, outdate, unfence-peer, ...
}
