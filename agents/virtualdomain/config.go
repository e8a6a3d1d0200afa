package virtualdomain

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"

	"github.com/ocfbox/ocfbox/ocf"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// guestConfig is what the agent reads from the operator's domain XML.
type guestConfig struct {
	Path     string
	Raw      []byte
	Name     string
	UUID     virt.UUID // zero when the file has none
	Emulator string    // <devices><emulator>, may be empty
	Type     string    // <domain type=…>: kvm, qemu, lxc, xen, …
	Pools    []string  // storage pools the XML refers to (pool='...')
	Networks []string  // virtual networks it refers to (network='...')
}

// errConfig marks a config file that cannot be used: unreadable, not
// domain XML, or without a name. Its status is ErrInstalled, as the
// reference agent's (a file missing on this node).
var errConfig = errors.New("config file unusable")

// readConfig reads and parses the domain XML.
func readConfig(path string) (*guestConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, ocf.Installed("config %s does not exist or is not readable: %w", path, errors.Join(errConfig, err))
	}
	return parseConfig(path, raw)
}

func parseConfig(path string, raw []byte) (*guestConfig, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, ocf.Installed("config %s is not libvirt domain XML: %w", path, errors.Join(errConfig, err))
	}
	root := doc.Root()
	if root == nil || root.Tag != "domain" {
		return nil, ocf.Installed("config %s is not libvirt domain XML: no <domain> element: %w", path, errConfig)
	}
	c := &guestConfig{Path: path, Raw: raw, Type: root.SelectAttrValue("type", "")}
	if n := root.SelectElement("name"); n != nil {
		c.Name = strings.TrimSpace(n.Text())
	}
	if c.Name == "" {
		return nil, ocf.Installed("config %s: unable to determine the domain name (no <name>): %w", path, errConfig)
	}
	if u := root.SelectElement("uuid"); u != nil && strings.TrimSpace(u.Text()) != "" {
		uuid, err := virt.ParseUUID(u.Text())
		if err != nil {
			return nil, ocf.Installed("config %s: <uuid>: %v: %w", path, err, errConfig)
		}
		c.UUID = uuid
	}
	if e := root.FindElement("./devices/emulator"); e != nil {
		c.Emulator = strings.TrimSpace(e.Text())
	}
	seen := map[string]bool{}
	for _, el := range root.FindElements("//*") {
		for _, a := range el.Attr {
			key := a.Key + "=" + a.Value
			if seen[key] || a.Value == "" {
				continue
			}
			switch a.Key {
			case "pool":
				c.Pools = append(c.Pools, a.Value)
			case "network":
				c.Networks = append(c.Networks, a.Value)
			default:
				continue
			}
			seen[key] = true
		}
	}
	return c, nil
}

// emulatorOf finds <emulator> in a live domain XML.
func emulatorOf(xml string) string {
	doc := etree.NewDocument()
	if doc.ReadFromString(xml) != nil || doc.Root() == nil {
		return ""
	}
	if e := doc.Root().FindElement("./devices/emulator"); e != nil {
		return strings.TrimSpace(e.Text())
	}
	return ""
}

// settings are the agent's parameters, checked and typed.
type settings struct {
	ConfigPath string
	URI        string // the hypervisor URI in effect
	URIGiven   bool   // hypervisor was set, not detected

	ForceStop     bool
	ShutdownMode  virt.ShutdownMode
	Snapshot      string
	SaveConfig    bool
	SyncConfig    bool
	Scripts       []string
	StartResource bool

	BackingFile string
	Stateless   bool
	CopyInDirs  []string

	Transport     string
	User          string
	Downtime      time.Duration
	Speed         uint64 // MiB/s
	NetSuffix     string
	MigrateURI    string
	RemoteURI     string
	MigratePort   int
	MigrateParams virt.MigrateParams // from migrate_options
	OptMigrateURI string             // --migrateuri in migrate_options

	Autoset map[string]bool // utilization attribute → keep it set
	Unset   map[string]bool // utilization attribute → remove it

	// Problems are the parameters that are invalid (status 6). Actions
	// that change the guest's placement (validate-all, start,
	// migrate_to, migrate_from) refuse to run with any; monitor and stop
	// do their job with what they need, so that a guest that runs is
	// never reported stopped or left running over a parameter it does
	// not use.
	Problems []error
}

var (
	// compiled on first use, not at every invocation's start-up
	userName   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][-a-z0-9]*$`) })
	transports = map[string]bool{"tcp": true, "tls": true, "ssh": true, "libssh": true, "libssh2": true, "unix": true, "ext": true}
)

// utilizationAttrs are the utilization attributes the agent maintains,
// with their parameters.
var utilizationAttrs = []string{"cpu", "host_memory", "hv_memory"}

// loadSettings reads the parameters and checks those that do not need
// the config file or the host: a bad value is a configuration error
// (status 6) whose reason names the parameter and the value, kept in
// Problems. Only a hypervisor URI that cannot work is an error for every
// action: no action can do anything without it.
func (a *Agent) loadSettings(r *ocf.Resource) (*settings, error) {
	p := r.Params
	s := &settings{
		ConfigPath:    p.String("config"),
		ForceStop:     p.Bool("force_stop"),
		Snapshot:      p.String("snapshot"),
		SyncConfig:    p.Bool("sync_config_on_stop"),
		StartResource: p.Bool("start_resources"),
		BackingFile:   p.String("backingfile"),
		Stateless:     p.Bool("stateless"),
		CopyInDirs:    strings.Fields(p.String("copyindirs")),
		Transport:     p.String("migration_transport"),
		User:          p.String("migration_user"),
		NetSuffix:     p.String("migration_network_suffix"),
		MigrateURI:    p.String("migrateuri"),
		RemoteURI:     p.String("remoteuri"),
		Scripts:       strings.Fields(p.String("monitor_scripts")),
		Autoset:       map[string]bool{},
		Unset:         map[string]bool{},
	}
	s.SaveConfig = p.Bool("save_config_on_stop") || s.SyncConfig
	for _, attr := range utilizationAttrs {
		s.Autoset[attr] = p.Bool("autoset_utilization_" + attr)
		s.Unset[attr] = !s.Autoset[attr] && p.Bool("unset_utilization_"+attr)
	}

	bad := func(format string, args ...any) {
		s.Problems = append(s.Problems, ocf.BadParameter(ocf.Configured(format, args...)))
	}
	if s.ForceStop && s.Snapshot != "" {
		bad("force_stop=%s and snapshot=%s cannot be used together", p.String("force_stop"), s.Snapshot)
	}
	if s.Snapshot != "" && !filepath.IsAbs(s.Snapshot) {
		bad("snapshot=%q is not an absolute path", s.Snapshot)
	}
	if s.Stateless && s.BackingFile == "" {
		bad("stateless=%s needs a backingfile (backingfile is not set)", p.String("stateless"))
	}
	for _, name := range []string{"migration_speed", "migration_downtime"} {
		if p.Int(name) < 0 {
			bad("%s=%q is not a non-negative integer", name, p.String(name))
		}
	}
	s.Speed = uint64(max(p.Int("migration_speed"), 0))
	s.Downtime = time.Duration(max(p.Int("migration_downtime"), 0)) * time.Millisecond

	mode, err := virt.ParseShutdownMode(p.String("shutdown_mode"))
	if err != nil {
		bad("shutdown_mode=%q: %v", p.String("shutdown_mode"), err)
	}
	s.ShutdownMode = mode

	if s.Transport != "" && !transports[strings.ToLower(s.Transport)] {
		bad("migration_transport=%q is not a libvirt transport (tcp, tls, ssh, libssh, libssh2, unix, ext)", s.Transport)
	}
	if s.User != "" && !userName().MatchString(s.User) {
		bad("migration_user=%q is not a user name (lower-case letters, digits and -, starting with a letter)", s.User)
	}
	if p.IsSet("migrateport") {
		s.MigratePort = p.Int("migrateport")
		if s.MigratePort <= 0 || s.MigratePort > 65535 {
			bad("migrateport=%q is not a port number", p.String("migrateport"))
		}
	} else {
		// The reference agent draws a new random port on every call;
		// one port per resource keeps retries and firewalls predictable.
		h := fnv.New32a()
		h.Write([]byte(r.Env.Instance))
		s.MigratePort = 49152 + int(h.Sum32()%64)
	}
	opts := strings.Fields(p.String("migrate_options"))
	unsupported, err := virt.ParseMigrateOptions(opts, &s.MigrateParams)
	switch {
	case err != nil:
		bad("migrate_options=%q: %v", p.String("migrate_options"), err)
	case len(unsupported) > 0:
		bad("migrate_options: unsupported option(s) %s", strings.Join(unsupported, ", "))
	}
	s.OptMigrateURI, s.MigrateParams.URI = s.MigrateParams.URI, ""

	s.URI = p.String("hypervisor")
	s.URIGiven = s.URI != ""
	if s.URI == "" {
		s.URI = virt.DefaultURI(r.Env.Environ, a.LibvirtConf, os.Geteuid())
	} else {
		s.URI = virt.ResolveAlias(s.URI, a.LibvirtConf)
	}
	if _, err := virt.ParseURI(s.URI); err != nil {
		if s.URIGiven {
			return nil, ocf.BadParameter(ocf.Configured("hypervisor=%q: %v", p.String("hypervisor"), errors.Unwrap(err)))
		}
		return nil, ocf.Configured("hypervisor is not set and the default URI %q is not usable: %v", s.URI, errors.Unwrap(err))
	}
	return s, nil
}

// checkHost checks what must exist on this node for the configuration:
// the programs it will run. A missing one is ErrInstalled (5).
func (a *Agent) checkHost(_ context.Context, r *ocf.Resource, s *settings) error {
	need := func(param, prog string) error {
		if _, err := r.Run.LookPath(prog); err != nil {
			return ocf.Installed("%s needs %s, which is not installed: %w", param, prog, err)
		}
		return nil
	}
	if s.SyncConfig {
		if err := need("sync_config_on_stop", "csync2"); err != nil {
			return err
		}
	}
	if s.BackingFile != "" {
		if err := need("backingfile", "qemu-img"); err != nil {
			return err
		}
		if len(s.CopyInDirs) > 0 {
			if err := need("copyindirs", "virt-copy-in"); err != nil {
				return err
			}
		}
	}
	for _, script := range s.Scripts {
		if _, err := r.Run.LookPath(script); err != nil {
			return ocf.Installed("monitor_scripts: %s is not an executable program: %w", script, err)
		}
	}
	return nil
}

// splitNode inserts the migration network suffix after the first label
// of a node name: node2.example.com + "-mig" = node2-mig.example.com.
func splitNode(node, suffix string) string {
	if suffix == "" {
		return node
	}
	first, rest, dotted := strings.Cut(node, ".")
	if dotted {
		return first + suffix + "." + rest
	}
	return node + suffix
}

// hypervisorURI matches scheme://[host][:port]/path as the reference
// agent's rewrite does.
var hypervisorURI = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([^:]*)://[^/:]*(:?[0-9]*)/(.*)$`) })

// migrationURIs computes the target hypervisor URI and the migration
// data URI for a migration to target, as the reference agent does:
// remoteuri wins; otherwise the hypervisor URI with the transport added
// to its scheme and its host replaced by [user@]target[suffix]. The data
// URI is migrateuri, else --migrateuri from migrate_options, else (with a
// migration network suffix) tcp:target-suffix:port for qemu and
// target-suffix for xen. "%n" is always the target node's name.
func (s *settings) migrationURIs(target string) (remote, data string, err error) {
	if s.RemoteURI != "" {
		remote = strings.ReplaceAll(s.RemoteURI, "%n", target)
	} else {
		m := hypervisorURI().FindStringSubmatch(s.URI)
		if m == nil {
			return "", "", ocf.Configured("cannot derive the migration target's URI from hypervisor=%q; set remoteuri", s.URI)
		}
		scheme := m[1]
		if s.Transport != "" {
			scheme, _, _ = strings.Cut(scheme, "+")
			scheme += "+" + strings.ToLower(s.Transport)
		}
		host := splitNode(target, s.NetSuffix)
		if s.User != "" {
			host = s.User + "@" + host
		}
		path := m[3]
		// A socket= or mode= parameter names this node's daemon socket,
		// which means nothing to the target's.
		if base, query, ok := strings.Cut(path, "?"); ok {
			var keep []string
			for _, kv := range strings.Split(query, "&") {
				if k, _, _ := strings.Cut(kv, "="); k != "socket" && k != "mode" {
					keep = append(keep, kv)
				}
			}
			path = base
			if len(keep) > 0 {
				path += "?" + strings.Join(keep, "&")
			}
		}
		remote = scheme + "://" + host + m[2] + "/" + path
	}
	switch {
	case s.MigrateURI != "":
		data = strings.ReplaceAll(s.MigrateURI, "%n", target)
	case s.OptMigrateURI != "":
		data = strings.ReplaceAll(s.OptMigrateURI, "%n", target)
	case s.NetSuffix != "":
		host := splitNode(target, s.NetSuffix)
		driver := s.URI
		if i := strings.IndexAny(driver, "+:"); i >= 0 {
			driver = driver[:i]
		}
		switch driver {
		case "qemu":
			data = fmt.Sprintf("tcp:%s:%d", host, s.MigratePort)
		case "xen":
			data = host
		}
	}
	return remote, data, nil
}
