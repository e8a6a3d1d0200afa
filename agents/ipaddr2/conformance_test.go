package ipaddr2_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

// ocf-tester, resource-agents' own conformance check, passes inside a
// network namespace (run through ip netns exec, as an operator would).
func TestOCFTester(t *testing.T) {
	tester := testenv.RequireTool(t, "ocf-tester")
	tests := []struct {
		name   string
		params []string
	}{
		{"IPv4 with nic", []string{"ip=192.0.2.10", "nic=va"}},
		{"IPv4 from the routing table", []string{"ip=192.0.2.10"}},
		{"IPv6", []string{"ip=2001:db8::10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			args := []string{"netns", "exec", l.ns.Name, tester, "-n", "vip"}
			for _, p := range tt.params {
				args = append(args, "-o", p)
			}
			args = append(args, ocfbox(t))
			cmd := exec.Command("ip", args...)
			cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP=" + l.rsctmp}
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "passed all tests") {
				t.Fatalf("ocf-tester %v: %v\n%s", tt.params, err, out)
			}
			if w := l.where(t, strings.TrimPrefix(tt.params[0], "ip=")); w != "" {
				t.Errorf("after ocf-tester the address is still %s", w)
			}
		})
	}
}
