package ocf

import (
	"log/slog"
	"testing"
)

// Only monitor returns a status of its own; every other action's status
// comes from its error. Should that ever change, an action that says it
// failed without saying why must still fail.
func TestApplyRulesFailsANonMonitorStatusWithoutAnError(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, action := range []string{"start", "promote", "demote", "migrate_to", "migrate_from", "reload", "validate-all"} {
		status, err := applyRules(ReadEnv(nil, "Tester", action), log, NotRunning, nil)
		if want := action + " returned OCF_NOT_RUNNING without an error"; status != ErrGeneric || ReasonOf(err) != want {
			t.Errorf("%s returning OCF_NOT_RUNNING without an error became %v, %q; want OCF_ERR_GENERIC, %q", action, status, ReasonOf(err), want)
		}
	}
	// status is the LSB name of monitor: not running is an answer.
	if status, err := applyRules(ReadEnv(nil, "Tester", "status"), log, NotRunning, nil); status != NotRunning || err != nil {
		t.Errorf("status returning OCF_NOT_RUNNING became %v, %v; want it kept", status, err)
	}
}
