package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// The transaction index, "%020d.txnindex" (Kafka's TransactionIndex): one
// entry per aborted transaction whose ABORT marker is in the segment, in
// marker order, 34 bytes each, big-endian (Kafka's AbortedTxn):
//
//	version          int16 (0)
//	producerId       int64
//	firstOffset      int64 first offset of the transaction
//	lastOffset       int64 offset of its ABORT marker
//	lastStableOffset int64 the LSO right after the marker: the first offset
//	                       of the earliest transaction of another producer
//	                       still open then, else lastOffset+1
//
// As Kafka's, the file is created with its first entry (most segments have
// none) and holds exactly its entries. A read_committed Fetch uses it to
// name the aborted transactions in the range it returns
// (Log.AbortedTransactions).
const (
	txnIndexSuffix    = ".txnindex"
	abortedTxnSize    = 34
	abortedTxnVersion = 0
)

// AbortedTxn is one entry of a transaction index.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

func (a *AbortedTxn) encode(b []byte) {
	binary.BigEndian.PutUint16(b, abortedTxnVersion)
	binary.BigEndian.PutUint64(b[2:], uint64(a.ProducerID))
	binary.BigEndian.PutUint64(b[10:], uint64(a.FirstOffset))
	binary.BigEndian.PutUint64(b[18:], uint64(a.LastOffset))
	binary.BigEndian.PutUint64(b[26:], uint64(a.LastStableOffset))
}

// txnIndex is a segment's transaction index. The appender holds Log.mu;
// entries are published to lock-free readers as the other indexes'.
type txnIndex struct {
	f       File // nil until the first entry
	path    string
	entries entryList[AbortedTxn]
	// rebuild: recovery recomputes the entries from the batches
	// (reloadProducerState) and rewrites the file (writeRebuilt).
	rebuild bool
}

// open opens an existing file (create: removes a leftover one, the file
// is made with the first entry).
func (t *txnIndex) open(fsys FS, path string, create bool) error {
	t.path = path
	if create {
		if err := fsys.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	f, err := fsys.OpenFile(path, os.O_RDWR, 0o644)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	t.f = f
	return nil
}

// load reads the entries from the file; errCorruptIndex when its size or
// an entry is not Kafka's (TransactionIndex.sanityCheck).
func (t *txnIndex) load() error {
	t.entries.truncate(0)
	if t.f == nil {
		return nil
	}
	st, err := t.f.Stat()
	if err != nil {
		return err
	}
	if st.Size()%abortedTxnSize != 0 {
		return errCorruptIndex
	}
	b := make([]byte, st.Size())
	if n, err := t.f.ReadAt(b, 0); n != len(b) {
		if err == nil || errors.Is(err, io.EOF) {
			err = errCorruptIndex
		}
		return err
	}
	es := make([]AbortedTxn, 0, len(b)/abortedTxnSize)
	prev := int64(-1)
	for ; len(b) > 0; b = b[abortedTxnSize:] {
		if binary.BigEndian.Uint16(b) != abortedTxnVersion {
			return errCorruptIndex
		}
		a := AbortedTxn{
			ProducerID:       int64(binary.BigEndian.Uint64(b[2:])),
			FirstOffset:      int64(binary.BigEndian.Uint64(b[10:])),
			LastOffset:       int64(binary.BigEndian.Uint64(b[18:])),
			LastStableOffset: int64(binary.BigEndian.Uint64(b[26:])),
		}
		if a.LastOffset <= prev || a.FirstOffset > a.LastOffset {
			return errCorruptIndex
		}
		prev = a.LastOffset
		es = append(es, a)
	}
	t.entries.reset(es)
	return nil
}

// append writes one entry at the end of the file, creating it first when
// needed, then publishes it.
func (t *txnIndex) append(fsys FS, a AbortedTxn) error {
	es := t.entries.view()
	if n := len(es); n > 0 && a.LastOffset <= es[n-1].LastOffset {
		return fmt.Errorf("storage: transaction index %s: last offset %d after %d", t.path, a.LastOffset, es[n-1].LastOffset)
	}
	if t.f == nil {
		f, err := fsys.OpenFile(t.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		t.f = f
	}
	var b [abortedTxnSize]byte
	a.encode(b[:])
	if _, err := t.f.WriteAt(b[:], int64(len(es))*abortedTxnSize); err != nil {
		return err
	}
	t.entries.add(a)
	return nil
}

// rewrite writes the file anew from the entries (none: an existing file
// is emptied, none is created).
func (t *txnIndex) rewrite(fsys FS) error {
	es := t.entries.view()
	if t.f == nil {
		if len(es) == 0 {
			return nil
		}
		f, err := fsys.OpenFile(t.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		t.f = f
	}
	b := make([]byte, len(es)*abortedTxnSize)
	for i := range es {
		es[i].encode(b[i*abortedTxnSize:])
	}
	if err := t.f.Truncate(int64(len(b))); err != nil {
		return err
	}
	if _, err := t.f.WriteAt(b, 0); err != nil {
		return err
	}
	return nil
}

// truncateTo drops the entries whose marker is at or past offset (Kafka's
// TransactionIndex.truncateTo); the caller holds Log.truncMu for writing.
func (t *txnIndex) truncateTo(offset int64) error {
	es := t.entries.view()
	n := len(es)
	for n > 0 && es[n-1].LastOffset >= offset {
		n--
	}
	if n == len(es) {
		return nil
	}
	t.entries.truncate(n)
	if t.f == nil {
		return nil
	}
	return t.f.Truncate(int64(n) * abortedTxnSize)
}

// collect appends to dst the entries overlapping [fetchOffset,
// upperBound) (Kafka's TransactionIndex.collectAbortedTxns); complete is
// true when an entry shows that no later segment can hold one (its last
// stable offset reaches upperBound).
func (t *txnIndex) collect(dst []AbortedTxn, fetchOffset, upperBound int64) (_ []AbortedTxn, complete bool) {
	for _, a := range t.entries.view() {
		if a.LastOffset >= fetchOffset && a.FirstOffset < upperBound {
			dst = append(dst, a)
		}
		if a.LastStableOffset >= upperBound {
			return dst, true
		}
	}
	return dst, false
}

func (t *txnIndex) sync() error {
	if t.f == nil {
		return nil
	}
	return t.f.Sync()
}

func (t *txnIndex) close() error {
	if t.f == nil {
		return nil
	}
	return t.f.Close()
}
