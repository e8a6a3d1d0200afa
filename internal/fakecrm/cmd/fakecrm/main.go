// Command fakecrm is the program of the fake Pacemaker tools that tests
// install, with package fakecrm, as crm_attribute, crm_master and crm_node
// in an agent's HA_SBIN_DIR.
package main

import (
	"os"

	"github.com/ocfbox/ocfbox/internal/fakecrm"
)

func main() { os.Exit(fakecrm.Main()) }
