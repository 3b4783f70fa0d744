package protocol

import (
	"encoding/binary"
	"fmt"
)

// Control batches (attributes control|transactional) carry one control
// record whose key says what it is (Kafka's ControlRecordType) and, for
// the end of a transaction, whose value carries the coordinator epoch
// (Kafka's EndTransactionMarker):
//
//	key   version int16 (0), type int16 (0 ABORT, 1 COMMIT)
//	value version int16 (0), coordinatorEpoch int32
//
// The batch itself is a v2 batch like any other: the producer's id and
// epoch, baseSequence -1, one record at offset delta 0 and timestamp delta
// 0, no compression.

// Control record types (Kafka's ControlRecordType).
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// ErrControlRecord: a control batch whose record is not an end-of-
// transaction marker Kafka's readers would accept.
var ErrControlRecord = fmt.Errorf("%w: invalid control record", ErrCorruptBatch)

// controlKeySize and markerValueSize are the version 0 encodings.
const (
	controlKeySize  = 4
	markerValueSize = 6
)

// EndTxnMarker is a decoded end-of-transaction marker.
type EndTxnMarker struct {
	Type             int16 // ControlAbort or ControlCommit
	CoordinatorEpoch int32
}

// AppendEndTxnMarker appends to dst the control batch Kafka writes to end a
// transaction (MemoryRecords.withEndTransactionMarker), at baseOffset
// with the given leader epoch and timestamp, and returns it.
func AppendEndTxnMarker(dst []byte, baseOffset int64, leaderEpoch int32, timestamp, producerID int64, producerEpoch int16, m EndTxnMarker) []byte {
	var key [controlKeySize]byte
	binary.BigEndian.PutUint16(key[2:], uint16(m.Type))
	var value [markerValueSize]byte
	binary.BigEndian.PutUint32(value[2:], uint32(m.CoordinatorEpoch))
	var rec [32]byte
	r := Record{Key: key[:], Value: value[:]}
	records := AppendRecord(rec[:0], &r)
	h := BatchHeader{
		BaseOffset:           baseOffset,
		PartitionLeaderEpoch: leaderEpoch,
		Attributes:           AttrControl | AttrTransactional,
		BaseTimestamp:        timestamp,
		MaxTimestamp:         timestamp,
		ProducerID:           producerID,
		ProducerEpoch:        producerEpoch,
		BaseSequence:         -1,
	}
	dst, _, _ = AppendBatch(dst, &h, CompressionNone, 0, records, 1) // uncompressed: cannot fail
	return dst
}

// ParseEndTxnMarker reads the end-of-transaction marker of the whole,
// valid control batch b. ok is false for a control batch without records
// (a cleaner emptied it: Kafka skips those) and for one whose record is
// not an end-of-transaction marker (a future control type, which Kafka's
// readers ignore as well).
func ParseEndTxnMarker(b []byte) (m EndTxnMarker, ok bool, err error) {
	h, err := DecodeBatchHeader(b)
	if err != nil {
		return m, false, err
	}
	if !h.IsControl() {
		return m, false, fmt.Errorf("%w: not a control batch", ErrControlRecord)
	}
	if h.NumRecords == 0 {
		return m, false, nil
	}
	if h.Compression() != CompressionNone || int64(len(b)) < h.Size() {
		return m, false, fmt.Errorf("%w: compressed or short", ErrControlRecord)
	}
	r, _, err := ParseRecord(b[BatchHeaderSize:h.Size()], 0)
	if err != nil {
		return m, false, err
	}
	if len(r.Key) < controlKeySize || int16(binary.BigEndian.Uint16(r.Key)) < 0 {
		return m, false, fmt.Errorf("%w: key of %d bytes", ErrControlRecord, len(r.Key))
	}
	m.Type = int16(binary.BigEndian.Uint16(r.Key[2:]))
	if m.Type != ControlAbort && m.Type != ControlCommit {
		return m, false, nil
	}
	if len(r.Value) < markerValueSize {
		return m, false, fmt.Errorf("%w: end transaction marker value of %d bytes", ErrControlRecord, len(r.Value))
	}
	m.CoordinatorEpoch = int32(binary.BigEndian.Uint32(r.Value[2:]))
	return m, true, nil
}
