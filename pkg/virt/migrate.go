package virt

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// migrationJob drives one migration call the same way for both
// implementations: the call runs in the background; the maximum downtime
// is applied as soon as libvirt reports the migration job running (it
// cannot be set before, and a small guest may finish within a second);
// and when ctx ends first the job is aborted so the domain stays where
// it was, rather than leaving a migration running behind a timed-out
// agent.
type migrationJob struct {
	downtime    time.Duration
	active      func(ctx context.Context) (bool, error)
	setDowntime func(ctx context.Context, ms uint64) error
	abort       func(ctx context.Context) error
}

// abortWait bounds how long an abort and the migration call's return
// may take once ctx has ended.
const abortWait = 5 * time.Second

func (j migrationJob) run(ctx context.Context, perform func() error) (MigrateReport, error) {
	done := make(chan error, 1)
	go func() { done <- perform() }()

	var rep MigrateReport
	stop := make(chan struct{})
	tuned := make(chan struct{})
	if j.downtime > 0 {
		go func() {
			defer close(tuned)
			rep.DowntimeSet, rep.DowntimeErr = j.applyDowntime(stop)
		}()
	} else {
		close(tuned)
	}

	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = j.cancel(ctx, done)
	}
	close(stop)
	<-tuned
	return rep, err
}

// cancel aborts the migration job once ctx has ended, retrying while
// the job may not have started yet, and waits a bounded time for the
// migration call to return. A migration that completed anyway is a
// success: the guest then runs on the target only.
func (j migrationJob) cancel(ctx context.Context, done <-chan error) error {
	deadline := time.Now().Add(abortWait)
	var aerr error
	for time.Now().Before(deadline) {
		actx, cancel := context.WithTimeout(context.Background(), time.Until(deadline))
		aerr = j.abort(actx)
		cancel()
		select {
		case perr := <-done:
			if perr == nil {
				return nil
			}
			return fmt.Errorf("%w: %w, migration aborted: %w", ErrAborted, ctx.Err(), perr)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%w: %w; abort requested (%v) but the migration call has not returned", ErrAborted, ctx.Err(), aerr)
}

func (j migrationJob) applyDowntime(stop <-chan struct{}) (bool, error) {
	ms := uint64(j.downtime / time.Millisecond)
	var last error
	for {
		select {
		case <-stop:
			if last == nil {
				last = errors.New("the migration ended before its job was seen running")
			}
			return false, last
		case <-time.After(50 * time.Millisecond):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		on, err := j.active(ctx)
		if err == nil && on {
			if err = j.setDowntime(ctx, ms); err == nil {
				cancel()
				return true, nil
			}
		}
		cancel()
		if err != nil {
			last = err
		}
	}
}

// ParseMigrateOptions parses the virsh migrate options ocfbox supports
// (the VirtualDomain agent's migrate_options, split on white space) into
// p. Options take their value as "--opt value" or "--opt=value". It
// returns the options it does not support, so the caller can name them
// all; an option ocfbox knows but refuses (because ocfbox always migrates
// live and peer-to-peer, or because the option is virsh's own client
// behaviour) is reported the same way with the reason.
//
// --migrateuri is accepted and returned in p.URI; the agent decides
// whether it wins over its own parameters.
func ParseMigrateOptions(args []string, p *MigrateParams) (unsupported []string, err error) {
	flags := map[string]MigrateFlags{
		"--live": MigrateLive, "--p2p": MigratePeer2Peer, "--tunnelled": MigrateTunnelled,
		"--persistent": MigratePersistDest, "--undefinesource": MigrateUndefineSource,
		"--suspend": MigratePaused, "--copy-storage-all": MigrateNonSharedDisk,
		"--copy-storage-inc": MigrateNonSharedInc, "--change-protection": MigrateChangeProtection,
		"--unsafe": MigrateUnsafe, "--compressed": MigrateCompressed,
		"--abort-on-error": MigrateAbortOnError, "--auto-converge": MigrateAutoConverge,
		"--rdma-pin-all": MigrateRDMAPinAll, "--postcopy": MigratePostcopy, "--tls": MigrateTLS,
		"--parallel": MigrateParallel, "--copy-storage-synchronous-writes": MigrateSyncWrites,
		"--verbose": 0, // virsh's progress display: nothing to do
	}
	refused := map[string]string{
		"--direct":                 "ocfbox migrates peer-to-peer through libvirtd",
		"--offline":                "the agent migrates running guests only",
		"--postcopy-after-precopy": "switching to post-copy needs a client watching the job",
		"--timeout":                "virsh's own timeout handling; the operation timeout applies",
		"--timeout-suspend":        "virsh's own timeout handling",
		"--timeout-postcopy":       "virsh's own timeout handling",
		"--xml":                    "destination XML files are not supported",
		"--persistent-xml":         "persistent XML files are not supported",
		"--domain":                 "the domain comes from the config parameter",
		"--desturi":                "the destination comes from remoteuri or hypervisor",
	}
	type setter func(v string) error
	str := func(dst *string) setter { return func(v string) error { *dst = v; return nil } }
	list := func(dst *[]string) setter {
		return func(v string) error { *dst = append(*dst, strings.Split(v, ",")...); return nil }
	}
	num := func(dst *int) setter {
		return func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%q is not a non-negative integer", v)
			}
			*dst = n
			return nil
		}
	}
	u64 := func(dst *uint64) setter {
		return func(v string) error {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a non-negative integer", v)
			}
			*dst = n
			return nil
		}
	}
	values := map[string]setter{
		"--migrateuri": str(&p.URI), "--dname": str(&p.DestName), "--listen-address": str(&p.ListenAddress),
		"--graphicsuri": str(&p.GraphicsURI), "--disks-uri": str(&p.DisksURI), "--tls-destination": str(&p.TLSDestination),
		"--disks-port": num(&p.DisksPort), "--migrate-disks": list(&p.MigrateDisks), "--comp-methods": list(&p.Compression),
		"--comp-mt-level": num(&p.CompMTLevel), "--comp-mt-threads": num(&p.CompMTThreads),
		"--comp-mt-dthreads": num(&p.CompMTDThreads), "--comp-xbzrle-cache": u64(&p.CompXBZRLECache),
		"--auto-converge-initial": num(&p.AutoConvergeInitial), "--auto-converge-increment": num(&p.AutoConvergeIncr),
		"--parallel-connections": num(&p.ParallelConnections), "--bandwidth": u64(&p.Bandwidth),
		"--postcopy-bandwidth": u64(&p.BandwidthPostcopy),
	}
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		if f, ok := flags[name]; ok && !hasVal {
			p.Flags |= f
			continue
		}
		if why, ok := refused[name]; ok {
			unsupported = append(unsupported, fmt.Sprintf("%s (%s)", name, why))
			if !hasVal && name != "--direct" && name != "--offline" && name != "--postcopy-after-precopy" &&
				i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
				i++ // skip the refused option's value
			}
			continue
		}
		set, ok := values[name]
		if !ok {
			unsupported = append(unsupported, args[i])
			continue
		}
		if !hasVal {
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "--") {
				return unsupported, fmt.Errorf("option %s needs a value", name)
			}
			i++
			val = args[i]
		}
		if err := set(val); err != nil {
			return unsupported, fmt.Errorf("option %s: %w", name, err)
		}
	}
	return unsupported, nil
}
