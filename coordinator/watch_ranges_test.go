package coordinator

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/group"
)

// Every subtree the Snapshot is built from lies in exactly one watch range,
// and the group coordinator's keys in none.
func TestWatchRangesCover(t *testing.T) {
	in := func(key string) int {
		n := 0
		for _, r := range watchRanges {
			if r.contains(key) {
				n++
			}
		}
		return n
	}
	// topics-deleted/ is the tombstone dir of deleted topics.
	for _, dir := range append(metadataDirs, "topics-deleted/") {
		for _, key := range []string{dir, dir + "x", dir + "x/0", dir + "\xff\xff"} {
			if n := in(key); n != 1 {
				t.Errorf("%q is in %d watch ranges, want 1", key, n)
			}
		}
	}
	for _, key := range []string{"offsets/g/t/0", "offsets/%/t/0", "groups/g", "groups/g/0123/0",
		"transactions/x", "acls", "acl", "aaa"} {
		if n := in(key); n != 0 {
			t.Errorf("%q is in %d watch ranges, want 0", key, n)
		}
	}
}

// openGroups starts a group coordinator on s's etcd.
func openGroups(t *testing.T, s *Store) *group.Coordinator {
	t.Helper()
	c, err := group.New(group.Config{Client: s.Client(), Key: s.Key, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	if err := c.WaitLoaded(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// currentRev is etcd's current revision.
func currentRev(t testing.TB, s *Store) int64 {
	t.Helper()
	resp, err := s.Client().Get(testCtx(t), s.Key("no-such-key"))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

// joinAndSync makes a one-member classic group settle, which writes its
// group record.
func joinAndSync(t *testing.T, c *group.Coordinator, groupID string) {
	t.Helper()
	ctx := testCtx(t)
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 9
	req.Group = groupID
	req.SessionTimeoutMillis = 30000
	req.RebalanceTimeoutMillis = 30000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte("m")
	req.Protocols = append(req.Protocols, p)
	r := c.JoinGroup(ctx, req, "client", "/127.0.0.1")
	if r.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	req.MemberID = r.MemberID
	r = c.JoinGroup(ctx, req, "client", "/127.0.0.1")
	if r.ErrorCode != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	sr := kmsg.NewPtrSyncGroupRequest()
	sr.Group, sr.MemberID, sr.Generation = groupID, r.MemberID, r.Generation
	a := kmsg.NewSyncGroupRequestGroupAssignment()
	a.MemberID, a.MemberAssignment = r.MemberID, []byte("assignment")
	sr.GroupAssignment = append(sr.GroupAssignment, a)
	if resp := c.SyncGroup(ctx, sr); resp.ErrorCode != 0 {
		t.Fatalf("sync: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// Offset commits and group records are never streamed to the metadata
// watch; metadata writes still are, and WaitForRevision still returns for
// revisions that touched no watched key.
func TestOffsetCommitsDoNotWakeWatch(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	ctx := testCtx(t)
	if err := s.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "127.0.0.1", Port: 9092}); err != nil {
		t.Fatal(err)
	}
	rev, err := s.CreateTopic(ctx, TopicInfo{Name: "t", Replicas: assignment(10, 1)})
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, s, rev)
	c := openGroups(t, s)
	waitRev(t, s, currentRev(t, s))
	before := s.watchEvents.Load()

	joinAndSync(t, c, "members")
	commits := make([]group.Commit, 10)
	for round := range 200 {
		for p := range commits {
			commits[p] = group.Commit{Topic: "t", Partition: int32(p), Offset: int64(round), LeaderEpoch: -1}
		}
		for i, code := range c.CommitOffsets(ctx, group.CommitArgs{Group: fmt.Sprintf("g%d", round%4), Generation: -1, Version: 8}, commits) {
			if code != 0 {
				t.Fatalf("commit %d: %v", i, kerr.ErrorForCode(code))
			}
		}
	}
	// Caught up with everything written (a progress notification, as no
	// event carries the watch there)...
	end := currentRev(t, s)
	if end-rev < 200 {
		t.Fatalf("only %d revisions written", end-rev)
	}
	waitRev(t, s, end)
	// ... without a single event.
	if n := s.watchEvents.Load() - before; n != 0 {
		t.Fatalf("the metadata watch received %d events from offset commits and group records", n)
	}

	rev, err = s.CreateTopic(ctx, TopicInfo{Name: "u", Replicas: assignment(2, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if snap := waitRev(t, s, rev); snap.Topic("u") == nil || len(snap.Topic("u").Partitions) != 2 {
		t.Fatal("topic created after the commits not in the Snapshot")
	}
	if n := s.watchEvents.Load() - before; n != 3 {
		t.Fatalf("the metadata watch received %d events for a 2-partition topic, want 3", n)
	}
}

// A write to one range while the other is idle: WaitForRevision returns once
// both have caught up, and the Snapshot shows both ranges' writes.
func TestWaitForRevisionBothRanges(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	w := openClient(t, s, 0)
	defer closeStore(t, w)
	ctx := testCtx(t)
	for i := range 5 {
		// Range 1 only.
		if i == 0 {
			if err := s.RegisterBroker(ctx, BrokerInfo{ID: 7, Host: "127.0.0.1", Port: 9092}); err != nil {
				t.Fatal(err)
			}
		}
		brev := currentRev(t, s)
		if snap := waitRev(t, w, brev); snap.Brokers[7].Port != 9092 {
			t.Fatalf("round %d: broker not in the Snapshot at %d", i, snap.Revision)
		}
		// Range 2 only.
		name := fmt.Sprintf("t%d", i)
		trev, err := s.CreateTopic(ctx, TopicInfo{Name: name, Replicas: assignment(3, 7)})
		if err != nil {
			t.Fatal(err)
		}
		snap := waitRev(t, w, trev)
		if tm := snap.Topic(name); tm == nil || tm.Partitions[2].Leader != 7 || snap.Brokers[7].Port != 9092 {
			t.Fatalf("round %d: Snapshot at %d: topic %v brokers %v", i, snap.Revision, tm, snap.Brokers)
		}
	}
}

// Writes in a watched range that the Snapshot does not use (producer-ids)
// advance its revision without signalling Changes.
func TestChangesOnlyOnContent(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	ctx := testCtx(t)
	rev, err := s.CreateTopic(ctx, TopicInfo{Name: "a", Replicas: assignment(1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, s, rev)
	for len(s.Changes()) > 0 {
		<-s.Changes()
	}
	before := s.watchEvents.Load()
	for range 3 {
		if _, err := s.AllocateProducerIDs(ctx, 1000); err != nil {
			t.Fatal(err)
		}
	}
	waitRev(t, s, currentRev(t, s))
	if n := s.watchEvents.Load() - before; n != 3 {
		t.Fatalf("watch saw %d producer-ids events, want 3 (the key is in a watched range)", n)
	}
	select {
	case <-s.Changes():
		t.Fatal("Changes signalled for producer-ids writes")
	default:
	}
}
