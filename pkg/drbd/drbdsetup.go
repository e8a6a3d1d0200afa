package drbd

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Runner runs a program with arguments (never a shell) and returns its
// standard output; a failure carries the exit code through ExitCoder.
type Runner interface {
	Run(ctx context.Context, argv ...string) ([]byte, error)
}

// exitCode returns the exit code carried by err (an *exec.ExitError
// somewhere in its chain, as ocf.RunError has), or -1.
func exitCode(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return -1
}

// Exit codes of drbdsetup/drbdadm that mean something to the agent
// (drbd-utils user/shared/drbdtool_common.h, and observed).
const (
	exitNoModule     = 20 // also "cannot open config file" for drbdadm
	exitStateChange  = 11 // a refused state change: held open, peer not outdated
	exitNoUpToDate   = 17 // SS_NO_UP_TO_DATE_DISK
	heldOpenMessage  = "held open"
	notDefinedSuffix = "not defined in your config"
)

// Tool runs drbd-utils for one resource.
type Tool struct {
	Run      Runner
	Conf     string // drbdadm -c FILE; "" for drbdadm's default
	Resource string
	Stacked  bool // drbdadm -S
}

// Status reads the resource's state with one `drbdsetup events2 --now`.
func (t Tool) Status(ctx context.Context) (*State, error) {
	out, err := t.Run.Run(ctx, "drbdsetup", "events2", "--now", t.Resource)
	if err != nil {
		if exitCode(err) == exitNoModule {
			return nil, fmt.Errorf("drbdsetup events2 --now %s: %w", t.Resource, ErrNoModule)
		}
		return nil, fmt.Errorf("read state of DRBD resource %s: %w", t.Resource, err)
	}
	st, err := ParseEvents2(out, t.Resource)
	if err != nil {
		return nil, fmt.Errorf("read state of DRBD resource %s: %w", t.Resource, err)
	}
	return st, nil
}

// adm is drbdadm with the configuration file (and -S for stacked).
func (t Tool) adm(args ...string) []string {
	argv := []string{"drbdadm"}
	if t.Conf != "" {
		argv = append(argv, "-c", t.Conf)
	}
	if t.Stacked {
		argv = append(argv, "-S")
	}
	return append(argv, args...)
}

// Adm runs drbdadm with args (the resource is not added), classifying
// DRBD's refusals into the sentinel errors.
func (t Tool) Adm(ctx context.Context, args ...string) ([]byte, error) {
	argv := t.adm(args...)
	out, err := t.Run.Run(ctx, argv...)
	if err == nil {
		return out, nil
	}
	msg := err.Error()
	switch code := exitCode(err); {
	case strings.Contains(msg, heldOpenMessage):
		return out, fmt.Errorf("%s: %w: %w", strings.Join(argv, " "), ErrHeldOpen, err)
	case code == exitNoUpToDate:
		return out, fmt.Errorf("%s: %w: %w", strings.Join(argv, " "), ErrNoUpToDateData, err)
	case strings.Contains(msg, notDefinedSuffix):
		return out, fmt.Errorf("%s: %w: %w", strings.Join(argv, " "), ErrNotInConfig, err)
	}
	return out, err
}

// Devices is `drbdadm sh-dev RES`: the device of every volume; a
// resource drbdadm does not know for this host is ErrNotInConfig.
func (t Tool) Devices(ctx context.Context) ([]string, error) {
	return t.lines(ctx, "sh-dev")
}

// LowerDevices is `drbdadm sh-ll-dev RES`: the backing disk of every
// volume ("none" for a diskless client).
func (t Tool) LowerDevices(ctx context.Context) ([]string, error) {
	return t.lines(ctx, "sh-ll-dev")
}

func (t Tool) lines(ctx context.Context, cmd string) ([]string, error) {
	out, err := t.Adm(ctx, cmd, t.Resource)
	if err != nil {
		if exitCode(err) == 1 && !errors.Is(err, ErrNotInConfig) {
			err = fmt.Errorf("%w: %w", ErrNotInConfig, err)
		}
		return nil, err
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return nil, fmt.Errorf("drbdadm %s %s printed nothing: %w", cmd, t.Resource, ErrNotInConfig)
	}
	return f, nil
}

// Dump is `drbdadm -d -v dump RES`: the resource's configuration as
// drbdadm understands it (used to look for allow-two-primaries).
func (t Tool) Dump(ctx context.Context) (string, error) {
	out, err := t.Adm(ctx, "-d", "-v", "dump", t.Resource)
	return string(out), err
}
