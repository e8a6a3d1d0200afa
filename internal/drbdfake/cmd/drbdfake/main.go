// Command drbdfake is the program of the fake drbd-utils that tests
// install, with package drbdfake, as drbdsetup and drbdadm.
package main

import (
	"os"

	"github.com/ocfbox/ocfbox/internal/drbdfake"
)

func main() { os.Exit(drbdfake.Main()) }
