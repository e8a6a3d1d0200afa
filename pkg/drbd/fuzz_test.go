package drbd

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseEvents2 feeds arbitrary output to the parser: it must never
// panic, and whatever it accepts must summarise without panicking.
func FuzzParseEvents2(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.events2")
	more, _ := filepath.Glob("testdata/uml84/*/events2-*.out")
	for _, p := range append(files, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, "r0")
			f.Add(b, "some-resource")
		}
	}
	f.Add([]byte("exists -\n"), "r0")
	f.Add([]byte("change resource name:r0 role:Secondary->Primary\n"), "r0")
	f.Fuzz(func(t *testing.T, out []byte, name string) {
		st, err := ParseEvents2(out, name)
		if err != nil {
			return
		}
		_ = st.Summarize()
		_ = st.StandAlonePeers()
		_ = st.DisklessVolumes()
		_ = st.AllConnected()
		_ = st.Minors()
	})
}
