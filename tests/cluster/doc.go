// Package cluster builds a real Pacemaker + Corosync cluster of network
// namespaces on one machine, for tests and the demo.
//
// Each node is a network namespace joined to a bridge in a switch
// namespace, plus its own mount, UTS and PID namespaces: its init is the
// calling program re-executed (see MaybeNodeInit), so killing that one
// process kills everything the node runs, as a power loss would, and
// nothing of a node can outlive it. In the node's private mount namespace
// /run and /dev/shm are fresh tmpfs (emptied by every boot, as on a real
// machine), Pacemaker's and Corosync's state and log directories are the
// node's own directories, and ocfbox appears as OCF provider "ocfbox"
// through a read-only overlay on /usr/lib/ocf/resource.d: the host's
// agent directory is never written.
//
// Use: a test package's TestMain calls MaybeNodeInit first, then a test
// calls StartT (or a program New), Configure with Primitive, Group, Clone
// and constraints, and WaitFor with a Condition over crm_mon's view;
// Node.Kill powers a node off, Node.Boot brings it back (same Pacemaker
// state directory, fresh /run), WaitRecovery reads failover figures from
// the operation history. Services a scenario needs on every node go in
// Options.NodeSetup, which runs at each boot inside the node's private
// mounts and dies with the node: SetupApache for an apache primitive,
// SetupLibvirt for a libvirtd of the node's own, SetupGuests for that
// plus guests' configuration files (GuestPrimitive manages one with a
// VirtualDomain agent; Cluster.SaveLibvirtCaps before Close keeps what
// the daemons probed), and Setups to combine them.
//
// Names: every namespace starts with Prefix, the working directory with
// Prefix under os.TempDir. One cluster runs at a time (a lock in /run);
// whoever takes the lock first removes what a killed earlier run left.
// Addresses: nodes 192.0.2.11…, the client 192.0.2.100, all in
// TEST-NET-1 and only inside the namespaces.
package cluster
