package coordinator

import (
	"reflect"
	"testing"
)

// healthOf builds a HealthFunc: every broker listed in live is live; dead
// ones are absent; the other maps add flags.
type healthSpec struct {
	dead, lost, leaving, offline, unclean []int32
}

func (h healthSpec) fn() HealthFunc {
	in := func(set []int32, r int32) bool {
		for _, x := range set {
			if x == r {
				return true
			}
		}
		return false
	}
	return func(r int32) ReplicaHealth {
		if in(h.dead, r) {
			return ReplicaHealth{}
		}
		return ReplicaHealth{Live: true, LostDirectory: in(h.lost, r), ShuttingDown: in(h.leaving, r), Offline: in(h.offline, r),
			UncleanShutdown: in(h.unclean, r)}
	}
}

func ids(v ...int32) []int32 { return v }

func TestDecidePartition(t *testing.T) {
	r123 := ids(1, 2, 3)
	tests := []struct {
		name   string
		st     PartitionState
		health healthSpec
		pol    PartitionPolicy
		want   PartitionState // compared when changed
		how    Election
		same   bool // no change expected
	}{
		{name: "healthy partition unchanged",
			st:   PartitionState{Leader: 1, LeaderEpoch: 4, ISR: r123, Replicas: r123},
			same: true},
		{name: "dead leader replaced by the first ISR member in assignment order",
			st:     PartitionState{Leader: 3, LeaderEpoch: 4, ISR: ids(1, 2, 3), Replicas: ids(3, 2, 1)},
			health: healthSpec{dead: ids(3)},
			want:   PartitionState{Leader: 2, LeaderEpoch: 5, ISR: ids(1, 2), Replicas: ids(3, 2, 1)},
			how:    ElectionISR},
		{name: "dead follower leaves the ISR, leader epoch unchanged",
			st:     PartitionState{Leader: 1, LeaderEpoch: 4, ISR: r123, Replicas: r123},
			health: healthSpec{dead: ids(3)},
			want:   PartitionState{Leader: 1, LeaderEpoch: 4, ISR: ids(1, 2), Replicas: r123}},
		{name: "removal below min ISR puts the removed replica in the ELR",
			st:     PartitionState{Leader: 1, LeaderEpoch: 0, ISR: ids(1, 2), Replicas: r123},
			health: healthSpec{dead: ids(1)},
			pol:    PartitionPolicy{MinISR: 2},
			want:   PartitionState{Leader: 2, LeaderEpoch: 1, ISR: ids(2), ELR: ids(1), Replicas: r123},
			how:    ElectionISR},
		{name: "at min ISR after removal: no ELR",
			st:     PartitionState{Leader: 1, LeaderEpoch: 0, ISR: r123, Replicas: r123},
			health: healthSpec{dead: ids(1)},
			pol:    PartitionPolicy{MinISR: 2},
			want:   PartitionState{Leader: 2, LeaderEpoch: 1, ISR: ids(2, 3), Replicas: r123},
			how:    ElectionISR},
		{name: "every ISR member dead: the leader stays the last member, no leader",
			st:     PartitionState{Leader: 2, LeaderEpoch: 7, ISR: ids(1, 2), Replicas: r123},
			health: healthSpec{dead: ids(1, 2)},
			want:   PartitionState{Leader: -1, LeaderEpoch: 8, ISR: ids(2), Replicas: r123},
			how:    ElectionOffline},
		{name: "every ISR member dead below min ISR: the others go to the ELR",
			st:     PartitionState{Leader: 2, LeaderEpoch: 7, ISR: ids(1, 2), Replicas: r123},
			health: healthSpec{dead: ids(1, 2)},
			pol:    PartitionPolicy{MinISR: 3},
			want:   PartitionState{Leader: -1, LeaderEpoch: 8, ISR: ids(2), ELR: ids(1), Replicas: r123},
			how:    ElectionOffline},
		{name: "last ISR member back: it leads again",
			st:     PartitionState{Leader: -1, LeaderEpoch: 8, ISR: ids(2), Replicas: r123},
			health: healthSpec{dead: ids(1, 3)},
			want:   PartitionState{Leader: 2, LeaderEpoch: 9, ISR: ids(2), Replicas: r123},
			how:    ElectionISR},
		{name: "KIP-966: an ELR member back from an unclean shutdown leaves the ELR and is not elected",
			st:     PartitionState{Leader: -1, LeaderEpoch: 3, ISR: ids(1), ELR: ids(2), Replicas: r123},
			health: healthSpec{dead: ids(1), unclean: ids(2)},
			pol:    PartitionPolicy{MinISR: 2},
			want:   PartitionState{Leader: -1, LeaderEpoch: 3, ISR: ids(1), Replicas: r123}},
		{name: "KIP-966: an ISR member back from an unclean shutdown leaves the ISR, and the leadership",
			st:     PartitionState{Leader: 2, LeaderEpoch: 3, ISR: ids(1, 2, 3), Replicas: r123},
			health: healthSpec{unclean: ids(2)},
			pol:    PartitionPolicy{MinISR: 2},
			want:   PartitionState{Leader: 1, LeaderEpoch: 4, ISR: ids(1, 3), Replicas: r123},
			how:    ElectionISR},
		{name: "KIP-966: the last ISR member back from an unclean shutdown stays and leads",
			st:     PartitionState{Leader: -1, LeaderEpoch: 3, ISR: ids(2), Replicas: r123},
			health: healthSpec{dead: ids(1, 3), unclean: ids(2)},
			want:   PartitionState{Leader: 2, LeaderEpoch: 4, ISR: ids(2), Replicas: r123},
			how:    ElectionISR},
		{name: "ELR member elected when the ISR has nobody; the dead last member joins the ELR",
			st:     PartitionState{Leader: -1, LeaderEpoch: 3, ISR: ids(1), ELR: ids(2), Replicas: r123},
			health: healthSpec{dead: ids(1)},
			pol:    PartitionPolicy{MinISR: 2},
			want:   PartitionState{Leader: 2, LeaderEpoch: 4, ISR: ids(2), ELR: ids(1), Replicas: r123},
			how:    ElectionELR},
		{name: "dead ELR members stay eligible",
			st:     PartitionState{Leader: 3, LeaderEpoch: 3, ISR: ids(3), ELR: ids(1, 2), Replicas: r123},
			health: healthSpec{dead: ids(1, 2)},
			pol:    PartitionPolicy{MinISR: 2},
			same:   true},
		{name: "offline ELR member is neither elected nor kept",
			st:     PartitionState{Leader: -1, LeaderEpoch: 3, ISR: ids(1), ELR: ids(2), Replicas: r123},
			health: healthSpec{dead: ids(1), offline: ids(2)},
			pol:    PartitionPolicy{MinISR: 2},
			want:   PartitionState{Leader: -1, LeaderEpoch: 3, ISR: ids(1), Replicas: r123}},
		{name: "no clean candidate, unclean off: offline",
			st:     PartitionState{Leader: 1, LeaderEpoch: 2, ISR: ids(1), Replicas: r123},
			health: healthSpec{dead: ids(1)},
			want:   PartitionState{Leader: -1, LeaderEpoch: 3, ISR: ids(1), Replicas: r123},
			how:    ElectionOffline},
		{name: "no clean candidate, unclean on: first live replica, ELR cleared",
			st:     PartitionState{Leader: -1, LeaderEpoch: 3, ISR: ids(1), ELR: ids(1), Replicas: ids(1, 3, 2)},
			health: healthSpec{dead: ids(1)},
			pol:    PartitionPolicy{MinISR: 2, Unclean: true},
			want:   PartitionState{Leader: 3, LeaderEpoch: 4, ISR: ids(3), Replicas: ids(1, 3, 2)},
			how:    ElectionUnclean},
		{name: "unclean on but an ISR member is live: clean election",
			st:     PartitionState{Leader: 1, LeaderEpoch: 3, ISR: ids(1, 3), Replicas: r123},
			health: healthSpec{dead: ids(1)},
			pol:    PartitionPolicy{Unclean: true},
			want:   PartitionState{Leader: 3, LeaderEpoch: 4, ISR: ids(3), Replicas: r123},
			how:    ElectionISR},
		{name: "shutting-down leader hands over to an ISR member and leaves the ISR",
			st:     PartitionState{Leader: 1, LeaderEpoch: 0, ISR: r123, Replicas: r123},
			health: healthSpec{leaving: ids(1)},
			want:   PartitionState{Leader: 2, LeaderEpoch: 1, ISR: ids(2, 3), Replicas: r123},
			how:    ElectionISR},
		{name: "shutting-down leader below min ISR goes to the ELR",
			st:     PartitionState{Leader: 1, LeaderEpoch: 0, ISR: ids(1, 2), Replicas: r123},
			health: healthSpec{leaving: ids(1)},
			pol:    PartitionPolicy{MinISR: 2},
			want:   PartitionState{Leader: 2, LeaderEpoch: 1, ISR: ids(2), ELR: ids(1), Replicas: r123},
			how:    ElectionISR},
		{name: "shutting-down leader with nobody to hand over to keeps leading",
			st:     PartitionState{Leader: 1, LeaderEpoch: 0, ISR: ids(1), Replicas: r123},
			health: healthSpec{leaving: ids(1)},
			same:   true},
		{name: "shutting-down leader with only a dead ISR peer keeps leading, the peer leaves",
			st:     PartitionState{Leader: 1, LeaderEpoch: 0, ISR: ids(1, 2), Replicas: r123},
			health: healthSpec{leaving: ids(1), dead: ids(2)},
			want:   PartitionState{Leader: 1, LeaderEpoch: 0, ISR: ids(1), Replicas: r123}},
		{name: "shutting-down follower leaves the ISR",
			st:     PartitionState{Leader: 1, LeaderEpoch: 0, ISR: r123, Replicas: r123},
			health: healthSpec{leaving: ids(3)},
			want:   PartitionState{Leader: 1, LeaderEpoch: 0, ISR: ids(1, 2), Replicas: r123}},
		{name: "shutting-down broker is not elected",
			st:     PartitionState{Leader: 1, LeaderEpoch: 0, ISR: r123, Replicas: r123},
			health: healthSpec{dead: ids(1), leaving: ids(2)},
			want:   PartitionState{Leader: 3, LeaderEpoch: 1, ISR: ids(3), Replicas: r123},
			how:    ElectionISR},
		{name: "lost directory: out of the ISR and never into the ELR",
			st:     PartitionState{Leader: 1, LeaderEpoch: 5, ISR: ids(1, 2), Replicas: r123},
			health: healthSpec{lost: ids(1)},
			pol:    PartitionPolicy{MinISR: 2},
			want:   PartitionState{Leader: 2, LeaderEpoch: 6, ISR: ids(2), Replicas: r123},
			how:    ElectionISR},
		{name: "lost directory of the last ISR member empties the ISR",
			st:     PartitionState{Leader: 1, LeaderEpoch: 5, ISR: ids(1), Replicas: r123},
			health: healthSpec{lost: ids(1)},
			want:   PartitionState{Leader: -1, LeaderEpoch: 6, ISR: nil, Replicas: r123},
			how:    ElectionOffline},
		{name: "lost directory leaves the ELR",
			st:     PartitionState{Leader: 3, LeaderEpoch: 5, ISR: ids(3), ELR: ids(1, 2), Replicas: r123},
			health: healthSpec{lost: ids(1), dead: ids(2)},
			pol:    PartitionPolicy{MinISR: 2},
			want:   PartitionState{Leader: 3, LeaderEpoch: 5, ISR: ids(3), ELR: ids(2), Replicas: r123}},
		{name: "offline leader replica replaced",
			st:     PartitionState{Leader: 1, LeaderEpoch: 5, ISR: ids(1, 2), Replicas: r123},
			health: healthSpec{offline: ids(1)},
			pol:    PartitionPolicy{MinISR: 2},
			want:   PartitionState{Leader: 2, LeaderEpoch: 6, ISR: ids(2), Replicas: r123},
			how:    ElectionISR},
		{name: "ISR back at min ISR clears the ELR",
			st:   PartitionState{Leader: 2, LeaderEpoch: 5, ISR: ids(2, 3), ELR: ids(1), Replicas: r123},
			pol:  PartitionPolicy{MinISR: 2},
			want: PartitionState{Leader: 2, LeaderEpoch: 5, ISR: ids(2, 3), Replicas: r123}},
		{name: "missing state gets an initial one",
			st:     PartitionState{Leader: -1, LeaderEpoch: -1, PartitionEpoch: -1, Replicas: r123},
			health: healthSpec{dead: ids(1)},
			want:   PartitionState{Leader: 2, LeaderEpoch: 0, PartitionEpoch: -1, ISR: ids(2, 3), Replicas: r123},
			how:    ElectionInitial},
		{name: "internal topic: the ISR is the live replicas, a dead leader is replaced",
			st:     PartitionState{Leader: 1, LeaderEpoch: 0, ISR: ids(1), Replicas: r123},
			health: healthSpec{dead: ids(1)},
			pol:    PartitionPolicy{Internal: true, MinISR: 3},
			want:   PartitionState{Leader: 2, LeaderEpoch: 1, ISR: ids(2, 3), Replicas: r123},
			how:    ElectionISR},
		{name: "internal topic: a replica coming back rejoins the ISR at once",
			st:   PartitionState{Leader: 2, LeaderEpoch: 1, ISR: ids(2, 3), Replicas: r123},
			pol:  PartitionPolicy{Internal: true},
			want: PartitionState{Leader: 2, LeaderEpoch: 1, ISR: r123, Replicas: r123}},
		{name: "internal topic: nobody live, leader -1, ISR keeps one member",
			st:     PartitionState{Leader: 2, LeaderEpoch: 1, ISR: ids(2, 3), Replicas: r123},
			health: healthSpec{dead: r123},
			pol:    PartitionPolicy{Internal: true},
			want:   PartitionState{Leader: -1, LeaderEpoch: 2, ISR: ids(2), Replicas: r123},
			how:    ElectionOffline},
		{name: "internal topic: shutting-down leader hands over",
			st:     PartitionState{Leader: 1, LeaderEpoch: 1, ISR: r123, Replicas: r123},
			health: healthSpec{leaving: ids(1)},
			pol:    PartitionPolicy{Internal: true},
			want:   PartitionState{Leader: 2, LeaderEpoch: 2, ISR: ids(2, 3), Replicas: r123},
			how:    ElectionISR},
		{name: "internal topic: shutting-down leader alone keeps leading",
			st:     PartitionState{Leader: 1, LeaderEpoch: 1, ISR: ids(1), Replicas: ids(1)},
			health: healthSpec{leaving: ids(1)},
			pol:    PartitionPolicy{Internal: true},
			same:   true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DecidePartition(tt.st, tt.health.fn(), tt.pol)
			if tt.same {
				if d.Changed {
					t.Fatalf("changed to %+v (%s), want no change", d.State, d.Election)
				}
				return
			}
			if !d.Changed {
				t.Fatalf("no change, want %+v", tt.want)
			}
			if !reflect.DeepEqual(d.State, tt.want) {
				t.Errorf("state\n got %+v\nwant %+v", d.State, tt.want)
			}
			if d.Election != tt.how {
				t.Errorf("election %s, want %s", d.Election, tt.how)
			}
		})
	}
}

// Deciding again on the decided state changes nothing: the controller
// converges instead of writing forever.
func TestDecidePartitionIsStable(t *testing.T) {
	r123 := ids(1, 2, 3)
	specs := []healthSpec{{}, {dead: ids(1)}, {dead: ids(1, 2)}, {dead: r123}, {leaving: ids(1)}, {lost: ids(2)},
		{offline: ids(1)}, {dead: ids(3), leaving: ids(2)}, {lost: ids(1), dead: ids(2)}}
	states := []PartitionState{
		{Leader: 1, ISR: r123, Replicas: r123},
		{Leader: 1, ISR: ids(1, 2), ELR: ids(3), Replicas: r123},
		{Leader: -1, ISR: ids(2), ELR: ids(1, 3), Replicas: r123},
		{Leader: 3, ISR: ids(3), Replicas: r123},
	}
	for _, pol := range []PartitionPolicy{{MinISR: 1}, {MinISR: 2}, {MinISR: 3}, {MinISR: 2, Unclean: true}, {Internal: true}} {
		for _, h := range specs {
			for _, st := range states {
				d := DecidePartition(st, h.fn(), pol)
				again := DecidePartition(d.State, h.fn(), pol)
				if again.Changed {
					t.Errorf("%+v %+v %+v: %+v then %+v", pol, h, st, d.State, again.State)
				}
				if d.State.Leader >= 0 && !contains(d.State.ISR, d.State.Leader) {
					t.Errorf("%+v %+v %+v: leader %d not in ISR %v", pol, h, st, d.State.Leader, d.State.ISR)
				}
				if len(d.State.ISR) >= max(1, pol.MinISR) && len(d.State.ELR) > 0 {
					t.Errorf("%+v %+v %+v: ELR %v with ISR %v at min ISR", pol, h, st, d.State.ELR, d.State.ISR)
				}
			}
		}
	}
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestWithISR(t *testing.T) {
	r123 := ids(1, 2, 3)
	st := PartitionState{Leader: 1, ISR: r123, Replicas: r123}
	// Shrink to min ISR: no ELR.
	if got := WithISR(st, ids(1, 2), 2); got.ELR != nil || !reflect.DeepEqual(got.ISR, ids(1, 2)) {
		t.Errorf("shrink to min: %+v", got)
	}
	// Below min ISR: the removed member is eligible.
	below := WithISR(WithISR(st, ids(1, 2), 2), ids(1), 2)
	if !reflect.DeepEqual(below.ELR, ids(2)) {
		t.Errorf("shrink below min: %+v", below)
	}
	// Further below (another shrink while under min): accumulates.
	st2 := PartitionState{Leader: 1, ISR: r123, Replicas: r123}
	if got := WithISR(WithISR(st2, ids(1, 2), 3), ids(1), 3); !reflect.DeepEqual(got.ELR, ids(3, 2)) {
		t.Errorf("accumulate: %+v", got)
	}
	// Expansion back to min ISR clears it; a member rejoining leaves it.
	if got := WithISR(below, ids(1, 2), 2); got.ELR != nil {
		t.Errorf("expand to min: %+v", got)
	}
	if got := WithISR(PartitionState{ISR: ids(1), ELR: ids(2, 3)}, ids(1, 2), 3); !reflect.DeepEqual(got.ELR, ids(3)) {
		t.Errorf("rejoin below min: %+v", got)
	}
}

func TestPreferredLeader(t *testing.T) {
	r123 := ids(1, 2, 3)
	h := healthSpec{}.fn()
	st := PartitionState{Leader: 2, LeaderEpoch: 4, ISR: r123, Replicas: r123}
	ns, ok := PreferredLeader(st, h)
	if !ok || ns.Leader != 1 || ns.LeaderEpoch != 5 {
		t.Fatalf("preferred: %+v %v", ns, ok)
	}
	if _, ok := PreferredLeader(ns, h); ok {
		t.Error("already preferred: moved again")
	}
	if _, ok := PreferredLeader(PartitionState{Leader: 2, ISR: ids(2, 3), Replicas: r123}, h); ok {
		t.Error("preferred replica out of the ISR became leader")
	}
	if _, ok := PreferredLeader(st, healthSpec{leaving: ids(1)}.fn()); ok {
		t.Error("shutting-down preferred replica became leader")
	}
}

func TestLeaderImbalance(t *testing.T) {
	m := newMetaState(testRoot, "c")
	d := newDirtySet()
	info := TopicInfo{Name: "t", ID: NewTopicID(), Replicas: [][]int32{{1, 2}, {1, 2}, {2, 1}, {2, 1}}}
	if err := m.apply(d, testRoot+"topics/t", mustJSON(info), 1, 1, false); err != nil {
		t.Fatal(err)
	}
	leaders := []int32{1, 2, 2, 2}
	for p, l := range leaders {
		st := PartitionState{Leader: l, ISR: ids(1, 2), Replicas: info.Replicas[p]}
		if err := m.apply(d, testRoot+"partitions/"+info.ID.String()+"/"+string(rune('0'+p)), mustJSON(st), 1, 1, false); err != nil {
			t.Fatal(err)
		}
	}
	got := m.build(1, d).LeaderImbalance()
	if got[1] != 0.5 || got[2] != 0 {
		t.Errorf("imbalance = %v, want 1: 0.5, 2: 0", got)
	}
}
