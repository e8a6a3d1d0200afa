package mount

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// CheckArg, as argv[1] of the ocfbox binary, runs one I/O check (see
// RunCheck) in a child process. A read or write on a device or file
// system that does not answer leaves the thread doing it in
// uninterruptible sleep, and a process with such a thread cannot exit:
// the agent itself must never do that I/O, or it would report the hang
// in time and still not end until Pacemaker's timeout. A child that
// hangs is abandoned, with SIGKILL pending, and dies when the I/O ends.
const CheckArg = "__ocfbox-mount-check"

// BlockSize is what the checks read and write: one aligned block, which
// direct I/O needs.
const BlockSize = 4096

// CheckArgv is the argument vector (after the program) of a check:
// "read DEVICE" or "write PATH CONTENT direct|buffered".
func ReadCheckArgv(dev string) []string { return []string{CheckArg, "read", dev} }

// WriteCheckArgv is the argument vector of a status-file check.
func WriteCheckArgv(path, content string, direct bool) []string {
	mode := "buffered"
	if direct {
		mode = "direct"
	}
	return []string{CheckArg, "write", path, content, mode}
}

// RunCheck runs the check args asks for, when args[1] is CheckArg; it
// reports the exit code and whether it handled args. The error goes to
// stderr.
func RunCheck(args []string, stderr io.Writer) (int, bool) {
	if len(args) < 2 || args[1] != CheckArg {
		return 0, false
	}
	var err error
	switch {
	case len(args) == 4 && args[2] == "read":
		err = ReadBlock(args[3])
	case len(args) == 6 && args[2] == "write":
		err = WriteStatus(args[3], args[4], args[5] == "direct")
	default:
		err = fmt.Errorf("usage: %s read DEVICE | write PATH CONTENT direct|buffered", CheckArg)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1, true
	}
	return 0, true
}

// alignedBlock is a page-aligned block of memory, as O_DIRECT needs.
func alignedBlock() ([]byte, func(), error) {
	b, err := unix.Mmap(-1, 0, BlockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, fmt.Errorf("allocate an aligned buffer: %w", err)
	}
	return b, func() { unix.Munmap(b) }, nil
}

// ReadBlock reads the first block of a device with direct I/O, past the
// page cache: the device answers.
func ReadBlock(dev string) error {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dev, Err: err}
	}
	defer unix.Close(fd)
	buf, free, err := alignedBlock()
	if err != nil {
		return err
	}
	defer free()
	if _, err := unix.Pread(fd, buf, 0); err != nil {
		return &os.PathError{Op: "read", Path: dev, Err: err}
	}
	return nil
}

// WriteStatus writes content, padded to a block, to path synchronously
// (with direct I/O when asked and the file system does it), then reads
// it back: the file system takes writes.
func WriteStatus(path, content string, direct bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	buf, free, err := alignedBlock()
	if err != nil {
		return err
	}
	defer free()
	clear(buf)
	copy(buf, content)
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_SYNC | unix.O_CLOEXEC
	fd := -1
	if direct {
		fd, err = unix.Open(path, flags|unix.O_DIRECT, 0o644)
	}
	if !direct || errors.Is(err, unix.EINVAL) { // no direct I/O on this file system
		fd, err = unix.Open(path, flags, 0o644)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	_, err = unix.Write(fd, buf)
	if err == nil {
		err = unix.Fsync(fd)
	}
	unix.Close(fd)
	if err != nil {
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(got, []byte(content)) {
		return fmt.Errorf("status file %s reads back differently from what was written", path)
	}
	return nil
}
