package storage

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// Write errors are never swallowed: the first one is sticky (every later
// write fails with it), the log reports it once through Options.OnFailure,
// and nothing of the write that failed becomes visible.

// A batch whose fsync (flush.messages) failed was refused to the client: it
// must not become readable, and the log end offset must not move past it.
func TestAFailedFlushPublishesNothing(t *testing.T) {
	fsys := newFaultFS()
	l := mustOpen(t, t.TempDir(), Config{FlushMessages: 1}, testOpts(t, fsys, nil))
	defer l.Close()
	var acked []byte
	for i := 0; i < 2; i++ {
		b := simpleBatch(2, 10, 1)
		acked = append(acked, stamped(b, int64(2*i), 0)...)
		mustAppend(t, l, b, 0)
	}
	size := l.Size()
	fsys.failSync = true
	if _, err := l.Append(simpleBatch(2, 10, 1), 0, -1); !errors.Is(err, ErrStorage) {
		t.Fatalf("append whose fsync failed: %v", err)
	}
	if l.LogEndOffset() != 4 || l.Size() != size {
		t.Fatalf("log end offset %d, size %d after a failed append; want 4, %d", l.LogEndOffset(), l.Size(), size)
	}
	l.SetHighWatermark(100)
	if got := readLogBytes(t, l); string(got) != string(acked) {
		t.Fatalf("read %d bytes, want the %d acknowledged ones", len(got), len(acked))
	}
	if res, err := l.Read(4, 1<<20, -1, true); !errors.Is(err, nil) || len(res.Records) != 0 {
		t.Fatalf("read at the failed batch: %d bytes, %v", len(res.Records), err)
	}
}

// The producer snapshot written after a roll is part of what makes the log
// recoverable: failing to write it fails the log.
func TestAFailedRollSnapshotFailsTheLog(t *testing.T) {
	fsys := newFaultFS()
	fsys.match = snapshotSuffix
	b := simpleBatch(2, 10, 1)
	l := mustOpen(t, t.TempDir(), Config{SegmentBytes: int64(2 * len(b))}, testOpts(t, fsys, nil))
	defer l.Close()
	for i := 0; i < 2; i++ {
		mustAppend(t, l, simpleBatch(2, 10, 1), 0)
	}
	fsys.failSync = true                       // the snapshot's temp file is fsynced before its rename
	mustAppend(t, l, simpleBatch(2, 10, 1), 0) // rolls
	l.bg.Wait()
	if _, err := l.Append(simpleBatch(2, 10, 1), 0, -1); !errors.Is(err, ErrStorage) {
		t.Fatalf("append after the roll snapshot failed: %v", err)
	}
}

// OnFailure is called exactly once, with the sticky error, and with none of
// the log's locks held (the broker writes to etcd from it).
func TestOnFailureOnceWithoutLocks(t *testing.T) {
	fsys := newFaultFS()
	opts := testOpts(t, fsys, nil)
	var mu sync.Mutex
	var got []error
	var l *Log
	opts.OnFailure = func(err error) {
		for name, m := range map[string]interface{ TryLock() bool }{
			"mu": &l.mu, "flushMu": &l.flushMu, "truncMu": &l.truncMu, "trimMu": &l.trimMu} {
			if !m.TryLock() {
				t.Errorf("OnFailure called with %s held", name)
				continue
			}
			m.(interface{ Unlock() }).Unlock()
		}
		mu.Lock()
		got = append(got, err)
		mu.Unlock()
	}
	l = mustOpen(t, t.TempDir(), Config{FlushMessages: 1}, opts)
	mustAppend(t, l, simpleBatch(1, 1, 1), 0)
	if l.Err() != nil {
		t.Fatalf("Err before any failure: %v", l.Err())
	}
	fsys.failSync = true
	_, err := l.Append(simpleBatch(1, 1, 1), 0, -1)
	if !errors.Is(err, ErrStorage) || !errors.Is(err, errInjected) {
		t.Fatalf("append: %v", err)
	}
	// Every later write fails with the same error and reports nothing more.
	l.Append(simpleBatch(1, 1, 1), 0, -1)
	l.Flush()
	l.ApplyRetention(time.Now())
	l.TruncateTo(0)
	l.DeleteRecordsBefore(1)
	l.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("OnFailure called %d times, want once", len(got))
	}
	if got[0] != l.Err() || got[0].Error() != err.Error() {
		t.Fatalf("OnFailure got %v, Err is %v, Append returned %v", got[0], l.Err(), err)
	}
}

// The Manager hands each log's failure to OnLogFailure with its partition;
// a failure on the post-roll goroutine is reported too.
func TestManagerReportsLogFailures(t *testing.T) {
	fsys := newFaultFS()
	fsys.match = snapshotSuffix
	called := make(chan TopicPartition, 4)
	m, err := NewManager(t.TempDir(), ManagerOptions{FS: fsys, Logger: testOpts(t, nil, nil).Logger,
		OnLogFailure: func(tp TopicPartition, err error) {
			if !errors.Is(err, ErrStorage) {
				t.Errorf("OnLogFailure with %v", err)
			}
			called <- tp
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b := simpleBatch(2, 10, 1)
	l, err := m.GetOrCreate("t", 3, [16]byte{1}, Config{SegmentBytes: int64(2 * len(b))})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, simpleBatch(2, 10, 1), 0)
	mustAppend(t, l, simpleBatch(2, 10, 1), 0)
	fsys.failSync = true
	mustAppend(t, l, simpleBatch(2, 10, 1), 0) // rolls; the snapshot fails in the background
	select {
	case tp := <-called:
		if tp != (TopicPartition{"t", 3}) {
			t.Fatalf("OnLogFailure for %+v", tp)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnLogFailure not called")
	}
	if !errors.Is(l.Err(), ErrStorage) {
		t.Fatalf("Err %v", l.Err())
	}
	l.Append(simpleBatch(2, 10, 1), 0, -1)
	m.Close()
	if n := len(called); n != 0 {
		t.Fatalf("OnLogFailure called %d more times", n)
	}
}
