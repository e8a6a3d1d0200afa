package virt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// rpcConn is the pure-Go implementation: libvirt's RPC protocol over the
// daemon's socket, through github.com/digitalocean/go-libvirt.
type rpcConn struct {
	uri string
	lv  *golibvirt.Libvirt

	mu sync.Mutex
	nc net.Conn // the socket, closed when a call's context ends
}

// ConnectRPC opens uri with the pure-Go client, whatever the build.
func ConnectRPC(ctx context.Context, uri string) (Conn, error) {
	fail := func(kind, err error) error {
		return &Error{Op: "connect", URI: uri, Kind: kind, Err: err}
	}
	u, err := ParseURI(uri)
	if err != nil {
		return nil, fail(ErrInvalidURI, errors.Unwrap(err))
	}
	if clientDrivers[u.Driver] {
		return nil, fail(ErrUnsupported, fmt.Errorf("the %s driver runs in libvirt's client library; use ocfbox-cgo (make cgo)", u.Driver))
	}
	ep, err := u.Endpoint(os.Geteuid())
	if err != nil {
		return nil, fail(ErrUnsupported, err)
	}
	c := &rpcConn{uri: uri}
	c.lv = golibvirt.NewWithDialer(dialFunc(func() (net.Conn, error) {
		nc, err := dial(ctx, ep, u)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.nc = nc
		c.mu.Unlock()
		return nc, nil
	}))
	stop := context.AfterFunc(ctx, c.abandon)
	err = c.lv.ConnectToURI(golibvirt.ConnectURI(u.DaemonURI()))
	if !stop() {
		err = errors.Join(ctx.Err(), err)
	}
	if err != nil {
		c.abandon()
		kind := classify(err)
		if kind == nil {
			kind = ErrUnreachable
		}
		return nil, &Error{Op: "connect", URI: uri, Code: codeOf(err), Kind: kind,
			Err: fmt.Errorf("%s %s: %w", ep.Network, ep.Address, err)}
	}
	return c, nil
}

type dialFunc func() (net.Conn, error)

func (f dialFunc) Dial() (net.Conn, error) { return f() }

func dial(ctx context.Context, ep Endpoint, u *URI) (net.Conn, error) {
	var d net.Dialer
	switch ep.Network {
	case "unix", "tcp":
		return d.DialContext(ctx, ep.Network, ep.Address)
	case "tls":
		cfg, err := tlsConfig(u)
		if err != nil {
			return nil, err
		}
		td := tls.Dialer{NetDialer: &d, Config: cfg}
		return td.DialContext(ctx, "tcp", ep.Address)
	}
	return nil, fmt.Errorf("%w: network %s", ErrUnsupported, ep.Network)
}

// tlsConfig loads the client certificate the way libvirt does for root:
// pkipath= or /etc/pki/CA/cacert.pem and /etc/pki/libvirt/{clientcert.pem,
// private/clientkey.pem}; no_verify=1 skips the server check.
func tlsConfig(u *URI) (*tls.Config, error) {
	ca, cert, key := "/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/clientcert.pem", "/etc/pki/libvirt/private/clientkey.pem"
	if dir := u.Query.Get("pkipath"); dir != "" {
		ca, cert, key = filepath.Join(dir, "cacert.pem"), filepath.Join(dir, "clientcert.pem"), filepath.Join(dir, "clientkey.pem")
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("tls: read CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: no certificate in %s", ca)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("tls: load client certificate: %w", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: u.Host,
		InsecureSkipVerify: u.Query.Get("no_verify") == "1"}, nil //nolint:gosec // the operator asked for it
}

// abandon closes the socket under go-libvirt: any call waiting for an
// answer returns at once.
func (c *rpcConn) abandon() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc != nil {
		c.nc.Close()
	}
}

func (c *rpcConn) URI() string { return c.uri }

func (c *rpcConn) Close() error {
	done := make(chan error, 1)
	go func() { done <- c.lv.Disconnect() }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, syscall.EINVAL) && !isConnErr(err) {
			return &Error{Op: "close", URI: c.uri, Err: err}
		}
	case <-time.After(2 * time.Second):
		c.abandon()
	}
	return nil
}

// call runs one RPC under ctx: if ctx ends first the socket is closed,
// which makes the RPC return, and the error says the deadline passed.
func (c *rpcConn) call(ctx context.Context, op, dom string, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return &Error{Op: op, Domain: dom, URI: c.uri, Kind: ErrUnreachable, Err: err}
	}
	stop := context.AfterFunc(ctx, c.abandon)
	err := fn()
	if !stop() && err != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		return &Error{Op: op, Domain: dom, URI: c.uri, Kind: ErrUnreachable, Err: err}
	}
	if err == nil {
		return nil
	}
	kind := classify(err)
	if kind == nil && isConnErr(err) {
		kind = ErrUnreachable
	}
	return &Error{Op: op, Domain: dom, URI: c.uri, Code: codeOf(err), Kind: kind, Err: err}
}

// classify maps a libvirt error to its sentinel.
func classify(err error) error {
	if code := codeOf(err); code != 0 {
		return sentinelFor(code)
	}
	if isConnErr(err) {
		return ErrUnreachable
	}
	return nil
}

func codeOf(err error) int {
	var le golibvirt.Error
	if errors.As(err, &le) {
		return int(le.Code)
	}
	return 0
}

// isConnErr reports whether err means the connection itself failed.
func isConnErr(err error) bool {
	var ne net.Error
	return errors.Is(err, golibvirt.ErrInterrupted) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &ne)
}

func fromLV(d golibvirt.Domain) Domain {
	return Domain{Name: d.Name, UUID: UUID(d.UUID), ID: int(d.ID)}
}

func toLV(d Domain) golibvirt.Domain {
	return golibvirt.Domain{Name: d.Name, UUID: golibvirt.UUID(d.UUID), ID: int32(d.ID)}
}

func (c *rpcConn) Lookup(ctx context.Context, name string) (Domain, error) {
	var d golibvirt.Domain
	err := c.call(ctx, "lookup", name, func() (err error) {
		d, err = c.lv.DomainLookupByName(name)
		return err
	})
	return fromLV(d), err
}

func (c *rpcConn) LookupUUID(ctx context.Context, uuid UUID) (Domain, error) {
	var d golibvirt.Domain
	err := c.call(ctx, "lookup", uuid.String(), func() (err error) {
		d, err = c.lv.DomainLookupByUUID(golibvirt.UUID(uuid))
		return err
	})
	return fromLV(d), err
}

func (c *rpcConn) Create(ctx context.Context, xml string) (Domain, error) {
	var d golibvirt.Domain
	err := c.call(ctx, "create", "", func() (err error) {
		d, err = c.lv.DomainCreateXML(xml, 0)
		return err
	})
	return fromLV(d), err
}

func (c *rpcConn) Define(ctx context.Context, xml string) (Domain, error) {
	var d golibvirt.Domain
	err := c.call(ctx, "define", "", func() (err error) {
		d, err = c.lv.DomainDefineXMLFlags(xml, 0)
		return err
	})
	return fromLV(d), err
}

func (c *rpcConn) Start(ctx context.Context, d Domain) error {
	return c.call(ctx, "start", d.Name, func() error { return c.lv.DomainCreate(toLV(d)) })
}

func (c *rpcConn) Undefine(ctx context.Context, d Domain) error {
	return c.call(ctx, "undefine", d.Name, func() error { return c.lv.DomainUndefineFlags(toLV(d), 0) })
}

func (c *rpcConn) IsPersistent(ctx context.Context, d Domain) (bool, error) {
	var p int32
	err := c.call(ctx, "check persistence of", d.Name, func() (err error) {
		p, err = c.lv.DomainIsPersistent(toLV(d))
		return err
	})
	return p == 1, err
}

func (c *rpcConn) State(ctx context.Context, d Domain) (State, int, error) {
	var st, reason int32
	err := c.call(ctx, "get state of", d.Name, func() (err error) {
		st, reason, err = c.lv.DomainGetState(toLV(d), 0)
		return err
	})
	return State(st), int(reason), err
}

func (c *rpcConn) Info(ctx context.Context, d Domain) (Info, error) {
	var info Info
	err := c.call(ctx, "get info of", d.Name, func() error {
		st, maxMem, mem, vcpus, _, err := c.lv.DomainGetInfo(toLV(d))
		info = Info{State: State(st), MaxMemKiB: maxMem, MemKiB: mem, VCPUs: int(vcpus)}
		return err
	})
	return info, err
}

func (c *rpcConn) XML(ctx context.Context, d Domain, flags XMLFlags) (string, error) {
	var x string
	err := c.call(ctx, "get XML of", d.Name, func() (err error) {
		x, err = c.lv.DomainGetXMLDesc(toLV(d), golibvirt.DomainXMLFlags(flags))
		return err
	})
	return x, err
}

func (c *rpcConn) Shutdown(ctx context.Context, d Domain, mode ShutdownMode) error {
	return c.call(ctx, "shut down", d.Name, func() error {
		return c.lv.DomainShutdownFlags(toLV(d), golibvirt.DomainShutdownFlagValues(mode))
	})
}

func (c *rpcConn) Destroy(ctx context.Context, d Domain) error {
	return c.call(ctx, "destroy", d.Name, func() error { return c.lv.DomainDestroyFlags(toLV(d), 0) })
}

func (c *rpcConn) Suspend(ctx context.Context, d Domain) error {
	return c.call(ctx, "suspend", d.Name, func() error { return c.lv.DomainSuspend(toLV(d)) })
}

func (c *rpcConn) Resume(ctx context.Context, d Domain) error {
	return c.call(ctx, "resume", d.Name, func() error { return c.lv.DomainResume(toLV(d)) })
}

func (c *rpcConn) Save(ctx context.Context, d Domain, path string) error {
	return c.call(ctx, "save", d.Name, func() error { return c.lv.DomainSave(toLV(d), path) })
}

func (c *rpcConn) Restore(ctx context.Context, path string) error {
	return c.call(ctx, "restore from "+path, "", func() error { return c.lv.DomainRestore(path) })
}

func (c *rpcConn) StartPool(ctx context.Context, name string) error {
	return c.call(ctx, "start storage pool "+name, "", func() error {
		pool, err := c.lv.StoragePoolLookupByName(name)
		if err != nil {
			return err
		}
		state, _, _, _, err := c.lv.StoragePoolGetInfo(pool)
		if err != nil {
			return err
		}
		if state == uint8(golibvirt.StoragePoolRunning) {
			return c.lv.StoragePoolRefresh(pool, 0)
		}
		return c.lv.StoragePoolCreate(pool, 0)
	})
}

func (c *rpcConn) StartNetwork(ctx context.Context, name string) error {
	return c.call(ctx, "start network "+name, "", func() error {
		n, err := c.lv.NetworkLookupByName(name)
		if err != nil {
			return err
		}
		active, err := c.lv.NetworkIsActive(n)
		if err != nil || active == 1 {
			return err
		}
		return c.lv.NetworkCreate(n)
	})
}

func (c *rpcConn) Migrate(ctx context.Context, d Domain, p MigrateParams) (MigrateReport, error) {
	var params []golibvirt.TypedParam
	for _, tp := range p.typedParams() {
		var v *golibvirt.TypedParamValue
		switch x := tp.value.(type) {
		case string:
			v = golibvirt.NewTypedParamValueString(x)
		case int32:
			v = golibvirt.NewTypedParamValueInt(x)
		case uint64:
			v = golibvirt.NewTypedParamValueUllong(x)
		}
		params = append(params, golibvirt.TypedParam{Field: tp.name, Value: *v})
	}
	lvd := toLV(d)
	flags := golibvirt.DomainMigrateFlags(p.Flags | MigratePeer2Peer)
	perform := func() error {
		_, err := c.lv.DomainMigratePerform3Params(lvd, golibvirt.OptString{p.DestURI}, params, nil, flags)
		return err
	}
	job := migrationJob{
		downtime: p.MaxDowntime,
		active: func(ctx context.Context) (bool, error) {
			var typ int32
			err := c.call(ctx, "get job of", d.Name, func() (err error) {
				typ, _, _, _, _, _, _, _, _, _, _, _, err = c.lv.DomainGetJobInfo(lvd)
				return err
			})
			return typ == int32(golibvirt.DomainJobUnbounded) || typ == int32(golibvirt.DomainJobBounded), err
		},
		setDowntime: func(ctx context.Context, ms uint64) error {
			return c.call(ctx, "set migration downtime of", d.Name, func() error {
				return c.lv.DomainMigrateSetMaxDowntime(lvd, ms, 0)
			})
		},
		abort: func(ctx context.Context) error {
			return c.call(ctx, "abort job of", d.Name, func() error { return c.lv.DomainAbortJob(lvd) })
		},
	}
	rep, err := job.run(ctx, perform)
	if err != nil {
		kind := classify(err)
		if errors.Is(err, ErrAborted) {
			kind = ErrAborted
		}
		return rep, &Error{Op: "migrate", Domain: d.Name, URI: c.uri, Code: codeOf(err), Kind: kind,
			Err: fmt.Errorf("to %s: %w", p.DestURI, err)}
	}
	return rep, nil
}
