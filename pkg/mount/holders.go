package mount

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Proc is a proc file system; tests point Root at a fake tree.
type Proc struct {
	Root string
	// Self is the pid whose mount namespace counts ("self" when 0):
	// a process in another mount namespace holds copies of the mounts,
	// never these.
	Self int
}

// HostProc is the host's /proc.
var HostProc = Proc{Root: "/proc"}

// Use is one way a process holds a mount: "fd 3 /mnt/data/log",
// "cwd /mnt/data", "root", "exe", "mmap /mnt/data/lib.so".
type Use struct {
	What string // fd N, cwd, root, exe, mmap
	Path string
}

func (u Use) String() string {
	if u.Path == "" {
		return u.What
	}
	return u.What + " " + u.Path
}

// Holder is a process that holds one of the mounts.
type Holder struct {
	PID  int
	Uses []Use
}

// Holders finds the processes that keep any of mounts busy, so that
// unmounting it fails with EBUSY: open files (by the mount id the kernel
// gives in /proc/PID/fdinfo, exact even for a file opened through
// another path or since deleted), the working directory, the root and
// the executable (by path), and memory maps (by device and path).
// Nothing is matched by file system alone, so a process using the same
// file system through another mount, or a process of the same name, is
// never a holder. Processes in another mount namespace are skipped: they
// hold their own copies of the mounts. Holders runs no program and does
// not touch the mounted file system, so a hung file system cannot block
// it. The caller itself is never a holder.
func (p Proc) Holders(mounts []Mount) ([]Holder, error) {
	if len(mounts) == 0 {
		return nil, nil
	}
	ids := map[int]bool{}
	devs := map[[2]uint32]bool{}
	var points []string
	for _, m := range mounts {
		ids[m.ID] = true
		devs[[2]uint32{m.Major, m.Minor}] = true
		points = append(points, m.Mountpoint)
	}
	under := func(path string) bool {
		path = strings.TrimSuffix(path, " (deleted)")
		for _, mp := range points {
			if path == mp || mp == "/" || strings.HasPrefix(path, mp+"/") {
				return true
			}
		}
		return false
	}
	self := "self"
	if p.Self != 0 {
		self = strconv.Itoa(p.Self)
	}
	myNS, _ := os.Readlink(filepath.Join(p.Root, self, "ns", "mnt"))
	myPID := os.Getpid()
	if p.Self != 0 {
		myPID = p.Self
	}
	entries, err := os.ReadDir(p.Root)
	if err != nil {
		return nil, fmt.Errorf("find processes holding %s: %w", points[0], err)
	}
	var out []Holder
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == myPID {
			continue
		}
		dir := filepath.Join(p.Root, e.Name())
		if myNS != "" {
			if ns, err := os.Readlink(filepath.Join(dir, "ns", "mnt")); err != nil || ns != myNS {
				continue // gone, a kernel thread we may not read, or another namespace
			}
		}
		var uses []Use
		for _, link := range []string{"cwd", "root", "exe"} {
			if target, err := os.Readlink(filepath.Join(dir, link)); err == nil && under(target) {
				uses = append(uses, Use{What: link, Path: target})
			}
		}
		uses = append(uses, fdUses(dir, ids)...)
		uses = append(uses, mapUses(dir, devs, under)...)
		if len(uses) > 0 {
			out = append(out, Holder{PID: pid, Uses: uses})
		}
	}
	return out, nil
}

// fdUses are the open files of the process in dir on a mount of ids.
func fdUses(dir string, ids map[int]bool) []Use {
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return nil
	}
	var uses []Use
	for _, fd := range fds {
		info, err := os.ReadFile(filepath.Join(dir, "fdinfo", fd.Name()))
		if err != nil {
			continue
		}
		id, ok := fdinfoMountID(info)
		if !ok || !ids[id] {
			continue
		}
		target, _ := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
		uses = append(uses, Use{What: "fd " + fd.Name(), Path: target})
	}
	return uses
}

// fdinfoMountID reads the "mnt_id:" line of an fdinfo file.
func fdinfoMountID(info []byte) (int, bool) {
	for _, line := range bytes.Split(info, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("mnt_id:")); ok {
			id, err := strconv.Atoi(strings.TrimSpace(string(v)))
			return id, err == nil
		}
	}
	return 0, false
}

// mapUses are the file mappings of the process in dir on one of devs
// whose path is under a mount point: both must hold, since st_dev alone
// is shared by every mount of a file system.
func mapUses(dir string, devs map[[2]uint32]bool, under func(string) bool) []Use {
	f, err := os.Open(filepath.Join(dir, "maps"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var uses []Use
	seen := map[string]bool{}
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for s.Scan() {
		dev, path, ok := parseMapsLine(s.Text())
		if !ok || !devs[dev] || !under(path) || seen[path] {
			continue
		}
		seen[path] = true
		uses = append(uses, Use{What: "mmap", Path: path})
	}
	return uses
}

// parseMapsLine reads "addr perms offset MAJ:MIN inode   path" (hex
// device numbers) from /proc/PID/maps.
func parseMapsLine(line string) (dev [2]uint32, path string, ok bool) {
	fields := strings.SplitN(line, " ", 6)
	if len(fields) < 6 {
		return dev, "", false
	}
	maj, min, found := strings.Cut(fields[3], ":")
	if !found {
		return dev, "", false
	}
	ma, err1 := strconv.ParseUint(maj, 16, 32)
	mi, err2 := strconv.ParseUint(min, 16, 32)
	path = strings.TrimLeft(fields[5], " ")
	if err1 != nil || err2 != nil || !strings.HasPrefix(path, "/") {
		return dev, "", false
	}
	return [2]uint32{uint32(ma), uint32(mi)}, path, true
}

// Describe is a short list of holders for a log line or a reason:
// "1234 (sleep: cwd /mnt), 99 (bash: fd 3 /mnt/x)".
func (p Proc) Describe(hs []Holder) string {
	var parts []string
	for _, h := range hs {
		comm, err := os.ReadFile(filepath.Join(p.Root, strconv.Itoa(h.PID), "comm"))
		name := strings.TrimSpace(string(comm))
		if err != nil {
			name = "?"
		}
		var uses []string
		for _, u := range h.Uses {
			uses = append(uses, u.String())
		}
		slices.Sort(uses)
		if len(uses) > 3 {
			uses = append(uses[:3], fmt.Sprintf("+%d more", len(h.Uses)-3))
		}
		parts = append(parts, fmt.Sprintf("%d (%s: %s)", h.PID, name, strings.Join(uses, ", ")))
	}
	return strings.Join(parts, "; ")
}

// PIDs lists the holders' pids.
func PIDs(hs []Holder) []int {
	var out []int
	for _, h := range hs {
		out = append(out, h.PID)
	}
	return out
}
