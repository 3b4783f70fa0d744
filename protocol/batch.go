package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The v2 RecordBatch layout (all big-endian):
//
//	0  baseOffset           int64
//	8  batchLength          int32   bytes after this field
//	12 partitionLeaderEpoch int32
//	16 magic                int8    (2)
//	17 crc                  uint32  CRC-32C of bytes [21, end)
//	21 attributes           int16
//	23 lastOffsetDelta      int32
//	27 baseTimestamp        int64
//	35 maxTimestamp         int64
//	43 producerId           int64
//	51 producerEpoch        int16
//	53 baseSequence         int32
//	57 recordCount          int32
//	61 records...
const (
	BatchHeaderSize = 61
	// BatchLengthOffset is where batchLength sits; a batch's total size is
	// BatchLengthOffset+4+batchLength.
	BatchLengthOffset = 8
	// LogOverhead is baseOffset+batchLength: the bytes before batchLength counts.
	LogOverhead = 12
)

// Attribute bits.
const (
	AttrCompressionMask  = 0x07
	AttrTimestampTypeLog = 0x08 // LogAppendTime
	AttrTransactional    = 0x10
	AttrControl          = 0x20
	// AttrDeleteHorizon (KIP-534): baseTimestamp holds the delete horizon,
	// the time after which the log cleaner may remove the batch's
	// tombstones; the records' timestamp deltas are relative to it.
	AttrDeleteHorizon = 0x40
)

// Compression codecs (attributes & AttrCompressionMask).
const (
	CompressionNone   = 0
	CompressionGzip   = 1
	CompressionSnappy = 2
	CompressionLZ4    = 3
	CompressionZstd   = 4
)

// Validation errors. The broker maps them to Kafka error codes:
// ErrCorruptBatch -> CORRUPT_MESSAGE, ErrInvalidRecord -> INVALID_RECORD,
// ErrInvalidTimestamp -> INVALID_TIMESTAMP, ErrRecordTooLarge ->
// MESSAGE_TOO_LARGE, ErrUnsupportedCompression ->
// UNSUPPORTED_COMPRESSION_TYPE. ErrUnsupportedMagic comes only from
// ParseBatchHeader (ValidateProduceBatch answers magic 0/1 with
// ErrInvalidRecord and an unknown magic with ErrCorruptBatch, as Kafka 4
// does).
var (
	ErrCorruptBatch           = errors.New("protocol: corrupt record batch")
	ErrInvalidRecord          = errors.New("protocol: invalid record")
	ErrInvalidTimestamp       = errors.New("protocol: invalid record timestamp")
	ErrRecordTooLarge         = errors.New("protocol: record batch too large")
	ErrUnsupportedMagic       = errors.New("protocol: unsupported record batch magic")
	ErrUnsupportedCompression = errors.New("protocol: unsupported compression codec")
)

// BatchHeader is the decoded fixed part of a v2 RecordBatch.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the whole batch's size in bytes.
func (h *BatchHeader) Size() int64 { return LogOverhead + int64(h.BatchLength) }

// LastOffset is BaseOffset+LastOffsetDelta.
func (h *BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is LastOffset+1.
func (h *BatchHeader) NextOffset() int64 { return h.LastOffset() + 1 }

// Compression is the codec in the attributes.
func (h *BatchHeader) Compression() int8 { return int8(h.Attributes & AttrCompressionMask) }

// IsTransactional reports the transactional attribute bit.
func (h *BatchHeader) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// IsControl reports the control attribute bit.
func (h *BatchHeader) IsControl() bool { return h.Attributes&AttrControl != 0 }

// LogAppendTime reports whether the timestamp type is LogAppendTime.
func (h *BatchHeader) LogAppendTime() bool { return h.Attributes&AttrTimestampTypeLog != 0 }

// HasDeleteHorizon reports the KIP-534 delete-horizon attribute bit.
func (h *BatchHeader) HasDeleteHorizon() bool { return h.Attributes&AttrDeleteHorizon != 0 }

// DeleteHorizonMs is the batch's delete horizon (KIP-534), or -1 when it
// has none.
func (h *BatchHeader) DeleteHorizonMs() int64 {
	if !h.HasDeleteHorizon() {
		return -1
	}
	return h.BaseTimestamp
}

// HasProducerID reports whether the batch was written by an idempotent or
// transactional producer.
func (h *BatchHeader) HasProducerID() bool { return h.ProducerID >= 0 }

// RecordTimestamp is the timestamp of a record of the batch: the batch's
// maxTimestamp under LogAppendTime (every record carries it), else
// baseTimestamp plus the record's delta.
func (h *BatchHeader) RecordTimestamp(r *Record) int64 {
	if h.LogAppendTime() {
		return h.MaxTimestamp
	}
	return h.BaseTimestamp + r.TimestampDelta
}

// LastSequence is the sequence of the batch's last record (wrapping at
// MaxInt32 as Kafka does), or -1 when the batch has no sequence.
func (h *BatchHeader) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return -1
	}
	s := int64(h.BaseSequence) + int64(h.LastOffsetDelta)
	if s > 0x7fffffff {
		s -= 0x80000000
	}
	return int32(s)
}

// ParseBatchHeader decodes the fixed header at the start of b. It checks only
// that 61 bytes are present and that magic is 2 (ErrCorruptBatch /
// ErrUnsupportedMagic); it does not check the CRC or that b holds the whole
// batch.
//
// Magic is checked first when the 17 bytes up to it are present: v0/v1
// message sets keep magic at the same offset but can be shorter than 61
// bytes, and "unsupported magic" is the useful answer for them.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	var h BatchHeader
	if len(b) >= 17 {
		if m := int8(b[16]); m != 2 {
			h.BaseOffset = int64(binary.BigEndian.Uint64(b))
			h.BatchLength = int32(binary.BigEndian.Uint32(b[8:]))
			h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[12:]))
			h.Magic = m
			return h, fmt.Errorf("%w: magic %d, only v2 record batches are supported", ErrUnsupportedMagic, m)
		}
	}
	if len(b) < BatchHeaderSize {
		return h, fmt.Errorf("%w: %d bytes, shorter than the %d-byte batch header", ErrCorruptBatch, len(b), BatchHeaderSize)
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b))
	h.BatchLength = int32(binary.BigEndian.Uint32(b[8:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[12:]))
	h.Magic = int8(b[16])
	h.CRC = binary.BigEndian.Uint32(b[17:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[21:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[23:]))
	h.BaseTimestamp = int64(binary.BigEndian.Uint64(b[27:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[35:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[43:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[51:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[53:]))
	h.NumRecords = int32(binary.BigEndian.Uint32(b[57:]))
	return h, nil
}

// Structural errors of DecodeBatchHeader. They carry no detail, so that a
// scan that meets one allocates nothing; callers add where it happened.
var (
	ErrBatchHeaderShort = fmt.Errorf("%w: shorter than the %d-byte batch header", ErrCorruptBatch, BatchHeaderSize)
	ErrBatchLength      = fmt.Errorf("%w: batch length below the %d bytes of a header", ErrCorruptBatch, BatchHeaderSize-LogOverhead)
	ErrBatchMagic       = fmt.Errorf("%w: magic is not 2", ErrUnsupportedMagic)
	ErrBatchOffsetDelta = fmt.Errorf("%w: negative lastOffsetDelta", ErrCorruptBatch)
	ErrBatchCRC         = fmt.Errorf("%w: CRC-32C mismatch", ErrCorruptBatch)
)

// DecodeBatchHeader decodes the fixed header at the start of b the way a
// log reads what it stores: 61 bytes present, magic 2, a batchLength that
// at least covers the header and a lastOffsetDelta that is not negative.
// It does not check the CRC (VerifyBatchCRC) or that b holds the whole
// batch. The errors are the static ones above; it never allocates.
func DecodeBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, ErrBatchHeaderShort
	}
	h := BatchHeader{
		BaseOffset:           int64(binary.BigEndian.Uint64(b)),
		BatchLength:          int32(binary.BigEndian.Uint32(b[8:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[12:])),
		Magic:                int8(b[16]),
		CRC:                  binary.BigEndian.Uint32(b[17:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[21:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[23:])),
		BaseTimestamp:        int64(binary.BigEndian.Uint64(b[27:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[35:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[43:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[51:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[53:])),
		NumRecords:           int32(binary.BigEndian.Uint32(b[57:])),
	}
	switch {
	case h.BatchLength < BatchHeaderSize-LogOverhead:
		return BatchHeader{}, ErrBatchLength
	case h.Magic != 2:
		return BatchHeader{}, ErrBatchMagic
	case h.LastOffsetDelta < 0:
		return BatchHeader{}, ErrBatchOffsetDelta
	}
	return h, nil
}

// BatchSizeAt returns the whole size of the batch at the start of b from
// its first 12 bytes (baseOffset, batchLength), without checking anything,
// and its base offset; ok is false when b is shorter than that.
func BatchSizeAt(b []byte) (baseOffset, size int64, ok bool) {
	if len(b) < LogOverhead {
		return 0, 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), LogOverhead + int64(int32(binary.BigEndian.Uint32(b[8:]))), true
}

// VerifyBatchCRC reports whether the whole batch b carries the CRC-32C of
// its bytes [21, end).
func VerifyBatchCRC(b []byte) bool {
	return len(b) >= BatchHeaderSize && BatchCRC(b) == binary.BigEndian.Uint32(b[crcOffset:])
}

// SetBaseOffset writes baseOffset into the batch at the start of b (outside
// the CRC).
func SetBaseOffset(b []byte, baseOffset int64) {
	binary.BigEndian.PutUint64(b, uint64(baseOffset))
}

// SetPartitionLeaderEpoch writes the leader epoch into the batch (outside the
// CRC).
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[12:], uint32(epoch))
}

// SetLogAppendTime sets the LogAppendTime attribute bit and maxTimestamp to ts
// and recomputes the CRC, as Kafka does for message.timestamp.type=LogAppendTime.
// b must hold a whole batch that passed validation.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[21:])
	binary.BigEndian.PutUint16(b[21:], attrs|AttrTimestampTypeLog)
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	binary.BigEndian.PutUint32(b[crcOffset:], BatchCRC(b))
}
