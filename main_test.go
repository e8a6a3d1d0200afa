package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/ocf/ocftest"
)

// agentEnv is the environment pacemaker-execd gives an agent, with the
// state directories in a test's own temporary directory.
func agentEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	return []string{
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=dispatch-test", "OCF_RESOURCE_PROVIDER=ocfbox",
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:", "OCF_RESKEY_CRM_meta_timeout=20000",
		"HA_RSCTMP=" + dir, "HA_VARRUN=" + dir, "HA_SBIN_DIR=" + dir, "HA_LOGFACILITY=none",
	}
}

// The binary picks the agent by the name it was run as, as it is when
// Pacemaker runs /usr/lib/ocf/resource.d/ocfbox/<Agent>; the human CLI
// answers only to other names.
func TestDispatchByProgramName(t *testing.T) {
	const provider = "/usr/lib/ocf/resource.d/ocfbox/"
	tests := []struct {
		name       string
		args       []string
		want       int
		wantStdout string // substring; "" means stdout must be empty
		wantReason string // substring of the exit reason; "" means none
	}{
		{"an agent's link runs the agent", []string{provider + "Dummy", "monitor"}, int(ocf.NotRunning), "", ""},
		{"a bare agent name runs the agent", []string{"Dummy", "start"}, int(ocf.Success), "", ""},
		{"arguments after the action are ignored, as OCF requires", []string{provider + "Dummy", "monitor", "--param", "x"}, int(ocf.NotRunning), "", ""},
		{"an agent's meta-data", []string{provider + "Stateful", "meta-data"}, int(ocf.Success), `<resource-agent name="Stateful"`, ""},
		{"an agent with an unknown action is unimplemented", []string{provider + "Dummy", "frobnicate"}, int(ocf.ErrUnimplemented), "", `"frobnicate"`},
		{"an agent with no action is unimplemented", []string{provider + "Dummy"}, int(ocf.ErrUnimplemented), "", "no action"},
		{"a CLI command is not an action", []string{provider + "Dummy", "list"}, int(ocf.ErrUnimplemented), "", `"list"`},
		{"a link to an agent this build lacks is not installed", []string{provider + "NoSuchAgent", "monitor"}, int(ocf.ErrInstalled), "", "no agent named NoSuchAgent"},
		{"the name ocfbox is the CLI", []string{"/usr/sbin/ocfbox", "version"}, 0, "ocfbox version", ""},
		{"the name ocfbox in a provider directory is the CLI", []string{provider + "ocfbox", "version"}, 0, "ocfbox version", ""},
		{"any other name is the CLI", []string{"/tmp/ocfbox-1.0", "version"}, 0, "ocfbox version", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(tc.args, agentEnv(t), &stdout, &stderr)
			if got != tc.want {
				t.Fatalf("%q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, got, tc.want, stdout.String(), stderr.String())
			}
			if tc.wantStdout == "" && stdout.Len() > 0 {
				t.Errorf("%q wrote to stdout, want nothing there:\n%s", tc.args, stdout.String())
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("%q: stdout does not contain %q:\n%s", tc.args, tc.wantStdout, stdout.String())
			}
			reason, hasReason := ocftest.ExitReason(stderr.String())
			switch {
			case tc.wantReason == "" && hasReason:
				t.Errorf("%q: exit reason %q, want none", tc.args, reason)
			case tc.wantReason != "" && !strings.Contains(reason, tc.wantReason):
				t.Errorf("%q: exit reason %q, want one containing %q", tc.args, reason, tc.wantReason)
			}
		})
	}
}

// The real binary, run through a link named after an agent, exits with
// the agent's status.
func TestBinaryRunsTheAgentItIsLinkedAs(t *testing.T) {
	bin := testenv.Binary(t)
	link := filepath.Join(t.TempDir(), "Dummy")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	env := agentEnv(t)
	for _, tc := range []struct {
		action string
		want   ocf.Status
	}{
		{"monitor", ocf.NotRunning},
		{"start", ocf.Success},
		{"monitor", ocf.Success},
		{"stop", ocf.Success},
		{"frobnicate", ocf.ErrUnimplemented},
	} {
		cmd := exec.Command(link, tc.action)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		got := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("Dummy %s: %v", tc.action, err)
		}
		if ocf.Status(got) != tc.want {
			t.Fatalf("Dummy %s: exit %d, want %d (%s)\n%s", tc.action, got, int(tc.want), tc.want, out)
		}
	}
}

// ocfbox is one statically linked file, so that it runs on any node:
// no program interpreter, no dynamic section, no shared libraries.
func TestBinaryIsStaticallyLinked(t *testing.T) {
	f, err := elf.Open(testenv.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			t.Error("the binary has a program interpreter (PT_INTERP): it is dynamically linked")
		case elf.PT_DYNAMIC:
			t.Error("the binary has a dynamic section (PT_DYNAMIC)")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %q (%v), want none", libs, err)
	}
}

// The default build must not link libvirt's cgo binding or anything else
// that needs cgo: the cgo binding is behind the libvirt_cgo build tag.
func TestDefaultBuildLinksNeitherLibvirtNorCgo(t *testing.T) {
	gotool := testenv.RequireTool(t, "go")
	tests := []struct {
		name string
		env  []string
		args []string
	}{
		// What make builds.
		{"release build (CGO_ENABLED=0)", []string{"CGO_ENABLED=0"}, nil},
		// With cgo on, only the standard library's optional cgo (DNS and
		// user lookups, switched off by these tags) may bring in
		// runtime/cgo; a dependency that needs cgo would show here.
		{"cgo build with pure-Go net and os/user", []string{"CGO_ENABLED=1"}, []string{"-tags", "netgo,osusergo"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"list", "-e", "-deps"}, tc.args...), "-f", "{{.ImportPath}}", ".")
			cmd := exec.Command(gotool, args...)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go %s: %v", strings.Join(args, " "), err)
			}
			deps := strings.Fields(string(out))
			if !slices.Contains(deps, "github.com/ocfbox/ocfbox/agents") {
				t.Fatalf("go list -deps . does not list the agents package; the check below would prove nothing:\n%s", out)
			}
			for _, pkg := range deps {
				if pkg == "runtime/cgo" || strings.HasPrefix(pkg, "libvirt.org/go/libvirt") {
					t.Errorf("the build links %s", pkg)
				}
			}
		})
	}
}

// Every agent invocation pays for what the binary links: a package that
// calls methods by name through reflect (text/template, html/template)
// makes the linker keep every exported method of every type, 2.5 MB of
// binary and 1.4 MiB of every monitor's memory when urfave/cli's help
// templates brought it in.
func TestBinaryLinksNoTemplateEngine(t *testing.T) {
	gotool := testenv.RequireTool(t, "go")
	cmd := exec.Command(gotool, "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/ocfbox/ocfbox/ocf") {
		t.Fatalf("go list -deps . does not list package ocf; the check below would prove nothing:\n%s", out)
	}
	for _, pkg := range deps {
		if pkg == "text/template" || pkg == "html/template" {
			t.Errorf("the binary links %s", pkg)
		}
	}
}

// Every invocation of any agent runs the package initialisation of every
// package in the binary, so ocfbox's own packages do next to nothing
// there: no regular expression compiled, no XML parsed or copied (Go's
// own initialisation trace, GODEBUG=inittrace=1, counts what each
// package allocates). Maps of a few entries fit in the budget.
func TestOwnPackagesDoAlmostNothingAtStartup(t *testing.T) {
	const budget = 4096 // bytes allocated by one package's initialisation
	link := filepath.Join(t.TempDir(), "Dummy")
	if err := os.Symlink(testenv.Binary(t), link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, "meta-data")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("Dummy meta-data: %v\n%s", err, stderr.String())
	}
	// init github.com/ocfbox/ocfbox/ocf @41 ms, 0.032 ms clock, 1744 bytes, 10 allocs
	line := regexp.MustCompile(`(?m)^init (github\.com/ocfbox/ocfbox\S*) @.*, ([0-9]+) bytes, [0-9]+ allocs$`)
	found := line.FindAllStringSubmatch(stderr.String(), -1)
	if len(found) < 3 {
		t.Fatalf("the initialisation trace shows %d of ocfbox's packages, want the agents' and ocf's:\n%s", len(found), stderr.String())
	}
	for _, m := range found {
		if n, _ := strconv.Atoi(m[2]); n > budget {
			t.Errorf("package %s allocates %d bytes at start-up (budget %d): move the work to first use (sync.OnceValue) or to build time", m[1], n, budget)
		}
	}
}
