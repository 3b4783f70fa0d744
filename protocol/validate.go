package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ValidateOptions tune ValidateProduceBatch.
type ValidateOptions struct {
	// RequireKeys rejects records with a null key (cleanup.policy=compact),
	// each named in a RecordErrors wrapping ErrInvalidRecord.
	RequireKeys bool
	// MaxUncompressedSize caps how many bytes a compressed batch's records
	// may inflate to; beyond it the batch fails with ErrInvalidRecord.
	// 0 means DefaultMaxUncompressedSize.
	MaxUncompressedSize int
	// MaxBatchBytes, when positive, refuses a batch larger than it with
	// ErrRecordTooLarge (the topic's max.message.bytes, applied to the batch
	// as Kafka applies it, not to the bytes that follow it).
	MaxBatchBytes int
	// NoZstd refuses zstd batches with ErrUnsupportedCompression (Produce
	// before v7).
	NoZstd bool
	// MaxRecordBytes, when positive, refuses a compressed batch holding a
	// record larger than it once inflated, with ErrInvalidRecord (the
	// topic's max.decompressed.message.bytes; an uncompressed batch is
	// bounded by MaxBatchBytes already).
	MaxRecordBytes int
	// CheckTimestamps applies Kafka's per-record timestamp rules: on a
	// CreateTime topic (LogAppendTime false) every record timestamp other
	// than -1 must lie within [Now-TimestampBeforeMaxMs,
	// Now+TimestampAfterMaxMs]; a batch that says LogAppendTime is refused
	// on a LogAppendTime topic, and on a CreateTime topic when its max
	// timestamp is -1. The offending records are named in a RecordErrors
	// wrapping ErrInvalidTimestamp.
	CheckTimestamps      bool
	LogAppendTime        bool
	Now                  int64
	TimestampBeforeMaxMs int64
	TimestampAfterMaxMs  int64
}

// minBatchLength is batchLength for a batch with no records: the header after
// the batchLength field.
const minBatchLength = BatchHeaderSize - LogOverhead

// Kafka's ByteBufferLogInputStream thresholds: a size field below the v0
// record overhead is corrupt, and the magic byte sits after 17 bytes.
const (
	minRecordOverheadV0 = 14
	headerSizeUpToMagic = 17
)

// RecordError is one record a batch was refused for: its index in the
// batch and why (Kafka's ProduceResponse.RecordError).
type RecordError struct {
	Index   int32
	Message string
}

// RecordErrors is the error of a batch refused for the content of some of
// its records (a null key on a compacted topic, a timestamp out of range):
// Kafka's RecordValidationException. It lists every offending record, and
// wraps ErrInvalidTimestamp when any of them has a bad timestamp, else
// ErrInvalidRecord.
type RecordErrors struct {
	Records   []RecordError
	timestamp bool
}

func (e *RecordErrors) Error() string {
	if e.timestamp {
		return fmt.Sprintf("%v: %d record(s) rejected for an invalid timestamp, the first: record %d: %s",
			ErrInvalidTimestamp, len(e.Records), e.Records[0].Index, e.Records[0].Message)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d record(s) rejected, the first at most three:", ErrInvalidRecord, len(e.Records))
	for i, r := range e.Records[:min(len(e.Records), 3)] {
		if i > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, " record %d: %s", r.Index, r.Message)
	}
	return b.String()
}

func (e *RecordErrors) Unwrap() error {
	if e.timestamp {
		return ErrInvalidTimestamp
	}
	return ErrInvalidRecord
}

// ValidateProduceBatch checks a produce request's record set for one
// partition: it must start with exactly one v2 batch; what follows it is
// ignored when it is too short to be another batch (Kafka's log input
// stream stops at an incomplete trailing batch, and Kafka appends the first
// one), so the caller appends only the returned header's Size() bytes. The
// batch's batchLength must be consistent, its CRC-32C correct, attributes
// sane, record count equal to lastOffsetDelta+1 and to the records actually
// present, each record well formed (varint lengths within bounds, offset
// deltas 0..n-1), decompressing when compressed. It never modifies b and
// never panics. The returned errors wrap one of the sentinel errors above
// with a human-readable reason; refusals for record content are a
// *RecordErrors.
//
// The order and the codes are Kafka's: the record set's shape first
// (KafkaApis, ProduceRequest.validateRecords: no whole batch or magic 0/1
// is INVALID_RECORD, a size below 14 or an unknown magic CORRUPT_MESSAGE,
// zstd before Produce v7, a second batch), then UnifiedLog's
// analyzeAndValidateRecords (base offset 0, max.message.bytes, CRC), then
// LogValidator.validateBatch (a positive count matching the offset range,
// no control batches, a base sequence whenever a producer id is set) and
// validateRecord (keys and timestamps, collected for every record). The
// header is returned whenever it could be parsed, also with an error.
//
// Uncompressed batches are validated without allocating (unless records
// are refused); compressed ones are inflated into a pooled buffer with
// pooled decoders.
func ValidateProduceBatch(b []byte, opts ValidateOptions) (BatchHeader, error) {
	size, err := nextBatchSize(b)
	if err != nil {
		return BatchHeader{}, recordSetErr(err)
	}
	if size < 0 || size > len(b) {
		return BatchHeader{}, recordSetErr(fmt.Errorf("%w: produce requests must have at least one whole record batch per partition (%d bytes sent)", ErrInvalidRecord, len(b)))
	}
	if m := int8(b[16]); m != 2 {
		return BatchHeader{Magic: m}, recordSetErr(fmt.Errorf("%w: produce requests may only contain record batches with magic 2, not %d", ErrInvalidRecord, m))
	}
	if opts.NoZstd && size >= 23 && int8(b[22]&AttrCompressionMask) == CompressionZstd {
		return BatchHeader{Magic: 2}, recordSetErr(fmt.Errorf("%w: produce requests before v7 may not use zstd compression", ErrUnsupportedCompression))
	}
	switch next, err := nextBatchSize(b[size:]); {
	case err != nil:
		return BatchHeader{Magic: 2}, recordSetErr(err)
	case next >= 0 && next <= len(b)-size:
		return BatchHeader{Magic: 2}, recordSetErr(fmt.Errorf("%w: produce requests may contain exactly one record batch per partition", ErrInvalidRecord))
	}
	b = b[:size]
	if size < BatchHeaderSize {
		return BatchHeader{Magic: 2}, fmt.Errorf("%w: batch length %d is below the minimum %d", ErrCorruptBatch, size-LogOverhead, minBatchLength)
	}
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if h.BaseOffset != 0 {
		return h, fmt.Errorf("%w: the base offset of a produced record batch must be 0, not %d", ErrInvalidRecord, h.BaseOffset)
	}
	if opts.MaxBatchBytes > 0 && size > opts.MaxBatchBytes {
		return h, fmt.Errorf("%w: the record batch is %d bytes, larger than max.message.bytes=%d", ErrRecordTooLarge, size, opts.MaxBatchBytes)
	}
	if crc := BatchCRC(b); crc != h.CRC {
		return h, fmt.Errorf("%w: CRC-32C mismatch: batch carries %#08x, records hash to %#08x", ErrCorruptBatch, h.CRC, crc)
	}
	codec := h.Compression()
	if codec > CompressionZstd {
		return h, fmt.Errorf("%w: compression codec %d", ErrUnsupportedCompression, codec)
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
	if h.IsControl() {
		return h, fmt.Errorf("%w: clients are not allowed to write control records", ErrInvalidRecord)
	}
	if h.ProducerID >= 0 && h.BaseSequence < 0 {
		return h, fmt.Errorf("%w: invalid sequence number %d in record batch with producerId %d", ErrInvalidRecord, h.BaseSequence, h.ProducerID)
	}

	rv := recordValidator{count: h.NumRecords, baseTimestamp: h.BaseTimestamp, maxTimestamp: h.MaxTimestamp,
		logAppendTime: h.LogAppendTime(), opts: opts}
	records := b[BatchHeaderSize:]
	if codec == CompressionNone {
		return h, rv.validateRecords(records)
	}
	limit := opts.MaxUncompressedSize
	if limit <= 0 {
		limit = DefaultMaxUncompressedSize
	}
	rv.maxRecord = opts.MaxRecordBytes
	bp := bufPool.Get().(*[]byte)
	out, err := decompress(codec, records, limit, (*bp)[:0])
	if err == nil {
		err = rv.validateRecords(out)
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

// ErrRecordSet marks, beside its code's sentinel, an error in the record
// set's shape (no whole batch, magic 0/1 or unknown, a second batch, zstd
// before v7): what Kafka finds while parsing the request, before the
// partition's log is involved, and so answers without the log start offset.
var ErrRecordSet = errors.New("protocol: produce record set")

type recordSetError struct{ err error }

func (e recordSetError) Error() string   { return e.err.Error() }
func (e recordSetError) Unwrap() []error { return []error{e.err, ErrRecordSet} }

func recordSetErr(err error) error { return recordSetError{err} }

// nextBatchSize is Kafka's ByteBufferLogInputStream.nextBatchSize: the
// size of the batch at the start of b including its 12-byte log overhead,
// or -1 when b is too short to say (fewer than 12 bytes, or fewer than the
// 17 up to the magic byte); a size field below 14 or a magic byte outside
// 0..2 is corrupt. The size may exceed len(b): the batch is incomplete.
func nextBatchSize(b []byte) (int, error) {
	if len(b) < LogOverhead {
		return -1, nil
	}
	n := int32(binary.BigEndian.Uint32(b[BatchLengthOffset:]))
	if n < minRecordOverheadV0 {
		return -1, fmt.Errorf("%w: record size %d is less than the minimum record overhead (%d)", ErrCorruptBatch, n, minRecordOverheadV0)
	}
	if len(b) < headerSizeUpToMagic {
		return -1, nil
	}
	if m := int8(b[16]); m < 0 || m > 2 {
		return -1, fmt.Errorf("%w: invalid magic %d found in record batch", ErrCorruptBatch, m)
	}
	return LogOverhead + int(n), nil
}

// recordValidator walks the v2 records of one batch: structural errors
// stop it at once (Kafka throws them from its record iterator); key and
// timestamp errors are collected for every record (Kafka's
// LogValidator.validateRecord) and refuse the batch at the end.
type recordValidator struct {
	count         int32
	baseTimestamp int64
	maxTimestamp  int64
	logAppendTime bool // the batch says LogAppendTime
	maxRecord     int  // MaxRecordBytes for a compressed batch, else 0
	opts          ValidateOptions
	errs          []RecordError
	ts            bool   // some error is a timestamp's
	rec           Record // the record being checked (reused: no allocation per record)
}

func (rv *recordValidator) refuse(idx int32, timestamp bool, msg string) {
	rv.errs = append(rv.errs, RecordError{Index: idx, Message: msg})
	rv.ts = rv.ts || timestamp
}

// validateRecords walks the v2 records in b, which must hold exactly the
// batch's count of them.
func (rv *recordValidator) validateRecords(b []byte) error {
	count := rv.count
	for i := int32(0); ; i++ {
		if len(b) == 0 {
			if i != count {
				return fmt.Errorf("%w: batch declares %d records but holds %d", ErrInvalidRecord, count, i)
			}
			break
		}
		if i == count {
			return fmt.Errorf("%w: %d bytes follow the %d records the batch declares", ErrInvalidRecord, len(b), count)
		}
		n, err := rv.validateRecord(b, i)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	if len(rv.errs) > 0 {
		return &RecordErrors{Records: rv.errs, timestamp: rv.ts}
	}
	return nil
}

// checkContent applies Kafka's validateKey and validateTimestamp to the
// idx-th record: a key error is the record's error, else a timestamp
// error.
func (rv *recordValidator) checkContent(idx int32, nullKey bool, tsDelta int64) {
	if nullKey && rv.opts.RequireKeys {
		rv.refuse(idx, false, "a compacted topic cannot accept a record without a key")
		return
	}
	o := &rv.opts
	if !o.CheckTimestamps {
		return
	}
	ts := rv.baseTimestamp + tsDelta
	if rv.logAppendTime {
		ts = rv.maxTimestamp // what a LogAppendTime batch's records carry
	}
	switch {
	case !o.LogAppendTime && ts != -1:
		if o.Now-ts > o.TimestampBeforeMaxMs || ts-o.Now > o.TimestampAfterMaxMs {
			rv.refuse(idx, true, fmt.Sprintf("timestamp %d is out of range: it must be within [%d, %d] (message.timestamp.before.max.ms=%d, message.timestamp.after.max.ms=%d)",
				ts, o.Now-o.TimestampBeforeMaxMs, o.Now+o.TimestampAfterMaxMs, o.TimestampBeforeMaxMs, o.TimestampAfterMaxMs))
		}
	case rv.logAppendTime:
		rv.refuse(idx, true, "invalid timestamp type: a producer must not set the timestamp type to LogAppendTime")
	}
}

// validateRecord checks the record at the front of b, the idx-th of its
// batch, and returns its encoded size: well formed (ParseRecord, the one
// record decoder), its offset delta idx, within max.decompressed.message.bytes
// when the batch is compressed, then its key and timestamp (checkContent).
func (rv *recordValidator) validateRecord(b []byte, idx int32) (int, error) {
	rec := &rv.rec
	size, err := parseRecord(b, idx, rec)
	if err != nil {
		return 0, err
	}
	if rv.maxRecord > 0 && size > rv.maxRecord {
		return 0, recordErr(idx, "%d bytes once decompressed, larger than max.decompressed.message.bytes=%d", size, rv.maxRecord)
	}
	if rec.OffsetDelta != idx {
		return 0, recordErr(idx, "offset delta %d, expected %d (inner offsets must be sequential)", rec.OffsetDelta, idx)
	}
	rv.checkContent(idx, rec.Key == nil, rec.TimestampDelta)
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
