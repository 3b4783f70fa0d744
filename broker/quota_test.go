package broker

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

// throttleHook counts the throttles franz-go is told of.
type throttleHook struct{ n, maxMs atomic.Int64 }

func (h *throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	h.n.Add(1)
	if ms := d.Milliseconds(); ms > h.maxMs.Load() {
		h.maxMs.Store(ms)
	}
}

// TestClientQuotas: quotas set with AlterClientQuotas are described back,
// and a producer (producer_byte_rate of its client id) and a consumer
// (consumer_byte_rate of a default client id under its user... here the
// PLAINTEXT user ANONYMOUS) above their rates are told throttle_time_ms;
// a client without a quota is not. The rate itself is a benchmark
// (compat-tests, TestSecurityFigures: make security-figures), not asserted here.
func TestClientQuotas(t *testing.T) {
	_, addr := startTestBroker(t, "quota.window.num=2", "quota.window.size.seconds=1")
	ctx := adminCtxT(t)
	admin := kadm.NewClient(secClient(t, addr))
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "q"); err != nil {
		t.Fatal(err)
	}
	f := func(v float64) *float64 { return &v }
	res, err := admin.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("slow-producer")}},
			Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 2048}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: sp("ANONYMOUS")}, {Type: "client-id"}},
			Ops: []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 32 << 10}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("bad")}},
			Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1.5}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("bad")}},
			Ops: []kadm.AlterClientQuotaOp{{Key: "no_such_quota", Value: 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if bad := i >= 2; (r.Err != nil) != bad || bad && !errors.Is(r.Err, kerr.InvalidRequest) {
			t.Errorf("entry %d: %v", i, r.Err)
		}
	}
	_ = f
	described, err := admin.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: 2}})
	if err != nil || len(described) != 2 {
		t.Fatalf("DescribeClientQuotas: %+v %v", described, err)
	}
	strict, err := admin.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchName: sp("slow-producer")}})
	if err != nil || len(strict) != 1 || strict[0].Values[0].Key != "producer_byte_rate" || strict[0].Values[0].Value != 2048 {
		t.Fatalf("DescribeClientQuotas strict: %+v %v", strict, err)
	}

	var slow, free throttleHook
	val := []byte(strings.Repeat("x", 8<<10))
	produce := func(clientID string, h *throttleHook, opts ...kgo.Opt) {
		cl := secClient(t, addr, append(opts, kgo.ClientID(clientID), kgo.WithHooks(h), kgo.DefaultProduceTopic("q"))...)
		for range 8 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: val}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce("slow-producer", &slow)
	// Uncompressed, so that the consumer below reads more than its quota.
	produce("free-producer", &free, kgo.ProducerBatchCompression(kgo.NoCompression()))
	if slow.n.Load() == 0 || slow.maxMs.Load() <= 0 {
		t.Fatal("the producer above its producer_byte_rate was never throttled")
	}
	if free.n.Load() != 0 {
		t.Fatalf("a producer without a quota was throttled %d times", free.n.Load())
	}

	var reader throttleHook
	cons := secClient(t, addr, kgo.ClientID("reader"), kgo.WithHooks(&reader), kgo.ConsumeTopics("q"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	for got < 16 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d", got)
		}
		got += fs.NumRecords()
	}
	if reader.n.Load() == 0 {
		t.Fatal("the consumer above consumer_byte_rate (its user's default client id) was never throttled")
	}

	// A throttled Fetch is answered empty, as Kafka's is (the consumer
	// fetches again after the throttle; what it was not sent is not
	// counted), and at most the quota's window of bytes is read.
	raw := secClient(t, addr, kgo.ClientID("reader"))
	td, err := admin.ListTopics(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	fetch := func() *kmsg.FetchResponse {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, 50<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = "q", td["q"].ID // the client picks the version
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 50 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	throttled, served := 0, 0
	for range 6 {
		resp := fetch()
		if resp.ThrottleMillis > 0 {
			throttled++
			if len(resp.Topics) != 0 {
				t.Fatalf("a throttled Fetch (%d ms) carried %d topics; Kafka answers it empty", resp.ThrottleMillis, len(resp.Topics))
			}
			continue
		}
		served++
		if n := len(resp.Topics[0].Partitions[0].RecordBatches); n == 0 || n > 36<<10 {
			t.Fatalf("an unthrottled Fetch read %d bytes; want at least one batch and at most the quota's window (32 KiB) plus one batch", n)
		}
	}
	if throttled == 0 || served == 0 {
		t.Fatalf("6 back-to-back fetches over the quota: %d throttled, %d served; want both", throttled, served)
	}
}

// TestControllerMutationQuota: with controller_mutation_rate, a CreateTopics
// (v6+) arriving while the rate is over the quota is refused with
// THROTTLING_QUOTA_EXCEEDED.
func TestControllerMutationQuota(t *testing.T) {
	b, addr := startTestBroker(t)
	ctx := adminCtxT(t)
	rev, err := b.store.AlterQuotas(ctx, coordinator.QuotaEntity{HasUser: true, User: "ANONYMOUS"}, map[string]float64{"controller_mutation_rate": 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.store.WaitForRevision(ctx, rev)
	admin := kadm.NewClient(secClient(t, addr))
	if _, err := admin.CreateTopic(ctx, 20, 1, nil, "m1"); err != nil {
		t.Fatalf("first creation: %v", err)
	}
	_, err = admin.CreateTopic(ctx, 1, 1, nil, "m2")
	if !errors.Is(err, kerr.ThrottlingQuotaExceeded) {
		t.Fatalf("creation over the mutation rate: %v, want THROTTLING_QUOTA_EXCEEDED", err)
	}
	_ = context.Background
}

// TestQuotaArithmetic: the rate and throttle time follow Kafka's Rate and
// QuotaUtils: the window is the time since the oldest sample padded to
// samples-1 whole windows, the throttle is the excess in units of the bound
// times that window, and only the request quota's throttle is capped (at one
// window).
func TestQuotaArithmetic(t *testing.T) {
	sec := time.Second
	for _, c := range []struct {
		elapsed time.Duration
		samples int
		want    time.Duration
	}{
		{0, 11, 10 * sec},
		{500 * time.Millisecond, 11, 10*sec + 500*time.Millisecond},
		{3500 * time.Millisecond, 11, 10*sec + 500*time.Millisecond},
		{10*sec + 200*time.Millisecond, 11, 10*sec + 200*time.Millisecond},
		{0, 3, 2 * sec},
		{0, 1, sec},
	} {
		if got := rateWindow(c.elapsed, c.samples, sec); got != c.want {
			t.Errorf("rateWindow(%v, %d samples) = %v, want %v", c.elapsed, c.samples, got, c.want)
		}
	}

	m := newQuotaManager(3, sec)
	t0 := time.Unix(1000, 0)
	q := resolvedQuota{bound: 50, rate: &quotaRate{}}
	// 200 bytes at once over a 2 s window: 100 B/s against 50, throttle
	// (100-50)/50 x 2000 ms (Kafka's testThrottleTimeObservedRateAboveQuota).
	if got := m.record(q, 200, t0, false); got != 2000 {
		t.Errorf("throttle = %d ms, want 2000", got)
	}
	// Within the bound: no throttle.
	q2 := resolvedQuota{bound: 50, rate: &quotaRate{}}
	if got := m.record(q2, 90, t0, false); got != 0 {
		t.Errorf("throttle within the quota = %d ms, want 0", got)
	}
	// The request quota is capped at one window; byte quotas are not.
	q3 := resolvedQuota{bound: 1, rate: &quotaRate{}}
	if got := m.record(q3, 100, t0, true); got != 1000 {
		t.Errorf("request-quota throttle = %d ms, want the 1000 ms cap", got)
	}
	q4 := resolvedQuota{bound: 1, rate: &quotaRate{}}
	if got := m.record(q4, 100, t0, false); got != 98000 {
		t.Errorf("byte-quota throttle = %d ms, want 98000 (not capped)", got)
	}
	// Samples older than samples x window stop counting.
	if got := m.record(q, 0, t0.Add(3*sec+time.Millisecond), false); got != 0 {
		t.Errorf("throttle after the window passed = %d ms, want 0", got)
	}
}
