package txn

// The client-facing transitions: InitProducerId, AddPartitionsToTxn (and
// its KIP-890 verification), AddOffsetsToTxn, EndTxn. Each decides under
// the transaction's lock, marks it pending, writes etcd without the lock
// and installs the new state once etcd holds it (Kafka's prepareTransition
// / completeTransitionTo).

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
)

func (c *Coordinator) nowMs() int64 { return c.clock.Now().UnixMilli() }

// InitProducerIDArgs is an InitProducerId with a transactional id.
type InitProducerIDArgs struct {
	TransactionalID string
	TimeoutMs       int32
	// ProducerID and ProducerEpoch are the producer's current ones
	// (v3+, KIP-360), NoProducerID / NoProducerEpoch when not given (the
	// broker refuses one without the other).
	ProducerID    int64
	ProducerEpoch int16
}

// ProducerResult is a producer id and epoch, or an error code (then the
// id and epoch are -1).
type ProducerResult struct {
	ProducerID    int64
	ProducerEpoch int16
	ErrorCode     int16
}

func failed(code int16) ProducerResult {
	return ProducerResult{ProducerID: NoProducerID, ProducerEpoch: NoProducerEpoch, ErrorCode: code}
}

// validProducerID is Kafka's isValidProducerId: a producer that names
// its id and epoch is fenced unless the state was just created, the id is
// the current one (its epoch is checked when bumped), or the id is the
// previous one at an exhausted epoch (a retry after a rotation whose
// answer was lost).
func validProducerID(cur *meta, id int64, epoch int16) bool {
	return cur.producerEpoch == NoProducerEpoch || id == cur.producerID ||
		(id == cur.prevProducerID && epochExhausted(epoch))
}

// bumpEpoch is Kafka's prepareIncrementProducerEpoch: the new epoch and
// last epoch, or PRODUCER_FENCED. A producer that names the epoch before
// the last bump is retrying and gets the current epoch again.
func bumpEpoch(cur *meta, expected bool, expEpoch int16) (int16, int16, int16) {
	if expected && cur.producerEpoch != NoProducerEpoch && expEpoch != cur.producerEpoch {
		if expEpoch == cur.lastProducerEpoch {
			return cur.producerEpoch, cur.lastProducerEpoch, 0
		}
		return 0, 0, kerr.ProducerFenced.Code
	}
	if epochExhausted(cur.producerEpoch) {
		return 0, 0, kerr.ProducerFenced.Code // callers rotate the id first
	}
	if !expected {
		return cur.producerEpoch + 1, NoProducerEpoch, 0
	}
	return cur.producerEpoch + 1, cur.producerEpoch, 0
}

// transition starts the next state from cur: Kafka's prepareTransitionTo
// always records the current producer id as the previous one.
func transition(cur *meta, tenure int32, now int64) *meta {
	n := cur.next()
	n.prevProducerID = cur.producerID
	n.lastUpdateMs = now
	n.coordinatorEpoch = tenure
	return n
}

// fenceAbort aborts an ongoing transaction on the coordinator's
// initiative (a new producer's InitProducerId, a timeout) with a bumped
// epoch, so that the producer that ran it is fenced: Kafka's
// PrepareEpochFence followed by PrepareAbort, written as the PrepareAbort.
// TV2 keeps the old epoch as the last one (the producer may recover with
// KIP-360); TV0/1 forget it. nil when the epoch cannot be bumped.
func fenceAbort(cur *meta, tenure int32, now int64) *meta {
	if cur.producerEpoch == math.MaxInt16 {
		return nil
	}
	n := transition(cur, tenure, now)
	n.producerEpoch = cur.producerEpoch + 1
	n.lastProducerEpoch = NoProducerEpoch
	if cur.tv.SupportsEpochBump() {
		n.lastProducerEpoch = cur.producerEpoch
	}
	n.nextProducerID = NoProducerID
	n.state = PrepareAbort
	return n
}

// InitProducerID answers an InitProducerId with a transactional id:
// a new id for a new transactional id, else the epoch bumped (or, with
// the epoch exhausted, a new id); a producer naming a stale id or epoch
// is fenced (PRODUCER_FENCED); an ongoing transaction is aborted first
// and the producer told CONCURRENT_TRANSACTIONS until that completes.
func (c *Coordinator) InitProducerID(ctx context.Context, a InitProducerIDArgs) ProducerResult {
	var res ProducerResult
	c.settling(ctx, a.TransactionalID, func() int16 {
		res = c.initProducerID(ctx, a)
		return res.ErrorCode
	})
	return res
}

func (c *Coordinator) initProducerID(ctx context.Context, a InitProducerIDArgs) ProducerResult {
	if a.TransactionalID == "" {
		return failed(kerr.InvalidRequest.Code)
	}
	if a.TimeoutMs <= 0 || int64(a.TimeoutMs) > c.cfg.MaxTimeout.Milliseconds() {
		return failed(kerr.InvalidTransactionTimeout.Code)
	}
	expected := a.ProducerID != NoProducerID
	ts, code := c.lookup(a.TransactionalID, true)
	if code != 0 {
		return failed(code)
	}
	tenure := ts.part.claim.LeaderEpoch
	now := c.nowMs()

	ts.mu.Lock()
	if ts.gone {
		ts.mu.Unlock()
		return failed(kerr.NotCoordinator.Code)
	}
	if ts.pending {
		ts.mu.Unlock()
		return failed(kerr.ConcurrentTransactions.Code)
	}
	cur := ts.m
	var next *meta
	newID, aborting := false, false
	if cur == nil {
		newID = true
	} else {
		if expected && !validProducerID(cur, a.ProducerID, a.ProducerEpoch) {
			ts.mu.Unlock()
			return failed(kerr.ProducerFenced.Code)
		}
		switch cur.state {
		case Empty, CompleteCommit, CompleteAbort:
			if epochExhausted(cur.producerEpoch) && (!expected || a.ProducerEpoch == cur.producerEpoch) {
				newID = true
				break
			}
			epoch, last, code := bumpEpoch(cur, expected, a.ProducerEpoch)
			if code != 0 {
				ts.mu.Unlock()
				return failed(code)
			}
			next = transition(cur, tenure, now)
			next.producerEpoch, next.lastProducerEpoch = epoch, last
		case Ongoing:
			if next = fenceAbort(cur, tenure, now); next == nil {
				ts.mu.Unlock()
				return failed(kerr.ProducerFenced.Code)
			}
			aborting = true
		default: // PrepareCommit, PrepareAbort: wait for the markers
			ts.mu.Unlock()
			return failed(kerr.ConcurrentTransactions.Code)
		}
	}
	prev := ts.modRev
	ts.pending = true
	ts.mu.Unlock()

	if newID {
		pid, err := c.cfg.ProducerIDs.NextProducerID(ctx)
		if err != nil {
			c.log.Warn().Err(err).Str("transactional_id", a.TransactionalID).Msg("cannot allocate a producer id")
			c.abandon(ts)
			return failed(kerr.CoordinatorNotAvailable.Code)
		}
		if cur == nil {
			next = &meta{prevProducerID: NoProducerID, lastProducerEpoch: NoProducerEpoch, lastUpdateMs: now, coordinatorEpoch: tenure}
		} else {
			// Epoch exhaustion: Kafka's prepareProducerIdRotation.
			next = transition(cur, tenure, now)
			next.lastProducerEpoch = NoProducerEpoch
			if expected {
				next.lastProducerEpoch = cur.producerEpoch
			}
		}
		next.producerID, next.producerEpoch = pid, 0
	}
	if !aborting {
		next.timeoutMs = a.TimeoutMs
		next.state = Empty
		next.parts = nil
		next.startMs = -1
		next.nextProducerID = NoProducerID
	}
	if code := c.install(ctx, ts, next, prev); code != 0 {
		return failed(code)
	}
	if aborting {
		c.startMarkers(ts, next)
		return failed(kerr.ConcurrentTransactions.Code)
	}
	return ProducerResult{ProducerID: next.producerID, ProducerEpoch: next.producerEpoch}
}

// install writes next over the state at revision prev and installs it,
// ending the pending write. A failed first write forgets the state.
func (c *Coordinator) install(ctx context.Context, ts *txnState, next *meta, prev int64) int16 {
	rev, code := c.persist(ctx, ts, next, prev)
	ts.mu.Lock()
	ts.pending = false
	ts.changedLocked()
	if code != 0 {
		created := ts.m == nil
		ts.mu.Unlock()
		if created {
			c.forget(ts)
		}
		return code
	}
	ts.m, ts.modRev = next, rev
	ts.mu.Unlock()
	return 0
}

// abandon ends a pending transition that wrote nothing.
func (c *Coordinator) abandon(ts *txnState) {
	ts.mu.Lock()
	ts.pending = false
	ts.changedLocked()
	created := ts.m == nil
	ts.mu.Unlock()
	if created {
		c.forget(ts)
	}
}

// AddPartitionsArgs adds partitions to a transaction.
type AddPartitionsArgs struct {
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	Partitions      []TopicPartition
	// TransactionVersion of the client: 0/1 for a client's
	// AddPartitionsToTxn (v0-v3), 2 when a partition leader adds them
	// for a TV2 producer (v5 from the broker, KIP-890 part 2).
	TransactionVersion TransactionVersion
}

// checkProducer is the check AddPartitionsToTxn and its verification
// share; ts.mu held, ts.m non-nil.
func checkProducer(ts *txnState, id int64, epoch int16) int16 {
	cur := ts.m
	switch {
	case cur.producerID != id:
		return kerr.InvalidProducerIDMapping.Code
	case cur.producerEpoch != epoch:
		return kerr.ProducerFenced.Code
	case ts.pending, cur.state == PrepareCommit, cur.state == PrepareAbort:
		return kerr.ConcurrentTransactions.Code
	}
	return 0
}

// locked finds id's state and locks it, or returns the error: unknown
// ids (or ones still being created) are INVALID_PRODUCER_ID_MAPPING.
func (c *Coordinator) locked(id string) (*txnState, int16) {
	if id == "" {
		return nil, kerr.InvalidRequest.Code
	}
	ts, code := c.lookup(id, false)
	if code != 0 {
		return nil, code
	}
	if ts == nil {
		return nil, kerr.InvalidProducerIDMapping.Code
	}
	ts.mu.Lock()
	switch {
	case ts.gone:
		ts.mu.Unlock()
		return nil, kerr.NotCoordinator.Code
	case ts.m == nil:
		ts.mu.Unlock()
		return nil, kerr.InvalidProducerIDMapping.Code
	}
	return ts, 0
}

// AddPartitions adds partitions to the producer's transaction, starting
// it if none is ongoing. The code applies to every partition.
func (c *Coordinator) AddPartitions(ctx context.Context, a AddPartitionsArgs) int16 {
	return c.settling(ctx, a.TransactionalID, func() int16 { return c.addPartitions(ctx, a) })
}

func (c *Coordinator) addPartitions(ctx context.Context, a AddPartitionsArgs) int16 {
	ts, code := c.locked(a.TransactionalID)
	if code != 0 {
		return code
	}
	if code := checkProducer(ts, a.ProducerID, a.ProducerEpoch); code != 0 {
		ts.mu.Unlock()
		return code
	}
	cur := ts.m
	if cur.state == Ongoing && cur.hasAll(a.Partitions) {
		ts.mu.Unlock()
		return 0
	}
	now := c.nowMs()
	next := transition(cur, ts.part.claim.LeaderEpoch, now)
	next.parts = make(map[TopicPartition]struct{}, len(cur.parts)+len(a.Partitions))
	if cur.state == Ongoing {
		for tp := range cur.parts {
			next.parts[tp] = struct{}{}
		}
	} else {
		next.startMs = now
	}
	for _, tp := range a.Partitions {
		next.parts[tp] = struct{}{}
	}
	next.state = Ongoing
	next.tv = a.TransactionVersion
	prev := ts.modRev
	ts.pending = true
	ts.mu.Unlock()
	return c.install(ctx, ts, next, prev)
}

// VerifyPartitions is AddPartitionsToTxn's verify-only check (KIP-890
// part 1: a partition leader asks before it appends a transactional
// batch): a code per partition of a.Partitions, in order; a partition not
// in the ongoing transaction gets TRANSACTION_ABORTABLE. Nothing is
// written.
func (c *Coordinator) VerifyPartitions(a AddPartitionsArgs) []int16 {
	out := make([]int16, len(a.Partitions))
	fill := func(code int16) []int16 {
		for i := range out {
			out[i] = code
		}
		return out
	}
	ts, code := c.locked(a.TransactionalID)
	if code != 0 {
		return fill(code)
	}
	defer ts.mu.Unlock()
	if code := checkProducer(ts, a.ProducerID, a.ProducerEpoch); code != 0 {
		return fill(code)
	}
	for i, tp := range a.Partitions {
		if _, ok := ts.m.parts[tp]; !ok || ts.m.state != Ongoing {
			out[i] = kerr.TransactionAbortable.Code
		}
	}
	return out
}

// AddOffsetsArgs adds a group's offsets partition to a transaction.
type AddOffsetsArgs struct {
	TransactionalID    string
	ProducerID         int64
	ProducerEpoch      int16
	Group              string
	TransactionVersion TransactionVersion
}

// AddOffsets adds the group's __consumer_offsets partition to the
// transaction (AddOffsetsToTxn), so that its markers complete the
// group's transactional offset commits.
func (c *Coordinator) AddOffsets(ctx context.Context, a AddOffsetsArgs) int16 {
	if c.cfg.Groups == nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	p, ok := c.cfg.Groups.OffsetsPartition(a.Group)
	if !ok {
		return kerr.CoordinatorNotAvailable.Code
	}
	return c.AddPartitions(ctx, AddPartitionsArgs{
		TransactionalID: a.TransactionalID, ProducerID: a.ProducerID, ProducerEpoch: a.ProducerEpoch,
		Partitions:         []TopicPartition{{Topic: OffsetsTopic, Partition: p}},
		TransactionVersion: a.TransactionVersion,
	})
}
