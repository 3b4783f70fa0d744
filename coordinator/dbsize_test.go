//go:build dbsize

// etcd's database size after many offset commits, with and without the
// controller's compaction, for reports (a few minutes):
//
//	go test -tags dbsize -run TestDBSize -v -timeout 30m ./coordinator/
package coordinator

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/coordinator/group"
)

const (
	dbsizeCommits    = 100_000
	dbsizePartitions = 10
	dbsizeGroups     = 100
	dbsizeWorkers    = 8
	dbsizeInterval   = 5 * time.Second
)

func TestDBSize(t *testing.T) {
	for _, interval := range []time.Duration{0, dbsizeInterval} {
		t.Run(fmt.Sprintf("compaction=%s", interval), func(t *testing.T) { dbsizeRun(t, interval) })
	}
}

func dbsizeRun(t *testing.T, interval time.Duration) {
	ctx := context.Background()
	s, err := Open(ctx, Config{EmbeddedDir: t.TempDir(), CompactionInterval: interval, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RegisterBroker(ctx, BrokerInfo{ID: 1, Host: "127.0.0.1", Port: 9092}); err != nil {
		t.Fatal(err)
	}
	c, err := group.New(group.Config{Client: s.Client(), Key: s.Key, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	defer c.Close()
	if err := c.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
	status := func() (int64, int64) {
		st, err := s.Client().Status(ctx, s.EmbeddedEndpoint())
		if err != nil {
			t.Fatal(err)
		}
		return st.DbSize, st.DbSizeInUse
	}

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range dbsizeWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			commits := make([]group.Commit, dbsizePartitions)
			for {
				n := next.Add(1) - 1
				if n >= dbsizeCommits {
					return
				}
				for p := range commits {
					commits[p] = group.Commit{Topic: "topic", Partition: int32(p), Offset: n, LeaderEpoch: 0}
				}
				args := group.CommitArgs{Group: fmt.Sprintf("group-%03d", n%dbsizeGroups), Generation: -1, Version: 8}
				for _, code := range c.CommitOffsets(ctx, args, commits) {
					if code != 0 {
						t.Errorf("commit %d: %v", n, kerr.ErrorForCode(code))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	size, inUse := status()
	t.Logf("%d commits x %d partitions in %s (%.0f commits/s), compaction interval %s, compactions %d",
		dbsizeCommits, dbsizePartitions, took.Round(time.Second), dbsizeCommits/took.Seconds(), interval, s.compactions.Load())
	t.Logf("right after: DbSize %.1f MiB, DbSizeInUse %.1f MiB", mib(size), mib(inUse))
	if interval == 0 {
		return
	}
	// Two more intervals: the compaction reaches the last commit; then
	// let etcd finish compacting in the background.
	from := s.compactTicks.Load()
	for s.compactTicks.Load() < from+3 {
		time.Sleep(100 * time.Millisecond)
	}
	prev := int64(-1)
	for inUse != prev {
		prev = inUse
		time.Sleep(3 * time.Second)
		size, inUse = status()
	}
	t.Logf("settled: DbSize %.1f MiB, DbSizeInUse %.1f MiB, compactions %d", mib(size), mib(inUse), s.compactions.Load())
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
