package broker

// WriteTxnMarkers (key 27), v1-v2, with samsa.transactions.enable: from
// a transaction coordinator to the partition leaders.
//
//	v0: not served (Kafka 4 removed it, KIP-896).
//	v1: flexible.
//	v2: the marker's transaction version (the TV2 epoch rule: the marker's
//	    epoch must be above the producer's; v1 markers follow TV0/1's:
//	    not below it).
//
// Each marker is appended to every partition named that this broker
// leads and answered once the high watermark passes it (acks=all, as
// Kafka appends markers); a __consumer_offsets partition completes the
// group's transactional offset commits instead (txn_markers.go). Needs
// CLUSTER_ACTION on the cluster.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/txn"
)

func init() { register(kmsg.WriteTxnMarkers, 1, 2, handleWriteTxnMarkers).txn() }

func handleWriteTxnMarkers(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.WriteTxnMarkersRequest)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	authorized := b.authorizeCluster(rc, kmsg.ACLOperationClusterAction) // acl.go
	for _, m := range req.Markers {
		var tps []txn.TopicPartition
		for _, t := range m.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, txn.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
		var results []markerResult
		if authorized {
			results = b.writeLocalMarkers(rc.ctx, txnMarker{
				producerID: m.ProducerID, producerEpoch: m.ProducerEpoch, coordinatorEpoch: m.CoordinatorEpoch,
				commit: m.Committed, transactionVersion: int16(m.TransactionVersion),
			}, tps)
		} else {
			results = make([]markerResult, len(tps))
			for i := range results {
				results[i].code = kerr.ClusterAuthorizationFailed.Code
			}
		}
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		k := 0
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition, rp.ErrorCode = p, results[k].code
				k++
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp
}
