package ocf_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/ocf"
)

// The environment is outside input: whatever Pacemaker, crm_resource or
// an operator's shell passes, ReadEnv must not panic, and what it derives
// must stay coherent.
func FuzzReadEnv(f *testing.F) {
	f.Add("OCF_RESOURCE_INSTANCE=vip\nOCF_RESKEY_CRM_meta_interval=10000\nOCF_RESKEY_CRM_meta_timeout=20000\nOCF_RESKEY_ip=192.0.2.10", "monitor")
	f.Add("OCF_RESKEY_CRM_meta_clone_max=3\nOCF_RESKEY_CRM_meta_promotable=true\nOCF_RESKEY_CRM_meta_notify_start_uname= \nOCF_RESKEY_crm_feature_set=3.16.1", "notify")
	f.Add("OCF_RA_VERSION_MAJOR=\nHA_LOGFACILITY=none\nHA_debug=yes\nOCF_CHECK_LEVEL=10", "meta-data")
	f.Add("OCF_RESKEY_CRM_meta_interval=-5\nOCF_RESKEY_CRM_meta_timeout=99999999999999999999\n=\n==\nOCF_RESKEY_=x", "")
	f.Fuzz(func(t *testing.T, environ, action string) {
		e := ocf.ReadEnv(strings.Split(environ, "\n"), "Tester", action)
		if e.Action != action || e.Type == "" && !strings.Contains(environ, "OCF_RESOURCE_TYPE=") {
			t.Fatalf("action %q type %q from %q", e.Action, e.Type, environ)
		}
		if e.IsProbe() != (action == "monitor" && e.Interval == 0) {
			t.Fatalf("IsProbe %v with action %q interval %v", e.IsProbe(), action, e.Interval)
		}
		for k := range e.Params {
			if strings.HasPrefix(k, "CRM_meta_") {
				t.Fatalf("meta attribute %s among the parameters", k)
			}
		}
		e.FeatureSetAtLeast("3.10.0")
		e.StatePath(".state")
	})
}

// Parameter values are outside input: Bind accepts a value only when its
// typed accessor reads it back as that type, and never panics.
func FuzzBind(f *testing.F) {
	for _, seed := range [][2]string{
		{"count", "3"}, {"count", " 7 "}, {"count", "many"}, {"count", "99999999999999999999"},
		{"enabled", "yes"}, {"enabled", "Yes"}, {"enabled", "maybe"}, {"enabled", "ON"},
		{"wait", "20s"}, {"wait", "1m30s"}, {"wait", "-5"}, {"wait", "NaN"}, {"wait", "5 fortnights"},
		{"mode", "fast"}, {"mode", "FAST"}, {"name", ""}, {"state", "${HA_RSCTMP}/x"},
	} {
		f.Add(seed[0], seed[1], "start")
		f.Add(seed[0], seed[1], "monitor")
	}
	md, err := ocf.ParseMetadata(testerXML)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, value, action string) {
		env := ocf.ReadEnv([]string{"OCF_RESOURCE_INSTANCE=rsc"}, "Tester", action)
		raw := map[string]string{"name": "n", name: value}
		p, err := md.Bind(raw, env)
		if err != nil {
			if s := ocf.StatusOf(err); s != ocf.ErrConfigured {
				t.Fatalf("Bind error %v has status %v, want OCF_ERR_CONFIGURED", err, s)
			}
			return
		}
		for _, spec := range md.Parameters {
			switch spec.Type {
			case "integer":
				if _, err := strconv.Atoi(strings.TrimSpace(p.String(spec.Name))); err != nil {
					t.Fatalf("integer %s bound as %q", spec.Name, p.String(spec.Name))
				}
			case "time":
				if p.Duration(spec.Name) < 0 {
					t.Fatalf("time %s bound as negative %v", spec.Name, p.Duration(spec.Name))
				}
			case "boolean":
				if p.Bool(spec.Name) != ocf.IsTrue(p.String(spec.Name)) {
					t.Fatalf("boolean %s=%q reads %v", spec.Name, p.String(spec.Name), p.Bool(spec.Name))
				}
			}
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"20s", "20", "1m30s", "100ms", "0", "-1", "1e9", "NaN", "Inf", "5 fortnights", "1h1h", " 3 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ocf.ParseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
	})
}

// Meta-data is ours, but crm_resource and the tests parse others' too.
func FuzzParseMetadata(f *testing.F) {
	f.Add(string(testerXML))
	f.Add(`<resource-agent name="x"><actions><action name="start" timeout="soon"/></actions></resource-agent>`)
	f.Fuzz(func(t *testing.T, xml string) {
		md, err := ocf.ParseMetadata([]byte(xml))
		if err != nil {
			return
		}
		md.Usage()
		md.XML(ocf.ReadEnv(nil, md.Name, "meta-data"))
	})
}
