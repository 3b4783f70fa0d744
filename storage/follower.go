package storage

// The follower's side of replication: batches copied from the leader keep
// the leader's offsets and leader epochs (Kafka's UnifiedLog.appendAsFollower),
// the leader-epoch cache follows them, and the log start offset follows the
// leader's.

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/samsa-io/samsa/protocol"
)

// ErrOffsetMismatch: batches given to AppendAsFollower do not continue the
// log (offsets that go backwards, or a batch below the log end offset that
// differs from the one the log holds there). Nothing was written.
var ErrOffsetMismatch = errors.New("storage: follower batches do not continue the log")

// ErrEpochRegression: batches given to AppendAsFollower carry a leader epoch
// older than one the log already holds data of. Nothing was written.
var ErrEpochRegression = errors.New("storage: follower batch leader epoch goes backwards")

// FollowerAppendResult describes what AppendAsFollower did.
type FollowerAppendResult struct {
	// Appended and Skipped count whole batches written, and batches that
	// were already in the log byte for byte and not written again.
	Appended, Skipped int
	// Bytes is how much of the input the whole batches covered (written or
	// skipped); a trailing partial batch is not counted.
	Bytes int
	// LastOffset is the last offset of the last whole batch (written or
	// skipped), -1 when there was none.
	LastOffset int64
}

// AppendAsFollower writes batches as a leader's Fetch returned them: whole
// v2 batches back to back, the last of which may be cut short (it is
// ignored). Each batch keeps its base offset and partitionLeaderEpoch; its
// CRC is checked, and the offsets must increase from batch to batch and
// start at or past the log end offset. Gaps are allowed, as in Kafka: a
// compacted leader no longer holds the offsets its cleaner removed. A
// batch below the log end offset is skipped when the log holds the same
// bytes there (a fetch answered twice) and is an ErrOffsetMismatch
// otherwise; offsets that go backwards are an ErrOffsetMismatch too. The
// leader-epoch cache takes each new epoch at the base offset of its first
// batch (an epoch assigned at the log end with no data since — a former
// leadership of this replica — gives way, as in Kafka's cache). Producer
// state is updated as for Append but no sequence is refused: the leader
// validated them. Rolls, flush.messages and the sticky error are Append's.
//
// Validation happens before anything is written: on an error the log is
// unchanged, and only an I/O error fails the log.
func (l *Log) AppendAsFollower(batches []byte) (FollowerAppendResult, error) {
	res := FollowerAppendResult{LastOffset: -1}
	n, count, err := scanFollowerBatches(batches)
	if err != nil {
		return res, err
	}
	if count == 0 {
		return res, nil
	}
	batches = batches[:n]
	defer l.notifyFailure()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return res, err
	}
	// Skip what the log already holds (it must be the same bytes).
	leo := l.leo.Load()
	for len(batches) > 0 {
		h, _ := decodeBatchHeader(batches) // checked by scanFollowerBatches
		if h.BaseOffset >= leo {
			break
		}
		if err := l.samePresentLocked(h.BaseOffset, batches[:h.Size()]); err != nil {
			return res, err
		}
		res.Skipped++
		res.Bytes += int(h.Size())
		res.LastOffset = h.LastOffset()
		batches = batches[h.Size():]
	}
	if len(batches) == 0 {
		return res, nil
	}

	if err := l.checkFollowerEpochsLocked(batches, leo); err != nil {
		return res, err
	}
	nowMs := l.now().UnixMilli()
	interval := int64(l.cfg.IndexIntervalBytes)
	for len(batches) > 0 {
		h, _ := decodeBatchHeader(batches) // checked by scanFollowerBatches
		b := batches[:h.Size()]
		batches = batches[h.Size():]
		seg := l.active()
		if seg.shouldRoll(&l.cfg, h.Size(), h.LastOffset(), nowMs) {
			if err := l.rollLocked(h.BaseOffset); err != nil {
				if errors.Is(err, ErrNoSpace) {
					return res, err
				}
				return res, l.fail("roll", err)
			}
			seg = l.active()
		}
		if h.PartitionLeaderEpoch >= 0 && h.PartitionLeaderEpoch != l.epochs.latestEpoch() {
			if err := l.epochs.assignFollower(h.PartitionLeaderEpoch, h.BaseOffset); err != nil {
				if isNoSpace(err) {
					return res, l.noSpace("leader epoch checkpoint", err)
				}
				return res, l.fail("leader epoch checkpoint", err)
			}
		}
		if seg.rollTime < 0 {
			seg.rollTime = nowMs
		}
		if h.IsControl() {
			if err := l.followControlLocked(seg, b, &h, nowMs); err != nil {
				return res, err
			}
			res.Appended++
			res.Bytes += int(h.Size())
			res.LastOffset = h.LastOffset()
			continue
		}
		if err := l.appendOrCutBack(seg, b, &h, interval); err != nil {
			if errors.Is(err, ErrNoSpace) {
				return res, err
			}
			return res, l.fail("append", err)
		}
		if !l.durable && h.NextOffset()-l.recoveryPoint.Load() >= l.cfg.FlushMessages {
			if err := l.flushUpTo(h.NextOffset(), false); err != nil {
				return res, err
			}
		}
		seg.commitBatch(&h, interval)
		l.written.Add(h.Size())
		appendTime := int64(-1)
		if h.LogAppendTime() {
			appendTime = h.MaxTimestamp
		}
		l.producers.update(&h, appendTime, nowMs)
		if h.IsTransactional() {
			l.publishTxnsLocked()
		}
		l.leo.Store(h.NextOffset())
		l.maybeTrim(seg)
		res.Appended++
		res.Bytes += int(h.Size())
		res.LastOffset = h.LastOffset()
	}
	if l.durable {
		// One fsync per fetch response: the follower's next fetch offset,
		// which moves the leader's high watermark, is durable.
		if err := l.flush(l.leo.Load(), false, true); err != nil {
			return res, err
		}
	}
	return res, nil
}

// scanFollowerBatches validates the whole batches at the start of b (length,
// magic, CRC-32C, offsets increasing from batch to batch) and returns how
// many bytes and batches they are. A trailing batch that b cuts short ends
// the scan without error.
func scanFollowerBatches(b []byte) (n, count int, err error) {
	next := int64(-1)
	for len(b)-n >= logOverhead {
		rest := b[n:]
		_, size, _ := protocol.BatchSizeAt(rest)
		if size < batchHeaderSize {
			return 0, 0, fmt.Errorf("storage: follower append: batch %d: %w", count, protocol.ErrBatchLength)
		}
		if int64(len(rest)) < size {
			break // partial: the leader's response was cut here
		}
		h, err := decodeBatchHeader(rest)
		if err != nil {
			return 0, 0, fmt.Errorf("storage: follower append: batch %d: %w", count, err)
		}
		if !batchCRCValid(rest[:size]) {
			return 0, 0, fmt.Errorf("storage: follower append: batch %d at offset %d: %w", count, h.BaseOffset, errBadCRC)
		}
		if h.BaseOffset < 0 || (next >= 0 && h.BaseOffset < next) {
			return 0, 0, fmt.Errorf("%w: batch %d at offset %d follows one that ends before %d", ErrOffsetMismatch,
				count, h.BaseOffset, next)
		}
		next = h.NextOffset()
		n += int(size)
		count++
	}
	return n, count, nil
}

// samePresentLocked checks that the log holds exactly batch at base (a
// batch the follower already has). l.mu is held.
func (l *Log) samePresentLocked(base int64, batch []byte) error {
	fs, err := l.ReadSlice(base, int32(len(batch)), -1, true)
	if err != nil {
		return fmt.Errorf("%w: batch at offset %d below the log end offset %d: %w", ErrOffsetMismatch, base,
			l.leo.Load(), err)
	}
	defer fs.Release()
	if fs.Len != int64(len(batch)) {
		return fmt.Errorf("%w: batch at offset %d (%d bytes) below the log end offset %d differs from the log's (%d bytes)",
			ErrOffsetMismatch, base, len(batch), l.leo.Load(), fs.Len)
	}
	have := make([]byte, len(batch)) // rare: a fetch answered twice
	if n, err := fs.ReadAt(have, 0); n != len(have) {
		return fmt.Errorf("storage: follower append: read offset %d: %w", base, err)
	}
	if !bytes.Equal(have, batch) {
		return fmt.Errorf("%w: batch at offset %d below the log end offset %d differs from the log's", ErrOffsetMismatch,
			base, l.leo.Load())
	}
	return nil
}

// checkFollowerEpochsLocked refuses batches whose leader epochs go
// backwards: within the batches, or below an epoch the log holds data of.
// An epoch entry at the log end offset with no data after it (assigned when
// this replica led) does not count; the new batches replace it. l.mu is
// held.
func (l *Log) checkFollowerEpochsLocked(batches []byte, leo int64) error {
	floor := int32(-1)
	if e, ok := l.epochs.latestWithData(leo); ok {
		floor = e.epoch
	}
	for len(batches) > 0 {
		h, _ := decodeBatchHeader(batches) // checked by scanFollowerBatches
		epoch, base := h.PartitionLeaderEpoch, h.BaseOffset
		if epoch >= 0 {
			if epoch < floor {
				return fmt.Errorf("%w: batch at offset %d has epoch %d, after data of epoch %d", ErrEpochRegression,
					base, epoch, floor)
			}
			floor = epoch
		}
		batches = batches[h.Size():]
	}
	return nil
}

// AssignEpochAtEnd records that leader epoch epoch starts at the log end
// offset, as a new leader does before it appends (Kafka's
// leaderEpochCache.assign(epoch, logEndOffset) at becomeLeader), so that a
// follower asking for the end of an older epoch learns where this
// leadership began. An epoch not newer than the latest one is ignored.
func (l *Log) AssignEpochAtEnd(epoch int32) error {
	defer l.notifyFailure()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if epoch < 0 || epoch <= l.epochs.latestEpoch() {
		return nil
	}
	if err := l.epochs.assign(epoch, l.leo.Load()); err != nil {
		if isNoSpace(err) {
			return l.noSpace("leader epoch checkpoint", err)
		}
		return l.fail("leader epoch checkpoint", err)
	}
	return nil
}

// MaybeIncrementLogStartOffset moves a follower's log start offset up to the
// leader's (Kafka's maybeIncrementLogStartOffset with
// LeaderOffsetIncremented), deleting segments wholly below it, but never
// past the follower's high watermark: a follower keeps what it has not yet
// seen committed. It returns the log start offset.
func (l *Log) MaybeIncrementLogStartOffset(offset int64) (int64, error) {
	if offset <= l.logStart.Load() {
		return l.logStart.Load(), nil
	}
	offset = min(offset, l.hw.Load())
	if offset <= l.logStart.Load() {
		return l.logStart.Load(), nil
	}
	return l.DeleteRecordsBefore(offset)
}

// TruncateFullyAndStartAt removes every segment and starts the log empty at
// offset, which becomes its log start offset, log end offset and high
// watermark (Kafka's truncateFullyAndStartAt): a follower whose whole log
// lies below the leader's log start offset starts over there. The leader
// epoch cache and the producer snapshots go with the data.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	defer l.notifyFailure()
	defer l.pauseCleaning()()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("storage: truncate fully and start at %d: negative offset", offset)
	}
	l.bg.Wait()
	if err := l.truncateFullyLocked(offset); err != nil {
		return err
	}
	l.hw.Store(offset)
	return l.afterTruncateLocked(offset, offset)
}
