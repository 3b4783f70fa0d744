package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// TestEndTxnMarkerBytes: the control batch is Kafka's, byte for byte: a v2
// batch with attributes control|transactional, baseSequence -1, one record
// whose key is ControlRecordType v0 and whose value is EndTransactionMarker
// v0.
func TestEndTxnMarkerBytes(t *testing.T) {
	b := AppendEndTxnMarker(nil, 42, 9, 1000, 7, 3, EndTxnMarker{Type: ControlCommit, CoordinatorEpoch: 5})
	rec := []byte{
		0x20,             // length 16 (zigzag)
		0x00,             // attributes
		0x00,             // timestamp delta 0
		0x00,             // offset delta 0
		0x08, 0, 0, 0, 1, // key: 4 bytes, version 0, type COMMIT
		0x0c, 0, 0, 0, 0, 0, 5, // value: 6 bytes, version 0, coordinator epoch 5
		0x00, // no headers
	}
	want := make([]byte, BatchHeaderSize)
	binary.BigEndian.PutUint64(want[0:], 42)
	binary.BigEndian.PutUint32(want[8:], uint32(BatchHeaderSize-LogOverhead+len(rec)))
	binary.BigEndian.PutUint32(want[12:], 9)
	want[16] = 2
	binary.BigEndian.PutUint16(want[21:], 0x30)
	binary.BigEndian.PutUint32(want[23:], 0)
	binary.BigEndian.PutUint64(want[27:], 1000)
	binary.BigEndian.PutUint64(want[35:], 1000)
	binary.BigEndian.PutUint64(want[43:], 7)
	binary.BigEndian.PutUint16(want[51:], 3)
	binary.BigEndian.PutUint32(want[53:], 0xffffffff)
	binary.BigEndian.PutUint32(want[57:], 1)
	want = append(want, rec...)
	binary.BigEndian.PutUint32(want[17:], BatchCRC(want))
	if !bytes.Equal(b, want) {
		t.Fatalf("marker batch\n got %x\nwant %x", b, want)
	}
	h, err := DecodeBatchHeader(b)
	if err != nil || !h.IsControl() || !h.IsTransactional() || !VerifyBatchCRC(b) {
		t.Fatalf("header %+v, %v", h, err)
	}
	m, ok, err := ParseEndTxnMarker(b)
	if err != nil || !ok || m != (EndTxnMarker{Type: ControlCommit, CoordinatorEpoch: 5}) {
		t.Fatalf("parse: %+v %v %v", m, ok, err)
	}
}

func TestParseEndTxnMarker(t *testing.T) {
	abort := AppendEndTxnMarker(nil, 0, 0, 1, 1, 0, EndTxnMarker{Type: ControlAbort, CoordinatorEpoch: -1})
	if m, ok, err := ParseEndTxnMarker(abort); err != nil || !ok || m.Type != ControlAbort || m.CoordinatorEpoch != -1 {
		t.Fatalf("abort: %+v %v %v", m, ok, err)
	}
	// A control batch emptied by a cleaner: no marker, no error.
	empty := buildRawBatch(AttrControl|AttrTransactional, 0, 1, -1, nil)
	binary.BigEndian.PutUint32(empty[23:], 0)
	fixCRC(empty)
	if _, ok, err := ParseEndTxnMarker(empty); ok || err != nil {
		t.Fatalf("empty: %v %v", ok, err)
	}
	// A data batch is not a control batch.
	data := AppendEndTxnMarker(nil, 0, 0, 1, 1, 0, EndTxnMarker{})
	binary.BigEndian.PutUint16(data[21:], AttrTransactional)
	fixCRC(data)
	if _, _, err := ParseEndTxnMarker(data); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("data batch: %v", err)
	}
	// An unknown control type is skipped, as Kafka's readers skip it.
	unk := AppendEndTxnMarker(nil, 0, 0, 1, 1, 0, EndTxnMarker{Type: 7})
	if _, ok, err := ParseEndTxnMarker(unk); ok || err != nil {
		t.Fatalf("unknown type: %v %v", ok, err)
	}
	// A truncated value is corrupt.
	short := AppendEndTxnMarker(nil, 0, 0, 1, 1, 0, EndTxnMarker{Type: ControlAbort})
	short[BatchHeaderSize] = 0x1e   // record length 15
	short[BatchHeaderSize+9] = 0x0a // value length 5
	short = short[:len(short)-1]
	binary.BigEndian.PutUint32(short[8:], uint32(len(short)-LogOverhead))
	fixCRC(short)
	if _, _, err := ParseEndTxnMarker(short); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("short value: %v", err)
	}
}
