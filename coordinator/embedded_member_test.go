package coordinator

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// openMembers opens one Store per member of a fresh combined-mode quorum
// of n, all at once (each waits for the others), in dirs.
func openMembers(t *testing.T, dirs []string, members []*Member) []*Store {
	t.Helper()
	stores := make([]*Store, len(members))
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			stores[i], errs[i] = Open(ctx, Config{EmbeddedDir: dirs[i], Member: members[i], Logger: testLogger(t)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d: %v", i+1, err)
		}
	}
	return stores
}

func testMembers(t *testing.T, n int) []*Member {
	t.Helper()
	ports, err := freePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	var peers []MemberPeer
	for i, p := range ports {
		peers = append(peers, MemberPeer{Name: strconv.Itoa(i + 1), Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))})
	}
	out := make([]*Member, n)
	for i, p := range peers {
		out[i] = &Member{Name: p.Name, PeerListen: p.Addr, PeerAdvertise: p.Addr, Peers: peers}
	}
	return out
}

// Three members form one etcd; with one closed the other two keep
// serving reads and writes; the closed one rejoins from its data dir.
func TestCombinedQuorum(t *testing.T) {
	members := testMembers(t, 3)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	stores := openMembers(t, dirs, members)
	defer func() {
		for _, s := range stores {
			if s != nil {
				s.Close()
			}
		}
	}()
	ctx := testCtx(t)
	ml, err := stores[0].Client().MemberList(ctx)
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("member list: %v %v", ml, err)
	}
	if stores[0].ClusterID() != stores[1].ClusterID() || stores[1].ClusterID() != stores[2].ClusterID() {
		t.Fatalf("cluster ids differ: %s %s %s", stores[0].ClusterID(), stores[1].ClusterID(), stores[2].ClusterID())
	}
	closeStore(t, stores[2])
	stores[2] = nil
	rev, err := stores[0].CreateTopic(ctx, TopicInfo{Name: "after", Replicas: assignment(1, 1)})
	if err != nil {
		t.Fatalf("create with one member down: %v", err)
	}
	if waitRev(t, stores[1], rev).Topic("after") == nil {
		t.Fatal("the other member does not see the topic")
	}
	// The third comes back from its data dir and catches up.
	again := openMembers(t, dirs[2:], members[2:])
	stores[2] = again[0]
	if waitRev(t, stores[2], rev).Topic("after") == nil {
		t.Fatal("the rejoined member does not see the topic")
	}
	ml, err = stores[2].Client().MemberList(ctx)
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("member list after rejoin: %v %v", ml, err)
	}
	// Its data dir is a member's now: never a single-node etcd.
	closeStore(t, stores[2])
	stores[2] = nil
	if _, err := Open(ctx, Config{EmbeddedDir: dirs[2], Logger: testLogger(t)}); err == nil || !strings.Contains(err.Error(), "combined-mode quorum") {
		t.Fatalf("member dir opened single-node: %v", err)
	}
	other := testMembers(t, 3)[2]
	other.Name = "3"
	if _, err := Open(ctx, Config{EmbeddedDir: dirs[2], Member: other, Logger: testLogger(t)}); err == nil || !strings.Contains(err.Error(), "must stay as they were") {
		t.Fatalf("member dir opened with other voters: %v", err)
	}
}

// A single-node etcd's data dir never becomes a member of a quorum (etcd
// would keep its single-member cluster from the WAL).
func TestCombinedRefusesSingleNodeData(t *testing.T) {
	dir := t.TempDir()
	closeStore(t, openEmbedded(t, dir))
	m := testMembers(t, 3)[0]
	_, err := Open(testCtx(t), Config{EmbeddedDir: dir, Member: m, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "single-node etcd's data") {
		t.Fatalf("err = %v", err)
	}
}
