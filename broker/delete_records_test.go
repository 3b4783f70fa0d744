package broker

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDeleteRecords: DeleteRecords moves the log start offset (durably:
// it survives a restart), answers the low watermark, takes -1 for the high
// watermark, refuses an offset past the high watermark, and refuses a
// compact-only topic (POLICY_VIOLATION, as Kafka does); consumers reading
// from the start begin at the new log start.
func TestDeleteRecords(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir)
	createTopic(t, addr, "dr", 1, map[string]*string{"internal.segment.bytes": sp("1000")})
	createTopic(t, addr, "drc", 1, map[string]*string{"cleanup.policy": sp("compact")})
	for i := 0; i < 100; i++ {
		produceRecords(t, addr, "dr", string(make([]byte, 50)))
	}
	cl, adm := adminTestClients(t, addr)
	res, err := adm.DeleteRecords(adminCtxT(t), kadm.Offsets{"dr": {0: {Topic: "dr", Partition: 0, At: 40}}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := res.Lookup("dr", 0)
	if r.Err != nil || r.LowWatermark != 40 {
		t.Fatalf("delete before 40: %+v", r)
	}
	start, err := adm.ListStartOffsets(adminCtxT(t), "dr")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := start.Lookup("dr", 0); o.Offset != 40 {
		t.Fatalf("earliest offset %d, want 40", o.Offset)
	}
	if recs := consumeN(t, addr, "dr", 1); recs[0].Offset != 40 {
		t.Fatalf("a consumer from the start reads offset %d first, want 40", recs[0].Offset)
	}
	// Past the high watermark; -1 (the high watermark); compact only.
	res, _ = adm.DeleteRecords(adminCtxT(t), kadm.Offsets{"dr": {0: {Topic: "dr", Partition: 0, At: 101}}})
	if r, _ := res.Lookup("dr", 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete past the high watermark: %+v", r)
	}
	res, _ = adm.DeleteRecords(adminCtxT(t), kadm.Offsets{"dr": {0: {Topic: "dr", Partition: 0, At: -1}}})
	if r, _ := res.Lookup("dr", 0); r.Err != nil || r.LowWatermark != 100 {
		t.Fatalf("delete up to the high watermark (-1): %+v", r)
	}
	if err := cl.ProduceSync(adminCtxT(t), &kgo.Record{Topic: "drc", Key: []byte("k"), Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 5000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = "drc"
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Offset = 1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(adminCtxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if e := resp.Topics[0].Partitions[0].ErrorCode; e != kerr.PolicyViolation.Code {
		t.Fatalf("delete records of a compact-only topic: %v, want POLICY_VIOLATION", kerr.ErrorForCode(e))
	}
	// The log start offset survives a restart.
	cl.Close()
	b.Close()
	_, addr2 := startTestBrokerIn(t, dir)
	_, adm2 := adminTestClients(t, addr2)
	start, _ = adm2.ListStartOffsets(adminCtxT(t), "dr")
	if o, _ := start.Lookup("dr", 0); o.Offset != 100 {
		t.Fatalf("earliest offset after a restart %d, want 100", o.Offset)
	}
}

// TestDeleteRecordsWaitsForFollowers: with replicas, the answer waits for
// the followers' log start offsets (the low watermark), which follow the
// leader's through their fetches; a follower that is down holds it back
// until the request times out (REQUEST_TIMED_OUT).
func TestDeleteRecordsWaitsForFollowers(t *testing.T) {
	c := newReplCluster(t, 3, "replica.lag.time.max.ms=600000")
	c.createTopic("drr", []int32{1, 2, 3}, map[string]string{"internal.segment.bytes": "2000"})
	for i := 0; i < 10; i++ {
		c.produceTo("drr", kgo.AllISRAcks(), string(make([]byte, 200)))
	}
	c.waitReplicated("drr", 1, 2, 3)
	del := func(offset int64, timeout time.Duration) kmsg.DeleteRecordsResponseTopicPartition {
		req := kmsg.NewPtrDeleteRecordsRequest()
		req.TimeoutMillis = int32(timeout.Milliseconds())
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = "drr"
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Offset = offset
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return c.raw(1, req, timeout+10*time.Second).(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0]
	}
	if r := del(6, 20*time.Second); r.ErrorCode != 0 || r.LowWatermark != 6 {
		t.Fatalf("delete before 6: %v low watermark %d", kerr.ErrorForCode(r.ErrorCode), r.LowWatermark)
	}
	for _, id := range []int32{2, 3} {
		if got := c.log(id, "drr").LogStartOffset(); got != 6 {
			t.Fatalf("broker %d log start %d when the answer came, want 6", id, got)
		}
	}
	c.stop(3)
	r := del(8, 1500*time.Millisecond)
	if r.ErrorCode != kerr.RequestTimedOut.Code || r.LowWatermark != 6 {
		t.Fatalf("delete before 8 with a follower down: %v low watermark %d, want REQUEST_TIMED_OUT at 6",
			kerr.ErrorForCode(r.ErrorCode), r.LowWatermark)
	}
	if got := c.log(1, "drr").LogStartOffset(); got != 8 {
		t.Fatalf("leader log start %d, want 8 (moved even though the wait timed out)", got)
	}
}
