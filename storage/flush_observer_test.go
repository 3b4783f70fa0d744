package storage

import (
	"testing"
	"time"
)

// TestFlushObserver: a flush that fsyncs something reports its duration
// once; a flush with nothing new to sync reports nothing.
func TestFlushObserver(t *testing.T) {
	var got []time.Duration
	opts := testOpts(t, nil, nil)
	opts.FlushObserver = func(d time.Duration) { got = append(got, d) }
	l := mustOpen(t, t.TempDir(), DefaultConfig(), opts)
	defer l.Close()
	mustAppend(t, l, simpleBatch(3, 10, 1_700_000_000_000), 0)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] < 0 {
		t.Fatalf("after one flush with data: observed %v, want one duration", got)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("a flush with nothing to sync was observed: %v", got)
	}
}
