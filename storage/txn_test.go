package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/samsa-io/samsa/protocol"
)

// txnBatch is a transactional data batch of n records.
func txnBatch(n int, pid int64, epoch int16, seq int32) []byte {
	b := idemBatch(n, pid, epoch, seq)
	binary.BigEndian.PutUint16(b[21:], protocol.AttrTransactional)
	binary.BigEndian.PutUint32(b[17:], protocol.BatchCRC(b))
	return b
}

func mustMarker(t *testing.T, l *Log, m TxnMarker) AppendResult {
	t.Helper()
	r, err := l.AppendTxnMarker(m)
	if err != nil {
		t.Fatalf("AppendTxnMarker %+v: %v", m, err)
	}
	return r
}

func commit(pid int64, epoch int16) TxnMarker {
	return TxnMarker{ProducerID: pid, ProducerEpoch: epoch, CoordinatorEpoch: 1, Commit: true, TransactionVersion: 2}
}

func abort(pid int64, epoch int16) TxnMarker {
	return TxnMarker{ProducerID: pid, ProducerEpoch: epoch, CoordinatorEpoch: 1, TransactionVersion: 2}
}

func wantLSO(t *testing.T, l *Log, want int64) {
	t.Helper()
	if got := l.LastStableOffset(); got != want {
		t.Fatalf("last stable offset %d, want %d (high watermark %d)", got, want, l.HighWatermark())
	}
}

// A committed transaction: the LSO stays at its first offset while it is
// open and until the high watermark passes its marker; the marker is
// Kafka's control batch.
func TestTxnCommitAndLSO(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer l.Close()
	mustAppend(t, l, simpleBatch(2, 10, 1), 0) // 0-1
	l.SetHighWatermark(2)
	wantLSO(t, l, 2)
	mustAppend(t, l, txnBatch(3, 7, 0, 0), 0) // 2-4
	if e, ok := l.ProducerState(7); !ok || e.CurrentTxnFirstOffset != 2 {
		t.Fatalf("producer state %+v %v", e, ok)
	}
	wantLSO(t, l, 2)
	l.SetHighWatermark(5)
	wantLSO(t, l, 2)
	mustAppend(t, l, simpleBatch(1, 10, 1), 0) // 5
	r := mustMarker(t, l, commit(7, 1))        // 6, epoch bumped (KIP-890)
	if r.BaseOffset != 6 || r.LastOffset != 6 || l.LogEndOffset() != 7 {
		t.Fatalf("marker at %+v, log end %d", r, l.LogEndOffset())
	}
	l.SetHighWatermark(6) // the marker is not replicated yet
	wantLSO(t, l, 2)
	l.SetHighWatermark(7)
	wantLSO(t, l, 7)
	if e, ok := l.ProducerState(7); ok && e.CurrentTxnFirstOffset != -1 {
		t.Fatalf("transaction still open: %+v", e)
	}
	if e := l.producers.producers[7]; e.txnFirst != -1 || e.epoch != 1 || e.coordinatorEpoch != 1 {
		t.Fatalf("entry after the marker: %+v", e)
	}
	if a := l.AbortedTransactions(0, 7); a != nil {
		t.Fatalf("aborted %+v after a commit", a)
	}
	// The marker batch as stored.
	res, err := l.Read(6, 1<<20, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := protocol.DecodeBatchHeader(res.Records)
	m, ok, err := protocol.ParseEndTxnMarker(res.Records)
	if err != nil || !ok || m.Type != protocol.ControlCommit || m.CoordinatorEpoch != 1 ||
		h.Attributes != protocol.AttrControl|protocol.AttrTransactional || h.ProducerID != 7 || h.ProducerEpoch != 1 ||
		h.BaseSequence != -1 || h.NumRecords != 1 {
		t.Fatalf("marker %+v %+v %v %v", h, m, ok, err)
	}
	// A read bounded by the LSO (read_committed) stops before the open
	// transaction of another producer.
	mustAppend(t, l, txnBatch(2, 8, 0, 0), 0) // 7-8
	l.SetHighWatermark(l.LogEndOffset())
	wantLSO(t, l, 7)
	res, err = l.Read(0, 1<<20, l.LastStableOffset(), true)
	if err != nil || lastOffsetOf(t, res.Records) != 6 {
		t.Fatalf("read_committed read: last offset %d, %v", lastOffsetOf(t, res.Records), err)
	}
	res, err = l.Read(7, 1<<20, l.LastStableOffset(), true)
	if err != nil || len(res.Records) != 0 {
		t.Fatalf("read at the LSO: %d bytes, %v", len(res.Records), err)
	}
}

// An aborted transaction goes to the transaction index in Kafka's format,
// with the LSO of the moment: the first offset of another producer's open
// transaction.
func TestTxnAbortIndexBytes(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{}, testOpts(t, nil, nil))
	defer l.Close()
	mustAppend(t, l, txnBatch(2, 1, 0, 0), 0) // 0-1  producer 1
	mustAppend(t, l, txnBatch(1, 2, 5, 0), 0) // 2    producer 2
	mustAppend(t, l, txnBatch(1, 1, 0, 2), 0) // 3    producer 1
	mustMarker(t, l, abort(1, 1))             // 4
	mustMarker(t, l, abort(2, 6))             // 5
	l.SetHighWatermark(l.LogEndOffset())
	wantLSO(t, l, 6)
	want := []AbortedTxn{
		{ProducerID: 1, FirstOffset: 0, LastOffset: 4, LastStableOffset: 2},
		{ProducerID: 2, FirstOffset: 2, LastOffset: 5, LastStableOffset: 6},
	}
	if got := l.AbortedTransactions(0, 6); !reflect.DeepEqual(got, want) {
		t.Fatalf("aborted %+v, want %+v", got, want)
	}
	var file []byte
	for _, a := range want {
		e := make([]byte, 34)
		binary.BigEndian.PutUint16(e, 0)
		binary.BigEndian.PutUint64(e[2:], uint64(a.ProducerID))
		binary.BigEndian.PutUint64(e[10:], uint64(a.FirstOffset))
		binary.BigEndian.PutUint64(e[18:], uint64(a.LastOffset))
		binary.BigEndian.PutUint64(e[26:], uint64(a.LastStableOffset))
		file = append(file, e...)
	}
	got, err := os.ReadFile(filepath.Join(dir, "00000000000000000000.txnindex"))
	if err != nil || !bytes.Equal(got, file) {
		t.Fatalf("txnindex\n got %x %v\nwant %x", got, err, file)
	}
	// Ranges: a fetch from 5 sees only the transaction whose marker is at 5.
	if got := l.AbortedTransactions(5, 6); !reflect.DeepEqual(got, want[1:]) {
		t.Fatalf("from 5: %+v", got)
	}
	if got := l.AbortedTransactions(0, 2); !reflect.DeepEqual(got, want[:1]) {
		t.Fatalf("up to 2: %+v", got)
	}
}

// Interleaved producers: the LSO is the first offset of the earliest open
// transaction, whichever producer's.
func TestTxnInterleavedLSO(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer l.Close()
	mustAppend(t, l, txnBatch(1, 1, 0, 0), 0) // 0
	mustAppend(t, l, txnBatch(1, 2, 0, 0), 0) // 1
	mustAppend(t, l, txnBatch(1, 3, 0, 0), 0) // 2
	l.SetHighWatermark(l.LogEndOffset())
	wantLSO(t, l, 0)
	mustMarker(t, l, commit(2, 1)) // 3: the middle one ends
	l.SetHighWatermark(l.LogEndOffset())
	wantLSO(t, l, 0)
	mustMarker(t, l, abort(1, 1)) // 4
	l.SetHighWatermark(l.LogEndOffset())
	wantLSO(t, l, 2)
	mustMarker(t, l, commit(3, 1)) // 5
	wantLSO(t, l, 2)               // the marker is above the high watermark
	l.SetHighWatermark(l.LogEndOffset())
	wantLSO(t, l, 6)
	if got := l.AbortedTransactions(0, 6); len(got) != 1 || got[0] != (AbortedTxn{1, 0, 4, 2}) {
		t.Fatalf("aborted %+v", got)
	}
}

// Markers from an older producer epoch or coordinator epoch are refused
// and write nothing; a data batch outside the open transaction is refused.
func TestTxnMarkerFencing(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer l.Close()
	mustAppend(t, l, txnBatch(1, 9, 3, 0), 0)
	if _, err := l.Append(idemBatch(1, 9, 3, 1), 0, -1); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("non-transactional batch in a transaction: %v", err)
	}
	leo := l.LogEndOffset()
	for _, tc := range []struct {
		m    TxnMarker
		want error
	}{
		{TxnMarker{ProducerID: 9, ProducerEpoch: 2, CoordinatorEpoch: 1, TransactionVersion: 2}, ErrInvalidEpoch},
		{TxnMarker{ProducerID: 9, ProducerEpoch: 3, CoordinatorEpoch: 1, TransactionVersion: 2}, ErrInvalidEpoch},
		{TxnMarker{ProducerID: 9, ProducerEpoch: 2, CoordinatorEpoch: 1, TransactionVersion: 1}, ErrInvalidEpoch},
	} {
		if _, err := l.AppendTxnMarker(tc.m); !errors.Is(err, tc.want) {
			t.Fatalf("%+v: %v, want %v", tc.m, err, tc.want)
		}
	}
	// Version 1: the transaction's own epoch.
	mustMarker(t, l, TxnMarker{ProducerID: 9, ProducerEpoch: 3, CoordinatorEpoch: 4, Commit: true, TransactionVersion: 1})
	mustAppend(t, l, txnBatch(1, 9, 3, 1), 0)
	if _, err := l.AppendTxnMarker(TxnMarker{ProducerID: 9, ProducerEpoch: 4, CoordinatorEpoch: 3, TransactionVersion: 2}); !errors.Is(err, ErrCoordinatorFenced) {
		t.Fatalf("older coordinator: %v", err)
	}
	if l.LogEndOffset() != leo+2 {
		t.Fatalf("log end %d: a refused marker was written", l.LogEndOffset())
	}
	mustMarker(t, l, TxnMarker{ProducerID: 9, ProducerEpoch: 4, CoordinatorEpoch: 4, TransactionVersion: 2})
	// Version 2: a retry of the marker just written (same epoch, nothing
	// open) is accepted, as Kafka does (KAFKA-19999).
	mustMarker(t, l, TxnMarker{ProducerID: 9, ProducerEpoch: 4, CoordinatorEpoch: 4, TransactionVersion: 2})
	if got := l.AbortedTransactions(0, l.LogEndOffset()); len(got) != 1 || got[0].FirstOffset != 2 || got[0].LastOffset != 3 {
		t.Fatalf("aborted %+v", got)
	}
}

// buildTxnLog writes several segments of interleaved transactions, aborted
// and committed, and leaves one of producer 3 open.
func buildTxnLog(t *testing.T, l *Log) {
	t.Helper()
	seq := map[int64]int32{}
	epoch := map[int64]int16{}
	data := func(pid int64) {
		mustAppend(t, l, txnBatch(2, pid, epoch[pid], seq[pid]), 0)
		seq[pid] += 2
	}
	end := func(pid int64, commit bool) {
		epoch[pid]++
		seq[pid] = 0
		mustMarker(t, l, TxnMarker{ProducerID: pid, ProducerEpoch: epoch[pid], CoordinatorEpoch: 2, Commit: commit, TransactionVersion: 2})
	}
	for round := 0; round < 6; round++ {
		data(1)
		data(2)
		mustAppend(t, l, simpleBatch(1, 10, 1), 0)
		end(1, round%2 == 0)
		data(2)
		end(2, round%3 != 0)
	}
	data(3)
	data(1)
	end(1, false)
	l.SetHighWatermark(l.LogEndOffset())
}

// AbortedTransactions across segments is Kafka's collectAbortedTxns: the
// entries live in the segment of their marker.
func TestTxnAbortedAcrossSegments(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{SegmentBytes: 500}, testOpts(t, nil, nil))
	defer l.Close()
	buildTxnLog(t, l)
	if len(l.segments()) < 4 {
		t.Fatalf("%d segments, want several", len(l.segments()))
	}
	all := l.AbortedTransactions(0, l.LogEndOffset())
	var n int
	for _, s := range l.segments() {
		for _, a := range s.txn.entries.view() {
			if a.LastOffset < s.base || a.LastOffset >= s.next {
				t.Fatalf("entry %+v in segment %d..%d", a, s.base, s.next)
			}
			n++
		}
	}
	if len(all) != n || n < 5 {
		t.Fatalf("%d aborted over the log, %d in the indexes", len(all), n)
	}
	// Every range: exactly the entries overlapping it, brute force.
	leo := l.LogEndOffset()
	for from := int64(0); from < leo; from += 3 {
		for to := from + 1; to <= leo; to += 5 {
			var want []AbortedTxn
			for _, a := range all {
				if a.LastOffset >= from && a.FirstOffset < to {
					want = append(want, a)
				}
			}
			got := l.AbortedTransactions(from, to)
			// A search may stop early only where no later entry overlaps.
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("[%d, %d): %+v, want %+v", from, to, got, want)
			}
		}
	}
	wantLSO(t, l, func() int64 { e, _ := l.ProducerState(3); return e.CurrentTxnFirstOffset }())
}

// txnState is what a restart must rebuild.
type txnState struct {
	LSO     int64
	Aborted []AbortedTxn
	P3      ProducerEntry
	Files   map[string]string
}

func captureTxnState(t *testing.T, l *Log) txnState {
	t.Helper()
	e, ok := l.ProducerState(3)
	if !ok || e.CurrentTxnFirstOffset < 0 {
		t.Fatalf("producer 3: %+v %v", e, ok)
	}
	files := map[string]string{}
	ents, _ := os.ReadDir(l.Dir())
	for _, de := range ents {
		if filepath.Ext(de.Name()) == txnIndexSuffix {
			b, _ := os.ReadFile(filepath.Join(l.Dir(), de.Name()))
			files[de.Name()] = string(b)
		}
	}
	return txnState{LSO: l.LastStableOffset(), Aborted: l.AbortedTransactions(0, l.LogEndOffset()), P3: e, Files: files}
}

// A restart rebuilds the producer state, the open transaction, the LSO
// and the transaction indexes: after a clean shutdown from the snapshot
// and the files, after a kill from the batches, also with every
// transaction index, snapshot and the checkpoint gone.
func TestTxnStateSurvivesRestart(t *testing.T) {
	for _, mode := range []string{"clean", "kill", "kill-lost-files"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{SegmentBytes: 500}
			l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
			buildTxnLog(t, l)
			want := captureTxnState(t, l)
			if len(want.Files) < 3 {
				t.Fatalf("%d txnindex files", len(want.Files))
			}
			switch mode {
			case "clean":
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			default:
				l.bg.Wait() // then "kill": no Close, no marker
				defer func() {
					for _, s := range l.segments() {
						s.close()
					}
				}()
				if mode == "kill-lost-files" {
					ents, _ := os.ReadDir(dir)
					for _, de := range ents {
						switch filepath.Ext(de.Name()) {
						case txnIndexSuffix, snapshotSuffix:
							os.Remove(filepath.Join(dir, de.Name()))
						}
					}
					os.Remove(filepath.Join(dir, checkpointFile))
				}
			}
			l2 := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
			defer l2.Close()
			l2.SetHighWatermark(l2.LogEndOffset())
			got := captureTxnState(t, l2)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("after restart:\n got %+v\nwant %+v", got, want)
			}
			// The open transaction goes on and ends.
			mustAppend(t, l2, txnBatch(1, 3, 0, 2), 0)
			mustMarker(t, l2, abort(3, 1))
			l2.SetHighWatermark(l2.LogEndOffset())
			wantLSO(t, l2, l2.LogEndOffset())
			a := l2.AbortedTransactions(want.P3.CurrentTxnFirstOffset, l2.LogEndOffset())
			if last := a[len(a)-1]; last.ProducerID != 3 || last.FirstOffset != want.P3.CurrentTxnFirstOffset {
				t.Fatalf("aborted %+v", a)
			}
		})
	}
}

// Truncation drops the entries of markers it cuts and reopens the
// transactions they closed.
func TestTxnTruncate(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer l.Close()
	mustAppend(t, l, txnBatch(1, 1, 0, 0), 0) // 0
	mustMarker(t, l, abort(1, 1))             // 1
	mustAppend(t, l, txnBatch(1, 2, 0, 0), 0) // 2
	mustMarker(t, l, abort(2, 1))             // 3
	if err := l.TruncateTo(3); err != nil {
		t.Fatal(err)
	}
	if got := l.AbortedTransactions(0, 3); len(got) != 1 || got[0].ProducerID != 1 {
		t.Fatalf("aborted after truncation %+v", got)
	}
	l.SetHighWatermark(3)
	wantLSO(t, l, 2)
	if st, err := os.Stat(filepath.Join(l.Dir(), "00000000000000000000.txnindex")); err != nil || st.Size() != 34 {
		t.Fatalf("txnindex after truncation: %v %v", st, err)
	}
}

// Compaction keeps transactional batches and markers, carries the aborted
// transactions to the cleaned segment, and cleans nothing at or past the
// LSO.
func TestTxnCompaction(t *testing.T) {
	dir := t.TempDir()
	cfg := compactCfg()
	cfg.SegmentBytes = 500
	l := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	defer l.Close()
	buildTxnLog(t, l)
	before := l.AbortedTransactions(0, l.LogEndOffset())
	lso := l.LastStableOffset()
	if st := cleanNow(t, l, 1<<20); st.BatchesRead == 0 {
		t.Fatal("nothing cleaned")
	}
	if got := l.AbortedTransactions(0, l.LogEndOffset()); !reflect.DeepEqual(got, before) {
		t.Fatalf("aborted after cleaning %+v, want %+v", got, before)
	}
	if up := l.CleanedUpTo(); up > lso {
		t.Fatalf("cleaned up to %d, past the LSO %d", up, lso)
	}
	l.Close()
	l2 := mustOpen(t, dir, cfg, testOpts(t, nil, nil))
	defer l2.Close()
	if got := l2.AbortedTransactions(0, l2.LogEndOffset()); !reflect.DeepEqual(got, before) {
		t.Fatalf("aborted after cleaning and restart %+v, want %+v", got, before)
	}
}

// Snapshots carry the coordinator epoch and the open transaction's first
// offset; version 100 snapshots (before transactions) still read.
func TestTxnSnapshotCodec(t *testing.T) {
	p := newProducerState()
	h := batchInfo{BaseOffset: 10, LastOffsetDelta: 1, ProducerID: 4, ProducerEpoch: 2, BaseSequence: 0,
		Attributes: protocol.AttrTransactional}
	p.update(&h, -1, 5)
	p.producers[4].coordinatorEpoch = 6
	q, err := decodeProducerSnapshot(p.encode())
	if err != nil {
		t.Fatal(err)
	}
	if e := q.producers[4]; e.txnFirst != 10 || e.coordinatorEpoch != 6 || e.n != 1 ||
		!reflect.DeepEqual(q.txns, []txnSpan{{producerID: 4, first: 10, last: -1}}) {
		t.Fatalf("decoded %+v %+v", e, q.txns)
	}
	// Version 100: the same entry without the two fields.
	b := p.encode()
	old := append([]byte(nil), b[:10+18]...)
	old = append(old, b[10+30:]...)
	binary.BigEndian.PutUint16(old, snapshotVersion0)
	binary.BigEndian.PutUint32(old[2:], crc32c(old[6:]))
	q, err = decodeProducerSnapshot(old)
	if err != nil {
		t.Fatal(err)
	}
	if e := q.producers[4]; e.txnFirst != -1 || e.coordinatorEpoch != -1 || e.n != 1 || e.epoch != 2 {
		t.Fatalf("version 100 decoded %+v", e)
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// The verification guard (KIP-890 part 1): a transactional batch verified
// before its producer's transaction was ended by a marker is refused
// (ErrStaleVerification) instead of opening a transaction no coordinator
// knows; one verified after the marker, or with no marker in between, is
// appended.
func TestTxnVerificationGuard(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer l.Close()
	// TV1: the marker keeps the epoch, so only the guard tells a late
	// batch of the ended transaction from the next one's first.
	tv1Abort := TxnMarker{ProducerID: 7, ProducerEpoch: 0, CoordinatorEpoch: 1, TransactionVersion: 1}
	guard := l.TxnGuard()
	if _, err := l.AppendVerified(txnBatch(2, 7, 0, 0), 0, -1, guard); err != nil { // 0-1, opens the transaction
		t.Fatal(err)
	}
	late := l.TxnGuard()       // a second batch of the same transaction is checked...
	mustMarker(t, l, tv1Abort) // 2: ...and the coordinator aborts meanwhile
	_, err := l.AppendVerified(txnBatch(1, 7, 0, 2), 0, -1, late)
	if !errors.Is(err, ErrStaleVerification) || !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("a batch verified before the abort marker: %v, want ErrStaleVerification", err)
	}
	if l.LogEndOffset() != 3 {
		t.Fatalf("log end %d, want 3: nothing appended", l.LogEndOffset())
	}
	if e, ok := l.ProducerState(7); !ok || e.CurrentTxnFirstOffset != -1 {
		t.Fatalf("producer state %+v: no transaction may be open", e)
	}
	// The next transaction, verified after the marker, is appended.
	if _, err := l.AppendVerified(txnBatch(1, 7, 0, 2), 0, -1, l.TxnGuard()); err != nil {
		t.Fatalf("the next transaction's first batch: %v", err)
	}
	if e, _ := l.ProducerState(7); e.CurrentTxnFirstOffset != 3 {
		t.Fatalf("producer state %+v, want its transaction open at 3", e)
	}
	// Transaction version 2: the marker bumps the epoch, which fences a
	// late batch of the ended transaction by itself; the next
	// transaction's first batch, checked while the marker was being
	// written (the coordinator adds the partition once it is), is
	// appended.
	next := l.TxnGuard()
	mustMarker(t, l, commit(7, 1)) // 4, epoch 0 -> 1
	if _, err := l.AppendVerified(txnBatch(1, 7, 0, 3), 0, -1, next); !errors.Is(err, ErrInvalidEpoch) {
		t.Fatalf("a late batch at the old epoch: %v, want ErrInvalidEpoch", err)
	}
	if _, err := l.AppendVerified(txnBatch(1, 7, 1, 0), 0, -1, next); err != nil {
		t.Fatalf("the next transaction's first batch at the bumped epoch: %v", err)
	}
}

// txnKVBatch is kvBatch as a transactional batch of producer pid.
func txnKVBatch(t *testing.T, pid int64, epoch int16, seq int32, recs ...kv) []byte {
	t.Helper()
	var plain []byte
	for i, r := range recs {
		rec := protocol.Record{TimestampDelta: int64(i), OffsetDelta: int32(i), Key: []byte(r.key), Value: []byte(r.value)}
		plain = protocol.AppendRecord(plain, &rec)
	}
	h := protocol.BatchHeader{LastOffsetDelta: int32(len(recs) - 1), BaseTimestamp: 1000, MaxTimestamp: 1000 + int64(len(recs)) - 1,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Attributes: protocol.AttrTransactional}
	b, _, err := protocol.AppendBatch(nil, &h, protocol.CompressionNone, 0, plain, int32(len(recs)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Compaction of transactional data: a committed transaction's records are
// compacted like any others (a later committed value hides an older
// plain one, and is hidden by a later one); an aborted transaction's
// records are removed and never hide a value (its abort marker is in a
// later segment than its data: the outcome comes from every segment's
// transaction index); markers and the aborted-transaction index stay.
func TestTxnCompactionAbortedAndCommitted(t *testing.T) {
	cfg := compactCfg()
	cfg.SegmentBytes = 300
	l := mustOpen(t, t.TempDir(), cfg, testOpts(t, nil, nil))
	defer l.Close()
	hw := func() { l.SetHighWatermark(l.LogEndOffset()) }
	mustAppend(t, l, kvBatch(t, protocol.CompressionNone, 1000, kv{key: "a", value: "a-plain"}, kv{key: "b", value: "b-plain"}), 0) // 0-1
	mustAppend(t, l, txnKVBatch(t, 7, 0, 0, kv{key: "a", value: "a-committed"}), 0)                                                 // 2
	mustAppend(t, l, txnKVBatch(t, 8, 0, 0, kv{key: "b", value: "b-aborted"}), 0)                                                   // 3
	mustMarker(t, l, commit(7, 1))                                                                                                  // 4
	hw()
	for i := range 6 { // filler: segments to clean
		mustAppend(t, l, kvBatch(t, protocol.CompressionNone, 1000, kv{key: fmt.Sprintf("f%d", i), value: strings.Repeat("x", 60)}), 0)
	}
	mustMarker(t, l, abort(8, 1)) // the abort marker, in a later segment
	for i := range 6 {
		mustAppend(t, l, kvBatch(t, protocol.CompressionNone, 1000, kv{key: fmt.Sprintf("g%d", i), value: strings.Repeat("y", 60)}), 0)
	}
	hw()
	if n := len(l.segments()); n < 4 {
		t.Fatalf("%d segments, want several", n)
	}
	st := cleanNow(t, l, 1<<20)
	if st.Aborted != 1 || st.Superseded < 1 {
		t.Fatalf("clean stats %+v: want the aborted record removed and a-plain superseded", st)
	}
	values := map[string][]string{}
	for _, r := range readRecords(t, l) {
		if r.key == "a" || r.key == "b" {
			values[r.key] = append(values[r.key], r.value)
		}
	}
	if !reflect.DeepEqual(values["a"], []string{"a-committed"}) || !reflect.DeepEqual(values["b"], []string{"b-plain"}) {
		t.Fatalf("after cleaning a=%q b=%q, want a=[a-committed] (the committed transaction hides the plain value) and b=[b-plain] (the aborted one removed, hiding nothing)",
			values["a"], values["b"])
	}
	if got := l.AbortedTransactions(0, l.LogEndOffset()); len(got) != 1 || got[0].ProducerID != 8 || got[0].FirstOffset != 3 {
		t.Fatalf("aborted transactions after cleaning %+v, want producer 8's from offset 3", got)
	}
}
