package broker

// EndTxn (key 26), v0-v5, with samsa.transactions.enable.
//
//	v0: commits or aborts the producer's transaction: answered once the
//	    coordinator has recorded PrepareCommit / PrepareAbort; the markers
//	    are written afterwards (txn_markers.go).
//	v1: same as v0 (throttling).
//	v2: PRODUCER_FENCED may be returned (before: INVALID_PRODUCER_EPOCH).
//	v3: flexible.
//	v4: TRANSACTION_ABORTABLE may be returned (KIP-890 part 1).
//	v5: transaction version 2 (KIP-890 part 2): every end bumps the
//	    producer epoch, and the response carries the producer id and
//	    epoch the producer continues with (a new id once the epoch runs
//	    out). Clients send v5 only when transaction.version is finalized
//	    at 2 (features.go), which the broker does only with the gate on.
//
// Needs WRITE on the transactional id.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/txn"
)

func init() { register(kmsg.EndTxn, 0, 5, handleEndTxn).txn() }

func handleEndTxn(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if !b.authorize(rc, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, req.TransactionalID) { // acl.go
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
	}
	if e := b.txnError(req.TransactionalID); e != nil { // txn_coordinator.go
		resp.ErrorCode = e.Code
		return resp
	}
	tv := txn.TV0
	if req.Version >= 5 {
		tv = txn.TV2
	}
	ctx, cancel := context.WithTimeout(rc.ctx, txnRequestTimeout)
	defer cancel()
	res := b.txn.coord.EndTxn(ctx, txn.EndTxnArgs{
		TransactionalID: req.TransactionalID, ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch,
		Commit: req.Commit, TransactionVersion: tv,
	})
	resp.ErrorCode = fencedCode(b.txnCode(req.TransactionalID, res.ErrorCode), req.Version < 2)
	if res.ErrorCode == 0 && req.Version >= 5 {
		resp.ProducerID, resp.ProducerEpoch = res.ProducerID, res.ProducerEpoch
	}
	return resp
}
