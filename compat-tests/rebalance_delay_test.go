package compat

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConsumersStartingTogetherShareTheBacklog: with samsa's default
// group.initial.rebalance.delay.ms (Kafka's 3 s), consumers of one classic
// group that start together join the same first generation, so each gets
// its share of the partitions from its first assignment on instead of the
// first one taking the whole backlog.
func TestConsumersStartingTogetherShareTheBacklog(t *testing.T) {
	s := StartSamsaDefaults(t)
	const topic, group, consumers, partitions = "backlog", "backlog-g", 3, 6
	createTopic(t, s.Addr, topic, partitions)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var recs []testRecord
	for i := range 60 {
		recs = append(recs, testRecord{Key: []byte{byte(i)}, Value: []byte("v"), Partition: int32(i % partitions)})
	}
	if err := franzProduce(ctx, s.Addr, topic, recs); err != nil {
		t.Fatal(err)
	}

	pollCtx, allAssigned := context.WithCancel(ctx)
	defer allAssigned()
	var mu sync.Mutex
	first := map[int]int{} // consumer -> partitions in its first assignment
	var wg sync.WaitGroup
	for i := range consumers {
		if i > 0 {
			// As separate processes start: a few hundred ms apart
			// (three Java consumers started at once joined within
			// 0.3-0.7 s of each other here).
			time.Sleep(300 * time.Millisecond)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr), kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				if _, ok := first[i]; !ok {
					first[i] = len(assigned[topic])
				}
				if len(first) == consumers {
					allAssigned()
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pollCtx.Err() == nil {
				cl.PollRecords(pollCtx, 10)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if ctx.Err() != nil {
		t.Fatalf("not every consumer was assigned partitions within a minute: %v", first)
	}
	for i := range consumers {
		if first[i] != partitions/consumers {
			t.Errorf("consumer %d's first assignment had %d partitions, want %d (all first assignments %v)", i, first[i], partitions/consumers, first)
		}
	}
}
