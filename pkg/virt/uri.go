package virt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// URI is a libvirt connection URI, driver[+transport]://[user@][host][:port]/path[?query].
type URI struct {
	Raw       string
	Driver    string // qemu, test, lxc, xen, ...
	Transport string // unix, tcp, tls, ssh, libssh, libssh2, ext; "" when not given
	User      string
	Host      string
	Port      string
	Path      string // /system, /session, /default, ...
	Query     url.Values
}

// daemonDrivers are the drivers that live in a libvirt daemon, which the
// pure-Go client reaches through its socket. test is listed because the
// daemon serves it too (libvirt itself would run test:///default
// in-process; ocfbox's pure-Go client opens it in the daemon).
var daemonDrivers = map[string]bool{
	"qemu": true, "test": true, "lxc": true, "xen": true, "libxl": true,
	"vbox": true, "bhyve": true, "ch": true, "vz": true, "parallels": true,
	"network": true, "storage": true, "interface": true, "nodedev": true,
	"nwfilter": true, "secret": true,
}

// clientDrivers run inside libvirt's client library: only the cgo build
// can use them.
var clientDrivers = map[string]bool{
	"esx": true, "gsx": true, "vpx": true, "hyperv": true, "openvz": true,
	"vmwareplayer": true, "vmwarews": true, "vmwarefusion": true, "phyp": true,
}

var transports = map[string]bool{
	"unix": true, "tcp": true, "tls": true, "ssh": true, "libssh": true, "libssh2": true, "ext": true,
}

// ParseURI parses a libvirt connection URI. It knows libvirt's driver
// and transport names; anything else is ErrInvalidURI.
func ParseURI(s string) (*URI, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidURI, s, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(s) == "" {
		return nil, bad("empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, bad("%v", errors.Unwrap(err))
	}
	if u.Scheme == "" || u.Opaque != "" {
		return nil, bad("not of the form driver[+transport]://[host]/path")
	}
	driver, transport, _ := strings.Cut(strings.ToLower(u.Scheme), "+")
	if !daemonDrivers[driver] && !clientDrivers[driver] {
		return nil, bad("unknown hypervisor driver %q", driver)
	}
	if transport != "" && !transports[transport] {
		return nil, bad("unknown transport %q (tls, unix, ssh, ext, tcp, libssh2, libssh)", transport)
	}
	if transport == "unix" && u.Host != "" {
		return nil, bad("the unix transport cannot reach host %s", u.Host)
	}
	p := &URI{Raw: s, Driver: driver, Transport: transport, Host: u.Hostname(), Port: u.Port(),
		Path: u.Path, Query: u.Query()}
	if u.User != nil {
		p.User = u.User.Username()
	}
	return p, nil
}

// EffectiveTransport is the transport libvirt uses: the one named in the
// scheme, else tls for a URI with a host, else unix.
func (u *URI) EffectiveTransport() string {
	switch {
	case u.Transport != "":
		return u.Transport
	case u.Host != "":
		return "tls"
	}
	return "unix"
}

// DaemonURI is the URI the daemon is asked to open once connected: the
// driver and path only, as libvirt's remote driver sends it (or the
// name= query parameter when given).
func (u *URI) DaemonURI() string {
	if n := u.Query.Get("name"); n != "" {
		return n
	}
	return u.Driver + "://" + u.Path
}

// Endpoint is where the pure-Go client connects for a URI.
type Endpoint struct {
	Network string // "unix", "tcp" or "tls"
	Address string // socket path or host:port
}

// SocketDir is where system-mode libvirt daemons put their sockets. It
// is a variable so tests can point it elsewhere.
var SocketDir = "/var/run/libvirt"

// Endpoint resolves where to connect as libvirt's remote driver would
// (remote_sockets.c): an explicit socket= parameter; else for a
// system-mode unix connection the driver's own daemon socket
// (virtqemud-sock for qemu) when it exists, else the monolithic
// libvirtd's libvirt-sock; the per-user runtime directory for /session
// URIs of unprivileged users; port 16509 for tcp and 16514 for tls.
func (u *URI) Endpoint(euid int) (Endpoint, error) {
	switch t := u.EffectiveTransport(); t {
	case "unix":
		if s := u.Query.Get("socket"); s != "" {
			return Endpoint{"unix", s}, nil
		}
		dir := SocketDir
		if u.Path == "/session" && euid != 0 || u.Transport != "" && u.Driver == "test" && euid != 0 {
			dir = os.Getenv("XDG_RUNTIME_DIR")
			if dir == "" {
				home, _ := os.UserHomeDir()
				dir = filepath.Join(home, ".cache")
			}
			dir = filepath.Join(dir, "libvirt")
		}
		direct := filepath.Join(dir, "virt"+remoteDriverName(u.Driver)+"d-sock")
		legacy := filepath.Join(dir, "libvirt-sock")
		switch u.Query.Get("mode") {
		case "direct":
			return Endpoint{"unix", direct}, nil
		case "legacy":
			return Endpoint{"unix", legacy}, nil
		}
		if _, err := os.Stat(direct); err == nil {
			return Endpoint{"unix", direct}, nil
		}
		return Endpoint{"unix", legacy}, nil
	case "tcp":
		return Endpoint{"tcp", net.JoinHostPort(u.Host, or(u.Port, "16509"))}, nil
	case "tls":
		return Endpoint{"tls", net.JoinHostPort(u.Host, or(u.Port, "16514"))}, nil
	default:
		return Endpoint{}, fmt.Errorf("%w: the %s transport of %s needs libvirt's client library (ocfbox-cgo, built with make cgo)",
			ErrUnsupported, t, u.Raw)
	}
}

// remoteDriverName is the daemon a driver name is served by.
func remoteDriverName(driver string) string {
	if driver == "libxl" {
		return "xen"
	}
	return driver
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// DefaultURIConfig is libvirt's client configuration file for root.
const DefaultURIConfig = "/etc/libvirt/libvirt.conf"

// DefaultURI is the URI `virsh uri` would print when none is given:
// LIBVIRT_DEFAULT_URI from environ, else uri_default in libvirt.conf
// (confPath; for unprivileged users $XDG_CONFIG_HOME/libvirt/libvirt.conf
// is what libvirt reads, and the caller passes that), else
// qemu:///system for root and qemu:///session for others. Aliases from
// the file's uri_aliases are resolved.
func DefaultURI(environ []string, confPath string, euid int) string {
	conf := readLibvirtConf(confPath)
	uri := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "LIBVIRT_DEFAULT_URI="); ok && v != "" {
			uri = v
		}
	}
	if uri == "" {
		uri = conf.defaultURI
	}
	if uri == "" {
		if euid == 0 {
			return "qemu:///system"
		}
		return "qemu:///session"
	}
	return conf.resolveAlias(uri)
}

// ResolveAlias resolves a uri_aliases entry of libvirt.conf (confPath),
// as virConnectOpen does for a name without "://".
func ResolveAlias(uri, confPath string) string {
	return readLibvirtConf(confPath).resolveAlias(uri)
}

type libvirtConf struct {
	defaultURI string
	aliases    map[string]string
}

// Regular expressions are compiled on first use: the binary's every
// invocation, of any agent, would pay for them at start-up otherwise.
var aliasName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_.\-]+$`) })

func (c libvirtConf) resolveAlias(uri string) string {
	if aliasName().MatchString(uri) {
		if v, ok := c.aliases[uri]; ok {
			return v
		}
	}
	return uri
}

// readLibvirtConf reads the two settings of libvirt's client
// configuration that choose a URI. The format is libvirt's conf syntax:
// key = "value" or key = [ "a", "b" ], # comments.
func readLibvirtConf(path string) libvirtConf {
	c := libvirtConf{aliases: map[string]string{}}
	data, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	// Join a list that spans lines into one logical line.
	var logical []string
	var cur strings.Builder
	depth := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := stripComment(sc.Text())
		cur.WriteString(line)
		cur.WriteByte(' ')
		depth += strings.Count(line, "[") - strings.Count(line, "]")
		if depth <= 0 {
			logical = append(logical, cur.String())
			cur.Reset()
			depth = 0
		}
	}
	for _, l := range logical {
		key, val, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "uri_default":
			c.defaultURI = unquote(strings.TrimSpace(val))
		case "uri_aliases":
			for _, item := range quoted().FindAllString(val, -1) {
				name, target, ok := strings.Cut(unquote(item), "=")
				if ok && aliasName().MatchString(name) {
					c.aliases[name] = target
				}
			}
		}
	}
	return c
}

var quoted = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`"[^"]*"|'[^']*'`) })

func stripComment(line string) string {
	inQuote := byte(0)
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case inQuote != 0 && ch == inQuote:
			inQuote = 0
		case inQuote == 0 && (ch == '"' || ch == '\''):
			inQuote = ch
		case inQuote == 0 && ch == '#':
			return line[:i]
		}
	}
	return line
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
