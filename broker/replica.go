package broker

// The leader's side of replication (Kafka's Partition and Replica): what the
// leader knows of each follower, the high watermark computed from it, and
// the ISR changes it asks etcd for (replica_isr.go writes them).
//
// The rules, as Kafka's:
//
//   - A follower's log end offset is the offset it fetches from; it is
//     unknown (-1) from the start of a leadership until its first fetch.
//   - lastCaughtUp: a fetch at or past the leader's log end offset catches
//     the follower up now; one at or past the leader's log end offset at the
//     follower's previous fetch catches it up as of that previous fetch.
//   - The high watermark is the smallest log end offset over the ISR (the
//     leader's own included, and a follower being added counted too), only
//     ever moved forward, and not at all while the ISR is smaller than
//     min.insync.replicas (KIP-966) or the broker's etcd lease may have
//     expired (leaseValid).
//   - A follower outside the ISR joins when it fetches at or past the high
//     watermark and the start of this leadership's epoch; an ISR member that
//     has not caught up for replica.lag.time.max.ms leaves (unless it is at
//     the log end offset). Each change is a CAS on the partition epoch the
//     leader holds; a conflict makes the state stale until the snapshot
//     brings a newer one (and with it, maybe, another leader).

import (
	"slices"
	"time"

	"github.com/samsa-io/samsa/coordinator"
)

// replicaState is a partition's replication state on this broker, guarded
// by partition.replMu. The leader fields are meaningful while leading.
type replicaState struct {
	leading bool
	// epoch is the leader epoch of the leadership; epochStart the log end
	// offset when it began (the start of the epoch in the log).
	epoch      int32
	epochStart int64
	// state is the partition state as last known: from the snapshot, or
	// from this leader's own successful CAS (the snapshot may lag it).
	state     coordinator.PartitionState
	followers []followerState // every other assigned replica
	// adding is the follower an ISR change in flight adds (-1 none): the
	// high watermark waits for it already, so that it never joins an ISR
	// whose high watermark is past its log end offset.
	adding   int32
	inflight bool // an ISR change is being written
	// stale: a CAS lost; no ISR change until the snapshot brings a newer
	// partition epoch.
	stale bool
}

// followerState is the leader's view of one follower (Kafka's Replica).
type followerState struct {
	id                 int32
	leo                int64 // -1: not fetched in this leadership yet
	logStart           int64 // the follower's log start offset (from its fetch), -1 unknown
	lastCaughtUp       time.Time
	lastFetchLeaderLEO int64
	lastFetchTime      time.Time
}

func (rs *replicaState) follower(id int32) *followerState {
	for i := range rs.followers {
		if rs.followers[i].id == id {
			return &rs.followers[i]
		}
	}
	return nil
}

// startLeading resets the leader's view for a new leadership: every
// follower's log end offset unknown, the ISR members caught up as of now
// (so that they are not shrunk at once), the others never.
func (p *partition) startLeading(st coordinator.PartitionState, me int32, now time.Time) {
	p.replMu.Lock()
	defer p.replMu.Unlock()
	rs := &p.repl
	rs.leading = true
	rs.epoch = st.LeaderEpoch
	rs.epochStart = p.log.LogEndOffset()
	rs.state = st
	rs.adding = -1
	rs.inflight = false
	rs.stale = false
	rs.followers = rs.followers[:0]
	for _, id := range st.Replicas {
		if id == me {
			continue
		}
		f := followerState{id: id, leo: -1, logStart: -1, lastFetchLeaderLEO: -1}
		if containsID(st.ISR, id) {
			f.lastCaughtUp = now
		}
		rs.followers = append(rs.followers, f)
	}
}

// adoptState takes a snapshot's state of the partition this broker leads
// (same leader epoch) when it is newer than the one held: another writer
// (the controller) changed the ISR or the replicas. It reports whether it
// did.
func (p *partition) adoptState(st coordinator.PartitionState, me int32) bool {
	p.replMu.Lock()
	defer p.replMu.Unlock()
	rs := &p.repl
	if !rs.leading || st.PartitionEpoch <= rs.state.PartitionEpoch {
		return false
	}
	rs.state = st
	rs.stale = false
	// Replicas added by a reassignment start unknown; removed ones go.
	kept := rs.followers[:0]
	for _, f := range rs.followers {
		if containsID(st.Replicas, f.id) {
			kept = append(kept, f)
		}
	}
	rs.followers = kept
	for _, id := range st.Replicas {
		if id != me && rs.follower(id) == nil {
			rs.followers = append(rs.followers, followerState{id: id, leo: -1, logStart: -1, lastFetchLeaderLEO: -1})
		}
	}
	return true
}

// stopLeading ends the leadership's replication state.
func (p *partition) stopLeading() {
	p.replMu.Lock()
	p.repl.leading = false
	p.repl.followers = p.repl.followers[:0]
	p.replMu.Unlock()
}

// hasFollower reports whether id is an assigned replica of the partition
// this broker leads, other than itself.
func (p *partition) hasFollower(id int32) bool {
	p.replMu.Lock()
	defer p.replMu.Unlock()
	return p.repl.leading && p.repl.follower(id) != nil
}

// followerReplica returns the hosted replica of the partition when this
// broker follows it and its log is healthy (KIP-392: a consumer may read
// it up to its high watermark), else nil.
func (b *Broker) followerReplica(topic string, index int32) *partition {
	p := b.parts.Load().get(topic, index)
	if p == nil || p.log == nil || p.leader.Load() || p.log.Err() != nil {
		return nil
	}
	return p
}

// isrSize is the size of the ISR the leader holds (0 when not leading).
func (p *partition) isrSize() int {
	p.replMu.Lock()
	defer p.replMu.Unlock()
	if !p.repl.leading {
		return 0
	}
	return len(p.repl.state.ISR)
}

// isr returns a copy of the ISR the leader holds.
func (p *partition) isr() []int32 {
	p.replMu.Lock()
	defer p.replMu.Unlock()
	return slices.Clone(p.repl.state.ISR)
}

// maybeAdvanceHW moves the high watermark up to the smallest log end offset
// over the ISR, and reports whether it moved.
func (p *partition) maybeAdvanceHW(b *Broker) bool {
	p.replMu.Lock()
	defer p.replMu.Unlock()
	return p.maybeAdvanceHWLocked(b)
}

// maybeAdvanceHWLocked is maybeAdvanceHW with replMu held.
func (p *partition) maybeAdvanceHWLocked(b *Broker) bool {
	rs := &p.repl
	if !rs.leading || p.log == nil {
		return false
	}
	if int32(len(rs.state.ISR)) < p.cfg.Load().MinInsyncReplicas || !b.leaseValid() {
		return false
	}
	hw := p.log.LogEndOffset()
	for _, id := range rs.state.ISR {
		if id == b.cfg.BrokerID {
			continue
		}
		f := rs.follower(id)
		if f == nil || f.leo < 0 {
			return false // an ISR member whose position is unknown holds it back
		}
		hw = min(hw, f.leo)
	}
	if rs.adding >= 0 {
		if f := rs.follower(rs.adding); f != nil && f.leo >= 0 {
			hw = min(hw, f.leo)
		} else {
			return false
		}
	}
	if hw <= p.log.HighWatermark() {
		return false
	}
	p.log.SetHighWatermark(hw)
	return true
}

// recordFollowerFetch updates the leader's view of follower id from a fetch
// at fetchOffset (the follower's log end offset), advances the high
// watermark, and reports whether it moved and whether the follower may now
// join the ISR.
func (p *partition) recordFollowerFetch(b *Broker, id int32, fetchOffset, logStart int64, now time.Time) (hwMoved, mayJoin bool) {
	p.replMu.Lock()
	defer p.replMu.Unlock()
	rs := &p.repl
	f := rs.follower(id)
	if !rs.leading || f == nil {
		return false, false
	}
	leaderLEO := p.log.LogEndOffset()
	switch {
	case fetchOffset >= leaderLEO:
		f.lastCaughtUp = maxTime(f.lastCaughtUp, now)
	case fetchOffset >= f.lastFetchLeaderLEO && f.lastFetchLeaderLEO >= 0:
		f.lastCaughtUp = maxTime(f.lastCaughtUp, f.lastFetchTime)
	}
	f.leo = fetchOffset
	f.logStart = logStart
	f.lastFetchLeaderLEO = leaderLEO
	f.lastFetchTime = now
	hwMoved = p.maybeAdvanceHWLocked(b)
	mayJoin = !containsID(rs.state.ISR, id) && p.canJoinLocked(f)
	return hwMoved, mayJoin
}

// canJoinLocked is Kafka's isFollowerInSync for ISR expansion.
func (p *partition) canJoinLocked(f *followerState) bool {
	return f.leo >= 0 && f.leo >= p.log.HighWatermark() && f.leo >= p.repl.epochStart
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// isrChange is one ISR write the leader wants: from base (the state it
// holds) to isr.
type isrChange struct {
	p       *partition
	base    coordinator.PartitionState
	isr     []int32
	added   []int32
	removed []int32
}

// planISRChange computes the ISR this leader wants now — without the
// members that have not caught up within lag, with the followers that may
// join (live brokers only) — and, when it differs, marks the change in
// flight. ok is false when there is nothing to write (or a write is in
// flight, or the state is stale).
func (p *partition) planISRChange(b *Broker, snap *coordinator.Snapshot, now time.Time, lag time.Duration) (isrChange, bool) {
	p.replMu.Lock()
	defer p.replMu.Unlock()
	rs := &p.repl
	if !rs.leading || rs.inflight || rs.stale || p.log == nil {
		return isrChange{}, false
	}
	me := b.cfg.BrokerID
	leaderLEO := p.log.LogEndOffset()
	ch := isrChange{p: p, base: rs.state}
	for _, id := range rs.state.ISR {
		f := rs.follower(id)
		if id != me && f != nil && f.leo != leaderLEO && now.Sub(f.lastCaughtUp) > lag {
			ch.removed = append(ch.removed, id)
			continue
		}
		ch.isr = append(ch.isr, id)
	}
	// At most one follower joins per write (the high watermark waits for
	// it while the write is in flight).
	for i := range rs.followers {
		f := &rs.followers[i]
		if containsID(rs.state.ISR, f.id) || !p.canJoinLocked(f) {
			continue
		}
		if _, live := snap.Brokers[f.id]; !live {
			continue
		}
		ch.isr = append(ch.isr, f.id)
		ch.added = append(ch.added, f.id)
		break
	}
	if len(ch.added) == 0 && len(ch.removed) == 0 {
		return isrChange{}, false
	}
	if !containsID(ch.isr, me) {
		return isrChange{}, false // never: the leader is always in its ISR
	}
	rs.inflight = true
	if len(ch.added) > 0 {
		rs.adding = ch.added[0]
	}
	return ch, true
}

// finishISRChange records the outcome of an ISR write: on success the new
// state (written at partition epoch base+1) becomes the one held; on a
// conflict the state is stale. It reports whether the high watermark moved.
func (p *partition) finishISRChange(b *Broker, ch isrChange, written bool, conflict bool) bool {
	p.replMu.Lock()
	defer p.replMu.Unlock()
	rs := &p.repl
	rs.inflight = false
	rs.adding = -1
	if !rs.leading || rs.epoch != ch.base.LeaderEpoch {
		return false
	}
	switch {
	case written:
		if rs.state.PartitionEpoch == ch.base.PartitionEpoch {
			st := ch.base
			st.ISR = ch.isr
			st.PartitionEpoch = ch.base.PartitionEpoch + 1
			rs.state = st
		}
	case conflict:
		// Unless the snapshot already brought the newer state.
		rs.stale = rs.state.PartitionEpoch == ch.base.PartitionEpoch
	}
	return p.maybeAdvanceHWLocked(b)
}

// preferredReadReplica is Kafka's RackAwareReplicaSelector, for a consumer
// in rack fetching at offset: the leader when it is in that rack or no
// replica is; else the most caught-up in-sync replica of the rack that holds
// offset. -1 means the leader.
func (p *partition) preferredReadReplica(b *Broker, snap *coordinator.Snapshot, rack string, offset int64, now time.Time) int32 {
	if rack == "" {
		return -1
	}
	rackOf := func(id int32) string {
		if bi, ok := snap.Brokers[id]; ok && bi.Rack != nil {
			return *bi.Rack
		}
		return ""
	}
	if rackOf(b.cfg.BrokerID) == rack {
		return -1
	}
	p.replMu.Lock()
	defer p.replMu.Unlock()
	rs := &p.repl
	if !rs.leading {
		return -1
	}
	best := int32(-1)
	var bestLEO int64
	var bestSince time.Duration
	for _, f := range rs.followers {
		if !containsID(rs.state.ISR, f.id) || f.leo < offset || f.logStart < 0 || f.logStart > offset || rackOf(f.id) != rack {
			continue
		}
		since := now.Sub(f.lastCaughtUp)
		if best < 0 || f.leo > bestLEO || (f.leo == bestLEO && since < bestSince) {
			best, bestLEO, bestSince = f.id, f.leo, since
		}
	}
	return best
}
