package broker

// Hooks for the in-process dev clusters (package devcluster, `samsa dev`,
// samsatest): a virtual clock, fault injection, logs that never fsync, and a
// stop that looks like a crash to the rest of the cluster. A broker run by
// `samsa serve` sets none of them; each costs the request path one nil check
// when unset (BenchmarkProduceSteady).

import (
	"context"
	"errors"
	"os"

	"github.com/samsa-io/samsa/coordinator/group"
	"github.com/samsa-io/samsa/storage"
)

// DevOptions are set with SetDevOptions before Start.
type DevOptions struct {
	// Clock is what the logs and the group coordinator read the time
	// from (clock.go); nil is the wall clock. The brokers of one dev
	// cluster share one VirtualClock.
	Clock Clock
	// Faults are the fault-injection rules the request dispatch applies
	// (faults.go); nil: none, ever. The brokers of one dev cluster share
	// one set.
	Faults *Faults
	// NoSync makes the partition logs skip every fsync: for data that is
	// thrown away when the process exits (ephemeral mode, tests). A crash
	// of the machine may then lose or tear anything written.
	NoSync bool
}

// devState is the broker's dev hooks and the settings the request path
// reads with them.
type devState struct {
	DevOptions
	// advertiseConnected is samsa.advertise.connected.address
	// (advertise.go), read once at Start.
	advertiseConnected bool
}

// ErrStarted is returned by SetDevOptions after Start.
var ErrStarted = errors.New("broker: already started")

// SetDevOptions sets the dev hooks; only before Start.
func (b *Broker) SetDevOptions(o DevOptions) error {
	if b.logs != nil || b.closed.Load() {
		return ErrStarted
	}
	b.dev.DevOptions = o
	return nil
}

// clock is the broker's clock (DevOptions.Clock, else the wall clock).
func (b *Broker) clock() Clock {
	if b.dev.Clock != nil {
		return b.dev.Clock
	}
	return group.RealClock
}

// storageFS is the file system of the partition logs: nil (the real one)
// unless DevOptions.NoSync.
func (b *Broker) storageFS() storage.FS {
	if b.dev.NoSync {
		return noSyncFS{}
	}
	return nil
}

// RunTimeChecks runs at once, at the broker clock's time, what otherwise
// runs on a timer: retention and time-based segment rolls of every hosted
// log (log.retention.check.interval.ms) and the expiry of committed offsets
// (offsets.retention.check.interval.ms). The dev clusters call it after
// advancing their virtual clock, so that what the new time expires is gone
// when the call returns. Group session and rebalance timeouts need no call:
// they are clock timers.
func (b *Broker) RunTimeChecks(ctx context.Context) {
	if b.closed.Load() || b.logs == nil {
		return
	}
	now := b.clock().Now()
	b.parts.Load().all(func(p *partition) {
		if p.log == nil {
			return
		}
		// A failed log logged its error once, when it failed.
		if _, err := p.log.ApplyRetention(now); err != nil && !errors.Is(err, storage.ErrClosed) && !errors.Is(err, storage.ErrStorage) {
			b.log.Warn().Err(err).Str("topic", p.topic).Int32("partition", p.index).Msg("retention failed")
		}
	})
	if b.groups != nil && b.groups.Loaded() {
		b.groups.ExpireOffsets(ctx)
	}
}

// Kill stops the broker the way a crash looks to the rest of the cluster:
// its connections are cut and it stops serving, but it does not deregister,
// so its registration lives on until its etcd lease expires
// (broker.session.timeout.ms). Its logs are still closed cleanly, so that
// a restart on the same data directory finds them whole. Like Close, it
// returns after every goroutine the broker started has exited; Close after
// Kill does nothing.
func (b *Broker) Kill() error {
	if b.closed.Load() {
		return nil
	}
	// Close without the controlled shutdown and the deregistration: the
	// registration is left to expire, as after a kill -9.
	b.crashClose = true
	b.log.Warn().Msg("samsa killed (registration left to expire)")
	return b.Close()
}

// noSyncFS is the real file system with every Sync a no-op (NoSync).
type noSyncFS struct{ storage.OSFS }

func (fs noSyncFS) OpenFile(name string, flag int, perm os.FileMode) (storage.File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

// noSyncFile keeps *os.File's methods (its descriptor too, for sendfile)
// but Sync.
type noSyncFile struct{ *os.File }

func (noSyncFile) Sync() error { return nil }
