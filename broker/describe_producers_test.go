package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeProducers: the partition's idempotent producers with their
// epoch and last sequence, no transaction; unknown partitions refused.
func TestDescribeProducers(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "dp", 2, nil)
	cl := newClient(t, addr)
	ip, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(testCtx(t), cl)
	if err != nil || ip.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %+v", err, ip)
	}
	if r := produceRaw(t, addr, "dp", testBatch(ip.ProducerID, ip.ProducerEpoch, 0, 3)); r.ErrorCode != 0 {
		t.Fatalf("produce: %d", r.ErrorCode)
	}
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = "dp", []int32{0, 1}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]kmsg.DescribeProducersResponseTopicPartition{}
	for _, p := range resp.Topics[0].Partitions {
		got[p.Partition] = p
	}
	p0 := got[0]
	if p0.ErrorCode != 0 || len(p0.ActiveProducers) != 1 {
		t.Fatalf("partition 0: %+v", p0)
	}
	ap := p0.ActiveProducers[0]
	if ap.ProducerID != ip.ProducerID || ap.ProducerEpoch != int32(ip.ProducerEpoch) || ap.LastSequence != 2 ||
		ap.LastTimestamp != 1_700_000_000_000 || ap.CoordinatorEpoch != -1 || ap.CurrentTxnStartOffset != -1 {
		t.Fatalf("producer %+v", ap)
	}
	if p1 := got[1]; p1.ErrorCode != 0 || len(p1.ActiveProducers) != 0 {
		t.Fatalf("partition 1: %+v", p1)
	}
	// kgo routes by leader and refuses partitions it does not know: raw.
	req.Topics[0].Partitions = []int32{7}
	if p7 := rawAt[*kmsg.DescribeProducersResponse](t, addr, req).Topics[0].Partitions[0]; p7.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("partition 7: %+v", p7)
	}
}

// TestDescribeProducersTxn: a transactional producer stays listed after
// its transactions end (transaction version 2 drops its batches with the
// epoch bump of every marker; Kafka still lists it, with no last
// sequence), with the open transaction's first offset while one is open;
// the partitions of __transaction_state, kept in etcd, answer with no
// producers rather than an error (kafka-transactions.sh find-hanging
// --broker-id asks for every partition of the broker).
func TestDescribeProducersTxn(t *testing.T) {
	_, addr := startTxnBroker(t)
	createTopic(t, addr, "dpt", 1, nil)
	ctx := testCtx(t)
	cl := txnClient(t, addr, "dpt-tx", "dpt")
	describe := func(topic string) kmsg.DescribeProducersResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrDescribeProducersRequest()
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, newClient(t, addr))
		if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("DescribeProducers %s: %v %+v", topic, err, resp)
		}
		return resp.Topics[0].Partitions[0]
	}
	for i := range 2 {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		p := describe("dpt")
		if p.ErrorCode != 0 || len(p.ActiveProducers) != 1 || p.ActiveProducers[0].CurrentTxnStartOffset != int64(2*i) {
			t.Fatalf("transaction %d open: %+v, want one producer with its transaction from offset %d", i, p, 2*i)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		// The marker is written once the commit has answered; wait for it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			p = describe("dpt")
			if p.ErrorCode == 0 && len(p.ActiveProducers) == 1 && p.ActiveProducers[0].CurrentTxnStartOffset == -1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("transaction %d committed: %+v, want the producer listed with no open transaction", i, p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if p := describe("__transaction_state"); p.ErrorCode != 0 || len(p.ActiveProducers) != 0 {
		t.Fatalf("__transaction_state-0: %+v, want no error and no producers", p)
	}
}
