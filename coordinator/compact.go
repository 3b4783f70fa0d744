package coordinator

// Compaction of etcd's history. etcd keeps every version of every key until
// its history is compacted, and samsa writes a new version of a key at every
// offset commit, group change and ISR change: without compaction the etcd
// database grows without bound (and an etcd at its quota refuses all
// writes). The controller compacts for the whole cluster, for an embedded
// and an external etcd alike.

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// compactTimeout bounds one tick's etcd calls.
const compactTimeout = 10 * time.Second

// compactLoop compacts etcd's history every interval while this broker is
// the controller, to the revision it observed one interval earlier (as
// etcd's own periodic compactor does): every watch in the cluster has had a
// whole interval to pass a revision before it is compacted, and one that has
// not (a broker cut off for longer) re-reads on its compacted watch. A
// broker that is not the controller forgets what it observed, so after it
// wins the role it compacts only from its second tick on.
func (s *Store) compactLoop(interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	var observed int64 // revision seen at the previous tick as controller; 0: none
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		observed = s.compactTick(observed)
		s.compactTicks.Add(1)
	}
}

// compactTick compacts to observed (if set) when this broker is the
// controller and returns the current revision to compact to next time (0
// when not the controller).
//
// Two brokers may both believe they are the controller for a moment around
// a change of controller; both then compact to revisions at least an
// interval old, which is as safe as one doing so.
func (s *Store) compactTick(observed int64) int64 {
	if !s.IsController() {
		return 0
	}
	ctx, cancel := context.WithTimeout(s.ctx, compactTimeout)
	defer cancel()
	if observed > 0 {
		_, err := s.client.Compact(ctx, observed)
		switch {
		case err == nil:
			s.compactions.Add(1)
			s.log.Debug().Int64("revision", observed).Msg("etcd history compacted")
		case errors.Is(err, rpctypes.ErrCompacted):
			// Compacted that far already (etcd's own compactor, an
			// operator, or our previous tick).
		case s.ctx.Err() != nil:
			return 0
		default:
			s.log.Warn().Err(err).Int64("revision", observed).Msg("cannot compact etcd history")
		}
	}
	// Any read returns the store's current revision in its header.
	resp, err := s.client.Get(ctx, s.prefix+clusterIDKey)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("cannot read etcd's revision for compaction")
		}
		return observed // still at least an interval old at the next tick
	}
	return resp.Header.Revision
}
