package coordinator

// Topic keys (topics/<name>) and the initial partition states written with
// them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	// maxTxnOps is etcd's default --max-txn-ops.
	maxTxnOps = 128
	// maxTxnBytes stays well below etcd's default --max-request-bytes
	// (1.5 MiB), leaving room for keys, framing and compares.
	maxTxnBytes = 1 << 20
	// casRetries bounds read-modify-write loops whose write is safe to
	// repeat on a fresh read.
	casRetries = 10
)

// deletedTopicsDir holds the tombstones of deleted topics, by topic id.
// ('-' sorts before '/': the keys sit just before topics/.)
const deletedTopicsDir = "topics-deleted"

func (s *Store) topicKey(name string) string { return s.Key("topics", name) }

func (s *Store) tombstoneKey(id TopicID) string { return s.Key(deletedTopicsDir, id.String()) }

func (s *Store) partitionsPrefix(id TopicID) string { return s.Key("partitions", id.String()) + "/" }

func (s *Store) partitionKey(id TopicID, p int32) string {
	return s.Key("partitions", id.String(), strconv.Itoa(int(p)))
}

func validateReplicas(replicas [][]int32) error {
	if len(replicas) == 0 {
		return fmt.Errorf("%w: no partitions", ErrInvalidPartitions)
	}
	for p, rs := range replicas {
		if len(rs) == 0 {
			return fmt.Errorf("%w: partition %d has no replicas", ErrInvalidPartitions, p)
		}
	}
	return nil
}

// CreateTopic writes the topic and the initial state of each of its
// partitions (leader = the first live replica, epoch 0, ISR = the live
// replicas) in etcd transactions (chunked within etcd's limits), failing with
// ErrTopicExists if the name is taken. Returns the etcd revision of the write.
//
// A zero t.ID is replaced by NewTopicID(); read the id back from the
// Snapshot (after WaitForRevision). The first transaction writes the topic
// key and the first partitions; if a later one fails the topic exists with
// the rest of its partitions leaderless (see doc.go) and the error says so.
func (s *Store) CreateTopic(ctx context.Context, t TopicInfo) (int64, error) {
	return s.CreateTopicAt(ctx, t, nil)
}

// CreateTopicAt is CreateTopic with the initial leader epoch of each
// partition (nil: 0 for all). Adopting logs that already hold batches
// starts their epochs past the ones in the logs.
func (s *Store) CreateTopicAt(ctx context.Context, t TopicInfo, leaderEpochs []int32) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	if t.Name == "" {
		return 0, errors.New("coordinator: empty topic name")
	}
	if err := validateReplicas(t.Replicas); err != nil {
		return 0, err
	}
	if t.ID.IsZero() {
		t.ID = NewTopicID()
	}
	val, err := json.Marshal(t)
	if err != nil {
		return 0, fmt.Errorf("coordinator: encode topic %s: %w", t.Name, err)
	}
	key := s.topicKey(t.Name)
	if leaderEpochs != nil && len(leaderEpochs) != len(t.Replicas) {
		return 0, fmt.Errorf("coordinator: %d leader epochs for %d partitions", len(leaderEpochs), len(t.Replicas))
	}
	puts, err := s.partitionPuts(t.ID, 0, t.Replicas, leaderEpochs)
	if err != nil {
		return 0, err
	}
	first := clientv3.OpPut(key, string(val))
	rev, err := s.writeChunked(ctx, clientv3.Compare(clientv3.CreateRevision(key), "=", 0), first, len(key)+len(val), puts)
	if errors.Is(err, errFirstCompareFailed) {
		return 0, fmt.Errorf("%w: %s", ErrTopicExists, t.Name)
	}
	if err != nil {
		return rev, fmt.Errorf("coordinator: create topic %s: %w", t.Name, err)
	}
	return rev, nil
}

// partitionPuts encodes the initial states of partitions from, from+1, …,
// with the given leader epochs (nil: 0).
func (s *Store) partitionPuts(id TopicID, from int32, replicas [][]int32, leaderEpochs []int32) ([]sizedOp, error) {
	snap := s.Snapshot()
	ops := make([]sizedOp, len(replicas))
	for i, rs := range replicas {
		p := from + int32(i)
		st := initialStateFor(rs, func(b int32) ReplicaHealth { return snap.ReplicaHealth(b, id, p) })
		if leaderEpochs != nil {
			st.LeaderEpoch = leaderEpochs[i]
		}
		b, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("coordinator: encode partition state: %w", err)
		}
		k := s.partitionKey(id, p)
		ops[i] = sizedOp{op: clientv3.OpPut(k, string(b)), size: len(k) + len(b)}
	}
	return ops, nil
}

type sizedOp struct {
	op   clientv3.Op
	size int
}

var errFirstCompareFailed = errors.New("first compare failed")

// writeChunked commits first plus as many of rest as fit in one
// transaction guarded by cmp, then the remaining ops in further
// transactions guarded by "the key written by first still has the mod
// revision of the first transaction". It returns the revision of the last
// transaction, errFirstCompareFailed if cmp failed, and ErrConflict if the
// key changed between chunks.
func (s *Store) writeChunked(ctx context.Context, cmp clientv3.Cmp, first clientv3.Op, firstSize int, rest []sizedOp) (int64, error) {
	// chunk takes ops from rest within the budgets; force takes at least
	// one, so that a single oversized op still goes (and etcd says why).
	chunk := func(budgetOps, budgetBytes int, force bool) []clientv3.Op {
		var ops []clientv3.Op
		for len(rest) > 0 && len(ops) < budgetOps && ((force && len(ops) == 0) || budgetBytes >= rest[0].size) {
			ops = append(ops, rest[0].op)
			budgetBytes -= rest[0].size
			rest = rest[1:]
		}
		return ops
	}
	ops := append([]clientv3.Op{first}, chunk(maxTxnOps-1, maxTxnBytes-firstSize, false)...)
	resp, err := s.client.Txn(ctx).If(cmp).Then(ops...).Commit()
	if err != nil {
		return 0, err
	}
	if !resp.Succeeded {
		return 0, errFirstCompareFailed
	}
	rev := resp.Header.Revision
	guard := clientv3.Compare(clientv3.ModRevision(string(first.KeyBytes())), "=", rev)
	for len(rest) > 0 {
		ops := chunk(maxTxnOps-1, maxTxnBytes, true)
		resp, err := s.client.Txn(ctx).If(guard).Then(ops...).Commit()
		if err != nil {
			return rev, fmt.Errorf("%d partition states not written: %w", len(rest)+len(ops), err)
		}
		if !resp.Succeeded {
			return rev, fmt.Errorf("%d partition states not written, topic changed meanwhile: %w", len(rest)+len(ops), ErrConflict)
		}
		rev = resp.Header.Revision
	}
	return rev, nil
}

// getTopic reads topics/<name> from etcd (not the Snapshot: writers need
// the current mod revision).
func (s *Store) getTopic(ctx context.Context, name string) (TopicInfo, int64, error) {
	resp, err := s.client.Get(ctx, s.topicKey(name))
	if err != nil {
		return TopicInfo{}, 0, fmt.Errorf("coordinator: read topic %s: %w", name, err)
	}
	if len(resp.Kvs) == 0 {
		return TopicInfo{}, 0, fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	var t TopicInfo
	if err := json.Unmarshal(resp.Kvs[0].Value, &t); err != nil {
		return TopicInfo{}, 0, fmt.Errorf("coordinator: decode topic %s: %w", name, err)
	}
	t.Name = name
	return t, resp.Kvs[0].ModRevision, nil
}

// DeleteTopic removes the topic and its partition states and records its
// tombstone (topics-deleted/<id>, see TopicTombstone) in the same
// transaction, so that no broker ever sees the topic gone without the
// record that lets it delete the logs. ErrUnknownTopic if absent. Returns
// the revision.
func (s *Store) DeleteTopic(ctx context.Context, name string) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	for range casRetries {
		t, modRev, err := s.getTopic(ctx, name)
		if err != nil {
			return 0, err
		}
		key := s.topicKey(name)
		tomb, err := json.Marshal(TopicTombstone{Name: name, DeletedAtMs: time.Now().UnixMilli(),
			Partitions: len(t.Replicas), Pending: replicaBrokers(t.Replicas)})
		if err != nil {
			return 0, fmt.Errorf("coordinator: encode tombstone of %s: %w", name, err)
		}
		resp, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
			Then(clientv3.OpDelete(key), clientv3.OpDelete(s.partitionsPrefix(t.ID), clientv3.WithPrefix()),
				clientv3.OpPut(s.tombstoneKey(t.ID), string(tomb))).
			Commit()
		if err != nil {
			return 0, fmt.Errorf("coordinator: delete topic %s: %w", name, err)
		}
		if resp.Succeeded {
			return resp.Header.Revision, nil
		}
	}
	return 0, fmt.Errorf("coordinator: delete topic %s: %w", name, ErrConflict)
}

// replicaBrokers is the sorted set of brokers in an assignment.
func replicaBrokers(replicas [][]int32) []int32 {
	var out []int32
	for _, rs := range replicas {
		for _, r := range rs {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	slices.Sort(out)
	return out
}

// AckTopicDeletion records that broker holds no log of the deleted topic id
// any more: it leaves the tombstone's pending list, and the tombstone goes
// once nobody is pending. A missing tombstone is not an error.
func (s *Store) AckTopicDeletion(ctx context.Context, id TopicID, broker int32) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	key := s.tombstoneKey(id)
	for range casRetries {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("coordinator: read tombstone %s: %w", id, err)
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		kv := resp.Kvs[0]
		var t TopicTombstone
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return fmt.Errorf("coordinator: decode tombstone %s: %w", id, err)
		}
		i := slices.Index(t.Pending, broker)
		if i < 0 {
			return nil
		}
		t.Pending = slices.Delete(t.Pending, i, i+1)
		op := clientv3.OpDelete(key)
		if len(t.Pending) > 0 {
			val, err := json.Marshal(t)
			if err != nil {
				return fmt.Errorf("coordinator: encode tombstone %s: %w", id, err)
			}
			op = clientv3.OpPut(key, string(val))
		}
		tresp, err := s.client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).Then(op).Commit()
		if err != nil {
			return fmt.Errorf("coordinator: update tombstone %s: %w", id, err)
		}
		if tresp.Succeeded {
			return nil
		}
	}
	return fmt.Errorf("coordinator: update tombstone %s: %w", id, ErrConflict)
}

// AddPartitions appends partitions with the given replica assignments
// (CreatePartitions). Fails with ErrConflict if the topic changed meanwhile.
func (s *Store) AddPartitions(ctx context.Context, name string, newReplicas [][]int32) (int64, error) {
	return s.addPartitions(ctx, name, -1, newReplicas)
}

// AddPartitionsAt is AddPartitions for a topic that has from partitions
// (as the caller planned on): ErrConflict if it has another count, with
// the revision of the topic as read (wait for it before planning again). A
// change of the topic key that leaves the count (a config change, a
// reassignment's) is retried on a fresh read.
func (s *Store) AddPartitionsAt(ctx context.Context, name string, from int32, newReplicas [][]int32) (int64, error) {
	for range casRetries {
		rev, err := s.addPartitions(ctx, name, from, newReplicas)
		if !errors.Is(err, errTopicChanged) {
			return rev, err
		}
	}
	return 0, fmt.Errorf("coordinator: add partitions to %s: %w", name, ErrConflict)
}

// errTopicChanged: the topic key changed between the read and the write of
// addPartitions (wraps ErrConflict).
var errTopicChanged = fmt.Errorf("topic changed meanwhile: %w", ErrConflict)

// addPartitions appends newReplicas to the topic, which must have from
// partitions (-1: any).
func (s *Store) addPartitions(ctx context.Context, name string, from int32, newReplicas [][]int32) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	if err := validateReplicas(newReplicas); err != nil {
		return 0, err
	}
	t, modRev, err := s.getTopic(ctx, name)
	if err != nil {
		return 0, err
	}
	if from >= 0 && int32(len(t.Replicas)) != from {
		return modRev, fmt.Errorf("coordinator: add partitions to %s: it has %d partitions, not %d: %w", name, len(t.Replicas), from, ErrConflict)
	}
	from = int32(len(t.Replicas))
	t.Replicas = append(slices.Clone(t.Replicas), newReplicas...)
	val, err := json.Marshal(t)
	if err != nil {
		return 0, fmt.Errorf("coordinator: encode topic %s: %w", name, err)
	}
	puts, err := s.partitionPuts(t.ID, from, newReplicas, nil)
	if err != nil {
		return 0, err
	}
	key := s.topicKey(name)
	rev, err := s.writeChunked(ctx, clientv3.Compare(clientv3.ModRevision(key), "=", modRev),
		clientv3.OpPut(key, string(val)), len(key)+len(val), puts)
	if errors.Is(err, errFirstCompareFailed) {
		return 0, fmt.Errorf("coordinator: add partitions to %s: %w", name, errTopicChanged)
	}
	if err != nil {
		return rev, fmt.Errorf("coordinator: add partitions to %s: %w", name, err)
	}
	return rev, nil
}

// SetTopicConfigs replaces the topic's config overrides. Concurrent changes
// of the assignment are retried (the last config write wins, as in Kafka).
func (s *Store) SetTopicConfigs(ctx context.Context, name string, configs map[string]string) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	for range casRetries {
		t, modRev, err := s.getTopic(ctx, name)
		if err != nil {
			return 0, err
		}
		t.Configs = maps.Clone(configs)
		if len(t.Configs) == 0 {
			t.Configs = nil
		}
		val, err := json.Marshal(t)
		if err != nil {
			return 0, fmt.Errorf("coordinator: encode topic %s: %w", name, err)
		}
		key := s.topicKey(name)
		resp, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
			Then(clientv3.OpPut(key, string(val))).
			Commit()
		if err != nil {
			return 0, fmt.Errorf("coordinator: set configs of %s: %w", name, err)
		}
		if resp.Succeeded {
			return resp.Header.Revision, nil
		}
	}
	return 0, fmt.Errorf("coordinator: set configs of %s: %w", name, ErrConflict)
}
