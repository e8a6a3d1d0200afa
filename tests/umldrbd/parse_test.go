package umldrbd

import (
	"testing"
	"time"
)

// The execd lines opDurations reads, as Pacemaker 2.1.5 logs them in the lab.
func TestExecdExecutionTimesAreRead(t *testing.T) {
	for line, want := range map[string]time.Duration{
		"Dec 04 16:24:03.864 uml1 pacemaker-execd     [817] (log_finished) 	info: rsc_drbd_res0 start (call 17, PID 1049) exited with status 0 (execution time 1m17.718s after being queued 5ms)": 77718 * time.Millisecond,
		"Dec 04 16:25:03.864 uml1 pacemaker-execd     [817] (log_finished) 	info: rsc_drbd_res0 notify (call 19, PID 1101) exited with status 0 (execution time 457ms after being queued 1ms)":    457 * time.Millisecond,
		"Dec 04 16:25:03.864 uml1 pacemaker-execd     [817] (log_finished) 	info: rsc_drbd_res0 promote (call 20, PID 1102) exited with status 0 (execution time 2.210s)":                         2210 * time.Millisecond,
	} {
		m := execTime.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("not read: %s", line)
			continue
		}
		if d, err := time.ParseDuration(m[2]); err != nil || d != want {
			t.Errorf("%s: %v %v, want %v", line, d, err, want)
		}
	}
}
