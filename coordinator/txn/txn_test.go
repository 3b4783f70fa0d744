package txn

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func want(t *testing.T, what string, got, exp int16) {
	t.Helper()
	if got != exp {
		t.Fatalf("%s: error %v, want %v", what, kerr.ErrorForCode(got), kerr.ErrorForCode(exp))
	}
}

func TestPartitionForIsKafkas(t *testing.T) {
	// Kafka: Utils.abs("my-txn".hashCode) % 50; the group coordinator's
	// placement with the same inputs.
	if p := partitionFor("my-group", 50); p != 12 {
		t.Fatalf("partitionFor = %d, want 12", p)
	}
}

// InitProducerId: a new id, epoch bumps, KIP-360 recovery and retries,
// fencing of stale producers, request validation.
func TestInitProducerID(t *testing.T) {
	e := newEnv(t)
	c := e.leader(t)
	ctx := context.Background()

	want(t, "empty id", c.InitProducerID(ctx, InitProducerIDArgs{TimeoutMs: 1000, ProducerID: -1, ProducerEpoch: -1}).ErrorCode, kerr.InvalidRequest.Code)
	want(t, "timeout over max", c.InitProducerID(ctx, InitProducerIDArgs{TransactionalID: "t", TimeoutMs: 61_000, ProducerID: -1, ProducerEpoch: -1}).ErrorCode, kerr.InvalidTransactionTimeout.Code)
	want(t, "zero timeout", c.InitProducerID(ctx, InitProducerIDArgs{TransactionalID: "t", TimeoutMs: 0, ProducerID: -1, ProducerEpoch: -1}).ErrorCode, kerr.InvalidTransactionTimeout.Code)

	r := initPID(c, "t", -1, -1)
	want(t, "first init", r.ErrorCode, 0)
	if r.ProducerEpoch != 0 {
		t.Fatalf("first init: %+v, want epoch 0", r)
	}
	pid := r.ProducerID
	if st := e.stored(t, c, "t"); st == nil || st.ProducerID != pid || st.State != "Empty" || st.CoordinatorEpoch != 1 || st.TimeoutMs != 10_000 {
		t.Fatalf("stored %+v", st)
	}
	r = initPID(c, "t", -1, -1)
	if r.ErrorCode != 0 || r.ProducerID != pid || r.ProducerEpoch != 1 {
		t.Fatalf("second init: %+v, want epoch 1 of %d", r, pid)
	}
	// KIP-360: the producer names its id and epoch.
	r = initPID(c, "t", pid, 1)
	if r.ErrorCode != 0 || r.ProducerEpoch != 2 {
		t.Fatalf("init with (pid, 1): %+v, want epoch 2", r)
	}
	// Its retry (the answer was lost) gets the same epoch again.
	r = initPID(c, "t", pid, 1)
	if r.ErrorCode != 0 || r.ProducerEpoch != 2 {
		t.Fatalf("retried init with (pid, 1): %+v, want epoch 2", r)
	}
	want(t, "init with a stale epoch", initPID(c, "t", pid, 0).ErrorCode, kerr.ProducerFenced.Code)
	want(t, "init with another id", initPID(c, "t", pid+77, 2).ErrorCode, kerr.ProducerFenced.Code)
	m, code := c.DescribeTransaction("t")
	want(t, "describe", code, 0)
	if m.ProducerEpoch != 2 || m.LastProducerEpoch != 1 || m.State != Empty {
		t.Fatalf("describe: %+v", m)
	}
	// A zombie with epoch 0 cannot add partitions.
	want(t, "zombie add", add(c, "t", ProducerResult{ProducerID: pid, ProducerEpoch: 0}, TV1, tps("a", 0)...), kerr.ProducerFenced.Code)
	want(t, "wrong id add", add(c, "t", ProducerResult{ProducerID: pid + 1, ProducerEpoch: 2}, TV1, tps("a", 0)...), kerr.InvalidProducerIDMapping.Code)
	want(t, "unknown id add", add(c, "nope", ProducerResult{ProducerID: pid, ProducerEpoch: 2}, TV1, tps("a", 0)...), kerr.InvalidProducerIDMapping.Code)
}

// A transactional id at an exhausted epoch gets a new producer id; the
// old id's retry is recognised.
func TestInitProducerIDEpochExhaustion(t *testing.T) {
	e := newEnv(t)
	e.put(t, "t", record{ProducerID: 5, PrevProducerID: -1, NextProducerID: -1, ProducerEpoch: math.MaxInt16 - 1, LastProducerEpoch: -1,
		TimeoutMs: 1000, State: "CompleteCommit", StartMs: -1, TV: 1, CoordinatorEpoch: 0})
	c := e.leader(t)
	r := initPID(c, "t", 5, math.MaxInt16-1)
	if r.ErrorCode != 0 || r.ProducerID == 5 || r.ProducerEpoch != 0 {
		t.Fatalf("init at an exhausted epoch: %+v, want a new id at epoch 0", r)
	}
	m, _ := c.DescribeTransaction("t")
	if m.PrevProducerID != 5 || m.LastProducerEpoch != math.MaxInt16-1 {
		t.Fatalf("after rotation: %+v", m)
	}
	// The retry with the old id at the exhausted epoch gets the new id.
	r2 := initPID(c, "t", 5, math.MaxInt16-1)
	if r2.ErrorCode != 0 || r2.ProducerID != r.ProducerID || r2.ProducerEpoch != 0 {
		t.Fatalf("retry after rotation: %+v, want %+v", r2, r)
	}
}

// TV1: add partitions and offsets, verify, commit; markers; idempotent
// and mismatched retries.
func TestTV1Commit(t *testing.T) {
	e := newEnv(t)
	c := e.leader(t)
	ctx := context.Background()
	r := initPID(c, "t", -1, -1)
	want(t, "EndTxn with nothing ongoing", end(c, "t", r, true, TV1).ErrorCode, kerr.InvalidTxnState.Code)
	want(t, "add", add(c, "t", r, TV1, tps("a", 0, 1)...), 0)
	e.clock.advance(time.Second)
	want(t, "add again", add(c, "t", r, TV1, tps("a", 1)...), 0)
	want(t, "add offsets", c.AddOffsets(ctx, AddOffsetsArgs{TransactionalID: "t", ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch, Group: "g", TransactionVersion: TV1}), 0)
	codes := c.VerifyPartitions(AddPartitionsArgs{TransactionalID: "t", ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch, Partitions: tps("a", 1, 2)})
	if codes[0] != 0 || codes[1] != kerr.TransactionAbortable.Code {
		t.Fatalf("verify: %v", codes)
	}
	codes = c.VerifyPartitions(AddPartitionsArgs{TransactionalID: "t", ProducerID: r.ProducerID, ProducerEpoch: 9, Partitions: tps("a", 1)})
	want(t, "verify with a stale epoch", codes[0], kerr.ProducerFenced.Code)
	m, _ := c.DescribeTransaction("t")
	offsets := TopicPartition{OffsetsTopic, partitionFor("g", 50)}
	if m.State != Ongoing || len(m.Partitions) != 3 || m.TxnStartTimestamp != e.clock.Now().Add(-time.Second).UnixMilli() || m.Partitions[0] != offsets {
		t.Fatalf("ongoing: %+v", m)
	}

	res := end(c, "t", r, true, TV1)
	if res.ErrorCode != 0 || res.ProducerID != r.ProducerID || res.ProducerEpoch != r.ProducerEpoch {
		t.Fatalf("commit: %+v", res)
	}
	m = waitState(t, e, c, "t", CompleteCommit)
	if len(m.Partitions) != 0 || m.ProducerEpoch != r.ProducerEpoch {
		t.Fatalf("completed: %+v", m)
	}
	jobs := e.markers.taken()
	if len(jobs) != 1 || !jobs[0].Commit || jobs[0].ProducerEpoch != r.ProducerEpoch || jobs[0].CoordinatorEpoch != 1 || len(jobs[0].Partitions) != 3 {
		t.Fatalf("markers: %+v", jobs)
	}
	want(t, "retried commit", end(c, "t", r, true, TV1).ErrorCode, 0)
	want(t, "abort after commit", end(c, "t", r, false, TV1).ErrorCode, kerr.InvalidTxnState.Code)
	want(t, "commit with a stale epoch", end(c, "t", ProducerResult{ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch - 1}, true, TV1).ErrorCode, kerr.ProducerFenced.Code)
	want(t, "commit with another id", end(c, "t", ProducerResult{ProducerID: 1, ProducerEpoch: r.ProducerEpoch}, true, TV1).ErrorCode, kerr.InvalidProducerIDMapping.Code)

	// A second transaction, aborted.
	want(t, "add", add(c, "t", r, TV1, tps("b", 0)...), 0)
	want(t, "abort", end(c, "t", r, false, TV1).ErrorCode, 0)
	waitState(t, e, c, "t", CompleteAbort)
	if jobs := e.markers.taken(); len(jobs) != 1 || jobs[0].Commit {
		t.Fatalf("abort markers: %+v", jobs)
	}
	want(t, "retried abort", end(c, "t", r, false, TV1).ErrorCode, 0)
	want(t, "commit after abort", end(c, "t", r, true, TV1).ErrorCode, kerr.InvalidTxnState.Code)
}

// While the markers are being written: CONCURRENT_TRANSACTIONS for the
// same end and for new work, INVALID_TXN_STATE for the opposite end.
func TestPrepareIsConcurrent(t *testing.T) {
	e := newEnv(t)
	e.settleWait = time.Millisecond
	e.markers.gate = make(chan struct{})
	c := e.leader(t)
	r := initPID(c, "t", -1, -1)
	want(t, "add", add(c, "t", r, TV1, tps("a", 0)...), 0)
	want(t, "commit", end(c, "t", r, true, TV1).ErrorCode, 0)
	waitState(t, e, c, "t", PrepareCommit)
	want(t, "commit again", end(c, "t", r, true, TV1).ErrorCode, kerr.ConcurrentTransactions.Code)
	want(t, "abort", end(c, "t", r, false, TV1).ErrorCode, kerr.InvalidTxnState.Code)
	want(t, "add", add(c, "t", r, TV1, tps("a", 1)...), kerr.ConcurrentTransactions.Code)
	want(t, "init", initPID(c, "t", -1, -1).ErrorCode, kerr.ConcurrentTransactions.Code)
	close(e.markers.gate)
	waitState(t, e, c, "t", CompleteCommit)
}

// Requests that meet the markers of the previous transaction wait for
// them (SettleWait) instead of answering CONCURRENT_TRANSACTIONS: the next
// transaction's AddPartitionsToTxn, sent right after the commit, succeeds
// once the markers are written.
func TestSettleWaitsForMarkers(t *testing.T) {
	e := newEnv(t)
	e.settleWait = time.Minute // the wait is bounded by the gate, not by time
	e.markers.gate = make(chan struct{})
	c := e.leader(t)
	r := initPID(c, "t", -1, -1)
	want(t, "add", add(c, "t", r, TV1, tps("a", 0)...), 0)
	want(t, "commit", end(c, "t", r, true, TV1).ErrorCode, 0)
	waitState(t, e, c, "t", PrepareCommit)
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(e.markers.gate)
	}()
	want(t, "next transaction's add", add(c, "t", r, TV1, tps("a", 1)...), 0)
	waitState(t, e, c, "t", Ongoing)
}

// A new producer's InitProducerId aborts the ongoing transaction with a
// bumped epoch (CONCURRENT_TRANSACTIONS until done, which the init waits
// out within SettleWait); the zombie is fenced.
func TestInitAbortsOngoing(t *testing.T) {
	for _, tv := range []TransactionVersion{TV1, TV2} {
		e := newEnv(t)
		e.settleWait = time.Minute
		c := e.leader(t)
		old := initPID(c, "t", -1, -1)
		want(t, "add", add(c, "t", old, tv, tps("a", 0)...), 0)
		// The init aborts the ongoing transaction with the epoch bumped
		// and, once its markers are written (within SettleWait), bumps
		// it again for the new producer.
		r := initPID(c, "t", -1, -1)
		if r.ErrorCode != 0 || r.ProducerEpoch != old.ProducerEpoch+2 {
			t.Fatalf("tv %d: new producer's init %+v", tv, r)
		}
		jobs := e.markers.taken()
		if len(jobs) != 1 || jobs[0].Commit || jobs[0].ProducerEpoch != old.ProducerEpoch+1 {
			t.Fatalf("tv %d: fencing markers %+v", tv, jobs)
		}
		want(t, "zombie add", add(c, "t", old, tv, tps("a", 1)...), kerr.ProducerFenced.Code)
		want(t, "zombie commit", end(c, "t", old, true, tv).ErrorCode, kerr.ProducerFenced.Code)
	}
}

// TV2: every EndTxn bumps the epoch; retries are told apart from the
// next transaction's end; abort without partitions.
func TestTV2EndTxn(t *testing.T) {
	e := newEnv(t)
	c := e.leader(t)
	r := initPID(c, "t", -1, -1)
	want(t, "TV2 commit with nothing ongoing", end(c, "t", r, true, TV2).ErrorCode, kerr.InvalidTxnState.Code)
	want(t, "add", add(c, "t", r, TV2, tps("a", 0)...), 0)
	res := end(c, "t", r, true, TV2)
	if res.ErrorCode != 0 || res.ProducerID != r.ProducerID || res.ProducerEpoch != r.ProducerEpoch+1 {
		t.Fatalf("TV2 commit: %+v", res)
	}
	m := waitState(t, e, c, "t", CompleteCommit)
	if m.ProducerEpoch != 1 || m.LastProducerEpoch != 0 || m.ClientTransactionVersion != TV2 {
		t.Fatalf("after TV2 commit: %+v", m)
	}
	if jobs := e.markers.taken(); len(jobs) != 1 || jobs[0].ProducerEpoch != 1 || jobs[0].TransactionVersion != TV2 {
		t.Fatalf("TV2 markers carry the bumped epoch: %+v", jobs)
	}
	// The retry names the old epoch: success, with the new epoch.
	if again := end(c, "t", r, true, TV2); again.ErrorCode != 0 || again.ProducerEpoch != 1 {
		t.Fatalf("retried TV2 commit: %+v", again)
	}
	want(t, "abort retry of a commit", end(c, "t", r, false, TV2).ErrorCode, kerr.InvalidTxnState.Code)
	// The current epoch is the next transaction: committing nothing is
	// invalid, aborting nothing bumps again and completes at once.
	want(t, "commit without a transaction", end(c, "t", res, true, TV2).ErrorCode, kerr.InvalidTxnState.Code)
	ab := end(c, "t", res, false, TV2)
	if ab.ErrorCode != 0 || ab.ProducerEpoch != 2 {
		t.Fatalf("empty abort: %+v", ab)
	}
	if m, _ := c.DescribeTransaction("t"); m.State != CompleteAbort || m.ProducerEpoch != 2 {
		t.Fatalf("after empty abort: %+v", m)
	}
	if jobs := e.markers.taken(); len(jobs) != 0 {
		t.Fatalf("markers for an empty transaction: %+v", jobs)
	}
	want(t, "stale epoch", end(c, "t", r, false, TV2).ErrorCode, kerr.ProducerFenced.Code)
	if again := end(c, "t", res, false, TV2); again.ErrorCode != 0 || again.ProducerEpoch != 2 {
		t.Fatalf("retried empty abort: %+v", again)
	}
}

// TV2 at the last epoch: the end rotates to a new producer id, which the
// response carries; the old id's retry is recognised.
func TestTV2EpochOverflow(t *testing.T) {
	e := newEnv(t)
	e.put(t, "t", record{ProducerID: 5, PrevProducerID: 5, NextProducerID: -1, ProducerEpoch: math.MaxInt16 - 1, LastProducerEpoch: math.MaxInt16 - 2,
		TimeoutMs: 10_000, State: "Ongoing", Topics: map[string][]int32{"a": {0}}, StartMs: 1, TV: 2})
	c := e.leader(t)
	old := ProducerResult{ProducerID: 5, ProducerEpoch: math.MaxInt16 - 1}
	res := end(c, "t", old, true, TV2)
	if res.ErrorCode != 0 || res.ProducerID == 5 || res.ProducerEpoch != 0 {
		t.Fatalf("commit at the last epoch: %+v, want a new id at epoch 0", res)
	}
	m := waitState(t, e, c, "t", CompleteCommit)
	if m.ProducerID != res.ProducerID || m.ProducerEpoch != 0 || m.PrevProducerID != 5 || m.LastProducerEpoch != math.MaxInt16-1 || m.NextProducerID != -1 {
		t.Fatalf("after the rotation: %+v", m)
	}
	if jobs := e.markers.taken(); len(jobs) != 1 || jobs[0].ProducerID != 5 || jobs[0].ProducerEpoch != math.MaxInt16 {
		t.Fatalf("markers of the last transaction of the old id: %+v", jobs)
	}
	if again := end(c, "t", old, true, TV2); again.ErrorCode != 0 || again.ProducerID != res.ProducerID || again.ProducerEpoch != 0 {
		t.Fatalf("retry with the old id: %+v", again)
	}
	want(t, "add with the new id", add(c, "t", res, TV2, tps("a", 1)...), 0)
}
