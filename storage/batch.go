package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/samsa-io/samsa/protocol"
)

// Byte offsets of the v2 RecordBatch header fields (see protocol/batch.go).
// storage decodes the few fields it needs itself so the hot path stays a
// handful of loads.
const (
	offBaseOffset      = 0
	offBatchLength     = protocol.BatchLengthOffset
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	batchHeaderSize = protocol.BatchHeaderSize
	logOverhead     = protocol.LogOverhead
	// minBatchLength is the smallest legal batchLength (a header, no records).
	minBatchLength = batchHeaderSize - logOverhead
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	errShortBatch   = errors.New("short batch")
	errBadLength    = errors.New("bad batch length")
	errBadMagic     = errors.New("bad magic")
	errBadCRC       = errors.New("crc mismatch")
	errBadOffsets   = errors.New("offsets not increasing")
	errBadRecords   = errors.New("malformed records")
	errUnknownCodec = errors.New("unknown compression codec")
)

// batchInfo is the part of a batch header storage looks at.
type batchInfo struct {
	baseOffset      int64
	size            int64 // whole batch, logOverhead included
	leaderEpoch     int32
	attributes      int16
	lastOffsetDelta int32
	baseTimestamp   int64
	maxTimestamp    int64
	producerID      int64
	producerEpoch   int16
	baseSequence    int32
}

func (b *batchInfo) lastOffset() int64 { return b.baseOffset + int64(b.lastOffsetDelta) }
func (b *batchInfo) nextOffset() int64 { return b.lastOffset() + 1 }
func (b *batchInfo) isControl() bool   { return b.attributes&protocol.AttrControl != 0 }
func (b *batchInfo) logAppendTime() bool {
	return b.attributes&protocol.AttrTimestampTypeLog != 0
}

// lastSequence wraps at MaxInt32 as Kafka's DefaultRecordBatch does.
func (b *batchInfo) lastSequence() int32 {
	if b.baseSequence < 0 {
		return -1
	}
	s := int64(b.baseSequence) + int64(b.lastOffsetDelta)
	if s > math.MaxInt32 {
		s -= math.MaxInt32 + 1
	}
	return int32(s)
}

// decodeBatchHeader decodes the fixed header of the batch at the start of b.
// It checks the length field and magic, not the CRC.
func decodeBatchHeader(b []byte) (batchInfo, error) {
	if len(b) < batchHeaderSize {
		return batchInfo{}, errShortBatch
	}
	length := int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	if length < minBatchLength {
		return batchInfo{}, errBadLength
	}
	if b[offMagic] != 2 {
		return batchInfo{}, errBadMagic
	}
	h := batchInfo{
		baseOffset:      int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		size:            int64(length) + logOverhead,
		leaderEpoch:     int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])),
		attributes:      int16(binary.BigEndian.Uint16(b[offAttributes:])),
		lastOffsetDelta: int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])),
		baseTimestamp:   int64(binary.BigEndian.Uint64(b[offBaseTimestamp:])),
		maxTimestamp:    int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		producerID:      int64(binary.BigEndian.Uint64(b[offProducerID:])),
		producerEpoch:   int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		baseSequence:    int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
	}
	if h.lastOffsetDelta < 0 {
		return batchInfo{}, errBadOffsets
	}
	return h, nil
}

// batchCRCValid checks the CRC-32C over [attributes, end) of a whole batch.
func batchCRCValid(b []byte) bool {
	return crc32.Checksum(b[offAttributes:], castagnoli) == binary.BigEndian.Uint32(b[offCRC:])
}

// stampLogAppendTime sets the LogAppendTime attribute and maxTimestamp and
// recomputes the CRC, as Kafka's LogValidator does for v2 batches.
func stampLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:])
	binary.BigEndian.PutUint16(b[offAttributes:], attrs|protocol.AttrTimestampTypeLog)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}

// recordTimestamps calls fn(offset, timestamp) for every record of a whole
// batch, decompressing when needed, until fn returns false.
func recordTimestamps(b []byte, fn func(offset, ts int64) bool) error {
	h, err := decodeBatchHeader(b)
	if err != nil {
		return err
	}
	n := int(int32(binary.BigEndian.Uint32(b[offRecordCount:])))
	if h.logAppendTime() {
		// Every record carries the batch's maxTimestamp.
		for i := 0; i < n; i++ {
			if !fn(h.baseOffset+int64(i), h.maxTimestamp) {
				return nil
			}
		}
		return nil
	}
	recs, err := decompress(int(h.attributes&protocol.AttrCompressionMask), b[batchHeaderSize:])
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		length, m := binary.Varint(recs)
		if m <= 0 || length < 0 || int64(len(recs)-m) < length {
			return errBadRecords
		}
		rec := recs[m : m+int(length)]
		recs = recs[m+int(length):]
		if len(rec) < 1 {
			return errBadRecords
		}
		tsDelta, k := binary.Varint(rec[1:]) // skip attributes int8
		if k <= 0 {
			return errBadRecords
		}
		offDelta, j := binary.Varint(rec[1+k:])
		if j <= 0 {
			return errBadRecords
		}
		if !fn(h.baseOffset+offDelta, h.baseTimestamp+tsDelta) {
			return nil
		}
	}
	return nil
}

// xerialMagic opens snappy data framed the way snappy-java (used by the Java
// client) writes it.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

var zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))

// decompress returns the records section of a batch in plain form. Only
// ListOffsets by timestamp needs it, so it allocates freely.
func decompress(codec int, data []byte) ([]byte, error) {
	switch codec {
	case protocol.CompressionNone:
		return data, nil
	case protocol.CompressionGzip:
		r, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	case protocol.CompressionSnappy:
		if !bytes.HasPrefix(data, xerialMagic) {
			return snappy.Decode(nil, data)
		}
		data = data[16:] // magic, version, compatible version
		var out []byte
		for len(data) >= 4 {
			n := int(binary.BigEndian.Uint32(data))
			data = data[4:]
			if n < 0 || n > len(data) {
				return nil, errBadRecords
			}
			blk, err := snappy.Decode(nil, data[:n])
			if err != nil {
				return nil, err
			}
			out = append(out, blk...)
			data = data[n:]
		}
		return out, nil
	case protocol.CompressionLZ4:
		return io.ReadAll(lz4.NewReader(bytes.NewReader(data)))
	case protocol.CompressionZstd:
		return zstdDecoder.DecodeAll(data, nil)
	}
	return nil, errUnknownCodec
}
