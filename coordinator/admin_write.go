package coordinator

// Partition state writes decided on a Snapshot with the controller's rules
// for an admin request (ElectLeaders, AlterPartitionReassignments), by
// whichever broker received it, and the controller's writes that change a
// partition's replicas (reassignment completion).
//
// Why an admin request does not have to travel to the controller: the
// controller's rules are pure functions of a partition's state and of its
// replicas' registrations (coordinator/controller.go). AdminWrite's
// transaction compares every one of those inputs with what the Snapshot
// had — the partition key's mod revision (as the controller's own writes
// do) and, for every replica, the mod revision of its brokers/<id> key, or
// its absence — so it commits only if the controller, deciding on the
// state of the moment, would have come to the same result; any change in
// between fails it with ErrConflict and the request decides again on a
// newer Snapshot. That is a stronger guard than the controller's election
// fence, which proves only that the writer still holds the role, and it
// needs no round trip through the controller (nor a request queue in etcd
// that a controller failover would have to take over). The controller's
// concurrent writes to the same partition compare its mod revision too, so
// of two decisions on one state only one lands.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// AdminWrite writes partition states decided on snap for an admin request
// (see the file comment): every update's State (PartitionEpoch becomes
// Expected's + 1; nil Replicas keep Expected's) replaces a state whose key
// still has Expected.ModRevision, and every replica of Expected and State
// is registered as in snap. With assignment, the topic's assignment of
// each partition (TopicInfo.Replicas) becomes its new replicas in the same
// transaction (and the topic's configs must still be those snap has); all
// updates must then belong to one topic. Updates are
// written in as few transactions as etcd's limits allow; on ErrConflict
// (nothing of the failed transaction was written) the returned revision is
// etcd's at the failure: wait for it before deciding again.
func (s *Store) AdminWrite(ctx context.Context, snap *Snapshot, updates []PartitionUpdate, assignment bool) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	return s.writeStates(ctx, snap, updates, assignment, nil)
}

// ControllerWriteAssignment writes, as the controller, partition states of
// one topic whose replicas change (a reassignment's completion), with the
// topic's assignment of those partitions in the same transaction. Like
// ControllerWrite it compares the partition keys' mod revisions and the
// election fence (ErrNotController when this broker lost the role), but
// not the replicas' registrations: the controller's own decisions are made
// on its Snapshot like all its others.
func (s *Store) ControllerWriteAssignment(ctx context.Context, snap *Snapshot, updates []PartitionUpdate) (int64, error) {
	fence, err := s.controllerFence()
	if err != nil {
		return 0, err
	}
	return s.writeStates(ctx, snap, updates, true, &fence)
}

// writeStates writes updates in transactions within etcd's operation
// limits. It stops at the first transaction that fails.
func (s *Store) writeStates(ctx context.Context, snap *Snapshot, updates []PartitionUpdate, assignment bool, fence *electionFence) (int64, error) {
	if len(updates) == 0 {
		return 0, nil
	}
	if assignment {
		for _, u := range updates[1:] {
			if u.TopicID != updates[0].TopicID {
				return 0, fmt.Errorf("coordinator: an assignment write spans topics %s and %s", updates[0].TopicID, u.TopicID)
			}
		}
	}
	var last int64
	for start := 0; start < len(updates); {
		end := start + s.statesChunk(snap, updates[start:], assignment, fence)
		rev, err := s.writeStatesTxn(ctx, snap, updates[start:end], assignment, fence)
		if err != nil {
			return rev, err
		}
		last = rev
		start = end
	}
	return last, nil
}

// statesChunk is how many of updates (at least one) fit in one
// transaction: every compare and every put counts against etcd's
// maxTxnOps.
func (s *Store) statesChunk(snap *Snapshot, updates []PartitionUpdate, assignment bool, fence *electionFence) int {
	fixed := 0
	if fence != nil {
		fixed++
	}
	if assignment {
		fixed++ // the topic key: one compare, one put
	}
	brokers := map[int32]bool{}
	n := 0
	for _, u := range updates {
		if fence == nil {
			for _, r := range slices.Concat(u.Expected.Replicas, u.State.Replicas) {
				brokers[r] = true
			}
		}
		if n > 0 && fixed+n+1+len(brokers) > maxTxnOps {
			break
		}
		n++
	}
	return max(1, n)
}

// writeStatesTxn writes one chunk.
func (s *Store) writeStatesTxn(ctx context.Context, snap *Snapshot, batch []PartitionUpdate, assignment bool, fence *electionFence) (int64, error) {
	var cmps []clientv3.Cmp
	var puts []clientv3.Op
	if fence != nil {
		cmps = append(cmps, fence.cmp())
	}
	if assignment {
		meta := snap.TopicByID(batch[0].TopicID)
		if meta == nil {
			return 0, fmt.Errorf("%w: topic id %s", ErrUnknownTopic, batch[0].TopicID)
		}
		t, modRev, err := s.getTopic(ctx, meta.Info.Name)
		if err != nil {
			return 0, err
		}
		if t.ID != batch[0].TopicID {
			return 0, fmt.Errorf("%w: topic %s was deleted and created again", ErrConflict, t.Name)
		}
		if !maps.Equal(t.Configs, meta.Info.Configs) {
			// The decision used the configs snap has (unclean elections,
			// min.insync.replicas).
			return modRev, fmt.Errorf("%w: the configs of topic %s changed since the decision", ErrConflict, t.Name)
		}
		t.Replicas = slices.Clone(t.Replicas)
		for _, u := range batch {
			if u.Partition < 0 || int(u.Partition) >= len(t.Replicas) || u.State.Replicas == nil {
				return 0, fmt.Errorf("%w: partition %s/%d is not in the topic's assignment", ErrConflict, t.Name, u.Partition)
			}
			t.Replicas[u.Partition] = slices.Clone(u.State.Replicas)
		}
		val, err := json.Marshal(t)
		if err != nil {
			return 0, fmt.Errorf("coordinator: encode topic %s: %w", t.Name, err)
		}
		key := s.topicKey(t.Name)
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", modRev))
		puts = append(puts, clientv3.OpPut(key, string(val)))
	}
	brokers := map[int32]bool{}
	for _, u := range batch {
		if u.Expected.ModRevision == 0 || u.Expected.PartitionEpoch < 0 {
			return 0, fmt.Errorf("%w: partition %s/%d has no state yet", ErrConflict, u.TopicID, u.Partition)
		}
		key := s.partitionKey(u.TopicID, u.Partition)
		st := u.State
		if st.Replicas == nil {
			st.Replicas = u.Expected.Replicas
		}
		st.PartitionEpoch = u.Expected.PartitionEpoch + 1
		val, err := json.Marshal(st)
		if err != nil {
			return 0, fmt.Errorf("coordinator: encode partition state: %w", err)
		}
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", u.Expected.ModRevision))
		puts = append(puts, clientv3.OpPut(key, string(val)))
		if fence == nil {
			for _, r := range slices.Concat(u.Expected.Replicas, st.Replicas) {
				brokers[r] = true
			}
		}
	}
	for _, r := range slices.Sorted(maps.Keys(brokers)) {
		// As snap has it: the same registration (a re-registration or an
		// update of it changes the mod revision), or still none.
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.Key("brokers", strconv.Itoa(int(r)))), "=", snap.Brokers[r].ModRevision))
	}
	var orElse []clientv3.Op
	if fence != nil {
		orElse = append(orElse, clientv3.OpGet(fence.key))
	}
	resp, err := s.client.Txn(ctx).If(cmps...).Then(puts...).Else(orElse...).Commit()
	if err != nil {
		return 0, fmt.Errorf("coordinator: write partition states: %w", err)
	}
	if !resp.Succeeded {
		if fence != nil {
			if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 0 || kvs[0].CreateRevision != fence.rev {
				return resp.Header.Revision, ErrNotController
			}
		}
		return resp.Header.Revision, fmt.Errorf("%w: a partition state, the topic or a replica's registration changed since the decision", ErrConflict)
	}
	return resp.Header.Revision, nil
}
