package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// DefaultMaxUncompressedSize is how far ValidateProduceBatch inflates a
// compressed batch when ValidateOptions.MaxUncompressedSize is 0. Producers
// cap a batch at max.request.size (1 MiB by default) before compression, so
// 64 MiB leaves room for any sane configuration while stopping a
// decompression bomb long before it hurts.
const DefaultMaxUncompressedSize = 64 << 20

// maxPooledBuf: decompression buffers larger than this are left to the GC
// rather than pinned in the pool by one unusually large batch.
const maxPooledBuf = 8 << 20

// xerialMagic opens snappy-java's SnappyOutputStream framing, which the Java
// producer writes: the 8-byte magic, a version and a compatible-version int32,
// then chunks of (int32 length, raw snappy block). librdkafka and franz-go
// send a bare snappy block instead; both are accepted.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

var errTooLarge = errors.New("decompressed records exceed the size limit")

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

type gzipReader struct {
	src bytes.Reader
	zr  gzip.Reader
}

var gzipPool = sync.Pool{New: func() any { return new(gzipReader) }}

type lz4Reader struct {
	src bytes.Reader
	zr  *lz4.Reader
}

var lz4Pool = sync.Pool{New: func() any { return &lz4Reader{zr: lz4.NewReader(nil)} }}

// zstdDecoders holds one concurrent-safe decoder per size limit (limits are
// configuration, so there are few). DecodeAll on a shared Decoder runs up to
// GOMAXPROCS decodes at once and reuses its block decoders.
var zstdDecoders sync.Map // int -> *zstd.Decoder

func zstdDecoder(limit int) (*zstd.Decoder, error) {
	if d, ok := zstdDecoders.Load(limit); ok {
		return d.(*zstd.Decoder), nil
	}
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithDecoderMaxMemory(uint64(limit)),
	)
	if err != nil {
		return nil, err
	}
	if prev, loaded := zstdDecoders.LoadOrStore(limit, d); loaded {
		d.Close()
		return prev.(*zstd.Decoder), nil
	}
	return d, nil
}

// decompress inflates src (a compressed batch's records) by codec, appending
// to dst and returning it. Output beyond limit bytes fails with errTooLarge.
func decompress(codec int8, src []byte, limit int, dst []byte) ([]byte, error) {
	switch codec {
	case CompressionGzip:
		g := gzipPool.Get().(*gzipReader)
		defer func() { g.src.Reset(nil); gzipPool.Put(g) }()
		g.src.Reset(src)
		if err := g.zr.Reset(&g.src); err != nil {
			return dst, err
		}
		return readAllLimited(&g.zr, dst, limit, len(src))
	case CompressionSnappy:
		return decodeSnappy(src, limit, dst)
	case CompressionLZ4:
		l := lz4Pool.Get().(*lz4Reader)
		defer func() { l.src.Reset(nil); lz4Pool.Put(l) }()
		l.src.Reset(src)
		l.zr.Reset(&l.src)
		return readAllLimited(l.zr, dst, limit, len(src))
	case CompressionZstd:
		d, err := zstdDecoder(limit)
		if err != nil {
			return dst, err
		}
		out, err := d.DecodeAll(src, dst)
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || len(out) > limit {
			return out, errTooLarge
		}
		return out, err
	}
	return dst, fmt.Errorf("codec %d", codec)
}

// readAllLimited reads r to EOF into dst, growing it up to limit+1 bytes so
// that one byte past the limit is detected without inflating further.
func readAllLimited(r io.Reader, dst []byte, limit, hint int) ([]byte, error) {
	if want := min(4*hint, limit+1); cap(dst)-len(dst) < want {
		dst = slices.Grow(dst, want)
	}
	for {
		if len(dst) == cap(dst) {
			if len(dst) > limit {
				return dst, errTooLarge
			}
			dst = slices.Grow(dst, min(cap(dst), limit+1-len(dst)))
		}
		n, err := r.Read(dst[len(dst):min(cap(dst), limit+1)])
		dst = dst[:len(dst)+n]
		if len(dst) > limit {
			return dst, errTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

func decodeSnappy(src []byte, limit int, dst []byte) ([]byte, error) {
	if len(src) < xerialHeaderLen || !bytes.Equal(src[:len(xerialMagic)], xerialMagic) {
		return snappyBlock(src, limit, dst)
	}
	src = src[xerialHeaderLen:]
	for len(src) > 0 {
		if len(src) < 4 {
			return dst, fmt.Errorf("xerial snappy: truncated chunk length")
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return dst, fmt.Errorf("xerial snappy: chunk of %d bytes exceeds remaining %d", n, len(src))
		}
		var err error
		if dst, err = snappyBlock(src[:n], limit, dst); err != nil {
			return dst, err
		}
		src = src[n:]
	}
	return dst, nil
}

// snappyBlock appends the decoding of one raw snappy block to dst, checking
// the length the block declares against what is left of limit first.
func snappyBlock(src []byte, limit int, dst []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return dst, err
	}
	if n > limit-len(dst) {
		return dst, errTooLarge
	}
	dst = slices.Grow(dst, n)
	out, err := snappy.Decode(dst[len(dst):len(dst)+n], src)
	if err != nil {
		return dst, err
	}
	return dst[:len(dst)+len(out)], nil
}

func codecName(codec int8) string {
	switch codec {
	case CompressionGzip:
		return "gzip"
	case CompressionSnappy:
		return "snappy"
	case CompressionLZ4:
		return "lz4"
	case CompressionZstd:
		return "zstd"
	}
	return "none"
}
