package broker

// DescribeProducers (key 61), v0: kafka-transactions.sh describe-producers
// and the admin client's describeProducers (KIP-664).
//
//	v0: per partition, the active producers of its leader's producer
//	    state: id, epoch, last sequence, last timestamp, coordinator epoch
//	    and the start offset of an ongoing transaction.
//
// Answered from the log's producer state (storage's ProducerStateManager):
// the coordinator epoch of a producer's last marker and the first offset of
// its open transaction (-1: none). A partition this broker does not lead
// gets Kafka's errors (UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER,
// KAFKA_STORAGE_ERROR for an offline replica). __consumer_offsets and
// __transaction_state keep their contents in etcd and have no log here:
// their leader answers that they have no producers, as Kafka's does for
// logs only its coordinators write (kafka-transactions.sh find-hanging
// --broker-id asks for every partition the broker holds).

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
			if p == nil && b.leadsStateTopic(rt.Topic, pi) {
				sp.ActiveProducers = []kmsg.DescribeProducersResponseTopicPartitionActiveProducer{}
				st.Partitions = append(st.Partitions, sp)
				continue
			}
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

// leadsStateTopic reports whether topic is __consumer_offsets or
// __transaction_state and this broker leads its partition.
func (b *Broker) leadsStateTopic(topic string, partition int32) bool {
	if topic != offsetsTopic && topic != transactionTopic {
		return false
	}
	st, ok := b.store.Snapshot().Partition(topic, partition)
	return ok && st.Leader == b.cfg.BrokerID && b.leaseValid()
}
