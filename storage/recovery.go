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
		onFlush:   opts.FlushObserver,
	}
	if l.cacheHot == 0 {
		l.trimmer = nil
	}
	if l.fs == nil {
		l.fs = OSFS{}
	}
	if l.now == nil {
		l.now = time.Now
	}
	if err := l.load(); err != nil {
		if segs := l.segs.Load(); segs != nil {
			for _, s := range *segs {
				s.close()
			}
		}
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	return l, nil
}

func (l *Log) load() error {
	if err := l.fs.MkdirAll(l.dir, 0o755); err != nil {
		return err
	}
	if err := l.checkPartitionMetadata(); err != nil {
		return err
	}
	markerPath := filepath.Join(l.dir, cleanShutdownFile)
	clean := exists(l.fs, markerPath)
	cp := logCheckpoint{}
	if b, err := readFile(l.fs, filepath.Join(l.dir, checkpointFile)); err == nil {
		if cp, err = parseLogCheckpoint(b); err != nil {
			l.logger.Warn().Err(err).Msg("ignoring unreadable checkpoint; recovering the whole log")
			cp, clean = logCheckpoint{}, false
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	} else if clean {
		clean = false // a marker without a checkpoint is not trustworthy
	}
	bases, err := l.scanDir()
	if err != nil {
		return err
	}
	var segs []*segment
	l.segs.Store(&segs)
	for _, b := range bases {
		s, err := openSegment(l.fs, l.dir, b, &l.cfg, false)
		if err != nil {
			return err
		}
		segs = append(segs, s)
		l.segs.Store(&segs)
	}
	if len(segs) == 0 {
		s, err := openSegment(l.fs, l.dir, max(cp.logStartOffset, 0), &l.cfg, true)
		if err != nil {
			return err
		}
		segs = append(segs, s)
		l.segs.Store(&segs)
	}
	if l.epochs, err = loadLeaderEpochCache(l.fs, l.dir); err != nil {
		return err
	}

	// Segments from the one holding the recovery point on are recovered after
	// an unclean shutdown; the others (and all after a clean one) are loaded,
	// and recovered only when an index is missing or fails its sanity check.
	recoverFrom := len(segs)
	if !clean {
		recoverFrom = sort.Search(len(segs), func(i int) bool { return segs[i].base > cp.recoveryPoint }) - 1
		recoverFrom = max(recoverFrom, 0)
	}
	for i := 0; i < recoverFrom; i++ {
		if err := l.loadSegment(segs[i]); err != nil {
			if !isDataError(err) && !errors.Is(err, errCorruptIndex) {
				return err
			}
			l.logger.Warn().Err(err).Int64("base_offset", segs[i].base).Msg("rebuilding segment indexes")
			if _, err := l.recoverSegment(segs[i], nil); err != nil {
				return err
			}
		}
	}
	if recoverFrom < len(segs) {
		if err := l.epochs.truncateFromEnd(segs[recoverFrom].base); err != nil {
			return err
		}
		assign := func(h *batchInfo) {
			if h.leaderEpoch >= 0 && h.leaderEpoch > l.epochs.latestEpoch() {
				if err := l.epochs.assign(h.leaderEpoch, h.baseOffset); err != nil {
					l.logger.Warn().Err(err).Msg("leader epoch checkpoint not written")
				}
			}
		}
		for i := recoverFrom; i < len(segs); i++ {
			truncated, err := l.recoverSegment(segs[i], assign)
			if err != nil {
				return err
			}
			if truncated > 0 && i+1 < len(segs) {
				// Nothing after a torn or corrupt batch can be trusted.
				for _, s := range segs[i+1:] {
					l.logger.Warn().Int64("base_offset", s.base).Int64("bytes", s.size.Load()).
						Msg("deleting segment after truncation")
					s.close()
					for _, p := range s.renameDeleted(l.fs) {
						_ = l.fs.Remove(p)
					}
				}
				segs = segs[:i+1]
				l.segs.Store(&segs)
				break
			}
		}
		for _, s := range segs[recoverFrom:] {
			if err := s.sync(); err != nil {
				return err
			}
		}
	}

	// Inactive segments end with their max timestamp in the time index
	// (rebuilt ones do not yet).
	for _, s := range segs[:len(segs)-1] {
		if err := s.onBecomeInactive(); err != nil {
			return err
		}
	}
	leo := segs[len(segs)-1].next
	logStart := min(max(cp.logStartOffset, segs[0].base), leo)
	l.leo.Store(leo)
	l.logStart.Store(logStart)
	l.hw.Store(min(max(cp.highWatermark, logStart), leo))
	l.recoveryPoint.Store(leo)
	l.lastFlushMs.Store(l.now().UnixMilli())
	if err := l.epochs.truncateFromEnd(leo); err != nil {
		return err
	}
	if err := l.epochs.truncateFromStart(logStart); err != nil {
		return err
	}
	if err := l.reloadProducerState(leo); err != nil {
		return err
	}
	if clean {
		if err := l.fs.Remove(markerPath); err != nil {
			return err
		}
	}
	if err := l.writeCheckpoint(); err != nil {
		return err
	}
	l.logger.Debug().Bool("clean", clean).Int64("log_start_offset", logStart).Int64("log_end_offset", leo).
		Int("segments", len(segs)).Msg("log loaded")
	return nil
}

func (l *Log) checkPartitionMetadata() error {
	p := filepath.Join(l.dir, partitionMetadataFile)
	b, err := readFile(l.fs, p)
	if err == nil {
		id, perr := parsePartitionMetadata(b)
		if perr == nil && (id == l.topicID || l.topicID == [16]byte{}) {
			l.topicID = id
			return nil
		}
		if perr == nil {
			return fmt.Errorf("%w: partition.metadata holds topic id %x, expected %x", ErrTopicIDMismatch, id, l.topicID)
		}
		l.logger.Warn().Err(perr).Msg("rewriting unreadable partition.metadata")
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if l.topicID == [16]byte{} {
		return nil
	}
	return writeFileAtomic(l.fs, p, encodePartitionMetadata(l.topicID))
}

// scanDir removes leftovers of interrupted operations and returns the base
// offsets of the segments, ascending.
func (l *Log) scanDir() ([]int64, error) {
	ents, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	logs := map[int64]bool{}
	var bases []int64
	for _, e := range ents {
		if b, ok := parseOffsetFileName(e.Name(), logSuffix); ok && !e.IsDir() {
			logs[b] = true
			bases = append(bases, b)
		}
	}
	for _, e := range ents {
		name := e.Name()
		full := filepath.Join(l.dir, name)
		switch {
		case strings.HasSuffix(name, deletedSuffix), strings.HasSuffix(name, cleanedSuffix),
			strings.HasSuffix(name, tmpSuffix):
			_ = l.fs.Remove(full)
		case strings.HasSuffix(name, swapSuffix):
			// samsa never writes swap files (no compaction yet): a leftover
			// cannot be a completed cleaning of ours.
			l.logger.Warn().Str("file", name).Msg("removing leftover swap file")
			_ = l.fs.Remove(full)
		default:
			for _, suf := range []string{indexSuffix, timeIndexSuffix} {
				if b, ok := parseOffsetFileName(name, suf); ok && !logs[b] {
					_ = l.fs.Remove(full)
				}
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

// loadSegment trusts the data of a segment and loads its indexes, returning
// errCorruptIndex when one fails its sanity check (Kafka's sanityCheck, plus
// the checks that catch a lost file: a batch past index.interval.bytes
// without an offset-index entry, or a max timestamp the time index lacks —
// segments always end with one, written on roll and on close).
func (l *Log) loadSegment(s *segment) error {
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
	return nil
}

// recoverSegment runs segment.recover and logs what it cut.
func (l *Log) recoverSegment(s *segment, fn func(h *batchInfo)) (int64, error) {
	truncated, reason, err := s.recover(int64(l.cfg.IndexIntervalBytes), fn)
	if err != nil {
		return 0, err
	}
	if truncated > 0 {
		ev := l.logger.Warn().Int64("base_offset", s.base).Int64("valid_bytes", s.size.Load()).
			Int64("truncated_bytes", truncated).Int64("next_offset", s.next)
		if reason != nil {
			ev = ev.Str("reason", reason.Error())
		}
		ev.Msg("truncated invalid bytes at the end of segment")
	}
	return truncated, nil
}

// reloadProducerState loads the newest snapshot at or below upTo and replays
// the batches after it (Kafka's loadProducerState / truncateAndReload).
func (l *Log) reloadProducerState(upTo int64) error {
	p, snapOff, err := loadLatestSnapshot(l.fs, l.dir, upTo)
	if err != nil {
		return err
	}
	from := max(snapOff, 0)
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
				putScanner(sc)
				return err
			}
			if h.baseOffset < from || h.baseOffset >= upTo {
				continue
			}
			appendTime := int64(-1)
			if h.logAppendTime() {
				appendTime = h.maxTimestamp
			}
			p.update(&h, appendTime, nowMs)
			replayed++
		}
		putScanner(sc)
	}
	p.expire(nowMs, l.cfg.ProducerIDExpiration.Milliseconds())
	l.producers = p
	if replayed > 0 {
		l.logger.Debug().Int64("snapshot_offset", snapOff).Int("batches", replayed).Msg("producer state rebuilt")
	}
	return nil
}

// loggerWith is used by the Manager to add partition fields.
func loggerWith(base zerolog.Logger, topic string, partition int32) zerolog.Logger {
	return base.With().Str("topic", topic).Int32("partition", partition).Logger()
}
