package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
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

// eio fails the writes or fsyncs (faultFS.writeErr, syncErr) of every path
// containing part with EIO, as a failing disk does.
func eio(part string) func(path string) error {
	return func(path string) error {
		if strings.Contains(path, part) {
			return &os.PathError{Op: "injected", Path: path, Err: syscall.EIO}
		}
		return nil
	}
}

// eioSyncingDirAfter fails with EIO the fsyncs of dir that follow an fsync
// of a path ending in prev: the directory fsync after a segment's files
// (prev timeIndexSuffix) or after a checkpoint's temp file was renamed
// (prev its temp file).
func eioSyncingDirAfter(dir, prev string) func(path string) error {
	var mu sync.Mutex
	last := ""
	return func(path string) error {
		mu.Lock()
		defer mu.Unlock()
		if path == dir && strings.HasSuffix(last, prev) {
			return &os.PathError{Op: "injected", Path: path, Err: syscall.EIO}
		}
		last = path
		return nil
	}
}

// failingLog opens a log on fsys in dir whose OnFailure sends to the
// returned channel.
func failingLog(t *testing.T, dir string, fsys *faultFS, cfg Config) (*Log, chan error) {
	t.Helper()
	failed := make(chan error, 8)
	opts := testOpts(t, fsys, nil)
	opts.OnFailure = func(err error) { failed <- err }
	return mustOpen(t, dir, cfg, opts), failed
}

// appendAcked appends n batches of two records at epoch and returns acked
// with them added as the log holds them.
func appendAcked(t *testing.T, l *Log, n int, epoch int32, acked []byte) []byte {
	t.Helper()
	for i := 0; i < n; i++ {
		b := simpleBatch(2, 10, 1)
		r := mustAppend(t, l, bytes.Clone(b), epoch)
		acked = append(acked, stamped(b, r.BaseOffset, epoch)...)
	}
	return acked
}

// checkFailed checks a log that failed at op with an injected EIO, and
// returns its sticky error: OnFailure had that error, wrapping ErrStorage
// and EIO; every later write fails with it and OnFailure hears nothing
// more (Close included); the log still ends at leo and reads back acked,
// no more. It closes the log.
func checkFailed(t *testing.T, l *Log, failed <-chan error, op string, leo int64, acked []byte) error {
	t.Helper()
	var sticky error
	select {
	case sticky = <-failed:
	case <-time.After(10 * time.Second):
		t.Fatal("OnFailure not called")
	}
	if !errors.Is(sticky, ErrStorage) || !errors.Is(sticky, syscall.EIO) || !strings.Contains(sticky.Error(), ": "+op+": ") {
		t.Fatalf("OnFailure with %v; want ErrStorage, EIO, op %q", sticky, op)
	}
	if l.Err() != sticky {
		t.Fatalf("Err %v, OnFailure had %v", l.Err(), sticky)
	}
	if _, err := l.Append(simpleBatch(2, 10, 1), 0, -1); err != sticky {
		t.Fatalf("append after the failure: %v, want the sticky %v", err, sticky)
	}
	if err := l.Flush(); err != sticky {
		t.Fatalf("flush after the failure: %v, want the sticky %v", err, sticky)
	}
	if l.LogEndOffset() != leo {
		t.Fatalf("log end offset %d after the failure, want %d", l.LogEndOffset(), leo)
	}
	l.SetHighWatermark(leo + 100)
	if got := readLogBytes(t, l); !bytes.Equal(got, acked) {
		t.Fatalf("read %d bytes after the failure, want the %d acknowledged ones", len(got), len(acked))
	}
	if err := l.Close(); !errors.Is(err, ErrStorage) {
		t.Fatalf("Close of a failed log: %v", err)
	}
	if n := len(failed); n != 0 {
		t.Fatalf("OnFailure called %d more times", n)
	}
	return sticky
}

// checkKept checks that every file of before is still in dir, the
// segments' and snapshots' bytes unchanged (checkpoints may have been
// replaced whole), that any file the failed write created is empty or a
// temp file, and that no clean-shutdown marker was written.
func checkKept(t *testing.T, dir string, before map[string]string) {
	t.Helper()
	after := dirState(t, dir)
	for name, b := range before {
		a, ok := after[name]
		switch {
		case !ok:
			t.Errorf("%s was removed", name)
		case a != b && !strings.Contains(name, "checkpoint"):
			t.Errorf("%s changed: %s, was %s", name, a, b)
		}
	}
	for name, a := range after {
		if _, ok := before[name]; ok {
			continue
		}
		switch {
		case name == cleanShutdownFile:
			t.Errorf("a failed log wrote its clean-shutdown marker")
		case !strings.HasSuffix(name, tmpSuffix) && !strings.HasPrefix(a, "0 bytes"):
			t.Errorf("%s was created with data: %s", name, a)
		}
	}
}

// checkReopens opens dir again on a working disk: it ends at leo and
// holds acked.
func checkReopens(t *testing.T, dir string, cfg Config, leo int64, acked []byte) {
	t.Helper()
	l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	defer l.Close()
	if l.LogEndOffset() != leo {
		t.Fatalf("reopened at log end offset %d, want %d", l.LogEndOffset(), leo)
	}
	l.SetHighWatermark(leo)
	if got := readLogBytes(t, l); !bytes.Equal(got, acked) {
		t.Fatalf("reopened log holds %d bytes, want the %d acknowledged ones", len(got), len(acked))
	}
}

// A roll that cannot create the new segment's files, or write the old
// segment's final time-index entry, fails the log: the batch that needed
// the roll is refused and never visible, the new segment never joins the
// log, and what the log held stays on disk.
func TestAFailedRollFailsTheLog(t *testing.T) {
	newFile := func(suffix string) string { return offsetFileName("", 4, suffix) }
	for _, tc := range []struct {
		name   string
		inject func(*faultFS)
	}{
		{"create the new log file", func(f *faultFS) { f.openMatch, f.openErr = newFile(logSuffix), syscall.EIO }},
		{"create the new offset index", func(f *faultFS) { f.openMatch, f.openErr = newFile(indexSuffix), syscall.EIO }},
		{"create the new time index", func(f *faultFS) { f.openMatch, f.openErr = newFile(timeIndexSuffix), syscall.EIO }},
		{"write the old segment's last time-index entry", func(f *faultFS) {
			f.writeErr = eio(offsetFileName("", 0, timeIndexSuffix))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := newFaultFS()
			cfg := Config{SegmentBytes: int64(2 * len(simpleBatch(2, 10, 1)))}
			l, failed := failingLog(t, dir, fsys, cfg)
			acked := appendAcked(t, l, 2, 0, nil)
			before := dirState(t, dir)
			fsys.mu.Lock() // inject sets faultFS fields
			tc.inject(fsys)
			fsys.mu.Unlock()
			_, err := l.Append(simpleBatch(2, 10, 1), 0, -1) // needs a roll
			if n := len(l.segments()); n != 1 {
				t.Fatalf("%d segments after a failed roll, want 1", n)
			}
			if sticky := checkFailed(t, l, failed, "roll", 4, acked); err != sticky {
				t.Fatalf("append that rolled: %v, want the sticky %v", err, sticky)
			}
			checkKept(t, dir, before)
			checkReopens(t, dir, cfg, 4, acked)
		})
	}
}

// A failed write of samsa-checkpoint (by a flush) or of
// leader-epoch-checkpoint (by an append in a new leader epoch), at any
// step of writeFileAtomic, fails the log; the append that needed the new
// epoch is refused and never visible.
func TestAFailedCheckpointFailsTheLog(t *testing.T) {
	for _, file := range []struct {
		name, op string
		write    func(*Log) error
	}{
		{checkpointFile, "checkpoint", func(l *Log) error { return l.Flush() }},
		{leaderEpochFile, "leader epoch checkpoint", func(l *Log) error {
			_, err := l.Append(simpleBatch(2, 10, 1), 1, -1)
			return err
		}},
	} {
		for _, step := range []struct {
			name   string
			inject func(f *faultFS, dir, file string)
		}{
			{"write the temp file", func(f *faultFS, dir, file string) { f.setWriteErr(eio(file + tmpSuffix)) }},
			{"fsync the temp file", func(f *faultFS, dir, file string) { f.setSyncErr(eio(file + tmpSuffix)) }},
			{"fsync the directory after the rename", func(f *faultFS, dir, file string) {
				f.setSyncErr(eioSyncingDirAfter(dir, file+tmpSuffix))
			}},
		} {
			t.Run(file.name+"/"+step.name, func(t *testing.T) {
				dir := t.TempDir()
				fsys := newFaultFS()
				l, failed := failingLog(t, dir, fsys, Config{})
				acked := appendAcked(t, l, 2, 0, nil)
				if err := l.Flush(); err != nil {
					t.Fatal(err)
				}
				acked = appendAcked(t, l, 1, 0, acked)
				before := dirState(t, dir)
				step.inject(fsys, dir, file.name)
				err := file.write(l)
				if sticky := checkFailed(t, l, failed, file.op, 6, acked); err != sticky {
					t.Fatalf("write of %s: %v, want the sticky %v", file.name, err, sticky)
				}
				checkKept(t, dir, before)
				checkReopens(t, dir, Config{}, 6, acked)
			})
		}
	}
}

// The directory fsync that makes a new segment's entry durable fails the
// log, whether the post-roll flush (in the background) or a later flush
// makes it.
func TestAFailedDirectorySyncFailsTheLog(t *testing.T) {
	cfg := Config{SegmentBytes: int64(2 * len(simpleBatch(2, 10, 1)))}
	t.Run("post-roll flush", func(t *testing.T) {
		dir := t.TempDir()
		fsys := newFaultFS()
		l, failed := failingLog(t, dir, fsys, cfg)
		acked := appendAcked(t, l, 2, 0, nil)
		fsys.setSyncErr(eioSyncingDirAfter(dir, timeIndexSuffix))
		acked = appendAcked(t, l, 1, 0, acked) // rolls; the segment 0 fsync is in the background
		l.bg.Wait()
		before := dirState(t, dir)
		checkFailed(t, l, failed, "fsync directory", 6, acked)
		if rp := l.RecoveryPoint(); rp != 0 {
			t.Fatalf("recovery point %d after the directory fsync failed, want 0", rp)
		}
		checkKept(t, dir, before)
		checkReopens(t, dir, cfg, 6, acked)
	})
	t.Run("flush of the new segment", func(t *testing.T) {
		dir := t.TempDir()
		fsys := newFaultFS()
		l, failed := failingLog(t, dir, fsys, cfg)
		acked := appendAcked(t, l, 3, 0, nil) // rolls at 4
		l.bg.Wait()
		if rp := l.RecoveryPoint(); rp != 4 || l.Err() != nil {
			t.Fatalf("after the roll: recovery point %d, Err %v", rp, l.Err())
		}
		before := dirState(t, dir)
		fsys.setSyncErr(eioSyncingDirAfter(dir, offsetFileName("", 4, timeIndexSuffix)))
		err := l.Flush()
		if sticky := checkFailed(t, l, failed, "fsync directory", 6, acked); err != sticky {
			t.Fatalf("flush: %v, want the sticky %v", err, sticky)
		}
		if rp := l.RecoveryPoint(); rp != 4 {
			t.Fatalf("recovery point %d after the directory fsync failed, want 4", rp)
		}
		checkKept(t, dir, before)
		checkReopens(t, dir, cfg, 6, acked)
	})
}

// lockedBuffer is a bytes.Buffer for a logger written from several
// goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A log of a Manager that fails logs one error line, with its partition,
// the operation and the cause, however many writes are refused after it,
// and is reported once to OnLogFailure. Here the samsa-checkpoint write of
// the post-roll flush fails, on the log's background goroutine.
func TestManagerLogsAWriteFailureOnce(t *testing.T) {
	fsys := newFaultFS()
	var logs lockedBuffer
	called := make(chan error, 4)
	m, err := NewManager(t.TempDir(), ManagerOptions{FS: fsys, Logger: zerolog.New(&logs),
		OnLogFailure: func(tp TopicPartition, err error) {
			if tp != (TopicPartition{"t", 3}) {
				t.Errorf("OnLogFailure for %+v", tp)
			}
			called <- err
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
	acked := appendAcked(t, l, 2, 0, nil)
	fsys.setWriteErr(eio(checkpointFile + tmpSuffix))
	acked = appendAcked(t, l, 1, 0, acked) // rolls; the checkpoint fails in the background
	checkFailed(t, l, called, "checkpoint", 6, acked)
	m.flushTick(time.Now())
	m.retentionTick(time.Now())
	m.Close() // the log is closed already (checkFailed)
	if n := len(called); n != 0 {
		t.Fatalf("OnLogFailure called %d more times", n)
	}
	var errorLines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if e["level"] == "error" {
			errorLines = append(errorLines, e)
		}
	}
	if len(errorLines) != 1 {
		t.Fatalf("%d error lines, want 1:\n%s", len(errorLines), logs.String())
	}
	e := errorLines[0]
	if e["topic"] != "t" || e["partition"] != float64(3) || e["op"] != "checkpoint" ||
		!strings.Contains(e["error"].(string), syscall.EIO.Error()) ||
		!strings.Contains(e["error"].(string), filepath.Join("t-3", checkpointFile+tmpSuffix)) {
		t.Fatalf("error line %v", e)
	}
}
