package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func (f *faultFS) setNoSpace(match string, after int64) {
	f.mu.Lock()
	f.match, f.noSpaceAfter = match, after
	f.mu.Unlock()
}

// TestNoSpaceCutsBackAndRetries: an append that finds the file system full
// — writing the batch (part of it reached the file), an offset-index entry,
// the files of a roll, the leader-epoch checkpoint — returns ErrNoSpace,
// leaves the files as they were and the log writable (no sticky error),
// readers see what they saw, and the next append once there is space
// lands at the same offset. A reopen after a crash finds no half batch.
func TestNoSpaceCutsBackAndRetries(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(f *faultFS)
		cfg   Config
		epoch int32
	}{
		{"batch", func(f *faultFS) { f.setNoSpace(".log", 17) }, Config{}, 0},
		{"index entry", func(f *faultFS) { f.setNoSpace(".index", 3) }, Config{IndexIntervalBytes: 1}, 0},
		{"time index entry", func(f *faultFS) { f.setNoSpace(".timeindex", 5) }, Config{IndexIntervalBytes: 1}, 0},
		{"roll", func(f *faultFS) {
			f.mu.Lock()
			f.openMatch, f.openErr = "00000000000000000006.index", syscall.ENOSPC
			f.mu.Unlock()
		}, Config{SegmentBytes: 600}, 0},
		{"leader epoch checkpoint", func(f *faultFS) { f.setNoSpace("leader-epoch-checkpoint", 2) }, Config{}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := newFaultFS()
			l := mustOpen(t, dir, c.cfg, testOpts(t, fsys, nil))
			defer l.bg.Wait()
			for i := 0; i < 3; i++ {
				mustAppend(t, l, simpleBatch(2, 50, int64(1+i)), 0) // 0..5
			}
			l.bg.Wait()
			l.SetHighWatermark(l.LogEndOffset())
			before := dirState(t, dir)
			readBefore := readLogBytes(t, l)
			c.setup(fsys)
			if _, err := l.Append(simpleBatch(2, 50, 100), c.epoch, -1); !errors.Is(err, ErrNoSpace) {
				t.Fatalf("append on a full file system: %v, want ErrNoSpace", err)
			}
			if err := l.Err(); err != nil {
				t.Fatalf("the log failed: %v", err)
			}
			if l.LogEndOffset() != 6 || l.LatestEpoch() != 0 {
				t.Fatalf("log end offset %d, latest epoch %d after the refused append", l.LogEndOffset(), l.LatestEpoch())
			}
			sameDirState(t, dir, before)
			if got := readLogBytes(t, l); !bytes.Equal(got, readBefore) {
				t.Fatal("readers see something else after the refused append")
			}
			// Space returns.
			fsys.mu.Lock()
			fsys.noSpaceAfter, fsys.openMatch = -1, ""
			fsys.mu.Unlock()
			r, err := l.Append(simpleBatch(2, 50, 100), c.epoch, -1)
			if err != nil || r.BaseOffset != 6 {
				t.Fatalf("append once there is space: %+v %v, want offset 6", r, err)
			}
			want := readLogBytes(t, l)
			crash(l)
			l2 := mustOpen(t, dir, c.cfg, testOpts(t, nil, nil))
			defer l2.Close()
			if got := readLogBytes(t, l2); !bytes.Equal(got, want) || l2.LogEndOffset() != 8 {
				t.Fatalf("after a crash: %d bytes, leo %d; want %d bytes, leo 8", len(got), l2.LogEndOffset(), len(want))
			}
		})
	}
}

// TestNoSpaceFsyncFailsTheLog: an fsync that fails, ENOSPC or not, fails
// the log as before: the kernel may have dropped the pages it could not
// write.
func TestNoSpaceFsyncFailsTheLog(t *testing.T) {
	fsys := newFaultFS()
	l := mustOpen(t, t.TempDir(), Config{FlushMessages: 1}, testOpts(t, fsys, nil))
	defer l.Close()
	fsys.mu.Lock()
	fsys.failSync = true
	fsys.mu.Unlock()
	if _, err := l.Append(simpleBatch(1, 10, 1), 0, -1); !errors.Is(err, ErrStorage) || l.Err() == nil {
		t.Fatalf("failed fsync: %v (sticky %v)", err, l.Err())
	}
}

// TestNoSpaceCheckpointTmpRemoved: a checkpoint that finds no space leaves
// no half-written temp file behind and does not fail the log.
func TestNoSpaceCheckpointTmpRemoved(t *testing.T) {
	dir := t.TempDir()
	fsys := newFaultFS()
	l := mustOpen(t, dir, Config{}, testOpts(t, fsys, nil))
	defer l.Close()
	mustAppend(t, l, simpleBatch(1, 10, 1), 0)
	fsys.setNoSpace(checkpointFile, 3)
	if err := l.writeCheckpoint(); !errors.Is(err, ErrNoSpace) || l.Err() != nil {
		t.Fatalf("checkpoint on a full disk: %v (sticky %v)", err, l.Err())
	}
	if _, err := os.Stat(filepath.Join(dir, checkpointFile+tmpSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temp checkpoint left behind: %v", err)
	}
}
