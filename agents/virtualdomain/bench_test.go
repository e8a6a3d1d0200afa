package virtualdomain_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/internal/measure"
	"github.com/ocfbox/ocfbox/internal/testenv"
	"github.com/ocfbox/ocfbox/ocf"
)

// Measurements, not tests: run with
//
//	go test -run '^$' -bench . -benchtime 20x ./agents/virtualdomain/
//
// Each iteration runs every side once, alternating, against the same
// private libvirtd, each side with its own running guest; the numbers
// are medians. Programs executed are counted once per side with strace
// (successful execve calls, the agent's own not counted).

type benchSide struct {
	name  string
	agent string
	party *party
}

// benchSides are the reference agent, the static ocfbox and, when it can
// be built here, ocfbox-cgo.
func benchSides(b *testing.B, lv *libvirttest.Daemon) []*benchSide {
	testenv.RequireFile(b, referenceAgent)
	sides := []*benchSide{{name: "reference", agent: referenceAgent}, {name: "ocfbox", agent: agentLink(b)}}
	out := filepath.Join(b.TempDir(), "ocfbox-cgo")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "libvirt_cgo,libvirt_dlopen,netgo,osusergo", "-o", out, ".")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if msg, err := cmd.CombinedOutput(); err == nil {
		sides = append(sides, &benchSide{name: "ocfbox-cgo", agent: installAs(b, out, "VirtualDomain")})
	} else {
		b.Logf("ocfbox-cgo not measured: %v\n%s", err, msg)
	}
	return sides
}

func newBenchParty(b *testing.B, lv *libvirttest.Daemon, s *benchSide, extra ...string) *party {
	dir := b.TempDir()
	os.Chmod(dir, 0o755)
	p := &party{t: b, lv: lv, side: s.name, agent: s.agent, dir: dir, name: "vdb-" + s.name}
	p.config = filepath.Join(dir, p.name+".xml")
	os.WriteFile(p.config, []byte(libvirttest.GuestXML(p.name, "")), 0o644)
	p.params = with(map[string]string{"config": p.config, "hypervisor": lv.URI()}, extra...)
	return p
}

// execs counts the programs one action runs (internal/measure's strace
// trace), the agent's own not counted; -1 without strace.
func execs(b *testing.B, p *party, action string, meta ...string) int {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return -1
	}
	trace := filepath.Join(b.TempDir(), "trace")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append(measure.StraceArgv(strace, trace), p.agent, action)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = partyEnv(p, 30000, meta...)
	cmd.Dir = p.dir
	if err := cmd.Start(); err != nil {
		b.Fatalf("%s: %v", strace, err)
	}
	t, err := measure.WaitTrace(ctx, cmd, trace, time.Second)
	if err != nil {
		b.Fatalf("trace %s %s: %v", p.agent, action, err)
	}
	return len(t.Programs) - 1
}

// BenchmarkMonitor: a recurring monitor of a running guest, utilization
// attributes on (the default) against a CIB file.
func BenchmarkMonitor(b *testing.B) {
	lv := libvirttest.Start(b)
	cibFile := filepath.Join(b.TempDir(), "cib.xml")
	var prims strings.Builder
	sides := benchSides(b, lv)
	for _, s := range sides {
		fmt.Fprintf(&prims, `<primitive id="vm-%s" class="ocf" provider="heartbeat" type="VirtualDomain"/>`, s.name)
	}
	os.WriteFile(cibFile, []byte(`<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes/><resources>`+
		prims.String()+`</resources><constraints/></configuration><status/></cib>`), 0o644)
	b.Setenv("CIB_file", cibFile)
	for _, s := range sides {
		s.party = newBenchParty(b, lv, s)
		if res := s.party.act("start", 90000); res.status != ocf.Success {
			b.Fatalf("start %s: %s %s", s.name, res.status, res.stderr)
		}
		defer s.party.destroyLeftover()
		s.party.monitor() // the first monitor writes the utilization
	}
	times := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range sides {
			res := s.party.monitor()
			if res.status != ocf.Success {
				b.Fatalf("monitor %s: %s %s", s.name, res.status, res.stderr)
			}
			times[s.name] = append(times[s.name], res.took)
		}
	}
	b.StopTimer()
	for _, s := range sides {
		m := measure.Median(times[s.name])
		b.ReportMetric(float64(m.Microseconds())/1000, s.name+"-ms")
		b.ReportMetric(float64(execs(b, s.party, "monitor", "interval=10000")), s.name+"-execs")
		b.Logf("%-10s monitor median %v over %d runs", s.name, m, len(times[s.name]))
	}
}

// BenchmarkStartStop: start of a transient guest, then a stop with
// force_stop (destroy), alternating between the sides.
func BenchmarkStartStop(b *testing.B) {
	lv := libvirttest.Start(b)
	sides := benchSides(b, lv)
	starts, stops := map[string][]time.Duration{}, map[string][]time.Duration{}
	for _, s := range sides {
		s.party = newBenchParty(b, lv, s, "force_stop", "1", "autoset_utilization_cpu", "false",
			"autoset_utilization_host_memory", "false", "autoset_utilization_hv_memory", "false")
		defer s.party.destroyLeftover()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range sides {
			res := s.party.act("start", 90000)
			if res.status != ocf.Success {
				b.Fatalf("start %s: %s %s", s.name, res.status, res.stderr)
			}
			starts[s.name] = append(starts[s.name], res.took)
			res = s.party.act("stop", 90000)
			if res.status != ocf.Success {
				b.Fatalf("stop %s: %s %s", s.name, res.status, res.stderr)
			}
			stops[s.name] = append(stops[s.name], res.took)
		}
	}
	b.StopTimer()
	for _, s := range sides {
		b.ReportMetric(float64(measure.Median(starts[s.name]).Milliseconds()), s.name+"-start-ms")
		b.ReportMetric(float64(measure.Median(stops[s.name]).Milliseconds()), s.name+"-stop-ms")
	}
}
