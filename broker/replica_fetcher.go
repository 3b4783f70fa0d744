package broker

// The follower's side of replication (Kafka's ReplicaFetcherManager and
// ReplicaFetcherThread). For each broker this one follows, num.replica.fetchers
// goroutines (partitions spread over them by hash) each keep a connection to
// the leader's inter-broker endpoint and send full fetches (session 0) at the
// highest Fetch version both sides serve (at least 12, for diverging
// epochs), as replica id (v<15) or replica state (v15+), with
// replica.fetch.{wait.max.ms,min.bytes,max.bytes,response.max.bytes}.
//
// Per partition, a response is applied like this:
//
//   - records: storage.Log.AppendAsFollower (the leader's offsets, epochs
//     and bytes); then high watermark := min(leader's, own log end offset),
//     only ever forward, and the log start offset follows the leader's.
//   - DivergingEpoch{epoch, end}: truncate to the end of the epoch both
//     logs share (Kafka's getOffsetTruncationState): min(end, own end of
//     that epoch, own log end offset); when this log does not have that
//     epoch, to the end of its largest older epoch, and the next fetch
//     checks again. Never to the high watermark.
//   - OFFSET_OUT_OF_RANGE with the whole log below the leader's log start:
//     start over there (truncateFullyAndStartAt). Any other out of range
//     (a fetch offset past the leader's log end, which the epoch check
//     should have caught) truncates nothing: it is logged and retried.
//   - any other error (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
//     UNKNOWN_LEADER_EPOCH, ...): the partition waits replica.fetch.backoff.ms
//     (the reconciler moves it when the metadata changes); connection
//     errors back the whole fetcher off as long.
//
// Every goroutine is owned: removing a partition (a role change) waits until
// no response is being applied to it, an emptied fetcher is stopped and
// waited for, and close stops them all.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/protocol"
	"github.com/samsa-io/samsa/storage"
)

// replication is the broker's replication machinery (embedded in Broker).
type replication struct {
	isrSig   chan struct{} // wakes isrLoop (replica_isr.go)
	fetchers *fetcherManager
}

func newReplication(b *Broker) replication {
	return replication{isrSig: make(chan struct{}, 1), fetchers: &fetcherManager{b: b,
		threads: map[fetcherKey]*fetcherThread{}, assigned: map[*partition]*fetcherThread{}}}
}

// fetcherManager owns the fetcher goroutines. Lock order: mu, then a
// thread's mu.
type fetcherManager struct {
	b *Broker

	mu       sync.Mutex
	closed   bool                          // guarded by mu
	threads  map[fetcherKey]*fetcherThread // guarded by mu
	assigned map[*partition]*fetcherThread // guarded by mu
}

type fetcherKey struct {
	source int32
	n      int
}

// fetcherThread fetches the partitions this broker follows on one source
// broker (one of num.replica.fetchers).
type fetcherThread struct {
	m      *fetcherManager
	key    fetcherKey
	log    zerolog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}

	// mu guards parts and is held while a response is applied, so that a
	// partition removed under it receives nothing more.
	mu    sync.Mutex
	parts map[*partition]*fetchState
}

// fetchState is one followed partition.
type fetchState struct {
	p      *partition
	leader int32
	epoch  int32 // the leader epoch this follower knows (CurrentLeaderEpoch)
	// delayUntil: no fetch before then (an error backs the partition off).
	delayUntil time.Time
	// lastErr is the last error logged, so that a repeated one is not.
	lastErr string
	failed  bool // the log failed: nothing more is fetched for it
}

// follow makes p fetched from leader at epoch, moving it from another
// fetcher when the leader changed.
func (m *fetcherManager) follow(p *partition, leader, epoch int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	key := fetcherKey{source: leader, n: m.threadFor(p)}
	if t := m.assigned[p]; t != nil {
		if t.key == key {
			t.mu.Lock()
			changed := false
			if st := t.parts[p]; st != nil && st.epoch != epoch {
				st.epoch, st.delayUntil, st.lastErr = epoch, time.Time{}, ""
				changed = true
			}
			t.mu.Unlock()
			if changed {
				t.signal()
			}
			return
		}
		m.removeLocked(p, t)
	}
	t := m.threads[key]
	if t == nil {
		t = m.startThread(key)
	}
	t.mu.Lock()
	t.parts[p] = &fetchState{p: p, leader: leader, epoch: epoch}
	t.mu.Unlock()
	m.assigned[p] = t
	t.signal()
}

// unfollow stops fetching p; when it returns nothing more is appended to
// p's log by a fetcher.
func (m *fetcherManager) unfollow(p *partition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.assigned[p]; t != nil {
		m.removeLocked(p, t)
	}
}

// removeLocked takes p off t, stopping t when it has nothing left. m.mu is
// held.
func (m *fetcherManager) removeLocked(p *partition, t *fetcherThread) {
	t.mu.Lock()
	delete(t.parts, p)
	empty := len(t.parts) == 0
	t.mu.Unlock()
	delete(m.assigned, p)
	if empty {
		delete(m.threads, t.key)
		t.stop()
	}
}

// threadFor spreads partitions over num.replica.fetchers (Kafka hashes
// topic and partition the same way for every source broker).
func (m *fetcherManager) threadFor(p *partition) int {
	n := int(m.b.cfg.Int64("num.replica.fetchers"))
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(p.topic))
	return int((h.Sum32()*31 + uint32(p.index)) % uint32(n))
}

// close stops every fetcher and waits for them.
func (m *fetcherManager) close() {
	m.mu.Lock()
	m.closed = true
	threads := m.threads
	m.threads = map[fetcherKey]*fetcherThread{}
	m.assigned = map[*partition]*fetcherThread{}
	m.mu.Unlock()
	for _, t := range threads {
		t.stop()
	}
}

func (m *fetcherManager) startThread(key fetcherKey) *fetcherThread {
	ctx, cancel := context.WithCancel(m.b.ctx)
	t := &fetcherThread{m: m, key: key, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		wake: make(chan struct{}, 1), parts: map[*partition]*fetchState{},
		log: m.b.log.With().Str("component", "replica-fetcher").Int32("source_broker", key.source).Int("fetcher", key.n).Logger()}
	m.threads[key] = t
	go t.run()
	return t
}

// stop ends the fetcher and waits for its goroutine.
func (t *fetcherThread) stop() {
	t.cancel()
	<-t.done
}

func (t *fetcherThread) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// fetcherSettings are the replica.* properties a fetch uses.
type fetcherSettings struct {
	maxWait, backoff            time.Duration
	minBytes, maxBytes, respMax int32
}

func (b *Broker) fetcherSettings() fetcherSettings {
	ms := func(k string) time.Duration { return time.Duration(b.cfg.Int64(k)) * time.Millisecond }
	return fetcherSettings{
		maxWait:  ms("replica.fetch.wait.max.ms"),
		backoff:  ms("replica.fetch.backoff.ms"),
		minBytes: int32(b.cfg.Int64("replica.fetch.min.bytes")),
		maxBytes: int32(b.cfg.Int64("replica.fetch.max.bytes")),
		respMax:  int32(b.cfg.Int64("replica.fetch.response.max.bytes")),
	}
}

// replicaRequestTimeout bounds one request beyond the fetch's own wait
// (Kafka's replica.socket.timeout.ms default).
const replicaRequestTimeout = 30 * time.Second

// run is the fetcher's loop: connect, fetch, apply, back off on errors.
func (t *fetcherThread) run() {
	defer close(t.done)
	b := t.m.b
	set := b.fetcherSettings()
	var conn *brokerConn
	defer func() {
		if conn != nil {
			conn.close()
		}
	}()
	var connErr string
	for t.ctx.Err() == nil {
		now := time.Now()
		if wait, ok := t.nextFetch(now); !ok {
			t.sleep(wait)
			continue
		}
		if conn == nil {
			var err error
			conn, err = t.connect(set)
			if err != nil {
				if t.ctx.Err() != nil {
					return
				}
				if msg := err.Error(); msg != connErr {
					t.log.Warn().Err(err).Dur("backoff", set.backoff).Msg("cannot reach the leader; retrying")
					connErr = msg
				}
				t.sleep(set.backoff)
				continue
			}
			if connErr != "" {
				t.log.Info().Msg("connected to the leader again")
				connErr = ""
			}
		}
		req, sent := t.buildFetch(conn.maxVersion(kmsg.Fetch), set, now)
		if len(sent) == 0 {
			continue
		}
		resp, err := conn.request(t.ctx, req, set.maxWait+replicaRequestTimeout)
		if err != nil {
			conn.close()
			conn = nil
			if t.ctx.Err() != nil {
				return
			}
			t.log.Warn().Err(err).Dur("backoff", set.backoff).Msg("replica fetch failed; reconnecting")
			t.sleep(set.backoff)
			continue
		}
		t.apply(req, resp.(*kmsg.FetchResponse), sent, set)
	}
}

// connect dials the source broker's inter-broker endpoint.
func (t *fetcherThread) connect(set fetcherSettings) (*brokerConn, error) {
	b := t.m.b
	addr, ok := b.interBrokerAddr(t.key.source)
	if !ok {
		return nil, fmt.Errorf("broker %d is not registered", t.key.source)
	}
	maxResp := int32(min(int64(set.respMax)*2+(64<<20), math.MaxInt32))
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	c, err := dialBrokerWith(ctx, addr, fmt.Sprintf("samsa-replica-fetcher-%d-%d", b.cfg.BrokerID, t.key.n), maxResp, 10*time.Second, b.interAuth)
	if err != nil {
		return nil, err
	}
	if v := c.maxVersion(kmsg.Fetch); v < 12 {
		c.close()
		return nil, fmt.Errorf("broker %d at %s serves Fetch up to v%d; replication needs v12 (diverging epochs)", t.key.source, addr, v)
	}
	return c, nil
}

// sleep waits d, or until woken or stopped.
func (t *fetcherThread) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-t.ctx.Done():
	case <-t.wake:
	case <-tm.C:
	}
}

// nextFetch reports whether a partition can be fetched now, else how long
// until one can (an hour when there is none).
func (t *fetcherThread) nextFetch(now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	wait := time.Hour
	for _, st := range t.parts {
		if st.failed {
			continue
		}
		if !now.Before(st.delayUntil) {
			return 0, true
		}
		wait = min(wait, st.delayUntil.Sub(now))
	}
	return wait, false
}

// sentPart is a partition of a fetch in flight, with the leader epoch it
// was asked under.
type sentPart struct {
	st    *fetchState
	epoch int32
}

// buildFetch builds the fetch of every partition that may be fetched now.
func (t *fetcherThread) buildFetch(version int16, set fetcherSettings, now time.Time) (*kmsg.FetchRequest, map[fetchKey]sentPart) {
	t.mu.Lock()
	defer t.mu.Unlock()
	req := kmsg.NewPtrFetchRequest()
	req.Version = version
	me := t.m.b.cfg.BrokerID
	if version >= 15 {
		req.ReplicaState.ID = me
		req.ReplicaState.Epoch = -1 // samsa has no broker epochs (KIP-903)
	} else {
		req.ReplicaID = me
	}
	req.MaxWaitMillis = int32(set.maxWait.Milliseconds())
	req.MinBytes = set.minBytes
	req.MaxBytes = set.respMax
	req.SessionID, req.SessionEpoch = 0, -1 // full fetches
	sent := make(map[fetchKey]sentPart, len(t.parts))
	topics := map[coordinator.TopicID]int{}
	for _, st := range t.parts {
		if st.failed || now.Before(st.delayUntil) {
			continue
		}
		p := st.p
		i, ok := topics[p.topicID]
		if !ok {
			i = len(req.Topics)
			topics[p.topicID] = i
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = p.topic
			rt.TopicID = p.topicID
			req.Topics = append(req.Topics, rt)
		}
		l := p.log
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p.index
		rp.CurrentLeaderEpoch = st.epoch
		rp.FetchOffset = l.LogEndOffset()
		rp.LastFetchedEpoch = l.LatestEpoch()
		rp.LogStartOffset = l.LogStartOffset()
		rp.PartitionMaxBytes = set.maxBytes
		rp.HighWatermark = l.HighWatermark()
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		sent[fetchKey{p.topicID, p.index}] = sentPart{st: st, epoch: st.epoch}
	}
	return req, sent
}

type fetchKey struct {
	id coordinator.TopicID
	n  int32
}

// apply applies a fetch response to the partitions still followed under
// the epoch they were fetched with.
func (t *fetcherThread) apply(req *kmsg.FetchRequest, resp *kmsg.FetchResponse, sent map[fetchKey]sentPart, set fetcherSettings) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if resp.ErrorCode != 0 {
		err := kerr.ErrorForCode(resp.ErrorCode)
		t.log.Warn().Err(err).Msg("replica fetch refused")
		for _, s := range sent {
			s.st.delayUntil = now.Add(set.backoff)
		}
		return
	}
	byName := map[string]coordinator.TopicID{}
	if req.Version < 13 {
		for k, s := range sent {
			byName[s.st.p.topic] = k.id
		}
	}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		id := coordinator.TopicID(rt.TopicID)
		if req.Version < 13 {
			id = byName[rt.Topic]
		}
		for j := range rt.Partitions {
			sp := &rt.Partitions[j]
			s, ok := sent[fetchKey{id, sp.Partition}]
			if !ok || t.parts[s.st.p] != s.st || s.st.epoch != s.epoch {
				continue // removed, moved or re-epoched while the fetch was out
			}
			t.applyPartition(s.st, sp, set, now)
		}
	}
}

// applyPartition applies one partition's answer.
func (t *fetcherThread) applyPartition(st *fetchState, sp *kmsg.FetchResponseTopicPartition, set fetcherSettings, now time.Time) {
	p := st.p
	l := p.log
	log := t.log.With().Str("topic", p.topic).Int32("partition", p.index).Int32("leader_epoch", st.epoch).Logger()
	switch {
	case sp.ErrorCode == kerr.OffsetOutOfRange.Code:
		t.outOfRange(st, sp, log, set, now)
		return
	case sp.ErrorCode != 0:
		err := kerr.ErrorForCode(sp.ErrorCode)
		if msg := err.Error(); msg != st.lastErr {
			log.Info().Err(err).Dur("backoff", set.backoff).Msg("replica fetch of a partition refused; retrying")
			st.lastErr = msg
		}
		st.delayUntil = now.Add(set.backoff)
		return
	case sp.DivergingEpoch.EndOffset >= 0 && sp.DivergingEpoch.Epoch >= 0:
		t.truncateToDivergence(st, sp.DivergingEpoch, log, set, now)
		return
	}
	st.lastErr = ""
	if len(sp.RecordBatches) > 0 {
		res, err := l.AppendAsFollower(sp.RecordBatches)
		if err != nil {
			t.appendFailed(st, err, log, set, now)
			return
		}
		if res.Appended == 0 && res.Skipped == 0 {
			log.Warn().Int("bytes", len(sp.RecordBatches)).Msg("replica fetch returned no whole batch")
		}
	}
	moved := false
	if hw := min(sp.HighWatermark, l.LogEndOffset()); hw > l.HighWatermark() {
		l.SetHighWatermark(hw)
		moved = true
	}
	if sp.LogStartOffset > l.LogStartOffset() {
		if _, err := l.MaybeIncrementLogStartOffset(sp.LogStartOffset); err != nil {
			log.Error().Err(err).Int64("leader_log_start_offset", sp.LogStartOffset).Msg("cannot move the log start offset up to the leader's")
		}
	}
	if moved {
		p.notify() // consumers reading this follower (KIP-392)
	}
}

// truncateToDivergence truncates to where this log and the leader's stop
// sharing an epoch.
func (t *fetcherThread) truncateToDivergence(st *fetchState, de kmsg.FetchResponseTopicPartitionDivergingEpoch, log zerolog.Logger, set fetcherSettings, now time.Time) {
	l := st.p.log
	leo := l.LogEndOffset()
	target := min(de.EndOffset, leo)
	if end, epoch := l.EndOffsetForEpoch(de.Epoch); end >= 0 {
		if epoch == de.Epoch {
			target = min(end, de.EndOffset, leo)
		} else {
			// This log does not have the leader's epoch: back to the end
			// of its largest older one; the next fetch checks again.
			target = min(end, leo)
		}
	}
	ev := log.Warn()
	if target < l.HighWatermark() {
		ev = log.Error().Int64("high_watermark", l.HighWatermark()) // committed data goes: an unclean election
	}
	ev.Int32("diverging_epoch", de.Epoch).Int64("diverging_end_offset", de.EndOffset).
		Int64("log_end_offset", leo).Int64("truncate_to", target).
		Msg("the log diverged from the leader's: truncating to the end of the last shared leader epoch")
	if err := l.TruncateTo(target); err != nil {
		t.appendFailed(st, err, log, set, now)
	}
}

// outOfRange handles OFFSET_OUT_OF_RANGE: when the whole log lies below the
// leader's log start offset, it starts over there.
func (t *fetcherThread) outOfRange(st *fetchState, sp *kmsg.FetchResponseTopicPartition, log zerolog.Logger, set fetcherSettings, now time.Time) {
	l := st.p.log
	leo := l.LogEndOffset()
	if lso := sp.LogStartOffset; lso > leo {
		log.Warn().Int64("log_end_offset", leo).Int64("leader_log_start_offset", lso).
			Msg("the leader's log starts past this log's end: starting over at the leader's log start offset")
		if err := l.TruncateFullyAndStartAt(lso); err != nil {
			t.appendFailed(st, err, log, set, now)
		}
		return
	}
	msg := "out of range"
	if msg != st.lastErr {
		log.Error().Int64("fetch_offset", leo).Int64("leader_log_start_offset", sp.LogStartOffset).
			Int64("leader_high_watermark", sp.HighWatermark).
			Msg("the leader answers OFFSET_OUT_OF_RANGE for this log's end offset and its epochs do not explain it; nothing is truncated, retrying")
		st.lastErr = msg
	}
	st.delayUntil = now.Add(set.backoff)
}

// appendFailed handles a follower write that failed: a failed log is
// offline (nothing more is fetched into it), a refused batch is retried.
func (t *fetcherThread) appendFailed(st *fetchState, err error, log zerolog.Logger, set fetcherSettings, now time.Time) {
	switch {
	case errors.Is(err, storage.ErrStorage):
		st.failed = true
		t.m.b.signalPublish()
		log.Error().Err(err).Msg("follower log failed: the replica is offline on this broker")
	case errors.Is(err, storage.ErrClosed):
		st.delayUntil = now.Add(set.backoff)
	case errors.Is(err, storage.ErrNoSpace):
		// Nothing was kept; the log is fine. Fetch again once the backoff
		// passed: space may be back.
		if msg := err.Error(); msg != st.lastErr {
			log.Warn().Err(err).Msg("replica fetch not appended: no space left; retrying")
			st.lastErr = msg
		}
		st.delayUntil = now.Add(set.backoff)
	default:
		// ErrOffsetMismatch, ErrEpochRegression, a corrupt batch: the
		// leader's answer does not fit this log. Nothing was written.
		if msg := err.Error(); msg != st.lastErr {
			ev := log.Error().Err(err)
			if errors.Is(err, protocol.ErrCorruptBatch) {
				ev = ev.Str("cause", "corrupt batch from the leader")
			}
			ev.Msg("replica fetch not appended; retrying")
			st.lastErr = msg
		}
		st.delayUntil = now.Add(set.backoff)
	}
}
