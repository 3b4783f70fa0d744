package coordinator

import (
	"errors"
	"maps"
	"sync"
	"testing"
)

// TestDynamicConfigsInSnapshot: broker and group configs written by one
// store reach every store's Snapshot through the watch, deletions too,
// and a store opened later reads them (relist).
func TestDynamicConfigsInSnapshot(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	other := openClient(t, s, 0)
	defer closeStore(t, other)
	ctx := testCtx(t)

	set := func(vals map[string]string) func(map[string]string) (map[string]string, error) {
		return func(cur map[string]string) (map[string]string, error) {
			maps.Copy(cur, vals)
			return cur, nil
		}
	}
	rev, err := s.UpdateBrokerConfigs(ctx, BrokerConfigsDefault, set(map[string]string{"message.max.bytes": "2000"}))
	if err != nil {
		t.Fatal(err)
	}
	rev2, err := s.UpdateBrokerConfigs(ctx, "1", set(map[string]string{"log.cleaner.threads": "2"}))
	if err != nil {
		t.Fatal(err)
	}
	rev3, err := s.UpdateGroupConfigs(ctx, "g/with/slashes", set(map[string]string{"consumer.session.timeout.ms": "50000"}))
	if err != nil {
		t.Fatal(err)
	}
	before := waitRev(t, other, rev)
	snap := waitRev(t, other, max(rev2, rev3))
	if got := snap.Configs.Broker(BrokerConfigsDefault); got["message.max.bytes"] != "2000" {
		t.Fatalf("default broker configs %v", got)
	}
	if got := snap.Configs.Broker("1"); got["log.cleaner.threads"] != "2" || len(got) != 1 {
		t.Fatalf("broker 1 configs %v", got)
	}
	if got := snap.Configs.Group("g/with/slashes"); got["consumer.session.timeout.ms"] != "50000" {
		t.Fatalf("group configs %v", got)
	}

	// A later change leaves earlier Snapshots as they were.
	held := before.Configs.Broker("1")
	rev, err = s.UpdateBrokerConfigs(ctx, "1", func(map[string]string) (map[string]string, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	snap = waitRev(t, other, rev)
	if snap.Configs.Broker("1") != nil {
		t.Fatalf("broker 1 configs after deletion: %v", snap.Configs.Broker("1"))
	}
	if before.Configs.Broker("1") != nil && !maps.Equal(before.Configs.Broker("1"), held) {
		t.Fatal("an older Snapshot's configs changed")
	}
	if resp, _ := s.Client().Get(ctx, s.brokerConfigsKey("1")); len(resp.Kvs) != 0 {
		t.Fatal("an entity without values keeps its key")
	}

	// An update that fails writes nothing.
	boom := errors.New("refused")
	if _, err := s.UpdateBrokerConfigs(ctx, BrokerConfigsDefault, func(map[string]string) (map[string]string, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("update error %v", err)
	}

	// A store opened now reads them from scratch.
	late := openClient(t, s, 0)
	defer closeStore(t, late)
	if got := late.Snapshot().Configs.Broker(BrokerConfigsDefault); got["message.max.bytes"] != "2000" {
		t.Fatalf("relisted default configs %v", got)
	}
	if got := late.Snapshot().Configs.Group("g/with/slashes"); got["consumer.session.timeout.ms"] != "50000" {
		t.Fatalf("relisted group configs %v", got)
	}
}

// TestUpdateConfigsConcurrent: concurrent read-modify-writes of one entity
// all land (the revision compare retries the losers).
func TestUpdateConfigsConcurrent(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	names := []string{"a", "b", "c", "d", "e"}
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.UpdateGroupConfigs(ctx, "g", func(cur map[string]string) (map[string]string, error) {
				cur[n] = "1"
				return cur, nil
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rev := mustRev(t, s)
	if got := waitRev(t, s, rev).Configs.Group("g"); len(got) != len(names) {
		t.Fatalf("group configs %v: a concurrent update was lost", got)
	}
}
