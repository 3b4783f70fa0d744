package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createTopic(t *testing.T, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	resp, err := adm.CreateTopic(testCtx(t), partitions, 1, configs, topic)
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if resp.Err != nil {
		t.Fatalf("create topic %s: %v (%s)", topic, resp.Err, resp.ErrMessage)
	}
}

// consumeN reads n records from the start of topic.
func consumeN(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testCtx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s-%d: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	return out
}

func TestProduceConsumeRoundTrip(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "rt", 3, nil)
	cl := newClient(t, addr, kgo.RequiredAcks(kgo.AllISRAcks()))
	ctx := testCtx(t)
	const n = 300
	ts := time.UnixMilli(1_700_000_000_000)
	for i := 0; i < n; i++ {
		r := &kgo.Record{
			Topic:     "rt",
			Key:       []byte(fmt.Sprintf("k%d", i%17)),
			Value:     []byte(fmt.Sprintf("value-%d", i)),
			Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i))}},
			Timestamp: ts.Add(time.Duration(i) * time.Millisecond),
		}
		cl.Produce(ctx, r, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	recs := consumeN(t, addr, "rt", n)
	if len(recs) != n {
		t.Fatalf("got %d records, want %d", len(recs), n)
	}
	keyPart := map[string]int32{}
	lastOff := map[int32]int64{0: -1, 1: -1, 2: -1}
	seen := map[string]bool{}
	for _, r := range recs {
		if p, ok := keyPart[string(r.Key)]; ok && p != r.Partition {
			t.Fatalf("key %s on partitions %d and %d", r.Key, p, r.Partition)
		}
		keyPart[string(r.Key)] = r.Partition
		if r.Offset != lastOff[r.Partition]+1 {
			t.Fatalf("partition %d: offset %d after %d", r.Partition, r.Offset, lastOff[r.Partition])
		}
		lastOff[r.Partition] = r.Offset
		var i int
		fmt.Sscanf(string(r.Value), "value-%d", &i)
		if string(r.Headers[0].Value) != fmt.Sprint(i) || !r.Timestamp.Equal(ts.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("record %d: headers %v timestamp %v", i, r.Headers, r.Timestamp)
		}
		seen[string(r.Value)] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct values, want %d", len(seen), n)
	}
}

func TestProduceErrors(t *testing.T) {
	_, addr := startTestBroker(t, "auto.create.topics.enable=false")
	small := "1024"
	compact := "compact"
	createTopic(t, addr, "small", 1, map[string]*string{"max.message.bytes": &small})
	createTopic(t, addr, "compacted", 1, map[string]*string{"cleanup.policy": &compact})
	cl := newClient(t, addr, kgo.RecordRetries(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx := testCtx(t)

	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "small", Value: make([]byte, 4096)}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("oversize record: got %v, want MESSAGE_TOO_LARGE", err)
	}
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "compacted", Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Errorf("keyless record on compacted topic: got %v, want INVALID_RECORD", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "compacted", Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Errorf("keyed record on compacted topic: %v", err)
	}

	// A missing topic with auto-creation off.
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("missing")
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Topics[0].ErrorCode; got != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("metadata for missing topic: error %d, want UNKNOWN_TOPIC_OR_PARTITION", got)
	}
}

// rawRequest sends one request on a fresh connection and returns the raw
// response frame (after the size), or an error when the broker closes.
func rawRequest(t *testing.T, addr string, frame []byte) ([]byte, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(frame); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := readFull(c, size[:]); err != nil {
		return nil, err
	}
	n := int(size[0])<<24 | int(size[1])<<16 | int(size[2])<<8 | int(size[3])
	buf := make([]byte, n)
	_, err = readFull(c, buf)
	return buf, err
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestApiVersionsNewerThanOurs(t *testing.T) {
	_, addr := startTestBroker(t)
	// ApiVersions v99 with a flexible header: key, version, correlation id,
	// client id, empty tags; body: two compact strings and empty tags.
	body := []byte{0, 18, 0, 99, 0, 0, 0, 7, 0, 1, 'x', 0, 2, 'a', 2, '1', 0}
	frame := append([]byte{0, 0, 0, byte(len(body))}, body...)
	resp, err := rawRequest(t, addr, frame)
	if err != nil {
		t.Fatalf("broker closed the connection on a newer ApiVersions: %v", err)
	}
	if corr := int32(resp[0])<<24 | int32(resp[1])<<16 | int32(resp[2])<<8 | int32(resp[3]); corr != 7 {
		t.Fatalf("correlation id %d", corr)
	}
	av := kmsg.NewPtrApiVersionsResponse()
	av.Version = 0
	if err := av.ReadFrom(resp[4:]); err != nil {
		t.Fatalf("v0 decode: %v", err)
	}
	if av.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error code %d, want UNSUPPORTED_VERSION", av.ErrorCode)
	}
	found := false
	for _, k := range av.ApiKeys {
		if k.ApiKey == 18 {
			found = k.MaxVersion == 5
		}
		if k.ApiKey == 0 && (k.MinVersion != 0 || k.MaxVersion != 13) {
			t.Errorf("Produce advertised %d-%d, want 0-13", k.MinVersion, k.MaxVersion)
		}
	}
	if !found {
		t.Fatalf("ApiVersions key missing or wrong max: %+v", av.ApiKeys)
	}
}

func TestOversizeFrameClosesConnection(t *testing.T) {
	_, addr := startTestBroker(t, "socket.request.max.bytes=1024")
	frame := []byte{0, 0, 0x10, 0, 0, 18, 0, 0}
	if _, err := rawRequest(t, addr, frame); err == nil {
		t.Fatal("broker answered a frame above socket.request.max.bytes")
	}
}

func TestFetchLongPollWokenByAppend(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "lp", 1, nil)
	cl := newClient(t, addr)
	ctx := testCtx(t)
	id := topicID(t, addr, "lp")
	got := make(chan *kmsg.FetchResponse, 1)
	go func() {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis = 20000
		req.MinBytes = 1
		req.MaxBytes = 1 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "lp"
		rt.TopicID = id
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Error(err)
		}
		got <- resp
	}()
	time.Sleep(200 * time.Millisecond)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "lp", Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case resp := <-got:
		if resp == nil || len(resp.Topics[0].Partitions[0].RecordBatches) == 0 {
			t.Fatalf("long poll returned no records: %+v", resp)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll was not woken by the append")
	}
}

func TestListOffsets(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "lo", 1, nil)
	cl := newClient(t, addr)
	ctx := testCtx(t)
	base := time.UnixMilli(1_700_000_000_000)
	for i := 0; i < 10; i++ {
		r := &kgo.Record{Topic: "lo", Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Second)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	start, err := adm.ListStartOffsets(ctx, "lo")
	if err != nil {
		t.Fatal(err)
	}
	end, err := adm.ListEndOffsets(ctx, "lo")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := start.Lookup("lo", 0); o.Offset != 0 {
		t.Errorf("start offset %d", o.Offset)
	}
	if o, _ := end.Lookup("lo", 0); o.Offset != 10 {
		t.Errorf("end offset %d", o.Offset)
	}
	at, err := adm.ListOffsetsAfterMilli(ctx, base.Add(4500*time.Millisecond).UnixMilli(), "lo")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := at.Lookup("lo", 0); o.Offset != 5 {
		t.Errorf("offset after 4.5s: %d, want 5", o.Offset)
	}
	max, err := adm.ListMaxTimestampOffsets(ctx, "lo")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := max.Lookup("lo", 0); o.Offset != 9 || o.Timestamp != base.Add(9*time.Second).UnixMilli() {
		t.Errorf("max timestamp offset %d ts %d", o.Offset, o.Timestamp)
	}
}

func TestRestartKeepsTopicsAndData(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir)
	createTopic(t, addr, "keep", 2, nil)
	cl := newClient(t, addr)
	ctx := testCtx(t)
	for i := 0; i < 50; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "keep", Key: []byte{byte(i)}, Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	_, addr2 := startTestBrokerIn(t, dir)
	recs := consumeN(t, addr2, "keep", 50)
	if len(recs) != 50 {
		t.Fatalf("after restart: %d records", len(recs))
	}
}
