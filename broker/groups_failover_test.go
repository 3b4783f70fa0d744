package broker

// Group coordinator failover in a three-broker cluster: the coordinator
// moves with its __consumer_offsets partition, the new one loads the
// groups from etcd, and the old one can no longer write.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// failoverProps keep the internal topic small and group sessions short.
var failoverProps = []string{
	"offsets.topic.num.partitions=10",
	"group.min.session.timeout.ms=500",
}

// waitOffsetsTopic waits until every __consumer_offsets partition has a
// leader and the brokers ids as replicas, all in the ISR (the controller
// raises the internal topics' replication factor as brokers join, which
// moves their leaders).
func (c *testCluster) waitOffsetsTopic(ids ...int32) {
	c.t.Helper()
	waitFor(c.t, "__consumer_offsets replicated on every broker", func() bool {
		tm := c.snap().Topic(offsetsTopic)
		if tm == nil {
			return false
		}
		for _, st := range tm.Partitions {
			if st.Leader < 0 || len(st.Replicas) != len(ids) || len(st.ISR) != len(ids) {
				return false
			}
		}
		return true
	})
}

// groupCoordinator is the leader of group's __consumer_offsets partition
// (-1 when none), as the observer sees it.
func (c *testCluster) groupCoordinator(group string) int32 {
	tm := c.snap().Topic(offsetsTopic)
	if tm == nil {
		return -1
	}
	return tm.Partitions[coordinatorPartition(group, int32(len(tm.Partitions)))].Leader
}

// waitCoordinatorKnown waits until the own metadata of each broker of ids
// names coord, live, as the coordinator of group. The observer's view can
// run ahead of a broker's: until that broker catches up it answers
// FindCoordinator with the old (dead) coordinator, or a group request with
// COORDINATOR_NOT_AVAILABLE, as a Kafka broker with stale metadata would,
// and the test's assertions are about the state after the move.
func (c *testCluster) waitCoordinatorKnown(group string, coord int32, ids ...int32) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("brokers %v know broker %d coordinates %s", ids, coord, group), func() bool {
		for _, id := range ids {
			snap := c.brokers[id].store.Snapshot()
			tm := snap.Topic(offsetsTopic)
			if tm == nil {
				return false
			}
			if _, ok := snap.Brokers[coord]; !ok {
				return false
			}
			if tm.Partitions[coordinatorPartition(group, int32(len(tm.Partitions)))].Leader != coord {
				return false
			}
		}
		return true
	})
}

// groupLedBy returns a group id whose coordinator is broker id.
func (c *testCluster) groupLedBy(id int32, prefix string) string {
	c.t.Helper()
	for i := 0; i < 1000; i++ {
		g := fmt.Sprintf("%s-%d", prefix, i)
		if c.groupCoordinator(g) == id {
			return g
		}
	}
	c.t.Fatalf("no group coordinated by broker %d", id)
	return ""
}

func (c *testCluster) addrsOf(ids ...int32) []string {
	var out []string
	for _, id := range ids {
		out = append(out, c.addrs[id])
	}
	return out
}

func othersThan(id int32, ids ...int32) []int32 {
	return slices.DeleteFunc(slices.Clone(ids), func(x int32) bool { return x == id })
}

// storedOffset reads group's committed offset of topic/p from etcd (-1:
// none).
func (c *testCluster) storedOffset(group, topic string, p int32) int64 {
	c.t.Helper()
	resp, err := c.etcd.Client().Get(testCtx(c.t), c.etcd.Key("offsets", group, topic, fmt.Sprint(p)))
	if err != nil {
		c.t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return -1
	}
	var rec struct {
		Offset int64 `json:"offset"`
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &rec); err != nil {
		c.t.Fatal(err)
	}
	return rec.Offset
}

// directClient sends requests to the broker at addr itself (commitVia).
func directClient(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(kmsg.OffsetCommit.Int16(), 8) // by topic name
	return newClient(t, addr, kgo.MaxVersions(vs), kgo.RequestTimeoutOverhead(time.Minute))
}

// commitDirect sends a simple OffsetCommit (no member, generation -1) of
// topic/0 to the broker at addr itself, with no client retries, and returns
// its error code.
func commitDirect(t *testing.T, addr, group, topic string, offset int64) int16 {
	t.Helper()
	return commitVia(t, directClient(t, addr), group, topic, offset)
}

func commitVia(t *testing.T, cl *kgo.Client, group, topic string, offset int64) int16 {
	t.Helper()
	code, err := commitRaw(cl, group, topic, offset)
	if err != nil {
		t.Fatalf("OffsetCommit to %v: %v", cl.OptValue(kgo.SeedBrokers), err)
	}
	return code
}

// commitRaw is commitVia for other goroutines than the test's.
func commitRaw(cl *kgo.Client, group, topic string, offset int64) (int16, error) {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation, req.MemberID = group, -1, ""
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = 0, offset, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return 0, err
	}
	return resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, nil
}

// seedClient is a client of the cluster through seeds.
func seedClient(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClient(t, seeds[0], append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
}

// fetchCommitted asks the cluster (through seeds) for group's offsets.
func fetchCommitted(t *testing.T, seeds []string, group, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(seedClient(t, seeds))
	resp, err := adm.FetchOffsets(testCtx(t), group)
	if err != nil {
		t.Fatalf("OffsetFetch %s: %v", group, err)
	}
	if err := resp.Error(); err != nil {
		t.Fatalf("OffsetFetch %s: %v", group, err)
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out
}

// failoverConsumer is a franz-go group member that commits explicitly.
func failoverConsumer(t *testing.T, seeds []string, group, topic string) *kgo.Client {
	t.Helper()
	return seedClient(t, seeds,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.SessionTimeout(6*time.Second),
		kgo.MetadataMinAge(100*time.Millisecond),
	)
}

// reader polls a consumer and checks that each partition's records come
// in order, each once.
type reader struct {
	t    *testing.T
	cl   *kgo.Client
	read map[int32][]int64
	n    int
}

func (r *reader) pollUntil(n int, what string) {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for r.n < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("read %d records, want %d (%s)", r.n, n, what)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := r.cl.PollRecords(ctx, 50)
		cancel()
		fs.EachRecord(func(rec *kgo.Record) {
			r.read[rec.Partition] = append(r.read[rec.Partition], rec.Offset)
			r.n++
		})
	}
}

func (r *reader) checkOnce(end map[int32]int64) {
	r.t.Helper()
	for p, offs := range r.read {
		for i, o := range offs {
			if o != int64(i) {
				r.t.Fatalf("partition %d: record %d has offset %d (read twice or skipped): %v", p, i, o, offs[max(0, i-3):min(len(offs), i+3)])
			}
		}
		if int64(len(offs)) != end[p] {
			r.t.Errorf("partition %d: read %d records, want %d", p, len(offs), end[p])
		}
	}
}

func (r *reader) positions() map[int32]int64 {
	out := map[int32]int64{}
	for p, offs := range r.read {
		out[p] = int64(len(offs))
	}
	return out
}

// The coordinator's broker crashes: the new coordinator, elected for the
// __consumer_offsets partition, loads the group and serves the offsets
// committed before the crash; the member carries on (exactly once) and
// commits on it. The old coordinator, back as a non-leader, refuses a
// commit (NOT_COORDINATOR) and etcd keeps the new coordinator's offsets.
func TestGroupCoordinatorCrashFailover(t *testing.T) {
	all := []int32{1, 2, 3}
	c := newTestCluster(t, all, failoverProps...)
	c.waitOffsetsTopic(all...)
	const group, topic, perPartition = "crash-failover", "cf", 200
	coord := c.groupCoordinator(group)
	others := othersThan(coord, all...)
	c.createAssigned(others[0], topic, [][]int32{{others[0], others[1], coord}, {others[1], others[0], coord}}, nil)
	waitFor(t, "topic leaders", func() bool { return c.leaderOf(topic, 0) == others[0] && c.leaderOf(topic, 1) == others[1] })
	var recs []*kgo.Record
	for i := range 2 * perPartition {
		recs = append(recs, &kgo.Record{Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))})
	}
	prod := seedClient(t, c.addrsOf(others...), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := prod.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	end := map[int32]int64{0: perPartition, 1: perPartition}

	cl := failoverConsumer(t, c.addrsOf(all...), group, topic)
	r := &reader{t: t, cl: cl, read: map[int32][]int64{}}
	r.pollUntil(perPartition, "before the crash")
	if err := cl.CommitUncommittedOffsets(testCtx(t)); err != nil {
		t.Fatalf("commit: %v", err)
	}
	committed := r.positions()
	if got := fetchCommitted(t, c.addrsOf(all...), group, topic); !maps64Equal(got, committed) {
		t.Fatalf("committed %v, coordinator serves %v", committed, got)
	}

	c.crash(coord)
	c.waitDead(coord)
	var next int32
	waitFor(t, "a new coordinator", func() bool { next = c.groupCoordinator(group); return next > 0 && next != coord })
	c.waitCoordinatorKnown(group, next, others...)
	if got := fetchCommitted(t, c.addrsOf(others...), group, topic); !maps64Equal(got, committed) {
		t.Fatalf("the new coordinator %d serves %v, want the offsets committed before the crash %v", next, got, committed)
	}
	r.pollUntil(2*perPartition, "after the coordinator moved")
	r.checkOnce(end)
	if err := commitPastDeadBroker(t, cl); err != nil {
		t.Fatalf("commit on the new coordinator: %v", err)
	}
	if got := fetchCommitted(t, c.addrsOf(others...), group, topic); !maps64Equal(got, end) {
		t.Fatalf("after the last commit: %v, want %v", got, end)
	}
	adm := kadm.NewClient(seedClient(t, c.addrsOf(others...)))
	dg, err := adm.DescribeGroups(testCtx(t), group)
	if err != nil {
		t.Fatal(err)
	}
	if d := dg[group]; d.Err != nil || d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("group on the new coordinator: state %q, %d members, err %v; want Stable with the member", d.State, len(d.Members), d.Err)
	}

	// The old coordinator comes back: it is not the leader of the group's
	// partition, so its commit is refused and etcd is unchanged.
	c.start(coord)
	c.waitLive(coord)
	if err := c.brokers[coord].store.WaitForRevision(testCtx(t), c.snap().Revision); err != nil {
		t.Fatal(err)
	}
	if now := c.groupCoordinator(group); now == coord {
		t.Fatalf("broker %d leads the group's partition again; the test needs it to come back as a follower", coord)
	}
	if code := commitDirect(t, c.addrs[coord], group, topic, 7); code != kerr.NotCoordinator.Code {
		t.Fatalf("commit on the restarted old coordinator: %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
	if got := c.storedOffset(group, topic, 0); got != end[0] {
		t.Fatalf("etcd holds offset %d for partition 0, want %d", got, end[0])
	}
}

// The coordinator is cut off from etcd with a commit in flight: its lease
// expires, the partition moves and the new coordinator commits; when the
// link returns the old coordinator's commit reaches etcd, is fenced
// (NOT_COORDINATOR) and changes nothing.
func TestGroupCoordinatorCutOffCannotWrite(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2}, failoverProps...)
	proxy := newEtcdPauseProxy(t, strings.TrimPrefix(c.endpoint, "http://"))
	// A longer session for broker 3: its lease stays certainly valid long
	// enough after the cut for the commit to pass the lease check.
	c.start(3, "etcd.endpoints="+proxy.addr(), "broker.session.timeout.ms=5000")
	all := []int32{1, 2, 3}
	c.waitLive(all...)
	c.waitOffsetsTopic(all...)
	group := c.groupLedBy(3, "cut-off")
	const topic = "co"
	c.createAssigned(1, topic, [][]int32{{1, 2, 3}}, nil)
	waitFor(t, "broker 3 sees the topic", func() bool { return c.brokers[3].store.Snapshot().Topic(topic) != nil })
	to3 := directClient(t, c.addrs[3])
	var code int16
	waitFor(t, "a commit on broker 3, the coordinator", func() bool {
		code = commitVia(t, to3, group, topic, 10)
		return code != kerr.CoordinatorLoadInProgress.Code
	})
	if code != 0 {
		t.Fatalf("commit on the coordinator: %v", kerr.ErrorForCode(code))
	}

	proxy.pause()
	type result struct {
		code int16
		err  error
	}
	held := make(chan result, 1)
	go func() {
		code, err := commitRaw(to3, group, topic, 99)
		held <- result{code, err}
	}()
	c.waitDead(3)
	var next int32
	waitFor(t, "a new coordinator", func() bool { next = c.groupCoordinator(group); return next > 0 && next != 3 })
	c.waitCoordinatorKnown(group, next, 1, 2)
	seeds := c.addrsOf(1, 2)
	if got := fetchCommitted(t, seeds, group, topic); got[0] != 10 {
		t.Fatalf("the new coordinator %d serves %v, want offset 10", next, got)
	}
	if code := commitDirect(t, c.addrs[next], group, topic, 20); code != 0 {
		t.Fatalf("commit on the new coordinator: %v", kerr.ErrorForCode(code))
	}
	proxy.resume()
	select {
	case r := <-held:
		if r.err != nil || r.code != kerr.NotCoordinator.Code {
			t.Fatalf("the cut-off coordinator's commit: %v %v, want NOT_COORDINATOR (fenced)", kerr.ErrorForCode(r.code), r.err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("the cut-off coordinator's commit never returned")
	}
	if got := c.storedOffset(group, topic, 0); got != 20 {
		t.Fatalf("etcd holds offset %d, want the new coordinator's 20", got)
	}
	if got := fetchCommitted(t, seeds, group, topic); got[0] != 20 {
		t.Fatalf("the cluster serves %v, want offset 20", got)
	}
}

// A controlled shutdown of the coordinator's broker moves the coordinator
// with its partition while a franz-go member polls and commits: no commit
// fails, every record is read once, and the last commit is on the new
// coordinator.
func TestGroupCoordinatorControlledShutdown(t *testing.T) {
	all := []int32{1, 2, 3}
	c := newTestCluster(t, all, failoverProps...)
	c.waitOffsetsTopic(all...)
	const group, topic, perPartition = "cs-failover", "csf", 300
	coord := c.groupCoordinator(group)
	others := othersThan(coord, all...)
	c.createAssigned(others[0], topic, [][]int32{{others[0], others[1]}, {others[1], others[0]}}, nil)
	waitFor(t, "topic leaders", func() bool { return c.leaderOf(topic, 0) == others[0] && c.leaderOf(topic, 1) == others[1] })
	var recs []*kgo.Record
	for i := range 2 * perPartition {
		recs = append(recs, &kgo.Record{Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))})
	}
	prod := seedClient(t, c.addrsOf(others...), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := prod.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	end := map[int32]int64{0: perPartition, 1: perPartition}

	cl := failoverConsumer(t, c.addrsOf(all...), group, topic)
	r := &reader{t: t, cl: cl, read: map[int32][]int64{}}
	var commitErrs []error
	// Poll a few records at a time and commit after each poll, throughout
	// the shutdown.
	step := func(upTo int) {
		for r.n < upTo {
			before := r.n
			r.pollUntil(min(upTo, r.n+20), "polling")
			if r.n > before {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					commitErrs = append(commitErrs, err)
				}
				cancel()
			}
		}
	}
	step(perPartition / 2)
	stopped := make(chan error, 1)
	b := c.brokers[coord]
	delete(c.brokers, coord)
	go func() { stopped <- b.Close() }()
	step(2 * perPartition)
	if err := <-stopped; err != nil {
		t.Fatalf("close broker %d: %v", coord, err)
	}
	if next := c.groupCoordinator(group); next == coord || next < 0 {
		t.Fatalf("coordinator after the shutdown: %d", next)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		commitErrs = append(commitErrs, err)
	}
	cancel()
	if len(commitErrs) > 0 {
		t.Fatalf("commits failed across the controlled shutdown: %v", commitErrs)
	}
	r.checkOnce(end)
	if got := fetchCommitted(t, c.addrsOf(others...), group, topic); !maps64Equal(got, end) {
		t.Fatalf("offsets on the new coordinator: %v, want %v", got, end)
	}
}

// commitPastDeadBroker commits cl's uncommitted offsets, trying again
// (bounded) while the commit fails only because franz-go still dials the
// crashed coordinator it had cached: a client-side error no broker
// answered, which franz-go returns as Kafka's clients would against a
// crashed Kafka broker. Any error a broker answered fails at once.
func commitPastDeadBroker(t *testing.T, cl *kgo.Client) error {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cl.CommitUncommittedOffsets(testCtx(t))
		var oe *net.OpError
		if err == nil || !errors.As(err, &oe) || oe.Op != "dial" || time.Now().After(deadline) {
			return err
		}
		t.Logf("commit: %v (the crashed coordinator); again", err)
		time.Sleep(200 * time.Millisecond)
	}
}

func maps64Equal(a, b map[int32]int64) bool {
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

// etcdPauseProxy forwards TCP connections to target; paused, it forwards
// nothing in either direction (the bytes wait, as on a link gone silent)
// and resumed it delivers what it held.
type etcdPauseProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	paused bool       // guarded by mu
	closed bool       // guarded by mu
	conns  []net.Conn // guarded by mu
	wg     sync.WaitGroup
}

func newEtcdPauseProxy(t *testing.T, target string) *etcdPauseProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &etcdPauseProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *etcdPauseProxy) addr() string { return p.ln.Addr().String() }

func (p *etcdPauseProxy) pause() { p.mu.Lock(); p.paused = true; p.mu.Unlock() }

func (p *etcdPauseProxy) resume() {
	p.mu.Lock()
	p.paused = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// gate waits while paused; false once closed.
func (p *etcdPauseProxy) gate() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.paused && !p.closed {
		p.cond.Wait()
	}
	return !p.closed
}

func (p *etcdPauseProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.gate() { // new connections wait too
			c.Close()
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *etcdPauseProxy) pipe(from, to net.Conn) {
	defer p.wg.Done()
	defer to.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *etcdPauseProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}
