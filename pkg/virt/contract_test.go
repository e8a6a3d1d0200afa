package virt_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfbox/ocfbox/internal/libvirttest"
	"github.com/ocfbox/ocfbox/pkg/virt"
)

// impl is one implementation of virt.Conn under contract test. The
// default build tests the pure-Go client; the libvirt_cgo build adds the
// cgo binding (cgo_test.go).
type impl struct {
	name    string
	connect func(context.Context, string) (virt.Conn, error)
}

var impls = []impl{{"go-libvirt", virt.ConnectRPC}}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustConnect(t *testing.T, im impl, uri string) virt.Conn {
	t.Helper()
	c, err := im.connect(ctxT(t, 30*time.Second), uri)
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wantState(t *testing.T, c virt.Conn, d virt.Domain, want virt.State) int {
	t.Helper()
	st, reason, err := c.State(ctxT(t, 10*time.Second), d)
	if err != nil {
		t.Fatalf("state of %s: %v", d.Name, err)
	}
	if st != want {
		t.Fatalf("state of %s: got %s (reason %d), want %s", d.Name, st, reason, want)
	}
	return reason
}

// waitState polls until the domain reaches want or the deadline passes.
func waitState(t *testing.T, c virt.Conn, d virt.Domain, want virt.State, within time.Duration) int {
	t.Helper()
	ctx := ctxT(t, within)
	for {
		st, reason, err := c.State(ctx, d)
		if err == nil && st == want {
			return reason
		}
		select {
		case <-ctx.Done():
			t.Fatalf("domain %s did not reach %s within %s: last state %s, err %v", d.Name, want, within, st, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got error %v, want one wrapping %q", what, err, sentinel)
	}
	var ve *virt.Error
	if !errors.As(err, &ve) || ve.Op == "" || ve.URI == "" {
		t.Fatalf("%s: error %v is not a *virt.Error naming the operation and URI", what, err)
	}
}

const testDomainXML = `<domain type='test'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>2</vcpu>
  <os><type>hvm</type></os>
</domain>`

func testXML(name string) string { return strings.Replace(testDomainXML, "%s", name, 1) }

// TestContractTestDriver runs the contract against the daemon's
// in-memory test driver (test+unix:///default).
func TestContractTestDriver(t *testing.T) {
	lv := libvirttest.Start(t)
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			c := mustConnect(t, im, lv.TestURI())
			ctx := ctxT(t, 60*time.Second)

			t.Run("lookup of a missing domain is ErrNoDomain", func(t *testing.T) {
				_, err := c.Lookup(ctx, "no-such-domain")
				wantErr(t, "lookup no-such-domain", err, virt.ErrNoDomain)
				_, err = c.LookupUUID(ctx, virt.UUID{1, 2, 3})
				wantErr(t, "lookup by unknown UUID", err, virt.ErrNoDomain)
			})
			t.Run("the built-in domain is running with its info", func(t *testing.T) {
				d, err := c.Lookup(ctx, "test")
				if err != nil {
					t.Fatalf("lookup test: %v", err)
				}
				wantState(t, c, d, virt.Running)
				info, err := c.Info(ctx, d)
				if err != nil || info.State != virt.Running || info.VCPUs < 1 || info.MaxMemKiB == 0 {
					t.Fatalf("info of test: %+v, %v; want running with vCPUs and memory", info, err)
				}
				byUUID, err := c.LookupUUID(ctx, d.UUID)
				if err != nil || byUUID.Name != "test" {
					t.Fatalf("lookup by UUID %s: %+v, %v; want domain test", d.UUID, byUUID, err)
				}
			})
			t.Run("a created domain is transient and vanishes when destroyed", func(t *testing.T) {
				d, err := c.Create(ctx, testXML("ct-transient"))
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				wantState(t, c, d, virt.Running)
				if p, err := c.IsPersistent(ctx, d); err != nil || p {
					t.Fatalf("IsPersistent of a created domain: %v, %v; want false", p, err)
				}
				info, err := c.Info(ctx, d)
				if err != nil || info.VCPUs != 2 || info.MaxMemKiB != 64*1024 {
					t.Fatalf("info: %+v, %v; want 2 vCPUs and 65536 KiB", info, err)
				}
				x, err := c.XML(ctx, d, virt.XMLInactive|virt.XMLSecure)
				if err != nil || !strings.Contains(x, "<name>ct-transient</name>") {
					t.Fatalf("XML: %v; want the domain's name in %q", err, x)
				}
				if _, err = c.Create(ctx, testXML("ct-transient")); err == nil {
					t.Fatalf("create of a running domain's name succeeded; want an error")
				}
				if err := c.Destroy(ctx, d); err != nil {
					t.Fatalf("destroy: %v", err)
				}
				_, err = c.Lookup(ctx, "ct-transient")
				wantErr(t, "lookup after destroy", err, virt.ErrNoDomain)
			})
			t.Run("a defined domain starts, shuts down, and is undefined", func(t *testing.T) {
				d, err := c.Define(ctx, testXML("ct-defined"))
				if err != nil {
					t.Fatalf("define: %v", err)
				}
				wantState(t, c, d, virt.Shutoff)
				if p, err := c.IsPersistent(ctx, d); err != nil || !p {
					t.Fatalf("IsPersistent of a defined domain: %v, %v; want true", p, err)
				}
				err = c.Destroy(ctx, d)
				wantErr(t, "destroy of an inactive domain", err, virt.ErrInvalidOperation)
				if err := c.Start(ctx, d); err != nil {
					t.Fatalf("start: %v", err)
				}
				wantState(t, c, d, virt.Running)
				if err := c.Suspend(ctx, d); err != nil {
					t.Fatalf("suspend: %v", err)
				}
				wantState(t, c, d, virt.Paused)
				if err := c.Resume(ctx, d); err != nil {
					t.Fatalf("resume: %v", err)
				}
				wantState(t, c, d, virt.Running)
				if err := c.Shutdown(ctx, d, 0); err != nil {
					t.Fatalf("shutdown: %v", err)
				}
				if r := waitState(t, c, d, virt.Shutoff, 10*time.Second); r != virt.ShutoffShutdown {
					t.Fatalf("shutoff reason after shutdown: %d, want %d (shutdown)", r, virt.ShutoffShutdown)
				}
				if err := c.Undefine(ctx, d); err != nil {
					t.Fatalf("undefine: %v", err)
				}
				_, err = c.Lookup(ctx, "ct-defined")
				wantErr(t, "lookup after undefine", err, virt.ErrNoDomain)
			})
			t.Run("save stops a domain and restore brings it back", func(t *testing.T) {
				d, err := c.Create(ctx, testXML("ct-save"))
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				path := filepath.Join(t.TempDir(), "ct-save.state")
				if err := c.Save(ctx, d, path); err != nil {
					t.Fatalf("save: %v", err)
				}
				if _, err := c.Lookup(ctx, "ct-save"); !errors.Is(err, virt.ErrNoDomain) {
					t.Fatalf("lookup after saving a transient domain: %v; want ErrNoDomain", err)
				}
				if err := c.Restore(ctx, path); err != nil {
					t.Fatalf("restore: %v", err)
				}
				back, err := c.Lookup(ctx, "ct-save")
				if err != nil || back.UUID != d.UUID {
					t.Fatalf("lookup after restore: %+v, %v; want the same UUID %s", back, err, d.UUID)
				}
				wantState(t, c, back, virt.Running)
				c.Destroy(ctx, back)
			})
			t.Run("pools and networks are started and refreshed", func(t *testing.T) {
				if err := c.StartPool(ctx, "default-pool"); err != nil {
					t.Fatalf("start the active default-pool: %v", err)
				}
				if err := c.StartNetwork(ctx, "default"); err != nil {
					t.Fatalf("start the active default network: %v", err)
				}
				wantErr(t, "start a missing pool", c.StartPool(ctx, "no-such-pool"), virt.ErrNoResource)
			})
			t.Run("the test driver has no peer-to-peer migration", func(t *testing.T) {
				d, err := c.Lookup(ctx, "test")
				if err != nil {
					t.Fatalf("lookup test: %v", err)
				}
				_, err = c.Migrate(ctx, d, virt.MigrateParams{DestURI: "test:///default", Flags: virt.MigrateLive})
				wantErr(t, "migrate on the test driver", err, virt.ErrUnsupported)
			})
			t.Run("test:///default names the same driver", func(t *testing.T) {
				// The pure-Go client opens it in libvirtd's system socket
				// (pointed at the private daemon here); libvirt's own
				// client runs it in-process. Both have the domain "test".
				old := virt.SocketDir
				virt.SocketDir = filepath.Dir(lv.Socket)
				defer func() { virt.SocketDir = old }()
				c2, err := im.connect(ctx, "test:///default")
				if err != nil {
					t.Fatalf("connect test:///default: %v", err)
				}
				defer c2.Close()
				if _, err := c2.Lookup(ctx, "test"); err != nil {
					t.Fatalf("lookup test on test:///default: %v", err)
				}
			})
			t.Run("a call with an ended context does not reach libvirt", func(t *testing.T) {
				done, cancel := context.WithCancel(context.Background())
				cancel()
				_, err := c.Lookup(done, "test")
				wantErr(t, "lookup with a cancelled context", err, virt.ErrUnreachable)
			})
		})
	}
}
