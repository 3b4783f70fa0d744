package placement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Sentinel errors.
var (
	// ErrFenced: this broker no longer leads the partition at the epoch
	// the fence was acquired with; nothing was written.
	ErrFenced = errors.New("placement: fenced: the partition has another leader or leader epoch")
	// ErrBusy: the partition's state key kept changing (under the same
	// leader and epoch) while a fenced write was retried; nothing was
	// written, the write may be tried again.
	ErrBusy = errors.New("placement: partition state keeps changing")
)

// maxRefresh bounds the retries of one fenced write after the state key
// changed under the same leader and epoch (an ISR change each time).
const maxRefresh = 8

// Claim is one partition of an internal topic this broker leads, as its
// metadata view shows it: what a coordinator loads under and fences its
// writes with. Claims are comparable; a change of any field is a new
// claim.
type Claim struct {
	Partition   int32
	Partitions  int32 // the topic's partition count (Partition's modulus)
	LeaderEpoch int32
	Broker      int32  // this broker: the leader the claim is for
	Key         string // the etcd key of the partition's state
}

// partitionLeader is the part of the partition state (the JSON of
// coordinator.PartitionState at Claim.Key) a fence reads.
type partitionLeader struct {
	Leader      int32 `json:"leader"`
	LeaderEpoch int32 `json:"leader_epoch"`
}

// holds reports whether kvs (a read of the claim's key) still names the
// claim's broker as leader at the claim's epoch, and the key's mod
// revision.
func (c Claim) holds(kvs []*mvccpb.KeyValue) (bool, int64) {
	if len(kvs) != 1 {
		return false, 0 // the partition (its topic) is gone
	}
	var pl partitionLeader
	if err := json.Unmarshal(kvs[0].Value, &pl); err != nil {
		return false, 0
	}
	return pl.Leader == c.Broker && pl.LeaderEpoch == c.LeaderEpoch, kvs[0].ModRevision
}

// Fence is one coordinator tenure on one partition: the right to write the
// keys placed on it while the partition's state names this broker as
// leader at the claim's epoch. Safe for concurrent use.
type Fence struct {
	cli   *clientv3.Client
	claim Claim
	// rev is the state key's mod revision when it last named the claim's
	// leader and epoch (it only grows).
	rev  atomic.Int64
	lost atomic.Bool
}

// Claim returns the claim the fence was acquired for.
func (f *Fence) Claim() Claim { return f.claim }

// Lost reports whether the fence is lost (Revoke, or a write found the
// partition led by another broker or at another epoch).
func (f *Fence) Lost() bool { return f.lost.Load() }

// Revoke ends the tenure on this broker's side: every later write through
// the fence fails with ErrFenced without reaching etcd. A coordinator
// revokes its fence when it resigns the partition.
func (f *Fence) Revoke() { f.lost.Store(true) }

func (f *Fence) advance(rev int64) {
	for {
		cur := f.rev.Load()
		if rev <= cur || f.rev.CompareAndSwap(cur, rev) {
			return
		}
	}
}

func (f *Fence) fencedError() error {
	return fmt.Errorf("%w (partition %d at leader epoch %d)", ErrFenced, f.claim.Partition, f.claim.LeaderEpoch)
}

// Txn commits ops if cmps hold and the fence holds, in one etcd
// transaction. It returns the response (Succeeded false: cmps did not
// hold, nothing written, the response's only operation is the read of the
// state key) or ErrFenced when the partition has moved (the fence is lost
// from then on), ErrBusy, or the etcd error. ops must not need an Else
// branch: Txn uses it to read the state key.
func (f *Fence) Txn(ctx context.Context, cmps []clientv3.Cmp, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	key := f.claim.Key
	for attempt := 0; ; attempt++ {
		if f.lost.Load() {
			return nil, f.fencedError()
		}
		rev := f.rev.Load()
		all := append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}, cmps...)
		resp, err := f.cli.Txn(ctx).If(all...).Then(ops...).Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return nil, err
		}
		if resp.Succeeded {
			return resp, nil
		}
		kvs := resp.Responses[0].GetResponseRange().GetKvs()
		if len(kvs) == 1 && kvs[0].ModRevision == rev {
			return resp, nil // the fence held: the caller's compares failed
		}
		ok, mod := f.claim.holds(kvs)
		if !ok {
			f.lost.Store(true)
			return nil, f.fencedError()
		}
		// Same leader, same epoch: the ISR (or the replicas) changed.
		f.advance(mod)
		if attempt+1 >= maxRefresh {
			return nil, fmt.Errorf("%w: %s", ErrBusy, key)
		}
	}
}

// acquireBatch bounds the reads of one Acquire transaction (etcd takes at
// most 128 operations per transaction by default).
const acquireBatch = 100

// Acquire checks in etcd that each claim holds (its state key names the
// claim's broker as leader at the claim's epoch) and returns a fence for
// each claim that does (nil for the others, which have moved on: the
// Tracker will say so) and a revision at or after every read. The caller
// loads the partitions' keys at that revision: it then sees every write of
// every earlier tenure (see doc.go). Reading at a later revision is safe
// too.
func Acquire(ctx context.Context, cli *clientv3.Client, claims []Claim) ([]*Fence, int64, error) {
	fences := make([]*Fence, len(claims))
	var rev int64
	for start := 0; start < len(claims); start += acquireBatch {
		batch := claims[start:min(start+acquireBatch, len(claims))]
		ops := make([]clientv3.Op, len(batch))
		for i, c := range batch {
			ops[i] = clientv3.OpGet(c.Key)
		}
		resp, err := cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, 0, fmt.Errorf("placement: read partition states: %w", err)
		}
		rev = max(rev, resp.Header.Revision)
		for i, c := range batch {
			ok, mod := c.holds(resp.Responses[i].GetResponseRange().GetKvs())
			if !ok {
				continue
			}
			f := &Fence{cli: cli, claim: c}
			f.rev.Store(mod)
			fences[start+i] = f
		}
	}
	return fences, rev, nil
}
