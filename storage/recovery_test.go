package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// crash abandons a log without Close (files closed so the directory can be
// reused, no marker, no snapshot, no checkpoint).
func crash(l *Log) {
	l.bg.Wait()
	for _, s := range l.segments() {
		s.close()
	}
}

func TestRecoveryTornWrite(t *testing.T) {
	dir := t.TempDir()
	fsys := newFaultFS()
	l := mustOpen(t, dir, Config{IndexIntervalBytes: 100}, testOpts(t, fsys, nil))
	var want []byte
	for i := 0; i < 5; i++ {
		b := simpleBatch(3, 40, int64(i))
		want = append(want, stamped(b, int64(3*i), 0)...)
		mustAppend(t, l, b, 0)
	}
	fsys.tornAfter = 30 // the next .log write stops after 30 bytes
	if _, err := l.Append(simpleBatch(3, 40, 9), 0, -1); !errors.Is(err, ErrStorage) {
		t.Fatalf("torn write: %v", err)
	}
	// Sticky: every later append fails fast without touching the file.
	if _, err := l.Append(simpleBatch(1, 1, 1), 0, -1); !errors.Is(err, ErrStorage) {
		t.Fatalf("not sticky: %v", err)
	}
	if l.LogEndOffset() != 15 {
		t.Fatalf("leo moved to %d", l.LogEndOffset())
	}
	if err := l.Close(); !errors.Is(err, ErrStorage) {
		t.Fatalf("close after storage error: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); err == nil {
		t.Fatal("clean marker written after a storage error")
	}
	st, _ := os.Stat(offsetFileName(dir, 0, logSuffix))
	if st.Size() != int64(len(want)+30) {
		t.Fatalf("file size %d", st.Size())
	}
	var logs bytes.Buffer
	opts := testOpts(t, nil, nil)
	opts.Logger = zerolog.New(&logs)
	l2 := mustOpen(t, dir, Config{IndexIntervalBytes: 100}, opts)
	defer l2.Close()
	if l2.LogEndOffset() != 15 {
		t.Fatalf("leo after recovery %d", l2.LogEndOffset())
	}
	res, _ := l2.Read(0, 1<<20, -1, true)
	if !bytes.Equal(res.Records, want) {
		t.Fatal("recovered data differs")
	}
	if !strings.Contains(logs.String(), `"truncated_bytes":30`) {
		t.Fatalf("truncation not logged: %s", logs.String())
	}
	if r := mustAppend(t, l2, simpleBatch(1, 1, 1), 0); r.BaseOffset != 15 {
		t.Fatalf("append after recovery at %d", r.BaseOffset)
	}
}

func TestRecoveryCorruptCRCMidSegment(t *testing.T) {
	dir := t.TempDir()
	b := simpleBatch(2, 50, 1)
	cfg := Config{SegmentBytes: int64(4 * len(b)), IndexIntervalBytes: 64}
	l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	for i := 0; i < 10; i++ {
		mustAppend(t, l, simpleBatch(2, 50, 1), 0)
	}
	crash(l) // segments [0,8) [8,16) [16,20); recovery point at 16 at best
	// Corrupt the second batch of the last segment... and, to check that
	// later segments go too, of the middle one: use the middle one.
	segPath := offsetFileName(dir, 8, logSuffix)
	data, _ := os.ReadFile(segPath)
	data[len(b)+100] ^= 0xff // inside the second batch's records
	os.WriteFile(segPath, data, 0o644)
	os.WriteFile(filepath.Join(dir, checkpointFile), logCheckpoint{recoveryPoint: 8}.encode(), 0o644)
	l2 := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	defer l2.Close()
	if l2.LogEndOffset() != 10 {
		t.Fatalf("leo %d, want 10 (truncated at the corrupt batch)", l2.LogEndOffset())
	}
	if n := len(l2.segments()); n != 2 {
		t.Fatalf("segments after the truncation must go: %d", n)
	}
	if _, err := os.Stat(offsetFileName(dir, 16, logSuffix)); !os.IsNotExist(err) {
		t.Fatal("later segment file left")
	}
	if st, _ := os.Stat(segPath); st.Size() != int64(len(b)) {
		t.Fatalf("segment size %d", st.Size())
	}
}

func TestRebuildMissingIndexes(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 4000, IndexIntervalBytes: 300}
	l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	for i := 0; i < 60; i++ {
		mustAppend(t, l, simpleBatch(2, 40, int64(1000+i*3%17)), 0)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	bases := []int64{}
	for _, s := range l.segments() {
		bases = append(bases, s.base)
	}
	if len(bases) < 3 {
		t.Fatal("want several segments")
	}
	read := func(base int64, suf string) []byte {
		b, err := os.ReadFile(offsetFileName(dir, base, suf))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	orig := map[string][]byte{}
	for _, base := range bases {
		for _, suf := range []string{indexSuffix, timeIndexSuffix} {
			orig[offsetFileName(dir, base, suf)] = read(base, suf)
		}
	}
	// Lose the first segment's offset index, the middle segment's time index
	// and corrupt (odd size) the last segment's offset index.
	os.Remove(offsetFileName(dir, bases[0], indexSuffix))
	os.Remove(offsetFileName(dir, bases[1], timeIndexSuffix))
	f, _ := os.OpenFile(offsetFileName(dir, bases[len(bases)-1], indexSuffix), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{1, 2, 3})
	f.Close()
	l2 := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	for p, want := range orig {
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s rebuilt differently: %d vs %d bytes", filepath.Base(p), len(got), len(want))
		}
	}
}

func TestRecoveryLeftovers(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
	mustAppend(t, l, simpleBatch(1, 1, 1), 0)
	l.Close()
	// An index .swap without its log's is a cleaning that stopped before
	// its commit point (a log .swap is a committed one: compaction_test.go).
	for _, name := range []string{"00000000000000000005.log.deleted", "00000000000000000000.index.swap",
		"00000000000000000000.log.cleaned", "00000000000000000042.index", "leader-epoch-checkpoint.tmp"} {
		os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644)
	}
	l = mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
	defer l.Close()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, deletedSuffix) || strings.HasSuffix(n, swapSuffix) ||
			strings.HasSuffix(n, cleanedSuffix) || strings.HasSuffix(n, tmpSuffix) || strings.HasPrefix(n, "00000000000000000042") {
			t.Fatalf("leftover %s not removed", n)
		}
	}
	if l.LogEndOffset() != 1 {
		t.Fatal("data lost")
	}
}

func TestStickyErrorOnFailedSync(t *testing.T) {
	fsys := newFaultFS()
	l := mustOpen(t, t.TempDir(), Config{FlushMessages: 1}, testOpts(t, fsys, nil))
	defer l.Close()
	mustAppend(t, l, simpleBatch(1, 1, 1), 0)
	fsys.failSync = true
	if _, err := l.Append(simpleBatch(1, 1, 1), 0, -1); !errors.Is(err, ErrStorage) {
		t.Fatalf("fsync failure not reported: %v", err)
	}
	if _, err := l.Append(simpleBatch(1, 1, 1), 0, -1); !errors.Is(err, ErrStorage) {
		t.Fatalf("not sticky: %v", err)
	}
	if err := l.Flush(); !errors.Is(err, ErrStorage) {
		t.Fatalf("flush: %v", err)
	}
	// Reads still work.
	if _, err := l.Read(0, 100, -1, true); err != nil {
		t.Fatal(err)
	}
}

func TestFlushAdvancesRecoveryPoint(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
	mustAppend(t, l, simpleBatch(4, 1, 1), 0)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, checkpointFile))
	cp, err := parseLogCheckpoint(b)
	if err != nil || cp.recoveryPoint != 4 {
		t.Fatalf("checkpoint %+v %v", cp, err)
	}
	l.Close()
}

// created lists the files fsys created whose name contains part.
func created(fsys *faultFS, part string) []string {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	var out []string
	for _, e := range fsys.events {
		if strings.HasPrefix(e, "create ") && strings.Contains(e, part) {
			out = append(out, e)
		}
	}
	return out
}

// A reopen writes the recovery checkpoint and the leader-epoch checkpoint
// only when what they hold changes: not after a clean stop, the epoch one
// not after a crash whose recovery finds the same epochs again, and both
// when recovery cuts an epoch off the end.
func TestReopenRewritesOnlyChangedCheckpoints(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{IndexIntervalBytes: 100}
	l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	mustAppend(t, l, simpleBatch(3, 40, 0), 0)
	mustAppend(t, l, simpleBatch(3, 40, 1), 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wantEpochs := []epochEntry{{0, 0}, {1, 3}}

	// Clean stop: nothing is written but the removal of the marker.
	fsys := newFaultFS()
	l = mustOpen(t, dir, cfg, testOpts(t, fsys, nil))
	if c := created(fsys, ""); len(c) != 0 {
		t.Fatalf("a clean reopen created files: %v", c)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("clean marker still there after open: %v", err)
	}
	if got := l.epochs.entries; !slices.Equal(got, wantEpochs) {
		t.Fatalf("epochs %v, want %v", got, wantEpochs)
	}
	if l.LogEndOffset() != 6 {
		t.Fatalf("leo %d, want 6", l.LogEndOffset())
	}

	// Crash with unflushed appends: recovery scans them and finds epochs 0
	// and 1 again (epoch checkpoint left alone). As in Kafka the recovery
	// point stays until a flush (nothing recovered is fsynced, the
	// checkpoint is not written), and a second crash scans them again.
	mustAppend(t, l, simpleBatch(2, 40, 2), 1)
	for crashes := 1; crashes <= 2; crashes++ {
		crash(l)
		fsys = newFaultFS()
		l = mustOpen(t, dir, cfg, testOpts(t, fsys, nil))
		if c := created(fsys, ""); len(c) != 0 {
			t.Fatalf("crash %d: recovery created files: %v", crashes, c)
		}
		if n := fsys.syncs[offsetFileName(dir, 0, logSuffix)]; n != 0 {
			t.Fatalf("crash %d: recovered segment fsynced %d times", crashes, n)
		}
		cp, _, err := readLogCheckpoint(OSFS{}, dir)
		if err != nil || cp.recoveryPoint != 6 || l.RecoveryPoint() != 6 {
			t.Fatalf("crash %d: checkpoint %+v (%v), in memory %d, want recovery point 6", crashes, cp, err, l.RecoveryPoint())
		}
		if l.LogEndOffset() != 8 || !slices.Equal(l.epochs.entries, wantEpochs) {
			t.Fatalf("crash %d: leo %d, epochs %v", crashes, l.LogEndOffset(), l.epochs.entries)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if cp, _, err := readLogCheckpoint(OSFS{}, dir); err != nil || cp.recoveryPoint != 8 {
		t.Fatalf("checkpoint after flush %+v (%v), want recovery point 8", cp, err)
	}

	// An epoch whose first batch was torn is cut off by recovery, and the
	// checkpoint says so.
	fsys.tornAfter = 30
	if _, err := l.Append(simpleBatch(3, 40, 9), 2, -1); !errors.Is(err, ErrStorage) {
		t.Fatalf("torn write: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, leaderEpochFile)); !strings.Contains(string(b), "\n2 8\n") {
		t.Fatalf("epoch 2 not checkpointed before its append: %q", b)
	}
	crash(l)
	fsys = newFaultFS()
	l = mustOpen(t, dir, cfg, testOpts(t, fsys, nil))
	defer l.Close()
	if c := created(fsys, leaderEpochFile); len(c) != 1 {
		t.Fatalf("leader epoch checkpoint writes: %v, want one", c)
	}
	back, err := loadLeaderEpochCache(OSFS{}, dir)
	if err != nil || !slices.Equal(back.entries, wantEpochs) {
		t.Fatalf("epochs on disk %v (%v), want %v", back.entries, err, wantEpochs)
	}
	if l.LogEndOffset() != 8 {
		t.Fatalf("leo %d, want 8", l.LogEndOffset())
	}
}

// In durable mode (the high watermark never passes the recovery point)
// recovery fsyncs what it recovered and moves the recovery point to the
// log end, so the recovered records stay visible.
func TestDurableRecoveryAdvancesRecoveryPoint(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{IndexIntervalBytes: 100}
	opts := testOpts(t, nil, nil)
	opts.Durable = true
	l := mustOpen(t, dir, cfg, opts)
	mustAppend(t, l, simpleBatch(3, 40, 0), 0)
	crash(l)
	fsys := newFaultFS()
	opts = testOpts(t, fsys, nil)
	opts.Durable = true
	l = mustOpen(t, dir, cfg, opts)
	defer l.Close()
	if n := fsys.syncs[offsetFileName(dir, 0, logSuffix)]; n == 0 {
		t.Fatal("recovered segment not fsynced in durable mode")
	}
	cp, _, err := readLogCheckpoint(OSFS{}, dir)
	if err != nil || cp.recoveryPoint != 3 || l.RecoveryPoint() != 3 {
		t.Fatalf("checkpoint %+v (%v), in memory %d, want recovery point 3", cp, err, l.RecoveryPoint())
	}
	l.SetHighWatermark(3)
	if hw := l.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d, want 3", hw)
	}
}
