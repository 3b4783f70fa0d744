package protocol

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// testRecord is one record for buildBatch; a nil Key or Value is encoded as
// null.
type testRecord struct {
	Key, Value []byte
	Headers    [][2][]byte
}

// batchSpec describes a v2 batch for buildBatch.
type batchSpec struct {
	codec      int8
	attrs      int16 // extra attribute bits
	producerID int64
	baseSeq    int32
	xerial     bool // snappy: use snappy-java's framing
	records    []testRecord
}

func appendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendVarBytes(b, v []byte) []byte {
	if v == nil {
		return appendVarint(b, -1)
	}
	return append(appendVarint(b, int64(len(v))), v...)
}

// encodeRecords encodes records with offset deltas 0..n-1.
func encodeRecords(recs []testRecord) []byte {
	var out []byte
	for i, r := range recs {
		var body []byte
		body = append(body, 0)                 // attributes
		body = appendVarint(body, int64(i)*10) // timestamp delta
		body = appendVarint(body, int64(i))    // offset delta
		body = appendVarBytes(body, r.Key)
		body = appendVarBytes(body, r.Value)
		body = appendVarint(body, int64(len(r.Headers)))
		for _, h := range r.Headers {
			body = appendVarBytes(body, h[0])
			body = appendVarBytes(body, h[1])
		}
		out = appendVarint(out, int64(len(body)))
		out = append(out, body...)
	}
	return out
}

func compressForTest(t testing.TB, codec int8, xerial bool, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch codec {
	case CompressionNone:
		return raw
	case CompressionGzip:
		w := gzip.NewWriter(&buf)
		w.Write(raw)
		w.Close()
	case CompressionSnappy:
		if !xerial {
			return snappy.Encode(nil, raw)
		}
		buf.Write(xerialMagic)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		// Two chunks so that chunk iteration is exercised.
		half := len(raw) / 2
		for _, part := range [][]byte{raw[:half], raw[half:]} {
			c := snappy.Encode(nil, part)
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(c))))
			buf.Write(c)
		}
	case CompressionLZ4:
		w := lz4.NewWriter(&buf)
		if _, err := w.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case CompressionZstd:
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		return enc.EncodeAll(raw, nil)
	default:
		t.Fatalf("codec %d", codec)
	}
	return buf.Bytes()
}

// buildBatch encodes a valid v2 batch.
func buildBatch(t testing.TB, s batchSpec) []byte {
	t.Helper()
	payload := compressForTest(t, s.codec, s.xerial, encodeRecords(s.records))
	return buildRawBatch(int16(s.codec)|s.attrs, int32(len(s.records)), s.producerID, s.baseSeq, payload)
}

// buildRawBatch frames payload as a batch whose recordCount is count and
// lastOffsetDelta count-1, with a correct CRC.
func buildRawBatch(attrs int16, count int32, producerID int64, baseSeq int32, payload []byte) []byte {
	b := make([]byte, BatchHeaderSize, BatchHeaderSize+len(payload))
	binary.BigEndian.PutUint64(b[0:], 0)
	binary.BigEndian.PutUint32(b[8:], uint32(BatchHeaderSize-LogOverhead+len(payload)))
	binary.BigEndian.PutUint32(b[12:], 0) // sarama-style epoch 0
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], uint16(attrs))
	binary.BigEndian.PutUint32(b[23:], uint32(count-1))
	binary.BigEndian.PutUint64(b[27:], 1_700_000_000_000)
	binary.BigEndian.PutUint64(b[35:], uint64(1_700_000_000_000+int64(count)*10))
	binary.BigEndian.PutUint64(b[43:], uint64(producerID))
	binary.BigEndian.PutUint16(b[51:], 0)
	binary.BigEndian.PutUint32(b[53:], uint32(baseSeq))
	binary.BigEndian.PutUint32(b[57:], uint32(count))
	b = append(b, payload...)
	fixCRC(b)
	return b
}

func fixCRC(b []byte) { binary.BigEndian.PutUint32(b[crcOffset:], BatchCRC(b)) }

func simpleRecords(n, valueSize int) []testRecord {
	recs := make([]testRecord, n)
	for i := range recs {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, valueSize)
		recs[i] = testRecord{Key: []byte{'k', byte(i)}, Value: v}
	}
	return recs
}
