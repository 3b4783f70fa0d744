package broker

// ListTransactions (key 66), v0-v2, with samsa.transactions.enable
// (KIP-664; kafka-transactions.sh list, Admin.listTransactions).
//
//	v0: the transactions this broker coordinates, filtered by state
//	    names and producer ids; unknown state names are returned in
//	    unknown_state_filters.
//	v1: a duration filter (KIP-994): only transactions running longer
//	    than it (< 0: all).
//	v2: a transactional id pattern (KIP-1152), a regular expression the
//	    whole id must match; INVALID_REGULAR_EXPRESSION when it does not
//	    compile.
//
// Lists only the transactional ids the principal may DESCRIBE.

import (
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/txn"
)

func init() { register(kmsg.ListTransactions, 0, 2, handleListTransactions).txn() }

func handleListTransactions(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	if b.txn.coord == nil || !b.leaseValid() {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	f := txn.ListFilter{States: req.StateFilters, ProducerIDs: req.ProducerIDFilters}
	if req.Version >= 1 {
		f.MinDurationMs, f.HasDuration = req.DurationFilterMillis, true
	}
	if req.Version >= 2 && req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		re, err := regexp.Compile(`^(?:` + *req.TransactionalIDPattern + `)$`)
		if err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			return resp
		}
		f.Pattern = re
	}
	listed, unknown, code := b.txn.coord.ListTransactions(f)
	resp.ErrorCode = code
	resp.UnknownStateFilters = unknown
	for _, l := range listed {
		if !b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTransactionalId, l.TransactionalID) { // acl.go
			continue
		}
		st := kmsg.NewListTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.TransactionState = l.TransactionalID, l.ProducerID, l.State.String()
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp
}
