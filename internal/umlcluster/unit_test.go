package umlcluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ocfbox/ocfbox/internal/testenv"
)

func TestSummaryIsMedianAndRange(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		in   []time.Duration
		want string
	}{
		{nil, "no samples"},
		{[]time.Duration{30 * ms, 10 * ms, 20 * ms}, "median 20.0 ms (10.0–30.0, n=3)"},
		{[]time.Duration{40 * ms, 10 * ms, 20 * ms, 30 * ms}, "median 25.0 ms (10.0–40.0, n=4)"},
	} {
		if got := Summary(tc.in); got != tc.want {
			t.Errorf("Summary(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIOProbeOutputParses(t *testing.T) {
	ops, err := parseIOOps([]byte("1000000000 1500000000 -\n2000000000 9000000000 \"input/output error\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[0].Duration() != 500*time.Millisecond || ops[0].Err != "" ||
		ops[1].Duration() != 7*time.Second || !strings.Contains(ops[1].Err, "input/output") {
		t.Errorf("parsed %+v", ops)
	}
	if _, err := parseIOOps([]byte("x y -\n")); err == nil {
		t.Error("a line that is not two times parsed without error")
	}
}

func TestCIBElementsEscapeValues(t *testing.T) {
	p := Primitive("p1", "ocf:ocfbox:Filesystem", map[string]string{"directory": `/mnt/a"b<c`},
		Op{Name: "monitor", Interval: "10s", Timeout: "20s", Role: "Promoted"}, Op{Name: "start", Timeout: "60s"})
	doc := etree.NewDocument()
	if err := doc.ReadFromString(Clone("c1", map[string]string{"promotable": "true"}, p)); err != nil {
		t.Fatalf("clone XML does not parse: %v", err)
	}
	prim := doc.FindElement("//primitive")
	if prim.SelectAttrValue("class", "") != "ocf" || prim.SelectAttrValue("provider", "") != "ocfbox" || prim.SelectAttrValue("type", "") != "Filesystem" {
		t.Errorf("agent attributes: %v", prim.Attr)
	}
	if v := doc.FindElement("//nvpair[@name='directory']").SelectAttrValue("value", ""); v != `/mnt/a"b<c` {
		t.Errorf("directory read back as %q", v)
	}
	if ops := doc.FindElements("//op"); len(ops) != 2 || ops[0].SelectAttrValue("role", "") != "Promoted" || ops[1].SelectAttrValue("interval", "") != "0s" {
		t.Errorf("ops: %d", len(ops))
	}
	if s := Primitive("f", "stonith:fence_ocfbox", nil); !strings.Contains(s, `class="stonith"`) || strings.Contains(s, "provider") {
		t.Errorf("stonith primitive %s", s)
	}
}

// The seed CIB a scenario builds passes crm_verify, with the fence device.
func TestSeedCIBVerifies(t *testing.T) {
	testenv.RequireTool(t, "crm_verify")
	testenv.RequireTool(t, "cibadmin")
	c := &Cluster{cfg: Config{
		Nodes: 2, Dir: t.TempDir(),
		Properties:  map[string]string{"no-quorum-policy": "ignore"},
		RscDefaults: map[string]string{"resource-stickiness": "100"},
		OpDefaults:  map[string]string{"timeout": "90s"},
		Resources: []string{Clone("ms", map[string]string{"promotable": "true", "notify": "true"},
			Primitive("p_drbd", "ocf:linbit:drbd", map[string]string{"drbd_resource": "r0"}))},
		Constraints: []string{Location("loc", "ms", "uml2", "100")},
	}}
	c.fence = &fenceService{c: c}
	if err := c.writeCIB(t.Context()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(c.cfg.Dir, "cib-seed.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`name="stonith-enabled" value="true"`, `type="fence_ocfbox"`, `value="uml1 1 uml2 2"`, `value="uml1:uml1;1:uml1;uml2:uml2;2:uml2"`,
		`name="no-quorum-policy" value="ignore"`, `name="timeout" value="90s"`, `id="loc"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("seed CIB lacks %s", want)
		}
	}
	// A broken constraint is refused before any node boots.
	c.cfg.Constraints = []string{Order("o", "nonexistent", "start", "ms", "start")}
	if err := c.writeCIB(t.Context()); err == nil {
		t.Error("a CIB ordering a resource that does not exist verified")
	}
}

// crm_mon --output-as=xml of Pacemaker 2.1.5 (a lab cluster's, trimmed).
const crmMonXML = `<pacemaker-result api-version="2.25" request="crm_mon --one-shot --inactive --output-as=xml">
  <nodes>
    <node name="uml1" id="1" online="true" standby="false" pending="false" unclean="false" is_dc="false" type="member"/>
    <node name="uml2" id="2" online="false" standby="false" pending="false" unclean="true" is_dc="false" type="member"/>
    <node name="uml3" id="3" online="true" standby="false" pending="false" unclean="false" is_dc="true" type="member"/>
  </nodes>
  <resources>
    <resource id="fence-lab" resource_agent="stonith:fence_ocfbox" role="Started" active="true" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
      <node name="uml1" id="1" cached="true"/>
    </resource>
    <clone id="ms_drbd_r0" multi_state="true" unique="false" managed="true" disabled="false" failed="false" failure_ignored="false">
      <resource id="p_drbd_r0" resource_agent="ocf:linbit:drbd" role="Promoted" active="true" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="uml3" id="3" cached="true"/>
      </resource>
      <resource id="p_drbd_r0" resource_agent="ocf:linbit:drbd" role="Slave" active="true" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="uml1" id="1" cached="true"/>
      </resource>
    </clone>
    <resource id="p_x" resource_agent="ocf:heartbeat:Filesystem" role="Started" active="true" orphaned="false" blocked="false" managed="true" failed="true" failure_ignored="false" nodes_running_on="1">
      <node name="uml1" id="1" cached="true"/>
    </resource>
    <group id="g" number_resources="1" managed="true" disabled="false">
      <resource id="p_fs" resource_agent="ocf:heartbeat:Filesystem" role="Starting" active="true" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="uml3" id="3" cached="true"/>
      </resource>
    </group>
  </resources>
  <failures>
    <failure op_key="p_drbd_r0_monitor_11000" node="uml1" exitstatus="error" exitreason="Resource agent did not complete within 20s" exitcode="1" call="21" status="Timed Out" last-rc-change="2026-12-04 15:36:01Z" queued="0" exec="20103" interval="11000" task="monitor"/>
  </failures>
  <status code="0" message="OK"/>
</pacemaker-result>`

func TestParseStatusReadsNodesRolesAndFailures(t *testing.T) {
	s, err := ParseStatus([]byte(crmMonXML))
	if err != nil {
		t.Fatal(err)
	}
	if !s.IsOnline("uml1") || s.IsOnline("uml2") || !s.IsOnline("uml3") {
		t.Errorf("online %v, offline %v", s.Online, s.Offline)
	}
	for _, tc := range []struct{ got, want []string }{
		{s.InRole("p_drbd_r0", "Promoted"), []string{"uml3"}},
		{s.InRole("p_drbd_r0", "Unpromoted"), []string{"uml1"}}, // "Slave" read as Unpromoted
		{s.RunningOn("p_drbd_r0"), []string{"uml1", "uml3"}},
		{s.RunningOn("p_fs"), []string{"uml3"}},
		{s.InRole("p_fs", "Started"), nil}, // still starting
		{s.InRole("fence-lab", "Started"), []string{"uml1"}},
		{s.InRole("p_x", "Started"), nil}, // failed there
	} {
		if strings.Join(tc.got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("got %v, want %v", tc.got, tc.want)
		}
	}
	if len(s.Failures) != 1 || !strings.Contains(s.Failures[0], "p_drbd_r0_monitor_11000 on uml1") {
		t.Errorf("failures %v", s.Failures)
	}
	if _, err := ParseStatus([]byte("Could not connect to the CIB")); err == nil {
		t.Error("text that is not XML parsed")
	}
}
