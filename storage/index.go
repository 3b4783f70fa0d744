package storage

import (
	"encoding/binary"
	"errors"
	"io"
	"sort"
	"sync/atomic"
)

// Kafka's index entry sizes.
const (
	offsetEntrySize = 8  // relativeOffset int32, position int32
	timeEntrySize   = 12 // timestamp int64, relativeOffset int32
)

var errCorruptIndex = errors.New("corrupt index")

// entryList is an append-only list published to lock-free readers: the
// appender (holding Log.mu) writes element n, then stores n+1; readers load
// n, then the backing array, and only look at [0, n). The array is replaced
// (copied) when it grows; truncation happens with Log.truncMu held for
// writing, so no reader is looking.
type entryList[E any] struct {
	n   atomic.Int64
	arr atomic.Pointer[[]E]
}

func (l *entryList[E]) view() []E {
	n := l.n.Load()
	p := l.arr.Load()
	if p == nil {
		return nil
	}
	return (*p)[:n]
}

func (l *entryList[E]) add(e E) {
	n := l.n.Load()
	p := l.arr.Load()
	var a []E
	if p != nil {
		a = *p
	}
	if int(n) == len(a) {
		na := make([]E, max(2*len(a), 64))
		copy(na, a)
		l.arr.Store(&na)
		a = na
	}
	a[n] = e
	l.n.Store(n + 1)
}

func (l *entryList[E]) reset(es []E) {
	a := es[:len(es):len(es)]
	l.arr.Store(&a)
	l.n.Store(int64(len(es)))
}

func (l *entryList[E]) truncate(n int) { l.n.Store(int64(n)) }

type offsetEntry struct {
	rel int32 // offset - base (Kafka writes the batch's last offset)
	pos int32
}

type timeEntry struct {
	ts  int64
	rel int32
}

// offsetIndex is Kafka's OffsetIndex: a sparse map from offsets to file
// positions, written append-only at its exact size (no pre-allocation), so
// the file always holds exactly its entries.
type offsetIndex struct {
	f          File
	base       int64
	maxEntries int
	entries    entryList[offsetEntry]
	scratch    [offsetEntrySize]byte // guarded by Log.mu
}

// lookup returns the position of the last entry whose offset is <= target,
// or 0: the scan for target starts there.
func (x *offsetIndex) lookup(target int64) int64 {
	es := x.entries.view()
	rel := target - x.base
	i := sort.Search(len(es), func(i int) bool { return int64(es[i].rel) > rel })
	if i == 0 {
		return 0
	}
	return int64(es[i-1].pos)
}

// upperBound returns a file position at or after the end of the batch that
// holds target, or -1 when the index does not know one.
func (x *offsetIndex) upperBound(target int64) int64 {
	es := x.entries.view()
	rel := target - x.base
	i := sort.Search(len(es), func(i int) bool { return int64(es[i].rel) >= rel })
	// es[i] is the batch whose last offset >= target, so target's batch is at
	// or before es[i].pos; es[i+1].pos is past its end.
	if i+1 < len(es) {
		return int64(es[i+1].pos)
	}
	return -1
}

func (x *offsetIndex) full() bool { return int(x.entries.n.Load()) >= x.maxEntries }

func (x *offsetIndex) append(offset, pos int64) error {
	n := x.entries.n.Load()
	binary.BigEndian.PutUint32(x.scratch[0:], uint32(offset-x.base))
	binary.BigEndian.PutUint32(x.scratch[4:], uint32(pos))
	if _, err := x.f.WriteAt(x.scratch[:], n*offsetEntrySize); err != nil {
		_ = x.f.Truncate(n * offsetEntrySize) // no torn entry (a full disk)
		return err
	}
	x.add(offset, pos)
	return nil
}

// add appends an entry in memory only (a rebuild, written by rewrite).
func (x *offsetIndex) add(offset, pos int64) {
	x.entries.add(offsetEntry{rel: int32(offset - x.base), pos: int32(pos)})
}

// rewrite makes the file hold exactly the entries in memory.
func (x *offsetIndex) rewrite() error {
	es := x.entries.view()
	b := make([]byte, 0, len(es)*offsetEntrySize)
	for _, e := range es {
		b = binary.BigEndian.AppendUint32(b, uint32(e.rel))
		b = binary.BigEndian.AppendUint32(b, uint32(e.pos))
	}
	return writeWhole(x.f, b)
}

// truncateToPos drops the entries that point at or past pos.
func (x *offsetIndex) truncateToPos(pos int64) error {
	es := x.entries.view()
	i := sort.Search(len(es), func(i int) bool { return int64(es[i].pos) >= pos })
	x.entries.truncate(i)
	return x.f.Truncate(int64(i) * offsetEntrySize)
}

// load reads and sanity-checks the file: whole entries, strictly increasing
// offsets and positions, every position inside the log and every offset
// inside the segment.
func (x *offsetIndex) load(logSize int64) error {
	b, err := readAll(x.f)
	if err != nil {
		return err
	}
	if len(b)%offsetEntrySize != 0 {
		return errCorruptIndex
	}
	es := make([]offsetEntry, len(b)/offsetEntrySize)
	for i := range es {
		e := offsetEntry{
			rel: int32(binary.BigEndian.Uint32(b[i*offsetEntrySize:])),
			pos: int32(binary.BigEndian.Uint32(b[i*offsetEntrySize+4:])),
		}
		if e.rel < 0 || e.pos < 0 || int64(e.pos) >= logSize ||
			(i > 0 && (e.rel <= es[i-1].rel || e.pos <= es[i-1].pos)) {
			return errCorruptIndex
		}
		es[i] = e
	}
	x.entries.reset(es)
	return nil
}

// timeIndex is Kafka's TimeIndex: (max timestamp so far, offset of the batch
// that holds it) entries, appended only when the timestamp grows.
type timeIndex struct {
	f          File
	base       int64
	maxEntries int
	entries    entryList[timeEntry]
	scratch    [timeEntrySize]byte // guarded by Log.mu
}

func (x *timeIndex) full() bool { return int(x.entries.n.Load()) >= x.maxEntries }

func (x *timeIndex) last() (timeEntry, bool) {
	es := x.entries.view()
	if len(es) == 0 {
		return timeEntry{}, false
	}
	return es[len(es)-1], true
}

// maybeAppend adds (ts, offset) when ts is larger than the last entry's, as
// Kafka's TimeIndex.maybeAppend. force skips the full check (segment roll).
func (x *timeIndex) maybeAppend(ts, offset int64, force bool) error {
	if !x.wants(ts, force) {
		return nil
	}
	n := x.entries.n.Load()
	binary.BigEndian.PutUint64(x.scratch[0:], uint64(ts))
	binary.BigEndian.PutUint32(x.scratch[8:], uint32(offset-x.base))
	if _, err := x.f.WriteAt(x.scratch[:], n*timeEntrySize); err != nil {
		_ = x.f.Truncate(n * timeEntrySize) // no torn entry (a full disk)
		return err
	}
	x.entries.add(timeEntry{ts: ts, rel: int32(offset - x.base)})
	return nil
}

// maybeAdd is maybeAppend in memory only (a rebuild, written by rewrite).
func (x *timeIndex) maybeAdd(ts, offset int64, force bool) {
	if x.wants(ts, force) {
		x.entries.add(timeEntry{ts: ts, rel: int32(offset - x.base)})
	}
}

func (x *timeIndex) wants(ts int64, force bool) bool {
	if ts < 0 || (!force && x.full()) {
		return false
	}
	last, ok := x.last()
	return !ok || ts > last.ts
}

// lookup returns the offset of the last entry with timestamp <= ts, or the
// base offset: the search for ts starts at the batch holding that offset.
func (x *timeIndex) lookup(ts int64) int64 {
	es := x.entries.view()
	i := sort.Search(len(es), func(i int) bool { return es[i].ts > ts })
	if i == 0 {
		return x.base
	}
	return x.base + int64(es[i-1].rel)
}

// truncateToOffset drops entries whose offset is >= offset.
func (x *timeIndex) truncateToOffset(offset int64) error {
	es := x.entries.view()
	rel := offset - x.base
	i := sort.Search(len(es), func(i int) bool { return int64(es[i].rel) >= rel })
	x.entries.truncate(i)
	return x.f.Truncate(int64(i) * timeEntrySize)
}

// rewrite makes the file hold exactly the entries in memory.
func (x *timeIndex) rewrite() error {
	es := x.entries.view()
	b := make([]byte, 0, len(es)*timeEntrySize)
	for _, e := range es {
		b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
		b = binary.BigEndian.AppendUint32(b, uint32(e.rel))
	}
	return writeWhole(x.f, b)
}

// writeWhole makes f hold exactly b.
func writeWhole(f File, b []byte) error {
	if len(b) > 0 {
		if _, err := f.WriteAt(b, 0); err != nil {
			return err
		}
	}
	return f.Truncate(int64(len(b)))
}

func (x *timeIndex) load(lastOffset int64) error {
	b, err := readAll(x.f)
	if err != nil {
		return err
	}
	if len(b)%timeEntrySize != 0 {
		return errCorruptIndex
	}
	es := make([]timeEntry, len(b)/timeEntrySize)
	for i := range es {
		e := timeEntry{
			ts:  int64(binary.BigEndian.Uint64(b[i*timeEntrySize:])),
			rel: int32(binary.BigEndian.Uint32(b[i*timeEntrySize+8:])),
		}
		if e.rel < 0 || x.base+int64(e.rel) > lastOffset ||
			(i > 0 && (e.ts <= es[i-1].ts || e.rel < es[i-1].rel)) {
			return errCorruptIndex
		}
		es[i] = e
	}
	x.entries.reset(es)
	return nil
}

// readAll reads a whole file with ReadAt.
func readAll(f File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	n, err := f.ReadAt(b, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
		return nil, err
	}
	return b, nil
}
