package cluster

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

// initEnv marks the process a node's init: the program that uses this
// package, re-executed as PID 1 of the node's PID namespace.
const initEnv = "OCFBOX_CLUSTER_NODE_INIT"

var initHooked bool

// MaybeNodeInit must be the first thing the program's main (or a test
// package's TestMain) calls. Started as a node's init it never returns:
// it reaps the node's orphans until the node is killed. Otherwise it only
// records that the hook is in place and returns.
//
// A node needs an init that reaps: daemons that fork (apache2, libvirtd,
// corosync) are reparented to PID 1 of their namespace, and a dead one
// left as a zombie still answers kill -0, which agents take for running.
func MaybeNodeInit() {
	initHooked = true
	if os.Getenv(initEnv) != "1" || os.Getpid() != 1 {
		return
	}
	runInit()
}

func runInit() {
	// PID 1 of a namespace gets only the signals it handles from inside,
	// and SIGKILL from outside; nothing to ignore explicitly.
	sigchld := make(chan os.Signal, 64)
	signal.Notify(sigchld, syscall.SIGCHLD)
	tick := time.NewTicker(time.Second)
	for {
		select {
		case <-sigchld:
		case <-tick.C: // a coalesced SIGCHLD is never missed for long
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
