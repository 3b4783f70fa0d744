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

// Default compression levels, Kafka's (compression.{gzip,lz4,zstd}.level).
const (
	GzipDefaultLevel = -1
	LZ4DefaultLevel  = 9
	ZstdDefaultLevel = 3
)

// xerialBlock is the chunk size of the snappy framing Compress writes,
// snappy-java's default.
const xerialBlock = 32 << 10

type gzipWriter struct {
	out bytes.Buffer
	zw  *gzip.Writer
}

type lz4Writer struct {
	out bytes.Buffer
	zw  *lz4.Writer
}

// gzipWriters and lz4Writers pool writers per level; zstdEncoders holds one
// concurrent-safe encoder per level (levels are configuration: few).
var gzipWriters, lz4Writers, zstdEncoders sync.Map // int -> *sync.Pool / *zstd.Encoder

func writerPool(m *sync.Map, level int, mk func() any) *sync.Pool {
	if p, ok := m.Load(level); ok {
		return p.(*sync.Pool)
	}
	p, _ := m.LoadOrStore(level, &sync.Pool{New: mk})
	return p.(*sync.Pool)
}

// lz4Level maps Kafka's compression.lz4.level (1-17, lz4-java's: 1 the
// fast compressor, higher the high-compression one at that level) onto
// pierrec/lz4's levels, which stop at 9.
func lz4Level(level int) lz4.CompressionLevel {
	switch {
	case level <= 1:
		return lz4.Fast
	case level >= 9:
		return lz4.Level9
	}
	return lz4.Level1 << (level - 1)
}

// Compress appends src compressed with codec at level (Kafka's level
// semantics per codec; ignored by snappy) to dst and returns it. Snappy is
// written in snappy-java's framing, as the Java producer and Kafka's own
// recompression write it; lz4 as the LZ4 frame format Kafka uses.
func Compress(dst []byte, codec int8, level int, src []byte) ([]byte, error) {
	switch codec {
	case CompressionNone:
		return append(dst, src...), nil
	case CompressionGzip:
		if level != GzipDefaultLevel && (level < gzip.BestSpeed || level > gzip.BestCompression) {
			return dst, fmt.Errorf("gzip level %d", level)
		}
		p := writerPool(&gzipWriters, level, func() any {
			g := &gzipWriter{}
			g.zw, _ = gzip.NewWriterLevel(&g.out, level) // level checked above
			return g
		})
		g := p.Get().(*gzipWriter)
		defer p.Put(g)
		g.out.Reset()
		g.zw.Reset(&g.out)
		if _, err := g.zw.Write(src); err != nil {
			return dst, err
		}
		if err := g.zw.Close(); err != nil {
			return dst, err
		}
		return append(dst, g.out.Bytes()...), nil
	case CompressionSnappy:
		dst = append(dst, xerialMagic...)
		dst = binary.BigEndian.AppendUint32(dst, 1) // version
		dst = binary.BigEndian.AppendUint32(dst, 1) // compatible version
		for len(src) > 0 {
			chunk := src[:min(len(src), xerialBlock)]
			src = src[len(chunk):]
			at := len(dst)
			dst = append(dst, 0, 0, 0, 0)
			dst = slices.Grow(dst, snappy.MaxEncodedLen(len(chunk)))
			enc := snappy.Encode(dst[len(dst):cap(dst)], chunk)
			binary.BigEndian.PutUint32(dst[at:], uint32(len(enc)))
			dst = dst[:len(dst)+len(enc)]
		}
		return dst, nil
	case CompressionLZ4:
		p := writerPool(&lz4Writers, level, func() any {
			l := &lz4Writer{zw: lz4.NewWriter(nil)}
			return l
		})
		l := p.Get().(*lz4Writer)
		defer p.Put(l)
		l.out.Reset()
		l.zw.Reset(&l.out)
		if err := l.zw.Apply(lz4.CompressionLevelOption(lz4Level(level))); err != nil {
			return dst, err
		}
		if _, err := l.zw.Write(src); err != nil {
			return dst, err
		}
		if err := l.zw.Close(); err != nil {
			return dst, err
		}
		return append(dst, l.out.Bytes()...), nil
	case CompressionZstd:
		e, err := zstdEncoder(level)
		if err != nil {
			return dst, err
		}
		return e.EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("%w: compression codec %d", ErrUnsupportedCompression, codec)
}

func zstdEncoder(level int) (*zstd.Encoder, error) {
	if e, ok := zstdEncoders.Load(level); ok {
		return e.(*zstd.Encoder), nil
	}
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, err
	}
	if prev, loaded := zstdEncoders.LoadOrStore(level, e); loaded {
		e.Close()
		return prev.(*zstd.Encoder), nil
	}
	return e, nil
}

// CodecByName maps Kafka's compression.type names to codecs; ok is false
// for "producer" and unknown names.
func CodecByName(name string) (codec int8, ok bool) {
	switch name {
	case "uncompressed", "none":
		return CompressionNone, true
	case "gzip":
		return CompressionGzip, true
	case "snappy":
		return CompressionSnappy, true
	case "lz4":
		return CompressionLZ4, true
	case "zstd":
		return CompressionZstd, true
	}
	return 0, false
}
