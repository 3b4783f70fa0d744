package broker

// Produce (key 0), served v3-v13, advertised from v0.
//
//	v0-v2: message sets v0/v1. Refused with UNSUPPORTED_VERSION, but listed
//	       in ApiVersions because librdkafka decides whether the broker can
//	       take compressed batches from Produce v0 being listed (KAFKA-18659;
//	       Kafka 4 does the same).
//	v3: record batches v2 only; transactional id.
//	v4: KAFKA_STORAGE_ERROR may be returned.
//	v5: log start offset in the response.
//	v6-v7: same as v5 (throttling / zstd).
//	v8: per-record errors and an error message.
//	v9: flexible.
//	v10: current leader and node endpoints on NOT_LEADER (KIP-951).
//	v11: same as v10.
//	v12: same as v11 (KIP-890 part 2 on the transactional side).
//	v13: topics named by id (KIP-516).
//
// Transactions (samsa.transactions.enable; without it a transactional id
// is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED and a transactional
// batch with INVALID_RECORD, as before transactions existed): a request
// carrying a transactional batch needs a transactional id and WRITE on it
// (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED on every partition, Kafka's
// hasTransactionalRecords check), and its transactional batches must come
// from one producer (else INVALID_PRODUCER_ID_MAPPING). The first batch of
// a transaction on a partition (the log has none open for the producer at
// its epoch) is checked with the producer's transaction coordinator before
// it is appended (KIP-890 part 1, txn_bridge.go); from v12 (transaction
// version 2) the coordinator adds the partition to the transaction itself.
// The coordinator's PRODUCER_FENCED is answered INVALID_PRODUCER_EPOCH (as
// Kafka has answered produce since 2.7), TRANSACTION_ABORTABLE below v11
// INVALID_TXN_STATE (older clients do not know it). The log refuses a
// non-transactional batch from a producer with a transaction open
// (INVALID_TXN_STATE).
//
// acks=0 gets no response at all; an error with acks=0 closes the
// connection so the client notices, as Kafka does.
//
// acks=all (Kafka's delayed produce): a partition whose ISR is smaller than
// its min.insync.replicas answers NOT_ENOUGH_REPLICAS and nothing is
// appended. After the appends the handler waits, up to the request's
// timeout, until the high watermark covers every appended batch: then
// success; REQUEST_TIMED_OUT when the time runs out (the records stay in
// the log and may still be committed); NOT_ENOUGH_REPLICAS_AFTER_APPEND
// when the ISR falls below min.insync.replicas meanwhile (the high
// watermark cannot advance then); NOT_LEADER_OR_FOLLOWER when the broker
// loses the leadership. The connection's read loop handles one request at a
// time, so waiting here keeps the responses in order. While the broker's
// etcd lease may have expired (leaseValid) it appends nothing as a leader
// and completes no wait.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/protocol"
	"github.com/samsa-io/samsa/storage"
)

func init() {
	h := register(kmsg.Produce, 3, 13, handleProduce)
	h.advertisedMin = 0
	h.unsupportedFn = produceUnsupported
}

func handleProduce(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))

	acksOK := req.Acks == 0 || req.Acks == 1 || req.Acks == -1
	anyErr := false
	var txnErr *kerr.Error // fails every partition (transactions enabled)
	var txnMsg string
	if b.cfg.TransactionsEnabled {
		txnErr, txnMsg = b.checkTxnProduce(rc, req)
	}
	var snap *coordinator.Snapshot
	var leaders map[int32]bool // brokers to list in the response (v10+)
	var waits []ackWait        // acks=all: what must be committed before the answer
	notLeader := func(name string, partition int32, sp *kmsg.ProduceResponseTopicPartition) {
		if req.Version < 10 {
			return
		}
		if snap == nil {
			snap = b.store.Snapshot()
		}
		if st, ok := snap.Partition(name, partition); ok && st.Leader >= 0 && st.Leader != b.cfg.BrokerID {
			sp.CurrentLeader.LeaderID = st.Leader
			sp.CurrentLeader.LeaderEpoch = st.LeaderEpoch
			if leaders == nil {
				leaders = map[int32]bool{}
			}
			leaders[st.Leader] = true
		}
	}

	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		name := rt.Topic
		topicKnown := true
		if req.Version >= 13 {
			if snap == nil {
				snap = b.store.Snapshot()
			}
			if tm := snap.TopicByID(coordinator.TopicID(rt.TopicID)); tm != nil {
				name = tm.Info.Name
			} else {
				topicKnown = false
			}
		}
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			sp.LogAppendTime = -1
			sp.LogStartOffset = -1

			var kerrv *kerr.Error
			var msg string
			switch {
			case txnErr != nil:
				kerrv, msg = txnErr, txnMsg
			case !acksOK:
				kerrv, msg = kerr.InvalidRequiredAcks, fmt.Sprintf("acks must be -1, 0 or 1, not %d", req.Acks)
			case req.TransactionID != nil && !b.cfg.TransactionsEnabled:
				kerrv, msg = kerr.TransactionalIDAuthorizationFailed, "transactions are not enabled on this broker (samsa.transactions.enable)"
			case !topicKnown:
				kerrv, msg = kerr.UnknownTopicID, "unknown topic id"
			case !b.authorize(rc, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, name): // acl.go
				kerrv = kerr.TopicAuthorizationFailed
			default:
				p := b.partition(name, rp.Partition)
				if p == nil {
					if snap == nil {
						snap = b.store.Snapshot()
					}
					kerrv, msg = b.notServedError(snap, name, rp.Partition, req.Version >= 13, req.Version >= 4)
					if kerrv == kerr.NotLeaderForPartition {
						notLeader(name, rp.Partition, sp)
					}
					break
				}
				if !b.leaseValid() {
					kerrv, msg = kerr.NotLeaderForPartition, "this broker's etcd lease may have expired: it leads nothing until it is renewed"
					break
				}
				epoch := p.leaderEpoch.Load()
				if req.Acks == -1 {
					if isr, minISR := p.isrSize(), p.cfg.Load().MinInsyncReplicas; int32(isr) < minISR {
						kerrv, msg = kerr.NotEnoughReplicas, fmt.Sprintf("%s-%d has %d in-sync replicas %v, fewer than its min.insync.replicas=%d",
							name, rp.Partition, isr, p.isr(), minISR)
						break
					}
				}
				var next int64
				kerrv, msg, next = b.produceToPartition(rc.ctx, p, req.Version, req.TransactionID, rp.Records, sp)
				if kerrv == nil && req.Acks == -1 {
					waits = append(waits, ackWait{p: p, sp: sp, name: name, target: next, epoch: epoch})
				}
			}
			if kerrv != nil {
				anyErr = true
				sp.ErrorCode = kerrv.Code
				if msg != "" && req.Version >= 8 {
					sp.ErrorMessage = strPtr(msg)
				}
			}
		}
	}
	if req.Acks == 0 {
		if anyErr {
			rc.closeConn = true
		}
		return nil
	}
	if len(waits) > 0 {
		b.awaitCommitted(rc.ctx, waits, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond)
		for i := range waits {
			w := &waits[i]
			if w.err == nil {
				continue
			}
			sp := w.sp
			sp.ErrorCode = w.err.Code
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			if req.Version >= 8 {
				sp.ErrorMessage = strPtr(w.msg)
			}
			if w.err == kerr.NotLeaderForPartition {
				notLeader(w.name, sp.Partition, sp)
			}
		}
	}
	if len(leaders) > 0 {
		for id := range leaders {
			if bi, ep, ok := b.clientEndpoint(snap, rc, id); ok {
				nb := kmsg.NewProduceResponseBroker()
				nb.NodeID, nb.Host, nb.Port, nb.Rack = bi.ID, ep.Host, ep.Port, bi.Rack
				resp.Brokers = append(resp.Brokers, nb)
			}
		}
	}
	return resp
}

// produceToPartition validates and appends one partition's batch, filling
// the offsets of sp on success; next is the offset the high watermark must
// reach for the batch to be committed (for a retried duplicate, the
// original's). On a refusal it fills what Kafka fills: the log start offset
// for the errors Kafka's log raises (record validation, sequences and
// epochs), the refused records (v8+) for a batch refused for their content.
func (b *Broker) produceToPartition(ctx context.Context, p *partition, version int16, txnID *string, records []byte, sp *kmsg.ProduceResponseTopicPartition) (kerrv *kerr.Error, msg string, next int64) {
	cfg := p.cfg.Load()
	now := b.clock().Now().UnixMilli() // the dev clock in samsatest and samsa dev
	hdr, err := protocol.ValidateProduceBatch(records, protocol.ValidateOptions{
		RequireKeys:          cfg.CleanupPolicyCompact,
		MaxBatchBytes:        int(cfg.MaxMessageBytes),
		MaxRecordBytes:       int(cfg.MaxRecordBytes),
		NoZstd:               version < 7,
		CheckTimestamps:      true,
		LogAppendTime:        cfg.LogAppendTime,
		Now:                  now,
		TimestampBeforeMaxMs: cfg.TimestampBeforeMaxMs,
		TimestampAfterMaxMs:  cfg.TimestampAfterMaxMs,
	})
	if err != nil {
		code := batchError(err)
		if code == kerr.InvalidRecord || code == kerr.InvalidTimestamp {
			if !errors.Is(err, protocol.ErrRecordSet) {
				sp.LogStartOffset = p.log.LogStartOffset()
			}
			var re *protocol.RecordErrors
			if errors.As(err, &re) && version >= 8 {
				sp.ErrorRecords = make([]kmsg.ProduceResponseTopicPartitionErrorRecord, len(re.Records))
				for i, r := range re.Records {
					sp.ErrorRecords[i] = kmsg.ProduceResponseTopicPartitionErrorRecord{RelativeOffset: r.Index, ErrorMessage: strPtr(r.Message)}
				}
			}
		}
		return code, fmt.Sprintf("%s (%s-%d)", err, p.topic, p.index), 0
	}
	// Only the batch: bytes after it too short to be another batch are
	// dropped, as Kafka drops them.
	records = records[:hdr.Size()]
	if codec, ok := protocol.CodecByName(cfg.CompressionType); ok && codec != hdr.Compression() {
		// compression.type other than producer: the broker stores the
		// topic's codec (Kafka's LogValidator recompresses the same way).
		re, _, err := protocol.Recompress(nil, records, codec, cfg.CompressionLevel, nil, 0)
		if err != nil {
			return batchError(err), fmt.Sprintf("recompressing to %s: %v", cfg.CompressionType, err), 0
		}
		if len(re) > int(cfg.MaxMessageBytes) {
			return kerr.MessageTooLarge, fmt.Sprintf("the record batch is %d bytes once recompressed to %s, larger than max.message.bytes=%d of %s-%d",
				len(re), cfg.CompressionType, cfg.MaxMessageBytes, p.topic, p.index), 0
		}
		records = re
	}
	guard := int64(-1) // the verification guard (storage.Log.TxnGuard)
	if hdr.IsTransactional() {
		if !b.cfg.TransactionsEnabled || txnID == nil {
			return kerr.InvalidRecord, "transactional record batches need transactions enabled on this broker (samsa.transactions.enable)", 0
		}
		guard = p.log.TxnGuard()
		if kerrv, msg := b.verifyTxnBatch(ctx, p, version, *txnID, &hdr); kerrv != nil {
			return kerrv, msg, 0
		}
	}
	appendTime := int64(-1)
	if cfg.LogAppendTime {
		appendTime = now
	}
	var res storage.AppendResult
	if guard >= 0 {
		res, err = p.log.AppendVerified(records, p.leaderEpoch.Load(), appendTime, guard)
	} else {
		res, err = p.log.Append(records, p.leaderEpoch.Load(), appendTime)
	}
	if (err == nil || errors.Is(err, storage.ErrDuplicateSequence)) && p.log.Durable() {
		// samsa.log.durable: answered once fsynced, with the batches other
		// producers appended meanwhile (storage/durable.go).
		if serr := p.log.SyncTo(ctx, res.LastOffset+1); serr != nil {
			if ctx.Err() != nil {
				return kerr.RequestTimedOut, "the connection closed before the records were fsynced", 0
			}
			err = serr
		}
	}
	switch {
	case err == nil, errors.Is(err, storage.ErrDuplicateSequence):
		// A retried duplicate is a success with the original offsets.
	case errors.Is(err, storage.ErrOutOfOrderSeq):
		sp.LogStartOffset = p.log.LogStartOffset()
		return kerr.OutOfOrderSequenceNumber, err.Error(), 0
	case errors.Is(err, storage.ErrInvalidEpoch):
		sp.LogStartOffset = p.log.LogStartOffset()
		return kerr.InvalidProducerEpoch, err.Error(), 0
	case errors.Is(err, storage.ErrUnknownProducer):
		sp.LogStartOffset = p.log.LogStartOffset()
		return kerr.UnknownProducerID, err.Error(), 0
	case errors.Is(err, storage.ErrStaleVerification):
		// Kafka's verification guard: the client can abort and go on.
		e := kerr.TransactionAbortable
		if version < 11 {
			e = kerr.InvalidTxnState
		}
		return e, fmt.Sprintf("%v on %s-%d", err, p.topic, p.index), 0
	case errors.Is(err, storage.ErrInvalidTxnState):
		sp.LogStartOffset = p.log.LogStartOffset()
		return kerr.InvalidTxnState, fmt.Sprintf("%v: producer %d has a transaction open on %s-%d; its batches must be transactional until it ends",
			err, hdr.ProducerID, p.topic, p.index), 0
	case errors.Is(err, storage.ErrCoordinatorFenced):
		sp.LogStartOffset = p.log.LogStartOffset()
		return kerr.TransactionCoordinatorFenced, err.Error(), 0
	case errors.Is(err, storage.ErrClosed):
		return kerr.NotLeaderForPartition, "the partition is being closed", 0
	case errors.Is(err, storage.ErrNoSpace):
		// The write was cut back and the log is still writable
		// (storage/nospace.go): the producer retries.
		return kerr.KafkaStorageError, fmt.Sprintf("no space left on the disk of %s-%d on this broker; nothing was written, retry later", p.topic, p.index), 0
	default:
		// The log has logged the failure and is offline from now on
		// (storage's sticky error); tell etcd.
		b.signalPublish()
		return kerr.KafkaStorageError, p.offlineMessage(err), 0
	}
	// With a sole in-sync replica the high watermark moves at once; else
	// the followers' next fetches move it. Either way fetches waiting for
	// data (followers' included) wake.
	p.maybeAdvanceHW(b)
	p.notify()
	b.metrics.produced(p.topic, int(hdr.Size()), hdr.NumRecords)
	sp.BaseOffset = res.BaseOffset
	sp.LogAppendTime = res.LogAppendTime
	sp.LogStartOffset = res.LogStartOffset
	return nil, "", res.LastOffset + 1
}

// checkTxnProduce is the request-wide transactional check of Kafka's
// handleProduceRequest: with a transactional batch anywhere, the request
// must name a transactional id its principal may WRITE, and (Kafka's
// ReplicaManager) carry transactional batches of one producer only. It
// reads one header per partition, and nothing for a request without a
// transactional batch beyond that.
func (b *Broker) checkTxnProduce(rc *reqCtx, req *kmsg.ProduceRequest) (*kerr.Error, string) {
	txn := false
	pid := int64(-1)
	for i := range req.Topics {
		for j := range req.Topics[i].Partitions {
			h, err := protocol.ParseBatchHeader(req.Topics[i].Partitions[j].Records)
			if err != nil || !h.IsTransactional() {
				continue // an invalid batch is refused by its partition's validation
			}
			if txn && h.ProducerID != pid {
				return kerr.InvalidProducerIDMapping, fmt.Sprintf("transactional records of more than one producer id (%d and %d) in one request", pid, h.ProducerID)
			}
			txn, pid = true, h.ProducerID
		}
	}
	if !txn {
		return nil, ""
	}
	if req.TransactionID == nil {
		return kerr.TransactionalIDAuthorizationFailed, "transactional records without a transactional id"
	}
	if !b.authorize(rc, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, *req.TransactionID) { // acl.go
		return kerr.TransactionalIDAuthorizationFailed, ""
	}
	return nil, ""
}

// verifyTxnBatch checks a transactional batch with the producer's
// transaction coordinator before it is appended, unless the log has the
// producer's transaction open at the batch's epoch already (Kafka's
// maybeStartTransactionVerification: only a transaction's first batch on a
// partition is verified). From Produce v12 (transaction version 2) the
// coordinator adds the partition to the transaction.
func (b *Broker) verifyTxnBatch(ctx context.Context, p *partition, version int16, txnID string, hdr *protocol.BatchHeader) (*kerr.Error, string) {
	if e, ok := p.log.ProducerState(hdr.ProducerID); ok && e.CurrentTxnFirstOffset >= 0 && e.ProducerEpoch == hdr.ProducerEpoch {
		return nil, ""
	}
	kerrv := b.txnVerifyPartition(ctx, txnID, hdr.ProducerID, hdr.ProducerEpoch, p.topic, p.index, version >= 12)
	switch {
	case kerrv == nil:
		return nil, ""
	case kerrv == kerr.ProducerFenced:
		// Kafka answers produce with INVALID_PRODUCER_EPOCH (abortable)
		// rather than the fatal PRODUCER_FENCED since 2.7.
		kerrv = kerr.InvalidProducerEpoch
	case kerrv == kerr.TransactionAbortable && version < 11:
		kerrv = kerr.InvalidTxnState // unknown to clients before Produce v11
	}
	if kerrv == kerr.InvalidProducerEpoch {
		return kerrv, fmt.Sprintf("producer %d epoch %d of %q is fenced: its transaction coordinator has a newer epoch",
			hdr.ProducerID, hdr.ProducerEpoch, txnID)
	}
	return kerrv, fmt.Sprintf("%s-%d is not part of an ongoing transaction of %q (producer %d, epoch %d): %s",
		p.topic, p.index, txnID, hdr.ProducerID, hdr.ProducerEpoch, kerrv.Message)
}

// ackWait is one acks=all partition of a produce waiting to be committed.
type ackWait struct {
	p      *partition
	sp     *kmsg.ProduceResponseTopicPartition
	name   string
	target int64 // the high watermark that commits the batch
	epoch  int32 // the leader epoch it was appended under
	done   bool
	err    *kerr.Error // the outcome when done; nil is success
	msg    string
}

// leaseRecheck is how often a wait looks at the lease, which changes
// without waking anybody.
const leaseRecheck = 100 * time.Millisecond

// awaitCommitted waits until every wait is decided or timeout passes (the
// undecided ones then time out).
func (b *Broker) awaitCommitted(ctx context.Context, waits []ackWait, timeout time.Duration) {
	pending := 0
	for i := range waits {
		if !waits[i].check(b) {
			pending++
		}
	}
	if pending == 0 {
		return // a sole in-sync replica: committed by the append
	}
	wake := make(chan struct{}, 1)
	for i := range waits {
		waits[i].p.addWaiter(wake)
	}
	defer func() {
		for i := range waits {
			waits[i].p.removeWaiter(wake)
		}
	}()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	lease := time.NewTicker(leaseRecheck)
	defer lease.Stop()
	for {
		pending := 0
		for i := range waits {
			if w := &waits[i]; !w.done && !w.check(b) {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		select {
		case <-wake:
			continue
		case <-lease.C:
			continue
		case <-deadline.C:
		case <-ctx.Done():
		}
		for i := range waits {
			if w := &waits[i]; !w.done && !w.check(b) {
				w.done, w.err = true, kerr.RequestTimedOut
				w.msg = fmt.Sprintf("the records of %s-%d were appended at the leader but not replicated to the in-sync replicas within the request timeout of %v",
					w.name, w.p.index, timeout)
			}
		}
		return
	}
}

// check decides the wait when it can and reports whether it did.
func (w *ackWait) check(b *Broker) bool {
	p := w.p
	fail := func(e *kerr.Error, msg string) bool {
		w.done, w.err, w.msg = true, e, msg
		return true
	}
	if !p.leader.Load() || p.leaderEpoch.Load() != w.epoch {
		return fail(kerr.NotLeaderForPartition, fmt.Sprintf("this broker lost the leadership of %s-%d before the records were replicated", w.name, p.index))
	}
	if !b.leaseValid() {
		return fail(kerr.NotLeaderForPartition, "this broker's etcd lease may have expired: the records are not acknowledged")
	}
	if err := p.offlineErr(); err != nil {
		return fail(kerr.KafkaStorageError, p.offlineMessage(err))
	}
	minISR := p.cfg.Load().MinInsyncReplicas
	isr := int32(p.isrSize())
	if isr < minISR {
		return fail(kerr.NotEnoughReplicasAfterAppend, fmt.Sprintf("the in-sync replicas of %s-%d fell to %d, below min.insync.replicas=%d, after the records were appended",
			w.name, p.index, isr, minISR))
	}
	if p.log.HighWatermark() >= w.target {
		w.done = true
		return true
	}
	return false
}

// batchError maps a protocol validation error to its Kafka error.
func batchError(err error) *kerr.Error {
	switch {
	case errors.Is(err, protocol.ErrCorruptBatch):
		return kerr.CorruptMessage
	case errors.Is(err, protocol.ErrInvalidTimestamp):
		return kerr.InvalidTimestamp
	case errors.Is(err, protocol.ErrRecordTooLarge):
		return kerr.MessageTooLarge
	case errors.Is(err, protocol.ErrUnsupportedCompression):
		return kerr.UnsupportedCompressionType
	default:
		return kerr.InvalidRecord
	}
}

// notServedError explains why a partition is not served here: an unknown
// topic or partition, this broker's replica offline (KAFKA_STORAGE_ERROR
// when storageErr, i.e. the request version knows it; else
// NOT_LEADER_OR_FOLLOWER, as Kafka answers older clients), or another
// leader.
func (b *Broker) notServedError(snap *coordinator.Snapshot, topic string, partition int32, byID, storageErr bool) (*kerr.Error, string) {
	tm := snap.Topic(topic)
	if tm == nil {
		if byID {
			return kerr.UnknownTopicID, "unknown topic id"
		}
		return kerr.UnknownTopicOrPartition, fmt.Sprintf("topic %q does not exist", topic)
	}
	if partition < 0 || int(partition) >= len(tm.Partitions) {
		return kerr.UnknownTopicOrPartition, fmt.Sprintf("topic %q has no partition %d", topic, partition)
	}
	if p := b.hosted(topic, partition); p != nil && p.topicID == tm.Info.ID {
		// An offline replica hosted here answers KAFKA_STORAGE_ERROR
		// whoever leads (Kafka's HostedPartition.Offline): the controller
		// moves the leadership away from it.
		if err := p.offlineErr(); err != nil {
			if storageErr {
				return kerr.KafkaStorageError, p.offlineMessage(err)
			}
			return kerr.NotLeaderForPartition, p.offlineMessage(err)
		}
		if tm.Partitions[partition].Leader == b.cfg.BrokerID && (p.log == nil || !p.leader.Load()) {
			return kerr.NotLeaderForPartition, fmt.Sprintf("this broker is becoming the leader of %s-%d", topic, partition)
		}
	}
	return kerr.NotLeaderForPartition, fmt.Sprintf("this broker is not the leader of %s-%d", topic, partition)
}

// produceUnsupported answers Produce v0-v2 with UNSUPPORTED_VERSION on every
// partition.
func produceUnsupported(_ protocol.RequestHeader, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ProduceRequest)
	if req.Acks == 0 {
		return nil
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = kerr.UnsupportedVersion.Code
			sp.BaseOffset = -1
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
