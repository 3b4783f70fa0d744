package protocol

import (
	"encoding/binary"
	"slices"
)

// AppendBatch appends to dst a v2 batch holding count records whose plain
// encoding (AppendRecord, back to back) is records, compressed with codec
// at level (Compress). The header is h's — BaseOffset,
// PartitionLeaderEpoch, Attributes (its codec bits replaced by codec),
// LastOffsetDelta, BaseTimestamp, MaxTimestamp, ProducerID, ProducerEpoch
// and BaseSequence are written as they are — with batchLength, recordCount
// and the CRC-32C computed. It returns the new dst and the header as
// written. LastOffsetDelta is the caller's: a cleaned batch keeps its
// original one (and so its producer's last sequence) with fewer records.
func AppendBatch(dst []byte, h *BatchHeader, codec int8, level int, records []byte, count int32) ([]byte, BatchHeader, error) {
	start := len(dst)
	dst = slices.Grow(dst, BatchHeaderSize+len(records))
	dst = dst[:start+BatchHeaderSize]
	var err error
	if codec == CompressionNone {
		dst = append(dst, records...)
	} else if dst, err = Compress(dst, codec, level, records); err != nil {
		return dst[:start], BatchHeader{}, err
	}
	out := *h
	out.Magic = 2
	out.Attributes = h.Attributes&^AttrCompressionMask | int16(codec)
	out.NumRecords = count
	out.BatchLength = int32(len(dst) - start - LogOverhead)
	b := dst[start:]
	binary.BigEndian.PutUint64(b[0:], uint64(out.BaseOffset))
	binary.BigEndian.PutUint32(b[8:], uint32(out.BatchLength))
	binary.BigEndian.PutUint32(b[12:], uint32(out.PartitionLeaderEpoch))
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], uint16(out.Attributes))
	binary.BigEndian.PutUint32(b[23:], uint32(out.LastOffsetDelta))
	binary.BigEndian.PutUint64(b[27:], uint64(out.BaseTimestamp))
	binary.BigEndian.PutUint64(b[35:], uint64(out.MaxTimestamp))
	binary.BigEndian.PutUint64(b[43:], uint64(out.ProducerID))
	binary.BigEndian.PutUint16(b[51:], uint16(out.ProducerEpoch))
	binary.BigEndian.PutUint32(b[53:], uint32(out.BaseSequence))
	binary.BigEndian.PutUint32(b[57:], uint32(out.NumRecords))
	out.CRC = BatchCRC(b)
	binary.BigEndian.PutUint32(b[crcOffset:], out.CRC)
	return dst, out, nil
}

// Recompress rebuilds the whole, valid batch b with codec at level (Kafka's
// compression.type other than producer), appending the new batch to dst:
// same header and records, new codec, length and CRC. scratch is a buffer
// for the plain records, returned (possibly grown) for reuse. limit bounds
// the inflated records as in DecodeRecords.
func Recompress(dst, b []byte, codec int8, level int, scratch []byte, limit int) (out, scratchOut []byte, err error) {
	h, err := DecodeBatchHeader(b)
	if err != nil {
		return dst, scratch, err
	}
	plain, err := DecodeRecords(b[:h.Size()], scratch[:0], limit)
	if err != nil {
		return dst, scratch, err
	}
	if h.Compression() != CompressionNone {
		scratch = plain
	}
	dst, _, err = AppendBatch(dst, &h, codec, level, plain, h.NumRecords)
	return dst, scratch, err
}
