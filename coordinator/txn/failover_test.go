package txn

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Two coordinators for the partition: the one with the older coordinator
// epoch (its metadata lags: never told it resigned) is refused in etcd,
// writes nothing and unloads; the new one serves from etcd's state.
func TestStaleCoordinatorIsFenced(t *testing.T) {
	e := newEnv(t)
	a := e.leader(t)
	r := initPID(a, "t", -1, -1)
	want(t, "add", add(a, "t", r, TV1, tps("x", 0)...), 0)

	e.setLeader(t, 2, 2)
	b := e.coord(t, &fakeMarkers{})
	e.elect(t, b, 2, 2)
	if m, code := b.DescribeTransaction("t"); code != 0 || m.State != Ongoing || m.ProducerID != r.ProducerID {
		t.Fatalf("new coordinator: %+v %d", m, code)
	}
	before := e.stored(t, b, "t")
	want(t, "stale coordinator's commit", end(a, "t", r, true, TV1).ErrorCode, kerr.NotCoordinator.Code)
	if after := e.stored(t, b, "t"); after.State != "Ongoing" || after.CoordinatorEpoch != before.CoordinatorEpoch {
		t.Fatalf("stale coordinator wrote: %+v", after)
	}
	want(t, "stale coordinator afterwards", initPID(a, "t", -1, -1).ErrorCode, kerr.NotCoordinator.Code)
	if jobs := e.markers.taken(); len(jobs) != 0 {
		t.Fatalf("stale coordinator sent markers: %+v", jobs)
	}
	want(t, "commit on the new coordinator", end(b, "t", r, true, TV1).ErrorCode, 0)
	if m := waitState(t, e, b, "t", CompleteCommit); m.CoordinatorEpoch != 2 {
		t.Fatalf("written at coordinator epoch %d", m.CoordinatorEpoch)
	}
	// Resigning drops the partition: NOT_COORDINATOR.
	b.OnResignation(0, 2)
	want(t, "after resignation", initPID(b, "t", -1, -1).ErrorCode, kerr.NotCoordinator.Code)
}

// A coordinator whose claim is older than a coordinator epoch etcd
// already holds in a record does not load.
func TestLoadRefusesNewerCoordinatorEpoch(t *testing.T) {
	e := newEnv(t)
	e.put(t, "t", record{ProducerID: 1, PrevProducerID: -1, NextProducerID: -1, LastProducerEpoch: -1, TimeoutMs: 1000, State: "Empty", StartMs: -1, CoordinatorEpoch: 5})
	e.setLeader(t, 1, 3)
	c := e.coord(t, nil)
	e.elect(t, c, 1, 3)
	want(t, "describe", func() int16 { _, code := c.DescribeTransaction("t"); return code }(), kerr.NotCoordinator.Code)
}

// Requests before the partition is loaded, or for one not held.
func TestNotLoaded(t *testing.T) {
	e := newEnv(t)
	c := e.coord(t, nil)
	want(t, "nothing held", initPID(c, "t", -1, -1).ErrorCode, kerr.NotCoordinator.Code)
	e.setLeader(t, 2, 1)
	e.elect(t, c, 1, 1) // etcd names broker 2: the claim is dropped
	want(t, "claim etcd does not show", initPID(c, "t", -1, -1).ErrorCode, kerr.NotCoordinator.Code)
}

// A coordinator that dies while the markers of a commit are in flight:
// the next one completes the commit at load, re-sending the markers with
// its coordinator epoch.
func TestReloadCompletesPrepareCommit(t *testing.T) {
	e := newEnv(t)
	stuck := &fakeMarkers{gate: make(chan struct{})}
	e.setLeader(t, 1, 1)
	a := e.coord(t, stuck)
	e.elect(t, a, 1, 1)
	r := initPID(a, "t", -1, -1)
	want(t, "add", add(a, "t", r, TV1, tps("x", 0, 1)...), 0)
	want(t, "commit", end(a, "t", r, true, TV1).ErrorCode, 0)
	waitState(t, e, a, "t", PrepareCommit)
	a.Close() // the marker job stops with it

	e.setLeader(t, 2, 2)
	b := e.coord(t, nil)
	e.elect(t, b, 2, 2)
	m := waitState(t, e, b, "t", CompleteCommit)
	if m.ProducerEpoch != r.ProducerEpoch || len(m.Partitions) != 0 {
		t.Fatalf("completed: %+v", m)
	}
	jobs := e.markers.taken()
	if len(jobs) != 1 || !jobs[0].Commit || jobs[0].CoordinatorEpoch != 2 || len(jobs[0].Partitions) != 2 {
		t.Fatalf("re-sent markers: %+v", jobs)
	}
}

// A marker job that fails is sent again until it succeeds.
func TestMarkersRetried(t *testing.T) {
	e := newEnv(t)
	e.markers.fail = 2
	c := e.leader(t)
	r := initPID(c, "t", -1, -1)
	want(t, "add", add(c, "t", r, TV1, tps("x", 0)...), 0)
	want(t, "abort", end(c, "t", r, false, TV1).ErrorCode, 0)
	waitState(t, e, c, "t", CompleteAbort)
	if jobs := e.markers.taken(); len(jobs) != 1 {
		t.Fatalf("markers: %+v", jobs)
	}
}

// An ongoing transaction past its timeout is aborted with a bumped epoch
// that fences its producer; one within it is left alone.
func TestTimeoutAbort(t *testing.T) {
	for _, tv := range []TransactionVersion{TV1, TV2} {
		e := newEnv(t)
		c := e.leader(t)
		ctx := context.Background()
		r := c.InitProducerID(ctx, InitProducerIDArgs{TransactionalID: "slow", TimeoutMs: 1000, ProducerID: -1, ProducerEpoch: -1})
		other := c.InitProducerID(ctx, InitProducerIDArgs{TransactionalID: "fast", TimeoutMs: 5000, ProducerID: -1, ProducerEpoch: -1})
		want(t, "add", add(c, "slow", r, tv, tps("x", 0)...), 0)
		want(t, "add", add(c, "fast", other, tv, tps("x", 1)...), 0)
		e.clock.advance(1000 * time.Millisecond)
		c.AbortTimedOut(ctx)
		if m, _ := c.DescribeTransaction("slow"); m.State != Ongoing {
			t.Fatalf("aborted at exactly its timeout: %+v", m)
		}
		e.clock.advance(1 * time.Millisecond)
		c.AbortTimedOut(ctx)
		m := waitState(t, e, c, "slow", CompleteAbort)
		if m.ProducerEpoch != r.ProducerEpoch+1 {
			t.Fatalf("tv %d: timed-out abort: %+v", tv, m)
		}
		if jobs := e.markers.taken(); len(jobs) != 1 || jobs[0].Commit || jobs[0].TransactionalID != "slow" || jobs[0].ProducerEpoch != r.ProducerEpoch+1 {
			t.Fatalf("tv %d: markers %+v", tv, jobs)
		}
		if m, _ := c.DescribeTransaction("fast"); m.State != Ongoing {
			t.Fatalf("tv %d: transaction within its timeout: %+v", tv, m)
		}
		// TV1: the producer's epoch is stale. TV2: its epoch is the one
		// before the bump, as a retry's would be, and the transaction
		// ended otherwise (Kafka's answer too).
		code := end(c, "slow", r, true, tv).ErrorCode
		if tv == TV1 {
			want(t, "fenced TV1 producer's commit", code, kerr.ProducerFenced.Code)
		} else {
			want(t, "fenced TV2 producer's commit", code, kerr.InvalidTxnState.Code)
		}
		// KIP-360: a TV2 producer recovers with its id and old epoch; a
		// TV1 one was fenced for good (the fence forgets the old epoch).
		rec := initPID(c, "slow", r.ProducerID, r.ProducerEpoch)
		if tv == TV2 && (rec.ErrorCode != 0 || rec.ProducerEpoch != r.ProducerEpoch+1) {
			t.Fatalf("TV2 recovery: %+v", rec)
		}
		if tv == TV1 {
			want(t, "TV1 recovery", rec.ErrorCode, kerr.ProducerFenced.Code)
		}
	}
}

// Idle transactional ids expire after transactional.id.expiration.ms;
// ongoing ones do not.
func TestExpiration(t *testing.T) {
	e := newEnv(t)
	c := e.leader(t)
	ctx := context.Background()
	idle := initPID(c, "idle", -1, -1)
	busy := initPID(c, "busy", -1, -1)
	want(t, "add", add(c, "busy", busy, TV1, tps("x", 0)...), 0)
	e.clock.advance(59 * time.Minute)
	c.ExpireTransactionalIDs(ctx)
	if _, code := c.DescribeTransaction("idle"); code != 0 {
		t.Fatalf("expired early: %d", code)
	}
	e.clock.advance(time.Minute)
	c.ExpireTransactionalIDs(ctx)
	_, code := c.DescribeTransaction("idle")
	want(t, "expired", code, kerr.TransactionalIDNotFound.Code)
	if e.stored(t, c, "idle") != nil {
		t.Fatal("expired id still in etcd")
	}
	if _, code := c.DescribeTransaction("busy"); code != 0 || e.stored(t, c, "busy") == nil {
		t.Fatalf("ongoing transaction expired: %d", code)
	}
	// The id starts over with a new producer id.
	if r := initPID(c, "idle", -1, -1); r.ErrorCode != 0 || r.ProducerID == idle.ProducerID || r.ProducerEpoch != 0 {
		t.Fatalf("init after expiry: %+v", r)
	}
}

func TestListAndDescribe(t *testing.T) {
	e := newEnv(t)
	c := e.leader(t)
	a := initPID(c, "a-1", -1, -1)
	initPID(c, "b-1", -1, -1)
	want(t, "add", add(c, "a-1", a, TV1, tps("x", 0)...), 0)
	e.clock.advance(10 * time.Second)
	all, unknown, code := c.ListTransactions(ListFilter{})
	if code != 0 || len(unknown) != 0 || len(all) != 2 || all[0].TransactionalID != "a-1" || all[0].State != Ongoing || all[1].State != Empty {
		t.Fatalf("list: %+v %v %d", all, unknown, code)
	}
	got, unknown, _ := c.ListTransactions(ListFilter{States: []string{"Ongoing", "Bogus"}})
	if len(got) != 1 || got[0].TransactionalID != "a-1" || len(unknown) != 1 || unknown[0] != "Bogus" {
		t.Fatalf("state filter: %+v %v", got, unknown)
	}
	if got, _, _ := c.ListTransactions(ListFilter{ProducerIDs: []int64{a.ProducerID}}); len(got) != 1 || got[0].ProducerID != a.ProducerID {
		t.Fatalf("producer filter: %+v", got)
	}
	if got, _, _ := c.ListTransactions(ListFilter{HasDuration: true, MinDurationMs: 9000}); len(got) != 1 {
		t.Fatalf("duration 9 s: %+v", got)
	}
	if got, _, _ := c.ListTransactions(ListFilter{HasDuration: true, MinDurationMs: 10_000}); len(got) != 0 {
		t.Fatalf("duration 10 s: %+v", got)
	}
	if got, _, _ := c.ListTransactions(ListFilter{Pattern: regexp.MustCompile("^b-")}); len(got) != 1 || got[0].TransactionalID != "b-1" {
		t.Fatalf("pattern: %+v", got)
	}
	m, code := c.DescribeTransaction("a-1")
	if code != 0 || m.TxnTimeoutMs != 10_000 || len(m.Partitions) != 1 || m.TxnStartTimestamp != e.clock.Now().Add(-10*time.Second).UnixMilli() {
		t.Fatalf("describe: %+v %d", m, code)
	}
	_, code = c.DescribeTransaction("nope")
	want(t, "describe unknown", code, kerr.TransactionalIDNotFound.Code)
}

// A partition set too large for one etcd value is chunked; a reload
// assembles it, and the completion removes the chunks.
func TestChunkedPartitions(t *testing.T) {
	oldInline, oldSize, oldTxn := maxInline, chunkSize, chunkTxnBytes
	maxInline, chunkSize, chunkTxnBytes = 300, 100, 250
	t.Cleanup(func() { maxInline, chunkSize, chunkTxnBytes = oldInline, oldSize, oldTxn })

	e := newEnv(t)
	e.setLeader(t, 1, 1)
	a := e.coord(t, &fakeMarkers{gate: make(chan struct{})})
	e.elect(t, a, 1, 1)
	r := initPID(a, "t", -1, -1)
	var parts []TopicPartition
	for i := 0; i < 60; i++ {
		parts = append(parts, TopicPartition{fmt.Sprintf("topic-%02d", i%7), int32(i)})
	}
	want(t, "add", add(a, "t", r, TV1, parts[:30]...), 0)
	want(t, "add more", add(a, "t", r, TV1, parts[30:]...), 0)
	st := e.stored(t, a, "t")
	if st.Chunks == nil || st.Topics != nil || st.Chunks.Count < 3 {
		t.Fatalf("not chunked: %+v", st)
	}
	if n := len(keysUnder(t, e.store.Client(), a.chunkPrefix("t"))); n != st.Chunks.Count {
		t.Fatalf("%d chunk keys, record names %d (the previous version's should be gone)", n, st.Chunks.Count)
	}
	want(t, "commit", end(a, "t", r, true, TV1).ErrorCode, 0)
	waitState(t, e, a, "t", PrepareCommit)
	a.Close()

	e.setLeader(t, 2, 2)
	b := e.coord(t, &fakeMarkers{gate: make(chan struct{})})
	e.elect(t, b, 2, 2)
	m, code := b.DescribeTransaction("t")
	if code != 0 || m.State != PrepareCommit || len(m.Partitions) != 60 {
		t.Fatalf("reloaded: %d partitions, state %v, code %d", len(m.Partitions), m.State, code)
	}
	b.Close()
	c := e.coord(t, nil)
	e.setLeader(t, 3, 3)
	e.elect(t, c, 3, 3)
	waitState(t, e, c, "t", CompleteCommit)
	if jobs := e.markers.taken(); len(jobs) != 1 || len(jobs[0].Partitions) != 60 {
		t.Fatalf("markers: %+v", jobs)
	}
	if keys := keysUnder(t, e.store.Client(), c.chunkPrefix("t")); len(keys) != 0 {
		t.Fatalf("chunks left after completion: %v", keys)
	}
}

func TestEscapeID(t *testing.T) {
	for _, id := range []string{"", "a", "a/b", "%", "x%2Fy", "\x00", "tränsaction"} {
		esc := escapeID(id)
		back, err := unescapeID(esc)
		if err != nil || back != id {
			t.Errorf("%q -> %q -> %q (%v)", id, esc, back, err)
		}
		for i := 0; i < len(esc); i++ {
			if esc[i] == '/' {
				t.Errorf("%q escaped to %q", id, esc)
			}
		}
	}
}
