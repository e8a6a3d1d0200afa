// Package packaging tests the .deb and the .rpm that `make deb` and
// `make rpm` build: what they contain, and (as root) that the .deb
// installs agents Pacemaker finds and purges without a trace.
package packaging

import (
	"bytes"
	"debug/elf"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

const (
	binary      = "/usr/sbin/ocfbox"
	providerDir = testenv.OCFProviderDir
	tmpfilesCfg = "/usr/lib/tmpfiles.d/ocfbox.conf"
)

// repoRoot is the directory of the Makefile (go test runs in tests/packaging).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "Makefile")); err != nil {
		t.Fatalf("no Makefile in %s: %v", root, err)
	}
	return root
}

// makePackages runs `make TARGET… DIST=<temp dir>` and returns the one
// file each target made there, by extension.
func makePackages(t *testing.T, targets ...string) map[string]string {
	t.Helper()
	testenv.RequireTool(t, "make")
	dist := t.TempDir()
	args := append(slices.Clone(targets), "DIST="+dist)
	cmd := exec.Command("make", args...)
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	files := map[string]string{}
	for _, ext := range []string{".deb", ".rpm"} {
		m, _ := filepath.Glob(filepath.Join(dist, "*"+ext))
		if len(m) > 1 {
			t.Fatalf("make left %d %s files in %s: %v", len(m), ext, dist, m)
		}
		if len(m) == 1 {
			files[ext] = m[0]
		}
	}
	for _, target := range targets {
		if files["."+target] == "" {
			t.Fatalf("make %s made no .%s in %s", target, target, dist)
		}
	}
	return files
}

func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

// agentNames are the agents `ocfbox list` (first column) shows.
func agentNames(t *testing.T, ocfbox string) []string {
	t.Helper()
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(output(t, ocfbox, "list")), "\n") {
		name, _, _ := strings.Cut(line, "\t")
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) == 0 || names[0] == "" {
		t.Fatalf("%s list shows no agents", ocfbox)
	}
	return names
}

// wantFiles is every non-directory path both packages must hold.
func wantFiles(agents []string) []string {
	files := []string{binary, tmpfilesCfg}
	for _, a := range agents {
		files = append(files, filepath.Join(providerDir, a))
	}
	slices.Sort(files)
	return files
}

// debEntry is one line of `dpkg-deb -c`.
type debEntry struct{ mode, path, link string }

func debContents(t *testing.T, deb string) []debEntry {
	t.Helper()
	var entries []debEntry
	for _, line := range strings.Split(strings.TrimSpace(output(t, "dpkg-deb", "-c", deb)), "\n") {
		// drwxr-xr-x root/root 0 2026-11-22 04:38 ./usr/sbin/ocfbox [-> target]
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c: cannot read %q", line)
		}
		e := debEntry{mode: f[0], path: strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")}
		if len(f) == 8 && f[6] == "->" {
			e.link = f[7]
		}
		if f[1] != "root/root" {
			t.Errorf("%s: %s is owned by %s, want root/root", deb, e.path, f[1])
		}
		entries = append(entries, e)
	}
	return entries
}

// TestPackagesHoldTheSameFiles builds both packages from one staged tree
// and compares what they install, with the binary's agents.
func TestPackagesHoldTheSameFiles(t *testing.T) {
	testenv.RequireTool(t, "dpkg-deb")
	testenv.RequireTool(t, "rpmbuild")
	testenv.RequireTool(t, "rpm")
	pkgs := makePackages(t, "deb", "rpm")
	agents := agentNames(t, filepath.Join(repoRoot(t), "bin", "ocfbox"))
	want := wantFiles(agents)

	var debFiles []string
	debLinks := map[string]string{}
	for _, e := range debContents(t, pkgs[".deb"]) {
		switch {
		case strings.HasPrefix(e.mode, "d"):
			continue
		case strings.HasPrefix(e.mode, "l"):
			debLinks[e.path] = e.link
		case e.path == binary && e.mode != "-rwxr-xr-x":
			t.Errorf(".deb: %s has mode %s, want -rwxr-xr-x", e.path, e.mode)
		}
		debFiles = append(debFiles, e.path)
	}
	slices.Sort(debFiles)
	if !slices.Equal(debFiles, want) {
		t.Errorf(".deb holds %q, want %q", debFiles, want)
	}

	rpmList := strings.Fields(output(t, "rpm", "-qlp", pkgs[".rpm"]))
	slices.Sort(rpmList)
	wantRPM := slices.Sorted(slices.Values(append(slices.Clone(want), providerDir)))
	if !slices.Equal(rpmList, wantRPM) {
		t.Errorf("rpm -qlp lists %q, want %q (the .deb's files and the provider directory)", rpmList, wantRPM)
	}

	// --dump: path size mtime digest mode owner group isconfig isdoc rdev symlink
	rpmLinks := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(output(t, "rpm", "-qp", "--dump", pkgs[".rpm"])), "\n") {
		f := strings.Fields(line)
		if len(f) != 11 {
			t.Fatalf("rpm --dump: cannot read %q", line)
		}
		if f[5] != "root" || f[6] != "root" {
			t.Errorf(".rpm: %s is owned by %s:%s, want root:root", f[0], f[5], f[6])
		}
		if f[10] != "X" {
			rpmLinks[f[0]] = f[10]
		}
	}
	for _, a := range agents {
		link := filepath.Join(providerDir, a)
		if debLinks[link] != binary {
			t.Errorf(".deb: %s -> %q, want -> %s", link, debLinks[link], binary)
		}
		if rpmLinks[link] != binary {
			t.Errorf(".rpm: %s -> %q, want -> %s", link, rpmLinks[link], binary)
		}
	}

	debVersion := output(t, "dpkg-deb", "--showformat=${Version}", "--show", pkgs[".deb"])
	debVersion = strings.TrimSpace(strings.TrimPrefix(debVersion, "ocfbox\t"))
	rpmVersion := output(t, "rpm", "-qp", "--queryformat", "%{VERSION}", pkgs[".rpm"])
	if debVersion == "" || debVersion != rpmVersion {
		t.Errorf("versions differ: .deb %q, .rpm %q", debVersion, rpmVersion)
	}
	if out, err := exec.Command("dpkg", "--validate-version", debVersion).CombinedOutput(); err != nil {
		t.Errorf("dpkg rejects the version %q: %s", debVersion, out)
	}
}

// setAside moves what a `make install` may have left where the package
// installs, and puts it back at cleanup.
func setAside(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		saved := p + ".saved-by-packaging-test"
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Rename(p, saved); err != nil {
			t.Fatalf("set aside %s: %v", p, err)
		}
		t.Cleanup(func() {
			if err := os.RemoveAll(p); err != nil {
				t.Errorf("remove %s: %v", p, err)
			}
			if err := os.Rename(saved, p); err != nil {
				t.Errorf("restore %s: %v", p, err)
			}
		})
	}
}

func debInstalled(pkg string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", pkg).Output()
	return err == nil && string(out) != "not-installed" && len(out) > 0
}

// TestDebInstallAndPurge installs the .deb with dpkg, checks that
// Pacemaker finds exactly ocfbox's agents, and that a purge removes all
// of it.
func TestDebInstallAndPurge(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "dpkg-deb")
	testenv.RequireTool(t, "dpkg")
	crmResource := testenv.RequireTool(t, "crm_resource")
	testenv.LockOCFRoot(t)
	if debInstalled("ocfbox") {
		t.Fatalf("the ocfbox package is installed on this machine; this test installs and purges it, so it will not touch an installation it did not make (remove it with: dpkg --purge ocfbox)")
	}
	pkgs := makePackages(t, "deb")
	setAside(t, binary, providerDir, tmpfilesCfg)

	t.Cleanup(func() {
		if debInstalled("ocfbox") {
			if out, err := exec.Command("dpkg", "--purge", "ocfbox").CombinedOutput(); err != nil {
				t.Errorf("cleanup: dpkg --purge ocfbox: %v\n%s", err, out)
			}
		}
	})
	output(t, "dpkg", "-i", pkgs[".deb"])

	// The binary is static: no interpreter, no shared libraries.
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatalf("%s: %v", binary, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: it is dynamically linked", binary)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s needs shared libraries %q (%v)", binary, libs, err)
	}
	f.Close()

	agents := agentNames(t, binary)
	entries, err := os.ReadDir(providerDir)
	if err != nil {
		t.Fatal(err)
	}
	var links []string
	for _, e := range entries {
		links = append(links, e.Name())
		target, err := os.Readlink(filepath.Join(providerDir, e.Name()))
		if err != nil || target != binary {
			t.Errorf("%s/%s -> %q (%v), want a link to %s", providerDir, e.Name(), target, err, binary)
		}
	}
	if !slices.Equal(links, agents) {
		t.Errorf("%s holds %q, want the agents of ocfbox list %q", providerDir, links, agents)
	}

	listed := strings.Fields(output(t, crmResource, "--list-agents", "ocf:ocfbox"))
	slices.Sort(listed)
	if !slices.Equal(listed, agents) {
		t.Errorf("crm_resource --list-agents ocf:ocfbox: %q, want %q", listed, agents)
	}

	md := output(t, crmResource, "--show-metadata", "ocf:ocfbox:Dummy")
	var ra struct {
		XMLName xml.Name `xml:"resource-agent"`
		Name    string   `xml:"name,attr"`
		Actions []struct {
			Name string `xml:"name,attr"`
		} `xml:"actions>action"`
	}
	if err := xml.Unmarshal([]byte(md), &ra); err != nil || ra.Name != "Dummy" || len(ra.Actions) == 0 {
		t.Errorf("crm_resource --show-metadata ocf:ocfbox:Dummy: agent %q with %d actions (%v):\n%s", ra.Name, len(ra.Actions), err, md)
	}
	output(t, crmResource, "--validate", "--class", "ocf", "--provider", "ocfbox", "--agent", "Dummy")

	want, err := os.ReadFile(filepath.Join(repoRoot(t), "packaging", "tmpfiles.d", "ocfbox.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(tmpfilesCfg); err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s: %q (%v), want packaging/tmpfiles.d/ocfbox.conf", tmpfilesCfg, got, err)
	}
	if tmpfiles, err := exec.LookPath("systemd-tmpfiles"); err == nil {
		// What the postinst runs, into an empty root, to see it made.
		root := t.TempDir()
		output(t, tmpfiles, "--create", "--root="+root, tmpfilesCfg)
		fi, err := os.Stat(filepath.Join(root, "run/resource-agents"))
		if err != nil || !fi.IsDir() || fi.Mode()&(os.ModePerm|os.ModeSticky) != 0o755|os.ModeSticky {
			t.Errorf("systemd-tmpfiles with %s made %v (%v), want a directory with mode 1755", tmpfilesCfg, fi, err)
		}
	}

	output(t, "dpkg", "--purge", "ocfbox")
	if debInstalled("ocfbox") {
		t.Errorf("ocfbox is still installed after dpkg --purge")
	}
	for _, p := range []string{binary, providerDir, tmpfilesCfg} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after dpkg --purge, %s is still there (%v)", p, err)
		}
	}
	if out, err := exec.Command(crmResource, "--list-agents", "ocf:ocfbox").Output(); err == nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("after dpkg --purge, crm_resource --list-agents ocf:ocfbox still lists %q (%v)", out, err)
	}
}

// make deb rpm ARCH=arm64 packages the arm64 binary under each packaging
// system's name for the architecture, with the same files.
func TestPackagesForAnotherArchitecture(t *testing.T) {
	testenv.RequireTool(t, "dpkg-deb")
	testenv.RequireTool(t, "rpmbuild")
	testenv.RequireTool(t, "rpm")
	t.Setenv("ARCH", "arm64")
	pkgs := makePackages(t, "deb", "rpm")
	if got := strings.TrimSpace(output(t, "dpkg-deb", "--field", pkgs[".deb"], "Architecture")); got != "arm64" {
		t.Errorf(".deb Architecture: %q, want arm64", got)
	}
	if got := output(t, "rpm", "-qp", "--qf", "%{ARCH}", pkgs[".rpm"]); got != "aarch64" {
		t.Errorf(".rpm arch: %q, want aarch64", got)
	}
	dir := t.TempDir()
	tar := exec.Command("tar", "-x", "-C", dir, "."+binary)
	tar.Stdin = strings.NewReader(output(t, "dpkg-deb", "--fsys-tarfile", pkgs[".deb"]))
	if out, err := tar.CombinedOutput(); err != nil {
		t.Fatalf("extract %s from the .deb: %v\n%s", binary, err, out)
	}
	f, err := elf.Open(filepath.Join(dir, binary))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("the .deb's %s is for %v, want EM_AARCH64", binary, f.Machine)
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the .deb's %s needs shared libraries %q (%v), want none", binary, libs, err)
	}
	rpmList := strings.Fields(output(t, "rpm", "-qlp", pkgs[".rpm"]))
	if !slices.Contains(rpmList, binary) {
		t.Errorf(".rpm holds %q, want %s among them", rpmList, binary)
	}
}
