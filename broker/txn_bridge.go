package broker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/txn"
)

// The produce path's bridge to the transaction coordinator (KIP-890):
// before a partition leader appends a transactional batch it asks the
// producer's transaction coordinator (here, or on the broker that leads
// the transactional id's __transaction_state partition) whether the
// partition is part of the producer's ongoing transaction; with
// transaction version 2 (Produce v12+) add is set and the coordinator adds
// the partition itself (the client sends no AddPartitionsToTxn).

// txnVerifyPartition returns nil when the batch may be appended, else the
// error to answer the producer with. The coordinator's answer is mapped as
// Kafka's produce path maps it (ReplicaManager's transaction verification
// and AddPartitionsToTxnManager): PRODUCER_FENCED becomes
// INVALID_PRODUCER_EPOCH; TRANSACTION_ABORTABLE stays for a TV2 producer
// (add, Produce v12+, which knows it) and is INVALID_TXN_STATE for a
// verification (older clients); the retriable coordinator errors
// (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS,
// CONCURRENT_TRANSACTIONS) and a coordinator that cannot be reached become
// NOT_ENOUGH_REPLICAS, which every producer retries without refreshing its
// metadata.
func (b *Broker) txnVerifyPartition(ctx context.Context, transactionalID string, producerID int64, producerEpoch int16,
	topic string, partition int32, add bool) *kerr.Error {
	if b.txn.coord == nil {
		return kerr.TransactionalIDAuthorizationFailed // the gate is off
	}
	ctx, cancel := context.WithTimeout(ctx, txnRequestTimeout)
	defer cancel()
	// CONCURRENT_TRANSACTIONS usually means the producer's previous
	// transaction is still writing its markers (a TV2 producer produces
	// right after EndTxn): ask again a few times before answering, as
	// Kafka's broker does (add.partitions.to.txn.retry.backoff.ms 20,
	// .max.ms 100), so that the producer need not back off.
	deadline := time.Now().Add(verifyRetryMax)
	for {
		code := b.verifyOnce(ctx, transactionalID, producerID, producerEpoch, topic, partition, add)
		if code != kerr.ConcurrentTransactions.Code || time.Now().Add(verifyRetryBackoff).After(deadline) {
			return verifyError(code)
		}
		select {
		case <-ctx.Done():
			return verifyError(code)
		case <-time.After(verifyRetryBackoff):
		}
	}
}

// Kafka's add.partitions.to.txn.retry.backoff.ms and
// add.partitions.to.txn.retry.backoff.max.ms defaults.
const (
	verifyRetryBackoff = 20 * time.Millisecond
	verifyRetryMax     = 100 * time.Millisecond
)

// verifyOnce asks the coordinator once and returns its code.
func (b *Broker) verifyOnce(ctx context.Context, transactionalID string, producerID int64, producerEpoch int16,
	topic string, partition int32, add bool) int16 {
	var code int16
	info, e, _ := b.coordinatorFor(transactionalID, 1)
	switch {
	case e != nil:
		code = e.Code
	case info.ID == b.cfg.BrokerID:
		args := txn.AddPartitionsArgs{TransactionalID: transactionalID, ProducerID: producerID, ProducerEpoch: producerEpoch,
			Partitions: []txn.TopicPartition{{Topic: topic, Partition: partition}}}
		if add {
			args.TransactionVersion = txn.TV2
			code = b.txn.coord.AddPartitions(ctx, args)
		} else {
			code = b.txn.coord.VerifyPartitions(args)[0]
		}
	default:
		code = b.verifyRemote(ctx, info.ID, transactionalID, producerID, producerEpoch, topic, partition, add)
	}
	return code
}

// verifyRemote asks the coordinator broker id with AddPartitionsToTxn v4+
// (v5 to add for a TV2 producer, as Kafka's brokers send it).
func (b *Broker) verifyRemote(ctx context.Context, id int32, transactionalID string, producerID int64, producerEpoch int16,
	topic string, partition int32, add bool) int16 {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = transactionalID, producerID, producerEpoch, !add
	t := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	t.Topic, t.Partitions = topic, []int32{partition}
	tx.Topics = append(tx.Topics, t)
	req.Transactions = append(req.Transactions, tx)
	minV := int16(4)
	if add {
		minV = 5
	}
	kresp, err := b.txn.peers.request(ctx, id, req, minV, 5)
	if err != nil {
		b.log.Debug().Err(err).Int32("coordinator", id).Str("transactional_id", transactionalID).
			Msg("cannot reach the transaction coordinator to verify a transactional produce")
		return kerr.CoordinatorNotAvailable.Code
	}
	resp := kresp.(*kmsg.AddPartitionsToTxnResponse)
	if resp.ErrorCode != 0 {
		b.log.Warn().Int16("error_code", resp.ErrorCode).Int32("coordinator", id).
			Msg("the transaction coordinator refused a partition verification")
		return kerr.CoordinatorNotAvailable.Code
	}
	for _, rt := range resp.Transactions {
		if rt.TransactionalID != transactionalID {
			continue
		}
		for _, rtt := range rt.Topics {
			for _, rp := range rtt.Partitions {
				if rtt.Topic == topic && rp.Partition == partition {
					return rp.ErrorCode
				}
			}
		}
	}
	return kerr.CoordinatorNotAvailable.Code
}

// verifyError maps a coordinator code for the produce path.
func verifyError(code int16) *kerr.Error {
	switch code {
	case 0:
		return nil
	case kerr.ProducerFenced.Code:
		return kerr.InvalidProducerEpoch
	case kerr.TransactionAbortable.Code:
		// Callers answer INVALID_TXN_STATE to versions that do not know
		// it (Produce before v11, TxnOffsetCommit before v4).
		return kerr.TransactionAbortable
	case kerr.NotCoordinator.Code, kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code,
		kerr.ConcurrentTransactions.Code, kerr.RequestTimedOut.Code:
		return kerr.NotEnoughReplicas
	}
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return e
	}
	return kerr.UnknownServerError
}
