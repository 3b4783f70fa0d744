package broker

// OffsetForLeaderEpoch (key 23), v2-v4.
//
//	v0-v1: removed by KIP-896, not served.
//	v2: current leader epoch (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH).
//	v3: replica id (-1 consumers, -2 debug, >= 0 followers).
//	v4: flexible.
//
// Consumers use it to detect log truncation after a leader change
// (KIP-320); followers will use it to truncate before fetching. The
// leader answers as if its epoch cache already held its current epoch
// (leaderEndOffsetForEpoch), as Kafka's does.

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
			sp.EndOffset, sp.LeaderEpoch = leaderEndOffsetForEpoch(p, rp.LeaderEpoch)
		}
	}
	return resp
}

// leaderEndOffsetForEpoch is OffsetForLeaderEpoch's answer as Kafka's
// leader gives it. Kafka's leader-epoch cache gains the leader's epoch at
// the log end offset the moment it becomes leader (Partition.makeLeader),
// before any record is written in it; samsa's storage cache holds the
// epochs of written batches only. So while no batch of the current epoch
// exists, the answer is computed as if the cache ended with (current
// epoch, log end offset): an empty partition at epoch 0 ends epoch 0 at 0,
// and an epoch between the last written one and the current one ends
// where the log ends.
func leaderEndOffsetForEpoch(p *partition, requested int32) (int64, int32) {
	cur := p.leaderEpoch.Load()
	latest := p.log.LatestEpoch()
	if requested < 0 || latest >= cur {
		return p.log.EndOffsetForEpoch(requested)
	}
	leo := p.log.LogEndOffset()
	switch {
	case requested > cur:
		return -1, -1
	case requested == cur:
		return leo, cur
	case latest < 0:
		// The current epoch is the only one: an older one ends where
		// it starts (Kafka's answer for an epoch below the first).
		return leo, requested
	case requested >= latest:
		return leo, latest
	default:
		return p.log.EndOffsetForEpoch(requested)
	}
}
