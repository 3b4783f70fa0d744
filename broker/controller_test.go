package broker

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/coordinator"
)

// testCluster is several in-process brokers sharing one etcd (an
// external one, in the test process), each with its own data dir.
type testCluster struct {
	t        *testing.T
	endpoint string
	etcd     *coordinator.Store // an unregistered observer of the same metadata
	extra    []string
	dirs     map[int32]string
	brokers  map[int32]*Broker
	addrs    map[int32]string
}

// clusterSessionMs is the brokers' broker.session.timeout.ms: a crashed
// broker is dead (its lease expired) about this long after the crash.
const clusterSessionMs = 2000

func newTestCluster(t *testing.T, ids []int32, extra ...string) *testCluster {
	t.Helper()
	ep, s := externalEtcd(t)
	c := &testCluster{t: t, endpoint: ep, etcd: s, extra: extra,
		dirs: map[int32]string{}, brokers: map[int32]*Broker{}, addrs: map[int32]string{}}
	for _, id := range ids {
		c.start(id)
	}
	c.waitLive(ids...)
	return c
}

// start starts broker id on its data dir (a new one the first time).
func (c *testCluster) start(id int32, extra ...string) *Broker {
	c.t.Helper()
	dir, ok := c.dirs[id]
	if !ok {
		dir = c.t.TempDir()
		c.dirs[id] = dir
	}
	props := append([]string{"etcd.endpoints=" + c.endpoint, "broker.id=" + strconv.Itoa(int(id)),
		"broker.session.timeout.ms=" + strconv.Itoa(clusterSessionMs)}, c.extra...)
	b, addr := startTestBrokerIn(c.t, dir, append(props, extra...)...)
	c.brokers[id], c.addrs[id] = b, addr
	return b
}

// crash stops broker id like kill -9 would: no controlled shutdown, no
// deregistration; its lease expires.
func (c *testCluster) crash(id int32) {
	c.t.Helper()
	b := c.brokers[id]
	b.crashClose = true
	b.Close()
	delete(c.brokers, id)
}

// stop closes broker id cleanly (controlled shutdown).
func (c *testCluster) stop(id int32) {
	c.t.Helper()
	if err := c.brokers[id].Close(); err != nil {
		c.t.Fatalf("close broker %d: %v", id, err)
	}
	delete(c.brokers, id)
}

func (c *testCluster) snap() *coordinator.Snapshot { return c.etcd.Snapshot() }

func (c *testCluster) waitLive(ids ...int32) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("brokers %v live", ids), func() bool {
		for _, id := range ids {
			if _, ok := c.snap().Brokers[id]; !ok {
				return false
			}
		}
		return true
	})
}

func (c *testCluster) waitDead(id int32) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("broker %d dead", id), func() bool { _, ok := c.snap().Brokers[id]; return !ok })
}

// partition returns partition p of topic in the observer's snapshot.
func (c *testCluster) partition(topic string, p int32) coordinator.PartitionState {
	st, _ := c.snap().Partition(topic, p)
	return st
}

// leaderOf is the leader of partition p of topic.
func (c *testCluster) leaderOf(topic string, p int32) int32 { return c.partition(topic, p).Leader }

// createAssigned creates topic with partition p on assignment[p] through
// broker via, and waits until the observer sees it.
func (c *testCluster) createAssigned(via int32, name string, assignment [][]int32, configs map[string]string) *coordinator.TopicMeta {
	c.t.Helper()
	b := c.brokers[via]
	_, e, msg := b.createTopic(testCtx(c.t), name, -1, -1, assignment, configs, false)
	if e != nil {
		c.t.Fatalf("create %s: %v %s", name, e, msg)
	}
	var tm *coordinator.TopicMeta
	waitFor(c.t, "topic "+name+" in the observer's snapshot", func() bool {
		tm = c.snap().Topic(name)
		return tm != nil
	})
	return tm
}

// A crashed broker (the controller, and the leader of some partitions)
// loses its leaderships to ISR members with the next leader epoch, leaves
// every ISR, and another broker becomes the controller.
func TestFailoverElectsISRMember(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3})
	waitFor(t, "a controller", func() bool { return c.snap().ControllerID > 0 })
	victim := c.snap().ControllerID
	others := slices.DeleteFunc([]int32{1, 2, 3}, func(id int32) bool { return id == victim })
	// Two partitions led by the victim, one by another broker.
	c.createAssigned(others[0], "fo", [][]int32{{victim, others[0], others[1]}, {victim, others[1], others[0]}, {others[0], victim, others[1]}}, nil)
	waitFor(t, "initial leaders", func() bool { return c.leaderOf("fo", 0) == victim && c.leaderOf("fo", 2) == others[0] })
	before := c.snap().Topic("fo").Partitions
	crashed := time.Now()
	c.crash(victim)
	c.waitDead(victim)
	waitFor(t, "new controller", func() bool { id := c.snap().ControllerID; return id > 0 && id != victim })
	waitFor(t, "leaders moved", func() bool { return c.leaderOf("fo", 0) != victim && c.leaderOf("fo", 1) != victim })
	t.Logf("failover (controller and leader crashed, broker.session.timeout.ms=%d): new leaders after %s", clusterSessionMs, time.Since(crashed))
	after := c.snap().Topic("fo").Partitions
	for p := range after {
		was, now := before[p], after[p]
		if slices.Contains(now.ISR, victim) {
			t.Errorf("partition %d: dead broker still in the ISR %v", p, now.ISR)
		}
		if was.Leader == victim {
			if !slices.Contains(was.ISR, now.Leader) || now.LeaderEpoch != was.LeaderEpoch+1 {
				t.Errorf("partition %d: leader %d epoch %d, was %d epoch %d ISR %v", p, now.Leader, now.LeaderEpoch, was.Leader, was.LeaderEpoch, was.ISR)
			}
			if want := was.Replicas[1]; now.Leader != want {
				t.Errorf("partition %d: leader %d, want %d (first ISR member in assignment order)", p, now.Leader, want)
			}
		} else if now.Leader != was.Leader || now.LeaderEpoch != was.LeaderEpoch {
			t.Errorf("partition %d: leader changed although it lived: %+v -> %+v", p, was, now)
		}
	}
	// Clients are told so by the survivors (once they have applied it: a
	// new leader shows as one only once it serves the partition).
	if err := c.brokers[others[0]].waitApplied(testCtx(t), c.snap().Revision); err != nil {
		t.Fatal(err)
	}
	// Applying the snapshot and taking the leadership over are two steps:
	// wait for the second (a hang guard, not a timing assertion).
	var p0 kadm.PartitionDetail
	ok := waitUntil(10*time.Second, func() bool {
		p0 = metadataOf(t, c.addrs[others[0]], "fo").Partitions[0]
		return p0.Leader == after[0].Leader
	})
	if !ok || p0.LeaderEpoch != after[0].LeaderEpoch || !slices.Contains(p0.OfflineReplicas, victim) {
		t.Errorf("metadata of partition 0: %+v", p0)
	}
}

// metadataOf asks addr for the metadata of one topic.
func metadataOf(t *testing.T, addr, topic string) kadm.TopicDetail {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	md, err := adm.Metadata(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	return md.Topics[topic]
}

// Close moves every leadership the broker holds to another ISR member
// before it deregisters (the moves are in etcd at revisions below the
// deletion of its broker key), with the next leader epoch, and takes the
// broker out of the ISRs.
func TestControlledShutdownMovesLeadership(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3})
	c.createAssigned(1, "cs", [][]int32{{2, 1, 3}, {2, 3, 1}, {1, 2, 3}, {3, 2, 1}}, nil)
	waitFor(t, "broker 2 leads 0 and 1", func() bool { return c.leaderOf("cs", 0) == 2 && c.leaderOf("cs", 1) == 2 })
	before := c.snap().Topic("cs").Partitions
	id := c.snap().Topic("cs").Info.ID
	ctx := testCtx(t)
	cl := c.etcd.Client()
	wch := cl.Watch(ctx, c.etcd.Key(""), clientv3.WithPrefix(), clientv3.WithRev(c.snap().Revision+1))

	// A producer writing to partition 0 through broker 1 throughout: the
	// leader change reaches it as NOT_LEADER_OR_FOLLOWER with the new
	// leader, it carries on, and no send fails. (Without replication
	// yet, acks=1 and no idempotence: the records land on whichever
	// broker leads.)
	prod := newClient(t, c.addrs[1], kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), kgo.MetadataMinAge(100*time.Millisecond))
	stopProducing := make(chan struct{})
	produced := make(chan []error, 1)
	go func() {
		var errs []error
		for i := 0; ; i++ {
			select {
			case <-stopProducing:
				produced <- errs
				return
			default:
			}
			if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "cs", Partition: 0, Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				errs = append(errs, err)
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	closing := time.Now()
	c.stop(2)
	t.Logf("controlled shutdown: Close took %s", time.Since(closing))
	time.Sleep(500 * time.Millisecond)
	close(stopProducing)
	if errs := <-produced; len(errs) > 0 {
		t.Errorf("the producer saw %d errors, the first: %v", len(errs), errs[0])
	}

	// Collect the etcd history of the shutdown: partition writes and the
	// deletion of brokers/2.
	brokerKey := c.etcd.Key("brokers", "2")
	var deletedAt int64
	leaderAt := map[int32]int64{} // partition -> revision of its first write without leader 2
	states := map[int32]coordinator.PartitionState{}
	timeout := time.After(15 * time.Second)
	for deletedAt == 0 {
		select {
		case resp := <-wch:
			for _, ev := range resp.Events {
				key := string(ev.Kv.Key)
				if key == brokerKey && ev.Type == mvccpb.DELETE {
					deletedAt = ev.Kv.ModRevision
				}
				for p := int32(0); p < 4; p++ {
					if key != c.etcd.Key("partitions", id.String(), strconv.Itoa(int(p))) || ev.Type != mvccpb.PUT {
						continue
					}
					st := decodeState(t, ev.Kv.Value)
					if _, seen := leaderAt[p]; !seen && st.Leader != 2 {
						leaderAt[p] = ev.Kv.ModRevision
						states[p] = st
					}
				}
			}
		case <-timeout:
			t.Fatal("broker 2's key was not deleted")
		}
	}
	for _, p := range []int32{0, 1} {
		rev, ok := leaderAt[p]
		if !ok || rev >= deletedAt {
			t.Fatalf("partition %d: leadership moved at revision %d (moved: %v), broker key deleted at %d: not before the shutdown", p, rev, ok, deletedAt)
		}
		st, was := states[p], before[p]
		if !slices.Contains(was.ISR, st.Leader) || st.LeaderEpoch != was.LeaderEpoch+1 || slices.Contains(st.ISR, 2) {
			t.Errorf("partition %d after the move: %+v (was %+v)", p, st, was)
		}
	}
	waitFor(t, "broker 2 out of every ISR", func() bool {
		for _, st := range c.snap().Topic("cs").Partitions {
			if slices.Contains(st.ISR, 2) {
				return false
			}
		}
		return true
	})
	// Partitions it did not lead kept their leader and epoch.
	for _, p := range []int{2, 3} {
		if now := c.snap().Topic("cs").Partitions[p]; now.Leader != before[p].Leader || now.LeaderEpoch != before[p].LeaderEpoch {
			t.Errorf("partition %d: %+v, was %+v", p, now, before[p])
		}
	}
}

func decodeState(t *testing.T, v []byte) coordinator.PartitionState {
	t.Helper()
	var st coordinator.PartitionState
	if err := json.Unmarshal(v, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// A broker restarted with an empty data dir (a lost disk, same broker id)
// is taken out of every ISR before it may lead anything, even when it
// comes back before its old lease expired; its new directory id is then
// recorded.
func TestLostDirectoryLeavesISRsFirst(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3})
	c.createAssigned(1, "ld", [][]int32{{2, 1, 3}, {1, 2, 3}}, nil)
	waitFor(t, "broker 2 leads partition 0", func() bool { return c.leaderOf("ld", 0) == 2 })
	oldDir := c.snap().BrokerDirs[2]
	if oldDir == "" || oldDir != c.brokers[2].dirID {
		t.Fatalf("directory record %q, broker's %q", oldDir, c.brokers[2].dirID)
	}
	before := c.snap().Topic("ld").Partitions
	c.crash(2)
	if err := os.RemoveAll(c.dirs[2]); err != nil {
		t.Fatal(err)
	}
	b2 := c.start(2, "listeners=PLAINTEXT://"+c.addrs[2]) // same address, within the old lease: it takes its key over
	if b2.dirID == oldDir {
		t.Fatal("the new data dir has the old directory id")
	}
	waitFor(t, "new directory recorded", func() bool { return c.snap().BrokerDirs[2] == b2.dirID })
	for p, st := range c.snap().Topic("ld").Partitions {
		if slices.Contains(st.ISR, 2) || slices.Contains(st.ELR, 2) || st.Leader == 2 {
			t.Errorf("partition %d still vouches for the lost disk: %+v", p, st)
		}
	}
	if st := c.partition("ld", 0); st.LeaderEpoch != before[0].LeaderEpoch+1 || !slices.Contains(before[0].ISR, st.Leader) {
		t.Errorf("partition 0: %+v, was %+v", st, before[0])
	}
	for p := int32(0); p < 2; p++ {
		if b2.partition("ld", p) != nil {
			t.Errorf("the broker with the lost disk serves partition %d as leader", p)
		}
	}
}

// KIP-966: followers removed while the ISR is below min.insync.replicas
// join the ELR; when the last ISR member dies too, an ELR member that
// comes back is elected cleanly (ISR = [it]), and the dead last member
// joins the ELR.
func TestELRElection(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3, 4})
	c.createAssigned(4, "elr", [][]int32{{1, 2, 3}}, map[string]string{"min.insync.replicas": "2"})
	waitFor(t, "leader 1", func() bool { return c.leaderOf("elr", 0) == 1 })
	c.crash(3)
	c.waitDead(3)
	waitFor(t, "3 out of the ISR", func() bool { return !slices.Contains(c.partition("elr", 0).ISR, 3) })
	if st := c.partition("elr", 0); len(st.ELR) != 0 {
		t.Fatalf("ELR with the ISR at min.insync.replicas: %+v", st)
	}
	c.crash(2)
	c.waitDead(2)
	waitFor(t, "2 in the ELR", func() bool { return slices.Equal(c.partition("elr", 0).ELR, []int32{2}) })
	c.crash(1)
	c.waitDead(1)
	waitFor(t, "no leader", func() bool { return c.leaderOf("elr", 0) == -1 })
	if st := c.partition("elr", 0); !slices.Equal(st.ISR, []int32{1}) || !slices.Equal(st.ELR, []int32{2}) {
		t.Fatalf("all ISR members dead: %+v, want ISR [1] ELR [2]", st)
	}
	epoch := c.partition("elr", 0).LeaderEpoch
	c.start(2)
	waitFor(t, "ELR member elected", func() bool { return c.leaderOf("elr", 0) == 2 })
	st := c.partition("elr", 0)
	if !slices.Equal(st.ISR, []int32{2}) || !slices.Equal(st.ELR, []int32{1}) || st.LeaderEpoch != epoch+1 {
		t.Fatalf("after the ELR election: %+v, want leader 2 ISR [2] ELR [1] epoch %d", st, epoch+1)
	}
	// Broker 3 left while the ISR was at min.insync.replicas: it is not
	// elected (unclean is off); it rejoins the ISR only by catching up
	// with leader 2, which brings the ISR back to min.insync.replicas and
	// so clears the ELR.
	c.start(3)
	c.waitLive(3)
	waitFor(t, "3 back in the ISR after catching up, ELR cleared", func() bool {
		st := c.partition("elr", 0)
		return slices.Equal(st.ISR, []int32{2, 3}) && len(st.ELR) == 0
	})
	if st := c.partition("elr", 0); st.Leader != 2 || st.LeaderEpoch != epoch+1 {
		t.Fatalf("after 3 came back: %+v, want leader 2 at epoch %d", st, epoch+1)
	}
}

// With unclean.leader.election.enable on the topic, a replica outside the
// ISR leads when no ISR member is left; without it the partition stays
// offline.
func TestUncleanElection(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3})
	c.createAssigned(3, "unclean", [][]int32{{1, 2}}, map[string]string{"unclean.leader.election.enable": "true"})
	c.createAssigned(3, "clean", [][]int32{{1, 2}}, nil)
	c.crash(2)
	c.waitDead(2)
	waitFor(t, "2 out of both ISRs", func() bool {
		return slices.Equal(c.partition("unclean", 0).ISR, []int32{1}) && slices.Equal(c.partition("clean", 0).ISR, []int32{1})
	})
	c.crash(1)
	c.waitDead(1)
	waitFor(t, "both offline", func() bool { return c.leaderOf("unclean", 0) == -1 && c.leaderOf("clean", 0) == -1 })
	c.start(2)
	waitFor(t, "unclean election of 2", func() bool { return c.leaderOf("unclean", 0) == 2 })
	if st := c.partition("unclean", 0); !slices.Equal(st.ISR, []int32{2}) || len(st.ELR) != 0 {
		t.Errorf("after the unclean election: %+v", st)
	}
	time.Sleep(2 * controllerTick)
	if st := c.partition("clean", 0); st.Leader != -1 || !slices.Equal(st.ISR, []int32{1}) {
		t.Errorf("clean topic elected a replica outside the ISR: %+v", st)
	}
}

// auto.leader.rebalance.enable moves leadership back to the preferred
// replica (once it is in the ISR) every leader.imbalance.check.interval.seconds,
// when the broker's imbalance exceeds leader.imbalance.per.broker.percentage.
//
// With one partition per internal topic, broker 1 prefers 4 partitions
// (2 of pref, both internal ones: created on broker 1 alone); one led
// elsewhere is an imbalance of 25%.
var rebalanceProps = []string{"leader.imbalance.check.interval.seconds=1", "offsets.topic.num.partitions=1", "transaction.state.log.num.partitions=1",
	"offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1"}

func TestPreferredLeaderRebalance(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3}, append(rebalanceProps, "leader.imbalance.per.broker.percentage=24")...)
	tm := c.createAssigned(1, "pref", [][]int32{{1, 2, 3}, {1, 3, 2}}, nil)
	waitFor(t, "preferred leaders", func() bool { return c.leaderOf("pref", 0) == 1 && c.leaderOf("pref", 1) == 1 })
	// Leadership elsewhere with the preferred replica in sync (what a
	// failover and the replica catching up again leave behind).
	st := c.partition("pref", 0)
	moved := st
	moved.Leader, moved.LeaderEpoch = 2, st.LeaderEpoch+1
	rev, err := c.etcd.UpdatePartitionState(testCtx(t), tm.Info.ID, 0, st.PartitionEpoch, moved)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.etcd.WaitForRevision(testCtx(t), rev); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "leadership back on the preferred replica", func() bool { return c.leaderOf("pref", 0) == 1 })
	if got := c.partition("pref", 0); got.LeaderEpoch != moved.LeaderEpoch+1 {
		t.Errorf("after the rebalance: %+v", got)
	}
}

// With the imbalance at (not above) leader.imbalance.per.broker.percentage,
// or auto.leader.rebalance.enable off, leadership stays where it is.
func TestPreferredLeaderRebalanceThreshold(t *testing.T) {
	for _, extra := range [][]string{
		{"leader.imbalance.per.broker.percentage=25"},
		{"leader.imbalance.per.broker.percentage=0", "auto.leader.rebalance.enable=false"},
	} {
		t.Run(extra[len(extra)-1], func(t *testing.T) {
			c := newTestCluster(t, []int32{1, 2, 3}, append(slices.Clone(rebalanceProps), extra...)...)
			tm := c.createAssigned(1, "pref", [][]int32{{1, 2, 3}, {1, 3, 2}}, nil)
			waitFor(t, "preferred leaders", func() bool { return c.leaderOf("pref", 0) == 1 && c.leaderOf("pref", 1) == 1 })
			st := c.partition("pref", 0)
			moved := st
			moved.Leader, moved.LeaderEpoch = 2, st.LeaderEpoch+1
			rev, err := c.etcd.UpdatePartitionState(testCtx(t), tm.Info.ID, 0, st.PartitionEpoch, moved)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.etcd.WaitForRevision(testCtx(t), rev); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second) // three checks
			if got := c.leaderOf("pref", 0); got != 2 {
				t.Fatalf("leader %d: moved although the imbalance (25%%) is allowed or rebalancing is off", got)
			}
		})
	}
}

// Internal topics created while fewer brokers than their replication
// factor were up get it once enough are; their ISR is their live replicas
// and their leaders move like any other's.
func TestInternalTopicReplicationRaised(t *testing.T) {
	c := newTestCluster(t, []int32{1}, "offsets.topic.replication.factor=3", "offsets.topic.num.partitions=6",
		"transaction.state.log.replication.factor=2", "transaction.state.log.num.partitions=3")
	if rf := len(c.snap().Topic(offsetsTopic).Info.Replicas[0]); rf != 1 {
		t.Fatalf("created with replication factor %d on one broker", rf)
	}
	c.start(2)
	c.start(3)
	waitFor(t, "replication factors raised", func() bool {
		for name, rf := range map[string]int{offsetsTopic: 3, transactionTopic: 2} {
			tm := c.snap().Topic(name)
			for p, st := range tm.Partitions {
				if len(tm.Info.Replicas[p]) != rf || len(st.Replicas) != rf || len(st.ISR) != rf || st.Leader != st.Replicas[0] {
					return false
				}
			}
		}
		return true
	})
	// The coordinators are spread: not every partition is led by broker 1.
	leaders := map[int32]int{}
	for _, st := range c.snap().Topic(offsetsTopic).Partitions {
		leaders[st.Leader]++
	}
	if len(leaders) != 3 {
		t.Errorf("__consumer_offsets leaders: %v, want all three brokers", leaders)
	}
	victim := c.snap().Topic(offsetsTopic).Partitions[0].Leader
	c.crash(victim)
	c.waitDead(victim)
	waitFor(t, "internal leaders moved", func() bool {
		for _, st := range c.snap().Topic(offsetsTopic).Partitions {
			if st.Leader == victim || st.Leader < 0 || slices.Contains(st.ISR, victim) {
				return false
			}
		}
		return true
	})
}

// Replicas are placed on usable brokers only: a broker in controlled
// shutdown counts for neither the replication factor check nor placement.
func TestPlacementSkipsShuttingDownBroker(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3})
	if err := c.brokers[3].store.SetShuttingDown(testCtx(t), true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "broker 1 sees 3 shutting down", func() bool { return c.brokers[1].store.Snapshot().Brokers[3].ShuttingDown })
	b1 := c.brokers[1]
	if _, e, msg := b1.createTopic(testCtx(t), "rf3", 4, 3, nil, nil, false); e != kerr.InvalidReplicationFactor {
		t.Fatalf("RF 3 with 2 usable brokers: %v %s", e, msg)
	}
	if _, e, msg := b1.createTopic(testCtx(t), "rf2", 4, 2, nil, nil, false); e != nil {
		t.Fatalf("RF 2: %v %s", e, msg)
	}
	for p, rs := range b1.store.Snapshot().Topic("rf2").Info.Replicas {
		if slices.Contains(rs, 3) {
			t.Errorf("partition %d placed on the shutting-down broker: %v", p, rs)
		}
	}
}

// broker.session.timeout.ms is the registration lease's TTL.
func TestSessionTimeoutIsLeaseTTL(t *testing.T) {
	_, s := externalEtcd(t)
	b, _ := startTestBroker(t, "etcd.endpoints="+s.EmbeddedEndpoint(), "broker.session.timeout.ms=4500")
	resp, err := s.Client().Get(testCtx(t), s.Key("brokers", "1"))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("broker key: %v", err)
	}
	ttl, err := s.Client().TimeToLive(testCtx(t), clientv3.LeaseID(resp.Kvs[0].Lease))
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL != 5 {
		t.Errorf("lease TTL %d s, want 5 (4500 ms rounded up)", ttl.GrantedTTL)
	}
	if !b.leaseValid() {
		t.Error("leaseValid false on a registered broker")
	}
}
