// Package ocf is the OCF resource-agent contract, written once so that no
// agent re-implements it: exit statuses, errors that carry a status and an
// operator-facing reason, the environment Pacemaker hands an agent, parameter
// binding from the agent's meta-data, the action deadline, ocf_log-style
// logging, cluster helpers (promotion scores, node name), per-resource state
// and locks, and a program runner that never uses a shell.
//
// The rules every agent must follow live in Main, not in the agents: a probe
// of a resource whose software or configuration is absent on this host returns
// NotRunning, stop never returns NotRunning, notify never fails, an unknown
// action returns ErrUnimplemented, a panic becomes ErrGeneric with a reason,
// and an action that would overrun its deadline reports its own failure
// before pacemaker-execd's SIGKILL arrives.
package ocf
