//go:build libvirt_cgo && cgo

package virt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"libvirt.org/go/libvirt"
)

// cgoConn is the implementation on libvirt's own client library
// (libvirt.org/go/libvirt), built with the tag libvirt_cgo: it has
// libvirt's client-side drivers and every transport (ssh included). Its
// calls cannot be interrupted, so a call whose context ends is left
// running in the background and the connection is not used again.
type cgoConn struct {
	uri       string
	c         *libvirt.Connect
	broken    chan struct{}
	breakOnce sync.Once
}

// ConnectCgo opens uri with libvirt's client library.
func ConnectCgo(ctx context.Context, uri string) (Conn, error) {
	if _, err := ParseURI(uri); err != nil {
		return nil, &Error{Op: "connect", URI: uri, Kind: ErrInvalidURI, Err: errors.Unwrap(err)}
	}
	cc := &cgoConn{uri: uri, broken: make(chan struct{})}
	err := cc.call(ctx, "connect", "", func() (err error) {
		cc.c, err = libvirt.NewConnect(uri)
		return err
	})
	if err != nil {
		var ve *Error
		if errors.As(err, &ve) && ve.Kind == nil {
			ve.Kind = ErrUnreachable
		}
		return nil, err
	}
	return cc, nil
}

func (cc *cgoConn) URI() string { return cc.uri }

// call runs fn under ctx: when ctx ends first, the call is abandoned.
func (cc *cgoConn) call(ctx context.Context, op, dom string, fn func() error) error {
	select {
	case <-cc.broken:
		return &Error{Op: op, Domain: dom, URI: cc.uri, Kind: ErrUnreachable, Err: errors.New("an earlier call was abandoned")}
	default:
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: op, Domain: dom, URI: cc.uri, Kind: ErrUnreachable, Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return cc.wrap(op, dom, err)
	case <-ctx.Done():
		cc.breakOnce.Do(func() { close(cc.broken) })
		return &Error{Op: op, Domain: dom, URI: cc.uri, Kind: ErrUnreachable, Err: ctx.Err()}
	}
}

func (cc *cgoConn) wrap(op, dom string, err error) error {
	if err == nil {
		return nil
	}
	var le libvirt.Error
	if !errors.As(err, &le) {
		return &Error{Op: op, Domain: dom, URI: cc.uri, Err: err}
	}
	kind := sentinelFor(int(le.Code))
	if kind == nil && le.Domain == libvirt.FROM_RPC {
		kind = ErrUnreachable // the connection itself failed
	}
	return &Error{Op: op, Domain: dom, URI: cc.uri, Code: int(le.Code), Kind: kind, Err: errors.New(le.Message)}
}

func (cc *cgoConn) Close() error {
	if cc.c == nil {
		return nil
	}
	select {
	case <-cc.broken:
		return nil // a call still holds it
	default:
	}
	done := make(chan struct{})
	go func() { cc.c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	return nil
}

// withDomain runs fn on the domain's handle, found by UUID.
func (cc *cgoConn) withDomain(ctx context.Context, op string, d Domain, fn func(*libvirt.Domain) error) error {
	return cc.call(ctx, op, d.Name, func() error {
		dom, err := cc.c.LookupDomainByUUID(d.UUID[:])
		if err != nil {
			return err
		}
		defer dom.Free()
		return fn(dom)
	})
}

func describe(dom *libvirt.Domain) (Domain, error) {
	name, err := dom.GetName()
	if err != nil {
		return Domain{}, err
	}
	raw, err := dom.GetUUID()
	if err != nil {
		return Domain{}, err
	}
	d := Domain{Name: name, ID: -1}
	copy(d.UUID[:], raw)
	if id, err := dom.GetID(); err == nil {
		d.ID = int(id)
	}
	return d, nil
}

func (cc *cgoConn) lookup(ctx context.Context, op, what string, find func() (*libvirt.Domain, error)) (Domain, error) {
	var d Domain
	err := cc.call(ctx, op, what, func() error {
		dom, err := find()
		if err != nil {
			return err
		}
		defer dom.Free()
		d, err = describe(dom)
		return err
	})
	return d, err
}

func (cc *cgoConn) Lookup(ctx context.Context, name string) (Domain, error) {
	return cc.lookup(ctx, "lookup", name, func() (*libvirt.Domain, error) { return cc.c.LookupDomainByName(name) })
}

func (cc *cgoConn) LookupUUID(ctx context.Context, uuid UUID) (Domain, error) {
	return cc.lookup(ctx, "lookup", uuid.String(), func() (*libvirt.Domain, error) { return cc.c.LookupDomainByUUID(uuid[:]) })
}

func (cc *cgoConn) Create(ctx context.Context, xml string) (Domain, error) {
	return cc.lookup(ctx, "create", "", func() (*libvirt.Domain, error) { return cc.c.DomainCreateXML(xml, 0) })
}

func (cc *cgoConn) Define(ctx context.Context, xml string) (Domain, error) {
	return cc.lookup(ctx, "define", "", func() (*libvirt.Domain, error) { return cc.c.DomainDefineXMLFlags(xml, 0) })
}

func (cc *cgoConn) Start(ctx context.Context, d Domain) error {
	return cc.withDomain(ctx, "start", d, func(dom *libvirt.Domain) error { return dom.Create() })
}

func (cc *cgoConn) Undefine(ctx context.Context, d Domain) error {
	return cc.withDomain(ctx, "undefine", d, func(dom *libvirt.Domain) error { return dom.UndefineFlags(0) })
}

func (cc *cgoConn) IsPersistent(ctx context.Context, d Domain) (bool, error) {
	var p bool
	err := cc.withDomain(ctx, "check persistence of", d, func(dom *libvirt.Domain) (err error) {
		p, err = dom.IsPersistent()
		return err
	})
	return p, err
}

func (cc *cgoConn) State(ctx context.Context, d Domain) (State, int, error) {
	var st libvirt.DomainState
	var reason int
	err := cc.withDomain(ctx, "get state of", d, func(dom *libvirt.Domain) (err error) {
		st, reason, err = dom.GetState()
		return err
	})
	return State(st), reason, err
}

func (cc *cgoConn) Info(ctx context.Context, d Domain) (Info, error) {
	var info Info
	err := cc.withDomain(ctx, "get info of", d, func(dom *libvirt.Domain) error {
		i, err := dom.GetInfo()
		if err != nil {
			return err
		}
		info = Info{State: State(i.State), MaxMemKiB: i.MaxMem, MemKiB: i.Memory, VCPUs: int(i.NrVirtCpu)}
		return nil
	})
	return info, err
}

func (cc *cgoConn) XML(ctx context.Context, d Domain, flags XMLFlags) (string, error) {
	var x string
	err := cc.withDomain(ctx, "get XML of", d, func(dom *libvirt.Domain) (err error) {
		x, err = dom.GetXMLDesc(libvirt.DomainXMLFlags(flags))
		return err
	})
	return x, err
}

func (cc *cgoConn) Shutdown(ctx context.Context, d Domain, mode ShutdownMode) error {
	return cc.withDomain(ctx, "shut down", d, func(dom *libvirt.Domain) error {
		return dom.ShutdownFlags(libvirt.DomainShutdownFlags(mode))
	})
}

func (cc *cgoConn) Destroy(ctx context.Context, d Domain) error {
	return cc.withDomain(ctx, "destroy", d, func(dom *libvirt.Domain) error { return dom.DestroyFlags(0) })
}

func (cc *cgoConn) Suspend(ctx context.Context, d Domain) error {
	return cc.withDomain(ctx, "suspend", d, func(dom *libvirt.Domain) error { return dom.Suspend() })
}

func (cc *cgoConn) Resume(ctx context.Context, d Domain) error {
	return cc.withDomain(ctx, "resume", d, func(dom *libvirt.Domain) error { return dom.Resume() })
}

func (cc *cgoConn) Save(ctx context.Context, d Domain, path string) error {
	return cc.withDomain(ctx, "save", d, func(dom *libvirt.Domain) error { return dom.Save(path) })
}

func (cc *cgoConn) Restore(ctx context.Context, path string) error {
	return cc.call(ctx, "restore from "+path, "", func() error { return cc.c.DomainRestore(path) })
}

func (cc *cgoConn) StartPool(ctx context.Context, name string) error {
	return cc.call(ctx, "start storage pool "+name, "", func() error {
		p, err := cc.c.LookupStoragePoolByName(name)
		if err != nil {
			return err
		}
		defer p.Free()
		info, err := p.GetInfo()
		if err != nil {
			return err
		}
		if info.State == libvirt.STORAGE_POOL_RUNNING {
			return p.Refresh(0)
		}
		return p.Create(0)
	})
}

func (cc *cgoConn) StartNetwork(ctx context.Context, name string) error {
	return cc.call(ctx, "start network "+name, "", func() error {
		n, err := cc.c.LookupNetworkByName(name)
		if err != nil {
			return err
		}
		defer n.Free()
		active, err := n.IsActive()
		if err != nil || active {
			return err
		}
		return n.Create()
	})
}

func (cc *cgoConn) Migrate(ctx context.Context, d Domain, p MigrateParams) (MigrateReport, error) {
	mp := &libvirt.DomainMigrateParameters{}
	for _, tp := range p.typedParams() {
		switch tp.name {
		case "migrate_uri":
			mp.URISet, mp.URI = true, tp.value.(string)
		case "destination_name":
			mp.DestNameSet, mp.DestName = true, tp.value.(string)
		case "listen_address":
			mp.ListenAddressSet, mp.ListenAddress = true, tp.value.(string)
		case "graphics_uri":
			mp.GraphicsURISet, mp.GraphicsURI = true, tp.value.(string)
		case "disks_uri":
			mp.DisksURISet, mp.DisksURI = true, tp.value.(string)
		case "tls.destination":
			mp.TLSDestinationSet, mp.TLSDestination = true, tp.value.(string)
		case "bandwidth":
			mp.BandwidthSet, mp.Bandwidth = true, tp.value.(uint64)
		case "disks_port":
			mp.DisksPortSet, mp.DisksPort = true, int(tp.value.(int32))
		case "migrate_disks":
			mp.MigrateDisksSet, mp.MigrateDisks = true, append(mp.MigrateDisks, tp.value.(string))
		case "compression":
			if mp.CompressionSet {
				return MigrateReport{}, &Error{Op: "migrate", Domain: d.Name, URI: cc.uri, Kind: ErrUnsupported,
					Err: fmt.Errorf("the cgo binding passes one compression method, not %s", strings.Join(p.Compression, ","))}
			}
			mp.CompressionSet, mp.Compression = true, tp.value.(string)
		case "compression.mt.level":
			mp.CompressionMTLevelSet, mp.CompressionMTLevel = true, int(tp.value.(int32))
		case "compression.mt.threads":
			mp.CompressionMTThreadsSet, mp.CompressionMTThreads = true, int(tp.value.(int32))
		case "compression.mt.dthreads":
			mp.CompressionMTDThreadsSet, mp.CompressionMTDThreads = true, int(tp.value.(int32))
		case "compression.xbzrle.cache":
			mp.CompressionXBZRLECacheSet, mp.CompressionXBZRLECache = true, tp.value.(uint64)
		case "auto_converge.initial":
			mp.AutoConvergeInitialSet, mp.AutoConvergeInitial = true, int(tp.value.(int32))
		case "auto_converge.increment":
			mp.AutoConvergeIncrementSet, mp.AutoConvergeIncrement = true, int(tp.value.(int32))
		case "parallel.connections":
			mp.ParallelConnectionsSet, mp.ParallelConnections = true, int(tp.value.(int32))
		default:
			return MigrateReport{}, &Error{Op: "migrate", Domain: d.Name, URI: cc.uri, Kind: ErrUnsupported,
				Err: fmt.Errorf("the cgo binding has no migration parameter %s", tp.name)}
		}
	}
	var dom *libvirt.Domain
	err := cc.call(ctx, "migrate", d.Name, func() (err error) {
		dom, err = cc.c.LookupDomainByUUID(d.UUID[:])
		return err
	})
	if err != nil {
		return MigrateReport{}, err
	}
	defer dom.Free()
	flags := libvirt.DomainMigrateFlags(p.Flags | MigratePeer2Peer)
	short := func(ctx context.Context, op string, fn func() error) error { return cc.call(ctx, op, d.Name, fn) }
	job := migrationJob{
		downtime: p.MaxDowntime,
		active: func(ctx context.Context) (bool, error) {
			var on bool
			err := short(ctx, "get job of", func() error {
				info, err := dom.GetJobInfo()
				if err == nil {
					on = info.Type == libvirt.DOMAIN_JOB_UNBOUNDED || info.Type == libvirt.DOMAIN_JOB_BOUNDED
				}
				return err
			})
			return on, err
		},
		setDowntime: func(ctx context.Context, ms uint64) error {
			return short(ctx, "set migration downtime of", func() error { return dom.MigrateSetMaxDowntime(ms, 0) })
		},
		abort: func(ctx context.Context) error {
			return short(ctx, "abort job of", func() error { return dom.AbortJob() })
		},
	}
	rep, err := job.run(ctx, func() error { return dom.MigrateToURI3(p.DestURI, mp, flags) })
	if err != nil {
		werr := cc.wrap("migrate", d.Name, err)
		var ve *Error
		if errors.As(werr, &ve) {
			if errors.Is(err, ErrAborted) {
				ve.Kind = ErrAborted
			}
			ve.Err = fmt.Errorf("to %s: %w", p.DestURI, ve.Err)
		}
		return rep, werr
	}
	return rep, nil
}
