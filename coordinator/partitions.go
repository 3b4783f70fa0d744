package coordinator

// Partition state changes after creation (leader election, ISR changes):
// every write is a CAS on the stored state.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// UpdatePartitionState CASes a partition's state: it succeeds only if the
// stored state's partition epoch equals expectedPartitionEpoch, and bumps the
// partition epoch itself (st.PartitionEpoch is ignored). A nil st.Replicas
// keeps the stored replicas.
//
// expectedPartitionEpoch -1 means "no state is stored": it writes the state
// of a partition whose key is missing (a topic creation that died half-way,
// see doc.go) with partition epoch 0. ErrUnknownTopic if the topic id is
// unknown or the partition is beyond its partition count, ErrConflict if
// the epoch differs or the state changed between read and write.
func (s *Store) UpdatePartitionState(ctx context.Context, topicID TopicID, partition int32, expectedPartitionEpoch int32, st PartitionState) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	key := s.partitionKey(topicID, partition)
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("coordinator: read partition %s/%d: %w", topicID, partition, err)
	}
	var cmps []clientv3.Cmp
	if len(resp.Kvs) == 0 {
		if expectedPartitionEpoch != -1 {
			return 0, fmt.Errorf("%w: no state for partition %s/%d", ErrUnknownTopic, topicID, partition)
		}
		// Only for a partition of an existing topic.
		meta := s.Snapshot().TopicByID(topicID)
		if meta == nil || int(partition) >= len(meta.Info.Replicas) || partition < 0 {
			return 0, fmt.Errorf("%w: partition %s/%d", ErrUnknownTopic, topicID, partition)
		}
		if st.Replicas == nil {
			st.Replicas = slices.Clone(meta.Info.Replicas[partition])
		}
		st.PartitionEpoch = 0
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0),
			// and the topic was not deleted meanwhile
			clientv3.Compare(clientv3.CreateRevision(s.topicKey(meta.Info.Name)), ">", 0))
	} else {
		var cur PartitionState
		if err := json.Unmarshal(resp.Kvs[0].Value, &cur); err != nil {
			return 0, fmt.Errorf("coordinator: decode partition %s/%d: %w", topicID, partition, err)
		}
		if cur.PartitionEpoch != expectedPartitionEpoch {
			return 0, fmt.Errorf("%w: partition %s/%d is at partition epoch %d, not %d",
				ErrConflict, topicID, partition, cur.PartitionEpoch, expectedPartitionEpoch)
		}
		if st.Replicas == nil {
			st.Replicas = cur.Replicas
		}
		st.PartitionEpoch = cur.PartitionEpoch + 1
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision))
	}
	val, err := json.Marshal(st)
	if err != nil {
		return 0, fmt.Errorf("coordinator: encode partition state: %w", err)
	}
	tresp, err := s.client.Txn(ctx).If(cmps...).Then(clientv3.OpPut(key, string(val))).Commit()
	if err != nil {
		return 0, fmt.Errorf("coordinator: write partition %s/%d: %w", topicID, partition, err)
	}
	if !tresp.Succeeded {
		return 0, fmt.Errorf("%w: partition %s/%d changed meanwhile", ErrConflict, topicID, partition)
	}
	return tresp.Header.Revision, nil
}
