package apache

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/apacheconf"
)

// instance is everything one invocation knows about the resource: its
// parameters, checked, and what its configuration says.
type instance struct {
	configFile string
	httpdParam string // the httpd parameter as given (or its default)
	options    []string
	env        *apacheconf.Env
	conf       *apacheconf.Config

	// pidFile is where httpd writes its pid; pidDirective says it is not
	// in the configuration, so start passes it with -c.
	pidFile      string
	pidDirective bool

	statusURL   *url.URL
	statusFound bool // a server-status location was found (or statusurl is set)
	baseURL     *url.URL
	testRegex   *regexp.Regexp
	useIPv6     bool
	client      string
	// explicit is true when the operator set any of the monitor's
	// parameters; only otherwise may a failing status page be made up
	// for by a plain request for the front page (as the reference does).
	explicit bool
}

// foregroundOptions keep httpd from detaching, which start cannot wait
// for: it would block until its timeout.
var foregroundOptions = map[string]bool{"-X": true, "FOREGROUND": true, "NO_DETACH": true, "ONE_PROCESS": true}

// params checks the parameters that need no file on this host. Bind has
// checked their types already.
func params(r *ocf.Resource) (*instance, error) {
	in, err := checkParams(r)
	return in, ocf.BadParameter(err)
}

func checkParams(r *ocf.Resource) (*instance, error) {
	p := r.Params
	in := &instance{
		httpdParam: p.String("httpd"),
		useIPv6:    p.Bool("use_ipv6"),
		client:     strings.TrimSpace(p.String("client")),
	}
	for _, name := range []string{"statusurl", "testregex", "testregex10", "testurl", "testconffile"} {
		in.explicit = in.explicit || p.IsSet(name)
	}
	if p.IsSet("port") {
		if n := p.Int("port"); n < 1 || n > 65535 {
			return nil, ocf.Configured("port=%q is not a port number (1-65535)", p.String("port"))
		}
	}
	if v := p.String("statusurl"); p.IsSet("statusurl") {
		u, err := parseHTTPURL(v)
		if err != nil {
			return nil, ocf.Configured("statusurl=%q: %v", v, err)
		}
		in.statusURL, in.statusFound = u, true
	}
	var err error
	if in.testRegex, err = compileRegex(p.String("testregex")); err != nil {
		return nil, ocf.Configured("testregex=%q: %v", p.String("testregex"), err)
	}
	if v := p.String("testregex10"); p.IsSet("testregex10") {
		if _, err := compileRegex(v); err != nil {
			return nil, ocf.Configured("testregex10=%q: %v", v, err)
		}
	}
	if v := p.String("testurl"); p.IsSet("testurl") && strings.TrimSpace(v) == "" {
		return nil, ocf.Configured("testurl=%q is blank", v)
	}
	in.options = strings.Fields(p.String("options"))
	for i, o := range in.options {
		name, isDefine := strings.CutPrefix(o, "-D")
		if isDefine && name == "" && i+1 < len(in.options) {
			name = in.options[i+1]
		}
		if foregroundOptions[o] || (isDefine && foregroundOptions[name]) {
			return nil, ocf.Configured("options=%q: %s keeps httpd in the foreground; the agent needs it to detach", p.String("options"), o)
		}
	}
	in.configFile = p.String("configfile")
	if p.IsSet("configfile") && !filepath.IsAbs(in.configFile) {
		return nil, ocf.Configured("configfile=%q is not an absolute path", in.configFile)
	}
	return in, nil
}

// parseHTTPURL accepts an absolute http or https URL.
func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.Unwrap(err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("not an absolute http:// or https:// URL")
	}
	return u, nil
}

// load reads the parameters, the environment files and the configuration.
func (a *Agent) load(r *ocf.Resource, lenient bool) (*instance, error) {
	in, err := params(r)
	if err != nil {
		return nil, err
	}
	if !r.Params.IsSet("configfile") {
		in.configFile = a.defaultConfig()
	}
	in.env = apacheconf.NewEnv(r.Env.Environ)
	envfiles := r.Params.String("envfiles")
	if v, given := r.Env.Params["envfiles"]; given && strings.TrimSpace(v) == "" {
		envfiles = "" // set to empty: read none (the default applies only when unset)
	}
	for _, f := range strings.Fields(envfiles) {
		if err := in.env.LoadEnvFile(f); err != nil {
			return nil, ocf.Installed("envfiles=%q: %w", envfiles, err)
		}
	}
	for _, s := range in.env.Skipped {
		r.Log.Debug("envfiles: line not applied (not a plain assignment): " + s)
	}
	fi, err := os.Stat(in.configFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, ocf.Installed("configfile=%q does not exist", in.configFile)
	case err != nil:
		return nil, ocf.Installed("configfile=%q: %w", in.configFile, err)
	case !fi.Mode().IsRegular():
		return nil, ocf.Installed("configfile=%q is not a regular file", in.configFile)
	}
	opts := apacheconf.Options{Env: in.env, Defines: []string{"STATUS"}, Lenient: lenient}
	for i, o := range in.options {
		switch {
		case o == "-D" && i+1 < len(in.options):
			opts.Defines = append(opts.Defines, in.options[i+1])
		case strings.HasPrefix(o, "-D") && len(o) > 2:
			opts.Defines = append(opts.Defines, o[2:])
		case o == "-d" && i+1 < len(in.options):
			opts.ServerRoot = in.options[i+1]
		case strings.HasPrefix(o, "-d") && len(o) > 2:
			opts.ServerRoot = o[2:]
		}
	}
	in.conf, err = apacheconf.Parse(in.configFile, opts)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		// A file it includes is missing (or unreadable) on this node: a
		// problem of this node, not of the configuration everywhere.
		return nil, ocf.Installed("configfile: %w", err)
	}
	if err != nil {
		// The error names the file (configfile's value or a file it
		// includes) after what is wrong with it.
		return nil, ocf.Configured("configfile: %w", err)
	}
	for _, w := range in.conf.Warnings {
		r.Log.Debug("configfile: " + w)
	}
	in.pidFile = in.conf.PidFile
	if in.pidFile == "" {
		in.pidFile = defaultPidFile(r, a.resolveHTTPD(in.httpdParam), in.httpdParam)
		in.pidDirective = true
	}
	port := 0
	if r.Params.IsSet("port") {
		port = r.Params.Int("port")
	}
	in.baseURL = in.conf.BaseURL(port)
	if in.statusURL == nil {
		in.statusURL, in.statusFound = in.conf.StatusURL(port)
	}
	return in, nil
}

// defaultConfig is the reference's choice when configfile is not set:
// SUSE's, else Debian's, else Red Hat's.
func (a *Agent) defaultConfig() string {
	for _, c := range a.DefaultConfigs[:len(a.DefaultConfigs)-1] {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			return c
		}
	}
	return a.DefaultConfigs[len(a.DefaultConfigs)-1]
}

// resolveHTTPD is the binary the reference would run: the httpd
// parameter when it is an executable file, else the first executable of
// the usual places; "" when there is none.
func (a *Agent) resolveHTTPD(param string) string {
	for _, p := range append([]string{param}, a.HTTPDs...) {
		if isExecutable(p) {
			return p
		}
	}
	return ""
}

// httpd returns the binary to run, or an ErrInstalled error.
func (a *Agent) httpd(r *ocf.Resource, in *instance) (string, error) {
	if a.binary != "" {
		return a.binary, nil
	}
	path := a.resolveHTTPD(in.httpdParam)
	if path == "" || r.Run.NoBinaries {
		return "", ocf.Installed("httpd=%q is not an executable file, and none of %s is", in.httpdParam, strings.Join(a.HTTPDs, ", "))
	}
	if path != in.httpdParam && r.Params.IsSet("httpd") {
		r.Log.Info(fmt.Sprintf("httpd=%s is not an executable file; using %s", in.httpdParam, path))
	}
	a.binary = path
	return path, nil
}

func isExecutable(path string) bool {
	if path == "" {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// defaultPidFile is where start tells httpd (with -c PidFile) to write
// its pid when the configuration does not say: HA_VARRUN/NAME-INSTANCE.pid.
func defaultPidFile(r *ocf.Resource, resolved, param string) string {
	return filepath.Join(r.Env.VarRun, fmt.Sprintf("%s-%s.pid", httpdName(resolved, param), r.Env.Instance))
}

// httpdName is the name the default pid file is called after: the
// binary's base name up to the first "-" (httpd-prefork → httpd).
func httpdName(resolved, param string) string {
	name := filepath.Base(resolved)
	if resolved == "" {
		name = filepath.Base(param)
	}
	name, _, _ = strings.Cut(name, "-")
	return name
}

// argv is the command line that starts httpd for this instance.
func (in *instance) argv(httpd string) []string {
	argv := append([]string{httpd, "-DSTATUS"}, in.options...)
	argv = append(argv, "-f", in.configFile)
	if in.pidDirective {
		argv = append(argv, "-c", `PidFile "`+in.pidFile+`"`)
	}
	return argv
}

// isInstanceArgv reports whether a command line is httpd run for this
// instance's configuration file (-f FILE or -fFILE).
func (in *instance) isInstanceArgv(argv []string) bool {
	for i, a := range argv {
		if a == "-f" && i+1 < len(argv) && argv[i+1] == in.configFile || a == "-f"+in.configFile {
			return true
		}
	}
	return false
}
