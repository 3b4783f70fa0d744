package storage

import (
	"errors"
	"math"
	"testing"
)

func TestIdempotentProducer(t *testing.T) {
	type step struct {
		pid      int64
		epoch    int16
		seq      int32
		n        int
		wantErr  error
		wantBase int64 // for success and duplicates
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{1, 0, 0, 3, nil, 0}, {1, 0, 3, 2, nil, 3}, {1, 0, 5, 1, nil, 5}}},
		{"duplicate of last", []step{{1, 0, 0, 3, nil, 0}, {1, 0, 0, 3, ErrDuplicateSequence, 0}}},
		{"duplicate of older", []step{{1, 0, 0, 2, nil, 0}, {1, 0, 2, 2, nil, 2}, {1, 0, 4, 2, nil, 4},
			{1, 0, 2, 2, ErrDuplicateSequence, 2}}},
		{"gap", []step{{1, 0, 0, 3, nil, 0}, {1, 0, 4, 1, ErrOutOfOrderSeq, 0}}},
		{"old epoch", []step{{1, 2, 0, 1, nil, 0}, {1, 1, 1, 1, ErrInvalidEpoch, 0}}},
		{"new epoch from 0", []step{{1, 0, 0, 3, nil, 0}, {1, 1, 0, 1, nil, 3}}},
		{"new epoch not 0", []step{{1, 0, 0, 3, nil, 0}, {1, 1, 5, 1, ErrOutOfOrderSeq, 0}}},
		{"unknown producer any seq", []step{{9, 0, 77, 1, nil, 0}, {9, 0, 78, 1, nil, 1}}},
		{"no producer id", []step{{-1, -1, -1, 1, nil, 0}, {-1, -1, -1, 1, nil, 1}}},
		{"wrap", []step{{1, 0, math.MaxInt32 - 1, 2, nil, 0}, {1, 0, 0, 1, nil, 2}}},
		{"other producers independent", []step{{1, 0, 0, 1, nil, 0}, {2, 0, 0, 1, nil, 1}, {1, 0, 1, 1, nil, 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
			defer l.Close()
			for i, s := range tc.steps {
				r, err := l.Append(idemBatch(s.n, s.pid, s.epoch, s.seq), 0, -1)
				if !errors.Is(err, s.wantErr) && !(s.wantErr == nil && err == nil) {
					t.Fatalf("step %d: err %v, want %v", i, err, s.wantErr)
				}
				if (err == nil || errors.Is(err, ErrDuplicateSequence)) && r.BaseOffset != s.wantBase {
					t.Fatalf("step %d: base %d, want %d", i, r.BaseOffset, s.wantBase)
				}
			}
		})
	}
}

func TestProducerStateSurvivesRestart(t *testing.T) {
	for _, clean := range []bool{true, false} {
		name := "clean"
		if !clean {
			name = "unclean"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{SegmentBytes: 600}
			l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
			t.Cleanup(func() { l.bg.Wait() })
			for i := 0; i < 20; i++ {
				mustAppend(t, l, idemBatch(2, 42, 3, int32(2*i)), 0)
			}
			if len(l.segments()) < 3 {
				t.Fatal("want rolls (and snapshots)")
			}
			if clean {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				l.bg.Wait() // let roll snapshots land; then "crash": no Close
			}
			l2 := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
			defer l2.Close()
			e, ok := l2.ProducerState(42)
			if !ok || e.ProducerEpoch != 3 || e.LastSequence != 39 || e.LastOffset != 39 {
				t.Fatalf("state %+v %v", e, ok)
			}
			r, err := l2.Append(idemBatch(2, 42, 3, 36), 0, -1)
			if !errors.Is(err, ErrDuplicateSequence) || r.BaseOffset != 36 || r.LastOffset != 37 {
				t.Fatalf("duplicate after restart: %+v %v", r, err)
			}
			if _, err := l2.Append(idemBatch(1, 42, 3, 41), 0, -1); !errors.Is(err, ErrOutOfOrderSeq) {
				t.Fatalf("gap after restart: %v", err)
			}
			if _, err := l2.Append(idemBatch(1, 42, 2, 40), 0, -1); !errors.Is(err, ErrInvalidEpoch) {
				t.Fatalf("old epoch after restart: %v", err)
			}
			if r, err := l2.Append(idemBatch(1, 42, 3, 40), 0, -1); err != nil || r.BaseOffset != 40 {
				t.Fatalf("next after restart: %+v %v", r, err)
			}
			if !clean {
				for _, s := range l.segments() {
					s.close()
				}
			}
		})
	}
}

func TestProducerExpiration(t *testing.T) {
	clock := &fakeClock{}
	l := mustOpen(t, t.TempDir(), Config{ProducerIDExpiration: 1000 * 1e6}, testOpts(t, nil, clock))
	defer l.Close()
	mustAppend(t, l, idemBatch(1, 5, 0, 0), 0)
	clock.Advance(999 * 1e6)
	l.ApplyRetention(clock.Now())
	if _, ok := l.ProducerState(5); !ok {
		t.Fatal("expired too early")
	}
	clock.Advance(2 * 1e6)
	l.ApplyRetention(clock.Now())
	if _, ok := l.ProducerState(5); ok {
		t.Fatal("not expired")
	}
	// Unknown again: any sequence is accepted.
	mustAppend(t, l, idemBatch(1, 5, 0, 10), 0)
}

func TestSnapshotCodec(t *testing.T) {
	p := newProducerState()
	for i := 0; i < 8; i++ {
		h := batchInfo{BaseOffset: int64(i * 3), LastOffsetDelta: 2, ProducerID: 7, ProducerEpoch: 1,
			BaseSequence: int32(i * 3), MaxTimestamp: int64(i)}
		p.update(&h, -1, 99)
	}
	b := p.encode()
	q, err := decodeProducerSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	e := q.producers[7]
	if e.n != 5 || e.batch(0).firstSeq != 9 || e.last().lastSeq != 23 || e.lastUpdate != 99 {
		t.Fatalf("decoded %+v", e)
	}
	b[len(b)-1] ^= 1
	if _, err := decodeProducerSnapshot(b); err == nil {
		t.Fatal("corruption not detected")
	}
}
