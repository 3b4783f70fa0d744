package storage

import (
	"os"
	"testing"
	"time"
)

// TestPreallocate: with preallocate the active segment's log file has its
// full segment.bytes from the start; a roll and Close cut it to its data;
// a crash leaves the zeros, which recovery cuts, losing nothing.
func TestPreallocate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UnixMilli() // loaded segments roll by their first batch's timestamp
	b := simpleBatch(2, 100, now)
	cfg := Config{SegmentBytes: int64(3*len(b)) + 10, Preallocate: true}
	size := func(base int64) int64 {
		st, err := os.Stat(offsetFileName(dir, base, logSuffix))
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	if got := size(0); got != cfg.SegmentBytes {
		t.Fatalf("new segment file %d bytes, want the preallocated %d", got, cfg.SegmentBytes)
	}
	for i := 0; i < 4; i++ { // the fourth rolls
		mustAppend(t, l, simpleBatch(2, 100, now), 0)
	}
	if got := size(0); got != int64(3*len(b)) {
		t.Fatalf("rolled segment file %d bytes, want its data, %d", got, 3*len(b))
	}
	if got := size(6); got != cfg.SegmentBytes {
		t.Fatalf("active segment file %d bytes, want %d", got, cfg.SegmentBytes)
	}
	want := readLogBytes(t, l)
	crash(l)
	l = mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	if got := readLogBytes(t, l); string(got) != string(want) || l.LogEndOffset() != 8 {
		t.Fatalf("after a crash with a preallocated segment: leo %d", l.LogEndOffset())
	}
	mustAppend(t, l, simpleBatch(2, 100, now), 0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := size(6); got != int64(2*len(b)) {
		t.Fatalf("active segment file %d bytes after Close, want its data, %d (%v)", got, 2*len(b), mustReadDir(t, dir))
	}
	l = mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	defer l.Close()
	if l.LogEndOffset() != 10 {
		t.Fatalf("leo %d after a clean reopen", l.LogEndOffset())
	}
}

// TestSegmentJitter: each segment draws its jitter in [0, min(segment.jitter.ms,
// segment.ms)), and rolls that much before segment.ms.
func TestSegmentJitter(t *testing.T) {
	cfg := Config{SegmentMs: time.Second, SegmentJitter: 10 * time.Second}.withDefaults()
	nonzero := false
	for range 200 {
		j := cfg.randomJitterMs()
		if j < 0 || j >= 1000 {
			t.Fatalf("jitter %d ms outside [0, 1000)", j)
		}
		nonzero = nonzero || j > 0
	}
	if !nonzero {
		t.Fatal("no jitter drawn")
	}
	if (&Config{SegmentMs: time.Second}).randomJitterMs() != 0 {
		t.Fatal("jitter without segment.jitter.ms")
	}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := mustOpen(t, t.TempDir(), Config{SegmentMs: time.Second}, testOpts(t, nil, clock))
	defer l.Close()
	mustAppend(t, l, simpleBatch(1, 10, 1), 0)
	l.mu.Lock()
	l.active().rollJitterMs = 400
	l.mu.Unlock()
	clock.Advance(700 * time.Millisecond) // past segment.ms - jitter, before segment.ms
	a := l.active()
	mustAppend(t, l, simpleBatch(1, 10, 1), 0)
	if l.active() == a {
		t.Fatal("the segment did not roll at segment.ms minus its jitter")
	}
}
