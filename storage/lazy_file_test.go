package storage

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// withIndexFileLimit runs the test with the index file pool bounded to n.
func withIndexFileLimit(t *testing.T, n int) {
	t.Helper()
	indexFiles.mu.Lock()
	old := indexFiles.limit
	indexFiles.limit = n
	indexFiles.mu.Unlock()
	t.Cleanup(func() {
		indexFiles.mu.Lock()
		indexFiles.limit = old
		indexFiles.mu.Unlock()
	})
}

// Many logs with more index files than the pool allows: the pool keeps
// only its limit open, and every log still appends, indexes, reads and
// finds by timestamp correctly; after a clean close the indexes on disk
// are whole (a reopen loads them as they are: nothing rebuilt).
func TestLazyIndexFilesBounded(t *testing.T) {
	withIndexFileLimit(t, 4)
	const logs, batches = 6, 40
	cfg := Config{IndexIntervalBytes: 200, SegmentBytes: 4000}
	dirs := make([]string, logs)
	ls := make([]*Log, logs)
	for i := range ls {
		dirs[i] = t.TempDir()
		ls[i] = mustOpen(t, dirs[i], cfg, testOpts(t, nil, nil))
	}
	for b := range batches {
		for _, l := range ls {
			mustAppend(t, l, simpleBatch(2, 100, int64(1000+b)), 0)
		}
	}
	if n := indexFiles.open(); n > 4 {
		t.Fatalf("%d index files open, want at most the pool's 4", n)
	}
	for i, l := range ls {
		if n := len(l.segments()); n < 3 {
			t.Fatalf("log %d: %d segments, want several", i, n)
		}
		l.SetHighWatermark(l.LogEndOffset())
		for _, off := range []int64{0, 17, 41, 79} {
			res, err := l.Read(off, 1<<20, -1, true)
			if err != nil || len(res.Records) == 0 {
				t.Fatalf("log %d: Read(%d): %v, %d bytes", i, off, err, len(res.Records))
			}
		}
		if off, _, found, err := l.OffsetForTimestamp(1020); err != nil || !found || off != 39 {
			t.Fatalf("log %d: OffsetForTimestamp(1020) = %d %v %v, want 39", i, off, found, err)
		}
	}
	for _, l := range ls {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for i, dir := range dirs {
		l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
		for _, s := range l.segments()[:len(l.segments())-1] {
			fi, err := os.Stat(offsetFileName(dir, s.base, indexSuffix))
			if err != nil || fi.Size() == 0 || fi.Size() != int64(len(s.oi.entries.view()))*offsetEntrySize {
				t.Fatalf("log %d segment %d: index file %v (%v), %d entries in memory", i, s.base, fi, err, len(s.oi.entries.view()))
			}
		}
		if off, _, found, err := l.OffsetForTimestamp(1020); err != nil || !found || off != 39 {
			t.Fatalf("log %d after a reopen: OffsetForTimestamp(1020) = %d %v %v, want 39", i, off, found, err)
		}
		l.Close()
	}
}

// A closed lazy file whose path now names another file is not reopened:
// writing into another file would corrupt it.
func TestLazyFileReplaced(t *testing.T) {
	pool := &lazyFilePool{limit: 1}
	dir := t.TempDir()
	path := filepath.Join(dir, "a.index")
	lf, err := openLazyFile(OSFS{}, path, os.O_RDWR|os.O_CREATE, pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lf.WriteAt([]byte("12345678"), 0); err != nil {
		t.Fatal(err)
	}
	// Another file evicts it (fsynced, closed).
	other, err := openLazyFile(OSFS{}, filepath.Join(dir, "b.index"), os.O_RDWR|os.O_CREATE, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if lf.f != nil || pool.open() != 1 {
		t.Fatalf("the first file is still open (%d open)", pool.open())
	}
	b := make([]byte, 8)
	if _, err := lf.ReadAt(b, 0); err != nil || string(b) != "12345678" {
		t.Fatalf("reopened read: %q %v", b, err)
	}
	// Evict it again, then replace the file.
	if _, err := other.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	// Renamed away (as a deleted segment's files are) and a new file
	// made at its path.
	if err := os.Rename(path, path+".deleted"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("another"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := lf.WriteAt([]byte("zz"), 0); !errors.Is(err, errIndexFileReplaced) {
		t.Fatalf("write to a replaced file: %v, want errIndexFileReplaced", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "another" {
		t.Fatalf("the other file was written: %q", got)
	}
	lf.Close()
}

// An fsync that fails when the pool closes a written file is not lost:
// the file's next Sync returns it.
func TestLazyFileEvictionSyncError(t *testing.T) {
	pool := &lazyFilePool{limit: 1}
	fsys := newFaultFS()
	fsys.match = ".index"
	dir := t.TempDir()
	lf, err := openLazyFile(fsys, filepath.Join(dir, "a.index"), os.O_RDWR|os.O_CREATE, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if _, err := lf.WriteAt([]byte("12345678"), 0); err != nil {
		t.Fatal(err)
	}
	fsys.mu.Lock()
	fsys.failSync = true
	fsys.mu.Unlock()
	other, err := openLazyFile(fsys, filepath.Join(dir, "b.index"), os.O_RDWR|os.O_CREATE, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if lf.f != nil {
		t.Fatal("the written file was not evicted")
	}
	if err := lf.Sync(); err == nil {
		t.Fatal("Sync after a failed eviction fsync returned nil")
	}
	if err := lf.Sync(); err != nil {
		t.Fatalf("second Sync: %v (the error is returned once)", err)
	}
}

// Sync fsyncs a lazy file only when something changed since its last
// fsync: created or truncated by its open, written or truncated since.
func TestLazyFileSyncSkipsAnUnchangedFile(t *testing.T) {
	pool := &lazyFilePool{limit: 8}
	fsys := newFaultFS()
	path := filepath.Join(t.TempDir(), "a.index")
	want := func(n int, what string) {
		t.Helper()
		if got := fsys.syncsOf(path); got != n {
			t.Fatalf("%s: %d fsyncs, want %d", what, got, n)
		}
	}
	lf, err := openLazyFile(fsys, path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := lf.Sync(); err != nil {
		t.Fatal(err)
	}
	want(1, "a created file")
	if err := lf.Sync(); err != nil {
		t.Fatal(err)
	}
	want(1, "synced again with nothing written")
	if _, err := lf.WriteAt([]byte("12345678"), 0); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(lf.Sync(), lf.Close()); err != nil {
		t.Fatal(err)
	}
	want(2, "after a write")
	lf, err = openLazyFile(fsys, path, os.O_RDWR, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := lf.Sync(); err != nil {
		t.Fatal(err)
	}
	want(2, "an existing file opened and not written")
	if err := lf.Truncate(4); err != nil {
		t.Fatal(err)
	}
	if err := lf.Sync(); err != nil {
		t.Fatal(err)
	}
	want(3, "after a truncation")
}
