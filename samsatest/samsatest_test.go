package samsatest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/samsa-io/samsa/broker"
	"github.com/samsa-io/samsa/samsatest"
)

// TestMain fails the package if any test leaves a goroutine behind once
// every cluster's cleanup ran.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestStartProduceConsume: a started cluster serves a stock client, the
// pre-created topic has its partitions, and after cleanup its port no
// longer accepts.
func TestStartProduceConsume(t *testing.T) {
	var addr string
	t.Run("cluster", func(t *testing.T) {
		c := samsatest.Start(t, samsatest.Topic("orders", 3))
		addr = c.Addrs()[0]
		ctx := ctxT(t)
		md, err := c.Admin().Metadata(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(md.Topics["orders"].Partitions); n != 3 {
			t.Fatalf("orders has %d partitions, want 3", n)
		}
		cl := c.Client(kgo.DefaultProduceTopic("orders"), kgo.ConsumeTopics("orders"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("one"), Partition: 2}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		recs := fs.Records()
		if len(recs) != 1 || string(recs[0].Value) != "one" || recs[0].Partition != 2 {
			t.Fatalf("consumed %v, want the one record on partition 2", recs)
		}
	})
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts after cleanup", addr)
	}
}

// TestParallelClusters: clusters started side by side get their own
// ports and state: a topic created in one is not in the other.
func TestParallelClusters(t *testing.T) {
	addrs := make(chan string, 4)
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("only-in-%d", i)
			c := samsatest.Start(t, samsatest.Topic(name, 1), samsatest.Property("auto.create.topics.enable", "false"))
			addrs <- c.Addrs()[0]
			ctx := ctxT(t)
			topics, err := c.Admin().ListTopics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !topics.Has(name) {
				t.Fatalf("cluster %d lacks its topic %s: %v", i, name, topics.Names())
			}
			for _, n := range topics.Names() {
				if n != name {
					t.Fatalf("cluster %d sees a topic that is not its own: %s", i, n)
				}
			}
		})
	}
	t.Cleanup(func() {
		close(addrs)
		seen := map[string]bool{}
		for a := range addrs {
			if seen[a] {
				t.Errorf("two clusters listened on %s", a)
			}
			seen[a] = true
		}
	})
}

// TestFixedPort: Port puts the broker on the port asked for.
func TestFixedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	c := samsatest.Start(t, samsatest.Port(port))
	if got, want := c.Addrs()[0], fmt.Sprintf("127.0.0.1:%d", port); got != want {
		t.Fatalf("listening on %s, want %s", got, want)
	}
}

// TestFaultFiredAndRemoved: a rule answering Produce with an error
// reaches the client as that error, is counted and listed, and once
// removed Produce succeeds again.
func TestFaultFiredAndRemoved(t *testing.T) {
	c := samsatest.Start(t, samsatest.Topic("t", 1))
	ctx := ctxT(t)
	id := c.AddFault(broker.Fault{API: "Produce", Topic: "t", Error: "INVALID_RECORD"})
	cl := c.Client(kgo.DefaultProduceTopic("t"), kgo.RecordRetries(0))
	err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("produce with the fault: %v, want INVALID_RECORD", err)
	}
	f, ok := c.Faults().Get(id)
	if !ok || f.Fired != 1 {
		t.Fatalf("fault listing %+v (found %v), want fired 1", f, ok)
	}
	if !c.Faults().Remove(id) {
		t.Fatal("remove: not found")
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("y")}).FirstErr(); err != nil {
		t.Fatalf("produce after removing the fault: %v", err)
	}
	// Nothing of the faulted request was written: the log holds only y.
	offs, err := c.Admin().ListEndOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("t", 0); o.Offset != 1 {
		t.Fatalf("end offset %d, want 1 (the faulted produce must not append)", o.Offset)
	}
}

// TestFaultOption: a fault given to Start is in force from the first
// request; Nth fires on that request only.
func TestFaultOption(t *testing.T) {
	c := samsatest.Start(t, samsatest.Topic("t", 1),
		samsatest.Fault(broker.Fault{API: "Produce", Nth: 2, Error: "NOT_ENOUGH_REPLICAS"}))
	ctx := ctxT(t)
	cl := c.Client(kgo.DefaultProduceTopic("t"), kgo.RecordRetries(0), kgo.DisableIdempotentWrite())
	var errs []error
	for i := range 3 {
		errs = append(errs, cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr())
	}
	if errs[0] != nil || !errors.Is(errs[1], kerr.NotEnoughReplicas) || errs[2] != nil {
		t.Fatalf("produce results %v, want nil, NOT_ENOUGH_REPLICAS, nil", errs)
	}
	if fs := c.Faults().List(); len(fs) != 1 || !fs[0].Spent || fs[0].Fired != 1 || fs[0].Matched != 2 {
		t.Fatalf("listing %+v, want one spent rule fired once after two matches", fs)
	}
}

// TestVirtualClockRetention: advancing the clock past retention.ms
// deletes the old segment at once; the records are gone from the log.
func TestVirtualClockRetention(t *testing.T) {
	c := samsatest.Start(t, samsatest.Topic("r", 1, "retention.ms=3600000", "segment.ms=600000"))
	ctx := ctxT(t)
	cl := c.Client(kgo.DefaultProduceTopic("r"))
	for i := range 5 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := c.Admin()
	start := func() int64 {
		offs, err := adm.ListStartOffsets(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offs.Lookup("r", 0)
		return o.Offset
	}
	if s := start(); s != 0 {
		t.Fatalf("log start %d before advancing, want 0", s)
	}
	// Past segment.ms the active segment rolls; past retention.ms the
	// rolled segment is deleted.
	c.Advance(2 * time.Hour)
	c.Advance(time.Minute)
	if s := start(); s != 5 {
		t.Fatalf("log start %d after advancing 2h past retention.ms=1h, want 5 (every record deleted)", s)
	}
}

// TestVirtualClockSessionTimeout: a group member that stops heartbeating
// is removed once the clock passes its session timeout, without waiting
// the timeout in real time.
func TestVirtualClockSessionTimeout(t *testing.T) {
	c := samsatest.Start(t, samsatest.Topic("s", 1))
	ctx := ctxT(t)
	// A member that joins and never heartbeats: a hand-made JoinGroup and
	// SyncGroup, so no client keeps it alive.
	adm := c.Admin()
	joinOnce(t, ctx, c, "g", 5*time.Minute)
	described := func() int {
		dg, err := adm.DescribeGroups(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		return len(dg["g"].Members)
	}
	if n := described(); n != 1 {
		t.Fatalf("group has %d members after the join, want 1", n)
	}
	c.Advance(6 * time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for described() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the member is still in the group after the clock passed its 5 min session timeout")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestKillAndRestart: a killed broker stops accepting; restarted, it
// serves its data again.
func TestKillAndRestart(t *testing.T) {
	c := samsatest.Start(t, samsatest.Topic("k", 1))
	ctx := ctxT(t)
	cl := c.Client(kgo.DefaultProduceTopic("k"))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	addr := c.Addrs()[0]
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("a killed broker still accepts")
	}
	if err := c.StartBroker(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := c.Addrs()[0]; got != addr {
		t.Fatalf("restarted on %s, want %s", got, addr)
	}
	offs, err := c.Admin().ListEndOffsets(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("k", 0); o.Offset != 1 {
		t.Fatalf("end offset after restart %d, want 1", o.Offset)
	}
}

// joinOnce joins group as a classic member with the given session timeout
// and completes the rebalance as its leader, then sends nothing more.
func joinOnce(t *testing.T, ctx context.Context, c *samsatest.Cluster, group string, session time.Duration) {
	t.Helper()
	cl := c.Client()
	join := func(member string) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group = group
		req.MemberID = member
		req.SessionTimeoutMillis = int32(session.Milliseconds())
		req.RebalanceTimeoutMillis = 10_000
		req.ProtocolType = "consumer"
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name = "range"
		p.Metadata = []byte{0, 0, 0, 0, 0, 0, 0, 0}
		req.Protocols = append(req.Protocols, p)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := join("")
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		resp = join(resp.MemberID)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("join: %v", err)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group = group
	sync.MemberID = resp.MemberID
	sync.Generation = resp.Generation
	sync.ProtocolType = kmsg.StringPtr("consumer")
	sync.Protocol = kmsg.StringPtr("range")
	sresp, err := sync.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(sresp.ErrorCode); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

// TestThreeBrokers: Brokers(3) starts three brokers that register as one
// cluster; a topic's partitions are spread over them and each serves its
// own; one broker killed and started again serves its partition's records.
// (Replicas on several brokers need the cluster issue's replication.)
func TestThreeBrokers(t *testing.T) {
	c := samsatest.Start(t, samsatest.Brokers(3), samsatest.Topic("spread", 3))
	ctx := ctxT(t)
	if n := len(c.Addrs()); n != 3 {
		t.Fatalf("%d addresses, want 3", n)
	}
	adm := c.Admin()
	md, err := adm.Metadata(ctx, "spread")
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 3 {
		t.Fatalf("metadata lists %d brokers", len(md.Brokers))
	}
	leaders := map[int32]int32{}
	for _, p := range md.Topics["spread"].Partitions {
		leaders[p.Partition] = p.Leader
	}
	if len(map[int32]bool{leaders[0]: true, leaders[1]: true, leaders[2]: true}) != 3 {
		t.Fatalf("partition leaders %v: want the three partitions on three brokers", leaders)
	}
	cl := c.Client(kgo.DefaultProduceTopic("spread"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(3) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte{byte(p)}}).FirstErr(); err != nil {
			t.Fatalf("produce to partition %d: %v", p, err)
		}
	}
	victim := leaders[1]
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Addrs()); n != 2 {
		t.Fatalf("%d running brokers after a kill, want 2", n)
	}
	if err := c.StartBroker(ctx, victim); err != nil {
		t.Fatal(err)
	}
	offs, err := c.Admin().ListEndOffsets(ctx, "spread")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(3) {
		if o, _ := offs.Lookup("spread", p); o.Err != nil || o.Offset != 1 {
			t.Fatalf("partition %d after broker %d restarted: end %d, %v; want 1", p, victim, o.Offset, o.Err)
		}
	}
}
