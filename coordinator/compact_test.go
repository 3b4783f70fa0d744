package coordinator

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// startExternal starts an etcd server of its own in the test process: a
// Store given its endpoint takes the external-etcd code path.
func startExternal(t *testing.T) string {
	t.Helper()
	e, err := startEmbedded(context.Background(), t.TempDir(), nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e.clientURL
}

func openExternal(t *testing.T, endpoint string, compaction time.Duration) *Store {
	t.Helper()
	s, err := Open(testCtx(t), Config{Endpoints: []string{endpoint}, CompactionInterval: compaction, SessionTTL: 2 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// compacted reports whether etcd's history before rev is gone, i.e. the
// compaction revision is above rev.
func compacted(t testing.TB, cli *clientv3.Client, rev int64) bool {
	t.Helper()
	_, err := cli.Get(testCtx(t), "probe", clientv3.WithRev(rev))
	if errors.Is(err, rpctypes.ErrCompacted) {
		return true
	}
	if err != nil {
		t.Fatalf("get at revision %d: %v", rev, err)
	}
	return false
}

// waitTicks waits until s's compaction loop has ticked n more times.
func waitTicks(t *testing.T, s *Store, n int64) {
	t.Helper()
	from := s.compactTicks.Load()
	eventually(t, 20*time.Second, "compaction ticks", func() bool { return s.compactTicks.Load() >= from+n })
}

// The controller compacts an external etcd's history, the other broker
// does not, and a broker that loses the role stops.
func TestCompactionByController(t *testing.T) {
	ep := startExternal(t)
	// Above etcd's 100 ms sync period of lagging watchers: a shorter
	// interval compacts the history under a watch (the election's) that
	// is still being caught up, which then fails and is retried.
	const interval = 250 * time.Millisecond
	a := openExternal(t, ep, interval)
	b := openExternal(t, ep, interval)
	ctx := testCtx(t)
	if err := a.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "127.0.0.1", Port: 1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a is controller", a.IsController)
	if err := b.RegisterBroker(ctx, BrokerInfo{ID: 2, Host: "127.0.0.1", Port: 2}); err != nil {
		t.Fatal(err)
	}

	// Offset-commit-like churn: one key, many versions.
	key := a.Key("offsets", "g", "t", "0")
	put := func(n int) int64 {
		var rev int64
		for i := range n {
			resp, err := a.Client().Put(ctx, key, strconv.Itoa(i))
			if err != nil {
				t.Fatal(err)
			}
			rev = resp.Header.Revision
		}
		return rev
	}
	r1 := put(100)
	eventually(t, 20*time.Second, "history compacted past the writes", func() bool { return compacted(t, a.Client(), r1-1) })
	if b.compactions.Load() != 0 {
		t.Fatalf("broker 2 (not the controller) compacted %d times", b.compactions.Load())
	}
	// Both watches were synced: compaction did not make them re-read.
	if a.relists.Load() != 1 || b.relists.Load() != 1 {
		t.Fatalf("re-reads after compaction: %d, %d", a.relists.Load(), b.relists.Load())
	}

	// a resigns: b takes the role and the compaction over, a stops. Two
	// ticks of a's loop pass first so that a tick that began before the
	// resignation has ended.
	if err := a.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	waitTicks(t, a, 2)
	done := a.compactions.Load()
	eventually(t, 10*time.Second, "b is controller", b.IsController)
	r2 := put(100)
	eventually(t, 20*time.Second, "the new controller compacts", func() bool { return compacted(t, a.Client(), r2-1) })
	waitTicks(t, a, 3)
	if n := a.compactions.Load(); n != done {
		t.Fatalf("broker 1 compacted %d more times after losing the controller role", n-done)
	}
	if b.compactions.Load() == 0 {
		t.Fatal("broker 2 never counted a compaction")
	}
}

// The broker's embedded etcd (the default) is compacted by samsa as an
// external one is: offset-commit-like churn on one key leaves no history
// behind once the controller has compacted.
func TestCompactionEmbedded(t *testing.T) {
	s, err := Open(testCtx(t), Config{EmbeddedDir: t.TempDir(), CompactionInterval: 250 * time.Millisecond,
		SessionTTL: 2 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := testCtx(t)
	if err := s.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "127.0.0.1", Port: 1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "controller", s.IsController)
	key := s.Key("offsets", "g", "t", "0")
	var rev int64
	for i := range 100 {
		resp, err := s.Client().Put(ctx, key, strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		rev = resp.Header.Revision
	}
	// The counter moves after the compaction returns: wait for both.
	eventually(t, 20*time.Second, "embedded etcd's history compacted past the writes, by samsa", func() bool {
		return compacted(t, s.Client(), rev-1) && s.compactions.Load() > 0
	})
}

// With the interval at 0 nothing compacts.
func TestCompactionOff(t *testing.T) {
	ep := startExternal(t)
	a := openExternal(t, ep, 0)
	ctx := testCtx(t)
	if err := a.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "127.0.0.1", Port: 1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a is controller", a.IsController)
	resp, err := a.Client().Put(ctx, a.Key("offsets", "x"), "1")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // time for a loop, were one running, to tick
	if compacted(t, a.Client(), 1) || a.compactTicks.Load() != 0 {
		t.Fatalf("compacted with compaction off (revision %d)", resp.Header.Revision)
	}
}

// tcpProxy forwards TCP connections to target; cut closes them all and
// refuses new ones until restored, as a network partition would.
type tcpProxy struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	cut   bool       // guarded by mu
	conns []net.Conn // guarded by mu
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{l: l, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		l.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
		p.mu.Unlock()
	}
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// A broker cut off from etcd while the history it has not seen yet is
// compacted comes back to a compacted watch, re-reads everything and
// watches on.
func TestWatchSurvivesCompaction(t *testing.T) {
	u := startExternal(t)
	host := u[len("http://"):]
	proxy := startProxy(t, host)
	w := openExternal(t, proxy.l.Addr().String(), 0)
	s := openExternal(t, u, 0)
	ctx := testCtx(t)
	rev, err := s.CreateTopic(ctx, TopicInfo{Name: "a", Replicas: assignment(2, 1)})
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, w, rev)
	relists := w.relists.Load()

	proxy.setCut(true)
	if _, err := s.DeleteTopic(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTopic(ctx, TopicInfo{Name: "b", Replicas: assignment(3, 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AllocateProducerIDs(ctx, 1); err != nil { // a revision past the topic's
		t.Fatal(err)
	}
	rev = currentRev(t, s)
	if _, err := s.Client().Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	proxy.setCut(false)

	snap := waitRev(t, w, rev)
	if snap.Topic("a") != nil || snap.Topic("b") == nil || len(snap.Topic("b").Partitions) != 3 {
		t.Fatalf("after the compacted watch: topics %v", snap.TopicNames)
	}
	if w.relists.Load() == relists {
		t.Fatal("the Snapshot caught up without re-reading: the watch was not compacted")
	}
	// Both watches run again.
	if err := s.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "127.0.0.1", Port: 1}); err != nil {
		t.Fatal(err)
	}
	rev, err = s.CreateTopic(ctx, TopicInfo{Name: "c", Replicas: assignment(1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	snap = waitRev(t, w, rev)
	if snap.Topic("c") == nil || snap.Brokers[1].Port != 1 {
		t.Fatalf("after the re-read: topics %v brokers %v", snap.TopicNames, snap.Brokers)
	}
}
