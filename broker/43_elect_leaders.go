package broker

// ElectLeaders (key 43), v0-v2 (kafka-leader-election.sh).
//
//	v0: the topics and partitions to elect the preferred leader of, or
//	    null for every partition; timeout. Per-partition errors.
//	v1: ElectionType (KIP-460): 0 preferred, 1 unclean; a top-level
//	    ErrorCode in the response.
//	v2: flexible.
//
// Per partition, as Kafka's controller (ReplicationControlManager
// .electLeader): an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION;
// PREFERRED is ELECTION_NOT_NEEDED when the first replica leads already,
// and moves leadership to it when it is in the ISR and can lead (leader
// epoch + 1), else PREFERRED_LEADER_NOT_AVAILABLE (a leaderless partition
// gets whichever leader the election rules find instead, as Kafka's
// PartitionChangeBuilder does); UNCLEAN is ELECTION_NOT_NEEDED for a
// partition with a leader, and otherwise runs the controller's election
// with unclean elections allowed whatever the topic says — the ISR first,
// then the eligible leader replicas (KIP-966), then the first live replica
// — or answers ELIGIBLE_LEADERS_NOT_AVAILABLE. With null topics every
// topic is listed, without its partitions that needed no election.
//
// Elections are the controller's rules (coordinator.PreferredLeader,
// coordinator.DecidePartition) applied by the broker that received the
// request to its Snapshot, and written with Store.AdminWrite, whose
// transaction compares every input of the decision (the partition's state
// and its replicas' registrations): it lands only if the controller would
// have decided the same on the state of that moment, so no round trip
// through the controller is needed (see coordinator/admin_write.go). A
// conflict decides again on a newer Snapshot, a few times. With a positive
// TimeoutMillis the answer waits until this broker has applied the
// elections.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.ElectLeaders, 0, 2, handleElectLeaders) }

const (
	electionPreferredType int8 = 0
	electionUncleanType   int8 = 1
	// adminDecideAttempts bounds how often an admin request decides again
	// after its write lost to a concurrent change.
	adminDecideAttempts = 5
)

// topicPartition names a partition by topic name.
type topicPartition struct {
	topic     string
	partition int32
}

// adminResult is one partition's outcome of an admin request.
type adminResult struct {
	err *kerr.Error
	msg string
}

func handleElectLeaders(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ElectLeadersRequest)
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	electionType := electionPreferredType
	if req.Version >= 1 {
		electionType = req.ElectionType
	}

	snap := b.store.Snapshot()
	all := req.Topics == nil
	var targets []topicPartition
	if all {
		for _, name := range snap.TopicNames {
			for p := range snap.Topics[name].Partitions {
				targets = append(targets, topicPartition{name, int32(p)})
			}
		}
	} else {
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				targets = append(targets, topicPartition{rt.Topic, p})
			}
		}
	}

	var results map[topicPartition]adminResult
	if electionType != electionPreferredType && electionType != electionUncleanType {
		msg := fmt.Sprintf("Unknown election type %d", electionType)
		resp.ErrorCode = kerr.InvalidRequest.Code
		results = map[topicPartition]adminResult{}
		for _, t := range targets {
			results[t] = adminResult{kerr.InvalidRequest, msg}
		}
	} else {
		ctx, cancel, wait := adminCtx(rc.ctx, req.TimeoutMillis)
		defer cancel()
		results = b.electLeaders(ctx, targets, electionType == electionUncleanType, wait)
	}

	add := func(rt *kmsg.ElectLeadersResponseTopic, t topicPartition) {
		r := results[t]
		if all && r.err == kerr.ElectionNotNeeded {
			return // Kafka lists only what it did or could not do
		}
		rp := kmsg.NewElectLeadersResponseTopicPartition()
		rp.Partition = t.partition
		rp.ErrorCode = errCode(r.err)
		if r.err != nil {
			rp.ErrorMessage = strPtr(r.msg)
		}
		rt.Partitions = append(rt.Partitions, rp)
	}
	if all {
		for _, name := range snap.TopicNames {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = name
			for p := range snap.Topics[name].Partitions {
				add(&rt, topicPartition{name, int32(p)})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for _, reqT := range req.Topics {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = reqT.Topic
		for _, p := range reqT.Partitions {
			add(&rt, topicPartition{reqT.Topic, p})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// electLeaders runs the elections of targets (duplicates are decided once)
// and returns each one's outcome; with wait it returns once this broker has
// applied them.
func (b *Broker) electLeaders(ctx context.Context, targets []topicPartition, unclean, wait bool) map[topicPartition]adminResult {
	results := make(map[topicPartition]adminResult, len(targets))
	var pending []topicPartition
	for _, t := range targets {
		if _, dup := results[t]; !dup {
			results[t] = adminResult{}
			pending = append(pending, t)
		}
	}
	var written int64
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == adminDecideAttempts {
			for _, t := range pending {
				results[t] = adminResult{kerr.RequestTimedOut, "The partition's state kept changing during the election; try again."}
			}
			break
		}
		snap := b.store.Snapshot()
		byTopic := map[coordinator.TopicID][]coordinator.PartitionUpdate{}
		targetOf := map[coordinator.ReplicaRef]topicPartition{}
		for _, t := range pending {
			u, res, ok := b.decideElection(snap, t, unclean)
			if !ok {
				results[t] = res
				continue
			}
			byTopic[u.TopicID] = append(byTopic[u.TopicID], u)
			targetOf[coordinator.ReplicaRef{TopicID: u.TopicID, Partition: u.Partition}] = t
		}
		pending = pending[:0]
		var retryAt int64
		for _, id := range slices.SortedFunc(maps.Keys(byTopic), compareTopicIDs) {
			updates := byTopic[id]
			rev, err := b.store.AdminWrite(ctx, snap, updates, false)
			for _, u := range updates {
				t := targetOf[coordinator.ReplicaRef{TopicID: u.TopicID, Partition: u.Partition}]
				switch {
				case err == nil:
					results[t] = adminResult{}
				case errors.Is(err, coordinator.ErrConflict):
					pending = append(pending, t)
				default:
					e, msg := storeError(err, t.topic)
					results[t] = adminResult{e, msg}
				}
			}
			switch {
			case err == nil:
				written = max(written, rev)
				b.log.Info().Str("topic", snap.TopicByID(id).Info.Name).Bool("unclean", unclean).
					Int("partitions", len(updates)).Msg("leaders elected on request (ElectLeaders)")
			case errors.Is(err, coordinator.ErrConflict):
				retryAt = max(retryAt, rev)
			}
		}
		if len(pending) > 0 && retryAt > 0 {
			if err := b.store.WaitForRevision(ctx, retryAt); err != nil {
				for _, t := range pending {
					e, msg := storeError(err, t.topic)
					results[t] = adminResult{e, msg}
				}
				pending = nil
			}
		}
	}
	if written > 0 && wait {
		if err := b.waitApplied(ctx, written); err != nil {
			e, msg := waitError(err)
			for t, r := range results {
				if r.err == nil {
					results[t] = adminResult{e, msg}
				}
			}
		}
	}
	return results
}

// decideElection applies Kafka's electLeader to one partition of snap: the
// state to write (ok), or the answer when there is nothing to write.
func (b *Broker) decideElection(snap *coordinator.Snapshot, t topicPartition, unclean bool) (coordinator.PartitionUpdate, adminResult, bool) {
	tm := snap.Topic(t.topic)
	if tm == nil {
		return coordinator.PartitionUpdate{}, adminResult{kerr.UnknownTopicOrPartition, "No such topic as " + t.topic}, false
	}
	if t.partition < 0 || int(t.partition) >= len(tm.Partitions) {
		return coordinator.PartitionUpdate{}, adminResult{kerr.UnknownTopicOrPartition,
			fmt.Sprintf("No such partition as %s-%d", t.topic, t.partition)}, false
	}
	st := tm.Partitions[t.partition]
	notAvailable := adminResult{kerr.PreferredLeaderNotAvailable, fmt.Sprintf(
		"The preferred leader of %s-%d is not available: it must be live, in the ISR %v and serving its log.", t.topic, t.partition, st.ISR)}
	if unclean {
		notAvailable = adminResult{kerr.EligibleLeadersNotAvailable, fmt.Sprintf(
			"No replica of %s-%d can lead: none of %v is live and serving its log.", t.topic, t.partition, st.Replicas)}
	}
	switch {
	case !unclean && len(st.Replicas) > 0 && st.Leader == st.Replicas[0]:
		return coordinator.PartitionUpdate{}, adminResult{kerr.ElectionNotNeeded, "Leader election not needed for topic partition."}, false
	case unclean && st.Leader >= 0:
		return coordinator.PartitionUpdate{}, adminResult{kerr.ElectionNotNeeded, "Leader election not needed for topic partition."}, false
	case st.PartitionEpoch < 0:
		return coordinator.PartitionUpdate{}, notAvailable, false // its first state is the controller's to write
	}
	health := func(r int32) coordinator.ReplicaHealth { return snap.ReplicaHealth(r, tm.Info.ID, t.partition) }
	pol := b.partitionPolicy(tm)
	pol.Unclean = pol.Unclean || unclean
	update := func(ns coordinator.PartitionState) coordinator.PartitionUpdate {
		return coordinator.PartitionUpdate{TopicID: tm.Info.ID, Partition: t.partition, Expected: st, State: ns}
	}
	if !unclean {
		if ns, ok := coordinator.PreferredLeader(st, health); ok {
			return update(ns), adminResult{}, true
		}
	}
	// The controller's election (a leaderless or unhealthy leader's
	// partition): what it is about to write anyway.
	d := coordinator.DecidePartition(st, health, pol)
	if d.Changed && d.State.Leader >= 0 && d.State.Leader != st.Leader {
		return update(d.State), adminResult{}, true
	}
	return coordinator.PartitionUpdate{}, notAvailable, false
}

func compareTopicIDs(a, c coordinator.TopicID) int { return slices.Compare(a[:], c[:]) }
