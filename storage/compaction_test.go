package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-io/samsa/protocol"
)

// kv is one record of a compaction test: a nil value is a tombstone.
type kv struct {
	key, value string
	tomb       bool
}

// kvBatch builds a batch of records with the given codec, timestamps ts,
// ts+1, ... (protocol's builder: what the cleaner itself writes with).
func kvBatch(t testing.TB, codec int8, ts int64, recs ...kv) []byte {
	t.Helper()
	var plain []byte
	for i, r := range recs {
		rec := protocol.Record{TimestampDelta: int64(i), OffsetDelta: int32(i), Key: []byte(r.key)}
		if !r.tomb {
			rec.Value = []byte(r.value)
		}
		plain = protocol.AppendRecord(plain, &rec)
	}
	h := protocol.BatchHeader{LastOffsetDelta: int32(len(recs) - 1), BaseTimestamp: ts, MaxTimestamp: ts + int64(len(recs)) - 1,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	b, _, err := protocol.AppendBatch(nil, &h, codec, defaultLevel(codec), plain, int32(len(recs)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gotRec is a record read back from a log.
type gotRec struct {
	off        int64
	key, value string
	tomb       bool
	ts         int64
}

// readRecords reads every record of the log, in offset order.
func readRecords(t testing.TB, l *Log) []gotRec {
	t.Helper()
	var out []gotRec
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		res, err := l.Read(off, 1<<20, -1, true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if len(res.Records) == 0 {
			break
		}
		b := res.Records
		for len(b) > 0 {
			h, err := protocol.DecodeBatchHeader(b)
			if err != nil || !protocol.VerifyBatchCRC(b[:h.Size()]) {
				t.Fatalf("batch at %d: %v (crc ok %v)", h.BaseOffset, err, err == nil && protocol.VerifyBatchCRC(b[:h.Size()]))
			}
			plain, err := protocol.DecodeRecords(b[:h.Size()], nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			it := protocol.NewRecordIter(plain, h.NumRecords)
			var r protocol.Record
			for it.Next(&r) {
				out = append(out, gotRec{off: h.BaseOffset + int64(r.OffsetDelta), key: string(r.Key), value: string(r.Value),
					tomb: r.Value == nil, ts: h.RecordTimestamp(&r)})
			}
			if it.Err() != nil {
				t.Fatal(it.Err())
			}
			off = h.NextOffset()
			b = b[h.Size():]
		}
	}
	for i := 1; i < len(out); i++ {
		if out[i].off <= out[i-1].off {
			t.Fatalf("offsets not increasing: %d after %d", out[i].off, out[i-1].off)
		}
	}
	return out
}

// cleanNow runs one cleaning with a map of budget bytes.
func cleanNow(t testing.TB, l *Log, budget int64) CleanStats {
	t.Helper()
	var om *offsetMap
	st, _, err := l.clean(&om, budget, nil)
	if err != nil {
		t.Fatalf("clean: %v", err)
	}
	return st
}

// compactModel is what was written to a compacted log: every record by
// offset.
type compactModel struct {
	written map[int64]gotRec
}

func (m *compactModel) append(t testing.TB, l *Log, codec int8, ts int64, recs ...kv) {
	t.Helper()
	r := mustAppend(t, l, kvBatch(t, codec, ts, recs...), 0)
	for i, rec := range recs {
		v := rec.value
		if rec.tomb {
			v = ""
		}
		m.written[r.BaseOffset+int64(i)] = gotRec{off: r.BaseOffset + int64(i), key: rec.key, value: v, tomb: rec.tomb, ts: ts + int64(i)}
	}
	l.SetHighWatermark(l.LogEndOffset())
}

// check asserts the compaction contract on what the log returns: every
// record is one that was written at that offset (offsets unchanged, values
// intact); below end, each key appears once, at its latest offset below
// end, tombstones included unless dropped; from end on, everything written
// is there.
func (m *compactModel) check(t testing.TB, l *Log, end int64, tombstonesGone bool) {
	t.Helper()
	got := readRecords(t, l)
	latest := map[string]int64{}
	for off, r := range m.written {
		if off < end && off >= l.LogStartOffset() && off > latest[r.key]-1 {
			if cur, ok := latest[r.key]; !ok || off > cur {
				latest[r.key] = off
			}
		}
	}
	want := map[int64]bool{}
	for _, off := range latest {
		if tombstonesGone && m.written[off].tomb {
			continue
		}
		want[off] = true
	}
	for off := range m.written {
		if off >= end {
			want[off] = true
		}
	}
	seen := map[int64]bool{}
	for _, r := range got {
		w, ok := m.written[r.off]
		if !ok || w != r {
			t.Fatalf("offset %d: read %+v, written %+v", r.off, r, w)
		}
		if !want[r.off] {
			t.Fatalf("offset %d (key %s) survived, but key %s is at %d below %d", r.off, r.key, r.key, latest[r.key], end)
		}
		seen[r.off] = true
	}
	for off := range want {
		if !seen[off] {
			t.Fatalf("offset %d (%+v) missing after cleaning to %d", off, m.written[off], end)
		}
	}
}

func compactCfg() Config {
	return Config{CleanupPolicy: CleanupCompact, SegmentBytes: 2048, IndexIntervalBytes: 128,
		DeleteRetention: time.Hour, MinCleanableRatio: 0.01, FileDeleteDelay: -1}
}

// TestCompactionLatestPerKey is a compacted topic used the way Schema
// Registry and Connect use one: many versions per key in batches of every
// codec, tombstones, restarts (clean and crashed) and cleanings in between.
// After each cleaning a full read returns the latest value per key below
// where the cleaning ended and everything after it, nothing older, at the
// offsets they were written at; tombstones stay until their delete
// horizon, then go.
func TestCompactionLatestPerKey(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := compactCfg()
	l := mustOpen(t, dir, cfg, testOpts(t, nil, clock))
	defer func() { l.Close() }()
	m := &compactModel{written: map[int64]gotRec{}}
	rng := rand.New(rand.NewPCG(1, 2))
	codecs := []int8{protocol.CompressionNone, protocol.CompressionGzip, protocol.CompressionSnappy, protocol.CompressionLZ4, protocol.CompressionZstd}
	ts := clock.Now().UnixMilli()
	for round := 0; round < 6; round++ {
		for i := 0; i < 30; i++ {
			var recs []kv
			for j := 0; j < 1+rng.IntN(6); j++ {
				k := fmt.Sprintf("subject-%02d", rng.IntN(25))
				if rng.IntN(8) == 0 {
					recs = append(recs, kv{key: k, tomb: true})
				} else {
					recs = append(recs, kv{key: k, value: fmt.Sprintf("%s-v%d-%d-%s", k, round, i, strings.Repeat("x", rng.IntN(60)))})
				}
			}
			m.append(t, l, codecs[(round+i)%len(codecs)], ts, recs...)
			ts += 10
		}
		before := l.Size()
		st := cleanNow(t, l, 1<<20)
		if st.EndOffset != l.active().base {
			t.Fatalf("round %d: cleaned to %d, the active segment starts at %d", round, st.EndOffset, l.active().base)
		}
		if st.Superseded == 0 || l.Size() >= before {
			t.Fatalf("round %d: nothing removed: %+v, size %d -> %d", round, st, before, l.Size())
		}
		m.check(t, l, st.EndOffset, false)
		switch round % 3 {
		case 0: // clean restart
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, cfg, testOpts(t, nil, clock))
		case 1: // crash
			crash(l)
			l = mustOpen(t, dir, cfg, testOpts(t, nil, clock))
		}
		l.SetHighWatermark(l.LogEndOffset())
		m.check(t, l, st.EndOffset, false)
	}
	// Tombstones carry a delete horizon now; once it passed, the next
	// cleaning removes them (and the keys they deleted are gone).
	hasTomb := false
	for _, r := range readRecords(t, l) {
		hasTomb = hasTomb || (r.tomb && r.off < l.active().base)
	}
	if !hasTomb {
		t.Fatal("no tombstone kept below the active segment: the test data has none")
	}
	clock.Advance(cfg.DeleteRetention + time.Minute)
	st := cleanNow(t, l, 1<<20)
	if st.Tombstones == 0 {
		t.Fatalf("no tombstone removed past the delete horizon: %+v", st)
	}
	m.check(t, l, st.EndOffset, true)
	for _, r := range readRecords(t, l) {
		if r.tomb && r.off < st.EndOffset {
			t.Fatalf("tombstone at %d survived its horizon", r.off)
		}
	}
	// The log goes on: appends after the cleaned segments, at the next
	// offset.
	leo := l.LogEndOffset()
	if r := mustAppend(t, l, kvBatch(t, 0, ts, kv{key: "after", value: "x"}), 0); r.BaseOffset != leo {
		t.Fatalf("append after cleaning at %d, want %d", r.BaseOffset, leo)
	}
}

// TestCompactionDeleteHorizonStamped: the first cleaning that keeps a
// tombstone stamps its batch with now + delete.retention.ms (KIP-534), the
// records' timestamps unchanged; the checkpoint remembers the earliest
// horizon, so the log is cleaned again once it passes even with nothing
// dirty.
func TestCompactionDeleteHorizonStamped(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := compactCfg()
	l := mustOpen(t, dir, cfg, testOpts(t, nil, clock))
	defer l.Close()
	m := &compactModel{written: map[int64]gotRec{}}
	ts := clock.Now().UnixMilli() - 5000
	m.append(t, l, protocol.CompressionNone, ts, kv{key: "a", value: "1"}, kv{key: "b", tomb: true}, kv{key: "c", value: "3"})
	m.append(t, l, protocol.CompressionNone, ts+10, kv{key: "a", value: "2"})
	if err := l.roll(); err != nil {
		t.Fatal(err)
	}
	m.append(t, l, protocol.CompressionNone, ts+20, kv{key: "z", value: "active"})
	cleanNow(t, l, 1<<20)
	fs, err := l.ReadSlice(0, 1<<20, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, fs.Len)
	fs.ReadAt(b, 0)
	fs.Release()
	h, _ := protocol.DecodeBatchHeader(b)
	wantHorizon := clock.Now().UnixMilli() + cfg.DeleteRetention.Milliseconds()
	if !h.HasDeleteHorizon() || h.DeleteHorizonMs() != wantHorizon || h.BaseOffset != 0 || h.LastOffsetDelta != 2 {
		t.Fatalf("first batch after cleaning: %+v, want delete horizon %d and offsets 0..2", h, wantHorizon)
	}
	m.check(t, l, l.active().base, false) // timestamps compared too
	l.mu.Lock()
	c, ok := l.cleanableLocked(clock.Now().UnixMilli())
	cp := l.cleanCP
	l.mu.Unlock()
	if ok || cp.horizon != wantHorizon {
		t.Fatalf("cleanable right after a cleaning: %v (%+v); checkpoint %+v", ok, c, cp)
	}
	clock.Advance(cfg.DeleteRetention)
	l.mu.Lock()
	c, ok = l.cleanableLocked(clock.Now().UnixMilli())
	l.mu.Unlock()
	if !ok || !c.must {
		t.Fatalf("not cleanable once the horizon passed: %v %+v", ok, c)
	}
	if st := cleanNow(t, l, 1<<20); st.Tombstones != 1 {
		t.Fatalf("tombstones removed %d, want 1", st.Tombstones)
	}
	m.check(t, l, l.active().base, true)
	// The horizon survives a restart (samsa-cleaner-checkpoint).
	b2, err := os.ReadFile(filepath.Join(dir, cleanerCheckpointFile))
	if err != nil || !strings.Contains(string(b2), "first-dirty 4") {
		t.Fatalf("cleaner checkpoint %q: %v", b2, err)
	}
}

// roll rolls the active segment (tests).
func (l *Log) roll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rollLocked(l.leo.Load())
}

// TestCompactionWhatIsCleanable: the active segment, data at or above the
// high watermark and segments newer than min.compaction.lag.ms are never
// cleaned; below min.cleanable.dirty.ratio nothing is, unless
// max.compaction.lag.ms has passed.
func TestCompactionWhatIsCleanable(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := compactCfg()
	l := mustOpen(t, t.TempDir(), cfg, testOpts(t, nil, clock))
	defer l.Close()
	ts := clock.Now().UnixMilli()
	for i := 0; i < 3; i++ {
		mustAppend(t, l, kvBatch(t, 0, ts, kv{key: "k", value: fmt.Sprint(i)}), 0)
		l.roll()
	}
	mustAppend(t, l, kvBatch(t, 0, ts, kv{key: "k", value: "active"}), 0)
	state := func() (cleanable, bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.cleanableLocked(clock.Now().UnixMilli())
	}
	l.SetHighWatermark(1) // offsets 1.. uncommitted
	if c, ok := state(); !ok || c.firstUncleanable != 1 {
		t.Fatalf("high watermark 1: %v %+v, want cleanable below 1", ok, c)
	}
	l.SetHighWatermark(0)
	if c, ok := state(); ok {
		t.Fatalf("high watermark 0: cleanable %+v", c)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if c, ok := state(); !ok || c.firstUncleanable != 3 {
		t.Fatalf("all committed: %v %+v, want cleanable below the active segment at 3", ok, c)
	}
	cfg.MinCompactionLag = time.Hour // the records are seconds old
	l.UpdateConfig(cfg)
	if c, ok := state(); ok {
		t.Fatalf("min.compaction.lag.ms not reached: cleanable %+v", c)
	}
	cfg.MinCompactionLag = 0
	cfg.MinCleanableRatio = 1 // never above it
	l.UpdateConfig(cfg)
	if c, ok := state(); ok {
		t.Fatalf("dirty ratio below the minimum: cleanable %+v", c)
	}
	cfg.MaxCompactionLag = time.Minute
	l.UpdateConfig(cfg)
	clock.Advance(2 * time.Minute)
	if c, ok := state(); !ok || !c.must {
		t.Fatalf("max.compaction.lag.ms passed: %v %+v, want a forced cleaning", ok, c)
	}
	if st := cleanNow(t, l, 1<<20); st.Superseded != 2 {
		t.Fatalf("superseded %d, want 2", st.Superseded)
	}
	// Compacted logs roll at max.compaction.lag.ms when it is below
	// segment.ms.
	a := l.active()
	if _, err := l.ApplyRetention(clock.Now()); err != nil {
		t.Fatal(err)
	}
	if l.active() == a {
		t.Fatal("the active segment older than max.compaction.lag.ms did not roll")
	}
}

// TestCompactionBoundedDedupeBuffer: a map too small for the dirty section
// cleans up to where it filled and leaves the rest dirty; repeated
// cleanings reach the same result as one big one. A map that cannot hold
// one batch refuses with a message naming the setting.
func TestCompactionBoundedDedupeBuffer(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := compactCfg()
	l := mustOpen(t, t.TempDir(), cfg, testOpts(t, nil, clock))
	defer l.Close()
	m := &compactModel{written: map[int64]gotRec{}}
	for i := 0; i < 400; i++ {
		m.append(t, l, 0, 1000, kv{key: fmt.Sprintf("k%03d", i%150), value: fmt.Sprint(i)})
	}
	active := l.active().base
	// 64 slots: 57 keys fit per cleaning.
	st := cleanNow(t, l, 64*omSlotSize)
	if st.EndOffset >= active || st.EndOffset == 0 {
		t.Fatalf("small map cleaned to %d (active at %d)", st.EndOffset, active)
	}
	m.check(t, l, st.EndOffset, false)
	for i := 0; i < 20 && st.EndOffset < active; i++ {
		st = cleanNow(t, l, 64*omSlotSize)
		m.check(t, l, st.EndOffset, false)
	}
	if st.EndOffset != active {
		t.Fatalf("repeated cleanings stopped at %d, active at %d", st.EndOffset, active)
	}
	small := mustOpen(t, t.TempDir(), cfg, testOpts(t, nil, clock))
	defer small.Close()
	mustAppend(t, small, kvBatch(t, 0, 1000, kv{key: "a", value: "1"}, kv{key: "b", value: "2"}, kv{key: "c", value: "3"}), 0)
	small.roll()
	mustAppend(t, small, kvBatch(t, 0, 1000, kv{key: "z", value: "z"}), 0)
	small.SetHighWatermark(small.LogEndOffset())
	var om *offsetMap
	if _, _, err := small.clean(&om, 2*omSlotSize, nil); err == nil || !strings.Contains(err.Error(), "log.cleaner.dedupe.buffer.size") {
		t.Fatalf("map of one key for a batch of three: %v", err)
	}
}

// TestCompactionKeepsProducerStateAndControlBatches: a producer's last
// batch survives as an empty batch when all its records are superseded,
// so its sequence and epoch are still known after a restart; a committed
// transaction's records are deduplicated as any others (its batch, the
// producer's last, is kept empty, still transactional); control batches
// are kept byte for byte.
func TestCompactionKeepsProducerStateAndControlBatches(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := compactCfg()
	l := mustOpen(t, dir, cfg, testOpts(t, nil, clock))
	idem := func(seq int32, recs ...kv) []byte {
		b := kvBatch(t, 0, 1000, recs...)
		h, _ := protocol.DecodeBatchHeader(b)
		h.ProducerID, h.ProducerEpoch, h.BaseSequence = 77, 2, seq
		plain, _ := protocol.DecodeRecords(b, nil, 0)
		out, _, _ := protocol.AppendBatch(nil, &h, 0, 0, plain, h.NumRecords)
		return out
	}
	withAttrs := func(attrs int16, b []byte) []byte {
		h, _ := protocol.DecodeBatchHeader(b)
		h.Attributes |= attrs
		h.ProducerID, h.ProducerEpoch, h.BaseSequence = 88, 0, 0
		plain, _ := protocol.DecodeRecords(b, nil, 0)
		out, _, _ := protocol.AppendBatch(nil, &h, 0, 0, plain, h.NumRecords)
		return out
	}
	mustAppend(t, l, idem(0, kv{key: "p", value: "1"}, kv{key: "q", value: "1"}), 0) // 0-1
	txn := withAttrs(protocol.AttrTransactional, kvBatch(t, 0, 1000, kv{key: "p", value: "txn"}))
	mustAppend(t, l, txn, 0) // 2
	ctrl := withAttrs(protocol.AttrTransactional|protocol.AttrControl, kvBatch(t, 0, 1000, kv{key: "\x00\x00\x00\x01", value: "\x00\x00\x00\x00\x00\x00"}))
	mustAppend(t, l, ctrl, 0)                                                                    // 3
	mustAppend(t, l, kvBatch(t, 0, 1000, kv{key: "p", value: "2"}, kv{key: "q", value: "2"}), 0) // 4-5: supersedes 0-1 and the committed txn one
	l.roll()
	mustAppend(t, l, kvBatch(t, 0, 1000, kv{key: "z", value: "z"}), 0)
	l.SetHighWatermark(l.LogEndOffset())
	cleanNow(t, l, 1<<20)
	data := readLogBytes(t, l)
	var heads []protocol.BatchHeader
	for b := data; len(b) > 0; {
		h, _ := protocol.DecodeBatchHeader(b)
		heads = append(heads, h)
		switch h.BaseOffset {
		case 2:
			if h.NumRecords != 0 || h.ProducerID != 88 || h.Attributes&protocol.AttrTransactional == 0 || h.BaseSequence != 0 {
				t.Fatalf("the committed transactional batch after cleaning: %+v, want it kept empty (producer 88's last), transactional", h)
			}
		case 3:
			if !bytes.Equal(b[:h.Size()], stampedAt(ctrl, 3)) {
				t.Fatal("control batch changed")
			}
		}
		b = b[h.Size():]
	}
	if len(heads) != 5 || heads[0].BaseOffset != 0 || heads[0].NumRecords != 0 || heads[0].LastOffsetDelta != 1 ||
		heads[0].ProducerID != 77 || heads[0].BaseSequence != 0 || heads[0].LastSequence() != 1 {
		t.Fatalf("batches after cleaning: %+v; want the producer's batch kept empty at 0..1 first", heads)
	}
	// After a restart that rebuilds producer state from the log alone, the
	// producer's next sequence is accepted and its last batch is a
	// duplicate.
	crash(l)
	for _, o := range []int64{0, 6} {
		os.Remove(offsetFileName(dir, o, snapshotSuffix))
	}
	os.Remove(filepath.Join(dir, checkpointFile)) // recover everything
	l = mustOpen(t, dir, cfg, testOpts(t, nil, clock))
	defer l.Close()
	if e, ok := l.ProducerState(77); !ok || e.LastSequence != 1 || e.ProducerEpoch != 2 {
		t.Fatalf("producer state after cleaning and recovery: %+v %v", e, ok)
	}
	if _, err := l.Append(idem(0, kv{key: "p", value: "1"}, kv{key: "q", value: "1"}), 0, -1); !errors.Is(err, ErrDuplicateSequence) {
		t.Fatalf("retry of the emptied batch: %v, want a duplicate", err)
	}
	if _, err := l.Append(idem(2, kv{key: "p", value: "3"}), 0, -1); err != nil {
		t.Fatalf("next sequence after cleaning: %v", err)
	}
}

// stampedAt is b as the log stores it at offset (base offset and leader
// epoch 0 written in place).
func stampedAt(b []byte, offset int64) []byte {
	c := bytes.Clone(b)
	protocol.SetBaseOffset(c, offset)
	protocol.SetPartitionLeaderEpoch(c, 0)
	return c
}

// cleaningSteps are the cleanKill steps, in order; the first two come
// before the commit point, the next four happen in the first group's swap.
var cleaningSteps = []string{"map-built", "cleaned-written", "swap-committed", "old-renamed", "swapped", "published", "checkpointed"}

// TestCompactionKillAtEveryStep kills a cleaning at every step (as kill -9
// would: no cleanup, no Close) and reopens the log: killed before the
// commit point it holds exactly the old data; killed in the first group's
// swap, exactly the data as it is once that group is swapped in; killed
// at the end, the cleaned data. No .cleaned or .swap file is left, and the
// log takes appends and cleans again to the same result as a cleaning
// that was never killed.
func TestCompactionKillAtEveryStep(t *testing.T) {
	cfg := compactCfg()
	build := func(dir string, clock *fakeClock) (*Log, *compactModel) {
		l := mustOpen(t, dir, cfg, testOpts(t, nil, clock))
		m := &compactModel{written: map[int64]gotRec{}}
		for i := 0; i < 120; i++ {
			m.append(t, l, []int8{0, protocol.CompressionZstd}[i%2], 1000+int64(i), kv{key: fmt.Sprintf("k%d", i%13), value: fmt.Sprintf("v%d", i)},
				kv{key: fmt.Sprintf("j%d", i%7), tomb: i%5 == 0, value: "j"})
		}
		return l, m
	}
	newClock := func() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
	// The reference: the same log cleaned without a kill, seen after its
	// first group's swap and at the end.
	ref, _ := build(t.TempDir(), newClock())
	oldBytes := readLogBytes(t, ref)
	var afterFirst []byte
	ref.cleanKill = func(step string) error {
		if step == "published" && afterFirst == nil {
			afterFirst = readLogBytes(t, ref)
		}
		return nil
	}
	if st := cleanNow(t, ref, 1<<20); st.Segments < 4 {
		t.Fatalf("reference cleaning rewrote %d segments; the test needs several groups", st.Segments)
	}
	cleanedBytes := readLogBytes(t, ref)
	cleanedRecs := readRecords(t, ref)
	ref.Close()
	if bytes.Equal(afterFirst, oldBytes) || bytes.Equal(afterFirst, cleanedBytes) {
		t.Fatal("the first group's swap is not a state of its own: the test needs more groups")
	}
	for i, step := range cleaningSteps {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			clock := newClock()
			l, m := build(dir, clock)
			end := l.active().base
			l.cleanKill = func(s string) error {
				if s == step {
					return errInjected
				}
				return nil
			}
			var om *offsetMap
			if _, _, err := l.clean(&om, 1<<20, nil); !errors.Is(err, errCleaningKilled) {
				t.Fatalf("clean killed at %s: %v", step, err)
			}
			crash(l)
			l2 := mustOpen(t, dir, cfg, testOpts(t, nil, clock))
			defer l2.Close()
			want := map[bool][]byte{true: afterFirst, false: oldBytes}[i >= 2]
			if step == "checkpointed" {
				want = cleanedBytes
			}
			if got := readLogBytes(t, l2); !bytes.Equal(got, want) {
				t.Fatalf("killed at %s: the recovered log (%d bytes) is not the expected state (%d bytes; old %d, cleaned %d)",
					step, len(got), len(want), len(oldBytes), len(cleanedBytes))
			}
			for _, e := range mustReadDir(t, dir) {
				if strings.HasSuffix(e, cleanedSuffix) || strings.HasSuffix(e, swapSuffix) {
					t.Fatalf("leftover %s after recovery", e)
				}
			}
			l2.SetHighWatermark(l2.LogEndOffset())
			cleanNow(t, l2, 1<<20)
			// The same records; the batches may differ by the empty batches
			// that end cleaned segments (groups fall differently).
			if got := readRecords(t, l2); !reflect.DeepEqual(got, cleanedRecs) {
				t.Fatalf("after recovery and a new cleaning the log's records differ from the reference's (%d vs %d)", len(got), len(cleanedRecs))
			}
			m.check(t, l2, end, false)
			leo := l2.LogEndOffset()
			if r := mustAppend(t, l2, kvBatch(t, 0, 5000, kv{key: "x", value: "y"}), 0); r.BaseOffset != leo {
				t.Fatalf("append at %d, want %d", r.BaseOffset, leo)
			}
		})
	}
}

func mustReadDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestCompactionCorruptSwapRefused: a log .swap file (a committed
// cleaning) that does not read as valid batches is not guessed about: the
// log does not open and nothing on disk changes.
func TestCompactionCorruptSwapRefused(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, compactCfg(), testOpts(t, nil, nil))
	mustAppend(t, l, kvBatch(t, 0, 1, kv{key: "a", value: "b"}), 0)
	l.Close()
	b := kvBatch(t, 0, 1, kv{key: "a", value: "c"})
	b[len(b)-1] ^= 1
	os.WriteFile(offsetFileName(dir, 0, logSuffix)+swapSuffix, b, 0o644)
	before := dirState(t, dir)
	if _, err := Open(dir, [16]byte{1, 2, 3}, compactCfg(), testOpts(t, nil, nil)); !errors.Is(err, ErrStorage) ||
		!strings.Contains(err.Error(), ".log.swap") {
		t.Fatalf("corrupt swap: %v, want ErrStorage naming the file", err)
	}
	sameDirState(t, dir, before)
}

// TestCompactionAbortedByTruncation: a truncation while a cleaning runs
// stops the cleaning before it swaps anything and waits for it; the
// cleaned files are removed and the log is the truncated one.
func TestCompactionAbortedByTruncation(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, compactCfg(), testOpts(t, nil, nil))
	defer l.Close()
	for i := 0; i < 60; i++ {
		mustAppend(t, l, kvBatch(t, 0, 1, kv{key: fmt.Sprint(i % 4), value: strings.Repeat("v", 50)}), 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
	truncated := make(chan error, 1)
	l.cleanKill = func(step string) error {
		if step == "cleaned-written" {
			go func() { truncated <- l.TruncateTo(10) }()
			for !l.cleanAbort.Load() {
				time.Sleep(time.Millisecond)
			}
		}
		return nil
	}
	var om *offsetMap
	if _, _, err := l.clean(&om, 1<<20, nil); !errors.Is(err, errCleaningAborted) {
		t.Fatalf("clean during a truncation: %v, want aborted", err)
	}
	if err := <-truncated; err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 10 {
		t.Fatalf("leo %d after truncating to 10", l.LogEndOffset())
	}
	for _, e := range mustReadDir(t, dir) {
		if strings.HasSuffix(e, cleanedSuffix) || strings.HasSuffix(e, swapSuffix) {
			t.Fatalf("leftover %s", e)
		}
	}
	if got := readRecords(t, l); len(got) != 10 {
		t.Fatalf("%d records after truncation, want 10", len(got))
	}
}

// TestCompactionByManager: the Manager's cleaner thread compacts a
// compacted log by itself while readers read it; every read returns whole
// valid batches at increasing offsets, and the final content is the
// compacted one.
func TestCompactionByManager(t *testing.T) {
	m, err := NewManager(t.TempDir(), ManagerOptions{Logger: testOpts(t, nil, nil).Logger, CleanerThreads: 1,
		CleanerBackoff: 5 * time.Millisecond, CleanerDedupeBufferSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := compactCfg()
	l, err := m.GetOrCreate("_schemas", 0, [16]byte{9}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	model := &compactModel{written: map[int64]gotRec{}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				readRecords(t, l)
			}
		}()
	}
	for i := 0; i < 300; i++ {
		model.append(t, l, protocol.CompressionLZ4, 1000, kv{key: fmt.Sprint(i % 9), value: fmt.Sprint(i)})
	}
	m.Start()
	m.WakeCleaner()
	deadline := time.Now().Add(20 * time.Second)
	for m.CleanerTotals().Segments == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if m.CleanerTotals().Segments == 0 {
		t.Fatal("the Manager's cleaner did not clean the log")
	}
	for time.Now().Before(deadline) {
		l.mu.Lock()
		_, again := l.cleanableLocked(time.Now().UnixMilli())
		busy := l.cleaning
		l.mu.Unlock()
		if !again && !busy {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.mu.Lock()
	end := l.cleanCP.firstDirty
	l.mu.Unlock()
	model.check(t, l, end, false)
}

// TestFollowerCopiesCompactedLeader: a new follower fetching a compacted
// leader's log (gaps where whole batches went) holds the same batches at
// the same offsets.
func TestFollowerCopiesCompactedLeader(t *testing.T) {
	leader := mustOpen(t, t.TempDir(), compactCfg(), testOpts(t, nil, nil))
	defer leader.Close()
	for i := 0; i < 50; i++ {
		mustAppend(t, leader, kvBatch(t, 0, 1, kv{key: fmt.Sprint(i % 3), value: fmt.Sprint(i)}), 0)
	}
	leader.SetHighWatermark(leader.LogEndOffset())
	cleanNow(t, leader, 1<<20)
	data := readLogBytes(t, leader)
	f := mustOpen(t, t.TempDir(), compactCfg(), testOpts(t, nil, nil))
	defer f.Close()
	if _, err := f.AppendAsFollower(data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readLogBytes(t, f), data) || f.LogEndOffset() != leader.LogEndOffset() {
		t.Fatal("follower differs from the compacted leader")
	}
}

// TestCleanerThrottle: log.cleaner.io.max.bytes.per.second — the throttler
// sleeps off, every 300 ms of observation, the time the bytes over the
// rate would have taken; under the rate it never sleeps; unlimited is no
// throttler at all.
func TestCleanerThrottle(t *testing.T) {
	if newThrottler(0) != nil || newThrottler(1.7976931348623157e308) != nil {
		t.Fatal("an unlimited rate makes a throttler")
	}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	var slept []time.Duration
	th := newThrottler(1 << 20) // 1 MiB/s
	th.now = clock.Now
	th.sleep = func(d time.Duration, _ <-chan struct{}) { slept = append(slept, d); clock.Advance(d) }
	th.wait(0, nil)
	clock.Advance(100 * time.Millisecond)
	th.wait(512<<10, nil) // within the first 300 ms: no check yet
	clock.Advance(200 * time.Millisecond)
	th.wait(512<<10, nil) // 1 MiB in 300 ms: it should have taken 1 s
	if len(slept) != 1 || slept[0] != 700*time.Millisecond {
		t.Fatalf("slept %v, want [700ms]", slept)
	}
	clock.Advance(300 * time.Millisecond)
	th.wait(100<<10, nil) // 100 KiB in 300 ms: under the rate
	if len(slept) != 1 {
		t.Fatalf("slept under the rate: %v", slept)
	}
}

// TestReconfigureCleaner: log.cleaner.threads changed at run time. A
// Manager started without cleaner threads leaves a compacted log alone;
// given one thread it cleans it; set back to none, the cleaner's threads
// end (Close does not wait on them) and its totals are kept.
func TestReconfigureCleaner(t *testing.T) {
	m, err := NewManager(t.TempDir(), ManagerOptions{Logger: testOpts(t, nil, nil).Logger})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.GetOrCreate("_schemas", 0, [16]byte{9}, compactCfg())
	if err != nil {
		t.Fatal(err)
	}
	model := &compactModel{written: map[int64]gotRec{}}
	for i := 0; i < 300; i++ {
		model.append(t, l, protocol.CompressionNone, 1000, kv{key: fmt.Sprint(i % 9), value: fmt.Sprint(i)})
	}
	m.Start()
	m.WakeCleaner()
	time.Sleep(50 * time.Millisecond) // nothing should happen: no threads
	if got := m.CleanerTotals().Segments; got != 0 {
		t.Fatalf("cleaned %d segments without cleaner threads", got)
	}
	m.ReconfigureCleaner(CleanerOptions{Threads: 1, Backoff: 5 * time.Millisecond, DedupeBufferSize: 1 << 20})
	m.WakeCleaner()
	deadline := time.Now().Add(20 * time.Second)
	for m.CleanerTotals().Segments == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cleaned := m.CleanerTotals().Segments
	if cleaned == 0 {
		t.Fatal("the cleaner started by ReconfigureCleaner did not clean the log")
	}
	m.ReconfigureCleaner(CleanerOptions{Threads: 0})
	if m.cleaner.Load() != nil {
		t.Fatal("a cleaner is still installed after log.cleaner.threads=0")
	}
	if got := m.CleanerTotals().Segments; got < cleaned {
		t.Fatalf("totals went from %d to %d segments across the reconfiguration", cleaned, got)
	}
}
