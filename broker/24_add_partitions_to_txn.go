package broker

// AddPartitionsToTxn (key 24), v0-v5, with samsa.transactions.enable.
//
//	v0: the producer adds partitions to its transaction before it
//	    produces to them.
//	v1: same as v0 (throttling).
//	v2: PRODUCER_FENCED may be returned (before: INVALID_PRODUCER_EPOCH).
//	v3: flexible.
//	v4: from brokers only (CLUSTER_ACTION, KIP-890 part 1): several
//	    transactions per request, a top-level error, and verify_only: a
//	    partition leader asks whether the partitions are in the
//	    producer's ongoing transaction before it appends a transactional
//	    batch (TRANSACTION_ABORTABLE when not).
//	v5: same as v4; an add (verify_only false) is for a transaction
//	    version 2 producer (KIP-890 part 2: Produce v12+ adds the
//	    partition through its leader).
//
// v0-v3 need WRITE on the transactional id and on every topic (internal
// topics are refused); a partition that fails a check gets its error and
// the others OPERATION_NOT_ATTEMPTED, as Kafka answers. The coordinator
// (coordinator/txn) applies one code to every partition of a transaction.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/txn"
)

func init() { register(kmsg.AddPartitionsToTxn, 0, 5, handleAddPartitionsToTxn).txn() }

// txnAddTopic is one topic's partitions of an AddPartitionsToTxn
// transaction, and their codes once decided.
type txnAddTopic struct {
	topic      string
	partitions []int32
	codes      []int16
}

func handleAddPartitionsToTxn(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	ctx, cancel := context.WithTimeout(rc.ctx, txnRequestTimeout)
	defer cancel()

	if req.Version < 4 {
		topics := make([]txnAddTopic, len(req.Topics))
		for i, t := range req.Topics {
			topics[i] = txnAddTopic{topic: t.Topic, partitions: t.Partitions}
		}
		b.addPartitionsToTxn(ctx, rc, req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch, false, topics)
		for _, t := range topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.topic
			for j, p := range t.partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, t.codes[j]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	if !b.authorizeCluster(rc, kmsg.ACLOperationClusterAction) { // acl.go
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	for _, tx := range req.Transactions {
		topics := make([]txnAddTopic, len(tx.Topics))
		for i, t := range tx.Topics {
			topics[i] = txnAddTopic{topic: t.Topic, partitions: t.Partitions}
		}
		b.addPartitionsToTxn(ctx, rc, req.Version, tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly, topics)
		rtx := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rtx.TransactionalID = tx.TransactionalID
		for _, t := range topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			rt.Topic = t.topic
			for j, p := range t.partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				rp.Partition, rp.ErrorCode = p, t.codes[j]
				rt.Partitions = append(rt.Partitions, rp)
			}
			rtx.Topics = append(rtx.Topics, rt)
		}
		resp.Transactions = append(resp.Transactions, rtx)
	}
	return resp
}

// addPartitionsToTxn decides one transaction of the request and fills
// each topic's codes.
func (b *Broker) addPartitionsToTxn(ctx context.Context, rc *reqCtx, version int16, id string, producerID int64, producerEpoch int16,
	verifyOnly bool, topics []txnAddTopic) {
	for i := range topics {
		topics[i].codes = make([]int16, len(topics[i].partitions))
	}
	fill := func(code int16) {
		for i := range topics {
			for j := range topics[i].codes {
				topics[i].codes[j] = code
			}
		}
	}
	if version < 4 && !b.authorize(rc, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, id) {
		fill(kerr.TransactionalIDAuthorizationFailed.Code)
		return
	}
	snap := b.store.Snapshot()
	failed := false
	for i := range topics {
		t := &topics[i]
		// Clients (v0-v3) need WRITE on each topic and may not add an
		// internal one; brokers (v4+) verify for their own produce path.
		authorized := version >= 4
		if !authorized {
			tm := snap.Topic(t.topic)
			authorized = (tm == nil || !tm.Info.Internal) && b.authorize(rc, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, t.topic)
		}
		for j, p := range t.partitions {
			switch _, ok := snap.Partition(t.topic, p); {
			case !authorized:
				t.codes[j], failed = kerr.TopicAuthorizationFailed.Code, true
			case !ok:
				t.codes[j], failed = kerr.UnknownTopicOrPartition.Code, true
			}
		}
	}
	if failed {
		for i := range topics {
			for j, c := range topics[i].codes {
				if c == 0 {
					topics[i].codes[j] = kerr.OperationNotAttempted.Code
				}
			}
		}
		return
	}
	if e := b.txnError(id); e != nil { // txn_coordinator.go
		fill(e.Code)
		return
	}
	var tps []txn.TopicPartition
	for _, t := range topics {
		for _, p := range t.partitions {
			tps = append(tps, txn.TopicPartition{Topic: t.topic, Partition: p})
		}
	}
	args := txn.AddPartitionsArgs{TransactionalID: id, ProducerID: producerID, ProducerEpoch: producerEpoch, Partitions: tps}
	if verifyOnly {
		codes := b.txn.coord.VerifyPartitions(args)
		k := 0
		for i := range topics {
			for j := range topics[i].codes {
				topics[i].codes[j] = b.txnCode(id, codes[k])
				k++
			}
		}
		return
	}
	if version >= 5 {
		args.TransactionVersion = txn.TV2
	}
	fill(fencedCode(b.txnCode(id, b.txn.coord.AddPartitions(ctx, args)), version < 2))
}
