package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func vi(v int64) []byte { return binary.AppendVarint(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// rec frames a record body with its length prefix.
func rec(body ...[]byte) []byte {
	b := cat(body...)
	return cat(vi(int64(len(b))), b)
}

// body0 is the start of a record body for offset delta i: attributes,
// timestamp delta 0 and offset delta.
func body0(i int64) []byte { return cat([]byte{0}, vi(0), vi(i)) }

func TestParseBatchHeader(t *testing.T) {
	b := buildBatch(t, batchSpec{codec: CompressionLZ4, attrs: AttrTransactional, producerID: 7, baseSeq: 2147483640, records: simpleRecords(10, 10)})
	SetBaseOffset(b, 1000)
	SetPartitionLeaderEpoch(b, 5)
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := BatchHeader{
		BaseOffset: 1000, BatchLength: int32(len(b) - LogOverhead), PartitionLeaderEpoch: 5, Magic: 2,
		CRC: BatchCRC(b), Attributes: CompressionLZ4 | AttrTransactional, LastOffsetDelta: 9,
		BaseTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_100, ProducerID: 7,
		BaseSequence: 2147483640, NumRecords: 10,
	}
	if h != want {
		t.Fatalf("got %+v\nwant %+v", h, want)
	}
	if h.Size() != int64(len(b)) || h.LastOffset() != 1009 || h.NextOffset() != 1010 || h.Compression() != CompressionLZ4 ||
		!h.IsTransactional() || h.IsControl() || h.LogAppendTime() {
		t.Fatalf("accessors wrong: %+v", h)
	}
	if got := h.LastSequence(); got != 1 { // 2147483640+9 wraps to 1
		t.Fatalf("LastSequence = %d, want 1", got)
	}
	if (&BatchHeader{BaseSequence: -1}).LastSequence() != -1 {
		t.Fatal("LastSequence without sequence")
	}
	// Base offset and epoch are outside the CRC.
	if BatchCRC(b) != h.CRC {
		t.Fatal("the CRC changed with SetBaseOffset/SetPartitionLeaderEpoch")
	}

	if _, err := ParseBatchHeader(b[:60]); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("60 bytes: %v", err)
	}
	v1 := make([]byte, 30)
	v1[16] = 1
	if h, err := ParseBatchHeader(v1); !errors.Is(err, ErrUnsupportedMagic) || h.Magic != 1 {
		t.Fatalf("magic 1: %v %+v", err, h)
	}
}

func TestSetLogAppendTime(t *testing.T) {
	for _, codec := range []int8{CompressionNone, CompressionZstd} {
		b := buildBatch(t, batchSpec{codec: codec, producerID: -1, baseSeq: -1, records: simpleRecords(3, 5)})
		SetLogAppendTime(b, 1_800_000_000_000)
		h, err := ValidateProduceBatch(b, ValidateOptions{})
		if err != nil {
			t.Fatalf("codec %d: %v", codec, err)
		}
		if !h.LogAppendTime() || h.MaxTimestamp != 1_800_000_000_000 || h.Compression() != codec {
			t.Fatalf("codec %d: header %+v", codec, h)
		}
	}
}

func TestBatchCRCShort(t *testing.T) {
	if BatchCRC(make([]byte, 20)) != 0 {
		t.Fatal("short input")
	}
	// A batchLength beyond b is clamped to b.
	b := buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: simpleRecords(1, 1)})
	want := BatchCRC(b)
	binary.BigEndian.PutUint32(b[BatchLengthOffset:], 1<<30)
	if BatchCRC(b) != want {
		t.Fatal("clamp")
	}
}

func TestValidateProduceBatch(t *testing.T) {
	valid := func() []byte {
		return buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: []testRecord{
			{Key: []byte("k"), Value: []byte("v")},
			{Key: nil, Value: nil, Headers: [][2][]byte{{[]byte("h"), nil}, {[]byte(""), []byte("x")}}},
			{Key: []byte{}, Value: []byte{}},
		}})
	}
	// raw builds an uncompressed batch from hand-made records.
	raw := func(count int32, recs ...[]byte) []byte {
		return buildRawBatch(0, count, -1, -1, cat(recs...))
	}
	good0 := rec(body0(0), vi(1), []byte("k"), vi(1), []byte("v"), vi(0))
	mutate := func(b []byte, f func([]byte)) []byte { f(b); return b }
	withCRC := func(b []byte, f func([]byte)) []byte { f(b); fixCRC(b); return b }

	tests := []struct {
		name    string
		b       []byte
		opts    ValidateOptions
		wantErr error
		msg     string
	}{
		{name: "valid", b: valid()},
		{name: "valid idempotent", b: buildBatch(t, batchSpec{producerID: 42, baseSeq: 0, records: simpleRecords(2, 3)})},
		{name: "valid keyed with RequireKeys", b: buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: simpleRecords(2, 3)}), opts: ValidateOptions{RequireKeys: true}},
		{name: "empty", b: nil, wantErr: ErrInvalidRecord, msg: "at least one whole record batch"},
		{name: "16 bytes", b: make([]byte, 16), wantErr: ErrCorruptBatch},
		{name: "magic 1", b: mutate(valid(), func(b []byte) { b[16] = 1 }), wantErr: ErrInvalidRecord, msg: "magic 2, not 1"},
		{name: "magic 0 short", b: mutate(make([]byte, 40), func(b []byte) { binary.BigEndian.PutUint32(b[8:], 28); b[16] = 0 }), wantErr: ErrInvalidRecord, msg: "magic 2, not 0"},
		{name: "magic 3", b: mutate(valid(), func(b []byte) { b[16] = 3 }), wantErr: ErrCorruptBatch, msg: "invalid magic 3"},
		{name: "magic -1", b: mutate(valid(), func(b []byte) { b[16] = 0xff }), wantErr: ErrCorruptBatch, msg: "invalid magic -1"},
		{name: "size field below 14", b: mutate(valid(), func(b []byte) { binary.BigEndian.PutUint32(b[8:], 13) }), wantErr: ErrCorruptBatch, msg: "minimum record overhead"},
		{name: "12 bytes", b: mutate(make([]byte, 12), func(b []byte) { binary.BigEndian.PutUint32(b[8:], 49) }), wantErr: ErrInvalidRecord, msg: "at least one whole"},
		{name: "short header", b: mutate(make([]byte, 60), func(b []byte) { b[16] = 2 }), wantErr: ErrCorruptBatch},
		{name: "batch length below header", b: withCRC(valid()[:60], func(b []byte) { binary.BigEndian.PutUint32(b[8:], 48) }), wantErr: ErrCorruptBatch, msg: "below the minimum"},
		{name: "batch length negative", b: mutate(valid(), func(b []byte) { binary.BigEndian.PutUint32(b[8:], 0xffffffff) }), wantErr: ErrCorruptBatch},
		{name: "truncated", b: valid()[:70], wantErr: ErrInvalidRecord, msg: "(70 bytes sent)"},
		{name: "trailing bytes", b: append(valid(), 0, 0, 0)},
		{name: "trailing partial batch", b: append(valid(), valid()[:40]...)},
		{name: "trailing 12 bytes with a size below 14", b: append(valid(), make([]byte, 12)...), wantErr: ErrCorruptBatch, msg: "minimum record overhead"},
		{name: "trailing header with a bad magic", b: append(valid(), mutate(valid()[:20], func(b []byte) { b[16] = 9 })...), wantErr: ErrCorruptBatch, msg: "invalid magic 9"},
		{name: "base offset not 0", b: mutate(valid(), func(b []byte) { b[7] = 5 }), wantErr: ErrInvalidRecord, msg: "base offset"},
		{name: "larger than MaxBatchBytes", b: valid(), opts: ValidateOptions{MaxBatchBytes: 80}, wantErr: ErrRecordTooLarge, msg: "max.message.bytes=80"},
		{name: "zstd with NoZstd", b: buildBatch(t, batchSpec{codec: CompressionZstd, producerID: -1, baseSeq: -1, records: simpleRecords(2, 3)}), opts: ValidateOptions{NoZstd: true}, wantErr: ErrUnsupportedCompression, msg: "zstd"},
		{name: "zstd without NoZstd", b: buildBatch(t, batchSpec{codec: CompressionZstd, producerID: -1, baseSeq: -1, records: simpleRecords(2, 3)})},
		{name: "two batches", b: append(valid(), valid()...), wantErr: ErrInvalidRecord, msg: "exactly one record batch"},
		{name: "crc mismatch", b: mutate(valid(), func(b []byte) { b[len(b)-1] ^= 1 }), wantErr: ErrCorruptBatch, msg: "CRC"},
		{name: "crc field flipped", b: mutate(valid(), func(b []byte) { b[17] ^= 0x80 }), wantErr: ErrCorruptBatch},
		{name: "codec 5", b: withCRC(valid(), func(b []byte) { b[22] |= 5 }), wantErr: ErrUnsupportedCompression},
		{name: "codec 7", b: withCRC(valid(), func(b []byte) { b[22] |= 7 }), wantErr: ErrUnsupportedCompression},
		{name: "control batch", b: withCRC(valid(), func(b []byte) { b[22] |= AttrControl }), wantErr: ErrInvalidRecord, msg: "control"},
		{name: "zero records", b: buildRawBatch(0, 0, -1, -1, nil), wantErr: ErrInvalidRecord, msg: "offset range"},
		{name: "negative count", b: withCRC(valid(), func(b []byte) { binary.BigEndian.PutUint32(b[57:], 0xffffffff) }), wantErr: ErrInvalidRecord},
		{name: "count != lastOffsetDelta+1", b: withCRC(valid(), func(b []byte) { binary.BigEndian.PutUint32(b[23:], 5) }), wantErr: ErrInvalidRecord, msg: "inconsistent"},
		{name: "producer id without sequence", b: buildBatch(t, batchSpec{producerID: 9, baseSeq: -1, records: simpleRecords(1, 1)}), wantErr: ErrInvalidRecord, msg: "sequence"},
		{name: "fewer records than count", b: raw(2, good0), wantErr: ErrInvalidRecord, msg: "declares 2 records but holds 1"},
		{name: "more records than count", b: raw(1, good0, rec(body0(1), vi(-1), vi(-1), vi(0))), wantErr: ErrInvalidRecord, msg: "follow the 1 records"},
		{name: "offset delta wrong", b: raw(2, good0, rec(body0(5), vi(-1), vi(-1), vi(0))), wantErr: ErrInvalidRecord, msg: "record 1: offset delta 5"},
		{name: "record length beyond batch", b: raw(1, cat(vi(200), body0(0), vi(-1), vi(-1), vi(0))), wantErr: ErrInvalidRecord, msg: "length 200 exceeds"},
		{name: "record negative length", b: raw(1, cat(vi(-2), body0(0), vi(-1), vi(-1), vi(0))), wantErr: ErrInvalidRecord},
		{name: "record longer than fields", b: raw(1, rec(body0(0), vi(-1), vi(-1), vi(0), []byte{9})), wantErr: ErrInvalidRecord, msg: "fields end 1 bytes earlier"},
		{name: "record shorter than fields", b: raw(1, cat(vi(4), body0(0), vi(-1), vi(-1), vi(0))), wantErr: ErrInvalidRecord},
		{name: "empty record body", b: raw(1, vi(0)), wantErr: ErrInvalidRecord, msg: "attributes"},
		{name: "key length exceeds", b: raw(1, rec(body0(0), vi(999), []byte("abc"))), wantErr: ErrInvalidRecord, msg: "key length 999 exceeds remaining 3 bytes"},
		{name: "key length -2", b: raw(1, rec(body0(0), vi(-2), vi(-1), vi(0))), wantErr: ErrInvalidRecord},
		{name: "value length exceeds", b: raw(1, rec(body0(0), vi(-1), vi(50), []byte("abc"))), wantErr: ErrInvalidRecord, msg: "value length 50"},
		{name: "value length -5", b: raw(1, rec(body0(0), vi(-1), vi(-5), vi(0))), wantErr: ErrInvalidRecord},
		{name: "negative header count", b: raw(1, rec(body0(0), vi(-1), vi(-1), vi(-1))), wantErr: ErrInvalidRecord, msg: "headers"},
		{name: "header count exceeds", b: raw(1, rec(body0(0), vi(-1), vi(-1), vi(1000), vi(0), vi(0))), wantErr: ErrInvalidRecord},
		{name: "negative header key", b: raw(1, rec(body0(0), vi(-1), vi(-1), vi(1), vi(-1), vi(0))), wantErr: ErrInvalidRecord, msg: "negative header key"},
		{name: "header key exceeds", b: raw(1, rec(body0(0), vi(-1), vi(-1), vi(1), vi(9), vi(0))), wantErr: ErrInvalidRecord},
		{name: "header value exceeds", b: raw(1, rec(body0(0), vi(-1), vi(-1), vi(1), vi(0), vi(9))), wantErr: ErrInvalidRecord},
		{name: "header value -3", b: raw(1, rec(body0(0), vi(-1), vi(-1), vi(1), vi(0), vi(-3))), wantErr: ErrInvalidRecord},
		{name: "truncated varint", b: raw(1, rec(body0(0), []byte{0x80})), wantErr: ErrInvalidRecord, msg: "truncated"},
		{name: "overlong varint", b: raw(1, rec(body0(0), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, vi(-1), vi(0))), wantErr: ErrInvalidRecord, msg: "too long"},
		{name: "overlong varlong", b: raw(1, rec([]byte{0}, bytes.Repeat([]byte{0xff}, 11), vi(0), vi(-1), vi(-1), vi(0))), wantErr: ErrInvalidRecord, msg: "too long"},
		{name: "null key on compacted topic", b: valid(), opts: ValidateOptions{RequireKeys: true}, wantErr: ErrInvalidRecord, msg: "record 1: a compacted topic cannot accept a record without a key"},
		{name: "gzip garbage", b: buildRawBatch(CompressionGzip, 1, -1, -1, []byte("not gzip at all")), wantErr: ErrCorruptBatch, msg: "gzip"},
		{name: "snappy garbage", b: buildRawBatch(CompressionSnappy, 1, -1, -1, []byte{0xff, 0xff, 0xff, 0xff, 0x7f, 1}), wantErr: ErrCorruptBatch},
		{name: "xerial truncated chunk", b: buildRawBatch(CompressionSnappy, 1, -1, -1, cat(xerialMagic, make([]byte, 8), []byte{0, 0, 1, 0, 5})), wantErr: ErrCorruptBatch},
		{name: "lz4 garbage", b: buildRawBatch(CompressionLZ4, 1, -1, -1, []byte("nope nope")), wantErr: ErrCorruptBatch},
		{name: "zstd garbage", b: buildRawBatch(CompressionZstd, 1, -1, -1, []byte("nope nope")), wantErr: ErrCorruptBatch},
		{name: "compressed bad records", b: buildRawBatch(CompressionZstd, 1, -1, -1, compressForTest(t, CompressionZstd, false, rec(body0(3), vi(-1), vi(-1), vi(0)))), wantErr: ErrInvalidRecord, msg: "offset delta 3"},
		{name: "compressed null key compacted", b: buildBatch(t, batchSpec{codec: CompressionGzip, producerID: -1, baseSeq: -1, records: []testRecord{{Value: []byte("v")}}}), opts: ValidateOptions{RequireKeys: true}, wantErr: ErrInvalidRecord, msg: "without a key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := bytes.Clone(tc.b)
			_, err := ValidateProduceBatch(tc.b, tc.opts)
			if !bytes.Equal(orig, tc.b) {
				t.Fatal("ValidateProduceBatch modified its input")
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

func TestValidateCompressedRoundTrip(t *testing.T) {
	recs := simpleRecords(50, 300)
	recs[3].Headers = [][2][]byte{{[]byte("trace"), []byte("abc")}}
	for _, tc := range []struct {
		name   string
		codec  int8
		xerial bool
	}{
		{"gzip", CompressionGzip, false},
		{"snappy raw", CompressionSnappy, false},
		{"snappy xerial", CompressionSnappy, true},
		{"lz4", CompressionLZ4, false},
		{"zstd", CompressionZstd, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := buildBatch(t, batchSpec{codec: tc.codec, xerial: tc.xerial, producerID: -1, baseSeq: -1, records: recs})
			h, err := ValidateProduceBatch(b, ValidateOptions{RequireKeys: true})
			if err != nil {
				t.Fatal(err)
			}
			if h.Compression() != tc.codec || h.NumRecords != 50 {
				t.Fatalf("header %+v", h)
			}
			// Again, to go through pooled decoders and buffers.
			if _, err := ValidateProduceBatch(b, ValidateOptions{}); err != nil {
				t.Fatal(err)
			}
			// Bomb guard: the records inflate to ~15 KB.
			_, err = ValidateProduceBatch(b, ValidateOptions{MaxUncompressedSize: 4096})
			if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "more than 4096 bytes") {
				t.Fatalf("size limit: %v", err)
			}
			// A truncated compressed payload (CRC fixed) must fail cleanly.
			payload := b[BatchHeaderSize:]
			tr := buildRawBatch(int16(tc.codec), 50, -1, -1, payload[:len(payload)/2])
			if _, err := ValidateProduceBatch(tr, ValidateOptions{}); err == nil {
				t.Fatal("truncated compressed payload accepted")
			}
		})
	}
}

func TestValidateDecompressionBomb(t *testing.T) {
	// 80 MiB of one record's zeros compresses to a few KB; the default
	// 64 MiB cap must stop it without inflating it all.
	zeros := make([]byte, 80<<20)
	raw := rec(body0(0), vi(-1), vi(int64(len(zeros))), zeros, vi(0))
	for _, codec := range []int8{CompressionGzip, CompressionLZ4, CompressionZstd} {
		b := buildRawBatch(int16(codec), 1, -1, -1, compressForTest(t, codec, false, raw))
		_, err := ValidateProduceBatch(b, ValidateOptions{})
		if !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("%s: %v", codecName(codec), err)
		}
	}
	// Snappy declares its size up front: a block claiming 2^32-1 bytes is
	// refused before any allocation.
	b := buildRawBatch(CompressionSnappy, 1, -1, -1, []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0})
	if _, err := ValidateProduceBatch(b, ValidateOptions{}); err == nil {
		t.Fatal("snappy bomb accepted")
	}
}

func TestValidateUncompressedAllocs(t *testing.T) {
	b := buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: simpleRecords(16, 1024)})
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ValidateProduceBatch(b, ValidateOptions{RequireKeys: true}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per uncompressed validation, want 0", allocs)
	}
}

// benchRecords are 16 records of 1 KiB JSON-like text, compressible about
// as well as typical payloads (repeated single bytes would make the codecs
// look unrealistically fast or slow).
func benchRecords() []testRecord {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"user", "order", "id", "amount", "EUR", "status", "shipped", "true", "false", "null"}
	recs := make([]testRecord, 16)
	for i := range recs {
		var v []byte
		for len(v) < 1024 {
			v = fmt.Appendf(v, `{"%s":%d,"%s":"%s"},`, words[rng.IntN(len(words))], rng.IntN(1_000_000), words[rng.IntN(len(words))], words[rng.IntN(len(words))])
		}
		recs[i] = testRecord{Key: fmt.Appendf(nil, "key-%d", i), Value: v[:1024]}
	}
	return recs
}

func benchValidate(b *testing.B, codec int8) {
	batch := buildBatch(b, batchSpec{codec: codec, producerID: 1, baseSeq: 0, records: benchRecords()})
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ValidateProduceBatch(batch, ValidateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateProduceBatch(b *testing.B) {
	b.Run("none", func(b *testing.B) { benchValidate(b, CompressionNone) })
	b.Run("gzip", func(b *testing.B) { benchValidate(b, CompressionGzip) })
	b.Run("snappy", func(b *testing.B) { benchValidate(b, CompressionSnappy) })
	b.Run("lz4", func(b *testing.B) { benchValidate(b, CompressionLZ4) })
	b.Run("zstd", func(b *testing.B) { benchValidate(b, CompressionZstd) })
}
