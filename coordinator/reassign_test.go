package coordinator

import (
	"errors"
	"reflect"
	"testing"
)

func TestStartReassignment(t *testing.T) {
	tests := []struct {
		name    string
		st      PartitionState
		target  []int32
		health  healthSpec
		want    PartitionState
		changed bool
	}{
		{name: "move: the target then the removed, adding and removing sorted",
			st:      PartitionState{Leader: 1, LeaderEpoch: 3, ISR: ids(1, 2), Replicas: ids(1, 2)},
			target:  ids(3, 2),
			want:    PartitionState{Leader: 1, LeaderEpoch: 3, ISR: ids(1, 2), Replicas: ids(3, 2, 1), AddingReplicas: ids(3), RemovingReplicas: ids(1)},
			changed: true},
		{name: "a reordering completes at once; the leader stays",
			st:      PartitionState{Leader: 1, LeaderEpoch: 3, ISR: ids(1, 2, 3), Replicas: ids(1, 2, 3)},
			target:  ids(3, 1, 2),
			want:    PartitionState{Leader: 1, LeaderEpoch: 3, ISR: ids(1, 2, 3), Replicas: ids(3, 1, 2)},
			changed: true},
		{name: "a shrink to in-sync replicas completes at once and moves a removed leader",
			st:      PartitionState{Leader: 1, LeaderEpoch: 3, ISR: ids(1, 2, 3), Replicas: ids(1, 2, 3)},
			target:  ids(3, 2),
			want:    PartitionState{Leader: 3, LeaderEpoch: 4, ISR: ids(2, 3), Replicas: ids(3, 2)},
			changed: true},
		{name: "a shrink to a replica out of sync waits",
			st:      PartitionState{Leader: 1, LeaderEpoch: 3, ISR: ids(1, 2), Replicas: ids(1, 2, 3)},
			target:  ids(3),
			want:    PartitionState{Leader: 1, LeaderEpoch: 3, ISR: ids(1, 2), Replicas: ids(3, 1, 2), RemovingReplicas: ids(1, 2)},
			changed: true},
		{name: "the same replicas in the same order change nothing",
			st:     PartitionState{Leader: 2, LeaderEpoch: 3, ISR: ids(1, 2), Replicas: ids(1, 2)},
			target: ids(1, 2),
			want:   PartitionState{Leader: 2, LeaderEpoch: 3, ISR: ids(1, 2), Replicas: ids(1, 2)}},
		{name: "the same reassignment again changes nothing",
			st:     PartitionState{Leader: 1, ISR: ids(1, 2), Replicas: ids(2, 3, 1), AddingReplicas: ids(3), RemovingReplicas: ids(1)},
			target: ids(2, 3),
			want:   PartitionState{Leader: 1, ISR: ids(1, 2), Replicas: ids(2, 3, 1), AddingReplicas: ids(3), RemovingReplicas: ids(1)}},
		{name: "a replica still being added and kept by the new target stays being added",
			st:      PartitionState{Leader: 1, ISR: ids(1, 2), Replicas: ids(2, 3, 1), AddingReplicas: ids(3), RemovingReplicas: ids(1)},
			target:  ids(3, 4),
			want:    PartitionState{Leader: 1, ISR: ids(1, 2), Replicas: ids(3, 4, 1, 2), AddingReplicas: ids(3, 4), RemovingReplicas: ids(1, 2)},
			changed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, changed := StartReassignment(tt.st, tt.target, tt.health.fn(), PartitionPolicy{})
			if changed != tt.changed || !reflect.DeepEqual(norm(got), norm(tt.want)) {
				t.Errorf("got %+v (changed %v), want %+v (changed %v)", got, changed, tt.want, tt.changed)
			}
		})
	}
}

func TestCompleteReassignment(t *testing.T) {
	inProgress := PartitionState{Leader: 1, LeaderEpoch: 5, ISR: ids(1, 2), ELR: nil, Replicas: ids(2, 3, 1), AddingReplicas: ids(3), RemovingReplicas: ids(1)}
	tests := []struct {
		name   string
		st     PartitionState
		health healthSpec
		pol    PartitionPolicy
		want   PartitionState
		ok     bool
	}{
		{name: "the new replica not in sync yet: waits", st: inProgress},
		{name: "every target replica in sync: replicas are the target, the removed leader hands over",
			st:   with(inProgress, func(s *PartitionState) { s.ISR = ids(1, 2, 3) }),
			want: PartitionState{Leader: 2, LeaderEpoch: 6, ISR: ids(2, 3), Replicas: ids(2, 3)}, ok: true},
		{name: "a leader that stays keeps its epoch",
			st:   PartitionState{Leader: 2, LeaderEpoch: 5, ISR: ids(1, 2, 3), Replicas: ids(2, 3, 1), AddingReplicas: ids(3), RemovingReplicas: ids(1)},
			want: PartitionState{Leader: 2, LeaderEpoch: 5, ISR: ids(2, 3), Replicas: ids(2, 3)}, ok: true},
		{name: "removed replicas leave the ELR",
			st:   PartitionState{Leader: 2, LeaderEpoch: 5, ISR: ids(2, 3), ELR: ids(1), Replicas: ids(2, 3, 1), AddingReplicas: ids(3), RemovingReplicas: ids(1)},
			pol:  PartitionPolicy{MinISR: 3},
			want: PartitionState{Leader: 2, LeaderEpoch: 5, ISR: ids(2, 3), Replicas: ids(2, 3)}, ok: true},
		{name: "no target replica can lead while the removed leader can: waits",
			st:     with(inProgress, func(s *PartitionState) { s.ISR = ids(1, 2, 3) }),
			health: healthSpec{dead: ids(2, 3)}},
		{name: "no reassignment", st: PartitionState{Leader: 1, ISR: ids(1), Replicas: ids(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, ok := CompleteReassignment(tt.st, tt.health.fn(), tt.pol)
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v (%+v)", ok, tt.ok, got)
			}
			if ok && !reflect.DeepEqual(norm(got), norm(tt.want)) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCancelReassignment(t *testing.T) {
	inProgress := PartitionState{Leader: 1, LeaderEpoch: 5, ISR: ids(1, 2), Replicas: ids(2, 3, 1), AddingReplicas: ids(3), RemovingReplicas: ids(1)}
	tests := []struct {
		name string
		st   PartitionState
		pol  PartitionPolicy
		want PartitionState
		err  error
	}{
		{name: "back to the replicas without the added ones",
			st:   inProgress,
			want: PartitionState{Leader: 1, LeaderEpoch: 5, ISR: ids(1, 2), Replicas: ids(2, 1)}},
		{name: "an added replica leaves the ISR; one that led hands over",
			st:   PartitionState{Leader: 3, LeaderEpoch: 5, ISR: ids(3, 2), Replicas: ids(3, 2, 1), AddingReplicas: ids(3), RemovingReplicas: ids(1)},
			want: PartitionState{Leader: 2, LeaderEpoch: 6, ISR: ids(2), Replicas: ids(2, 1)}},
		{name: "only added replicas in sync: an unclean revert is refused",
			st:  PartitionState{Leader: 3, LeaderEpoch: 5, ISR: ids(3), Replicas: ids(3, 4, 1), AddingReplicas: ids(3, 4), RemovingReplicas: ids(1)},
			err: ErrUncleanRevert},
		{name: "only added replicas in sync: the first original with unclean elections allowed",
			st:   PartitionState{Leader: 3, LeaderEpoch: 5, ISR: ids(3), Replicas: ids(3, 4, 1), AddingReplicas: ids(3, 4), RemovingReplicas: ids(1)},
			pol:  PartitionPolicy{Unclean: true},
			want: PartitionState{Leader: 1, LeaderEpoch: 6, ISR: ids(1), Replicas: ids(1)}},
		{name: "nothing in progress", st: PartitionState{Leader: 1, ISR: ids(1), Replicas: ids(1)}, err: ErrNoReassignment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := CancelReassignment(tt.st, healthSpec{}.fn(), tt.pol)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err == nil && !reflect.DeepEqual(norm(got), norm(tt.want)) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func with(st PartitionState, f func(*PartitionState)) PartitionState {
	f(&st)
	return st
}

// norm makes empty lists nil, for comparisons.
func norm(st PartitionState) PartitionState {
	for _, l := range []*[]int32{&st.ISR, &st.ELR, &st.Replicas, &st.AddingReplicas, &st.RemovingReplicas} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return st
}
