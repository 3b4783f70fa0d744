package compat

// The failure scenarios of the cluster (issue 12, "Tests"): each starts a
// 3-broker cluster on a 3-member etcd (cluster_harness_test.go), writes with
// an idempotent acks=all producer to a topic with replication factor 3 and
// min.insync.replicas=2, breaks something, and checks that every
// acknowledged record is there exactly once, at the offset its ack named, in
// order (verifyRecords), and that nothing else is.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// failoverTimeout bounds the wait for a dead or cut-off leader's
	// replacement: the session timeout (3 s) plus a second is the
	// target; the rest is room for a loaded machine.
	failoverTimeout = 20 * time.Second
	// catchUpTimeout bounds the wait for a restarted broker to catch up
	// and rejoin the ISR.
	catchUpTimeout = 30 * time.Second
	// readAllTimeout bounds the final reads of everything acknowledged.
	readAllTimeout = 60 * time.Second
)

var minISR2 = map[string]string{"min.insync.replicas": "2"}

// replicatedTopic creates topic with RF 3, min.insync.replicas=2 and waits
// until every replica is in sync.
func (c *Cluster) replicatedTopic(topic string, partitions int32) {
	c.t.Helper()
	c.CreateTopic(topic, partitions, 3, minISR2, nil)
	c.WaitFullISR(topic, partitions, catchUpTimeout)
}

// verifyTopic reads the whole topic through a running broker's client link
// and checks it holds exactly the acknowledged records, at their offsets.
func (c *Cluster) verifyTopic(topic string, partitions int32, acked []*ackedRecord) {
	c.t.Helper()
	addr := c.Running()[0].Client.Addr()
	consumed := consumeAll(c.t, addr, topic, partitions, countPerPartition(acked), readAllTimeout)
	verifyRecords(c.t, acked, consumed)
	checkEndOffsets(c.t, addr, topic, acked)
}

// waitSameLog waits until broker id's replica of topic/p holds, byte for
// byte, the batches of the leader's.
func (c *Cluster) waitSameLog(id int32, topic string, p int32) []diskBatch {
	c.t.Helper()
	var got []diskBatch
	c.WaitFor(catchUpTimeout, fmt.Sprintf("broker %d's replica of %s/%d to equal the leader's", id, topic, p), func() (bool, string) {
		leader, _ := c.Leader(topic, p)
		if leader < 0 {
			return false, "no leader"
		}
		if leader == id {
			return false, fmt.Sprintf("broker %d is the leader itself", id)
		}
		mine, err := readReplicaLog(c.Broker(id).DataDir, topic, p)
		if err != nil {
			return false, fmt.Sprintf("broker %d: %v", id, err)
		}
		theirs, err := readReplicaLog(c.Broker(leader).DataDir, topic, p)
		if err != nil {
			return false, fmt.Sprintf("leader %d: %v", leader, err)
		}
		got = mine
		if d := compareReplicaLogs(mine, theirs); d != "" {
			return false, fmt.Sprintf("broker %d vs leader %d: %s", id, leader, d)
		}
		return true, ""
	})
	return got
}

// TestClusterKillLeaders (a): kill -9 the leader of each partition in turn
// under an idempotent acks=all producer, restarting it each time. Every
// record is acknowledged, each exactly once at its acked offset and in
// order, and a consumer group reading throughout reads every one.
func TestClusterKillLeaders(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	const topic, partitions = "kill-leaders", 3
	c.replicatedTopic(topic, partitions)
	group := startGroupConsumer(t, c.Bootstrap(), "kill-leaders-group", topic)
	prod := startLoadProducer(t, c.Bootstrap(), topic, 100_000, 1000, 1)
	prod.WaitProgress(500, failoverTimeout, "before any kill")

	for p := int32(0); p < partitions; p++ {
		before := c.Partition(topic, p)
		if before.Err != nil || before.Leader < 0 {
			t.Fatalf("partition %d: %s: %v", p, before, before.Err)
		}
		c.Kill9(before.Leader)
		after := c.WaitLeader(topic, p, before.Leader, before.LeaderEpoch, failoverTimeout)
		if !before.inISR(after.Leader) {
			t.Errorf("partition %d: new leader %d was not in the ISR %v", p, after.Leader, before.ISR)
		}
		t.Logf("partition %d: leader %d (epoch %d) killed, now led by %d (epoch %d)", p, before.Leader, before.LeaderEpoch, after.Leader, after.LeaderEpoch)
		prod.WaitProgress(300, failoverTimeout, fmt.Sprintf("after broker %d was killed", before.Leader))
		c.Start(before.Leader)
		c.WaitFullISR(topic, partitions, catchUpTimeout)
	}
	prod.WaitProgress(300, failoverTimeout, "after the last restart")
	acked := prod.Stop()
	c.verifyTopic(topic, partitions, acked)
	group.WaitAll(acked, readAllTimeout)
}

// TestClusterControllerFailover (b): the controller is killed mid-run;
// another broker takes the role and does its job: the partitions the dead
// broker led get new leaders, and so do those of a broker killed later.
func TestClusterControllerFailover(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	const topic, partitions = "controller-failover", 3
	c.replicatedTopic(topic, partitions)
	prod := startLoadProducer(t, c.Bootstrap(), topic, 100_000, 1000, 2)
	prod.WaitProgress(300, failoverTimeout, "before the kill")

	ctrl := c.Controller()
	if ctrl < 1 {
		t.Fatalf("no controller the brokers agree on")
	}
	before := make([]PartitionView, partitions)
	for p := range before {
		before[p] = c.Partition(topic, int32(p))
	}
	c.Kill9(ctrl)
	var next int32
	c.WaitFor(failoverTimeout, "another controller", func() (bool, string) {
		next = c.Controller()
		return next > 0 && next != ctrl, fmt.Sprintf("the running brokers name %d", next)
	})
	t.Logf("controller %d killed; broker %d took over", ctrl, next)
	for p, v := range before {
		if v.Leader == ctrl {
			c.WaitLeader(topic, int32(p), ctrl, v.LeaderEpoch, failoverTimeout)
		}
	}
	prod.WaitProgress(300, failoverTimeout, "after the controller was killed")
	c.Start(ctrl)
	c.WaitFullISR(topic, partitions, catchUpTimeout)

	// The new controller handles the next failure too.
	ctrl = c.Controller()
	victim := int32(-1)
	for p := int32(0); p < partitions && victim < 0; p++ {
		if l, _ := c.Leader(topic, p); l != ctrl {
			victim = l
		}
	}
	if victim < 0 {
		t.Fatalf("the controller %d leads every partition", ctrl)
	}
	for p := range before {
		before[p] = c.Partition(topic, int32(p))
	}
	c.Kill9(victim)
	for p, v := range before {
		if v.Leader == victim {
			c.WaitLeader(topic, int32(p), victim, v.LeaderEpoch, failoverTimeout)
		}
	}
	prod.WaitProgress(300, failoverTimeout, fmt.Sprintf("after broker %d was killed", victim))
	c.Start(victim)
	c.WaitFullISR(topic, partitions, catchUpTimeout)
	acked := prod.Stop()
	c.verifyTopic(topic, partitions, acked)
}

// TestClusterIsolatedLeader (c): the leader of a partition is cut off from
// its followers and from etcd (clients still reach it). An acks=all write it
// cannot replicate is never acknowledged; a follower becomes leader with a
// higher epoch; once the links heal, the old leader rejoins the ISR as a
// follower and truncates what was never committed.
//
// The truncation is checked on disk: once the old leader is back in the ISR
// and the producer has stopped, its segment files must hold the new
// leader's batches byte for byte, and not the write it took while isolated
// (a follower appends the leader's batches as they are, so equal replicas
// are equal files). Reading the files needs no cooperation from the broker
// and sees exactly what it kept.
func TestClusterIsolatedLeader(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	const topic = "isolated"
	c.replicatedTopic(topic, 1)
	prod := startLoadProducer(t, c.Bootstrap(), topic, 100_000, 500, 3)
	prod.WaitProgress(300, failoverTimeout, "before the isolation")

	before := c.Partition(topic, 0)
	old := before.Leader
	c.IsolateFromCluster(old)

	marker := []byte(fmt.Sprintf("written-to-isolated-leader-%d", time.Now().UnixNano()))
	perr, off, terr := rawProduce(c.Broker(old), topic, 0, -1, 5*time.Second, marker)
	switch {
	case terr != nil:
		t.Logf("acks=all produce to the isolated leader: no answer (%v)", terr)
	case perr == nil:
		t.Errorf("the isolated leader %d acknowledged an acks=all write at offset %d that it could not replicate", old, off)
	default:
		t.Logf("acks=all produce to the isolated leader: %v (not acknowledged)", perr)
	}

	after := c.WaitLeader(topic, 0, old, before.LeaderEpoch, failoverTimeout, old)
	t.Logf("broker %d isolated (epoch %d); broker %d leads with epoch %d", old, before.LeaderEpoch, after.Leader, after.LeaderEpoch)
	prod.WaitProgress(300, failoverTimeout, "on the new leader while the old one is isolated")

	c.Heal(old)
	c.WaitFullISR(topic, 1, catchUpTimeout)
	if l, epoch := c.Leader(topic, 0); l == old && epoch <= after.LeaderEpoch {
		t.Errorf("after healing, broker %d leads again at epoch %d (the new leader had %d)", old, epoch, after.LeaderEpoch)
	}
	acked := prod.Stop()
	if l, _ := c.Leader(topic, 0); l != old {
		kept := c.waitSameLog(old, topic, 0)
		if logContains(kept, marker) {
			t.Errorf("broker %d still holds the write it took while isolated, which was never committed", old)
		}
	} else {
		t.Logf("broker %d leads again (preferred leader moved back): its log is checked through the records read", old)
	}
	c.verifyTopic(topic, 1, acked)
}

// TestClusterWipedBrokerRejoins (d): a broker killed and restarted with its
// data dir deleted formats a new one, re-replicates every partition, rejoins
// the ISR, never leads a partition whose ISR does not list it, and ends with
// the leaders' logs byte for byte; no acknowledged record is missing.
func TestClusterWipedBrokerRejoins(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	const topic, partitions = "wiped", 3
	const id = 3
	c.replicatedTopic(topic, partitions)
	prod := startLoadProducer(t, c.Bootstrap(), topic, 100_000, 1000, 4)
	prod.WaitProgress(2000, failoverTimeout, "before the disk is lost")

	c.Kill9(id)
	c.WipeDataDir(id)
	prod.WaitProgress(500, failoverTimeout, fmt.Sprintf("while broker %d is down", id))
	c.Start(id)
	c.WaitFor(catchUpTimeout, fmt.Sprintf("broker %d back in every ISR", id), func() (bool, string) {
		for p := int32(0); p < partitions; p++ {
			v := c.Partition(topic, p)
			if v.Err != nil {
				return false, v.Err.Error()
			}
			if v.Leader == id && !v.inISR(id) {
				t.Errorf("partition %d: the wiped broker %d leads it without being in its ISR: %s", p, id, v)
			}
			if !v.inISR(id) {
				return false, fmt.Sprintf("partition %d: %s", p, v)
			}
		}
		return true, ""
	})
	prod.WaitProgress(500, failoverTimeout, "after the wiped broker rejoined")
	acked := prod.Stop()
	for p := int32(0); p < partitions; p++ {
		if l, _ := c.Leader(topic, p); l != id {
			c.waitSameLog(id, topic, p)
		}
	}
	c.verifyTopic(topic, partitions, acked)
}

// TestClusterLastISRMemberLost (e): both followers stopped cleanly, then the
// leader killed. While only the leader is in sync, an acks=all write is
// refused (NOT_ENOUGH_REPLICAS) and not appended. With the leader dead, the
// follower that left the ISR first is not eligible (it left while the ISR
// still had min.insync.replicas members; unclean election is off); the one
// that left last (KIP-966's eligible leader replicas) is, and the partition
// comes back led by it with every acknowledged record.
func TestClusterLastISRMemberLost(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	const topic = "last-isr"
	c.replicatedTopic(topic, 1)
	acked := produceRecords(t, c.Bootstrap()[0], topic, 2000, 50, 5)

	v := c.Partition(topic, 0)
	leader := v.Leader
	var followers []int32
	for _, r := range v.Replicas {
		if r != leader {
			followers = append(followers, r)
		}
	}
	first, last := followers[0], followers[1]
	c.Stop(first)
	c.Stop(last)
	c.WaitFor(failoverTimeout, fmt.Sprintf("the ISR to shrink to the leader %d", leader), func() (bool, string) {
		v := c.Partition(topic, 0)
		return v.Err == nil && slices.Equal(v.ISR, []int32{leader}), v.String()
	})

	marker := []byte(fmt.Sprintf("below-min-isr-%d", time.Now().UnixNano()))
	perr, _, terr := rawProduce(c.Broker(leader), topic, 0, -1, 3*time.Second, marker)
	if terr != nil || !errors.Is(perr, kerr.NotEnoughReplicas) {
		t.Errorf("acks=all produce with only the leader in sync: error %v (transport %v), want NOT_ENOUGH_REPLICAS", perr, terr)
	}

	c.Kill9(leader)
	c.Start(first)
	// For two session timeouts, the ineligible follower must not lead.
	deadline := time.Now().Add(2 * c.opts.sessionTimeout)
	for time.Now().Before(deadline) {
		if v := c.Partition(topic, 0); v.Leader == first {
			t.Fatalf("broker %d, which left the ISR while it still had %d members, became leader: %s", first, 2, v)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.Start(last)
	after := c.WaitLeader(topic, 0, leader, v.LeaderEpoch, failoverTimeout)
	if after.Leader != last {
		t.Errorf("the partition came back led by %d, want %d (the last follower to leave the ISR)", after.Leader, last)
	}
	more := produceRecords(t, c.Broker(last).Client.Addr(), topic, 500, 50, 6)
	for _, ar := range more {
		ar.seq += len(acked)
	}
	acked = append(acked, more...)
	c.Start(leader)
	c.WaitFullISR(topic, 1, catchUpTimeout)
	c.verifyTopic(topic, 1, acked)
}

// TestClusterRollingRestart (f): every broker in turn is stopped with
// SIGTERM and restarted, under a producer and a consumer group. The stop is
// a controlled shutdown: when the process has exited, etcd already names
// another leader for every partition it led (read from etcd itself, so no
// broker's lagging snapshot and no timing is involved). Nothing is lost,
// and neither client's error callbacks ever fire.
func TestClusterRollingRestart(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	const topic, partitions = "rolling", 3
	c.replicatedTopic(topic, partitions)
	group := startGroupConsumer(t, c.Bootstrap(), "rolling-group", topic)
	prod := startLoadProducer(t, c.Bootstrap(), topic, 100_000, 1000, 7)
	prod.WaitProgress(500, failoverTimeout, "before the restarts")
	// The group's coordinator partition exists now; it must be in sync
	// too before a broker goes.
	c.WaitFullISR(offsetsTopic, offsetsPartitions, catchUpTimeout)

	for _, b := range c.Brokers {
		c.Stop(b.ID)
		for _, tp := range []struct {
			topic string
			n     int32
		}{{topic, partitions}, {offsetsTopic, offsetsPartitions}} {
			for p := int32(0); p < tp.n; p++ {
				st, err := c.etcdPartition(tp.topic, p)
				if err != nil {
					t.Fatalf("reading %s/%d from etcd: %v", tp.topic, p, err)
				}
				if st.Leader == b.ID || st.Leader < 0 {
					t.Errorf("broker %d exited after SIGTERM while etcd names leader %d of %s/%d (epoch %d): leadership was not moved first", b.ID, st.Leader, tp.topic, p, st.LeaderEpoch)
				}
			}
		}
		prod.WaitProgress(200, failoverTimeout, fmt.Sprintf("while broker %d is down", b.ID))
		c.Start(b.ID)
		c.WaitFullISR(topic, partitions, catchUpTimeout)
		c.WaitFullISR(offsetsTopic, offsetsPartitions, catchUpTimeout)
		if errs := prod.Errors(); len(errs) > 0 {
			t.Fatalf("after restarting broker %d the producer has seen %d errors: %v", b.ID, len(errs), firstErrors(errs, 5))
		}
	}
	prod.WaitProgress(300, failoverTimeout, "after the last restart")
	acked := prod.Stop()
	group.WaitAll(acked, readAllTimeout)
	if errs := group.Errors(); len(errs) > 0 {
		t.Errorf("the consumer group member saw %d fetch errors: %s", len(errs), errorsString(firstErrors(errs, 5)))
	}
	c.verifyTopic(topic, partitions, acked)
}

const (
	offsetsTopic      = "__consumer_offsets"
	offsetsPartitions = 6 // offsets.topic.num.partitions in startCluster
)

// coordinator asks the running brokers (but skip) for the group's
// coordinator and returns it if they agree, else -1.
func (c *Cluster) coordinator(group string, skip ...int32) int32 {
	id := int32(-2)
	for _, b := range c.Running() {
		if slices.Contains(skip, b.ID) {
			continue
		}
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = group
		req.CoordinatorKeys = []string{group}
		resp, err := b.Request(req)
		if err != nil {
			return -1
		}
		r := resp.(*kmsg.FindCoordinatorResponse)
		node, code := r.NodeID, r.ErrorCode
		if len(r.Coordinators) > 0 {
			node, code = r.Coordinators[0].NodeID, r.Coordinators[0].ErrorCode
		}
		if code != 0 || (id != -2 && node != id) {
			return -1
		}
		id = node
	}
	if id == -2 {
		return -1
	}
	return id
}

// TestClusterGroupCoordinatorFailover (h): the broker coordinating a
// consumer group is killed while a member is in the group. Another broker
// becomes the coordinator, serves the offsets committed before the kill,
// and the member carries on from them: every record read exactly once.
// The topic's leaders are on the other brokers, so only the coordinator
// moves.
func TestClusterGroupCoordinatorFailover(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	const group, topic, partitions = "coordinator-failover", "coordinated", 3
	var coord int32
	c.WaitFor(failoverTimeout, "a coordinator for the group", func() (bool, string) {
		coord = c.coordinator(group)
		return coord > 0, fmt.Sprintf("brokers answer %d", coord)
	})
	c.WaitFullISR(offsetsTopic, offsetsPartitions, catchUpTimeout)
	var others []int32
	for _, b := range c.Brokers {
		if b.ID != coord {
			others = append(others, b.ID)
		}
	}
	c.CreateTopic(topic, -1, -1, minISR2, [][]int32{
		{others[0], others[1], coord},
		{others[1], others[0], coord},
		{others[0], others[1], coord},
	})
	c.WaitFullISR(topic, partitions, catchUpTimeout)
	acked := produceRecords(t, c.Broker(others[0]).Client.Addr(), topic, 3000, 60, 8)
	end := map[int32]int64{}
	for _, ar := range acked {
		end[ar.partition] = max(end[ar.partition], ar.offset+1)
	}

	cl := c.clusterClient(
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.SessionTimeout(10*time.Second),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.MetadataMinAge(200*time.Millisecond),
	)
	defer cl.Close()
	read := map[int32][]int64{}
	total := 0
	poll := func(until int, what string) {
		t.Helper()
		deadline := time.Now().Add(readAllTimeout)
		for total < until {
			if time.Now().After(deadline) {
				t.Fatalf("read %d records, want %d (%s)", total, until, what)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			fs := cl.PollRecords(ctx, 100)
			cancel()
			fs.EachError(func(tp string, p int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Logf("fetch %s/%d: %v", tp, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				read[r.Partition] = append(read[r.Partition], r.Offset)
				total++
			})
		}
	}
	poll(len(acked)/2, "before the kill")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	cancel()
	committed := map[int32]int64{}
	for p, eo := range cl.CommittedOffsets()[topic] {
		committed[p] = eo.Offset
	}
	t.Logf("read %d records, committed %v; killing the coordinator %d", total, committed, coord)

	c.Kill9(coord)
	var next int32
	c.WaitFor(failoverTimeout, "another coordinator for the group", func() (bool, string) {
		next = c.coordinator(group)
		return next > 0 && next != coord, fmt.Sprintf("brokers answer %d", next)
	})
	// Bootstrapped from the live brokers: the killed one's client link still
	// accepts (the harness's proxy) and resets, which franz-go reports
	// rather than trying the next seed.
	var live []string
	for _, id := range others {
		live = append(live, c.Broker(id).Client.Addr())
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(live...))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(admCl)
	defer adm.Close()
	fetchOffsets := func() map[int32]int64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatalf("OffsetFetch from the new coordinator %d: %v", next, err)
		}
		got := map[int32]int64{}
		resp.Each(func(o kadm.OffsetResponse) {
			if o.Topic == topic && o.Err == nil {
				got[o.Partition] = o.At
			}
		})
		return got
	}
	if got := fetchOffsets(); !mapsEqual(got, committed) {
		t.Errorf("the new coordinator %d serves offsets %v, want those committed before the kill %v", next, got, committed)
	}

	poll(len(acked), "after the coordinator moved")
	for p, offs := range read {
		for i, o := range offs {
			if o != int64(i) {
				t.Fatalf("partition %d: the %d-th record read has offset %d (read twice or skipped around the coordinator move): %v", p, i, o, offs[max(0, i-3):min(len(offs), i+3)])
			}
		}
		if int64(len(offs)) != end[p] {
			t.Errorf("partition %d: read %d records, want %d", p, len(offs), end[p])
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit on the new coordinator: %v", err)
	}
	cancel()
	if got := fetchOffsets(); !mapsEqual(got, end) {
		t.Errorf("after the last commit the coordinator serves %v, want the end offsets %v", got, end)
	}
}

func mapsEqual(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
