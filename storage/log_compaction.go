package storage

// Log compaction (cleanup.policy=compact): one cleaning of one log, as
// Kafka's LogCleaner.Cleaner.clean does it. The Manager's cleaner threads
// (cleaner.go) pick the log and call clean.
//
// The log splits at two offsets: below firstDirty everything has been
// cleaned before; [firstDirty, firstUncleanable) is dirty; from
// firstUncleanable on nothing is touched. firstUncleanable is the base of
// the first segment that is active, holds data at or above the high
// watermark (uncommitted data may still be truncated: nothing committed
// may be dropped because of it) or has a record newer than
// min.compaction.lag.ms. A cleaning
//
//  1. builds the offset map (offset_map.go) of the dirty section: each key's
//     latest offset, batch by batch, until the dedupe buffer is full (it
//     then ends there, and the rest stays dirty for the next cleaning);
//  2. rewrites every segment below where the map ends, from the log start,
//     in groups of consecutive segments that fit one segment
//     (segment.bytes, the index sizes, an int32 offset range), each group
//     into one new segment named by its first base offset: a record stays
//     unless a later offset of its key is in the map, or it is a
//     tombstone whose batch's delete horizon has passed, or it has no key
//     (Kafka drops keyless records too). Offsets never change: a batch
//     keeps its base offset, lastOffsetDelta, producer id, epoch, base
//     sequence and leader epoch; a batch whose records all stay is copied
//     byte for byte; one that loses records is rebuilt with its codec
//     (protocol.AppendBatch). A batch that loses every record goes, unless
//     it is the last of a producer the log remembers (kept empty: the
//     producer's sequence and epoch survive, Kafka's RETAIN_EMPTY). The
//     first cleaning that keeps a tombstone stamps its batch with a delete
//     horizon, now + delete.retention.ms (KIP-534: the attribute bit and
//     baseTimestamp; record timestamps unchanged); a later one removes
//     the tombstone once the horizon passed.
//  3. swaps each group in (below), then records where the dirty section now
//     starts and the earliest pending delete horizon in
//     samsa-cleaner-checkpoint.
//
// Transactions: nothing at or past the last stable offset is cleaned, so
// every transaction with data in the cleaned range has ended, and its
// outcome is in the transaction indexes: the aborted transactions of every
// segment (the active one too: a marker can lie past the cleaned range)
// are read when the pass starts. A committed transaction's records are
// cleaned like any others (they take part in the map and are kept or
// removed by it); an aborted transaction's records never enter the map
// and are removed (Kafka's cleaner discards aborted batches), the batch
// kept empty when it is its producer's last, as any batch. Control
// batches (the markers) are kept byte for byte, and the aborted
// transactions of the cleaned segments' indexes go to the cleaned
// segment's. Kafka also removes a marker once delete.retention.ms passed
// after its transaction's data is gone; samsa keeps markers, which costs
// a few bytes per transaction, not correctness.
//
// Crash safety is Kafka's .cleaned / .swap protocol. A group is written to
// "<base>.log.cleaned" (and .index.cleaned, .timeindex.cleaned) and fsynced;
// then, holding Log.mu, renamed to ".swap" — the indexes first, the log
// last — and the directory fsynced: that rename of the log is the commit
// point. Then the old segments' files become ".deleted" and the ".swap"
// files take their final names (the log last again), the directory is
// fsynced and the segment list swapped. Open (recovery.go) removes
// ".cleaned" files and index ".swap" files without a log ".swap" (a
// cleaning that did not reach its commit point), and completes a swap
// whose "<base>.log.swap" exists: the old segments in its offset range go
// and the swap file becomes the segment, its indexes rebuilt. So a kill
// at any moment leaves either the old segments or the cleaned one.
//
// Nothing else moves segments while a cleaning runs: retention and
// DeleteRecords leave segment deletion to the next retention pass, and
// truncation and Close stop the cleaning and wait for it first
// (pauseCleaning), as Kafka's abortAndPauseCleaning. Readers see the old
// segments until the swap and keep reading them through their pins after.

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-io/samsa/protocol"
)

// cleanerCheckpointFile is where a log's cleaner state survives restarts
// (Kafka keeps the first dirty offsets in its data directory's
// cleaner-offset-checkpoint): "0", "first-dirty N", "delete-horizon N"
// (-1: no tombstone waits for its horizon).
const cleanerCheckpointFile = "samsa-cleaner-checkpoint"

// cleanerCheckpoint is the cleaner's state of one log.
type cleanerCheckpoint struct {
	firstDirty int64 // -1: unknown, the log start offset
	horizon    int64 // earliest delete horizon of a kept tombstone, -1 none
}

func (c cleanerCheckpoint) encode() []byte {
	b := []byte("0\nfirst-dirty ")
	b = strconv.AppendInt(b, c.firstDirty, 10)
	b = append(b, "\ndelete-horizon "...)
	b = strconv.AppendInt(b, c.horizon, 10)
	return append(b, '\n')
}

// readCleanerCheckpoint reads the log's cleaner checkpoint; a missing one
// is "nothing cleaned yet". An unreadable one is an error: Open refuses
// rather than guess.
func readCleanerCheckpoint(fsys FS, dir string) (cleanerCheckpoint, error) {
	c := cleanerCheckpoint{firstDirty: -1, horizon: -1}
	p := filepath.Join(dir, cleanerCheckpointFile)
	b, err := readFile(fsys, p)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	bad := fmt.Errorf("%s: malformed cleaner checkpoint", p)
	if len(lines) != 3 || lines[0] != "0" {
		return c, bad
	}
	for i, key := range []string{"first-dirty", "delete-horizon"} {
		k, v, ok := strings.Cut(lines[1+i], " ")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || k != key || err != nil {
			return c, bad
		}
		*[]*int64{&c.firstDirty, &c.horizon}[i] = n
	}
	return c, nil
}

// errCleaningAborted: the cleaning stopped because the log was truncated,
// closed or failed, or its segments changed; nothing was swapped.
var errCleaningAborted = errors.New("storage: cleaning aborted")

// errCleaningKilled: a test hook stopped the cleaning as a kill would, with
// every file left as it was.
var errCleaningKilled = fmt.Errorf("%w (test kill)", errCleaningAborted)

// cleanable is what a cleaning of the log would work on.
type cleanable struct {
	segs                         []*segment // every segment below firstUncleanable
	nexts                        []int64    // each one's next offset
	firstDirty, firstUncleanable int64
	cleanBytes, dirtyBytes       int64
	ratio                        float64
	must                         bool // max.compaction.lag.ms or a delete horizon passed
}

// cleanableLocked says whether the log needs cleaning now and what the
// cleaning would cover. l.mu is held.
func (l *Log) cleanableLocked(nowMs int64) (cleanable, bool) {
	var c cleanable
	if l.cfg.CleanupPolicy&CleanupCompact == 0 || l.closed.Load() || l.sticky.Load() != nil ||
		l.cleaning || l.cleanPaused > 0 {
		return c, false
	}
	segs := l.segments()
	// Nothing at or past the last stable offset is cleaned (Kafka's
	// cleanableOffsets): an open transaction's outcome is not known yet.
	lso := l.LastStableOffset()
	minLag := l.cfg.MinCompactionLag.Milliseconds()
	end := len(segs) - 1 // the active segment is never cleaned
	for i := range segs[:len(segs)-1] {
		if segs[i+1].base > lso || (minLag > 0 && segs[i].maxTs > nowMs-minLag) {
			end = i
			break
		}
	}
	if end == 0 {
		return c, false
	}
	c.segs = segs[:end]
	c.firstUncleanable = segs[end].base
	logStart := l.logStart.Load()
	c.firstDirty = l.cleanCP.firstDirty
	if c.firstDirty < logStart || c.firstDirty > c.firstUncleanable {
		c.firstDirty = max(logStart, segs[0].base)
	}
	c.nexts = make([]int64, end)
	for i, s := range c.segs {
		c.nexts[i] = s.next
		switch size := s.size.Load(); {
		case segs[i+1].base <= logStart:
		case s.base >= c.firstDirty || segs[i+1].base > c.firstDirty:
			c.dirtyBytes += size
		default:
			c.cleanBytes += size
		}
	}
	if c.dirtyBytes+c.cleanBytes > 0 {
		c.ratio = float64(c.dirtyBytes) / float64(c.dirtyBytes+c.cleanBytes)
	}
	// max.compaction.lag.ms: the first dirty segment's first record waited
	// long enough (Kafka's needCompactionNow).
	if maxLag := l.cfg.MaxCompactionLag.Milliseconds(); maxLag < math.MaxInt64/int64(time.Millisecond) && c.dirtyBytes > 0 {
		for _, s := range c.segs {
			if segNext(segs, s) > c.firstDirty && s.size.Load() > 0 {
				c.must = s.rollTime >= 0 && s.rollTime < nowMs-maxLag
				break
			}
		}
	}
	if h := l.cleanCP.horizon; h >= 0 && nowMs >= h {
		c.must = true
	}
	return c, c.must || (c.dirtyBytes > 0 && c.ratio > l.cfg.MinCleanableRatio)
}

// segNext is the base offset of the segment after s in segs.
func segNext(segs []*segment, s *segment) int64 {
	for i, t := range segs {
		if t == s && i+1 < len(segs) {
			return segs[i+1].base
		}
	}
	return math.MaxInt64
}

// CleanStats is what one cleaning did.
type CleanStats struct {
	BytesRead, BytesWritten  int64
	BatchesRead, BatchesKept int64
	// Records removed: superseded by a later offset of their key,
	// tombstones past their delete horizon, records without a key, records
	// of aborted transactions.
	Superseded, Tombstones, Keyless, Aborted int64
	Segments                                 int // segments rewritten
	EndOffset                                int64
	Duration                                 time.Duration
}

// clean runs one cleaning of the log if it needs one (cleanableLocked).
// om is the calling thread's offset map, reused when it is large enough
// and replaced otherwise; budget bounds its memory. cleaned is false when
// there was nothing to do. An error before the commit point leaves the
// log as it was (the cleaned files removed); an I/O error after it fails
// the log.
func (l *Log) clean(om **offsetMap, budget int64, stop <-chan struct{}) (st CleanStats, cleaned bool, err error) {
	return l.cleanWith(om, cleanerSettings{budget: budget, load: defaultLoadFactor}, stop)
}

// cleanerSettings are the Manager-wide cleaner settings a cleaning uses.
type cleanerSettings struct {
	budget   int64      // offset-map bytes
	load     float64    // offset-map load factor
	throttle *throttler // nil: no I/O limit
}

// cleanWith is clean with the cleaner's settings.
func (l *Log) cleanWith(om **offsetMap, set cleanerSettings, stop <-chan struct{}) (st CleanStats, cleaned bool, err error) {
	budget := set.budget
	defer l.notifyFailure()
	start := time.Now()
	now := l.now()
	nowMs := now.UnixMilli()
	l.mu.Lock()
	c, ok := l.cleanableLocked(nowMs)
	if !ok {
		l.mu.Unlock()
		return st, false, nil
	}
	l.cleaning = true
	l.cleanDone = make(chan struct{})
	l.cleanAbort.Store(false)
	cfg := l.cfg
	lastOfProducer := make(map[int64]int64, len(l.producers.producers))
	for id, e := range l.producers.producers {
		if e.n > 0 {
			lastOfProducer[id] = e.last().lastOffset
		}
	}
	abortedTxns := map[int64][]AbortedTxn{}
	for _, s := range l.segments() {
		for _, a := range s.txn.entries.view() {
			abortedTxns[a.ProducerID] = append(abortedTxns[a.ProducerID], a)
		}
	}
	l.truncMu.RLock()
	for _, s := range c.segs {
		s.pin() // listed under truncMu: not closed
	}
	l.truncMu.RUnlock()
	l.mu.Unlock()
	defer func() {
		for _, s := range c.segs {
			s.unpin()
		}
		l.mu.Lock()
		l.cleaning = false
		close(l.cleanDone)
		l.mu.Unlock()
	}()

	want := c.firstUncleanable - c.firstDirty
	if m := *om; m == nil || uint64(len(m.slots)) < offsetMapSlots(budget, want, set.load) ||
		uint64(len(m.slots)) > 4*offsetMapSlots(budget, want, set.load) {
		*om = newOffsetMap(budget, want, set.load)
	} else {
		m.setLoad(set.load)
		m.clear()
	}
	p := &cleanPass{l: l, om: *om, cfg: &cfg, nowMs: nowMs, stop: stop, throttle: set.throttle, newHorizon: nowMs + cfg.DeleteRetention.Milliseconds(),
		lastOfProducer: lastOfProducer, abortedTxns: abortedTxns, minHorizon: -1, st: &st}
	if cfg.DeleteRetention.Milliseconds() > math.MaxInt64-nowMs {
		p.newHorizon = math.MaxInt64
	}
	end, err := p.buildMap(&c)
	if err != nil {
		return st, false, err
	}
	if err := l.killPoint("map-built"); err != nil {
		return st, false, err
	}
	var toClean []*segment
	var nexts []int64
	for i, s := range c.segs {
		if s.base < end {
			toClean = append(toClean, s)
			nexts = append(nexts, c.nexts[i])
		}
	}
	for _, g := range groupSegments(toClean, nexts, &cfg) {
		if err := p.cleanGroup(g); err != nil {
			return st, false, err
		}
		st.Segments += len(g)
	}
	l.mu.Lock()
	l.cleanCP = cleanerCheckpoint{firstDirty: end, horizon: p.minHorizon}
	cp := l.cleanCP
	l.mu.Unlock()
	if err := writeFileAtomic(l.fs, filepath.Join(l.dir, cleanerCheckpointFile), cp.encode()); err != nil {
		// The segments are swapped; an old checkpoint only makes the next
		// cleaning redo work. Not a reason to fail the log.
		l.logger.Warn().Err(err).Msg("cannot write the cleaner checkpoint")
	}
	if err := l.killPoint("checkpointed"); err != nil {
		return st, false, err
	}
	st.EndOffset = end
	st.Duration = time.Since(start)
	mbps := float64(st.BytesRead) / (1 << 20) / max(st.Duration.Seconds(), 1e-9)
	l.logger.Info().Int64("first_dirty_offset", c.firstDirty).Int64("end_offset", end).Int("segments", st.Segments).
		Int64("bytes_read", st.BytesRead).Int64("bytes_written", st.BytesWritten).
		Int64("removed_superseded", st.Superseded).Int64("removed_tombstones", st.Tombstones).
		Int64("removed_keyless", st.Keyless).Float64("dirty_ratio", c.ratio).
		Dur("duration", st.Duration).Float64("mb_per_s", mbps).Msg("log cleaned")
	if st.Keyless > 0 {
		l.logger.Warn().Int64("records", st.Keyless).
			Msg("records without a key removed by compaction (a compacted topic keeps the latest value per key; keyless records have none)")
	}
	return st, true, nil
}

// killPoint runs the test hook of a cleaning step.
func (l *Log) killPoint(step string) error {
	if l.cleanKill == nil {
		return nil
	}
	if err := l.cleanKill(step); err != nil {
		return fmt.Errorf("%w: killed at %s: %w", errCleaningKilled, step, err)
	}
	return nil
}

// pauseCleaning stops a running cleaning, waits for it to end and keeps new
// ones off until resume is called (Kafka's abortAndPauseCleaning). Call it
// before taking l.mu: the cleaning takes l.mu to finish.
func (l *Log) pauseCleaning() (resume func()) {
	l.mu.Lock()
	l.cleanPaused++
	l.cleanAbort.Store(true)
	var done chan struct{}
	if l.cleaning {
		done = l.cleanDone
	}
	l.mu.Unlock()
	if done != nil {
		<-done
	}
	return func() {
		l.mu.Lock()
		l.cleanPaused--
		l.mu.Unlock()
	}
}

// groupSegments splits segs (ascending, nexts their next offsets) into runs
// that fit one segment: total bytes within segment.bytes, index entries
// within segment.index.bytes, offsets within an int32 of the first base
// (Kafka's groupSegmentsBySize).
func groupSegments(segs []*segment, nexts []int64, cfg *Config) [][]*segment {
	var out [][]*segment
	maxOffsetEntries := int64(cfg.SegmentIndexBytes) / offsetEntrySize
	maxTimeEntries := int64(cfg.SegmentIndexBytes) / timeEntrySize
	for len(segs) > 0 {
		n := 1
		size := segs[0].size.Load()
		oe := int64(segs[0].oi.entries.n.Load())
		te := int64(segs[0].ti.entries.n.Load()) + 1
		for n < len(segs) {
			s := segs[n]
			size += s.size.Load()
			oe += s.oi.entries.n.Load()
			te += s.ti.entries.n.Load()
			if size > cfg.SegmentBytes || size > math.MaxInt32 || oe > maxOffsetEntries || te > maxTimeEntries ||
				nexts[n]-1-segs[0].base > math.MaxInt32 {
				break
			}
			n++
		}
		out = append(out, segs[:n])
		segs, nexts = segs[n:], nexts[n:]
	}
	return out
}

// cleanPass is one cleaning's working state.
type cleanPass struct {
	l              *Log
	stop           <-chan struct{} // the Manager closing
	throttle       *throttler
	om             *offsetMap
	cfg            *Config
	nowMs          int64
	newHorizon     int64           // the delete horizon a batch gets when it first keeps a tombstone
	lastOfProducer map[int64]int64 // producer id -> last offset of its last batch
	// abortedTxns are the aborted transactions of every segment's index
	// when the pass started, by producer id.
	abortedTxns map[int64][]AbortedTxn
	minHorizon  int64 // earliest horizon of a kept tombstone, -1 none
	st          *CleanStats

	buf         []byte // the scanner's read buffer
	plain, recs []byte // decompressed records; re-encoded records
	out         []byte // batches waiting to be written
	keep        []bool
}

// aborted reports whether the cleaning must stop: the log is being
// truncated or closed, or the Manager is.
func (p *cleanPass) aborted() bool {
	if p.l.cleanAbort.Load() {
		return true
	}
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

// scan returns a scanner over s that checks every batch's CRC.
func (p *cleanPass) scan(s *segment) *scanner {
	if p.buf == nil {
		p.buf = make([]byte, 1<<20)
	}
	return &scanner{f: s.log, end: s.size.Load(), buf: p.buf, full: true}
}

// buildMap fills the offset map from the dirty section and returns where
// it ends: firstUncleanable, or the first batch that did not fit.
func (p *cleanPass) buildMap(c *cleanable) (int64, error) {
	end := c.firstDirty
	for i, s := range c.segs {
		upper := c.firstUncleanable
		if i+1 < len(c.segs) {
			upper = c.segs[i+1].base
		}
		if upper <= c.firstDirty {
			continue // cleaned before
		}
		sc := p.scan(s)
		for {
			if p.aborted() {
				return 0, errCleaningAborted
			}
			h, data, _, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return 0, segmentErr(s, fmt.Errorf("cleaner: %w", err))
			}
			p.throttle.wait(h.Size(), p.stop)
			if h.NextOffset() <= c.firstDirty {
				continue
			}
			if h.IsControl() || (h.IsTransactional() && p.abortedBatch(&h)) {
				end = h.NextOffset()
				continue
			}
			if p.om.full(int(h.NumRecords)) {
				if end == c.firstDirty {
					return 0, fmt.Errorf("storage: cleaner: log.cleaner.dedupe.buffer.size holds %d keys, fewer than the %d records of the batch at offset %d",
						p.om.limit, h.NumRecords, h.BaseOffset)
				}
				return end, nil
			}
			plain, err := protocol.DecodeRecords(data, p.plain[:0], 0)
			if err != nil {
				return 0, segmentErr(s, fmt.Errorf("cleaner: batch at offset %d: %w", h.BaseOffset, err))
			}
			if h.Compression() != protocol.CompressionNone {
				p.plain = plain
			}
			it := protocol.NewRecordIter(plain, h.NumRecords)
			var r protocol.Record
			for it.Next(&r) {
				if r.Key != nil {
					p.om.put(r.Key, h.BaseOffset+int64(r.OffsetDelta))
				}
			}
			if err := it.Err(); err != nil {
				return 0, segmentErr(s, fmt.Errorf("cleaner: batch at offset %d: %w", h.BaseOffset, err))
			}
			end = h.NextOffset()
		}
	}
	return c.firstUncleanable, nil
}

// cleanGroup rewrites one group of segments into a cleaned segment and
// swaps it in.
func (p *cleanPass) cleanGroup(group []*segment) (err error) {
	l := p.l
	cs, err := createCleanedSegment(l.fs, l.dir, group[0].base, p.cfg)
	if err != nil {
		return fmt.Errorf("storage: cleaner: create %s: %w", cleanedPath(l.dir, group[0].base, logSuffix), err)
	}
	committed := false
	defer func() {
		switch {
		case errors.Is(err, errCleaningKilled):
			cs.close() // as a kill would: the files stay
		case committed:
			// Swapped in (err nil), or the log failed after the commit
			// point: the files stay for recovery to complete the swap.
			if err != nil {
				cs.close()
			}
		default:
			cs.close()
			for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
				for _, tail := range []string{cleanedSuffix, swapSuffix} {
					_ = l.fs.Remove(offsetFileName(l.dir, cs.base, suf) + tail)
				}
			}
		}
	}()
	interval := int64(p.cfg.IndexIntervalBytes)
	var pos int64
	flush := func() error {
		if len(p.out) == 0 {
			return nil
		}
		if _, err := cs.log.WriteAt(p.out, pos); err != nil {
			return err
		}
		pos += int64(len(p.out))
		p.out = p.out[:0]
		return nil
	}
	var last batchInfo // the group's last batch
	lastKept := false
	add := func(wh *batchInfo, at int64) {
		p.st.BatchesKept++
		p.st.BytesWritten += wh.Size()
		cs.addCleaned(wh, at, interval)
	}
	for _, s := range group {
		sc := p.scan(s)
		for {
			if p.aborted() {
				return errCleaningAborted
			}
			h, data, _, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return segmentErr(s, fmt.Errorf("cleaner: %w", err))
			}
			p.st.BatchesRead++
			p.st.BytesRead += h.Size()
			at := pos + int64(len(p.out))
			var wrote bool
			var wh batchInfo
			p.out, wrote, wh, err = p.filter(p.out, data, &h)
			if err != nil {
				return segmentErr(s, fmt.Errorf("cleaner: batch at offset %d: %w", h.BaseOffset, err))
			}
			last, lastKept = h, wrote
			if !wrote {
				p.throttle.wait(h.Size(), p.stop)
				continue
			}
			p.throttle.wait(h.Size()+wh.Size(), p.stop)
			add(&wh, at)
			if len(p.out) >= 1<<20 {
				if err := flush(); err != nil {
					return fmt.Errorf("storage: cleaner: write %s: %w", cleanedPath(l.dir, cs.base, logSuffix), err)
				}
			}
		}
	}
	if !lastKept && last.Magic == 2 {
		// The cleaned segment ends where the group did, with the group's
		// last batch emptied if nothing of it stays: recovery of an
		// interrupted swap reads the range it replaces from it.
		eh := last
		eh.Attributes &^= protocol.AttrCompressionMask
		at := pos + int64(len(p.out))
		var wh batchInfo
		if p.out, wh, err = protocol.AppendBatch(p.out, &eh, protocol.CompressionNone, 0, nil, 0); err != nil {
			return err
		}
		add(&wh, at)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("storage: cleaner: write %s: %w", cleanedPath(l.dir, cs.base, logSuffix), err)
	}
	cs.size.Store(pos)
	cs.ti.maybeAdd(cs.maxTs, cs.maxTsOffset, true) // the final entry, as on roll
	if err := cs.oi.rewrite(); err != nil {
		return fmt.Errorf("storage: cleaner: write %s: %w", cleanedPath(l.dir, cs.base, indexSuffix), err)
	}
	if err := cs.ti.rewrite(); err != nil {
		return fmt.Errorf("storage: cleaner: write %s: %w", cleanedPath(l.dir, cs.base, timeIndexSuffix), err)
	}
	// The transactional batches are all kept, and so are the aborted
	// transactions of the group's transaction indexes (Kafka's cleaner
	// copies them to the cleaned segment's).
	for _, s := range group {
		for _, a := range s.txn.entries.view() {
			cs.txn.entries.add(a)
		}
	}
	if len(cs.txn.entries.view()) > 0 {
		if err := cs.writeCleanedTxnIndex(l.fs); err != nil {
			return fmt.Errorf("storage: cleaner: write %s: %w", cleanedPath(l.dir, cs.base, txnIndexSuffix), err)
		}
	}
	if err := cs.sync(); err != nil {
		return fmt.Errorf("storage: cleaner: fsync %s: %w", cleanedPath(l.dir, cs.base, logSuffix), err)
	}
	if err := l.killPoint("cleaned-written"); err != nil {
		return err
	}
	return l.swapIn(group, cs, &committed)
}

// swapIn replaces group by cs in the log (see the file comment for the
// order of renames). committed is set once the cleaned files may no longer
// be removed by the caller.
func (l *Log) swapIn(group []*segment, cs *segment, committed *bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cleanAbort.Load() || l.closed.Load() || l.sticky.Load() != nil {
		return errCleaningAborted
	}
	segs := l.segments()
	at := -1
	for i, s := range segs {
		if s == group[0] {
			at = i
			break
		}
	}
	if at < 0 || at+len(group) >= len(segs) {
		return errCleaningAborted
	}
	for i, s := range group {
		if segs[at+i] != s {
			return errCleaningAborted
		}
	}
	rename := func(from, to string) error { return l.fs.Rename(from, to) }
	// To .swap, the log last: its rename is the commit point.
	for _, suf := range cs.cleanedSuffixes() {
		p := offsetFileName(l.dir, cs.base, suf)
		if err := rename(p+cleanedSuffix, p+swapSuffix); err != nil {
			return fmt.Errorf("storage: cleaner: rename %s: %w", p+cleanedSuffix, err)
		}
	}
	*committed = true
	if err := syncDir(l.fs, l.dir); err != nil {
		return l.fail("clean swap", err)
	}
	if err := l.killPoint("swap-committed"); err != nil {
		return err
	}
	var deleted []string
	for _, s := range group {
		for _, p := range s.paths() {
			if err := rename(p, p+deletedSuffix); err != nil {
				if errors.Is(err, os.ErrNotExist) && !strings.HasSuffix(p, logSuffix) {
					continue // an index the segment never had on disk
				}
				return l.fail("clean swap", err)
			}
			deleted = append(deleted, p+deletedSuffix)
		}
	}
	if err := l.killPoint("old-renamed"); err != nil {
		return err
	}
	for _, suf := range cs.cleanedSuffixes() {
		p := offsetFileName(l.dir, cs.base, suf)
		if err := rename(p+swapSuffix, p); err != nil {
			return l.fail("clean swap", err)
		}
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return l.fail("clean swap", err)
	}
	if err := l.killPoint("swapped"); err != nil {
		return err
	}
	next := make([]*segment, 0, len(segs)-len(group)+1)
	next = append(next, segs[:at]...)
	next = append(next, cs)
	next = append(next, segs[at+len(group):]...)
	l.truncMu.Lock()
	l.segs.Store(&next)
	l.truncMu.Unlock()
	for _, s := range group {
		s.close() // the log file closes when the last pin (the cleaner's) goes
	}
	if err := l.killPoint("published"); err != nil {
		return err
	}
	if l.cfg.FileDeleteDelay < 0 {
		for _, p := range deleted {
			_ = l.fs.Remove(p)
		}
	} else {
		l.pending = append(l.pending, pendingDelete{paths: deleted, deadline: l.now().Add(l.cfg.FileDeleteDelay)})
	}
	return nil
}

// filter appends to out what the cleaning keeps of the whole batch b
// (header h) and returns the header as written; wrote is false when the
// batch goes entirely.
func (p *cleanPass) filter(out, b []byte, h *batchInfo) (_ []byte, wrote bool, _ batchInfo, _ error) {
	if h.IsControl() {
		return append(out, b...), true, *h, nil
	}
	aborted := h.IsTransactional() && p.abortedBatch(h)
	plain, err := protocol.DecodeRecords(b, p.plain[:0], 0)
	if err != nil {
		return out, false, *h, err
	}
	if h.Compression() != protocol.CompressionNone {
		p.plain = plain
	}
	horizonPassed := h.HasDeleteHorizon() && p.nowMs >= h.DeleteHorizonMs()
	p.keep = p.keep[:0]
	kept := 0
	keptTombstone := false
	maxTs := int64(-1)
	it := protocol.NewRecordIter(plain, h.NumRecords)
	var r protocol.Record
	for it.Next(&r) {
		keep := true
		switch off := h.BaseOffset + int64(r.OffsetDelta); {
		case aborted:
			p.st.Aborted++
			keep = false
		case r.Key == nil:
			p.st.Keyless++
			keep = false
		case p.om.get(r.Key) > off:
			p.st.Superseded++
			keep = false
		case r.Value == nil && horizonPassed:
			p.st.Tombstones++
			keep = false
		}
		p.keep = append(p.keep, keep)
		if keep {
			kept++
			keptTombstone = keptTombstone || r.Value == nil
			maxTs = max(maxTs, h.RecordTimestamp(&r))
		}
	}
	if err := it.Err(); err != nil {
		return out, false, *h, err
	}
	last, active := p.lastOfProducer[h.ProducerID]
	if kept == 0 && !(active && last == h.LastOffset()) {
		return out, false, *h, nil // nothing left, and no producer state to keep
	}
	if keptTombstone && h.HasDeleteHorizon() {
		p.noteHorizon(h.DeleteHorizonMs())
	}
	if kept == len(p.keep) && (!keptTombstone || h.HasDeleteHorizon()) {
		return append(out, b...), true, *h, nil // unchanged
	}
	nh := *h
	oldBase := h.BaseTimestamp
	if keptTombstone && !h.HasDeleteHorizon() {
		nh.BaseTimestamp = p.newHorizon
		nh.Attributes |= protocol.AttrDeleteHorizon
		p.noteHorizon(p.newHorizon)
	}
	if !h.LogAppendTime() && kept > 0 {
		nh.MaxTimestamp = maxTs
	}
	p.recs = p.recs[:0]
	it = protocol.NewRecordIter(plain, h.NumRecords)
	for i := 0; it.Next(&r); i++ {
		if !p.keep[i] {
			continue
		}
		r.TimestampDelta = oldBase + r.TimestampDelta - nh.BaseTimestamp
		p.recs = protocol.AppendRecord(p.recs, &r)
	}
	codec := h.Compression()
	if kept == 0 {
		codec = protocol.CompressionNone
	}
	out, wh, err := protocol.AppendBatch(out, &nh, codec, defaultLevel(codec), p.recs, int32(kept))
	if err != nil {
		return out, false, *h, err
	}
	return out, true, wh, nil
}

func (p *cleanPass) noteHorizon(h int64) {
	if p.minHorizon < 0 || h < p.minHorizon {
		p.minHorizon = h
	}
}

// defaultLevel is Kafka's default level of codec.
func defaultLevel(codec int8) int {
	switch codec {
	case protocol.CompressionGzip:
		return protocol.GzipDefaultLevel
	case protocol.CompressionLZ4:
		return protocol.LZ4DefaultLevel
	case protocol.CompressionZstd:
		return protocol.ZstdDefaultLevel
	}
	return 0
}

func cleanedPath(dir string, base int64, suffix string) string {
	return offsetFileName(dir, base, suffix) + cleanedSuffix
}

// createCleanedSegment creates the ".cleaned" files of a segment at base.
func createCleanedSegment(fsys FS, dir string, base int64, cfg *Config) (*segment, error) {
	s := &segment{base: base, dir: dir, next: base, maxTs: -1, maxTsOffset: base, rollTime: -1}
	flag := os.O_RDWR | os.O_CREATE | os.O_TRUNC
	var err error
	for i, f := range []*File{&s.log, &s.oi.f, &s.ti.f} {
		suf := []string{logSuffix, indexSuffix, timeIndexSuffix}[i]
		if *f, err = fsys.OpenFile(cleanedPath(dir, base, suf), flag, 0o644); err != nil {
			s.close()
			return nil, err
		}
	}
	s.oi.base, s.ti.base = base, base
	s.txn.path = offsetFileName(dir, base, txnIndexSuffix) // its name once swapped in
	s.setIndexLimits(cfg)
	return s, nil
}

// cleanedSuffixes are the files of a cleaned segment in the order they
// are renamed, the log last.
func (s *segment) cleanedSuffixes() []string {
	if s.txn.f != nil {
		return []string{indexSuffix, timeIndexSuffix, txnIndexSuffix, logSuffix}
	}
	return []string{indexSuffix, timeIndexSuffix, logSuffix}
}

// writeCleanedTxnIndex writes a cleaned segment's transaction index to
// its ".cleaned" file.
func (s *segment) writeCleanedTxnIndex(fsys FS) error {
	f, err := fsys.OpenFile(cleanedPath(s.dir, s.base, txnIndexSuffix), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	s.txn.f = f
	return s.txn.rewrite(fsys)
}

// addCleaned takes a batch written at pos into the cleaned segment's
// state and in-memory indexes, as scan does for a batch it reads.
func (s *segment) addCleaned(h *batchInfo, pos, indexInterval int64) {
	if s.rollTime < 0 {
		s.rollTime = h.MaxTimestamp
	}
	if h.MaxTimestamp > s.maxTs {
		s.maxTs, s.maxTsOffset = h.MaxTimestamp, h.LastOffset()
	}
	if s.bytesSinceIndex > indexInterval {
		s.oi.add(h.LastOffset(), pos)
		s.ti.maybeAdd(s.maxTs, s.maxTsOffset, false)
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += h.Size()
	s.next = h.NextOffset()
}

// CleanedUpTo is where the log's dirty section starts: every record below
// it has been through a cleaning (the cleaner checkpoint; the log start
// offset when nothing was cleaned yet).
func (l *Log) CleanedUpTo() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(l.cleanCP.firstDirty, l.logStart.Load())
}

// ActiveSegmentBase is the base offset of the segment appends go to.
func (l *Log) ActiveSegmentBase() int64 { return l.active().base }

// abortedBatch reports whether the transactional batch h belongs to an
// aborted transaction: one of its producer's aborted transactions spans
// its offset.
func (p *cleanPass) abortedBatch(h *batchInfo) bool {
	for _, a := range p.abortedTxns[h.ProducerID] {
		if a.FirstOffset <= h.BaseOffset && h.BaseOffset <= a.LastOffset {
			return true
		}
	}
	return false
}
