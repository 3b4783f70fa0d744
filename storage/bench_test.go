package storage

import (
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
