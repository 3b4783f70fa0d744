package compat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A broker kill -9 in the middle of a transaction's end, against the real
// binary: the transaction's PrepareCommit/PrepareAbort state is in etcd,
// its markers are not yet in the partitions (held back by the test-only
// fault hook SAMSA_TEST_TXN_MARKER_DELAY_MS, broker/txn_markers.go), and
// the broker dies. Started again without the hook, the coordinator must
// finish what it had promised: one marker per partition, the transaction
// Complete*, the records visible (commit) or skipped (abort) read_committed.
// And an open transaction that outlives its transaction.timeout.ms across
// a kill -9 is aborted by the restarted coordinator, so that the last
// stable offset moves past it.
//
// The fixtures are franz-go (its transactional producer, kadm, raw kmsg
// fetches), so the cells are samsa's, not a client's.

const (
	crashClient = "samsa"

	scTxnKill9PrepareCommit = "txn-kill9-prepare-commit"
	scTxnKill9PrepareAbort  = "txn-kill9-prepare-abort"
	scTxnKill9TimeoutAbort  = "txn-kill9-timeout-abort"

	// txnMarkerDelayEnv is the fault hook's variable; its value is far
	// beyond the test's deadlines: the markers must never come from the
	// run that is killed.
	txnMarkerDelayEnv   = "SAMSA_TEST_TXN_MARKER_DELAY_MS"
	txnMarkerDelayValue = "600000"
	txnHookWarning      = "TEST FAULT HOOK ACTIVE"

	crashPartitions = 3
	crashPerPart    = 5 // transactional records per partition
	crashSentinel   = "sentinel"
)

func TestTxnKill9BeforeMarkers(t *testing.T) {
	if os.Getenv(externalBrokerEnv) != "" {
		t.Skip("needs its own broker process")
	}
	runScenario(t, crashClient, scTxnKill9PrepareCommit, func(ctx context.Context, t *testing.T) error {
		return crashPrepared(ctx, t, scTxnKill9PrepareCommit, true)
	})
	runScenario(t, crashClient, scTxnKill9PrepareAbort, func(ctx context.Context, t *testing.T) error {
		return crashPrepared(ctx, t, scTxnKill9PrepareAbort, false)
	})
	runScenario(t, crashClient, scTxnKill9TimeoutAbort, crashTimedOut)
}

// crashPrepared: a transaction over crashPartitions partitions ends
// (commit or abort) while the hook holds its markers back; kill -9 in
// PrepareCommit/PrepareAbort; restart without the hook.
func crashPrepared(ctx context.Context, t *testing.T, sc string, commit bool) error {
	t.Setenv(txnMarkerDelayEnv, txnMarkerDelayValue)
	s := StartSamsa(t)
	if len(logLinesMatching(s.Lines(), txnHookWarning)) == 0 {
		return fmt.Errorf("samsa started with %s=%s logged no %q warning", txnMarkerDelayEnv, txnMarkerDelayValue, txnHookWarning)
	}
	topic := topicName(crashClient, sc)
	if err := fxCreateTopic(ctx, s.Addr, topic, crashPartitions, nil); err != nil {
		return err
	}
	txnID := topic + ".txn"
	want := crashValues(sc, crashPartitions, crashPerPart)
	if err := crashProduceTxn(ctx, s.Addr, txnID, topic, want, 60*time.Second, func(cl *kgo.Client) error {
		end := kgo.TryAbort
		if commit {
			end = kgo.TryCommit
		}
		return cl.EndTransaction(ctx, end)
	}); err != nil {
		return err
	}

	prepare, complete := "PrepareAbort", "CompleteAbort"
	if commit {
		prepare, complete = "PrepareCommit", "CompleteCommit"
	}
	d, err := crashDescribeTxn(ctx, s.Addr, txnID)
	if err != nil {
		return err
	}
	if d.State != prepare {
		return fmt.Errorf("after EndTxn with the markers held back: DescribeTransactions says %s, want %s", d.State, prepare)
	}
	for p := int32(0); p < crashPartitions; p++ {
		if _, ok := d.Topics[topic][p]; !ok {
			return fmt.Errorf("in %s no marker is written yet, but DescribeTransactions lists %v, without %s-%d", prepare, d.Topics, topic, p)
		}
	}
	pid := d.ProducerID
	// No marker yet: the data is in the log and the last stable offset
	// is held at the transaction's first offset.
	if err := crashCheckOffsets(ctx, s.Addr, topic, crashPerPart, 0); err != nil {
		return fmt.Errorf("in %s before the kill: %w", prepare, err)
	}

	s.Kill9()
	if err := os.Unsetenv(txnMarkerDelayEnv); err != nil {
		return err
	}
	s.Start()
	if len(logLinesMatching(s.Lines(), txnHookWarning)) != 0 {
		return errors.New("the restarted broker still runs with the fault hook")
	}
	if err := crashWaitState(ctx, s.Addr, txnID, complete); err != nil {
		return err
	}
	committed := map[int32][]string{}
	if commit {
		committed = want
	}
	return crashVerify(ctx, s.Addr, topic, pid, commit, want, committed)
}

// crashTimedOut: an open transaction (transaction.timeout.ms 3 s) and a
// kill -9; the broker restarted with a 500 ms timed-out transaction check
// must abort it.
func crashTimedOut(ctx context.Context, t *testing.T) error {
	const parts = 2
	s := StartSamsa(t)
	topic := topicName(crashClient, scTxnKill9TimeoutAbort)
	if err := fxCreateTopic(ctx, s.Addr, topic, parts, nil); err != nil {
		return err
	}
	txnID := topic + ".txn"
	want := crashValues(scTxnKill9TimeoutAbort, parts, crashPerPart)
	if err := crashProduceTxn(ctx, s.Addr, txnID, topic, want, 3*time.Second, nil); err != nil {
		return err
	}
	d, err := crashDescribeTxn(ctx, s.Addr, txnID)
	if err != nil {
		return err
	}
	// samsa's default check runs every 10 s: the transaction is still
	// open when the broker dies.
	if d.State != "Ongoing" || d.TimeoutMillis != 3000 {
		return fmt.Errorf("open transaction before the kill: state %s, timeout %d ms; want Ongoing, 3000", d.State, d.TimeoutMillis)
	}
	pid := d.ProducerID
	if err := crashCheckOffsets(ctx, s.Addr, topic, crashPerPart, 0); err != nil {
		return fmt.Errorf("open transaction before the kill: %w", err)
	}

	s.Kill9()
	s.Args = append(s.Args, "--override", "transaction.abort.timed.out.transaction.cleanup.interval.ms=500")
	s.Start()
	if err := crashWaitState(ctx, s.Addr, txnID, "CompleteAbort"); err != nil {
		return err
	}
	// The abort marker is in: the last stable offset is the end offset.
	if err := crashCheckOffsets(ctx, s.Addr, topic, crashPerPart+1, crashPerPart+1); err != nil {
		return fmt.Errorf("after the timed-out abort: %w", err)
	}
	return crashVerify(ctx, s.Addr, topic, pid, false, want, map[int32][]string{})
}

// crashValues are the transactional record values per partition.
func crashValues(sc string, parts, n int) map[int32][]string {
	out := map[int32][]string{}
	for p := 0; p < parts; p++ {
		for i := 0; i < n; i++ {
			out[int32(p)] = append(out[int32(p)], fmt.Sprintf("%s-p%d-%d", sc, p, i))
		}
	}
	return out
}

// crashProduceTxn produces values in one transaction of txnID with
// franz-go and then calls end (nil: leave the transaction open). The
// producer is closed before it returns.
func crashProduceTxn(ctx context.Context, addr, txnID, topic string, values map[int32][]string, timeout time.Duration, end func(*kgo.Client) error) error {
	cl, err := fxClient(addr, kgo.TransactionalID(txnID), kgo.TransactionTimeout(timeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	var recs []*kgo.Record
	for p, vs := range values {
		for _, v := range vs {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("transactional produce: %w", err)
	}
	if end == nil {
		return nil
	}
	if err := end(cl); err != nil {
		return fmt.Errorf("end transaction: %w", err)
	}
	return nil
}

func crashDescribeTxn(ctx context.Context, addr, txnID string) (kadm.DescribedTransaction, error) {
	cl, err := fxClient(addr)
	if err != nil {
		return kadm.DescribedTransaction{}, err
	}
	defer cl.Close()
	ds, err := kadm.NewClient(cl).DescribeTransactions(ctx, txnID)
	if err != nil {
		return kadm.DescribedTransaction{}, fmt.Errorf("DescribeTransactions %s: %w", txnID, err)
	}
	d, ok := ds[txnID]
	if !ok {
		return d, fmt.Errorf("DescribeTransactions %s: not in the answer", txnID)
	}
	if d.Err != nil {
		return d, fmt.Errorf("DescribeTransactions %s: %w", txnID, d.Err)
	}
	return d, nil
}

// crashWaitState waits until DescribeTransactions reports state for
// txnID (the coordinator loads its partition after a restart first).
func crashWaitState(ctx context.Context, addr, txnID, state string) error {
	var last string
	err := pollUntil(ctx, "waiting for "+txnID+" to reach "+state, func() (bool, error) {
		d, err := crashDescribeTxn(ctx, addr, txnID)
		if err != nil {
			return false, err
		}
		last = d.State
		return d.State == state, nil
	})
	if err != nil {
		return fmt.Errorf("%w (last state %q)", err, last)
	}
	return nil
}

// crashCheckOffsets checks every partition of topic: end offset (high
// watermark) end and, read_committed, last stable offset lso.
func crashCheckOffsets(ctx context.Context, addr, topic string, end, lso int64) error {
	cl, err := fxClient(addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("ListOffsets read_uncommitted: %w", err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = stable.Error()
	}
	if err != nil {
		return fmt.Errorf("ListOffsets read_committed: %w", err)
	}
	var errs []error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset != end {
			errs = append(errs, fmt.Errorf("%s-%d: end offset %d, want %d", topic, o.Partition, o.Offset, end))
		}
		if so, ok := stable.Lookup(topic, o.Partition); !ok || so.Offset != lso {
			errs = append(errs, fmt.Errorf("%s-%d: read_committed ListOffsets %d, want the last stable offset %d", topic, o.Partition, so.Offset, lso))
		}
	})
	return errors.Join(errs...)
}

// crashVerify checks topic after the transaction of pid ended (commit or
// abort) with data values on each partition, the transaction's records
// at offsets 0.. and its marker right after them: a sentinel produced
// now must come after exactly committed read_committed and after all of
// values read_uncommitted; the raw log holds one marker of the right
// type per partition; read_committed, the last stable offset is the high
// watermark and an abort is listed as an aborted transaction at offset 0.
func crashVerify(ctx context.Context, addr, topic string, pid int64, commit bool, values, committed map[int32][]string) error {
	for p := range values {
		if err := fxProducePartition(ctx, addr, topic, p, []testRecord{{Value: []byte(crashSentinel)}}); err != nil {
			return err
		}
	}
	for _, rc := range []bool{true, false} {
		got, err := crashConsume(ctx, addr, topic, len(values), rc)
		if err != nil {
			return err
		}
		exp := values
		level := "read_uncommitted"
		if rc {
			exp, level = committed, "read_committed"
		}
		for p := range values {
			w := append(slices.Clone(exp[p]), crashSentinel)
			if !slices.Equal(got[p], w) {
				return fmt.Errorf("%s consumer on %s-%d got %q, want %q", level, topic, p, got[p], w)
			}
		}
	}
	markerType := kmsg.ControlRecordKeyTypeAbort
	if commit {
		markerType = kmsg.ControlRecordKeyTypeCommit
	}
	for p, vs := range values {
		n := int64(len(vs))
		lg, err := txnRawLog(ctx, addr, topic, p, 0)
		if err != nil {
			return err
		}
		data, markers := 0, []txnRawBatch{}
		for _, b := range lg.batches {
			switch {
			case b.producerID != pid:
			case b.control:
				markers = append(markers, b)
			default:
				if !b.transactional {
					return fmt.Errorf("%s-%d: a batch of producer %d at offset %d without the transactional bit", topic, p, pid, b.firstOffset)
				}
				data += int(b.records)
			}
		}
		if data != len(vs) {
			return fmt.Errorf("%s-%d: the raw log holds %d records of producer %d, want %d", topic, p, data, pid, len(vs))
		}
		if len(markers) != 1 {
			return fmt.Errorf("%s-%d: the raw log holds %d control batches of producer %d (%s), want one %v marker", topic, p, len(markers), pid, txnDescribeBatches(markers), markerType)
		}
		if m := markers[0]; m.controlType != markerType || m.firstOffset != n {
			return fmt.Errorf("%s-%d: control batch %s, want a %v marker at offset %d", topic, p, txnDescribeBatches(markers), markerType, n)
		}
		if lg.hw != n+2 {
			return fmt.Errorf("%s-%d: high watermark %d, want %d (records, marker, sentinel)", topic, p, lg.hw, n+2)
		}
		rc, err := txnRawLog(ctx, addr, topic, p, 1)
		if err != nil {
			return err
		}
		if rc.lso != rc.hw {
			return fmt.Errorf("%s-%d: read_committed fetch: last stable offset %d, high watermark %d; nothing is open", topic, p, rc.lso, rc.hw)
		}
		var aborted []int64
		for _, a := range rc.aborted {
			if a.ProducerID == pid {
				aborted = append(aborted, a.FirstOffset)
			}
		}
		if commit && len(aborted) != 0 || !commit && !slices.Equal(aborted, []int64{0}) {
			return fmt.Errorf("%s-%d: read_committed fetch lists aborted transactions of producer %d at %v, want %v", topic, p, pid, aborted, map[bool][]int64{true: nil, false: {0}}[commit])
		}
	}
	return nil
}

// crashConsume reads partitions 0..parts-1 of topic from the start with a
// fresh franz-go consumer (read_committed or not) until each has
// delivered a sentinel, and returns the values per partition.
func crashConsume(ctx context.Context, addr, topic string, parts int, readCommitted bool) (map[int32][]string, error) {
	offsets := map[int32]kgo.Offset{}
	for p := 0; p < parts; p++ {
		offsets[int32(p)] = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}), kgo.FetchMaxWait(200 * time.Millisecond)}
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := fxClient(addr, opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	got := map[int32][]string{}
	done := 0
	for done < parts {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return got, fmt.Errorf("consuming %s (read_committed %v): %d of %d partitions reached their sentinel; got %q: %w", topic, readCommitted, done, parts, got, ctx.Err())
		}
		if err := fs.Err(); err != nil {
			return got, fmt.Errorf("consuming %s (read_committed %v): %w", topic, readCommitted, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], string(r.Value))
			if string(r.Value) == crashSentinel {
				done++
			}
		})
	}
	return got, nil
}

// txnRawBatch is what the fixtures need of one stored record batch.
type txnRawBatch struct {
	firstOffset, lastOffset int64
	producerID              int64
	producerEpoch           int16
	records                 int32
	transactional, control  bool
	controlType             kmsg.ControlRecordKeyType // control batches only
}

func (b txnRawBatch) String() string {
	if b.control {
		return fmt.Sprintf("%v marker at %d (producer %d epoch %d)", b.controlType, b.firstOffset, b.producerID, b.producerEpoch)
	}
	return fmt.Sprintf("%d records at %d-%d (producer %d epoch %d, transactional %v)", b.records, b.firstOffset, b.lastOffset, b.producerID, b.producerEpoch, b.transactional)
}

func txnDescribeBatches(bs []txnRawBatch) string {
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = b.String()
	}
	return strings.Join(s, "; ")
}

// txnRawPartition is one partition read raw, from offset 0 to the end the
// isolation level allows.
type txnRawPartition struct {
	batches []txnRawBatch
	hw, lso int64
	aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction
}

// txnRawLog fetches partition p of topic from offset 0 with kmsg Fetch
// requests at isolation level iso (0 read_uncommitted, 1 read_committed)
// up to the high watermark (read_committed: the last stable offset), and
// decodes every batch, control batches included.
func txnRawLog(ctx context.Context, addr, topic string, p int32, iso int8) (txnRawPartition, error) {
	var out txnRawPartition
	cl, err := fxClient(addr)
	if err != nil {
		return out, err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		return out, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	next := int64(0)
	for round := 0; ; round++ {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxBytes = 16 << 20
		req.IsolationLevel = iso
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = topic, md.Topics[topic].ID
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = p, next, 16<<20
		fp.LogStartOffset, fp.CurrentLeaderEpoch = -1, -1
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return out, fmt.Errorf("raw fetch of %s-%d: %w", topic, p, err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return out, fmt.Errorf("raw fetch of %s-%d: unexpected response shape", topic, p)
		}
		rp := resp.Topics[0].Partitions[0]
		if rp.ErrorCode != 0 {
			return out, fmt.Errorf("raw fetch of %s-%d at %d: error code %d", topic, p, next, rp.ErrorCode)
		}
		out.hw, out.lso = rp.HighWatermark, rp.LastStableOffset
		out.aborted = append(out.aborted, rp.AbortedTransactions...)
		end := out.hw
		if iso == 1 {
			end = out.lso
		}
		if next >= end {
			return out, nil
		}
		raw := rp.RecordBatches
		got := false
		for len(raw) >= 12 {
			length := int(int32(uint32(raw[8])<<24 | uint32(raw[9])<<16 | uint32(raw[10])<<8 | uint32(raw[11])))
			if length <= 0 || 12+length > len(raw) {
				break // a partial batch at the end
			}
			var b kmsg.RecordBatch
			if err := b.ReadFrom(raw[:12+length]); err != nil {
				return out, fmt.Errorf("decoding a batch of %s-%d: %w", topic, p, err)
			}
			raw = raw[12+length:]
			last := b.FirstOffset + int64(b.LastOffsetDelta)
			if last < next {
				continue // the fetch may start inside an earlier batch
			}
			rb := txnRawBatch{
				firstOffset: b.FirstOffset, lastOffset: last, producerID: b.ProducerID, producerEpoch: b.ProducerEpoch,
				records: b.NumRecords, transactional: b.Attributes&0x10 != 0, control: b.Attributes&0x20 != 0, controlType: -1,
			}
			if rb.control {
				var rec kmsg.Record
				if err := rec.ReadFrom(b.Records); err != nil {
					return out, fmt.Errorf("decoding the control record at %d of %s-%d: %w", b.FirstOffset, topic, p, err)
				}
				var key kmsg.ControlRecordKey
				if err := key.ReadFrom(rec.Key); err != nil {
					return out, fmt.Errorf("decoding the control record key at %d of %s-%d: %w", b.FirstOffset, topic, p, err)
				}
				rb.controlType = key.Type
			}
			out.batches = append(out.batches, rb)
			next = last + 1
			got = true
		}
		if !got || round > 1000 {
			return out, fmt.Errorf("raw fetch of %s-%d at %d (end %d): no batch returned", topic, p, next, end)
		}
	}
}
