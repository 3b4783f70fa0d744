package broker

// DescribeProducers (key 61), v0: kafka-transactions.sh describe-producers
// and the admin client's describeProducers (KIP-664).
//
//	v0: per partition, the active producers of its leader's producer
//	    state: id, epoch, last sequence, last timestamp, coordinator epoch
//	    and the start offset of an ongoing transaction.
//
// Answered from the log's producer state (storage's ProducerStateManager),
// idempotent producers only: no transaction is ever open, so the
// coordinator epoch and the transaction start offset are -1. A partition
// this broker does not lead gets Kafka's errors (UNKNOWN_TOPIC_OR_PARTITION,
// NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR for an offline replica).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeProducers, 0, 0, handleDescribeProducers) }

func handleDescribeProducers(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		for _, pi := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = pi
			p := b.partition(rt.Topic, pi)
			if p == nil || !p.leader.Load() {
				ke, msg := b.notServedError(b.store.Snapshot(), rt.Topic, pi, false, true)
				sp.ErrorCode, sp.ErrorMessage = ke.Code, strPtr(msg)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			sp.ActiveProducers = []kmsg.DescribeProducersResponseTopicPartitionActiveProducer{}
			for _, e := range p.log.Producers() {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID, ap.ProducerEpoch = e.ProducerID, int32(e.ProducerEpoch)
				ap.LastSequence, ap.LastTimestamp = e.LastSequence, e.LastTimestamp
				ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = e.CoordinatorEpoch, e.CurrentTxnFirstOffset
				sp.ActiveProducers = append(sp.ActiveProducers, ap)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
