package fakecrm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Exit codes of Pacemaker's tools (crm_exit_t) that the fakes use.
const (
	exitOK           = 0
	exitUsage        = 64  // CRM_EX_USAGE
	exitNotConnected = 102 // CRM_EX_NOT_CONNECTED
	exitNoSuch       = 105 // CRM_EX_NOSUCH
)

// Main is the program of the fake tools (cmd/fakecrm): it records the
// call, then answers as the tool it is run as, with its state in the
// directory it runs from. It returns the exit code.
func Main() int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakecrm:", err)
		return 1
	}
	f := fake{dir: filepath.Dir(exe), instance: os.Getenv("OCF_RESOURCE_INSTANCE")}
	name, args := filepath.Base(os.Args[0]), os.Args[1:]
	if err := f.record(Call{Argv: append([]string{name}, args...), Instance: f.instance}); err != nil {
		fmt.Fprintln(os.Stderr, "fakecrm: record the call:", err)
		return 1
	}
	switch name {
	case "crm_attribute":
		return f.crmAttribute(args)
	case "crm_master":
		return f.crmMaster(args)
	case "crm_node":
		return f.crmNode(args)
	}
	fmt.Fprintf(os.Stderr, "fakecrm: run as %s, want one of %s\n", name, strings.Join(tools, ", "))
	return 1
}

// fake is one run of a fake tool.
type fake struct {
	dir      string // where the tools and their state are
	instance string // OCF_RESOURCE_INSTANCE
}

func (f *fake) record(c Call) error {
	line, err := json.Marshal(c)
	if err != nil {
		return err
	}
	file, err := os.OpenFile(filepath.Join(f.dir, callsFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = file.Write(append(line, '\n'))
	return errors.Join(err, file.Close())
}

// usage fails a call the fake does not implement.
func (f *fake) usage(tool, msg string) int {
	fmt.Fprintf(os.Stderr, "%s: %s\n", tool, msg)
	return exitUsage
}

// clusterDown reports whether NoCluster was called.
func (f *fake) clusterDown() bool {
	_, err := os.Stat(filepath.Join(f.dir, noClusterFile))
	return err == nil
}

// promotionArgs are the options of a crm_attribute or crm_master call on
// a promotion score.
type promotionArgs struct {
	promotion bool   // --promotion (crm_attribute)
	resource  string // --promotion=RESOURCE
	lifetime  string // -l (crm_master)
	op        string // "update" (-v), "delete" (-D) or "query" (-G)
	value     string // the score, for update
	quiet     bool   // -q
}

func parsePromotionArgs(args []string) (promotionArgs, error) {
	var p promotionArgs
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func() (string, error) {
			if i+1 == len(args) {
				return "", fmt.Errorf("option %s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch {
		case a == "--promotion" || a == "-p":
			p.promotion = true
		case strings.HasPrefix(a, "--promotion="):
			p.promotion, p.resource = true, strings.TrimPrefix(a, "--promotion=")
		case a == "-l" || a == "--lifetime":
			p.lifetime, err = value()
		case a == "-v" || a == "--update":
			p.op = "update"
			p.value, err = value()
		case a == "-D" || a == "--delete":
			p.op = "delete"
		case a == "-G" || a == "--query":
			p.op = "query"
		case a == "-q" || a == "--quiet" || a == "-Q": // -Q: the hidden old spelling ocf:linbit:drbd passes to crm_master
			p.quiet = true
		default:
			err = fmt.Errorf("this stand-in does not implement %s", a)
		}
		if err != nil {
			return p, err
		}
	}
	return p, nil
}

// crmAttribute is crm_attribute --promotion[=RESOURCE] -v SCORE | -D | -G [-q].
func (f *fake) crmAttribute(args []string) int {
	p, err := parsePromotionArgs(args)
	if err != nil {
		return f.usage("crm_attribute", err.Error())
	}
	if !p.promotion || p.lifetime != "" || p.op == "" {
		return f.usage("crm_attribute", "this stand-in implements only --promotion with -v, -D or -G")
	}
	if p.resource != "" {
		f.instance = p.resource
	}
	if f.instance == "" {
		fmt.Fprintln(os.Stderr, "crm_attribute: -p/--promotion must be called from an OCF resource agent or with a resource ID specified")
		return exitUsage
	}
	return f.promotion(p)
}

// crmMaster is crm_master -l reboot -v SCORE | -D | -G [-q], which runs
// crm_attribute on the promotion score of OCF_RESOURCE_INSTANCE.
func (f *fake) crmMaster(args []string) int {
	p, err := parsePromotionArgs(args)
	if err != nil {
		return f.usage("crm_master", err.Error())
	}
	if p.promotion || p.lifetime != "reboot" || p.op == "" {
		return f.usage("crm_master", "this stand-in implements only -l reboot with -v, -D or -G")
	}
	if f.instance == "" {
		// crm_master is a shell script; this is its exit_usage.
		fmt.Fprintln(os.Stderr, "error: No resource specified")
		fmt.Fprint(os.Stdout, "\nUsage: crm_master <command> [<options>]\n\n"+
			"This command is deprecated. Use crm_attribute with the --promotion option\ninstead.\n")
		return 1
	}
	return f.promotion(p)
}

// promotion does p.op to the promotion score of f.instance, with the
// output of crm_attribute.
func (f *fake) promotion(p promotionArgs) int {
	if f.clusterDown() {
		fmt.Fprintln(os.Stderr, "crm_attribute: Could not connect to the CIB: Transport endpoint is not connected")
		return exitNotConnected
	}
	name := scorePrefix + f.instance
	file := filepath.Join(f.dir, name)
	switch p.op {
	case "update":
		if err := os.WriteFile(file, []byte(p.value+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "crm_attribute:", err)
			return 1
		}
	case "delete":
		err := os.Remove(file)
		if err == nil {
			fmt.Fprintf(os.Stdout, "Deleted status attribute: id=status-%s-%s name=%s\n", nodeID, name, name)
		} else if !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintln(os.Stderr, "crm_attribute:", err)
			return 1
		}
	case "query":
		b, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintln(os.Stderr, "crm_attribute: Error performing operation: No such device or address")
			return exitNoSuch
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "crm_attribute:", err)
			return 1
		}
		score := strings.TrimSuffix(string(b), "\n")
		if p.quiet {
			fmt.Fprintln(os.Stdout, score)
		} else {
			fmt.Fprintf(os.Stdout, "scope=status  name=%s value=%s\n", name, score)
		}
	}
	return exitOK
}

// crmNode is crm_node -n: the name SetNodeName gave, else the host name.
func (f *fake) crmNode(args []string) int {
	if len(args) != 1 || args[0] != "-n" && args[0] != "--name" {
		return f.usage("crm_node", "this stand-in implements only -n")
	}
	if f.clusterDown() {
		fmt.Fprintln(os.Stderr, "error: Could not connect to controller: Connection refused")
		return exitNotConnected
	}
	name, err := os.ReadFile(filepath.Join(f.dir, nodeNameFile))
	if errors.Is(err, fs.ErrNotExist) {
		var host string
		host, err = os.Hostname()
		name = []byte(host)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crm_node:", err)
		return 1
	}
	fmt.Fprintf(os.Stdout, "%s\n", name)
	return exitOK
}
