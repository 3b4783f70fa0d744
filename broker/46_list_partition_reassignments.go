package broker

// ListPartitionReassignments (key 46), v0 (kafka-reassign-partitions.sh
// --verify, --list). Always flexible.
//
// The reassignments in progress (coordinator/reassign.go), from this
// broker's Snapshot: per partition its replicas (the target followed by
// the replicas being removed), the replicas being added and those being
// removed. Null topics list every reassigning partition; named ones only
// those of the named partitions that are reassigning. As Kafka's
// controller does, unknown topics and partitions, and topics with nothing
// in progress, are left out rather than answered with an error.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.ListPartitionReassignments, 0, 0, handleListPartitionReassignments) }

func handleListPartitionReassignments(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ListPartitionReassignmentsRequest)
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	snap := b.store.Snapshot()

	list := func(tm *coordinator.TopicMeta, partitions []int32) {
		out := kmsg.NewListPartitionReassignmentsResponseTopic()
		out.Topic = tm.Info.Name
		for _, p := range partitions {
			if p < 0 || int(p) >= len(tm.Partitions) {
				continue
			}
			st := tm.Partitions[p]
			if !st.Reassigning() {
				continue
			}
			rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			rp.Partition = p
			rp.Replicas = slices.Clone(st.Replicas)
			rp.AddingReplicas = append([]int32{}, st.AddingReplicas...)
			rp.RemovingReplicas = append([]int32{}, st.RemovingReplicas...)
			out.Partitions = append(out.Partitions, rp)
		}
		if len(out.Partitions) > 0 {
			resp.Topics = append(resp.Topics, out)
		}
	}
	if req.Topics == nil {
		for _, name := range snap.TopicNames {
			tm := snap.Topics[name]
			all := make([]int32, len(tm.Partitions))
			for i := range all {
				all[i] = int32(i)
			}
			list(tm, all)
		}
		return resp
	}
	for _, rt := range req.Topics {
		if tm := snap.Topic(rt.Topic); tm != nil {
			list(tm, rt.Partitions)
		}
	}
	return resp
}
