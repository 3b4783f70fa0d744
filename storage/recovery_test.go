package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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
