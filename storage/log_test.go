package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// stamped is what the log should hold for b appended at base with epoch.
func stamped(b []byte, base int64, epoch int32) []byte {
	c := append([]byte(nil), b...)
	binary.BigEndian.PutUint64(c, uint64(base))
	binary.BigEndian.PutUint32(c[12:], uint32(epoch))
	return c
}

func TestAppendReadRoundTrip(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer l.Close()
	var want [][]byte
	var next int64
	for i := 0; i < 10; i++ {
		b := simpleBatch(1+i%4, 100, int64(1000+i))
		exp := stamped(b, next, int32(i/3))
		r := mustAppend(t, l, b, int32(i/3))
		if r.BaseOffset != next || r.LastOffset != next+int64(i%4) || r.LogAppendTime != -1 {
			t.Fatalf("append %d: %+v, want base %d", i, r, next)
		}
		if !batchCRCValid(exp) {
			t.Fatal("crc must not cover offset/epoch")
		}
		want = append(want, exp)
		next = r.LastOffset + 1
	}
	l.SetHighWatermark(next)
	all := bytes.Join(want, nil)
	// starts[i] is the first offset of batch i.
	starts := []int64{}
	off := int64(0)
	for i := 0; i < 10; i++ {
		starts = append(starts, off)
		off += int64(1 + i%4)
	}
	tests := []struct {
		name        string
		offset      int64
		maxBytes    int32
		upTo        int64
		minOne      bool
		wantBatches []int // indexes into want
	}{
		{"all", 0, 1 << 20, -1, true, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"middle of batch", starts[3] + 2, 1 << 20, -1, true, []int{3, 4, 5, 6, 7, 8, 9}},
		{"batch start", starts[5], 1 << 20, -1, true, []int{5, 6, 7, 8, 9}},
		{"maxBytes exact two", 0, int32(len(want[0]) + len(want[1])), -1, true, []int{0, 1}},
		{"maxBytes one byte short of two", 0, int32(len(want[0]) + len(want[1]) - 1), -1, true, []int{0}},
		{"maxBytes small minOne", starts[2], 10, -1, true, []int{2}},
		{"maxBytes small no minOne", starts[2], 10, -1, false, nil},
		{"upTo stops before batch", 0, 1 << 20, starts[4], true, []int{0, 1, 2, 3}},
		{"upTo inside batch keeps it", 0, 1 << 20, starts[4] + 1, true, []int{0, 1, 2, 3, 4}},
		{"offset at upTo", starts[4], 1 << 20, starts[4], true, nil},
		{"offset at LEO", next, 1 << 20, -1, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := l.Read(tc.offset, tc.maxBytes, tc.upTo, tc.minOne)
			if err != nil {
				t.Fatal(err)
			}
			var exp []byte
			for _, i := range tc.wantBatches {
				exp = append(exp, want[i]...)
			}
			if !bytes.Equal(res.Records, exp) {
				t.Fatalf("got %d bytes, want %d", len(res.Records), len(exp))
			}
			if res.LogEndOffset != next || res.HighWatermark != next || res.LogStartOffset != 0 {
				t.Fatalf("offsets %+v", res)
			}
		})
	}
	res, _ := l.Read(0, 1<<30, -1, false)
	if !bytes.Equal(res.Records, all) {
		t.Fatal("whole log differs")
	}
	for _, off := range []int64{-1, next + 1} {
		if _, err := l.Read(off, 100, -1, true); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("offset %d: %v", off, err)
		}
	}
	if got := l.LatestEpoch(); got != 3 {
		t.Fatalf("latest epoch %d", got)
	}
}

func TestLogAppendTime(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer l.Close()
	b := simpleBatch(3, 10, 5)
	r, err := l.Append(b, 0, 424242)
	if err != nil || r.LogAppendTime != 424242 {
		t.Fatalf("%+v %v", r, err)
	}
	res, _ := l.Read(0, 1<<20, -1, true)
	got := res.Records
	if got[21+1]&0x08 == 0 || int64(binary.BigEndian.Uint64(got[35:])) != 424242 {
		t.Fatal("LogAppendTime not stamped")
	}
	if !batchCRCValid(got) {
		t.Fatal("CRC not recomputed")
	}
	off, ts, found, err := l.OffsetForTimestamp(424242)
	if err != nil || !found || off != 0 || ts != 424242 {
		t.Fatalf("OffsetForTimestamp: %d %d %v %v", off, ts, found, err)
	}
}

func TestRollBySizeAndTime(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	dir := t.TempDir()
	b := simpleBatch(2, 100, 1)
	cfg := Config{SegmentBytes: int64(3*len(b) + 10), SegmentMs: time.Hour}
	l := mustOpen(t, dir, cfg, testOpts(t, nil, clock))
	for i := 0; i < 7; i++ {
		mustAppend(t, l, simpleBatch(2, 100, 1), 0)
	}
	if n := len(l.segments()); n != 3 {
		t.Fatalf("segments by size: %d, want 3", n)
	}
	// Time: the active segment has one batch; an hour later the next append rolls.
	clock.Advance(time.Hour)
	mustAppend(t, l, simpleBatch(2, 100, 1), 0)
	segs := l.segments()
	if len(segs) != 4 || segs[3].base != 14 {
		t.Fatalf("roll by time: %d segments, last base %d", len(segs), segs[len(segs)-1].base)
	}
	// ApplyRetention also rolls by time.
	clock.Advance(2 * time.Hour)
	if _, err := l.ApplyRetention(clock.Now()); err != nil {
		t.Fatal(err)
	}
	if len(l.segments()) != 5 {
		t.Fatalf("ApplyRetention did not roll: %d", len(l.segments()))
	}
	res, err := l.Read(0, 1<<30, -1, true)
	if err != nil || len(res.Records) != len(b)*3 {
		t.Fatalf("read across segments returns one segment's data: %d %v", len(res.Records), err)
	}
	res, _ = l.Read(6, 1<<30, -1, true)
	if binary.BigEndian.Uint64(res.Records) != 6 {
		t.Fatal("read from second segment")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, base := range []int64{0, 6, 12, 14, 16} {
		if _, err := os.Stat(offsetFileName(dir, base, logSuffix)); err != nil {
			t.Fatalf("segment %d: %v", base, err)
		}
	}
	l = mustOpen(t, dir, cfg, testOpts(t, nil, clock))
	defer l.Close()
	if l.LogEndOffset() != 16 || len(l.segments()) != 5 {
		t.Fatalf("reopen: leo %d segments %d", l.LogEndOffset(), len(l.segments()))
	}
}

// parseOffsetIndex/parseTimeIndex read Kafka's formats.
func parseOffsetIndex(t *testing.T, path string) [][2]int64 {
	b, err := os.ReadFile(path)
	if err != nil || len(b)%8 != 0 {
		t.Fatalf("%s: %v len %d", path, err, len(b))
	}
	var out [][2]int64
	for i := 0; i < len(b); i += 8 {
		out = append(out, [2]int64{int64(int32(binary.BigEndian.Uint32(b[i:]))), int64(int32(binary.BigEndian.Uint32(b[i+4:])))})
	}
	return out
}

func parseTimeIndex(t *testing.T, path string) [][2]int64 {
	b, err := os.ReadFile(path)
	if err != nil || len(b)%12 != 0 {
		t.Fatalf("%s: %v len %d", path, err, len(b))
	}
	var out [][2]int64
	for i := 0; i < len(b); i += 12 {
		out = append(out, [2]int64{int64(binary.BigEndian.Uint64(b[i:])), int64(int32(binary.BigEndian.Uint32(b[i+8:])))})
	}
	return out
}

func TestIndexFilesKafkaFormat(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{IndexIntervalBytes: 500, SegmentBytes: 3000}
	l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	for i := 0; i < 40; i++ {
		// Timestamps go up and down; the time index only grows.
		mustAppend(t, l, simpleBatch(3, 50, int64(10_000+(i%7)*100+i)), 0)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	nseg := 0
	for _, e := range ents {
		base, ok := parseOffsetFileName(e.Name(), logSuffix)
		if !ok {
			continue
		}
		nseg++
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		// Walk the batches: position -> (lastOffset, maxTimestamp).
		type bi struct{ last, maxTs int64 }
		at := map[int64]bi{}
		var maxTs int64 = -1
		for pos := int64(0); pos < int64(len(data)); {
			h, err := decodeBatchHeader(data[pos:])
			if err != nil {
				t.Fatal(err)
			}
			at[pos] = bi{h.LastOffset(), h.MaxTimestamp}
			maxTs = max(maxTs, h.MaxTimestamp)
			pos += h.Size()
		}
		oi := parseOffsetIndex(t, offsetFileName(dir, base, indexSuffix))
		if len(data) > 1500 && len(oi) == 0 {
			t.Fatalf("segment %d: no index entries for %d bytes", base, len(data))
		}
		prev := int64(-1)
		for _, e := range oi {
			b, ok := at[e[1]]
			if !ok || b.last != base+e[0] || e[0] <= prev {
				t.Fatalf("segment %d: bad index entry %v", base, e)
			}
			prev = e[0]
		}
		ti := parseTimeIndex(t, offsetFileName(dir, base, timeIndexSuffix))
		if len(ti) == 0 || ti[len(ti)-1][0] != maxTs {
			t.Fatalf("segment %d: time index %v, max ts %d", base, ti, maxTs)
		}
		for i := 1; i < len(ti); i++ {
			if ti[i][0] <= ti[i-1][0] || ti[i][1] < ti[i-1][1] {
				t.Fatalf("segment %d: time index not monotonic %v", base, ti)
			}
		}
	}
	if nseg < 3 {
		t.Fatalf("want several segments, got %d", nseg)
	}
}

func TestOffsetForTimestampAndMax(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{IndexIntervalBytes: 200, SegmentBytes: 2000}, testOpts(t, nil, nil))
	defer l.Close()
	// Batch i has 4 records at timestamps 1000*i + {0,1,2,3}; batch 5 holds the max.
	for i := 0; i < 12; i++ {
		base := int64(1000 * i)
		if i == 5 {
			base = 100_000
		}
		mustAppend(t, l, simpleBatch(4, 30, base), 0)
	}
	tests := []struct {
		ts      int64
		off     int64
		foundTs int64
		found   bool
	}{
		{0, 0, 0, true},
		{2, 2, 2, true},
		{3001, 13, 3001, true},
		{3004, 16, 4000, true},
		{50_000, 20, 100_000, true},
		{11_003, 20, 100_000, true}, // first record >= ts in offset order
		{100_003, 23, 100_003, true},
		{100_004, 0, 0, false},
	}
	for _, tc := range tests {
		off, ts, found, err := l.OffsetForTimestamp(tc.ts)
		if err != nil || found != tc.found || (found && (off != tc.off || ts != tc.foundTs)) {
			t.Fatalf("ts %d: got %d %d %v %v, want %d %d %v", tc.ts, off, ts, found, err, tc.off, tc.foundTs, tc.found)
		}
	}
	off, ts, found, err := l.MaxTimestamp()
	if err != nil || !found || off != 23 || ts != 100_003 {
		t.Fatalf("MaxTimestamp: %d %d %v %v", off, ts, found, err)
	}
	// Timestamps out of order inside a batch: the answer is a record in the
	// middle of the batch, and the max is its first record.
	rs := records(4, 10)
	for i, d := range []int64{900_000, 10, 500_000, 20} {
		rs[i].tsDelta = d
	}
	mustAppend(t, l, makeBatch(testBatch{records: rs, baseTimestamp: 0, producerID: -1, producerEpoch: -1, baseSequence: -1}), 0)
	if off, ts, found, _ := l.OffsetForTimestamp(200_000); !found || off != 48 || ts != 900_000 {
		t.Fatalf("out-of-order batch: %d %d %v", off, ts, found)
	}
	if off, ts, found, _ := l.OffsetForTimestamp(400_000); !found || off != 48 || ts != 900_000 {
		t.Fatalf("first record >= ts: %d %d %v", off, ts, found)
	}
	if off, ts, found, _ := l.MaxTimestamp(); !found || off != 48 || ts != 900_000 {
		t.Fatalf("MaxTimestamp first record: %d %d %v", off, ts, found)
	}
	empty := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer empty.Close()
	if _, _, found, _ := empty.MaxTimestamp(); found {
		t.Fatal("empty log has a max timestamp")
	}
}

func TestLeaderEpochCache(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
	for _, e := range []int32{0, 0, 2, 2, 2, 5} {
		mustAppend(t, l, simpleBatch(2, 10, 1), e)
	}
	// epoch 0: [0,4), 2: [4,10), 5: [10, 12)
	b, err := os.ReadFile(filepath.Join(dir, leaderEpochFile))
	if err != nil || string(b) != "0\n3\n0 0\n2 4\n5 10\n" {
		t.Fatalf("checkpoint %q %v", b, err)
	}
	tests := []struct {
		epoch    int32
		end      int64
		epochOut int32
	}{
		{-1, -1, -1}, {0, 4, 0}, {1, 4, 0}, {2, 10, 2}, {3, 10, 2}, {4, 10, 2}, {5, 12, 5}, {6, -1, -1},
	}
	for _, tc := range tests {
		end, e := l.EndOffsetForEpoch(tc.epoch)
		if end != tc.end || e != tc.epochOut {
			t.Fatalf("epoch %d: got (%d,%d) want (%d,%d)", tc.epoch, end, e, tc.end, tc.epochOut)
		}
	}
	if err := l.TruncateTo(6); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 6 || l.LatestEpoch() != 2 {
		t.Fatalf("after truncate: leo %d epoch %d", l.LogEndOffset(), l.LatestEpoch())
	}
	if end, e := l.EndOffsetForEpoch(2); end != 6 || e != 2 {
		t.Fatalf("after truncate: (%d,%d)", end, e)
	}
	// Truncating into the middle of a batch drops the whole batch.
	if err := l.TruncateTo(3); err != nil || l.LogEndOffset() != 2 {
		t.Fatalf("mid-batch truncate: leo %d %v", l.LogEndOffset(), err)
	}
	r := mustAppend(t, l, simpleBatch(1, 10, 1), 7)
	if r.BaseOffset != 2 {
		t.Fatalf("append after truncate at %d", r.BaseOffset)
	}
	l.Close()
	l = mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
	defer l.Close()
	if end, e := l.EndOffsetForEpoch(0); end != 2 || e != 0 || l.LatestEpoch() != 7 {
		t.Fatalf("reopened cache: (%d,%d) latest %d", end, e, l.LatestEpoch())
	}
}

func TestPartitionMetadataAndCheckpoint(t *testing.T) {
	dir := t.TempDir()
	id := [16]byte{0xfb, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	l, err := Open(dir, id, Config{}, testOpts(t, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, simpleBatch(3, 10, 1), 0)
	l.SetHighWatermark(2)
	l.Close()
	b, _ := os.ReadFile(filepath.Join(dir, partitionMetadataFile))
	if string(b) != "version: 0\ntopic_id: -_8BAgMEBQYHCAkKCwwNDg\n" {
		t.Fatalf("partition.metadata %q", b)
	}
	if _, err := Open(dir, [16]byte{9}, Config{}, testOpts(t, nil, nil)); err == nil {
		t.Fatal("topic id mismatch accepted")
	}
	l, err = Open(dir, id, Config{}, testOpts(t, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.HighWatermark() != 2 || l.LogEndOffset() != 3 {
		t.Fatalf("hw %d leo %d", l.HighWatermark(), l.LogEndOffset())
	}
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatal("clean-shutdown marker must be removed on open")
	}
}

func TestTruncateFully(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{SegmentBytes: 1000}, testOpts(t, nil, nil))
	defer l.Close()
	for i := 0; i < 10; i++ {
		mustAppend(t, l, idemBatch(2, 7, 0, int32(2*i)), 0)
	}
	if err := l.TruncateTo(0); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 0 || l.Size() != 0 || len(l.segments()) != 1 {
		t.Fatalf("leo %d size %d", l.LogEndOffset(), l.Size())
	}
	if _, ok := l.ProducerState(7); ok {
		t.Fatal("producer state survived full truncation")
	}
	mustAppend(t, l, simpleBatch(1, 10, 1), 0)
	res, err := l.Read(0, 1000, -1, true)
	if err != nil || len(res.Records) == 0 {
		t.Fatal(err)
	}
}

func TestReadIntoAppendsAfterCallerBytes(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer l.Close()
	var want []byte
	for i := 0; i < 4; i++ {
		b := simpleBatch(2, 100, int64(1000+i))
		want = append(want, stamped(b, int64(2*i), 0)...)
		mustAppend(t, l, b, 0)
	}
	l.SetHighWatermark(8)
	prefix := []byte("caller's bytes")
	for _, capacity := range []int{len(prefix), 1 << 20} { // grow, and reuse
		dst := append(make([]byte, 0, capacity), prefix...)
		res, err := l.ReadInto(dst, 0, 1<<20, -1, true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.Records, want) {
			t.Fatalf("cap %d: records differ from what was appended", capacity)
		}
		if !bytes.Equal(res.Buf[:len(prefix)], prefix) || len(res.Buf) != len(prefix)+len(want) {
			t.Fatalf("cap %d: Buf must be the caller's bytes followed by the records", capacity)
		}
		if capacity > len(prefix)+len(want) && &res.Buf[0] != &dst[0] {
			t.Fatalf("a large enough dst must be reused")
		}
	}
}
