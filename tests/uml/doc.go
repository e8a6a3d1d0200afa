// Package uml runs the storage scenarios of the project's two kernel-
// module agents in user-mode Linux clusters (internal/umlcluster): a
// promotable DRBD clone with an ext4 Filesystem on the Primary, and a DLM
// clone with an OCFS2 Filesystem clone mounted on every node, each with a
// power cut of a node and the failover measured from the host's clock.
//
// The scenarios are parameterised by agent names (Agents), so the same
// code measures the reference agents (Reference: ocf:linbit:drbd,
// ocf:heartbeat:Filesystem, ocf:pacemaker:controld) and ocfbox's
// (OCFBox). RunDRBDExt4(t, OCFBox) and RunOCFS2(t, OCFBox) run a whole
// scenario from any test package (installing ocfbox's agents for the
// test's duration); the pieces (DRBDExt4, WaitDRBDReady, DRBDPowerCut,
// DRBDRejoin, OCFS2, WaitOCFS2Mounted, OCFS2PowerCut) build variations.
// The tests log their figures as "FIGURE <scenario> <agents>: …" lines.
package uml
