package apacheconf

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Options are what httpd knows before it reads its configuration file:
// its command line and its build.
type Options struct {
	// ServerRoot is the initial ServerRoot (httpd -d, else the compiled-in
	// HTTPD_ROOT). Empty means the configuration file's directory, which
	// is Debian's and SUSE's HTTPD_ROOT for their stock layouts; Red Hat's
	// httpd.conf sets ServerRoot itself.
	ServerRoot string
	// Defines are the -D names on the command line.
	Defines []string
	// Env is httpd's environment, for ${VAR}; nil means none.
	Env *Env
	// StaticModules are the modules compiled into httpd, by source file
	// name ("core.c") or identifier ("core_module"); nil means
	// DefaultStaticModules.
	StaticModules []string
	// Version is httpd's version for <IfVersion>; empty means
	// DefaultVersion.
	Version string
	// RelRuntimeDir is the compiled-in DEFAULT_REL_RUNTIMEDIR, where a
	// relative PidFile goes when DefaultRuntimeDir is not set, relative
	// to ServerRoot. Empty means ServerRoot itself, which is what
	// Debian's httpd does (and what the reference agent assumes); Red
	// Hat's build uses "run".
	RelRuntimeDir string
	// Lenient turns what would only stop httpd from starting again (an
	// Include of a file that is not there, a section left open at the
	// end of a file) into Warnings, so that a running server can still be
	// found and monitored after its configuration was edited.
	Lenient bool
}

// DefaultStaticModules are the modules Debian's and Red Hat's httpd 2.4
// have built in (httpd -l).
var DefaultStaticModules = []string{
	"core.c", "mod_so.c", "mod_watchdog.c", "http_core.c", "mod_log_config.c",
	"mod_logio.c", "mod_version.c", "mod_unixd.c",
}

// DefaultVersion stands for "a current httpd 2.4" in <IfVersion>.
const DefaultVersion = "2.4.9999"

// maxIncludeDepth is httpd's AP_MAX_INCLUDE_DEPTH.
const maxIncludeDepth = 128

// Config is what Parse found in a configuration.
type Config struct {
	File       string // the main configuration file
	ServerRoot string // the final ServerRoot
	// PidFile is the absolute pid file path, or "" when the
	// configuration sets none (httpd then uses its compiled-in default).
	PidFile string
	// RuntimeDir is DefaultRuntimeDir, absolute (see
	// Options.RelRuntimeDir when the configuration sets none).
	RuntimeDir string
	// ErrorLog is the main server's error log file, absolute, or "" when
	// it is a pipe, syslog or not set.
	ErrorLog        string
	Listeners       []Listener
	VirtualHosts    []*VirtualHost
	StatusLocations []StatusLocation
	// Files lists every file read, in the order httpd reads them.
	Files []string
	// Warnings are things httpd would warn about too, such as an
	// undefined ${VAR}.
	Warnings []string

	sslMain bool // SSLEngine on in the main server
}

// Listener is one Listen directive.
type Listener struct {
	Addr     string // IP address or host name, without brackets; "" for all addresses
	Port     int
	Protocol string // as given ("https", "http"), lower case; "" when not given
}

// VirtualHost is one <VirtualHost> section.
type VirtualHost struct {
	Addrs []HostPort
	SSL   bool   // SSLEngine on (or optional) inside it
	Pos   string // file:line of the section
}

// HostPort is a <VirtualHost> address; Host "*" or "_default_" means any
// address, Port 0 any port.
type HostPort struct {
	Host string
	Port int
}

// StatusLocation is a <Location> served by mod_status.
type StatusLocation struct {
	Path        string
	VirtualHost *VirtualHost // nil for the main server (every virtual host inherits it)
	Pos         string       // file:line of the SetHandler
}

// Error is a configuration httpd would refuse to read.
type Error struct {
	File string
	Line int // 0 when the error concerns the whole file
	Err  error
}

// Error puts what is wrong before where, so that the start of the
// message (what an exit reason keeps) says it.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%v (%s line %d)", e.Err, e.File, e.Line)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNoMatch is an Include whose wildcard matches nothing.
var ErrNoMatch = errors.New("no files match")

var errIncludeDepth = errors.New("exceeded the maximum include depth")

// Parse reads the configuration file and everything it includes.
func Parse(file string, opts Options) (*Config, error) {
	p := &parser{
		cfg:     &Config{File: file},
		opts:    opts,
		root:    opts.ServerRoot,
		defines: map[string]string{},
		modules: map[string]bool{},
	}
	if p.root == "" {
		p.root = filepath.Dir(file)
	}
	if p.opts.Version == "" {
		p.opts.Version = DefaultVersion
	}
	for _, d := range opts.Defines {
		p.defines[d] = ""
	}
	static := opts.StaticModules
	if static == nil {
		static = DefaultStaticModules
	}
	for _, m := range static {
		p.modules[m] = true
		if id, ok := moduleIDOf(m); ok {
			p.modules[id] = true
		}
	}
	if err := p.file(file, 0); err != nil {
		return nil, err
	}
	if len(p.stack) > 0 {
		top := p.stack[len(p.stack)-1]
		err := &Error{File: top.file, Line: top.line, Err: fmt.Errorf("<%s> was not closed", top.name)}
		if !opts.Lenient {
			return nil, err
		}
		p.cfg.Warnings = append(p.cfg.Warnings, err.Error())
	}
	p.finish()
	return p.cfg, nil
}

// moduleIDOf maps a module's source file name to its identifier, for the
// built-in modules: mod_so.c → so_module, http_core.c → http_module,
// core.c → core_module.
func moduleIDOf(src string) (string, bool) {
	base, ok := strings.CutSuffix(src, ".c")
	if !ok {
		return "", false
	}
	switch base {
	case "core":
		return "core_module", true
	case "http_core":
		return "http_module", true
	}
	return strings.TrimPrefix(base, "mod_") + "_module", true
}

type section struct {
	name       string // lower case
	file       string
	line       int
	skip       bool // its contents do not apply
	location   string
	isLocation bool
	vhost      *VirtualHost
}

type parser struct {
	cfg     *Config
	opts    Options
	root    string
	defines map[string]string
	modules map[string]bool
	stack   []section

	pidFile, runtimeDir, errorLog string
}

func (p *parser) skipping() bool {
	return len(p.stack) > 0 && p.stack[len(p.stack)-1].skip
}

func (p *parser) vhost() *VirtualHost {
	for i := len(p.stack) - 1; i >= 0; i-- {
		if p.stack[i].vhost != nil {
			return p.stack[i].vhost
		}
	}
	return nil
}

func (p *parser) location() (string, bool) {
	for i := len(p.stack) - 1; i >= 0; i-- {
		if p.stack[i].isLocation {
			return p.stack[i].location, true
		}
	}
	return "", false
}

// file reads one configuration file.
func (p *parser) file(path string, depth int) error {
	f, err := os.Open(path)
	if err != nil {
		return &Error{File: path, Err: err}
	}
	defer f.Close()
	p.cfg.Files = append(p.cfg.Files, path)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024) // httpd: MAX_STRING_LEN lines, continued
	n, start := 0, 0
	var logical strings.Builder
	for sc.Scan() {
		n++
		line := sc.Text()
		if logical.Len() == 0 {
			start = n
		}
		// A backslash at the end continues the line.
		if trimmed := strings.TrimRight(line, " \t\r"); strings.HasSuffix(trimmed, "\\") {
			logical.WriteString(strings.TrimSuffix(trimmed, "\\"))
			continue
		}
		logical.WriteString(line)
		text := logical.String()
		logical.Reset()
		if err := p.line(path, start, text, depth); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &Error{File: path, Line: n, Err: err}
	}
	if logical.Len() > 0 {
		return p.line(path, start, logical.String(), depth)
	}
	return nil
}

func (p *parser) line(file string, n int, text string, depth int) error {
	text = strings.TrimSpace(text)
	if text == "" || text[0] == '#' {
		return nil
	}
	fail := func(format string, args ...any) error {
		return &Error{File: file, Line: n, Err: fmt.Errorf(format, args...)}
	}
	if !p.skipping() {
		text = p.resolveVars(text, file, n)
	}
	if strings.HasPrefix(text, "</") {
		name := strings.ToLower(strings.TrimSpace(strings.TrimSuffix(text[2:], ">")))
		if len(p.stack) == 0 {
			return fail("</%s> without matching <%s> section", name, name)
		}
		top := p.stack[len(p.stack)-1]
		if top.name != name {
			return fail("expected </%s> but saw </%s>", top.name, name)
		}
		p.stack = p.stack[:len(p.stack)-1]
		return nil
	}
	if text[0] == '<' {
		if !strings.HasSuffix(text, ">") {
			return fail("%s directive missing closing '>'", firstField(text))
		}
		inner := strings.TrimSuffix(text[1:], ">")
		name := firstField(inner)
		args := words(strings.TrimSpace(inner[len(name):]))
		return p.open(file, n, strings.ToLower(name), args)
	}
	if p.skipping() {
		return nil
	}
	name := firstField(text)
	args := words(strings.TrimSpace(text[len(name):]))
	return p.directive(file, n, strings.ToLower(name), args, depth, fail)
}

func firstField(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}

// open handles a section start.
func (p *parser) open(file string, n int, name string, args []string) error {
	s := section{name: name, file: file, line: n, skip: p.skipping()}
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	if !s.skip {
		switch name {
		case "ifmodule":
			s.skip = !p.condition(arg, func(m string) bool { return p.modules[m] })
		case "ifdefine":
			s.skip = !p.condition(arg, func(d string) bool { _, ok := p.defines[d]; return ok })
		case "iffile":
			s.skip = !p.condition(arg, func(f string) bool {
				_, err := os.Stat(p.abs(f))
				return err == nil
			})
		case "ifversion":
			s.skip = !versionMatches(p.opts.Version, args)
		case "if", "elseif", "else", "macro":
			s.skip = true
		case "virtualhost":
			vh := &VirtualHost{Pos: fmt.Sprintf("%s:%d", file, n)}
			for _, a := range args {
				vh.Addrs = append(vh.Addrs, parseHostPort(a))
			}
			p.cfg.VirtualHosts = append(p.cfg.VirtualHosts, vh)
			s.vhost = vh
		case "location":
			s.isLocation, s.location = true, arg
		case "locationmatch":
			s.isLocation = true // a regular expression: no usable path
		}
	}
	p.stack = append(p.stack, s)
	return nil
}

// condition evaluates an <IfModule>-style argument: NAME or !NAME.
func (p *parser) condition(arg string, have func(string) bool) bool {
	if neg, ok := strings.CutPrefix(arg, "!"); ok {
		return !have(neg)
	}
	return have(arg)
}

func (p *parser) directive(file string, n int, name string, args []string, depth int,
	fail func(string, ...any) error) error {
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	switch name {
	case "include", "includeoptional":
		if arg == "" {
			return fail("%s takes one argument", name)
		}
		if depth+1 > maxIncludeDepth {
			return fail("%w of %d (an Include loop?)", errIncludeDepth, maxIncludeDepth)
		}
		if err := p.include(arg, name == "includeoptional", depth+1); err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.Line == 0 {
				// An error inside the included file names it already.
				err = fail("%s %s: %w", name, arg, err)
			}
			if !p.opts.Lenient || errors.Is(err, errIncludeDepth) {
				return err
			}
			p.cfg.Warnings = append(p.cfg.Warnings, err.Error())
		}
	case "serverroot":
		if arg == "" {
			return fail("ServerRoot takes one argument")
		}
		p.root = p.absFrom(p.root, arg)
	case "define":
		if arg == "" {
			return fail("Define takes one or two arguments")
		}
		val := ""
		if len(args) > 1 {
			val = args[1]
		}
		p.defines[arg] = val
	case "undefine":
		delete(p.defines, arg)
	case "loadmodule":
		if len(args) >= 2 {
			p.modules[args[0]] = true
			so := filepath.Base(args[1])
			p.modules[strings.TrimSuffix(so, filepath.Ext(so))+".c"] = true
		}
	case "listen":
		l, err := parseListen(args)
		if err != nil {
			return fail("Listen %s: %w", strings.Join(args, " "), err)
		}
		p.cfg.Listeners = append(p.cfg.Listeners, l)
	case "pidfile":
		p.pidFile = arg
	case "defaultruntimedir":
		p.runtimeDir = arg
	case "errorlog":
		if p.vhost() == nil {
			p.errorLog = arg
		}
	case "sslengine":
		on := strings.EqualFold(arg, "on") || strings.EqualFold(arg, "optional")
		if vh := p.vhost(); vh != nil {
			vh.SSL = on
		} else {
			p.cfg.sslMain = on
		}
	case "sethandler":
		if !strings.EqualFold(arg, "server-status") {
			return nil
		}
		if loc, ok := p.location(); ok && loc != "" {
			p.cfg.StatusLocations = append(p.cfg.StatusLocations, StatusLocation{
				Path: loc, VirtualHost: p.vhost(), Pos: fmt.Sprintf("%s:%d", file, n),
			})
		}
	}
	return nil
}

// include reads what an Include names: a file, a directory (recursively,
// in name order) or a wildcard pattern.
func (p *parser) include(spec string, optional bool, depth int) error {
	path := p.abs(spec)
	if !strings.ContainsAny(path, "*?[") {
		fi, err := os.Stat(path)
		if err != nil {
			if optional && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the Include line names the path
			}
			return err
		}
		if fi.IsDir() {
			return p.dir(path, depth)
		}
		return p.file(path, depth)
	}
	matches, err := filepath.Glob(path)
	if err != nil {
		return fmt.Errorf("bad wildcard: %w", err)
	}
	if len(matches) == 0 {
		if optional {
			return nil
		}
		return ErrNoMatch
	}
	sort.Strings(matches)
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			err = p.dir(m, depth)
		} else {
			err = p.file(m, depth)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) dir(path string, depth int) error {
	entries, err := os.ReadDir(path) // sorted by name
	if err != nil {
		return err
	}
	for _, e := range entries {
		full := filepath.Join(path, e.Name())
		fi, err := os.Stat(full)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			err = p.dir(full, depth)
		} else {
			err = p.file(full, depth)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// abs resolves a path as httpd does: relative paths are relative to
// ServerRoot.
func (p *parser) abs(path string) string { return p.absFrom(p.root, path) }

func (p *parser) absFrom(root, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(root, path)
}

// resolveVars replaces ${NAME} with a Define's value or an environment
// variable, leaving undefined ones as they are (httpd warns about them).
func (p *parser) resolveVars(s, file string, n int) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			b.WriteString(s)
			return b.String()
		}
		name := s[i+2 : i+end]
		b.WriteString(s[:i])
		if v, ok := p.defines[name]; ok {
			b.WriteString(v)
		} else if v, ok := p.lookupEnv(name); ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+end+1])
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s line %d: config variable ${%s} is not defined", file, n, name))
		}
		s = s[i+end+1:]
	}
}

func (p *parser) lookupEnv(name string) (string, bool) {
	if p.opts.Env == nil {
		return "", false
	}
	return p.opts.Env.Lookup(name)
}

// finish resolves what httpd resolves once the whole configuration is
// read: paths relative to the final ServerRoot or to DefaultRuntimeDir.
func (p *parser) finish() {
	c := p.cfg
	c.ServerRoot = p.root
	c.RuntimeDir = p.abs(p.opts.RelRuntimeDir)
	if p.runtimeDir != "" {
		c.RuntimeDir = p.abs(p.runtimeDir)
	}
	if p.pidFile != "" {
		c.PidFile = p.absFrom(c.RuntimeDir, p.pidFile)
	}
	if p.errorLog != "" && !strings.HasPrefix(p.errorLog, "|") && !strings.HasPrefix(p.errorLog, "syslog") {
		c.ErrorLog = p.abs(p.errorLog)
	}
}

// words splits directive arguments as httpd's ap_getword_conf does:
// white space separates, and "…" or '…' quote (a backslash escapes the
// quote character inside).
func words(s string) []string {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out
		}
		if q := s[0]; q == '"' || q == '\'' {
			var b strings.Builder
			i := 1
			for i < len(s) && s[i] != q {
				if s[i] == '\\' && i+1 < len(s) && s[i+1] == q {
					i++
				}
				b.WriteByte(s[i])
				i++
			}
			out = append(out, b.String())
			if i < len(s) {
				i++
			}
			s = s[i:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}

// parseListen reads Listen's arguments: [address:]port [protocol].
func parseListen(args []string) (Listener, error) {
	if len(args) == 0 || len(args) > 2 {
		return Listener{}, errors.New("takes an address and port, and optionally a protocol")
	}
	l := Listener{}
	if len(args) == 2 {
		l.Protocol = strings.ToLower(args[1])
	}
	spec := args[0]
	portStr := spec
	switch {
	case strings.HasPrefix(spec, "["):
		end := strings.Index(spec, "]")
		if end < 0 || !strings.HasPrefix(spec[end+1:], ":") {
			return l, errors.New("an IPv6 address needs the form [address]:port")
		}
		l.Addr, portStr = spec[1:end], spec[end+2:]
	case strings.Contains(spec, ":"):
		i := strings.LastIndex(spec, ":")
		l.Addr, portStr = spec[:i], spec[i+1:]
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return l, fmt.Errorf("port %q is not a port number", portStr)
	}
	l.Port = port
	if l.Addr == "*" {
		l.Addr = ""
	}
	return l, nil
}

// parseHostPort reads a <VirtualHost> address: host[:port], [v6][:port],
// * and _default_ (any address), port * (any port).
func parseHostPort(s string) HostPort {
	hp := HostPort{Host: s}
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		if end := strings.Index(s, "]"); end > 0 {
			host = s[1:end]
			port, _ = strings.CutPrefix(s[end+1:], ":")
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	}
	hp.Host = host
	if n, err := strconv.Atoi(port); err == nil {
		hp.Port = n
	}
	return hp
}

// versionMatches evaluates <IfVersion [[!]op] version> for a plain
// dotted version; regular-expression forms (~ or /re/) are taken as true.
func versionMatches(have string, args []string) bool {
	op, want := "=", ""
	switch len(args) {
	case 1:
		want = args[0]
	case 2:
		op, want = args[0], args[1]
	default:
		return true
	}
	neg := false
	if rest, ok := strings.CutPrefix(op, "!"); ok {
		neg, op = true, rest
	}
	if op == "~" || strings.HasPrefix(want, "/") {
		return true
	}
	c := compareVersions(have, want)
	var r bool
	switch op {
	case "=", "==":
		r = c == 0
	case ">":
		r = c > 0
	case ">=":
		r = c >= 0
	case "<":
		r = c < 0
	case "<=":
		r = c <= 0
	default:
		return true
	}
	return r != neg
}

// compareVersions compares dotted versions, only as many components as
// want has ("2.4.9999" equals "2.4").
func compareVersions(have, want string) int {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := range w {
		hv, wv := 0, 0
		if i < len(h) {
			hv, _ = strconv.Atoi(h[i])
		}
		wv, _ = strconv.Atoi(w[i])
		if hv != wv {
			if hv < wv {
				return -1
			}
			return 1
		}
	}
	return 0
}
