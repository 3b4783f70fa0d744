package coordinator

// The controller's rules for partition state: leader election, removal of
// dead, fenced and shutting-down brokers from the ISR, the eligible leader
// replicas (KIP-966), unclean election and preferred-leader moves. Pure
// functions of a partition's state and what is known of its replicas; the
// broker's controller loop (broker/controller.go) runs them on every
// Snapshot while this broker holds the election, and writes their results
// with ControllerWrite. A partition's leader uses WithISR for its own ISR
// changes, so that the ELR follows the same rule whoever shrinks the ISR.

import "slices"

// ReplicaHealth is what the controller knows of one replica of a partition.
type ReplicaHealth struct {
	// Live: the broker is registered (its lease holds).
	Live bool
	// LostDirectory: the broker registered with another directory id than
	// the one recorded (Snapshot.LostDirectory): the replica holds none of
	// what the ISR or the ELR vouch for.
	LostDirectory bool
	// ShuttingDown: the broker asked for a controlled shutdown.
	ShuttingDown bool
	// Offline: the broker declared its log of this partition offline
	// (Snapshot.ReplicaOffline).
	Offline bool
	// UncleanShutdown: the broker came back from an unclean shutdown and
	// the controller has yet to withdraw what the ISR and the ELR vouch
	// for it (BrokerInfo.UncleanShutdown, KIP-966): its log may lack what
	// it had not flushed.
	UncleanShutdown bool
}

// CanLead reports whether the replica may become (or stay) leader: its
// broker is live, has its data, is not shutting down, and serves the log.
func (h ReplicaHealth) CanLead() bool {
	return h.Live && !h.LostDirectory && !h.ShuttingDown && !h.Offline
}

// eligibleForELR reports whether a replica removed from the ISR may keep
// its claim to hold everything committed: its broker is merely gone or
// going, not without its data.
func (h ReplicaHealth) eligibleForELR() bool {
	return !h.LostDirectory && !h.Offline && !h.UncleanShutdown
}

// ReplicaHealth returns the health of broker's replica of the partition.
func (s *Snapshot) ReplicaHealth(broker int32, id TopicID, partition int32) ReplicaHealth {
	b, live := s.Brokers[broker]
	if !live {
		return ReplicaHealth{}
	}
	return ReplicaHealth{
		Live:            true,
		LostDirectory:   s.LostDirectory(broker),
		ShuttingDown:    b.ShuttingDown,
		Offline:         s.ReplicaOffline(broker, id, partition),
		UncleanShutdown: b.UncleanShutdown,
	}
}

// HealthFunc returns the health of a broker's replica of one partition.
type HealthFunc func(broker int32) ReplicaHealth

// PartitionPolicy is the topic configuration the rules depend on.
type PartitionPolicy struct {
	MinISR  int  // min.insync.replicas (values below 1 count as 1)
	Unclean bool // unclean.leader.election.enable
	// Internal: the topic has no logs (__consumer_offsets,
	// __transaction_state keep their state in etcd), so every live
	// replica is in sync and may lead.
	Internal bool
}

// Election says how a Decision chose its leader.
type Election int8

const (
	ElectionNone    Election = iota // the leader did not change
	ElectionISR                     // clean: an ISR member
	ElectionELR                     // clean: an eligible leader replica (KIP-966)
	ElectionUnclean                 // unclean: a replica outside ISR and ELR (unclean.leader.election.enable)
	ElectionOffline                 // no replica may lead: leader -1 until one returns
	ElectionInitial                 // the first state of a partition whose state key is missing
)

func (e Election) String() string {
	switch e {
	case ElectionISR:
		return "isr"
	case ElectionELR:
		return "elr"
	case ElectionUnclean:
		return "unclean"
	case ElectionOffline:
		return "offline"
	case ElectionInitial:
		return "initial"
	}
	return "none"
}

// Decision is the controller's verdict on one partition.
type Decision struct {
	// State is the state to write when Changed (its PartitionEpoch is
	// the one read: the write bumps it).
	State    PartitionState
	Changed  bool
	Election Election
}

// DecidePartition applies the controller's rules to one partition's state.
//
// ISR: a member that cannot lead (its broker is not live, is shutting
// down, or has declared the replica offline) is removed, and so is one
// back from an unclean shutdown (KIP-966), but never the last one (Kafka
// keeps the last ISR member, so the partition waits for it). A
// shutting-down leader that no other ISR member can replace stays, and
// stays in the ISR. A member whose broker lost its directory is removed
// even if it is the last: it holds nothing the ISR vouches for.
//
// ELR (KIP-966): while the ISR is below min.insync.replicas the high
// watermark cannot advance, so members removed then (for a dead or
// shutting-down broker) hold everything committed and join the ELR. The
// ELR is empty while the ISR is at or above min.insync.replicas; members
// that lost their directory, declared the replica offline or came back
// from an unclean shutdown leave it.
//
// Election, for a partition whose leader cannot lead (or has none):
// the first replica in assignment order that is in the ISR and can lead;
// else the first ELR member that can lead (ISR := [it]); else, only with
// unclean.leader.election.enable, the first replica that can lead (ISR :=
// [it], ELR cleared: what it lacks is lost); else leader -1. Every change
// of leader bumps the leader epoch.
//
// A missing state (PartitionEpoch -1, see doc.go) gets the state a new
// partition gets (leader epoch 0, or the one after the placeholder's).
func DecidePartition(st PartitionState, health HealthFunc, pol PartitionPolicy) Decision {
	if st.PartitionEpoch < 0 {
		ns := initialStateFor(st.Replicas, health)
		ns.LeaderEpoch = max(0, st.LeaderEpoch+1)
		ns.PartitionEpoch = st.PartitionEpoch
		return Decision{State: ns, Changed: true, Election: ElectionInitial}
	}
	if pol.Internal {
		return decideInternal(st, health)
	}
	minISR := max(1, pol.MinISR)
	leaderHealth := ReplicaHealth{}
	if st.Leader >= 0 {
		leaderHealth = health(st.Leader)
	}
	// A shutting-down leader still serves; it hands over only to an ISR
	// member that can lead.
	leaderLeaving := st.Leader >= 0 && slices.Contains(st.ISR, st.Leader) && leaderHealth.Live &&
		leaderHealth.ShuttingDown && !leaderHealth.LostDirectory && !leaderHealth.Offline

	var isr, removed []int32
	for _, r := range st.ISR {
		h := health(r)
		switch {
		case h.CanLead() && !h.UncleanShutdown:
			isr = append(isr, r)
		case h.LostDirectory:
			// dropped outright
		default:
			removed = append(removed, r)
		}
	}
	if len(isr) == 0 && len(removed) > 0 {
		// Never the last member: prefer the current leader.
		keep := removed[0]
		if slices.Contains(removed, st.Leader) {
			keep = st.Leader
		}
		isr = []int32{keep}
		removed = slices.DeleteFunc(slices.Clone(removed), func(r int32) bool { return r == keep })
	}

	ns := st
	ns.ISR = isr
	ns.ELR = nextELR(st.ELR, removed, isr, minISR, health)
	election := ElectionNone

	leaderOK := st.Leader >= 0 && leaderHealth.CanLead() && slices.Contains(isr, st.Leader)
	if !leaderOK {
		if c := firstCanLead(orderedByReplicas(st.Replicas, isr), health); c >= 0 {
			ns.Leader, election = c, ElectionISR
		} else if leaderLeaving && slices.Contains(isr, st.Leader) {
			// Nobody to hand over to: it keeps leading until it stops.
		} else if c := firstCanLead(ns.ELR, health); c >= 0 {
			ns.Leader, election = c, ElectionELR
			gone := slices.DeleteFunc(slices.Clone(isr), func(r int32) bool { return r == c })
			ns.ISR = []int32{c}
			ns.ELR = nextELR(slices.DeleteFunc(slices.Clone(ns.ELR), func(r int32) bool { return r == c }), gone, ns.ISR, minISR, health)
		} else if c := firstCanLead(st.Replicas, health); pol.Unclean && c >= 0 {
			ns.Leader, election = c, ElectionUnclean
			ns.ISR, ns.ELR = []int32{c}, nil
		} else if st.Leader >= 0 {
			ns.Leader, election = -1, ElectionOffline
		}
	}
	if ns.Leader != st.Leader {
		ns.LeaderEpoch = st.LeaderEpoch + 1
	}
	changed := ns.Leader != st.Leader || !slices.Equal(ns.ISR, st.ISR) || !slices.Equal(ns.ELR, st.ELR)
	if !changed {
		return Decision{State: st}
	}
	return Decision{State: ns, Changed: true, Election: election}
}

// decideInternal is DecidePartition for a topic without logs: the ISR is
// every replica whose broker is live and not shutting down (in assignment
// order), and the leader the first of them unless the current one is
// among them. A shutting-down leader with nobody to hand over to stays;
// with nobody live the ISR keeps its first member (never empty) and the
// leader is -1.
func decideInternal(st PartitionState, health HealthFunc) Decision {
	var isr []int32
	for _, r := range st.Replicas {
		if h := health(r); h.Live && !h.ShuttingDown {
			isr = append(isr, r)
		}
	}
	ns := st
	ns.ELR = nil
	election := ElectionNone
	switch {
	case len(isr) > 0:
		ns.ISR = isr
		if !slices.Contains(isr, st.Leader) {
			ns.Leader, election = isr[0], ElectionISR
		}
	case st.Leader >= 0 && health(st.Leader).Live:
		ns.ISR = []int32{st.Leader} // shutting down, nobody else: keeps serving
	default:
		if len(st.ISR) > 0 {
			ns.ISR = st.ISR[:1]
		}
		if st.Leader >= 0 {
			ns.Leader, election = -1, ElectionOffline
		}
	}
	if ns.Leader != st.Leader {
		ns.LeaderEpoch = st.LeaderEpoch + 1
	}
	if ns.Leader == st.Leader && slices.Equal(ns.ISR, st.ISR) && len(st.ELR) == 0 {
		return Decision{State: st}
	}
	return Decision{State: ns, Changed: true, Election: election}
}

// nextELR is the ELR after the ISR became isr, with removed the members
// just taken out of it: empty while isr is at or above minISR; else the
// old ELR and the removed members that are eligible, minus the ISR and
// whoever lost its data. Order: the old ELR's, then the removed ones'.
func nextELR(old, removed, isr []int32, minISR int, health HealthFunc) []int32 {
	if len(isr) >= minISR {
		return nil
	}
	var out []int32
	add := func(r int32) {
		if !slices.Contains(isr, r) && !slices.Contains(out, r) && health(r).eligibleForELR() {
			out = append(out, r)
		}
	}
	for _, r := range old {
		add(r)
	}
	for _, r := range removed {
		add(r)
	}
	return out
}

// WithISR returns st with its ISR replaced by isr and the ELR maintained
// by the controller's rule: members leaving the ISR while it is below
// minISR join the ELR, members joining it leave the ELR, and the ELR is
// cleared once the ISR is at or above minISR. The leader's ISR shrink and
// expand (AlterPartition) must go through it, so that a shrink below
// min.insync.replicas keeps the replicas that hold everything committed
// eligible. Health is not known to the leader: every removed member is
// taken as eligible (it was in the ISR, so it holds up to the high
// watermark).
func WithISR(st PartitionState, isr []int32, minISR int) PartitionState {
	var removed []int32
	for _, r := range st.ISR {
		if !slices.Contains(isr, r) {
			removed = append(removed, r)
		}
	}
	ns := st
	ns.ISR = slices.Clone(isr)
	ns.ELR = nextELR(st.ELR, removed, isr, max(1, minISR), func(int32) ReplicaHealth { return ReplicaHealth{Live: true} })
	return ns
}

// PreferredLeader moves leadership to the preferred replica (the first of
// the assignment) when it is in the ISR and can lead and does not lead
// already (auto.leader.rebalance.enable, ElectLeaders PREFERRED).
func PreferredLeader(st PartitionState, health HealthFunc) (PartitionState, bool) {
	if len(st.Replicas) == 0 || st.PartitionEpoch < 0 {
		return st, false
	}
	p := st.Replicas[0]
	if p == st.Leader || !slices.Contains(st.ISR, p) || !health(p).CanLead() {
		return st, false
	}
	ns := st
	ns.Leader = p
	ns.LeaderEpoch = st.LeaderEpoch + 1
	return ns, true
}

// LeaderImbalance returns, for every broker that is the preferred leader
// (first replica) of some partition, the share of those partitions it does
// not lead: Kafka's leader imbalance ratio, compared with
// leader.imbalance.per.broker.percentage / 100.
func (s *Snapshot) LeaderImbalance() map[int32]float64 {
	preferred := map[int32]int{}
	notLed := map[int32]int{}
	for _, tm := range s.Topics {
		for _, st := range tm.Partitions {
			if len(st.Replicas) == 0 {
				continue
			}
			p := st.Replicas[0]
			preferred[p]++
			if st.Leader != p {
				notLed[p]++
			}
		}
	}
	out := make(map[int32]float64, len(preferred))
	for b, n := range preferred {
		out[b] = float64(notLed[b]) / float64(n)
	}
	return out
}

// initialStateFor is the state of a new partition: the first replica that
// can lead leads, the live replicas are the ISR. With no live replica at
// all there is no leader and every replica is in the ISR: the partition is
// empty, so whichever replica comes up first is a clean leader.
func initialStateFor(replicas []int32, health HealthFunc) PartitionState {
	st := PartitionState{Leader: -1, Replicas: slices.Clone(replicas)}
	for _, r := range replicas {
		// A broker that lost its directory is about to be removed from
		// every ISR: do not hand it a new partition's either.
		h := health(r)
		if !h.Live || h.LostDirectory {
			continue
		}
		if st.Leader < 0 && !h.ShuttingDown {
			st.Leader = r
		}
		st.ISR = append(st.ISR, r)
	}
	if st.ISR == nil {
		st.ISR = slices.Clone(replicas)
	}
	return st
}

// orderedByReplicas returns the members of set in assignment order, then
// any member not in the assignment (none, normally) in set order.
func orderedByReplicas(replicas, set []int32) []int32 {
	out := make([]int32, 0, len(set))
	for _, r := range replicas {
		if slices.Contains(set, r) {
			out = append(out, r)
		}
	}
	for _, r := range set {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func firstCanLead(candidates []int32, health HealthFunc) int32 {
	for _, r := range candidates {
		if health(r).CanLead() {
			return r
		}
	}
	return -1
}
