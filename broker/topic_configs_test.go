package broker

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/protocol"
)

// storedCodecs reads partition 0 of topic straight from its log and
// returns the codec of every batch.
func storedCodecs(t *testing.T, b *Broker, topic string) []int8 {
	t.Helper()
	l := b.logs.Get(topic, 0)
	res, err := l.Read(0, 1<<20, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	var out []int8
	for rb := res.Records; len(rb) > 0; {
		h, err := protocol.DecodeBatchHeader(rb)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Compression())
		rb = rb[h.Size():]
	}
	return out
}

// TestTopicCompressionTypeRecompresses: compression.type other than
// producer makes the broker store the topic's codec whatever the producer
// sent (uncompressed: decompressed), and consumers read the same records.
func TestTopicCompressionTypeRecompresses(t *testing.T) {
	b, addr := startTestBroker(t)
	for _, c := range []struct {
		topicType string
		sent      kgo.CompressionCodec
		want      int8
	}{
		{"zstd", kgo.NoCompression(), protocol.CompressionZstd},
		{"uncompressed", kgo.GzipCompression(), protocol.CompressionNone},
		{"lz4", kgo.SnappyCompression(), protocol.CompressionLZ4},
		{"producer", kgo.SnappyCompression(), protocol.CompressionSnappy},
	} {
		topic := "ct-" + c.topicType
		createTopic(t, addr, topic, 1, map[string]*string{"compression.type": sp(c.topicType)})
		cl := newClient(t, addr, kgo.ProducerBatchCompression(c.sent), kgo.DefaultProduceTopic(topic))
		value := bytes.Repeat([]byte("compressible "), 100)
		for i := 0; i < 3; i++ {
			if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		for _, codec := range storedCodecs(t, b, topic) {
			if codec != c.want {
				t.Fatalf("compression.type=%s: batch stored with codec %d, want %d", c.topicType, codec, c.want)
			}
		}
		for _, r := range consumeN(t, addr, topic, 3) {
			if !bytes.Equal(r.Value, value) {
				t.Fatalf("compression.type=%s: value changed", c.topicType)
			}
		}
	}
}

// TestMaxDecompressedMessageBytes: a compressed batch holding a record
// larger, once inflated, than max.decompressed.message.bytes is refused
// with INVALID_RECORD; smaller records pass.
func TestMaxDecompressedMessageBytes(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "mdmb", 1, map[string]*string{"max.decompressed.message.bytes": sp("1000")})
	cl := newClient(t, addr, kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.DefaultProduceTopic("mdmb"),
		kgo.RecordRetries(0), kgo.DisableIdempotentWrite())
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: make([]byte, 500)}).FirstErr(); err != nil {
		t.Fatalf("a 500-byte record: %v", err)
	}
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: make([]byte, 5000)}).FirstErr(); err != kerr.InvalidRecord {
		t.Fatalf("a 5000-byte record: %v, want INVALID_RECORD", err)
	}
}
