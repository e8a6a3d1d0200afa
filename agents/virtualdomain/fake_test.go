package virtualdomain_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/ocfbox/ocfbox/pkg/virt"
)

// fakeHV is a hypervisor in memory that behaves as libvirt's qemu driver
// does for what the agent uses: a created domain is transient and
// vanishes when it stops; a defined one stays, shut off; a transient
// create over a defined inactive domain of the same UUID starts it (and
// it stays persistent); destroy or shutdown of an inactive domain is
// VIR_ERR_OPERATION_INVALID; a missing domain is VIR_ERR_NO_DOMAIN; the
// agent shutdown mode needs a guest agent; a guest without an OS ignores
// ACPI. Mutating calls are counted.
type fakeHV struct {
	mu        sync.Mutex
	domains   map[string]*fakeDom
	calls     []string
	down      bool // libvirtd unreachable
	noDriver  bool
	migrateTo []virt.MigrateParams
}

type fakeDom struct {
	uuid       virt.UUID
	persistent bool
	state      virt.State
	reason     int
	acpi       bool // the guest shuts down on an ACPI request
	agent      bool // it has a guest agent
	vcpus      int
	memKiB     uint64
	xml        string
}

func newFakeHV() *fakeHV { return &fakeHV{domains: map[string]*fakeDom{}} }

func (h *fakeHV) connect(_ context.Context, uri string) (virt.Conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := virt.ParseURI(uri); err != nil {
		return nil, &virt.Error{Op: "connect", URI: uri, Kind: virt.ErrInvalidURI, Err: err}
	}
	if h.down {
		return nil, &virt.Error{Op: "connect", URI: uri, Kind: virt.ErrUnreachable, Err: fmt.Errorf("connection refused")}
	}
	if h.noDriver {
		return nil, &virt.Error{Op: "connect", URI: uri, Kind: virt.ErrNoDriver, Err: fmt.Errorf("no connection driver available for %s", uri)}
	}
	return &fakeConn{h: h, uri: uri}, nil
}

// mutations are the calls that change something.
func (h *fakeHV) mutations() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var m []string
	for _, c := range h.calls {
		switch strings.Fields(c)[0] {
		case "create", "define", "start", "undefine", "shutdown", "destroy", "save", "restore", "migrate", "suspend", "resume",
			"startpool", "startnet":
			m = append(m, c)
		}
	}
	return m
}

func (h *fakeHV) add(name string, d *fakeDom) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d.uuid.IsZero() {
		rand.Read(d.uuid[:])
	}
	if d.vcpus == 0 {
		d.vcpus, d.memKiB = 1, 32768
	}
	h.domains[name] = d
}

func (h *fakeHV) state(name string) (virt.State, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.domains[name]
	if !ok {
		return 0, false
	}
	return d.state, true
}

type fakeConn struct {
	h   *fakeHV
	uri string
}

func (c *fakeConn) err(op, dom string, kind error, msg string) error {
	return &virt.Error{Op: op, Domain: dom, URI: c.uri, Kind: kind, Err: fmt.Errorf("%s", msg)}
}

func (c *fakeConn) get(op, name string) (*fakeDom, error) {
	if c.h.down {
		return nil, c.err(op, name, virt.ErrUnreachable, "connection lost")
	}
	d, ok := c.h.domains[name]
	if !ok {
		return nil, c.err(op, name, virt.ErrNoDomain, "Domain not found: no domain with matching name '"+name+"'")
	}
	return d, nil
}

func (c *fakeConn) record(format string, args ...any) {
	c.h.calls = append(c.h.calls, fmt.Sprintf(format, args...))
}

func (c *fakeConn) URI() string  { return c.uri }
func (c *fakeConn) Close() error { return nil }

func (c *fakeConn) Lookup(_ context.Context, name string) (virt.Domain, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	d, err := c.get("lookup", name)
	if err != nil {
		return virt.Domain{}, err
	}
	return virt.Domain{Name: name, UUID: d.uuid}, nil
}

func (c *fakeConn) LookupUUID(_ context.Context, u virt.UUID) (virt.Domain, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	for name, d := range c.h.domains {
		if d.uuid == u {
			return virt.Domain{Name: name, UUID: u}, nil
		}
	}
	return virt.Domain{}, c.err("lookup", u.String(), virt.ErrNoDomain, "no domain with matching uuid")
}

var (
	xmlName = regexp.MustCompile(`<name>([^<]+)</name>`)
	xmlUUID = regexp.MustCompile(`<uuid>([^<]+)</uuid>`)
)

func (c *fakeConn) parse(xml string) (string, virt.UUID) {
	name := xmlName.FindStringSubmatch(xml)[1]
	var u virt.UUID
	if m := xmlUUID.FindStringSubmatch(xml); m != nil {
		u, _ = virt.ParseUUID(m[1])
	} else {
		rand.Read(u[:])
	}
	return name, u
}

func (c *fakeConn) Create(_ context.Context, xml string) (virt.Domain, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	name, u := c.parse(xml)
	c.record("create %s", name)
	if d, ok := c.h.domains[name]; ok {
		if d.state != virt.Shutoff {
			return virt.Domain{}, c.err("create", name, nil, "domain '"+name+"' is already active")
		}
		d.state, d.xml = virt.Running, xml
		return virt.Domain{Name: name, UUID: d.uuid}, nil
	}
	for other, d := range c.h.domains {
		if d.uuid == u {
			return virt.Domain{}, c.err("create", name, nil, "domain '"+other+"' already exists with uuid "+u.String())
		}
	}
	c.h.domains[name] = &fakeDom{uuid: u, state: virt.Running, reason: 1, vcpus: 1, memKiB: 32768, xml: xml}
	return virt.Domain{Name: name, UUID: u}, nil
}

func (c *fakeConn) Define(_ context.Context, xml string) (virt.Domain, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	name, u := c.parse(xml)
	c.record("define %s", name)
	d, ok := c.h.domains[name]
	if !ok {
		d = &fakeDom{uuid: u, state: virt.Shutoff, vcpus: 1, memKiB: 32768}
		c.h.domains[name] = d
	}
	d.persistent, d.xml = true, xml
	return virt.Domain{Name: name, UUID: d.uuid}, nil
}

func (c *fakeConn) Start(_ context.Context, dom virt.Domain) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.record("start %s", dom.Name)
	d, err := c.get("start", dom.Name)
	if err != nil {
		return err
	}
	if d.state != virt.Shutoff {
		return c.err("start", dom.Name, virt.ErrInvalidOperation, "domain is already running")
	}
	d.state = virt.Running
	return nil
}

func (c *fakeConn) Undefine(_ context.Context, dom virt.Domain) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.record("undefine %s", dom.Name)
	d, err := c.get("undefine", dom.Name)
	if err != nil {
		return err
	}
	if d.state == virt.Shutoff {
		delete(c.h.domains, dom.Name)
	} else {
		d.persistent = false
	}
	return nil
}

func (c *fakeConn) IsPersistent(_ context.Context, dom virt.Domain) (bool, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	d, err := c.get("persistent", dom.Name)
	if err != nil {
		return false, err
	}
	return d.persistent, nil
}

func (c *fakeConn) State(_ context.Context, dom virt.Domain) (virt.State, int, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	d, err := c.get("state", dom.Name)
	if err != nil {
		return 0, 0, err
	}
	return d.state, d.reason, nil
}

func (c *fakeConn) Info(ctx context.Context, dom virt.Domain) (virt.Info, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	d, err := c.get("info", dom.Name)
	if err != nil {
		return virt.Info{}, err
	}
	return virt.Info{State: d.state, MaxMemKiB: d.memKiB, MemKiB: d.memKiB, VCPUs: d.vcpus}, nil
}

func (c *fakeConn) XML(_ context.Context, dom virt.Domain, _ virt.XMLFlags) (string, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	d, err := c.get("xml", dom.Name)
	if err != nil {
		return "", err
	}
	return d.xml, nil
}

// stopped ends an active domain: a transient one vanishes.
func (c *fakeConn) stopped(name string, d *fakeDom, reason int) {
	if d.persistent {
		d.state, d.reason = virt.Shutoff, reason
	} else {
		delete(c.h.domains, name)
	}
}

func (c *fakeConn) Shutdown(_ context.Context, dom virt.Domain, mode virt.ShutdownMode) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.record("shutdown %s %s", dom.Name, mode)
	d, err := c.get("shut down", dom.Name)
	if err != nil {
		return err
	}
	if d.state == virt.Shutoff {
		return c.err("shut down", dom.Name, virt.ErrInvalidOperation, "domain is not running")
	}
	if mode&virt.ShutdownAgent != 0 && !d.agent {
		return c.err("shut down", dom.Name, virt.ErrUnsupported, "QEMU guest agent is not configured")
	}
	if d.acpi && d.state == virt.Running {
		c.stopped(dom.Name, d, virt.ShutoffShutdown)
	}
	return nil
}

func (c *fakeConn) Destroy(_ context.Context, dom virt.Domain) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.record("destroy %s", dom.Name)
	d, err := c.get("destroy", dom.Name)
	if err != nil {
		return err
	}
	if d.state == virt.Shutoff {
		return c.err("destroy", dom.Name, virt.ErrInvalidOperation, "domain is not running")
	}
	c.stopped(dom.Name, d, virt.ShutoffDestroyed)
	return nil
}

func (c *fakeConn) Suspend(_ context.Context, dom virt.Domain) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.record("suspend %s", dom.Name)
	d, err := c.get("suspend", dom.Name)
	if err == nil {
		d.state = virt.Paused
	}
	return err
}

func (c *fakeConn) Resume(_ context.Context, dom virt.Domain) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.record("resume %s", dom.Name)
	d, err := c.get("resume", dom.Name)
	if err == nil {
		d.state = virt.Running
	}
	return err
}

func (c *fakeConn) Save(_ context.Context, dom virt.Domain, path string) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.record("save %s %s", dom.Name, path)
	d, err := c.get("save", dom.Name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(d.xml), 0o600); err != nil {
		return c.err("save", dom.Name, nil, err.Error())
	}
	c.stopped(dom.Name, d, virt.ShutoffSaved)
	return nil
}

func (c *fakeConn) Restore(_ context.Context, path string) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.record("restore %s", path)
	data, err := os.ReadFile(path)
	if err != nil {
		return c.err("restore", "", nil, err.Error())
	}
	name, u := c.parse(string(data))
	c.h.domains[name] = &fakeDom{uuid: u, state: virt.Running, vcpus: 1, memKiB: 32768, xml: string(data)}
	return nil
}

func (c *fakeConn) Migrate(_ context.Context, dom virt.Domain, p virt.MigrateParams) (virt.MigrateReport, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.record("migrate %s %s", dom.Name, p.DestURI)
	if _, err := c.get("migrate", dom.Name); err != nil {
		return virt.MigrateReport{}, err
	}
	c.h.migrateTo = append(c.h.migrateTo, p)
	delete(c.h.domains, dom.Name)
	return virt.MigrateReport{DowntimeSet: p.MaxDowntime > 0}, nil
}

func (c *fakeConn) StartPool(_ context.Context, name string) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.record("startpool %s", name)
	return nil
}

func (c *fakeConn) StartNetwork(_ context.Context, name string) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.record("startnet %s", name)
	return nil
}
