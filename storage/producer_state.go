package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// castagnoli is the CRC-32C table of the snapshot files' checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// producerBatchesKept is how many recent batches per producer are kept for
// duplicate detection (Kafka's NUM_BATCHES_TO_RETAIN).
const producerBatchesKept = 5

// batchMeta is what a retried duplicate needs to be answered.
type batchMeta struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
	timestamp               int64 // batch maxTimestamp
	appendTime              int64 // LogAppendTime stamped, or -1
}

// producerEntry is Kafka's ProducerStateEntry.
type producerEntry struct {
	epoch      int16
	batches    [producerBatchesKept]batchMeta // ring, oldest first from head
	head, n    int
	lastUpdate int64 // ms, wall clock of the last append (expiration)
	// coordinatorEpoch is that of the last transaction marker (-1: none);
	// a marker from an older coordinator is fenced.
	coordinatorEpoch int32
	// txnFirst is the first offset of the producer's ongoing transaction
	// (Kafka's currentTxnFirstOffset), -1 when none.
	txnFirst int64
	// lastMarker is the offset of the producer's last transaction marker
	// of transaction version 0/1 this leader appended since the state was
	// loaded (-1: none): the verification guard (AppendVerified) compares
	// it. Not in snapshots.
	lastMarker int64
}

func newProducerEntry(epoch int16) *producerEntry {
	return &producerEntry{epoch: epoch, coordinatorEpoch: -1, txnFirst: -1, lastMarker: -1}
}

// setEpoch moves the entry to epoch; a new epoch forgets the batches
// (Kafka's maybeUpdateProducerEpoch), not the transaction state.
func (e *producerEntry) setEpoch(epoch int16) {
	if epoch != e.epoch {
		e.epoch, e.head, e.n = epoch, 0, 0
	}
}

func (e *producerEntry) batch(i int) *batchMeta {
	return &e.batches[(e.head+i)%producerBatchesKept]
}

func (e *producerEntry) last() *batchMeta { return e.batch(e.n - 1) }

func (e *producerEntry) push(m batchMeta) {
	if e.n < producerBatchesKept {
		e.batches[(e.head+e.n)%producerBatchesKept] = m
		e.n++
		return
	}
	e.batches[e.head] = m
	e.head = (e.head + 1) % producerBatchesKept
}

// producerState is Kafka's ProducerStateManager. Guarded by Log.mu.
type producerState struct {
	producers map[int64]*producerEntry
	// txns are the transactions that hold the last stable offset back,
	// ascending by first offset: the ongoing ones (last -1, Kafka's
	// ongoingTxns) and the completed ones whose marker the high watermark
	// has not passed yet (Kafka's unreplicatedTxns). txn.go.
	txns []txnSpan
}

func newProducerState() *producerState {
	return &producerState{producers: make(map[int64]*producerEntry)}
}

func inSequence(last, next int32) bool {
	return next == last+1 || (last == math.MaxInt32 && next == 0)
}

// check validates h against the producer's state. It returns the original
// batch for a duplicate (with ErrDuplicateSequence).
func (p *producerState) check(h *batchInfo, guard int64) (batchMeta, error) {
	if h.ProducerID < 0 || h.BaseSequence < 0 || h.IsControl() {
		return batchMeta{}, nil
	}
	e := p.producers[h.ProducerID]
	if e == nil {
		// Unknown producer: its state may have expired or been deleted with
		// old segments; Kafka (>= 2.5) accepts any sequence.
		return batchMeta{}, nil
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return batchMeta{}, ErrInvalidEpoch
	case h.ProducerEpoch > e.epoch:
		if h.BaseSequence != 0 {
			return batchMeta{}, ErrOutOfOrderSeq
		}
		return batchMeta{}, nil
	}
	last := h.LastSequence()
	for i := 0; i < e.n; i++ {
		if b := e.batch(i); b.firstSeq == h.BaseSequence && b.lastSeq == last {
			return *b, ErrDuplicateSequence
		}
	}
	if e.n > 0 && !inSequence(e.last().lastSeq, h.BaseSequence) {
		return batchMeta{}, ErrOutOfOrderSeq
	}
	if e.txnFirst >= 0 && !h.IsTransactional() {
		// Kafka's appendDataBatch: the producer has a transaction open.
		return batchMeta{}, ErrInvalidTxnState
	}
	if guard >= 0 && h.IsTransactional() && e.txnFirst < 0 && e.lastMarker >= guard {
		// The batch was verified (or found in the open transaction)
		// before a marker ended that transaction: appended now it would
		// open a transaction no coordinator knows (Kafka's verification
		// guard, KIP-890 part 1).
		return batchMeta{}, fmt.Errorf("%w (producer %d, marker at offset %d)", ErrStaleVerification, h.ProducerID, e.lastMarker)
	}
	return batchMeta{}, nil
}

// update records an appended batch (also used to replay the log).
func (p *producerState) update(h *batchInfo, appendTime, nowMs int64) {
	if h.ProducerID < 0 || h.BaseSequence < 0 || h.IsControl() {
		return
	}
	e := p.producers[h.ProducerID]
	if e == nil {
		e = newProducerEntry(h.ProducerEpoch)
		p.producers[h.ProducerID] = e
	}
	e.setEpoch(h.ProducerEpoch)
	if e.txnFirst < 0 && h.IsTransactional() {
		e.txnFirst = h.BaseOffset
		p.beginTxn(h.ProducerID, h.BaseOffset)
	}
	e.push(batchMeta{
		firstSeq: h.BaseSequence, lastSeq: h.LastSequence(),
		firstOffset: h.BaseOffset, lastOffset: h.LastOffset(),
		timestamp: h.MaxTimestamp, appendTime: appendTime,
	})
	e.lastUpdate = nowMs
}

// expire drops producers idle for longer than expirationMs, never one
// with a transaction open (Kafka's isProducerExpired).
func (p *producerState) expire(nowMs, expirationMs int64) {
	for id, e := range p.producers {
		if e.txnFirst < 0 && nowMs-e.lastUpdate >= expirationMs {
			delete(p.producers, id)
		}
	}
}

// entry is the exported view of one producer. A producer whose batches
// were dropped by an epoch bump (a transaction version 2 marker) is still
// listed, with no last sequence, offset or timestamp (-1), as Kafka lists
// it.
func (p *producerState) entry(id int64) (ProducerEntry, bool) {
	e := p.producers[id]
	if e == nil {
		return ProducerEntry{}, false
	}
	if e.n == 0 {
		return ProducerEntry{ProducerID: id, ProducerEpoch: e.epoch, LastSequence: -1, LastOffset: -1, LastTimestamp: -1,
			CoordinatorEpoch: e.coordinatorEpoch, CurrentTxnFirstOffset: e.txnFirst}, true
	}
	l := e.last()
	return ProducerEntry{ProducerID: id, ProducerEpoch: e.epoch, LastSequence: l.lastSeq,
		LastOffset: l.lastOffset, LastTimestamp: l.timestamp,
		CoordinatorEpoch: e.coordinatorEpoch, CurrentTxnFirstOffset: e.txnFirst}, true
}

// Snapshot file ("%020d.snapshot", named by the offset it is valid at):
//
//	version  int16  (101; Kafka's own snapshots are version 1)
//	crc      uint32 CRC-32C of everything after this field
//	count    int32
//	count x { producerId int64, epoch int16, lastUpdate int64,
//	          coordinatorEpoch int32, currentTxnFirstOffset int64 (-1: none),
//	          nbatches int8,
//	          nbatches x { firstSeq int32, lastSeq int32, firstOffset int64,
//	                       lastOffset int64, timestamp int64, appendTime int64 } }
//
// Version 100 (before transactions) lacks coordinatorEpoch and
// currentTxnFirstOffset; it is still read. coordinatorEpoch and
// currentTxnFirstOffset are the fields Kafka's version 1 entry carries
// under those names; the ongoing transactions are rebuilt from the latter,
// as Kafka's loadFromSnapshot does.
const (
	snapshotVersion   = 101
	snapshotVersion0  = 100
	snapshotBatchSize = 4 + 4 + 8 + 8 + 8 + 8
)

var (
	errCorruptSnapshot = errors.New("corrupt producer snapshot")
	// errForeignSnapshot: the file does not start with samsa's version
	// (Kafka's own snapshots are version 1): not ours to read or remove.
	errForeignSnapshot = errors.New("not a samsa producer snapshot")
)

func (p *producerState) encode() []byte {
	ids := make([]int64, 0, len(p.producers))
	for id := range p.producers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := make([]byte, 10, 10+len(ids)*(31+producerBatchesKept*snapshotBatchSize))
	binary.BigEndian.PutUint16(b, snapshotVersion)
	binary.BigEndian.PutUint32(b[6:], uint32(len(ids)))
	for _, id := range ids {
		e := p.producers[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastUpdate))
		b = binary.BigEndian.AppendUint32(b, uint32(e.coordinatorEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.txnFirst))
		b = append(b, byte(e.n))
		for i := 0; i < e.n; i++ {
			m := e.batch(i)
			b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.lastOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.timestamp))
			b = binary.BigEndian.AppendUint64(b, uint64(m.appendTime))
		}
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], castagnoli))
	return b
}

func decodeProducerSnapshot(b []byte) (*producerState, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", errForeignSnapshot, len(b))
	}
	v := int16(binary.BigEndian.Uint16(b))
	if v != snapshotVersion && v != snapshotVersion0 {
		return nil, fmt.Errorf("%w: version %d, want %d", errForeignSnapshot, v, snapshotVersion)
	}
	fixed := 19 // an entry before its batches
	if v == snapshotVersion {
		fixed += 12
	}
	if len(b) < 10 || crc32.Checksum(b[6:], castagnoli) != binary.BigEndian.Uint32(b[2:]) {
		return nil, errCorruptSnapshot
	}
	n := int(int32(binary.BigEndian.Uint32(b[6:])))
	b = b[10:]
	p := newProducerState()
	for i := 0; i < n; i++ {
		if len(b) < fixed {
			return nil, errCorruptSnapshot
		}
		id := int64(binary.BigEndian.Uint64(b))
		e := newProducerEntry(int16(binary.BigEndian.Uint16(b[8:])))
		e.lastUpdate = int64(binary.BigEndian.Uint64(b[10:]))
		if v == snapshotVersion {
			e.coordinatorEpoch = int32(binary.BigEndian.Uint32(b[18:]))
			e.txnFirst = int64(binary.BigEndian.Uint64(b[22:]))
		}
		nb := int(b[fixed-1])
		b = b[fixed:]
		if nb > producerBatchesKept || len(b) < nb*snapshotBatchSize {
			return nil, errCorruptSnapshot
		}
		for j := 0; j < nb; j++ {
			e.push(batchMeta{
				firstSeq:    int32(binary.BigEndian.Uint32(b)),
				lastSeq:     int32(binary.BigEndian.Uint32(b[4:])),
				firstOffset: int64(binary.BigEndian.Uint64(b[8:])),
				lastOffset:  int64(binary.BigEndian.Uint64(b[16:])),
				timestamp:   int64(binary.BigEndian.Uint64(b[24:])),
				appendTime:  int64(binary.BigEndian.Uint64(b[32:])),
			})
			b = b[snapshotBatchSize:]
		}
		p.producers[id] = e
		if e.txnFirst >= 0 {
			p.beginTxn(id, e.txnFirst)
		}
	}
	if len(b) != 0 {
		return nil, errCorruptSnapshot
	}
	return p, nil
}

// snapshotOffsets lists the producer snapshots in dir, ascending.
func snapshotOffsets(fsys FS, dir string) ([]int64, error) {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range ents {
		if off, ok := parseOffsetFileName(e.Name(), snapshotSuffix); ok {
			out = append(out, off)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func writeProducerSnapshot(fsys FS, dir string, offset int64, data []byte) error {
	return writeFileAtomic(fsys, snapshotPath(dir, offset), data)
}

// snapshotPath is the producer snapshot file of offset in dir.
func snapshotPath(dir string, offset int64) string {
	return offsetFileName(dir, offset, snapshotSuffix)
}

// loadLatestSnapshot loads the newest valid snapshot at or below maxOffset.
// It removes nothing: it returns the snapshots to remove, those above
// maxOffset (they describe truncated data) and corrupt ones of ours (Kafka
// removes both). A snapshot that is not samsa's is an error.
func loadLatestSnapshot(fsys FS, dir string, maxOffset int64) (*producerState, int64, []string, error) {
	offs, err := snapshotOffsets(fsys, dir)
	if err != nil {
		return nil, -1, nil, err
	}
	var stale []string
	for i := len(offs) - 1; i >= 0; i-- {
		name := offsetFileName(dir, offs[i], snapshotSuffix)
		b, err := readFile(fsys, name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, -1, nil, err
		}
		p, derr := decodeProducerSnapshot(b)
		if errors.Is(derr, errForeignSnapshot) {
			return nil, -1, nil, fmt.Errorf("%s: %w", name, derr)
		}
		if derr == nil && offs[i] <= maxOffset {
			return p, offs[i], stale, nil
		}
		stale = append(stale, name)
	}
	return newProducerState(), -1, stale, nil
}

// removeSnapshots removes the named snapshots (loadLatestSnapshot's stale).
func removeSnapshots(fsys FS, names []string) error {
	for _, n := range names {
		if err := fsys.Remove(n); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// pruneSnapshots keeps the newest keep snapshots and those not below
// minOffset's segment; older ones are removed.
func pruneSnapshots(fsys FS, dir string, minOffset int64, keep int) {
	offs, err := snapshotOffsets(fsys, dir)
	if err != nil {
		return
	}
	for i, off := range offs {
		if i < len(offs)-keep || off < minOffset {
			if i == len(offs)-1 {
				break // never remove the newest
			}
			_ = fsys.Remove(filepath.Join(dir, filepath.Base(offsetFileName(dir, off, snapshotSuffix))))
		}
	}
}
