package storage

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

// File suffixes of a segment, as Kafka names them.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	snapshotSuffix  = ".snapshot"
	deletedSuffix   = ".deleted"
	cleanedSuffix   = ".cleaned"
	swapSuffix      = ".swap"
	tmpSuffix       = ".tmp"
)

// offsetFileName is Kafka's "%020d" + suffix.
func offsetFileName(dir string, offset int64, suffix string) string {
	var b [20]byte
	s := strconv.AppendInt(b[:0], offset, 10)
	name := make([]byte, 0, 20+len(suffix))
	for i := len(s); i < 20; i++ {
		name = append(name, '0')
	}
	name = append(name, s...)
	name = append(name, suffix...)
	return filepath.Join(dir, string(name))
}

// parseOffsetFileName returns the base offset of a "%020d.suffix" name.
func parseOffsetFileName(name, suffix string) (int64, bool) {
	if len(name) != 20+len(suffix) || name[20:] != suffix {
		return 0, false
	}
	v, err := strconv.ParseInt(name[:20], 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// segment is Kafka's LogSegment: a .log file of batches plus its offset,
// time and transaction indexes.
type segment struct {
	base int64
	dir  string
	log  File
	oi   offsetIndex
	ti   timeIndex
	txn  txnIndex // txn_index.go; its file exists once it has an entry

	// size is the published byte size of the log file: readers never look
	// past it. Stored after the bytes are written.
	size atomic.Int64

	// pins counts the FileSlices that hold the log file open for a send
	// (sendfile) after the read that made them returned. close defers
	// closing the log file until the last one is released, so an fd a
	// pending send uses is never closed (and reused) under it.
	pins       atomic.Int64
	logClosing atomic.Bool
	logClose   sync.Once
	logErr     error // set inside logClose

	// Page-cache marks (cache.go), written by trimmer passes: writeback has
	// been started below wbStart, and the pages below dropped are out of the
	// cache.
	wbStart atomic.Int64
	dropped atomic.Int64
	// pc is the trimmer's handle for its page-cache calls (pageCache),
	// opened on its first pass over the segment, closed (pcClose) when the
	// segment is dropped from the cache entirely and with the log file.
	pcMu     sync.Mutex
	pc       PageCacheFile
	pcClose  io.Closer // nil when pc is the log file itself
	pcDone   bool      // the log file closed: no new pc
	pcWarned bool      // an open failure was logged
	// direct is the log file opened again with O_DIRECT for cold reads
	// (FileSlice.ReadCold), on the first one; closed with the log file.
	directMu   sync.Mutex
	direct     File
	directDone bool // tried; direct stays nil when the file system refuses
	// ahead is the read-ahead for the next cold read (ReadCold);
	// aheadGen counts truncations (dropAhead), set under aheadMu.
	aheadMu  sync.Mutex
	ahead    *ahead
	aheadGen atomic.Uint64

	// indexUnsynced: the log file was fsynced without the indexes (durable
	// mode's group commit) or the time index changed since (a roll); the
	// checkpointed recovery point stays at or below base until a whole
	// fsync (Log.flush). Written under Log.flushMu (and by a roll).
	indexUnsynced atomic.Bool

	// Guarded by Log.mu.
	next            int64 // offset after the last batch (base when empty)
	bytesSinceIndex int64
	maxTs           int64 // largest batch maxTimestamp, -1 when none
	maxTsOffset     int64 // last offset of the batch holding maxTs
	rollTime        int64 // ms: first append (or first batch's timestamp on load); -1 when empty
	rollJitterMs    int64 // segment.jitter.ms drawn for this segment (Config.randomJitterMs)
	prealloc        bool  // the log file was created at segment.bytes (preallocate): cut it when it becomes inactive
}

// paths are the segment's files; the transaction index (last) exists only
// when the segment holds an ABORT marker.
func (s *segment) paths() [4]string {
	return [4]string{
		offsetFileName(s.dir, s.base, logSuffix),
		offsetFileName(s.dir, s.base, indexSuffix),
		offsetFileName(s.dir, s.base, timeIndexSuffix),
		offsetFileName(s.dir, s.base, txnIndexSuffix),
	}
}

// files are the open files of paths (the transaction index's may be nil).
func (s *segment) files() [4]File { return [4]File{s.log, s.oi.f, s.ti.f, s.txn.f} }

// openSegment opens (create: creates, truncating leftovers) the three files.
// Opening an existing segment creates nothing: a missing index file stays
// nil until createIndexes, and loadSegment reports it as corrupt.
func openSegment(fsys FS, dir string, base int64, cfg *Config, create bool) (*segment, error) {
	s := &segment{base: base, dir: dir, next: base, maxTs: -1, maxTsOffset: base, rollTime: -1}
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE | os.O_TRUNC
	}
	p := s.paths()
	var err error
	if s.log, err = fsys.OpenFile(p[0], flag, 0o644); err != nil {
		return nil, err
	}
	for i, f := range [2]*File{&s.oi.f, &s.ti.f} {
		// Opened only while used (lazy_file.go).
		lf, err := openLazyFile(fsys, p[1+i], flag, indexFiles)
		if err != nil {
			if !create && errors.Is(err, os.ErrNotExist) {
				continue
			}
			s.close()
			return nil, err
		}
		*f = lf
	}
	if err = s.txn.open(fsys, p[3], create); err != nil {
		s.close()
		return nil, err
	}
	s.oi.base, s.ti.base = base, base
	s.setIndexLimits(cfg)
	s.rollJitterMs = cfg.randomJitterMs()
	if !create {
		st, err := s.log.Stat()
		if err != nil {
			s.close()
			return nil, err
		}
		s.size.Store(st.Size())
	} else if cfg.Preallocate {
		// Kafka's preallocate: the file at its full size from the start
		// (RandomAccessFile.setLength); readers never look past the
		// published size, and recovery cuts the zeros after a crash.
		if err := s.log.Truncate(cfg.SegmentBytes); err != nil {
			s.close()
			return nil, err
		}
		s.prealloc = true
	}
	return s, nil
}

// createIndexes creates the index files openSegment found missing.
func (s *segment) createIndexes(fsys FS) error {
	p := s.paths()
	for i, f := range [2]*File{&s.oi.f, &s.ti.f} {
		if *f != nil {
			continue
		}
		lf, err := openLazyFile(fsys, p[1+i], os.O_RDWR|os.O_CREATE, indexFiles)
		if err != nil {
			return err
		}
		*f = lf
	}
	return nil
}

func (s *segment) setIndexLimits(cfg *Config) {
	s.oi.maxEntries = int(cfg.SegmentIndexBytes) / offsetEntrySize
	s.ti.maxEntries = int(cfg.SegmentIndexBytes) / timeEntrySize
}

// close closes the segment's files. The log file stays open while
// FileSlices pin it; the last unpin closes it.
func (s *segment) close() error {
	var first error
	for _, f := range [3]File{s.oi.f, s.ti.f, s.txn.f} {
		if f != nil {
			if err := f.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	s.logClosing.Store(true)
	if s.pins.Load() == 0 {
		if err := s.closeLog(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *segment) closeLog() error {
	s.logClose.Do(func() {
		if s.log != nil {
			s.logErr = s.log.Close()
		}
		s.directMu.Lock()
		if s.direct != nil {
			s.direct.Close()
			s.direct = nil
		}
		s.directDone = true
		s.directMu.Unlock()
		s.pcMu.Lock()
		s.closePageCacheLocked()
		s.pcDone = true
		s.pcMu.Unlock()
	})
	return s.logErr
}

// pin keeps the log file open until unpin; the caller must hold
// Log.truncMu for reading and have found s in the segment list (so close
// has not run yet).
func (s *segment) pin() { s.pins.Add(1) }

func (s *segment) unpin() {
	if s.pins.Add(-1) == 0 && s.logClosing.Load() {
		_ = s.closeLog()
	}
}

func (s *segment) sync() error {
	for _, f := range s.files() {
		if f == nil {
			continue // no transaction index
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// renameDeleted renames the segment's files to "*.deleted" (Kafka's async delete).
func (s *segment) renameDeleted(fsys FS) []string {
	var out []string
	for _, p := range s.paths() {
		if err := fsys.Rename(p, p+deletedSuffix); err == nil {
			out = append(out, p+deletedSuffix)
		}
	}
	return out
}

// shouldRoll reports whether a batch of the given size and last offset
// must go to a new segment (LogSegment.shouldRoll).
func (s *segment) shouldRoll(cfg *Config, batchSize, lastOffset, nowMs int64) bool {
	size := s.size.Load()
	if size == 0 {
		return false
	}
	return size+batchSize > cfg.SegmentBytes ||
		(s.rollTime >= 0 && nowMs-s.rollTime >= cfg.rollMs()-s.rollJitterMs) ||
		lastOffset-s.base > math.MaxInt32 ||
		s.oi.full() || s.ti.full()
}

// appendBatch writes a whole batch (offsets already assigned) at the end of
// the file, and its index entries. Nothing of it is visible until
// commitBatch: a batch whose write (or flush) failed never is.
func (s *segment) appendBatch(b []byte, h *batchInfo, indexInterval int64) error {
	pos := s.size.Load()
	if _, err := s.log.WriteAt(b, pos); err != nil {
		return err
	}
	if s.bytesSinceIndex > indexInterval {
		maxTs, maxTsOffset := s.maxTs, s.maxTsOffset
		if h.MaxTimestamp > maxTs {
			maxTs, maxTsOffset = h.MaxTimestamp, h.LastOffset()
		}
		if err := s.oi.append(h.LastOffset(), pos); err != nil {
			return err
		}
		if err := s.ti.maybeAppend(maxTs, maxTsOffset, false); err != nil {
			return err
		}
	}
	return nil
}

// commitBatch takes the batch appendBatch wrote into the segment's state and
// publishes its bytes to readers (the caller publishes the log end offset).
func (s *segment) commitBatch(h *batchInfo, indexInterval int64) {
	if h.MaxTimestamp > s.maxTs {
		s.maxTs, s.maxTsOffset = h.MaxTimestamp, h.LastOffset()
	}
	if s.bytesSinceIndex > indexInterval {
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += h.Size()
	s.next = h.NextOffset()
	s.size.Add(h.Size())
}

// onBecomeInactive writes the final time-index entry (Kafka does the same on
// roll and close), so the last entry holds the segment's max timestamp, and
// cuts a preallocated log file to its data.
func (s *segment) onBecomeInactive() error {
	if err := s.ti.maybeAppend(s.maxTs, s.maxTsOffset, true); err != nil {
		return err
	}
	if s.prealloc {
		if err := s.log.Truncate(s.size.Load()); err != nil {
			return err
		}
		s.prealloc = false
	}
	return nil
}

// scanner walks the batches of a segment file through a read buffer.
type scanner struct {
	f        io.ReaderAt
	pos, end int64 // next batch position; scan limit (exclusive)
	buf      []byte
	bufStart int64
	bufLen   int
	full     bool // read whole batches and check their CRC
}

var scannerPool = sync.Pool{New: func() any { return &scanner{buf: make([]byte, 8<<10)} }}

func getScanner(f io.ReaderAt, pos, end int64) *scanner {
	sc := scannerPool.Get().(*scanner)
	sc.f, sc.pos, sc.end, sc.bufStart, sc.bufLen, sc.full = f, pos, end, 0, 0, false
	return sc
}

func putScanner(sc *scanner) {
	sc.f = nil
	if cap(sc.buf) <= 64<<10 {
		scannerPool.Put(sc)
	}
}

// scanBufSize is the read size of a recovery scan; scanBufPool keeps
// those buffers (a restart scans thousands of segments, and a megabyte
// allocated and zeroed for each was most of its CPU).
const scanBufSize = 1 << 20

var scanBufPool = sync.Pool{New: func() any { b := make([]byte, scanBufSize); return &b }}

// getScanBuf returns a buffer for scanning a file of size bytes: the whole
// file when it is small, scanBufSize (pooled) otherwise.
func getScanBuf(size int64) []byte {
	if size < scanBufSize/4 {
		return make([]byte, max(size, 4<<10))
	}
	return *scanBufPool.Get().(*[]byte)
}

// putScanBuf keeps a getScanBuf buffer of the pooled size for the next scan.
func putScanBuf(b []byte) {
	if cap(b) == scanBufSize {
		b = b[:scanBufSize]
		scanBufPool.Put(&b)
	}
}

var errTorn = errors.New("incomplete batch at end of segment")

func (sc *scanner) window(n int) ([]byte, error) {
	if sc.pos >= sc.bufStart && sc.pos+int64(n) <= sc.bufStart+int64(sc.bufLen) {
		o := sc.pos - sc.bufStart
		return sc.buf[o : o+int64(n)], nil
	}
	if sc.pos+int64(n) > sc.end {
		return nil, errTorn
	}
	want := int64(max(n, cap(sc.buf)))
	if want > sc.end-sc.pos {
		want = sc.end - sc.pos
	}
	if int64(cap(sc.buf)) < want {
		sc.buf = make([]byte, want)
	}
	m, err := sc.f.ReadAt(sc.buf[:want], sc.pos)
	if m < n {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, errTorn
		}
		return nil, err
	}
	sc.bufStart, sc.bufLen = sc.pos, m
	return sc.buf[:n], nil
}

// next returns the next batch's header, its bytes (the whole batch when
// sc.full, else the header) and its position. io.EOF at the end; errTorn
// for an incomplete tail; other errors for corruption or I/O.
func (sc *scanner) next() (batchInfo, []byte, int64, error) {
	if sc.pos >= sc.end {
		return batchInfo{}, nil, 0, io.EOF
	}
	hb, err := sc.window(batchHeaderSize)
	if err != nil {
		return batchInfo{}, nil, 0, err
	}
	h, err := decodeBatchHeader(hb)
	if err != nil {
		return batchInfo{}, nil, 0, err
	}
	if sc.pos+h.Size() > sc.end {
		return batchInfo{}, nil, 0, errTorn
	}
	data := hb
	if sc.full {
		if data, err = sc.window(int(h.Size())); err != nil {
			return batchInfo{}, nil, 0, err
		}
		if !batchCRCValid(data) {
			return batchInfo{}, nil, 0, errBadCRC
		}
	}
	pos := sc.pos
	sc.pos += h.Size()
	return h, data, pos, nil
}

// findBatch returns the position and header of the first batch whose last
// offset is >= offset, scanning from the index hint. found=false when the
// segment ends first.
func (s *segment) findBatch(offset, size int64) (batchInfo, int64, bool, error) {
	if pos, ok := s.aheadHint(offset); ok {
		// A consumer reading on from where its last cold read ended.
		sc := getScanner((*metaReader)(s), pos, size)
		h, _, at, err := sc.next()
		putScanner(sc)
		if err == nil && h.BaseOffset == offset {
			return h, at, true, nil
		}
	}
	sc := getScanner((*metaReader)(s), s.oi.lookup(offset), size)
	defer putScanner(sc)
	for {
		h, _, pos, err := sc.next()
		if err == io.EOF {
			return batchInfo{}, 0, false, nil
		}
		if err != nil {
			return batchInfo{}, 0, false, err
		}
		if h.LastOffset() >= offset {
			return h, pos, true, nil
		}
	}
}

// scan is the reading half of Kafka's LogSegment.recover: it validates every
// batch from the start of the file (length sane, magic 2, CRC-32C, offsets
// increasing and within the segment's int32 range) and rebuilds in memory
// what the segment knows of its batches, both indexes included. It writes
// nothing (applyScan does). s.size becomes the length of the valid batches;
// it returns the file's size and why the valid batches end before it (nil
// when they do not). fn sees every valid batch.
func (s *segment) scan(indexInterval int64, fn func(h *batchInfo)) (fileSize int64, reason error, err error) {
	st, err := s.log.Stat()
	if err != nil {
		return 0, nil, err
	}
	fileSize = st.Size()
	s.oi.entries.truncate(0)
	s.ti.entries.truncate(0)
	s.next, s.maxTs, s.maxTsOffset, s.bytesSinceIndex, s.rollTime = s.base, -1, s.base, 0, -1
	sc := &scanner{f: s.log, end: fileSize, buf: getScanBuf(fileSize), full: true}
	defer func() { putScanBuf(sc.buf) }()
	valid := int64(0)
	for {
		h, _, pos, err := sc.next()
		if err == io.EOF {
			break
		}
		if err == nil && (h.BaseOffset < s.next || h.LastOffset()-s.base > math.MaxInt32) {
			err = errBadOffsets
		}
		if err != nil {
			if !isDataError(err) {
				return 0, nil, err
			}
			reason = err
			break
		}
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
		valid = pos + h.Size()
		s.next = h.NextOffset()
		if fn != nil {
			fn(&h)
		}
	}
	s.size.Store(valid)
	return fileSize, reason, nil
}

// applyScan writes what scan found: the log file is cut to the valid batches
// (when the file held more than those) and both index files are rewritten.
func (s *segment) applyScan(fileSize int64) error {
	if valid := s.size.Load(); valid < fileSize {
		if err := s.log.Truncate(valid); err != nil {
			return err
		}
	}
	if err := s.oi.rewrite(); err != nil {
		return err
	}
	return s.ti.rewrite()
}

// recover is LogSegment.recover: scan, then applyScan. It returns the bytes
// cut and why.
func (s *segment) recover(indexInterval int64, fn func(h *batchInfo)) (truncated int64, reason error, err error) {
	fileSize, reason, err := s.scan(indexInterval, fn)
	if err != nil {
		return 0, nil, err
	}
	if err := s.applyScan(fileSize); err != nil {
		return 0, nil, err
	}
	return fileSize - s.size.Load(), reason, nil
}

// isDataError reports whether err says that bytes in a segment are not
// valid batches (a torn tail, corruption) rather than that the disk failed.
func isDataError(err error) bool {
	return errors.Is(err, errTorn) || isBatchError(err) || errors.Is(err, errBadOffsets)
}

// loadTail restores the in-memory state of a segment whose offset index was
// loaded and trusted: it scans from the last index entry to the end for the
// next offset, the index bookkeeping and the tail's max timestamp (Kafka's
// readNextOffset). The time index's last entry is merged in by the caller.
func (s *segment) loadTail(indexInterval int64) error {
	size := s.size.Load()
	s.next, s.maxTs, s.maxTsOffset, s.rollTime = s.base, -1, s.base, -1
	if size == 0 {
		return nil
	}
	sc := getScanner(s.log, 0, size)
	defer putScanner(sc)
	h, _, _, err := sc.next()
	if err != nil {
		return fmt.Errorf("first batch: %w", err)
	}
	s.rollTime = h.MaxTimestamp
	var lastIdx int64
	if es := s.oi.entries.view(); len(es) > 0 {
		lastIdx = int64(es[len(es)-1].pos)
	}
	sc.pos = lastIdx
	s.bytesSinceIndex = 0
	for {
		h, _, _, err := sc.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if s.bytesSinceIndex > indexInterval && !s.oi.full() {
			return errCorruptIndex // this batch should have an index entry
		}
		s.bytesSinceIndex += h.Size()
		if h.MaxTimestamp > s.maxTs {
			s.maxTs, s.maxTsOffset = h.MaxTimestamp, h.LastOffset()
		}
		s.next = h.NextOffset()
	}
}
