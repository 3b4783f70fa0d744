package txn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/coordinator/placement"
)

// ErrClosed: the coordinator is closed.
var ErrClosed = errors.New("txn: coordinator closed")

// Clock is the time seam: every timestamp and every timeout is read
// through it, so tests can drive time.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// RealClock is the wall clock.
var RealClock Clock = realClock{}

// ProducerIDs hands out new producer ids (the broker's blocks reserved in
// etcd, coordinator.Store.AllocateProducerIDs).
type ProducerIDs interface {
	NextProducerID(ctx context.Context) (int64, error)
}

// Markers is one WriteTxnMarkers job: the end of one transaction, to be
// written to each of its partitions.
type Markers struct {
	TransactionalID string
	ProducerID      int64
	// ProducerEpoch is the epoch the markers carry: the transaction's
	// epoch for TV0/1, the bumped epoch for TV2 (the partitions take it as
	// the producer's new epoch).
	ProducerEpoch      int16
	Commit             bool
	CoordinatorEpoch   int32 // the __transaction_state partition's leader epoch
	TransactionVersion TransactionVersion
	// Partitions, sorted; a __consumer_offsets partition among them
	// completes (or drops) the group's transactional offset commits.
	Partitions []TopicPartition
}

// MarkerWriter writes transaction markers; the broker implements it
// (WriteTxnMarkers to each partition's leader, the group coordinator for
// __consumer_offsets partitions).
type MarkerWriter interface {
	// WriteTxnMarkers returns nil once every partition holds its marker
	// or no longer exists (a deleted topic). An error makes the
	// coordinator send the whole job again after a backoff (markers are
	// idempotent on the partition), until it succeeds or the coordinator
	// loses the partition. ctx ends when it does.
	WriteTxnMarkers(ctx context.Context, m Markers) error
}

// GroupOffsets places consumer groups: AddOffsetsToTxn adds the group's
// __consumer_offsets partition to the transaction.
type GroupOffsets interface {
	// OffsetsPartition is the __consumer_offsets partition of group;
	// false while the topic's partition count is unknown.
	OffsetsPartition(group string) (int32, bool)
}

// OffsetsTopic is the topic of the partitions AddOffsetsToTxn adds.
const OffsetsTopic = "__consumer_offsets"

// Config configures a Coordinator. Zero durations take Kafka's defaults.
type Config struct {
	Client *clientv3.Client
	// Key returns the full etcd key of a path under the cluster prefix
	// (coordinator.Store.Key).
	Key         func(parts ...string) string
	Logger      zerolog.Logger
	Clock       Clock // nil: RealClock
	ProducerIDs ProducerIDs
	Markers     MarkerWriter
	Groups      GroupOffsets // nil: AddOffsetsToTxn answers COORDINATOR_NOT_AVAILABLE

	MaxTimeout time.Duration // transaction.max.timeout.ms (15 min)
	// AbortTimedOutInterval: how often ongoing transactions past their
	// timeout are aborted
	// (transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s).
	AbortTimedOutInterval time.Duration
	// IDExpiration: a transactional id with no transaction in flight is
	// removed after this long without a change
	// (transactional.id.expiration.ms, 7 days), checked every
	// RemoveExpiredInterval
	// (transaction.remove.expired.transaction.cleanup.interval.ms, 1 h).
	IDExpiration          time.Duration
	RemoveExpiredInterval time.Duration
	// MarkerRetryBackoff is the wait before a failed marker job is sent
	// again (100 ms).
	MarkerRetryBackoff time.Duration
	// SettleWait bounds the wait of a request that meets another change
	// of its transactional id in flight (settle.go; SettleWait).
	SettleWait time.Duration
	// AfterFunc, when set, schedules the timed scans (the timed-out
	// aborts, the expirations) on the clock's timers instead of the wall
	// clock's: a virtual clock's Advance then runs them at once
	// (broker.VirtualClock). It returns the timer's Stop.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

func (cfg *Config) setDefaults() {
	if cfg.Clock == nil {
		cfg.Clock = RealClock
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MaxTimeout, 15*time.Minute)
	def(&cfg.AbortTimedOutInterval, 10*time.Second)
	def(&cfg.IDExpiration, 7*24*time.Hour)
	def(&cfg.RemoveExpiredInterval, time.Hour)
	def(&cfg.MarkerRetryBackoff, 100*time.Millisecond)
	def(&cfg.SettleWait, SettleWait)
}

// partitionFor is the __transaction_state partition of a transactional
// id (Kafka's partitionFor, as the group coordinator places groups).
func partitionFor(id string, n int32) int32 { return placement.Partition(id, n) }

// Coordinator is the transaction coordinator of the __transaction_state
// partitions this broker leads. See doc.go for the contract, the etcd
// layout and the lock order.
type Coordinator struct {
	cfg   Config
	log   zerolog.Logger
	cli   *clientv3.Client
	clock Clock

	mu       sync.Mutex
	parts    map[int32]*partition // guarded by mu; held partitions by number
	numParts int32                // guarded by mu; the modulus of the held claims (0: none)
	closed   bool                 // guarded by mu
	started  bool                 // guarded by mu

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // loaders, marker jobs, the scan loops
}

// partition is one held __transaction_state partition: one coordinator
// tenure (its claim's leader epoch is the coordinator epoch).
type partition struct {
	claim placement.Claim
	// Set once by the loader (under Coordinator.mu), read-only after:
	fence *placement.Fence
	// loaded and txns are guarded by Coordinator.mu.
	loaded bool
	txns   map[string]*txnState
	// ctx ends when the partition is dropped (marker jobs stop).
	ctx    context.Context
	cancel context.CancelFunc
}

// txnState is one transactional id's live state.
type txnState struct {
	id   string
	part *partition // the tenure it was loaded or created under

	mu sync.Mutex
	m  *meta // guarded by mu; nil until its first write succeeded
	// modRev is the main key's mod revision (0: not in etcd); every write
	// compares it.
	modRev int64 // guarded by mu
	// pending: a write (or a producer id allocation before one) is in
	// flight: Kafka's pendingState. Other requests get
	// CONCURRENT_TRANSACTIONS meanwhile.
	pending bool // guarded by mu
	// gone: unloaded or expired; a request still holding it answers
	// NOT_COORDINATOR.
	gone bool // guarded by mu
	// settled, when not nil, is closed at the next change of m, pending
	// or gone (requests waiting out CONCURRENT_TRANSACTIONS, settle.go).
	settled chan struct{} // guarded by mu
}

// New builds a coordinator; the scan loops run once Start is called.
func New(cfg Config) (*Coordinator, error) {
	if cfg.Client == nil || cfg.Key == nil {
		return nil, errors.New("txn: Config.Client and Config.Key are required")
	}
	if cfg.ProducerIDs == nil || cfg.Markers == nil {
		return nil, errors.New("txn: Config.ProducerIDs and Config.Markers are required")
	}
	cfg.setDefaults()
	c := &Coordinator{
		cfg: cfg, log: cfg.Logger.With().Str("component", "txn-coordinator").Logger(),
		cli: cfg.Client, clock: cfg.Clock, parts: make(map[int32]*partition),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Start runs the timed-out transaction abort and the expiration loops.
func (c *Coordinator) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.closed {
		return
	}
	c.started = true
	c.wg.Add(2)
	go c.every(c.cfg.AbortTimedOutInterval, c.AbortTimedOut)
	go c.every(c.cfg.RemoveExpiredInterval, c.ExpireTransactionalIDs)
}

func (c *Coordinator) every(d time.Duration, f func(context.Context)) {
	defer c.wg.Done()
	if c.cfg.AfterFunc == nil {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
				f(c.ctx)
			}
		}
	}
	for {
		due := make(chan struct{})
		stop := c.cfg.AfterFunc(d, func() { close(due) })
		select {
		case <-c.ctx.Done():
			stop()
			return
		case <-due:
			f(c.ctx)
		}
	}
}

// Close drops every partition, stops the loops, loaders and marker jobs
// and waits for them.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	var drop []*txnState
	for p := range c.parts {
		drop = append(drop, c.dropLocked(p)...)
	}
	c.mu.Unlock()
	markGone(drop)
	c.cancel()
	c.wg.Wait()
}

// OnElection starts loading the transactions of claim's partition
// (requests for them get COORDINATOR_LOAD_IN_PROGRESS until then). A
// placement.Handler method; it does not wait for etcd.
func (c *Coordinator) OnElection(claim placement.Claim) {
	c.mu.Lock()
	if c.closed || claim.Partitions <= 0 || claim.Partition < 0 || claim.Partition >= claim.Partitions {
		c.mu.Unlock()
		return
	}
	var drop []*txnState
	if c.numParts != 0 && c.numParts != claim.Partitions {
		c.log.Error().Int32("partitions", claim.Partitions).Int32("previous_partitions", c.numParts).
			Msg("__transaction_state changed its partition count: every transactional id moves; unloading all")
		for p := range c.parts {
			drop = append(drop, c.dropLocked(p)...)
		}
	}
	c.numParts = claim.Partitions
	if old := c.parts[claim.Partition]; old != nil {
		if old.claim == claim {
			c.mu.Unlock()
			return
		}
		drop = append(drop, c.dropLocked(claim.Partition)...)
	}
	p := &partition{claim: claim, txns: make(map[string]*txnState)}
	p.ctx, p.cancel = context.WithCancel(c.ctx)
	c.parts[claim.Partition] = p
	c.wg.Add(1)
	c.mu.Unlock()
	markGone(drop)
	go c.loadLoop(p)
}

// OnResignation drops partition's transactions if it is held at
// leaderEpoch: marker jobs stop (the next coordinator re-sends them) and
// requests get NOT_COORDINATOR. A placement.Handler method.
func (c *Coordinator) OnResignation(partition, leaderEpoch int32) {
	c.mu.Lock()
	p := c.parts[partition]
	if p == nil || p.claim.LeaderEpoch != leaderEpoch {
		c.mu.Unlock()
		return
	}
	drop := c.dropLocked(partition)
	c.mu.Unlock()
	markGone(drop)
	c.log.Info().Int32("partition", partition).Int32("coordinator_epoch", leaderEpoch).Int("transactions", len(drop)).
		Msg("resigned __transaction_state partition: its transactions are unloaded")
}

// dropLocked forgets held partition n and returns its transactions for
// markGone. c.mu held.
func (c *Coordinator) dropLocked(n int32) []*txnState {
	p := c.parts[n]
	if p == nil {
		return nil
	}
	delete(c.parts, n)
	p.cancel()
	if p.fence != nil {
		p.fence.Revoke()
	}
	out := make([]*txnState, 0, len(p.txns))
	for _, ts := range p.txns {
		out = append(out, ts)
	}
	p.txns = nil
	return out
}

func markGone(ts []*txnState) {
	for _, t := range ts {
		t.mu.Lock()
		t.gone = true
		t.changedLocked()
		t.mu.Unlock()
	}
}

// fenceLost drops partition p after etcd showed it led elsewhere (or a
// newer coordinator epoch in a record), before the metadata said so.
func (c *Coordinator) fenceLost(p *partition, why string) {
	c.mu.Lock()
	var drop []*txnState
	if c.parts[p.claim.Partition] == p {
		drop = c.dropLocked(p.claim.Partition)
	}
	c.mu.Unlock()
	markGone(drop)
	c.log.Warn().Int32("partition", p.claim.Partition).Int32("coordinator_epoch", p.claim.LeaderEpoch).
		Str("reason", why).Msg("fenced: __transaction_state partition unloaded")
}

// loadLoop loads p, retrying with a backoff while etcd fails, until it
// is loaded or dropped.
func (c *Coordinator) loadLoop(p *partition) {
	defer c.wg.Done()
	backoff := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
		err := c.load(ctx, p)
		cancel()
		if err == nil || p.ctx.Err() != nil {
			return
		}
		c.log.Error().Err(err).Int32("partition", p.claim.Partition).Msg("cannot load transactions from etcd; retrying")
		select {
		case <-p.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// load checks p's claim in etcd (placement.Acquire), reads its
// transactions at a revision past that check, installs them and resumes
// the marker jobs of the transactions that were preparing.
func (c *Coordinator) load(ctx context.Context, p *partition) error {
	cl := p.claim
	fences, rev, err := placement.Acquire(ctx, c.cli, []placement.Claim{cl})
	if err != nil {
		return err
	}
	if fences[0] == nil {
		c.fenceLost(p, "the partition moved on before it was loaded")
		return nil
	}
	started := c.clock.Now()
	txns, maxEpoch, err := c.readPartition(ctx, rev, cl.Partition, cl.Partitions)
	if err != nil {
		return err
	}
	if maxEpoch > cl.LeaderEpoch {
		fences[0].Revoke()
		c.fenceLost(p, fmt.Sprintf("etcd holds a transaction written at coordinator epoch %d", maxEpoch))
		return nil
	}
	var resume []*txnState
	c.mu.Lock()
	if c.parts[cl.Partition] != p || c.closed {
		c.mu.Unlock()
		fences[0].Revoke()
		return nil
	}
	p.fence = fences[0]
	for _, l := range txns {
		ts := &txnState{id: l.id, part: p, m: l.m, modRev: l.modRev}
		p.txns[l.id] = ts
		if l.m.state == PrepareCommit || l.m.state == PrepareAbort {
			resume = append(resume, ts)
		}
	}
	p.loaded = true
	c.mu.Unlock()
	for _, ts := range resume {
		ts.mu.Lock()
		m := ts.m
		ts.mu.Unlock()
		c.startMarkers(ts, m)
	}
	c.log.Info().Int32("partition", cl.Partition).Int32("coordinator_epoch", cl.LeaderEpoch).Int("transactions", len(txns)).
		Int("completing", len(resume)).Int64("revision", rev).Dur("took", c.clock.Now().Sub(started)).
		Msg("transactions loaded")
	return nil
}

// WaitLoaded waits until no held partition is loading.
func (c *Coordinator) WaitLoaded(ctx context.Context) error {
	for {
		c.mu.Lock()
		n := 0
		for _, p := range c.parts {
			if !p.loaded {
				n++
			}
		}
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// PartitionFor is the __transaction_state partition of id under the held
// claims' partition count (-1 when none is held).
func (c *Coordinator) PartitionFor(id string) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.numParts <= 0 {
		return -1
	}
	return partitionFor(id, c.numParts)
}

// lookup returns id's state, creating an empty one (m nil) when create is
// set, or the coordinator-level error: COORDINATOR_NOT_AVAILABLE once
// closed, NOT_COORDINATOR when its partition is not held,
// COORDINATOR_LOAD_IN_PROGRESS while it loads. A nil state with code 0:
// the id is unknown.
func (c *Coordinator) lookup(id string, create bool) (*txnState, int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	if c.numParts <= 0 {
		return nil, kerr.NotCoordinator.Code
	}
	p := c.parts[partitionFor(id, c.numParts)]
	switch {
	case p == nil:
		return nil, kerr.NotCoordinator.Code
	case !p.loaded:
		return nil, kerr.CoordinatorLoadInProgress.Code
	}
	ts := p.txns[id]
	if ts == nil && create {
		ts = &txnState{id: id, part: p}
		p.txns[id] = ts
	}
	return ts, 0
}

// forget removes ts from its partition's map (a creation whose write
// failed, an expiration).
func (c *Coordinator) forget(ts *txnState) {
	c.mu.Lock()
	if ts.part.txns != nil && ts.part.txns[ts.id] == ts {
		delete(ts.part.txns, ts.id)
	}
	c.mu.Unlock()
}

// opTimeout bounds one etcd write.
const opTimeout = 15 * time.Second

// persist writes m as ts's new state (nil: delete it), comparing the main
// key's mod revision with prev (0: must not exist) and fenced by the
// partition's tenure. It returns the new mod revision or a Kafka error
// code: NOT_COORDINATOR when fenced (the partition is dropped),
// COORDINATOR_NOT_AVAILABLE when etcd failed. No lock held.
func (c *Coordinator) persist(ctx context.Context, ts *txnState, m *meta, prev int64) (int64, int16) {
	p := ts.part
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	key := c.txnKey(ts.id)
	cmp := clientv3.Compare(clientv3.ModRevision(key), "=", prev)
	var ops []clientv3.Op
	if m == nil {
		ops = append([]clientv3.Op{clientv3.OpDelete(key)}, c.cleanupOps(ts.id, "")...)
	} else {
		val, chunks, version, err := c.encode(ts.id, m)
		if err != nil {
			c.log.Error().Err(err).Str("transactional_id", ts.id).Msg("cannot encode a transaction")
			return 0, kerr.UnknownServerError.Code
		}
		if len(chunks) > 0 {
			if err := c.writeChunks(ctx, p, chunks); err != nil {
				return 0, c.writeError(p, ts.id, err)
			}
		}
		ops = append([]clientv3.Op{clientv3.OpPut(key, val)}, c.cleanupOps(ts.id, version)...)
	}
	resp, err := p.fence.Txn(ctx, []clientv3.Cmp{cmp}, ops...)
	if err != nil {
		return 0, c.writeError(p, ts.id, err)
	}
	if !resp.Succeeded {
		// Someone else wrote the key under a tenure that holds: only a
		// newer coordinator can have, whatever its record says.
		c.fenceLost(p, "the transaction's key changed under this coordinator: "+ts.id)
		return 0, kerr.NotCoordinator.Code
	}
	return resp.Header.Revision, 0
}

func (c *Coordinator) writeError(p *partition, id string, err error) int16 {
	if errors.Is(err, placement.ErrFenced) {
		c.fenceLost(p, err.Error())
		return kerr.NotCoordinator.Code
	}
	c.log.Warn().Err(err).Str("transactional_id", id).Msg("cannot write a transaction to etcd")
	return kerr.CoordinatorNotAvailable.Code
}
