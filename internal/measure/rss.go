package measure

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// TimeArgv is the command line that runs a program (appended to it)
// from GNU time (/usr/bin/time, Debian's package time), which writes the
// program's peak resident set size to file. GNU time is the parent
// because Linux keeps in a process's ru_maxrss the resident size of the
// image it replaced at execve: a child forked by a large Go program
// would report at least the Go program's size.
func TimeArgv(gnuTime, file string) []string {
	return []string{gnuTime, "-f", "%M", "-o", file}
}

// LookGNUTime finds GNU time on PATH: the shell keyword and other
// programs named time do not report %M.
func LookGNUTime() (string, error) {
	path, err := exec.LookPath("time")
	if err != nil {
		return "", fmt.Errorf("GNU time is not installed (Debian package time): %w", err)
	}
	if out, err := exec.Command(path, "--version").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("GNU")) {
		return "", fmt.Errorf("%s is not GNU time", path)
	}
	return path, nil
}

// ReadMaxRSS reads what TimeArgv wrote: ru_maxrss in KiB, that of the
// largest single process of the tree the program waited for.
func ReadMaxRSS(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	// GNU time writes "Command exited with non-zero status N" first when
	// the program failed; the number is the last line.
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	kib, err := strconv.Atoi(lines[len(lines)-1])
	if err != nil {
		return 0, fmt.Errorf("%s: not GNU time's %%M: %q", file, b)
	}
	return kib, nil
}
