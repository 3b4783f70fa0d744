package broker

// DescribeTransactions (key 65), v0, with samsa.transactions.enable
// (KIP-664; kafka-transactions.sh describe, Admin.describeTransactions).
//
//	v0: the state of each transactional id this broker coordinates:
//	    state name, timeout, start time (-1 when none), producer id and
//	    epoch, partitions. NOT_COORDINATOR for ids coordinated elsewhere,
//	    TRANSACTIONAL_ID_NOT_FOUND for unknown ones.
//
// Needs DESCRIBE on each transactional id; topics the principal may not
// describe are left out of the partitions, as Kafka leaves them out.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeTransactions, 0, 0, handleDescribeTransactions).txn() }

func handleDescribeTransactions(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		// Kafka leaves the fields of an entry it cannot describe at the
		// schema's defaults, 0.
		switch {
		case !b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTransactionalId, id): // acl.go
			st.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		default:
			if e := b.txnError(id); e != nil { // txn_coordinator.go
				st.ErrorCode = e.Code
				break
			}
			md, code := b.txn.coord.DescribeTransaction(id)
			if code != 0 {
				st.ErrorCode = b.txnCode(id, code)
				break
			}
			st.State = md.State.String()
			st.TimeoutMillis = md.TxnTimeoutMs
			st.StartTimestamp = md.TxnStartTimestamp
			st.ProducerID, st.ProducerEpoch = md.ProducerID, md.ProducerEpoch
			allowed := map[string]bool{}
			for _, tp := range md.Partitions { // sorted by topic
				ok, seen := allowed[tp.Topic]
				if !seen {
					ok = b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, tp.Topic)
					allowed[tp.Topic] = ok
				}
				if !ok {
					continue
				}
				if n := len(st.Topics); n == 0 || st.Topics[n-1].Topic != tp.Topic {
					t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
					t.Topic = tp.Topic
					st.Topics = append(st.Topics, t)
				}
				t := &st.Topics[len(st.Topics)-1]
				t.Partitions = append(t.Partitions, tp.Partition)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp
}
