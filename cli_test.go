package main

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/agents"
	"github.com/ocfbox/ocfbox/ocf"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the CLI's output")

// cliResult is what one ocfbox command line did.
type cliResult struct {
	code           int
	stdout, stderr string
}

// ocfbox runs the CLI in-process, as the program named ocfbox, with the
// given environment.
func ocfbox(t *testing.T, environ []string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"ocfbox"}, args...), environ, &stdout, &stderr)
	return cliResult{code, stdout.String(), stderr.String()}
}

// cliEnv is a user's environment whose state directories are the test's
// stateDir.
func cliEnv(t *testing.T) (env []string, stateDir string) {
	t.Helper()
	dir := t.TempDir()
	return []string{"PATH=" + os.Getenv("PATH"), "HA_RSCTMP=" + dir, "HA_VARRUN=" + dir, "HA_SBIN_DIR=" + dir, "HA_LOGFACILITY=none"}, dir
}

func TestUsageExitCodeIsNoOCFStatus(t *testing.T) {
	if ocf.Status(exitUsage).Valid() {
		t.Fatalf("exitUsage %d is an OCF status; ocfbox run could not be told apart from a usage error", exitUsage)
	}
}

func TestList(t *testing.T) {
	got := ocfbox(t, nil, "list")
	if got.code != 0 {
		t.Fatalf("ocfbox list: exit %d, want 0\n%s", got.code, got.stderr)
	}
	var want strings.Builder
	for _, def := range agents.All {
		md, err := ocf.ParseMetadata(def.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		want.WriteString(def.Name + "\t" + md.ShortDesc + "\n")
	}
	if got.stdout != want.String() {
		t.Errorf("ocfbox list printed\n%s\nwant one NAME<TAB>shortdesc line per agent, in registry order:\n%s", got.stdout, want.String())
	}
}

// ocfbox meta-data prints exactly what the agent gives Pacemaker.
func TestMetadataPrintsTheAgentsMetadata(t *testing.T) {
	for _, def := range agents.All {
		t.Run(def.Name, func(t *testing.T) {
			got := ocfbox(t, nil, "meta-data", def.Name)
			if got.code != 0 {
				t.Fatalf("ocfbox meta-data %s: exit %d, want 0\n%s", def.Name, got.code, got.stderr)
			}
			golden, err := os.ReadFile(filepath.Join("metadata", "testdata", def.Name+".golden.xml"))
			if err != nil {
				t.Fatal(err)
			}
			if got.stdout != string(golden) {
				t.Errorf("ocfbox meta-data %s differs from metadata/testdata/%s.golden.xml:\n%s", def.Name, def.Name, got.stdout)
			}
		})
	}
}

func TestRun(t *testing.T) {
	missingDir := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name     string
		args     []string // after "ocfbox run"; STATE is replaced by a state file path
		want     int
		wantLine string // the status line on stdout; with a reason, its start
	}{
		{"start succeeds", []string{"Dummy", "start", "--param", "state=STATE"}, 0, "OCF_SUCCESS"},
		{"monitor of a stopped resource is a probe by default", []string{"Dummy", "monitor", "-p", "state=STATE"}, 7, "OCF_NOT_RUNNING"},
		{"a recurring monitor says why it is not running", []string{"--interval", "10s", "Dummy", "monitor", "-p", "state=STATE"}, 7, "OCF_NOT_RUNNING: not started"},
		{"flags may follow the agent and action", []string{"Dummy", "start", "-p", "state=STATE", "--instance", "web"}, 0, "OCF_SUCCESS"},
		{"flags may come first", []string{"-p", "state=STATE", "Dummy", "start"}, 0, "OCF_SUCCESS"},
		{"a parameter value may contain commas", []string{"Dummy", "start", "-p", "state=STATE,v2"}, 0, "OCF_SUCCESS"},
		{"a bad parameter prints the status and the reason", []string{"Dummy", "start", "-p", "state=" + missingDir + "/Dummy.state"}, 2,
			"OCF_ERR_ARGS: state=" + missingDir + "/Dummy.state is not writable"},
		{"a parameter of the wrong type is a configuration error", []string{"Stateful", "validate-all", "-p", "notify_delay=soon"}, 6,
			`OCF_ERR_CONFIGURED: notify_delay="soon"`},
		{"an action the agent lacks is unimplemented", []string{"Dummy", "promote"}, 3, `OCF_ERR_UNIMPLEMENTED: action "promote"`},
		{"meta attributes pass as CRM_meta_ parameters", []string{"Stateful", "notify", "-p", "CRM_meta_notify_type=pre", "-p", "CRM_meta_notify_operation=start"}, 0, "OCF_SUCCESS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "Dummy.state")
			args := []string{"run"}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "STATE", state))
			}
			env, _ := cliEnv(t)
			got := ocfbox(t, env, args...)
			if got.code != tc.want {
				t.Fatalf("ocfbox %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, got.code, tc.want, got.stdout, got.stderr)
			}
			line := strings.TrimSuffix(got.stdout, "\n")
			if strings.Contains(tc.wantLine, ": ") {
				if !strings.HasPrefix(line, tc.wantLine) || strings.Contains(line, "\n") {
					t.Errorf("ocfbox %q printed %q, want one line starting %q", args, got.stdout, tc.wantLine)
				}
			} else if line != tc.wantLine {
				t.Errorf("ocfbox %q printed %q, want just %q", args, got.stdout, tc.wantLine+"\n")
			}
			if strings.Contains(got.stderr, "ocf-exit-reason:") {
				t.Errorf("the exit reason should be on the status line, not left on stderr:\n%s", got.stderr)
			}
		})
	}
}

func TestRunStartsAndStopsForReal(t *testing.T) {
	env, _ := cliEnv(t)
	state := filepath.Join(t.TempDir(), "Dummy.state")
	if got := ocfbox(t, env, "run", "Dummy", "start", "-p", "state="+state); got.code != 0 {
		t.Fatalf("ocfbox run Dummy start: exit %d\n%s", got.code, got.stderr)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("ocfbox run Dummy start did not create state=%s: %v", state, err)
	}
	if got := ocfbox(t, env, "run", "Dummy", "monitor", "-p", "state="+state); got.code != 0 || got.stdout != "OCF_SUCCESS\n" {
		t.Fatalf("monitor after start: exit %d, stdout %q; want 0 and OCF_SUCCESS", got.code, got.stdout)
	}
	if got := ocfbox(t, env, "run", "Dummy", "stop", "-p", "state="+state); got.code != 0 {
		t.Fatalf("ocfbox run Dummy stop: exit %d\n%s", got.code, got.stderr)
	}
	if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ocfbox run Dummy stop left state=%s (%v)", state, err)
	}
}

func TestRunMetadataKeepsStdoutForTheXML(t *testing.T) {
	got := ocfbox(t, nil, "run", "Dummy", "meta-data")
	if got.code != 0 {
		t.Fatalf("exit %d\n%s", got.code, got.stderr)
	}
	if !strings.HasSuffix(got.stdout, "</resource-agent>\n") {
		t.Errorf("ocfbox run Dummy meta-data: stdout does not end with the XML:\n%s", got.stdout)
	}
}

// Every mistake on the command line exits 64 with a message on stderr,
// runs nothing and prints nothing on stdout.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		message string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"help for an unknown command", []string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{"unknown global flag", []string{"--frobnicate"}, "frobnicate"},
		{"meta-data without an agent", []string{"meta-data"}, "which agent"},
		{"meta-data of an unknown agent", []string{"meta-data", "NoSuchAgent"}, `no agent named "NoSuchAgent"`},
		{"meta-data of two agents", []string{"meta-data", "Dummy", "Stateful"}, `unexpected argument "Stateful"`},
		{"run without an agent", []string{"run"}, "which agent"},
		{"run of an unknown agent", []string{"run", "NoSuchAgent", "start"}, `no agent named "NoSuchAgent"`},
		{"run without an action", []string{"run", "Dummy"}, "which action"},
		{"run with a parameter as an argument", []string{"run", "Dummy", "start", "state=/x"}, `unexpected argument "state=/x"`},
		{"--param without a value", []string{"run", "Dummy", "start", "--param", "state"}, `--param "state" is not NAME=VALUE`},
		{"--param without a name", []string{"run", "Dummy", "start", "-p", "=x"}, `--param "=x" is not NAME=VALUE`},
		{"--param the agent does not have", []string{"run", "Dummy", "start", "-p", "stat=/x"}, `Dummy has no parameter "stat"`},
		{"unknown run flag", []string{"run", "Dummy", "start", "--frobnicate"}, "frobnicate"},
		{"--timeout that is not a duration", []string{"run", "Dummy", "start", "--timeout", "soon"}, "soon"},
		{"--timeout that is not positive", []string{"run", "Dummy", "start", "--timeout", "0s"}, "--timeout 0s"},
		{"negative --interval", []string{"run", "Dummy", "monitor", "--interval", "-10s"}, "--interval -10s"},
		{"empty --instance", []string{"run", "Dummy", "start", "--instance", ""}, "--instance"},
		{"list with an argument", []string{"list", "Dummy"}, `unexpected argument "Dummy"`},
		{"version with an argument", []string{"version", "2"}, `unexpected argument "2"`},
		{"install with an argument", []string{"install", "/"}, `unexpected argument "/"`},
		{"install with a relative target", []string{"install", "--root", "ROOT", "--target", "bin/ocfbox"}, `--target "bin/ocfbox"`},
		{"install with an empty root", []string{"install", "--root", "", "--target", "/usr/sbin/ocfbox"}, "--root"},
		{"install with a provider that is a path", []string{"install", "--root", "ROOT", "--provider", "../heartbeat"}, `--provider "../heartbeat"`},
		{"install with a hidden provider", []string{"install", "--root", "ROOT", "--provider", ".ocfbox"}, `--provider ".ocfbox"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			env, stateDir := cliEnv(t)
			args := slices.Clone(tc.args)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "ROOT", root)
			}
			got := ocfbox(t, env, args...)
			if got.code != exitUsage {
				t.Fatalf("ocfbox %q: exit %d, want %d (usage)\nstdout:\n%s\nstderr:\n%s", args, got.code, exitUsage, got.stdout, got.stderr)
			}
			if !strings.Contains(got.stderr, tc.message) {
				t.Errorf("ocfbox %q: stderr %q does not contain %q", args, got.stderr, tc.message)
			}
			if got.stdout != "" {
				t.Errorf("ocfbox %q printed on stdout:\n%s", args, got.stdout)
			}
			for _, dir := range []string{root, stateDir} {
				if entries, _ := os.ReadDir(dir); len(entries) > 0 {
					t.Errorf("ocfbox %q changed %s: %v", args, dir, entries)
				}
			}
		})
	}
}

// Help goes to stdout, exits 0 and runs nothing, wherever the flag is.
func TestHelp(t *testing.T) {
	tests := []struct {
		args   []string
		golden string // testdata/<golden>; "" to only check the help is the command's
		want   string
	}{
		{[]string{}, "help.golden", "USAGE:\n   ocfbox [global options]"},
		{[]string{"--help"}, "help.golden", "USAGE:\n   ocfbox [global options]"},
		{[]string{"-h"}, "help.golden", "USAGE:\n   ocfbox [global options]"},
		{[]string{"help"}, "help.golden", "USAGE:\n   ocfbox [global options]"},
		{[]string{"run", "--help"}, "run-help.golden", "USAGE:\n   ocfbox run"},
		{[]string{"help", "run"}, "run-help.golden", "USAGE:\n   ocfbox run"},
		{[]string{"run", "Dummy", "start", "--help"}, "run-help.golden", "USAGE:\n   ocfbox run"},
		{[]string{"run", "Dummy", "start", "-p", "fake=x", "-h"}, "run-help.golden", "USAGE:\n   ocfbox run"},
		{[]string{"install", "--help"}, "", "USAGE:\n   ocfbox install"},
		{[]string{"meta-data", "Dummy", "-h"}, "", "USAGE:\n   ocfbox meta-data"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(append([]string{"ocfbox"}, tc.args...), " "), func(t *testing.T) {
			env, stateDir := cliEnv(t)
			got := ocfbox(t, env, tc.args...)
			if got.code != 0 {
				t.Fatalf("exit %d, want 0\n%s", got.code, got.stderr)
			}
			if !strings.Contains(got.stdout, tc.want) {
				t.Fatalf("stdout does not contain %q:\n%s", tc.want, got.stdout)
			}
			if entries, _ := os.ReadDir(stateDir); len(entries) > 0 {
				t.Errorf("asking for help ran the agent: %s holds %v", stateDir, entries)
			}
			if tc.golden != "" {
				checkGolden(t, filepath.Join("testdata", tc.golden), got.stdout)
			}
		})
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test . -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test . -update rewrites it after a deliberate change):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		got := ocfbox(t, nil, args...)
		if want := "ocfbox version " + version + "\n"; got.code != 0 || got.stdout != want {
			t.Errorf("ocfbox %q: exit %d, stdout %q; want 0 and %q", args, got.code, got.stdout, want)
		}
	}
}

// agentLinks describes what dir holds: name -> link target, or "<file>"
// for anything that is not a link.
func agentLinks(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			target = "<file>"
		}
		links[e.Name()] = target
	}
	return links
}

// wantLinks is one link per agent to target, plus extra.
func wantLinks(target string, extra map[string]string) map[string]string {
	want := map[string]string{}
	for _, def := range agents.All {
		want[def.Name] = target
	}
	for k, v := range extra {
		want[k] = v
	}
	return want
}

func equalLinks(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestInstall(t *testing.T) {
	const target = "/usr/sbin/ocfbox"
	providerDir := func(root, provider string) string {
		return filepath.Join(root, "usr/lib/ocf/resource.d", provider)
	}
	install := func(t *testing.T, root string, args ...string) cliResult {
		t.Helper()
		return ocfbox(t, nil, append([]string{"install", "--root", root}, args...)...)
	}
	first := agents.All[0].Name
	// An install that stopped at the first foreign path would already
	// have linked the agents before the last one.
	last := agents.All[len(agents.All)-1].Name

	t.Run("creates a link per agent to the target", func(t *testing.T) {
		root := t.TempDir()
		got := install(t, root, "--target", target)
		if got.code != 0 {
			t.Fatalf("exit %d\n%s", got.code, got.stderr)
		}
		dir := providerDir(root, "ocfbox")
		if links := agentLinks(t, dir); !equalLinks(links, wantLinks(target, nil)) {
			t.Errorf("%s holds %v, want a link to %s per agent", dir, links, target)
		}
		for _, def := range agents.All {
			if want := filepath.Join(dir, def.Name) + " -> " + target + "\n"; !strings.Contains(got.stdout, want) {
				t.Errorf("install did not report %q", want)
			}
		}
	})
	t.Run("is idempotent", func(t *testing.T) {
		root := t.TempDir()
		install(t, root, "--target", target)
		link := filepath.Join(providerDir(root, "ocfbox"), first)
		before, err := os.Lstat(link)
		if err != nil {
			t.Fatal(err)
		}
		got := install(t, root, "--target", target)
		if got.code != 0 || got.stdout != "" {
			t.Fatalf("second install: exit %d, stdout %q; want 0 and nothing to report\n%s", got.code, got.stdout, got.stderr)
		}
		after, err := os.Lstat(link)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(before, after) {
			t.Errorf("second install re-created %s", link)
		}
	})
	t.Run("replaces links to another ocfbox binary", func(t *testing.T) {
		root := t.TempDir()
		install(t, root, "--target", "/opt/old/ocfbox")
		if got := install(t, root, "--target", target); got.code != 0 {
			t.Fatalf("exit %d\n%s", got.code, got.stderr)
		}
		if links := agentLinks(t, providerDir(root, "ocfbox")); !equalLinks(links, wantLinks(target, nil)) {
			t.Errorf("after re-install: %v, want every link to %s", links, target)
		}
	})
	t.Run("defaults the target to this binary", func(t *testing.T) {
		root := t.TempDir()
		if got := install(t, root); got.code != 0 {
			t.Fatalf("exit %d\n%s", got.code, got.stderr)
		}
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		if links := agentLinks(t, providerDir(root, "ocfbox")); !equalLinks(links, wantLinks(exe, nil)) {
			t.Errorf("links %v, want each to point to %s", links, exe)
		}
	})
	t.Run("--provider chooses the directory", func(t *testing.T) {
		root := t.TempDir()
		if got := install(t, root, "--target", target, "--provider", "other"); got.code != 0 {
			t.Fatalf("exit %d\n%s", got.code, got.stderr)
		}
		if links := agentLinks(t, providerDir(root, "other")); !equalLinks(links, wantLinks(target, nil)) {
			t.Errorf("provider other holds %v", links)
		}
		if _, err := os.Lstat(providerDir(root, "ocfbox")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("--provider other also created the ocfbox provider directory (%v)", err)
		}
	})

	foreign := []struct {
		name  string
		setUp func(t *testing.T, path string)
		want  string // agentLinks' view of it
	}{
		{"a regular file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("#!/bin/sh\n# someone's own agent\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "<file>"},
		{"a link to another agent", func(t *testing.T, path string) {
			if err := os.Symlink("/usr/lib/ocf/resource.d/heartbeat/Dummy", path); err != nil {
				t.Fatal(err)
			}
		}, "/usr/lib/ocf/resource.d/heartbeat/Dummy"},
	}
	for _, f := range foreign {
		t.Run("refuses to replace "+f.name+" and changes nothing", func(t *testing.T) {
			root := t.TempDir()
			dir := providerDir(root, "ocfbox")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, last)
			f.setUp(t, path)
			before, _ := os.ReadFile(path)
			got := install(t, root, "--target", target)
			if got.code == 0 || got.code == exitUsage {
				t.Fatalf("install over %s: exit %d, want a failure that is not a usage error", f.name, got.code)
			}
			if !strings.Contains(got.stderr, path) {
				t.Errorf("the error does not name %s:\n%s", path, got.stderr)
			}
			if links := agentLinks(t, dir); !equalLinks(links, map[string]string{last: f.want}) {
				t.Errorf("after the refused install %s holds %v, want only the untouched %s", dir, links, last)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("the refused install changed %s", path)
			}
		})
	}

	t.Run("--uninstall removes the links and the empty directory", func(t *testing.T) {
		root := t.TempDir()
		install(t, root, "--target", target)
		got := install(t, root, "--target", target, "--uninstall")
		if got.code != 0 {
			t.Fatalf("exit %d\n%s", got.code, got.stderr)
		}
		dir := providerDir(root, "ocfbox")
		if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("--uninstall left %s (%v)", dir, err)
		}
		if _, err := os.Stat(filepath.Dir(dir)); err != nil {
			t.Errorf("--uninstall removed more than its provider directory: %v", err)
		}
	})
	t.Run("--uninstall removes only ocfbox links", func(t *testing.T) {
		root := t.TempDir()
		install(t, root, "--target", target)
		dir := providerDir(root, "ocfbox")
		own := filepath.Join(dir, "MyAgent")
		if err := os.WriteFile(own, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/usr/lib/ocf/resource.d/heartbeat/IPaddr2", filepath.Join(dir, "VIP")); err != nil {
			t.Fatal(err)
		}
		if got := install(t, root, "--target", target, "--uninstall"); got.code != 0 {
			t.Fatalf("exit %d\n%s", got.code, got.stderr)
		}
		want := map[string]string{"MyAgent": "<file>", "VIP": "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"}
		if links := agentLinks(t, dir); !equalLinks(links, want) {
			t.Errorf("after --uninstall %s holds %v, want only %v", dir, links, want)
		}
	})
	t.Run("--uninstall with nothing installed succeeds", func(t *testing.T) {
		if got := install(t, t.TempDir(), "--target", target, "--uninstall"); got.code != 0 {
			t.Fatalf("exit %d\n%s", got.code, got.stderr)
		}
	})
	t.Run("--uninstall --provider other leaves provider ocfbox alone", func(t *testing.T) {
		root := t.TempDir()
		install(t, root, "--target", target)
		install(t, root, "--target", target, "--provider", "other")
		install(t, root, "--target", target, "--provider", "other", "--uninstall")
		if links := agentLinks(t, providerDir(root, "ocfbox")); !equalLinks(links, wantLinks(target, nil)) {
			t.Errorf("provider ocfbox holds %v after uninstalling provider other", links)
		}
		if _, err := os.Lstat(providerDir(root, "other")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("provider other is still there (%v)", err)
		}
	})
}
