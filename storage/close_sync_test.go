package storage

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Close fsyncs the segment, writes the snapshot and the checkpoint with
// their data fsynced, then fsyncs the directory once for both renames and
// only after that creates the clean-shutdown marker, which it does not
// fsync: a marker that survives a crash describes durable files. A segment
// created since the last flush gets its own directory fsync first (its
// entry before the recovery point passes it).
func TestCloseSyncsTheDirectoryOnceBeforeTheMarker(t *testing.T) {
	for _, flushedFirst := range []bool{true, false} {
		fsys := newFaultFS()
		dir := t.TempDir()
		l := mustOpen(t, dir, Config{}, testOpts(t, fsys, nil))
		mustAppend(t, l, idemBatch(3, 7, 0, 0), 0)
		leo := l.leo.Load()
		if flushedFirst {
			if err := l.flushUpTo(leo, true); err != nil {
				t.Fatal(err)
			}
		}
		fsys.mu.Lock()
		mark := len(fsys.events)
		fsys.mu.Unlock()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		fsys.mu.Lock()
		events := slices.Clone(fsys.events[mark:])
		fsys.mu.Unlock()
		at := func(e string) int {
			i := slices.Index(events, e)
			if i < 0 {
				t.Fatalf("flushed first %v: no %q in %s", flushedFirst, e, strings.Join(events, ", "))
			}
			return i
		}
		var dirSyncs []int
		for i, e := range events {
			if e == "sync "+dir {
				dirSyncs = append(dirSyncs, i)
			}
		}
		want := 1
		if !flushedFirst {
			want = 2
		}
		if len(dirSyncs) != want {
			t.Fatalf("flushed first %v: %d directory fsyncs at close, want %d: %s", flushedFirst, len(dirSyncs), want, strings.Join(events, ", "))
		}
		last := dirSyncs[len(dirSyncs)-1]
		seg := at("sync " + offsetFileName(dir, 0, logSuffix))
		snap := at("sync " + snapshotPath(dir, leo) + tmpSuffix)
		ckpt := at("sync " + filepath.Join(dir, checkpointFile) + tmpSuffix)
		marker := at("create " + filepath.Join(dir, cleanShutdownFile))
		if !(seg < snap && snap < last && ckpt < last && last < marker) {
			t.Fatalf("flushed first %v: order segment %d, snapshot %d, checkpoint %d, directory %d, marker %d: %s",
				flushedFirst, seg, snap, ckpt, last, marker, strings.Join(events, ", "))
		}
		if !flushedFirst && dirSyncs[0] > snap {
			t.Fatalf("the new segment's directory entry was fsynced after the snapshot: %s", strings.Join(events, ", "))
		}
		if n := fsys.syncsOf(filepath.Join(dir, cleanShutdownFile)); n != 0 {
			t.Fatalf("the marker was fsynced %d times", n)
		}
		// The log opens clean, with its records and its producer.
		l2 := mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
		if got := l2.leo.Load(); got != leo {
			t.Fatalf("reopened at %d, want %d", got, leo)
		}
		if _, ok := l2.producers.producers[7]; !ok {
			t.Fatal("the producer's state was not kept")
		}
		if err := l2.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
