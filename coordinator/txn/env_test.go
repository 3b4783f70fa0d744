package txn

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/coordinator/placement"
)

// The tests play the controller by hand: they write the
// __transaction_state partition's state key and tell coordinators of their
// elections as a placement.Tracker would. etcd is a real embedded one.

const testParts = 1 // every transactional id on partition 0

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

type fakePIDs struct{ next atomic.Int64 }

func (f *fakePIDs) NextProducerID(context.Context) (int64, error) { return f.next.Add(1) + 999, nil }

// fakeMarkers records marker jobs; while gate is set, jobs wait for it
// (or their context); fail makes that many jobs fail first.
type fakeMarkers struct {
	mu   sync.Mutex
	jobs []Markers
	gate chan struct{}
	fail int
}

func (f *fakeMarkers) WriteTxnMarkers(ctx context.Context, m Markers) error {
	f.mu.Lock()
	gate := f.gate
	if f.fail > 0 {
		f.fail--
		f.mu.Unlock()
		return errors.New("leader not available")
	}
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	f.jobs = append(f.jobs, m)
	f.mu.Unlock()
	return nil
}

func (f *fakeMarkers) taken() []Markers {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.jobs
	f.jobs = nil
	return out
}

type fakeGroups struct{}

func (fakeGroups) OffsetsPartition(group string) (int32, bool) {
	return placement.Partition(group, 50), true
}

type env struct {
	store   *coordinator.Store
	clock   *fakeClock
	pids    *fakePIDs
	markers *fakeMarkers
	// settleWait is the coordinators' Config.SettleWait (0: the default).
	settleWait time.Duration
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := coordinator.Open(ctx, coordinator.Config{EmbeddedDir: t.TempDir(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &env{store: s, clock: &fakeClock{now: time.UnixMilli(1_700_000_000_000)}, pids: &fakePIDs{}, markers: &fakeMarkers{}}
}

func (e *env) partitionKey() string { return e.store.Key("partitions", "txn-state-topic-id", "0") }

// setLeader writes the partition's state as the controller would.
func (e *env) setLeader(t *testing.T, leader, epoch int32) {
	t.Helper()
	val, _ := json.Marshal(coordinator.PartitionState{Leader: leader, LeaderEpoch: epoch, ISR: []int32{leader}, Replicas: []int32{1, 2, 3}})
	if _, err := e.store.Client().Put(context.Background(), e.partitionKey(), string(val)); err != nil {
		t.Fatal(err)
	}
}

// coord builds a started coordinator for broker, with its own marker
// writer when markers is non-nil.
func (e *env) coord(t *testing.T, markers *fakeMarkers) *Coordinator {
	t.Helper()
	if markers == nil {
		markers = e.markers
	}
	c, err := New(Config{
		Client: e.store.Client(), Key: e.store.Key, Logger: zerolog.Nop(), Clock: e.clock,
		ProducerIDs: e.pids, Markers: markers, Groups: fakeGroups{},
		MaxTimeout: time.Minute, IDExpiration: time.Hour, MarkerRetryBackoff: 5 * time.Millisecond,
		SettleWait: e.settleWait,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

// elect tells c that broker leads the partition at epoch and waits for
// the load.
func (e *env) elect(t *testing.T, c *Coordinator, broker, epoch int32) {
	t.Helper()
	c.OnElection(placement.Claim{Partition: 0, Partitions: testParts, LeaderEpoch: epoch, Broker: broker, Key: e.partitionKey()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
}

// leader starts a coordinator for broker 1 leading at epoch 1.
func (e *env) leader(t *testing.T) *Coordinator {
	e.setLeader(t, 1, 1)
	c := e.coord(t, nil)
	e.elect(t, c, 1, 1)
	return c
}

// stored reads id's record from etcd (nil when absent).
func (e *env) stored(t *testing.T, c *Coordinator, id string) *record {
	t.Helper()
	resp, err := e.store.Client().Get(context.Background(), c.txnKey(id))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return nil
	}
	var r record
	if err := json.Unmarshal(resp.Kvs[0].Value, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// put writes a record as an earlier coordinator would have.
func (e *env) put(t *testing.T, id string, r record) {
	t.Helper()
	r.TransactionalID = id
	val, _ := json.Marshal(r)
	if _, err := e.store.Client().Put(context.Background(), e.store.Key("transactions", escapeID(id)), string(val)); err != nil {
		t.Fatal(err)
	}
}

// waitState waits until id is in state st in memory and etcd.
func waitState(t *testing.T, e *env, c *Coordinator, id string, st State) Metadata {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, code := c.DescribeTransaction(id)
		r := e.stored(t, c, id)
		if code == 0 && m.State == st && r != nil && r.State == st.String() {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: state %v (code %d), stored %+v; want %v", id, m.State, code, r, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func keysUnder(t *testing.T, cli *clientv3.Client, prefix string) []string {
	t.Helper()
	resp, err := cli.Get(context.Background(), prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

func tps(topic string, ps ...int32) []TopicPartition {
	out := make([]TopicPartition, len(ps))
	for i, p := range ps {
		out[i] = TopicPartition{topic, p}
	}
	return out
}

func initPID(c *Coordinator, id string, pid int64, epoch int16) ProducerResult {
	return c.InitProducerID(context.Background(), InitProducerIDArgs{TransactionalID: id, TimeoutMs: 10_000, ProducerID: pid, ProducerEpoch: epoch})
}

func add(c *Coordinator, id string, r ProducerResult, tv TransactionVersion, parts ...TopicPartition) int16 {
	return c.AddPartitions(context.Background(), AddPartitionsArgs{TransactionalID: id, ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch, Partitions: parts, TransactionVersion: tv})
}

func end(c *Coordinator, id string, r ProducerResult, commit bool, tv TransactionVersion) ProducerResult {
	return c.EndTxn(context.Background(), EndTxnArgs{TransactionalID: id, ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch, Commit: commit, TransactionVersion: tv})
}
