package compat

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKIP848RegexSubscriptionAndEmptyGroup: franz-go's KIP-848 consumer
// (kgo.ServerSideBalancer) with a regex sends it to the broker as
// SubscribedTopicRegex; the broker resolves it (the matching topics and
// only those, a matching topic created later picked up) and assigns their
// partitions. Once the member commits and leaves, the group is listed as
// Kafka 4.4 lists it (Empty, type consumer) and DescribeGroups answers
// GROUP_ID_NOT_FOUND for it (KIP-1043: not a classic group), while
// ConsumerGroupDescribe describes it.
func TestKIP848RegexSubscriptionAndEmptyGroup(t *testing.T) {
	if os.Getenv(externalBrokerEnv) != "" {
		t.Skip("needs its own broker process")
	}
	s := StartSamsa(t)
	admin, acl := newAdmin(t, s.Addr)
	defer acl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, topic := range []string{"rx-a", "rx-b", "other-rx-a"} {
		createTopic(t, s.Addr, topic, 2)
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	produce := func(topic string) {
		t.Helper()
		if err := pcl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(topic)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", topic, err)
		}
	}
	for _, topic := range []string{"rx-a", "rx-b", "other-rx-a"} {
		produce(topic)
	}

	const group = "rx-group"
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr), kgo.ConsumerGroup(group),
		kgo.ConsumeRegex(), kgo.ConsumeTopics("^rx-.*"),
		kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.MetadataMaxAge(time.Second), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	poll := func(want ...string) {
		t.Helper()
		for {
			mu.Lock()
			done := true
			for _, w := range want {
				done = done && seen[w]
			}
			mu.Unlock()
			if done {
				return
			}
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumed %v, want %v", seen, want)
			}
			fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				mu.Lock()
				seen[r.Topic] = true
				mu.Unlock()
			})
		}
	}
	poll("rx-a", "rx-b")

	// The broker holds the regex and resolved it: the member's subscription
	// is the regex, and its assignment the matching topics' partitions.
	describe := func() kmsg.ConsumerGroupDescribeResponseGroup {
		t.Helper()
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, acl)
		if err != nil || len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
			t.Fatalf("ConsumerGroupDescribe: %v %+v", err, resp)
		}
		return resp.Groups[0]
	}
	assigned := func(g kmsg.ConsumerGroupDescribeResponseGroup) []string {
		var names []string
		for _, m := range g.Members {
			for _, tp := range m.Assignment.TopicPartitions {
				names = append(names, tp.Topic)
			}
		}
		slices.Sort(names)
		return slices.Compact(names)
	}
	g := describe()
	// (franz-go sends the regex wrapped for Java's whole-string matching:
	// ".*(?:(?:^rx-.*)).*".)
	if len(g.Members) != 1 || g.Members[0].SubscribedTopicRegex == nil || !strings.Contains(*g.Members[0].SubscribedTopicRegex, "^rx-.*") ||
		len(g.Members[0].SubscribedTopics) != 0 {
		t.Fatalf("members %+v (regex %q): want one subscribed by a regex holding ^rx-.* and no topic names", g.Members, derefStr(g.Members))
	}
	if got := assigned(g); !slices.Equal(got, []string{"rx-a", "rx-b"}) {
		t.Fatalf("assigned topics %v, want [rx-a rx-b]", got)
	}

	// A matching topic created later is picked up by the broker.
	createTopic(t, s.Addr, "rx-c", 1)
	produce("rx-c")
	poll("rx-c")
	if got := assigned(describe()); !slices.Equal(got, []string{"rx-a", "rx-b", "rx-c"}) {
		t.Fatalf("assigned topics after rx-c was created %v, want [rx-a rx-b rx-c]", got)
	}
	mu.Lock()
	if seen["other-rx-a"] {
		t.Errorf("consumed other-rx-a, which ^rx-.* does not match")
	}
	mu.Unlock()

	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	cl.Close() // leaves the group

	// Empty with committed offsets and no members, type consumer.
	deadline := time.Now().Add(30 * time.Second)
	for {
		listed, err := admin.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lg, ok := listed[group]
		if ok && lg.State == "Empty" && lg.ProtocolType == "consumer" {
			if typ := groupTypeOf(t, ctx, acl, group); typ != "consumer" {
				t.Fatalf("ListGroups type %q, want consumer", typ)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listed %+v (found %v), want state Empty", lg, ok)
		}
		time.Sleep(100 * time.Millisecond)
	}
	offs, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"rx-a", "rx-b", "rx-c"} {
		var committed int64
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == topic && o.Err == nil {
				committed += o.At
			}
		})
		if committed != 1 {
			t.Errorf("%s: committed offsets sum to %d, want 1 (its one record)", topic, committed)
		}
	}
	described, err := admin.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if dg := described[group]; !errors.Is(dg.Err, kerr.GroupIDNotFound) {
		t.Errorf("DescribeGroups on the consumer group: %v (state %q), want GROUP_ID_NOT_FOUND", dg.Err, dg.State)
	}
	if g := describe(); g.State != "Empty" || len(g.Members) != 0 {
		t.Errorf("ConsumerGroupDescribe: state %q with %d members, want Empty with none", g.State, len(g.Members))
	}
}

// groupTypeOf is the GroupType ListGroups (v5+) gives the group.
func groupTypeOf(t *testing.T, ctx context.Context, cl *kgo.Client, group string) string {
	t.Helper()
	req := kmsg.NewPtrListGroupsRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range resp.Groups {
		if g.Group == group {
			return g.GroupType
		}
	}
	return ""
}

func derefStr(ms []kmsg.ConsumerGroupDescribeResponseGroupMember) []string {
	var out []string
	for _, m := range ms {
		if m.SubscribedTopicRegex != nil {
			out = append(out, *m.SubscribedTopicRegex)
		}
	}
	return out
}
