package group

// Server-side assignors of KIP-848 groups.

import (
	"sort"
)

// topicPartition identifies a partition by topic id.
type tp struct {
	topic [16]byte
	p     int32
}

// assignSpec is what an assignor sees: each member's subscribed topic ids
// (resolved against the metadata), the partition counts, and the current
// target (for stickiness).
type assignSpec struct {
	members    []string                        // sorted
	subscribed map[string][][16]byte           // member -> topic ids
	partitions map[[16]byte]int32              // topic id -> partition count
	current    map[string]map[[16]byte][]int32 // previous target
}

type assignment map[string]map[[16]byte][]int32

func assignorKnown(name string) bool { return name == "uniform" || name == "range" }

func runAssignor(name string, s *assignSpec) assignment {
	if name == "range" {
		return assignRange(s)
	}
	return assignUniform(s)
}

func sortedTopics(m map[[16]byte]int32) [][16]byte {
	out := make([][16]byte, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i][:]) < string(out[j][:]) })
	return out
}

// assignRange: per topic, the subscribed members (sorted by id) each get
// a contiguous range; the first (partitions % members) get one extra.
func assignRange(s *assignSpec) assignment {
	out := make(assignment, len(s.members))
	for _, m := range s.members {
		out[m] = make(map[[16]byte][]int32)
	}
	for _, t := range sortedTopics(s.partitions) {
		var subs []string
		for _, m := range s.members {
			for _, st := range s.subscribed[m] {
				if st == t {
					subs = append(subs, m)
					break
				}
			}
		}
		if len(subs) == 0 {
			continue
		}
		n := int(s.partitions[t])
		per, extra := n/len(subs), n%len(subs)
		next := 0
		for i, m := range subs {
			cnt := per
			if i < extra {
				cnt++
			}
			for j := 0; j < cnt; j++ {
				out[m][t] = append(out[m][t], int32(next))
				next++
			}
		}
	}
	return out
}

// assignUniform spreads all subscribed partitions evenly over the members
// that can take them, keeping each partition with its current owner where
// that does not unbalance the group (a sticky, balanced assignment).
func assignUniform(s *assignSpec) assignment {
	out := make(assignment, len(s.members))
	load := make(map[string]int, len(s.members))
	subscribed := make(map[string]map[[16]byte]bool, len(s.members))
	for _, m := range s.members {
		out[m] = make(map[[16]byte][]int32)
		set := make(map[[16]byte]bool)
		for _, t := range s.subscribed[m] {
			if _, ok := s.partitions[t]; ok {
				set[t] = true
			}
		}
		subscribed[m] = set
	}
	// All partitions wanted by at least one member, and who may take each.
	var all []tp
	eligible := make(map[tp][]string)
	for _, t := range sortedTopics(s.partitions) {
		var subs []string
		for _, m := range s.members {
			if subscribed[m][t] {
				subs = append(subs, m)
			}
		}
		if len(subs) == 0 {
			continue
		}
		for p := int32(0); p < s.partitions[t]; p++ {
			all = append(all, tp{t, p})
			eligible[tp{t, p}] = subs
		}
	}
	if len(all) == 0 {
		return out
	}
	// Upper bound per member when everyone is eligible for everything;
	// with heterogeneous subscriptions the greedy pass below still keeps
	// loads close.
	quota := (len(all) + len(s.members) - 1) / len(s.members)
	owner := make(map[tp]string, len(all))
	// 1. Keep current owners up to the quota.
	for _, m := range s.members {
		for t, ps := range s.current[m] {
			if !subscribed[m][t] {
				continue
			}
			for _, p := range ps {
				k := tp{t, p}
				if _, ok := eligible[k]; !ok || owner[k] != "" || load[m] >= quota {
					continue
				}
				owner[k] = m
				load[m]++
			}
		}
	}
	// 2. Give the rest to the least loaded eligible member (ties: id).
	for _, k := range all {
		if owner[k] != "" {
			continue
		}
		best := ""
		for _, m := range eligible[k] {
			if best == "" || load[m] < load[best] {
				best = m
			}
		}
		owner[k] = best
		load[best]++
	}
	// 3. Even out: move partitions from members with two or more above
	// an eligible member's load.
	for moved := true; moved; {
		moved = false
		for _, k := range all {
			from := owner[k]
			for _, m := range eligible[k] {
				if load[from]-load[m] >= 2 {
					owner[k] = m
					load[from]--
					load[m]++
					moved = true
					break
				}
			}
		}
	}
	for _, k := range all {
		m := owner[k]
		out[m][k.topic] = append(out[m][k.topic], k.p)
	}
	for _, ts := range out {
		for t := range ts {
			sort.Slice(ts[t], func(i, j int) bool { return ts[t][i] < ts[t][j] })
		}
	}
	return out
}
