package storage

// The v2 record batch is protocol's: storage reads headers
// (protocol.DecodeBatchHeader), checks CRCs, stamps LogAppendTime and walks
// records through it, and keeps here only what is about the log: the
// header type it passes around and which errors mean "these bytes are not
// a batch" (a torn tail in recovery) rather than "the disk failed".

import (
	"errors"

	"github.com/samsa-io/samsa/protocol"
)

// Byte offsets of the two header fields the log writes in place on append.
const (
	offBaseOffset  = 0
	offLeaderEpoch = 12

	batchHeaderSize = protocol.BatchHeaderSize
	logOverhead     = protocol.LogOverhead
	// minBatchLength is the smallest legal batchLength (a header, no records).
	minBatchLength = batchHeaderSize - logOverhead
)

// batchInfo is a batch header as the log reads it.
type batchInfo = protocol.BatchHeader

var (
	errBadCRC     = protocol.ErrBatchCRC
	errBadOffsets = errors.New("offsets not increasing")
	errBadLength  = errors.New("batch length does not match the bytes given")
)

// decodeBatchHeader decodes the fixed header of the batch at the start of
// b, checking its length field, magic and offset delta, not the CRC.
func decodeBatchHeader(b []byte) (batchInfo, error) { return protocol.DecodeBatchHeader(b) }

// batchCRCValid checks the CRC-32C of a whole batch.
func batchCRCValid(b []byte) bool { return protocol.VerifyBatchCRC(b) }

// isBatchError reports whether err says that bytes are not a valid batch
// (as opposed to an I/O error).
func isBatchError(err error) bool {
	return errors.Is(err, protocol.ErrCorruptBatch) || errors.Is(err, protocol.ErrUnsupportedMagic)
}

// recordTimestamps calls fn(offset, timestamp) for every record of a whole
// batch, decompressing when needed, until fn returns false.
func recordTimestamps(b []byte, fn func(offset, ts int64) bool) error {
	h, err := decodeBatchHeader(b)
	if err != nil {
		return err
	}
	// The records are walked even under LogAppendTime (where each carries
	// the batch's maxTimestamp): a cleaned batch's offsets have gaps.
	plain, err := protocol.DecodeRecords(b, nil, 0)
	if err != nil {
		return err
	}
	it := protocol.NewRecordIter(plain, h.NumRecords)
	var r protocol.Record
	for it.Next(&r) {
		if !fn(h.BaseOffset+int64(r.OffsetDelta), h.RecordTimestamp(&r)) {
			return nil
		}
	}
	return it.Err()
}
