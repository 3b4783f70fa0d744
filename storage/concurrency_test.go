package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentReadAppend runs readers beside an appender that rolls
// segments and a retention loop; every read must return whole, valid batches
// starting at or before the requested offset.
func TestConcurrentReadAppend(t *testing.T) {
	b := simpleBatch(3, 64, 1)
	l := mustOpen(t, t.TempDir(), Config{SegmentBytes: int64(8 * len(b)), IndexIntervalBytes: 256,
		RetentionBytes: int64(40 * len(b)), FileDeleteDelay: -1}, testOpts(t, nil, nil))
	defer l.Close()
	var done atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				start := l.LogStartOffset()
				off := start + (l.LogEndOffset()-start)/2
				var recs []byte
				var err error
				if r%2 == 0 {
					var res ReadResult
					res, err = l.Read(off, 4096, -1, true)
					recs = res.Records
				} else {
					// A pinned slice, read back after a pause in which
					// retention may delete its segment: still whole.
					var fs FileSlice
					fs, err = l.ReadSlice(off, 4096, -1, true)
					if err == nil {
						time.Sleep(50 * time.Microsecond)
						recs = make([]byte, fs.Len)
						if n, rerr := fs.ReadAt(recs, 0); int64(n) != fs.Len {
							err = fmt.Errorf("pinned slice read %d of %d bytes: %v", n, fs.Len, rerr)
						}
						fs.Release()
					}
				}
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue // retention moved the start
				}
				if err != nil {
					errc <- err
					return
				}
				all := recs
				for len(recs) > 0 {
					h, err := decodeBatchHeader(recs)
					if err != nil || int64(len(recs)) < h.Size() || !batchCRCValid(recs[:h.Size()]) {
						errc <- errors.New("torn or corrupt batch returned")
						return
					}
					if h.BaseOffset > off && len(recs) == len(all) {
						errc <- errors.New("first batch starts after the offset")
						return
					}
					recs = recs[h.Size():]
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			l.SetHighWatermark(l.LogEndOffset())
			if _, err := l.ApplyRetention(time.Now()); err != nil {
				errc <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for i := 0; i < 600; i++ {
		c := simpleBatch(3, 64, 1)
		binary.BigEndian.PutUint64(c, 999) // ignored: the log assigns offsets
		if _, err := l.Append(c, 0, -1); err != nil {
			t.Fatal(err)
		}
	}
	// The appends can outrun the retention loop on a loaded machine: give it
	// a bounded while to delete from the full log before it stops.
	for deadline := time.Now().Add(10 * time.Second); l.LogStartOffset() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	done.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 1800 || l.LogStartOffset() == 0 {
		t.Fatalf("leo %d start %d", l.LogEndOffset(), l.LogStartOffset())
	}
}
