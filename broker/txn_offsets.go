package broker

import (
	"context"
	"errors"
)

// completeTxnOffsets is what a transaction marker means for a partition of
// __consumer_offsets (Kafka's GroupCoordinator.onTransactionCompleted):
// the transactional offset commits producerID made to the groups of that
// partition become visible (commit) or are dropped (abort). The marker
// writer calls it for every __consumer_offsets partition of a transaction.
// The pending offsets are in etcd (coordinator/group/txn_offsets.go), so a
// marker the writer retries, here or on the partition's next leader after
// a failover, completes what an earlier attempt left. The producer epoch
// is not checked: the transaction coordinator fenced the producer already
// (Kafka's completion does not look at it either).
func (b *Broker) completeTxnOffsets(ctx context.Context, offsetsPartition int32, producerID int64, producerEpoch int16, commit bool) error {
	if b.groups == nil {
		return errors.New("broker: complete transactional offsets: no group coordinator")
	}
	return b.groups.CompleteTxnOffsets(ctx, offsetsPartition, producerID, commit)
}
