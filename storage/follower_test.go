package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/samsa-io/samsa/protocol"
)

// leaderLog builds a leader's log: batches of epochs 0, 0, 2, 2, 5 (two of
// them from an idempotent producer) and returns it with its bytes.
func leaderLog(t *testing.T, cfg Config) (*Log, []byte) {
	t.Helper()
	l := mustOpen(t, t.TempDir(), cfg, testOpts(t, nil, nil))
	t.Cleanup(func() { l.Close() })
	mustAppend(t, l, simpleBatch(3, 100, 1000), 0)
	mustAppend(t, l, idemBatch(2, 42, 0, 0), 0)
	mustAppend(t, l, simpleBatch(1, 300, 1001), 2)
	mustAppend(t, l, idemBatch(4, 42, 0, 2), 2)
	mustAppend(t, l, simpleBatch(5, 50, 1002), 5)
	return l, readLogBytes(t, l)
}

// sameEpochs fails unless both logs answer every epoch alike.
func sameEpochs(t *testing.T, a, b *Log) {
	t.Helper()
	if a.LatestEpoch() != b.LatestEpoch() {
		t.Fatalf("latest epoch %d, want %d", b.LatestEpoch(), a.LatestEpoch())
	}
	for e := int32(-1); e <= a.LatestEpoch()+1; e++ {
		ae, aep := a.EndOffsetForEpoch(e)
		be, bep := b.EndOffsetForEpoch(e)
		if ae != be || aep != bep {
			t.Fatalf("epoch %d: follower (%d, %d), leader (%d, %d)", e, be, bep, ae, aep)
		}
	}
}

func TestAppendAsFollowerKeepsTheLeadersBytes(t *testing.T) {
	leader, all := leaderLog(t, Config{})
	dir := t.TempDir()
	f := mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
	// The fetch response ends with the first 30 bytes of another batch.
	in := append(append([]byte(nil), all...), stamped(simpleBatch(2, 10, 5), leader.LogEndOffset(), 5)[:30]...)
	res, err := f.AppendAsFollower(in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Appended != 5 || res.Skipped != 0 || res.Bytes != len(all) || res.LastOffset != leader.LogEndOffset()-1 {
		t.Fatalf("result %+v, want 5 batches, %d bytes, last offset %d", res, len(all), leader.LogEndOffset()-1)
	}
	if f.LogEndOffset() != leader.LogEndOffset() {
		t.Fatalf("log end offset %d, want %d", f.LogEndOffset(), leader.LogEndOffset())
	}
	if got := readLogBytes(t, f); !bytes.Equal(got, all) {
		t.Fatal("the follower's log is not byte-identical to the leader's")
	}
	sameEpochs(t, leader, f)
	want, _ := leader.ProducerState(42)
	if got, ok := f.ProducerState(42); !ok || got != want {
		t.Fatalf("producer state %+v %v, want %+v", got, ok, want)
	}
	// Everything survives a restart as it was.
	f.Close()
	f = mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
	defer f.Close()
	if got := readLogBytes(t, f); !bytes.Equal(got, all) {
		t.Fatal("reopened follower log differs")
	}
	sameEpochs(t, leader, f)
	// Promoted to leader, the follower recognises the producer's retry.
	if _, err := f.Append(idemBatch(4, 42, 0, 2), 6, -1); !errors.Is(err, ErrDuplicateSequence) {
		t.Fatalf("retried batch after promotion: %v, want ErrDuplicateSequence", err)
	}
}

func TestAppendAsFollowerInPieces(t *testing.T) {
	leader, all := leaderLog(t, Config{})
	f := mustOpen(t, t.TempDir(), Config{SegmentBytes: 700}, testOpts(t, nil, nil))
	defer f.Close()
	// Fetch responses cut anywhere: each call takes the whole batches it
	// holds, the next one starts from the follower's log end offset.
	for step := 97; f.LogEndOffset() < leader.LogEndOffset(); step += 13 {
		res, err := leader.Read(f.LogEndOffset(), 1<<20, -1, true)
		if err != nil {
			t.Fatal(err)
		}
		cut := res.Records[:min(len(res.Records), step)]
		if _, err := f.AppendAsFollower(cut); err != nil {
			t.Fatal(err)
		}
	}
	if got := readLogBytes(t, f); !bytes.Equal(got, all) {
		t.Fatal("pieced-together follower log differs from the leader's")
	}
	if len(f.segments()) < 2 {
		t.Fatalf("segment.bytes=700 should have rolled: %d segments", len(f.segments()))
	}
	sameEpochs(t, leader, f)
}

func TestAppendAsFollowerRefusals(t *testing.T) {
	_, all := leaderLog(t, Config{})
	h, _ := decodeBatchHeader(all)
	first := all[:h.Size()]
	rest := all[h.Size():]

	t.Run("corrupt", func(t *testing.T) {
		dir := t.TempDir()
		f := mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
		defer f.Close()
		bad := append([]byte(nil), all...)
		bad[h.Size()+70] ^= 0xff // a record byte of the second batch
		before := dirState(t, dir)
		if _, err := f.AppendAsFollower(bad); !errors.Is(err, protocol.ErrCorruptBatch) {
			t.Fatalf("corrupt batch: %v, want ErrCorruptBatch", err)
		}
		if f.LogEndOffset() != 0 || f.Err() != nil {
			t.Fatalf("nothing may be written: leo %d err %v", f.LogEndOffset(), f.Err())
		}
		sameDirState(t, dir, before)
	})
	t.Run("gap", func(t *testing.T) {
		// A compacted leader's batches have gaps where its cleaner removed
		// whole batches (Kafka's followers accept them); offsets that go
		// backwards are refused.
		f := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
		defer f.Close()
		h2, _ := decodeBatchHeader(rest)
		backwards := append(append([]byte(nil), rest[:h2.Size()]...), first...)
		if _, err := f.AppendAsFollower(backwards); !errors.Is(err, ErrOffsetMismatch) {
			t.Fatalf("offsets going backwards: %v, want ErrOffsetMismatch", err)
		}
		if f.LogEndOffset() != 0 {
			t.Fatalf("leo %d after a refusal", f.LogEndOffset())
		}
		gapped := append(append([]byte(nil), first...), rest[h2.Size():]...)
		res, err := f.AppendAsFollower(gapped)
		if err != nil || res.Appended != 4 {
			t.Fatalf("gap between batches: %+v %v, want 4 appended", res, err)
		}
		if got := readLogBytes(t, f); !bytes.Equal(got, gapped) {
			t.Fatal("gapped follower log differs from what the leader sent")
		}
		if f.LogEndOffset() != lastOffsetOf(t, all)+1 {
			t.Fatalf("leo %d, want %d", f.LogEndOffset(), lastOffsetOf(t, all)+1)
		}
		// A first batch past the log end offset (the leader's cleaner
		// removed the batches in between) is accepted too.
		g := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
		defer g.Close()
		if _, err := g.AppendAsFollower(rest); err != nil || g.LogEndOffset() != lastOffsetOf(t, all)+1 {
			t.Fatalf("first batch past the log end: %v, leo %d", err, g.LogEndOffset())
		}
	})
	t.Run("present", func(t *testing.T) {
		f := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
		defer f.Close()
		if _, err := f.AppendAsFollower(first); err != nil {
			t.Fatal(err)
		}
		// The same batch again, with the rest: skipped, then appended on.
		res, err := f.AppendAsFollower(all)
		if err != nil || res.Skipped != 1 || res.Appended != 4 {
			t.Fatalf("present batch: %+v %v, want 1 skipped, 4 appended", res, err)
		}
		if got := readLogBytes(t, f); !bytes.Equal(got, all) {
			t.Fatal("log differs after a skipped batch")
		}
		// A different batch at an offset the log holds is a divergence.
		// (base offset and epoch lie outside the CRC)
		other := stamped(simpleBatch(3, 100, 999), 0, 0)
		if _, err := f.AppendAsFollower(other); !errors.Is(err, ErrOffsetMismatch) {
			t.Fatalf("different batch below the log end: %v, want ErrOffsetMismatch", err)
		}
	})
	t.Run("epoch regression", func(t *testing.T) {
		f := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
		defer f.Close()
		b1 := stamped(simpleBatch(1, 10, 1), 0, 4)
		b2 := stamped(simpleBatch(1, 10, 1), 1, 3)
		if _, err := f.AppendAsFollower(append(append([]byte(nil), b1...), b2...)); !errors.Is(err, ErrEpochRegression) {
			t.Fatalf("epochs 4 then 3: %v, want ErrEpochRegression", err)
		}
		if _, err := f.AppendAsFollower(b1); err != nil {
			t.Fatal(err)
		}
		if _, err := f.AppendAsFollower(b2); !errors.Is(err, ErrEpochRegression) {
			t.Fatalf("epoch 3 after data of epoch 4: %v, want ErrEpochRegression", err)
		}
	})
}

func TestAppendAsFollowerReplacesAnEmptyEpochAtTheEnd(t *testing.T) {
	f := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer f.Close()
	if _, err := f.AppendAsFollower(stamped(simpleBatch(2, 10, 1), 0, 3)); err != nil {
		t.Fatal(err)
	}
	// This replica led epoch 5 at offset 2 and wrote nothing; the new
	// leader's log continues epoch 3 there.
	if err := f.AssignEpochAtEnd(5); err != nil {
		t.Fatal(err)
	}
	if f.LatestEpoch() != 5 {
		t.Fatalf("latest epoch %d after AssignEpochAtEnd(5)", f.LatestEpoch())
	}
	if _, err := f.AppendAsFollower(stamped(simpleBatch(2, 10, 1), 2, 3)); err != nil {
		t.Fatal(err)
	}
	if f.LatestEpoch() != 3 {
		t.Fatalf("latest epoch %d, want 3 (the empty epoch 5 gives way)", f.LatestEpoch())
	}
	if end, e := f.EndOffsetForEpoch(3); end != 4 || e != 3 {
		t.Fatalf("epoch 3 ends at (%d, %d), want (4, 3): its start must stay 0", end, e)
	}
	if end, _ := f.EndOffsetForEpoch(2); end != 0 {
		t.Fatalf("epoch 2 ends at %d, want 0 (epoch 3 starts at 0)", end)
	}
}

func TestAssignEpochAtEnd(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
	mustAppend(t, l, simpleBatch(4, 10, 1), 1)
	if err := l.AssignEpochAtEnd(3); err != nil {
		t.Fatal(err)
	}
	if err := l.AssignEpochAtEnd(2); err != nil { // older: ignored
		t.Fatal(err)
	}
	// A follower that has epoch 1 up to offset 9 learns that it ends at 4.
	if end, e := l.EndOffsetForEpoch(1); end != 4 || e != 1 {
		t.Fatalf("epoch 1: (%d, %d), want (4, 1)", end, e)
	}
	if end, e := l.EndOffsetForEpoch(3); end != 4 || e != 3 {
		t.Fatalf("epoch 3: (%d, %d), want (4, 3)", end, e)
	}
	l.Close()
	b, err := os.ReadFile(filepath.Join(dir, leaderEpochFile))
	if err != nil || string(b) != "0\n2\n1 0\n3 4\n" {
		t.Fatalf("checkpoint %q %v", b, err)
	}
}

func TestTruncateToLogEndDropsAnEmptyEpoch(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer l.Close()
	mustAppend(t, l, simpleBatch(4, 10, 1), 1)
	if err := l.AssignEpochAtEnd(3); err != nil {
		t.Fatal(err)
	}
	// Kafka's truncateTo at (or past) the log end offset still drops the
	// epochs that start there: the new leader's log does not have them.
	if err := l.TruncateTo(4); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 4 || l.LatestEpoch() != 1 {
		t.Fatalf("leo %d latest epoch %d, want 4 and 1", l.LogEndOffset(), l.LatestEpoch())
	}
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{SegmentBytes: 600}, testOpts(t, nil, nil))
	for i := 0; i < 6; i++ {
		mustAppend(t, l, idemBatch(2, 9, 0, int32(2*i)), 2)
	}
	l.SetHighWatermark(5)
	if err := l.TruncateFullyAndStartAt(100); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 100 || l.LogEndOffset() != 100 || l.HighWatermark() != 100 || l.Size() != 0 {
		t.Fatalf("start %d end %d hw %d size %d, want 100 100 100 0",
			l.LogStartOffset(), l.LogEndOffset(), l.HighWatermark(), l.Size())
	}
	if l.LatestEpoch() != -1 {
		t.Fatalf("latest epoch %d: the cache goes with the data", l.LatestEpoch())
	}
	if _, ok := l.ProducerState(9); ok {
		t.Fatal("producer state survived")
	}
	if _, err := l.AppendAsFollower(stamped(simpleBatch(2, 10, 1), 100, 7)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
	defer l.Close()
	if l.LogStartOffset() != 100 || l.LogEndOffset() != 102 || l.LatestEpoch() != 7 {
		t.Fatalf("reopened: start %d end %d epoch %d", l.LogStartOffset(), l.LogEndOffset(), l.LatestEpoch())
	}
	if end, e := l.EndOffsetForEpoch(7); end != 102 || e != 7 {
		t.Fatalf("epoch 7: (%d, %d)", end, e)
	}
}

func TestMaybeIncrementLogStartOffset(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{SegmentBytes: 500}, testOpts(t, nil, nil))
	defer l.Close()
	for i := 0; i < 8; i++ {
		mustAppend(t, l, simpleBatch(2, 100, 1), 0)
	}
	segs := len(l.segments())
	l.SetHighWatermark(6)
	// The leader's log start is past the follower's high watermark: the
	// follower keeps what it has not seen committed.
	start, err := l.MaybeIncrementLogStartOffset(10)
	if err != nil || start != 6 || l.LogStartOffset() != 6 {
		t.Fatalf("start %d (%d) %v, want 6", start, l.LogStartOffset(), err)
	}
	if len(l.segments()) >= segs {
		t.Fatalf("segments below the new log start must go: %d of %d left", len(l.segments()), segs)
	}
	if start, err := l.MaybeIncrementLogStartOffset(2); err != nil || start != 6 {
		t.Fatalf("lower offset moved the start: %d %v", start, err)
	}
	if _, err := l.Read(4, 1000, -1, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the log start: %v", err)
	}
}

func TestAppendAsFollowerFlushAndStickyError(t *testing.T) {
	_, all := leaderLog(t, Config{})
	fsys := newFaultFS()
	dir := t.TempDir()
	f := mustOpen(t, dir, Config{FlushMessages: 1}, testOpts(t, fsys, nil))
	defer f.Close()
	logFile := filepath.Join(dir, "00000000000000000000.log")
	before := fsys.syncsOf(logFile)
	if _, err := f.AppendAsFollower(all); err != nil {
		t.Fatal(err)
	}
	if n := fsys.syncsOf(logFile) - before; n != 5 {
		t.Fatalf("flush.messages=1: %d fsyncs of the log for 5 batches", n)
	}
	if f.recoveryPoint.Load() != f.LogEndOffset() {
		t.Fatalf("recovery point %d, log end %d", f.recoveryPoint.Load(), f.LogEndOffset())
	}
	fsys.mu.Lock()
	fsys.failWrites = true
	fsys.mu.Unlock()
	next := stamped(simpleBatch(1, 10, 1), f.LogEndOffset(), 5)
	if _, err := f.AppendAsFollower(next); !errors.Is(err, ErrStorage) {
		t.Fatalf("failed write: %v, want ErrStorage", err)
	}
	fsys.mu.Lock()
	fsys.failWrites = false
	fsys.mu.Unlock()
	if _, err := f.AppendAsFollower(next); !errors.Is(err, ErrStorage) {
		t.Fatalf("after a failed write the log must refuse: %v", err)
	}
	if f.Err() == nil {
		t.Fatal("Err() nil after a failed follower write")
	}
}

func TestAppendAsFollowerTakesAnySequence(t *testing.T) {
	f := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer f.Close()
	// Sequences 0-1 then 7-8: a leader would refuse the second (out of
	// order); a follower stores what the leader stored.
	b1 := stamped(idemBatch(2, 5, 0, 0), 0, 1)
	b2 := stamped(idemBatch(2, 5, 0, 7), 2, 1)
	if _, err := f.AppendAsFollower(append(append([]byte(nil), b1...), b2...)); err != nil {
		t.Fatal(err)
	}
	if st, ok := f.ProducerState(5); !ok || st.LastSequence != 8 || st.LastOffset != 3 {
		t.Fatalf("producer state %+v %v", st, ok)
	}
}

// BenchmarkAppendAsFollower appends what one replica fetch of 16 batches of
// 16 x 1 KiB records brings.
func BenchmarkAppendAsFollower(b *testing.B) {
	l := mustOpen(b, b.TempDir(), Config{}, testOpts(b, nil, nil))
	defer l.Close()
	one := simpleBatch(16, 1024, 1)
	tmpl := bytes.Repeat(one, 16)
	buf := make([]byte, len(tmpl))
	b.SetBytes(int64(len(tmpl)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(buf, tmpl)
		next := l.LogEndOffset()
		for at := 0; at < len(buf); at += len(one) {
			binary.BigEndian.PutUint64(buf[at:], uint64(next))
			binary.BigEndian.PutUint32(buf[at+offLeaderEpoch:], 1)
			next += 16
		}
		if _, err := l.AppendAsFollower(buf); err != nil {
			b.Fatal(err)
		}
	}
}
