package group

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestTxnOffsetsCommitAbortStableAndReload: transactional offsets are
// pending (invisible, UNSTABLE with RequireStable) until their producer's
// COMMIT, dropped by its ABORT, and survive a reload while pending.
func TestTxnOffsetsCommitAbortStableAndReload(t *testing.T) {
	e := newEnv(t)
	c := e.coordinator(t, nil)
	ctx := context.Background()
	fetch := func(c *Coordinator, stable bool) Offset {
		t.Helper()
		offs, code := c.FetchOffsets(FetchArgs{Group: "g", Topics: map[string][]int32{"t": {0}}, RequireStable: stable})
		if code != 0 {
			t.Fatalf("fetch: %v", kerr.ErrorForCode(code))
		}
		return offs["t"][0]
	}
	commit := func(c *Coordinator, pid int64, off int64) {
		t.Helper()
		codes := c.TxnCommitOffsets(ctx, TxnCommitArgs{Group: "g", TransactionalID: "tx", ProducerID: pid, ProducerEpoch: 0, Generation: -1},
			[]Commit{{Topic: "t", Partition: 0, Offset: off, LeaderEpoch: -1}})
		if codes[0] != 0 {
			t.Fatalf("txn commit: %v", kerr.ErrorForCode(codes[0]))
		}
	}
	commit(c, 7, 42)
	if o := fetch(c, false); o.Offset != -1 || o.Unstable {
		t.Fatalf("pending offset visible: %+v", o)
	}
	if o := fetch(c, true); !o.Unstable {
		t.Fatalf("require_stable with a pending offset: %+v", o)
	}

	// Pending across a reload (a coordinator failover).
	c.Close()
	c = e.coordinator(t, nil)
	if o := fetch(c, true); !o.Unstable {
		t.Fatalf("pending offset lost by the reload: %+v", o)
	}
	if err := c.CompleteTxnOffsets(ctx, unplacedPartition, 8, true); err != nil { // another producer
		t.Fatal(err)
	}
	if o := fetch(c, true); !o.Unstable {
		t.Fatalf("another producer's marker completed it: %+v", o)
	}
	if err := c.CompleteTxnOffsets(ctx, unplacedPartition, 7, true); err != nil {
		t.Fatal(err)
	}
	if o := fetch(c, true); o.Offset != 42 || o.Unstable {
		t.Fatalf("after commit: %+v", o)
	}

	// Abort drops the pending offset; the committed one stays.
	commit(c, 7, 50)
	if err := c.CompleteTxnOffsets(ctx, unplacedPartition, 7, false); err != nil {
		t.Fatal(err)
	}
	if o := fetch(c, true); o.Offset != 42 || o.Unstable {
		t.Fatalf("after abort: %+v", o)
	}
	// Both survive a reload as completed: committed 42, nothing pending.
	c.Close()
	c = e.coordinator(t, nil)
	if o := fetch(c, true); o.Offset != 42 || o.Unstable {
		t.Fatalf("after reload: %+v", o)
	}
	resp, _ := e.store.Client().Get(ctx, c.cfg.Key("txn-offsets"), clientv3.WithPrefix())
	if resp.Count != 0 {
		t.Fatalf("%d pending keys left in etcd", resp.Count)
	}
}

// TestTxnOffsetsMemberChecks: a transactional commit naming a member is
// checked against the group (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION); one
// without is accepted even by a group with members.
func TestTxnOffsetsMemberChecks(t *testing.T) {
	e := newEnv(t)
	c := e.coordinator(t, nil)
	ctx := context.Background()
	jr := join(t, c)
	one := []Commit{{Topic: "t", Partition: 0, Offset: 1, LeaderEpoch: -1}}
	for _, tc := range []struct {
		member string
		gen    int32
		want   int16
	}{
		{"", -1, 0},
		{"nobody", jr.Generation, kerr.UnknownMemberID.Code},
		{jr.MemberID, jr.Generation + 1, kerr.IllegalGeneration.Code},
		{jr.MemberID, jr.Generation, 0},
	} {
		codes := c.TxnCommitOffsets(ctx, TxnCommitArgs{Group: "g", ProducerID: 3, MemberID: tc.member, Generation: tc.gen}, one)
		if codes[0] != tc.want {
			t.Errorf("member %q generation %d: %v, want %v", tc.member, tc.gen, kerr.ErrorForCode(codes[0]), kerr.ErrorForCode(tc.want))
		}
	}
}
