package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident is the fraction of the pages of [off, off+n) of the file at path
// that are in the page cache (mincore on a mapping, which faults nothing in).
func resident(t *testing.T, path string, off, n int64) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := off &^ (pageSize - 1)
	m, err := unix.Mmap(int(f.Fd()), start, int(off+n-start), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+pageSize-1)/pageSize)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)),
		uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return float64(in) / float64(len(vec))
}

// cacheDir is a directory on a file system whose page cache posix_fadvise can
// drop (tmpfs pages are the files themselves).
func cacheDir(t *testing.T) string {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		t.Skip("the test directory is on tmpfs, whose pages cannot be dropped; set TMPDIR to a disk")
	}
	return filepath.Join(dir, "t-0")
}

// appendMiB appends about mib MiB in 64 KiB batches and returns the bytes
// written, in order, as the log holds them (base offsets assigned).
func appendMiB(t *testing.T, l *Log, mib int) []byte {
	t.Helper()
	var all []byte
	for n := 0; n < mib<<20; {
		b := simpleBatch(64, 1000, 1000)
		mustAppend(t, l, b, 0)
		all = append(all, b...)
		n += len(b)
	}
	return all
}

// trimmedLog opens a log with a hot window of hot bytes (0: none), appends
// about mib MiB and runs a trimmer pass; it returns the log and the bytes.
func trimmedLog(t *testing.T, hot int64, cfg Config, mib int) (*Log, []byte) {
	t.Helper()
	opts := testOpts(t, nil, nil)
	opts.CacheHotBytes = hot
	l := mustOpen(t, cacheDir(t), cfg, opts)
	t.Cleanup(func() { l.Close() })
	all := appendMiB(t, l, mib)
	l.trimCache()
	return l, all
}

// cacheManager opens a Manager on a disk-backed directory and one log in it,
// topic "t" partition 0; both close at the end of the test.
func cacheManager(t *testing.T, opts ManagerOptions) (*Manager, *Log) {
	t.Helper()
	m, err := NewManager(filepath.Dir(cacheDir(t)), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	l, err := m.GetOrCreate("t", 0, [16]byte{1}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return m, l
}

func TestCacheTrimKeepsOnlyTheHotWindow(t *testing.T) {
	l, want := trimmedLog(t, 8<<20, Config{}, 40)

	seg := l.active()
	path := seg.paths()[0]
	size := seg.size.Load()
	hotStart := size - 8<<20
	if got := seg.dropped.Load(); got != hotStart&^(pageSize-1) {
		t.Fatalf("dropped mark %d, want %d (size %d)", got, hotStart&^(pageSize-1), size)
	}
	if r := resident(t, path, 0, hotStart-pageSize); r > 0.02 {
		t.Errorf("%.0f%% of the pages older than the hot window are still cached", r*100)
	}
	if r := resident(t, path, hotStart+pageSize, size-hotStart-pageSize); r < 0.98 {
		t.Errorf("only %.0f%% of the hot window is cached", r*100)
	}
	// Dropping pages never changes what is read.
	if got := readLogBytes(t, l); !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes that differ from the %d appended", len(got), len(want))
	}
}

func TestCacheTrimDisabledLeavesTheCache(t *testing.T) {
	l, _ := trimmedLog(t, 0, Config{}, 16)
	seg := l.active()
	if r := resident(t, seg.paths()[0], 0, seg.size.Load()); r < 0.98 {
		t.Fatalf("without a hot window %.0f%% of the log is cached, want all of it", r*100)
	}
}

// checkWindow checks that, over all segments, the bytes older than the
// newest hot bytes are out of the page cache and the newest are in it.
func checkWindow(t *testing.T, l *Log, hot int64, when string) {
	t.Helper()
	segs := l.segments()
	var total int64
	for _, s := range segs {
		total += s.size.Load()
	}
	var pos int64
	for _, s := range segs {
		size := s.size.Load()
		old := min(max(total-hot-pos, 0), size) // bytes of s before the window
		// Page-cache folios can be larger than a page, and one straddling
		// the window's edge stays: check clear of the edges.
		const margin = 1 << 20
		if old > 2*margin {
			if r := resident(t, s.paths()[0], 0, old-margin); r > 0.02 {
				t.Errorf("%s: segment %d: %.0f%% of its %d bytes before the window still cached", when, s.base, r*100, old)
			}
		}
		if size-old > 2*margin {
			if r := resident(t, s.paths()[0], old+margin, size-old-margin); r < 0.98 {
				t.Errorf("%s: segment %d: only %.0f%% of its %d bytes in the window cached", when, s.base, r*100, size-old)
			}
		}
		pos += size
	}
}

func TestCacheTrimAcrossSegmentsAndTruncation(t *testing.T) {
	l, first := trimmedLog(t, 6<<20, Config{SegmentBytes: 8 << 20}, 30) // four segments
	if n := len(l.segments()); n < 4 {
		t.Fatalf("%d segments, want at least 4", n)
	}
	checkWindow(t, l, 6<<20, "after 30 MiB")

	// Cut the log back into the dropped range, append again: the marks
	// follow the shorter file and the new bytes are trimmed as before.
	if err := l.TruncateTo(l.active().base + 64); err != nil {
		t.Fatal(err)
	}
	var kept int64
	for _, s := range l.segments() {
		kept += s.size.Load()
	}
	want := append(first[:kept:kept], appendMiB(t, l, 20)...)
	l.trimCache()
	checkWindow(t, l, 6<<20, "after truncation and 20 MiB more")
	if got := readLogBytes(t, l); !bytes.Equal(got, want) {
		t.Fatalf("after truncation and trimming the log reads back differently")
	}
}

func TestManagerTrimsInTheBackground(t *testing.T) {
	_, l := cacheManager(t, ManagerOptions{CacheHotBytes: 8 << 20})
	appendMiB(t, l, 32)
	seg := l.active()
	// The trimmer runs once per 4 MiB appended, off the append path; wait
	// for the pass the last chunk asked for.
	want := (seg.size.Load() - 8<<20 - cacheChunk) &^ (pageSize - 1)
	deadline := time.Now().Add(20 * time.Second)
	for seg.dropped.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := seg.dropped.Load(); got < want {
		t.Fatalf("background trimming dropped up to %d, want at least %d", got, want)
	}
	if r := resident(t, seg.paths()[0], 0, want-pageSize); r > 0.02 {
		t.Errorf("%.0f%% of the trimmed range is still cached", r*100)
	}
}

func TestReadColdReadsPastTheCache(t *testing.T) {
	l, want := trimmedLog(t, 2<<20, Config{SegmentBytes: 5 << 20}, 16) // four segments: slices end at unaligned file ends

	var got []byte
	buf := []byte("prefix")
	reads, fromAhead, headersInMemory := 0, 0, 0
	allocs0 := aheadAllocs.Load()
	var prev *segment
	for off := int64(0); off < l.LogEndOffset(); {
		fs, err := l.ReadSlice(off, 300<<10, -1, true)
		if err != nil {
			t.Fatal(err)
		}
		if !fs.Cold() {
			fs.Release()
			break
		}
		if fs.seg == prev {
			// Read on in the same segment: the batch headers that
			// located this slice came from the read-ahead, not
			// through the cache (which pulls in a page per header);
			// nothing up to the slice's end is cached.
			if r := resident(t, fs.seg.paths()[0], 0, fs.Pos+fs.Len); r != 0 {
				t.Fatalf("slice [%d, %d) after a cold read: %.2f%% of the segment up to it cached by ReadSlice", fs.Pos, fs.Pos+fs.Len, r*100)
			}
			headersInMemory++
		}
		prev = fs.seg
		// Regions at every alignment: ReadCold aligns inside them.
		at := len(buf)
		buf = append(buf, make([]byte, fs.ColdBufSize())...)
		region := buf[at:]
		recs, err := fs.ReadCold(region)
		if err != nil {
			t.Fatalf("ReadCold at offset %d: %v", off, err)
		}
		if int64(len(recs.Bytes)) != fs.Len {
			t.Fatalf("ReadCold returned %d bytes of a %d byte slice", len(recs.Bytes), fs.Len)
		}
		p, r0 := uintptr(unsafe.Pointer(&recs.Bytes[0])), uintptr(unsafe.Pointer(&region[0]))
		inRegion := p >= r0 && p < r0+uintptr(len(region))
		if recs.buf != nil {
			// Handed over in the read-ahead buffer, not copied.
			fromAhead++
			if inRegion {
				t.Fatal("records from the read-ahead are in the region too")
			}
		} else if !inRegion {
			t.Fatal("records read directly are not in the region")
		}
		buf = append(buf, "x"...)
		got = append(got, recs.Bytes...)
		off = lastOffsetOf(t, recs.Bytes) + 1
		recs.Release()
		reads++
		// The range after the slice is being read ahead, from its block.
		fs.seg.aheadMu.Lock()
		a := fs.seg.ahead
		fs.seg.aheadMu.Unlock()
		if next := fs.Pos + fs.Len; next < fs.seg.dropped.Load() {
			if a == nil || a.start != next&^(dioAlign-1) {
				t.Fatalf("after the cold read of [%d, %d) nothing is read ahead from block %d", fs.Pos, next, next&^(dioAlign-1))
			}
		}
	}
	if reads < 20 {
		t.Fatalf("only %d cold reads", reads)
	}
	// Released buffers are used again: one is read into while the
	// other is held (plus one a segment's last read-ahead may keep).
	if n := aheadAllocs.Load() - allocs0; n > 4 {
		t.Errorf("%d cold reads allocated %d read-ahead buffers", reads, n)
	}
	// All but the first read of each segment are read ahead.
	if segs := len(l.segments()); fromAhead < reads-segs || headersInMemory < reads-segs {
		t.Fatalf("%d cold reads in %d segments: %d from the read-ahead, %d located from it", reads, segs, fromAhead, headersInMemory)
	}
	if !bytes.Equal(got, want[:len(got)]) {
		t.Fatal("cold reads returned different bytes than were appended")
	}
	if string(buf[:6]) != "prefix" {
		t.Fatal("ReadCold wrote outside its region")
	}
	// The direct reads left the cache alone.
	for _, s := range l.segments()[:2] {
		if r := resident(t, s.paths()[0], 0, s.size.Load()); r > 0.05 {
			t.Errorf("segment %d: %.0f%% cached after direct reads", s.base, r*100)
		}
	}
	// Every pin was released: closing the log closes the files at once.
	for _, s := range l.segments() {
		if n := s.pins.Load(); n != 0 {
			t.Fatalf("segment %d still has %d pins", s.base, n)
		}
	}
}

func TestTruncationDropsTheReadAhead(t *testing.T) {
	l, _ := trimmedLog(t, 1<<20, Config{}, 8)
	fs, err := l.ReadSlice(0, 256<<10, -1, true)
	if err != nil || !fs.Cold() {
		t.Fatalf("ReadSlice: cold %v, %v", fs.Cold(), err)
	}
	seg := fs.seg
	recs, err := fs.ReadCold(make([]byte, fs.ColdBufSize()))
	if err != nil {
		t.Fatal(err)
	}
	recs.Release()
	seg.aheadMu.Lock()
	a := seg.ahead
	seg.aheadMu.Unlock()
	if a == nil {
		t.Fatal("no read-ahead after a cold read")
	}
	<-a.done
	if err := l.TruncateTo(lastOffsetOf(t, readLogBytes(t, l)[:fs.Len]) + 1); err != nil {
		t.Fatal(err)
	}
	seg.aheadMu.Lock()
	defer seg.aheadMu.Unlock()
	if seg.ahead != nil {
		t.Fatal("the read-ahead of bytes that truncation cut is still there")
	}
}

func TestNoReadAheadForASliceFoundBeforeATruncation(t *testing.T) {
	l, want := trimmedLog(t, 1<<20, Config{}, 8)
	fs, err := l.ReadSlice(0, 256<<10, -1, true)
	if err != nil || !fs.Cold() {
		t.Fatalf("ReadSlice: cold %v, %v", fs.Cold(), err)
	}
	seg := fs.seg
	// The log is cut right after the slice and written again: what
	// follows the slice in the file is no longer what it was.
	if err := l.TruncateTo(lastOffsetOf(t, want[:fs.Len]) + 1); err != nil {
		t.Fatal(err)
	}
	appendMiB(t, l, 1)
	recs, err := fs.ReadCold(make([]byte, fs.ColdBufSize()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(recs.Bytes, want[:fs.Len]) {
		t.Fatal("the cold read returned other bytes than the slice's")
	}
	recs.Release()
	seg.aheadMu.Lock()
	defer seg.aheadMu.Unlock()
	if seg.ahead != nil {
		t.Fatal("a slice found before the truncation started a read-ahead of what came after it")
	}
}

// cachedBytes is how many bytes of l's segment files are in the page cache.
func cachedBytes(t *testing.T, l *Log) int64 {
	t.Helper()
	var n int64
	for _, s := range l.segments() {
		if size := s.size.Load(); size > 0 {
			n += int64(resident(t, s.paths()[0], 0, size) * float64(size))
		}
	}
	return n
}

func TestBrokerWideWindowBoundsAllLogsTogether(t *testing.T) {
	const total = 16 << 20
	tr := &cacheTrimmer{total: total} // passes run here, not on its goroutine
	root := filepath.Dir(cacheDir(t))
	opts := testOpts(t, nil, nil)
	opts.CacheHotBytes = 64 << 20 // each log's own window holds all it gets
	var logs []*Log
	var want [][]byte
	for i := range 4 {
		l := mustOpen(t, filepath.Join(root, "t-"+string(rune('0'+i))), Config{}, opts)
		defer l.Close()
		logs = append(logs, l)
		want = append(want, nil)
	}
	write := func(i int) {
		want[i] = append(want[i], appendMiB(t, logs[i], 4)...) // a chunk, then its pass
		tr.pass(logs[i])
	}
	// One log alone: it keeps the broker-wide window, not its own.
	for range 6 {
		write(0)
	}
	if got := cachedBytes(t, logs[0]); got > total+cacheChunk || got < total-cacheChunk {
		t.Fatalf("one log written alone: %d MiB cached, want about %d MiB", got>>20, total>>20)
	}
	// The others take turns; the first is idle from now on.
	for range 6 {
		for i := 1; i < 4; i++ {
			write(i)
		}
	}
	if got := cachedBytes(t, logs[0]); got > 256<<10 {
		t.Errorf("the idle log still has %d KiB cached after %d MiB were written to the others", got>>10, 3*24)
	}
	var sum int64
	for i, l := range logs {
		c := cachedBytes(t, l)
		sum += c
		seg := l.active()
		size := seg.size.Load()
		if i > 0 {
			// The newest chunk of every busy log is cached.
			if r := resident(t, seg.paths()[0], size-cacheChunk+pageSize, cacheChunk-2*pageSize); r < 0.98 {
				t.Errorf("log %d: only %.0f%% of its newest chunk is cached", i, r*100)
			}
		}
	}
	if sum > total+2*cacheChunk {
		t.Errorf("%d MiB cached by the four logs together, window %d MiB", sum>>20, total>>20)
	}
	// Dropping pages never changes what is read.
	for i, l := range logs {
		if got := readLogBytes(t, l); !bytes.Equal(got, want[i]) {
			t.Fatalf("log %d: read back %d bytes that differ from the %d appended", i, len(got), len(want[i]))
		}
	}
	// The idle log left the trimmer's list once all of it was dropped.
	for _, l := range tr.logs {
		if l == logs[0] {
			t.Error("the idle, dropped log is still listed")
		}
	}
}

func TestManagerBoundsTheCacheOfAllLogs(t *testing.T) {
	m, a := cacheManager(t, ManagerOptions{CacheHotBytes: 64 << 20, CacheHotTotalBytes: 8 << 20})
	b, err := m.GetOrCreate("b", 0, [16]byte{2}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	appendMiB(t, a, 24)
	appendMiB(t, b, 40)
	// The background passes drop a's pages once b has written more than
	// the broker-wide window after it.
	seg := a.active()
	want := seg.size.Load() - cacheChunk - pageSize
	deadline := time.Now().Add(20 * time.Second)
	for seg.dropped.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := seg.dropped.Load(); got < want {
		t.Fatalf("the idle log's cache was dropped up to %d, want at least %d", got, want)
	}
	if got := cachedBytes(t, a); got > cacheChunk+pageSize {
		t.Errorf("the idle log still has %d KiB cached", got>>10)
	}
}

func TestKeptReadAheadBuffersAreFreedWhenIdle(t *testing.T) {
	drainAheadBufs(time.Now().Add(time.Hour))
	b := getAheadBuf()
	putAheadBuf(b)
	drainAheadBufs(time.Now())
	if len(aheadFree) != 1 {
		t.Fatalf("%d buffers kept right after a read, want 1", len(aheadFree))
	}
	drainAheadBufs(time.Now().Add(aheadIdle + time.Second))
	if len(aheadFree) != 0 {
		t.Fatalf("%d buffers still kept after %v without cold reads", len(aheadFree), aheadIdle)
	}
}

func TestManagerForgetsReadAheadsNobodyCameBackFor(t *testing.T) {
	m, l := cacheManager(t, ManagerOptions{CacheHotBytes: 1 << 20})
	appendMiB(t, l, 8)
	l.trimCache()
	fs, err := l.ReadSlice(0, 256<<10, -1, true)
	if err != nil || !fs.Cold() {
		t.Fatalf("ReadSlice: cold %v, %v", fs.Cold(), err)
	}
	recs, err := fs.ReadCold(make([]byte, fs.ColdBufSize()))
	if err != nil {
		t.Fatal(err)
	}
	recs.Release()
	pending := func() bool {
		fs.seg.aheadMu.Lock()
		defer fs.seg.aheadMu.Unlock()
		return fs.seg.ahead != nil
	}
	if !pending() {
		t.Fatal("no read-ahead after a cold read")
	}
	m.releaseIdleReadAheads(time.Now())
	if !pending() {
		t.Fatal("the read-ahead of a cold read just made was dropped")
	}
	m.releaseIdleReadAheads(time.Now().Add(aheadIdle + time.Second))
	if pending() {
		t.Fatalf("a read-ahead is still kept after %v without cold reads", aheadIdle)
	}
}

func TestAReplacedReadAheadGivesItsBufferBack(t *testing.T) {
	l, _ := trimmedLog(t, 1<<20, Config{}, 8)
	fs, err := l.ReadSlice(0, 256<<10, -1, true)
	if err != nil || !fs.Cold() {
		t.Fatalf("ReadSlice: cold %v, %v", fs.Cold(), err)
	}
	defer fs.Release()
	s := fs.seg
	df := s.directFile()
	if df == nil {
		t.Fatal("no direct file for a cold segment")
	}
	drainAheadBufs(time.Now().Add(time.Hour))
	// Two readers of the segment: the second read-ahead replaces the
	// first, whose buffer is kept for the next one once its read is done.
	s.readAhead(df, fs, 256<<10)
	s.aheadMu.Lock()
	first := s.ahead
	s.aheadMu.Unlock()
	s.readAhead(df, fs, 256<<10)
	<-first.done
	for deadline := time.Now().Add(10 * time.Second); len(aheadFree) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	select {
	case b := <-aheadFree:
		if b != first.buf {
			t.Fatal("the kept buffer is not the replaced read-ahead's")
		}
	default:
		t.Fatal("the replaced read-ahead's buffer was not kept")
	}
	s.aheadMu.Lock()
	defer s.aheadMu.Unlock()
	if s.ahead == nil || s.ahead == first {
		t.Fatal("the second read-ahead is not the segment's")
	}
}

func TestTakeReadAheadServesTheNextSliceWithoutARegion(t *testing.T) {
	l, want := trimmedLog(t, 1<<20, Config{}, 8)
	fs, err := l.ReadSlice(0, 256<<10, -1, true)
	if err != nil || !fs.Cold() {
		t.Fatalf("ReadSlice: cold %v, %v", fs.Cold(), err)
	}
	if _, ok := fs.TakeReadAhead(); ok {
		t.Fatal("the first cold read of a segment came from a read-ahead")
	}
	recs, err := fs.ReadCold(make([]byte, fs.ColdBufSize()))
	if err != nil {
		t.Fatal(err)
	}
	got := append([]byte(nil), recs.Bytes...)
	off := lastOffsetOf(t, recs.Bytes) + 1
	recs.Release()
	for range 8 {
		fs, err := l.ReadSlice(off, 256<<10, -1, true)
		if err != nil || !fs.Cold() {
			t.Fatalf("ReadSlice(%d): cold %v, %v", off, fs.Cold(), err)
		}
		recs, ok := fs.TakeReadAhead()
		if !ok {
			t.Fatalf("the slice at offset %d, right after the last, is not in the read-ahead", off)
		}
		if recs.buf == nil || int64(len(recs.Bytes)) != fs.Len {
			t.Fatalf("read-ahead records: %d bytes of a %d byte slice, buffer handed over %v", len(recs.Bytes), fs.Len, recs.buf != nil)
		}
		got = append(got, recs.Bytes...)
		off = lastOffsetOf(t, recs.Bytes) + 1
		recs.Release()
	}
	if !bytes.Equal(got, want[:len(got)]) {
		t.Fatal("the read-ahead returned different bytes than were appended")
	}
	// A slice somewhere else is not in the read-ahead, and stays held for
	// ReadCold.
	fs, err = l.ReadSlice(1, 256<<10, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fs.TakeReadAhead(); ok {
		t.Fatal("a slice away from the read-ahead came from it")
	}
	if fs.seg.pins.Load() == 0 {
		t.Fatal("a slice not taken from the read-ahead was released")
	}
	recs, err = fs.ReadCold(make([]byte, fs.ColdBufSize()))
	if err != nil {
		t.Fatal(err)
	}
	recs.Release()
	for _, s := range l.segments() {
		s.aheadMu.Lock()
		a := s.ahead
		s.aheadMu.Unlock()
		if a != nil {
			<-a.done
		}
		for deadline := time.Now().Add(10 * time.Second); s.pins.Load() != 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if n := s.pins.Load(); n != 0 {
			t.Fatalf("segment %d still has %d pins", s.base, n)
		}
	}
}

// accessMode is the O_ACCMODE part of the flags of the open file
// description behind fd.
func accessMode(t *testing.T, fd uintptr) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(int(fd)))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n) & unix.O_ACCMODE
		}
	}
	t.Fatalf("no flags in fdinfo of %d", fd)
	return 0
}

// The trimmer's write-back and drops go through an open file description
// of its own, never the one the log writes and fsyncs: Linux reports a
// write-back error once per description, and a sync_file_range that waited
// on the fsync's description would take the error that fsync must return.
func TestTrimmerUsesItsOwnFileDescription(t *testing.T) {
	l, _ := trimmedLog(t, 1<<20, Config{}, 8)
	s := l.active()
	s.pcMu.Lock()
	pc := s.pc
	s.pcMu.Unlock()
	own, ok := pc.(osPageCache)
	if !ok {
		t.Fatalf("trimmer's handle is %T, want a description of its own", pc)
	}
	logFile := s.log.(*os.File)
	// A dup would share the log's description, and so its read-write mode.
	if own.f.Fd() == logFile.Fd() || accessMode(t, own.f.Fd()) != unix.O_RDONLY ||
		accessMode(t, logFile.Fd()) != unix.O_RDWR {
		t.Fatalf("trimmer fd %d (mode %d), log fd %d (mode %d)", own.f.Fd(), accessMode(t, own.f.Fd()),
			logFile.Fd(), accessMode(t, logFile.Fd()))
	}
	a, _ := own.f.Stat()
	b, _ := logFile.Stat()
	if !os.SameFile(a, b) {
		t.Fatal("the trimmer's descriptor is not the segment's file")
	}
}

// A write-back error that the trimmer's sync_file_range reports fails the
// log, as a failed fsync does.
func TestTrimmerWritebackErrorsFailTheLog(t *testing.T) {
	for name, failing := range map[string]func(flags int) bool{
		"start writeback":    func(f int) bool { return f == unix.SYNC_FILE_RANGE_WRITE },
		"wait for writeback": func(f int) bool { return f&unix.SYNC_FILE_RANGE_WAIT_AFTER != 0 },
	} {
		t.Run(name, func(t *testing.T) {
			fsys := newFaultFS()
			opts := testOpts(t, fsys, nil)
			opts.CacheHotBytes = 1 << 20
			var calls atomic.Int32
			opts.OnFailure = func(error) { calls.Add(1) }
			l := mustOpen(t, t.TempDir(), Config{}, opts)
			defer l.Close()
			appendMiB(t, l, 6)
			fsys.mu.Lock()
			fsys.failRangeSync = failing
			fsys.mu.Unlock()
			l.trimCache()
			err := l.Err()
			if !errors.Is(err, ErrStorage) || !errors.Is(err, errInjected) ||
				!strings.Contains(err.Error(), "00000000000000000000.log") {
				t.Fatalf("Err after a failed write-back: %v", err)
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("OnFailure called %d times", n)
			}
			if _, err := l.Append(simpleBatch(1, 1, 1), 0, -1); !errors.Is(err, ErrStorage) {
				t.Fatalf("append after a failed write-back: %v", err)
			}
		})
	}
}
