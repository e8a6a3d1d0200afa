// Package umlcluster boots Pacemaker clusters whose nodes are real Linux
// kernels: user-mode Linux (Debian's user-mode-linux), with the kernel
// modules the host lacks (DRBD 8.4, DLM, OCFS2). Tests of the drbd and
// Filesystem/OCFS2 agents run in it, with the reference agents as the
// baseline (tests/uml).
//
// # A cluster
//
//	c := umlcluster.New(t, umlcluster.Config{
//		Nodes: 2, // 1 to 9; names uml1, uml2, …
//		Resources: []string{umlcluster.Clone("ms", meta,
//			umlcluster.Primitive("p_drbd", "ocf:ocfbox:drbd", params, ops...))},
//		Constraints: []string{umlcluster.Order("o", "ms", "promote", "p_fs", "start")},
//		Properties:  map[string]string{"no-quorum-policy": "ignore"},
//		OpDefaults:  map[string]string{"timeout": "90s"},
//		DRBD:        &umlcluster.DRBD{Primary: 1, FSType: "ext4"}, // r0 on uml1+uml2, /dev/drbd0
//		SharedDisk:  img, // host file (FormatOCFS2), /dev/ubdb on every node
//	})
//	err := c.WaitOnline(ctx)                 // every node online in crm_mon
//	s, err := c.WaitFor(ctx, "what", cond)   // crm_mon's view (Status) until cond(s) == nil
//	out, stderr, exit, err := c.Node(1).Run(ctx, "drbdadm", "role", "r0")
//	res, err := c.Node(1).Exec(ctx, umlcluster.Cmd{Argv: argv, Env: env, Stdin: in}) // + in-node times
//	at, _, err := c.Node(2).WaitFile(ctx, "/proc/drbd", "ro:Primary/", 0) // watched inside the node
//	killed, err := c.PowerCut(1)             // host clock of the SIGKILL
//	err = c.Reboot(ctx, 1)                   // boots it again into the cluster
//	events := c.FenceEvents()                // what Pacemaker asked the lab to fence
//
// tests/uml has the DRBD and OCFS2 scenarios built on this, parameterised
// by agent names, for the reference agents and ocfbox's alike.
//
// New skips the test (or fails it under OCFBOX_REQUIRE_ALL=1) when not
// root or user-mode-linux is missing, waits until every node's init
// answers, and registers Close with t.Cleanup. Node(i) is 1-based. A
// node's name is "uml<i>", its address 198.51.100.<i> (Node.Addr), its
// Pacemaker log Node.LogDir()/pacemaker.log, next to corosync.log, the
// kernel console (console.log) and the daemons' output; the directory is
// under the test's t.TempDir() (Config.Dir) and survives power cuts and
// reboots. The cluster's resources and properties are the test's: the CIB
// every node boots with is built from Config (Properties over the
// harness's defaults: stonith-enabled=true with the lab's fence device,
// no-quorum-policy=stop, dc-deadtime=5s; RscDefaults; Resources and
// Constraints as XML elements). Each boot starts with empty Pacemaker
// state, so a node rebooting into a running cluster takes the cluster's
// CIB.
//
// # Nodes
//
// Each node is one `linux` process tree started with setsid, so one
// process group: PowerCut SIGKILLs the group and returns once no process
// of it is left (bounded). All nodes of a cluster are in a network
// namespace of the cluster's own ("ot-uml-<id>") with a bridge
// ("u<id>br") and one TAP per node ("u<id>t<i>"): several clusters run
// side by side. The host has 198.51.100.254 on the bridge.
//
// The node's root file system is the host's (hostfs): the ocfbox agents
// installed by testenv.InstallAgents, the reference agents and every
// program are the host's. Everything a node writes is on tmpfs mounted by
// its init: /run, /tmp, /dev/shm, /var/log, /var/tmp, /var/lib/pacemaker,
// /var/lib/corosync, /var/lib/heartbeat, /var/lib/drbd, /etc/corosync,
// /etc/drbd.d, /etc/ocfs2 (TestLab checks the host afterwards). The
// harness's directory is mounted again (hostfs) at its own path, so the
// node sees Config.Dir (logs, drbd.conf) even though /tmp is private.
// Disks are files: a private one per node (/dev/ubda, Config.DiskMB,
// kept across reboots, removed with the directory) and, with
// Config.SharedDisk, a shared one on every node (/dev/ubdb, attached with
// ubd's shared flag; format it on the host before New, see FormatOCFS2).
//
// The node's init (cmd/umlinit, built by the harness) mounts, sets up
// vec0 (TSO/GSO off: they stall TCP on UML's TAP device), loads drbd,
// configfs, dlm, ocfs2_stack_user and ocfs2 from /usr/lib/uml/modules and
// points the kernel's module helper at them (a private modules directory
// behind a modprobe of its own, first in PATH), writes the DRBD
// configuration, runs the first-boot setup (DRBD metadata, the primed
// node's file system), starts corosync (udpu, without mlockall: half the
// memory) and pacemakerd, and reaps orphans. It serves commands from the
// host on TCP port wire.Port of the node's address: Node.Run sends argv
// (no shell) and gets stdout, stderr and the exit status back, one TCP
// connection per command and no polling; the time is mostly the process's
// creation inside UML (Exec reports the in-node times). When the context
// ends the connection closes and the init kills the command's process
// group.
// Node.WaitFile waits inside the node (no process) for a file such as
// /proc/drbd or /proc/mounts to contain a string, and answers the node's
// time of the match: UML's clock is the host's, so it compares with
// PowerCut's time directly.
//
// # Fencing
//
// Unless Config.NoFencing, the cluster has stonith-enabled=true and a
// stonith device "fence-lab" of agent fence_ocfbox (package
// internal/fencelab): Pacemaker's fencer in a node runs it, it asks the
// harness's fence service on 198.51.100.254 over the bridge, and the
// harness power-cuts the node (reboot and off: the node stays down until
// the test calls Boot or Reboot; Config.FenceReboots boots it again).
// fence_ocfbox is visible only inside the nodes, in /usr/sbin, through a
// read-only overlay over the host's /usr/sbin: nothing is installed on
// the host.
//
// Clusters on one machine take turns: New waits (up to 45 minutes) for a
// lock in /run/ocfbox-umlcluster that another cluster holds until its
// Close, because on a small shared machine two clusters at once starve
// each other's corosync (OCFBOX_UML_PARALLEL=1 lets them run side by
// side; their names and networks never collide). For the same reason
// corosync's token is 3 s (Config.Token). OCFBOX_UML_KEEP=/dir keeps the
// cluster's directory (logs, disks) after the test.
//
// # Teardown
//
// Close (registered with t.Cleanup) power-cuts every node, stops the fence
// service and deletes the namespace, with its bridge and TAPs; no process,
// namespace, mount or TAP is left. A cluster holds a lock in
// /run/ocfbox-umlcluster while it lives; New first removes the namespaces
// and processes of clusters whose lock nobody holds (a test binary that
// was killed), never those of a running cluster.
package umlcluster
