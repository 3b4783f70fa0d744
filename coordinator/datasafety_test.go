package coordinator

import (
	"errors"
	"testing"
	"time"
)

func TestOpenClusterIDPolicy(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	ep := []string{s.EmbeddedEndpoint()}
	if !s.CreatedCluster() {
		t.Fatal("the first Store did not report creating the cluster")
	}

	// NoCreate under a prefix with no cluster: ErrNoCluster, nothing written.
	_, err := Open(testCtx(t), Config{Endpoints: ep, Prefix: "/empty/", NoCreate: true, Logger: testLogger(t)})
	if !errors.Is(err, ErrNoCluster) {
		t.Fatalf("NoCreate on an empty prefix: %v", err)
	}
	if resp, _ := s.Client().Get(testCtx(t), "/empty/", clientWithPrefix()...); resp.Count != 0 {
		t.Fatalf("a refused Open wrote %d keys", resp.Count)
	}
	// An expected id that differs: refused, naming both.
	_, err = Open(testCtx(t), Config{Endpoints: ep, ClusterID: "someone-else", Logger: testLogger(t)})
	var mm *ClusterIDMismatchError
	if !errors.As(err, &mm) || mm.Stored != s.ClusterID() || mm.Expected != "someone-else" {
		t.Fatalf("mismatch: %v", err)
	}
	// The same id: accepted, not created.
	c, err := Open(testCtx(t), Config{Endpoints: ep, ClusterID: s.ClusterID(), NoCreate: true, Logger: testLogger(t)})
	if err != nil || c.CreatedCluster() {
		t.Fatalf("matching id: %v created=%v", err, c != nil && c.CreatedCluster())
	}
	closeStore(t, c)
	// An expected id on an empty prefix without NoCreate creates that id.
	c, err = Open(testCtx(t), Config{Endpoints: ep, Prefix: "/adopt/", ClusterID: "adopted-id", Logger: testLogger(t)})
	if err != nil || !c.CreatedCluster() || c.ClusterID() != "adopted-id" {
		t.Fatalf("adopt: %v", err)
	}
	closeStore(t, c)
}

func TestDeleteTopicWritesTombstoneUntilAcked(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	ctx := testCtx(t)
	rev, err := s.CreateTopicAt(ctx, TopicInfo{Name: "t", Replicas: [][]int32{{1, 2}, {2, 3}}}, []int32{4, 5})
	if err != nil {
		t.Fatal(err)
	}
	s.WaitForRevision(ctx, rev)
	tm := s.Snapshot().Topic("t")
	if tm.Partitions[0].LeaderEpoch != 4 || tm.Partitions[1].LeaderEpoch != 5 {
		t.Fatalf("initial epochs: %+v", tm.Partitions)
	}
	id := tm.Info.ID
	rev, err = s.DeleteTopic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	s.WaitForRevision(ctx, rev)
	snap := s.Snapshot()
	tomb, ok := snap.DeletedTopics[id]
	if snap.Topic("t") != nil || !ok || tomb.Name != "t" || tomb.Partitions != 2 || len(tomb.Pending) != 3 {
		t.Fatalf("after delete: topic %v tombstone %+v %v", snap.Topic("t"), tomb, ok)
	}
	for _, b := range []int32{1, 3, 3} { // a repeated ack is harmless
		if err := s.AckTopicDeletion(ctx, id, b); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, func() bool { return len(s.Snapshot().DeletedTopics[id].Pending) == 1 })
	if err := s.AckTopicDeletion(ctx, id, 2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { _, ok := s.Snapshot().DeletedTopics[id]; return !ok })
	// Relisting rebuilds the same (empty) set.
	n := s.relists.Load()
	s.relistNow <- struct{}{}
	waitUntil(t, func() bool { return s.relists.Load() > n })
	if len(s.Snapshot().DeletedTopics) != 0 {
		t.Fatalf("tombstones after relist: %+v", s.Snapshot().DeletedTopics)
	}
}

func TestOfflineReplicasPublished(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	ctx := testCtx(t)
	if err := s.SetOfflineReplicas(ctx, nil); err == nil {
		t.Fatal("SetOfflineReplicas before registering succeeded")
	}
	if err := s.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "127.0.0.1", Port: 9092}); err != nil {
		t.Fatal(err)
	}
	id := NewTopicID()
	if err := s.SetOfflineReplicas(ctx, []ReplicaRef{{TopicID: id, Partition: 3}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return s.Snapshot().ReplicaOffline(1, id, 3) })
	if s.Snapshot().ReplicaOffline(1, id, 2) || s.Snapshot().ReplicaOffline(2, id, 3) {
		t.Fatal("ReplicaOffline true for another replica")
	}
	if err := s.SetOfflineReplicas(ctx, nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return !s.Snapshot().ReplicaOffline(1, id, 3) })
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
