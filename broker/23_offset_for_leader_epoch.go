package broker

// OffsetForLeaderEpoch (key 23), v2-v4.
//
//	v0-v1: removed by KIP-896, not served.
//	v2: current leader epoch (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH).
//	v3: replica id (-1 consumers, -2 debug, >= 0 followers).
//	v4: flexible.
//
// Consumers use it to detect log truncation after a leader change
// (KIP-320); followers will use it to truncate before fetching.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.OffsetForLeaderEpoch, 2, 4, handleOffsetForLeaderEpoch) }

func handleOffsetForLeaderEpoch(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	resp.Topics = make([]kmsg.OffsetForLeaderEpochResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.OffsetForLeaderEpochResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch = -1
			sp.EndOffset = -1
			if code := b.authorizeEpochs(rc, req.ReplicaID, rt.Topic); code != 0 { // acl.go
				sp.ErrorCode = code
				continue
			}
			p := b.partition(rt.Topic, rp.Partition)
			if p == nil {
				ke, _ := b.notServedError(b.store.Snapshot(), rt.Topic, rp.Partition, false, true)
				sp.ErrorCode = ke.Code
				continue
			}
			if cur := p.leaderEpoch.Load(); rp.CurrentLeaderEpoch >= 0 {
				if rp.CurrentLeaderEpoch < cur {
					sp.ErrorCode = kerr.FencedLeaderEpoch.Code
					continue
				} else if rp.CurrentLeaderEpoch > cur {
					sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
					continue
				}
			}
			end, epoch := p.log.EndOffsetForEpoch(rp.LeaderEpoch)
			sp.EndOffset, sp.LeaderEpoch = end, epoch
		}
	}
	return resp
}
