package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// seedRequests returns frames (without size prefix) for every key and
// version kmsg knows, plus a few with content.
func seedRequests() [][]byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	var out [][]byte
	add := func(r kmsg.Request) { out = append(out, f.AppendRequest(nil, r, 1)[4:]) }
	for key := int16(0); key < 200; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req.SetVersion(v)
			add(req)
		}
	}
	for _, v := range []int16{3, 7, 9, 11} {
		p := kmsg.NewPtrProduceRequest()
		p.SetVersion(v)
		p.Acks = -1
		p.Topics = []kmsg.ProduceRequestTopic{{Topic: "orders", Partitions: []kmsg.ProduceRequestTopicPartition{
			{Partition: 0, Records: []byte("records")}, {Partition: 1},
		}}}
		add(p)
	}
	for _, v := range []int16{1, 9, 12} {
		m := kmsg.NewPtrMetadataRequest()
		m.SetVersion(v)
		m.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("a")}, {Topic: kmsg.StringPtr("b")}}
		add(m)
	}
	return out
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range seedRequests() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, body, err := ParseRequestHeader(frame)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownAPIKey) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		req := kmsg.RequestForKey(h.APIKey)
		if h.APIVersion < 0 || h.APIVersion > req.MaxVersion() {
			return
		}
		// decodeRequest has no recover: kmsg panics surface here.
		got, err := decodeRequest(h, body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		// What kmsg decoded it must be able to encode and decode again.
		enc := got.AppendTo(nil)
		again := kmsg.RequestForKey(h.APIKey)
		again.SetVersion(h.APIVersion)
		if err := again.ReadFrom(enc); err != nil {
			t.Fatalf("key %d v%d: re-decoding kmsg's own encoding: %v", h.APIKey, h.APIVersion, err)
		}
		if !bytes.Equal(again.AppendTo(nil), enc) {
			t.Fatalf("key %d v%d: encoding not stable", h.APIKey, h.APIVersion)
		}
	})
}

func seedBatches(t testing.TB) [][]byte {
	recs := simpleRecords(5, 20)
	recs[1].Headers = [][2][]byte{{[]byte("h"), []byte("v")}, {[]byte("n"), nil}}
	recs[2].Key = nil
	var out [][]byte
	for _, s := range []batchSpec{
		{codec: CompressionNone, producerID: -1, baseSeq: -1, records: recs},
		{codec: CompressionNone, producerID: 3, baseSeq: 10, attrs: AttrTransactional, records: recs[:1]},
		{codec: CompressionGzip, producerID: -1, baseSeq: -1, records: recs},
		{codec: CompressionSnappy, producerID: -1, baseSeq: -1, records: recs},
		{codec: CompressionSnappy, xerial: true, producerID: -1, baseSeq: -1, records: recs},
		{codec: CompressionLZ4, producerID: -1, baseSeq: -1, records: recs},
		{codec: CompressionZstd, producerID: -1, baseSeq: -1, records: recs},
	} {
		out = append(out, buildBatch(t, s))
	}
	return out
}

func TestSeedBatchesValid(t *testing.T) {
	for i, b := range seedBatches(t) {
		if _, err := ValidateProduceBatch(b, ValidateOptions{}); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
	}
}

func FuzzValidateProduceBatch(f *testing.F) {
	for _, b := range seedBatches(f) {
		f.Add(b, false, false)
		f.Add(b, true, true)
	}
	// With repair set, the batch length and CRC are fixed up after the
	// mutation so that the fuzzer reaches record parsing and decompression
	// instead of dying at the CRC check.
	f.Fuzz(func(t *testing.T, b []byte, requireKeys, repair bool) {
		if repair && len(b) >= BatchHeaderSize {
			binary.BigEndian.PutUint32(b[BatchLengthOffset:], uint32(len(b)-LogOverhead))
			fixCRC(b)
		}
		orig := bytes.Clone(b)
		opts := ValidateOptions{RequireKeys: requireKeys, MaxUncompressedSize: 1 << 20,
			CheckTimestamps: requireKeys, Now: 1 << 40, TimestampBeforeMaxMs: 1 << 39, TimestampAfterMaxMs: 1 << 20}
		h, err := ValidateProduceBatch(b, opts)
		if !bytes.Equal(b, orig) {
			t.Fatal("input modified")
		}
		if err != nil {
			if !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrInvalidRecord) && !errors.Is(err, ErrInvalidTimestamp) &&
				!errors.Is(err, ErrRecordTooLarge) && !errors.Is(err, ErrUnsupportedCompression) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if h.Size() > int64(len(b)) || h.NumRecords != h.LastOffsetDelta+1 || h.IsControl() {
			t.Fatalf("accepted inconsistent header %+v for %d bytes", h, len(b))
		}
		// Any change to CRC-covered bytes or the CRC itself must be caught.
		end := int(h.Size())
		for _, pos := range []int{crcOffset, crcCoveredFrom, crcCoveredFrom + (end-crcCoveredFrom)/2, end - 1} {
			m := bytes.Clone(b)
			m[pos] ^= 0x5a
			if _, err := ValidateProduceBatch(m, opts); err == nil {
				t.Fatalf("flipping byte %d went unnoticed", pos)
			}
		}
	})
}
