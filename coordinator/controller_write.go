package coordinator

// The controller's writes. Each is an etcd transaction that compares, on
// top of its own CAS, this broker's election key (controller/<lease-hex>)
// with the create revision it had when the broker won: while that key
// exists with that revision this broker is the controller (keys created
// later have higher revisions), so a write of a deposed controller, even
// one already in flight when it lost the election, fails and changes
// nothing.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotController: a controller write was refused because this broker
// does not hold the controller election (any more).
var ErrNotController = errors.New("coordinator: not the controller")

// brokerDirsDir holds, per broker id, the directory id the broker last
// registered with (broker-dirs/<id>, not leased, written by the
// controller). '-' sorts before 's': the keys sit just before brokers/.
const brokerDirsDir = "broker-dirs"

// brokerDirRecord is the value stored at broker-dirs/<id>.
type brokerDirRecord struct {
	DirectoryID string `json:"directory_id"`
}

// electionFence is the election key this broker won the controller role
// with.
type electionFence struct {
	key string
	rev int64 // the key's create revision
}

func (f electionFence) cmp() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(f.key), "=", f.rev)
}

func (s *Store) setFence(f electionFence) {
	s.fenceMu.Lock()
	s.fence = f
	s.fenceMu.Unlock()
}

// controllerFence returns the election fence, or ErrNotController when
// this broker is not the controller.
func (s *Store) controllerFence() (electionFence, error) {
	if err := s.checkOpen(); err != nil {
		return electionFence{}, err
	}
	s.fenceMu.Lock()
	f := s.fence
	s.fenceMu.Unlock()
	if f.key == "" || !s.isController.Load() {
		return electionFence{}, ErrNotController
	}
	return f, nil
}

// PartitionUpdate is one partition state the controller writes.
type PartitionUpdate struct {
	TopicID   TopicID
	Partition int32
	// Expected is the state the decision was made on, from the Snapshot:
	// its ModRevision is compared (0: the key must be absent, for a
	// partition whose state is missing).
	Expected PartitionState
	// State is written with PartitionEpoch = Expected's + 1 (0 for a
	// missing key) and, when nil, Expected's Replicas.
	State PartitionState
}

// controllerBatch bounds the updates of one transaction: two compares
// each plus the fence stay below etcd's default 128 operations.
const controllerBatch = 60

// ControllerWrite writes partition states as the controller, in
// transactions of up to controllerBatch updates. Each update compares its
// key's mod revision with Expected.ModRevision (a missing key: that it is
// still missing and its topic still exists) and every transaction compares
// the election fence. It returns one error per update: nil (written),
// ErrConflict (the state changed since the Snapshot: decide again on a
// newer one), ErrNotController (nothing more is written), or the etcd
// error; and the revision of the last transaction that wrote something.
func (s *Store) ControllerWrite(ctx context.Context, updates []PartitionUpdate) (int64, []error) {
	errs := make([]error, len(updates))
	var rev int64
	for start := 0; start < len(updates); start += controllerBatch {
		end := min(start+controllerBatch, len(updates))
		r, err := s.controllerWriteBatch(ctx, updates[start:end], errs[start:end])
		rev = max(rev, r)
		if err != nil {
			for i := start; i < len(updates); i++ {
				if errs[i] == nil || i >= end {
					errs[i] = err
				}
			}
			return rev, errs
		}
	}
	return rev, errs
}

// controllerWriteBatch writes one batch. An update whose compare fails is
// marked ErrConflict and the rest committed again (the failure branch
// reads every key, so one retry finds all conflicts of the first try). A
// returned error applies to every update of the batch not yet written.
func (s *Store) controllerWriteBatch(ctx context.Context, batch []PartitionUpdate, errs []error) (int64, error) {
	type prepared struct {
		i    int
		key  string
		cmps []clientv3.Cmp
		put  clientv3.Op
		mod  int64 // expected mod revision
	}
	snap := s.Snapshot()
	var todo []prepared
	for i, u := range batch {
		key := s.partitionKey(u.TopicID, u.Partition)
		st := u.State
		if st.Replicas == nil {
			st.Replicas = u.Expected.Replicas
		}
		var cmps []clientv3.Cmp
		if u.Expected.ModRevision == 0 {
			meta := snap.TopicByID(u.TopicID)
			if meta == nil {
				errs[i] = fmt.Errorf("%w: partition %s/%d", ErrUnknownTopic, u.TopicID, u.Partition)
				continue
			}
			if st.Replicas == nil && int(u.Partition) < len(meta.Info.Replicas) {
				st.Replicas = slices.Clone(meta.Info.Replicas[u.Partition])
			}
			st.PartitionEpoch = 0
			cmps = []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0),
				clientv3.Compare(clientv3.CreateRevision(s.topicKey(meta.Info.Name)), ">", 0)}
		} else {
			st.PartitionEpoch = u.Expected.PartitionEpoch + 1
			cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", u.Expected.ModRevision)}
		}
		val, err := json.Marshal(st)
		if err != nil {
			errs[i] = fmt.Errorf("coordinator: encode partition state: %w", err)
			continue
		}
		todo = append(todo, prepared{i: i, key: key, cmps: cmps, put: clientv3.OpPut(key, string(val)), mod: u.Expected.ModRevision})
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		fence, err := s.controllerFence()
		if err != nil {
			return 0, err
		}
		cmps := []clientv3.Cmp{fence.cmp()}
		var puts, gets []clientv3.Op
		for _, p := range todo {
			cmps = append(cmps, p.cmps...)
			puts = append(puts, p.put)
			gets = append(gets, clientv3.OpGet(p.key))
		}
		resp, err := s.client.Txn(ctx).If(cmps...).Then(puts...).
			Else(append([]clientv3.Op{clientv3.OpGet(fence.key)}, gets...)...).Commit()
		if err != nil {
			return 0, fmt.Errorf("coordinator: controller write: %w", err)
		}
		if resp.Succeeded {
			return resp.Header.Revision, nil
		}
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 0 || kvs[0].CreateRevision != fence.rev {
			return 0, ErrNotController
		}
		if attempt > 0 {
			// The keys that compared equal a moment ago changed again:
			// let the caller decide on a newer Snapshot.
			return 0, fmt.Errorf("%w: partition states keep changing", ErrConflict)
		}
		var keep []prepared
		for j, p := range todo {
			kvs := resp.Responses[j+1].GetResponseRange().Kvs
			var mod int64
			if len(kvs) > 0 {
				mod = kvs[0].ModRevision
			}
			if mod != p.mod {
				errs[p.i] = fmt.Errorf("%w: partition %s/%d changed meanwhile", ErrConflict, batch[p.i].TopicID, batch[p.i].Partition)
				continue
			}
			keep = append(keep, p)
		}
		if len(keep) == len(todo) {
			// Every key is as expected, so the topic of a missing one
			// went: fail those.
			for _, p := range todo {
				if p.mod == 0 {
					errs[p.i] = fmt.Errorf("%w: topic of partition %s/%d deleted", ErrConflict, batch[p.i].TopicID, batch[p.i].Partition)
				}
			}
			keep = slices.DeleteFunc(keep, func(p prepared) bool { return p.mod == 0 })
		}
		todo = keep
	}
	return 0, nil
}

// ControllerRecordDirectory records, as the controller, the directory id
// broker registered with (broker-dirs/<id>). The controller records a new
// id only once the broker is out of every ISR and ELR: a new controller
// that finds the old id still recorded redoes that first.
func (s *Store) ControllerRecordDirectory(ctx context.Context, broker int32, directoryID string) (int64, error) {
	fence, err := s.controllerFence()
	if err != nil {
		return 0, err
	}
	val, err := json.Marshal(brokerDirRecord{DirectoryID: directoryID})
	if err != nil {
		return 0, fmt.Errorf("coordinator: encode directory record: %w", err)
	}
	resp, err := s.client.Txn(ctx).If(fence.cmp()).
		Then(clientv3.OpPut(s.Key(brokerDirsDir, strconv.Itoa(int(broker))), string(val))).Commit()
	if err != nil {
		return 0, fmt.Errorf("coordinator: record directory of broker %d: %w", broker, err)
	}
	if !resp.Succeeded {
		return 0, ErrNotController
	}
	return resp.Header.Revision, nil
}

// ControllerSetInternalAssignment replaces, as the controller, the replica
// assignment of an internal topic (one without logs: nothing has to be
// copied), comparing the topic key's mod revision with modRevision. The
// partition states follow on the controller's next pass (their Replicas
// are brought to the topic's).
func (s *Store) ControllerSetInternalAssignment(ctx context.Context, name string, replicas [][]int32) (int64, error) {
	if err := validateReplicas(replicas); err != nil {
		return 0, err
	}
	fence, err := s.controllerFence()
	if err != nil {
		return 0, err
	}
	t, modRev, err := s.getTopic(ctx, name)
	if err != nil {
		return 0, err
	}
	if !t.Internal {
		return 0, fmt.Errorf("coordinator: %s is not an internal topic", name)
	}
	if len(replicas) != len(t.Replicas) {
		return 0, fmt.Errorf("%w: %d partitions for %s, which has %d", ErrInvalidPartitions, len(replicas), name, len(t.Replicas))
	}
	t.Replicas = replicas
	val, err := json.Marshal(t)
	if err != nil {
		return 0, fmt.Errorf("coordinator: encode topic %s: %w", name, err)
	}
	key := s.topicKey(name)
	resp, err := s.client.Txn(ctx).
		If(fence.cmp(), clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
		Then(clientv3.OpPut(key, string(val))).
		Else(clientv3.OpGet(fence.key)).Commit()
	if err != nil {
		return 0, fmt.Errorf("coordinator: reassign %s: %w", name, err)
	}
	if !resp.Succeeded {
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 0 || kvs[0].CreateRevision != fence.rev {
			return 0, ErrNotController
		}
		return 0, fmt.Errorf("coordinator: reassign %s: %w", name, ErrConflict)
	}
	return resp.Header.Revision, nil
}
