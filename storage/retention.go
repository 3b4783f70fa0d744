package storage

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
)

// ApplyRetention deletes segments below the log start offset and, when
// cleanup.policy includes delete, those past retention.ms / retention.bytes
// (never the active segment, never data at or above the high watermark),
// rolls the active segment when segment.ms elapsed, expires idle producers
// and removes ".deleted" files whose file.delete.delay.ms passed. It returns
// the bytes freed.
func (l *Log) ApplyRetention(now time.Time) (int64, error) {
	defer l.notifyFailure()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	nowMs := now.UnixMilli()
	l.removePendingLocked(now, false)
	l.producers.expire(nowMs, l.cfg.ProducerIDExpiration.Milliseconds())
	if a := l.active(); a.size.Load() > 0 && a.rollTime >= 0 && nowMs-a.rollTime >= l.cfg.rollMs()-a.rollJitterMs {
		if err := l.rollLocked(l.leo.Load()); err != nil {
			return 0, l.fail("roll", err)
		}
	}
	var freed int64
	// Kafka's order: log start offset, then size, then time.
	logStart := l.logStart.Load()
	n, err := l.deleteSegmentsLocked(now, "log-start-offset", func(s *segment, next int64) bool {
		return next <= logStart
	})
	freed += n
	deletes := l.cfg.CleanupPolicy&CleanupDelete != 0
	if err == nil && deletes && l.cfg.RetentionBytes >= 0 {
		diff := l.Size() - l.cfg.RetentionBytes
		n, err = l.deleteSegmentsLocked(now, "retention.bytes", func(s *segment, _ int64) bool {
			if size := s.size.Load(); diff-size >= 0 {
				diff -= size
				return true
			}
			return false
		})
		freed += n
	}
	if err == nil && deletes && l.cfg.RetentionMs >= 0 {
		limit := l.cfg.RetentionMs.Milliseconds()
		n, err = l.deleteSegmentsLocked(now, "retention.ms", func(s *segment, _ int64) bool {
			ts := s.maxTs
			if ts < 0 {
				st, serr := s.log.Stat()
				if serr != nil {
					return false
				}
				ts = st.ModTime().UnixMilli()
			}
			return nowMs-ts > limit
		})
		freed += n
	}
	return freed, err
}

// deleteSegmentsLocked deletes the oldest segments while pred holds, never
// the active one and never one whose data reaches the high watermark; the
// log start offset moves up to the first remaining segment.
func (l *Log) deleteSegmentsLocked(now time.Time, reason string, pred func(s *segment, next int64) bool) (int64, error) {
	if l.cleaning {
		// The cleaner swaps segments in place: the next retention pass
		// deletes what is due (the log start offset has moved already).
		return 0, nil
	}
	segs := l.segments()
	upper := min(segs[len(segs)-1].base, l.hw.Load())
	n := 0
	for n < len(segs)-1 {
		next := segs[n+1].base
		if next > upper || !pred(segs[n], next) {
			break
		}
		n++
	}
	if n == 0 {
		return 0, nil
	}
	rest := append([]*segment(nil), segs[n:]...)
	// Readers check the log start offset and pick a segment under truncMu:
	// publish both together.
	l.truncMu.Lock()
	l.segs.Store(&rest)
	if rest[0].base > l.logStart.Load() {
		l.logStart.Store(rest[0].base)
	}
	l.truncMu.Unlock()
	var freed int64
	for _, s := range segs[:n] {
		freed += s.size.Load()
		l.retireSegmentLocked(s, now)
	}
	l.logger.Info().Str("reason", reason).Int("segments", n).Int64("bytes", freed).
		Int64("log_start_offset", l.logStart.Load()).Msg("deleted old segments")
	if err := l.epochs.truncateFromStart(l.logStart.Load()); err != nil {
		return freed, l.fail("leader epoch checkpoint", err)
	}
	pruneSnapshots(l.fs, l.dir, rest[0].base, 3)
	return freed, l.writeCheckpoint()
}

// retireSegmentLocked closes a segment already unlinked from the list and
// renames its files to ".deleted"; they are removed after file.delete.delay.ms.
func (l *Log) retireSegmentLocked(s *segment, now time.Time) {
	s.close()
	paths := s.renameDeleted(l.fs)
	if l.cfg.FileDeleteDelay < 0 {
		for _, p := range paths {
			_ = l.fs.Remove(p)
		}
		return
	}
	l.pending = append(l.pending, pendingDelete{paths: paths, deadline: now.Add(l.cfg.FileDeleteDelay)})
}

// removePendingLocked removes ".deleted" files whose delay passed (all with force).
func (l *Log) removePendingLocked(now time.Time, force bool) {
	kept := l.pending[:0]
	for _, p := range l.pending {
		if force || !now.Before(p.deadline) {
			for _, f := range p.paths {
				_ = l.fs.Remove(f)
			}
			continue
		}
		kept = append(kept, p)
	}
	l.pending = kept
}

// DeleteRecordsBefore moves the log start offset forward to offset (Kafka's
// DeleteRecords), deleting segments entirely below it. offset above the high
// watermark returns ErrOffsetOutOfRange.
func (l *Log) DeleteRecordsBefore(offset int64) (newLogStartOffset int64, err error) {
	defer l.notifyFailure()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	if hw := l.hw.Load(); offset > hw {
		return l.logStart.Load(), fmt.Errorf("storage: delete records before %d above high watermark %d: %w",
			offset, hw, ErrOffsetOutOfRange)
	}
	if offset <= l.logStart.Load() {
		return l.logStart.Load(), nil
	}
	l.logStart.Store(offset)
	if err := l.epochs.truncateFromStart(offset); err != nil {
		return offset, l.fail("leader epoch checkpoint", err)
	}
	if _, err := l.deleteSegmentsLocked(l.now(), "delete-records", func(_ *segment, next int64) bool {
		return next <= offset
	}); err != nil {
		return offset, err
	}
	return offset, l.writeCheckpoint()
}

// TruncateTo removes everything at and above offset (followers, after a
// leader change, to the end of the epoch they share with the leader). Also
// truncates the leader-epoch cache and producer state. When offset falls
// inside a batch the whole batch goes, as in Kafka, so the log end offset
// may end up below offset. An offset at or past the log end offset cuts no
// data but, as Kafka's UnifiedLog.truncateTo, still drops leader-epoch
// entries that start at or after the log end offset: an epoch this replica
// assigned when it led and never wrote in, which the new leader's log does
// not have. An offset at or below the first segment's base (or below the log
// start offset) empties the log and starts it at offset (Kafka's
// truncateFullyAndStartAt).
func (l *Log) TruncateTo(offset int64) error {
	defer l.notifyFailure()
	defer l.pauseCleaning()()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("storage: truncate to %d: negative offset", offset)
	}
	if leo := l.leo.Load(); offset >= leo {
		if err := l.epochs.truncateFromEnd(leo); err != nil {
			return l.fail("leader epoch checkpoint", err)
		}
		return nil
	}
	l.bg.Wait() // background flushes hold no mu; keep them off the files we cut
	l.rewrites++
	segs := l.segments()
	now := l.now()
	var newLeo int64
	if offset < l.logStart.Load() || offset <= segs[0].base {
		if err := l.truncateFullyLocked(offset); err != nil {
			return err
		}
		newLeo = offset
	} else {
		i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
		s := segs[i]
		dropped := segs[i+1:]
		l.truncMu.Lock()
		_, pos, found, err := s.findBatch(offset, s.size.Load())
		if err == nil && found {
			s.dropAhead()
			if err = s.log.Truncate(pos); err == nil {
				_, _, err = s.recover(int64(l.cfg.IndexIntervalBytes), nil)
			}
			if err == nil {
				err = s.txn.truncateTo(s.next)
			}
		}
		if err != nil {
			l.truncMu.Unlock()
			return l.fail("truncate", err)
		}
		next := append([]*segment(nil), segs[:i+1]...)
		l.segs.Store(&next)
		newLeo = s.next
		l.leo.Store(newLeo)
		l.truncMu.Unlock()
		for _, s := range dropped {
			l.retireSegmentLocked(s, now)
		}
	}
	l.hw.Store(min(l.hw.Load(), newLeo))
	return l.afterTruncateLocked(offset, newLeo)
}

// truncateFullyLocked retires every segment and starts an empty one at
// offset, the new log start and end offset; the producer snapshots are
// removed and the leader-epoch cache cleared. l.mu is held and background
// flushes waited for.
func (l *Log) truncateFullyLocked(offset int64) error {
	l.rewrites++
	now := l.now()
	l.truncMu.Lock()
	for _, s := range l.segments() {
		l.retireSegmentLocked(s, now)
	}
	seg, err := openSegment(l.fs, l.dir, offset, &l.cfg, true)
	if err != nil {
		l.truncMu.Unlock()
		return l.fail("truncate", err)
	}
	next := []*segment{seg}
	l.segs.Store(&next)
	l.leo.Store(offset)
	l.truncMu.Unlock()
	l.logStart.Store(offset)
	l.recoveryPoint.Store(offset) // nothing below it is left to recover
	if offs, err := snapshotOffsets(l.fs, l.dir); err == nil {
		for _, o := range offs {
			_ = l.fs.Remove(offsetFileName(l.dir, o, snapshotSuffix))
		}
	}
	if err := l.epochs.clear(); err != nil {
		return l.fail("leader epoch checkpoint", err)
	}
	return nil
}

// afterTruncateLocked brings the recovery point, the leader-epoch cache and
// the producer state in line with a log that now ends at newLeo, and writes
// samsa-checkpoint. l.mu is held.
func (l *Log) afterTruncateLocked(target, newLeo int64) error {
	l.recoveryPoint.Store(min(l.recoveryPoint.Load(), newLeo))
	l.cleanCP.firstDirty = min(l.cleanCP.firstDirty, newLeo)
	if err := l.epochs.truncateFromEnd(newLeo); err != nil {
		return l.fail("leader epoch checkpoint", err)
	}
	stale, err := l.reloadProducerState(newLeo)
	if err == nil {
		err = removeSnapshots(l.fs, stale)
	}
	if err != nil {
		return l.fail("producer state", err)
	}
	l.logger.Info().Int64("target_offset", target).Int64("log_end_offset", newLeo).Msg("log truncated")
	return l.writeCheckpoint()
}

// OffsetForTimestamp returns the first offset whose record timestamp is >= ts
// and that record's timestamp, as ListOffsets does. found=false when no such
// record exists.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool, err error) {
	type cand struct {
		s           *segment
		maxTs, next int64
	}
	l.mu.Lock()
	segs := l.segments()
	cands := make([]cand, len(segs))
	for i, s := range segs {
		cands[i] = cand{s, s.maxTs, s.next}
	}
	logStart := l.logStart.Load()
	l.mu.Unlock()

	l.truncMu.RLock()
	defer l.truncMu.RUnlock()
	if l.filesClosed.Load() {
		return 0, 0, false, ErrClosed
	}
	for _, c := range cands {
		if c.maxTs < ts || c.next <= logStart {
			continue
		}
		start := max(c.s.ti.lookup(ts), logStart)
		err := l.scanRecords(c.s, start, func(bh *batchInfo) bool { return bh.MaxTimestamp >= ts },
			func(off, rts int64) bool {
				if off >= logStart && rts >= ts {
					offset, timestamp, found = off, rts, true
					return false
				}
				return true
			})
		if err != nil || found {
			return offset, timestamp, found, err
		}
	}
	return 0, 0, false, nil
}

// MaxTimestamp returns the offset and timestamp of the record with the largest
// timestamp (ListOffsets MAX_TIMESTAMP, KIP-734). found=false on an empty log.
func (l *Log) MaxTimestamp() (offset int64, timestamp int64, found bool, err error) {
	l.mu.Lock()
	var best *segment
	var bestTs, bestOff int64 = -1, -1
	for _, s := range l.segments() {
		if s.size.Load() > 0 && s.maxTs > bestTs {
			best, bestTs, bestOff = s, s.maxTs, s.maxTsOffset
		}
	}
	l.mu.Unlock()
	if best == nil {
		return 0, 0, false, nil
	}
	l.truncMu.RLock()
	defer l.truncMu.RUnlock()
	if l.filesClosed.Load() {
		return 0, 0, false, ErrClosed
	}
	err = l.scanRecords(best, bestOff, func(bh *batchInfo) bool { return bh.MaxTimestamp == bestTs },
		func(off, rts int64) bool {
			if rts == bestTs {
				offset, timestamp, found = off, rts, true
				return false
			}
			return true
		})
	return offset, timestamp, found, err
}

// scanRecords visits, from the batch holding offset from, every record of the
// batches selected by want, until fn returns false. truncMu must be held.
func (l *Log) scanRecords(s *segment, from int64, want func(*batchInfo) bool, fn func(off, ts int64) bool) error {
	sc := &scanner{f: s.log, pos: s.oi.lookup(from), end: s.size.Load(), buf: make([]byte, 64<<10), full: true}
	stopped := false
	for !stopped {
		h, data, _, err := sc.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("storage: scan segment %d: %w", s.base, err)
		}
		if h.LastOffset() < from || !want(&h) {
			continue
		}
		if err := recordTimestamps(data, func(off, ts int64) bool {
			stopped = !fn(off, ts)
			return !stopped
		}); err != nil {
			return fmt.Errorf("storage: records of batch %d: %w", h.BaseOffset, err)
		}
	}
	return nil
}
