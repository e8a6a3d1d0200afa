// Package ocftest is for the tests of agents and of the binary: it runs
// one action of an agent in-process through ocf.Main, as pacemaker-execd
// runs an agent, and reads the exit reason from an agent's stderr, so
// that each test package does not write its own runner and parser.
//
// Tests that run an agent as a separate program (by path, in a network
// namespace, under a user) keep their own runner and use ExitReason on
// what it printed.
package ocftest

import (
	"bytes"
	"strings"

	"github.com/ocfbox/ocfbox/ocf"
)

// ReasonPrefix starts the line an agent writes its exit reason on; it is
// what Pacemaker sets OCF_EXIT_REASON_PREFIX to and ocf's default.
const ReasonPrefix = "ocf-exit-reason:"

// Result is what one action returned and printed.
type Result struct {
	Status         ocf.Status
	Stdout, Stderr string
}

// Run runs action of def through ocf.Main as pacemaker-execd would: argv
// is [def.Name, action] and environ is the whole environment (the test
// process's own is not read).
func Run(def ocf.Definition, action string, environ []string) Result {
	var stdout, stderr bytes.Buffer
	status := ocf.Main(def, ocf.Invocation{
		Args:    []string{def.Name, action},
		Environ: environ,
		Stdout:  &stdout,
		Stderr:  &stderr,
	})
	return Result{Status: status, Stdout: stdout.String(), Stderr: stderr.String()}
}

// ExitReason is the exit reason the action printed on stderr; see the
// function ExitReason.
func (r Result) ExitReason() (reason string, ok bool) { return ExitReason(r.Stderr) }

// ExitReason is an agent's exit reason: the text after ReasonPrefix on
// the last line of stderr that starts with it. ok is false when no line
// does; a line with the prefix alone is an empty reason, ok true.
//
// A line must start with the prefix, as the agents write it, so that a
// log line that merely quotes the prefix is not taken for a reason.
// Pacemaker's own reader is looser: it takes the last occurrence anywhere,
// ignores an empty reason and cuts it to 128 characters (ocf.Main already
// writes it on a line of its own, cut to 128).
func ExitReason(stderr string) (reason string, ok bool) {
	for _, line := range strings.Split(stderr, "\n") {
		if r, found := strings.CutPrefix(line, ReasonPrefix); found {
			reason, ok = r, true
		}
	}
	return reason, ok
}
