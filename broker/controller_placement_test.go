package broker

import (
	"reflect"
	"slices"
	"testing"

	"github.com/samsa-io/samsa/coordinator"
)

// Kafka's rack-aware assignment (AdminRackAwareTest's example: six brokers
// in three racks, start index 0, shift 0).
func TestRackAwareAssignment(t *testing.T) {
	racks := map[int32]string{0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2", 5: "rack1"}
	brokers := []int32{0, 1, 2, 3, 4, 5}
	if got := rackAlternated(brokers, racks); !slices.Equal(got, []int32{0, 3, 1, 5, 4, 2}) {
		t.Fatalf("rack-alternated list %v", got)
	}
	got := assignReplicasRackAware(brokers, racks, 0, 7, 3, 0, 0)
	want := [][]int32{{0, 3, 1}, {3, 1, 5}, {1, 5, 4}, {5, 4, 2}, {4, 2, 0}, {2, 0, 3}, {0, 4, 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("assignment\n got %v\nwant %v", got, want)
	}
	// Any start and shift: every partition spans all three racks, and the
	// leaders spread evenly over the brokers.
	for start := range 6 {
		leaders := map[int32]int{}
		for _, rs := range assignReplicasRackAware(brokers, racks, 0, 60, 3, start, start+1) {
			seen := map[string]bool{}
			for _, r := range rs {
				seen[racks[r]] = true
			}
			if len(seen) != 3 {
				t.Fatalf("start %d: partition %v spans racks %v", start, rs, seen)
			}
			leaders[rs[0]]++
		}
		for id, n := range leaders {
			if n != 10 {
				t.Errorf("start %d: broker %d leads %d of 60", start, id, n)
			}
		}
	}
	// More replicas than racks: racks repeat only once every one is used,
	// brokers never.
	for _, rs := range assignReplicasRackAware([]int32{1, 2, 3, 4}, map[int32]string{1: "a", 2: "a", 3: "b", 4: "b"}, 0, 8, 3, 1, 1) {
		if len(rs) != 3 || len(map[int32]bool{rs[0]: true, rs[1]: true, rs[2]: true}) != 3 {
			t.Fatalf("replicas %v", rs)
		}
	}
}

// placeReplicas is rack-aware only when some broker has a rack; a broker
// without one counts as a rack of its own.
func TestPlaceReplicasUsesRacks(t *testing.T) {
	rack := func(s string) *string { return &s }
	snap := &coordinator.Snapshot{Brokers: map[int32]coordinator.BrokerInfo{
		1: {ID: 1}, 2: {ID: 2}, 3: {ID: 3}, 4: {ID: 4},
	}}
	if got, want := placeReplicas(snap, []int32{1, 2, 3, 4}, 0, 4, 2, 0, 0), assignReplicas([]int32{1, 2, 3, 4}, 0, 4, 2, 0, 0); !reflect.DeepEqual(got, want) {
		t.Fatalf("without racks: %v, want the rack-unaware %v", got, want)
	}
	snap.Brokers = map[int32]coordinator.BrokerInfo{1: {ID: 1, Rack: rack("a")}, 2: {ID: 2, Rack: rack("a")}, 3: {ID: 3, Rack: rack("b")}, 4: {ID: 4}}
	for _, rs := range placeReplicas(snap, []int32{1, 2, 3, 4}, 0, 12, 3, 0, 0) {
		if slices.Contains(rs, 1) && slices.Contains(rs, 2) {
			t.Fatalf("two replicas in rack a while racks b and none have room: %v", rs)
		}
	}
}
