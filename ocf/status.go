package ocf

import "fmt"

// Status is an OCF exit code.
type Status int

// The OCF 1.1 exit codes. The 1.0 names are kept as aliases because
// operators still read them in logs and older documentation.
const (
	Success          Status = 0
	ErrGeneric       Status = 1
	ErrArgs          Status = 2
	ErrUnimplemented Status = 3
	ErrPerm          Status = 4
	ErrInstalled     Status = 5
	ErrConfigured    Status = 6
	NotRunning       Status = 7
	RunningPromoted  Status = 8
	FailedPromoted   Status = 9
	Degraded         Status = 190
	DegradedPromoted Status = 191

	RunningMaster  = RunningPromoted
	FailedMaster   = FailedPromoted
	DegradedMaster = DegradedPromoted
)

var statusNames = map[Status]string{
	Success:          "OCF_SUCCESS",
	ErrGeneric:       "OCF_ERR_GENERIC",
	ErrArgs:          "OCF_ERR_ARGS",
	ErrUnimplemented: "OCF_ERR_UNIMPLEMENTED",
	ErrPerm:          "OCF_ERR_PERM",
	ErrInstalled:     "OCF_ERR_INSTALLED",
	ErrConfigured:    "OCF_ERR_CONFIGURED",
	NotRunning:       "OCF_NOT_RUNNING",
	RunningPromoted:  "OCF_RUNNING_PROMOTED",
	FailedPromoted:   "OCF_FAILED_PROMOTED",
	Degraded:         "OCF_DEGRADED",
	DegradedPromoted: "OCF_DEGRADED_PROMOTED",
}

// String returns the OCF 1.1 name, e.g. "OCF_NOT_RUNNING".
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("OCF_STATUS_%d", int(s))
}

// Valid reports whether Pacemaker gives s its OCF meaning; any other
// exit code is read as ErrGeneric.
func (s Status) Valid() bool {
	_, ok := statusNames[s]
	return ok
}

// running reports whether a monitor result means the resource is active.
func (s Status) running() bool {
	switch s {
	case Success, RunningPromoted, Degraded, DegradedPromoted:
		return true
	}
	return false
}
