// Command fakecrm stands in for Pacemaker's crm_attribute (tests install
// it under that name in an HA_SBIN_DIR) when a promotable agent runs
// without a cluster. It implements only what agents call,
//
//	crm_attribute --promotion[=RESOURCE] -v SCORE | -D | -G [-q]
//
// with the real program's output and exit codes (its test compares the
// two against a CIB file), and keeps each instance's score in a file
// named master-<instance> next to itself, so a test can read what the
// agent set. Every call is appended to calls.log there.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Exit codes of Pacemaker's tools (crm_exit_t) that crm_attribute uses.
const (
	exitOK     = 0
	exitUsage  = 64  // CRM_EX_USAGE
	exitNoSuch = 105 // CRM_EX_NOSUCH
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv("OCF_RESOURCE_INSTANCE"), os.Stdout, os.Stderr))
}

func run(args []string, instance string, stdout, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "crm_attribute: %v\n", err)
		return 1
	}
	dir := filepath.Dir(exe)
	logCall(dir, instance, args)

	var promotion, quiet bool
	var op, value string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--promotion" || a == "-p":
			promotion = true
		case strings.HasPrefix(a, "--promotion="):
			promotion, instance = true, strings.TrimPrefix(a, "--promotion=")
		case a == "-v" || a == "--update":
			if i+1 == len(args) {
				return usage(stderr, "option "+a+" needs a value")
			}
			op, value = "update", args[i+1]
			i++
		case a == "-D" || a == "--delete":
			op = "delete"
		case a == "-G" || a == "--query":
			op = "query"
		case a == "-q" || a == "--quiet":
			quiet = true
		default:
			return usage(stderr, "this stand-in does not implement "+a)
		}
	}
	if !promotion || op == "" {
		return usage(stderr, "this stand-in implements only --promotion with -v, -D or -G")
	}
	if instance == "" {
		fmt.Fprintln(stderr, "crm_attribute: -p/--promotion must be called from an OCF resource agent or with a resource ID specified")
		return exitUsage
	}
	name := "master-" + instance
	file := filepath.Join(dir, name)
	switch op {
	case "update":
		if err := os.WriteFile(file, []byte(value+"\n"), 0o644); err != nil {
			fmt.Fprintf(stderr, "crm_attribute: %v\n", err)
			return 1
		}
	case "delete":
		if err := os.Remove(file); err == nil {
			fmt.Fprintf(stdout, "Deleted status attribute: id=status-1-%s name=%s\n", name, name)
		}
	case "query":
		b, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(stderr, "crm_attribute: Error performing operation: No such device or address")
			return exitNoSuch
		}
		score := strings.TrimSpace(string(b))
		if quiet {
			fmt.Fprintln(stdout, score)
		} else {
			fmt.Fprintf(stdout, "scope=status  name=%s value=%s\n", name, score)
		}
	}
	return exitOK
}

func usage(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "crm_attribute: %s\n", msg)
	return exitUsage
}

// logCall records the call; a test that wants to know how an agent used
// crm_attribute reads calls.log.
func logCall(dir, instance string, args []string) {
	f, err := os.OpenFile(filepath.Join(dir, "calls.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "OCF_RESOURCE_INSTANCE=%s crm_attribute %s\n", instance, strings.Join(args, " "))
	f.Close()
}
