package protocol

import (
	"encoding/binary"
	"fmt"
)

// Record is one v2 record, decoded from a batch's plain records section
// (DecodeRecords). Its slices point into that section.
//
//	length         varint  bytes after this field
//	attributes     int8
//	timestampDelta varlong
//	offsetDelta    varint
//	keyLength      varint  (-1 = null) + key
//	valueLength    varint  (-1 = null) + value
//	headerCount    varint
//	headers        (keyLength varint >= 0, key, valueLength varint, value)*
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	// Key and Value are nil when null (a null Value is a tombstone); an
	// empty one is a non-nil empty slice.
	Key, Value []byte
	// Headers is the encoded header section, headerCount included, as the
	// record carries it: re-encoding a record copies it unchanged.
	Headers     []byte
	HeaderCount int32
}

// IsTombstone reports a null value (a delete marker on a compacted topic).
func (r *Record) IsTombstone() bool { return r.Value == nil }

// ParseRecord decodes the record at the front of b, the idx-th of its batch
// (idx only names it in errors), and returns its encoded size. Errors wrap
// ErrInvalidRecord. It allocates nothing unless it fails.
func ParseRecord(b []byte, idx int32) (Record, int, error) {
	var rec Record
	n, err := parseRecord(b, idx, &rec)
	return rec, n, err
}

// parseRecord is ParseRecord into rec, every field of which it sets (the
// produce path validates every record into one reused Record).
func parseRecord(b []byte, idx int32, rec *Record) (int, error) {
	length, n := varint(b)
	if n <= 0 {
		return 0, recordVarintErr(idx, "length", n)
	}
	if length < 0 {
		return 0, recordErr(idx, "negative length %d", length)
	}
	if int64(length) > int64(len(b)-n) {
		return 0, recordErr(idx, "length %d exceeds remaining %d bytes", length, len(b)-n)
	}
	size := n + int(length)
	r := b[n:size]

	if len(r) < 1 {
		return 0, recordErr(idx, "truncated before attributes")
	}
	rec.Attributes = int8(r[0])
	r = r[1:]
	if rec.TimestampDelta, n = varlong(r); n <= 0 {
		return 0, recordVarintErr(idx, "timestamp delta", n)
	}
	r = r[n:]
	if rec.OffsetDelta, n = varint(r); n <= 0 {
		return 0, recordVarintErr(idx, "offset delta", n)
	}
	r = r[n:]

	keyLen, n := varint(r)
	if n <= 0 {
		return 0, recordVarintErr(idx, "key length", n)
	}
	r = r[n:]
	switch {
	case keyLen == -1:
		rec.Key = nil
	case keyLen < -1:
		return 0, recordErr(idx, "invalid key length %d", keyLen)
	case int64(keyLen) > int64(len(r)):
		return 0, recordErr(idx, "key length %d exceeds remaining %d bytes", keyLen, len(r))
	default:
		rec.Key = r[:keyLen:keyLen]
		r = r[keyLen:]
	}

	valueLen, n := varint(r)
	if n <= 0 {
		return 0, recordVarintErr(idx, "value length", n)
	}
	r = r[n:]
	switch {
	case valueLen == -1:
		rec.Value = nil
	case valueLen < -1:
		return 0, recordErr(idx, "invalid value length %d", valueLen)
	case int64(valueLen) > int64(len(r)):
		return 0, recordErr(idx, "value length %d exceeds remaining %d bytes", valueLen, len(r))
	default:
		rec.Value = r[:valueLen:valueLen]
		r = r[valueLen:]
	}

	rec.Headers = r
	headers, n := varint(r)
	if n <= 0 {
		return 0, recordVarintErr(idx, "header count", n)
	}
	r = r[n:]
	// A header takes at least two bytes (two one-byte lengths).
	if headers < 0 || int64(headers)*2 > int64(len(r)) {
		return 0, recordErr(idx, "invalid number of record headers %d (%d bytes left)", headers, len(r))
	}
	rec.HeaderCount = headers
	for j := int32(0); j < headers; j++ {
		hk, n := varint(r)
		if n <= 0 {
			return 0, recordVarintErr(idx, "header key length", n)
		}
		r = r[n:]
		if hk < 0 {
			return 0, recordErr(idx, "header %d: invalid negative header key size %d", j, hk)
		}
		if int64(hk) > int64(len(r)) {
			return 0, recordErr(idx, "header %d: key length %d exceeds remaining %d bytes", j, hk, len(r))
		}
		r = r[hk:]
		hv, n := varint(r)
		if n <= 0 {
			return 0, recordVarintErr(idx, "header value length", n)
		}
		r = r[n:]
		switch {
		case hv == -1:
		case hv < -1:
			return 0, recordErr(idx, "header %d: invalid value length %d", j, hv)
		case int64(hv) > int64(len(r)):
			return 0, recordErr(idx, "header %d: value length %d exceeds remaining %d bytes", j, hv, len(r))
		default:
			r = r[hv:]
		}
	}
	if len(r) != 0 {
		return 0, recordErr(idx, "length %d but the fields end %d bytes earlier", length, len(r))
	}
	return size, nil
}

// AppendRecord appends the encoding of r to dst. Headers must be a header
// section as ParseRecord returns it (nil is read as no headers).
func AppendRecord(dst []byte, r *Record) []byte {
	var scratch [3 * binary.MaxVarintLen64]byte
	body := binary.AppendVarint(scratch[:0], r.TimestampDelta)
	body = binary.AppendVarint(body, int64(r.OffsetDelta))
	keyLen, valueLen := int64(-1), int64(-1)
	if r.Key != nil {
		keyLen = int64(len(r.Key))
	}
	if r.Value != nil {
		valueLen = int64(len(r.Value))
	}
	headers := r.Headers
	if len(headers) == 0 {
		headers = []byte{0} // headerCount 0
	}
	length := 1 + len(body) + varintLen(keyLen) + max(int(keyLen), 0) + varintLen(valueLen) + max(int(valueLen), 0) + len(headers)
	dst = binary.AppendVarint(dst, int64(length))
	dst = append(dst, byte(r.Attributes))
	dst = append(dst, body...)
	dst = binary.AppendVarint(dst, keyLen)
	dst = append(dst, r.Key...)
	dst = binary.AppendVarint(dst, valueLen)
	dst = append(dst, r.Value...)
	return append(dst, headers...)
}

// varintLen is the size of v as a zigzag varint.
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// DecodeRecords returns the records section of the whole batch b in plain
// form: b's own bytes when it is uncompressed, else its records inflated
// and appended to dst (at most limit bytes; 0 means
// DefaultMaxUncompressedSize). Errors wrap ErrCorruptBatch (the data does
// not inflate), ErrInvalidRecord (it inflates past limit) or
// ErrUnsupportedCompression.
func DecodeRecords(b []byte, dst []byte, limit int) ([]byte, error) {
	if len(b) < BatchHeaderSize {
		return dst, ErrBatchHeaderShort
	}
	codec := int8(binary.BigEndian.Uint16(b[21:]) & AttrCompressionMask)
	records := b[BatchHeaderSize:]
	if codec == CompressionNone {
		return records, nil
	}
	if codec > CompressionZstd {
		return dst, fmt.Errorf("%w: compression codec %d", ErrUnsupportedCompression, codec)
	}
	if limit <= 0 {
		limit = DefaultMaxUncompressedSize
	}
	out, err := decompress(codec, records, limit, dst)
	switch {
	case err == errTooLarge:
		return out, fmt.Errorf("%w: %s records inflate to more than %d bytes", ErrInvalidRecord, codecName(codec), limit)
	case err != nil:
		return out, fmt.Errorf("%w: %s decompression failed: %v", ErrCorruptBatch, codecName(codec), err)
	}
	return out, nil
}

// RecordIter walks the records of a plain records section.
type RecordIter struct {
	b   []byte
	idx int32
	n   int32
	err error
}

// NewRecordIter iterates the count records in the plain section b.
func NewRecordIter(b []byte, count int32) RecordIter {
	return RecordIter{b: b, n: count}
}

// Next decodes the next record into r; false at the end or on an error
// (Err). A section holding more or fewer records than its count is an
// error.
func (it *RecordIter) Next(r *Record) bool {
	if it.err != nil {
		return false
	}
	if it.idx == it.n {
		if len(it.b) != 0 {
			it.err = fmt.Errorf("%w: %d bytes follow the %d records the batch declares", ErrInvalidRecord, len(it.b), it.n)
		}
		return false
	}
	if len(it.b) == 0 {
		it.err = fmt.Errorf("%w: batch declares %d records but holds %d", ErrInvalidRecord, it.n, it.idx)
		return false
	}
	rec, size, err := ParseRecord(it.b, it.idx)
	if err != nil {
		it.err = err
		return false
	}
	*r = rec
	it.b = it.b[size:]
	it.idx++
	return true
}

// Err is the error that ended the iteration, nil at a clean end.
func (it *RecordIter) Err() error { return it.err }
