// Package parity runs the same scenarios against the reference shell
// agents and against ocfbox, each in its own sandbox, and checks that both
// return the statuses the scenario expects. A scenario expects the same
// status from both unless it records a deviation: a behaviour where ocfbox
// deliberately differs, which README.md's deviations table must list.
// So a failure names the side that departed from the expected behaviour.
package parity
