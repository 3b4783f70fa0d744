package coordinator

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A broker cut off from etcd (its link stalled by a proxy) stops counting
// its lease as valid before etcd expires the lease (seen by another
// client as the deletion of its broker key), and counts it again once it
// has registered under a new lease after the link is back.
func TestLeaseValidEndsBeforeExpiry(t *testing.T) {
	s0 := openEmbedded(t, "")
	defer closeStore(t, s0)
	proxy := newStallProxy(t, strings.TrimPrefix(s0.EmbeddedEndpoint(), "http://"))
	s1, err := Open(testCtx(t), Config{Endpoints: []string{proxy.addr()}, SessionTTL: 3 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore(t, s1)
	if s1.LeaseValid() {
		t.Fatal("lease valid before registering")
	}
	ctx := testCtx(t)
	if err := s1.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "h", Port: 1}); err != nil {
		t.Fatal(err)
	}
	if !s1.LeaseValid() || !s1.LeaseValidUntil().After(time.Now()) {
		t.Fatalf("lease not valid after registering (until %s)", s1.LeaseValidUntil())
	}
	key := s1.Key("brokers", "1")
	resp, err := s0.Client().Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("broker key: %v", err)
	}
	oldLease := resp.Kvs[0].Lease
	// Probes keep it valid well past one TTL.
	time.Sleep(4 * time.Second)
	if !s1.LeaseValid() {
		t.Fatal("lease not kept valid while etcd is reachable")
	}

	wch := s0.Client().Watch(ctx, key, clientv3.WithRev(resp.Header.Revision+1), clientv3.WithFilterPut())
	proxy.pause()
	// Poll LeaseValid until etcd deletes the key: it must have turned
	// false first.
	var invalidAt time.Time
	deleted := make(chan time.Time, 1)
	go func() {
		for r := range wch {
			for _, ev := range r.Events {
				if ev.Type == mvccpb.DELETE {
					deleted <- time.Now()
					return
				}
			}
		}
	}()
	var deletedAt time.Time
	deadline := time.After(20 * time.Second)
poll:
	for {
		select {
		case deletedAt = <-deleted:
			break poll
		case <-deadline:
			t.Fatal("the broker key was not deleted")
		case <-time.After(2 * time.Millisecond):
		}
		if invalidAt.IsZero() && !s1.LeaseValid() {
			invalidAt = time.Now()
		}
	}
	if invalidAt.IsZero() || s1.LeaseValid() {
		t.Fatalf("lease still valid when etcd deleted the broker key (%s)", deletedAt)
	}
	t.Logf("lease invalid %s before etcd expired it", deletedAt.Sub(invalidAt))

	proxy.resume()
	eventually(t, 20*time.Second, "lease valid again after re-registration", s1.LeaseValid)
	resp, err = s0.Client().Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == oldLease {
		t.Fatalf("broker key after re-registration: %v %v", resp, err)
	}
	if rev := resp.Kvs[0].ModRevision; s1.Snapshot().Revision < rev {
		t.Fatalf("valid again before the Snapshot (%d) saw the re-registration (%d)", s1.Snapshot().Revision, rev)
	}
	if err := s1.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if s1.LeaseValid() {
		t.Fatal("lease valid after Deregister")
	}
}

// Controller writes are fenced by the election key: a controller that lost
// the election cannot write, even with a write that passed its own
// IsController check before it noticed.
func TestControllerWriteFenced(t *testing.T) {
	s0 := openEmbedded(t, "")
	defer closeStore(t, s0)
	s1 := openClient(t, s0, 2*time.Second)
	defer closeStore(t, s1)
	ctx := testCtx(t)
	if err := s1.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "h", Port: 1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "controller", s1.IsController)
	rev, err := s1.CreateTopic(ctx, TopicInfo{Name: "t", Replicas: assignment(3, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tm := waitRev(t, s1, rev).Topic("t")
	upd := func(p int32, st PartitionState) PartitionUpdate {
		ns := st
		ns.LeaderEpoch++
		return PartitionUpdate{TopicID: tm.Info.ID, Partition: p, Expected: st, State: ns}
	}
	// A good write and a stale one in one batch: the good one lands.
	stale := tm.Partitions[1]
	stale.ModRevision--
	wrev, errs := s1.ControllerWrite(ctx, []PartitionUpdate{upd(0, tm.Partitions[0]), upd(1, stale)})
	if errs[0] != nil || !errors.Is(errs[1], ErrConflict) {
		t.Fatalf("errs = %v", errs)
	}
	snap := waitRev(t, s1, wrev)
	if st := snap.Topic("t").Partitions[0]; st.LeaderEpoch != 1 || st.PartitionEpoch != 1 {
		t.Fatalf("partition 0 after write: %+v", st)
	}
	if st := snap.Topic("t").Partitions[1]; st.LeaderEpoch != 0 || st.PartitionEpoch != 0 {
		t.Fatalf("stale write landed: %+v", st)
	}

	// Depose s1 behind its back (its lease, and with it the election key,
	// revoked), then make it believe it is still the controller, as a
	// write in flight would.
	fence, err := s1.controllerFence()
	if err != nil {
		t.Fatal(err)
	}
	lresp, err := s0.Client().Get(ctx, fence.key)
	if err != nil || len(lresp.Kvs) != 1 {
		t.Fatalf("election key: %v", err)
	}
	if _, err := s0.Client().Revoke(ctx, clientv3.LeaseID(lresp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	// s1 may win the election again at once (it is the only candidate), so
	// wait for its old election key to be gone from its view, not for a
	// moment without the role that a fast re-election can hide.
	eventually(t, 10*time.Second, "s1 noticed", func() bool {
		f, err := s1.controllerFence()
		return err != nil || f.key != fence.key
	})
	s1.setFence(fence)
	s1.isController.Store(true)
	cur := waitRev(t, s1, mustRev(t, s1)).Topic("t").Partitions[2]
	if _, errs := s1.ControllerWrite(ctx, []PartitionUpdate{upd(2, cur)}); !errors.Is(errs[0], ErrNotController) {
		t.Fatalf("deposed controller's write: %v", errs[0])
	}
	if _, err := s1.ControllerRecordDirectory(ctx, 1, "x"); !errors.Is(err, ErrNotController) {
		t.Fatalf("deposed controller's directory record: %v", err)
	}
	s1.isController.Store(false)
	s1.setFence(electionFence{})
	if st := waitRev(t, s0, mustRev(t, s0)).Topic("t").Partitions[2]; st.PartitionEpoch != 0 {
		t.Fatalf("deposed controller's write landed: %+v", st)
	}
}

// broker-dirs/ records and partition mod revisions reach the Snapshot
// through the watch and through a re-read alike.
func TestSnapshotCarriesDirectoriesAndModRevisions(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	w := openClient(t, s, 0)
	defer closeStore(t, w)
	ctx := testCtx(t)
	if err := s.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "h", Port: 1, DirectoryID: "dir-b"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "controller", s.IsController)
	rev, err := s.ControllerRecordDirectory(ctx, 1, "dir-a")
	if err != nil {
		t.Fatal(err)
	}
	snap := waitRev(t, w, rev)
	if snap.BrokerDirs[1] != "dir-a" || !snap.LostDirectory(1) {
		t.Fatalf("watched: dirs %v, lost %v", snap.BrokerDirs, snap.LostDirectory(1))
	}
	rev, err = s.CreateTopic(ctx, TopicInfo{Name: "t", Replicas: assignment(1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	key := s.partitionKey(waitRev(t, w, rev).Topic("t").Info.ID, 0)
	resp, err := s.Client().Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatal(err)
	}
	if got := w.Snapshot().Topic("t").Partitions[0].ModRevision; got != resp.Kvs[0].ModRevision {
		t.Fatalf("watched mod revision %d, etcd's %d", got, resp.Kvs[0].ModRevision)
	}
	relists := w.relists.Load()
	w.relistNow <- struct{}{}
	rev, err = s.ControllerRecordDirectory(ctx, 1, "dir-b")
	if err != nil {
		t.Fatal(err)
	}
	snap = waitRev(t, w, rev)
	if w.relists.Load() == relists {
		t.Fatal("no re-read happened")
	}
	if snap.BrokerDirs[1] != "dir-b" || snap.LostDirectory(1) || snap.Topic("t").Partitions[0].ModRevision != resp.Kvs[0].ModRevision {
		t.Fatalf("after a re-read: dirs %v, lost %v, mod revision %d", snap.BrokerDirs, snap.LostDirectory(1), snap.Topic("t").Partitions[0].ModRevision)
	}
}
