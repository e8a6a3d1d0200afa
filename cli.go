package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

func runCLI(args, environ []string, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:                 "ocfbox",
		Usage:                "Pacemaker OCF resource agents in one binary",
		Version:              version,
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		ExitErrHandler:       func(*cli.Context, error) {}, // exit codes are decided below
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usagef("%v", err)
		},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(stderr, "ocfbox: unknown command %q (try: ocfbox help)\n", name)
		},
		Commands: []*cli.Command{
			listCommand(stdout),
			metadataCommand(stdout),
			runCommand(environ, stdout, stderr),
			installCommand(stdout),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(*cli.Context) error {
					fmt.Fprintf(stdout, "ocfbox %s\n", version)
					return nil
				},
			},
		},
	}
	if len(args) > 1 {
		if _, ok := findCommand(app, args[1]); !ok && !strings.HasPrefix(args[1], "-") && args[1] != "help" {
			fmt.Fprintf(stderr, "ocfbox: unknown command %q (try: ocfbox help)\n", args[1])
			return exitUsage
		}
	}
	err := app.Run(args)
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

func findCommand(app *cli.App, name string) (*cli.Command, bool) {
	for _, c := range app.Commands {
		if c.HasName(name) {
			return c, true
		}
	}
	return nil, false
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
		Action: func(*cli.Context) error {
			for _, def := range agents.All {
				md, err := ocf.ParseMetadata(def.Metadata)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s\t%s\n", def.Name, md.ShortDesc)
			}
			return nil
		},
	}
}

func metadataCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "meta-data",
		Usage:     "print an agent's meta-data XML",
		ArgsUsage: "AGENT",
		Action: func(c *cli.Context) error {
			def, err := lookupAgent(c)
			if err != nil {
				return err
			}
			status := ocf.Main(def, ocf.Invocation{Args: []string{def.Name, "meta-data"}, Stdout: stdout, Stderr: io.Discard})
			if status != ocf.Success {
				return statusExit{status}
			}
			return nil
		},
	}
}

func runCommand(environ []string, stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run one action of an agent, parameters as flags instead of OCF_RESKEY_*",
		ArgsUsage: "AGENT ACTION",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "parameter as name=value (repeatable)"},
			&cli.StringFlag{Name: "instance", Usage: "resource id (OCF_RESOURCE_INSTANCE)", Value: "ocfbox-run"},
			&cli.DurationFlag{Name: "timeout", Usage: "action timeout (CRM_meta_timeout)", Value: ocf.DefaultTimeout},
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
			env, err := runEnviron(environ, def.Name, c)
			if err != nil {
				return err
			}
			var reasons reasonCatcher
			reasons.w = stderr
			status := ocf.Main(def, ocf.Invocation{Args: []string{def.Name, action}, Environ: env, Stdout: stdout, Stderr: &reasons})
			reasons.flush()
			line := status.String()
			if reasons.last != "" {
				line += ": " + reasons.last
			}
			fmt.Fprintln(stdout, line)
			return statusExit{status}
		},
	}
}

// runEnviron builds the OCF environment Pacemaker would give the agent.
func runEnviron(environ []string, agent string, c *cli.Context) ([]string, error) {
	env := make([]string, 0, len(environ)+16)
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "OCF_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_TYPE="+agent, "OCF_RESOURCE_PROVIDER=ocfbox",
		"OCF_RESOURCE_INSTANCE="+c.String("instance"),
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"OCF_RESKEY_CRM_meta_timeout="+strconv.FormatInt(c.Duration("timeout").Milliseconds(), 10),
		"OCF_CHECK_LEVEL="+strconv.Itoa(c.Int("check-level")),
	)
	if iv := c.Duration("interval"); iv > 0 {
		env = append(env, "OCF_RESKEY_CRM_meta_interval="+strconv.FormatInt(iv.Milliseconds(), 10))
	}
	for _, p := range c.StringSlice("param") {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, usagef("run: --param %q is not name=value", p)
		}
		env = append(env, "OCF_RESKEY_"+name+"="+value)
	}
	return env, nil
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
			&cli.StringFlag{Name: "target", Usage: "path the links point to, as seen on the installed system (default: this binary)"},
			&cli.BoolFlag{Name: "uninstall", Usage: "remove the links instead"},
		},
		Action: func(c *cli.Context) error {
			provider := c.String("provider")
			if provider == "" || strings.ContainsAny(provider, "/.") {
				return usagef("install: --provider %q is not a provider name", provider)
			}
			dir := filepath.Join(c.String("root"), "usr/lib/ocf/resource.d", provider)
			target := c.String("target")
			if target == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("install: find this binary: %w", err)
				}
				target = exe
			}
			if c.Bool("uninstall") {
				return uninstallLinks(dir, stdout)
			}
			return installLinks(dir, target, stdout)
		},
	}
}

// installLinks creates one symlink per agent, leaving correct links alone
// and refusing to replace anything that is not an ocfbox link.
func installLinks(dir, target string, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	for _, def := range agents.All {
		link := filepath.Join(dir, def.Name)
		cur, err := os.Readlink(link)
		switch {
		case err == nil && cur == target:
			continue
		case err == nil && filepath.Base(cur) == "ocfbox":
			if err := os.Remove(link); err != nil {
				return fmt.Errorf("install: replace %s: %w", link, err)
			}
		case err == nil || !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("install: %s exists and is not an ocfbox link; leaving it alone", link)
		}
		if err := os.Symlink(target, link); err != nil {
			return fmt.Errorf("install: %w", err)
		}
		fmt.Fprintf(stdout, "%s -> %s\n", link, target)
	}
	return nil
}

// uninstallLinks removes the agents' links that point to an ocfbox
// binary, then the provider directory if nothing else is in it.
func uninstallLinks(dir string, stdout io.Writer) error {
	for _, def := range agents.All {
		link := filepath.Join(dir, def.Name)
		cur, err := os.Readlink(link)
		if err != nil || filepath.Base(cur) != "ocfbox" {
			continue
		}
		if err := os.Remove(link); err != nil {
			return fmt.Errorf("uninstall: %w", err)
		}
		fmt.Fprintf(stdout, "removed %s\n", link)
	}
	os.Remove(dir) // only succeeds when empty
	return nil
}
