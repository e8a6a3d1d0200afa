package virtualdomain

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"

	"github.com/ocfbox/ocfbox/ocf"
)

// record is what the agent remembers about its guest on this node, in
// the state directory (a tmpfs emptied at boot): which domain it started
// (so stop and probe still know it when the config file has become
// unreadable), the emulator (for the process check while libvirtd is
// down) and the utilization values it last wrote (so a steady monitor
// runs no crm_resource at all).
type record struct {
	Domain   string `json:"domain,omitempty"`
	UUID     string `json:"uuid,omitempty"`
	URI      string `json:"uri,omitempty"`
	Emulator string `json:"emulator,omitempty"`
	// Utilization maps an attribute to the value last written, or to ""
	// when the agent removed it. An attribute not in the map has not
	// been checked since the guest was started here.
	Utilization map[string]string `json:"utilization,omitempty"`
}

func recordPath(env *ocf.Env) string { return env.StatePath(".state") }

// loadRecord reads the record; a missing or unreadable one is empty.
func loadRecord(env *ocf.Env) record {
	var rec record
	data, err := os.ReadFile(recordPath(env))
	if err == nil {
		json.Unmarshal(data, &rec)
	}
	return rec
}

// saveRecord writes the record when it differs from old, atomically.
func saveRecord(env *ocf.Env, old, rec record) error {
	if reflect.DeepEqual(old, rec) {
		return nil
	}
	path := recordPath(env)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func removeRecord(env *ocf.Env) error {
	err := os.Remove(recordPath(env))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
