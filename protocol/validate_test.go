package protocol

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
)

// recordErrIndexes returns the indexes a *RecordErrors names, or nil when
// err is no *RecordErrors.
func recordErrIndexes(err error) []int32 {
	var re *RecordErrors
	if !errors.As(err, &re) {
		return nil
	}
	var out []int32
	for _, r := range re.Records {
		out = append(out, r.Index)
	}
	return out
}

// TestValidateRecordErrors: refusals for record content name every
// offending record, as Kafka's LogValidator collects them, and pick the
// batch's code as Kafka does (INVALID_TIMESTAMP when any timestamp is bad).
func TestValidateRecordErrors(t *testing.T) {
	const base = 1_700_000_000_000 // buildRawBatch's base timestamp; record i is at base+10i
	keyed := func(keys ...bool) []testRecord {
		recs := make([]testRecord, len(keys))
		for i, k := range keys {
			recs[i].Value = []byte("v")
			if k {
				recs[i].Key = []byte("k")
			}
		}
		return recs
	}
	createTime := func(now, before, after int64) ValidateOptions {
		return ValidateOptions{CheckTimestamps: true, Now: now, TimestampBeforeMaxMs: before, TimestampAfterMaxMs: after}
	}
	withBaseTimestamp := func(b []byte, ts int64) []byte {
		binary.BigEndian.PutUint64(b[27:], uint64(ts))
		fixCRC(b)
		return b
	}
	lat := func(b []byte) []byte { SetLogAppendTime(b, base+5); return b }

	tests := []struct {
		name    string
		b       []byte
		opts    ValidateOptions
		want    []int32 // nil: accepted
		wantErr error
		msg     string
	}{
		{name: "every keyless record on a compacted topic",
			b:    buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: keyed(true, false, true, false)}),
			opts: ValidateOptions{RequireKeys: true}, want: []int32{1, 3}, wantErr: ErrInvalidRecord, msg: "2 record(s) rejected"},
		{name: "keyless compressed",
			b:    buildBatch(t, batchSpec{codec: CompressionLZ4, producerID: -1, baseSeq: -1, records: keyed(false, true, false)}),
			opts: ValidateOptions{RequireKeys: true}, want: []int32{0, 2}, wantErr: ErrInvalidRecord},
		{name: "timestamps after the bound",
			b:    buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: keyed(true, true, true, true)}),
			opts: createTime(base+15, 100, 2), want: []int32{2, 3}, wantErr: ErrInvalidTimestamp, msg: "out of range"},
		{name: "timestamps before the bound",
			b:    buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: keyed(true, true, true)}),
			opts: createTime(base+1000, 985, 0), want: []int32{0, 1}, wantErr: ErrInvalidTimestamp},
		{name: "all within the bounds",
			b:    buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: keyed(true, true, true)}),
			opts: createTime(base+10, 10, 10)},
		{name: "a key error and a timestamp error: INVALID_TIMESTAMP naming both",
			b:    buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: keyed(true, false, true)}),
			opts: ValidateOptions{RequireKeys: true, CheckTimestamps: true, Now: base, TimestampBeforeMaxMs: 100, TimestampAfterMaxMs: 15},
			want: []int32{1, 2}, wantErr: ErrInvalidTimestamp},
		{name: "a record at timestamp -1 is not checked",
			b:    withBaseTimestamp(buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: keyed(true, true)}), -1),
			opts: createTime(base, 100, 100), want: []int32{1}, wantErr: ErrInvalidTimestamp},
		{name: "a LogAppendTime batch on a LogAppendTime topic",
			b:    lat(buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: keyed(true, true)})),
			opts: ValidateOptions{CheckTimestamps: true, LogAppendTime: true, Now: base}, want: []int32{0, 1}, wantErr: ErrInvalidTimestamp, msg: "LogAppendTime"},
		{name: "a LogAppendTime batch on a CreateTime topic is checked at its max timestamp",
			b:    lat(buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: keyed(true, true)})),
			opts: createTime(base, 10, 10)},
		{name: "timestamps are not checked without CheckTimestamps",
			b:    buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: keyed(true, true)}),
			opts: ValidateOptions{Now: 0}},
		{name: "a structural error wins over collected key errors",
			b: func() []byte {
				recs := encodeRecords(keyed(false, true))
				recs = append(recs, 0x02, 0x00) // a third record of one byte: truncated
				return buildRawBatch(0, 3, -1, -1, recs)
			}(),
			opts: ValidateOptions{RequireKeys: true}, wantErr: ErrInvalidRecord, msg: "record 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ValidateProduceBatch(tc.b, tc.opts)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if got := recordErrIndexes(err); !slices.Equal(got, tc.want) {
				t.Fatalf("record errors %v, want %v (%v)", got, tc.want, err)
			}
			if tc.wantErr == ErrInvalidRecord && errors.Is(err, ErrInvalidTimestamp) {
				t.Fatalf("%v also wraps ErrInvalidTimestamp", err)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

// TestValidateTrailingBytes: Kafka appends the first batch of a record set
// whose remaining bytes cannot be a whole second batch; the header's Size
// is what the broker appends.
func TestValidateTrailingBytes(t *testing.T) {
	good := buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: simpleRecords(3, 10)})
	for _, extra := range [][]byte{{1, 2, 3}, make([]byte, 11), good[:16], good[:len(good)-1]} {
		h, err := ValidateProduceBatch(append(append([]byte(nil), good...), extra...), ValidateOptions{})
		if err != nil {
			t.Fatalf("%d trailing bytes: %v", len(extra), err)
		}
		if h.Size() != int64(len(good)) {
			t.Fatalf("%d trailing bytes: size %d, want %d", len(extra), h.Size(), len(good))
		}
	}
}

// TestValidateMaxRecordBytes: max.decompressed.message.bytes bounds each
// record of a compressed batch once inflated; an uncompressed batch is left
// to max.message.bytes.
func TestValidateMaxRecordBytes(t *testing.T) {
	recs := simpleRecords(3, 500) // records of about 510 bytes
	gz := buildBatch(t, batchSpec{codec: CompressionGzip, producerID: -1, baseSeq: -1, records: recs})
	if _, err := ValidateProduceBatch(gz, ValidateOptions{MaxRecordBytes: 600}); err != nil {
		t.Fatalf("records under the cap: %v", err)
	}
	_, err := ValidateProduceBatch(gz, ValidateOptions{MaxRecordBytes: 400})
	if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "max.decompressed.message.bytes=400") {
		t.Fatalf("records over the cap: %v", err)
	}
	plain := buildBatch(t, batchSpec{producerID: -1, baseSeq: -1, records: recs})
	if _, err := ValidateProduceBatch(plain, ValidateOptions{MaxRecordBytes: 400}); err != nil {
		t.Fatalf("an uncompressed batch is not bounded by it: %v", err)
	}
}
