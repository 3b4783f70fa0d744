package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
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
