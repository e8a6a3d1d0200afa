package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ocfbox/ocfbox/agents"
	"github.com/ocfbox/ocfbox/ocf"
)

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

// runCLI is ocfbox run by its own name: a command-line tool for people.
// It returns the exit code: 0, the agent's status for `run`, exitUsage
// for a mistake on the command line, 1 for any other failure.
func runCLI(args, environ []string, stdout, stderr io.Writer) int {
	var unknownCommand string
	app := &cli.App{
		Name:                 "ocfbox",
		Usage:                "Pacemaker OCF resource agents in one binary",
		Version:              version,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: false,
		// A parameter value may hold commas (migrate_options, a CSV of
		// options); --param is repeated instead.
		DisableSliceFlagSeparator: true,
		ExitErrHandler:            func(*cli.Context, error) {}, // exit codes are decided below
		OnUsageError:              onUsageError,
		// Called for `ocfbox bogus` and `ocfbox help bogus`.
		CommandNotFound: func(_ *cli.Context, name string) { unknownCommand = name },
		Commands: []*cli.Command{
			listCommand(stdout),
			metadataCommand(environ, stdout, stderr),
			runCommand(environ, stdout, stderr),
			installCommand(stdout),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					if err := wantArgs(c, 0); err != nil {
						return err
					}
					fmt.Fprintf(stdout, "ocfbox version %s\n", version)
					return nil
				},
			},
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = onUsageError
		cmd.HideHelpCommand = true // `ocfbox run help` is not a request for help
	}
	err := app.Run(flagsFirst(app, args))
	if unknownCommand != "" && err == nil {
		err = usagef("unknown command %q (ocfbox help lists them)", unknownCommand)
	}
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

// onUsageError turns urfave/cli's flag errors into usage errors, instead
// of its default of printing the help text to stdout and exiting 1.
func onUsageError(c *cli.Context, err error, _ bool) error {
	name := "ocfbox"
	if c.Command != nil && c.Command.Name != "" {
		name += " " + c.Command.Name
	}
	return usagef("%v (see %s --help)", err, name)
}

// flagsFirst moves a command's flags ahead of its arguments. urfave/cli
// v2 stops reading flags at the first argument, so `ocfbox run Dummy
// start -p state=/x` would lose the parameter and `ocfbox run Dummy start
// --help` would start the resource instead of showing help. Everything
// after "--" stays an argument.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, name := range f.Names() {
			takesValue[name] = !isBool
		}
	}
	var flags, rest []string
	for i := 2; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case arg == "-h" || arg == "--help":
			// urfave/cli's help would take the arguments for
			// subcommands to describe: show the command's own help.
			return []string{args[0], args[1], "--help"}
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
	out := append([]string{args[0], args[1]}, flags...)
	return append(append(out, "--"), rest...)
}

// wantArgs checks the number of positional arguments of a command.
func wantArgs(c *cli.Context, n int) error {
	if c.NArg() > n {
		return usagef("%s: unexpected argument %q", c.Command.Name, c.Args().Get(n))
	}
	return nil
}

func lookupAgent(c *cli.Context) (ocf.Definition, error) {
	name := c.Args().First()
	if name == "" {
		return ocf.Definition{}, usagef("%s: which agent? (ocfbox list shows them)", c.Command.Name)
	}
	def, ok := agents.Lookup(name)
	if !ok {
		return ocf.Definition{}, usagef("%s: no agent named %q (ocfbox list shows them)", c.Command.Name, name)
	}
	return def, nil
}

func listCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the agents, one per line: NAME<TAB>description",
		Action: func(c *cli.Context) error {
			if err := wantArgs(c, 0); err != nil {
				return err
			}
			for _, def := range agents.All {
				md, err := def.ParsedMetadata()
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s\t%s\n", def.Name, md.ShortDesc)
			}
			return nil
		},
	}
}

func metadataCommand(environ []string, stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "meta-data",
		Usage:     "print an agent's meta-data XML",
		ArgsUsage: "AGENT",
		Action: func(c *cli.Context) error {
			def, err := lookupAgent(c)
			if err != nil {
				return err
			}
			if err := wantArgs(c, 1); err != nil {
				return err
			}
			status := ocf.Main(def, ocf.Invocation{Args: []string{def.Name, "meta-data"}, Environ: environ, Stdout: stdout, Stderr: stderr})
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

func runCommand(environ []string, stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run one action of an agent, parameters as flags instead of OCF_RESKEY_*",
		Description: "Runs the action as Pacemaker would and prints its status, with the exit reason if any;\n" +
			"the exit code is the agent's. Meta attributes go in as --param CRM_meta_NAME=VALUE.",
		ArgsUsage: "AGENT ACTION",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "parameter as `NAME=VALUE` (repeatable)"},
			&cli.StringFlag{Name: "instance", Usage: "resource id (OCF_RESOURCE_INSTANCE)", Value: "ocfbox-run"},
			&cli.DurationFlag{Name: "timeout", Usage: "action timeout (CRM_meta_timeout)", DefaultText: "the agent's advised timeout"},
			&cli.IntFlag{Name: "check-level", Usage: "OCF_CHECK_LEVEL for monitor and validate-all"},
			&cli.DurationFlag{Name: "interval", Usage: "monitor interval (0 makes monitor a probe)"},
		},
		Action: func(c *cli.Context) error {
			def, err := lookupAgent(c)
			if err != nil {
				return err
			}
			action := c.Args().Get(1)
			if action == "" {
				return usagef("run: which action? (e.g. ocfbox run %s monitor)", def.Name)
			}
			if c.NArg() > 2 {
				return usagef("run: unexpected argument %q after the action (parameters go in --param NAME=VALUE)", c.Args().Get(2))
			}
			env, err := runEnviron(environ, def, c)
			if err != nil {
				return err
			}
			reasons := reasonCatcher{w: stderr}
			status := ocf.Main(def, ocf.Invocation{Args: []string{def.Name, action}, Environ: env, Stdout: stdout, Stderr: &reasons})
			reasons.flush()
			switch action {
			case "meta-data", "usage", "help":
				// stdout is the document; keep it clean.
			default:
				line := status.String()
				if reasons.last != "" {
					line += ": " + reasons.last
				}
				fmt.Fprintln(stdout, line)
			}
			return statusExit{status}
		},
	}
}

// runEnviron builds the OCF environment Pacemaker would give the agent:
// the caller's environment without its OCF variables, then the
// command line's.
func runEnviron(environ []string, def ocf.Definition, c *cli.Context) ([]string, error) {
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
		t := c.Duration("timeout")
		if t <= 0 {
			return nil, usagef("run: --timeout %s is not a positive duration", t)
		}
		env = append(env, "OCF_RESKEY_CRM_meta_timeout="+strconv.FormatInt(t.Milliseconds(), 10))
	}
	if iv := c.Duration("interval"); iv < 0 {
		return nil, usagef("run: --interval %s is negative", iv)
	} else if iv > 0 {
		env = append(env, "OCF_RESKEY_CRM_meta_interval="+strconv.FormatInt(iv.Milliseconds(), 10))
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

func installCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "install",
		Usage: "create (or with --uninstall remove) the agent symlinks under ROOT/usr/lib/ocf/resource.d/PROVIDER/",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/", Usage: "install below this directory (a package's DESTDIR)"},
			&cli.StringFlag{Name: "provider", Value: "ocfbox", Usage: "OCF provider name"},
			&cli.StringFlag{Name: "target", Usage: "absolute path the links point to, as seen on the installed system", DefaultText: "this binary"},
			&cli.BoolFlag{Name: "uninstall", Usage: "remove the links instead"},
		},
		Action: func(c *cli.Context) error {
			if err := wantArgs(c, 0); err != nil {
				return err
			}
			root := c.String("root")
			if root == "" {
				return usagef("install: --root must not be empty")
			}
			provider := c.String("provider")
			if provider == "" || strings.ContainsAny(provider, "/") || strings.HasPrefix(provider, ".") {
				return usagef("install: --provider %q is not a provider name", provider)
			}
			target := c.String("target")
			if !c.IsSet("target") {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("install: find this binary: %w", err)
				}
				target = exe
			} else if !filepath.IsAbs(target) {
				return usagef("install: --target %q is not an absolute path; a relative link would resolve from the provider directory", target)
			}
			dir := filepath.Join(root, "usr/lib/ocf/resource.d", provider)
			if c.Bool("uninstall") {
				return uninstallLinks(dir, target, stdout)
			}
			return installLinks(dir, target, stdout)
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
