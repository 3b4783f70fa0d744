package storage

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
)

// Page-cache footprint of the logs.
//
// Left alone, the kernel keeps every byte a broker writes in the page cache
// until memory runs short, so a busy broker grows the cache by its whole
// write rate and each write lands on a page the kernel has to find first. On
// machines where that page is new to the guest (a VM whose memory the host
// backs on first touch, which is how this project's CI machines are built)
// or belongs to a memory-limited cgroup (a CI container), that is the
// dominant cost of a produce: a buffered write into never-touched memory ran
// at a fifth of the speed of one into recycled pages here.
//
// With a hot window (Options.CacheHotBytes) each log keeps only the last
// CacheHotBytes of its data cached: the trimmer starts writeback of every
// cacheChunk written, and once a range falls out of the window (so it has
// long been written back) it waits for that writeback and drops the clean
// pages. The next writes then reuse those pages. A Manager's broker-wide
// window (ManagerOptions.CacheHotTotalBytes) bounds all of its logs' windows
// together, so that partitions that stop being written give their pages back
// too. Reads of data older than the window (lagging consumers) come from the
// disk past the cache (ReadCold), so that cold reads do not grow the cache
// either. Tail consumers, the common case, read from the window.
//
// Nothing here changes what is durable or when: fsync points are the
// flush policy's, and dropping only ever applies to clean pages. Nor does it
// hide a failure from them: the trimmer's sync_file_range and fadvise calls
// go through an open file description of its own (PageCacheFile), so the
// write-back errors Linux reports once per description still reach the
// log's fsync, and a write-back error the trimmer is told of fails the log.

// cacheChunk is how much a segment grows between trimmer passes.
const cacheChunk = 4 << 20

// cacheTrimmer runs the passes for every log of a Manager on one goroutine,
// off the append path (waiting for writeback blocks).
//
// With a broker-wide window (total > 0) it also keeps the bytes cached by all
// logs together near total: a log's data stays cached only while fewer than
// total bytes have been written to the Manager's logs since. Each log's own
// window still caps it. Without the broker-wide window, every partition would
// keep its own window forever, idle ones included, so each new partition
// would grow the cache by its window and the page reuse the window is for
// would stop at the number of partitions times the window.
type cacheTrimmer struct {
	ch    chan *Log
	stop  chan struct{}
	wg    sync.WaitGroup
	total int64

	// Owned by the trimmer's goroutine (pass).
	clock int64  // bytes written to the logs, counted at their passes
	logs  []*Log // logs whose data the broker-wide window will drop
}

// trimSample is a point in a log's history: when the trimmer's clock read
// clock, the log had had written bytes appended.
type trimSample struct{ clock, written int64 }

func newCacheTrimmer(total int64) *cacheTrimmer {
	t := &cacheTrimmer{ch: make(chan *Log, 256), stop: make(chan struct{}), total: max(total, 0)}
	t.wg.Add(1)
	go t.run()
	return t
}

func (t *cacheTrimmer) run() {
	defer t.wg.Done()
	for {
		select {
		case <-t.stop:
			return
		case l := <-t.ch:
			l.trimQueued.Store(false)
			t.pass(l)
		}
	}
}

// pass trims l, which has grown by a chunk, and with a broker-wide window
// every other log whose data has fallen out of it meanwhile.
func (t *cacheTrimmer) pass(l *Log) {
	if t.total <= 0 {
		l.trimCache()
		return
	}
	w := l.written.Load()
	t.clock += w - l.clocked
	l.clocked = w
	l.samples = append(l.samples, trimSample{clock: t.clock, written: w})
	if !l.listed {
		l.listed = true
		t.logs = append(t.logs, l)
	}
	target := t.clock - t.total // written before this: out of the window
	kept := t.logs[:0]
	for _, m := range t.logs {
		// The newest sample written before target is where m's data
		// leaves the window (its base); the ones before it are not
		// needed.
		i := -1
		for i+1 < len(m.samples) && m.samples[i+1].clock <= target {
			i++
		}
		hasBase := i >= 0
		if i > 0 {
			m.samples = append(m.samples[:0], m.samples[i:]...)
		}
		if m == l || (hasBase && m.samples[0].written > m.globalDropped) {
			keep := m.cacheHot
			if hasBase {
				keep = min(keep, m.written.Load()-m.samples[0].written)
				m.globalDropped = m.samples[0].written
			}
			m.trimTo(keep)
		}
		// l's newest sample is never out of the window (total > 0).
		if m.filesClosed.Load() || (hasBase && len(m.samples) == 1) {
			// Closed, or all it had when it was last sampled is
			// dropped: its next chunk lists it again.
			m.listed, m.samples, m.globalDropped = false, m.samples[:0], 0
			continue
		}
		kept = append(kept, m)
	}
	clear(t.logs[len(kept):])
	t.logs = kept
}

// notify queues a pass for l unless one is queued already. It never blocks
// an append: with the queue full the pass is skipped, and the next chunk
// asks again.
func (t *cacheTrimmer) notify(l *Log) {
	if l.trimQueued.Swap(true) {
		return
	}
	select {
	case t.ch <- l:
	default:
		l.trimQueued.Store(false)
	}
}

func (t *cacheTrimmer) close() {
	close(t.stop)
	t.wg.Wait()
}

// maybeTrim is called by Append after seg grew: it asks for a pass once a
// chunk has been written since the last one.
func (l *Log) maybeTrim(seg *segment) {
	if l.trimmer != nil && seg.size.Load()-seg.wbStart.Load() >= cacheChunk {
		l.trimmer.notify(l)
	}
}

// trimCache is a pass with the log's own window.
func (l *Log) trimCache() { l.trimTo(l.cacheHot) }

// trimTo is one pass: start writeback of what was written since the last
// pass, then drop the cached pages of everything but the last keep bytes.
// It walks the segments from the newest and stops at the first older segment
// that an earlier pass dropped entirely (the window only moves forward, so
// the ones before it were dropped then too). A write-back error reported to
// the trimmer fails the log.
func (l *Log) trimTo(keep int64) {
	if l.cacheHot <= 0 {
		return
	}
	defer l.notifyFailure()
	l.trimMu.Lock()
	defer l.trimMu.Unlock()
	l.truncMu.RLock()
	defer l.truncMu.RUnlock()
	if l.filesClosed.Load() || l.sticky.Load() != nil {
		return
	}
	segs := l.segments()
	keep = max(keep, 0) // bytes from the log end that stay cached
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		size := s.size.Load()
		active := i == len(segs)-1
		// Truncation may have cut below the marks.
		wb, dropped := min(s.wbStart.Load(), size), min(s.dropped.Load(), size)
		done := !active && dropped >= size // dropped entirely by an earlier pass
		cut := size - keep                 // drop below cut
		if cut < size {
			cut &^= pageSize - 1 // a partial page at the end of the file is dropped with it
		}
		keep = max(keep-size, 0)
		startWB := size > wb && (!active || size-wb >= cacheChunk)
		var pc PageCacheFile
		if startWB || cut > dropped {
			if pc = s.pageCache(l.logger); pc == nil {
				return
			}
		}
		if startWB {
			if err := startWriteback(pc, wb, size-wb); err != nil {
				l.fail("sync_file_range", segmentErr(s, err))
				return
			}
			wb = size
		}
		s.wbStart.Store(wb)
		if cut > dropped {
			if err := waitWriteback(pc, dropped, cut-dropped); err != nil {
				l.fail("sync_file_range", segmentErr(s, err))
				return
			}
			if err := dropClean(pc, dropped, cut-dropped); err != nil {
				l.logger.Debug().Err(err).Int64("segment", s.base).Msg("page cache not trimmed")
				return
			}
			dropped = cut
		}
		s.dropped.Store(dropped)
		if !active && dropped >= size {
			s.closePageCache() // nothing more to drop: give the descriptor back
		}
		if done {
			return
		}
	}
}

// pageCache returns the trimmer's handle for s's page-cache calls: the log
// file when it implements PageCacheFile, else the file opened again (see
// PageCacheFile). nil when there is none (the open failed, logged once, or
// the log file closed); the pass then leaves the cache alone.
func (s *segment) pageCache(logger zerolog.Logger) PageCacheFile {
	s.pcMu.Lock()
	defer s.pcMu.Unlock()
	if s.pc != nil || s.pcDone {
		return s.pc
	}
	if pc, ok := s.log.(PageCacheFile); ok {
		s.pc = pc
		return pc
	}
	pc, closer, err := openPageCache(s.log)
	if err != nil {
		if !s.pcWarned {
			s.pcWarned = true
			logger.Warn().Err(err).Int64("segment", s.base).Msg("page cache of segment not trimmed")
		}
		return nil
	}
	s.pc, s.pcClose = pc, closer
	return pc
}

func (s *segment) closePageCache() {
	s.pcMu.Lock()
	s.closePageCacheLocked()
	s.pcMu.Unlock()
}

func (s *segment) closePageCacheLocked() {
	if s.pcClose != nil {
		s.pcClose.Close()
	}
	s.pc, s.pcClose = nil, nil
}

// pageSize is the granularity of page-cache drops; a partial page at the end
// of a range stays cached.
const pageSize = 4096

// cold reports whether a slice lies in the part of the segment the trimmer
// has dropped (its bytes are on the disk, not in the cache).
func (s *segment) cold(pos, n int64) bool {
	return pos+n <= s.dropped.Load()
}

// dioAlign is the alignment of O_DIRECT reads: file offset, length and
// memory address (the logical block size is at most this on the disks we
// run on; a refused read falls back to the page cache).
const dioAlign = 4096

// directFile returns the segment's O_DIRECT descriptor, opening it on first
// use; nil when there is none (test file systems, tmpfs, closed segment).
func (s *segment) directFile() File {
	s.directMu.Lock()
	defer s.directMu.Unlock()
	if !s.directDone {
		s.directDone = true
		if f, err := openDirect(s.log); err == nil {
			s.direct = f
			// Cold data is read with f from now on; what still reads the
			// log file there (the batch headers a cold slice is found by)
			// must not read ahead into the cache.
			adviseRandom(s.log)
		}
	}
	return s.direct
}

// Cold reports whether the slice lies below the hot window, so that its
// bytes are (most likely) not in the page cache.
func (f FileSlice) Cold() bool { return f.cold }

// ColdBufSize is the size of the buffer ReadCold needs for the slice: the
// slice rounded out to whole blocks, plus room to align the memory.
func (f FileSlice) ColdBufSize() int {
	start, end := f.blocks()
	return int(end-start) + dioAlign
}

func (f FileSlice) blocks() (start, end int64) {
	return f.Pos &^ (dioAlign - 1), (f.Pos + f.Len + dioAlign - 1) &^ (dioAlign - 1)
}

// ColdRecords are the bytes of a cold slice: within the region given to
// ReadCold, or in the read-ahead buffer that held them, which the caller
// hands back with Release once they are sent (no copy on the fetch path).
type ColdRecords struct {
	Bytes []byte
	buf   *[]byte
}

// Release returns the read-ahead buffer the records are in, if any. The
// bytes must not be used after it.
func (c *ColdRecords) Release() {
	if c.buf != nil {
		putAheadBuf(c.buf)
	}
	*c = ColdRecords{}
}

// TakeReadAhead returns the slice's records when the read-ahead of an earlier
// cold read holds them, as ReadCold would but without a region to read into,
// and releases the slice. When it reports false the slice is still held and
// ReadCold reads it. A consumer reading on from where it was is served so
// for all but its first read of each segment.
func (f FileSlice) TakeReadAhead() (ColdRecords, bool) {
	df := f.seg.directFile()
	if df == nil {
		return ColdRecords{}, false
	}
	recs, ok := f.fromAhead(df)
	if ok {
		f.seg.unpin()
	}
	return recs, ok
}

// fromAhead takes the slice from the segment's read-ahead, if that holds it,
// and starts reading the range after it.
func (f FileSlice) fromAhead(df File) (ColdRecords, bool) {
	s := f.seg
	recs, ok := s.takeAhead(f.Pos, f.Len)
	if !ok {
		return ColdRecords{}, false
	}
	start, end := f.blocks()
	dropCachedClean(s.log, start, end-start) // see ReadCold
	s.readAhead(df, f, end-start)
	return recs, true
}

// ReadCold reads the slice past the page cache (O_DIRECT), releases the
// slice and returns its records, in region (ColdBufSize bytes) or in the
// read-ahead buffer that already held them. A cold read through the page
// cache would cost a page allocation, insertion and eviction per 4 KiB; a
// direct read lands in memory with one request per slice and leaves the cache
// to the hot data. Each read also starts reading the range after it (a
// consumer catching up asks for it next), so the disk works while the
// consumer decodes, and the batch headers the next ReadSlice looks at are in
// memory too. Reads of different slices may run concurrently. Where direct
// reads are not available it reads through the cache.
func (f FileSlice) ReadCold(region []byte) (ColdRecords, error) {
	defer f.seg.unpin()
	if len(region) < f.ColdBufSize() {
		return ColdRecords{}, fmt.Errorf("storage: cold read buffer of %d bytes, need %d", len(region), f.ColdBufSize())
	}
	s := f.seg
	if df := s.directFile(); df != nil {
		if recs, ok := f.fromAhead(df); ok {
			return recs, nil
		}
		start, end := f.blocks()
		skip := int(-uintptr(unsafe.Pointer(&region[0])) & (dioAlign - 1))
		blk := region[skip : skip+int(end-start)]
		// The last block may end past the end of the file: a short read
		// is fine as long as it covers the slice.
		if n, _ := df.ReadAt(blk, start); int64(n) >= f.Pos+f.Len-start {
			// The batch headers ReadSlice looked at may have come in
			// through the cache: a page or so per batch, dropped here.
			dropCachedClean(s.log, start, end-start)
			s.readAhead(df, f, end-start)
			return ColdRecords{Bytes: blk[f.Pos-start : f.Pos-start+f.Len]}, nil
		}
	}
	recs := region[:f.Len]
	if n, err := f.ReadAt(recs, 0); int64(n) != f.Len {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return ColdRecords{}, err
	}
	return ColdRecords{Bytes: recs}, nil
}

// ahead is a direct read of [start, start+len(blk)) of a segment started
// before anyone asked for it; n is valid once done is closed. When next >= 0
// the batch at nextPos (where the slice before it ended) has base offset
// next, so a read of next starts there without a look at the index.
type ahead struct {
	start   int64
	blk     []byte // aligned, within buf
	buf     *[]byte
	n       int
	done    chan struct{}
	next    int64
	nextPos int64
}

// recycle gives the buffer of a read-ahead that nobody will take back to
// the free list once its read, the only writer left, is done.
func (a *ahead) recycle() {
	go func() {
		<-a.done
		putAheadBuf(a.buf)
	}()
}

// aheadFree keeps read-ahead buffers (aheadMax plus alignment) between cold
// reads. A sync.Pool would empty at every GC, and a consumer catching up
// would then allocate and zero a new buffer for most reads (that churn grew
// the heap by hundreds of MiB in a few seconds of it). At most aheadFreeMax
// are kept, and none once cold reads have stopped for aheadIdle
// (drainAheadBufs, from the Managers' read-ahead ticks).
var (
	aheadFree     = make(chan *[]byte, aheadFreeMax)
	aheadLastUsed atomic.Int64 // unix nanoseconds of the last getAheadBuf
	aheadAllocs   atomic.Int64 // buffers allocated, for tests
)

const (
	aheadFreeMax = 16
	aheadIdle    = 10 * time.Second
)

func getAheadBuf() *[]byte {
	aheadLastUsed.Store(time.Now().UnixNano())
	select {
	case b := <-aheadFree:
		return b
	default:
		aheadAllocs.Add(1)
		b := make([]byte, aheadMax+dioAlign)
		return &b
	}
}

func putAheadBuf(b *[]byte) {
	select {
	case aheadFree <- b:
	default: // enough kept: to the GC
	}
}

// drainAheadBufs gives the kept read-ahead buffers to the GC once no cold
// read has needed one for aheadIdle.
func drainAheadBufs(now time.Time) {
	if now.UnixNano()-aheadLastUsed.Load() < int64(aheadIdle) {
		return
	}
	for {
		select {
		case <-aheadFree:
		default:
			return
		}
	}
}

// releaseIdleReadAheads, every readAheadCheckInterval, gives read-ahead
// memory to the GC once no cold read has started for aheadIdle: the kept
// buffers, and once per idle spell the pending read-aheads of m's logs. A
// consumer that caught
// up or went away leaves its last one behind (a 2 MiB buffer per partition
// it read), and nobody has come back for any of them. One that a cold read
// starts meanwhile goes too, which costs that reader a direct read.
func (m *Manager) releaseIdleReadAheads(now time.Time) {
	drainAheadBufs(now)
	last := aheadLastUsed.Load()
	if now.UnixNano()-last < int64(aheadIdle) || m.aheadSwept.Swap(last) == last {
		return
	}
	for _, l := range m.openLogs() {
		for _, s := range l.segments() {
			s.aheadMu.Lock()
			s.ahead = nil // its read is long done; the buffer goes to the GC
			s.aheadMu.Unlock()
		}
	}
}

// aheadMax bounds one read-ahead.
const aheadMax = 2 << 20

// readAhead starts a direct read of about n bytes from the block where the
// slice after f starts, in the background, for the next ReadSlice and
// ReadCold of this segment, unless that range is no longer cold. The segment
// stays pinned until the read is done.
func (s *segment) readAhead(df File, f FileSlice, n int64) {
	next := f.Pos + f.Len
	from := next &^ (dioAlign - 1)
	// The next read asks for as much as this one did: its slice is at
	// most that long unless its first batch is longer; it starts up to a
	// block into the read.
	n = min(max(n, f.limit)+2*dioAlign, aheadMax)
	n = (n + dioAlign - 1) &^ (dioAlign - 1)
	if from >= s.dropped.Load() || from >= s.size.Load() {
		return
	}
	bp := getAheadBuf()
	skip := int(-uintptr(unsafe.Pointer(&(*bp)[0])) & (dioAlign - 1))
	a := &ahead{start: from, blk: (*bp)[skip : skip+int(n)], buf: bp, done: make(chan struct{}), next: f.next, nextPos: next}
	s.aheadMu.Lock()
	if f.gen != s.aheadGen.Load() {
		// Truncated since f was found: what follows f is not what f
		// saw.
		s.aheadMu.Unlock()
		putAheadBuf(bp)
		return
	}
	prev := s.ahead
	s.ahead = a
	s.aheadMu.Unlock()
	if prev != nil {
		prev.recycle() // another reader's read-ahead of this segment, not taken
	}
	s.pin() // the caller's slice pins s: it cannot have closed
	go func() {
		defer s.unpin()
		a.n, _ = df.ReadAt(a.blk, a.start)
		close(a.done)
	}()
}

// takeAhead returns [pos, pos+n) in the segment's read-ahead buffer when the
// read-ahead covers it, and reports whether it did. The read-ahead is used
// once; one that does not cover the range is dropped.
func (s *segment) takeAhead(pos, n int64) (ColdRecords, bool) {
	s.aheadMu.Lock()
	a := s.ahead
	s.ahead = nil
	s.aheadMu.Unlock()
	if a == nil {
		return ColdRecords{}, false
	}
	if pos < a.start || pos+n > a.start+int64(len(a.blk)) {
		a.recycle() // not what the read-ahead guessed
		return ColdRecords{}, false
	}
	<-a.done
	if pos+n > a.start+int64(a.n) {
		putAheadBuf(a.buf)
		return ColdRecords{}, false
	}
	return ColdRecords{Bytes: a.blk[pos-a.start : pos-a.start+n : pos-a.start+n], buf: a.buf}, true
}

// aheadHint returns where the batch with base offset offset starts when the
// read-ahead knows it (the slice before it ended there).
func (s *segment) aheadHint(offset int64) (int64, bool) {
	s.aheadMu.Lock()
	defer s.aheadMu.Unlock()
	if a := s.ahead; a != nil && a.next >= 0 && a.next == offset {
		return a.nextPos, true
	}
	return 0, false
}

// metaReader reads batch headers of a segment (ReadSlice): from the
// read-ahead when it holds them, which it does for a consumer reading cold
// data in order, else from the log file. Without it each cold fetch would
// wait on a disk read or two per partition for headers.
type metaReader segment

func (m *metaReader) ReadAt(p []byte, off int64) (int, error) {
	s := (*segment)(m)
	s.aheadMu.Lock()
	if a := s.ahead; a != nil && off >= a.start && off+int64(len(p)) <= a.start+int64(len(a.blk)) {
		// Held under aheadMu, so takeAhead cannot hand the buffer on
		// while it is read here; the read is in flight or done.
		<-a.done
		if off+int64(len(p)) <= a.start+int64(a.n) {
			n := copy(p, a.blk[off-a.start:])
			s.aheadMu.Unlock()
			return n, nil
		}
	}
	s.aheadMu.Unlock()
	return s.log.ReadAt(p, off)
}

// dropAhead forgets the read-ahead (the file is being truncated under it),
// and keeps slices found before from starting another.
func (s *segment) dropAhead() {
	s.aheadMu.Lock()
	s.ahead = nil
	s.aheadGen.Add(1)
	s.aheadMu.Unlock()
}
