package virtualdomain_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

// fakeCRMResource is the test binary run as crm_resource: it appends its
// arguments to $CRM_CALLS and then becomes the real crm_resource, which
// works on the CIB file named by CIB_file. So the test sees every call
// and the CIB sees real updates.
func fakeCRMResource(args []string) int {
	if log := os.Getenv("CRM_CALLS"); log != "" {
		if f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintln(f, strings.Join(args, " "))
			f.Close()
		}
	}
	real := os.Getenv("CRM_REAL")
	if err := syscall.Exec(real, append([]string{real}, args...), os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "fake crm_resource: exec %s: %v\n", real, err)
	}
	return 127
}

// cib is a CIB file with one VirtualDomain primitive, and a crm_resource
// on PATH that records its calls before running the real one on it.
type cib struct {
	file, calls string
}

func newCIB(t *testing.T, instance string) *cib {
	t.Helper()
	real := testenv.RequireTool(t, "crm_resource")
	dir := t.TempDir()
	c := &cib{file: filepath.Join(dir, "cib.xml"), calls: filepath.Join(dir, "calls")}
	xml := fmt.Sprintf(`<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration><crm_config/><nodes/><resources>
    <primitive id=%q class="ocf" provider="ocfbox" type="VirtualDomain"/>
  </resources><constraints/></configuration><status/></cib>
`, instance)
	if err := os.WriteFile(c.file, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	testenv.InstallSelf(t, filepath.Join(bin, "crm_resource"))
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("CRM_REAL", real)
	t.Setenv("CRM_CALLS", c.calls)
	t.Setenv("CIB_file", c.file)
	return c
}

// takeCalls returns the crm_resource calls so far and forgets them.
func (c *cib) takeCalls(t *testing.T) []string {
	t.Helper()
	data, _ := os.ReadFile(c.calls)
	os.Remove(c.calls)
	s := strings.TrimSpace(string(data))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// utilization reads a utilization attribute from the CIB with the real
// crm_resource.
func (c *cib) utilization(t *testing.T, instance, attr string) string {
	t.Helper()
	cmd := exec.Command(os.Getenv("CRM_REAL"), "-Q", "-r", instance, "-z", "-g", attr)
	cmd.Env = append(os.Environ(), "CIB_file="+c.file)
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}
