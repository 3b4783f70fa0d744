package protocol

import (
	"fmt"
)

// ValidateOptions tune ValidateProduceBatch.
type ValidateOptions struct {
	// RequireKeys rejects records with a null key (cleanup.policy=compact)
	// with ErrInvalidRecord.
	RequireKeys bool
	// MaxUncompressedSize caps how many bytes a compressed batch's records
	// may inflate to; beyond it the batch fails with ErrInvalidRecord.
	// 0 means DefaultMaxUncompressedSize.
	MaxUncompressedSize int
	// MaxDecompressedRecord caps one record of a compressed batch, once
	// inflated (max.decompressed.message.bytes); 0: no cap.
	MaxDecompressedRecord int
}

// minBatchLength is batchLength for a batch with no records: the header after
// the batchLength field.
const minBatchLength = BatchHeaderSize - LogOverhead

// ValidateProduceBatch checks a produce request's record set for one
// partition: exactly one v2 batch that fills b exactly, batchLength
// consistent, CRC-32C correct, attributes sane, record count equal to
// lastOffsetDelta+1 and to the records actually present, each record well
// formed (varint lengths within bounds, offset deltas 0..n-1), decompressing
// when compressed. It never modifies b and never panics. The returned errors
// wrap one of the sentinel errors above with a human-readable reason.
//
// The batch-level rules are Kafka's LogValidator.validateBatch for client
// produce: a positive count matching the offset range, no control batches,
// and a base sequence whenever a producer id is set. The header is returned
// whenever it could be parsed, also with an error.
//
// Uncompressed batches are validated without allocating; compressed ones are
// inflated into a pooled buffer with pooled decoders.
//
// Not checked here, because they need topic configuration or the clock:
// max.message.bytes, record timestamps against message.timestamp.*.max.ms,
// and maxTimestamp against the records' timestamps (Kafka rewrites it).
func ValidateProduceBatch(b []byte, opts ValidateOptions) (BatchHeader, error) {
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if h.BatchLength < minBatchLength {
		return h, fmt.Errorf("%w: batch length %d is below the minimum %d", ErrCorruptBatch, h.BatchLength, minBatchLength)
	}
	switch size := int64(LogOverhead) + int64(h.BatchLength); {
	case size > int64(len(b)):
		return h, fmt.Errorf("%w: batch length %d needs %d bytes but only %d were sent", ErrCorruptBatch, h.BatchLength, size, len(b))
	case size < int64(len(b)):
		return h, fmt.Errorf("%w: produce request must contain exactly one record batch (%d bytes follow the %d-byte batch)", ErrInvalidRecord, int64(len(b))-size, size)
	}
	if crc := BatchCRC(b); crc != h.CRC {
		return h, fmt.Errorf("%w: CRC-32C mismatch: batch carries %#08x, records hash to %#08x", ErrCorruptBatch, h.CRC, crc)
	}
	codec := h.Compression()
	if codec > CompressionZstd {
		return h, fmt.Errorf("%w: compression codec %d", ErrUnsupportedCompression, codec)
	}
	if h.IsControl() {
		return h, fmt.Errorf("%w: clients are not allowed to write control records", ErrInvalidRecord)
	}
	if h.LastOffsetDelta < 0 {
		return h, fmt.Errorf("%w: batch has an invalid offset range: lastOffsetDelta %d", ErrInvalidRecord, h.LastOffsetDelta)
	}
	if h.NumRecords <= 0 {
		return h, fmt.Errorf("%w: invalid reported record count %d", ErrInvalidRecord, h.NumRecords)
	}
	if int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
		return h, fmt.Errorf("%w: inconsistent batch: lastOffsetDelta %d but %d records", ErrInvalidRecord, h.LastOffsetDelta, h.NumRecords)
	}
	if h.ProducerID >= 0 && h.BaseSequence < 0 {
		return h, fmt.Errorf("%w: invalid sequence number %d in record batch with producerId %d", ErrInvalidRecord, h.BaseSequence, h.ProducerID)
	}

	records := b[BatchHeaderSize:]
	if codec == CompressionNone {
		return h, validateRecords(records, h.NumRecords, opts.RequireKeys, 0)
	}
	limit := opts.MaxUncompressedSize
	if limit <= 0 {
		limit = DefaultMaxUncompressedSize
	}
	bp := bufPool.Get().(*[]byte)
	out, err := decompress(codec, records, limit, (*bp)[:0])
	if err == nil {
		err = validateRecords(out, h.NumRecords, opts.RequireKeys, opts.MaxDecompressedRecord)
	} else if err == errTooLarge {
		err = fmt.Errorf("%w: %s records inflate to more than %d bytes", ErrInvalidRecord, codecName(codec), limit)
	} else {
		err = fmt.Errorf("%w: %s decompression failed: %v", ErrCorruptBatch, codecName(codec), err)
	}
	if cap(out) <= maxPooledBuf {
		*bp = out[:0]
		bufPool.Put(bp)
	}
	return h, err
}

// validateRecords walks the v2 records in b, which must hold exactly count
// of them, each at most maxRecord bytes when maxRecord > 0.
func validateRecords(b []byte, count int32, requireKeys bool, maxRecord int) error {
	for i := int32(0); ; i++ {
		if len(b) == 0 {
			if i != count {
				return fmt.Errorf("%w: batch declares %d records but holds %d", ErrInvalidRecord, count, i)
			}
			return nil
		}
		if i == count {
			return fmt.Errorf("%w: %d bytes follow the %d records the batch declares", ErrInvalidRecord, len(b), count)
		}
		n, err := validateRecord(b, i, requireKeys)
		if err != nil {
			return err
		}
		if maxRecord > 0 && n > maxRecord {
			return recordErr(i, "%d bytes decompressed, more than max.decompressed.message.bytes=%d", n, maxRecord)
		}
		b = b[n:]
	}
}

// validateRecord checks the record at the front of b, the idx-th of its
// batch, and returns its encoded size: well formed (ParseRecord), its
// offset delta idx, and a key when keys are required.
func validateRecord(b []byte, idx int32, requireKeys bool) (int, error) {
	var r Record
	size, err := parseRecord(b, idx, &r)
	if err != nil {
		return 0, err
	}
	if r.OffsetDelta != idx {
		return 0, recordErr(idx, "offset delta %d, expected %d (inner offsets must be sequential)", r.OffsetDelta, idx)
	}
	if requireKeys && r.Key == nil {
		return 0, recordErr(idx, "compacted topic cannot accept message without key")
	}
	return size, nil
}

func recordErr(idx int32, format string, args ...any) error {
	return fmt.Errorf("%w: record %d: %s", ErrInvalidRecord, idx, fmt.Sprintf(format, args...))
}

func recordVarintErr(idx int32, field string, n int) error {
	if n == 0 {
		return recordErr(idx, "%s truncated", field)
	}
	return recordErr(idx, "%s: varint too long", field)
}
