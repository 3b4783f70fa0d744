package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Open opens (or creates) the partition log in dir, recovering it when the
// previous shutdown was unclean (no clean-shutdown marker): the tail past the
// recovery point is scanned, the log is truncated at the first invalid batch
// (the number of bytes cut is logged), and missing or corrupt indexes are
// rebuilt. topicID is written to partition.metadata.
//
// A log that Open cannot open is offline, not gone. Every failure — a file
// that does not open or read (EMFILE, EACCES, EIO), an unparsable
// samsa-checkpoint, leader-epoch-checkpoint or partition.metadata, a producer
// snapshot that is not samsa's, a corrupt batch in data that was flushed or
// met while rebuilding producer state — returns an error wrapping ErrStorage
// that names the file and the cause. Open reads and checks everything before
// it writes anything, so a refused log is left as it was on disk: nothing
// truncated, removed or rewritten, the clean-shutdown marker kept; a later
// Open that can read it serves it again. ErrTopicIDMismatch is returned as
// it is.
func Open(dir string, topicID [16]byte, cfg Config, opts Options) (*Log, error) {
	l := &Log{
		dir:       dir,
		topicID:   topicID,
		fs:        opts.FS,
		logger:    opts.Logger,
		now:       opts.Now,
		cfg:       cfg.withDefaults(),
		producers: newProducerState(),
		cacheHot:  max(opts.CacheHotBytes, 0),
		trimmer:   opts.trimmer,
		onFailure: opts.OnFailure,
		onFlush:   opts.FlushObserver,
		durable:   opts.Durable,
	}
	l.dirName.Store(&dir)
	if l.cacheHot == 0 {
		l.trimmer = nil
	}
	if l.fs == nil {
		l.fs = OSFS{}
	}
	if l.now == nil {
		l.now = time.Now
	}
	var opened []*segment
	if err := l.load(&opened); err != nil {
		for _, s := range opened {
			s.close()
		}
		if errors.Is(err, ErrTopicIDMismatch) {
			return nil, fmt.Errorf("storage: open %s: %w", dir, err)
		}
		return nil, fmt.Errorf("%w: open %s: %w", ErrStorage, dir, err)
	}
	return l, nil
}

// loadPlan is what the reading half of load decided the writing half does.
type loadPlan struct {
	swaps     []swapPlan // interrupted cleanings to complete
	clean     bool       // the clean-shutdown marker is there: remove it
	writeMeta bool       // partition.metadata is missing
	leftovers []string   // files of interrupted operations
	stale     []string   // producer snapshots above the log end offset, or corrupt
	rebuilt   []rebuilt  // segments scanned whole: cut, indexes rewritten, fsynced
	dropped   []*segment
	emptyBase int64 // base offset of the segment an empty directory gets
}

// swapPlan is an interrupted cleaning that reached its commit point: the
// "<base>.log.swap" file replaces the segments in [base, end).
type swapPlan struct {
	s        *segment // opened on the .swap log file, scanned
	end      int64
	replaced []int64 // base offsets of the segments it replaces
}

// rebuilt is a segment that scan rebuilt in memory.
type rebuilt struct {
	s        *segment
	fileSize int64 // the log file is cut to s.size when larger
	reason   error // why the valid batches end before fileSize
	// recovered: at or after the recovery point, scanned because the
	// shutdown was not clean. Outside durable mode what recovery writes to
	// it is not fsynced: the recovery point does not move past it, so a
	// crash rescans it.
	recovered bool
}

// load reads the directory and decides whether the log opens, writing
// nothing; then, once it does, it writes what recovery found (applyLoad).
// opened collects the segments whose files it opened.
func (l *Log) load(opened *[]*segment) error {
	if err := l.fs.MkdirAll(l.dir, 0o755); err != nil {
		return err
	}
	var p loadPlan
	var err error
	if p.writeMeta, err = l.readPartitionMetadata(); err != nil {
		return err
	}
	p.clean = exists(l.fs, filepath.Join(l.dir, cleanShutdownFile))
	cp, haveCP, err := readLogCheckpoint(l.fs, l.dir)
	if err != nil {
		return err
	}
	if !haveCP {
		p.clean = false // a marker without a checkpoint is not trustworthy
	}
	if l.epochs, err = loadLeaderEpochCache(l.fs, l.dir); err != nil {
		return err
	}
	l.epochs.hold = true
	if l.cleanCP, err = readCleanerCheckpoint(l.fs, l.dir); err != nil {
		return err
	}
	bases, swapBases, leftovers, err := l.scanDir()
	if err != nil {
		return err
	}
	p.leftovers = leftovers
	interval := int64(l.cfg.IndexIntervalBytes)
	swapped := map[int64]*segment{}
	if p.swaps, bases, err = l.planSwaps(bases, swapBases, opened); err != nil {
		return err
	}
	for _, sw := range p.swaps {
		swapped[sw.s.base] = sw.s
	}
	segs := make([]*segment, 0, len(bases))
	for _, b := range bases {
		if s := swapped[b]; s != nil {
			segs = append(segs, s)
			continue
		}
		s, err := openSegment(l.fs, l.dir, b, &l.cfg, false)
		if err != nil {
			return err
		}
		*opened = append(*opened, s)
		segs = append(segs, s)
	}

	// Segments from the one holding the recovery point on are recovered after
	// an unclean shutdown; the others (and all after a clean one) are loaded,
	// and their indexes rebuilt only when one is missing or fails its sanity
	// check. Their data was flushed: an invalid batch there is not a torn
	// tail, and the log does not open.
	recoverFrom := len(segs)
	if !p.clean {
		recoverFrom = sort.Search(len(segs), func(i int) bool { return segs[i].base > cp.recoveryPoint }) - 1
		recoverFrom = max(recoverFrom, 0)
	}
	for _, s := range segs[:recoverFrom] {
		if swapped[s.base] == s {
			// Scanned by planSwaps; its indexes are written anew.
			p.rebuilt = append(p.rebuilt, rebuilt{s: s, fileSize: s.size.Load()})
			continue
		}
		err := l.loadSegment(s)
		if err == nil {
			continue
		}
		if !isDataError(err) && !errors.Is(err, errCorruptIndex) {
			return segmentErr(s, err)
		}
		l.logger.Warn().Err(err).Int64("base_offset", s.base).Msg("rebuilding segment indexes")
		fileSize, reason, err := s.scan(interval, nil)
		if err != nil {
			return segmentErr(s, err)
		}
		if reason != nil {
			return segmentErr(s, fmt.Errorf("invalid batch at position %d of %d, below the recovery point %d: %w",
				s.size.Load(), fileSize, cp.recoveryPoint, reason))
		}
		p.rebuilt = append(p.rebuilt, rebuilt{s: s, fileSize: fileSize})
	}
	if recoverFrom < len(segs) {
		if err := l.epochs.truncateFromEnd(segs[recoverFrom].base); err != nil {
			return err
		}
		assign := func(h *batchInfo) {
			if h.PartitionLeaderEpoch >= 0 && h.PartitionLeaderEpoch > l.epochs.latestEpoch() {
				_ = l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset) // held: cannot fail
			}
		}
		for i := recoverFrom; i < len(segs); i++ {
			s := segs[i]
			fileSize, reason, err := s.scan(interval, assign)
			if err != nil {
				return segmentErr(s, err)
			}
			p.rebuilt = append(p.rebuilt, rebuilt{s: s, fileSize: fileSize, reason: reason, recovered: true})
			if s.size.Load() < fileSize && i+1 < len(segs) {
				// Nothing after a torn or corrupt batch can be trusted.
				p.dropped = segs[i+1:]
				segs = segs[:i+1]
				break
			}
		}
	}

	var leo, logStart int64
	if len(segs) == 0 {
		p.emptyBase = max(cp.logStartOffset, 0)
		leo, logStart = p.emptyBase, p.emptyBase
	} else {
		leo = segs[len(segs)-1].next
		logStart = min(max(cp.logStartOffset, segs[0].base), leo)
	}
	l.segs.Store(&segs)
	if l.cleanCP.firstDirty > leo {
		l.cleanCP.firstDirty = -1 // a checkpoint from past a truncation
	}
	if err := l.epochs.truncateFromEnd(leo); err != nil {
		return err
	}
	if err := l.epochs.truncateFromStart(logStart); err != nil {
		return err
	}
	// The transaction indexes of the segments scanned are rebuilt by the
	// producer-state replay, which then starts at or below the first.
	for _, r := range p.rebuilt {
		r.s.txn.rebuild = true
		r.s.txn.entries.truncate(0)
	}
	if p.stale, err = l.reloadProducerState(leo); err != nil {
		return err
	}

	// The log opens: write what was found.
	if err := l.applyLoad(&p, opened); err != nil {
		return err
	}
	l.leo.Store(leo)
	l.logStart.Store(logStart)
	l.hw.Store(min(max(cp.highWatermark, logStart), leo))
	// As Kafka's LogLoader: the recovery point moves only when the log is
	// flushed. After a clean shutdown it is the log end already; after a
	// crash it stays where the checkpoint put it (cut to the log end), and
	// a crash before the next flush scans the recovered segments again. In
	// durable mode, where the high watermark never passes the recovery
	// point, applyLoad fsynced the recovered segments and it is the log end.
	rp := leo
	if !p.clean && !l.durable {
		rp = min(max(cp.recoveryPoint, 0), leo)
	}
	l.recoveryPoint.Store(rp)
	l.lastFlushMs.Store(l.now().UnixMilli())
	// A checkpoint that already says so (a clean shutdown's, mostly) is not
	// written again.
	if now := l.checkpoint(); !haveCP || now != cp {
		if err := writeFileAtomic(l.fs, filepath.Join(l.dir, checkpointFile), now.encode()); err != nil {
			return err
		}
	}
	l.logger.Debug().Bool("clean", p.clean).Int64("log_start_offset", logStart).Int64("log_end_offset", leo).
		Int("segments", len(l.segments())).Msg("log loaded")
	return nil
}

// applyLoad is the writing half of load: segments after a cut one go, torn
// tails are cut, rebuilt indexes written and fsynced, leftovers and stale
// snapshots removed, the clean-shutdown marker removed (durably: a crash
// after new appends must recover them).
func (l *Log) applyLoad(p *loadPlan, opened *[]*segment) error {
	if err := l.completeSwaps(p.swaps); err != nil {
		return err
	}
	for _, s := range p.dropped {
		l.logger.Warn().Int64("base_offset", s.base).Int64("bytes", s.size.Load()).
			Msg("deleting segment after truncation")
		s.close()
		for _, path := range s.paths() {
			if err := l.fs.Rename(path, path+deletedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			_ = l.fs.Remove(path + deletedSuffix) // a leftover is removed by the next Open
		}
	}
	for _, r := range p.rebuilt {
		if cut := r.fileSize - r.s.size.Load(); cut > 0 {
			ev := l.logger.Warn().Int64("base_offset", r.s.base).Int64("valid_bytes", r.s.size.Load()).
				Int64("truncated_bytes", cut).Int64("next_offset", r.s.next)
			if r.reason != nil {
				ev = ev.Str("reason", r.reason.Error())
			}
			ev.Msg("truncated invalid bytes at the end of segment")
		}
		if err := r.s.createIndexes(l.fs); err != nil {
			return segmentErr(r.s, err)
		}
		if err := r.s.applyScan(r.fileSize); err != nil {
			return segmentErr(r.s, err)
		}
		if r.s.txn.rebuild {
			if err := r.s.txn.rewrite(l.fs); err != nil {
				return segmentErr(r.s, err)
			}
			r.s.txn.rebuild = false
		}
	}
	segs := l.segments()
	if len(segs) == 0 {
		s, err := openSegment(l.fs, l.dir, p.emptyBase, &l.cfg, true)
		if err != nil {
			return err
		}
		*opened = append(*opened, s)
		segs = []*segment{s}
		l.segs.Store(&segs)
	}
	// Inactive segments end with their max timestamp in the time index
	// (rebuilt ones do not yet).
	for _, s := range segs[:len(segs)-1] {
		if err := s.onBecomeInactive(); err != nil {
			return segmentErr(s, err)
		}
	}
	for _, r := range p.rebuilt {
		if r.recovered && !l.durable {
			continue
		}
		if err := r.s.sync(); err != nil {
			return segmentErr(r.s, err)
		}
	}
	if err := l.epochs.release(); err != nil {
		return err
	}
	for _, path := range p.leftovers {
		if strings.HasSuffix(path, cleanedSuffix) || strings.HasSuffix(path, swapSuffix) {
			l.logger.Info().Str("file", path).Msg("removing the file of a cleaning interrupted before its commit point")
		}
		if err := l.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.logger.Warn().Err(err).Str("file", path).Msg("leftover file not removed")
		}
	}
	if len(p.stale) > 0 {
		l.logger.Info().Strs("files", p.stale).Msg("removing producer snapshots past the log end or corrupt")
		if err := removeSnapshots(l.fs, p.stale); err != nil {
			return err
		}
	}
	if p.clean {
		if err := l.fs.Remove(filepath.Join(l.dir, cleanShutdownFile)); err != nil {
			return err
		}
		if err := syncDir(l.fs, l.dir); err != nil {
			return err
		}
	}
	if p.writeMeta {
		return writeFileAtomic(l.fs, filepath.Join(l.dir, partitionMetadataFile), encodePartitionMetadata(l.topicID))
	}
	return nil
}

// segmentErr names the segment's log file in err.
func segmentErr(s *segment, err error) error {
	return fmt.Errorf("%s: %w", offsetFileName(s.dir, s.base, logSuffix), err)
}

// readPartitionMetadata checks partition.metadata against the topic id and
// reports whether it must be written (it is missing).
func (l *Log) readPartitionMetadata() (write bool, err error) {
	p := filepath.Join(l.dir, partitionMetadataFile)
	b, err := readFile(l.fs, p)
	if errors.Is(err, os.ErrNotExist) {
		return l.topicID != [16]byte{}, nil
	}
	if err != nil {
		return false, err
	}
	id, err := parsePartitionMetadata(b)
	if err != nil {
		return false, fmt.Errorf("%s: %w", p, err)
	}
	if l.topicID != [16]byte{} && id != l.topicID {
		return false, fmt.Errorf("%w: partition.metadata holds topic id %x, expected %x", ErrTopicIDMismatch, id, l.topicID)
	}
	l.topicID = id
	return false, nil
}

// scanDir returns the base offsets of the segments, ascending, those of
// the log ".swap" files (cleanings past their commit point) and the
// leftovers of interrupted operations (removed once the log opens). Index
// ".swap" files are completed with their log's and are not leftovers
// then.
func (l *Log) scanDir() (bases, swaps []int64, leftovers []string, err error) {
	ents, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, nil, nil, err
	}
	logs := map[int64]bool{}
	logSwaps := map[int64]bool{}
	for _, e := range ents {
		if b, ok := parseOffsetFileName(e.Name(), logSuffix); ok && !e.IsDir() {
			logs[b] = true
			bases = append(bases, b)
		}
		if b, ok := parseOffsetFileName(e.Name(), logSuffix+swapSuffix); ok && !e.IsDir() {
			logSwaps[b] = true
			swaps = append(swaps, b)
		}
	}
	for _, e := range ents {
		name := e.Name()
		full := filepath.Join(l.dir, name)
		switch {
		case strings.HasSuffix(name, swapSuffix):
			b, ok := parseOffsetFileName(name, logSuffix+swapSuffix)
			for _, suf := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
				if !ok {
					b, ok = parseOffsetFileName(name, suf+swapSuffix)
				}
			}
			if !ok || !logSwaps[b] {
				leftovers = append(leftovers, full)
			}
		case strings.HasSuffix(name, deletedSuffix), strings.HasSuffix(name, cleanedSuffix),
			strings.HasSuffix(name, tmpSuffix):
			leftovers = append(leftovers, full)
		default:
			for _, suf := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
				if b, ok := parseOffsetFileName(name, suf); ok && !logs[b] && !logSwaps[b] {
					leftovers = append(leftovers, full)
				}
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	sort.Slice(swaps, func(i, j int) bool { return swaps[i] < swaps[j] })
	return bases, swaps, leftovers, nil
}

// planSwaps reads the log ".swap" files of cleanings interrupted after
// their commit point (log_compaction.go) and returns what completing them
// does, and the segment bases with the replaced ones taken out and the
// swapped ones in. A swap file was fsynced before it got its name: one
// that does not read as whole valid batches is not guessed about, the log
// does not open. It writes nothing.
func (l *Log) planSwaps(bases, swapBases []int64, opened *[]*segment) ([]swapPlan, []int64, error) {
	if len(swapBases) == 0 {
		return nil, bases, nil
	}
	var plans []swapPlan
	gone := map[int64]bool{}
	for _, b := range swapBases {
		path := offsetFileName(l.dir, b, logSuffix) + swapSuffix
		s := &segment{base: b, dir: l.dir, next: b, maxTs: -1, maxTsOffset: b, rollTime: -1}
		s.txn.path = offsetFileName(l.dir, b, txnIndexSuffix) // rebuilt by load
		f, err := l.fs.OpenFile(path, os.O_RDWR, 0o644)
		if err != nil {
			return nil, nil, err
		}
		s.log = f
		s.oi.base, s.ti.base = b, b
		s.setIndexLimits(&l.cfg)
		*opened = append(*opened, s)
		fileSize, reason, err := s.scan(int64(l.cfg.IndexIntervalBytes), nil)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if reason != nil {
			return nil, nil, fmt.Errorf("%s: invalid batch at position %d of %d in the file of a committed cleaning: %w",
				path, s.size.Load(), fileSize, reason)
		}
		sw := swapPlan{s: s, end: max(s.next, b+1)}
		for _, o := range bases {
			if o >= b && o < sw.end {
				sw.replaced = append(sw.replaced, o)
				gone[o] = true
			}
		}
		plans = append(plans, sw)
	}
	out := make([]int64, 0, len(bases)+len(plans))
	for _, o := range bases {
		if !gone[o] {
			out = append(out, o)
		}
	}
	for _, sw := range plans {
		out = append(out, sw.s.base)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return plans, out, nil
}

// completeSwaps finishes the swaps planSwaps found, as the cleaner would
// have: the replaced segments' files go, the swap's index files too (its
// indexes are rebuilt), and the log swap file takes its segment's name,
// last, so that a crash in between finds it again.
func (l *Log) completeSwaps(swaps []swapPlan) error {
	for _, sw := range swaps {
		b := sw.s.base
		for _, o := range sw.replaced {
			for _, suf := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix, logSuffix} {
				if o == b && suf == logSuffix {
					continue // the rename below replaces it
				}
				if err := l.fs.Remove(offsetFileName(l.dir, o, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
		}
		for _, suf := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			if err := l.fs.Remove(offsetFileName(l.dir, b, suf) + swapSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		final := offsetFileName(l.dir, b, logSuffix)
		if err := l.fs.Rename(final+swapSuffix, final); err != nil {
			return err
		}
		if err := syncDir(l.fs, l.dir); err != nil {
			return err
		}
		l.logger.Warn().Int64("base_offset", b).Int64("end_offset", sw.end).Int("replaced_segments", len(sw.replaced)).
			Msg("completed a cleaning interrupted after its commit point")
	}
	return nil
}

// loadSegment trusts the data of a segment and loads its indexes, returning
// errCorruptIndex when one is missing or fails its sanity check (Kafka's
// sanityCheck, plus the checks that catch a lost file: a batch past
// index.interval.bytes without an offset-index entry, or a max timestamp the
// time index lacks — segments always end with one, written on roll and on
// close).
func (l *Log) loadSegment(s *segment) error {
	if s.oi.f == nil || s.ti.f == nil {
		return errCorruptIndex
	}
	if err := s.oi.load(s.size.Load()); err != nil {
		return err
	}
	if err := s.loadTail(int64(l.cfg.IndexIntervalBytes)); err != nil {
		return err
	}
	if err := s.ti.load(s.next - 1); err != nil {
		return err
	}
	last, ok := s.ti.last()
	if s.maxTs >= 0 && (!ok || last.ts < s.maxTs) {
		return errCorruptIndex
	}
	if ok {
		s.maxTs, s.maxTsOffset = last.ts, s.base+int64(last.rel)
	}
	if err := s.txn.load(); err != nil {
		return err
	}
	if es := s.txn.entries.view(); len(es) > 0 && es[len(es)-1].LastOffset >= s.next {
		return errCorruptIndex // a marker the segment does not hold
	}
	return nil
}

// reloadProducerState loads the newest snapshot at or below upTo and replays
// the batches after it (Kafka's loadProducerState / truncateAndReload). It
// returns the snapshots to remove (loadLatestSnapshot) and removes none.
//
// Segments whose transaction index is to be rebuilt (txn.rebuild) get the
// aborted transactions of their ABORT markers; the replay then starts from
// a snapshot at or below the first of them, so that the transactions open
// at its start are known (Kafka rebuilds producer state up to a segment
// before recovering it).
func (l *Log) reloadProducerState(upTo int64) (stale []string, err error) {
	p, snapOff, stale, err := loadLatestSnapshot(l.fs, l.dir, upTo)
	if err != nil {
		return nil, err
	}
	for _, s := range l.segments() {
		if !s.txn.rebuild {
			continue
		}
		if snapOff > s.base {
			if p, snapOff, _, err = loadLatestSnapshot(l.fs, l.dir, s.base); err != nil {
				return nil, err
			}
		}
		break
	}
	from := max(snapOff, 0)
	var ctl [controlBatchMax]byte
	nowMs := l.now().UnixMilli()
	replayed := 0
	for _, s := range l.segments() {
		size := s.size.Load()
		if s.next <= from || size == 0 {
			continue
		}
		sc := getScanner(s.log, s.oi.lookup(from), size)
		for {
			h, _, _, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				at := sc.pos // where the batch it could not read starts
				putScanner(sc)
				return nil, segmentErr(s, fmt.Errorf("rebuilding producer state: batch at position %d: %w", at, err))
			}
			if h.BaseOffset < from || h.BaseOffset >= upTo {
				continue
			}
			if h.IsControl() {
				if err := l.replayControl(p, s, &h, sc.pos-h.Size(), ctl[:], nowMs); err != nil {
					putScanner(sc)
					return nil, segmentErr(s, fmt.Errorf("rebuilding producer state: batch at offset %d: %w", h.BaseOffset, err))
				}
				replayed++
				continue
			}
			appendTime := int64(-1)
			if h.LogAppendTime() {
				appendTime = h.MaxTimestamp
			}
			p.update(&h, appendTime, nowMs)
			replayed++
		}
		putScanner(sc)
	}
	p.expire(nowMs, l.cfg.ProducerIDExpiration.Milliseconds())
	l.producers = p
	l.publishTxnsLocked()
	if replayed > 0 {
		l.logger.Debug().Int64("snapshot_offset", snapOff).Int("batches", replayed).Msg("producer state rebuilt")
	}
	return stale, nil
}

// loggerWith is used by the Manager to add partition fields.
func loggerWith(base zerolog.Logger, topic string, partition int32) zerolog.Logger {
	return base.With().Str("topic", topic).Int32("partition", partition).Logger()
}
