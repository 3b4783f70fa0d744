package storage

import (
	"bytes"
	"fmt"
	"testing"
)

func BenchmarkAppend(b *testing.B) {
	l := mustOpen(b, b.TempDir(), Config{}, testOpts(b, nil, nil))
	defer l.Close()
	tmpl := simpleBatch(16, 1024, 1)
	buf := make([]byte, len(tmpl))
	b.SetBytes(int64(len(tmpl)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(buf, tmpl)
		if _, err := l.Append(buf, 1, -1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	l := mustOpen(b, b.TempDir(), Config{}, testOpts(b, nil, nil))
	defer l.Close()
	tmpl := simpleBatch(16, 1024, 1)
	for i := 0; i < 64*8; i++ { // ~8 MiB
		mustAppend(b, l, append([]byte(nil), tmpl...), 1)
	}
	leo := l.LogEndOffset()
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	off := int64(0)
	for i := 0; i < b.N; i++ {
		res, err := l.Read(off, 1<<20, -1, true)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Records) == 0 {
			b.Fatal("empty read")
		}
		off += 16 * int64(len(res.Records)/len(tmpl))
		if off >= leo {
			off = 0
		}
	}
}

// BenchmarkClean measures the cleaner's throughput: MB/s of log cleaned (a
// fresh, all-dirty log per iteration: 16 MiB of 1 KiB values over 2 000
// keys in batches of 16, uncompressed, 1 MiB segments).
func BenchmarkClean(b *testing.B) {
	cfg := Config{CleanupPolicy: CleanupCompact, SegmentBytes: 1 << 20, FileDeleteDelay: -1}
	value := bytes.Repeat([]byte("v"), 1024)
	var size int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l := mustOpen(b, b.TempDir(), cfg, testOpts(b, nil, nil))
		n := 0
		for l.Size() < 16<<20 {
			var recs []kv
			for j := 0; j < 16; j++ {
				recs = append(recs, kv{key: fmt.Sprintf("key-%04d", n%2000), value: string(value)})
				n++
			}
			mustAppend(b, l, kvBatch(b, 0, 1000, recs...), 0)
		}
		l.SetHighWatermark(l.LogEndOffset())
		b.StartTimer()
		st := cleanNow(b, l, 128<<20)
		size += st.BytesRead
		b.StopTimer()
		l.Close()
		b.StartTimer()
	}
	b.SetBytes(size / int64(b.N))
}
