package virt

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Emulator families whose guests FindGuestProcess can see without libvirt.
const (
	FamilyQEMU = "qemu"
	FamilyLXC  = "lxc"
)

// EmulatorFamily classifies an <emulator> path the way the reference
// agent's process check does: qemu-kvm, qemu-dm and qemu-system-* are
// qemu; libvirt_lxc is lxc; anything else is "" (not checkable).
func EmulatorFamily(emulator string) string {
	base := filepath.Base(emulator)
	switch {
	case base == "qemu-kvm" || base == "qemu-dm" || strings.HasPrefix(base, "qemu-system-"):
		return FamilyQEMU
	case base == "libvirt_lxc":
		return FamilyLXC
	}
	return ""
}

// FindGuestProcess looks through procRoot (normally /proc) for the
// emulator process of the guest called name, for when libvirtd cannot be
// asked: a process of the family whose "-name" argument is the guest's
// name, or a qemu option list with guest=<name>. It returns the process
// id, or 0 when no such process exists.
func FindGuestProcess(procRoot, family, name string) (int, error) {
	if family != FamilyQEMU && family != FamilyLXC {
		return 0, fmt.Errorf("find guest %s: emulator family %q cannot be checked through %s", name, family, procRoot)
	}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, fmt.Errorf("find guest %s: %w", name, err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cmdline"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				continue // the process went away, or is not ours to read
			}
			continue
		}
		if matchesGuest(cmdline, family, name) {
			return pid, nil
		}
	}
	return 0, nil
}

func matchesGuest(cmdline []byte, family, name string) bool {
	args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
	if len(args) < 2 || EmulatorFamily(args[0]) != family {
		return false
	}
	for i := 1; i+1 < len(args); i++ {
		if args[i] != "-name" {
			continue
		}
		v := args[i+1]
		if v == name {
			return true
		}
		for _, opt := range splitQEMUOpts(v) {
			if g, ok := strings.CutPrefix(opt, "guest="); ok && g == name {
				return true
			}
		}
	}
	return false
}

// splitQEMUOpts splits a qemu option string on commas, where ",," is an
// escaped comma.
func splitQEMUOpts(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			if i+1 < len(s) && s[i+1] == ',' {
				cur.WriteByte(',')
				i++
				continue
			}
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(s[i])
	}
	return append(out, cur.String())
}
