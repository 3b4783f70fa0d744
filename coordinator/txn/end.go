package txn

// Ending transactions: EndTxn (TV2 and TV0/1 rules), the markers, the
// completion, the abort of timed-out transactions and the expiration of
// idle transactional ids.

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// EndTxnArgs is an EndTxn.
type EndTxnArgs struct {
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	Commit          bool
	// TransactionVersion: 2 for EndTxn v5+ (KIP-890 part 2: the epoch is
	// bumped and the response carries the new id and epoch), else 0/1.
	TransactionVersion TransactionVersion
}

// endDecision is what EndTxn's rules decided.
type endDecision struct {
	code   int16
	retry  bool  // the transaction already ended as asked: answer success
	next   *meta // the Prepare state to write
	needID bool  // TV2 at an exhausted epoch: rotate to a new id at completion
}

// decideV1 is Kafka's EndTxn for TV0/1: the producer's epoch must be the
// transaction's, and a retry after completion is a success.
func decideV1(ts *txnState, a EndTxnArgs) endDecision {
	cur := ts.m
	switch {
	case cur.producerID != a.ProducerID:
		return endDecision{code: kerr.InvalidProducerIDMapping.Code}
	case cur.producerEpoch != a.ProducerEpoch:
		return endDecision{code: kerr.ProducerFenced.Code}
	case ts.pending:
		return endDecision{code: kerr.ConcurrentTransactions.Code}
	}
	return decideState(cur, a, false)
}

// decideV2 is Kafka's EndTxn for TV2: every end bumps the epoch, so a
// retry names the epoch before the bump (or, after a rotation, the old id
// at the last epoch), while the current epoch names the next transaction.
func decideV2(ts *txnState, a EndTxnArgs) endDecision {
	cur := ts.m
	retryOnOverflow := cur.prevProducerID == a.ProducerID && a.ProducerEpoch == math.MaxInt16-1 && cur.producerEpoch == 0
	retryOnBump := int32(cur.producerEpoch) == int32(a.ProducerEpoch)+1
	isRetry := retryOnOverflow || retryOnBump
	var validEpoch bool
	switch cur.state {
	case PrepareCommit, PrepareAbort:
		validEpoch = retryOnBump
	case CompleteCommit, CompleteAbort:
		validEpoch = isRetry || a.ProducerEpoch == cur.producerEpoch
	default:
		validEpoch = a.ProducerEpoch == cur.producerEpoch
	}
	switch {
	case ts.pending:
		return endDecision{code: kerr.ConcurrentTransactions.Code}
	case cur.producerID != a.ProducerID && !retryOnOverflow:
		return endDecision{code: kerr.InvalidProducerIDMapping.Code}
	case !validEpoch:
		return endDecision{code: kerr.ProducerFenced.Code}
	}
	return decideState(cur, a, isRetry)
}

// decideState applies EndTxn to the transaction's state. isRetry (TV2
// only) tells a retry from a new EndTxn in a completed state.
func decideState(cur *meta, a EndTxnArgs, isRetry bool) endDecision {
	tv2 := a.TransactionVersion.SupportsEpochBump()
	prepare := func(commit, noPartitions bool) endDecision {
		n := cur.next()
		n.state = PrepareAbort
		if commit {
			n.state = PrepareCommit
		}
		n.tv = a.TransactionVersion
		if noPartitions {
			n.parts = nil
			n.startMs = -1 // set to the update time by the caller
		}
		if tv2 {
			n.producerEpoch, n.lastProducerEpoch = cur.producerEpoch+1, cur.producerEpoch
		}
		return endDecision{next: n, needID: tv2 && epochExhausted(cur.producerEpoch)}
	}
	invalid := endDecision{code: kerr.InvalidTxnState.Code}
	switch cur.state {
	case Ongoing:
		return prepare(a.Commit, false)
	case CompleteCommit:
		switch {
		case a.Commit && (isRetry || !tv2):
			return endDecision{retry: true}
		case !a.Commit && tv2 && !isRetry:
			return prepare(false, true)
		}
		return invalid
	case CompleteAbort:
		switch {
		case !a.Commit && (isRetry || !tv2):
			return endDecision{retry: true}
		case !a.Commit && tv2:
			return prepare(false, true)
		}
		return invalid
	case PrepareCommit:
		if a.Commit {
			return endDecision{code: kerr.ConcurrentTransactions.Code}
		}
		return invalid
	case PrepareAbort:
		if !a.Commit {
			return endDecision{code: kerr.ConcurrentTransactions.Code}
		}
		return invalid
	case Empty:
		if !a.Commit && tv2 {
			return prepare(false, true) // TV2 may abort without partitions
		}
		return invalid
	}
	return invalid
}

// EndTxn commits or aborts the producer's transaction: once the Prepare
// state is in etcd it answers, and the markers are written (MarkerWriter)
// before the transaction completes. With TV2 the result carries the
// producer id and epoch the producer continues with.
func (c *Coordinator) EndTxn(ctx context.Context, a EndTxnArgs) ProducerResult {
	var res ProducerResult
	c.settling(ctx, a.TransactionalID, func() int16 {
		res = c.endTxn(ctx, a)
		return res.ErrorCode
	})
	return res
}

func (c *Coordinator) endTxn(ctx context.Context, a EndTxnArgs) ProducerResult {
	ts, code := c.locked(a.TransactionalID)
	if code != 0 {
		return failed(code)
	}
	var d endDecision
	if a.TransactionVersion.SupportsEpochBump() {
		d = decideV2(ts, a)
	} else {
		d = decideV1(ts, a)
	}
	if d.code != 0 || d.retry {
		cur := ts.m
		ts.mu.Unlock()
		if d.code != 0 {
			return failed(d.code)
		}
		return ProducerResult{ProducerID: cur.producerID, ProducerEpoch: cur.producerEpoch}
	}
	cur, prev := ts.m, ts.modRev
	ts.pending = true
	ts.mu.Unlock()

	next := d.next
	now := c.nowMs()
	next.prevProducerID = cur.producerID
	next.lastUpdateMs = now
	next.coordinatorEpoch = ts.part.claim.LeaderEpoch
	if next.startMs < 0 {
		next.startMs = now
	}
	next.nextProducerID = NoProducerID
	if d.needID {
		pid, err := c.cfg.ProducerIDs.NextProducerID(ctx)
		if err != nil {
			c.log.Warn().Err(err).Str("transactional_id", a.TransactionalID).Msg("cannot allocate a producer id")
			c.abandon(ts)
			return failed(kerr.CoordinatorNotAvailable.Code)
		}
		next.nextProducerID = pid
	}
	if code := c.install(ctx, ts, next, prev); code != 0 {
		return failed(code)
	}
	res := ProducerResult{ProducerID: next.producerID, ProducerEpoch: next.producerEpoch}
	if next.nextProducerID != NoProducerID {
		res = ProducerResult{ProducerID: next.nextProducerID, ProducerEpoch: 0}
	}
	if len(next.parts) == 0 {
		// No markers to write: complete now, so that the producer's next
		// request does not meet CONCURRENT_TRANSACTIONS.
		if c.complete(ctx, ts, next) != 0 {
			c.startMarkers(ts, next)
		}
		return res
	}
	c.startMarkers(ts, next)
	return res
}

// startMarkers runs the marker job of prepared state prep in its own
// goroutine: markers until they are all written, then the completion.
func (c *Coordinator) startMarkers(ts *txnState, prep *meta) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		c.runMarkers(ts, prep)
	}()
}

func (c *Coordinator) runMarkers(ts *txnState, prep *meta) {
	p := ts.part
	job := Markers{
		TransactionalID: ts.id, ProducerID: prep.producerID, ProducerEpoch: prep.producerEpoch,
		Commit: prep.state == PrepareCommit, CoordinatorEpoch: p.claim.LeaderEpoch,
		TransactionVersion: prep.tv, Partitions: prep.sortedParts(),
	}
	wait := func() bool {
		select {
		case <-p.ctx.Done():
			return false
		case <-time.After(c.cfg.MarkerRetryBackoff):
			return true
		}
	}
	for len(job.Partitions) > 0 {
		err := c.cfg.Markers.WriteTxnMarkers(p.ctx, job)
		if err == nil {
			break
		}
		if p.ctx.Err() != nil {
			return
		}
		c.log.Warn().Err(err).Str("transactional_id", ts.id).Bool("commit", job.Commit).
			Msg("cannot write transaction markers; retrying")
		if !wait() {
			return
		}
	}
	for {
		code := c.complete(p.ctx, ts, prep)
		if code == 0 || code == kerr.NotCoordinator.Code || p.ctx.Err() != nil {
			return
		}
		if !wait() {
			return
		}
	}
}

// complete moves prepared state prep to CompleteCommit/CompleteAbort
// (Kafka's prepareComplete), rotating to the next producer id if the TV2
// end exhausted the epoch. 0 also when the state has moved past prep.
func (c *Coordinator) complete(ctx context.Context, ts *txnState, prep *meta) int16 {
	ts.mu.Lock()
	switch {
	case ts.gone:
		ts.mu.Unlock()
		return kerr.NotCoordinator.Code
	case ts.m != prep:
		ts.mu.Unlock()
		return 0
	case ts.pending:
		ts.mu.Unlock()
		return kerr.ConcurrentTransactions.Code
	}
	prev := ts.modRev
	ts.pending = true
	ts.mu.Unlock()
	n := transition(prep, ts.part.claim.LeaderEpoch, c.nowMs())
	n.state = CompleteAbort
	if prep.state == PrepareCommit {
		n.state = CompleteCommit
	}
	if prep.nextProducerID != NoProducerID {
		// The client saw the epoch go MaxInt16-1 -> 0 of the new id.
		n.producerID, n.producerEpoch = prep.nextProducerID, 0
	}
	n.nextProducerID = NoProducerID
	n.parts = nil
	return c.install(ctx, ts, n, prev)
}

// held returns the transactions of the loaded partitions.
func (c *Coordinator) held() []*txnState {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*txnState
	for _, p := range c.parts {
		if !p.loaded {
			continue
		}
		for _, ts := range p.txns {
			out = append(out, ts)
		}
	}
	return out
}

// AbortTimedOut aborts, with an epoch bump that fences their producers,
// the ongoing transactions that started longer than their timeout ago
// (the transaction.abort.timed.out.transaction.cleanup.interval.ms scan;
// Start runs it).
func (c *Coordinator) AbortTimedOut(ctx context.Context) {
	now := c.nowMs()
	for _, ts := range c.held() {
		ts.mu.Lock()
		cur := ts.m
		if ts.gone || ts.pending || cur == nil || cur.state != Ongoing || cur.startMs+int64(cur.timeoutMs) >= now {
			ts.mu.Unlock()
			continue
		}
		next := fenceAbort(cur, ts.part.claim.LeaderEpoch, now)
		if next == nil {
			ts.mu.Unlock()
			c.log.Error().Str("transactional_id", ts.id).Int64("producer_id", cur.producerID).
				Msg("cannot abort a timed-out transaction: its epoch is exhausted")
			continue
		}
		prev := ts.modRev
		ts.pending = true
		ts.mu.Unlock()
		if code := c.install(ctx, ts, next, prev); code != 0 {
			c.log.Warn().Str("transactional_id", ts.id).Int16("error_code", code).Msg("cannot abort a timed-out transaction")
			continue
		}
		c.log.Info().Str("transactional_id", ts.id).Int64("producer_id", next.producerID).
			Int16("producer_epoch", next.producerEpoch).Msg("aborting a timed-out transaction")
		c.startMarkers(ts, next)
	}
}

// ExpireTransactionalIDs removes the transactional ids with no
// transaction in flight that have not changed for IDExpiration (the
// transactional.id.expiration.ms scan; Start runs it).
func (c *Coordinator) ExpireTransactionalIDs(ctx context.Context) {
	cutoff := c.nowMs() - c.cfg.IDExpiration.Milliseconds()
	for _, ts := range c.held() {
		ts.mu.Lock()
		cur := ts.m
		if ts.gone || ts.pending || cur == nil || !cur.state.complete() || cur.lastUpdateMs > cutoff {
			ts.mu.Unlock()
			continue
		}
		prev := ts.modRev
		ts.pending = true
		ts.mu.Unlock()
		_, code := c.persist(ctx, ts, nil, prev)
		ts.mu.Lock()
		ts.pending = false
		if code == 0 {
			ts.gone = true
		}
		ts.changedLocked()
		ts.mu.Unlock()
		if code == 0 {
			c.forget(ts)
			c.log.Info().Str("transactional_id", ts.id).Int64("producer_id", cur.producerID).Msg("transactional id expired")
		}
	}
}
