package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/ocfbox/ocfbox/internal/fencelab"
)

// lab is a Target whose nodes are flags.
type lab struct {
	mu  sync.Mutex
	on  map[string]bool
	log []string
}

func (l *lab) Names() []string { return []string{"n1", "n2"} }
func (l *lab) PowerOff(_ context.Context, n string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on[n] = false
	l.log = append(l.log, "off "+n)
	return nil
}
func (l *lab) PowerOn(_ context.Context, n string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n == "n2" {
		return errors.New("n2 has no power switch")
	}
	l.on[n] = true
	l.log = append(l.log, "on "+n)
	return nil
}
func (l *lab) IsOn(n string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.on[n], nil
}

func serve(t *testing.T, rebootOn bool) (*lab, *fencelab.Service, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{on: map[string]bool{"n1": true, "n2": true}}
	svc := fencelab.Serve(ln, l, fencelab.Options{RebootPowersOn: rebootOn})
	t.Cleanup(svc.Close)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return l, svc, port
}

// agent runs the agent as pacemaker-fenced does: key=value lines on stdin.
func agent(port string, lines ...string) (int, string, string) {
	in := "ipaddr=127.0.0.1\nipport=" + port + "\n" + strings.Join(lines, "\n") + "\n"
	var out, errOut bytes.Buffer
	rc := run(strings.NewReader(in), &out, &errOut, nil)
	return rc, out.String(), errOut.String()
}

func TestMetadataListsTheFenceActions(t *testing.T) {
	var out bytes.Buffer
	if rc := run(strings.NewReader("action=metadata\n"), &out, &bytes.Buffer{}, nil); rc != 0 {
		t.Fatalf("metadata: exit %d", rc)
	}
	var md struct {
		Name   string `xml:"name,attr"`
		Params []struct {
			Name string `xml:"name,attr"`
		} `xml:"parameters>parameter"`
		Actions []struct {
			Name string `xml:"name,attr"`
		} `xml:"actions>action"`
	}
	if err := xml.Unmarshal(out.Bytes(), &md); err != nil {
		t.Fatalf("metadata is not XML: %v", err)
	}
	got := fmt.Sprint(md.Actions)
	for _, a := range []string{"on", "off", "reboot", "status", "list", "monitor", "metadata"} {
		if !strings.Contains(got, "{"+a+"}") {
			t.Errorf("metadata lacks action %s: %s", a, got)
		}
	}
	if md.Name != "fence_ocfbox" || !strings.Contains(fmt.Sprint(md.Params), "{plug}") {
		t.Errorf("metadata name %q, parameters %v", md.Name, md.Params)
	}
}

func TestOffCutsTheNamedNodeAndStatusSaysOff(t *testing.T) {
	l, svc, port := serve(t, false)
	if rc, _, errOut := agent(port, "action=off", "port=n2", "nodename=n2"); rc != 0 {
		t.Fatalf("off n2: exit %d: %s", rc, errOut)
	}
	if rc, out, _ := agent(port, "action=status", "plug=n2"); rc != 2 || !strings.Contains(out, "OFF") {
		t.Errorf("status of n2 after off: exit %d %q, want 2 and OFF", rc, out)
	}
	if rc, _, _ := agent(port, "action=status", "plug=n1"); rc != 0 {
		t.Errorf("status of n1: exit %d, want 0 (on)", rc)
	}
	if fmt.Sprint(l.log) != "[off n2]" {
		t.Errorf("the lab did %v, want [off n2]", l.log)
	}
	if ev := svc.Events(); len(ev) != 1 || ev[0].Node != "n2" || ev[0].Action != "off" {
		t.Errorf("events %v", ev)
	}
}

func TestRebootPowersOnOnlyWhenTheLabSaysSo(t *testing.T) {
	l, _, port := serve(t, false)
	if rc, _, errOut := agent(port, "action=reboot", "port=n1"); rc != 0 {
		t.Fatalf("reboot n1: exit %d: %s", rc, errOut)
	}
	if fmt.Sprint(l.log) != "[off n1]" {
		t.Errorf("reboot without RebootPowersOn did %v, want [off n1]", l.log)
	}
	l2, _, port2 := serve(t, true)
	if rc, _, errOut := agent(port2, "action=reboot", "port=n1"); rc != 0 {
		t.Fatalf("reboot n1: exit %d: %s", rc, errOut)
	}
	if fmt.Sprint(l2.log) != "[off n1 on n1]" {
		t.Errorf("reboot with RebootPowersOn did %v, want [off n1 on n1]", l2.log)
	}
}

func TestFailuresExitOneWithTheReason(t *testing.T) {
	_, _, port := serve(t, false)
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"action=off", "port=n9"}, `unknown node "n9"`},
		{[]string{"action=on", "port=n2"}, "n2 has no power switch"},
		{[]string{"action=off"}, "needs plug"},
		{[]string{"action=dance", "port=n1"}, "unknown action"},
	} {
		rc, _, errOut := agent(port, tc.lines...)
		if rc != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.lines, rc, errOut, tc.want)
		}
	}
	var errOut bytes.Buffer
	if rc := run(strings.NewReader("action=off\nport=n1\nipaddr=127.0.0.1\nipport=1\n"), &bytes.Buffer{}, &errOut, nil); rc != 1 {
		t.Errorf("off with nobody listening: exit %d (%s), want 1", rc, errOut.String())
	}
}

func TestListAndMonitor(t *testing.T) {
	_, _, port := serve(t, false)
	if rc, out, _ := agent(port, "action=list"); rc != 0 || out != "n1,\nn2,\n" {
		t.Errorf("list: exit %d %q", rc, out)
	}
	if rc, _, errOut := agent(port, "action=monitor"); rc != 0 {
		t.Errorf("monitor: exit %d %s", rc, errOut)
	}
}
