package coordinator

// Partition reassignment (KIP-455; AlterPartitionReassignments), as
// Kafka's controller does it (PartitionReassignmentReplicas,
// PartitionReassignmentRevert):
//
//  1. start: the replicas become the target followed by the replicas being
//     removed; adding_replicas and removing_replicas say which is which.
//     The new replicas' brokers create their logs and fetch as followers;
//     they are not in the ISR (and do not hold the high watermark back)
//     until the leader adds them, caught up;
//  2. complete, once every target replica is in the ISR: the replicas
//     become the target, the removed ones leave the ISR and the ELR, and a
//     leader being removed hands over to the first target replica in the
//     ISR that can lead (leader epoch + 1), all in one write. The removed
//     replicas' brokers delete their logs (broker/reconcile.go);
//  3. cancel (before completion): back to the replicas minus the ones
//     being added, which leave the ISR; when nobody else is in it, the
//     first original replica becomes the ISR, which is an unclean election
//     (refused unless the topic allows those).
//
// Every step that changes a partition's replicas also changes its topic's
// assignment (TopicInfo.Replicas) in the same transaction (AdminWrite,
// ControllerWriteAssignment), so the two always agree: a topic deleted
// mid-reassignment names the adding brokers in its tombstone too.
//
// A reassignment started while another is in progress starts from the
// replicas as they are (target and removing of the earlier one), as
// Kafka's does, and the replicas the earlier one is still adding stay
// being added where the new target keeps them: the same request twice
// changes nothing, and a cancel takes out every replica added since the
// partition last had no reassignment.

import (
	"errors"
	"slices"
)

var (
	// ErrNoReassignment: a cancel for a partition without a reassignment
	// in progress (NO_REASSIGNMENT_IN_PROGRESS).
	ErrNoReassignment = errors.New("coordinator: no reassignment in progress")
	// ErrUncleanRevert: cancelling would leave no in-sync replica but an
	// unclean choice, and the topic does not allow unclean elections.
	ErrUncleanRevert = errors.New("coordinator: reverting the reassignment would require an unclean leader election")
)

// Reassigning reports whether a reassignment of the partition is in
// progress.
func (st PartitionState) Reassigning() bool {
	return len(st.AddingReplicas) > 0 || len(st.RemovingReplicas) > 0
}

// TargetReplicas are the replicas the partition is headed for: its
// replicas without those being removed (all of them when no reassignment
// is in progress).
func (st PartitionState) TargetReplicas() []int32 { return without(st.Replicas, st.RemovingReplicas) }

// StartReassignment returns st with a reassignment to target started (the
// target must be validated: non-empty, no duplicates, registered brokers),
// completed at once when it may be (a reordering, or a target of replicas
// already in sync), with the leader the result asks for. A target equal to
// the replicas in the same order changes nothing (changed false).
func StartReassignment(st PartitionState, target []int32, health HealthFunc, pol PartitionPolicy) (ns PartitionState, election Election, changed bool) {
	removing := sortedDifference(st.Replicas, target)
	// Replicas an earlier reassignment is still adding stay being added
	// if the new target keeps them (as Kafka keeps adding_replicas when
	// the new target adds nothing): the same request twice changes
	// nothing, and a cancel still takes them out.
	adding := sortedDifference(append(sortedDifference(target, st.Replicas), keepIn(st.AddingReplicas, target)...), nil)
	ns = st
	ns.Replicas = append(slices.Clone(target), removing...)
	ns.RemovingReplicas = removing
	ns.AddingReplicas = adding
	if len(removing) == 0 {
		ns.RemovingReplicas = nil
	}
	if len(adding) == 0 {
		ns.AddingReplicas = nil
	}
	// A mere reordering is done as written (the order is the new
	// preference; nothing has to catch up).
	if done, e, ok := CompleteReassignment(ns, health, pol); ok {
		ns, election = done, e
	}
	changed = !slices.Equal(ns.Replicas, st.Replicas) || !slices.Equal(ns.AddingReplicas, st.AddingReplicas) ||
		!slices.Equal(ns.RemovingReplicas, st.RemovingReplicas) || !slices.Equal(ns.ISR, st.ISR) || ns.Leader != st.Leader
	return ns, election, changed
}

// CompleteReassignment finishes a reassignment in progress when every
// target replica is in the ISR (Kafka's maybeCompleteReassignment): the
// replicas become the target, the removed replicas leave the ISR and the
// ELR, and the election rules (DecidePartition) replace a leader that was
// removed. ok is false while the reassignment must wait: not every target
// replica is in sync, or no target replica could lead in place of a leader
// that still can (it waits rather than take the partition offline).
func CompleteReassignment(st PartitionState, health HealthFunc, pol PartitionPolicy) (PartitionState, Election, bool) {
	if !st.Reassigning() {
		return st, ElectionNone, false
	}
	replicas := st.TargetReplicas()
	isr := without(st.ISR, st.RemovingReplicas)
	if len(replicas) == 0 || len(isr) == 0 {
		return st, ElectionNone, false
	}
	for _, r := range replicas {
		if !slices.Contains(isr, r) {
			return st, ElectionNone, false
		}
	}
	ns := st
	ns.Replicas = replicas
	ns.ISR = isr
	ns.ELR = keepIn(st.ELR, replicas)
	ns.AddingReplicas, ns.RemovingReplicas = nil, nil
	d := DecidePartition(ns, health, pol)
	if d.State.Leader < 0 && st.Leader >= 0 && health(st.Leader).CanLead() {
		return st, ElectionNone, false
	}
	if d.Changed {
		return d.State, d.Election, true
	}
	return ns, ElectionNone, true
}

// CancelReassignment reverts a reassignment in progress (Kafka's
// PartitionReassignmentRevert): the replicas lose the ones being added,
// which leave the ISR and the ELR; an ISR left empty becomes the first
// original replica, an unclean choice that only a topic with
// unclean.leader.election.enable may make (ErrUncleanRevert otherwise).
// A leader that was being added is replaced by the election rules, unclean
// ones included where the topic allows them. ErrNoReassignment when none
// is in progress.
func CancelReassignment(st PartitionState, health HealthFunc, pol PartitionPolicy) (PartitionState, Election, error) {
	if !st.Reassigning() {
		return st, ElectionNone, ErrNoReassignment
	}
	replicas := without(st.Replicas, st.AddingReplicas)
	if len(replicas) == 0 {
		return st, ElectionNone, ErrUncleanRevert
	}
	isr := without(st.ISR, st.AddingReplicas)
	if len(isr) == 0 {
		if !pol.Unclean {
			return st, ElectionNone, ErrUncleanRevert
		}
		isr = []int32{replicas[0]}
	}
	ns := st
	ns.Replicas = replicas
	ns.ISR = isr
	ns.ELR = without(keepIn(st.ELR, replicas), isr)
	ns.AddingReplicas, ns.RemovingReplicas = nil, nil
	if d := DecidePartition(ns, health, pol); d.Changed {
		return d.State, d.Election, nil
	}
	return ns, ElectionNone, nil
}

// without returns the members of list that are not in drop, in list order.
func without(list, drop []int32) []int32 {
	out := make([]int32, 0, len(list))
	for _, r := range list {
		if !slices.Contains(drop, r) {
			out = append(out, r)
		}
	}
	return out
}

// keepIn returns the members of list that are in keep, in list order (nil
// when none).
func keepIn(list, keep []int32) []int32 {
	var out []int32
	for _, r := range list {
		if slices.Contains(keep, r) {
			out = append(out, r)
		}
	}
	return out
}

// sortedDifference is a − b, sorted (Kafka computes the adding and
// removing sets as sorted sets).
func sortedDifference(a, b []int32) []int32 {
	out := without(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
