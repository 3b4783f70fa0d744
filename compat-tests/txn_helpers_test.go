package compat

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fixtures of the transaction scenarios of the Go clients (txn_test.go):
// reading a topic back per isolation level, the read-committed fixture
// (committed, aborted, then an open transaction), samsa's own view of a
// partition's last stable offset and aborted transactions, and offset
// fetches with and without require_stable. Everything here goes through
// franz-go, so a scenario's verdict does not rest on the client under
// test.
//
// Identifiers of these two files start with txg (transactions, Go
// clients): other transaction suites share this package.

const (
	// scTxnCommitAbort and scReadCommitted are in scenarios_test.go.
	txgScZombieFencing   = "zombie-fencing"
	txgScExactlyOnceCopy = "exactly-once-copy"

	// txgSentinelKey marks the plain record txgPutSentinels appends to
	// every partition once all transactions have ended: a reader that has
	// seen it has seen everything before it.
	txgSentinelKey = "txg-sentinel"

	// txgQuiet is how long a read_committed consumer that has every
	// committed record must then get nothing more (the open transaction's
	// records, aborted ones, control records). A correct broker passes
	// whatever its length; it is the window in which a wrong one is
	// caught.
	txgQuiet = 1500 * time.Millisecond
)

// txgIsolation is franz-go's isolation level option for readCommitted.
func txgIsolation(readCommitted bool) kgo.Opt {
	if readCommitted {
		return kgo.FetchIsolationLevel(kgo.ReadCommitted())
	}
	return kgo.FetchIsolationLevel(kgo.ReadUncommitted())
}

// txgPutSentinels appends one plain (non-transactional) sentinel record
// to every partition of topic.
func txgPutSentinels(ctx context.Context, addr, topic string, partitions int32) error {
	cl, err := fxClient(addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var krs []*kgo.Record
	for p := range partitions {
		krs = append(krs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(txgSentinelKey), Value: []byte("end")})
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return fmt.Errorf("fixture: producing sentinels to %s: %w", topic, err)
	}
	return nil
}

// txgReadToSentinels reads every partition of topic from its start at
// the given isolation level until each partition's sentinel, and returns
// the data records before it per partition, in the order they came
// (which must be offset order).
func txgReadToSentinels(ctx context.Context, addr, topic string, partitions int32, readCommitted bool) ([][]testRecord, error) {
	parts := map[int32]kgo.Offset{}
	for p := range partitions {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := fxClient(addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		txgIsolation(readCommitted), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	level := "read_uncommitted"
	if readCommitted {
		level = "read_committed"
	}
	out := make([][]testRecord, partitions)
	done := map[int32]bool{}
	var bad error
	for len(done) < int(partitions) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("fixture: %s read of %s: sentinels of %d of %d partitions after %v records: %w",
				level, topic, len(done), partitions, txgCount(out), ctx.Err())
		}
		var errs []error
		fs.EachError(func(t string, p int32, err error) { errs = append(errs, fmt.Errorf("%s[%d]: %w", t, p, err)) })
		if len(errs) > 0 {
			return out, fmt.Errorf("fixture: %s read of %s: %w", level, topic, errors.Join(errs...))
		}
		fs.EachRecord(func(kr *kgo.Record) {
			p := kr.Partition
			switch {
			case done[p]:
				if bad == nil {
					bad = fmt.Errorf("fixture: %s read of %s: record %q at %d[%d] after the sentinel", level, topic, kr.Key, p, kr.Offset)
				}
			case string(kr.Key) == txgSentinelKey:
				done[p] = true
			default:
				if n := len(out[p]); n > 0 && out[p][n-1].Offset >= kr.Offset && bad == nil {
					bad = fmt.Errorf("fixture: %s read of %s: partition %d: offset %d after %d", level, topic, p, kr.Offset, out[p][n-1].Offset)
				}
				out[p] = append(out[p], fromKgoRecord(kr))
			}
		})
	}
	return out, bad
}

func txgCount(parts [][]testRecord) int {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return n
}

// txgByPartition splits recs (Partition set) into partitions slices,
// keeping their order.
func txgByPartition(recs []testRecord, partitions int32) [][]testRecord {
	out := make([][]testRecord, partitions)
	for _, r := range recs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}

// txgVerifyCommitAbort checks a topic after transactions txns, of which
// the ones with committed[i] committed and the others aborted, all
// produced by the client under test: a read_committed reader gets
// exactly the committed ones' records and a read_uncommitted reader all
// of them, each partition in produce order, nothing twice.
func txgVerifyCommitAbort(ctx context.Context, addr, topic string, partitions int32, txns [][]testRecord, committed []bool) error {
	if err := txgPutSentinels(ctx, addr, topic, partitions); err != nil {
		return err
	}
	var all, kept []testRecord
	for i, txn := range txns {
		all = append(all, txn...)
		if committed[i] {
			kept = append(kept, txn...)
		}
	}
	for _, rc := range []bool{true, false} {
		want := txgByPartition(all, partitions)
		level := "read_uncommitted"
		if rc {
			want = txgByPartition(kept, partitions)
			level = "read_committed"
		}
		got, err := txgReadToSentinels(ctx, addr, topic, partitions, rc)
		if err != nil {
			return err
		}
		for p := range partitions {
			if err := compareRecords(want[p], got[p], -1); err != nil {
				return fmt.Errorf("%s consumer (franz-go), partition %d: %w%s", level, p, err, txgExplain(got[p], txns, committed))
			}
		}
	}
	return nil
}

// txgExplain says which transaction each unexpected record came from (by
// key), for an error message.
func txgExplain(got []testRecord, txns [][]testRecord, committed []bool) string {
	from := map[string]string{}
	for i, txn := range txns {
		what := "committed"
		if !committed[i] {
			what = "aborted"
		}
		for _, r := range txn {
			from[string(r.Key)+"\x00"+string(r.Value)] = fmt.Sprintf("txn %d (%s)", i+1, what)
		}
	}
	var b strings.Builder
	seen := map[string]int{}
	for _, r := range got {
		k := string(r.Key) + "\x00" + string(r.Value)
		seen[k]++
		if seen[k] == 2 {
			fmt.Fprintf(&b, "; record %q of %s delivered twice", r.Key, from[k])
		}
		if from[k] == "" {
			fmt.Fprintf(&b, "; record %q at %d was never produced", r.Key, r.Offset)
		}
	}
	counts := map[string]int{}
	for _, r := range got {
		counts[from[string(r.Key)+"\x00"+string(r.Value)]]++
	}
	fmt.Fprintf(&b, " (delivered per transaction: %v)", counts)
	return b.String()
}

// ---- offsets ---------------------------------------------------------------------

// txgOffsetFetch is group's committed offset of topic/partition by one
// OffsetFetch naming that partition, with or without require_stable
// (KIP-447): -1 when none; the partition's error code as a kerr error
// (UNSTABLE_OFFSET_COMMIT for a pending transactional offset when
// stable).
func txgOffsetFetch(ctx context.Context, addr, group, topic string, partition int32, stable bool) (int64, error) {
	cl, err := fxClient(addr)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = stable
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rt := kmsg.NewOffsetFetchRequestGroupTopic()
	rt.Topic = topic
	rt.Partitions = []int32{partition}
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("fixture: OffsetFetch of %s: %w", group, err)
	}
	for _, g := range resp.Groups {
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			return 0, err
		}
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				if t.Topic == topic && p.Partition == partition {
					return p.Offset, kerr.ErrorForCode(p.ErrorCode)
				}
			}
		}
	}
	return 0, fmt.Errorf("fixture: OffsetFetch of %s: no %s[%d] in the answer %+v", group, topic, partition, resp)
}

// txgCheckPendingOffset checks group's offset of topic/partition while a
// transaction holds an uncommitted one: a plain fetch still gives the
// last committed offset (was), a require_stable one answers
// UNSTABLE_OFFSET_COMMIT.
func txgCheckPendingOffset(ctx context.Context, addr, group, topic string, partition int32, was int64) error {
	off, err := txgOffsetFetch(ctx, addr, group, topic, partition, false)
	if err != nil {
		return fmt.Errorf("offset fetch during the transaction: %w", err)
	}
	if off != was {
		return fmt.Errorf("offset fetch during the transaction: %s's offset of %s[%d] is %d, want %d (the transaction's offset must not be visible before its commit)", group, topic, partition, off, was)
	}
	off, err = txgOffsetFetch(ctx, addr, group, topic, partition, true)
	if !errors.Is(err, kerr.UnstableOffsetCommit) {
		return fmt.Errorf("require_stable offset fetch during the transaction: offset %d, error %v; want UNSTABLE_OFFSET_COMMIT", off, err)
	}
	return nil
}

// txgAwaitStableOffset waits until a require_stable offset fetch no
// longer answers UNSTABLE_OFFSET_COMMIT (the transaction's end has reached
// the group) and checks that the offset is then want.
func txgAwaitStableOffset(ctx context.Context, addr, group, topic string, partition int32, want int64) error {
	var off int64
	err := pollUntil(ctx, "offset still unstable after the transaction ended", func() (bool, error) {
		var err error
		off, err = txgOffsetFetch(ctx, addr, group, topic, partition, true)
		if errors.Is(err, kerr.UnstableOffsetCommit) {
			return false, err
		}
		return true, err
	})
	if err != nil {
		return err
	}
	if off != want {
		return fmt.Errorf("%s's committed offset of %s[%d] is %d, want %d", group, topic, partition, off, want)
	}
	// And the plain fetch agrees.
	plain, err := txgOffsetFetch(ctx, addr, group, topic, partition, false)
	if err != nil || plain != want {
		return fmt.Errorf("%s's offset of %s[%d] without require_stable: %d (%v), want %d", group, topic, partition, plain, err, want)
	}
	return nil
}

// ---- the read-committed fixture ------------------------------------------------------

// txgRCPartitions is the partition count of the read-committed topics.
const txgRCPartitions = 2

// txgRCFixture is a topic that a franz-go transactional producer wrote:
// transaction 1 committed, transaction 2 aborted, transaction 3
// committed, and transaction 4 open (its records written, no EndTxn)
// until commitOpen. Records carry their Partition and Offset.
type txgRCFixture struct {
	addr, topic string
	pid         int64
	committed   [][]testRecord // per partition: transactions 1 and 3
	aborted     [][]testRecord // per partition: transaction 2
	open        [][]testRecord // per partition: transaction 4
	cl          *kgo.Client    // holds transaction 4
}

// txgRCRecords are n text records per partition (key and value without
// '|' or newlines, so that kcat's output parses).
func txgRCRecords(phase string, n int, base time.Time) []testRecord {
	var out []testRecord
	for p := range int32(txgRCPartitions) {
		for i := range n {
			out = append(out, testRecord{
				Key:       []byte(fmt.Sprintf("%s-p%d-%d", phase, p, i)),
				Value:     []byte(fmt.Sprintf("value of %s record %d in partition %d", phase, i, p)),
				Timestamp: base.Add(time.Duration(i) * time.Millisecond),
				Partition: p,
			})
		}
	}
	return out
}

// txgPrepareReadCommitted creates topic and writes the fixture's four
// transactions, then checks samsa's own view of it (txgCheckOpenView).
func txgPrepareReadCommitted(ctx context.Context, addr, topic string) (*txgRCFixture, error) {
	if err := fxCreateTopic(ctx, addr, topic, txgRCPartitions, nil); err != nil {
		return nil, err
	}
	cl, err := fxClient(addr, kgo.TransactionalID(topic+".producer"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(2*time.Minute))
	if err != nil {
		return nil, err
	}
	f := &txgRCFixture{addr: addr, topic: topic, cl: cl}
	base := baseTime()
	txn := func(phase string, n int, end bool, commit kgo.TransactionEndTry) ([][]testRecord, error) {
		recs := txgRCRecords(phase, n, base)
		if err := cl.BeginTransaction(); err != nil {
			return nil, fmt.Errorf("fixture: begin %s: %w", phase, err)
		}
		krs := make([]*kgo.Record, len(recs))
		for i, r := range recs {
			krs[i] = toKgoRecord(topic, r)
			krs[i].Partition = r.Partition
		}
		res := cl.ProduceSync(ctx, krs...)
		if err := res.FirstErr(); err != nil {
			return nil, fmt.Errorf("fixture: produce %s: %w", phase, err)
		}
		for i, r := range res {
			recs[i].Offset = r.Record.Offset
		}
		if end {
			if err := cl.EndTransaction(ctx, commit); err != nil {
				return nil, fmt.Errorf("fixture: end %s: %w", phase, err)
			}
		}
		return txgByPartition(recs, txgRCPartitions), nil
	}
	c1, err := txn("committed1", 3, true, kgo.TryCommit)
	if err == nil {
		f.aborted, err = txn("aborted", 3, true, kgo.TryAbort)
	}
	var c3 [][]testRecord
	if err == nil {
		c3, err = txn("committed3", 2, true, kgo.TryCommit)
	}
	if err == nil {
		f.open, err = txn("open", 3, false, kgo.TryCommit)
	}
	if err == nil {
		f.pid, _, err = cl.ProducerID(ctx)
	}
	if err != nil {
		cl.Close()
		return nil, err
	}
	f.committed = make([][]testRecord, txgRCPartitions)
	for p := range f.committed {
		f.committed[p] = append(append([]testRecord(nil), c1[p]...), c3[p]...)
	}
	if err := f.checkOpenView(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	return f, nil
}

func (f *txgRCFixture) close() { f.cl.Close() }

// commitOpen commits transaction 4.
func (f *txgRCFixture) commitOpen(ctx context.Context) error {
	if err := f.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("fixture: committing the open transaction: %w", err)
	}
	return nil
}

// checkOpenView checks what samsa itself answers while transaction 4 is
// open, so that a consumer's failure can be told from the broker's: a
// read_committed Fetch (raw, franz-go's kmsg) of each partition has
// LastStableOffset at the open transaction's first record, the high
// watermark past its last, lists the aborted transaction (producer id,
// first offset) and returns no batch at or past the LSO; ListOffsets
// read_committed answers the LSO.
func (f *txgRCFixture) checkOpenView(ctx context.Context) error {
	cl, err := fxClient(f.addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	md, err := adm.Metadata(ctx, f.topic)
	if err != nil {
		return fmt.Errorf("fixture: metadata of %s: %w", f.topic, err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxBytes = 16 << 20
	req.IsolationLevel = 1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = f.topic
	ft.TopicID = md.Topics[f.topic].ID
	for p := range int32(txgRCPartitions) {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition = p
		fp.PartitionMaxBytes = 8 << 20
		fp.LogStartOffset = -1
		fp.CurrentLeaderEpoch = -1
		ft.Partitions = append(ft.Partitions, fp)
	}
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("fixture: read_committed fetch of %s: %w", f.topic, err)
	}
	lsos, err := adm.ListCommittedOffsets(ctx, f.topic)
	if err != nil {
		return fmt.Errorf("fixture: ListOffsets read_committed of %s: %w", f.topic, err)
	}
	seen := 0
	for _, t := range resp.Topics {
		for _, rp := range t.Partitions {
			p := rp.Partition
			if p < 0 || p >= txgRCPartitions {
				return fmt.Errorf("fixture: fetch answered partition %d", p)
			}
			seen++
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return fmt.Errorf("samsa: read_committed fetch of %s[%d]: %w", f.topic, p, err)
			}
			open := f.open[p]
			lso, hwm := open[0].Offset, open[len(open)-1].Offset+1
			if rp.LastStableOffset != lso || rp.HighWatermark != hwm {
				return fmt.Errorf("samsa: read_committed fetch of %s[%d] answers LastStableOffset %d, HighWatermark %d; want %d (the open transaction's first offset), %d",
					f.topic, p, rp.LastStableOffset, rp.HighWatermark, lso, hwm)
			}
			abortedAt := f.aborted[p][0].Offset
			listed := false
			for _, at := range rp.AbortedTransactions {
				listed = listed || (at.ProducerID == f.pid && at.FirstOffset == abortedAt)
			}
			if !listed {
				return fmt.Errorf("samsa: read_committed fetch of %s[%d] lists aborted transactions %+v, want one of producer %d at offset %d",
					f.topic, p, rp.AbortedTransactions, f.pid, abortedAt)
			}
			end, err := txgLastBatchEnd(rp.RecordBatches)
			if err != nil {
				return fmt.Errorf("samsa: read_committed fetch of %s[%d]: %w", f.topic, p, err)
			}
			if end >= lso {
				return fmt.Errorf("samsa: read_committed fetch of %s[%d] returned a batch ending at offset %d, at or past the LSO %d", f.topic, p, end, lso)
			}
			lo, ok := lsos.Lookup(f.topic, p)
			if !ok || lo.Err != nil || lo.Offset != lso {
				return fmt.Errorf("samsa: ListOffsets read_committed of %s[%d] answers %+v, want offset %d", f.topic, p, lo, lso)
			}
		}
	}
	if seen != txgRCPartitions {
		return fmt.Errorf("fixture: read_committed fetch answered %d partitions, want %d", seen, txgRCPartitions)
	}
	return nil
}

// txgLastBatchEnd decodes raw record batches and returns the last offset
// of the last whole one (-1 for none).
func txgLastBatchEnd(raw []byte) (int64, error) {
	end := int64(-1)
	for len(raw) >= 12 {
		length := int(int32(uint32(raw[8])<<24 | uint32(raw[9])<<16 | uint32(raw[10])<<8 | uint32(raw[11])))
		if length <= 0 || 12+length > len(raw) {
			break // a partial batch at the end
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw[:12+length]); err != nil {
			return end, fmt.Errorf("decoding a batch: %w", err)
		}
		end = b.FirstOffset + int64(b.LastOffsetDelta)
		raw = raw[12+length:]
	}
	return end, nil
}

// ---- the read-committed run, one client -------------------------------------------------

// txgStream is the client under test as a read_committed consumer of the
// fixture's topic (every partition from its start): next blocks until
// the next record (Partition and Offset filled) or until ctx ends
// (ctx.Err()).
type txgStream interface {
	next(ctx context.Context) (testRecord, error)
	close() error
}

// txgRunReadCommitted runs the read-committed scenario on stream: it must
// deliver exactly the committed records, then nothing for txgQuiet (it
// stops at the LSO; whileOpen, if set, runs then), then, once the fixture
// has committed the open transaction, exactly that one's records. Each
// partition's records must come in offset order with the offsets the
// producer got.
func txgRunReadCommitted(ctx context.Context, f *txgRCFixture, s txgStream, whileOpen func(context.Context) error) error {
	kind := map[string]string{}
	for p := range int32(txgRCPartitions) {
		for _, r := range f.committed[p] {
			kind[string(r.Key)] = "committed"
		}
		for _, r := range f.aborted[p] {
			kind[string(r.Key)] = "aborted"
		}
		for _, r := range f.open[p] {
			kind[string(r.Key)] = "open-transaction"
		}
	}
	describe := func(r testRecord) string {
		k := kind[string(r.Key)]
		if k == "" {
			k = "unknown (a control record?)"
		}
		return fmt.Sprintf("%s record key %q value %q at %d[%d]", k, r.Key, head24(r.Value), r.Partition, r.Offset)
	}
	read := func(n int, what string) ([]testRecord, error) {
		var out []testRecord
		for len(out) < n {
			r, err := s.next(ctx)
			if err != nil {
				return out, fmt.Errorf("%s: consumed %d of %d records: %w", what, len(out), n, err)
			}
			if r.Partition < 0 || r.Partition >= txgRCPartitions {
				return out, fmt.Errorf("%s: record of partition %d", what, r.Partition)
			}
			out = append(out, r)
		}
		return out, nil
	}
	// quiet expects nothing for txgQuiet; onRecord says what a record
	// that came means.
	quiet := func(what string, onRecord func(testRecord) error) error {
		qctx, cancel := context.WithTimeout(ctx, txgQuiet)
		defer cancel()
		r, err := s.next(qctx)
		if err == nil {
			return onRecord(r)
		}
		if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	// summary drains what else the consumer delivers (until it is quiet)
	// after the unexpected record first and says what all of it was.
	summary := func(first testRecord, got []testRecord) error {
		all := append(got, first)
		for {
			qctx, cancel := context.WithTimeout(ctx, txgQuiet)
			r, err := s.next(qctx)
			cancel()
			if err != nil {
				break
			}
			all = append(all, r)
		}
		d := &txgDelivered{first: describe(first), want: txgCount(f.committed), counts: map[string]int{}}
		for _, r := range all {
			k := kind[string(r.Key)]
			if k == "" {
				k = "unknown (control?)"
			}
			d.counts[k]++
		}
		return d
	}
	nCommitted, nOpen := txgCount(f.committed), txgCount(f.open)
	var got []testRecord
	for len(got) < nCommitted {
		r, err := s.next(ctx)
		if err != nil {
			return fmt.Errorf("committed records: consumed %d of %d: %w", len(got), nCommitted, err)
		}
		if kind[string(r.Key)] != "committed" || r.Partition < 0 || r.Partition >= txgRCPartitions {
			return summary(r, got)
		}
		got = append(got, r)
	}
	if err := quiet("past the last stable offset", func(r testRecord) error { return summary(r, got) }); err != nil {
		return err
	}
	if whileOpen != nil {
		if err := whileOpen(ctx); err != nil {
			return err
		}
	}
	if err := f.commitOpen(ctx); err != nil {
		return err
	}
	rest, err := read(nOpen, "the committed open transaction's records")
	if err != nil {
		return err
	}
	if err := quiet("after every committed record", func(r testRecord) error {
		return fmt.Errorf("after every committed record: got a %s", describe(r))
	}); err != nil {
		return err
	}
	byPart := txgByPartition(append(got, rest...), txgRCPartitions)
	for p := range int32(txgRCPartitions) {
		want := append(append([]testRecord(nil), f.committed[p]...), f.open[p]...)
		if err := compareRecords(want, byPart[p], -1); err != nil {
			return fmt.Errorf("partition %d: %w", p, err)
		}
		for i := range want {
			if byPart[p][i].Offset != want[i].Offset {
				return fmt.Errorf("partition %d: record %d (%q) at offset %d, produced at %d", p, i, want[i].Key, byPart[p][i].Offset, want[i].Offset)
			}
		}
	}
	return nil
}

// txgDelivered is txgRunReadCommitted's error when the consumer, before
// the open transaction's commit, delivered more than the committed
// records: what it delivered, by kind.
type txgDelivered struct {
	first  string         // the first unexpected record
	want   int            // committed records
	counts map[string]int // everything delivered until quiet, by kind
}

func (d *txgDelivered) Error() string {
	return fmt.Sprintf("before the open transaction's commit: got a %s; in all the consumer delivered %v records, want only %d committed ones",
		d.first, d.counts, d.want)
}

// txgChanStream is a txgStream fed by goroutines (one per partition or
// one per process) that send records or errors on ch until stop.
type txgChanStream struct {
	ch     chan txgItem
	stop   func() error
	closed bool
}

type txgItem struct {
	rec testRecord
	err error
}

func (s *txgChanStream) next(ctx context.Context) (testRecord, error) {
	select {
	case it := <-s.ch:
		return it.rec, it.err
	case <-ctx.Done():
		return testRecord{}, ctx.Err()
	}
}

func (s *txgChanStream) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.stop()
}

// ---- the copier process (exactly-once-copy) ------------------------------------------------

// The copier of exactly-once-copy runs as a child process (this test
// binary again, running only TestTxnCopierProcess with txgCopierEnv set),
// so that it can be SIGKILLed in the middle of a transaction as a real
// crash would stop it. It reports on stdout, one txgCopierPrefix line per
// event, and stops at the end of stdin.

const (
	txgCopierEnv    = "SAMSA_TXG_COPIER" // the copier's txgCopierConfig, JSON
	txgCopierPrefix = "TXGCOPIER "
)

type txgCopierConfig struct {
	Addr, In, Out, Group string
	TxnID, InstanceID    string
	Name                 string // in every output record's "copier" header
	MaxPoll              int    // records per transaction, at most
	AbortEvery           int    // every AbortEvery-th transaction ends with TryAbort (0: none)
	HoldAt               int    // the HoldAt-th transaction produces, reports "hold" and never ends (0: none)
}

type txgCopierEvent struct {
	Event     string `json:"event"` // "end", "hold" or "done"
	Txn       int    `json:"txn"`
	Records   int    `json:"records"`
	TryCommit bool   `json:"try_commit"`
	Committed bool   `json:"committed"`
}

// TestTxnCopierProcess is the copier's main when txgCopierEnv is set; in
// a normal run it does nothing.
func TestTxnCopierProcess(t *testing.T) {
	raw := os.Getenv(txgCopierEnv)
	if raw == "" {
		return // not a copier process: TestTxnGroupTransactSession starts those
	}
	var cfg txgCopierConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("copier: %s: %v", txgCopierEnv, err)
	}
	if err := txgCopy(cfg, os.Stdin, os.Stdout); err != nil {
		t.Fatalf("copier %s: %v", cfg.Name, err)
	}
}

// txgCopy is the copier: a GroupTransactSession (read_committed consumer
// of In in Group, transactional producer) that copies each polled batch
// of records to the same partition of Out in one transaction, with the
// source partition and offset in a "src" header, and commits the
// consumed offsets with it.
func txgCopy(cfg txgCopierConfig, stdin io.Reader, stdout io.Writer) error {
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		io.Copy(io.Discard, stdin)
		cancel()
	}()
	// work bounds a transaction's produce and end: a hang guard only.
	work, wcancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer wcancel()
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(cfg.Addr),
		kgo.TransactionalID(cfg.TxnID),
		kgo.TransactionTimeout(time.Minute),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumerGroup(cfg.Group),
		kgo.InstanceID(cfg.InstanceID),
		kgo.ConsumeTopics(cfg.In),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RequireStableFetchOffsets(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer sess.Close()
	emit := func(ev txgCopierEvent) {
		b, _ := json.Marshal(ev)
		fmt.Fprintf(stdout, "%s%s\n", txgCopierPrefix, b)
	}
	txn := 0
	for {
		fs := sess.PollRecords(stop, cfg.MaxPoll)
		if stop.Err() != nil {
			break
		}
		if fs.IsClientClosed() {
			return errors.New("client closed")
		}
		var errs []error
		fs.EachError(func(t string, p int32, err error) { errs = append(errs, fmt.Errorf("%s[%d]: %w", t, p, err)) })
		if len(errs) > 0 {
			return fmt.Errorf("poll: %w", errors.Join(errs...))
		}
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		txn++
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("txn %d: begin: %w", txn, err)
		}
		out := make([]*kgo.Record, len(recs))
		for i, r := range recs {
			out[i] = &kgo.Record{Topic: cfg.Out, Partition: r.Partition, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
				Headers: []kgo.RecordHeader{
					{Key: "src", Value: []byte(fmt.Sprintf("%d:%d", r.Partition, r.Offset))},
					{Key: "copier", Value: []byte(cfg.Name)},
					{Key: "txn", Value: []byte(strconv.Itoa(txn))},
				}}
		}
		// Every record acknowledged before the end: an abort then has all
		// of them in the log, so the read_uncommitted count is exact.
		if err := sess.ProduceSync(work, out...).FirstErr(); err != nil {
			return fmt.Errorf("txn %d: produce: %w", txn, err)
		}
		if txn == cfg.HoldAt {
			emit(txgCopierEvent{Event: "hold", Txn: txn, Records: len(out)})
			<-work.Done() // until SIGKILL
			return fmt.Errorf("txn %d: held, but not killed", txn)
		}
		try := kgo.TryCommit
		if cfg.AbortEvery > 0 && txn%cfg.AbortEvery == 0 {
			try = kgo.TryAbort
		}
		committed, err := sess.End(work, try)
		if err != nil {
			return fmt.Errorf("txn %d: end (try commit %v): %w", txn, bool(try), err)
		}
		emit(txgCopierEvent{Event: "end", Txn: txn, Records: len(out), TryCommit: bool(try), Committed: committed})
	}
	emit(txgCopierEvent{Event: "done", Txn: txn})
	return nil
}

// txgCopier is a running copier process.
type txgCopier struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan txgCopierEvent // closed at the end of its stdout
	exited chan struct{}       // closed once it has been waited for

	mu     sync.Mutex // guards output
	output []string   // its other stdout and stderr lines (the child test's log)
}

// txgStartCopier starts a copier process; it is killed when the test
// ends if it still runs.
func txgStartCopier(t *testing.T, cfg txgCopierConfig) (*txgCopier, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTxnCopierProcess$", "-test.v", "-test.count=1", "-test.timeout=5m")
	for _, kv := range os.Environ() {
		// The child must not overwrite the parent's matrix file.
		if !strings.HasPrefix(kv, "COMPAT_MATRIX_FILE=") && !strings.HasPrefix(kv, txgCopierEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, txgCopierEnv+"="+string(raw))
	cp := &txgCopier{name: cfg.Name, cmd: cmd, events: make(chan txgCopierEvent, 1024), exited: make(chan struct{})}
	if cp.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting copier %s: %w", cfg.Name, err)
	}
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() {
		defer pipes.Done()
		defer close(cp.events)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if raw, ok := strings.CutPrefix(line, txgCopierPrefix); ok {
				var ev txgCopierEvent
				if err := json.Unmarshal([]byte(raw), &ev); err == nil {
					cp.events <- ev
					continue
				}
			}
			cp.addOutput(line)
		}
	}()
	go func() {
		defer pipes.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			cp.addOutput(sc.Text())
		}
	}()
	go func() {
		pipes.Wait() // Wait closes the pipes: read them to the end first
		cmd.Wait()
		close(cp.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-cp.exited:
		default:
			cmd.Process.Kill()
			<-cp.exited
		}
	})
	return cp, nil
}

func (cp *txgCopier) addOutput(line string) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.output = append(cp.output, line)
}

// tail is the copier's last n lines of other output, for an error.
func (cp *txgCopier) tail(n int) string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	from := max(0, len(cp.output)-n)
	return strings.Join(cp.output[from:], "\n")
}

// exitStatus is the process's exit, once exited is closed.
func (cp *txgCopier) exitStatus() string {
	return exitString(cp.cmd.ProcessState, nil)
}
