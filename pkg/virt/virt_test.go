package virt

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		name, uri       string
		driver, transp  string
		host, daemonURI string
		wantErr         error
	}{
		{"local system qemu", "qemu:///system", "qemu", "unix", "", "qemu:///system", nil},
		{"session", "qemu:///session", "qemu", "unix", "", "qemu:///session", nil},
		{"test driver", "test:///default", "test", "unix", "", "test:///default", nil},
		{"remote tcp", "qemu+tcp://node2:16600/system", "qemu", "tcp", "node2", "qemu:///system", nil},
		{"remote without transport is tls", "qemu://node2/system", "qemu", "tls", "node2", "qemu:///system", nil},
		{"ssh with user", "qemu+ssh://root@node2/system", "qemu", "ssh", "node2", "qemu:///system", nil},
		{"xen", "xen:///system", "xen", "unix", "", "xen:///system", nil},
		{"lxc", "lxc:///system", "lxc", "unix", "", "lxc:///system", nil},
		{"name parameter wins", "qemu+tcp://h/system?name=qemu:///embed", "qemu", "tcp", "h", "qemu:///embed", nil},
		{"unknown driver", "kvm:///system", "", "", "", "", ErrInvalidURI},
		{"unknown transport", "qemu+foo:///system", "", "", "", "", ErrInvalidURI},
		{"no scheme", "/var/run/libvirt/libvirt-sock", "", "", "", "", ErrInvalidURI},
		{"unix with a host", "qemu+unix://node2/system", "", "", "", "", ErrInvalidURI},
		{"not a URI", "qemu:system", "", "", "", "", ErrInvalidURI},
		{"empty", "", "", "", "", "", ErrInvalidURI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURI(tt.uri)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.uri) {
					t.Fatalf("ParseURI(%q) = %v, %v; want an error wrapping %v that names the URI", tt.uri, u, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURI(%q): %v", tt.uri, err)
			}
			if u.Driver != tt.driver || u.EffectiveTransport() != tt.transp || u.Host != tt.host || u.DaemonURI() != tt.daemonURI {
				t.Fatalf("ParseURI(%q) = driver %q transport %q host %q daemon %q; want %q %q %q %q", tt.uri,
					u.Driver, u.EffectiveTransport(), u.Host, u.DaemonURI(), tt.driver, tt.transp, tt.host, tt.daemonURI)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	dir := t.TempDir()
	old := SocketDir
	SocketDir = dir
	t.Cleanup(func() { SocketDir = old })
	modular := filepath.Join(dir, "virtqemud-sock")
	legacy := filepath.Join(dir, "libvirt-sock")

	tests := []struct {
		name     string
		uri      string
		euid     int
		files    []string
		want     Endpoint
		wantKind error
	}{
		{"monolithic libvirtd", "qemu:///system", 0, []string{legacy}, Endpoint{"unix", legacy}, nil},
		{"modular daemon preferred when its socket exists", "qemu:///system", 0, []string{legacy, modular}, Endpoint{"unix", modular}, nil},
		{"no socket at all falls back to libvirtd's", "qemu:///system", 0, nil, Endpoint{"unix", legacy}, nil},
		{"explicit socket", "qemu:///system?socket=/x/y", 0, []string{modular}, Endpoint{"unix", "/x/y"}, nil},
		{"mode=legacy", "qemu:///system?mode=legacy", 0, []string{modular}, Endpoint{"unix", legacy}, nil},
		{"test driver goes to libvirtd", "test:///default", 0, []string{legacy}, Endpoint{"unix", legacy}, nil},
		{"xen uses virtxend", "xen:///system", 0, []string{filepath.Join(dir, "virtxend-sock")}, Endpoint{"unix", filepath.Join(dir, "virtxend-sock")}, nil},
		{"tcp default port", "qemu+tcp://node2/system", 0, nil, Endpoint{"tcp", "node2:16509"}, nil},
		{"tcp explicit port", "qemu+tcp://node2:1234/system", 0, nil, Endpoint{"tcp", "node2:1234"}, nil},
		{"tls default port", "qemu://node2/system", 0, nil, Endpoint{"tls", "node2:16514"}, nil},
		{"ssh needs the cgo build", "qemu+ssh://node2/system", 0, nil, Endpoint{}, ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []string{modular, legacy, filepath.Join(dir, "virtxend-sock")} {
				os.Remove(f)
			}
			for _, f := range tt.files {
				if err := os.WriteFile(f, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			u, err := ParseURI(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			got, err := u.Endpoint(tt.euid)
			if tt.wantKind != nil {
				if !errors.Is(err, tt.wantKind) {
					t.Fatalf("Endpoint(%q) = %v, %v; want error %v", tt.uri, got, err, tt.wantKind)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Endpoint(%q) = %v, %v; want %v", tt.uri, got, err, tt.want)
			}
		})
	}
	t.Run("unprivileged session uses the runtime directory", func(t *testing.T) {
		t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
		u, _ := ParseURI("qemu:///session")
		got, err := u.Endpoint(1000)
		if err != nil || got.Address != "/run/user/1000/libvirt/libvirt-sock" {
			t.Fatalf("Endpoint(qemu:///session) as uid 1000 = %v, %v; want /run/user/1000/libvirt/libvirt-sock", got, err)
		}
	})
}

func TestDefaultURI(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "libvirt.conf")
	write := func(s string) {
		if err := os.WriteFile(conf, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		env     []string
		conf    string
		euid    int
		want    string
		noWrite bool
	}{
		{"root without anything", nil, "", 0, "qemu:///system", true},
		{"user without anything", nil, "", 1000, "qemu:///session", true},
		{"environment wins", []string{"LIBVIRT_DEFAULT_URI=xen:///system"}, `uri_default = "lxc:///system"`, 0, "xen:///system", false},
		{"uri_default from the file", nil, "# comment\nuri_default = \"lxc:///system\" # trailing\n", 0, "lxc:///system", false},
		{"commented-out uri_default", nil, "#uri_default = \"lxc:///system\"\n", 0, "qemu:///system", false},
		{"alias in the environment", []string{"LIBVIRT_DEFAULT_URI=hail"},
			"uri_aliases = [\n  \"hail=qemu+ssh://root@hail.example.com/system\",\n  \"sleet=qemu+tcp://sleet/system\",\n]\n", 0,
			"qemu+ssh://root@hail.example.com/system", false},
		{"alias as uri_default", nil, "uri_aliases = [ 'sleet=qemu+tcp://sleet/system' ]\nuri_default = \"sleet\"\n", 0,
			"qemu+tcp://sleet/system", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := conf
			if tt.noWrite {
				path = filepath.Join(t.TempDir(), "missing.conf")
			} else {
				write(tt.conf)
			}
			if got := DefaultURI(tt.env, path, tt.euid); got != tt.want {
				t.Fatalf("DefaultURI(%v, %q) = %q, want %q", tt.env, tt.conf, got, tt.want)
			}
		})
	}
}

func TestParseShutdownMode(t *testing.T) {
	tests := []struct {
		in      string
		want    ShutdownMode
		wantErr bool
	}{
		{"", 0, false},
		{"acpi", ShutdownACPI, false},
		{"agent,acpi", ShutdownACPI | ShutdownAgent, false},
		{"signal", ShutdownSignal, false},
		{"paravirt, initctl", ShutdownParavirt | ShutdownInitctl, false},
		{"acpi,reboot", 0, true},
		{"ACPI", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseShutdownMode(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseShutdownMode(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseMigrateOptions(t *testing.T) {
	tests := []struct {
		name            string
		args            string
		want            MigrateParams
		wantUnsupported []string
		wantErr         bool
	}{
		{"empty", "", MigrateParams{}, nil, false},
		{"flags", "--live --p2p --tunnelled --persistent --undefinesource --auto-converge --verbose",
			MigrateParams{Flags: MigrateLive | MigratePeer2Peer | MigrateTunnelled | MigratePersistDest | MigrateUndefineSource | MigrateAutoConverge}, nil, false},
		{"migrateuri with = and listen address with a space", "--migrateuri=tcp://n2-mig:49152 --listen-address 0.0.0.0",
			MigrateParams{URI: "tcp://n2-mig:49152", ListenAddress: "0.0.0.0"}, nil, false},
		{"numbers and lists", "--bandwidth 100 --parallel --parallel-connections 4 --comp-methods xbzrle,mt --migrate-disks vda,vdb",
			MigrateParams{Bandwidth: 100, Flags: MigrateParallel, ParallelConnections: 4, Compression: []string{"xbzrle", "mt"},
				MigrateDisks: []string{"vda", "vdb"}}, nil, false},
		{"unknown options are all named", "--live --frobnicate --colour=blue", MigrateParams{Flags: MigrateLive},
			[]string{"--frobnicate", "--colour=blue"}, false},
		{"refused options say why", "--direct --timeout 30", MigrateParams{},
			[]string{"--direct (ocfbox migrates peer-to-peer through libvirtd)", "--timeout (virsh's own timeout handling; the operation timeout applies)"}, false},
		{"missing value", "--dname", MigrateParams{}, nil, true},
		{"bad number", "--bandwidth fast", MigrateParams{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got MigrateParams
			unsup, err := ParseMigrateOptions(strings.Fields(tt.args), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseMigrateOptions(%q) error %v, want error %v", tt.args, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(unsup, tt.wantUnsupported) {
				t.Fatalf("ParseMigrateOptions(%q) = %+v, unsupported %q; want %+v, %q", tt.args, got, unsup, tt.want, tt.wantUnsupported)
			}
		})
	}
}

func TestTypedParamsLeaveOutUnset(t *testing.T) {
	p := MigrateParams{URI: "tcp://n2", Bandwidth: 50, MigrateDisks: []string{"vda", "vdb"}, ParallelConnections: 2}
	got := p.typedParams()
	want := []typedParam{{"migrate_uri", "tcp://n2"}, {"bandwidth", uint64(50)}, {"migrate_disks", "vda"},
		{"migrate_disks", "vdb"}, {"parallel.connections", int32(2)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("typedParams = %v, want %v", got, want)
	}
}

func TestUUID(t *testing.T) {
	u, err := ParseUUID("4dea22b3-1d52-d8f3-2516-782e98ab3fa0")
	if err != nil || u.String() != "4dea22b3-1d52-d8f3-2516-782e98ab3fa0" {
		t.Fatalf("ParseUUID round trip: %v, %v", u, err)
	}
	if v, err := ParseUUID("4dea22b31d52d8f32516782e98ab3fa0"); err != nil || v != u {
		t.Fatalf("ParseUUID without dashes = %v, %v; want %v", v, err, u)
	}
	for _, bad := range []string{"", "4dea22b3", "zzea22b3-1d52-d8f3-2516-782e98ab3fa0"} {
		if _, err := ParseUUID(bad); err == nil {
			t.Errorf("ParseUUID(%q) succeeded, want an error", bad)
		}
	}
}

func TestFindGuestProcess(t *testing.T) {
	proc := t.TempDir()
	procs := map[string][]string{
		"100":  {"/usr/bin/qemu-system-x86_64", "-name", "guest=web,debug-threads=on", "-S"},
		"101":  {"/usr/bin/qemu-kvm", "-name", "db", "-m", "512"},
		"102":  {"/usr/bin/qemu-system-x86_64", "-name", "guest=a,,b,debug-threads=on"},
		"103":  {"/usr/lib/libvirt/libvirt_lxc", "-name", "box", "--console", "25"},
		"104":  {"/usr/bin/vim", "-name", "web"},
		"105":  {"grep", "qemu-system", "-name", "ghost"},
		"self": {"ignored"},
	}
	for pid, argv := range procs {
		os.MkdirAll(filepath.Join(proc, pid), 0o755)
		os.WriteFile(filepath.Join(proc, pid, "cmdline"), []byte(strings.Join(argv, "\x00")+"\x00"), 0o644)
	}
	tests := []struct {
		family, name string
		want         int
	}{
		{FamilyQEMU, "web", 100},
		{FamilyQEMU, "db", 101},
		{FamilyQEMU, "a,b", 102},
		{FamilyLXC, "box", 103},
		{FamilyQEMU, "box", 0},
		{FamilyQEMU, "ghost", 0},
		{FamilyQEMU, "we", 0},
	}
	for _, tt := range tests {
		got, err := FindGuestProcess(proc, tt.family, tt.name)
		if err != nil || got != tt.want {
			t.Errorf("FindGuestProcess(%s, %q) = %d, %v; want %d", tt.family, tt.name, got, err, tt.want)
		}
	}
	if _, err := FindGuestProcess(proc, "", "web"); err == nil {
		t.Errorf("FindGuestProcess with an unknown family succeeded; want an error")
	}
}

func TestEmulatorFamily(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/qemu-system-x86_64": FamilyQEMU, "/usr/libexec/qemu-kvm": FamilyQEMU, "qemu-dm": FamilyQEMU,
		"/usr/lib/libvirt/libvirt_lxc": FamilyLXC, "/usr/lib/xen/bin/qemu-dm-x": "", "": "",
	} {
		if got := EmulatorFamily(in); got != want {
			t.Errorf("EmulatorFamily(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConnectGivesUpOnAHungDaemon: a socket that accepts but never
// answers must not hold Connect past its context.
func TestConnectGivesUpOnAHungDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "hung-sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := ConnectRPC(ctx, "qemu:///system?socket="+sock)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("connect to a hung daemon: %v; want ErrUnreachable and the deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("connect to a hung daemon did not return after its context ended")
	}
}

func TestConnectErrorsNameTheURI(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		uri  string
		kind error
	}{
		{"qemu:///system?socket=/nonexistent/ocfbox/sock", ErrUnreachable},
		{"nonsense:///x", ErrInvalidURI},
		{"esx://vcenter/", ErrUnsupported},
		{"qemu+ssh://node2/system", ErrUnsupported},
	}
	for _, tt := range tests {
		_, err := ConnectRPC(ctx, tt.uri)
		var ve *Error
		if !errors.Is(err, tt.kind) || !errors.As(err, &ve) || ve.URI != tt.uri || ve.Op != "connect" {
			t.Errorf("ConnectRPC(%q) = %v; want a connect *Error for that URI wrapping %v", tt.uri, err, tt.kind)
		}
	}
}

// TestMigrationJob checks the downtime and abort logic with fakes.
func TestMigrationJob(t *testing.T) {
	t.Run("downtime is set once the job runs", func(t *testing.T) {
		polls := 0
		var set uint64
		j := migrationJob{downtime: 300 * time.Millisecond,
			active:      func(context.Context) (bool, error) { polls++; return polls >= 3, nil },
			setDowntime: func(_ context.Context, ms uint64) error { set = ms; return nil },
			abort:       func(context.Context) error { t.Error("abort called for a migration that finished"); return nil },
		}
		rep, err := j.run(context.Background(), func() error { time.Sleep(400 * time.Millisecond); return nil })
		if err != nil || !rep.DowntimeSet || set != 300 {
			t.Fatalf("run = %+v, %v, downtime set to %d; want success with 300 ms set", rep, err, set)
		}
	})
	t.Run("a migration over before the job is seen says so", func(t *testing.T) {
		j := migrationJob{downtime: time.Second,
			active:      func(context.Context) (bool, error) { return false, nil },
			setDowntime: func(context.Context, uint64) error { return nil },
			abort:       func(context.Context) error { return nil },
		}
		rep, err := j.run(context.Background(), func() error { return nil })
		if err != nil || rep.DowntimeSet || rep.DowntimeErr == nil {
			t.Fatalf("run = %+v, %v; want success, downtime not set, with a reason", rep, err)
		}
	})
	t.Run("an ended context aborts the job", func(t *testing.T) {
		release := make(chan struct{})
		aborted := false
		j := migrationJob{
			abort: func(context.Context) error { aborted = true; close(release); return nil },
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := j.run(ctx, func() error { <-release; return errors.New("migration job: canceled by client") })
		if !aborted || !errors.Is(err, ErrAborted) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("run = %v, aborted %v; want the job aborted and ErrAborted with the deadline", err, aborted)
		}
	})
	t.Run("a migration that completes as the deadline passes is a success", func(t *testing.T) {
		release := make(chan struct{})
		j := migrationJob{abort: func(context.Context) error { close(release); return errors.New("no job is active") }}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if _, err := j.run(ctx, func() error { <-release; return nil }); err != nil {
			t.Fatalf("run = %v; want success, the guest moved", err)
		}
	})
}
