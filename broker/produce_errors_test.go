package broker

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// produceAt sends one batch to partition 0 of topic at a given Produce
// version and returns that partition's answer.
func produceAt(t *testing.T, addr, topic string, version int16, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	// kgo sends every request at the highest version both sides know:
	// pin Produce's.
	v := kversion.Stable()
	v.SetMaxKeyVersion(kmsg.Produce.Int16(), version)
	cl := newClient(t, addr, kgo.MaxVersions(v))
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	if version >= 13 {
		rt.TopicID = topicID(t, addr, topic)
	}
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

// rawBatch encodes an uncompressed v2 batch of the given records (a nil
// key is null), record i at timestamp base+i.
func rawBatch(base int64, keys ...[]byte) []byte {
	var recs []byte
	for i, k := range keys {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.TimestampDelta64 = int64(i)
		r.Key = k
		r.Value = []byte("value")
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(keys) - 1),
		FirstTimestamp:       base,
		MaxTimestamp:         base + int64(len(keys)-1),
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(keys)),
		Records:              recs,
	}
	b.Length = int32(49 + len(recs))
	return fixBatchCRC(b.AppendTo(nil))
}

func fixBatchCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func errorRecordIndexes(sp kmsg.ProduceResponseTopicPartition) []int32 {
	var out []int32
	for _, r := range sp.ErrorRecords {
		if r.ErrorMessage == nil || *r.ErrorMessage == "" {
			out = append(out, -1) // a record error without its message
			continue
		}
		out = append(out, r.RelativeOffset)
	}
	return out
}

func endOffset(t *testing.T, addr, topic string) int64 {
	t.Helper()
	offs, err := kadm.NewClient(newClient(t, addr)).ListEndOffsets(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := offs.Lookup(topic, 0)
	return o.Offset
}

// TestProduceRecordErrors: a batch refused for the content of its records
// names each of them (RecordErrors, v8+) with the partition's log start
// offset, as Kafka's LogValidator does; older versions get the code alone.
func TestProduceRecordErrors(t *testing.T) {
	_, addr := startTestBroker(t)
	compact := "compact"
	createTopic(t, addr, "compacted", 1, map[string]*string{"cleanup.policy": &compact})
	after := "60000"
	createTopic(t, addr, "bounded", 1, map[string]*string{"message.timestamp.after.max.ms": &after})
	now := time.Now().UnixMilli()
	k := []byte("k")

	for _, v := range []int16{7, 8, 13} {
		sp := produceAt(t, addr, "compacted", v, rawBatch(now, k, nil, k, nil))
		if sp.ErrorCode != kerr.InvalidRecord.Code || sp.LogStartOffset != 0 {
			t.Fatalf("v%d keyless: error %d log start %d, want INVALID_RECORD at log start 0", v, sp.ErrorCode, sp.LogStartOffset)
		}
		want := []int32{1, 3}
		if v < 8 {
			want = nil
		}
		if got := errorRecordIndexes(sp); !equalInt32s(got, want) {
			t.Fatalf("v%d keyless: record errors %v, want %v", v, got, want)
		}

		// Records 0 and 1 within a minute, 2 an hour ahead: only 2 is named.
		sp = produceAt(t, addr, "bounded", v, rawBatchDeltas(now, []int64{0, 1, time.Hour.Milliseconds()}))
		if sp.ErrorCode != kerr.InvalidTimestamp.Code || sp.LogStartOffset != 0 {
			t.Fatalf("v%d timestamps: error %d log start %d, want INVALID_TIMESTAMP at log start 0", v, sp.ErrorCode, sp.LogStartOffset)
		}
		want = []int32{2}
		if v < 8 {
			want = nil
		}
		if got := errorRecordIndexes(sp); !equalInt32s(got, want) {
			t.Fatalf("v%d timestamps: record errors %v, want %v", v, got, want)
		}
	}
	if o := endOffset(t, addr, "compacted"); o != 0 {
		t.Fatalf("refused batches were appended: end offset %d", o)
	}
	if o := endOffset(t, addr, "bounded"); o != 0 {
		t.Fatalf("refused batches were appended: end offset %d", o)
	}
}

// rawBatchDeltas is a keyed batch whose record i is at base+deltas[i].
func rawBatchDeltas(base int64, deltas []int64) []byte {
	var recs []byte
	for i, d := range deltas {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.TimestampDelta64 = d
		r.Key = []byte("k")
		r.Value = []byte("value")
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(len(deltas) - 1),
		FirstTimestamp: base, MaxTimestamp: base + deltas[len(deltas)-1],
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(deltas)), Records: recs,
	}
	b.Length = int32(49 + len(recs))
	return fixBatchCRC(b.AppendTo(nil))
}

func equalInt32s(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestProduceRecordSetShape: Kafka 4's codes for record sets that are not
// one v2 batch, without the log start offset (they are refused before the
// log is asked); a few stray bytes after a valid batch are dropped and the
// batch is appended, byte for byte.
func TestProduceRecordSetShape(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "shape", 1, nil)
	now := time.Now().UnixMilli()
	good := rawBatch(now, []byte("a"), []byte("b"))
	withMagic := func(m byte) []byte { b := bytes.Clone(good); b[16] = m; return b }

	for _, tc := range []struct {
		name    string
		b       []byte
		version int16
		want    *kerr.Error
	}{
		{"empty", []byte{}, 13, kerr.InvalidRecord},
		{"truncated", good[:len(good)-3], 13, kerr.InvalidRecord},
		{"magic 0", withMagic(0), 13, kerr.InvalidRecord},
		{"magic 1", withMagic(1), 9, kerr.InvalidRecord},
		{"magic 3", withMagic(3), 13, kerr.CorruptMessage},
		{"two batches", append(bytes.Clone(good), good...), 13, kerr.InvalidRecord},
	} {
		sp := produceAt(t, addr, "shape", tc.version, tc.b)
		if sp.ErrorCode != tc.want.Code || sp.LogStartOffset != -1 {
			t.Errorf("%s: error %d log start %d, want %s with log start -1", tc.name, sp.ErrorCode, sp.LogStartOffset, tc.want.Message)
		}
	}
	// Kafka's log checks the base offset: its refusal carries the log
	// start offset.
	if sp := produceAt(t, addr, "shape", 13, func() []byte { b := bytes.Clone(good); b[7] = 5; return b }()); sp.ErrorCode != kerr.InvalidRecord.Code || sp.LogStartOffset != 0 {
		t.Errorf("base offset 5: error %d log start %d, want INVALID_RECORD with log start 0", sp.ErrorCode, sp.LogStartOffset)
	}
	if o := endOffset(t, addr, "shape"); o != 0 {
		t.Fatalf("refused record sets were appended: end offset %d", o)
	}

	sp := produceAt(t, addr, "shape", 13, append(bytes.Clone(good), 1, 2, 3))
	if sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("batch with 3 stray bytes: error %d base %d, want appended at 0", sp.ErrorCode, sp.BaseOffset)
	}
	if o := endOffset(t, addr, "shape"); o != 2 {
		t.Fatalf("end offset %d after the batch, want 2", o)
	}
	// The stored batch is the batch alone: a fetch returns exactly its
	// bytes (base offset and leader epoch assigned).
	cl := newClient(t, addr)
	fr := kmsg.NewPtrFetchRequest()
	fr.MaxWaitMillis = 100
	fr.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "shape"
	ft.TopicID = topicID(t, addr, "shape")
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)
	resp, err := fr.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Topics[0].Partitions[0].RecordBatches
	if len(got) != len(good) || !bytes.Equal(got[17:], good[17:]) {
		t.Fatalf("stored %d bytes, want the %d-byte batch without the stray bytes", len(got), len(good))
	}

	// zstd before v7 is refused; at v7 it is taken.
	zb := zstdBatch(t, now)
	if sp := produceAt(t, addr, "shape", 6, zb); sp.ErrorCode != kerr.UnsupportedCompressionType.Code {
		t.Fatalf("zstd at v6: error %d, want UNSUPPORTED_COMPRESSION_TYPE", sp.ErrorCode)
	}
	if sp := produceAt(t, addr, "shape", 7, zb); sp.ErrorCode != 0 {
		t.Fatalf("zstd at v7: error %d", sp.ErrorCode)
	}
}

// zstdBatch is a one-record zstd batch.
func zstdBatch(t *testing.T, now int64) []byte {
	t.Helper()
	r := kmsg.NewRecord()
	r.Key = []byte("k")
	r.Value = bytes.Repeat([]byte("z"), 100)
	r.Length = int32(len(r.AppendTo(nil)) - 1)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := enc.EncodeAll(r.AppendTo(nil), nil)
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: 4, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: recs,
	}
	b.Length = int32(49 + len(recs))
	return fixBatchCRC(b.AppendTo(nil))
}

// TestProduceMaxDecompressedRecord: max.decompressed.message.bytes refuses
// a compressed batch whose record inflates beyond it (INVALID_RECORD).
func TestProduceMaxDecompressedRecord(t *testing.T) {
	_, addr := startTestBroker(t)
	small := "50"
	createTopic(t, addr, "inflate", 1, map[string]*string{"max.decompressed.message.bytes": &small})
	createTopic(t, addr, "inflate-default", 1, nil)
	zb := zstdBatch(t, time.Now().UnixMilli()) // one record of about 110 bytes
	if sp := produceAt(t, addr, "inflate", 13, zb); sp.ErrorCode != kerr.InvalidRecord.Code {
		t.Fatalf("a 110-byte record under max.decompressed.message.bytes=50: error %d, want INVALID_RECORD", sp.ErrorCode)
	}
	if sp := produceAt(t, addr, "inflate-default", 13, zb); sp.ErrorCode != 0 {
		t.Fatalf("the same batch at the default: error %d", sp.ErrorCode)
	}
}
