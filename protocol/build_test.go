package protocol

import (
	"bytes"
	"errors"
	"testing"
)

// TestRecordRoundTrip: what ParseRecord decodes, AppendRecord encodes to
// the same bytes, null and empty keys and values and headers included.
func TestRecordRoundTrip(t *testing.T) {
	recs := []testRecord{
		{Key: []byte("k"), Value: []byte("v")},
		{Key: nil, Value: []byte("keyless")},
		{Key: []byte("tomb"), Value: nil},
		{Key: []byte{}, Value: []byte{}},
		{Key: []byte("h"), Value: []byte("x"), Headers: [][2][]byte{{[]byte("a"), []byte("1")}, {[]byte("b"), nil}}},
	}
	plain := encodeRecords(recs)
	it := NewRecordIter(plain, int32(len(recs)))
	var out []byte
	var r Record
	i := 0
	for it.Next(&r) {
		want := recs[i]
		if (r.Key == nil) != (want.Key == nil) || !bytes.Equal(r.Key, want.Key) ||
			(r.Value == nil) != (want.Value == nil) || !bytes.Equal(r.Value, want.Value) ||
			r.OffsetDelta != int32(i) || r.TimestampDelta != int64(i)*10 || r.HeaderCount != int32(len(want.Headers)) {
			t.Fatalf("record %d: %+v, want %+v", i, r, want)
		}
		if r.IsTombstone() != (want.Value == nil) {
			t.Fatalf("record %d: tombstone %v", i, r.IsTombstone())
		}
		out = AppendRecord(out, &r)
		i++
	}
	if it.Err() != nil || i != len(recs) {
		t.Fatalf("iterated %d: %v", i, it.Err())
	}
	if !bytes.Equal(out, plain) {
		t.Fatalf("re-encoded records differ:\n%x\n%x", out, plain)
	}
	// A count that does not match is an error.
	it = NewRecordIter(plain, int32(len(recs)+1))
	for it.Next(&r) {
	}
	if !errors.Is(it.Err(), ErrInvalidRecord) {
		t.Fatalf("short section: %v", it.Err())
	}
}

// TestAppendBatchEveryCodec: a batch built with each codec validates as a
// produce batch, decodes back to the same records, and keeps the header
// fields it was given (a lastOffsetDelta larger than the record count
// included, as the cleaner writes them).
func TestAppendBatchEveryCodec(t *testing.T) {
	recs := simpleRecords(50, 300)
	plain := encodeRecords(recs)
	for _, codec := range []int8{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		level := map[int8]int{CompressionGzip: GzipDefaultLevel, CompressionLZ4: LZ4DefaultLevel, CompressionZstd: ZstdDefaultLevel}[codec]
		h := BatchHeader{BaseOffset: 1000, PartitionLeaderEpoch: 7, Attributes: AttrTimestampTypeLog, LastOffsetDelta: 49,
			BaseTimestamp: 5, MaxTimestamp: 99, ProducerID: 12, ProducerEpoch: 3, BaseSequence: 40}
		b, got, err := AppendBatch([]byte("prefix"), &h, codec, level, plain, 50)
		if err != nil {
			t.Fatalf("%s: %v", codecName(codec), err)
		}
		if string(b[:6]) != "prefix" {
			t.Fatalf("%s: dst prefix lost", codecName(codec))
		}
		b = b[6:]
		// Not ValidateProduceBatch: a produced batch's base offset must be 0.
		vh, err := DecodeBatchHeader(b)
		if err != nil || !VerifyBatchCRC(b) {
			t.Fatalf("%s: built batch invalid: %v (CRC ok: %v)", codecName(codec), err, VerifyBatchCRC(b))
		}
		if vh != got || vh.Compression() != codec || vh.BaseOffset != 1000 || vh.PartitionLeaderEpoch != 7 ||
			!vh.LogAppendTime() || vh.ProducerID != 12 || vh.ProducerEpoch != 3 || vh.BaseSequence != 40 ||
			vh.MaxTimestamp != 99 || vh.NumRecords != 50 {
			t.Fatalf("%s: header %+v (returned %+v)", codecName(codec), vh, got)
		}
		dec, err := DecodeRecords(b, nil, 0)
		if err != nil || !bytes.Equal(dec, plain) {
			t.Fatalf("%s: records do not decode back: %v", codecName(codec), err)
		}
		// Recompressing to every other codec keeps the records.
		for _, to := range []int8{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd} {
			rb, _, err := Recompress(nil, b, to, 1, nil, 0)
			if err != nil {
				t.Fatalf("%s -> %s: %v", codecName(codec), codecName(to), err)
			}
			rh, err := DecodeBatchHeader(rb)
			if err != nil || !VerifyBatchCRC(rb) || rh.Compression() != to || rh.MaxTimestamp != 99 || rh.BaseSequence != 40 {
				t.Fatalf("%s -> %s: %+v %v", codecName(codec), codecName(to), rh, err)
			}
			if dec, err := DecodeRecords(rb, nil, 0); err != nil || !bytes.Equal(dec, plain) {
				t.Fatalf("%s -> %s: records changed: %v", codecName(codec), codecName(to), err)
			}
		}
	}
	// Fewer records than the offset range (a cleaned batch) and none at all
	// (the empty batch that keeps a producer's state).
	h := BatchHeader{BaseOffset: 10, LastOffsetDelta: 9, ProducerID: -1, BaseSequence: -1}
	b, _, err := AppendBatch(nil, &h, CompressionNone, 0, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	dh, err := DecodeBatchHeader(b)
	if err != nil || dh.Size() != BatchHeaderSize || dh.NumRecords != 0 || dh.NextOffset() != 20 || !VerifyBatchCRC(b) {
		t.Fatalf("empty batch: %+v %v", dh, err)
	}
}

// TestDecodeBatchHeaderStrict: the log's header decoder refuses what a
// stored batch can never be, with static errors.
func TestDecodeBatchHeaderStrict(t *testing.T) {
	good := buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: simpleRecords(2, 10)})
	if _, err := DecodeBatchHeader(good); err != nil {
		t.Fatal(err)
	}
	mut := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"short":      {good[:60], ErrBatchHeaderShort},
		"length":     {mut(func(b []byte) { b[8], b[9], b[10], b[11] = 0, 0, 0, 10 }), ErrBatchLength},
		"magic":      {mut(func(b []byte) { b[16] = 1 }), ErrBatchMagic},
		"lastOffset": {mut(func(b []byte) { b[23] = 0xff }), ErrBatchOffsetDelta},
	} {
		if _, err := DecodeBatchHeader(c.b); err != c.want {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if VerifyBatchCRC(mut(func(b []byte) { b[len(b)-1] ^= 1 })) {
		t.Error("flipped byte passes the CRC check")
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = DecodeBatchHeader(good[:30]) }); allocs != 0 {
		t.Errorf("DecodeBatchHeader allocates %v on an error", allocs)
	}
}

// TestCompressSnappyIsXerial: snappy output carries snappy-java's framing
// (the Java consumer's SnappyInputStream expects it), in 32 KiB chunks.
func TestCompressSnappyIsXerial(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80 000 bytes: 3 chunks
	out, err := Compress(nil, CompressionSnappy, 0, src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, xerialMagic) {
		t.Fatalf("no xerial magic: %x", out[:16])
	}
	back, err := decompress(CompressionSnappy, out, 1<<20, nil)
	if err != nil || !bytes.Equal(back, src) {
		t.Fatalf("round trip: %v", err)
	}
}
