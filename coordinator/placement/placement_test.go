package placement_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/coordinator/placement"
)

func TestPartitionIsKafkas(t *testing.T) {
	for _, c := range []struct {
		key string
		n   int32
		p   int32
	}{
		{"", 50, 0},
		{"a", 50, 47},
		{"my-group", 50, 12},
		{"grüppe-😀", 50, 14},
		// hashCode is Integer.MIN_VALUE: Kafka's Utils.abs makes it 0.
		{"polygenelubricants", 50, 0},
		{"my-group", 3, 0},
	} {
		if p := placement.Partition(c.key, c.n); p != c.p {
			t.Errorf("Partition(%q, %d) = %d, want %d", c.key, c.n, p, c.p)
		}
	}
	if h := placement.JavaStringHashCode("polygenelubricants"); h != -1<<31 {
		t.Fatalf("hashCode = %d, want MinInt32", h)
	}
}

func openEtcd(t *testing.T) *coordinator.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := coordinator.Open(ctx, coordinator.Config{EmbeddedDir: t.TempDir(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// putState writes a partition state as the controller does (the real
// type's JSON: the fence reads its leader and leader epoch).
func putState(t *testing.T, cli *clientv3.Client, key string, leader, epoch int32, isr ...int32) {
	t.Helper()
	val, err := json.Marshal(coordinator.PartitionState{Leader: leader, LeaderEpoch: epoch, ISR: isr, Replicas: []int32{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(context.Background(), key, string(val)); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, cli *clientv3.Client, key string) string {
	t.Helper()
	resp, err := cli.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// A fence lets its tenure write through ISR changes, refuses a caller's
// failed compare without losing itself, and is lost (nothing written) once
// the partition has another leader or epoch; Acquire no longer grants it.
func TestFence(t *testing.T) {
	s := openEtcd(t)
	cli := s.Client()
	ctx := context.Background()
	key, data := s.Key("partitions", "x", "0"), s.Key("data")
	putState(t, cli, key, 1, 3, 1, 2)
	claim := placement.Claim{Partition: 0, Partitions: 1, LeaderEpoch: 3, Broker: 1, Key: key}
	other := placement.Claim{Partition: 0, Partitions: 1, LeaderEpoch: 3, Broker: 2, Key: key}
	fences, rev, err := placement.Acquire(ctx, cli, []placement.Claim{claim, other})
	if err != nil {
		t.Fatal(err)
	}
	if fences[0] == nil || fences[1] != nil || rev == 0 {
		t.Fatalf("Acquire: %v (rev %d), want a fence for the leader's claim only", fences, rev)
	}
	f := fences[0]
	if _, err := f.Txn(ctx, nil, clientv3.OpPut(data, "1")); err != nil {
		t.Fatal(err)
	}
	putState(t, cli, key, 1, 3, 1) // ISR change: same tenure
	if _, err := f.Txn(ctx, nil, clientv3.OpPut(data, "2")); err != nil {
		t.Fatalf("write after an ISR change: %v", err)
	}
	resp, err := f.Txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.Value(data), "=", "nope")}, clientv3.OpPut(data, "x"))
	if err != nil || resp.Succeeded {
		t.Fatalf("write whose own compare fails: %v %v, want not succeeded, no error", resp, err)
	}
	if f.Lost() || get(t, cli, data) != "2" {
		t.Fatalf("after a failed caller compare: lost %v, data %q", f.Lost(), get(t, cli, data))
	}

	putState(t, cli, key, 2, 4, 2) // moved
	if _, err := f.Txn(ctx, nil, clientv3.OpPut(data, "3")); !errors.Is(err, placement.ErrFenced) {
		t.Fatalf("write after the move: %v, want ErrFenced", err)
	}
	if !f.Lost() || get(t, cli, data) != "2" {
		t.Fatalf("after the move: lost %v, data %q (want 2)", f.Lost(), get(t, cli, data))
	}
	if fs, _, err := placement.Acquire(ctx, cli, []placement.Claim{claim}); err != nil || fs[0] != nil {
		t.Fatalf("Acquire of the old claim: %v %v, want none", fs, err)
	}
	// The same broker leading again holds a new epoch: the old fence stays
	// lost, a new one is granted.
	putState(t, cli, key, 1, 5, 1)
	if _, err := f.Txn(ctx, nil, clientv3.OpPut(data, "4")); !errors.Is(err, placement.ErrFenced) {
		t.Fatalf("old fence after the broker leads again: %v, want ErrFenced", err)
	}
	claim.LeaderEpoch = 5
	fs, _, err := placement.Acquire(ctx, cli, []placement.Claim{claim})
	if err != nil || fs[0] == nil {
		t.Fatalf("Acquire at the new epoch: %v %v", fs, err)
	}
	fs[0].Revoke()
	if _, err := fs[0].Txn(ctx, nil, clientv3.OpPut(data, "5")); !errors.Is(err, placement.ErrFenced) || get(t, cli, data) != "2" {
		t.Fatalf("revoked fence: %v, data %q", err, get(t, cli, data))
	}
}

type event struct {
	elect     bool
	partition int32
	epoch     int32
}

type recorder struct{ events []event }

func (r *recorder) OnElection(c placement.Claim) {
	r.events = append(r.events, event{true, c.Partition, c.LeaderEpoch})
}

func (r *recorder) OnResignation(p, epoch int32) {
	r.events = append(r.events, event{false, p, epoch})
}

func (r *recorder) take() []event { e := r.events; r.events = nil; return e }

// The tracker elects the partitions the view shows this broker leading,
// once per (leader, epoch), and resigns them when the epoch or leader
// changes or the topic goes.
func TestTracker(t *testing.T) {
	view := placement.View{}
	rec := &recorder{}
	tr := placement.NewTracker(placement.TrackerConfig{Broker: 1, Handler: rec, View: func() placement.View { return view }})
	set := func(leaders ...[2]int32) {
		view = placement.View{}
		for i, l := range leaders {
			view.Partitions = append(view.Partitions, placement.PartitionView{Leader: l[0], LeaderEpoch: l[1], Key: fmt.Sprint("k", i)})
		}
	}
	check := func(what string, want ...event) {
		t.Helper()
		tr.Sync()
		if got := rec.take(); !slices.Equal(got, want) {
			t.Fatalf("%s: events %v, want %v", what, got, want)
		}
	}
	check("no topic")
	set([2]int32{1, 0}, [2]int32{2, 0}, [2]int32{1, 0})
	check("first view", event{true, 0, 0}, event{true, 2, 0})
	check("unchanged")
	set([2]int32{1, 0}, [2]int32{1, 1}, [2]int32{1, 0})
	check("partition 1 moves here", event{true, 1, 1})
	set([2]int32{1, 1}, [2]int32{1, 1}, [2]int32{3, 1})
	check("0 re-elected, 2 moves away", event{false, 0, 0}, event{false, 2, 0}, event{true, 0, 1})
	set()
	check("topic gone", event{false, 0, 1}, event{false, 1, 1})
}
