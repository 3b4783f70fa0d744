package broker

// CreatePartitions (key 37), v0-v3.
//
//	v0: per topic the new total count and optionally the replicas of each
//	    new partition; timeout; ValidateOnly.
//	v1: same as v0 (throttle applied after the response).
//	v2: flexible.
//	v3: quota violations answered with THROTTLING_QUOTA_EXCEEDED (no quotas
//	    here, so no change).
//
// The count is the new total and must exceed the current one. Without an
// assignment the new partitions are placed round-robin like a new topic's,
// with the topic's current replication factor. A topic named more than
// once in one request is answered once, with INVALID_REQUEST. A request that
// would add more than max.partitions.per.request partitions in all
// (validate-only too) fails every topic with INVALID_PARTITIONS, as Kafka
// 4.1's controller does (KAFKA-19673).

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.CreatePartitions, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)

	counts := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		counts[t.Topic]++
	}
	add := func(topic string, e *kerr.Error, msg string) {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = topic
		st.ErrorCode = errCode(e)
		if e != nil {
			st.ErrorMessage = strPtr(msg)
		}
		resp.Topics = append(resp.Topics, st)
	}

	snap := b.store.Snapshot()
	if msg := b.tooManyPartitions(newPartitions(snap, req)); msg != "" {
		for _, rt := range req.Topics {
			add(rt.Topic, kerr.InvalidPartitions, msg)
		}
		return resp
	}
	ctx, cancel, wait := adminCtx(rc.ctx, req.TimeoutMillis)
	defer cancel()
	var maxRev int64
	var done []int

	for _, rt := range req.Topics {
		if c := counts[rt.Topic]; c > 1 || c < 0 {
			if c > 1 { // once per name, as Kafka answers
				add(rt.Topic, kerr.InvalidRequest, "Duplicate topic name.")
				counts[rt.Topic] = -1
			}
			continue
		}
		if !b.authorize(rc, kmsg.ACLOperationAlter, kmsg.ACLResourceTypeTopic, rt.Topic) { // acl.go
			add(rt.Topic, kerr.TopicAuthorizationFailed, "Authorization failed.")
			continue
		}
		if req.ValidateOnly {
			_, e, msg := planPartitions(snap, rt)
			add(rt.Topic, e, msg)
			continue
		}
		rev, e, msg := b.addPartitions(ctx, snap, rt)
		if e != nil {
			add(rt.Topic, e, msg)
			continue
		}
		b.log.Info().Str("topic", rt.Topic).Int32("partitions", rt.Count).Msg("partitions added")
		maxRev = max(maxRev, rev)
		done = append(done, len(resp.Topics))
		add(rt.Topic, nil, "")
	}

	if maxRev > 0 && wait {
		if err := b.waitApplied(ctx, maxRev); err != nil {
			e, msg := waitError(err)
			for _, i := range done {
				resp.Topics[i].ErrorCode = e.Code
				resp.Topics[i].ErrorMessage = strPtr(msg)
			}
		}
	}
	return resp
}

// addPartitions plans and writes one topic's new partitions. The write
// fails if the topic's partition count is no longer the one planned on
// (another CreatePartitions came first): it is planned again on a newer
// Snapshot, where the count asked for may be refused.
func (b *Broker) addPartitions(ctx context.Context, snap *coordinator.Snapshot, rt kmsg.CreatePartitionsRequestTopic) (int64, *kerr.Error, string) {
	for attempt := 0; ; attempt++ {
		newReplicas, e, msg := planPartitions(snap, rt)
		if e != nil {
			return 0, e, msg
		}
		from := int32(len(snap.Topic(rt.Topic).Partitions))
		rev, err := b.store.AddPartitionsAt(ctx, rt.Topic, from, newReplicas)
		if err == nil {
			return rev, nil, ""
		}
		if !errors.Is(err, coordinator.ErrConflict) || attempt+1 == adminDecideAttempts {
			e, msg := storeError(err, rt.Topic)
			return 0, e, msg
		}
		if err := b.store.WaitForRevision(ctx, rev); err != nil {
			e, msg := storeError(err, rt.Topic)
			return 0, e, msg
		}
		snap = b.store.Snapshot()
	}
}

// newPartitions is how many partitions a CreatePartitions request would add
// in all, over the topics that exist; counts that do not grow a topic add
// nothing (planPartitions refuses them).
func newPartitions(snap *coordinator.Snapshot, req *kmsg.CreatePartitionsRequest) int64 {
	var n int64
	for _, rt := range req.Topics {
		if tm := snap.Topic(rt.Topic); tm != nil && int(rt.Count) > len(tm.Partitions) {
			n += int64(rt.Count) - int64(len(tm.Partitions))
		}
	}
	return n
}

// planPartitions validates one topic of a CreatePartitions request and
// returns the replicas of the partitions to add.
func planPartitions(snap *coordinator.Snapshot, rt kmsg.CreatePartitionsRequestTopic) ([][]int32, *kerr.Error, string) {
	tm := snap.Topic(rt.Topic)
	if tm == nil {
		return nil, kerr.UnknownTopicOrPartition, fmt.Sprintf("Topic '%s' does not exist.", rt.Topic)
	}
	current := int32(len(tm.Partitions))
	switch {
	case rt.Count < current:
		return nil, kerr.InvalidPartitions,
			fmt.Sprintf("Topic currently has %d partitions, which is higher than the requested %d.", current, rt.Count)
	case rt.Count == current:
		return nil, kerr.InvalidPartitions, fmt.Sprintf("Topic already has %d partitions.", current)
	}
	addCount := int(rt.Count - current)

	rf := 0
	if current > 0 {
		rf = len(tm.Partitions[0].Replicas)
	}
	if rf == 0 && len(tm.Info.Replicas) > 0 {
		rf = len(tm.Info.Replicas[0])
	}
	if rf == 0 {
		rf = 1
	}
	live := snap.BrokerIDs

	if rt.Assignment != nil {
		if len(rt.Assignment) != addCount {
			return nil, kerr.InvalidReplicaAssignment,
				fmt.Sprintf("Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", addCount, len(rt.Assignment))
		}
		out := make([][]int32, 0, addCount)
		for _, a := range rt.Assignment {
			if msg := validateManualAssignment(a.Replicas, live, rf); msg != "" {
				return nil, kerr.InvalidReplicaAssignment, msg
			}
			out = append(out, a.Replicas)
		}
		return out, nil, ""
	}

	usable := usableBrokers(snap)
	if rf > len(usable) {
		return nil, kerr.InvalidReplicationFactor,
			fmt.Sprintf("Replication factor: %d larger than available brokers: %d.", rf, len(usable))
	}
	// Continue the topic's round-robin where partition 0 started, as
	// Kafka's AdminUtils does when adding partitions.
	start := 0
	if current > 0 && len(tm.Partitions[0].Replicas) > 0 {
		for i, id := range usable {
			if id >= tm.Partitions[0].Replicas[0] {
				start = i
				break
			}
		}
	}
	return placeReplicas(snap, usable, int(current), addCount, rf, start, placementStart(rt.Topic, len(usable))), nil, ""
}
