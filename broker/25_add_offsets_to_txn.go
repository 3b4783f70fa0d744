package broker

// AddOffsetsToTxn (key 25), v0-v4, with samsa.transactions.enable.
//
//	v0: adds the group's __consumer_offsets partition to the producer's
//	    transaction, before TxnOffsetCommit (its markers then complete
//	    the group's transactional offset commits).
//	v1: same as v0 (throttling).
//	v2: PRODUCER_FENCED may be returned (before: INVALID_PRODUCER_EPOCH).
//	v3: flexible.
//	v4: same as v3 (KIP-890 era; transaction version 2 clients skip
//	    this request: TxnOffsetCommit v5 adds the partition).
//
// Needs WRITE on the transactional id and READ on the group, as Kafka
// checks them, in that order.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/txn"
)

func init() { register(kmsg.AddOffsetsToTxn, 0, 4, handleAddOffsetsToTxn).txn() }

func handleAddOffsetsToTxn(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch {
	case !b.authorize(rc, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, req.TransactionalID): // acl.go
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
	case !b.authorize(rc, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, req.Group):
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	if e := b.txnError(req.TransactionalID); e != nil { // txn_coordinator.go
		resp.ErrorCode = e.Code
		return resp
	}
	ctx, cancel := context.WithTimeout(rc.ctx, txnRequestTimeout)
	defer cancel()
	code := b.txn.coord.AddOffsets(ctx, txn.AddOffsetsArgs{
		TransactionalID: req.TransactionalID, ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch,
		Group: req.Group, TransactionVersion: txn.TV0, // Kafka adds it as TV0 whatever the client's version
	})
	resp.ErrorCode = fencedCode(b.txnCode(req.TransactionalID, code), req.Version < 2)
	return resp
}
