package broker

// OffsetCommit (key 8), served v2-v10.
//
//	v0-v1: not served (KIP-896 removed them in Kafka 4; v0 stored offsets in
//	       ZooKeeper).
//	v2: retention time (v2-v4 only; -1 = offsets.retention.minutes).
//	v3: throttle time.
//	v4: same as v3.
//	v5: retention time removed.
//	v6: committed leader epoch.
//	v7: group instance id (KIP-345 static members are checked for fencing).
//	v8: flexible.
//	v9: KIP-848: generation is the member epoch of a consumer group; a
//	    commit naming an unknown group with a generation gets
//	    GROUP_ID_NOT_FOUND instead of ILLEGAL_GENERATION.
//	v10: topics by id (KIP-848 topic ids); an unknown id is
//	     UNKNOWN_TOPIC_ID.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/group"
)

func init() { register(kmsg.OffsetCommit, 2, 10, handleOffsetCommit) }

func handleOffsetCommit(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewOffsetCommitResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			st.Partitions[j] = kmsg.NewOffsetCommitResponseTopicPartition()
			st.Partitions[j].Partition = rp.Partition
		}
	}
	if e := b.groupAccess(rc, kmsg.ACLOperationRead, req.Group); e != nil { // acl.go
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = e.Code
			}
		}
		return resp
	}
	snap := b.store.Snapshot()
	type ref struct{ i, j int }
	var commits []group.Commit
	var refs []ref
	for i, rt := range req.Topics {
		name := rt.Topic
		var topicErr int16
		if req.Version >= 10 {
			if tm := snap.TopicByID(rt.TopicID); tm != nil {
				name = tm.Info.Name
			} else {
				topicErr = kerr.UnknownTopicID.Code
			}
		}
		for j, rp := range rt.Partitions {
			if topicErr != 0 {
				resp.Topics[i].Partitions[j].ErrorCode = topicErr
				continue
			}
			if !b.authorize(rc, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, name) {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			if _, ok := snap.Partition(name, rp.Partition); !ok {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			commits = append(commits, group.Commit{
				Topic: name, Partition: rp.Partition, Offset: rp.Offset,
				LeaderEpoch: rp.LeaderEpoch, Metadata: rp.Metadata,
			})
			refs = append(refs, ref{i, j})
		}
	}
	if len(commits) == 0 {
		return resp
	}
	retention := int64(-1)
	if req.Version <= 4 {
		retention = req.RetentionTimeMillis
	}
	ctx, cancel := context.WithTimeout(rc.ctx, adminWriteTimeout) // no timeout field
	defer cancel()
	codes := b.groups.CommitOffsets(ctx, group.CommitArgs{
		Group: req.Group, MemberID: req.MemberID, InstanceID: req.InstanceID,
		Generation: req.Generation, Version: req.Version, RetentionMs: retention,
	}, commits)
	for k, r := range refs {
		resp.Topics[r.i].Partitions[r.j].ErrorCode = codes[k]
	}
	return resp
}
