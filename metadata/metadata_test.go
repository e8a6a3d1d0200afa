package metadata

import (
	"bytes"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ocfbox/ocfbox/metadata/internal/specgen"
	"github.com/ocfbox/ocfbox/ocf"
)

// embedded lists the meta-data files built into the binary.
func embedded(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(files, "*.xml")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no meta-data is embedded")
	}
	return names
}

func TestGetReturnsTheFileOnDisk(t *testing.T) {
	for _, name := range embedded(t) {
		agent := strings.TrimSuffix(name, ".xml")
		onDisk, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := Get(agent); !bytes.Equal(got, onDisk) {
			t.Errorf("Get(%q) is not the content of %s", agent, name)
		}
	}
}

func TestEveryFileIsTheMetadataOfTheAgentItIsNamedAfter(t *testing.T) {
	for _, name := range embedded(t) {
		t.Run(name, func(t *testing.T) {
			md, err := ocf.ParseMetadata(Get(strings.TrimSuffix(name, ".xml")))
			if err != nil {
				t.Fatalf("%s does not parse: %v", name, err)
			}
			if want := strings.TrimSuffix(name, ".xml"); md.Name != want {
				t.Errorf(`%s declares <resource-agent name=%q>, want %q`, name, md.Name, want)
			}
			if md.ShortDesc == "" {
				t.Errorf("%s has no shortdesc (ocfbox list shows it)", name)
			}
			// ocf-tester validates against ra-api-1.dtd only when the
			// meta-data names it.
			if !bytes.Contains(Get(md.Name), []byte(`<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">`)) {
				t.Errorf("%s has no DOCTYPE naming ra-api-1.dtd", name)
			}
		})
	}
}

func TestGetOfAnUnknownAgentPanicsNamingIt(t *testing.T) {
	for _, agent := range []string{"NoSuchAgent", "", "../metadata", "Dummy.xml"} {
		t.Run(agent, func(t *testing.T) {
			defer func() {
				p := recover()
				if p == nil {
					t.Fatalf("Get(%q) returned; want a panic, since an agent without meta-data is a build mistake", agent)
				}
				if msg, _ := p.(string); !strings.Contains(msg, `"`+agent+`"`) {
					t.Errorf("Get(%q) panicked with %v, want a message naming the agent", agent, p)
				}
			}()
			Get(agent)
		})
	}
}

func TestGeneratedFileMatchesTheXMLFiles(t *testing.T) {
	want, err := specgen.Render(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(specgen.File)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the *.xml files give: run go generate ./metadata", specgen.File)
	}
}

func TestSpecIsTheFileParsed(t *testing.T) {
	for _, name := range embedded(t) {
		agent := strings.TrimSuffix(name, ".xml")
		t.Run(agent, func(t *testing.T) {
			onDisk, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := ocf.ParseMetadata(onDisk)
			if err != nil {
				t.Fatal(err)
			}
			spec := Spec(agent)
			if spec == nil {
				t.Fatalf("Spec(%q) is nil: run go generate ./metadata", agent)
			}
			if spec.Name != parsed.Name || spec.Version != parsed.Version || spec.ShortDesc != parsed.ShortDesc ||
				!reflect.DeepEqual(spec.Parameters, parsed.Parameters) || !reflect.DeepEqual(spec.Actions, parsed.Actions) {
				t.Errorf("Spec(%q) = %+v\nparsing %s gives %+v", agent, *spec, name, *parsed)
			}
			// What Main prints for meta-data is the file, from the spec too.
			def := ocf.Definition{Name: agent, Metadata: Get(agent), Spec: spec}
			md, err := def.ParsedMetadata()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := md.XML(&ocf.Env{}), parsed.XML(&ocf.Env{}); !bytes.Equal(got, want) {
				t.Errorf("the meta-data XML from the spec differs from the file's")
			}
		})
	}
}

func TestSpecOfAnAgentWithoutAFileIsNil(t *testing.T) {
	if md := Spec("NoSuchAgent"); md != nil {
		t.Errorf("Spec(NoSuchAgent) = %+v, want nil", md)
	}
}
