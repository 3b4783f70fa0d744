package difftest

import (
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ElectLeaders, AlterPartitionReassignments and ListPartitionReassignments
// scenarios. Both brokers are one node (id 1), so only what one node can
// show compares: elections not needed, unknown topics and partitions,
// invalid assignments, cancels with nothing in progress, no-op
// reassignments and empty lists.

func electLeadersReq(v int16, electionType int8, topics map[string][]int32) *kmsg.ElectLeadersRequest {
	req := kmsg.NewPtrElectLeadersRequest()
	req.Version = v
	req.ElectionType = electionType
	req.TimeoutMillis = 30000
	if topics != nil {
		req.Topics = []kmsg.ElectLeadersRequestTopic{}
		for _, name := range slices.Sorted(maps.Keys(topics)) {
			t := kmsg.NewElectLeadersRequestTopic()
			t.Topic, t.Partitions = name, topics[name]
			req.Topics = append(req.Topics, t)
		}
	}
	return req
}

// reassignment is one AlterPartitionReassignments entry; nil replicas
// cancel.
type reassignment struct {
	partition int32
	replicas  []int32
}

func alterReassignmentsReq(v int16, topic string, entries ...reassignment) *kmsg.AlterPartitionAssignmentsRequest {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.Version = v
	req.TimeoutMillis = 30000
	t := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	t.Topic = topic
	for _, e := range entries {
		p := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		p.Partition, p.Replicas = e.partition, e.replicas
		t.Partitions = append(t.Partitions, p)
	}
	req.Topics = append(req.Topics, t)
	return req
}

func listReassignmentsReq(v int16, topics map[string][]int32) *kmsg.ListPartitionReassignmentsRequest {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.Version = v
	req.TimeoutMillis = 30000
	if topics != nil {
		req.Topics = []kmsg.ListPartitionReassignmentsRequestTopic{}
		for _, name := range slices.Sorted(maps.Keys(topics)) {
			t := kmsg.NewListPartitionReassignmentsRequestTopic()
			t.Topic, t.Partitions = name, topics[name]
			req.Topics = append(req.Topics, t)
		}
	}
	return req
}

// keepElectTopics drops from an ElectLeaders answer the topics not named
// with prefix (the brokers hold different internal and leftover topics).
func keepElectTopics(prefix string) func(kmsg.Response) {
	return func(resp kmsg.Response) {
		r := resp.(*kmsg.ElectLeadersResponse)
		kept := r.Topics[:0]
		for _, t := range r.Topics {
			if strings.HasPrefix(t.Topic, prefix) {
				kept = append(kept, t)
			}
		}
		r.Topics = kept
	}
}

func adminScenarios() []Scenario {
	return []Scenario{
		{Name: "electleaders-preferred", API: kmsg.ElectLeaders, Run: func(r *Run) {
			topic := r.name("el")
			r.CreateTopic(topic, 2, nil)
			r.Check("not-needed-and-unknown", func(*Side) kmsg.Request {
				return electLeadersReq(r.V, 0, map[string][]int32{topic: {0, 1, 9}, r.name("nosuch"): {0}})
			})
			r.Check("no-topics", func(*Side) kmsg.Request { return electLeadersReq(r.V, 0, map[string][]int32{}) })
			r.CheckFiltered("all-partitions", func(*Side) kmsg.Request { return electLeadersReq(r.V, 0, nil) },
				keepElectTopics(topic))
		}},
		{Name: "electleaders-unclean", API: kmsg.ElectLeaders, MinV: 1, Run: func(r *Run) {
			topic := r.name("elu")
			r.CreateTopic(topic, 1, nil)
			r.Check("has-leader", func(*Side) kmsg.Request {
				return electLeadersReq(r.V, 1, map[string][]int32{topic: {0, 3}})
			})
			r.Check("bad-election-type", func(*Side) kmsg.Request {
				return electLeadersReq(r.V, 7, map[string][]int32{topic: {0}})
			})
		}},
		{Name: "alterpartitionreassignments-errors", API: kmsg.AlterPartitionAssignments, Run: func(r *Run) {
			topic := r.name("ra")
			r.CreateTopic(topic, 2, nil)
			r.Check("unknown-topic", func(*Side) kmsg.Request {
				return alterReassignmentsReq(r.V, r.name("nosuch"), reassignment{0, []int32{1}})
			})
			r.Check("bad-targets", func(*Side) kmsg.Request {
				return alterReassignmentsReq(r.V, topic, reassignment{0, []int32{}}, reassignment{1, []int32{1, 1}})
			})
			r.Check("unregistered-broker", func(*Side) kmsg.Request {
				return alterReassignmentsReq(r.V, topic, reassignment{0, []int32{1, 2}})
			})
			r.Check("unknown-partition", func(*Side) kmsg.Request {
				return alterReassignmentsReq(r.V, topic, reassignment{5, []int32{1}})
			})
			r.Check("cancel-nothing-in-progress", func(*Side) kmsg.Request {
				return alterReassignmentsReq(r.V, topic, reassignment{0, nil})
			})
			r.Check("same-replicas", func(*Side) kmsg.Request {
				return alterReassignmentsReq(r.V, topic, reassignment{0, []int32{1}}, reassignment{1, []int32{1}})
			})
			r.Check("list-after", func(*Side) kmsg.Request {
				return listReassignmentsReq(r.Max(kmsg.ListPartitionReassignments), map[string][]int32{topic: {0, 1}})
			})
		}},
		{Name: "listpartitionreassignments", API: kmsg.ListPartitionReassignments, Run: func(r *Run) {
			topic := r.name("lr")
			r.CreateTopic(topic, 1, nil)
			r.Check("named", func(*Side) kmsg.Request {
				return listReassignmentsReq(r.V, map[string][]int32{topic: {0, 4}, r.name("nosuch"): {0}})
			})
			r.Check("all", func(*Side) kmsg.Request { return listReassignmentsReq(r.V, nil) })
		}},
	}
}
