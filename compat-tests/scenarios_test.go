package compat

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The scenarios every Go client runs (franz_test.go, sarama_test.go,
// kafkago_test.go, confluent_test.go), and the fixtures they share. The
// scenario names are the matrix's columns, the same in every ecosystem.
//
// Fixtures (creating topics, reading back what a partition really holds,
// checking which codec a stored batch uses) go through franz-go, so that a
// scenario tests one client against samsa and checks the result
// independently of that client.

const (
	scBootstrapMetadata = "bootstrap-metadata"
	scAdminTopics       = "admin-topics"
	scKeyPartitioning   = "key-partitioning"
	scConsumeFromOffset = "consume-from-offset"
	scConsumeFromTime   = "consume-from-timestamp"
	scGroupCommitResume = "group-commit-resume"
	// The same with the KIP-848 protocol (group.protocol=consumer).
	scGroupCommitResumeKIP848 = "group-commit-resume-kip848"
	scErrUnknownTopic         = "error-unknown-topic"
	scErrMessageTooLarge      = "error-message-too-large"
	// A consumer's full fetch without a fetch session (KIP-227 epoch -1),
	// as kafka-go (session id -1 or 0) and librdkafka (0) send every fetch.
	scFetchSessionless = "fetch-full-without-session"
	// A consumer of many partitions on one incremental fetch session
	// (franz-go's default).
	scFetchIncrementalMany = "fetch-incremental-many-partitions"
	// Transactions: the client as a transactional producer (commit,
	// abort, commit; read back read_committed and read_uncommitted), and
	// as a read_committed consumer stopping at the last stable offset.
	scTxnCommitAbort = "transactions-commit-abort"
	scReadCommitted  = "read-committed"
)

// scProduceConsume is the scenario name for one codec.
func scProduceConsume(codec string) string { return "produce-consume-" + codec }

// allCodecs are the compression allCodecs of the produce-consume scenarios, by
// Kafka's names (compression.type).
var allCodecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// codecIDs are the record batch attribute values (the low 3 bits).
var codecIDs = map[string]int16{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

const (
	// One scenario passes in well under 10 s; a broken one must not eat the
	// whole compat run (go test -timeout 15m loses the matrix).
	scenarioTimeout = 30 * time.Second
	// Partition counts of the scenarios that need more than one.
	keyPartitions = 5
	// The topic limit and record size of error-message-too-large.
	smallMaxMessageBytes = 10000
	largeValueBytes      = 20000
	// Records per produce-consume scenario.
	produceConsumeRecords = 24
	// Records per offset/timestamp/group scenario (all in partition 0).
	seqRecords = 10
	// Partitions of fetch-incremental-many-partitions.
	manyPartitions = 64
)

// Time budgets per client: once a client's scenarios have taken this long
// in all (only when things hang), its remaining ones fail at once.
var (
	budgetMu sync.Mutex
	budgets  = map[string]time.Time{} // guarded by budgetMu; client -> end
)

// setBudget gives client's scenarios d from now.
func setBudget(client string, d time.Duration) {
	budgetMu.Lock()
	defer budgetMu.Unlock()
	budgets[client] = time.Now().Add(d)
}

func budgetLeft(client string) (time.Duration, bool) {
	budgetMu.Lock()
	defer budgetMu.Unlock()
	end, ok := budgets[client]
	return time.Until(end), ok
}

// runScenario runs one client x scenario cell as a subtest: fn gets a context
// that ends after scenarioTimeout (or when the client's budget ends) and
// returns the first error. The cell is recorded in the matrix and a failure
// fails the test.
func runScenario(t *testing.T, client, name string, fn func(ctx context.Context, t *testing.T) error) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		timeout := scenarioTimeout
		if left, ok := budgetLeft(client); ok {
			if left <= 0 {
				err := fmt.Errorf("not run: the %s scenarios used up their time budget", client)
				record(client, name, err)
				t.Error(err)
				return
			}
			timeout = min(timeout, left)
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		recorded := false
		defer func() {
			// fn called t.Fatal (or a fixture did): still fill the cell.
			if !recorded {
				record(client, name, errors.New("test aborted (see the test log)"))
			}
		}()
		begin := time.Now()
		err := fn(ctx, t)
		if err == nil && t.Failed() {
			err = errors.New("test failed (see the test log)")
		}
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("scenario timed out after %v", timeout)
		}
		record(client, name, err)
		recorded = true
		if err != nil {
			t.Errorf("%s / %s: %v", client, name, err)
		}
		t.Logf("%s / %s took %v", client, name, time.Since(begin).Round(time.Millisecond))
	})
}

// topicName is a topic name unique per client and scenario.
func topicName(client, scenario string) string {
	return strings.NewReplacer("/", "-", " ", "-").Replace(client + "." + scenario)
}

// ---- records ----------------------------------------------------------------

type testHeader struct {
	Key   string
	Value []byte
}

// testRecord is a record as produced and as consumed back. Timestamps are
// whole milliseconds (Kafka's resolution).
type testRecord struct {
	Key       []byte
	Value     []byte
	Headers   []testHeader
	Timestamp time.Time
	// Filled in on consume.
	Partition int32
	Offset    int64
}

// baseTime is the first timestamp of generated records: whole
// milliseconds, an hour in the past (so "now" never collides with it).
func baseTime() time.Time {
	return time.UnixMilli(time.Now().Add(-time.Hour).UnixMilli())
}

// makeRecords returns n records: even ones keyed, odd ones keyless; zero,
// one or two headers (one with an empty value); compressible values of
// varying length with some binary bytes; timestamps base + i seconds.
func makeRecords(prefix string, n int, base time.Time) []testRecord {
	recs := make([]testRecord, n)
	for i := range recs {
		r := &recs[i]
		if i%2 == 0 {
			r.Key = []byte(fmt.Sprintf("%s-key-%d", prefix, i))
		}
		var v bytes.Buffer
		fmt.Fprintf(&v, "%s record %d: ", prefix, i)
		for j := 0; j < 5+i*7; j++ {
			v.WriteString("the quick brown fox jumps over the lazy dog ")
		}
		v.Write([]byte{0, 1, 2, 0xfe, 0xff, byte(i)})
		r.Value = v.Bytes()
		switch i % 3 {
		case 1:
			r.Headers = []testHeader{{Key: "h1", Value: []byte(fmt.Sprintf("v%d", i))}}
		case 2:
			r.Headers = []testHeader{
				{Key: "trace-id", Value: []byte(fmt.Sprintf("%016x", i))},
				{Key: "empty", Value: []byte{}},
			}
		}
		r.Timestamp = base.Add(time.Duration(i) * time.Second)
	}
	return recs
}

// compareRecords checks that got holds exactly want, in order: key, value,
// headers and timestamp byte-identical (a null and an empty key or header
// value count as equal: not every client can tell them apart). If
// firstOffset >= 0, got[i].Offset must be firstOffset+i.
func compareRecords(want, got []testRecord, firstOffset int64) error {
	if len(got) != len(want) {
		return fmt.Errorf("consumed %d records, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if !bytes.Equal(w.Key, g.Key) {
			return fmt.Errorf("record %d: key %q, want %q", i, g.Key, w.Key)
		}
		if !bytes.Equal(w.Value, g.Value) {
			return fmt.Errorf("record %d: value differs (%d bytes %q…, want %d bytes %q…)", i, len(g.Value), head24(g.Value), len(w.Value), head24(w.Value))
		}
		if len(w.Headers) != len(g.Headers) {
			return fmt.Errorf("record %d: %d headers %v, want %d %v", i, len(g.Headers), g.Headers, len(w.Headers), w.Headers)
		}
		for j := range w.Headers {
			if w.Headers[j].Key != g.Headers[j].Key || !bytes.Equal(w.Headers[j].Value, g.Headers[j].Value) {
				return fmt.Errorf("record %d: header %d is %q=%q, want %q=%q", i, j, g.Headers[j].Key, g.Headers[j].Value, w.Headers[j].Key, w.Headers[j].Value)
			}
		}
		if !w.Timestamp.Equal(g.Timestamp) {
			return fmt.Errorf("record %d: timestamp %d ms, want %d ms", i, g.Timestamp.UnixMilli(), w.Timestamp.UnixMilli())
		}
		if firstOffset >= 0 && g.Offset != firstOffset+int64(i) {
			return fmt.Errorf("record %d: offset %d, want %d", i, g.Offset, firstOffset+int64(i))
		}
	}
	return nil
}

func head24(b []byte) []byte {
	if len(b) > 24 {
		return b[:24]
	}
	return b
}

// randomBytes returns n incompressible bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// ---- the Java client's default partitioner ------------------------------------

// murmur2 is Kafka's Utils.murmur2 (the Java client's hash of a record key).
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	n := length / 4
	for i := 0; i < n; i++ {
		k := uint32(data[i*4]) | uint32(data[i*4+1])<<8 | uint32(data[i*4+2])<<16 | uint32(data[i*4+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n*4:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// javaPartition is where the Java client's default partitioner puts a
// keyed record: toPositive(murmur2(key)) % numPartitions.
func javaPartition(key []byte, numPartitions int) int32 {
	return (murmur2(key) & 0x7fffffff) % int32(numPartitions)
}

// murmur2Hash is murmur2 as a hash.Hash32 (for sarama's custom hash
// partitioner).
type murmur2Hash struct{ buf []byte }

func newMurmur2Hash() hash.Hash32 { return &murmur2Hash{} }

func (h *murmur2Hash) Write(p []byte) (int, error) { h.buf = append(h.buf, p...); return len(p), nil }
func (h *murmur2Hash) Sum(b []byte) []byte {
	s := h.Sum32()
	return append(b, byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}
func (h *murmur2Hash) Reset()         { h.buf = h.buf[:0] }
func (h *murmur2Hash) Size() int      { return 4 }
func (h *murmur2Hash) BlockSize() int { return 4 }
func (h *murmur2Hash) Sum32() uint32  { return uint32(murmur2(h.buf)) }

// partitionKeys are the keys of key-partitioning.
func partitionKeys() [][]byte {
	keys := [][]byte{[]byte("a"), []byte("ab"), []byte("abc"), []byte("abcd"), []byte("user-42"), {0xff, 0x00, 0x7f}}
	for i := 0; i < 34; i++ {
		keys = append(keys, []byte(fmt.Sprintf("order-%d", i*7919)))
	}
	return keys
}

// ---- fixtures (franz-go) --------------------------------------------------------

func fxClient(addr string, opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
}

// createTopic creates a topic with replication factor 1 and waits until
// metadata shows all its partitions with a leader.
func fxCreateTopic(ctx context.Context, addr, topic string, partitions int32, configs map[string]string) error {
	cl, err := fxClient(addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = kadm.StringPtr(v)
	}
	resp, err := adm.CreateTopic(ctx, partitions, 1, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("fixture: creating topic %s: %w", topic, err)
	}
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			td := md.Topics[topic]
			ready := td.Err == nil && len(td.Partitions) == int(partitions)
			for _, p := range td.Partitions {
				ready = ready && p.Leader >= 0 && p.Err == nil
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fixture: topic %s not ready: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// fxProduce produces recs to partition 0 of topic with franz-go.
func fxProduce(ctx context.Context, addr, topic string, recs []testRecord) error {
	return fxProduceCodec(ctx, addr, topic, recs, "none")
}

// fxProduceCodec produces recs to partition 0 of topic with franz-go, in
// batches compressed with codec.
func fxProduceCodec(ctx context.Context, addr, topic string, recs []testRecord, codec string) error {
	return fxProduceTo(ctx, addr, topic, 0, recs, codec)
}

// fxProducePartition produces recs to one partition of topic with
// franz-go, uncompressed.
func fxProducePartition(ctx context.Context, addr, topic string, partition int32, recs []testRecord) error {
	return fxProduceTo(ctx, addr, topic, partition, recs, "none")
}

func fxProduceTo(ctx context.Context, addr, topic string, partition int32, recs []testRecord, codec string) error {
	cl, err := fxClient(addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(franzCodecs[codec]))
	if err != nil {
		return err
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = toKgoRecord(topic, r)
		krs[i].Partition = partition
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return fmt.Errorf("fixture: producing to %s: %w", topic, err)
	}
	return nil
}

func toKgoRecord(topic string, r testRecord) *kgo.Record {
	kr := &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return kr
}

func fromKgoRecord(kr *kgo.Record) testRecord {
	r := testRecord{Key: kr.Key, Value: kr.Value, Timestamp: kr.Timestamp, Partition: kr.Partition, Offset: kr.Offset}
	for _, h := range kr.Headers {
		r.Headers = append(r.Headers, testHeader{Key: h.Key, Value: h.Value})
	}
	return r
}

// fxReadAll reads every record of topic (all partitions, from the
// start up to the high watermarks at the time of the call) with franz-go.
func fxReadAll(ctx context.Context, addr, topic string) ([]testRecord, error) {
	cl, err := fxClient(addr)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("fixture: listing end offsets of %s: %w", topic, err)
	}
	want := 0
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		want += int(o.Offset)
		parts[o.Partition] = kgo.NewOffset().AtStart()
	})
	if want == 0 {
		return nil, nil
	}
	cons, err := fxClient(addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	var out []testRecord
	for len(out) < want {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("fixture: read %d of %d records of %s: %w", len(out), want, topic, ctx.Err())
		}
		if err := fs.Err(); err != nil {
			return out, fmt.Errorf("fixture: reading %s: %w", topic, err)
		}
		fs.EachRecord(func(kr *kgo.Record) { out = append(out, fromKgoRecord(kr)) })
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}

// fxCheckKeyPlacement reads topic back and checks that every key is in the
// partition the Java client's default partitioner picks for it, and that
// every key of keys arrived.
func fxCheckKeyPlacement(ctx context.Context, addr, topic string, keys [][]byte, numPartitions int) error {
	recs, err := fxReadAll(ctx, addr, topic)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range recs {
		want := javaPartition(r.Key, numPartitions)
		if r.Partition != want {
			return fmt.Errorf("key %q landed in partition %d, the Java client's murmur2 partitioner picks %d", r.Key, r.Partition, want)
		}
		seen[string(r.Key)] = true
	}
	for _, k := range keys {
		if !seen[string(k)] {
			return fmt.Errorf("key %q: no record in the topic", k)
		}
	}
	return nil
}

// fxCheckStoredCodec fetches partition 0 of topic raw and checks that every
// record batch the broker holds is compressed with codec (proof that the
// client really compressed, and that samsa kept the batch as it was sent).
func fxCheckStoredCodec(ctx context.Context, addr, topic, codec string) error {
	cl, err := fxClient(addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	// Fetch v13+ names topics by id.
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		return fmt.Errorf("fixture: metadata of %s: %w", topic, err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MaxBytes = 64 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	ft.TopicID = md.Topics[topic].ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition = 0
	fp.FetchOffset = 0
	fp.PartitionMaxBytes = 64 << 20
	fp.LogStartOffset = -1
	fp.CurrentLeaderEpoch = -1
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("fixture: raw fetch of %s: %w", topic, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("fixture: raw fetch of %s: unexpected response shape", topic)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return fmt.Errorf("fixture: raw fetch of %s: error code %d", topic, p.ErrorCode)
	}
	raw := p.RecordBatches
	batches := 0
	for len(raw) >= 12 {
		length := int(int32(uint32(raw[8])<<24 | uint32(raw[9])<<16 | uint32(raw[10])<<8 | uint32(raw[11])))
		if length <= 0 || 12+length > len(raw) {
			break // a partial batch at the end
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw[:12+length]); err != nil {
			return fmt.Errorf("fixture: decoding a stored batch of %s: %w", topic, err)
		}
		if got := b.Attributes & 7; got != codecIDs[codec] {
			return fmt.Errorf("stored batch at offset %d has codec %d, want %d (%s)", b.FirstOffset, got, codecIDs[codec], codec)
		}
		batches++
		raw = raw[12+length:]
	}
	if batches == 0 {
		return fmt.Errorf("fixture: raw fetch of %s returned no batches", topic)
	}
	return nil
}

// fxCommittedOffset is group's committed offset for topic/partition (-1 if
// none), read with kadm.
// fxGroupType is the group's type as ListGroups reports it ("classic" or
// "consumer"), so that a KIP-848 scenario can tell the client really used
// ConsumerGroupHeartbeat.
func fxGroupType(ctx context.Context, addr, group string) (string, error) {
	cl, err := fxClient(addr)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	groups, err := kadm.NewClient(cl).ListGroups(ctx)
	if err != nil {
		return "", fmt.Errorf("fixture: listing groups: %w", err)
	}
	g, ok := groups[group]
	if !ok {
		return "", fmt.Errorf("fixture: group %s is not listed", group)
	}
	return g.GroupType, nil
}

func fxCommittedOffset(ctx context.Context, addr, group, topic string, partition int32) (int64, error) {
	cl, err := fxClient(addr)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return 0, fmt.Errorf("fixture: fetching %s's offsets: %w", group, err)
	}
	o, ok := offs.Lookup(topic, partition)
	if !ok {
		return -1, nil
	}
	if o.Err != nil {
		return 0, o.Err
	}
	return o.At, nil
}

// expectErr checks that err is a Kafka error with the code want (by the
// client's own error type, through is), and says what arrived otherwise.
func expectErr(err error, what string, is func(error) bool) error {
	if err == nil {
		return fmt.Errorf("no error; want %s", what)
	}
	if !is(err) {
		return fmt.Errorf("error %q (%T), want %s", err, err, what)
	}
	return nil
}

// pollUntil polls cond every 50 ms until it returns true or ctx ends.
func pollUntil(ctx context.Context, what string, cond func() (bool, error)) error {
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), lastErr)
			}
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestMurmur2JavaVectors checks murmur2 against the vectors of Kafka's own
// UtilsTest.testMurmur2 (the scenarios' expected partitions rest on it).
func TestMurmur2JavaVectors(t *testing.T) {
	for in, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := murmur2([]byte(in)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

// fxMetric reads one unlabelled sample from samsa's /metrics on its admin
// listener.
func fxMetric(ctx context.Context, admin, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fixture: metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("fixture: metrics: %w", err)
	}
	return 0, fmt.Errorf("fixture: no %s in /metrics", name)
}

// The fetch session gauges (broker/fetch_session.go).
const (
	metricFetchSessions          = "kafka_server_fetchsessioncache_numincrementalfetchsessions"
	metricFetchSessionPartitions = "kafka_server_fetchsessioncache_numincrementalfetchpartitionscached"
)

// fxNoNewSession runs read and checks that samsa's session cache holds no
// more sessions after it than before: the client's fetches were full
// fetches without a session. Nothing else fetches meanwhile (the
// scenarios of one client run one after the other).
func fxNoNewSession(ctx context.Context, admin string, read func() error) error {
	before, err := fxMetric(ctx, admin, metricFetchSessions)
	if err != nil {
		return err
	}
	if err := read(); err != nil {
		return err
	}
	after, err := fxMetric(ctx, admin, metricFetchSessions)
	if err != nil {
		return err
	}
	if after > before {
		return fmt.Errorf("%v fetch sessions before the read, %v after: the client did not fetch without a session", before, after)
	}
	return nil
}
