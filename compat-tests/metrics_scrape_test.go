package compat

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMetricsScrapeWorkload scrapes the real binary's /metrics (on its
// admin listener) before and after a known workload run by franz-go, and
// checks that every counter the workload touches moved by exactly what the
// workload did. The workload: create a one-partition topic, produce
// scrapeRequests Produce requests of scrapeRecordsPerRequest records each
// (uncompressed, one batch a request, records of a fixed size), consume
// them all in a consumer group and commit once.
//
// What the broker counts (broker/metrics.go):
//   - messagesin: records of each appended batch (the batch header's
//     record count).
//   - bytesin: the size of each appended record batch as the producer sent
//     it (61 bytes of v2 batch header plus the records; no Kafka request
//     or partition framing), before any recompression by compression.type
//     (none here). It is computed below from the record layout, and
//     cross-checked against franz-go's own batch metrics.
//   - bytesout: the record batch bytes consumers' Fetch responses carry
//     (not replication); each batch is fetched once, so the bytes in.
//   - requests_total / totaltime_seconds: one per request the handlers
//     answered, by API (Fetch from a consumer is "FetchConsumer").
//
// Nothing but this test's clients talks Kafka to the broker (the console's
// history reads the broker's counters in-process), so for every API the
// broker's count is at least the responses the clients read and at most
// the requests they wrote; for the synchronous ones (Produce, CreateTopics,
// OffsetCommit) both bounds are the planned number.
func TestMetricsScrapeWorkload(t *testing.T) {
	s := StartSamsa(t)
	if s.AdminAddr == "" {
		t.Skip("the external broker has no known admin listener")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const (
		topic = "metrics-scrape"
		group = "metrics-scrape-group"
	)
	batchSize := recordBatchSize(scrapeRecordsPerRequest, scrapeKeyLen, scrapeValueLen)
	const records = scrapeRequests * scrapeRecordsPerRequest
	wantBytes := float64(scrapeRequests * batchSize)

	before := scrapeMetrics(ctx, t, s.AdminAddr)

	hk := newWorkloadHooks()
	base := []kgo.Opt{kgo.SeedBrokers(s.Addr), kgo.WithHooks(hk)}

	// The topic.
	ac, err := kgo.NewClient(base...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(ac).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	ac.Close()

	// Produce: manual flushing, so each Flush is one Produce request
	// carrying one batch of the records buffered since the last.
	pc, err := kgo.NewClient(append(base, kgo.DefaultProduceTopic(topic), kgo.ManualFlushing(),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(0))...)
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < scrapeRequests; r++ {
		// One timestamp a batch: every timestamp delta is 0 (one byte).
		ts := time.UnixMilli(time.Now().UnixMilli())
		var wg sync.WaitGroup
		errs := make([]error, scrapeRecordsPerRequest)
		for i := 0; i < scrapeRecordsPerRequest; i++ {
			wg.Add(1)
			pc.Produce(ctx, scrapeRecord(r*scrapeRecordsPerRequest+i, ts), func(_ *kgo.Record, err error) {
				errs[i] = err
				wg.Done()
			})
		}
		if err := pc.Flush(ctx); err != nil {
			t.Fatalf("flush %d: %v", r, err)
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("produce request %d, record %d: %v", r, i, err)
			}
		}
	}
	pc.Close()
	if got := hk.producedBatches(); !slices.Equal(got, slices.Repeat([]int{batchSize}, scrapeRequests)) {
		t.Fatalf("franz-go wrote batches of %v bytes, want %d batches of %d (the test's batch layout is off)", got, scrapeRequests, batchSize)
	}

	// Consume in a group, from the start, and commit what was read once.
	cc, err := kgo.NewClient(append(base, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	var got []*kgo.Record
	for len(got) < records && ctx.Err() == nil {
		fs := cc.PollFetches(ctx)
		fs.EachError(func(tp string, p int32, err error) {
			if ctx.Err() == nil {
				t.Errorf("fetch %s-%d: %v", tp, p, err)
			}
		})
		got = append(got, fs.Records()...)
	}
	if len(got) != records {
		t.Fatalf("consumed %d records, want %d", len(got), records)
	}
	for i, r := range got {
		if want := scrapeRecord(i, r.Timestamp); r.Offset != int64(i) || !bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value) {
			t.Fatalf("record %d: offset %d key %q, want offset %d key %q", i, r.Offset, r.Key, i, want.Key)
		}
	}
	if err := cc.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	cc.Close()

	// A Fetch still long-polling when the consumer closed is answered
	// (and counted) after its wait: scrape until every API's count
	// reached what the clients wrote, or a few seconds passed.
	var after map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; {
		after = scrapeMetrics(ctx, t, s.AdminAddr)
		if hk.settled(before, after) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	delta := func(name string, labels ...string) float64 {
		return sampleValue(after, name, labels...) - sampleValue(before, name, labels...)
	}
	exact := func(what string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}

	// Topic traffic.
	exact("messagesin delta", delta("kafka_server_brokertopicmetrics_messagesin_total", "topic", topic), records)
	exact("bytesin delta", delta("kafka_server_brokertopicmetrics_bytesin_total", "topic", topic), wantBytes)
	exact("bytesout delta", delta("kafka_server_brokertopicmetrics_bytesout_total", "topic", topic), wantBytes)
	exact("bytes franz-go fetched", float64(hk.fetchedBytes()), wantBytes)
	for _, name := range []string{"kafka_server_brokertopicmetrics_messagesin_total",
		"kafka_server_brokertopicmetrics_bytesin_total", "kafka_server_brokertopicmetrics_bytesout_total"} {
		if sampleValue(before, name, "topic", topic) != 0 || !hasSeries(after, name, "topic", topic) {
			t.Errorf("%s{topic=%q}: want no series before the workload and one after", name, topic)
		}
	}

	// Requests: the synchronous APIs exactly as planned; every API between
	// the responses read and the requests written; the latency histogram
	// observed each counted request once.
	exact("Produce requests delta", delta("kafka_network_requestmetrics_requests_total", "request", "Produce"), scrapeRequests)
	exact("CreateTopics requests delta", delta("kafka_network_requestmetrics_requests_total", "request", "CreateTopics"), 1)
	exact("OffsetCommit requests delta", delta("kafka_network_requestmetrics_requests_total", "request", "OffsetCommit"), 1)
	written, read := hk.counts()
	for key, want := range map[int16]int{kmsg.Produce.Int16(): scrapeRequests, kmsg.CreateTopics.Int16(): 1, kmsg.OffsetCommit.Int16(): 1} {
		if written[key] != want || read[key] != want {
			t.Errorf("franz-go wrote %d %s requests and read %d responses, want %d", written[key], kmsg.NameForKey(key), read[key], want)
		}
	}
	if read[kmsg.Fetch.Int16()] == 0 {
		t.Errorf("franz-go read no Fetch response")
	}
	for _, name := range requestNames(before, after, written) {
		key, _ := requestKey(name)
		d := delta("kafka_network_requestmetrics_requests_total", "request", name)
		if d < float64(read[key]) || d > float64(written[key]) {
			t.Errorf("%s requests delta %v: want between the %d responses franz-go read and the %d requests it wrote",
				name, d, read[key], written[key])
		}
		exact(name+" latency observations delta", delta("kafka_network_requestmetrics_totaltime_seconds", "request", name), d)
		t.Logf("%-24s requests +%v (franz-go wrote %d, read %d)", name, d, written[key], read[key])
	}
	for _, name := range []string{"Produce", "FetchConsumer", "OffsetCommit", "CreateTopics"} {
		exact(name+" errors delta", delta("kafka_network_requestmetrics_errors_total", "request", name), 0)
	}

	// State of the topic and the group after the workload.
	part := []string{"topic", topic, "partition", "0"}
	exact("log end offset", sampleValue(after, "kafka_log_log_logendoffset", part...), records)
	exact("log start offset", sampleValue(after, "kafka_log_log_logstartoffset", part...), 0)
	exact("log size", sampleValue(after, "kafka_log_log_size", part...), wantBytes)
	exact("replicas", sampleValue(after, "kafka_cluster_partition_replicascount", part...), 1)
	exact("in-sync replicas", sampleValue(after, "kafka_cluster_partition_insyncreplicascount", part...), 1)
	exact("under-replicated", sampleValue(after, "kafka_cluster_partition_underreplicated", part...), 0)
	grp := append([]string{"consumergroup", group}, part...)
	if !hasSeries(after, "kafka_consumergroup_current_offset", grp...) {
		t.Errorf("no kafka_consumergroup_current_offset series for %s", group)
	}
	exact("group committed offset", sampleValue(after, "kafka_consumergroup_current_offset", grp...), records)
	exact("group lag", sampleValue(after, "kafka_consumergroup_lag", grp...), 0)
	exact("hosted partitions delta", delta("kafka_server_replicamanager_partitioncount"), 1)
	exact("led partitions delta", delta("kafka_server_replicamanager_leadercount"), 1)
	exact("global topics delta", delta("kafka_controller_kafkacontroller_globaltopiccount"), 1)
	exact("global partitions delta", delta("kafka_controller_kafkacontroller_globalpartitioncount"), 1)
}

// The workload's shape.
const (
	scrapeRequests          = 5
	scrapeRecordsPerRequest = 4
	scrapeKeyLen            = 8   // "key-0007"
	scrapeValueLen          = 100 // "value-0007-xxx…"
)

// scrapeRecord is record n of the workload, stamped ts.
func scrapeRecord(n int, ts time.Time) *kgo.Record {
	key := fmt.Appendf(nil, "key-%04d", n)
	value := fmt.Appendf(nil, "value-%04d-", n)
	value = append(value, bytes.Repeat([]byte("x"), scrapeValueLen-len(value))...)
	return &kgo.Record{Key: key, Value: value, Timestamp: ts}
}

// recordBatchSize is the size of a v2 record batch of n records with
// keyLen-byte keys, valueLen-byte values, no headers and one timestamp:
// the 61-byte header (Kafka's RECORD_BATCH_OVERHEAD, the 12 bytes of base
// offset and length included) and each record as length, attributes,
// timestamp delta, offset delta, key, value, header count (varints).
func recordBatchSize(n, keyLen, valueLen int) int {
	varint := func(v int) int { return len(binary.AppendVarint(nil, int64(v))) }
	size := 61
	for i := 0; i < n; i++ {
		body := 1 + varint(0) + varint(i) + varint(keyLen) + keyLen + varint(valueLen) + valueLen + varint(0)
		size += varint(body) + body
	}
	return size
}

// scrapeMetrics GETs /metrics from the admin listener and parses it with
// Prometheus' text parser: every family must parse, carry a type and a
// help text, have a name a legacy-validating Prometheus accepts and no
// series twice. The admin listener answers 503 until the broker is
// attached to it, which may be a moment after the listening line: that
// is waited out (10 s at most).
func scrapeMetrics(ctx context.Context, t *testing.T, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	var resp *http.Response
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); ; {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	ct, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || ct != "text/plain" || params["version"] != "0.0.4" {
		t.Fatalf("GET /metrics: Content-Type %q, want the text format (text/plain; version=0.0.4)", resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse as the Prometheus text format: %v", err)
	}
	if len(mfs) == 0 {
		t.Fatal("/metrics has no metric family")
	}
	for name, mf := range mfs {
		if !model.LegacyValidation.IsValidMetricName(name) {
			t.Errorf("metric %q: not a legacy Prometheus metric name", name)
		}
		if mf.Type == nil || mf.GetHelp() == "" {
			t.Errorf("metric %s: no TYPE or HELP line", name)
		}
		seen := map[string]bool{}
		for _, m := range mf.Metric {
			var sb strings.Builder
			for _, lp := range m.Label {
				fmt.Fprintf(&sb, "%s=%q,", lp.GetName(), lp.GetValue())
			}
			if seen[sb.String()] {
				t.Errorf("metric %s: series {%s} twice", name, sb.String())
			}
			seen[sb.String()] = true
		}
	}
	return mfs
}

// sampleValue sums the samples of family name whose labels include labels
// (name, value pairs); a histogram counts its observations.
func sampleValue(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	var sum float64
	for _, m := range matching(mfs, name, labels...) {
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

func hasSeries(mfs map[string]*dto.MetricFamily, name string, labels ...string) bool {
	return len(matching(mfs, name, labels...)) > 0
}

func matching(mfs map[string]*dto.MetricFamily, name string, labels ...string) []*dto.Metric {
	mf := mfs[name]
	if mf == nil {
		return nil
	}
	var out []*dto.Metric
next:
	for _, m := range mf.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.ContainsFunc(m.Label, func(lp *dto.LabelPair) bool {
				return lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
			}) {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// requestKey maps the broker's request label to an API key
// ("FetchConsumer" is Fetch; "FetchFollower" is no client's).
func requestKey(name string) (int16, bool) {
	if name == "FetchConsumer" {
		return kmsg.Fetch.Int16(), true
	}
	for k := int16(0); k < 128; k++ {
		if kmsg.NameForKey(k) == name && k != kmsg.Fetch.Int16() {
			return k, true
		}
	}
	return -1, false
}

// requestName is the broker's request label of API key.
func requestName(key int16) string {
	if key == kmsg.Fetch.Int16() {
		return "FetchConsumer"
	}
	return kmsg.NameForKey(key)
}

// requestNames are the request labels whose count moved between the
// scrapes or that the clients wrote, sorted.
func requestNames(before, after map[string]*dto.MetricFamily, written map[int16]int) []string {
	set := map[string]bool{}
	for key := range written {
		set[requestName(key)] = true
	}
	if mf := after["kafka_network_requestmetrics_requests_total"]; mf != nil {
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				if lp.GetName() == "request" && !set[lp.GetValue()] {
					v := lp.GetValue()
					if sampleValue(after, mf.GetName(), "request", v) != sampleValue(before, mf.GetName(), "request", v) {
						set[v] = true
					}
				}
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// workloadHooks counts what the workload's franz-go clients did: requests
// written and responses read by API key, and the batches produced and
// fetched.
type workloadHooks struct {
	mu      sync.Mutex
	written map[int16]int // guarded by mu
	read    map[int16]int // guarded by mu
	batches []int         // guarded by mu: sizes of the produced batches
	fetched int           // guarded by mu: bytes of the fetched batches
}

func newWorkloadHooks() *workloadHooks {
	return &workloadHooks{written: map[int16]int{}, read: map[int16]int{}}
}

// recordBatchOverhead is the v2 batch header franz-go's batch metrics
// leave out.
const recordBatchOverhead = 61

func (h *workloadHooks) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil {
		h.mu.Lock()
		h.written[key]++
		h.mu.Unlock()
	}
}

func (h *workloadHooks) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil {
		h.mu.Lock()
		h.read[key]++
		h.mu.Unlock()
	}
}

func (h *workloadHooks) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	h.mu.Lock()
	h.batches = append(h.batches, recordBatchOverhead+m.CompressedBytes)
	h.mu.Unlock()
}

func (h *workloadHooks) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	h.mu.Lock()
	h.fetched += recordBatchOverhead + m.CompressedBytes
	h.mu.Unlock()
}

func (h *workloadHooks) counts() (written, read map[int16]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	written, read = map[int16]int{}, map[int16]int{}
	for k, v := range h.written {
		written[k] = v
	}
	for k, v := range h.read {
		read[k] = v
	}
	return written, read
}

func (h *workloadHooks) producedBatches() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.batches)
}

func (h *workloadHooks) fetchedBytes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fetched
}

// settled reports whether, for every API the clients wrote, the broker's
// count moved by as many requests.
func (h *workloadHooks) settled(before, after map[string]*dto.MetricFamily) bool {
	written, _ := h.counts()
	for key, n := range written {
		name := requestName(key)
		d := sampleValue(after, "kafka_network_requestmetrics_requests_total", "request", name) -
			sampleValue(before, "kafka_network_requestmetrics_requests_total", "request", name)
		if d < float64(n) {
			return false
		}
	}
	return true
}
