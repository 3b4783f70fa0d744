package storage

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	tests := []struct {
		name          string
		cfg           Config
		advance       time.Duration
		wantSegments  int
		wantLogStart  int64
		wantFreedSegs int
	}{
		// 6 segments of 3 batches (6 records) each, the last active.
		{"nothing", Config{}, 0, 6, 0, 0},
		{"by time", Config{RetentionMs: time.Hour}, 2 * time.Hour, 1, 30, 5},
		{"by size", Config{RetentionBytes: 1}, 0, 1, 30, 5},
		{"by size keeps enough", Config{}, 0, 4, 12, 2}, // RetentionBytes set below
		{"unlimited (segment.ms still rolls)", Config{RetentionMs: -1, RetentionBytes: -1}, 1000 * time.Hour, 7, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.UnixMilli(1_000_000)}
			b := simpleBatch(2, 100, 1_000_000)
			cfg := tc.cfg
			cfg.SegmentBytes = int64(3 * len(b))
			cfg.FileDeleteDelay = time.Minute
			if tc.name == "by size keeps enough" {
				cfg.RetentionBytes = int64(3*3*len(b) + 10) // 3 full segments fit
			}
			dir := t.TempDir()
			l := mustOpen(t, dir, cfg, testOpts(t, nil, clock))
			defer l.Close()
			for i := 0; i < 16; i++ {
				mustAppend(t, l, simpleBatch(2, 100, 1_000_000), 0)
			}
			l.SetHighWatermark(l.LogEndOffset())
			before := l.Size()
			clock.Advance(tc.advance)
			freed, err := l.ApplyRetention(clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if n := len(l.segments()); n != tc.wantSegments {
				t.Fatalf("segments %d, want %d", n, tc.wantSegments)
			}
			if l.LogStartOffset() != tc.wantLogStart {
				t.Fatalf("log start %d, want %d", l.LogStartOffset(), tc.wantLogStart)
			}
			if freed != int64(tc.wantFreedSegs*3*len(b)) || l.Size() != before-freed {
				t.Fatalf("freed %d", freed)
			}
			if tc.wantLogStart > 0 {
				if _, err := l.Read(0, 100, -1, true); !errors.Is(err, ErrOffsetOutOfRange) {
					t.Fatalf("read below log start: %v", err)
				}
				// Files are renamed to .deleted and removed after the delay.
				if n := countSuffix(t, dir, deletedSuffix); n != 3*tc.wantFreedSegs {
					t.Fatalf(".deleted files: %d", n)
				}
				clock.Advance(2 * time.Minute)
				if _, err := l.ApplyRetention(clock.Now()); err != nil {
					t.Fatal(err)
				}
				if n := countSuffix(t, dir, deletedSuffix); n != 0 {
					t.Fatalf(".deleted files left: %d", n)
				}
			}
		})
	}
}

func TestRetentionRespectsHighWatermark(t *testing.T) {
	b := simpleBatch(2, 100, 1)
	l := mustOpen(t, t.TempDir(), Config{SegmentBytes: int64(3 * len(b)), RetentionBytes: 1}, testOpts(t, nil, nil))
	defer l.Close()
	for i := 0; i < 10; i++ {
		mustAppend(t, l, simpleBatch(2, 100, 1), 0)
	}
	l.SetHighWatermark(7) // inside the second segment [6,12)
	if _, err := l.ApplyRetention(time.Now()); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 6 {
		t.Fatalf("log start %d, want 6", l.LogStartOffset())
	}
}

func countSuffix(t *testing.T, dir, suffix string) int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) {
			n++
		}
	}
	return n
}

func TestDeleteRecordsBefore(t *testing.T) {
	dir := t.TempDir()
	b := simpleBatch(2, 100, 1)
	cfg := Config{SegmentBytes: int64(3 * len(b)), FileDeleteDelay: -1}
	l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	for i := 0; i < 10; i++ {
		mustAppend(t, l, simpleBatch(2, 100, 1), int32(i))
	}
	l.SetHighWatermark(15)
	if _, err := l.DeleteRecordsBefore(16); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("above hw: %v", err)
	}
	start, err := l.DeleteRecordsBefore(13)
	if err != nil || start != 13 || l.LogStartOffset() != 13 {
		t.Fatalf("start %d %v", start, err)
	}
	if segs := l.segments(); segs[0].base != 12 {
		t.Fatalf("first segment %d, want 12", segs[0].base)
	}
	if countSuffix(t, dir, deletedSuffix) != 0 || countSuffix(t, dir, logSuffix) != 2 {
		t.Fatal("segments not removed at once with FileDeleteDelay < 0")
	}
	res, err := l.Read(13, 1000, -1, true)
	if err != nil || len(res.Records) == 0 || res.LogStartOffset != 13 {
		t.Fatalf("read at log start: %v", err)
	}
	if _, err := l.Read(12, 1000, -1, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatal("read below log start")
	}
	// The epoch holding the new start begins there; epoch 5 is gone, and
	// as in Kafka an epoch older than the first known one ends where the
	// first known one starts.
	if end, e := l.EndOffsetForEpoch(5); end != 13 || e != 5 {
		t.Fatalf("epoch 5 should be gone: (%d,%d), want (13,5)", end, e)
	}
	if end, e := l.EndOffsetForEpoch(6); end != 14 || e != 6 {
		t.Fatalf("epoch 6: (%d,%d)", end, e)
	}
	if start, _ := l.DeleteRecordsBefore(5); start != 13 {
		t.Fatal("log start moved back")
	}
	l.Close()
	l = mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	defer l.Close()
	if l.LogStartOffset() != 13 {
		t.Fatalf("log start after reopen %d", l.LogStartOffset())
	}
}

// Time and size retention follow cleanup.policy: a compact-only log keeps
// its data (compaction is not implemented yet), the log start offset rule
// still applies, and UpdateConfig switches between the policies.
func TestRetentionFollowsCleanupPolicy(t *testing.T) {
	clock := &fakeClock{t: time.UnixMilli(1_000_000)}
	b := simpleBatch(2, 100, 1_000_000)
	cfg := Config{SegmentBytes: int64(3 * len(b)), FileDeleteDelay: -1, RetentionMs: time.Hour,
		RetentionBytes: 1, CleanupPolicy: CleanupCompact}
	l := mustOpen(t, t.TempDir(), cfg, testOpts(t, nil, clock))
	defer l.Close()
	for i := 0; i < 16; i++ {
		mustAppend(t, l, simpleBatch(2, 100, 1_000_000), 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
	clock.Advance(2 * time.Hour)
	apply := func() {
		t.Helper()
		if _, err := l.ApplyRetention(clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	apply()
	if l.LogStartOffset() != 0 || len(l.segments()) != 6 {
		t.Fatalf("compact-only log lost data: log start %d, %d segments", l.LogStartOffset(), len(l.segments()))
	}
	if _, err := l.DeleteRecordsBefore(13); err != nil {
		t.Fatal(err)
	}
	apply()
	if l.LogStartOffset() != 13 || l.segments()[0].base != 12 {
		t.Fatalf("DeleteRecords on a compact-only log: log start %d, first segment %d", l.LogStartOffset(), l.segments()[0].base)
	}
	cfg.CleanupPolicy = CleanupCompact | CleanupDelete
	l.UpdateConfig(cfg)
	apply()
	if l.LogStartOffset() != 30 || len(l.segments()) != 1 {
		t.Fatalf("compact,delete: log start %d, %d segments", l.LogStartOffset(), len(l.segments()))
	}
	cfg.CleanupPolicy = CleanupCompact
	l.UpdateConfig(cfg)
	for i := 0; i < 6; i++ {
		mustAppend(t, l, simpleBatch(2, 100, 1_000_000), 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
	clock.Advance(2 * time.Hour)
	apply()
	if l.LogStartOffset() != 30 {
		t.Fatalf("back to compact: log start %d", l.LogStartOffset())
	}
}
