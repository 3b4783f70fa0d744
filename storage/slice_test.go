package storage

import (
	"bytes"
	"math/rand"
	"testing"
	"time"
)

// readSliceBytes returns the bytes of a ReadSlice, read back through the
// slice, and releases it.
func readSliceBytes(t *testing.T, l *Log, offset int64, maxBytes int32, upTo int64, minOne bool) []byte {
	t.Helper()
	fs, err := l.ReadSlice(offset, maxBytes, upTo, minOne)
	if err != nil {
		t.Fatalf("ReadSlice(%d, %d, %d, %v): %v", offset, maxBytes, upTo, minOne, err)
	}
	defer fs.Release()
	buf := make([]byte, fs.Len)
	if n, err := fs.ReadAt(buf, 0); int64(n) != fs.Len {
		t.Fatalf("ReadAt of slice %+v: %d bytes, %v", fs, n, err)
	}
	return buf
}

// modelBatch is one appended batch as stored.
type modelBatch struct {
	base, last int64
	bytes      []byte
}

// modelRead is what a read must return, computed from the appended batches
// and the segment bases alone: from the first batch holding offset or after
// it, in the first segment that has one, whole batches below upTo within
// maxBytes (the first one whole when minOne), never crossing a segment;
// nothing for an offset at or past upTo.
func modelRead(batches []modelBatch, segBases []int64, offset int64, maxBytes int32, upTo int64, minOne bool) []byte {
	if offset >= upTo {
		return nil
	}
	segOf := func(off int64) int {
		i := 0
		for i+1 < len(segBases) && segBases[i+1] <= off {
			i++
		}
		return i
	}
	first := -1
	for i, b := range batches {
		if b.last >= offset {
			first = i
			break
		}
	}
	if first < 0 || batches[first].base >= upTo {
		return nil
	}
	seg := segOf(batches[first].base)
	var out []byte
	for i := first; i < len(batches) && segOf(batches[i].base) == seg && batches[i].base < upTo; i++ {
		if len(out)+len(batches[i].bytes) > int(maxBytes) {
			if i == first && minOne {
				out = append(out, batches[i].bytes...)
			}
			break
		}
		out = append(out, batches[i].bytes...)
	}
	return out
}

// TestReadSliceMatchesModel: for random offsets, byte limits and upper
// bounds, the slice holds exactly the batches modelRead picks, across
// segment rolls and with batches of many sizes (so that the index jump and
// the header walk both decide).
func TestReadSliceMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	cfg := Config{SegmentBytes: 64 << 10, IndexIntervalBytes: 4096}
	l := mustOpen(t, t.TempDir(), cfg, testOpts(t, nil, nil))
	defer l.Close()
	var batches []modelBatch
	for i := 0; i < 300; i++ {
		n := 1 + rng.Intn(8)
		size := 10 + rng.Intn(3000)
		b := simpleBatch(n, size, int64(1000+i))
		r := mustAppend(t, l, b, 0)
		batches = append(batches, modelBatch{base: r.BaseOffset, last: r.LastOffset, bytes: stamped(b, r.BaseOffset, 0)})
	}
	var segBases []int64
	for _, s := range l.segments() {
		segBases = append(segBases, s.base)
	}
	if len(segBases) < 5 {
		t.Fatalf("%d segments: the test needs rolls", len(segBases))
	}
	leo := l.LogEndOffset()
	l.SetHighWatermark(leo)
	for k := 0; k < 2000; k++ {
		off := rng.Int63n(leo + 1)
		maxBytes := int32(rng.Intn(40 << 10))
		upTo := int64(-1)
		if rng.Intn(3) == 0 {
			upTo = off + rng.Int63n(leo-off+1)
		}
		minOne := rng.Intn(4) != 0
		bound := upTo
		if bound < 0 {
			bound = leo
		}
		want := modelRead(batches, segBases, off, maxBytes, bound, minOne)
		got := readSliceBytes(t, l, off, maxBytes, upTo, minOne)
		if !bytes.Equal(got, want) {
			t.Fatalf("offset %d maxBytes %d upTo %d minOne %v: slice has %d bytes, want %d",
				off, maxBytes, upTo, minOne, len(got), len(want))
		}
	}
	if _, err := l.ReadSlice(leo+1, 1<<20, -1, true); err == nil {
		t.Fatal("ReadSlice past the log end: no error")
	}
}

// TestReadSliceKeepsFileOpen: a segment deleted by retention while a slice
// of it is pinned keeps its file open until the slice is released, so a
// pending send still reads the bytes it was given.
func TestReadSliceKeepsFileOpen(t *testing.T) {
	clock := &fakeClock{t: time.UnixMilli(1_000_000)}
	cfg := Config{SegmentBytes: 4 << 10, RetentionBytes: 1, FileDeleteDelay: -1}
	l := mustOpen(t, t.TempDir(), cfg, testOpts(t, nil, clock))
	defer l.Close()
	for i := 0; i < 6; i++ {
		mustAppend(t, l, simpleBatch(2, 1500, int64(1000+i)), 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
	want, err := l.Read(0, 1<<20, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := l.ReadSlice(0, 1<<20, -1, true)
	if err != nil || fs.Len == 0 {
		t.Fatalf("ReadSlice: %+v, %v", fs, err)
	}
	if freed, err := l.ApplyRetention(clock.Now()); err != nil || freed == 0 {
		t.Fatalf("retention: freed %d, %v; want the first segments gone", freed, err)
	}
	if l.LogStartOffset() == 0 {
		t.Fatal("retention did not move the log start offset")
	}
	buf := make([]byte, fs.Len)
	if n, err := fs.ReadAt(buf, 0); int64(n) != fs.Len || !bytes.Equal(buf, want.Records) {
		t.Fatalf("pinned slice after retention: %d bytes (%v), equal=%v", n, err, bytes.Equal(buf, want.Records))
	}
	fs.Release()
	if _, err := fs.ReadAt(buf, 0); err == nil {
		t.Fatal("the file is still open after the last release")
	}
}
