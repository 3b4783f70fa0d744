package group

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/coordinator/placement"
)

// The cost of loading __consumer_offsets partitions when the keys are not
// grouped by partition: every load pass reads every group and offset.
//
//	go test -run '^$' -bench BenchmarkPlacedLoad -benchtime 5x ./coordinator/group/
//
// 10,000 classic groups (three members, about 1 KiB of record each) with 10
// committed offsets each: 10,000 records + 100,000 offsets.

const (
	benchGroups  = 10000
	benchOffsets = 10
	benchParts   = 50
)

var (
	benchOnce  sync.Once
	benchStore *coordinator.Store
	benchErr   error
)

func benchSeed(b *testing.B) *coordinator.Store {
	benchOnce.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "samsa-group-bench-")
		if err != nil {
			benchErr = err
			return
		}
		// Left for the process: both benchmarks share it. (Removed by
		// the OS's temp cleanup; a few tens of MB.)
		s, err := coordinator.Open(ctx, coordinator.Config{EmbeddedDir: dir, Logger: zerolog.Nop()})
		if err != nil {
			benchErr = err
			return
		}
		benchStore = s
		cli := s.Client()
		rec := groupRecord{Type: "classic", ProtocolType: "consumer", Protocol: "range", Generation: 7, StateTimestamp: time.Now().UnixMilli()}
		for m := range 3 {
			rec.Members = append(rec.Members, memberRecord{ID: fmt.Sprintf("consumer-%d-5f3c1a2e-8d44-4f0b-9c1e-2a7b6d9e0f11", m),
				ClientID: "consumer", ClientHost: "/10.0.0.1", SessionTimeoutMs: 45000, RebalanceTimeoutMs: 300000,
				Protocols: []protocolEntry{{Name: "range", Metadata: make([]byte, 120)}}, Assignment: make([]byte, 80)})
		}
		val, _ := json.Marshal(rec)
		off, _ := json.Marshal(offsetRecord{Offset: 123456789, LeaderEpoch: 4, CommitTimestamp: time.Now().UnixMilli()})
		c := &Coordinator{cfg: Config{Key: s.Key}}
		var ops []clientv3.Op
		flush := func() {
			if len(ops) == 0 {
				return
			}
			if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil && benchErr == nil {
				benchErr = err
			}
			ops = ops[:0]
		}
		for i := range benchGroups {
			id := fmt.Sprintf("service-%05d-consumers", i)
			ops = append(ops, clientv3.OpPut(c.groupKey(id), string(val)))
			for p := range benchOffsets {
				ops = append(ops, clientv3.OpPut(c.offsetKey(id, "events", int32(p)), string(off)))
			}
			if len(ops) >= 110 {
				flush()
			}
		}
		flush()
		for p := range benchParts {
			st, _ := json.Marshal(map[string]any{"leader": 1, "leader_epoch": 1})
			if _, err := cli.Put(ctx, s.Key("partitions", "bench", fmt.Sprint(p)), string(st)); err != nil && benchErr == nil {
				benchErr = err
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

func benchLoad(b *testing.B, parts int) {
	s := benchSeed(b)
	b.ResetTimer()
	for range b.N {
		c, err := New(Config{Placed: true, Client: s.Client(), Key: s.Key, Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		c.Start()
		for p := range int32(parts) {
			c.OnElection(placement.Claim{Partition: p, Partitions: benchParts, LeaderEpoch: 1, Broker: 1, Key: s.Key("partitions", "bench", fmt.Sprint(p))})
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := c.WaitLoaded(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		b.StopTimer()
		if n := len(c.all()); parts == benchParts && n != benchGroups {
			b.Fatalf("loaded %d groups, want %d", n, benchGroups)
		}
		c.Close()
		b.StartTimer()
	}
}

// One partition of 50 (a single coordinator move): about 200 groups kept,
// everything read.
func BenchmarkPlacedLoadOnePartition(b *testing.B) { benchLoad(b, 1) }

// All 50 partitions in one pass (a one-broker start, or a broker taking
// over a dead one's partitions).
func BenchmarkPlacedLoadAllPartitions(b *testing.B) { benchLoad(b, benchParts) }
