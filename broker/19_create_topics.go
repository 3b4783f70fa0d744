package broker

// CreateTopics (key 19), v2-v7 (Kafka 4's floor is v2).
//
//	v0: topics with partitions, replication factor, manual assignment and
//	    configs; timeout.
//	v1: ValidateOnly; per-topic ErrorMessage.
//	v2: throttle time.
//	v3: same as v2.
//	v4: -1 partitions / replication factor take the broker defaults
//	    (KIP-464; we accept -1 at every version, as Kafka's controller does).
//	v5: flexible; the response returns the topic's partition count,
//	    replication factor and effective configs (KIP-525).
//	v6: quota violations answered with THROTTLING_QUOTA_EXCEEDED (no quotas
//	    here, so no change).
//	v7: the response returns the topic id (KIP-516).
//
// A name given more than once in one request is answered once, with
// INVALID_REQUEST; the other topics are processed. A TimeoutMillis of 0 or
// less creates the topics and returns without waiting for this broker to
// apply them. A request for more than max.partitions.per.request partitions
// in all (validate-only too) fails every topic with INVALID_PARTITIONS
// before anything is planned, as Kafka's controller refuses such a request
// whole (with POLICY_VIOLATION there).

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/broker/config"
)

func init() { register(kmsg.CreateTopics, 2, 7, handleCreateTopics) }

func handleCreateTopics(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)

	counts := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		counts[t.Topic]++
	}

	if msg := b.tooManyPartitions(createTopicsPartitions(req, b.cfg.NumPartitions)); msg != "" {
		for _, rt := range req.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			st.ErrorCode = kerr.InvalidPartitions.Code
			st.ErrorMessage = strPtr(msg)
			st.NumPartitions = -1
			st.ReplicationFactor = -1
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}

	ctx, cancel, wait := adminCtx(rc.ctx, req.TimeoutMillis)
	defer cancel()

	snap := b.store.Snapshot()
	pending := make(map[string]string) // unified name -> name, created by this request
	var maxRev int64
	var created []int // indexes into resp.Topics of successful creations

	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		fail := func(e *kerr.Error, msg string) {
			st.ErrorCode = e.Code
			st.ErrorMessage = strPtr(msg)
			st.NumPartitions = -1
			st.ReplicationFactor = -1
			resp.Topics = append(resp.Topics, st)
		}
		if c := counts[rt.Topic]; c > 1 || c < 0 {
			if c > 1 { // once per name, as Kafka answers
				fail(kerr.InvalidRequest, "Duplicate topic name.")
				counts[rt.Topic] = -1
			}
			continue
		}
		if !b.authorizeCreateTopic(rc, rt.Topic) { // acl.go
			fail(kerr.TopicAuthorizationFailed, "Authorization failed.")
			continue
		}
		if t, over := b.mutationQuota(rc, createTopicPartitions(rt, b.cfg.NumPartitions)); over && req.Version >= 6 { // quota.go
			fail(kerr.ThrottlingQuotaExceeded, "The throttling quota has been exceeded.")
			resp.ThrottleMillis = max(resp.ThrottleMillis, t)
			continue
		}

		var configs map[string]string
		nullConfig := ""
		for _, c := range rt.Configs {
			if c.Value == nil {
				nullConfig = c.Name
				break
			}
			if configs == nil {
				configs = make(map[string]string, len(rt.Configs))
			}
			configs[c.Name] = *c.Value
		}
		if nullConfig != "" {
			fail(kerr.InvalidConfig, "Null value not supported for topic configs: "+nullConfig)
			continue
		}
		var assignments [][]int32
		if len(rt.ReplicaAssignment) > 0 {
			var msg string
			assignments, msg = orderAssignments(rt.ReplicaAssignment)
			if msg != "" {
				fail(kerr.InvalidReplicaAssignment, msg)
				continue
			}
		}

		plan, e, msg := b.planTopic(snap, rt.Topic, rt.NumPartitions, rt.ReplicationFactor, assignments, configs, pending)
		if e != nil {
			fail(e, msg)
			continue
		}
		if !req.ValidateOnly {
			id, rev, e, msg := b.writeTopic(ctx, plan)
			if e != nil {
				fail(e, msg)
				continue
			}
			st.TopicID = id
			maxRev = max(maxRev, rev)
			pending[unifyCollisionChars(rt.Topic)] = rt.Topic
			b.warnTopicConfigs(rt.Topic, configs)
		}
		st.NumPartitions = plan.numPartitions
		st.ReplicationFactor = plan.replicationFactor
		if req.Version >= 5 {
			st.Configs = createTopicsConfigs(b.conf().CreatedTopicEntries(plan.info.Configs))
		}
		created = append(created, len(resp.Topics))
		resp.Topics = append(resp.Topics, st)
	}

	// One wait for every topic written, so that the next Metadata request
	// (to this broker) sees them all.
	if maxRev > 0 && wait {
		if err := b.waitApplied(ctx, maxRev); err != nil {
			e, msg := waitError(err)
			for _, i := range created {
				resp.Topics[i].ErrorCode = e.Code
				resp.Topics[i].ErrorMessage = strPtr(msg)
			}
		}
	}
	return resp
}

// createTopicsPartitions is how many partitions a CreateTopics request asks
// for in all: each topic's manual assignment, else its count (-1: the
// broker default). Invalid counts add nothing; planTopic refuses them.
func createTopicsPartitions(req *kmsg.CreateTopicsRequest, dflt int32) int64 {
	var n int64
	for _, rt := range req.Topics {
		switch {
		case len(rt.ReplicaAssignment) > 0:
			n += int64(len(rt.ReplicaAssignment))
		case rt.NumPartitions == -1:
			n += int64(dflt)
		case rt.NumPartitions > 0:
			n += int64(rt.NumPartitions)
		}
	}
	return n
}

// orderAssignments turns CreateTopics' replica assignment (a list of
// partition index + brokers) into replicas by partition, checking that the
// indexes are 0..n-1 once each.
func orderAssignments(as []kmsg.CreateTopicsRequestTopicReplicaAssignment) ([][]int32, string) {
	out := make([][]int32, len(as))
	for _, a := range as {
		if a.Partition < 0 || int(a.Partition) >= len(as) {
			return nil, "Partitions should be a consecutive 0-based integer sequence."
		}
		if out[a.Partition] != nil {
			return nil, fmt.Sprintf("Found multiple manual partition assignments for partition %d", a.Partition)
		}
		rs := a.Replicas
		if rs == nil {
			rs = []int32{}
		}
		out[a.Partition] = rs
	}
	return out, ""
}

// createTopicsConfigs is the v5+ Configs of a created topic: every topic
// config with its effective value and source, as Kafka returns them.
func createTopicsConfigs(entries []config.Entry) []kmsg.CreateTopicsResponseTopicConfig {
	out := make([]kmsg.CreateTopicsResponseTopicConfig, 0, len(entries))
	for _, e := range entries {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = e.Name
		if !e.Sensitive {
			c.Value = strPtr(e.Value)
		}
		c.ReadOnly = e.ReadOnly
		c.Source = int8(e.Source)
		c.IsSensitive = e.Sensitive
		out = append(out, c)
	}
	return out
}
