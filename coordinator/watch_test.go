package coordinator

import (
	"encoding/json"
	"fmt"
	"testing"
)

const testRoot = "/samsa/c/"

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// bigState returns a metaState holding one topic with n partitions.
func bigState(tb testing.TB, n int) (*metaState, TopicInfo) {
	m := newMetaState(testRoot, "c")
	info := TopicInfo{Name: "big", ID: NewTopicID(), Replicas: assignment(n, 1, 2, 3)}
	d := newDirtySet()
	if err := m.apply(d, testRoot+"topics/big", mustJSON(info), 1, 1, false); err != nil {
		tb.Fatal(err)
	}
	st := mustJSON(PartitionState{Leader: 1, ISR: []int32{1, 2, 3}, Replicas: []int32{1, 2, 3}})
	for p := range n {
		if err := m.apply(d, fmt.Sprintf("%spartitions/%s/%d", testRoot, info.ID, p), st, 1, 1, false); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range 100 {
		other := TopicInfo{Name: fmt.Sprintf("t%03d", i), ID: NewTopicID(), Replicas: assignment(3, 1)}
		if err := m.apply(d, testRoot+"topics/"+other.Name, mustJSON(other), 1, 1, false); err != nil {
			tb.Fatal(err)
		}
	}
	m.build(1, d)
	return m, info
}

func TestMetaStateCopyOnWrite(t *testing.T) {
	m, info := bigState(t, 1000)
	s1 := m.snap
	if len(s1.TopicNames) != 101 || len(s1.Topics["big"].Partitions) != 1000 {
		t.Fatalf("initial: %d names", len(s1.TopicNames))
	}
	// One partition changes: only the big topic is copied.
	d := newDirtySet()
	key := fmt.Sprintf("%spartitions/%s/%d", testRoot, info.ID, 7)
	if err := m.apply(d, key, mustJSON(PartitionState{Leader: 2, PartitionEpoch: 1}), 1, 1, false); err != nil {
		t.Fatal(err)
	}
	s2 := m.build(2, d)
	if s2.Topics["big"] == s1.Topics["big"] || s2.Topics["t000"] != s1.Topics["t000"] {
		t.Fatal("copy-on-write: wrong topics copied")
	}
	if &s2.TopicNames[0] != &s1.TopicNames[0] {
		t.Fatal("TopicNames copied although unchanged")
	}
	if s2.Topics["big"].Partitions[7].Leader != 2 || s1.Topics["big"].Partitions[7].Leader != 1 {
		t.Fatal("patch wrong or old snapshot modified")
	}
	if s2.TopicsByID[info.ID] != s2.Topics["big"] {
		t.Fatal("TopicsByID not patched")
	}
	// The partition key is deleted: back to the placeholder.
	d = newDirtySet()
	if err := m.apply(d, key, nil, 0, 0, true); err != nil {
		t.Fatal(err)
	}
	s3 := m.build(3, d)
	if st := s3.Topics["big"].Partitions[7]; st.Leader != -1 || st.PartitionEpoch != -1 || len(st.Replicas) != 3 {
		t.Fatalf("placeholder %+v", st)
	}
	// Delete the topic key: gone from every index.
	d = newDirtySet()
	if err := m.apply(d, testRoot+"topics/big", nil, 0, 0, true); err != nil {
		t.Fatal(err)
	}
	s4 := m.build(4, d)
	if s4.Topics["big"] != nil || s4.TopicsByID[info.ID] != nil || len(s4.TopicNames) != 100 {
		t.Fatal("deleted topic still present")
	}
	// Controller: the lowest create revision wins.
	d = newDirtySet()
	_ = m.apply(d, testRoot+"controller/b", []byte("2"), 20, 20, false)
	_ = m.apply(d, testRoot+"controller/a", []byte("5"), 10, 10, false)
	if s := m.build(5, d); s.ControllerID != 5 {
		t.Fatalf("controller %d", s.ControllerID)
	}
	d = newDirtySet()
	_ = m.apply(d, testRoot+"controller/a", nil, 0, 0, true)
	if s := m.build(6, d); s.ControllerID != 2 {
		t.Fatalf("controller after delete %d", s.ControllerID)
	}
}

// BenchmarkPatchPartition10k measures one partition change of a
// 10,000-partition topic (with 100 other topics): apply + build.
func BenchmarkPatchPartition10k(b *testing.B) {
	m, info := bigState(b, 10000)
	key := fmt.Sprintf("%spartitions/%s/%d", testRoot, info.ID, 42)
	val := mustJSON(PartitionState{Leader: 2, LeaderEpoch: 1, PartitionEpoch: 1, ISR: []int32{2, 3}, Replicas: []int32{1, 2, 3}})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d := newDirtySet()
		if err := m.apply(d, key, val, 1, 1, false); err != nil {
			b.Fatal(err)
		}
		m.build(int64(i+2), d)
	}
}
