package storage

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDurableHighWatermarkWaitsForFsync: in durable mode an append is not
// fsynced by Append (flush.messages does not apply), the high watermark
// stays at the recovery point until SyncTo fsyncs, and consumers read only
// up to it.
func TestDurableHighWatermarkWaitsForFsync(t *testing.T) {
	dir := t.TempDir()
	fsys := newFaultFS()
	opts := testOpts(t, fsys, nil)
	opts.Durable = true
	l := mustOpen(t, dir, Config{FlushMessages: 1}, opts)
	defer l.Close()
	logPath := offsetFileName(dir, 0, logSuffix)
	before := fsys.syncsOf(logPath)
	mustAppend(t, l, simpleBatch(3, 10, 1), 0)
	if got := fsys.syncsOf(logPath); got != before {
		t.Fatalf("durable Append fsynced the log (%d -> %d)", before, got)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d before the fsync, want 0", hw)
	}
	if res, _ := l.Read(0, 1<<20, l.HighWatermark(), true); len(res.Records) != 0 {
		t.Fatal("a consumer reads records that are not fsynced")
	}
	if err := l.SyncTo(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	if got := fsys.syncsOf(logPath); got != before+1 || l.RecoveryPoint() != 3 {
		t.Fatalf("SyncTo: %d fsyncs, recovery point %d", got-before, l.RecoveryPoint())
	}
	l.SetHighWatermark(l.LogEndOffset())
	if hw := l.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d after the fsync, want 3", hw)
	}
	// Already durable: no fsync.
	if err := l.SyncTo(context.Background(), 2); err != nil || fsys.syncsOf(logPath) != before+1 {
		t.Fatalf("SyncTo below the recovery point fsynced again: %v", err)
	}
}

// TestDurableGroupCommit: appends that arrive while an fsync runs share the
// next one. Eight producers append while the first one's fsync is held:
// the log is fsynced twice, not eight times, and every one of them returns
// with its records durable.
func TestDurableGroupCommit(t *testing.T) {
	dir := t.TempDir()
	fsys := newFaultFS()
	opts := testOpts(t, fsys, nil)
	opts.Durable = true
	l := mustOpen(t, dir, Config{}, opts)
	defer l.Close()
	logPath := offsetFileName(dir, 0, logSuffix)
	release := make(chan struct{})
	var held atomic.Bool
	fsys.mu.Lock()
	fsys.onSync = func(path string) {
		if path == logPath && held.CompareAndSwap(false, true) {
			<-release
		}
	}
	fsys.mu.Unlock()
	before := fsys.syncsOf(logPath)
	const producers = 8
	var wg sync.WaitGroup
	var appended atomic.Int32
	errs := make(chan error, producers)
	produce := func() {
		defer wg.Done()
		r, err := l.Append(simpleBatch(2, 10, 1), 0, -1)
		if err == nil {
			appended.Add(1)
			err = l.SyncTo(context.Background(), r.LastOffset+1)
		}
		if err == nil && l.RecoveryPoint() <= r.LastOffset {
			err = errors.New("SyncTo returned before the records were durable")
		}
		errs <- err
	}
	wg.Add(1)
	go produce()
	for !held.Load() {
		time.Sleep(time.Millisecond)
	}
	for range producers - 1 {
		wg.Add(1)
		go produce()
	}
	for appended.Load() < producers {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := fsys.syncsOf(logPath) - before; got != 2 {
		t.Fatalf("%d fsyncs of the log for %d producers, want 2 (group commit)", got, producers)
	}
	if l.RecoveryPoint() != 2*producers {
		t.Fatalf("recovery point %d, want %d", l.RecoveryPoint(), 2*producers)
	}
}

// TestDurableFsyncFailure: a failed group fsync fails the log (sticky) and
// every waiter gets the error; the high watermark never passes what was
// fsynced.
func TestDurableFsyncFailure(t *testing.T) {
	fsys := newFaultFS()
	opts := testOpts(t, fsys, nil)
	opts.Durable = true
	l := mustOpen(t, t.TempDir(), Config{}, opts)
	defer l.Close()
	r := mustAppend(t, l, simpleBatch(1, 10, 1), 0)
	fsys.mu.Lock()
	fsys.failSync = true
	fsys.mu.Unlock()
	if err := l.SyncTo(context.Background(), r.LastOffset+1); !errors.Is(err, ErrStorage) {
		t.Fatalf("failed fsync: %v, want ErrStorage", err)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if l.HighWatermark() != 0 || l.Err() == nil {
		t.Fatalf("high watermark %d, err %v after a failed fsync", l.HighWatermark(), l.Err())
	}
}

// TestDurableFollowerFsyncsEachFetch: a durable follower fsyncs once per
// AppendAsFollower call, so the offset its next fetch reports is durable.
func TestDurableFollowerFsyncsEachFetch(t *testing.T) {
	_, all := leaderLog(t, Config{})
	dir := t.TempDir()
	fsys := newFaultFS()
	opts := testOpts(t, fsys, nil)
	opts.Durable = true
	f := mustOpen(t, dir, Config{}, opts)
	defer f.Close()
	before := fsys.syncsOf(offsetFileName(dir, 0, logSuffix))
	if _, err := f.AppendAsFollower(all); err != nil {
		t.Fatal(err)
	}
	if got := fsys.syncsOf(offsetFileName(dir, 0, logSuffix)) - before; got != 1 || f.RecoveryPoint() != f.LogEndOffset() {
		t.Fatalf("%d fsyncs, recovery point %d of %d", got, f.RecoveryPoint(), f.LogEndOffset())
	}
}

// TestDurableIndexesNotTrustedUnsynced: the group commit fsyncs the active
// segment's log file only; the checkpointed recovery point then stays at
// the segment's base (recovery rebuilds its indexes), a roll or Close
// fsyncs the indexes, and a crash after acknowledged appends loses none.
func TestDurableIndexesNotTrustedUnsynced(t *testing.T) {
	dir := t.TempDir()
	fsys := newFaultFS()
	opts := testOpts(t, fsys, nil)
	opts.Durable = true
	b := simpleBatch(4, 100, 1)
	cfg := Config{SegmentBytes: int64(6 * len(b)), IndexIntervalBytes: 100}
	l := mustOpen(t, dir, cfg, opts)
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		r := mustAppend(t, l, simpleBatch(4, 100, 1), 0)
		if err := l.SyncTo(ctx, r.LastOffset+1); err != nil {
			t.Fatal(err)
		}
	}
	idx := offsetFileName(dir, 0, indexSuffix)
	if n := fsys.syncsOf(idx); n != 0 {
		t.Fatalf("the group commit fsynced the active segment's index %d times", n)
	}
	if cp := l.checkpoint(); cp.recoveryPoint != 0 || l.RecoveryPoint() != 16 {
		t.Fatalf("checkpointed recovery point %d (recovery point %d), want 0: the indexes of segment 0 are not fsynced",
			cp.recoveryPoint, l.RecoveryPoint())
	}
	for i := 0; i < 4; i++ { // rolls past segment 0
		r := mustAppend(t, l, simpleBatch(4, 100, 1), 0)
		if err := l.SyncTo(ctx, r.LastOffset+1); err != nil {
			t.Fatal(err)
		}
	}
	l.bg.Wait() // the post-roll flush
	if n := fsys.syncsOf(idx); n == 0 {
		t.Fatal("segment 0's index was never fsynced after its roll")
	}
	if cp := l.checkpoint(); cp.recoveryPoint != l.active().base {
		t.Fatalf("checkpointed recovery point %d, want the active segment's base %d", cp.recoveryPoint, l.active().base)
	}
	leo := l.LogEndOffset()
	crash(l)
	l2 := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	defer l2.Close()
	if l2.LogEndOffset() != leo {
		t.Fatalf("log end offset %d after a crash, want the acknowledged %d", l2.LogEndOffset(), leo)
	}
}
