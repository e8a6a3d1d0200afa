package apacheconf

import (
	"net"
	"net/url"
	"strconv"
)

// DefaultPort is the port assumed when the configuration has no Listen.
const DefaultPort = 80

// listener picks the listener a local URL goes to: the first Listen, or
// the first on port when port is not 0.
func (c *Config) listener(port int) Listener {
	for _, l := range c.Listeners {
		if port == 0 || l.Port == port {
			return l
		}
	}
	if port == 0 {
		port = DefaultPort
	}
	return Listener{Port: port}
}

// TLS reports whether httpd speaks TLS on the listener: its protocol
// argument says https, or it says nothing and the port is 443 (httpd's
// own default), or a virtual host on its port (or the main server) has
// SSLEngine on.
func (c *Config) TLS(l Listener) bool {
	switch l.Protocol {
	case "https":
		return true
	case "":
		if l.Port == 443 {
			return true
		}
	default:
		return false
	}
	if c.sslMain {
		return true
	}
	for _, vh := range c.VirtualHosts {
		if vh.SSL && vh.serves(l) {
			return true
		}
	}
	return false
}

// serves reports whether a virtual host answers on the listener.
func (vh *VirtualHost) serves(l Listener) bool {
	for _, a := range vh.Addrs {
		if a.Port != 0 && a.Port != l.Port {
			continue
		}
		if a.Host == "*" || a.Host == "_default_" || l.Addr == "" || a.Host == l.Addr {
			return true
		}
	}
	return false
}

// localHost is the host a local client connects to for a listening
// address: the address itself, or loopback for the wildcard addresses.
func localHost(addr string) string {
	switch addr {
	case "", "*":
		return "localhost"
	case "0.0.0.0":
		return "127.0.0.1"
	case "::", "[::]":
		return "::1"
	}
	return addr
}

// BaseURL is the local URL of the server's front page: on the first
// Listen, or on port when it is not 0, with https when httpd speaks TLS
// there.
func (c *Config) BaseURL(port int) *url.URL {
	return c.urlFor(c.listener(port), "/")
}

func (c *Config) urlFor(l Listener, path string) *url.URL {
	scheme := "http"
	if c.TLS(l) {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(localHost(l.Addr), strconv.Itoa(l.Port)), Path: path}
}

// StatusURL is the local URL of the server-status page: the last
// <Location> with SetHandler server-status in the main server (as the
// reference agent picks the last one), else the last in a virtual host,
// reached on that virtual host's port. found is false when there is no
// such location; the URL is then BaseURL's. A port other than 0 forces
// the port.
func (c *Config) StatusURL(port int) (u *url.URL, found bool) {
	var loc *StatusLocation
	for i := range c.StatusLocations {
		if c.StatusLocations[i].VirtualHost == nil {
			loc = &c.StatusLocations[i]
		}
	}
	if loc == nil && len(c.StatusLocations) > 0 {
		loc = &c.StatusLocations[len(c.StatusLocations)-1]
	}
	if loc == nil {
		return c.BaseURL(port), false
	}
	if loc.VirtualHost == nil || port != 0 {
		return c.urlFor(c.listener(port), loc.Path), true
	}
	return c.vhostURL(loc.VirtualHost, loc.Path), true
}

// vhostURL is a URL that reaches a virtual host: on the first listener it
// serves, with its own address when that is a specific one.
func (c *Config) vhostURL(vh *VirtualHost, path string) *url.URL {
	for _, l := range c.Listeners {
		if !vh.serves(l) {
			continue
		}
		for _, a := range vh.Addrs {
			if a.Host != "*" && a.Host != "_default_" && (a.Port == 0 || a.Port == l.Port) {
				l.Addr = a.Host
				break
			}
		}
		u := c.urlFor(l, path)
		if vh.SSL {
			u.Scheme = "https"
		}
		return u
	}
	// A virtual host on no Listen port cannot answer; fall back to the
	// main server's first port.
	return c.urlFor(c.listener(0), path)
}
