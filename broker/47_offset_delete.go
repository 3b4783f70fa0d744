package broker

// OffsetDelete (key 47), served v0.
//
//	v0: delete committed offsets of a group (KIP-496). The group must be
//	    empty, or (consumer protocol) not subscribed to the topic:
//	    GROUP_SUBSCRIBED_TO_TOPIC per partition; a live group of another
//	    protocol type is NON_EMPTY_GROUP.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/group"
)

func init() { register(kmsg.OffsetDelete, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if e := b.groupAccess(rc, kmsg.ACLOperationDelete, req.Group); e != nil { // acl.go
		resp.ErrorCode = e.Code
		return resp
	}
	snap := b.store.Snapshot()
	var tps []group.TopicPartition
	type ref struct{ i, j int }
	var refs []ref
	for i, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			if !b.authorize(rc, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, rt.Topic) {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if _, ok := snap.Partition(rt.Topic, rp.Partition); !ok {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				tps = append(tps, group.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
				refs = append(refs, ref{i, j})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	ctx, cancel := context.WithTimeout(rc.ctx, adminWriteTimeout) // no timeout field
	defer cancel()
	code, codes := b.groups.DeleteOffsets(ctx, req.Group, tps)
	if code != 0 {
		resp.ErrorCode = code
		resp.Topics = nil
		return resp
	}
	for k, r := range refs {
		resp.Topics[r.i].Partitions[r.j].ErrorCode = codes[k]
	}
	return resp
}
