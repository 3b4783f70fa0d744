package broker

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/broker/config"
)

// scrape renders the broker's registry in the Prometheus text format and
// parses it back with Prometheus' own parser (the format /metrics serves).
func scrape(t *testing.T, b *Broker) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := b.Gatherer().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatalf("encode %s: %v", mf.GetName(), err)
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	out, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("the text format does not parse: %v", err)
	}
	return out
}

// value is the sample of family name whose labels include labels (pairs),
// summed over the samples that match; histograms count observations.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return 0
	}
	var sum float64
next:
	for _, m := range mf.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
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

// TestMetricsCountAWorkload scrapes before and after a known workload and
// checks that each counter moved by exactly what the workload did.
func TestMetricsCountAWorkload(t *testing.T) {
	b, addr := startTestBroker(t)
	one := "1"
	createTopic(t, addr, "m", 2, map[string]*string{"flush.messages": &one})
	before := scrape(t, b)

	const batches = 4
	var sent int
	for i := 0; i < batches; i++ {
		batch := testBatch(-1, -1, -1, 5)
		sent += len(batch)
		if sp := produceRaw(t, addr, "m", batch); sp.ErrorCode != 0 {
			t.Fatalf("produce: %v", kerr.ErrorForCode(sp.ErrorCode))
		}
	}
	// One produce error: a partition the topic does not have.
	cl := newClient(t, addr)
	req := kmsg.NewPtrProduceRequest()
	req.Acks = 1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "m"
	rt.TopicID = topicID(t, addr, "m")
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = 7
	rp.Records = testBatch(-1, -1, -1, 1)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if _, err := req.RequestWith(testCtx(t), cl); err != nil {
		t.Fatal(err)
	}
	// One Fetch of everything from partition 0.
	freq := kmsg.NewPtrFetchRequest()
	freq.ReplicaID = -1
	freq.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "m"
	ft.TopicID = topicID(t, addr, "m")
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	fp.CurrentLeaderEpoch = -1
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	fresp, err := freq.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	fetched := len(fresp.Topics[0].Partitions[0].RecordBatches)
	if fetched != sent {
		t.Fatalf("fetched %d bytes, produced %d", fetched, sent)
	}
	// A group that committed offset 5 of the 20 records.
	adm := kadm.NewClient(cl)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "m", Partition: 0, At: 5, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(testCtx(t), "lagging", offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}

	after := scrape(t, b)
	delta := func(name string, labels ...string) float64 {
		return value(after, name, labels...) - value(before, name, labels...)
	}
	checks := []struct {
		what string
		got  float64
		want float64
	}{
		{"Produce requests", delta("kafka_network_requestmetrics_requests_total", "request", "Produce"), batches + 1},
		{"Produce latency observations", delta("kafka_network_requestmetrics_totaltime_seconds", "request", "Produce"), batches + 1},
		{"Produce UNKNOWN_TOPIC_OR_PARTITION errors", delta("kafka_network_requestmetrics_errors_total", "request", "Produce", "error", "UNKNOWN_TOPIC_OR_PARTITION"), 1},
		{"FetchConsumer requests", delta("kafka_network_requestmetrics_requests_total", "request", "FetchConsumer"), 1},
		{"bytes in", delta("kafka_server_brokertopicmetrics_bytesin_total", "topic", "m"), float64(sent)},
		{"messages in", delta("kafka_server_brokertopicmetrics_messagesin_total", "topic", "m"), batches * 5},
		{"bytes out", delta("kafka_server_brokertopicmetrics_bytesout_total", "topic", "m"), float64(fetched)},
		{"log flushes (flush.messages=1)", delta("kafka_log_logflushstats_logflushtime_seconds"), batches},
		{"partitions hosted", value(after, "kafka_server_replicamanager_partitioncount"), 2},
		{"partitions led", value(after, "kafka_server_replicamanager_leadercount"), 2},
		{"under-replicated", value(after, "kafka_server_replicamanager_underreplicatedpartitions"), 0},
		{"log end offset of m-0", value(after, "kafka_log_log_logendoffset", "topic", "m", "partition", "0"), batches * 5},
		{"lag of the group on m-0", value(after, "kafka_consumergroup_lag", "consumergroup", "lagging", "topic", "m", "partition", "0"), batches*5 - 5},
		{"committed offset of the group on m-0", value(after, "kafka_consumergroup_current_offset", "consumergroup", "lagging", "topic", "m", "partition", "0"), 5},
		{"active controller", value(after, "kafka_controller_kafkacontroller_activecontrollercount"), 1},
		{"offline partitions", value(after, "kafka_controller_kafkacontroller_offlinepartitionscount"), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	if got := delta("samsa_etcd_request_duration_seconds", "method", "KV/Txn"); got < 1 {
		t.Errorf("etcd Txn requests during the offset commit: %v, want at least 1", got)
	}
	if value(after, "kafka_server_socketservermetrics_connection_count") < 1 {
		t.Errorf("no open connection counted")
	}
	if after["go_goroutines"] == nil || after["process_resident_memory_bytes"] == nil {
		t.Errorf("Go runtime and process metrics missing")
	}
}

// TestMetricsISRFromSnapshot: the ISR metrics read the partition state in
// the metadata, on the leader. Two brokers, a partition on both, led by 1:
// broker 2 crashing takes it out of the ISR (one shrink, under-replicated),
// coming back and catching up puts it in again (one expansion).
func TestMetricsISRFromSnapshot(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2})
	c.createAssigned(1, "rf2", [][]int32{{1, 2}}, nil)
	full := func() bool { return slices.Equal(c.partition("rf2", 0).ISR, []int32{1, 2}) }
	waitFor(t, "ISR {1,2}", full)
	b := c.brokers[1]
	waitFor(t, "broker 1 leads rf2-0", func() bool { return b.partition("rf2", 0) != nil })
	waitFor(t, "the leader's metrics see the full ISR", func() bool {
		return value(scrape(t, b), "kafka_server_replicamanager_underreplicatedpartitions") == 0
	})
	before := scrape(t, b)

	c.crash(2)
	c.waitDead(2)
	waitFor(t, "2 out of the ISR", func() bool { return slices.Equal(c.partition("rf2", 0).ISR, []int32{1}) })
	waitFor(t, "under-replicated on the leader", func() bool {
		mfs := scrape(t, b)
		return value(mfs, "kafka_server_replicamanager_underreplicatedpartitions") == 1 &&
			value(mfs, "kafka_cluster_partition_underreplicated", "topic", "rf2", "partition", "0") == 1
	})
	c.start(2)
	waitFor(t, "2 back in the ISR", full)
	waitFor(t, "no longer under-replicated", func() bool {
		return value(scrape(t, b), "kafka_server_replicamanager_underreplicatedpartitions") == 0
	})
	after := scrape(t, b)
	for _, name := range []string{"kafka_server_replicamanager_isrexpands_total", "kafka_server_replicamanager_isrshrinks_total"} {
		if got := value(after, name) - value(before, name); got != 1 {
			t.Errorf("%s moved by %v, want 1", name, got)
		}
	}
}

// TestMetricsDropDeletedTopics: a deleted topic's series go away.
func TestMetricsDropDeletedTopics(t *testing.T) {
	b, addr := startTestBroker(t)
	createTopic(t, addr, "gone", 1, nil)
	produceRaw(t, addr, "gone", testBatch(-1, -1, -1, 1))
	if value(scrape(t, b), "kafka_server_brokertopicmetrics_messagesin_total", "topic", "gone") != 1 {
		t.Fatal("messages in not counted")
	}
	adm := kadm.NewClient(newClient(t, addr))
	if _, err := adm.DeleteTopics(testCtx(t), "gone"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mfs := scrape(t, b)
		if mf := mfs["kafka_server_brokertopicmetrics_messagesin_total"]; mf == nil || len(mf.Metric) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the deleted topic's series are still there")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the broker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLoggingBroker is startTestBroker with a JSON logger into buf.
func startLoggingBroker(t *testing.T, level zerolog.Level, buf *syncBuffer, overrides ...string) string {
	t.Helper()
	props := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": t.TempDir()}
	for _, o := range overrides {
		k, v, _ := strings.Cut(o, "=")
		props[k] = v
	}
	cfg, err := config.NewBroker(props)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, zerolog.New(buf).Level(level))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b.Addrs()[0].String()
}

// TestSlowRequestLogged: a request slower than samsa.request.log.slow.ms
// (a Fetch that long-polls 300 ms) is logged at warn with its API; a fast
// one is not.
func TestSlowRequestLogged(t *testing.T) {
	var buf syncBuffer
	addr := startLoggingBroker(t, zerolog.InfoLevel, &buf, "samsa.request.log.slow.ms=150")
	createTopic(t, addr, "slow", 1, nil)
	cl := newClient(t, addr)
	if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(testCtx(t), cl); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `"slow request"`) {
		t.Fatalf("a fast request was logged as slow:\n%s", buf.String())
	}
	freq := kmsg.NewPtrFetchRequest()
	freq.ReplicaID = -1
	freq.MaxWaitMillis = 300
	freq.MinBytes = 1
	freq.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "slow"
	ft.TopicID = topicID(t, addr, "slow")
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	fp.CurrentLeaderEpoch = -1
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	if _, err := freq.RequestWith(testCtx(t), cl); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, `"slow request"`) && strings.Contains(line, `"api":"Fetch"`) && strings.Contains(line, `"level":"warn"`) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no slow request line for the long-polling Fetch:\n%s", buf.String())
	}
}

// TestRequestLogSampled: at debug, samsa.request.log.debug.sample=1 logs
// every request; =1000 logs at most one of the same requests.
func TestRequestLogSampled(t *testing.T) {
	count := func(sample string) int {
		var buf syncBuffer
		addr := startLoggingBroker(t, zerolog.DebugLevel, &buf, "samsa.request.log.debug.sample="+sample)
		cl := newClient(t, addr)
		for i := 0; i < 20; i++ {
			if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(testCtx(t), cl); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		for _, line := range strings.Split(buf.String(), "\n") {
			if strings.Contains(line, `"message":"request"`) && strings.Contains(line, `"api":"ApiVersions"`) {
				n++
			}
		}
		return n
	}
	if n := count("1"); n < 20 {
		t.Errorf("sample 1: %d ApiVersions requests logged, want all 20 (and the client's own)", n)
	}
	if n := count("1000"); n > 1 {
		t.Errorf("sample 1000: %d ApiVersions requests logged, want at most 1", n)
	}
}
