package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The produce path's bridge to the transaction coordinator (KIP-890):
// before a partition leader appends a transactional batch it asks the
// producer's transaction coordinator (here, or on the broker that leads
// the transactional id's __transaction_state partition) whether the
// partition is part of the producer's ongoing transaction; with
// transaction version 2 (Produce v12+) add is set and the coordinator adds
// the partition itself (the client sends no AddPartitionsToTxn).

// txnVerifyPartition returns nil when the batch may be appended, else the
// error to answer the producer with (INVALID_TXN_STATE,
// INVALID_PRODUCER_EPOCH, PRODUCER_FENCED, TRANSACTION_ABORTABLE,
// CONCURRENT_TRANSACTIONS, NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE
// mapped to what Kafka's produce path answers...).
func (b *Broker) txnVerifyPartition(ctx context.Context, transactionalID string, producerID int64, producerEpoch int16,
	topic string, partition int32, add bool) *kerr.Error {
	return kerr.UnknownServerError // wired to coordinator/txn: the coordinator-side work
}
