package broker

import "context"

// completeTxnOffsets is what a transaction marker means for a partition of
// __consumer_offsets (Kafka's GroupCoordinator.onTransactionCompleted):
// the transactional offset commits producerID made to the groups of that
// partition become visible (commit) or are dropped (abort). The marker
// writer calls it for every __consumer_offsets partition of a transaction.
func (b *Broker) completeTxnOffsets(ctx context.Context, offsetsPartition int32, producerID int64, producerEpoch int16, commit bool) error {
	return nil // the data-side work: pending transactional offsets
}
