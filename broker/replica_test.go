package broker

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/storage"
)

func TestReplicationByteIdentical(t *testing.T) {
	c := newReplCluster(t, 3)
	c.createTopic("rep", []int32{1, 2, 3}, map[string]string{"min.insync.replicas": "2", "internal.segment.bytes": "4096"})
	var vals []string
	for i := range 60 {
		vals = append(vals, string(make([]byte, 100+i)))
	}
	c.produceTo("rep", kgo.AllISRAcks(), vals[:40]...)
	c.produceTo("rep", kgo.LeaderAck(), vals[40:]...)
	c.waitReplicated("rep", 1, 2, 3)
	leader := c.log(1, "rep")
	for _, id := range []int32{2, 3} {
		f := c.log(id, "rep")
		if f.LatestEpoch() != leader.LatestEpoch() {
			t.Fatalf("broker %d latest epoch %d, leader %d", id, f.LatestEpoch(), leader.LatestEpoch())
		}
		if end, e := f.EndOffsetForEpoch(0); end != leader.LogEndOffset() || e != 0 {
			t.Fatalf("broker %d: epoch 0 ends at (%d, %d), want (%d, 0)", id, end, e, leader.LogEndOffset())
		}
	}
	waitLong(t, "followers' high watermarks", func() bool {
		return leader.HighWatermark() == leader.LogEndOffset() &&
			c.log(2, "rep").HighWatermark() == leader.LogEndOffset() && c.log(3, "rep").HighWatermark() == leader.LogEndOffset()
	})
}

// hwWatch samples high watermarks and records any that moved backwards.
type hwWatch struct {
	mu     sync.Mutex
	last   map[int32]int64
	errors []string
	stop   chan struct{}
	done   chan struct{}
}

func watchHW(logs map[int32]*storage.Log) *hwWatch {
	w := &hwWatch{last: map[int32]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			for id, l := range logs {
				hw := l.HighWatermark()
				w.mu.Lock()
				if prev, ok := w.last[id]; ok && hw < prev {
					w.errors = append(w.errors, fmt.Sprintf("broker %d: %d after %d", id, hw, prev))
				}
				w.last[id] = hw
				w.mu.Unlock()
			}
		}
	}()
	return w
}

func (w *hwWatch) finish(t *testing.T) {
	close(w.stop)
	<-w.done
	if len(w.errors) > 0 {
		t.Fatalf("high watermark moved backwards: %v", w.errors)
	}
}

func TestHighWatermarkIsMinOverISR(t *testing.T) {
	c := newReplCluster(t, 3, "replica.lag.time.max.ms=600000")
	c.createTopic("hw", []int32{1, 2, 3}, nil)
	c.produceTo("hw", kgo.AllISRAcks(), "a", "b", "c", "d", "e")
	c.waitReplicated("hw", 1, 2, 3)
	w := watchHW(map[int32]*storage.Log{1: c.log(1, "hw"), 2: c.log(2, "hw")})
	leader := c.log(1, "hw")
	if leader.HighWatermark() != 5 {
		t.Fatalf("leader high watermark %d after 5 acks=all records", leader.HighWatermark())
	}

	// Broker 3 stops but stays in the ISR: the high watermark stays at
	// what it has, however far broker 2 gets.
	c.stop(3)
	c.produceTo("hw", kgo.LeaderAck(), "f", "g", "h", "i", "j")
	waitLong(t, "broker 2 has every record", func() bool { return c.log(2, "hw").LogEndOffset() == 10 })
	time.Sleep(time.Second) // broker 2 fetches several times meanwhile
	if hw := leader.HighWatermark(); hw != 5 {
		t.Fatalf("high watermark %d with an ISR member at 5, want 5", hw)
	}
	if hw := c.log(2, "hw").HighWatermark(); hw > 5 {
		t.Fatalf("follower high watermark %d above the leader's 5", hw)
	}

	// The controller takes broker 3 out of the ISR: min over {1, 2} is 10.
	c.cas("hw", func(st *coordinator.PartitionState) { st.ISR = []int32{1, 2} })
	waitLong(t, "high watermark 10 over ISR {1,2}", func() bool { return leader.HighWatermark() == 10 })
	waitLong(t, "broker 2 learns high watermark 10", func() bool { return c.log(2, "hw").HighWatermark() == 10 })

	// A new leader (epoch+1) starts from its own high watermark and never
	// lowers it.
	st := c.cas("hw", func(st *coordinator.PartitionState) { st.Leader = 2; st.LeaderEpoch++ })
	waitLong(t, "broker 2 leads", func() bool { return c.brokers[2].partition("hw", 0) != nil })
	c.produceTo("hw", kgo.AllISRAcks(), "k")
	if hw := c.log(2, "hw").HighWatermark(); hw != 11 {
		t.Fatalf("new leader (epoch %d) high watermark %d after an acks=all record, want 11", st.LeaderEpoch, hw)
	}
	w.finish(t)
}

func TestHighWatermarkWaitsForMinISR(t *testing.T) {
	c := newReplCluster(t, 2, "replica.lag.time.max.ms=600000")
	c.createTopic("strict", []int32{1, 2}, map[string]string{"min.insync.replicas": "2"})
	c.stop(2) // else the leader puts it back in the ISR at its next fetch
	c.cas("strict", func(st *coordinator.PartitionState) { st.ISR = []int32{1} })
	waitLong(t, "leader holds ISR {1}", func() bool {
		p := c.brokers[1].partition("strict", 0)
		return p != nil && p.isrSize() == 1
	})
	c.produceTo("strict", kgo.LeaderAck(), "a", "b")
	time.Sleep(500 * time.Millisecond)
	// The whole ISR has both records, but an ISR below min.insync.replicas
	// commits nothing (KIP-966).
	if hw := c.log(1, "strict").HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d with ISR {1} below min.insync.replicas=2, want 0", hw)
	}
	// Broker 2 comes back, catches up and joins: the ISR reaches
	// min.insync.replicas and the records commit.
	c.start(2)
	waitLong(t, "high watermark 2 with ISR {1,2}", func() bool { return c.log(1, "strict").HighWatermark() == 2 })
	if _, st := c.state("strict"); !slices.Equal(st.ISR, []int32{1, 2}) {
		t.Fatalf("ISR in etcd %v, want [1 2]", st.ISR)
	}
}

func TestAcksAllWaitsForTheISR(t *testing.T) {
	c := newReplCluster(t, 3, "replica.lag.time.max.ms=600000")
	c.createTopic("ok", []int32{1, 2, 3}, map[string]string{"min.insync.replicas": "2"})
	r := c.rawProduce(1, "ok", -1, 10*time.Second, 3)
	if r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("acks=all: error %v base %d", kerr.ErrorForCode(r.ErrorCode), r.BaseOffset)
	}
	// Answered only once committed: the high watermark covers the batch
	// and every ISR member has it.
	if hw := c.log(1, "ok").HighWatermark(); hw < 3 {
		t.Fatalf("answered with the high watermark at %d, before the batch was committed", hw)
	}
	for _, id := range []int32{2, 3} {
		if leo := c.log(id, "ok").LogEndOffset(); leo < 3 {
			t.Fatalf("answered while ISR member %d had only %d records", id, leo)
		}
	}

	// An ISR smaller than min.insync.replicas: refused, nothing appended.
	c.createTopic("few", []int32{1, 2, 3}, map[string]string{"min.insync.replicas": "3"})
	c.cas("few", func(st *coordinator.PartitionState) { st.ISR = []int32{1, 2} })
	waitLong(t, "leader holds ISR {1,2}", func() bool {
		p := c.brokers[1].partition("few", 0)
		return p != nil && p.isrSize() == 2
	})
	r = c.rawProduce(1, "few", -1, 10*time.Second, 3)
	if r.ErrorCode != kerr.NotEnoughReplicas.Code {
		t.Fatalf("ISR 2 < min.insync.replicas 3: %v, want NOT_ENOUGH_REPLICAS", kerr.ErrorForCode(r.ErrorCode))
	}
	if leo := c.log(1, "few").LogEndOffset(); leo != 0 {
		t.Fatalf("NOT_ENOUGH_REPLICAS appended anyway: log end offset %d", leo)
	}
	// acks=1 is not gated.
	if r := c.rawProduce(1, "few", 1, 10*time.Second, 1); r.ErrorCode != 0 {
		t.Fatalf("acks=1: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}

func TestAcksAllErrorsAfterAppend(t *testing.T) {
	c := newReplCluster(t, 3, "replica.lag.time.max.ms=600000")
	c.createTopic("w", []int32{1, 2, 3}, map[string]string{"min.insync.replicas": "2"})
	c.stop(3) // still in the ISR: nothing commits past what it has

	// REQUEST_TIMED_OUT: appended, not committed within the timeout.
	r := c.rawProduce(1, "w", -1, time.Second, 2)
	if r.ErrorCode != kerr.RequestTimedOut.Code {
		t.Fatalf("ISR member down: %v, want REQUEST_TIMED_OUT", kerr.ErrorForCode(r.ErrorCode))
	}
	if leo := c.log(1, "w").LogEndOffset(); leo != 2 {
		t.Fatalf("timed-out batch: leader log end offset %d, want 2 (appended)", leo)
	}

	// wait starts a produce and waits until the leader appended it.
	wait := func(timeout time.Duration) <-chan kmsg.ProduceResponseTopicPartition {
		before := c.log(1, "w").LogEndOffset()
		out := make(chan kmsg.ProduceResponseTopicPartition, 1)
		go func() { out <- c.rawProduce(1, "w", -1, timeout, 1) }()
		waitLong(t, "the produce is appended", func() bool { return c.log(1, "w").LogEndOffset() > before })
		return out
	}

	// NOT_ENOUGH_REPLICAS_AFTER_APPEND: the ISR falls below min meanwhile.
	res := wait(30 * time.Second)
	c.cas("w", func(st *coordinator.PartitionState) { st.ISR = []int32{1} })
	if r := <-res; r.ErrorCode != kerr.NotEnoughReplicasAfterAppend.Code {
		t.Fatalf("ISR shrank to 1 during the wait: %v, want NOT_ENOUGH_REPLICAS_AFTER_APPEND", kerr.ErrorForCode(r.ErrorCode))
	}

	// NOT_LEADER_OR_FOLLOWER: the leadership moves meanwhile.
	c.cas("w", func(st *coordinator.PartitionState) { st.ISR = []int32{1, 2, 3} })
	waitLong(t, "leader holds ISR {1,2,3}", func() bool { return c.brokers[1].partition("w", 0).isrSize() == 3 })
	res = wait(30 * time.Second)
	c.cas("w", func(st *coordinator.PartitionState) { st.Leader = 2; st.LeaderEpoch++; st.ISR = []int32{1, 2} })
	if r := <-res; r.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("leadership moved during the wait: %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(r.ErrorCode))
	} else if r.CurrentLeader.LeaderID != 2 {
		t.Fatalf("NOT_LEADER_OR_FOLLOWER names leader %d, want 2 (KIP-951)", r.CurrentLeader.LeaderID)
	}
}

func TestFollowerTruncatesByDivergingEpoch(t *testing.T) {
	c := newReplCluster(t, 3, "replica.lag.time.max.ms=600000")
	c.createTopic("div", []int32{1, 2, 3}, nil)
	c.produceTo("div", kgo.AllISRAcks(), "a", "b") // committed everywhere
	c.waitReplicated("div", 1, 2, 3)

	// Broker 1 takes writes nobody else gets, then dies.
	c.stop(2)
	c.stop(3)
	c.produceTo("div", kgo.LeaderAck(), "x", "y", "z")
	if leo := c.log(1, "div").LogEndOffset(); leo != 5 {
		t.Fatalf("old leader log end offset %d, want 5", leo)
	}
	c.stop(1)

	// The controller elects broker 2 (epoch 1); it takes new writes.
	c.cas("div", func(st *coordinator.PartitionState) { st.Leader = 2; st.LeaderEpoch++; st.ISR = []int32{2, 3} })
	c.start(2)
	c.start(3)
	c.produceTo("div", kgo.AllISRAcks(), "c", "d")
	c.waitReplicated("div", 2, 3)

	// Broker 1 rejoins as a follower: its uncommitted suffix (x, y, z at
	// epoch 0) goes, the new leader's records come.
	c.start(1)
	c.waitReplicated("div", 2, 1)
	var got []string
	for _, r := range consumeN(t, c.addrs[2], "div", 4) {
		got = append(got, string(r.Value))
	}
	if !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("records %q, want a b c d", got)
	}
	old := c.log(1, "div")
	if end, e := old.EndOffsetForEpoch(0); end != 2 || e != 0 {
		t.Fatalf("rejoined replica: epoch 0 ends at (%d, %d), want (2, 0)", end, e)
	}
	if old.LatestEpoch() != c.log(2, "div").LatestEpoch() {
		t.Fatalf("rejoined replica latest epoch %d, leader %d", old.LatestEpoch(), c.log(2, "div").LatestEpoch())
	}
}

func TestISRShrinksAndExpands(t *testing.T) {
	c := newReplCluster(t, 3, "replica.lag.time.max.ms=1500")
	c.createTopic("isr", []int32{1, 2, 3}, map[string]string{"min.insync.replicas": "2"})
	c.produceTo("isr", kgo.AllISRAcks(), "a")
	c.stop(3)
	// A follower at the leader's log end is in sync however long ago it
	// fetched (Kafka's isCaughtUp); a record it lacks makes it lag.
	c.produceTo("isr", kgo.LeaderAck(), "b")
	waitLong(t, "ISR {1,2} in etcd after replica.lag.time.max.ms", func() bool {
		_, st := c.state("isr")
		return slices.Equal(st.ISR, []int32{1, 2})
	})
	// With the laggard out, acks=all commits again.
	if r := c.rawProduce(1, "isr", -1, 20*time.Second, 2); r.ErrorCode != 0 {
		t.Fatalf("acks=all with ISR {1,2}: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	c.start(3)
	waitLong(t, "broker 3 back in the ISR", func() bool {
		_, st := c.state("isr")
		return len(st.ISR) == 3
	})
	c.waitReplicated("isr", 1, 2, 3)
}

func TestStaleLeaderISRChangeFails(t *testing.T) {
	c := newReplCluster(t, 2, "replica.lag.time.max.ms=600000")
	c.createTopic("stale", []int32{1, 2}, nil)
	p := c.brokers[1].partition("stale", 0)
	p.replMu.Lock()
	held := p.repl.state // what the leader holds before the controller acts
	p.replMu.Unlock()
	// The controller moves the leadership; broker 1's ISR change, written
	// with the partition epoch it held, must not land.
	after := c.cas("stale", func(st *coordinator.PartitionState) { st.Leader = 2; st.LeaderEpoch++ })
	p.replMu.Lock()
	p.repl.inflight = true
	p.replMu.Unlock()
	c.brokers[1].writeISR(isrChange{p: p, base: held, isr: []int32{1}, removed: []int32{2}})
	_, st := c.state("stale")
	if st.Leader != 2 || st.PartitionEpoch != after.PartitionEpoch || !slices.Equal(st.ISR, after.ISR) {
		t.Fatalf("a stale leader's ISR change was written: %+v, want %+v", st, after)
	}
	waitLong(t, "broker 1 steps down", func() bool { return c.brokers[1].partition("stale", 0) == nil })
}

func TestOutOfRangeFollowerStartsAtLeaderLogStart(t *testing.T) {
	c := newReplCluster(t, 3, "replica.lag.time.max.ms=600000")
	c.createTopic("oor", []int32{1, 2, 3}, map[string]string{"internal.segment.bytes": "2000"})
	c.produceTo("oor", kgo.AllISRAcks(), "a", "b", "c", "d", "e")
	c.waitReplicated("oor", 1, 2, 3)
	c.stop(3)
	c.cas("oor", func(st *coordinator.PartitionState) { st.ISR = []int32{1, 2} })
	for i := range 30 {
		c.produceTo("oor", kgo.AllISRAcks(), string(make([]byte, 200+i)))
	}
	leader := c.log(1, "oor")
	if _, err := leader.DeleteRecordsBefore(25); err != nil {
		t.Fatal(err)
	}
	waitLong(t, "broker 2's log start follows the leader's", func() bool { return c.log(2, "oor").LogStartOffset() == 25 })

	// Broker 3's whole log (0..4) is below the leader's log start.
	c.start(3)
	waitLong(t, "broker 3 catches up", func() bool { return c.log(3, "oor").LogEndOffset() == leader.LogEndOffset() })
	f := c.log(3, "oor")
	if f.LogStartOffset() != 25 {
		t.Fatalf("broker 3 log start %d, want the leader's 25", f.LogStartOffset())
	}
	c.waitReplicated("oor", 1, 3)
}

func TestFetchFromFollowerWithRack(t *testing.T) {
	c := &replCluster{t: t, overrides: map[int32][]string{}, dirs: map[int32]string{}, ports: map[int32]int{},
		brokers: map[int32]*Broker{}, addrs: map[int32]string{}}
	c.endpoint, c.etcd = externalEtcd(t)
	c.common = append(slices.Clone(replClusterProps), "replica.lag.time.max.ms=600000", "replica.selector.class="+config.RackAwareReplicaSelector)
	for id := int32(1); id <= 3; id++ {
		c.dirs[id] = t.TempDir()
		c.overrides[id] = []string{"broker.rack=r" + string(rune('0'+id))}
		c.start(id)
	}
	c.createTopic("rack", []int32{1, 2, 3}, nil)
	var vals []string
	for i := range 10 {
		vals = append(vals, string(rune('a'+i)))
	}
	c.produceTo("rack", kgo.AllISRAcks(), vals...)
	c.waitReplicated("rack", 1, 2, 3)

	// The leader sends a consumer in rack r2 to broker 2.
	resp := c.raw(1, consumerFetch("rack", 0, "r2"), 10*time.Second).(*kmsg.FetchResponse)
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 || sp.PreferredReadReplica != 2 || len(sp.RecordBatches) != 0 {
		t.Fatalf("fetch from rack r2 at the leader: error %d, preferred replica %d, %d bytes; want 0, 2, none",
			sp.ErrorCode, sp.PreferredReadReplica, len(sp.RecordBatches))
	}
	resp = c.raw(1, consumerFetch("rack", 0, "r1"), 10*time.Second).(*kmsg.FetchResponse)
	if sp := resp.Topics[0].Partitions[0]; sp.PreferredReadReplica != -1 || len(sp.RecordBatches) == 0 {
		t.Fatalf("fetch from the leader's own rack: preferred replica %d, %d bytes", sp.PreferredReadReplica, len(sp.RecordBatches))
	}

	// A follower serves consumers up to its high watermark only.
	c.stop(3) // in the ISR: the high watermark stays at 10
	c.produceTo("rack", kgo.LeaderAck(), "k", "l", "m")
	waitLong(t, "broker 2 has 13 records", func() bool { return c.log(2, "rack").LogEndOffset() == 13 })
	resp = c.raw(2, consumerFetch("rack", 0, "r2"), 10*time.Second).(*kmsg.FetchResponse)
	sp = resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 || sp.HighWatermark != 10 || len(sp.RecordBatches) == 0 || lastOffset(t, sp.RecordBatches) != 9 {
		t.Fatalf("consumer fetch at follower: error %d, high watermark %d, %d bytes; want records 0-9 under high watermark 10",
			sp.ErrorCode, sp.HighWatermark, len(sp.RecordBatches))
	}
	old := consumerFetch("rack", 0, "")
	old.Version = 10 // before KIP-392: leader only
	resp = c.raw(2, old, 10*time.Second).(*kmsg.FetchResponse)
	if sp := resp.Topics[0].Partitions[0]; sp.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("v10 consumer fetch at a follower: %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(sp.ErrorCode))
	}

	// A client in rack r2 consumes the committed records.
	cl := newClient(t, c.addrs[1], kgo.ConsumeTopics("rack"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.Rack("r2"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	for len(got) < 10 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if !slices.Equal(got, vals) {
		t.Fatalf("rack-aware consumer read %q, want %q", got, vals)
	}
}

// replicaFetch is a follower's Fetch of partition 0 of topic.
func replicaFetch(version int16, replica int32, topic string, id coordinator.TopicID, offset int64, lastEpoch, curEpoch int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = version
	if version >= 15 {
		req.ReplicaState.ID = replica
	} else {
		req.ReplicaID = replica
	}
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = offset
	rp.LastFetchedEpoch = lastEpoch
	rp.CurrentLeaderEpoch = curEpoch
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func TestReplicaFetchChecks(t *testing.T) {
	c := newReplCluster(t, 3, "replica.lag.time.max.ms=600000")
	c.createTopic("rf", []int32{1, 2}, nil)
	c.produceTo("rf", kgo.AllISRAcks(), "a", "b", "c") // epoch 0: [0, 3)
	c.cas("rf", func(st *coordinator.PartitionState) { st.LeaderEpoch++ })
	waitLong(t, "leader at epoch 1", func() bool {
		p := c.brokers[1].partition("rf", 0)
		return p != nil && p.leaderEpoch.Load() == 1
	})
	// The new epoch starts at the log end in the epoch cache before any
	// record of it is written (Kafka's assign at becomeLeader).
	if e := c.log(1, "rf").LatestEpoch(); e != 1 {
		t.Fatalf("latest epoch %d after becoming leader at epoch 1", e)
	}
	c.stop(2)                                    // in the ISR: the high watermark stays at 3
	c.produceTo("rf", kgo.LeaderAck(), "d", "e") // epoch 1: [3, 5)
	id, _ := c.state("rf")
	one := func(req *kmsg.FetchRequest) kmsg.FetchResponseTopicPartition {
		t.Helper()
		resp := c.raw(1, req, 10*time.Second).(*kmsg.FetchResponse)
		return resp.Topics[0].Partitions[0]
	}
	for _, v := range []int16{12, 13, 15, 17} {
		// A replica reads past the high watermark, to the log end.
		sp := one(replicaFetch(v, 2, "rf", id, 3, 1, 1))
		if sp.ErrorCode != 0 || sp.HighWatermark != 3 || len(sp.RecordBatches) == 0 || lastOffset(t, sp.RecordBatches) != 4 {
			t.Fatalf("v%d replica fetch from 3: error %d, high watermark %d, %d bytes; want records 3-4 above high watermark 3",
				v, sp.ErrorCode, sp.HighWatermark, len(sp.RecordBatches))
		}
		// A consumer does not.
		creq := replicaFetch(v, -1, "rf", id, 3, -1, -1)
		if sp := one(creq); sp.ErrorCode != 0 || len(sp.RecordBatches) != 0 {
			t.Fatalf("v%d consumer fetch from the high watermark: error %d, %d bytes", v, sp.ErrorCode, len(sp.RecordBatches))
		}
		// A follower that has epoch 0 up to offset 5 diverged at 3.
		sp = one(replicaFetch(v, 2, "rf", id, 5, 0, 1))
		if sp.ErrorCode != 0 || sp.DivergingEpoch.Epoch != 0 || sp.DivergingEpoch.EndOffset != 3 || len(sp.RecordBatches) != 0 {
			t.Fatalf("v%d diverged follower: error %d, diverging (%d, %d), %d bytes; want (0, 3) and no records",
				v, sp.ErrorCode, sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset, len(sp.RecordBatches))
		}
		// An epoch the leader cannot place.
		if sp := one(replicaFetch(v, 2, "rf", id, 5, 9, 1)); sp.ErrorCode != kerr.OffsetOutOfRange.Code {
			t.Fatalf("v%d unknown last fetched epoch: %v, want OFFSET_OUT_OF_RANGE", v, kerr.ErrorForCode(sp.ErrorCode))
		}
		// Leader epoch checks, and only assigned replicas.
		if sp := one(replicaFetch(v, 2, "rf", id, 3, 1, 0)); sp.ErrorCode != kerr.FencedLeaderEpoch.Code {
			t.Fatalf("v%d old current leader epoch: %v, want FENCED_LEADER_EPOCH", v, kerr.ErrorForCode(sp.ErrorCode))
		}
		if sp := one(replicaFetch(v, 2, "rf", id, 3, 1, 2)); sp.ErrorCode != kerr.UnknownLeaderEpoch.Code {
			t.Fatalf("v%d newer current leader epoch: %v, want UNKNOWN_LEADER_EPOCH", v, kerr.ErrorForCode(sp.ErrorCode))
		}
		if sp := one(replicaFetch(v, 3, "rf", id, 3, 1, 1)); sp.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Fatalf("v%d fetch by unassigned broker 3: %v, want NOT_LEADER_OR_FOLLOWER", v, kerr.ErrorForCode(sp.ErrorCode))
		}
	}
	// Broker 2's position came from the replica fetches: the high
	// watermark moved to what it fetched from (min over ISR {1, 2}).
	if hw := c.log(1, "rf").HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d, want 3", hw)
	}
	if sp := one(replicaFetch(15, 2, "rf", id, 5, 1, 1)); sp.ErrorCode != 0 || sp.HighWatermark != 5 {
		t.Fatalf("replica fetch from the log end: error %d, high watermark %d, want 5", sp.ErrorCode, sp.HighWatermark)
	}
}

func TestReplicaFetchProperties(t *testing.T) {
	c := newReplCluster(t, 2, "num.replica.fetchers=3", "replica.fetch.max.bytes=3000", "replica.fetch.min.bytes=7",
		"replica.fetch.response.max.bytes=50000", "replica.lag.time.max.ms=600000")
	topics := []string{"pa", "pb", "pc", "pd", "pe", "pf"}
	for _, tp := range topics {
		c.createTopic(tp, []int32{1, 2}, nil)
	}
	m := c.brokers[2].fetchers
	m.mu.Lock()
	want := map[int]bool{}
	for _, tp := range topics {
		p := c.brokers[2].hosted(tp, 0)
		want[m.threadFor(p)] = true
		if t1 := m.assigned[p]; t1 == nil || t1.key.source != 1 || t1.key.n != m.threadFor(p) {
			t.Fatalf("%s is not fetched from broker 1 by fetcher %d", tp, m.threadFor(p))
		}
	}
	threads := len(m.threads)
	var one *fetcherThread
	for _, th := range m.threads {
		one = th
	}
	m.mu.Unlock()
	if len(want) < 2 || threads != len(want) {
		t.Fatalf("num.replica.fetchers=3: %d fetchers for %d distinct assignments", threads, len(want))
	}
	// (an hour on: past any backoff of a partition)
	req, sent := one.buildFetch(15, c.brokers[2].fetcherSettings(), time.Now().Add(time.Hour))
	if len(sent) == 0 || len(req.Topics) == 0 {
		t.Fatal("the fetcher builds an empty fetch")
	}
	if req.MinBytes != 7 || req.MaxBytes != 50000 || req.MaxWaitMillis != 200 ||
		req.Topics[0].Partitions[0].PartitionMaxBytes != 3000 || req.ReplicaState.ID != 2 {
		t.Fatalf("fetch request: min %d max %d wait %d partition max %d replica %d",
			req.MinBytes, req.MaxBytes, req.MaxWaitMillis, req.Topics[0].Partitions[0].PartitionMaxBytes, req.ReplicaState.ID)
	}
	// Records larger than a fetch in all still replicate, a batch or so
	// per fetch.
	var vals []string
	for i := range 20 {
		vals = append(vals, string(make([]byte, 1000+i)))
	}
	c.produceTo("pa", kgo.AllISRAcks(), vals...)
	c.waitReplicated("pa", 1, 2)
}
