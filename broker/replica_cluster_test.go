package broker

// Helpers for replication tests: several in-process brokers sharing one
// etcd (an external one: a Store with its own embedded etcd, which the
// tests also use to change partition states the way the controller will).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/storage"
)

type replCluster struct {
	t         *testing.T
	endpoint  string
	etcd      *coordinator.Store
	overrides map[int32][]string
	common    []string
	dirs      map[int32]string
	ports     map[int32]int // each broker keeps its port across restarts
	brokers   map[int32]*Broker
	addrs     map[int32]string
}

// replClusterProps keep the controller out of the tests' way: the tests
// change partition states themselves, as the controller would. A stopped
// broker is stopped like a crash (no controlled shutdown, its lease stays)
// and the lease outlives a test, so the controller never acts on a stop;
// restarted on its port, a broker takes its registration back.
var replClusterProps = []string{"broker.session.timeout.ms=60000", "auto.leader.rebalance.enable=false"}

// newTestCluster starts brokers 1..n; common overrides apply to all.
func newReplCluster(t *testing.T, n int, common ...string) *replCluster {
	t.Helper()
	endpoint, etcd := externalEtcd(t)
	c := &replCluster{t: t, endpoint: endpoint, etcd: etcd, common: append(slices.Clone(replClusterProps), common...),
		overrides: map[int32][]string{}, dirs: map[int32]string{}, ports: map[int32]int{},
		brokers: map[int32]*Broker{}, addrs: map[int32]string{}}
	for id := int32(1); id <= int32(n); id++ {
		c.dirs[id] = t.TempDir()
		c.start(id)
	}
	return c
}

// start (re)starts broker id on its data directory.
func (c *replCluster) start(id int32) {
	c.t.Helper()
	if c.ports[id] == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.t.Fatal(err)
		}
		c.ports[id] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	props := append([]string{"etcd.endpoints=" + c.endpoint, "node.id=" + strconv.Itoa(int(id)),
		"listeners=PLAINTEXT://127.0.0.1:" + strconv.Itoa(c.ports[id]),
		"replica.fetch.backoff.ms=100", "replica.fetch.wait.max.ms=200"}, c.common...)
	props = append(props, c.overrides[id]...)
	b, addr := startTestBrokerIn(c.t, c.dirs[id], props...)
	c.brokers[id], c.addrs[id] = b, addr
}

// stop closes broker id like a crash: no controlled shutdown, no
// deregistration (see replClusterProps).
func (c *replCluster) stop(id int32) {
	c.t.Helper()
	c.brokers[id].crashClose = true
	if err := c.brokers[id].Close(); err != nil {
		c.t.Logf("close broker %d: %v", id, err)
	}
	delete(c.brokers, id)
}

// anyAddr is the address of a running broker.
func (c *replCluster) anyAddr() string {
	for id := int32(1); ; id++ {
		if _, ok := c.brokers[id]; ok {
			return c.addrs[id]
		}
	}
}

// createTopic creates a one-partition topic with the given replicas (the
// first leads) and waits until every running replica hosts it.
func (c *replCluster) createTopic(topic string, replicas []int32, configs map[string]string) {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions, rt.ReplicationFactor = -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition = 0
	ra.Replicas = replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	for k, v := range configs {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, cfg)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(c.t), newClient(c.t, c.anyAddr()))
	if err != nil {
		c.t.Fatal(err)
	}
	if e := resp.Topics[0].ErrorCode; e != 0 {
		c.t.Fatalf("create %s: %v", topic, kerr.ErrorForCode(e))
	}
	waitLong(c.t, "every replica hosts "+topic, func() bool {
		for _, id := range replicas {
			if b, ok := c.brokers[id]; ok && (b.hosted(topic, 0) == nil || b.hosted(topic, 0).log == nil) {
				return false
			}
		}
		return true
	})
}

// state is partition 0's state in etcd, as the test's store sees it.
func (c *replCluster) state(topic string) (coordinator.TopicID, coordinator.PartitionState) {
	c.t.Helper()
	snap := c.etcd.Snapshot()
	tm := snap.Topic(topic)
	if tm == nil {
		c.t.Fatalf("no topic %s", topic)
	}
	return tm.Info.ID, tm.Partitions[0]
}

// cas changes partition 0's state as the controller would (a CAS on the
// partition epoch, retried on conflicts) and returns the state written.
func (c *replCluster) cas(topic string, change func(st *coordinator.PartitionState)) coordinator.PartitionState {
	c.t.Helper()
	ctx := testCtx(c.t)
	for range 50 {
		// The store's snapshot may lag etcd; read through the revision of
		// the last write first.
		id, st := c.state(topic)
		next := st
		next.ISR = slices.Clone(st.ISR)
		change(&next)
		rev, err := c.etcd.UpdatePartitionState(ctx, id, 0, st.PartitionEpoch, next)
		if err == nil {
			if err := c.etcd.WaitForRevision(ctx, rev); err != nil {
				c.t.Fatal(err)
			}
			_, got := c.state(topic)
			return got
		}
		if !errors.Is(err, coordinator.ErrConflict) {
			c.t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("cas %s: too many conflicts", topic)
	return coordinator.PartitionState{}
}

// log is broker id's log of partition 0 of topic.
func (c *replCluster) log(id int32, topic string) *storage.Log {
	c.t.Helper()
	p := c.brokers[id].hosted(topic, 0)
	if p == nil || p.log == nil {
		c.t.Fatalf("broker %d does not host %s-0", id, topic)
	}
	return p.log
}

// logBytes reads a whole log, from its start to its end.
func logBytes(t *testing.T, l *storage.Log) []byte {
	t.Helper()
	var out []byte
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		r, err := l.Read(off, 1<<20, -1, true)
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		if len(r.Records) == 0 {
			break
		}
		out = append(out, r.Records...)
		off = lastOffset(t, r.Records) + 1
	}
	return out
}

// waitReplicated waits until every listed broker's log of topic is
// byte-identical to the leader's, with the leader's log end offset.
func (c *replCluster) waitReplicated(topic string, leader int32, followers ...int32) {
	c.t.Helper()
	waitLong(c.t, fmt.Sprintf("%s replicated from %d to %v", topic, leader, followers), func() bool {
		want := c.log(leader, topic)
		for _, id := range followers {
			if c.log(id, topic).LogEndOffset() != want.LogEndOffset() {
				return false
			}
		}
		return true
	})
	want := logBytes(c.t, c.log(leader, topic))
	for _, id := range followers {
		if got := logBytes(c.t, c.log(id, topic)); !bytes.Equal(got, want) {
			c.t.Fatalf("broker %d's log of %s differs from leader %d's (%d bytes, want %d)", id, topic, leader, len(got), len(want))
		}
	}
}

// waitLong polls cond for up to 60 s (replication on a loaded machine).
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// produceTo produces values to partition 0 of topic through the cluster
// with the given acks and fails on any error.
func (c *replCluster) produceTo(topic string, acks kgo.Acks, values ...string) {
	c.t.Helper()
	opts := []kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(acks)}
	if acks != kgo.AllISRAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl := newClient(c.t, c.anyAddr(), opts...)
	for _, v := range values {
		if err := cl.ProduceSync(testCtx(c.t), &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)}).FirstErr(); err != nil {
			c.t.Fatalf("produce %q to %s: %v", v, topic, err)
		}
	}
}

// rawProduce sends one Produce of n records to partition 0 of topic
// straight to broker id and returns the partition's answer.
func (c *replCluster) rawProduce(id int32, topic string, acks int16, timeout time.Duration, n int) kmsg.ProduceResponseTopicPartition {
	c.t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version = 10
	req.Acks = acks
	req.TimeoutMillis = int32(timeout.Milliseconds())
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = testBatch(-1, -1, -1, n)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.raw(id, req, timeout+30*time.Second).(*kmsg.ProduceResponse)
	return resp.Topics[0].Partitions[0]
}

// raw sends req to broker id on a connection of its own.
func (c *replCluster) raw(id int32, req kmsg.Request, timeout time.Duration) kmsg.Response {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := dialBroker(ctx, c.addrs[id], "replica-test", 64<<20, timeout)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.close()
	resp, err := conn.request(ctx, req, timeout)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// consumerFetch is a consumer's Fetch (v12, by name) of partition 0 of
// topic from offset, with an optional rack.
func consumerFetch(topic string, offset int64, rack string) *kmsg.FetchRequest {
	req := fetchFrom(topic, 1, func(int32) int64 { return offset })
	req.Rack = rack
	return req
}
