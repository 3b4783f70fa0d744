package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeQuorum: the embedded etcd is the quorum: one voter (this
// broker), its leader, with the raft term as the epoch and the raft index
// as the high watermark and log end offset; another partition is unknown.
func TestDescribeQuorum(t *testing.T) {
	b, addr := startTestBroker(t)
	for _, v := range []int16{0, 1, 2} {
		req := kmsg.NewPtrDescribeQuorumRequest()
		req.Version = v
		for _, p := range []int32{0, 1} {
			rt := kmsg.NewDescribeQuorumRequestTopic()
			rt.Topic = "__cluster_metadata"
			rp := kmsg.NewDescribeQuorumRequestTopicPartition()
			rp.Partition = p
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		resp := rawAt[*kmsg.DescribeQuorumResponse](t, addr, req)
		if resp.ErrorCode != 0 || len(resp.Topics) != 2 {
			t.Fatalf("v%d: %+v", v, resp)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.LeaderID != b.cfg.BrokerID || p.LeaderEpoch < 1 || p.HighWatermark < 1 || len(p.CurrentVoters) != 1 || len(p.Observers) != 0 {
			t.Fatalf("v%d partition 0: %+v", v, p)
		}
		voter := p.CurrentVoters[0]
		if voter.ReplicaID != b.cfg.BrokerID || voter.LogEndOffset < p.HighWatermark-1 {
			t.Fatalf("v%d voter %+v (high watermark %d)", v, voter, p.HighWatermark)
		}
		if v >= 1 && voter.LastFetchTimestamp <= 0 {
			t.Fatalf("v%d: last fetch %d", v, voter.LastFetchTimestamp)
		}
		if v >= 2 && (len(resp.Nodes) != 1 || resp.Nodes[0].NodeID != b.cfg.BrokerID || len(resp.Nodes[0].Listeners) == 0 || resp.Nodes[0].Listeners[0].Port == 0) {
			t.Fatalf("v%d nodes %+v", v, resp.Nodes)
		}
		if q := resp.Topics[1].Partitions[0]; q.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("v%d partition 1: error %d", v, q.ErrorCode)
		}
	}
}
