package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
)

func sizePrefix(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

func TestReadFrame(t *testing.T) {
	body := []byte("hello, kafka")
	big := bytes.Repeat([]byte{7}, 3<<20+123) // beyond frameGrowStep: grown while reading
	tests := []struct {
		name     string
		in       []byte
		max      int32
		buf      []byte
		want     []byte
		wantErr  error
		exactEOF bool
	}{
		{name: "frame", in: cat(sizePrefix(int32(len(body))), body), max: 100, want: body},
		{name: "frame reusing buf", in: cat(sizePrefix(int32(len(body))), body), max: 100, buf: make([]byte, 0, 64), want: body},
		{name: "empty frame", in: sizePrefix(0), max: 100, want: []byte{}},
		{name: "exactly max", in: cat(sizePrefix(int32(len(body))), body), max: int32(len(body)), want: body},
		{name: "large frame", in: cat(sizePrefix(int32(len(big))), big), max: DefaultMaxRequestSize, want: big},
		{name: "too large", in: cat(sizePrefix(101), make([]byte, 101)), max: 100, wantErr: ErrFrameTooLarge},
		{name: "negative size", in: sizePrefix(-1), max: 100, wantErr: ErrMalformed},
		{name: "clean EOF", in: nil, max: 100, wantErr: io.EOF, exactEOF: true},
		{name: "EOF inside size", in: []byte{0, 0}, max: 100, wantErr: io.ErrUnexpectedEOF},
		{name: "EOF before body", in: sizePrefix(5), max: 100, wantErr: io.ErrUnexpectedEOF},
		{name: "EOF inside body", in: cat(sizePrefix(5), []byte("abc")), max: 100, wantErr: io.ErrUnexpectedEOF},
		{name: "EOF inside large body", in: cat(sizePrefix(50<<20), []byte("abc")), max: DefaultMaxRequestSize, wantErr: io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFrame(bytes.NewReader(tc.in), tc.max, tc.buf)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				if tc.exactEOF && err != io.EOF {
					t.Fatalf("clean close must return io.EOF unwrapped, got %#v", err)
				}
				if !tc.exactEOF && err == io.EOF {
					t.Fatal("truncated frame reported as a clean close")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("body mismatch: got %d bytes, want %d", len(got), len(tc.want))
			}
			if tc.buf != nil && &got[:1][0] != &tc.buf[:1][0] {
				t.Fatal("buf not reused")
			}
		})
	}
}

func TestReadFrameConsecutive(t *testing.T) {
	var in []byte
	for _, s := range []string{"a", "bcd", "", "efgh"} {
		in = append(in, sizePrefix(int32(len(s)))...)
		in = append(in, s...)
	}
	r := bytes.NewReader(in)
	var buf []byte
	for _, want := range []string{"a", "bcd", "", "efgh"} {
		var err error
		if buf, err = ReadFrame(r, 100, buf); err != nil || string(buf) != want {
			t.Fatalf("got %q, %v; want %q", buf, err, want)
		}
	}
	if _, err := ReadFrame(r, 100, buf); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// allocatedDuring reports the bytes allocated while f ran.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestReadFrameDoesNotTrustSize(t *testing.T) {
	// Too large: refused after reading only the size, nothing allocated.
	r := bytes.NewReader(cat(sizePrefix(1<<30), make([]byte, 16)))
	alloc := allocatedDuring(func() {
		if _, err := ReadFrame(r, DefaultMaxRequestSize, nil); !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("error %v", err)
		}
	})
	if alloc > 64<<10 {
		t.Errorf("allocated %d bytes refusing an oversized frame", alloc)
	}
	if r.Len() != 16 {
		t.Errorf("read past the size prefix: %d bytes left", r.Len())
	}
	// Announce 90 MiB, send a few bytes: the allocation follows what arrived.
	alloc = allocatedDuring(func() {
		_, err := ReadFrame(bytes.NewReader(cat(sizePrefix(90<<20), []byte("xyz"))), DefaultMaxRequestSize, nil)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("error %v", err)
		}
	})
	if alloc > 2*frameGrowStep {
		t.Errorf("allocated %d bytes for a stalled 90 MiB frame", alloc)
	}
}

func BenchmarkReadFrame(b *testing.B) {
	body := bytes.Repeat([]byte{1}, 1024)
	frame := cat(sizePrefix(int32(len(body))), body)
	r := bytes.NewReader(frame)
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(frame)
		var err error
		if buf, err = ReadFrame(r, DefaultMaxRequestSize, buf); err != nil {
			b.Fatal(err)
		}
	}
}
