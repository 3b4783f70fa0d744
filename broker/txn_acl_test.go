package broker

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTxnACLs: the transaction APIs against the ACL authorizer, as Kafka
// checks them: a transactional producer needs WRITE on its transactional
// id (InitProducerId, AddPartitionsToTxn, EndTxn refuse it with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED otherwise) and WRITE on the topic;
// DescribeTransactions and ListTransactions need DESCRIBE on the id.
func TestTxnACLs(t *testing.T) {
	_, client := aclBroker(t)
	ctx := adminCtxT(t)
	admin := kadm.NewClient(client("admin"))
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	mustACLs(t, admin, kadm.NewACLs().Allow("User:alice").Topics("orders").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))

	// Without an ACL on her transactional id, alice cannot even find its
	// coordinator (FindCoordinator checks DESCRIBE on the id); sent to
	// the broker directly, InitProducerId is refused.
	alice := client("alice")
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorType, fc.CoordinatorKeys = 1, []string{"tx-alice"}
	if resp, err := fc.RequestWith(ctx, alice); err != nil || len(resp.Coordinators) != 1 ||
		resp.Coordinators[0].ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("alice finds her transaction coordinator without an ACL: %v %+v", err, resp)
	}
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID = kmsg.StringPtr("tx-alice")
	init.TransactionTimeoutMillis = 60000
	resp, err := alice.Broker(1).Request(ctx, init)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.InitProducerIDResponse).ErrorCode; code != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("alice's InitProducerId without WRITE on her transactional id: error %d, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", code)
	}

	mustACLs(t, admin, kadm.NewACLs().Allow("User:alice").TransactionalIDs("tx-alice").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	producer := client("alice", kgo.TransactionalID("tx-alice"), kgo.DefaultProduceTopic("orders"))
	if err := producer.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("o-1")}).FirstErr(); err != nil {
		t.Fatalf("alice's transactional produce: %v", err)
	}
	// Bob may not end, describe or list alice's transaction.
	bob := client("bob")
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "tx-alice", 0, 0, false
	// Sent to the broker directly: kgo would ask FindCoordinator first,
	// which refuses bob already.
	if resp, err := bob.Broker(1).Request(ctx, end); err != nil || resp.(*kmsg.EndTxnResponse).ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("bob ends alice's transaction: %v %+v, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", err, resp)
	}
	desc := kmsg.NewPtrDescribeTransactionsRequest()
	desc.TransactionalIDs = []string{"tx-alice"}
	if r, err := bob.Broker(1).Request(ctx, desc); err != nil || len(r.(*kmsg.DescribeTransactionsResponse).TransactionStates) != 1 ||
		r.(*kmsg.DescribeTransactionsResponse).TransactionStates[0].ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("bob describes alice's transaction: %v %+v", err, r)
	}
	list := func(cl *kgo.Client) []string {
		t.Helper()
		resp, err := kmsg.NewPtrListTransactionsRequest().RequestWith(ctx, cl)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("ListTransactions: %v %+v", err, resp)
		}
		var ids []string
		for _, s := range resp.TransactionStates {
			ids = append(ids, s.TransactionalID)
		}
		return ids
	}
	if ids := list(bob); len(ids) != 0 {
		t.Fatalf("bob lists %v, want nothing", ids)
	}
	if ids := list(client("admin")); len(ids) != 1 || ids[0] != "tx-alice" {
		t.Fatalf("the super user lists %v", ids)
	}
	if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("alice commits: %v", err)
	}

	// Alice may not add a topic she cannot write to her transaction.
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "secret"); err != nil {
		t.Fatal(err)
	}
	if err := producer.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	err = producer.ProduceSync(ctx, &kgo.Record{Topic: "secret", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice's transactional produce to secret: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}
