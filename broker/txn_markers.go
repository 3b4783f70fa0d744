package broker

// Transaction markers: the coordinator's MarkerWriter and the append the
// WriteTxnMarkers handler (27_write_txn_markers.go) shares with it.
//
// A marker goes to a partition as a batch does: appended by the leader at
// its leader epoch, replicated by the followers' fetches, and acknowledged
// once the high watermark passes it (Kafka appends markers with
// requiredAcks -1, so min.insync.replicas gates them as acks=all
// produces). A __consumer_offsets partition of a transaction completes
// the group's transactional offset commits instead (completeTxnOffsets,
// txn_offsets.go): samsa's offsets live in etcd, not in that log.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/txn"
	"github.com/samsa-io/samsa/storage"
)

// markerAckTimeout bounds the wait for the high watermark to pass a
// marker (Kafka uses request.timeout.ms, 30 s).
const markerAckTimeout = 30 * time.Second

// txnMarker is one transaction end to write to partitions.
type txnMarker struct {
	producerID         int64
	producerEpoch      int16
	coordinatorEpoch   int32
	commit             bool
	transactionVersion int16
}

// markerResult is the outcome for one partition: an error code (0
// written) and, for a refusal, the message.
type markerResult struct {
	code int16
	msg  string
}

// writeLocalMarkers writes mk to each of tps that this broker leads and
// waits until every appended marker is committed. The results are in the
// order of tps.
func (b *Broker) writeLocalMarkers(ctx context.Context, mk txnMarker, tps []txn.TopicPartition) []markerResult {
	out := make([]markerResult, len(tps))
	var waits []ackWait
	var waitIdx []int
	for i, tp := range tps {
		if tp.Topic == offsetsTopic {
			out[i] = b.completeOffsetsMarker(ctx, mk, tp.Partition)
			continue
		}
		w, r := b.appendMarker(ctx, mk, tp)
		if r.code != 0 || w == nil {
			out[i] = r
			continue
		}
		waits = append(waits, *w)
		waitIdx = append(waitIdx, i)
	}
	if len(waits) > 0 {
		b.awaitCommitted(ctx, waits, markerAckTimeout)
		for j := range waits {
			if e := waits[j].err; e != nil {
				out[waitIdx[j]] = markerResult{code: e.Code, msg: waits[j].msg}
			}
		}
	}
	return out
}

// completeOffsetsMarker is a marker for a __consumer_offsets partition:
// the group coordinator of that partition (this broker, when it leads it)
// completes the producer's transactional offset commits.
func (b *Broker) completeOffsetsMarker(ctx context.Context, mk txnMarker, partition int32) markerResult {
	snap := b.store.Snapshot()
	st, ok := snap.Partition(offsetsTopic, partition)
	switch {
	case !ok:
		return markerResult{code: kerr.UnknownTopicOrPartition.Code, msg: fmt.Sprintf("%s-%d does not exist", offsetsTopic, partition)}
	case st.Leader != b.cfg.BrokerID || !b.leaseValid():
		return markerResult{code: kerr.NotLeaderForPartition.Code, msg: fmt.Sprintf("this broker does not lead %s-%d", offsetsTopic, partition)}
	}
	if err := b.completeTxnOffsets(ctx, partition, mk.producerID, mk.producerEpoch, mk.commit); err != nil {
		return markerResult{code: kerr.NotCoordinator.Code, msg: fmt.Sprintf("completing the transactional offset commits of %s-%d: %v", offsetsTopic, partition, err)}
	}
	return markerResult{}
}

// appendMarker appends mk to tp's log if this broker leads it, and
// returns what the high watermark must reach (nil wait on an error).
func (b *Broker) appendMarker(ctx context.Context, mk txnMarker, tp txn.TopicPartition) (*ackWait, markerResult) {
	p := b.partition(tp.Topic, tp.Partition)
	if p == nil {
		e, msg := b.notServedError(b.store.Snapshot(), tp.Topic, tp.Partition, false, true)
		return nil, markerResult{code: errCode(e), msg: msg}
	}
	if !b.leaseValid() {
		return nil, markerResult{code: kerr.NotLeaderForPartition.Code, msg: "this broker's etcd lease may have expired: it leads nothing until it is renewed"}
	}
	if isr, minISR := p.isrSize(), p.cfg.Load().MinInsyncReplicas; int32(isr) < minISR {
		return nil, markerResult{code: kerr.NotEnoughReplicas.Code, msg: fmt.Sprintf("%s-%d has %d in-sync replicas, fewer than its min.insync.replicas=%d",
			tp.Topic, tp.Partition, isr, minISR)}
	}
	epoch := p.leaderEpoch.Load()
	res, err := p.log.AppendTxnMarker(storage.TxnMarker{
		ProducerID: mk.producerID, ProducerEpoch: mk.producerEpoch, CoordinatorEpoch: mk.coordinatorEpoch,
		Commit: mk.commit, TransactionVersion: mk.transactionVersion, LeaderEpoch: epoch,
	})
	if err == nil && p.log.Durable() {
		if serr := p.log.SyncTo(ctx, res.LastOffset+1); serr != nil {
			if ctx.Err() != nil {
				return nil, markerResult{code: kerr.RequestTimedOut.Code, msg: "stopped before the marker was fsynced"}
			}
			err = serr
		}
	}
	if err != nil {
		return nil, b.markerError(p, err)
	}
	p.maybeAdvanceHW(b)
	p.notify()
	return &ackWait{p: p, name: tp.Topic, target: res.LastOffset + 1, epoch: epoch}, markerResult{}
}

// markerError maps a refused marker append to its Kafka error.
func (b *Broker) markerError(p *partition, err error) markerResult {
	switch {
	case errors.Is(err, storage.ErrInvalidEpoch):
		return markerResult{code: kerr.InvalidProducerEpoch.Code, msg: err.Error()}
	case errors.Is(err, storage.ErrCoordinatorFenced):
		return markerResult{code: kerr.TransactionCoordinatorFenced.Code, msg: err.Error()}
	case errors.Is(err, storage.ErrInvalidTxnState):
		return markerResult{code: kerr.InvalidTxnState.Code, msg: err.Error()}
	case errors.Is(err, storage.ErrClosed):
		return markerResult{code: kerr.NotLeaderForPartition.Code, msg: "the partition is being closed"}
	case errors.Is(err, storage.ErrNoSpace):
		return markerResult{code: kerr.KafkaStorageError.Code, msg: fmt.Sprintf("no space left on the disk of %s-%d on this broker", p.topic, p.index)}
	default:
		b.signalPublish()
		return markerResult{code: kerr.KafkaStorageError.Code, msg: p.offlineMessage(err)}
	}
}

// txnMarkerTestDelayEnv names a fault hook for the compat tests only
// (compat-tests/txn_crash_test.go): every marker job waits this many
// milliseconds after its PrepareCommit/PrepareAbort state is in etcd and
// before any marker is written, so that a test can kill -9 the broker in
// between. Never set it in production: EndTxn answers, and every later
// request of the producer meets CONCURRENT_TRANSACTIONS, for that long.
const txnMarkerTestDelayEnv = "SAMSA_TEST_TXN_MARKER_DELAY_MS"

// txnMarkerTestDelay is the hook's delay, read once at process start; 0
// when unset or invalid.
var txnMarkerTestDelay = readTxnMarkerTestDelay()

// readTxnMarkerTestDelay parses the hook's variable. It runs before any
// broker (and its logger) exists, so it warns on its own JSON logger to
// stderr: a broker running with the hook must say so at start.
func readTxnMarkerTestDelay() time.Duration {
	v, ok := os.LookupEnv(txnMarkerTestDelayEnv)
	if !ok {
		return 0
	}
	log := zerolog.New(os.Stderr).With().Timestamp().Logger()
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 || ms > int64(time.Hour/time.Millisecond) {
		log.Error().Str("env", txnMarkerTestDelayEnv).Str("value", v).
			Msg("TEST FAULT HOOK: ignored; want a number of milliseconds from 1 to 3600000")
		return 0
	}
	d := time.Duration(ms) * time.Millisecond
	log.Warn().Str("env", txnMarkerTestDelayEnv).Dur("delay", d).
		Msg("TEST FAULT HOOK ACTIVE: every transaction marker job is delayed after its Prepare state is durable; never use this in production")
	return d
}

// txnMarkerWriter is the coordinator's txn.MarkerWriter.
type txnMarkerWriter struct{ b *Broker }

// WriteTxnMarkers writes m's marker to every partition of the
// transaction: here for the partitions this broker leads, by
// WriteTxnMarkers to their leaders for the others. A partition whose
// topic is gone counts as done (Kafka skips partitions without a leader
// in its metadata for the same reason). Any other failure is returned,
// and the coordinator sends the job again (markers are idempotent).
func (w txnMarkerWriter) WriteTxnMarkers(ctx context.Context, m txn.Markers) error {
	b := w.b
	if d := txnMarkerTestDelay; d > 0 {
		b.log.Warn().Str("transactional_id", m.TransactionalID).Bool("commit", m.Commit).Dur("delay", d).
			Msg("test fault hook: delaying the transaction markers")
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("broker: transaction markers: %w", ctx.Err())
		case <-t.C:
		}
	}
	mk := txnMarker{producerID: m.ProducerID, producerEpoch: m.ProducerEpoch, coordinatorEpoch: m.CoordinatorEpoch,
		commit: m.Commit, transactionVersion: int16(m.TransactionVersion)}
	snap := b.store.Snapshot()
	var local []txn.TopicPartition
	remote := map[int32][]txn.TopicPartition{}
	var errs []error
	for _, tp := range m.Partitions {
		st, ok := snap.Partition(tp.Topic, tp.Partition)
		switch {
		case !ok:
			b.log.Debug().Str("topic", tp.Topic).Int32("partition", tp.Partition).Str("transactional_id", m.TransactionalID).
				Msg("transaction marker skipped: the partition no longer exists")
		case st.Leader == b.cfg.BrokerID:
			local = append(local, tp)
		case st.Leader < 0:
			errs = append(errs, fmt.Errorf("%s-%d has no leader", tp.Topic, tp.Partition))
		default:
			remote[st.Leader] = append(remote[st.Leader], tp)
		}
	}
	if len(local) > 0 {
		for i, r := range b.writeLocalMarkers(ctx, mk, local) {
			if err := w.failed(local[i], r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for leader, tps := range remote {
		errs = append(errs, w.sendRemote(ctx, leader, mk, tps)...)
	}
	if err := errors.Join(errs...); err != nil {
		b.log.Debug().Err(err).Str("transactional_id", m.TransactionalID).Bool("commit", m.Commit).
			Msg("transaction markers not all written; the coordinator retries")
		return fmt.Errorf("broker: transaction markers: %w", err)
	}
	return nil
}

// failed is the error of one partition's result, nil when it is done:
// written, its topic deleted meanwhile, or the marker refused as
// obsolete. A partition that holds a newer epoch of the producer
// (INVALID_PRODUCER_EPOCH) or markers of a newer coordinator
// (TRANSACTION_COORDINATOR_FENCED) has moved past this transaction: no
// retry could ever write the marker, and Kafka's coordinator stops
// sending it too.
func (w txnMarkerWriter) failed(tp txn.TopicPartition, r markerResult) error {
	if r.code == 0 {
		return nil
	}
	if r.code == kerr.InvalidProducerEpoch.Code || r.code == kerr.TransactionCoordinatorFenced.Code {
		w.b.log.Warn().Str("topic", tp.Topic).Int32("partition", tp.Partition).Str("error", kerr.ErrorForCode(r.code).Error()).
			Str("reason", r.msg).Msg("transaction marker refused as obsolete; not sent again")
		return nil
	}
	if r.code == kerr.UnknownTopicOrPartition.Code {
		if _, ok := w.b.store.Snapshot().Partition(tp.Topic, tp.Partition); !ok {
			return nil
		}
	}
	return fmt.Errorf("%s-%d: %w: %s", tp.Topic, tp.Partition, kerr.ErrorForCode(r.code), r.msg)
}

// sendRemote sends one WriteTxnMarkers with the marker for tps to leader.
func (w txnMarkerWriter) sendRemote(ctx context.Context, leader int32, mk txnMarker, tps []txn.TopicPartition) []error {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = mk.producerID, mk.producerEpoch, mk.commit, mk.coordinatorEpoch
	m.TransactionVersion = int8(mk.transactionVersion)
	for _, tp := range tps {
		if n := len(m.Topics); n == 0 || m.Topics[n-1].Topic != tp.Topic {
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic = tp.Topic
			m.Topics = append(m.Topics, t)
		}
		t := &m.Topics[len(m.Topics)-1]
		t.Partitions = append(t.Partitions, tp.Partition)
	}
	req.Markers = append(req.Markers, m)
	kresp, err := w.b.txn.peers.request(ctx, leader, req, 1, 2)
	if err != nil {
		return []error{fmt.Errorf("WriteTxnMarkers to broker %d: %w", leader, err)}
	}
	resp := kresp.(*kmsg.WriteTxnMarkersResponse)
	got := map[txn.TopicPartition]int16{}
	for _, rm := range resp.Markers {
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				got[txn.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = rp.ErrorCode
			}
		}
	}
	var errs []error
	for _, tp := range tps {
		code, ok := got[tp]
		if !ok {
			errs = append(errs, fmt.Errorf("%s-%d: broker %d did not answer for it", tp.Topic, tp.Partition, leader))
			continue
		}
		if err := w.failed(tp, markerResult{code: code, msg: fmt.Sprintf("from broker %d", leader)}); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

var _ txn.MarkerWriter = txnMarkerWriter{}
