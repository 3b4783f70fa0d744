package group

// Placement: which groups this coordinator serves, their loading when it
// is elected for a __consumer_offsets partition, their unloading when it
// resigns it, and the fenced writes (package placement has the rules).

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/coordinator/placement"
)

// unplacedPartition is the one partition an unplaced coordinator holds:
// every group's.
const unplacedPartition = -1

// noPartition is the partition of every group while a placed coordinator
// holds no claim (the modulus is unknown): never held.
const noPartition = -2

// partState is one held partition.
type partState struct {
	claim placement.Claim // zero for unplacedPartition
	// fence is the tenure the partition was loaded under (nil until
	// loaded, and always for unplacedPartition).
	fence  *placement.Fence
	loaded bool
}

// OnElection starts loading the groups of claim's partition (requests for
// them get COORDINATOR_LOAD_IN_PROGRESS until they are loaded). A
// placement.Handler method; it does not wait for etcd.
func (c *Coordinator) OnElection(claim placement.Claim) {
	c.mu.Lock()
	if c.closed || !c.cfg.Placed || claim.Partitions <= 0 || claim.Partition < 0 || claim.Partition >= claim.Partitions {
		c.mu.Unlock()
		return
	}
	var drop []*group
	if c.numParts != 0 && c.numParts != claim.Partitions {
		c.log.Error().Int32("partitions", claim.Partitions).Int32("previous_partitions", c.numParts).
			Msg("__consumer_offsets changed its partition count: every group moves; unloading all")
		for p := range c.parts {
			drop = append(drop, c.dropPartitionLocked(p)...)
		}
	}
	c.numParts = claim.Partitions
	if old := c.parts[claim.Partition]; old != nil {
		if old.claim == claim {
			c.mu.Unlock()
			return
		}
		drop = append(drop, c.dropPartitionLocked(claim.Partition)...)
	}
	c.parts[claim.Partition] = &partState{claim: claim}
	c.mu.Unlock()
	unloadGroups(drop)
	c.signalLoad()
}

// OnResignation unloads the groups of partition if it is held at
// leaderEpoch: their timers stop, requests waiting in a rebalance are
// answered NOT_COORDINATOR, and so is every later request for them. A
// placement.Handler method.
func (c *Coordinator) OnResignation(partition, leaderEpoch int32) {
	c.mu.Lock()
	ps := c.parts[partition]
	if ps == nil || ps.claim.LeaderEpoch != leaderEpoch || !c.cfg.Placed {
		c.mu.Unlock()
		return
	}
	drop := c.dropPartitionLocked(partition)
	c.mu.Unlock()
	unloadGroups(drop)
	c.log.Info().Int32("partition", partition).Int32("leader_epoch", leaderEpoch).Int("groups", len(drop)).
		Msg("resigned __consumer_offsets partition: its groups are unloaded")
}

// fenceLost unloads the partition of f after a write through f found the
// partition moved (before the metadata told us).
func (c *Coordinator) fenceLost(f *placement.Fence) {
	cl := f.Claim()
	c.mu.Lock()
	ps := c.parts[cl.Partition]
	if ps == nil || ps.fence != f {
		c.mu.Unlock()
		return
	}
	drop := c.dropPartitionLocked(cl.Partition)
	c.mu.Unlock()
	unloadGroups(drop)
	c.log.Warn().Int32("partition", cl.Partition).Int32("leader_epoch", cl.LeaderEpoch).Int("groups", len(drop)).
		Msg("a group write found __consumer_offsets partition led elsewhere: its groups are unloaded")
}

// dropPartitionLocked forgets partition p: its fence is revoked and its
// groups leave the map; it returns them for unloadGroups. c.mu held.
func (c *Coordinator) dropPartitionLocked(p int32) []*group {
	ps := c.parts[p]
	if ps == nil {
		return nil
	}
	delete(c.parts, p)
	if ps.fence != nil {
		ps.fence.Revoke()
	}
	var out []*group
	for id, g := range c.groups {
		if g.part == p {
			out = append(out, g)
			delete(c.groups, id)
		}
	}
	return out
}

// unloadGroups marks groups that left the map unloaded. No lock held.
func unloadGroups(gs []*group) {
	for _, g := range gs {
		g.mu.Lock()
		g.unloadLocked()
		g.mu.Unlock()
	}
}

// unloadLocked ends the group here: it is dead and unloaded (requests that
// still hold it answer NOT_COORDINATOR), its timers stop and members
// waiting for a JoinGroup or SyncGroup answer get NOT_COORDINATOR. g.mu
// held.
func (g *group) unloadLocked() {
	if g.unloaded {
		return
	}
	g.dead, g.unloaded = true, true
	g.stopTimersLocked()
	g.joinSeq++
	g.syncSeq++
	for _, m := range g.members {
		if m.joinCh != nil {
			ch := m.joinCh
			m.joinCh = nil
			g.awaitingJoin--
			resp := kmsg.NewPtrJoinGroupResponse()
			resp.ErrorCode = kerr.NotCoordinator.Code
			resp.Generation = -1
			resp.MemberID = m.id
			ch <- resp
		}
		if m.syncCh != nil {
			ch := m.syncCh
			m.syncCh = nil
			ch <- syncError(kerr.NotCoordinator.Code)
		}
	}
}

// goneCode is the error for a request that reached a dead group:
// NOT_COORDINATOR once it is unloaded, else dead (a deletion).
func (g *group) goneCode(dead int16) int16 {
	if g.unloaded {
		return kerr.NotCoordinator.Code
	}
	return dead
}

// partitionOfLocked is the partition group id belongs to. c.mu held.
func (c *Coordinator) partitionOfLocked(id string) int32 {
	switch {
	case !c.cfg.Placed:
		return unplacedPartition
	case c.numParts <= 0:
		return noPartition
	}
	return placement.Partition(id, c.numParts)
}

// codeLocked is the coordinator-level error for group id: 0 while its
// partition is loaded here. c.mu held.
func (c *Coordinator) codeLocked(id string) (int32, *partState, int16) {
	if c.closed || c.ctx.Err() != nil {
		return 0, nil, kerr.CoordinatorNotAvailable.Code
	}
	p := c.partitionOfLocked(id)
	ps := c.parts[p]
	switch {
	case ps == nil:
		return p, nil, kerr.NotCoordinator.Code
	case !ps.loaded:
		return p, ps, kerr.CoordinatorLoadInProgress.Code
	}
	return p, ps, 0
}

// groupCode is the coordinator-level error for group id, or 0:
// COORDINATOR_NOT_AVAILABLE once closed, NOT_COORDINATOR when its
// partition is not held here, COORDINATOR_LOAD_IN_PROGRESS while it loads.
func (c *Coordinator) groupCode(id string) int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _, code := c.codeLocked(id)
	return code
}

// GroupCode is groupCode for the broker's own checks (a request it must
// answer without reaching the coordinator's API, e.g. to tell "not here"
// from "being loaded").
func (c *Coordinator) GroupCode(id string) int16 { return c.groupCode(id) }

// find returns the group (nil if it does not exist and create is false),
// creating an empty classic one when create is set, or the
// coordinator-level error.
func (c *Coordinator) find(id string, create bool) (*group, int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ps, code := c.codeLocked(id)
	if code != 0 {
		return nil, code
	}
	g := c.groups[id]
	if g == nil && create {
		g = newGroup(c, id, p, ps.fence)
		c.groups[id] = g
	}
	return g, 0
}

// holdsLocked reports whether g is still the live incarnation's tenure:
// its partition is loaded here under g's fence. c.mu held.
func (c *Coordinator) holdsLocked(g *group) bool {
	ps := c.parts[g.part]
	return ps != nil && ps.loaded && ps.fence == g.fence && !c.closed
}

// loadingLocked counts the held partitions not loaded yet. c.mu held.
func (c *Coordinator) loadingLocked() int {
	n := 0
	for _, ps := range c.parts {
		if !ps.loaded {
			n++
		}
	}
	return n
}

func (c *Coordinator) signalLoad() {
	select {
	case c.loadSig <- struct{}{}:
	default:
	}
}

// loadLoop loads the held partitions that are not loaded yet, all
// pending ones in one pass (a failover moves many at once), retrying with
// a backoff while etcd fails.
func (c *Coordinator) loadLoop() {
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.loadSig:
		}
		for {
			pending := c.pendingClaims()
			if len(pending) == 0 {
				break
			}
			ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
			err := c.loadPartitions(ctx, pending)
			cancel()
			if c.ctx.Err() != nil {
				return
			}
			if err == nil {
				backoff = 100 * time.Millisecond
				continue
			}
			c.log.Error().Err(err).Msg("cannot load groups from etcd; retrying")
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(backoff):
			}
			if backoff < 5*time.Second {
				backoff *= 2
			}
		}
	}
}

// pendingClaims returns the claims of the held partitions not loaded yet.
func (c *Coordinator) pendingClaims() []placement.Claim {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []placement.Claim
	for p, ps := range c.parts {
		if !ps.loaded {
			cl := ps.claim
			cl.Partition = p
			out = append(out, cl)
		}
	}
	return out
}

// loadPartitions loads the groups of claims: for a placed coordinator it
// first checks each claim in etcd and takes its fence (a claim etcd no
// longer shows is dropped: the metadata will move on), then reads the
// groups at a revision past those checks, keeps those of the claimed
// partitions and installs them for the partitions still held under the
// same claim.
func (c *Coordinator) loadPartitions(ctx context.Context, claims []placement.Claim) error {
	fences := make(map[int32]*placement.Fence, len(claims))
	var rev int64
	var n int32
	if c.cfg.Placed {
		n = claims[0].Partitions
		var valid []placement.Claim
		for _, cl := range claims {
			if cl.Partitions == n {
				valid = append(valid, cl)
			}
		}
		fs, r, err := placement.Acquire(ctx, c.cli, valid)
		if err != nil {
			return err
		}
		rev = r
		for i, cl := range valid {
			if fs[i] == nil {
				c.dropStaleClaim(cl)
				continue
			}
			fences[cl.Partition] = fs[i]
		}
		if len(fences) == 0 {
			return nil
		}
	} else {
		fences[unplacedPartition] = nil
	}
	partOf := func(id string) int32 {
		if !c.cfg.Placed {
			return unplacedPartition
		}
		return placement.Partition(id, n)
	}
	started := time.Now()
	groups, offsets, rev, err := c.readGroups(ctx, rev, func(id string) (int32, bool) {
		p := partOf(id)
		_, ok := fences[p]
		return p, ok
	})
	if err != nil {
		return err
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	var loadedParts []int32
	for p, f := range fences {
		ps := c.parts[p]
		if ps == nil || ps.loaded || (c.cfg.Placed && (ps.claim != f.Claim() || c.numParts != n)) {
			delete(fences, p) // resigned or elected again meanwhile
			continue
		}
		ps.fence, ps.loaded = f, true
		loadedParts = append(loadedParts, p)
	}
	var installed []*group
	for id, g := range groups {
		f, ok := fences[g.part]
		if !ok || c.groups[id] != nil {
			continue
		}
		g.fence = f
		c.groups[id] = g
		installed = append(installed, g)
	}
	c.mu.Unlock()
	// Restart the session timers of the loaded members: a member that
	// does not come back within its session is removed.
	for _, g := range installed {
		g.mu.Lock()
		if !g.dead {
			g.afterLoadLocked()
		}
		g.mu.Unlock()
	}
	ev := c.log.Info().Int("groups", len(installed)).Int("offsets", offsets).Int64("revision", rev).Dur("took", time.Since(started))
	if c.cfg.Placed {
		ev = ev.Ints32("partitions", loadedParts)
	}
	ev.Msg("groups loaded")
	return nil
}

// dropStaleClaim forgets a held partition whose claim etcd no longer
// shows (led by another broker or at another epoch by the time we looked).
func (c *Coordinator) dropStaleClaim(cl placement.Claim) {
	c.mu.Lock()
	var drop []*group
	if ps := c.parts[cl.Partition]; ps != nil && !ps.loaded && ps.claim == cl {
		drop = c.dropPartitionLocked(cl.Partition)
	}
	c.mu.Unlock()
	unloadGroups(drop)
	c.log.Info().Int32("partition", cl.Partition).Int32("leader_epoch", cl.LeaderEpoch).
		Msg("__consumer_offsets partition moved on before its groups were loaded; not loading them")
}

// txn runs one of g's etcd writes: fenced by the tenure g was loaded or
// created under (when placed), bounded by opCtx. A write that finds the
// partition moved unloads it and fails with placement.ErrFenced. resp is
// nil on error.
func (g *group) txn(ctx context.Context, cmps []clientv3.Cmp, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	cctx, cancel := g.c.opCtx(ctx)
	defer cancel()
	if g.fence == nil {
		if g.c.cfg.Placed {
			return nil, placement.ErrFenced // cannot happen: placed groups have a fence
		}
		return g.c.cli.Txn(cctx).If(cmps...).Then(ops...).Commit()
	}
	resp, err := g.fence.Txn(cctx, cmps, ops...)
	if errors.Is(err, placement.ErrFenced) {
		g.c.fenceLost(g.fence)
	}
	return resp, err
}

// commitTxns runs the transactions in order (each fenced) and returns how
// many succeeded and the first error.
func (g *group) commitTxns(ctx context.Context, chunks [][]clientv3.Op) (int, error) {
	for i, ops := range chunks {
		if _, err := g.txn(ctx, nil, ops...); err != nil {
			return i, err
		}
	}
	return len(chunks), nil
}
