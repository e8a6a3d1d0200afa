package drbd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"sync"
)

// ProcDRBD is where the loaded module says its version.
const ProcDRBD = "/proc/drbd"

// Version is a DRBD version as drbd-utils codes it: major<<16|minor<<8|sub
// (0x08040b is 8.4.11).
type Version int

// ParseVersion reads "x.y.z" (anything after z is ignored).
func ParseVersion(s string) (Version, error) {
	m := versionRE().FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("version %q is not x.y.z", s)
	}
	var v [3]int
	for i := range v {
		n, err := strconv.Atoi(m[i+1])
		if err != nil || n > 255 {
			return 0, fmt.Errorf("version %q is not x.y.z", s)
		}
		v[i] = n
	}
	return Version(v[0]<<16 | v[1]<<8 | v[2]), nil
}

// Compiled on first use, not at the start of every invocation of the
// binary, whatever agent it runs.
var (
	versionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]+)\.([0-9]+)\.([0-9]+)`) })
	procRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^version: ([0-9]+\.[0-9]+\.[0-9]+)`) })
)

func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", int(v)>>16, int(v)>>8&0xff, int(v)&0xff)
}

// IsV9 reports whether the kernel module speaks DRBD 9.
func (v Version) IsV9() bool { return v >= 0x090000 }

// ModuleVersion reads the loaded module's version from /proc/drbd
// (a file, no program); ErrNoModule when the module is not loaded.
func ModuleVersion(proc string) (Version, error) {
	b, err := os.ReadFile(proc)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%s: %w", proc, ErrNoModule)
	}
	if err != nil {
		return 0, fmt.Errorf("read DRBD module version: %w", err)
	}
	m := procRE().FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("%s has no \"version: x.y.z\" line", proc)
	}
	return ParseVersion(string(m[1]))
}
