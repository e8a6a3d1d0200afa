// Command fakecrm stands in for Pacemaker's crm_attribute and crm_master
// in the Stateful agent's unit tests, installed under those names in the
// tests' HA_SBIN_DIR. Each run appends one line to the file named by
// OCFBOX_FAKECRM_CALLS: the name it was run as, its arguments, a tab, and
// the OCF_RESOURCE_INSTANCE it saw (the real tools act on that resource
// when --promotion names none). Without OCFBOX_FAKECRM_CALLS it fails, so
// an agent that does not pass its environment on is caught.
//
// Like the real tools on success, it prints nothing. With
// OCFBOX_FAKECRM_FAIL set it fails as crm_attribute does on a node where
// Pacemaker is not running (message and exit code of crm_attribute 2.1.5).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	calls := os.Getenv("OCFBOX_FAKECRM_CALLS")
	if calls == "" {
		fmt.Fprintln(os.Stderr, "fakecrm: OCFBOX_FAKECRM_CALLS is not set in my environment")
		os.Exit(1)
	}
	line := fmt.Sprintf("%s\tOCF_RESOURCE_INSTANCE=%s\n",
		strings.Join(append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...), " "),
		os.Getenv("OCF_RESOURCE_INSTANCE"))
	f, err := os.OpenFile(calls, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = f.WriteString(line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakecrm: record call:", err)
		os.Exit(1)
	}
	if os.Getenv("OCFBOX_FAKECRM_FAIL") != "" {
		fmt.Fprintln(os.Stderr, "crm_attribute: Could not connect to the CIB: Transport endpoint is not connected")
		os.Exit(102)
	}
}
