package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func clientWithPrefix() []clientv3.OpOption {
	return []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCountOnly()}
}

func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openEmbedded opens a Store with an embedded etcd in a fresh temp dir.
func openEmbedded(t testing.TB, dir string) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(testCtx(t), Config{EmbeddedDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// openClient opens a second Store on the embedded etcd of s.
func openClient(t testing.TB, s *Store, ttl time.Duration) *Store {
	t.Helper()
	c, err := Open(testCtx(t), Config{Endpoints: []string{s.EmbeddedEndpoint()}, SessionTTL: ttl, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open client: %v", err)
	}
	return c
}

func closeStore(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func waitRev(t testing.TB, s *Store, rev int64) *Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitForRevision(ctx, rev); err != nil {
		t.Fatalf("WaitForRevision(%d): %v (at %d)", rev, err, s.Snapshot().Revision)
	}
	return s.Snapshot()
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func assignment(partitions int, replicas ...int32) [][]int32 {
	out := make([][]int32, partitions)
	for i := range out {
		out[i] = slices.Clone(replicas)
	}
	return out
}

func TestTopicIDText(t *testing.T) {
	if got := MetadataTopicID.String(); got != "AAAAAAAAAAAAAAAAAAAAAQ" {
		t.Fatalf("MetadataTopicID = %s", got)
	}
	if got := (TopicID{}).String(); got != "AAAAAAAAAAAAAAAAAAAAAA" {
		t.Fatalf("zero = %s", got)
	}
	seen := map[TopicID]bool{}
	for range 1000 {
		id := NewTopicID()
		if id.IsZero() || id == MetadataTopicID || strings.HasPrefix(id.String(), "-") || seen[id] {
			t.Fatalf("bad id %s", id)
		}
		if id[6]>>4 != 4 || id[8]>>6 != 2 {
			t.Fatalf("not a version 4 uuid: %x", id[:])
		}
		seen[id] = true
		s := id.String()
		if len(s) != 22 {
			t.Fatalf("len(%q) = %d", s, len(s))
		}
		var back TopicID
		if err := back.UnmarshalText([]byte(s)); err != nil || back != id {
			t.Fatalf("round trip %s: %v %s", s, err, back)
		}
		if err := back.UnmarshalText([]byte(s + "==")); err != nil || back != id {
			t.Fatalf("padded round trip %s: %v", s, err)
		}
	}
	// JSON uses the text form.
	ti := TopicInfo{Name: "a", ID: NewTopicID(), Replicas: [][]int32{{1}}}
	b, _ := json.Marshal(ti)
	if !strings.Contains(string(b), `"id":"`+ti.ID.String()+`"`) {
		t.Fatalf("json: %s", b)
	}
	var back TopicInfo
	if err := json.Unmarshal(b, &back); err != nil || back.ID != ti.ID {
		t.Fatalf("json round trip: %v", err)
	}
	for _, bad := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAA+Q"} {
		var id TopicID
		if err := id.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", bad)
		}
	}
}

func TestEmbeddedStartAndRestart(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now()
	s := openEmbedded(t, dir)
	t.Logf("fresh: etcd ready %s, Open total %s (wall %s)", s.Timing().EmbeddedReady, s.Timing().Total, time.Since(t0))
	cid := s.ClusterID()
	if len(cid) != 22 {
		t.Fatalf("cluster id %q", cid)
	}
	if s.Snapshot().ClusterID != cid || s.Snapshot().ControllerID != -1 {
		t.Fatalf("snapshot %+v", s.Snapshot())
	}
	ctx := testCtx(t)
	if err := s.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "localhost", Port: 9092}); err != nil {
		t.Fatal(err)
	}
	rev, err := s.CreateTopic(ctx, TopicInfo{Name: "orders", Replicas: assignment(3, 1), Configs: map[string]string{"retention.ms": "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	snap := waitRev(t, s, rev)
	id := snap.Topic("orders").Info.ID
	endpoint1 := s.EmbeddedEndpoint()
	closeStore(t, s) // no Deregister: as after a crash

	for i := range 2 {
		t0 = time.Now()
		s = openEmbedded(t, dir)
		t.Logf("restart %d: etcd ready %s, Open total %s (wall %s), endpoint %s (was %s)", i+1,
			s.Timing().EmbeddedReady, s.Timing().Total, time.Since(t0), s.EmbeddedEndpoint(), endpoint1)
		if s.ClusterID() != cid {
			t.Fatalf("cluster id changed: %s -> %s", cid, s.ClusterID())
		}
		snap = s.Snapshot()
		tm := snap.Topic("orders")
		if tm == nil || tm.Info.ID != id || len(tm.Partitions) != 3 || tm.Info.Configs["retention.ms"] != "1000" {
			t.Fatalf("topic after restart: %+v", tm)
		}
		if st, _ := snap.Partition("orders", 2); st.Leader != 1 || !slices.Equal(st.ISR, []int32{1}) {
			t.Fatalf("partition after restart: %+v", st)
		}
		// The previous incarnation's lease survives the restart; the same
		// host:port takes it over.
		if err := s.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "localhost", Port: 9092}); err != nil {
			t.Fatalf("re-register after restart: %v", err)
		}
		eventually(t, 5*time.Second, "controller", s.IsController)
		if i == 0 {
			closeStore(t, s)
		}
	}
	if err := s.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)
}

func TestTwoStoresSeeEachOther(t *testing.T) {
	s1 := openEmbedded(t, "")
	defer closeStore(t, s1)
	s2 := openClient(t, s1, 0)
	defer closeStore(t, s2)
	if s1.ClusterID() != s2.ClusterID() {
		t.Fatalf("cluster ids differ: %s %s", s1.ClusterID(), s2.ClusterID())
	}
	ctx := testCtx(t)
	rev, err := s1.CreateTopic(ctx, TopicInfo{Name: "a", Replicas: assignment(2, 1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s2.Changes():
	case <-time.After(5 * time.Second):
		t.Fatal("no change signalled")
	}
	if snap := waitRev(t, s2, rev); snap.Topic("a") == nil {
		t.Fatal("s2 does not see topic a")
	}
	rev, err = s2.CreateTopic(ctx, TopicInfo{Name: "b", Replicas: assignment(1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	snap := waitRev(t, s1, rev)
	if !slices.Equal(snap.TopicNames, []string{"a", "b"}) {
		t.Fatalf("TopicNames = %v", snap.TopicNames)
	}
	if snap.TopicByID(snap.Topic("b").Info.ID) != snap.Topic("b") {
		t.Fatal("TopicsByID inconsistent")
	}
	// A revision outside the watched prefix still completes (progress
	// notification).
	resp, err := s1.Client().Put(ctx, "/elsewhere/x", "1")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	waitRev(t, s2, resp.Header.Revision)
	t.Logf("WaitForRevision of a foreign key: %s", time.Since(t0))
}

func TestTopicLifecycle(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	ctx := testCtx(t)
	if err := s.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "h", Port: 1}); err != nil {
		t.Fatal(err)
	}
	waitRev(t, s, mustRev(t, s))
	eventually(t, 5*time.Second, "broker 1 in snapshot", func() bool { return s.Snapshot().Brokers[1].Host == "h" })

	var lat []time.Duration
	for i := range 20 {
		t0 := time.Now()
		rev, err := s.CreateTopic(ctx, TopicInfo{Name: fmt.Sprintf("lat-%d", i), Replicas: assignment(3, 1)})
		if err != nil {
			t.Fatal(err)
		}
		waitRev(t, s, rev)
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	t.Logf("CreateTopic(3 partitions)+WaitForRevision latency: min %s median %s max %s", lat[0], lat[len(lat)/2], lat[len(lat)-1])

	rev, err := s.CreateTopic(ctx, TopicInfo{Name: "t", Replicas: [][]int32{{1, 2}, {2, 1}, {2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTopic(ctx, TopicInfo{Name: "t", Replicas: [][]int32{{1}}}); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := s.CreateTopic(ctx, TopicInfo{Name: "x"}); !errors.Is(err, ErrInvalidPartitions) {
		t.Fatalf("no partitions: %v", err)
	}
	snap := waitRev(t, s, rev)
	tm := snap.Topic("t")
	if tm == nil || tm.Info.ID.IsZero() || len(tm.Partitions) != 3 {
		t.Fatalf("topic: %+v", tm)
	}
	want := []PartitionState{
		{Leader: 1, ISR: []int32{1}, Replicas: []int32{1, 2}},
		{Leader: 1, ISR: []int32{1}, Replicas: []int32{2, 1}},
		{Leader: -1, ISR: []int32{2, 3}, Replicas: []int32{2, 3}}, // no live replica
	}
	for p, w := range want {
		got := tm.Partitions[p]
		if got.Leader != w.Leader || got.LeaderEpoch != 0 || got.PartitionEpoch != 0 || !slices.Equal(got.ISR, w.ISR) || !slices.Equal(got.Replicas, w.Replicas) {
			t.Errorf("partition %d = %+v, want %+v", p, got, w)
		}
	}
	id := tm.Info.ID

	rev, err = s.AddPartitions(ctx, "t", [][]int32{{1}, {1}})
	if err != nil {
		t.Fatal(err)
	}
	snap = waitRev(t, s, rev)
	if n := len(snap.Topic("t").Partitions); n != 5 || len(snap.Topic("t").Info.Replicas) != 5 {
		t.Fatalf("after AddPartitions: %d partitions", n)
	}
	if st, ok := snap.Partition("t", 4); !ok || st.Leader != 1 {
		t.Fatalf("new partition: %+v %v", st, ok)
	}
	if _, err := s.AddPartitions(ctx, "nope", [][]int32{{1}}); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("AddPartitions unknown: %v", err)
	}

	rev, err = s.SetTopicConfigs(ctx, "t", map[string]string{"cleanup.policy": "compact"})
	if err != nil {
		t.Fatal(err)
	}
	snap = waitRev(t, s, rev)
	if got := snap.Topic("t").Info.Configs; len(got) != 1 || got["cleanup.policy"] != "compact" {
		t.Fatalf("configs: %v", got)
	}
	if len(snap.Topic("t").Partitions) != 5 {
		t.Fatal("config change lost partitions")
	}

	rev, err = s.DeleteTopic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	snap = waitRev(t, s, rev)
	if snap.Topic("t") != nil || snap.TopicByID(id) != nil || slices.Contains(snap.TopicNames, "t") {
		t.Fatal("topic still in snapshot")
	}
	if resp, err := s.Client().Get(ctx, s.partitionsPrefix(id), clientWithPrefix()...); err != nil || resp.Count != 0 {
		t.Fatalf("partition keys left: %v %v", resp.Count, err)
	}
	if _, err := s.DeleteTopic(ctx, "t"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("delete again: %v", err)
	}
	// Re-create with the same name: a new id, fresh partitions.
	rev, err = s.CreateTopic(ctx, TopicInfo{Name: "t", Replicas: assignment(1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	snap = waitRev(t, s, rev)
	if tm := snap.Topic("t"); tm == nil || tm.Info.ID == id || len(tm.Partitions) != 1 {
		t.Fatalf("re-created: %+v", tm)
	}
}

// mustRev returns the current etcd revision.
func mustRev(t testing.TB, s *Store) int64 {
	resp, err := s.Client().Get(testCtx(t), "/")
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

func TestLargeTopicChunked(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	s2 := openClient(t, s, 0)
	defer closeStore(t, s2)
	ctx := testCtx(t)
	if err := s.RegisterBroker(ctx, BrokerInfo{ID: 0, Host: "h", Port: 1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "broker", func() bool { return len(s.Snapshot().Brokers) == 1 })
	for _, n := range []int{1000, 10000} {
		name := fmt.Sprintf("big-%d", n)
		t0 := time.Now()
		rev, err := s.CreateTopic(ctx, TopicInfo{Name: name, Replicas: assignment(n, 0, 1, 2)})
		if err != nil {
			t.Fatal(err)
		}
		created := time.Since(t0)
		snap := waitRev(t, s2, rev)
		t.Logf("CreateTopic(%d partitions): %s, visible in the other store after %s", n, created, time.Since(t0))
		tm := snap.Topic(name)
		if tm == nil || len(tm.Partitions) != n {
			t.Fatalf("topic %s: %v", name, tm)
		}
		for p, st := range tm.Partitions {
			if st.Leader != 0 || st.PartitionEpoch != 0 {
				t.Fatalf("partition %d: %+v", p, st)
			}
		}
	}
	// AddPartitions is chunked too.
	rev, err := s.AddPartitions(ctx, "big-1000", assignment(300, 0))
	if err != nil {
		t.Fatal(err)
	}
	if tm := waitRev(t, s2, rev).Topic("big-1000"); len(tm.Partitions) != 1300 || tm.Partitions[1299].PartitionEpoch != 0 {
		t.Fatalf("after AddPartitions: %d partitions, last %+v", len(tm.Partitions), tm.Partitions[len(tm.Partitions)-1])
	}
	// Patching one partition of the 10k topic is cheap and shares the
	// other topics.
	before := s2.Snapshot()
	id := before.Topic("big-10000").Info.ID
	t0 := time.Now()
	rev, err = s.UpdatePartitionState(ctx, id, 9999, 0, PartitionState{Leader: 1, LeaderEpoch: 1, ISR: []int32{1}})
	if err != nil {
		t.Fatal(err)
	}
	after := waitRev(t, s2, rev)
	t.Logf("UpdatePartitionState on a 10k-partition topic visible after %s", time.Since(t0))
	if after.Topic("big-1000") != before.Topic("big-1000") {
		t.Error("unchanged topic was copied")
	}
	if st, _ := after.Partition("big-10000", 9999); st.Leader != 1 || st.PartitionEpoch != 1 {
		t.Fatalf("patched partition: %+v", st)
	}
	if st, _ := before.Partition("big-10000", 9999); st.Leader != 0 {
		t.Fatal("old snapshot modified")
	}
	rev, err = s.DeleteTopic(ctx, "big-10000")
	if err != nil {
		t.Fatal(err)
	}
	if waitRev(t, s2, rev).Topic("big-10000") != nil {
		t.Fatal("not deleted")
	}
}

func TestUpdatePartitionStateCAS(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	ctx := testCtx(t)
	rev, err := s.CreateTopic(ctx, TopicInfo{Name: "t", Replicas: [][]int32{{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	id := waitRev(t, s, rev).Topic("t").Info.ID
	rev, err = s.UpdatePartitionState(ctx, id, 0, 0, PartitionState{Leader: 2, LeaderEpoch: 1, ISR: []int32{2}})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := waitRev(t, s, rev).Partition("t", 0)
	if st.Leader != 2 || st.LeaderEpoch != 1 || st.PartitionEpoch != 1 || !slices.Equal(st.Replicas, []int32{1, 2}) {
		t.Fatalf("state %+v", st)
	}
	// A stale writer (expects epoch 0) loses.
	if _, err := s.UpdatePartitionState(ctx, id, 0, 0, PartitionState{Leader: 1}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	if _, err := s.UpdatePartitionState(ctx, id, 5, 0, PartitionState{Leader: 1}); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("unknown partition: %v", err)
	}
	// Racing writers with the same expected epoch: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdatePartitionState(ctx, id, 0, 1, PartitionState{Leader: int32(i), LeaderEpoch: 2})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrConflict):
				conflicts++
			default:
				t.Errorf("racing update: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || conflicts != 7 {
		t.Fatalf("wins %d conflicts %d", wins, conflicts)
	}
}

func TestIncompleteTopicAndRepair(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	ctx := testCtx(t)
	// A topic key whose partition states were never written (a creation
	// that died after its first transaction).
	info := TopicInfo{Name: "half", ID: NewTopicID(), Replicas: [][]int32{{1}, {1}}}
	b, _ := json.Marshal(info)
	resp, err := s.Client().Put(ctx, s.topicKey("half"), string(b))
	if err != nil {
		t.Fatal(err)
	}
	st, ok := waitRev(t, s, resp.Header.Revision).Partition("half", 1)
	if !ok || st.Leader != -1 || st.PartitionEpoch != -1 || !slices.Equal(st.Replicas, []int32{1}) {
		t.Fatalf("placeholder %+v %v", st, ok)
	}
	if _, err := s.UpdatePartitionState(ctx, info.ID, 1, 0, PartitionState{Leader: 1}); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("update missing state with epoch 0: %v", err)
	}
	rev, err := s.UpdatePartitionState(ctx, info.ID, 1, -1, PartitionState{Leader: 1, ISR: []int32{1}})
	if err != nil {
		t.Fatal(err)
	}
	snap := waitRev(t, s, rev)
	if st, _ := snap.Partition("half", 1); st.Leader != 1 || st.PartitionEpoch != 0 {
		t.Fatalf("repaired %+v", st)
	}
	if st, _ := snap.Partition("half", 0); st.Leader != -1 {
		t.Fatalf("other partition %+v", st)
	}
	// Partition states that arrive before their topic key.
	id := NewTopicID()
	ps, _ := json.Marshal(PartitionState{Leader: 7, ISR: []int32{7}, Replicas: []int32{7}})
	if _, err := s.Client().Put(ctx, s.partitionKey(id, 0), string(ps)); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(TopicInfo{Name: "late", ID: id, Replicas: [][]int32{{7}}})
	resp, err = s.Client().Put(ctx, s.topicKey("late"), string(b))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := waitRev(t, s, resp.Header.Revision).Partition("late", 0); st.Leader != 7 {
		t.Fatalf("late topic partition %+v", st)
	}
	// Garbage in a key does not stop the watch.
	if _, err := s.Client().Put(ctx, s.Key("brokers", "x"), "{"); err != nil {
		t.Fatal(err)
	}
	rev, err = s.CreateTopic(ctx, TopicInfo{Name: "after-garbage", Replicas: [][]int32{{1}}})
	if err != nil {
		t.Fatal(err)
	}
	if waitRev(t, s, rev).Topic("after-garbage") == nil {
		t.Fatal("watch stopped")
	}
}

func TestBrokerRegistration(t *testing.T) {
	s1 := openEmbedded(t, "")
	defer closeStore(t, s1)
	s2 := openClient(t, s1, 0)
	defer closeStore(t, s2)
	ctx := testCtx(t)
	rack := "r1"
	if err := s1.RegisterBroker(ctx, BrokerInfo{ID: 3, Host: "h1", Port: 9092, Rack: &rack}); err != nil {
		t.Fatal(err)
	}
	waitRev(t, s2, mustRev(t, s1))
	b, ok := s2.Snapshot().Brokers[3]
	if !ok || b.Host != "h1" || b.Port != 9092 || b.Rack == nil || *b.Rack != "r1" {
		t.Fatalf("broker in other store: %+v %v", b, ok)
	}
	if !slices.Equal(s2.Snapshot().BrokerIDs, []int32{3}) {
		t.Fatalf("BrokerIDs %v", s2.Snapshot().BrokerIDs)
	}
	if err := s1.RegisterBroker(ctx, BrokerInfo{ID: 4, Host: "h1", Port: 9093}); err == nil {
		t.Fatal("second registration on one store accepted")
	}
	// Duplicate id from another host:port is rejected.
	err := s2.RegisterBroker(ctx, BrokerInfo{ID: 3, Host: "h2", Port: 9092})
	if !errors.Is(err, ErrBrokerIDInUse) || !strings.Contains(err.Error(), "broker id 3 is already registered by h1:9092") {
		t.Fatalf("duplicate id: %v", err)
	}
	if err := s2.RegisterBroker(ctx, BrokerInfo{ID: 5, Host: "h2", Port: 9092}); err != nil {
		t.Fatalf("register after failed attempt: %v", err)
	}
	waitRev(t, s1, mustRev(t, s1))
	if !slices.Equal(s1.Snapshot().BrokerIDs, []int32{3, 5}) {
		t.Fatalf("BrokerIDs %v", s1.Snapshot().BrokerIDs)
	}
	if err := s1.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	waitRev(t, s2, mustRev(t, s1))
	if _, ok := s2.Snapshot().Brokers[3]; ok {
		t.Fatal("broker 3 still registered after Deregister")
	}
	if err := s1.Deregister(ctx); err != nil {
		t.Fatalf("second Deregister: %v", err)
	}
}

func TestLeaseExpiryRemovesBroker(t *testing.T) {
	s0 := openEmbedded(t, "")
	defer closeStore(t, s0)
	s1 := openClient(t, s0, 2*time.Second)
	ctx := testCtx(t)
	if err := s1.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "h", Port: 1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "broker visible", func() bool { _, ok := s0.Snapshot().Brokers[1]; return ok })
	eventually(t, 5*time.Second, "controller", func() bool { return s0.Snapshot().ControllerID == 1 })
	closeStore(t, s1) // no Deregister: the lease must expire
	t0 := time.Now()
	eventually(t, 10*time.Second, "broker expiry", func() bool { _, ok := s0.Snapshot().Brokers[1]; return !ok })
	t.Logf("broker key gone %s after close (TTL 2s)", time.Since(t0))
	if time.Since(t0) < time.Second {
		t.Fatal("broker removed before its lease could expire")
	}
	eventually(t, 5*time.Second, "no controller", func() bool { return s0.Snapshot().ControllerID == -1 })
}

func TestControllerElection(t *testing.T) {
	s1 := openEmbedded(t, "")
	defer closeStore(t, s1)
	s2 := openClient(t, s1, 0)
	defer closeStore(t, s2)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for i, s := range []*Store{s1, s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.RegisterBroker(ctx, BrokerInfo{ID: int32(i + 1), Host: "h", Port: int32(9092 + i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	eventually(t, 5*time.Second, "a controller", func() bool { return s1.IsController() || s2.IsController() })
	time.Sleep(100 * time.Millisecond)
	if s1.IsController() == s2.IsController() {
		t.Fatalf("controllers: %v %v", s1.IsController(), s2.IsController())
	}
	leader, other, wantID, otherID := s1, s2, int32(1), int32(2)
	if s2.IsController() {
		leader, other, wantID, otherID = s2, s1, 2, 1
	}
	for _, s := range []*Store{s1, s2} {
		eventually(t, 5*time.Second, "ControllerID in snapshot", func() bool { return s.Snapshot().ControllerID == wantID })
	}
	// The controller leaves: the other takes over.
	if err := leader.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if leader.IsController() {
		t.Fatal("still controller after Deregister")
	}
	eventually(t, 5*time.Second, "failover", other.IsController)
	eventually(t, 5*time.Second, "ControllerID after failover", func() bool { return leader.Snapshot().ControllerID == otherID })
}

func TestProducerIDBlocksNeverOverlap(t *testing.T) {
	s1 := openEmbedded(t, "")
	defer closeStore(t, s1)
	s2 := openClient(t, s1, 0)
	defer closeStore(t, s2)
	ctx := testCtx(t)
	const perG, block = 25, 10
	var mu sync.Mutex
	var starts []int64
	var wg sync.WaitGroup
	for g := range 8 {
		s := []*Store{s1, s2}[g%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perG {
				start, err := s.AllocateProducerIDs(ctx, block)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				starts = append(starts, start)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	for i, st := range starts {
		if st != int64(i*block) {
			t.Fatalf("block %d starts at %d, want %d (overlap or gap)", i, st, i*block)
		}
	}
	if len(starts) != 8*perG {
		t.Fatalf("%d blocks", len(starts))
	}
}

func TestCloseThenUse(t *testing.T) {
	s := openEmbedded(t, "")
	closeStore(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.CreateTopic(context.Background(), TopicInfo{Name: "x", Replicas: [][]int32{{1}}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := s.WaitForRevision(context.Background(), 1<<40); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitForRevision after Close: %v", err)
	}
}

func TestWatchRelist(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	w := openClient(t, s, 0)
	defer closeStore(t, w)
	ctx := testCtx(t)
	rev, err := s.CreateTopic(ctx, TopicInfo{Name: "a", Replicas: assignment(4, 1)})
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, w, rev)
	for len(w.Changes()) > 0 {
		<-w.Changes()
	}
	// Changes that happen while the watch is down are picked up by the
	// re-read, then the watch goes on.
	w.relistNow <- struct{}{}
	if _, err := s.DeleteTopic(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	rev, err = s.CreateTopic(ctx, TopicInfo{Name: "b", Replicas: assignment(2, 1)})
	if err != nil {
		t.Fatal(err)
	}
	snap := waitRev(t, w, rev)
	if snap.Topic("a") != nil || snap.Topic("b") == nil || !slices.Equal(snap.TopicNames, []string{"b"}) {
		t.Fatalf("after re-read: %v", snap.TopicNames)
	}
	select {
	case <-w.Changes():
	default:
		t.Fatal("no change signalled")
	}
	rev, err = s.AddPartitions(ctx, "b", [][]int32{{1}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(waitRev(t, w, rev).Topic("b").Partitions); n != 3 {
		t.Fatalf("%d partitions", n)
	}
}

func TestCreateTopicRace(t *testing.T) {
	s1 := openEmbedded(t, "")
	defer closeStore(t, s1)
	s2 := openClient(t, s1, 0)
	defer closeStore(t, s2)
	ctx := testCtx(t)
	for round := range 5 {
		name := fmt.Sprintf("race-%d", round)
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = []*Store{s1, s2}[i%2].CreateTopic(ctx, TopicInfo{Name: name, Replicas: assignment(200, 1)})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrTopicExists):
				t.Fatalf("create: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d creates succeeded", ok)
		}
		resp, err := s1.Client().Get(ctx, s1.Key("partitions")+"/", clientWithPrefix()...)
		if err != nil || resp.Count != int64(200*(round+1)) {
			t.Fatalf("partition keys: %d %v", resp.Count, err)
		}
	}
}

func TestEmbeddedDirInUseAndSideBySide(t *testing.T) {
	dir := t.TempDir()
	s := openEmbedded(t, dir)
	defer closeStore(t, s)
	// A second process on the same dir fails at once (etcd itself would
	// block on its bbolt lock).
	if _, err := Open(testCtx(t), Config{EmbeddedDir: dir, Logger: testLogger(t)}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open on the same dir: %v", err)
	}
	// Two embedded etcds side by side never collide on ports.
	other := openEmbedded(t, "")
	defer closeStore(t, other)
	if other.EmbeddedEndpoint() == s.EmbeddedEndpoint() || other.ClusterID() == s.ClusterID() {
		t.Fatal("two embedded stores share an endpoint or cluster id")
	}
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	t0 := time.Now()
	if _, err := Open(ctx, Config{Endpoints: []string{"127.0.0.1:1"}, Logger: testLogger(t)}); err == nil {
		t.Fatal("Open of an unreachable etcd succeeded")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("Open took %s", d)
	}
}

func TestLeaseLostReRegisters(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	ctx := testCtx(t)
	if err := s.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "h", Port: 1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "controller", s.IsController)
	key := s.Key("brokers", "1")
	resp, err := s.Client().Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("broker key: %v", err)
	}
	lease := clientv3.LeaseID(resp.Kvs[0].Lease)
	// The lease vanishes behind our back (as when etcd expired it during a
	// partition): the broker registers again by itself.
	if _, err := s.Client().Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "re-registration under a new lease", func() bool {
		resp, err := s.Client().Get(ctx, key)
		return err == nil && len(resp.Kvs) == 1 && clientv3.LeaseID(resp.Kvs[0].Lease) != lease
	})
	eventually(t, 10*time.Second, "controller again", func() bool {
		return s.IsController() && s.Snapshot().ControllerID == 1
	})
	if err := s.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	waitRev(t, s, mustRev(t, s))
	if len(s.Snapshot().Brokers) != 0 || s.Snapshot().ControllerID != -1 {
		t.Fatalf("after Deregister: %v controller %d", s.Snapshot().BrokerIDs, s.Snapshot().ControllerID)
	}
}
