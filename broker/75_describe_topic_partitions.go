package broker

// DescribeTopicPartitions (key 75), v0 (KIP-966): the admin client's
// describeTopics when the broker lists it, paged.
//
//	v0: topics by name (none: every topic), ResponsePartitionLimit, and a
//	    cursor (topic, partition) to resume from; the answer carries the
//	    partitions, with eligible leader replicas (empty here: no ELR), and
//	    the cursor of the next page.
//
// As Kafka's handler: the topics are answered in name order from the
// cursor's topic on (which must be among the named topics); the first page
// topic starts at the cursor's partition; at most min(ResponsePartitionLimit,
// 2000) partitions are answered, a topic cut short sets the next cursor to
// its next partition, and a full page before the next topic to that topic's
// partition 0. A named topic that does not exist is UNKNOWN_TOPIC_OR_PARTITION
// (INVALID_TOPIC_EXCEPTION for an invalid name); when every topic is asked
// for, there is none. Partition states are Metadata's (03_metadata.go).

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeTopicPartitions, 0, 0, handleDescribeTopicPartitions) }

// maxRequestPartitionSizeLimit is Kafka's max.request.partition.size.limit
// default: the most partitions one answer carries.
const maxRequestPartitionSizeLimit = 2000

func handleDescribeTopicPartitions(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeTopicPartitionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	snap := b.store.Snapshot()

	all := len(req.Topics) == 0
	cursorTopic := ""
	if req.Cursor != nil {
		cursorTopic = req.Cursor.Topic
	}
	set := map[string]bool{}
	if all {
		for _, n := range snap.TopicNames {
			if n >= cursorTopic {
				set[n] = true
			}
		}
	} else {
		for _, t := range req.Topics {
			if t.Topic >= cursorTopic {
				set[t.Topic] = true
			}
		}
		if req.Cursor != nil && !set[req.Cursor.Topic] {
			// Kafka fails the request (an error answer, no topics).
			return describeTopicPartitionsError(req, kerr.InvalidRequest)
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)

	// A limit below 1 answers one partition, as Kafka's does.
	remaining := max(min(req.ResponsePartitionLimit, maxRequestPartitionSizeLimit), 1)
	for _, name := range names {
		if remaining <= 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			break
		}
		if !b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, name) { // acl.go
			if all {
				continue // Kafka leaves out the topics the principal may not describe
			}
			t := kmsg.NewDescribeTopicPartitionsResponseTopic()
			t.Topic = strPtr(name)
			t.ErrorCode = kerr.TopicAuthorizationFailed.Code
			t.AuthorizedOperations = authorizedOpsOmitted
			resp.Topics = append(resp.Topics, t)
			continue
		}
		ops := b.authorizedOps(rc, kmsg.ACLResourceTypeTopic, name, aclTopicOps)
		tm := snap.Topic(name)
		if tm == nil {
			if all {
				continue
			}
			t := kmsg.NewDescribeTopicPartitionsResponseTopic()
			t.Topic = strPtr(name)
			t.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if validateTopicName(name) != nil {
				t.ErrorCode = kerr.InvalidTopicException.Code
			}
			t.IsInternal = name == offsetsTopic || name == transactionTopic
			t.AuthorizedOperations = ops
			resp.Topics = append(resp.Topics, t)
			continue
		}
		start := int32(0)
		if name == cursorTopic {
			start = req.Cursor.Partition
		}
		md := b.metadataTopic(snap, tm, ops, b.listenerName(rc), 13)
		t := kmsg.NewDescribeTopicPartitionsResponseTopic()
		t.Topic, t.TopicID, t.IsInternal, t.AuthorizedOperations = md.Topic, md.TopicID, md.IsInternal, ops
		t.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
		next := int32(-1)
		for _, p := range md.Partitions {
			if p.Partition < start {
				continue
			}
			if int32(len(t.Partitions)) == remaining {
				next = p.Partition
				break
			}
			dp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
			dp.ErrorCode, dp.Partition, dp.LeaderID, dp.LeaderEpoch = p.ErrorCode, p.Partition, p.Leader, p.LeaderEpoch
			dp.Replicas, dp.ISR, dp.OfflineReplicas = p.Replicas, p.ISR, p.OfflineReplicas
			if dp.OfflineReplicas == nil {
				dp.OfflineReplicas = []int32{}
			}
			// KIP-966: the eligible leader replicas the controller keeps.
			dp.EligibleLeaderReplicas, dp.LastKnownELR = []int32{}, []int32{}
			if int(p.Partition) < len(tm.Partitions) && len(tm.Partitions[p.Partition].ELR) > 0 {
				dp.EligibleLeaderReplicas = tm.Partitions[p.Partition].ELR
			}
			t.Partitions = append(t.Partitions, dp)
		}
		resp.Topics = append(resp.Topics, t)
		if next >= 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: next}
			break
		}
		remaining -= int32(len(t.Partitions))
	}
	return resp
}

// describeTopicPartitionsError is Kafka's answer to a request it refuses
// whole: every named topic with the error.
func describeTopicPartitionsError(req *kmsg.DescribeTopicPartitionsRequest, e *kerr.Error) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	for _, rt := range req.Topics {
		t := kmsg.NewDescribeTopicPartitionsResponseTopic()
		t.Topic = strPtr(rt.Topic)
		t.ErrorCode = e.Code
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}
