package storage

import (
	"errors"
	"fmt"
	"slices"

	"github.com/samsa-io/samsa/protocol"
)

// Transactions in the log (Kafka's ProducerStateManager and UnifiedLog
// transaction parts). A producer's first transactional batch opens its
// transaction at that batch's base offset; the transaction marker (a
// control batch, COMMIT or ABORT) closes it. The last stable offset is the
// first offset of the earliest transaction not yet known to be complete
// everywhere — open, or closed by a marker the high watermark has not
// passed — and never passes the high watermark. An ABORT marker adds the
// aborted transaction to the transaction index of the segment it is
// written to (txn_index.go), which read_committed fetches consult.

// TxnMarker is a transaction marker to append (WriteTxnMarkers).
type TxnMarker struct {
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32
	Commit           bool // COMMIT, else ABORT
	// TransactionVersion is the transaction version the marker is written
	// under: from 2 (KIP-890) the coordinator bumps the epoch for each
	// marker, which must then be above the producer's (the same epoch is a
	// retry of a marker already written, accepted when no transaction is
	// open); below 2 the marker carries the transaction's own epoch, which
	// must not be below the producer's.
	TransactionVersion int16
	LeaderEpoch        int32 // the partition leader epoch of the batch
}

// txnSpan is a transaction that holds the last stable offset back: open
// (last -1) or closed by the marker at last.
type txnSpan struct {
	producerID  int64
	first, last int64
}

// controlBatchMax bounds the control batches replay reads into a stack
// buffer (an end-transaction marker batch is 78 bytes).
const controlBatchMax = 256

// beginTxn records a transaction opened at first.
func (p *producerState) beginTxn(producerID, first int64) {
	i := len(p.txns)
	for i > 0 && p.txns[i-1].first > first {
		i--
	}
	p.txns = slices.Insert(p.txns, i, txnSpan{producerID: producerID, first: first, last: -1})
}

// nextIncompleteFirst is the first offset of the earliest open
// transaction of a producer other than producerID (Kafka's
// findNextIncompleteTxn).
func (p *producerState) nextIncompleteFirst(producerID int64) (int64, bool) {
	for _, t := range p.txns {
		if t.last < 0 && t.producerID != producerID {
			return t.first, true
		}
	}
	return 0, false
}

// pruneTxns drops the closed transactions whose marker is below hw.
func (p *producerState) pruneTxns(hw int64) {
	p.txns = slices.DeleteFunc(p.txns, func(t txnSpan) bool { return t.last >= 0 && t.last < hw })
}

// checkMarker validates a marker from the coordinator against the
// producer's state (Kafka's appendEndTxnMarker checks).
func (p *producerState) checkMarker(m *TxnMarker) error {
	e := p.producers[m.ProducerID]
	if e == nil {
		return nil
	}
	if m.TransactionVersion >= 2 {
		if m.ProducerEpoch < e.epoch || (m.ProducerEpoch == e.epoch && e.txnFirst >= 0) {
			return fmt.Errorf("%w: marker epoch %d of producer %d, current %d (transaction version %d)",
				ErrInvalidEpoch, m.ProducerEpoch, m.ProducerID, e.epoch, m.TransactionVersion)
		}
	} else if m.ProducerEpoch < e.epoch {
		return fmt.Errorf("%w: marker epoch %d of producer %d, current %d",
			ErrInvalidEpoch, m.ProducerEpoch, m.ProducerID, e.epoch)
	}
	if e.coordinatorEpoch > m.CoordinatorEpoch {
		return fmt.Errorf("%w: coordinator epoch %d for producer %d, current %d",
			ErrCoordinatorFenced, m.CoordinatorEpoch, m.ProducerID, e.coordinatorEpoch)
	}
	return nil
}

// completedTxn is a transaction a marker closes (Kafka's CompletedTxn).
type completedTxn struct {
	producerID  int64
	first, last int64 // last: the marker's offset
}

// pendingCompletion is the transaction the marker at offset closes, if
// the producer has one open (a marker without data closes nothing).
func (p *producerState) pendingCompletion(producerID, offset int64) (completedTxn, bool) {
	e := p.producers[producerID]
	if e == nil || e.txnFirst < 0 {
		return completedTxn{}, false
	}
	return completedTxn{producerID: producerID, first: e.txnFirst, last: offset}, true
}

// abortedEntry is the transaction index entry of an aborted c, computed
// before c completes (Kafka's lastStableOffset(completedTxn)).
func (p *producerState) abortedEntry(c completedTxn) AbortedTxn {
	lso := c.last + 1
	if first, ok := p.nextIncompleteFirst(c.producerID); ok {
		lso = first
	}
	return AbortedTxn{ProducerID: c.producerID, FirstOffset: c.first, LastOffset: c.last, LastStableOffset: lso}
}

// applyMarker takes the marker batch h in: the producer's epoch and
// coordinator epoch become the marker's and its transaction closes
// (Kafka's ProducerStateEntry.update and completeTxn).
func (p *producerState) applyMarker(h *batchInfo, coordinatorEpoch int32, nowMs int64) {
	e := p.producers[h.ProducerID]
	if e == nil {
		e = newProducerEntry(h.ProducerEpoch)
		p.producers[h.ProducerID] = e
	}
	if e.txnFirst >= 0 {
		for i := range p.txns {
			if t := &p.txns[i]; t.producerID == h.ProducerID && t.last < 0 {
				t.last = h.BaseOffset
				break
			}
		}
	}
	e.setEpoch(h.ProducerEpoch)
	e.coordinatorEpoch = coordinatorEpoch
	e.txnFirst = -1
	e.lastUpdate = nowMs
}

// publishTxnsLocked publishes the transactions holding the last stable
// offset back to LastStableOffset; l.mu is held.
func (l *Log) publishTxnsLocked() {
	l.producers.pruneTxns(l.hw.Load())
	if len(l.producers.txns) == 0 {
		if l.txnSpans.Load() != nil {
			l.txnSpans.Store(nil)
		}
		return
	}
	spans := slices.Clone(l.producers.txns)
	l.txnSpans.Store(&spans)
}

// LastStableOffset is the offset below which every transactional record is
// decided and replicated (Kafka's lastStableOffset): the first offset of
// the earliest transaction that is open or whose marker is not below the
// high watermark yet, or the high watermark when that is lower. A
// read_committed fetch reads up to it.
func (l *Log) LastStableOffset() int64 {
	hw := l.hw.Load()
	if p := l.txnSpans.Load(); p != nil {
		for _, t := range *p {
			if t.last < 0 || t.last >= hw {
				return min(t.first, hw)
			}
		}
	}
	return hw
}

// AppendTxnMarker appends the COMMIT or ABORT marker of m's producer's
// transaction as a control batch (WriteTxnMarkers), at the log end offset.
// An epoch older than the producer's returns ErrInvalidEpoch
// (INVALID_PRODUCER_EPOCH, PRODUCER_FENCED for the coordinator), an older
// coordinator epoch ErrCoordinatorFenced; nothing is written then. An
// ABORT that closes a transaction adds it to the segment's transaction
// index.
func (l *Log) AppendTxnMarker(m TxnMarker) (AppendResult, error) {
	defer l.notifyFailure()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return AppendResult{}, err
	}
	if m.ProducerID < 0 {
		return AppendResult{}, fmt.Errorf("storage: transaction marker: producer id %d", m.ProducerID)
	}
	if err := l.producers.checkMarker(&m); err != nil {
		return AppendResult{}, err
	}
	nowMs := l.now().UnixMilli()
	base := l.leo.Load()
	typ := protocol.ControlAbort
	if m.Commit {
		typ = protocol.ControlCommit
	}
	var buf [controlBatchMax]byte
	batch := protocol.AppendEndTxnMarker(buf[:0], base, m.LeaderEpoch, nowMs, m.ProducerID, m.ProducerEpoch,
		protocol.EndTxnMarker{Type: typ, CoordinatorEpoch: m.CoordinatorEpoch})
	h, err := decodeBatchHeader(batch)
	if err != nil {
		return AppendResult{}, err
	}
	seg := l.active()
	if seg.shouldRoll(&l.cfg, h.Size(), h.LastOffset(), nowMs) {
		if err := l.rollLocked(base); err != nil {
			if errors.Is(err, ErrNoSpace) {
				return AppendResult{}, err
			}
			return AppendResult{}, l.fail("roll", err)
		}
		seg = l.active()
	}
	if m.LeaderEpoch > l.epochs.latestEpoch() {
		if err := l.epochs.assign(m.LeaderEpoch, base); err != nil {
			if isNoSpace(err) {
				return AppendResult{}, l.noSpace("leader epoch checkpoint", err)
			}
			return AppendResult{}, l.fail("leader epoch checkpoint", err)
		}
	}
	if seg.rollTime < 0 {
		seg.rollTime = nowMs
	}
	if err := l.commitControlLocked(seg, batch, &h, !m.Commit, m.CoordinatorEpoch, nowMs); err != nil {
		return AppendResult{}, err
	}
	if m.TransactionVersion < 2 {
		// The verification guard: the marker kept the epoch, so a batch
		// of the ended transaction checked before it would pass the
		// epoch check (a transaction version 2 marker bumps the epoch,
		// which fences such a batch by itself).
		if e := l.producers.producers[m.ProducerID]; e != nil {
			e.lastMarker = base
		}
	}
	return AppendResult{BaseOffset: base, LastOffset: base, LogAppendTime: -1, LogStartOffset: l.logStart.Load()}, nil
}

// commitControlLocked writes the control batch b (header h, offsets
// assigned) to the active segment seg, indexes an aborted transaction it
// closes, and publishes it with the producer state it changes. It is the
// tail of Append for a marker, for the leader and followers alike.
func (l *Log) commitControlLocked(seg *segment, b []byte, h *batchInfo, abort bool, coordinatorEpoch int32, nowMs int64) error {
	interval := int64(l.cfg.IndexIntervalBytes)
	if err := l.appendOrCutBack(seg, b, h, interval); err != nil {
		if errors.Is(err, ErrNoSpace) {
			return err
		}
		return l.fail("append", err)
	}
	if c, ok := l.producers.pendingCompletion(h.ProducerID, h.BaseOffset); ok && abort {
		if err := seg.txn.append(l.fs, l.producers.abortedEntry(c)); err != nil {
			return l.fail("transaction index", err)
		}
	}
	if !l.durable && h.NextOffset()-l.recoveryPoint.Load() >= l.cfg.FlushMessages {
		if err := l.flushUpTo(h.NextOffset(), false); err != nil {
			return err
		}
	}
	seg.commitBatch(h, interval)
	l.written.Add(h.Size())
	l.producers.applyMarker(h, coordinatorEpoch, nowMs)
	l.publishTxnsLocked()
	l.leo.Store(h.NextOffset())
	l.maybeTrim(seg)
	return nil
}

// replayControl takes the control batch h at pos of s into p during a
// replay of the log, adding an aborted transaction to s's transaction
// index when that is being rebuilt. buf is scratch for the batch.
func (l *Log) replayControl(p *producerState, s *segment, h *batchInfo, pos int64, buf []byte, nowMs int64) error {
	b := buf
	if h.Size() > int64(len(buf)) {
		b = make([]byte, h.Size())
	}
	b = b[:h.Size()]
	if n, err := s.log.ReadAt(b, pos); int64(n) != h.Size() {
		return fmt.Errorf("read: %w", err)
	}
	m, ok, err := protocol.ParseEndTxnMarker(b)
	if err != nil {
		return err
	}
	if !ok {
		return nil // emptied by a cleaner, or not a transaction marker
	}
	if c, ok := p.pendingCompletion(h.ProducerID, h.BaseOffset); ok && m.Type == protocol.ControlAbort && s.txn.rebuild {
		s.txn.entries.add(p.abortedEntry(c))
	}
	p.applyMarker(h, m.CoordinatorEpoch, nowMs)
	return nil
}

// AbortedTransactions returns the aborted transactions that overlap
// [fetchOffset, upperBound): those whose ABORT marker is at or after
// fetchOffset and whose first offset is below upperBound (Kafka's
// collectAbortedTransactions), in marker order. A read_committed fetch
// returning the batches up to upperBound sends them to the consumer,
// which drops their records. nil when there are none.
func (l *Log) AbortedTransactions(fetchOffset, upperBound int64) []AbortedTxn {
	l.truncMu.RLock()
	defer l.truncMu.RUnlock()
	segs := l.segments()
	i := 0
	for i+1 < len(segs) && segs[i+1].base <= fetchOffset {
		i++
	}
	var out []AbortedTxn
	for _, s := range segs[i:] {
		var complete bool
		if out, complete = s.txn.collect(out, fetchOffset, upperBound); complete {
			break
		}
	}
	return out
}

// followControlLocked appends a follower's control batch b (header h) to
// seg as the leader wrote it: no epoch checks (Kafka's REPLICATION
// origin), the transaction index and producer state as on the leader.
func (l *Log) followControlLocked(seg *segment, b []byte, h *batchInfo, nowMs int64) error {
	m, ok, err := protocol.ParseEndTxnMarker(b)
	if err != nil {
		return fmt.Errorf("storage: append as follower: control batch at offset %d: %w", h.BaseOffset, err)
	}
	if !ok {
		// Emptied by the leader's cleaner, or not a transaction marker:
		// stored, no state changes.
		interval := int64(l.cfg.IndexIntervalBytes)
		if err := l.appendOrCutBack(seg, b, h, interval); err != nil {
			if errors.Is(err, ErrNoSpace) {
				return err
			}
			return l.fail("append", err)
		}
		seg.commitBatch(h, interval)
		l.written.Add(h.Size())
		l.leo.Store(h.NextOffset())
		return nil
	}
	return l.commitControlLocked(seg, b, h, m.Type == protocol.ControlAbort, m.CoordinatorEpoch, nowMs)
}
