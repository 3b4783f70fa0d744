package broker

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testBatch encodes an uncompressed v2 batch of n records.
func testBatch(pid int64, epoch int16, seq int32, n int) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.Key = []byte{'k', byte(i)}
		r.Value = []byte("value")
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(n - 1),
		FirstTimestamp:       1_700_000_000_000,
		MaxTimestamp:         1_700_000_000_000,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(n),
		Records:              recs,
	}
	b.Length = int32(49 + len(recs))
	out := b.AppendTo(nil)
	crc := crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(out[17:], crc)
	return out
}

func produceRaw(t *testing.T, addr, topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	cl := newClient(t, addr)
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rt.TopicID = topicID(t, addr, topic)
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

func TestIdempotentProduce(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir)
	createTopic(t, addr, "idem", 1, nil)

	cl := newClient(t, addr)
	ipid := kmsg.NewPtrInitProducerIDRequest()
	ipidResp, err := ipid.RequestWith(testCtx(t), cl)
	if err != nil || ipidResp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %d", err, ipidResp.ErrorCode)
	}
	pid, epoch := ipidResp.ProducerID, ipidResp.ProducerEpoch

	first := produceRaw(t, addr, "idem", testBatch(pid, epoch, 0, 3))
	if first.ErrorCode != 0 || first.BaseOffset != 0 {
		t.Fatalf("first batch: error %d base %d", first.ErrorCode, first.BaseOffset)
	}
	second := produceRaw(t, addr, "idem", testBatch(pid, epoch, 3, 2))
	if second.ErrorCode != 0 || second.BaseOffset != 3 {
		t.Fatalf("second batch: error %d base %d", second.ErrorCode, second.BaseOffset)
	}
	dup := produceRaw(t, addr, "idem", testBatch(pid, epoch, 0, 3))
	if dup.ErrorCode != 0 || dup.BaseOffset != 0 {
		t.Fatalf("retried duplicate: error %d base %d, want success at 0", dup.ErrorCode, dup.BaseOffset)
	}
	gap := produceRaw(t, addr, "idem", testBatch(pid, epoch, 9, 1))
	if gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap: error %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", gap.ErrorCode)
	}
	recs := consumeN(t, addr, "idem", 5)
	if len(recs) != 5 {
		t.Fatalf("log holds %d records, want 5 (the duplicate must not be written)", len(recs))
	}

	// Producer state survives a restart: the duplicate is still detected
	// and the next sequence is still expected.
	cl.Close()
	b.Close()
	_, addr = startTestBrokerIn(t, dir)
	dup = produceRaw(t, addr, "idem", testBatch(pid, epoch, 3, 2))
	if dup.ErrorCode != 0 || dup.BaseOffset != 3 {
		t.Fatalf("duplicate after restart: error %d base %d, want success at 3", dup.ErrorCode, dup.BaseOffset)
	}
	next := produceRaw(t, addr, "idem", testBatch(pid, epoch, 5, 1))
	if next.ErrorCode != 0 || next.BaseOffset != 5 {
		t.Fatalf("next batch after restart: error %d base %d", next.ErrorCode, next.BaseOffset)
	}
}

func TestCorruptBatchRejected(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "crc", 1, nil)
	batch := testBatch(-1, -1, -1, 2)
	batch[len(batch)-1] ^= 0xff
	resp := produceRaw(t, addr, "crc", batch)
	if resp.ErrorCode != kerr.CorruptMessage.Code {
		t.Fatalf("bad CRC: error %d, want CORRUPT_MESSAGE", resp.ErrorCode)
	}
	ok := produceRaw(t, addr, "crc", testBatch(-1, -1, -1, 1))
	if ok.ErrorCode != 0 || ok.BaseOffset != 0 {
		t.Fatalf("after a rejected batch the log must be untouched: error %d base %d", ok.ErrorCode, ok.BaseOffset)
	}
}

// topicID looks a topic's id up with a Metadata request.
func topicID(t *testing.T, addr, topic string) [16]byte {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	md, err := adm.Metadata(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	return md.Topics[topic].ID
}

func TestProduceTimestampInTheFutureRejected(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "future", 1, nil)
	batch := testBatch(-1, -1, -1, 1)
	// Two hours ahead: beyond Kafka 4's default message.timestamp.after.max.ms (1 h).
	ts := time.Now().Add(2 * time.Hour).UnixMilli()
	binary.BigEndian.PutUint64(batch[27:], uint64(ts))
	binary.BigEndian.PutUint64(batch[35:], uint64(ts))
	binary.BigEndian.PutUint32(batch[17:], crc32.Checksum(batch[21:], crc32.MakeTable(crc32.Castagnoli)))
	resp := produceRaw(t, addr, "future", batch)
	if resp.ErrorCode != kerr.InvalidTimestamp.Code {
		t.Fatalf("future timestamp: error %d, want INVALID_TIMESTAMP", resp.ErrorCode)
	}
}

func TestProduceV0ToV2RefusedWithUnsupportedVersion(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "old", 1, nil)
	req := kmsg.NewPtrProduceRequest()
	req.Version = 2
	req.Acks = 1
	req.TimeoutMillis = 1000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "old"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 1, 2, 3, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("old-client")).AppendRequest(nil, req, 42)
	raw, err := rawRequest(t, addr, frame)
	if err != nil {
		t.Fatalf("broker closed the connection on Produce v2: %v", err)
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 2
	if err := resp.ReadFrom(raw[4:]); err != nil {
		t.Fatal(err)
	}
	if got := resp.Topics[0].Partitions[0].ErrorCode; got != kerr.UnsupportedVersion.Code {
		t.Fatalf("Produce v2: error %d, want UNSUPPORTED_VERSION", got)
	}
	recs, err := kadm.NewClient(newClient(t, addr)).ListEndOffsets(testCtx(t), "old")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := recs.Lookup("old", 0); o.Offset != 0 {
		t.Fatalf("a refused v2 produce wrote to the log: end offset %d", o.Offset)
	}
}
