package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/samsa-io/samsa/protocol"
)

// Log is one partition's log (Kafka's UnifiedLog): a directory of segments,
// the leader-epoch cache and the producer state. Safe for concurrent use;
// appends are serialised, reads run concurrently with appends.
//
// Lock order: mu -> flushMu -> truncMu -> epochs.mu.
type Log struct {
	// dir is the log's directory; a move (log_move.go) changes it with mu,
	// flushMu and truncMu held. dirName is the same for lock-free readers
	// (Dir).
	dir     string
	dirName atomic.Pointer[string]
	topicID [16]byte
	fs      FS
	logger  zerolog.Logger
	now     func() time.Time

	// Published to lock-free readers. Appends store a segment's size before
	// the log end offset, readers load the log end offset first.
	leo           atomic.Int64
	hw            atomic.Int64
	logStart      atomic.Int64
	recoveryPoint atomic.Int64
	lastFlushMs   atomic.Int64
	segs          atomic.Pointer[[]*segment] // ascending base offsets; copy on write
	txnSpans      atomic.Pointer[[]txnSpan]  // producers.txns as of the last change (txn.go); nil: none
	closed        atomic.Bool                // no new operations
	filesClosed   atomic.Bool                // set with truncMu held for writing
	sticky        atomic.Pointer[error]      // first I/O error; every later write fails with it
	onFailure     func(error)                // Options.OnFailure
	failNotified  atomic.Bool                // onFailure was called

	// truncMu is held for reading by whoever touches segment files without
	// mu (Read, timestamp lookups, flushes) and for writing while bytes are
	// cut or files closed (retention, truncation, Close).
	truncMu sync.RWMutex

	// mu serialises appends and every structural change; it guards the
	// fields below and the unexported append-side fields of the segments.
	mu        sync.Mutex
	cfg       Config
	producers *producerState
	pending   []pendingDelete
	rewrites  int64 // truncations so far: a move recopies what it copied before one

	epochs *leaderEpochCache // own lock; writers also hold mu

	// Compaction (log_compaction.go), guarded by mu: the cleaner's
	// checkpoint, whether a cleaning runs (cleanDone is closed when it
	// ends) and how many truncations or closes hold cleanings off.
	cleanCP     cleanerCheckpoint
	cleaning    bool
	cleanDone   chan struct{}
	cleanPaused int
	cleanAbort  atomic.Bool // a running cleaning must stop (read without mu)
	// cleanKill, in tests, is called at each step of a cleaning; an error
	// stops it there as a kill -9 would, leaving every file as it is.
	cleanKill func(step string) error

	// flushMu serialises fsyncs and writes of samsa-checkpoint.
	flushMu sync.Mutex

	bg sync.WaitGroup // post-roll flushes; Close waits for them

	onFlush func(time.Duration) // Options.FlushObserver; nil: none

	// Durable mode (durable.go): syncMu guards syncing and syncDone, the
	// group commit in progress.
	durable  bool
	syncMu   sync.Mutex
	syncing  bool
	syncDone chan struct{} // closed when the group commit in progress ends

	// Page-cache hot window (cache.go); trimMu serialises trimmer passes.
	cacheHot   int64
	trimmer    *cacheTrimmer
	trimQueued atomic.Bool
	trimMu     sync.Mutex
	written    atomic.Int64 // bytes appended since the log was opened
	// Owned by the trimmer's goroutine: the broker-wide window's view of
	// the log (cacheTrimmer.pass).
	clocked       int64 // written when last counted into the trimmer's clock
	samples       []trimSample
	listed        bool
	globalDropped int64 // written up to which the broker-wide window dropped
}

type pendingDelete struct {
	paths    []string
	deadline time.Time
}

func (l *Log) segments() []*segment { return *l.segs.Load() }

func (l *Log) active() *segment {
	s := l.segments()
	return s[len(s)-1]
}

// fail makes err sticky (wrapped in ErrStorage), logs it once and returns
// the sticky error. The operation's entry point reports it to OnFailure
// (notifyFailure) once its locks are released.
func (l *Log) fail(op string, err error) error {
	e := fmt.Errorf("%w: %s: %w", ErrStorage, op, err)
	if l.sticky.CompareAndSwap(nil, &e) {
		l.logger.Error().Err(err).Str("op", op).Msg("log storage error; partition offline, further writes refused")
	}
	return *l.sticky.Load()
}

// notifyFailure calls OnFailure, once, after the log failed. Every
// operation that can fail the log defers it before it takes a lock, so it
// runs with none held.
func (l *Log) notifyFailure() {
	if l.onFailure == nil {
		return
	}
	if e := l.sticky.Load(); e != nil && l.failNotified.CompareAndSwap(false, true) {
		l.onFailure(*e)
	}
}

// Err returns the log's sticky error (wrapping ErrStorage), or nil while no
// write, fsync or checkpoint has failed. A failed log refuses every write
// with it; reads keep serving what was acknowledged.
func (l *Log) Err() error {
	if e := l.sticky.Load(); e != nil {
		return *e
	}
	return nil
}

func (l *Log) writable() error {
	if l.closed.Load() {
		return ErrClosed
	}
	if e := l.sticky.Load(); e != nil {
		return *e
	}
	return nil
}

// Append writes one already-validated v2 batch (protocol.ValidateProduceBatch)
// as the leader: it assigns the base offset and writes leaderEpoch into the
// batch in place, stamps LogAppendTime when logAppendTime >= 0, checks the
// idempotent producer sequence when the batch has a producer id, updates the
// indexes and the leader-epoch cache, and writes. batch is modified in place
// and must not be reused by the caller after the call.
//
// A retried duplicate (same producer, epoch and sequence range as one of the
// last five batches of that producer) returns ErrDuplicateSequence together
// with the AppendResult of the original batch; nothing is written.
func (l *Log) Append(batch []byte, leaderEpoch int32, logAppendTime int64) (AppendResult, error) {
	return l.appendGuarded(batch, leaderEpoch, logAppendTime, -1)
}

// TxnGuard is the verification guard of a transactional batch (Kafka's
// VerificationGuard, KIP-890 part 1): take it before the batch is checked
// with the transaction coordinator (or found to belong to the producer's
// open transaction here) and append with AppendVerified. It is the log end
// offset: a marker of the producer appended after it ended the transaction
// the check saw.
func (l *Log) TxnGuard() int64 { return l.leo.Load() }

// AppendVerified is Append for a transactional batch checked under guard:
// if a marker of the producer was appended since guard and the producer
// has no transaction open, the batch would open one that no coordinator
// knows (a hanging transaction), and it is refused with
// ErrStaleVerification. Transaction version 2 markers bump the epoch,
// which refuses such a batch by itself (ErrInvalidEpoch): the guard
// compares the older markers only.
func (l *Log) AppendVerified(batch []byte, leaderEpoch int32, logAppendTime int64, guard int64) (AppendResult, error) {
	return l.appendGuarded(batch, leaderEpoch, logAppendTime, guard)
}

func (l *Log) appendGuarded(batch []byte, leaderEpoch int32, logAppendTime int64, guard int64) (AppendResult, error) {
	h, err := decodeBatchHeader(batch)
	if err == nil && int64(len(batch)) != h.Size() {
		err = errBadLength
	}
	if err != nil {
		return AppendResult{}, fmt.Errorf("storage: append: %w: %w", protocol.ErrCorruptBatch, err)
	}
	defer l.notifyFailure()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return AppendResult{}, err
	}
	if orig, err := l.producers.check(&h, guard); err != nil {
		if errors.Is(err, ErrDuplicateSequence) {
			return AppendResult{BaseOffset: orig.firstOffset, LastOffset: orig.lastOffset,
				LogAppendTime: orig.appendTime, LogStartOffset: l.logStart.Load()}, err
		}
		return AppendResult{}, err
	}
	nowMs := l.now().UnixMilli()
	base := l.leo.Load()
	h.BaseOffset = base
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
	binary.BigEndian.PutUint64(batch[offBaseOffset:], uint64(base))
	binary.BigEndian.PutUint32(batch[offLeaderEpoch:], uint32(leaderEpoch))
	h.PartitionLeaderEpoch = leaderEpoch
	appendTime := int64(-1)
	if logAppendTime >= 0 {
		protocol.SetLogAppendTime(batch, logAppendTime)
		h.MaxTimestamp, appendTime = logAppendTime, logAppendTime
		h.Attributes |= protocol.AttrTimestampTypeLog
	}
	if leaderEpoch > l.epochs.latestEpoch() {
		if err := l.epochs.assign(leaderEpoch, base); err != nil {
			if isNoSpace(err) { // assign undid the entry
				return AppendResult{}, l.noSpace("leader epoch checkpoint", err)
			}
			return AppendResult{}, l.fail("leader epoch checkpoint", err)
		}
	}
	if seg.rollTime < 0 {
		seg.rollTime = nowMs
	}
	if h.IsControl() {
		// The broker refuses control batches from clients; one given here
		// changes the producer state as a follower's does (AppendTxnMarker
		// is the way to write a marker).
		if err := l.followControlLocked(seg, batch, &h, nowMs); err != nil {
			return AppendResult{}, err
		}
		return AppendResult{BaseOffset: base, LastOffset: h.LastOffset(), LogAppendTime: appendTime,
			LogStartOffset: l.logStart.Load()}, nil
	}
	interval := int64(l.cfg.IndexIntervalBytes)
	if err := l.appendOrCutBack(seg, batch, &h, interval); err != nil {
		if errors.Is(err, ErrNoSpace) {
			return AppendResult{}, err
		}
		return AppendResult{}, l.fail("append", err)
	}
	// flush.messages counts what was appended since the last flush, as
	// Kafka's unflushedMessages (log end offset - recovery point). The batch
	// is flushed before it is published: one whose fsync failed was refused
	// to the client and is never read.
	if !l.durable && h.NextOffset()-l.recoveryPoint.Load() >= l.cfg.FlushMessages {
		if err := l.flushUpTo(h.NextOffset(), false); err != nil {
			return AppendResult{}, err
		}
	}
	seg.commitBatch(&h, interval)
	l.written.Add(h.Size())
	l.producers.update(&h, appendTime, nowMs)
	if h.IsTransactional() {
		l.publishTxnsLocked()
	}
	l.leo.Store(h.NextOffset())
	l.maybeTrim(seg)
	return AppendResult{BaseOffset: base, LastOffset: h.LastOffset(), LogAppendTime: appendTime,
		LogStartOffset: l.logStart.Load()}, nil
}

// rollLocked makes a new active segment at newBase. The old segment and a
// producer snapshot are flushed in the background (Kafka flushes rolled
// segments asynchronously too), which advances the recovery point.
func (l *Log) rollLocked(newBase int64) error {
	old := l.active()
	removeNew := func() {
		for _, p := range (&segment{base: newBase, dir: l.dir}).paths() {
			_ = l.fs.Remove(p) // the files a full disk let it create, empty
		}
	}
	seg, err := openSegment(l.fs, l.dir, newBase, &l.cfg, true)
	if err != nil {
		if isNoSpace(err) {
			removeNew()
			return l.noSpace("roll", err)
		}
		return err
	}
	if err := old.onBecomeInactive(); err != nil {
		seg.close()
		if isNoSpace(err) { // maybeAppend cut its partial entry back
			removeNew()
			return l.noSpace("roll", err)
		}
		return err
	}
	// The final time-index entry is new: the post-roll flush fsyncs the
	// whole segment even when its data is below the recovery point.
	old.indexUnsynced.Store(true)
	cur := l.segments()
	next := make([]*segment, len(cur), len(cur)+1)
	copy(next, cur)
	next = append(next, seg)
	l.segs.Store(&next)
	snap := l.producers.encode()
	l.logger.Info().Int64("base_offset", newBase).Int64("previous_size", old.size.Load()).Msg("segment rolled")
	l.bg.Add(1)
	go func() {
		// After Done: Close and TruncateTo wait for l.bg holding mu, and
		// OnFailure may call the log.
		defer l.notifyFailure()
		defer l.bg.Done()
		if err := writeProducerSnapshot(l.fs, l.dir, newBase, snap); err != nil {
			if !isNoSpace(err) {
				l.fail("producer snapshot", err)
				return
			}
			// Recovery replays the batches instead (nospace.go).
			l.logger.Warn().Err(err).Int64("offset", newBase).Msg("producer snapshot not written: no space left")
		}
		pruneSnapshots(l.fs, l.dir, l.segments()[0].base, 3)
		_ = l.flushUpTo(newBase, true) // a failure is sticky and notified
	}()
	return nil
}

// flushUpTo fsyncs every segment holding data below end and moves the
// recovery point there; with checkpoint it also writes samsa-checkpoint.
// When one of the segments was created since the last flush (its base is at
// or past the recovery point) the directory is fsynced too, before the
// recovery point moves past it, so that a crash cannot lose the new file's
// entry (Kafka's LocalLog.flush / flushDirIfExists).
func (l *Log) flushUpTo(end int64, checkpoint bool) error { return l.flush(end, checkpoint, false) }

// flush is flushUpTo; with dataOnly (durable mode's group commit,
// durable.go) the active segment's log file is fsynced but not its
// indexes, which recovery rebuilds anyway for the segment that holds the
// recovery point; the segment is then marked, and until a whole fsync of
// it the checkpointed recovery point stays at or below its base
// (checkpoint), so that recovery never trusts indexes that were not
// fsynced. A marked segment below end is fsynced whole by any flush that
// is not dataOnly, also when its data is below the recovery point already
// (a roll, Close).
func (l *Log) flush(end int64, checkpoint, dataOnly bool) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if e := l.sticky.Load(); e != nil {
		return *e
	}
	rp := l.recoveryPoint.Load()
	l.truncMu.RLock()
	if l.filesClosed.Load() {
		l.truncMu.RUnlock()
		return ErrClosed
	}
	segs := l.segments()
	work := end > rp
	for _, s := range segs {
		if s.base >= end {
			break
		}
		work = work || (!dataOnly && s.indexUnsynced.Load())
	}
	if !work {
		l.truncMu.RUnlock()
		l.lastFlushMs.Store(l.now().UnixMilli())
		if checkpoint {
			return l.writeCheckpointFlushLocked(true)
		}
		return nil
	}
	var err error
	created := false
	start := time.Now()
	for i, s := range segs {
		if s.base >= end {
			break
		}
		below := i+1 < len(segs) && segs[i+1].base <= rp
		if below && (dataOnly || !s.indexUnsynced.Load()) {
			continue
		}
		if dataOnly && i == len(segs)-1 {
			if err = s.log.Sync(); err == nil {
				s.indexUnsynced.Store(true)
			}
		} else if err = s.sync(); err == nil {
			s.indexUnsynced.Store(false)
		}
		if err != nil {
			break
		}
		created = created || s.base >= rp
	}
	l.truncMu.RUnlock()
	if err != nil {
		return l.fail("fsync", err)
	}
	if created {
		if err := syncDir(l.fs, l.dir); err != nil {
			return l.fail("fsync directory", err)
		}
	}
	if l.onFlush != nil {
		l.onFlush(time.Since(start))
	}
	if end > rp {
		l.recoveryPoint.Store(end)
	}
	l.lastFlushMs.Store(l.now().UnixMilli())
	if checkpoint {
		return l.writeCheckpointFlushLocked(true)
	}
	return nil
}

// checkpoint is what samsa-checkpoint holds now: the recovery point, but
// never past a segment whose indexes were not fsynced with its data
// (flush).
func (l *Log) checkpoint() logCheckpoint {
	rp := l.recoveryPoint.Load()
	for _, s := range l.segments() {
		if s.base < rp && s.indexUnsynced.Load() {
			rp = s.base
			break
		}
	}
	return logCheckpoint{recoveryPoint: rp, highWatermark: l.hw.Load(), logStartOffset: l.logStart.Load()}
}

// writeCheckpointFlushLocked writes samsa-checkpoint; flushMu must be held.
// With no space left it keeps the previous one (recovery then scans more)
// and returns ErrNoSpace without failing the log. Without dirSync the
// caller fsyncs the directory (renameIntoPlace).
func (l *Log) writeCheckpointFlushLocked(dirSync bool) error {
	write := renameIntoPlace
	if dirSync {
		write = writeFileAtomic
	}
	if err := write(l.fs, filepath.Join(l.dir, checkpointFile), l.checkpoint().encode()); err != nil {
		if isNoSpace(err) {
			return l.noSpace("checkpoint", err)
		}
		return l.fail("checkpoint", err)
	}
	return nil
}

func (l *Log) writeCheckpoint() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	return l.writeCheckpointFlushLocked(true)
}

// Read returns whole batches starting at the batch containing offset, up to
// maxBytes in total, stopping before upTo (exclusive; pass the high watermark
// for consumers; <0 means the log end offset). When minOneBatch is set the
// first batch is returned whole even when it is larger than maxBytes. Offset
// below the log start offset or above the log end offset returns
// ErrOffsetOutOfRange; offset in [upTo, log end offset] returns no records.
func (l *Log) Read(offset int64, maxBytes int32, upTo int64, minOneBatch bool) (ReadResult, error) {
	return l.ReadInto(nil, offset, maxBytes, upTo, minOneBatch)
}

// ReadInto is Read that appends the batches to dst (Records is the
// appended part), so a caller can reuse its buffers.
func (l *Log) ReadInto(dst []byte, offset int64, maxBytes int32, upTo int64, minOneBatch bool) (ReadResult, error) {
	fs, res, err := l.readSlice(offset, maxBytes, upTo, minOneBatch)
	if err != nil || fs.Len == 0 {
		return res, err
	}
	defer fs.Release()
	base := len(dst)
	dst = slices.Grow(dst, int(fs.Len))[:base+int(fs.Len)]
	if n, err := fs.ReadAt(dst[base:], 0); int64(n) != fs.Len {
		return res, fmt.Errorf("storage: read offset %d: %d of %d bytes: %w", offset, n, fs.Len, err)
	}
	res.Records = dst[base:len(dst):len(dst)]
	res.Buf = dst
	return res, nil
}

// LogStartOffset is the first offset a consumer can read.
func (l *Log) LogStartOffset() int64 { return l.logStart.Load() }

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 { return l.leo.Load() }

// HighWatermark is the last committed offset + 1 as set by SetHighWatermark
// (the broker's replica layer owns it; for a single replica it follows the
// log end offset). It is checkpointed on Close.
func (l *Log) HighWatermark() int64 { return l.hw.Load() }

// SetHighWatermark moves the high watermark (never above the log end
// offset, nor, in durable mode, above the recovery point).
func (l *Log) SetHighWatermark(hw int64) {
	if leo := l.leo.Load(); hw > leo {
		hw = leo
	}
	if l.durable {
		hw = min(hw, l.recoveryPoint.Load())
	}
	if hw < 0 {
		hw = 0
	}
	l.hw.Store(hw)
}

// LatestEpoch returns the newest leader epoch in the leader-epoch cache, or -1.
func (l *Log) LatestEpoch() int32 { return l.epochs.latestEpoch() }

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the end offset of the
// requested epoch (the start offset of the next larger epoch, or the log end
// offset when epoch is the latest) and the largest epoch <= the requested one.
// An epoch larger than the latest returns (-1, -1); one smaller than the
// first known epoch returns (start of the first known epoch, epoch), as
// Kafka's LeaderEpochFileCache does.
func (l *Log) EndOffsetForEpoch(epoch int32) (endOffset int64, foundEpoch int32) {
	return l.epochs.endOffsetFor(epoch, l.leo.Load())
}

// UpdateConfig applies a new configuration (AlterConfigs) to an open log.
func (l *Log) UpdateConfig(cfg Config) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = cfg.withDefaults()
	for _, s := range l.segments() {
		s.setIndexLimits(&l.cfg)
	}
}

// Flush fsyncs everything written so far and advances the recovery point.
func (l *Log) Flush() error {
	if l.closed.Load() {
		return ErrClosed
	}
	defer l.notifyFailure()
	l.mu.Lock()
	leo := l.leo.Load()
	l.mu.Unlock()
	return l.flushUpTo(leo, true)
}

// maybeFlushByTime flushes when flush.ms elapsed since the last flush.
func (l *Log) maybeFlushByTime(now time.Time) error {
	l.mu.Lock()
	ms := l.cfg.FlushMs
	l.mu.Unlock()
	if ms == math.MaxInt64 || l.closed.Load() || now.UnixMilli()-l.lastFlushMs.Load() < ms.Milliseconds() {
		return nil
	}
	return l.Flush()
}

// ProducerState returns the last known state of a producer, if any.
func (l *Log) ProducerState(producerID int64) (ProducerEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.producers.entry(producerID)
}

// Size is the total bytes of all segments.
func (l *Log) Size() int64 {
	var n int64
	for _, s := range l.segments() {
		n += s.size.Load()
	}
	return n
}

// Close flushes, writes the producer-state snapshot, the checkpoints and the
// clean-shutdown marker, and closes every file.
func (l *Log) Close() error {
	defer l.notifyFailure()
	defer l.pauseCleaning()()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Swap(true) {
		return nil
	}
	l.bg.Wait()
	err := l.shutdownLocked()
	if err == nil {
		err = l.writeCleanMarker()
	}
	if cerr := l.closeFilesLocked(); err == nil && cerr != nil {
		err = fmt.Errorf("storage: close: %w", cerr)
	}
	return err
}

// shutdownLocked persists everything a clean open needs.
func (l *Log) shutdownLocked() error {
	if e := l.sticky.Load(); e != nil {
		return *e
	}
	leo := l.leo.Load()
	if err := l.active().onBecomeInactive(); err != nil {
		return l.fail("time index", err)
	}
	// Close syncs the active segment even when the recovery point is at the
	// log end offset: the final time-index entry was just written. (Marked
	// as a roll marks the old segment: flush then fsyncs the directory only
	// if the segment was created since the last flush.)
	l.active().indexUnsynced.Store(true)
	if err := l.flushUpTo(leo, false); err != nil {
		return err
	}
	// The snapshot and the checkpoint are written (data fsynced) and
	// renamed into place, then one fsync of the directory makes both
	// renames durable. Neither needs the other durable first: a checkpoint
	// whose snapshot a crash lost replays from an older snapshot.
	if err := renameIntoPlace(l.fs, snapshotPath(l.dir, leo), l.producers.encode()); err != nil {
		return l.fail("producer snapshot", err)
	}
	pruneSnapshots(l.fs, l.dir, l.segments()[0].base, 3)
	l.flushMu.Lock()
	err := l.writeCheckpointFlushLocked(false)
	l.flushMu.Unlock()
	if err != nil {
		return err
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return l.fail("fsync directory", err)
	}
	return nil
}

// writeCleanMarker creates the clean-shutdown marker. Close creates it
// only once everything a clean open trusts is durable (the segments, the
// snapshot, the checkpoint and their directory entries), so it is not
// fsynced itself: a marker that survives a crash describes durable files,
// and one a crash loses costs a recovery at the next open, nothing more.
func (l *Log) writeCleanMarker() error {
	f, err := l.fs.OpenFile(filepath.Join(l.dir, cleanShutdownFile), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("storage: clean-shutdown marker: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: clean-shutdown marker: %w", err)
	}
	return nil
}

func (l *Log) closeFilesLocked() error {
	l.truncMu.Lock()
	defer l.truncMu.Unlock()
	l.filesClosed.Store(true)
	var first error
	for _, s := range l.segments() {
		if err := s.close(); err != nil && first == nil {
			first = err
		}
	}
	l.removePendingLocked(time.Time{}, true)
	return first
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	dir, err := l.closeForDelete()
	if err != nil {
		return err
	}
	if err := l.fs.RemoveAll(dir); err != nil {
		return fmt.Errorf("storage: delete %s: %w", dir, err)
	}
	return nil
}

// closeForDelete closes the files without a clean-shutdown marker and
// renames the directory to "<dir>.<hex id>-delete", returning the new name.
func (l *Log) closeForDelete() (string, error) {
	defer l.pauseCleaning()()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed.Swap(true) {
		l.bg.Wait()
		_ = l.closeFilesLocked()
	}
	dst := deleteDirName(l.dir)
	if err := l.fs.Rename(l.dir, dst); err != nil {
		return "", fmt.Errorf("storage: delete %s: %w", l.dir, err)
	}
	return dst, nil
}
