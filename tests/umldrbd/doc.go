// Package umldrbd runs the drbd agent in the UML cluster lab
// (internal/umlcluster): a real DRBD 8.4.11 kernel in each node, a real
// Pacemaker + Corosync cluster, seed 003's configuration loaded with
// crmsh, and the same scenario with the reference ocf:linbit:drbd, so
// their failover times and operation durations are measured in the same
// lab and printed side by side (FIGURE lines).
package umldrbd
