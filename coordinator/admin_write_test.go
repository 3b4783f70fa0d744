package coordinator

import (
	"errors"
	"slices"
	"testing"
)

// AdminWrite commits a decision only while every input is as the Snapshot
// it was made on had it: the partition state, and each replica's
// registration (changed, gone, or new since); with assignment it changes
// the topic's assignment in the same transaction. ControllerWriteAssignment
// needs the controller role.
func TestAdminWriteComparesInputs(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	b2 := openClient(t, s, 0)
	defer closeStore(t, b2)
	b3 := openClient(t, s, 0)
	defer closeStore(t, b3)
	ctx := testCtx(t)
	for id, st := range map[int32]*Store{2: b2, 3: b3} {
		if err := st.RegisterBroker(ctx, BrokerInfo{ID: id, Host: "h", Port: 9090 + id}); err != nil {
			t.Fatal(err)
		}
	}
	rev, err := s.CreateTopic(ctx, TopicInfo{Name: "aw", Replicas: [][]int32{{2, 3}, {2, 3, 5}}})
	if err != nil {
		t.Fatal(err)
	}
	snap := waitRev(t, s, max(rev, mustRev(t, s)))
	tm := snap.Topic("aw")
	if snap.Brokers[2].ModRevision == 0 || snap.Brokers[3].ModRevision == 0 {
		t.Fatalf("registrations without mod revisions: %+v", snap.Brokers)
	}
	elect := func(snap *Snapshot, p int32, leader int32) PartitionUpdate {
		st := snap.Topic("aw").Partitions[p]
		ns := st
		ns.Leader, ns.LeaderEpoch = leader, st.LeaderEpoch+1
		return PartitionUpdate{TopicID: tm.Info.ID, Partition: p, Expected: st, State: ns}
	}

	// Broker 3's registration changes after the decision: conflict.
	if err := b3.SetOfflineReplicas(ctx, []ReplicaRef{{TopicID: tm.Info.ID, Partition: 7}}); err != nil {
		t.Fatal(err)
	}
	failedAt, err := s.AdminWrite(ctx, snap, []PartitionUpdate{elect(snap, 0, 3)}, false)
	if !errors.Is(err, ErrConflict) || failedAt <= snap.Revision {
		t.Fatalf("registration changed: %v at revision %d (snapshot %d)", err, failedAt, snap.Revision)
	}
	// Decided again on a Snapshot that has it: written.
	snap = waitRev(t, s, failedAt)
	rev, err = s.AdminWrite(ctx, snap, []PartitionUpdate{elect(snap, 0, 3)}, false)
	if err != nil {
		t.Fatal(err)
	}
	snap = waitRev(t, s, rev)
	if st := snap.Topic("aw").Partitions[0]; st.Leader != 3 || st.PartitionEpoch != 1 {
		t.Fatalf("after the election: %+v", st)
	}
	// The same decision again: the partition changed meanwhile.
	stale := PartitionUpdate{TopicID: tm.Info.ID, Partition: 0, Expected: tm.Partitions[0], State: tm.Partitions[0]}
	stale.State.Leader = 2
	if _, err := s.AdminWrite(ctx, snap, []PartitionUpdate{stale}, false); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale partition state: %v", err)
	}

	// A replica that was not registered (5) comes: conflict too.
	u := elect(snap, 1, 3)
	b5 := openClient(t, s, 0)
	defer closeStore(t, b5)
	if err := b5.RegisterBroker(ctx, BrokerInfo{ID: 5, Host: "h", Port: 9095}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AdminWrite(ctx, snap, []PartitionUpdate{u}, false); !errors.Is(err, ErrConflict) {
		t.Fatalf("replica registered since the decision: %v", err)
	}
	// And one that goes.
	snap = waitRev(t, s, mustRev(t, s))
	u = elect(snap, 1, 3)
	if err := b5.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AdminWrite(ctx, snap, []PartitionUpdate{u}, false); !errors.Is(err, ErrConflict) {
		t.Fatalf("replica gone since the decision: %v", err)
	}

	// With the assignment: partition state and topic agree.
	snap = waitRev(t, s, mustRev(t, s))
	st := snap.Topic("aw").Partitions[0]
	ns := st
	ns.Replicas, ns.AddingReplicas, ns.RemovingReplicas = []int32{3, 5, 2}, []int32{5}, []int32{2}
	rev, err = s.AdminWrite(ctx, snap, []PartitionUpdate{{TopicID: tm.Info.ID, Partition: 0, Expected: st, State: ns}}, true)
	if err != nil {
		t.Fatal(err)
	}
	snap = waitRev(t, s, rev)
	if got := snap.Topic("aw"); !slices.Equal(got.Info.Replicas[0], []int32{3, 5, 2}) || !slices.Equal(got.Partitions[0].Replicas, []int32{3, 5, 2}) ||
		!slices.Equal(got.Info.Replicas[1], []int32{2, 3, 5}) {
		t.Fatalf("assignment %v, partition 0 %+v", got.Info.Replicas, got.Partitions[0])
	}

	// Not the controller: no controller write.
	ctrl := s
	for _, c := range []*Store{b2, b3} {
		if !c.IsController() {
			ctrl = c
		}
	}
	st = snap.Topic("aw").Partitions[0]
	if _, err := ctrl.ControllerWriteAssignment(ctx, snap, []PartitionUpdate{{TopicID: tm.Info.ID, Partition: 0, Expected: st, State: st}}); !errors.Is(err, ErrNotController) {
		t.Fatalf("controller write by a non-controller: %v", err)
	}
}
