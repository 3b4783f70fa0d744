package broker

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/broker/config"
)

// startDevBroker is startTestBroker with dev options set before Start.
func startDevBroker(t *testing.T, o DevOptions, overrides ...string) (*Broker, string) {
	t.Helper()
	props := map[string]string{
		"listeners":                            "PLAINTEXT://127.0.0.1:0",
		"log.dirs":                             t.TempDir(),
		"offsets.topic.num.partitions":         "1",
		"transaction.state.log.num.partitions": "1",
	}
	for _, kv := range overrides {
		k, v, _ := cutProp(kv)
		props[k] = v
	}
	cfg, err := config.NewBroker(props)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetDevOptions(o); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.SetDevOptions(o); !errors.Is(err, ErrStarted) {
		t.Fatalf("SetDevOptions after Start: %v, want ErrStarted", err)
	}
	return b, b.Addrs()[0].String()
}

func cutProp(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func devClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func devCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func i32(v int32) *int32 { return &v }

// TestFaultResponseShapes: the error answer mirrors the request's topics,
// partitions, groups and keys, with the code in every entry, for APIs of
// different shapes.
func TestFaultResponseShapes(t *testing.T) {
	code := kerr.NotLeaderForPartition.Code

	produce := kmsg.NewPtrProduceRequest()
	produce.Version = 9
	for _, name := range []string{"a", "b"} {
		tp := kmsg.NewProduceRequestTopic()
		tp.Topic = name
		for _, p := range []int32{0, 3} {
			pp := kmsg.NewProduceRequestTopicPartition()
			pp.Partition = p
			tp.Partitions = append(tp.Partitions, pp)
		}
		produce.Topics = append(produce.Topics, tp)
	}
	pr := faultResponse(produce, code, "m").(*kmsg.ProduceResponse)
	if pr.Version != 9 || len(pr.Topics) != 2 || pr.Topics[1].Topic != "b" || len(pr.Topics[1].Partitions) != 2 ||
		pr.Topics[1].Partitions[1].Partition != 3 || pr.Topics[1].Partitions[1].ErrorCode != code ||
		pr.Topics[0].Partitions[0].BaseOffset != -1 || pr.Topics[0].Partitions[0].ErrorMessage == nil {
		t.Fatalf("produce answer %+v", pr)
	}

	id := [16]byte{1, 2, 3}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 13
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = id
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition = 7
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	fr := faultResponse(fetch, code, "m").(*kmsg.FetchResponse)
	if fr.ErrorCode != 0 || len(fr.Topics) != 1 || fr.Topics[0].TopicID != id || fr.Topics[0].Partitions[0].Partition != 7 ||
		fr.Topics[0].Partitions[0].ErrorCode != code || fr.Topics[0].Partitions[0].HighWatermark != -1 {
		t.Fatalf("fetch answer %+v (the top-level code must stay 0 when partitions carry it)", fr)
	}
	empty := kmsg.NewPtrFetchRequest()
	empty.Version = 13
	if fr := faultResponse(empty, code, "m").(*kmsg.FetchResponse); fr.ErrorCode != code {
		t.Fatalf("fetch without partitions: top-level code %d, want %d", fr.ErrorCode, code)
	}

	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 5
	join.Group = "g"
	join.MemberID = "m-1"
	jr := faultResponse(join, kerr.RebalanceInProgress.Code, "m").(*kmsg.JoinGroupResponse)
	if jr.ErrorCode != kerr.RebalanceInProgress.Code || jr.MemberID != "m-1" {
		t.Fatalf("join answer %+v", jr)
	}

	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version = 8
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = "g"
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic = "t"
	gt.Partitions = []int32{0, 1}
	g.Topics = append(g.Topics, gt)
	of.Groups = append(of.Groups, g)
	ofr := faultResponse(of, kerr.NotCoordinator.Code, "m").(*kmsg.OffsetFetchResponse)
	if len(ofr.Groups) != 1 || ofr.Groups[0].Group != "g" || ofr.Groups[0].ErrorCode != kerr.NotCoordinator.Code ||
		len(ofr.Groups[0].Topics) != 1 || len(ofr.Groups[0].Topics[0].Partitions) != 2 ||
		ofr.Groups[0].Topics[0].Partitions[1].Partition != 1 || ofr.Groups[0].Topics[0].Partitions[1].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("offset fetch answer %+v", ofr)
	}

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version = 4
	fc.CoordinatorKeys = []string{"g1", "g2"}
	fcr := faultResponse(fc, kerr.CoordinatorNotAvailable.Code, "m").(*kmsg.FindCoordinatorResponse)
	if len(fcr.Coordinators) != 2 || fcr.Coordinators[1].Key != "g2" || fcr.Coordinators[1].ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("find coordinator answer %+v", fcr)
	}

	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.Version = 5
	dt.TopicNames = []string{"x"}
	dtr := faultResponse(dt, kerr.TopicAuthorizationFailed.Code, "m").(*kmsg.DeleteTopicsResponse)
	if len(dtr.Topics) != 1 || dtr.Topics[0].Topic == nil || *dtr.Topics[0].Topic != "x" || dtr.Topics[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("delete topics v5 answer %+v", dtr)
	}
}

// TestFaultMatching: topic, partition, group and client id narrow a rule
// to the requests that name them.
func TestFaultMatching(t *testing.T) {
	fs := NewFaults()
	b, addr := startDevBroker(t, DevOptions{Faults: fs})
	ctx := devCtx(t)
	adm := devClient(t, addr)
	create := kmsg.NewPtrCreateTopicsRequest()
	for _, name := range []string{"hit", "miss"} {
		ct := kmsg.NewCreateTopicsRequestTopic()
		ct.Topic, ct.NumPartitions, ct.ReplicationFactor = name, 2, 1
		create.Topics = append(create.Topics, ct)
	}
	if _, err := create.RequestWith(ctx, adm); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, b, "hit", 1)
	waitLeader(t, b, "miss", 1)
	if _, err := fs.Add(Fault{API: "produce", Topic: "hit", Partition: i32(1), Error: "INVALID_RECORD"}); err != nil {
		t.Fatal(err)
	}
	cl := devClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordRetries(0), kgo.DisableIdempotentWrite())
	produce := func(topic string, p int32) error {
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("v")}).FirstErr()
	}
	if err := produce("hit", 1); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("hit-1: %v, want INVALID_RECORD", err)
	}
	if err := produce("hit", 0); err != nil {
		t.Fatalf("hit-0 (other partition): %v", err)
	}
	if err := produce("miss", 1); err != nil {
		t.Fatalf("miss-1 (other topic): %v", err)
	}

	fs.Clear()
	if _, err := fs.Add(Fault{API: "JoinGroup", Group: "bad", Error: "GROUP_AUTHORIZATION_FAILED"}); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Add(Fault{API: "Metadata", ClientID: "victim", Error: "UNKNOWN_SERVER_ERROR"}); err != nil {
		t.Fatal(err)
	}
	join := func(group string) int16 {
		r := classicJoinReq(group, "", nil)
		resp, err := r.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode
	}
	if c := join("bad"); c != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("join bad: code %d", c)
	}
	if c := join("good"); c == kerr.GroupAuthorizationFailed.Code {
		t.Fatal("join good got the fault of another group")
	}
	meta := func(cl *kgo.Client) int16 {
		r := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr("hit")
		r.Topics = append(r.Topics, mt)
		resp, err := r.RequestWith(ctx, cl)
		var ke *kerr.Error
		if errors.As(err, &ke) { // the client reports the top-level code (v13)
			return ke.Code
		}
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].ErrorCode
	}
	if c := meta(devClient(t, addr, kgo.ClientID("victim"))); c != kerr.UnknownServerError.Code {
		t.Fatalf("metadata of the victim client: code %d", c)
	}
	if c := meta(devClient(t, addr, kgo.ClientID("bystander"))); c != 0 {
		t.Fatalf("metadata of another client: code %d", c)
	}
}

// waitLeader waits until the broker serves partition p of topic.
func waitLeader(t *testing.T, b *Broker, topic string, p int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.partition(topic, p) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s-%d never served", topic, p)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestFaultDelayDropStall: delay holds the answer, drop closes the
// connection, stall answers nothing until the rule is removed, then
// closes; each fires only for its API.
func TestFaultDelayDropStall(t *testing.T) {
	fs := NewFaults()
	_, addr := startDevBroker(t, DevOptions{Faults: fs})
	ctx := devCtx(t)
	metadata := func(cl *kgo.Client, timeout time.Duration) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		start := time.Now()
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		return time.Since(start), err
	}
	cl := devClient(t, addr, kgo.RetryTimeout(0), kgo.RequestRetries(0))
	if _, err := metadata(cl, 5*time.Second); err != nil { // connected
		t.Fatal(err)
	}

	delay, _ := fs.Add(Fault{API: "Metadata", Action: FaultDelay, Delay: Duration(300 * time.Millisecond)})
	took, err := metadata(cl, 5*time.Second)
	if err != nil || took < 300*time.Millisecond {
		t.Fatalf("delayed metadata: %v after %v, want an answer after at least 300ms", err, took)
	}
	fs.Remove(delay.ID)

	drop, _ := fs.Add(Fault{API: "Metadata", Action: FaultDrop, Count: 1})
	if _, err := metadata(cl, 5*time.Second); err == nil {
		t.Fatal("metadata answered through a drop rule")
	}
	if f, _ := fs.Get(drop.ID); f.Fired != 1 || !f.Spent {
		t.Fatalf("drop rule %+v, want fired once and spent", f)
	}
	if _, err := metadata(cl, 5*time.Second); err != nil {
		t.Fatalf("metadata after the drop rule was spent: %v", err)
	}

	// Stall on a raw connection: no answer, and the connection closes
	// once the rule is removed.
	stall, _ := fs.Add(Fault{API: "Metadata", Action: FaultStall})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1
	var frame []byte
	frame = kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(frame, req, 1)
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var one [1]byte
	if _, err := c.Read(one[:]); !errors.Is(err, errDeadline()) {
		t.Fatalf("stalled connection answered or closed early: %v", err)
	}
	fs.Remove(stall.ID)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(one[:]); n != 0 || err == nil || errors.Is(err, errDeadline()) {
		t.Fatalf("after the stall rule was removed: read %d bytes, %v; want the connection closed", n, err)
	}
}

func errDeadline() error { return os.ErrDeadlineExceeded }

// TestFaultAcksZero: an error rule on an acks=0 Produce closes the
// connection (the producer expects no answer).
func TestFaultAcksZero(t *testing.T) {
	fs := NewFaults()
	b, addr := startDevBroker(t, DevOptions{Faults: fs})
	ctx := devCtx(t)
	cl := devClient(t, addr, kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "z", Value: []byte("a")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, b, "z", 0)
	f, _ := fs.Add(Fault{API: "Produce", Error: "NOT_LEADER_OR_FOLLOWER"})
	if f.Error != "NOT_LEADER_OR_FOLLOWER" {
		t.Fatalf("listing %+v", f)
	}
	before := b.Connections()
	zero := devClient(t, addr, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	zero.Produce(ctx, &kgo.Record{Topic: "z", Value: []byte("b")}, nil)
	if err := zero.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := fs.Get(f.ID)
		if got.Fired > 0 && b.Connections() <= before+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acks=0 produce: fired %d, connections %d (before %d); want the produce connection closed", got.Fired, b.Connections(), before)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if end := b.partition("z", 0).log.LogEndOffset(); end != 1 {
		t.Fatalf("log end %d, want 1 (the faulted acks=0 batch must not be written)", end)
	}
}

// TestFaultValidation: bad rules are refused with the reason.
func TestFaultValidation(t *testing.T) {
	fs := NewFaults()
	for _, f := range []Fault{
		{API: "NoSuchApi", Error: "UNKNOWN_SERVER_ERROR"},
		{API: "Produce", Error: "NO_SUCH_ERROR"},
		{API: "Produce", Action: "explode"},
		{API: "Produce", Action: FaultDelay},
		{API: "Produce", Partition: i32(0), Error: "UNKNOWN_SERVER_ERROR"},
		{API: "Produce", Nth: 2, Fraction: 0.5, Error: "UNKNOWN_SERVER_ERROR"},
		{API: "Produce", Fraction: 1.5, Error: "UNKNOWN_SERVER_ERROR"},
		{API: "Produce"},
		{API: "Produce", Action: FaultDrop, Error: "UNKNOWN_SERVER_ERROR"},
	} {
		if _, err := fs.Add(f); !errors.Is(err, ErrBadFault) {
			t.Errorf("Add(%+v) = %v, want ErrBadFault", f, err)
		}
	}
	if len(fs.List()) != 0 || fs.armed() {
		t.Fatal("a refused rule was installed")
	}
	for _, e := range []string{"6", "NOT_LEADER_OR_FOLLOWER", "not_leader_for_partition", "REQUEST_TIMED_OUT"} {
		if _, err := fs.Add(Fault{API: strconv.Itoa(0), Error: e}); err != nil {
			t.Errorf("error %q refused: %v", e, err)
		}
	}
	if fs.Clear() != 4 || fs.armed() {
		t.Fatal("Clear left rules armed")
	}
}

// TestFaultFraction: a fraction rule fires on some of the requests, not
// all and not none.
func TestFaultFraction(t *testing.T) {
	fs := NewFaults()
	_, addr := startDevBroker(t, DevOptions{Faults: fs})
	ctx := devCtx(t)
	cl := devClient(t, addr)
	// A code the client does not retry, so that each request is one.
	f, _ := fs.Add(Fault{API: "DescribeGroups", Fraction: 0.5, Error: "GROUP_AUTHORIZATION_FAILED"})
	failed := 0
	for range 200 {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{"g"}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Groups[0].ErrorCode == kerr.GroupAuthorizationFailed.Code {
			failed++
		}
	}
	got, _ := fs.Get(f.ID)
	if got.Matched < 200 || got.Fired < 50 || got.Fired > 150 || int64(failed) != got.Fired {
		t.Fatalf("fraction 0.5 over 200 requests: matched %d fired %d, clients saw %d failures", got.Matched, got.Fired, failed)
	}
}

// TestAdvertiseConnectedAddress: with the property, each listener's
// clients are told the address they connected to, whatever
// advertised.listeners says; without it, the advertised address.
func TestAdvertiseConnectedAddress(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(strconv.FormatBool(on), func(t *testing.T) {
			b, _ := startDevBroker(t, DevOptions{}, "listeners=PLAINTEXT://127.0.0.1:0,OTHER://127.0.0.2:0",
				"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT",
				"advertised.listeners=PLAINTEXT://nowhere.invalid:1,OTHER://nowhere.invalid:2",
				"samsa.advertise.connected.address="+strconv.FormatBool(on))
			for i, a := range b.Addrs() {
				addr := a.String()
				req := kmsg.NewPtrMetadataRequest()
				req.Version = 1
				frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("t")).AppendRequest(nil, req, 1)
				raw, err := rawRequest(t, addr, frame)
				if err != nil {
					t.Fatal(err)
				}
				resp := kmsg.NewPtrMetadataResponse()
				resp.Version = 1
				if err := resp.ReadFrom(raw[4:]); err != nil {
					t.Fatal(err)
				}
				if len(resp.Brokers) != 1 {
					t.Fatalf("brokers %+v", resp.Brokers)
				}
				got := net.JoinHostPort(resp.Brokers[0].Host, strconv.Itoa(int(resp.Brokers[0].Port)))
				// Off: the advertised endpoint of the listener the
				// client came through (PLAINTEXT :1, OTHER :2).
				want := "nowhere.invalid:" + strconv.Itoa(i+1)
				if on {
					want = addr
				}
				if got != want {
					t.Fatalf("connected to %s, told %s, want %s", addr, got, want)
				}
			}
		})
	}
}

// TestVirtualClockReachesTheLogs: the logs read the broker's clock
// (ManagerOptions.Now): after the clock moves past segment.ms, the next
// append rolls a new segment, with no retention pass in between.
func TestVirtualClockReachesTheLogs(t *testing.T) {
	clock := NewVirtualClock()
	b, addr := startDevBroker(t, DevOptions{Clock: clock, NoSync: true})
	ctx := devCtx(t)
	adm := devClient(t, addr)
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "rolls", 1, 1
	cfg := kmsg.NewCreateTopicsRequestTopicConfig()
	cfg.Name, cfg.Value = "segment.ms", kmsg.StringPtr("3600000")
	ct.Configs = append(ct.Configs, cfg)
	create.Topics = append(create.Topics, ct)
	if _, err := create.RequestWith(ctx, adm); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, b, "rolls", 0)
	cl := devClient(t, addr, kgo.DefaultProduceTopic("rolls"))
	segments := func() int {
		ents, err := os.ReadDir(b.partition("rolls", 0).log.Dir())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range ents {
			if filepathExt(e.Name()) == ".log" {
				n++
			}
		}
		return n
	}
	for range 2 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if n := segments(); n != 1 {
		t.Fatalf("%d segments before the clock moved, want 1", n)
	}
	clock.Advance(2 * time.Hour)
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("late")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if n := segments(); n != 2 {
		t.Fatalf("%d segments after the clock passed segment.ms and a produce, want 2 (the append must roll)", n)
	}
}

func filepathExt(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			return name[i:]
		}
	}
	return ""
}

// TestVirtualClockTimesOutTransactions: the transaction coordinator reads
// the broker's clock and schedules its timed-out scan on it: an Advance
// past transaction.timeout.ms aborts the open transaction at once (no
// wait for the 10 s scan interval): the last stable offset moves past its
// records and the producer is fenced.
func TestVirtualClockTimesOutTransactions(t *testing.T) {
	clock := NewVirtualClock()
	b, addr := startDevBroker(t, DevOptions{Clock: clock, NoSync: true})
	ctx := devCtx(t)
	createTopic(t, addr, "vtx", 1, nil)
	waitLeader(t, b, "vtx", 0)
	cl := devClient(t, addr, kgo.TransactionalID("vtx-tx"), kgo.TransactionTimeout(time.Minute), kgo.DefaultProduceTopic("vtx"))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{"vtx-tx"}
		resp, err := req.RequestWith(ctx, devClient(t, addr))
		if err != nil || len(resp.TransactionStates) != 1 {
			t.Fatalf("DescribeTransactions: %v %+v", err, resp)
		}
		return resp.TransactionStates[0].State
	}
	if s := state(); s != "Ongoing" {
		t.Fatalf("state %s before the clock moved, want Ongoing", s)
	}
	clock.Advance(2 * time.Minute)
	deadline := time.Now().Add(5 * time.Second) // a hang guard; the scan runs at the Advance
	for state() != "CompleteAbort" {
		if time.Now().After(deadline) {
			t.Fatalf("state %s after the clock passed the transaction timeout, want CompleteAbort", state())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p := b.partition("vtx", 0)
	if lso, leo := p.log.LastStableOffset(), p.log.LogEndOffset(); lso != leo || leo != 2 {
		t.Fatalf("LSO %d, log end %d after the abort, want both 2 (the record and the abort marker)", lso, leo)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the timed-out producer's commit succeeded")
	}
}
