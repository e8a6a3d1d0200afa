package ipaddr2_test

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/ocf"
)

// When the route to the address's subnet moves to another interface while
// the address is up, the address is still on the interface start put it
// on: a probe or monitor that answered "not running" (looking only where
// the route now goes) would have Pacemaker start it on a second node while
// this one still answers for it, and a stop must remove it from there.
func TestRouteMovedToAnotherInterface(t *testing.T) {
	l := newLab(t)
	agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10"}
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "192.0.2.10/24 on va" {
		t.Fatalf("after start: %q, want 192.0.2.10/24 on va", w)
	}
	// The subnet's route now goes through vc; va keeps its addresses.
	l.ns.Veth(t, "vc", l.peer, "vd")
	l.ip(t, "link set vc up")
	l.ip(t, "route del 192.0.2.0/24 dev va")
	l.ip(t, "addr add 192.0.2.2/24 dev vc")
	for _, c := range []call{
		{action: "monitor", params: p},
		{action: "monitor", params: p, interval: recurring},
	} {
		o := l.expect(t, agent, c, ocf.ErrGeneric)
		if !strings.Contains(o.reason, "va") || !strings.Contains(o.reason, "vc") {
			t.Errorf("monitor (interval %s): exit reason %q names not both va and vc", c.interval, o.reason)
		}
	}
	l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "" {
		t.Fatalf("stop left %s", w)
	}
	l.expect(t, agent, call{action: "monitor", params: p}, ocf.NotRunning)
}

// A stop whose parameters are invalid (the operator changed them while the
// address was up) reports success only after removing the address from
// where start recorded it.
func TestStopWithInvalidParametersRemovesTheRecordedAddress(t *testing.T) {
	for name, bad := range map[string]map[string]string{
		"parameter that does not bind":     {"ip": "192.0.2.10", "arp_count": "many"},
		"parameter the agent refuses":      {"ip": "192.0.2.10", "cidr_netmask": "33"},
		"address changed to another value": {"ip": "not-an-address"},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLab(t)
			agent, p := ocfbox(t), map[string]string{"ip": "192.0.2.10"}
			l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
			l.expect(t, agent, call{action: "stop", params: bad}, ocf.Success)
			if w := l.where(t, "192.0.2.10"); w != "" {
				t.Fatalf("stop with %v reported success and left %s", bad, w)
			}
			// Nothing recorded any more: a second stop has nothing to do.
			l.expect(t, agent, call{action: "stop", params: bad}, ocf.Success)
		})
	}
}

// The agent SIGKILLed in the middle of a start (pacemaker-execd at the
// timeout), here while it announces the address in the foreground: the
// address is up and recorded, so the next probe reports it running and
// the stop removes it; a new start adds it once.
func TestAgentKilledInTheMiddleOfStart(t *testing.T) {
	l := newLab(t)
	agent := ocfbox(t)
	p := map[string]string{"ip": "192.0.2.10", "arp_bg": "false", "arp_count": "40", "arp_interval": "100"}
	cmd := exec.Command(agent, "start")
	cmd.Env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf",
		"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=vip", "OCF_RESOURCE_TYPE=IPaddr2",
		"HA_RSCTMP=" + l.rsctmp, "OCF_RESKEY_CRM_meta_timeout=20000",
	}
	for k, v := range p {
		cmd.Env = append(cmd.Env, "OCF_RESKEY_"+k+"="+v)
	}
	if err := l.ns.Start(cmd); err != nil {
		t.Fatal(err)
	}
	// Wait until the address is up (start then announces for 4 s).
	for i := 0; l.where(t, "192.0.2.10") == "" && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("start was not killed in the middle (it returned %v): make it announce longer", err)
	}
	if w := l.where(t, "192.0.2.10"); w != "192.0.2.10/24 on va" {
		t.Fatalf("after the killed start: %q", w)
	}
	l.expect(t, agent, call{action: "monitor", params: p}, ocf.Success)
	l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "" {
		t.Fatalf("stop after a killed start left %s", w)
	}
	l.expect(t, agent, call{action: "monitor", params: p}, ocf.NotRunning)
	p["arp_count"] = "1"
	l.expect(t, agent, call{action: "start", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "192.0.2.10/24 on va" {
		t.Fatalf("start after that: %q, want the address once", w)
	}
	l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
}

// A start whose timeout is shorter than its announcements take returns
// before pacemaker-execd would kill it, and leaves a state the next probe
// and stop handle: the address is up, the stop removes it.
func TestStartWithADeadlineTooShort(t *testing.T) {
	l := newLab(t)
	agent := ocfbox(t)
	p := map[string]string{"ip": "192.0.2.10", "arp_bg": "false", "arp_count": "40", "arp_interval": "100"}
	began := time.Now()
	o := l.run(t, agent, call{action: "start", params: p, meta: map[string]string{"timeout": "1000"}})
	if took := time.Since(began); took >= time.Second {
		t.Fatalf("start with a 1 s timeout returned after %s: pacemaker-execd would have killed it", took)
	}
	if o.status != ocf.Success && o.status != ocf.ErrGeneric {
		t.Fatalf("start with a deadline too short: %s", o)
	}
	l.expect(t, agent, call{action: "monitor", params: p}, ocf.Success)
	l.expect(t, agent, call{action: "stop", params: p}, ocf.Success)
	if w := l.where(t, "192.0.2.10"); w != "" {
		t.Fatalf("stop left %s", w)
	}
}
