package storage

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A log that cannot be opened is offline, not gone: Open fails with an
// error wrapping ErrStorage that names the file and the cause, and changes
// nothing on disk; a later Open that can read the files serves the log.

// wantOffline checks that err is an Open refusal naming file.
func wantOffline(t *testing.T, err error, file string) {
	t.Helper()
	if err == nil {
		t.Fatal("Open succeeded")
	}
	if !errors.Is(err, ErrStorage) {
		t.Fatalf("Open error does not wrap ErrStorage: %v", err)
	}
	if !strings.Contains(err.Error(), file) {
		t.Fatalf("Open error does not name %s: %v", file, err)
	}
}

// closedLog writes n batches of two records to a new log in dir and closes it
// cleanly; it leaves a leftover ".deleted" file beside it, which an Open
// that goes ahead would remove.
func closedLog(t *testing.T, dir string, cfg Config, n int) {
	t.Helper()
	l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	for i := 0; i < n; i++ {
		mustAppend(t, l, simpleBatch(2, 10, int64(1000+i)), 0)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000099.log.deleted"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reopens checks that a later Open serves the whole log again.
func reopens(t *testing.T, dir string, cfg Config, leo int64) {
	t.Helper()
	l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	defer l.Close()
	if l.LogEndOffset() != leo {
		t.Fatalf("log end offset %d after reopening, want %d", l.LogEndOffset(), leo)
	}
	if got := len(readLogBytes(t, l)); got == 0 {
		t.Fatal("nothing readable after reopening")
	}
}

func replaceFile(t *testing.T, path string, b []byte) []byte {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return old
}

func TestOpenRefusesAnUnparsableCheckpoint(t *testing.T) {
	dir := t.TempDir()
	closedLog(t, dir, Config{}, 3)
	p := filepath.Join(dir, checkpointFile)
	good := replaceFile(t, p, []byte("0\nrecovery-point six\n"))
	before := dirState(t, dir)
	_, err := Open(dir, [16]byte{1, 2, 3}, Config{}, testOpts(t, nil, nil))
	wantOffline(t, err, checkpointFile)
	sameDirState(t, dir, before)
	replaceFile(t, p, good)
	reopens(t, dir, Config{}, 6)
}

func TestOpenRefusesAnUnparsableLeaderEpochCheckpoint(t *testing.T) {
	dir := t.TempDir()
	closedLog(t, dir, Config{}, 3)
	p := filepath.Join(dir, leaderEpochFile)
	good := replaceFile(t, p, []byte("0\n1\nnot an entry\n"))
	before := dirState(t, dir)
	_, err := Open(dir, [16]byte{1, 2, 3}, Config{}, testOpts(t, nil, nil))
	wantOffline(t, err, leaderEpochFile)
	sameDirState(t, dir, before)
	replaceFile(t, p, good)
	reopens(t, dir, Config{}, 6)
}

func TestOpenRefusesAnUnparsablePartitionMetadata(t *testing.T) {
	dir := t.TempDir()
	closedLog(t, dir, Config{}, 3)
	p := filepath.Join(dir, partitionMetadataFile)
	good := replaceFile(t, p, []byte("version: 0\ntopic_id: ???\n"))
	before := dirState(t, dir)
	_, err := Open(dir, [16]byte{1, 2, 3}, Config{}, testOpts(t, nil, nil))
	wantOffline(t, err, partitionMetadataFile)
	sameDirState(t, dir, before)
	replaceFile(t, p, good)
	reopens(t, dir, Config{}, 6)
}

// A foreign producer snapshot stops an unclean Open before it truncates the
// torn tail it found: nothing is cut until the log is known to open.
func TestOpenRefusesAForeignProducerSnapshotBeforeRecovering(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
	for i := 0; i < 5; i++ {
		mustAppend(t, l, simpleBatch(2, 10, 1), 0)
	}
	crash(l)
	segPath := offsetFileName(dir, 0, logSuffix)
	f, err := os.OpenFile(segPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(simpleBatch(2, 10, 1)[:30]) // a torn batch
	f.Close()
	// Kafka's own snapshot format is version 1.
	snap := offsetFileName(dir, 4, snapshotSuffix)
	foreign := binary.BigEndian.AppendUint16(nil, 1)
	foreign = append(foreign, make([]byte, 20)...)
	if err := os.WriteFile(snap, foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, dir)
	_, err = Open(dir, [16]byte{1, 2, 3}, Config{}, testOpts(t, nil, nil))
	wantOffline(t, err, filepath.Base(snap))
	sameDirState(t, dir, before)
	// Once the foreign file is taken away, the torn tail is recovered as
	// after any unclean stop.
	os.Remove(snap)
	reopens(t, dir, Config{}, 10)
}

// A batch header that producer-state rebuilding cannot read (the snapshot is
// gone, so it replays the log from the start) takes the log offline.
func TestOpenRefusesACorruptBatchMetWhileRebuildingProducerState(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{IndexIntervalBytes: 100}
	l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	var pos []int64
	for i := 0; i < 6; i++ {
		pos = append(pos, l.Size())
		mustAppend(t, l, idemBatch(2, 7, 0, int32(2*i)), 0)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(l.segments()[0].oi.entries.view()); n < 3 {
		t.Fatalf("want index entries after the corrupt batch, have %d", n)
	}
	offs, _ := snapshotOffsets(OSFS{}, dir)
	for _, o := range offs {
		os.Remove(offsetFileName(dir, o, snapshotSuffix))
	}
	segPath := offsetFileName(dir, 0, logSuffix)
	data, _ := os.ReadFile(segPath)
	good := append([]byte(nil), data...)
	data[pos[2]+16] = 7 // the index lets a clean open skip this batch
	replaceFile(t, segPath, data)
	before := dirState(t, dir)
	_, err := Open(dir, [16]byte{1, 2, 3}, cfg, testOpts(t, nil, nil))
	wantOffline(t, err, filepath.Base(segPath))
	sameDirState(t, dir, before)
	replaceFile(t, segPath, good)
	reopens(t, dir, cfg, 12)
}

// Corrupt data in a segment below the recovery point (flushed, so not a
// torn tail) is refused, not truncated, even when its index must be rebuilt.
func TestOpenRefusesCorruptDataBelowTheRecoveryPoint(t *testing.T) {
	dir := t.TempDir()
	b := simpleBatch(2, 10, 1000)
	cfg := Config{SegmentBytes: int64(4 * len(b)), IndexIntervalBytes: 64}
	closedLog(t, dir, cfg, 10) // segments [0,8) [8,16) [16,20)
	segPath := offsetFileName(dir, 0, logSuffix)
	data, _ := os.ReadFile(segPath)
	good := append([]byte(nil), data...)
	data[len(b)+batchHeaderSize+3] ^= 0xff // in the second batch's records: bad CRC
	replaceFile(t, segPath, data)
	idx := offsetFileName(dir, 0, indexSuffix)
	goodIdx := replaceFile(t, idx, []byte{1, 2, 3}) // odd size: rebuilt from the data
	before := dirState(t, dir)
	_, err := Open(dir, [16]byte{1, 2, 3}, cfg, testOpts(t, nil, nil))
	wantOffline(t, err, filepath.Base(segPath))
	sameDirState(t, dir, before)
	replaceFile(t, segPath, good)
	replaceFile(t, idx, goodIdx)
	reopens(t, dir, cfg, 20)
}

func TestOpenRefusesWhenAFileCannotBeOpened(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.EACCES, syscall.EIO} {
		t.Run(errno.Error(), func(t *testing.T) {
			dir := t.TempDir()
			closedLog(t, dir, Config{}, 3)
			before := dirState(t, dir)
			fsys := newFaultFS()
			fsys.openMatch, fsys.openErr = "00000000000000000000.timeindex", errno
			_, err := Open(dir, [16]byte{1, 2, 3}, Config{}, testOpts(t, fsys, nil))
			wantOffline(t, err, "00000000000000000000.timeindex")
			if !errors.Is(err, errno) {
				t.Fatalf("Open error does not wrap %v: %v", errno, err)
			}
			sameDirState(t, dir, before)
			reopens(t, dir, Config{}, 6)
		})
	}
}
