package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func dtpReq(limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, topics ...string) *kmsg.DescribeTopicPartitionsRequest {
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.ResponsePartitionLimit = limit
	req.Cursor = cursor
	for _, t := range topics {
		rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
		rt.Topic = t
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// page lists (topic, first partition, count) of an answer.
func page(resp *kmsg.DescribeTopicPartitionsResponse) [][3]any {
	var out [][3]any
	for _, t := range resp.Topics {
		first := int32(-1)
		if len(t.Partitions) > 0 {
			first = t.Partitions[0].Partition
		}
		out = append(out, [3]any{*t.Topic, first, len(t.Partitions)})
	}
	return out
}

// TestDescribeTopicPartitionsPaging: the partition limit cuts a page and
// the cursor resumes it, topic by topic in name order, as Kafka pages.
func TestDescribeTopicPartitionsPaging(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "dtp-a", 3, nil)
	createTopic(t, addr, "dtp-b", 2, nil)
	cl := newClient(t, addr)
	ask := func(req *kmsg.DescribeTopicPartitionsRequest) *kmsg.DescribeTopicPartitionsResponse {
		t.Helper()
		resp, err := req.RequestWith(testCtx(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := ask(dtpReq(2, nil, "dtp-b", "dtp-a"))
	if got := page(resp); len(got) != 1 || got[0] != [3]any{"dtp-a", int32(0), 2} || resp.NextCursor == nil ||
		resp.NextCursor.Topic != "dtp-a" || resp.NextCursor.Partition != 2 {
		t.Fatalf("first page %v cursor %+v", got, resp.NextCursor)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.LeaderID != 1 || len(p.Replicas) != 1 || len(p.ISR) != 1 || p.EligibleLeaderReplicas == nil || resp.Topics[0].AuthorizedOperations != topicAllOps {
		t.Fatalf("partition %+v", p)
	}
	cur := &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "dtp-a", Partition: 2}
	resp = ask(dtpReq(2, cur, "dtp-a", "dtp-b"))
	if got := page(resp); len(got) != 2 || got[0] != [3]any{"dtp-a", int32(2), 1} || got[1] != [3]any{"dtp-b", int32(0), 1} ||
		resp.NextCursor == nil || resp.NextCursor.Topic != "dtp-b" || resp.NextCursor.Partition != 1 {
		t.Fatalf("second page %v cursor %+v", got, resp.NextCursor)
	}
	// A page that fills exactly before the next topic points at it.
	resp = ask(dtpReq(3, nil, "dtp-a", "dtp-b"))
	if got := page(resp); len(got) != 1 || resp.NextCursor == nil || resp.NextCursor.Topic != "dtp-b" || resp.NextCursor.Partition != 0 {
		t.Fatalf("exact page %v cursor %+v", got, resp.NextCursor)
	}
	// Everything fits: no cursor; unknown and invalid names answered.
	resp = ask(dtpReq(100, nil, "dtp-a", "dtp-b", "dtp-none", "bad name"))
	codes := map[string]int16{}
	for _, tp := range resp.Topics {
		codes[*tp.Topic] = tp.ErrorCode
	}
	if resp.NextCursor != nil || codes["dtp-a"] != 0 || codes["dtp-none"] != kerr.UnknownTopicOrPartition.Code || codes["bad name"] != kerr.InvalidTopicException.Code {
		t.Fatalf("whole answer %v cursor %+v", codes, resp.NextCursor)
	}
	// A limit of 0 answers one partition.
	resp = ask(dtpReq(0, nil, "dtp-a"))
	if got := page(resp); len(got) != 1 || got[0] != [3]any{"dtp-a", int32(0), 1} || resp.NextCursor == nil || resp.NextCursor.Partition != 1 {
		t.Fatalf("zero limit %v cursor %+v", got, resp.NextCursor)
	}
	// A cursor topic not among the named ones fails the request.
	resp = ask(dtpReq(100, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "dtp-z"}, "dtp-a"))
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("stray cursor: %+v", resp.Topics)
	}
	// No names: every topic, internal ones too.
	resp = ask(dtpReq(100000, nil))
	seen := map[string]bool{}
	for _, tp := range resp.Topics {
		seen[*tp.Topic] = true
	}
	if !seen["dtp-a"] || !seen["dtp-b"] || !seen["__consumer_offsets"] || resp.NextCursor != nil {
		t.Fatalf("all topics: %v, cursor %+v (the limit caps a page at 2000 partitions)", seen, resp.NextCursor)
	}
}
