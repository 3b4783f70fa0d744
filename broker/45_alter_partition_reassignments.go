package broker

// AlterPartitionReassignments (key 45), v0-v1 (kafka-reassign-partitions.sh
// --execute and --cancel).
//
//	v0: per partition the target replicas, or null to cancel the
//	    reassignment in progress; timeout. Always flexible.
//	v1: AllowReplicationFactorChange (KIP-860, default true): false
//	    refuses a target whose length differs from the replica set the
//	    partition is headed for (INVALID_REPLICATION_FACTOR).
//
// Per partition, as Kafka's controller (ReplicationControlManager
// .alterPartitionReassignment): an unknown topic or partition is
// UNKNOWN_TOPIC_OR_PARTITION; a target that is empty, repeats a broker or
// names one that is not registered is INVALID_REPLICA_ASSIGNMENT; a cancel
// without a reassignment in progress is NO_REASSIGNMENT_IN_PROGRESS, and
// one that would need an unclean election on a topic that does not allow
// it INVALID_REPLICA_ASSIGNMENT. The reassignment itself follows
// coordinator/reassign.go: this request only starts (or cancels) it; the
// new replicas catch up as followers and the controller completes it
// (broker/controller.go), and ListPartitionReassignments shows it until
// then. Several entries for one partition apply in order.
//
// The receiving broker decides with the controller's rules on its Snapshot
// and writes each topic's changes, with the topic's assignment, in
// Store.AdminWrite transactions (see 43_elect_leaders.go for why that does
// not need the controller); a conflict decides the topic again on a newer
// Snapshot. The answer does not wait for the reassignment to finish.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.AlterPartitionAssignments, 0, 1, handleAlterPartitionReassignments) }

func handleAlterPartitionReassignments(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	allowRFChange := req.Version < 1 || req.AllowReplicationFactorChange

	ctx, cancel, wait := adminCtx(rc.ctx, req.TimeoutMillis)
	defer cancel()
	var written int64
	for _, rt := range req.Topics {
		results, rev := b.reassignTopic(ctx, rt, allowRFChange)
		written = max(written, rev)
		out := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		out.Topic = rt.Topic
		for i, rp := range rt.Partitions {
			p := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = errCode(results[i].err)
			if results[i].err != nil {
				p.ErrorMessage = strPtr(results[i].msg)
			}
			out.Partitions = append(out.Partitions, p)
		}
		resp.Topics = append(resp.Topics, out)
	}
	if written > 0 && wait {
		if err := b.waitApplied(ctx, written); err != nil {
			e, msg := waitError(err)
			for i := range resp.Topics {
				for j := range resp.Topics[i].Partitions {
					if p := &resp.Topics[i].Partitions[j]; p.ErrorCode == 0 {
						p.ErrorCode, p.ErrorMessage = e.Code, strPtr(msg)
					}
				}
			}
		}
	}
	return resp
}

// reassignTopic applies one topic's entries of the request and returns the
// outcome of each, in order, with the revision of the write (0 if none).
func (b *Broker) reassignTopic(ctx context.Context, rt kmsg.AlterPartitionAssignmentsRequestTopic, allowRFChange bool) ([]adminResult, int64) {
	results := make([]adminResult, len(rt.Partitions))
	for attempt := 0; ; attempt++ {
		snap := b.store.Snapshot()
		updates, decided := b.decideReassignments(snap, rt, allowRFChange)
		copy(results, decided)
		if len(updates) == 0 {
			return results, 0
		}
		rev, err := b.store.AdminWrite(ctx, snap, updates, true)
		if err == nil {
			b.log.Info().Str("topic", rt.Topic).Int("partitions", len(updates)).Msg("partition reassignments changed (AlterPartitionReassignments)")
			return results, rev
		}
		fail := func(e *kerr.Error, msg string) ([]adminResult, int64) {
			for i := range results {
				if results[i].err == nil {
					results[i] = adminResult{e, msg}
				}
			}
			return results, 0
		}
		if !errors.Is(err, coordinator.ErrConflict) {
			e, msg := storeError(err, rt.Topic)
			return fail(e, msg)
		}
		if attempt+1 == adminDecideAttempts {
			return fail(kerr.RequestTimedOut, "The partitions' state kept changing during the reassignment; try again.")
		}
		if err := b.store.WaitForRevision(ctx, rev); err != nil {
			e, msg := storeError(err, rt.Topic)
			return fail(e, msg)
		}
	}
}

// decideReassignments computes, on snap, the new states of one topic's
// entries (one update per partition changed) and each entry's outcome.
func (b *Broker) decideReassignments(snap *coordinator.Snapshot, rt kmsg.AlterPartitionAssignmentsRequestTopic, allowRFChange bool) ([]coordinator.PartitionUpdate, []adminResult) {
	results := make([]adminResult, len(rt.Partitions))
	tm := snap.Topic(rt.Topic)
	if tm == nil {
		for i := range results {
			results[i] = adminResult{kerr.UnknownTopicOrPartition, fmt.Sprintf("Unable to find a topic named %s.", rt.Topic)}
		}
		return nil, results
	}
	pol := b.partitionPolicy(tm)
	// The states as this request leaves them, by partition, and the
	// order in which partitions were first changed.
	next := map[int32]coordinator.PartitionState{}
	var order []int32
	for i, rp := range rt.Partitions {
		p := rp.Partition
		if p < 0 || int(p) >= len(tm.Partitions) {
			results[i] = adminResult{kerr.UnknownTopicOrPartition, fmt.Sprintf("Unable to find partition %s:%d.", rt.Topic, p)}
			continue
		}
		st, seen := next[p]
		if !seen {
			st = tm.Partitions[p]
		}
		if st.PartitionEpoch < 0 {
			results[i] = adminResult{kerr.UnknownTopicOrPartition, fmt.Sprintf("Partition %s:%d has no state yet; try again.", rt.Topic, p)}
			continue
		}
		health := func(r int32) coordinator.ReplicaHealth { return snap.ReplicaHealth(r, tm.Info.ID, p) }
		var ns coordinator.PartitionState
		changed := true
		if rp.Replicas == nil {
			var err error
			ns, _, err = coordinator.CancelReassignment(st, health, pol)
			switch {
			case errors.Is(err, coordinator.ErrNoReassignment):
				results[i] = adminResult{kerr.NoReassignmentInProgress, kerr.NoReassignmentInProgress.Message}
				continue
			case errors.Is(err, coordinator.ErrUncleanRevert):
				results[i] = adminResult{kerr.InvalidReplicaAssignment, fmt.Sprintf(
					"Unable to revert partition assignment for %s:%d because it would require an unclean leader election.", rt.Topic, p)}
				continue
			}
		} else {
			if msg := validateReassignment(rp.Replicas, snap); msg != "" {
				results[i] = adminResult{kerr.InvalidReplicaAssignment, msg}
				continue
			}
			if !allowRFChange {
				// The replica set the partition is headed for.
				if cur := len(st.TargetReplicas()); cur != len(rp.Replicas) {
					results[i] = adminResult{kerr.InvalidReplicationFactor, fmt.Sprintf("The replication factor is changed from %d to %d", cur, len(rp.Replicas))}
					continue
				}
			}
			ns, _, changed = coordinator.StartReassignment(st, rp.Replicas, health, pol)
		}
		if !changed {
			continue
		}
		if !seen {
			order = append(order, p)
		}
		next[p] = ns
	}
	var updates []coordinator.PartitionUpdate
	for _, p := range order {
		updates = append(updates, coordinator.PartitionUpdate{TopicID: tm.Info.ID, Partition: p, Expected: tm.Partitions[p], State: next[p]})
	}
	return updates, results
}

// validateReassignment checks a target replica list with Kafka's rules
// and messages (validateManualPartitionAssignment): not empty, every
// broker registered, none twice.
func validateReassignment(replicas []int32, snap *coordinator.Snapshot) string {
	if len(replicas) == 0 {
		return "The manual partition assignment includes an empty replica list."
	}
	return validateManualAssignment(replicas, snap.BrokerIDs, -1)
}
