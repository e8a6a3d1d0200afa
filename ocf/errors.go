package ocf

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ErrNotRunning is returned by an agent when the resource is cleanly
// stopped. StatusOf maps it to NotRunning; it is the only place that does.
var ErrNotRunning = errors.New("not running")

// ErrBadParameter marks a failure of parameter binding or validation: the
// parameters themselves are wrong, whatever the system holds. It is the
// only kind of failure (status 2 or 6) that stop may turn into success,
// because a resource with such parameters cannot have been started; Main
// still has the agent remove what its record says start left (see
// RecordStopper). Bind marks its errors; agents mark theirs with
// BadParameter.
var ErrBadParameter = errors.New("invalid parameter")

// BadParameter marks err, a failure found by checking the parameters
// alone (not by looking at the system), with ErrBadParameter, keeping its
// status and reason. It returns nil for nil.
func BadParameter(err error) error {
	if err == nil || errors.Is(err, ErrBadParameter) {
		return err
	}
	return &Error{Status: failureStatus(err), Reason: err.Error(), Err: errors.Join(ErrBadParameter, err)}
}

// Error is an action failure with the OCF status to exit with and a
// one-line reason for the operator (Pacemaker shows it as the exit reason).
type Error struct {
	Status Status
	Reason string
	Err    error // the cause, if any; reachable with errors.Is/As
}

func (e *Error) Error() string { return e.Reason }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given status. The format follows
// fmt.Errorf, so %w keeps the cause (or, with several %w, every cause)
// reachable with errors.Is and errors.As.
func Errorf(status Status, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	cause := errors.Unwrap(err)
	if _, several := err.(interface{ Unwrap() []error }); several {
		cause = err
	}
	return &Error{Status: status, Reason: err.Error(), Err: cause}
}

// Generic is an unspecified failure (status 1).
func Generic(format string, args ...any) error { return Errorf(ErrGeneric, format, args...) }

// Args is a parameter that is invalid on this host only (status 2).
func Args(format string, args ...any) error { return Errorf(ErrArgs, format, args...) }

// Perm is a lack of privilege (status 4).
func Perm(format string, args ...any) error { return Errorf(ErrPerm, format, args...) }

// Installed is software missing on this host (status 5).
func Installed(format string, args ...any) error { return Errorf(ErrInstalled, format, args...) }

// Configured is a configuration that is invalid everywhere (status 6):
// Pacemaker stops the resource and never starts it on any node.
func Configured(format string, args ...any) error {
	return Errorf(ErrConfigured, format, args...)
}

// Stopped is ErrNotRunning with a reason that a recurring monitor shows.
func Stopped(format string, args ...any) error {
	return &Error{Status: NotRunning, Reason: fmt.Sprintf(format, args...), Err: ErrNotRunning}
}

// StatusOf maps an error to the status an agent exits with.
func StatusOf(err error) Status {
	var oe *Error
	switch {
	case err == nil:
		return Success
	case errors.As(err, &oe):
		return oe.Status
	case errors.Is(err, ErrNotRunning):
		return NotRunning
	case errors.Is(err, exec.ErrNotFound):
		return ErrInstalled
	}
	return ErrGeneric
}

// ReasonOf is the one-line reason Pacemaker records for err. It is the
// whole message, so that context an agent wrapped around an *Error
// ("stop vip: …") is kept.
func ReasonOf(err error) string {
	if err == nil {
		return ""
	}
	reason := err.Error()
	if errors.Is(err, context.DeadlineExceeded) && !strings.Contains(reason, "deadline") {
		reason += " (action deadline reached)"
	}
	return oneLine(reason)
}

// oneLine turns a reason into what Pacemaker keeps: one line, at most 128
// bytes (EXIT_REASON_MAX_LEN), cut at a character boundary.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 128
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut]
}
