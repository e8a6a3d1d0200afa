// Package drbd reads and drives DRBD through drbd-utils: the state of a
// resource comes from ONE run of `drbdsetup events2 --now RES`, parsed in
// process, and changes go through drbdadm. The same parser serves the
// DRBD 8.4 kernel (drbd-utils 9 prints events2 lines for it: one peer,
// no quorum or client fields) and DRBD 9 (several peers, quorum,
// diskless clients, may_promote/promotion_score).
//
// Programs run through a Runner (ocf.Runner in the agents), so they obey
// the action's deadline and never pass through a shell.
package drbd
