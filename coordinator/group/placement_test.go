package group

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/coordinator/placement"
)

// The placed coordinator's tests play the controller by hand: they write
// the __consumer_offsets partition state key (what the controller writes)
// and tell coordinators of their elections as a placement.Tracker would.

const testParts = 2

// partitionKey is the state key of internal partition p in these tests.
func (e *env) partitionKey(p int32) string {
	return e.store.Key("partitions", "offsets-topic-id", string(rune('0'+p)))
}

// setLeader writes partition p's state as the controller would.
func (e *env) setLeader(t *testing.T, p, leader, epoch int32, isr ...int32) {
	t.Helper()
	val, err := json.Marshal(map[string]any{"leader": leader, "leader_epoch": epoch, "isr": isr, "replicas": []int32{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Client().Put(context.Background(), e.partitionKey(p), string(val)); err != nil {
		t.Fatal(err)
	}
}

func (e *env) claim(p, broker, epoch int32) placement.Claim {
	return placement.Claim{Partition: p, Partitions: testParts, LeaderEpoch: epoch, Broker: broker, Key: e.partitionKey(p)}
}

// placedCoordinator starts a placed coordinator on cli (the env's client
// when nil) that holds nothing until elected.
func (e *env) placedCoordinator(t *testing.T, cli *clientv3.Client) *Coordinator {
	t.Helper()
	if cli == nil {
		cli = e.store.Client()
	}
	c, err := New(Config{
		Placed: true, Client: cli, Key: e.store.Key, Logger: zerolog.Nop(), Clock: e.clock,
		MinSessionTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	t.Cleanup(func() { c.Close() })
	return c
}

func waitLoaded(t *testing.T, c *Coordinator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
}

func simpleCommit(c *Coordinator, group string, offset int64) int16 {
	return c.CommitOffsets(context.Background(), CommitArgs{Group: group, Generation: -1, Version: 8},
		[]Commit{{Topic: "t", Partition: 0, Offset: offset, LeaderEpoch: -1}})[0]
}

func fetched(t *testing.T, c *Coordinator, group string) (int64, int16) {
	t.Helper()
	got, code := c.FetchOffsets(FetchArgs{Group: group, Topics: map[string][]int32{"t": {0}}})
	if code != 0 {
		return 0, code
	}
	return got["t"][0].Offset, 0
}

// storedOffset reads the committed offset of group's t/0 from etcd.
func (e *env) storedOffset(t *testing.T, c *Coordinator, group string) int64 {
	t.Helper()
	resp, err := e.store.Client().Get(context.Background(), c.offsetKey(group, "t", 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return -1
	}
	var rec offsetRecord
	if err := json.Unmarshal(resp.Kvs[0].Value, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Offset
}

// groupIn returns a group id of partition p.
func groupIn(p int32) string {
	for i := 0; ; i++ {
		id := "grp-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if placement.Partition(id, testParts) == p {
			return id
		}
	}
}

// A coordinator that lost its partition (it was never told: its metadata
// lags) cannot write: its commit fails with NOT_COORDINATOR, etcd keeps
// what the new coordinator wrote, and it unloads the partition.
func TestPlacedStaleCoordinatorIsFenced(t *testing.T) {
	e := newEnv(t)
	const p = 1
	g := groupIn(p)
	e.setLeader(t, p, 1, 5, 1, 2)
	a := e.placedCoordinator(t, nil)
	a.OnElection(e.claim(p, 1, 5))
	waitLoaded(t, a)
	if code := simpleCommit(a, g, 10); code != 0 {
		t.Fatalf("commit on the coordinator: %v", kerr.ErrorForCode(code))
	}

	// The controller moves the partition to broker 2, which loads it.
	e.setLeader(t, p, 2, 6, 2)
	b := e.placedCoordinator(t, nil)
	b.OnElection(e.claim(p, 2, 6))
	waitLoaded(t, b)
	if off, code := fetched(t, b, g); code != 0 || off != 10 {
		t.Fatalf("new coordinator serves offset %d (%v), want 10", off, kerr.ErrorForCode(code))
	}
	if code := simpleCommit(b, g, 20); code != 0 {
		t.Fatalf("commit on the new coordinator: %v", kerr.ErrorForCode(code))
	}

	if code := simpleCommit(a, g, 30); code != kerr.NotCoordinator.Code {
		t.Fatalf("commit on the old coordinator: %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
	if got := e.storedOffset(t, a, g); got != 20 {
		t.Fatalf("etcd holds offset %d after the old coordinator's commit, want the new one's 20", got)
	}
	if _, code := fetched(t, a, g); code != kerr.NotCoordinator.Code {
		t.Fatalf("old coordinator after the fenced write: %v, want NOT_COORDINATOR (unloaded)", kerr.ErrorForCode(code))
	}
	// Group records and deletions are fenced the same way.
	if code := b.DeleteGroup(context.Background(), g); code != 0 {
		t.Fatalf("delete on the new coordinator: %v", kerr.ErrorForCode(code))
	}
}

// A commit in flight while the partition moves (the old coordinator cut
// off from etcd: its write arrives after the new coordinator's) changes
// nothing.
func TestPlacedInFlightWriteIsFenced(t *testing.T) {
	e := newEnv(t)
	const p = 0
	g := groupIn(p)
	e.setLeader(t, p, 1, 1, 1)
	proxy := newPauseProxy(t, e.store.EmbeddedEndpoint())
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{proxy.addr()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	a := e.placedCoordinator(t, cli)
	a.OnElection(e.claim(p, 1, 1))
	waitLoaded(t, a)
	if code := simpleCommit(a, g, 1); code != 0 {
		t.Fatalf("first commit: %v", kerr.ErrorForCode(code))
	}

	proxy.pause()
	done := make(chan int16, 1)
	go func() { done <- simpleCommit(a, g, 99) }()
	time.Sleep(100 * time.Millisecond) // the write is on its way, held by the proxy

	e.setLeader(t, p, 2, 2, 2)
	b := e.placedCoordinator(t, nil)
	b.OnElection(e.claim(p, 2, 2))
	waitLoaded(t, b)
	if code := simpleCommit(b, g, 2); code != 0 {
		t.Fatalf("commit on the new coordinator: %v", kerr.ErrorForCode(code))
	}
	proxy.resume()
	select {
	case code := <-done:
		if code != kerr.NotCoordinator.Code {
			t.Fatalf("the held commit of the old coordinator: %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the held commit never returned")
	}
	if got := e.storedOffset(t, b, g); got != 2 {
		t.Fatalf("etcd holds offset %d, want the new coordinator's 2", got)
	}
}

// The partition state key changes without a move (the ISR follows the
// live brokers): the coordinator's writes go on; a new leader epoch
// (even with the same leader) ends the tenure, and the next election
// loads the partition again with everything stored.
func TestPlacedFenceFollowsEpochNotISR(t *testing.T) {
	e := newEnv(t)
	const p = 1
	g := groupIn(p)
	e.setLeader(t, p, 1, 3, 1, 2, 3)
	a := e.placedCoordinator(t, nil)
	a.OnElection(e.claim(p, 1, 3))
	waitLoaded(t, a)
	if code := simpleCommit(a, g, 1); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	e.setLeader(t, p, 1, 3, 1, 3) // broker 2 died: ISR change only
	e.setLeader(t, p, 1, 3, 1)
	if code := simpleCommit(a, g, 2); code != 0 {
		t.Fatalf("commit after an ISR change: %v, want success", kerr.ErrorForCode(code))
	}
	if got := e.storedOffset(t, a, g); got != 2 {
		t.Fatalf("stored %d, want 2", got)
	}
	e.setLeader(t, p, 1, 4, 1) // moved away and back: a new tenure
	if code := simpleCommit(a, g, 3); code != kerr.NotCoordinator.Code {
		t.Fatalf("commit under the old epoch: %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
	a.OnResignation(p, 3) // the tracker catches up
	a.OnElection(e.claim(p, 1, 4))
	waitLoaded(t, a)
	if off, code := fetched(t, a, g); code != 0 || off != 2 {
		t.Fatalf("after the new election: offset %d (%v), want 2", off, kerr.ErrorForCode(code))
	}
	if code := simpleCommit(a, g, 4); code != 0 {
		t.Fatalf("commit in the new tenure: %v", kerr.ErrorForCode(code))
	}
}

// A placed coordinator serves only the groups of the partitions it holds:
// others are NOT_COORDINATOR, a partition being loaded is
// COORDINATOR_LOAD_IN_PROGRESS, and it loads only its partitions' groups.
func TestPlacedServesOnlyItsPartitions(t *testing.T) {
	e := newEnv(t)
	g0, g1 := groupIn(0), groupIn(1)
	e.setLeader(t, 0, 1, 1, 1)
	e.setLeader(t, 1, 1, 1, 1)
	seed := e.placedCoordinator(t, nil)
	seed.OnElection(e.claim(0, 1, 1))
	seed.OnElection(e.claim(1, 1, 1))
	waitLoaded(t, seed)
	for _, id := range []string{g0, g1} {
		if code := simpleCommit(seed, id, 7); code != 0 {
			t.Fatal(kerr.ErrorForCode(code))
		}
	}
	seed.Close()

	proxy := newPauseProxy(t, e.store.EmbeddedEndpoint())
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{proxy.addr()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	c := e.placedCoordinator(t, cli)
	if code := c.GroupCode(g0); code != kerr.NotCoordinator.Code {
		t.Fatalf("before any election: %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
	proxy.pause() // the load waits on etcd
	c.OnElection(e.claim(0, 1, 1))
	if code := c.GroupCode(g0); code != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("while loading: %v, want COORDINATOR_LOAD_IN_PROGRESS", kerr.ErrorForCode(code))
	}
	if code := simpleCommit(c, g0, 8); code != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("commit while loading: %v, want COORDINATOR_LOAD_IN_PROGRESS", kerr.ErrorForCode(code))
	}
	if c.Loaded() {
		t.Fatal("Loaded while a partition loads")
	}
	proxy.resume()
	waitLoaded(t, c)
	if off, code := fetched(t, c, g0); code != 0 || off != 7 {
		t.Fatalf("group of the held partition: offset %d (%v), want 7", off, kerr.ErrorForCode(code))
	}
	if _, code := fetched(t, c, g1); code != kerr.NotCoordinator.Code {
		t.Fatalf("group of another partition: %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
	if n := len(c.all()); n != 1 {
		t.Fatalf("%d groups loaded, want only the held partition's 1", n)
	}
}

// Resigning a partition unloads its groups: members waiting in a rebalance
// are answered NOT_COORDINATOR, every timer stops, and later requests are
// NOT_COORDINATOR.
func TestPlacedResignationUnloads(t *testing.T) {
	e := newEnv(t)
	const group = "g" // joinReq's
	p := placement.Partition(group, testParts)
	e.setLeader(t, p, 1, 1, 1)
	c := e.placedCoordinator(t, nil)
	c.OnElection(e.claim(p, 1, 1))
	waitLoaded(t, c)
	first := join(t, c)
	if r := c.SyncGroup(context.Background(), syncReq(first.MemberID, first.Generation, map[string]string{first.MemberID: "a"})); r.ErrorCode != 0 {
		t.Fatalf("sync: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// A second member joins: a rebalance waits for the first to rejoin.
	ctx := context.Background()
	r := c.JoinGroup(ctx, joinReq("", ""), "client2", "/127.0.0.1")
	if r.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first join of the second member: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	waiting := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { waiting <- c.JoinGroup(ctx, joinReq(r.MemberID, ""), "client2", "/127.0.0.1") }()
	waitFor(t, "the rebalance", func() bool {
		resp := c.DescribeGroup(group, 5)
		return resp.State == "PreparingRebalance"
	})

	c.OnResignation(p, 1)
	select {
	case resp := <-waiting:
		if resp.ErrorCode != kerr.NotCoordinator.Code {
			t.Fatalf("the waiting JoinGroup: %v, want NOT_COORDINATOR", kerr.ErrorForCode(resp.ErrorCode))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting JoinGroup was not answered on resignation")
	}
	e.clock.mu.Lock()
	for _, tm := range e.clock.timers {
		if !tm.stopped {
			t.Errorf("a timer due at %v still runs after the resignation", tm.at)
		}
	}
	e.clock.mu.Unlock()
	if hb := c.Heartbeat(&kmsg.HeartbeatRequest{Group: group, MemberID: first.MemberID, Generation: first.Generation}); hb.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("heartbeat after the resignation: %v, want NOT_COORDINATOR", kerr.ErrorForCode(hb.ErrorCode))
	}
	if code := simpleCommit(c, group, 1); code != kerr.NotCoordinator.Code {
		t.Fatalf("commit after the resignation: %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
	if !c.Loaded() {
		t.Fatal("a coordinator holding nothing is not Loaded")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pauseProxy forwards TCP connections to target; while paused it forwards
// nothing (the bytes wait, as on a link that went silent) and resumes with
// what it held.
type pauseProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	paused bool // guarded by mu
	closed bool // guarded by mu
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newPauseProxy(t *testing.T, target string) *pauseProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if u := "http://"; len(target) > len(u) && target[:len(u)] == u {
		target = target[len(u):]
	}
	p := &pauseProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *pauseProxy) addr() string { return p.ln.Addr().String() }

func (p *pauseProxy) pause() { p.mu.Lock(); p.paused = true; p.mu.Unlock() }

func (p *pauseProxy) resume() {
	p.mu.Lock()
	p.paused = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pauseProxy) gate() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.paused && !p.closed {
		p.cond.Wait()
	}
	return !p.closed
}

func (p *pauseProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
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

func (p *pauseProxy) pipe(from, to net.Conn) {
	defer p.wg.Done()
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
			to.Close()
			return
		}
	}
}

func (p *pauseProxy) close() {
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
