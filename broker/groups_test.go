package broker

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// groupOverrides make group tests fast: short sessions allowed, quick
// KIP-848 heartbeats.
var groupOverrides = []string{
	"group.min.session.timeout.ms=500",
	// As in Kafka, the KIP-848 values must lie within their bounds.
	"group.consumer.min.heartbeat.interval.ms=100",
	"group.consumer.min.session.timeout.ms=1000",
	"group.consumer.heartbeat.interval.ms=200",
	"group.consumer.session.timeout.ms=3000",
}

func produceN(t *testing.T, addr, topic string, n int) {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic))
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))})
	}
	if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// tracked is a group member with its current assignment.
type tracked struct {
	cl       *kgo.Client
	mu       sync.Mutex
	assigned map[int32]bool
	revoked  int
	// revokedParts lists every partition revoked, in order.
	revokedParts []int32
}

func (m *tracked) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.assigned {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func newMember(t *testing.T, addr, groupID, topic string, opts ...kgo.Opt) *tracked {
	t.Helper()
	m := &tracked{assigned: map[int32]bool{}}
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ConsumerGroup(groupID),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.HeartbeatInterval(200 * time.Millisecond),
		kgo.SessionTimeout(3 * time.Second),
		kgo.RebalanceTimeout(5 * time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			for _, p := range a[topic] {
				m.assigned[p] = true
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, cl *kgo.Client, r map[string][]int32) {
			cl.CommitMarkedOffsets(context.Background())
			m.mu.Lock()
			for _, p := range r[topic] {
				delete(m.assigned, p)
			}
			m.revokedParts = append(m.revokedParts, r[topic]...)
			m.revoked++
			m.mu.Unlock()
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			for _, p := range r[topic] {
				delete(m.assigned, p)
			}
			m.mu.Unlock()
		}),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	t.Cleanup(cl.Close)
	return m
}

// waitAssigned polls the members (which must be polling) until their
// assignments partition [0, n) exactly.
func waitAssigned(t *testing.T, n int, d time.Duration, members ...*tracked) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		seen := map[int32]int{}
		total := 0
		for _, m := range members {
			for _, p := range m.partitions() {
				seen[p]++
				total++
			}
		}
		if total == n && len(seen) == n {
			ok := true
			for _, m := range members {
				if len(m.partitions()) == 0 {
					ok = false
				}
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, m := range members {
				desc = append(desc, fmt.Sprint(m.partitions()))
			}
			t.Fatalf("assignment did not converge within %s: %v", d, desc)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pollLoop polls m until ctx ends, sending records to out.
func pollLoop(ctx context.Context, m *tracked, out chan<- *kgo.Record, wg *sync.WaitGroup) {
	defer wg.Done()
	for ctx.Err() == nil {
		fs := m.cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			select {
			case out <- r:
			case <-ctx.Done():
			}
		})
	}
}

func testExactlyOnce(t *testing.T, groupID, wantType string, opts ...kgo.Opt) {
	_, addr := startTestBroker(t, groupOverrides...)
	const topic, parts, n = "g6", 6, 600
	createTopic(t, addr, topic, parts, nil)
	var members []*tracked
	for i := 0; i < 3; i++ {
		members = append(members, newMember(t, addr, groupID, topic, opts...))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan *kgo.Record, n*2)
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		go pollLoop(ctx, m, out, &wg)
	}
	waitAssigned(t, parts, 20*time.Second, members...)
	for _, m := range members {
		if got := len(m.partitions()); got != 2 {
			t.Errorf("member has %d partitions, want 2: %v", got, m.partitions())
		}
	}
	req := kmsg.NewPtrListGroupsRequest()
	lresp, err := req.RequestWith(testCtx(t), newClient(t, addr))
	if err != nil || len(lresp.Groups) != 1 || lresp.Groups[0].GroupType != wantType || lresp.Groups[0].GroupState != "Stable" {
		t.Fatalf("ListGroups: %v %+v", err, lresp)
	}
	produceN(t, addr, topic, n)
	seen := map[string]int{}
	timeout := time.After(20 * time.Second)
	for len(seen) < n {
		select {
		case r := <-out:
			seen[fmt.Sprintf("%d/%d", r.Partition, r.Offset)]++
		case <-timeout:
			t.Fatalf("consumed %d of %d distinct records", len(seen), n)
		}
	}
	cancel()
	wg.Wait()
	close(out)
	for r := range out {
		seen[fmt.Sprintf("%d/%d", r.Partition, r.Offset)]++
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("record %s consumed %d times", k, c)
		}
	}
}

func TestGroupEagerRangeThreeMembers(t *testing.T) {
	testExactlyOnce(t, "eager", "classic", kgo.Balancers(kgo.RangeBalancer()))
}

func TestGroupCooperativeStickyThreeMembers(t *testing.T) {
	testExactlyOnce(t, "coop", "classic", kgo.Balancers(kgo.CooperativeStickyBalancer()))
}

func TestGroupServerSideBalancerThreeMembers(t *testing.T) {
	testExactlyOnce(t, "kip848", "consumer", kgo.Balancers(kgo.RangeBalancer()), kgo.ServerSideBalancer())
}

func TestGroupServerSideUniformThreeMembers(t *testing.T) {
	testExactlyOnce(t, "kip848u", "consumer", kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer())
}

// TestGroupCooperativeStickyJoinIsIncremental: when a third member joins
// two cooperative-sticky members of six partitions, each of the two gives up
// only the partition that moves to the newcomer (KIP-429's incremental
// rebalance through the classic protocol) and keeps the other two without a
// revocation; an eager member would have revoked all three.
func TestGroupCooperativeStickyJoinIsIncremental(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	const topic, parts = "coop-inc", 6
	createTopic(t, addr, topic, parts, nil)
	opt := kgo.Balancers(kgo.CooperativeStickyBalancer())
	a := newMember(t, addr, "coop-inc", topic, opt)
	b := newMember(t, addr, "coop-inc", topic, opt)
	startPolling(t, a, b)
	waitAssigned(t, parts, 20*time.Second, a, b)
	before := map[*tracked][]int32{a: a.partitions(), b: b.partitions()}
	for m, ps := range before {
		if len(ps) != 3 {
			t.Fatalf("before the join: a member has %v, want 3 partitions", ps)
		}
		m.mu.Lock()
		m.revokedParts = nil
		m.mu.Unlock()
	}
	c := newMember(t, addr, "coop-inc", topic, opt)
	startPolling(t, c)
	waitAssigned(t, parts, 20*time.Second, a, b, c)
	// Let any late revocation show.
	time.Sleep(time.Second)
	waitAssigned(t, parts, 20*time.Second, a, b, c)
	for m, was := range before {
		now := m.partitions()
		m.mu.Lock()
		revoked := append([]int32(nil), m.revokedParts...)
		m.mu.Unlock()
		kept := map[int32]bool{}
		for _, p := range now {
			kept[p] = true
		}
		if len(now) != 2 {
			t.Errorf("after the join: %v, want 2 partitions", now)
		}
		for _, p := range now {
			if !slices.Contains(was, p) {
				t.Errorf("member got partition %d it did not have (had %v, has %v): not sticky", p, was, now)
			}
		}
		if len(revoked) != 1 {
			t.Errorf("member had %v, has %v, and revoked %v: want exactly the one partition that moved", was, now, revoked)
		}
		for _, p := range revoked {
			if kept[p] {
				t.Errorf("member revoked partition %d and got it back: not incremental", p)
			}
		}
	}
	if got := len(c.partitions()); got != 2 {
		t.Errorf("the new member has %v, want 2 partitions", c.partitions())
	}
}

func startPolling(t *testing.T, members ...*tracked) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	sink := make(chan *kgo.Record, 1<<16)
	for _, m := range members {
		wg.Add(1)
		go pollLoop(ctx, m, sink, &wg)
	}
	stop := func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

// A static member that is closed does not send LeaveGroup: to the
// coordinator it is a crashed member. Its partitions move to the others
// once its session expires.
func TestGroupKilledMemberPartitionsMoveAfterSession(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	createTopic(t, addr, "kill", 4, nil)
	a := newMember(t, addr, "kill-g", "kill", kgo.InstanceID("a"), kgo.SessionTimeout(2*time.Second))
	b := newMember(t, addr, "kill-g", "kill", kgo.InstanceID("b"), kgo.SessionTimeout(2*time.Second))
	stopA := startPolling(t, a)
	startPolling(t, b)
	waitAssigned(t, 4, 20*time.Second, a, b)
	stopA()
	start := time.Now()
	a.cl.Close()
	waitAssigned(t, 4, 10*time.Second, b)
	moved := time.Since(start)
	t.Logf("partitions moved %s after the member died (session 2s)", moved)
	if moved < 1500*time.Millisecond {
		t.Errorf("partitions moved after %s, before the 2s session could expire", moved)
	}
}

func TestGroupCleanLeaveRebalancesImmediately(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	createTopic(t, addr, "leave", 4, nil)
	a := newMember(t, addr, "leave-g", "leave", kgo.SessionTimeout(30*time.Second))
	b := newMember(t, addr, "leave-g", "leave", kgo.SessionTimeout(30*time.Second))
	stopA := startPolling(t, a)
	startPolling(t, b)
	waitAssigned(t, 4, 20*time.Second, a, b)
	stopA()
	start := time.Now()
	a.cl.Close() // sends LeaveGroup
	waitAssigned(t, 4, 5*time.Second, b)
	t.Logf("rebalanced %s after a clean leave (session 30s)", time.Since(start))
}

func TestGroupStaticMemberRestartKeepsPartitions(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	createTopic(t, addr, "static", 4, nil)
	opts := []kgo.Opt{kgo.SessionTimeout(10 * time.Second), kgo.Balancers(kgo.RangeBalancer())}
	a := newMember(t, addr, "static-g", "static", append(opts, kgo.InstanceID("a"))...)
	b := newMember(t, addr, "static-g", "static", append(opts, kgo.InstanceID("b"))...)
	stopA := startPolling(t, a)
	startPolling(t, b)
	waitAssigned(t, 4, 20*time.Second, a, b)
	before := a.partitions()
	bBefore := b.partitions()
	revokedB := b.revoked
	stopA()
	a.cl.Close() // static: no LeaveGroup
	a2 := newMember(t, addr, "static-g", "static", append(opts, kgo.InstanceID("a"))...)
	startPolling(t, a2)
	waitAssigned(t, 4, 8*time.Second, a2, b)
	if fmt.Sprint(a2.partitions()) != fmt.Sprint(before) {
		t.Errorf("restarted static member got %v, had %v", a2.partitions(), before)
	}
	if fmt.Sprint(b.partitions()) != fmt.Sprint(bBefore) || b.revoked != revokedB {
		t.Errorf("other member was rebalanced: %v -> %v", bBefore, b.partitions())
	}
}

func TestGroupRestartResumesAfterLastCommit(t *testing.T) {
	dir := t.TempDir()
	br, addr := startTestBrokerIn(t, dir, groupOverrides...)
	createTopic(t, addr, "resume", 2, nil)
	produceN(t, addr, "resume", 100)
	cl := newClient(t, addr, kgo.ConsumerGroup("resume-g"), kgo.ConsumeTopics("resume"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(3*time.Second), kgo.HeartbeatInterval(200*time.Millisecond))
	ctx := testCtx(t)
	var got []*kgo.Record
	for len(got) < 100 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("timeout consuming")
		}
		got = append(got, fs.Records()...)
	}
	// Commit offset 30 on each partition.
	adm := kadm.NewClient(newClient(t, addr))
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "resume", Partition: 0, At: 30, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "resume", Partition: 1, At: 30, LeaderEpoch: -1})
	cl.Close()
	if _, err := adm.CommitOffsets(ctx, "resume-g", offs); err != nil {
		t.Fatalf("commit: %v", err)
	}
	br.Close()

	_, addr = startTestBrokerIn(t, dir, groupOverrides...)
	adm = kadm.NewClient(newClient(t, addr))
	fetched, err := adm.FetchOffsets(ctx, "resume-g")
	if err != nil {
		t.Fatalf("fetch after restart: %v", err)
	}
	for p := int32(0); p < 2; p++ {
		o, ok := fetched.Lookup("resume", p)
		if !ok || o.At != 30 || o.Err != nil {
			t.Fatalf("partition %d after restart: %+v %v", p, o, ok)
		}
	}
	cl2 := newClient(t, addr, kgo.ConsumerGroup("resume-g"), kgo.ConsumeTopics("resume"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(3*time.Second), kgo.HeartbeatInterval(200*time.Millisecond))
	first := map[int32]int64{}
	for len(first) < 2 {
		fs := cl2.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("timeout consuming after restart")
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r.Offset
			}
		})
	}
	for p, o := range first {
		if o != 30 {
			t.Errorf("partition %d resumed at %d, want 30", p, o)
		}
	}
}

func TestOffsetCommitThousandPartitions(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	createTopic(t, addr, "wide", 1000, nil)
	adm := kadm.NewClient(newClient(t, addr))
	ctx := testCtx(t)
	offs := kadm.Offsets{}
	for p := int32(0); p < 1000; p++ {
		offs.Add(kadm.Offset{Topic: "wide", Partition: p, At: int64(p) * 3, LeaderEpoch: -1, Metadata: "m"})
	}
	resp, err := adm.CommitOffsets(ctx, "wide-g", offs)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatal(err)
	}
	fetched, err := adm.FetchOffsets(ctx, "wide-g")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	fetched.Each(func(o kadm.OffsetResponse) {
		n++
		if o.Err != nil || o.At != int64(o.Partition)*3 || o.Metadata != "m" {
			t.Errorf("partition %d: %+v", o.Partition, o)
		}
	})
	if n != 1000 {
		t.Fatalf("fetched %d offsets, want 1000", n)
	}
}

func rawClient(t *testing.T, addr string) *kgo.Client { return newClient(t, addr) }

func TestOffsetFetchUnknownGroup(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "of", 2, nil)
	cl := rawClient(t, addr)
	req := kmsg.NewPtrOffsetFetchRequest()
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = "nobody"
	rt := kmsg.NewOffsetFetchRequestGroupTopic()
	rt.Topic = "of"
	rt.Partitions = []int32{0, 1}
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 1 {
		t.Fatalf("response: %+v", resp)
	}
	g := resp.Groups[0]
	if g.ErrorCode != 0 || len(g.Topics) != 1 || len(g.Topics[0].Partitions) != 2 {
		t.Fatalf("response %+v", g)
	}
	for _, p := range g.Topics[0].Partitions {
		if p.Offset != -1 || p.ErrorCode != 0 {
			t.Errorf("partition %d: offset %d error %d", p.Partition, p.Offset, p.ErrorCode)
		}
	}
	// An older version too (single group): a Kafka 2.4 client.
	oldCl := newClient(t, addr, kgo.MaxVersions(kversion.V2_4_0()))
	old := kmsg.NewPtrOffsetFetchRequest()
	old.Group = "nobody"
	ot := kmsg.NewOffsetFetchRequestTopic()
	ot.Topic, ot.Partitions = "of", []int32{0}
	old.Topics = append(old.Topics, ot)
	oresp, err := old.RequestWith(testCtx(t), oldCl)
	if err != nil {
		t.Fatal(err)
	}
	if len(oresp.Topics) != 1 || len(oresp.Topics[0].Partitions) != 1 {
		t.Fatalf("v%d: %+v", oresp.Version, oresp)
	}
	if oresp.ErrorCode != 0 || oresp.Topics[0].Partitions[0].Offset != -1 {
		t.Fatalf("v5: %+v", oresp)
	}
}

func TestGroupAdminDeleteListLag(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	createTopic(t, addr, "adm", 3, nil)
	produceN(t, addr, "adm", 90)
	ctx := testCtx(t)
	raw := newClient(t, addr)
	adm := kadm.NewClient(raw)

	m := newMember(t, addr, "live", "adm")
	startPolling(t, m)
	waitAssigned(t, 3, 20*time.Second, m)

	// A simple group with only offsets: Empty, protocol type "".
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "adm", Partition: 0, At: 10, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "simple", offs); err != nil {
		t.Fatal(err)
	}

	// ListGroups with filters.
	list := func(states, types []string) []string {
		req := kmsg.NewPtrListGroupsRequest()
		req.StatesFilter, req.TypesFilter = states, types
		resp, err := req.RequestWith(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range resp.Groups {
			out = append(out, g.Group+":"+g.GroupState+":"+g.GroupType)
		}
		sort.Strings(out)
		return out
	}
	if got := fmt.Sprint(list(nil, nil)); got != "[live:Stable:classic simple:Empty:classic]" {
		t.Errorf("ListGroups = %s", got)
	}
	if got := fmt.Sprint(list([]string{"stable"}, nil)); got != "[live:Stable:classic]" {
		t.Errorf("ListGroups(stable) = %s", got)
	}
	if got := fmt.Sprint(list(nil, []string{"consumer"})); got != "[]" {
		t.Errorf("ListGroups(consumer) = %s", got)
	}

	// DeleteGroups: live group refused, simple group deleted, unknown.
	dresp, err := adm.DeleteGroups(ctx, "live", "simple", "unknown")
	if err != nil {
		t.Fatal(err)
	}
	if !errorsIs(dresp["live"].Err, kerr.NonEmptyGroup) || dresp["simple"].Err != nil || !errorsIs(dresp["unknown"].Err, kerr.GroupIDNotFound) {
		t.Errorf("DeleteGroups: live=%v simple=%v unknown=%v", dresp["live"].Err, dresp["simple"].Err, dresp["unknown"].Err)
	}

	// Lag: commit 10 on each partition of the live group's topic.
	m.cl.PauseFetchTopics("adm")
	lagOffs := kadm.Offsets{}
	for p := int32(0); p < 3; p++ {
		lagOffs.Add(kadm.Offset{Topic: "adm", Partition: p, At: 10, LeaderEpoch: -1})
	}
	if _, err := adm.CommitOffsets(ctx, "lagger", lagOffs); err != nil {
		t.Fatal(err)
	}
	lags, err := adm.Lag(ctx, "lagger")
	if err != nil {
		t.Fatal(err)
	}
	total := lags["lagger"].Lag.Total()
	if total != 60 {
		t.Errorf("lag = %d, want 60 (90 records, 30 committed): %+v", total, lags["lagger"])
	}
}

func errorsIs(err error, target *kerr.Error) bool {
	return err != nil && err.Error() == target.Error()
}

func TestGroupProtocolErrors(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	cl := rawClient(t, addr)
	ctx := testCtx(t)
	req := func(r kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := cl.Request(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "ghost", "m-1", 1
	if c := req(sync).(*kmsg.SyncGroupResponse).ErrorCode; c != kerr.UnknownMemberID.Code {
		t.Errorf("SyncGroup on a missing group: %v", kerr.ErrorForCode(c))
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "ghost", "m-1", 1
	if c := req(hb).(*kmsg.HeartbeatResponse).ErrorCode; c != kerr.UnknownMemberID.Code {
		t.Errorf("Heartbeat on a missing group: %v", kerr.ErrorForCode(c))
	}
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = "ghost"
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = "m-1"
	leave.Members = append(leave.Members, lm)
	lr := req(leave).(*kmsg.LeaveGroupResponse)
	if lr.ErrorCode != 0 || len(lr.Members) != 1 || lr.Members[0].ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("LeaveGroup on a missing group: %+v", lr)
	}

	join := kmsg.NewPtrJoinGroupRequest()
	join.Group = "g"
	join.SessionTimeoutMillis = 10
	join.RebalanceTimeoutMillis = 1000
	join.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{0, 1}
	join.Protocols = append(join.Protocols, p)
	if c := req(join).(*kmsg.JoinGroupResponse).ErrorCode; c != kerr.InvalidSessionTimeout.Code {
		t.Errorf("JoinGroup with a 10ms session: %v", kerr.ErrorForCode(c))
	}
	join.SessionTimeoutMillis = 3000
	jr := req(join).(*kmsg.JoinGroupResponse)
	if jr.ErrorCode != kerr.MemberIDRequired.Code || jr.MemberID == "" {
		t.Fatalf("first JoinGroup: %v %q", kerr.ErrorForCode(jr.ErrorCode), jr.MemberID)
	}
	join.MemberID = jr.MemberID
	jr = req(join).(*kmsg.JoinGroupResponse)
	if jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != join.MemberID || len(jr.Members) != 1 {
		t.Fatalf("second JoinGroup: %+v", jr)
	}
	sync = kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "g", join.MemberID, 2
	if c := req(sync).(*kmsg.SyncGroupResponse).ErrorCode; c != kerr.IllegalGeneration.Code {
		t.Errorf("SyncGroup bad generation: %v", kerr.ErrorForCode(c))
	}
	sync.Generation = 1
	a := kmsg.NewSyncGroupRequestGroupAssignment()
	a.MemberID, a.MemberAssignment = join.MemberID, []byte("hello")
	sync.GroupAssignment = append(sync.GroupAssignment, a)
	sr := req(sync).(*kmsg.SyncGroupResponse)
	if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "hello" {
		t.Errorf("SyncGroup: %+v", sr)
	}
	other := kmsg.NewPtrJoinGroupRequest()
	*other = *join
	other.MemberID = ""
	other.ProtocolType = "connect"
	if c := req(other).(*kmsg.JoinGroupResponse).ErrorCode; c != kerr.InconsistentGroupProtocol.Code {
		t.Errorf("JoinGroup with another protocol type: %v", kerr.ErrorForCode(c))
	}

	// FindCoordinator batched, both key types; internal topics are internal.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKeys = []string{"a", "b"}
	fr := req(fc).(*kmsg.FindCoordinatorResponse)
	if len(fr.Coordinators) != 2 || fr.Coordinators[0].ErrorCode != 0 || fr.Coordinators[0].NodeID != 1 {
		t.Errorf("FindCoordinator: %+v", fr)
	}
	fc.CoordinatorType = 1
	fc.CoordinatorKeys = []string{"txn"}
	if fr := req(fc).(*kmsg.FindCoordinatorResponse); fr.Coordinators[0].ErrorCode != 0 {
		t.Errorf("FindCoordinator(txn): %+v", fr)
	}
	md := kmsg.NewPtrMetadataRequest()
	mr := req(md).(*kmsg.MetadataResponse)
	internal := 0
	for _, tp := range mr.Topics {
		if tp.IsInternal {
			internal++
		}
	}
	if internal != 2 {
		t.Errorf("%d internal topics in Metadata, want 2", internal)
	}
}

func TestCoordinatorPartitionMatchesKafka(t *testing.T) {
	// Java's String.hashCode over UTF-16 units, and Utils.abs(h) % 50.
	for _, c := range []struct {
		key  string
		hash int32
		p    int32
	}{
		{"", 0, 0},
		{"a", 97, 47},
		{"my-group", -1906497762, 12},
		{"console-consumer-12345", 158455506, 6},
		{"grüppe-😀", -1039948164, 14},
	} {
		if h := javaStringHashCode(c.key); h != c.hash {
			t.Errorf("hashCode(%q) = %d, want %d", c.key, h, c.hash)
		}
		if p := coordinatorPartition(c.key, 50); p != c.p {
			t.Errorf("partition(%q) = %d, want %d", c.key, p, c.p)
		}
	}
}
