package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ocfbox/ocfbox/agents"
	"github.com/ocfbox/ocfbox/ocf"
)

// The CLI is written on the standard library's flag package. It was on
// urfave/cli, whose help templates (text/template) made the linker keep
// every exported method of every type in the binary: 2.5 MB more binary
// and 1.4 MiB more resident memory in every agent invocation, which has no
// use for the CLI. The commands, flags, messages and help text are the
// same.

// exitUsage is the CLI's exit code for its own usage errors (sysexits'
// EX_USAGE): outside the OCF range, so `ocfbox run` can exit with the
// agent's status and a caller can still tell the two apart.
const exitUsage = 64

// usageError is a mistake on the ocfbox command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// statusExit carries an agent's OCF status out of `ocfbox run`.
type statusExit struct{ status ocf.Status }

func (e statusExit) Error() string { return e.status.String() }

// option is a command's flag, as parsed and as its help shows it.
type option struct {
	name, alias string
	value       func() flag.Value // a new value holding the default
	placeholder string            // "value", or a placeholder of the usage's; "" for a switch
	usage       string
	shown       string // the default the help shows; "" for none
	repeated    bool
}

func (o option) takesValue() bool { return o.placeholder != "" }

// helpNames is the option's left column in the help.
func (o option) helpNames() string {
	names := "--" + o.name
	if o.takesValue() {
		names += " " + o.placeholder
	}
	if o.alias != "" {
		names += ", -" + o.alias
		if o.takesValue() {
			names += " " + o.placeholder
		}
	}
	if o.repeated {
		names += " [ " + names + " ]"
	}
	return names
}

func (o option) helpUsage() string {
	if o.shown == "" {
		return o.usage
	}
	return o.usage + " (default: " + o.shown + ")"
}

var helpOption = option{name: "help", alias: "h", usage: "show help"}

// command is one of ocfbox's commands.
type command struct {
	name, usage, argsUsage, description string
	options                             []option
	action                              func(c *invocation) error
}

// invocation is a command's parsed command line.
type invocation struct {
	cmd    *command
	args   []string
	values map[string]flag.Value
	set    map[string]bool
}

func (c *invocation) String(name string) string { return c.values[name].(*stringValue).s }
func (c *invocation) StringSlice(name string) []string {
	return c.values[name].(*listValue).items
}
func (c *invocation) Bool(name string) bool              { return c.values[name].(*boolValue).b }
func (c *invocation) Int(name string) int                { return c.values[name].(*intValue).n }
func (c *invocation) Duration(name string) time.Duration { return c.values[name].(*durationValue).d }
func (c *invocation) IsSet(name string) bool             { return c.set[name] }

// cli is ocfbox as a command-line tool; its streams and environment are
// the process's, or a test's.
type cli struct {
	environ        []string
	stdout, stderr io.Writer
	commands       []*command
}

// runCLI is ocfbox run by its own name: a command-line tool for people.
// It returns the exit code: 0, the agent's status for `run`, exitUsage
// for a mistake on the command line, 1 for any other failure.
func runCLI(args, environ []string, stdout, stderr io.Writer) int {
	c := &cli{environ: environ, stdout: stdout, stderr: stderr}
	c.commands = []*command{c.listCommand(), c.metadataCommand(), c.runCommand(), c.installCommand(), c.versionCommand()}
	err := c.run(args[1:])
	var se statusExit
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &se):
		return int(se.status)
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ocfbox: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "ocfbox: %v\n", err)
	return 1
}

func (c *cli) lookup(name string) *command {
	for _, cmd := range c.commands {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func (c *cli) run(args []string) error {
	global := flag.NewFlagSet("ocfbox", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.Usage = func() {}
	var help, showVersion bool
	global.BoolVar(&help, "help", false, "")
	global.BoolVar(&help, "h", false, "")
	global.BoolVar(&showVersion, "version", false, "")
	global.BoolVar(&showVersion, "v", false, "")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c.appHelp()
		}
		return usagef("%v (see ocfbox --help)", err)
	}
	args = global.Args()
	switch {
	case help && len(args) > 0:
		return c.help(args[0])
	case help:
		return c.appHelp()
	case showVersion:
		fmt.Fprintf(c.stdout, "ocfbox version %s\n", version)
		return nil
	case len(args) == 0:
		return c.appHelp()
	case args[0] == "help" || args[0] == "h":
		if len(args) > 1 {
			return c.help(args[1])
		}
		return c.appHelp()
	}
	cmd := c.lookup(args[0])
	if cmd == nil {
		return usagef("unknown command %q (ocfbox help lists them)", args[0])
	}
	return c.runCommandLine(cmd, args[1:])
}

// runCommandLine parses a command's flags, wherever they are on the line
// (before "--"), and runs it; -h or --help anywhere shows its help.
func (c *cli) runCommandLine(cmd *command, args []string) error {
	flags, rest, help := flagsFirst(cmd, args)
	if help {
		return c.commandHelp(cmd)
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	inv := &invocation{cmd: cmd, values: map[string]flag.Value{}, set: map[string]bool{}}
	for _, o := range cmd.options {
		v := o.value()
		inv.values[o.name] = v
		fs.Var(v, o.name, o.usage)
		if o.alias != "" {
			fs.Var(v, o.alias, o.usage)
		}
	}
	if err := fs.Parse(append(flags, rest...)); err != nil {
		return usagef("%v (see ocfbox %s --help)", err, cmd.name)
	}
	fs.Visit(func(f *flag.Flag) {
		for _, o := range cmd.options {
			if f.Name == o.name || f.Name == o.alias {
				inv.set[o.name] = true
			}
		}
	})
	inv.args = fs.Args()
	return cmd.action(inv)
}

// flagsFirst moves a command's flags ahead of its arguments, so that
// `ocfbox run Dummy start -p state=/x` takes the parameter, and tells
// whether -h or --help is among them. Everything after "--" stays an
// argument.
func flagsFirst(cmd *command, args []string) (flags, rest []string, help bool) {
	takesValue := map[string]bool{}
	for _, o := range cmd.options {
		takesValue[o.name] = o.takesValue()
		if o.alias != "" {
			takesValue[o.alias] = o.takesValue()
		}
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case arg == "-h" || arg == "--help":
			return nil, nil, true
		case len(arg) > 1 && arg[0] == '-':
			flags = append(flags, arg)
			name := strings.TrimLeft(arg, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			rest = append(rest, arg)
		}
	}
	return flags, append([]string{"--"}, rest...), false
}

// The flags' values. A value that does not parse is reported by the flag
// package as `invalid value "soon" for flag -timeout: parse error`.
var errParse = errors.New("parse error")

type stringValue struct{ s string }

func (v *stringValue) String() string     { return v.s }
func (v *stringValue) Set(s string) error { v.s = s; return nil }

type listValue struct{ items []string }

func (v *listValue) String() string     { return strings.Join(v.items, ",") }
func (v *listValue) Set(s string) error { v.items = append(v.items, s); return nil }

type boolValue struct{ b bool }

func (v *boolValue) String() string   { return strconv.FormatBool(v.b) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) (err error) {
	if v.b, err = strconv.ParseBool(s); err != nil {
		return errParse
	}
	return nil
}

type intValue struct{ n int }

func (v *intValue) String() string { return strconv.Itoa(v.n) }
func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return errParse
	}
	v.n = int(n)
	return nil
}

type durationValue struct{ d time.Duration }

func (v *durationValue) String() string { return v.d.String() }
func (v *durationValue) Set(s string) (err error) {
	if v.d, err = time.ParseDuration(s); err != nil {
		return errParse
	}
	return nil
}

func text(def string) func() flag.Value { return func() flag.Value { return &stringValue{s: def} } }
func list() flag.Value                  { return &listValue{} }
func boolean() flag.Value               { return &boolValue{} }
func integer() flag.Value               { return &intValue{} }
func duration() flag.Value              { return &durationValue{} }

// wantArgs checks the number of positional arguments of a command.
func (c *invocation) wantArgs(n int) error {
	if len(c.args) > n {
		return usagef("%s: unexpected argument %q", c.cmd.name, c.args[n])
	}
	return nil
}

func (c *invocation) arg(i int) string {
	if i < len(c.args) {
		return c.args[i]
	}
	return ""
}

func (c *invocation) lookupAgent() (ocf.Definition, error) {
	name := c.arg(0)
	if name == "" {
		return ocf.Definition{}, usagef("%s: which agent? (ocfbox list shows them)", c.cmd.name)
	}
	def, ok := agents.Lookup(name)
	if !ok {
		return ocf.Definition{}, usagef("%s: no agent named %q (ocfbox list shows them)", c.cmd.name, name)
	}
	return def, nil
}

// appHelp prints the help of ocfbox itself.
func (c *cli) appHelp() error {
	var b strings.Builder
	fmt.Fprintf(&b, "NAME:\n   ocfbox - Pacemaker OCF resource agents in one binary\n\n")
	fmt.Fprintf(&b, "USAGE:\n   ocfbox [global options] command [command options]\n\n")
	fmt.Fprintf(&b, "VERSION:\n   %s\n\n", version)
	b.WriteString("COMMANDS:\n")
	var rows [][2]string
	for _, cmd := range c.commands {
		rows = append(rows, [2]string{cmd.name, cmd.usage})
	}
	rows = append(rows, [2]string{"help, h", "Shows a list of commands or help for one command"})
	table(&b, rows)
	b.WriteString("\nGLOBAL OPTIONS:\n")
	table(&b, [][2]string{{"--help, -h", "show help"}, {"--version, -v", "print the version"}})
	_, err := io.WriteString(c.stdout, b.String())
	return err
}

// help is `ocfbox help NAME`.
func (c *cli) help(name string) error {
	if name == "help" || name == "h" {
		_, err := io.WriteString(c.stdout, "NAME:\n    help - Shows a list of commands or help for one command\n\n"+
			"USAGE:\n    help [command options] [command]\n\nOPTIONS:\n   --help, -h  show help\n")
		return err
	}
	cmd := c.lookup(name)
	if cmd == nil {
		return usagef("unknown command %q (ocfbox help lists them)", name)
	}
	return c.commandHelp(cmd)
}

func (c *cli) commandHelp(cmd *command) error {
	var b strings.Builder
	fmt.Fprintf(&b, "NAME:\n   ocfbox %s - %s\n\n", cmd.name, cmd.usage)
	usage := "ocfbox " + cmd.name + " [command options]"
	if cmd.argsUsage != "" {
		usage += " " + cmd.argsUsage
	}
	fmt.Fprintf(&b, "USAGE:\n   %s\n\n", usage)
	if cmd.description != "" {
		fmt.Fprintf(&b, "DESCRIPTION:\n   %s\n\n", strings.ReplaceAll(cmd.description, "\n", "\n   "))
	}
	b.WriteString("OPTIONS:\n")
	var rows [][2]string
	for _, o := range append(slices.Clone(cmd.options), helpOption) {
		rows = append(rows, [2]string{o.helpNames(), o.helpUsage()})
	}
	table(&b, rows)
	_, err := io.WriteString(c.stdout, b.String())
	return err
}

// table writes two indented columns, as the help shows commands and
// options.
func table(w io.Writer, rows [][2]string) {
	tw := tabwriter.NewWriter(w, 1, 8, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "   %s\t%s\n", r[0], r[1])
	}
	tw.Flush()
}

func (c *cli) versionCommand() *command {
	return &command{
		name:  "version",
		usage: "print the version",
		action: func(inv *invocation) error {
			if err := inv.wantArgs(0); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "ocfbox version %s\n", version)
			return nil
		},
	}
}

func (c *cli) listCommand() *command {
	return &command{
		name:  "list",
		usage: "list the agents, one per line: NAME<TAB>description",
		action: func(inv *invocation) error {
			if err := inv.wantArgs(0); err != nil {
				return err
			}
			for _, def := range agents.All {
				md, err := def.ParsedMetadata()
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "%s\t%s\n", def.Name, md.ShortDesc)
			}
			return nil
		},
	}
}

func (c *cli) metadataCommand() *command {
	return &command{
		name:      "meta-data",
		usage:     "print an agent's meta-data XML",
		argsUsage: "AGENT",
		action: func(inv *invocation) error {
			def, err := inv.lookupAgent()
			if err != nil {
				return err
			}
			if err := inv.wantArgs(1); err != nil {
				return err
			}
			status := ocf.Main(def, ocf.Invocation{Args: []string{def.Name, "meta-data"}, Environ: c.environ, Stdout: c.stdout, Stderr: c.stderr})
			if status != ocf.Success {
				return statusExit{status}
			}
			return nil
		},
	}
}

// Parameters every agent accepts although no meta-data declares them:
// they belong to the OCF environment itself.
var environmentParams = []string{"crm_feature_set", "trace_ra", "trace_file"}

func (c *cli) runCommand() *command {
	return &command{
		name:  "run",
		usage: "run one action of an agent, parameters as flags instead of OCF_RESKEY_*",
		description: "Runs the action as Pacemaker would and prints its status, with the exit reason if any;\n" +
			"the exit code is the agent's. Meta attributes go in as --param CRM_meta_NAME=VALUE.",
		argsUsage: "AGENT ACTION",
		options: []option{
			{name: "param", alias: "p", value: list, placeholder: "NAME=VALUE", usage: "parameter as NAME=VALUE (repeatable)", repeated: true},
			{name: "instance", value: text("ocfbox-run"), placeholder: "value", usage: "resource id (OCF_RESOURCE_INSTANCE)", shown: `"ocfbox-run"`},
			{name: "timeout", value: duration, placeholder: "value", usage: "action timeout (CRM_meta_timeout)", shown: "the agent's advised timeout"},
			{name: "check-level", value: integer, placeholder: "value", usage: "OCF_CHECK_LEVEL for monitor and validate-all", shown: "0"},
			{name: "interval", value: duration, placeholder: "value", usage: "monitor interval (0 makes monitor a probe)", shown: "0s"},
		},
		action: func(inv *invocation) error {
			def, err := inv.lookupAgent()
			if err != nil {
				return err
			}
			action := inv.arg(1)
			if action == "" {
				return usagef("run: which action? (e.g. ocfbox run %s monitor)", def.Name)
			}
			if len(inv.args) > 2 {
				return usagef("run: unexpected argument %q after the action (parameters go in --param NAME=VALUE)", inv.args[2])
			}
			env, err := runEnviron(c.environ, def, inv)
			if err != nil {
				return err
			}
			reasons := reasonCatcher{w: c.stderr}
			status := ocf.Main(def, ocf.Invocation{Args: []string{def.Name, action}, Environ: env, Stdout: c.stdout, Stderr: &reasons})
			reasons.flush()
			switch action {
			case "meta-data", "usage", "help":
				// stdout is the document; keep it clean.
			default:
				line := status.String()
				if reasons.last != "" {
					line += ": " + reasons.last
				}
				fmt.Fprintln(c.stdout, line)
			}
			return statusExit{status}
		},
	}
}

// runEnviron builds the OCF environment Pacemaker would give the agent:
// the caller's environment without its OCF variables, then the
// command line's.
func runEnviron(environ []string, def ocf.Definition, c *invocation) ([]string, error) {
	instance := c.String("instance")
	if instance == "" {
		return nil, usagef("run: --instance must not be empty")
	}
	env := make([]string, 0, len(environ)+16)
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "OCF_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_TYPE="+def.Name, "OCF_RESOURCE_PROVIDER=ocfbox",
		"OCF_RESOURCE_INSTANCE="+instance,
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"OCF_CHECK_LEVEL="+strconv.Itoa(c.Int("check-level")),
	)
	if c.IsSet("timeout") {
		timeout := c.Duration("timeout")
		if timeout <= 0 {
			return nil, usagef("run: --timeout %s is not a positive duration", timeout)
		}
		env = append(env, "OCF_RESKEY_CRM_meta_timeout="+strconv.FormatInt(timeout.Milliseconds(), 10))
	}
	if interval := c.Duration("interval"); interval < 0 {
		return nil, usagef("run: --interval %s is negative", interval)
	} else if interval > 0 {
		env = append(env, "OCF_RESKEY_CRM_meta_interval="+strconv.FormatInt(interval.Milliseconds(), 10))
	}
	md, err := def.ParsedMetadata()
	if err != nil {
		return nil, err
	}
	for _, p := range c.StringSlice("param") {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, usagef("run: --param %q is not NAME=VALUE", p)
		}
		if !declares(md, name) && !strings.HasPrefix(name, "CRM_meta_") && !slices.Contains(environmentParams, name) {
			return nil, usagef("run: --param %s: %s has no parameter %q (ocfbox meta-data %s lists them)", p, def.Name, name, def.Name)
		}
		env = append(env, "OCF_RESKEY_"+name+"="+value)
	}
	return env, nil
}

func declares(md *ocf.Metadata, name string) bool {
	for _, p := range md.Parameters {
		if p.Name == name {
			return true
		}
	}
	return false
}

// reasonCatcher passes an agent's stderr through and remembers the last
// exit reason, which `ocfbox run` prints next to the status.
type reasonCatcher struct {
	w    io.Writer
	buf  bytes.Buffer
	last string
}

func (r *reasonCatcher) Write(p []byte) (int, error) {
	r.buf.Write(p)
	for {
		line, err := r.buf.ReadString('\n')
		if err != nil {
			r.buf.WriteString(line) // incomplete: keep for later
			return len(p), nil
		}
		r.line(strings.TrimSuffix(line, "\n"))
	}
}

func (r *reasonCatcher) line(l string) {
	if reason, ok := strings.CutPrefix(l, "ocf-exit-reason:"); ok {
		r.last = reason
		return
	}
	fmt.Fprintln(r.w, l)
}

func (r *reasonCatcher) flush() {
	sc := bufio.NewScanner(&r.buf)
	for sc.Scan() {
		r.line(sc.Text())
	}
}

func (c *cli) installCommand() *command {
	return &command{
		name:  "install",
		usage: "create (or with --uninstall remove) the agent symlinks under ROOT/usr/lib/ocf/resource.d/PROVIDER/",
		options: []option{
			{name: "root", value: text("/"), placeholder: "value", usage: "install below this directory (a package's DESTDIR)", shown: `"/"`},
			{name: "provider", value: text("ocfbox"), placeholder: "value", usage: "OCF provider name", shown: `"ocfbox"`},
			{name: "target", value: text(""), placeholder: "value", usage: "absolute path the links point to, as seen on the installed system", shown: "this binary"},
			{name: "uninstall", value: boolean, usage: "remove the links instead", shown: "false"},
		},
		action: func(inv *invocation) error {
			if err := inv.wantArgs(0); err != nil {
				return err
			}
			root := inv.String("root")
			if root == "" {
				return usagef("install: --root must not be empty")
			}
			provider := inv.String("provider")
			if provider == "" || strings.ContainsAny(provider, "/") || strings.HasPrefix(provider, ".") {
				return usagef("install: --provider %q is not a provider name", provider)
			}
			target := inv.String("target")
			if !inv.IsSet("target") {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("install: find this binary: %w", err)
				}
				target = exe
			} else if !filepath.IsAbs(target) {
				return usagef("install: --target %q is not an absolute path; a relative link would resolve from the provider directory", target)
			}
			dir := filepath.Join(root, "usr/lib/ocf/resource.d", provider)
			if inv.Bool("uninstall") {
				return uninstallLinks(dir, target, c.stdout)
			}
			return installLinks(dir, target, c.stdout)
		},
	}
}

// isOcfboxLink reports whether a link's target is an ocfbox binary, which
// install may replace and uninstall may remove.
func isOcfboxLink(cur, target string) bool {
	return cur == target || filepath.Base(cur) == "ocfbox"
}

// installLinks creates one symlink per agent, leaving correct links alone.
// It changes nothing at all if any agent's path holds something that is
// not an ocfbox link. A link is replaced by renaming a new one over it,
// so Pacemaker never finds the agent missing during an upgrade.
func installLinks(dir, target string, stdout io.Writer) error {
	var todo, foreign []string
	for _, def := range agents.All {
		link := filepath.Join(dir, def.Name)
		cur, err := os.Readlink(link)
		switch {
		case err == nil && cur == target:
		case err == nil && isOcfboxLink(cur, target), errors.Is(err, fs.ErrNotExist):
			todo = append(todo, link)
		default:
			foreign = append(foreign, link)
		}
	}
	if len(foreign) > 0 {
		return fmt.Errorf("install: %s: not an ocfbox link; changed nothing", strings.Join(foreign, ", "))
	}
	if len(todo) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	for _, link := range todo {
		tmp := link + ".ocfbox-new"
		os.Remove(tmp) // left over from an interrupted install
		if err := os.Symlink(target, tmp); err != nil {
			return fmt.Errorf("install: %w", err)
		}
		if err := os.Rename(tmp, link); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("install: %w", err)
		}
		fmt.Fprintf(stdout, "%s -> %s\n", link, target)
	}
	return nil
}

// uninstallLinks removes the agents' links that point to an ocfbox
// binary, then the provider directory if nothing else is in it.
func uninstallLinks(dir, target string, stdout io.Writer) error {
	for _, def := range agents.All {
		link := filepath.Join(dir, def.Name)
		cur, err := os.Readlink(link)
		if err != nil || !isOcfboxLink(cur, target) {
			continue
		}
		if err := os.Remove(link); err != nil {
			return fmt.Errorf("uninstall: %w", err)
		}
		fmt.Fprintf(stdout, "removed %s\n", link)
	}
	if err := os.Remove(dir); err == nil {
		fmt.Fprintf(stdout, "removed %s\n", dir)
	}
	return nil
}
