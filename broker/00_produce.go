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
// acks=0 gets no response at all; an error with acks=0 closes the
// connection so the client notices, as Kafka does.

import (
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
	var snap *coordinator.Snapshot
	var leaders map[int32]bool // brokers to list in the response (v10+)

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
			case !acksOK:
				kerrv, msg = kerr.InvalidRequiredAcks, fmt.Sprintf("acks must be -1, 0 or 1, not %d", req.Acks)
			case req.TransactionID != nil:
				kerrv, msg = kerr.TransactionalIDAuthorizationFailed, "transactions are not supported by this broker yet"
			case !topicKnown:
				kerrv, msg = kerr.UnknownTopicID, "unknown topic id"
			default:
				p := b.partition(name, rp.Partition)
				if p == nil {
					if snap == nil {
						snap = b.store.Snapshot()
					}
					kerrv, msg = b.notServedError(snap, name, rp.Partition, req.Version >= 13, req.Version >= 4)
					if kerrv == kerr.NotLeaderForPartition && req.Version >= 10 {
						if st, ok := snap.Partition(name, rp.Partition); ok && st.Leader >= 0 {
							sp.CurrentLeader.LeaderID = st.Leader
							sp.CurrentLeader.LeaderEpoch = st.LeaderEpoch
							if leaders == nil {
								leaders = map[int32]bool{}
							}
							leaders[st.Leader] = true
						}
					}
					break
				}
				if req.Acks == -1 {
					if kerrv, msg = notEnoughReplicas(b, p); kerrv != nil {
						break
					}
				}
				kerrv, msg = b.produceToPartition(p, req.Version, rp.Records, sp)
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
	if len(leaders) > 0 {
		for id := range leaders {
			if bi, ok := snap.Brokers[id]; ok {
				nb := kmsg.NewProduceResponseBroker()
				nb.NodeID, nb.Host, nb.Port, nb.Rack = bi.ID, bi.Host, bi.Port, bi.Rack
				resp.Brokers = append(resp.Brokers, nb)
			}
		}
	}
	return resp
}

// produceToPartition validates and appends one partition's batch, filling
// the offsets of sp on success. On a refusal it fills what Kafka fills: the
// log start offset for the errors Kafka's log raises (record validation,
// sequences and epochs), the refused records (v8+) for a batch refused for
// their content.
func (b *Broker) produceToPartition(p *partition, version int16, records []byte, sp *kmsg.ProduceResponseTopicPartition) (*kerr.Error, string) {
	cfg := p.cfg.Load()
	now := time.Now().UnixMilli()
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
		return code, fmt.Sprintf("%s (%s-%d)", err, p.topic, p.index)
	}
	if hdr.IsTransactional() {
		return kerr.InvalidRecord, "transactional record batches are not supported by this broker yet"
	}
	appendTime := int64(-1)
	if cfg.LogAppendTime {
		appendTime = now
	}
	// Only the batch: bytes after it too short to be another batch are
	// dropped, as Kafka drops them.
	res, err := p.log.Append(records[:hdr.Size()], p.leaderEpoch.Load(), appendTime)
	switch {
	case err == nil, errors.Is(err, storage.ErrDuplicateSequence):
		// A retried duplicate is a success with the original offsets.
	case errors.Is(err, storage.ErrOutOfOrderSeq):
		sp.LogStartOffset = p.log.LogStartOffset()
		return kerr.OutOfOrderSequenceNumber, err.Error()
	case errors.Is(err, storage.ErrInvalidEpoch):
		sp.LogStartOffset = p.log.LogStartOffset()
		return kerr.InvalidProducerEpoch, err.Error()
	case errors.Is(err, storage.ErrUnknownProducer):
		sp.LogStartOffset = p.log.LogStartOffset()
		return kerr.UnknownProducerID, err.Error()
	case errors.Is(err, storage.ErrClosed):
		return kerr.NotLeaderForPartition, "the partition is being closed"
	default:
		// The log has logged the failure and is offline from now on
		// (storage's sticky error); tell etcd.
		b.signalPublish()
		return kerr.KafkaStorageError, p.offlineMessage(err)
	}
	// One replica: what is appended is committed. (Not res.LastOffset+1: a
	// duplicate's result points into the past.)
	p.log.SetHighWatermark(p.log.LogEndOffset())
	p.notify()
	sp.BaseOffset = res.BaseOffset
	sp.LogAppendTime = res.LogAppendTime
	sp.LogStartOffset = res.LogStartOffset
	return nil, ""
}

// notEnoughReplicas applies min.insync.replicas to an acks=all produce
// before anything is appended, as Kafka's leader does: an ISR smaller than
// it refuses the batch, on one broker too.
func notEnoughReplicas(b *Broker, p *partition) (*kerr.Error, string) {
	minISR := p.cfg.Load().MinInsyncReplicas
	if minISR <= 1 {
		return nil, "" // the leader is always in its ISR
	}
	st, ok := b.store.Snapshot().Partition(p.topic, p.index)
	if !ok || int32(len(st.ISR)) >= minISR {
		return nil, ""
	}
	return kerr.NotEnoughReplicas, fmt.Sprintf("the in-sync replicas %v of %s-%d are fewer than its min.insync.replicas=%d",
		st.ISR, p.topic, p.index, minISR)
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
	if p := b.hosted(topic, partition); p != nil && p.topicID == tm.Info.ID && tm.Partitions[partition].Leader == b.cfg.BrokerID {
		if err := p.offlineErr(); err != nil {
			if storageErr {
				return kerr.KafkaStorageError, p.offlineMessage(err)
			}
			return kerr.NotLeaderForPartition, p.offlineMessage(err)
		}
		if p.log == nil || !p.leader.Load() {
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
