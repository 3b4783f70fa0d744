package storage

import "sync"

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
// pages. The next writes then reuse those pages. Reads of data older than the
// window (lagging consumers) come from the disk, and their pages are dropped
// again after the send (FileSlice.Release) so that cold reads do not grow the
// cache either. Tail consumers, the common case, read from the window.
//
// Nothing here changes what is durable or when: fsync points are the
// flush policy's, and dropping only ever applies to clean pages.

// cacheChunk is how much a segment grows between trimmer passes.
const cacheChunk = 4 << 20

// cacheTrimmer runs the passes for every log of a Manager on one goroutine,
// off the append path (waiting for writeback blocks).
type cacheTrimmer struct {
	ch   chan *Log
	stop chan struct{}
	wg   sync.WaitGroup
}

func newCacheTrimmer() *cacheTrimmer {
	t := &cacheTrimmer{ch: make(chan *Log, 256), stop: make(chan struct{})}
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
			l.trimCache()
		}
	}
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

// trimCache is one pass: start writeback of what was written since the last
// pass, then drop the cached pages of everything older than the hot window.
// It walks the segments from the newest and stops at the first older segment
// that is dropped entirely (the window only moves forward, so the ones before
// it were dropped earlier).
func (l *Log) trimCache() {
	if l.cacheHot <= 0 {
		return
	}
	l.trimMu.Lock()
	defer l.trimMu.Unlock()
	l.truncMu.RLock()
	defer l.truncMu.RUnlock()
	if l.filesClosed.Load() {
		return
	}
	segs := l.segments()
	keep := l.cacheHot // bytes from the log end that stay cached
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		size := s.size.Load()
		active := i == len(segs)-1
		// Truncation may have cut below the marks.
		wb, dropped := min(s.wbStart.Load(), size), min(s.dropped.Load(), size)
		if size > wb && (!active || size-wb >= cacheChunk) {
			startWriteback(s.log, wb, size-wb)
			wb = size
		}
		s.wbStart.Store(wb)
		cut := (size - keep) &^ (pageSize - 1)
		keep = max(keep-size, 0)
		if cut > dropped {
			if err := dropCached(s.log, dropped, cut-dropped); err != nil {
				l.logger.Debug().Err(err).Int64("segment", s.base).Msg("page cache not trimmed")
				return
			}
			dropped = cut
		}
		s.dropped.Store(dropped)
		if !active && dropped >= size {
			return
		}
	}
}

// pageSize is the granularity of page-cache drops; a partial page at the end
// of a range stays cached.
const pageSize = 4096

// cold reports whether a slice lies in the part of the segment the trimmer
// has dropped: reading it brought its pages in from the disk, and they can go
// again once it is sent.
func (s *segment) cold(pos, n int64) bool {
	return pos+n <= s.dropped.Load()
}

// coldRead is called when a cold slice [pos, pos+n) has been sent. Its pages
// came from the disk and may still be held by the socket (sendfile sends
// page-cache pages by reference until they are acknowledged), so it drops
// the previous cold slice's pages instead, which a whole fetch round trip
// has passed since.
func (s *segment) coldRead(pos, n int64) {
	s.coldMu.Lock()
	prev := s.coldPrev
	s.coldPrev = [2]int64{pos, pos + n}
	s.coldMu.Unlock()
	if prev[1] > prev[0] {
		dropCachedClean(s.log, prev[0], prev[1]-prev[0])
	}
	prefetch(s.log, pos+n, 2*n)
}
