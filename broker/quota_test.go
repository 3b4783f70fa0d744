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
// (compat-tests, TestQuotaRateBench), not asserted here.
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
			Ops: []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 2048}}},
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
	produce := func(clientID string, h *throttleHook) {
		cl := secClient(t, addr, kgo.ClientID(clientID), kgo.WithHooks(h), kgo.DefaultProduceTopic("q"))
		for range 8 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: val}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce("slow-producer", &slow)
	produce("free-producer", &free)
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
