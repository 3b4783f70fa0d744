package storage

import (
	"math"
	"strings"
	"testing"
	"time"
)

// flush.messages counts the records since the last flush (Kafka: log end
// offset minus recovery point), so it starts again after each flush.
func TestFlushMessagesCountsSinceTheLastFlush(t *testing.T) {
	fsys := newFaultFS()
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{FlushMessages: 1000}, testOpts(t, fsys, nil))
	defer l.Close()
	seg := offsetFileName(dir, 0, logSuffix)
	mustAppend(t, l, simpleBatch(1, 10, 1), 0) // writes leader-epoch-checkpoint (epoch 0)
	dirSyncs := fsys.syncsOf(dir)
	for i := 1; i < 3000; i++ {
		mustAppend(t, l, simpleBatch(1, 10, 1), 0)
		if i == 998 && fsys.syncsOf(seg) != 0 {
			t.Fatal("flushed before flush.messages records")
		}
	}
	if n := fsys.syncsOf(seg); n != 3 {
		t.Fatalf("3000 appends with flush.messages=1000 fsynced the segment %d times, want 3", n)
	}
	// The new segment's directory entry, once, on its first flush.
	if n := fsys.syncsOf(dir) - dirSyncs; n != 1 {
		t.Fatalf("directory fsynced %d times, want 1", n)
	}
	if rp := l.recoveryPoint.Load(); rp != 3000 {
		t.Fatalf("recovery point %d", rp)
	}
}

// A segment created since the last flush has its directory entry fsynced
// before the recovery point moves past it (Kafka's flushDirIfExists), not
// only when some later checkpoint or snapshot happens to fsync the directory.
func TestANewSegmentIsInTheDirectoryBeforeTheRecoveryPointPassesIt(t *testing.T) {
	fsys := newFaultFS()
	dir := t.TempDir()
	b := simpleBatch(1, 10, 1)
	l := mustOpen(t, dir, Config{FlushMessages: 1, SegmentBytes: int64(2 * len(b))}, testOpts(t, fsys, nil))
	mustAppend(t, l, simpleBatch(1, 10, 1), 0)
	mustAppend(t, l, simpleBatch(1, 10, 1), 0)
	// Keep the post-roll snapshot (which fsyncs the directory too) from
	// landing until the append after the roll has flushed.
	hold := make(chan struct{})
	var rpAtDirSync []int64
	fsys.mu.Lock()
	fsys.holdMatch, fsys.hold = snapshotSuffix, hold
	fsys.onSync = func(p string) {
		if p == dir {
			rpAtDirSync = append(rpAtDirSync, l.recoveryPoint.Load())
		}
	}
	mark := len(fsys.events)
	fsys.mu.Unlock()
	mustAppend(t, l, simpleBatch(1, 10, 1), 0) // rolls to a segment at 2 and flushes it
	fsys.mu.Lock()
	events := append([]string(nil), fsys.events[mark:]...)
	got := append([]int64(nil), rpAtDirSync...)
	fsys.onSync = nil
	fsys.mu.Unlock()
	close(hold)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.recoveryPoint.Load() < 3 {
		t.Fatalf("recovery point %d", l.recoveryPoint.Load())
	}
	created := -1
	for i, e := range events {
		if e == "create "+offsetFileName(dir, 2, logSuffix) {
			created = i
		}
	}
	if created < 0 {
		t.Fatalf("no new segment in %v", events)
	}
	n := 0
	for _, e := range events[created:] {
		if e == "sync "+dir {
			n++
		}
	}
	if n != 1 || len(got) != 1 || got[0] > 2 {
		t.Fatalf("after the segment at 2 was created: %d directory fsyncs, recovery point then %v; events %s",
			n, got, strings.Join(events, ", "))
	}
}

// flush.ms is checked every log.flush.scheduler.interval.ms; Kafka's default
// (Long.MAX_VALUE) and zero never check it.
func TestFlushMsIsCheckedOnTheSchedulerInterval(t *testing.T) {
	for _, every := range []time.Duration{0, math.MaxInt64} {
		m, err := NewManager(t.TempDir(), ManagerOptions{FlushCheckInterval: every})
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := m.flushCheckEvery(); ok {
			t.Errorf("FlushCheckInterval %v: flush.ms checked every %v", every, d)
		}
		m.Close()
	}
	clock := &fakeClock{t: time.UnixMilli(1_000_000)}
	m, err := NewManager(t.TempDir(), ManagerOptions{FlushCheckInterval: 5 * time.Millisecond, Now: clock.Now,
		Logger: testOpts(t, nil, nil).Logger})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.GetOrCreate("t", 0, [16]byte{1}, Config{FlushMs: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, simpleBatch(3, 10, 1), 0)
	m.Start()
	clock.Advance(2 * time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for l.recoveryPoint.Load() != 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if rp := l.recoveryPoint.Load(); rp != 3 {
		t.Fatalf("flush.ms passed, scheduler interval set: recovery point %d, want 3", rp)
	}
}

// The idle read-ahead release keeps its own tick when the flush scheduler
// has none.
func TestReadAheadReleaseHasItsOwnTick(t *testing.T) {
	defer func(d time.Duration) { readAheadCheckInterval = d }(readAheadCheckInterval)
	readAheadCheckInterval = time.Millisecond
	m, err := NewManager(t.TempDir(), ManagerOptions{Logger: testOpts(t, nil, nil).Logger})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.GetOrCreate("t", 0, [16]byte{1}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := l.active()
	done := make(chan struct{})
	close(done)
	s.aheadMu.Lock()
	s.ahead = &ahead{done: done, buf: getAheadBuf()}
	s.aheadMu.Unlock()
	aheadLastUsed.Store(time.Now().Add(-time.Hour).UnixNano()) // long idle
	pending := func() bool {
		s.aheadMu.Lock()
		defer s.aheadMu.Unlock()
		return s.ahead != nil
	}
	m.Start()
	deadline := time.Now().Add(10 * time.Second)
	for pending() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if pending() {
		t.Fatal("an idle read-ahead was not released without a flush scheduler")
	}
}
