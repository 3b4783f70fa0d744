package broker

// Metadata (key 3), v0-v13.
//
//	v0: an empty topic list means all topics.
//	v1: null topics means all topics (empty means none); controller id,
//	    is-internal, racks.
//	v2: cluster id.
//	v3: throttle time.
//	v4: allow_auto_topic_creation (before v4 auto-creation is always asked).
//	v5: offline replicas.
//	v6: same as v5.
//	v7: leader epoch.
//	v8: authorized operations (cluster-level until v10): everything, when
//	    asked, as Kafka answers without an authorizer.
//	v9: flexible.
//	v10: topic ids in the answer (lookups by id only from v12: a v10-v11
//	    request naming an id fails as a whole, 03_metadata_request.go).
//	v11: cluster authorized operations removed (DescribeCluster has them).
//	v12: topic name nullable in the request.
//	v13: top-level error code (KIP-1102 rebootstrap).
//
// Answered from the in-memory snapshot: Metadata never waits on etcd,
// except to create a topic that auto-creation asks for, and then for at
// most autoCreateTimeout. Brokers are given with the endpoint of the
// listener the request came through; a broker without it is left out, shown
// as an offline replica, and a partition it leads answers LISTENER_NOT_FOUND
// (v6+; LEADER_NOT_AVAILABLE before), as Kafka does. v0 lists only replicas
// with such an endpoint (REPLICA_NOT_AVAILABLE when some are left out).

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.Metadata, 0, 13, handleMetadata) }

// authorizedOpsNotRequested is Kafka's "not asked for" marker.
const authorizedOpsNotRequested = -2147483648

func handleMetadata(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.MetadataRequest)
	if resp := metadataRequestError(req); resp != nil {
		return resp
	}
	req.Topics = dedupMetadataTopics(req.Topics)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	snap := b.store.Snapshot()

	allTopics := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	autoCreate := req.Version < 4 || req.AllowAutoTopicCreation

	// pending are the topics whose auto-creation did not finish in time or
	// failed retriably (etcd slow or down): they answer
	// LEADER_NOT_AVAILABLE, as Kafka answers a topic it is still creating,
	// and the client asks again.
	var pending map[string]bool
	if !allTopics {
		// Auto-create what is missing first, then answer from the newest
		// snapshot. One deadline for them all: Metadata has no timeout.
		ctx, cancel := context.WithTimeout(rc.ctx, autoCreateTimeout)
		defer cancel()
		created := false
		for _, rt := range req.Topics {
			if rt.Topic == nil || snap.Topic(*rt.Topic) != nil || !autoCreate || !b.cfg.AutoCreateTopics {
				continue
			}
			if !b.authorizeMetadataCreate(rc, *rt.Topic) { // acl.go
				continue
			}
			if validateTopicName(*rt.Topic) != nil {
				continue
			}
			// A retriable failure (etcd slow, down or unreachable: timed
			// out, or refused at once) leaves the topic pending.
			switch e, msg := b.autoCreateTopic(ctx, *rt.Topic); {
			case e == nil:
				created = true
			case e.Retriable:
				if pending == nil {
					pending = make(map[string]bool)
				}
				pending[*rt.Topic] = true
				b.log.Warn().Str("topic", *rt.Topic).Str("error", msg).Str("code", e.Message).Msg("auto-creating a topic failed; the client is told to retry")
			}
		}
		if created || pending != nil {
			snap = b.store.Snapshot()
		}
	}

	listener := b.listenerName(rc)
	resp.Brokers = metadataBrokers(snap, listener)
	resp.ClusterID = strPtr(snap.ClusterID)
	resp.ControllerID = snap.ControllerID
	if resp.ControllerID < 0 {
		resp.ControllerID = b.cfg.BrokerID
	}
	resp.AuthorizedOperations = authorizedOpsNotRequested
	if req.IncludeClusterAuthorizedOperations && req.Version >= 8 && req.Version <= 10 {
		resp.AuthorizedOperations = b.authorizedOps(rc, kmsg.ACLResourceTypeCluster, clusterName, aclClusterOps)
	}

	// topicOps: the authorized operations of a topic, when asked for.
	topicOps := func(name string) int32 {
		if !req.IncludeTopicAuthorizedOperations {
			return authorizedOpsNotRequested
		}
		return b.authorizedOps(rc, kmsg.ACLResourceTypeTopic, name, aclTopicOps)
	}

	if allTopics {
		resp.Topics = make([]kmsg.MetadataResponseTopic, 0, len(snap.TopicNames))
		for _, name := range snap.TopicNames {
			// Kafka leaves out the topics the principal may not describe.
			if !b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, name) {
				continue
			}
			resp.Topics = append(resp.Topics, b.metadataTopic(snap, snap.Topics[name], topicOps(name), listener, req.Version))
		}
		return resp
	}

	resp.Topics = make([]kmsg.MetadataResponseTopic, 0, len(req.Topics))
	for _, rt := range req.Topics {
		var tm *coordinator.TopicMeta
		switch {
		case rt.Topic != nil:
			tm = snap.Topic(*rt.Topic)
		case rt.TopicID != [16]byte{}:
			tm = snap.TopicByID(coordinator.TopicID(rt.TopicID))
		}
		if tm != nil && b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, tm.Info.Name) {
			resp.Topics = append(resp.Topics, b.metadataTopic(snap, tm, topicOps(tm.Info.Name), listener, req.Version))
			continue
		}
		t := kmsg.NewMetadataResponseTopic()
		t.Topic = rt.Topic
		t.TopicID = rt.TopicID
		t.AuthorizedOperations = authorizedOpsNotRequested
		if rt.Topic != nil {
			t.AuthorizedOperations = topicOps(*rt.Topic)
		}
		switch {
		case tm != nil || rt.Topic != nil && !b.authorizeMetadataTopic(rc, *rt.Topic, autoCreate): // acl.go
			t.ErrorCode = kerr.TopicAuthorizationFailed.Code
			if tm != nil && rt.Topic == nil {
				t.TopicID = tm.Info.ID // by id: the name stays hidden
			}
		case rt.Topic == nil && rt.TopicID == [16]byte{}:
			t.ErrorCode = kerr.InvalidRequest.Code
		case rt.Topic == nil:
			t.ErrorCode = kerr.UnknownTopicID.Code
		case validateTopicName(*rt.Topic) != nil:
			t.ErrorCode = kerr.InvalidTopicException.Code
		case pending[*rt.Topic]:
			t.ErrorCode = kerr.LeaderNotAvailable.Code
		default:
			t.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func metadataBrokers(snap *coordinator.Snapshot, listener string) []kmsg.MetadataResponseBroker {
	out := make([]kmsg.MetadataResponseBroker, 0, len(snap.BrokerIDs))
	for _, id := range snap.BrokerIDs {
		bi := snap.Brokers[id]
		ep, ok := bi.Endpoint(listener)
		if !ok {
			continue
		}
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID = bi.ID
		mb.Host = ep.Host
		mb.Port = ep.Port
		mb.Rack = bi.Rack
		out = append(out, mb)
	}
	return out
}

// hasEndpoint reports whether broker id is live with an endpoint for the
// listener.
func hasEndpoint(snap *coordinator.Snapshot, id int32, listener string) bool {
	bi, ok := snap.Brokers[id]
	if !ok {
		return false
	}
	_, ok = bi.Endpoint(listener)
	return ok
}

// metadataTopic describes one topic. A partition whose leader cannot serve
// it is shown without a leader (LEADER_NOT_AVAILABLE, so clients wait and
// retry): the leader's broker is not live, has declared its replica offline,
// or is this broker and has not (yet) opened the log. Offline replicas are
// those of brokers that are not live (with an endpoint for the listener)
// or have declared them offline.
func (b *Broker) metadataTopic(snap *coordinator.Snapshot, tm *coordinator.TopicMeta, ops int32, listener string, version int16) kmsg.MetadataResponseTopic {
	t := kmsg.NewMetadataResponseTopic()
	name := tm.Info.Name
	t.Topic = &name
	t.TopicID = tm.Info.ID
	t.IsInternal = tm.Info.Internal
	t.AuthorizedOperations = ops
	t.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(tm.Partitions))
	me := b.cfg.BrokerID
	for i, st := range tm.Partitions {
		p := &t.Partitions[i]
		*p = kmsg.NewMetadataResponseTopicPartition()
		p.Partition = int32(i)
		p.Leader = st.Leader
		p.LeaderEpoch = st.LeaderEpoch
		p.Replicas = st.Replicas
		p.ISR = st.ISR
		if p.Replicas == nil {
			p.Replicas = []int32{}
		}
		if p.ISR == nil {
			p.ISR = []int32{}
		}
		offline := func(r int32) bool {
			if !hasEndpoint(snap, r, listener) || snap.ReplicaOffline(r, tm.Info.ID, int32(i)) {
				return true
			}
			if r == me && !tm.Info.Internal {
				hp := b.hosted(name, int32(i))
				return hp != nil && hp.topicID == tm.Info.ID && hp.offlineErr() != nil
			}
			return false
		}
		for _, r := range st.Replicas {
			if offline(r) {
				p.OfflineReplicas = append(p.OfflineReplicas, r)
			}
		}
		if version == 0 {
			keep := func(rs []int32) []int32 {
				out := make([]int32, 0, len(rs))
				for _, r := range rs {
					if hasEndpoint(snap, r, listener) {
						out = append(out, r)
					}
				}
				return out
			}
			if p.Replicas, p.ISR = keep(p.Replicas), keep(p.ISR); len(p.Replicas) < len(st.Replicas) || len(p.ISR) < len(st.ISR) {
				p.ErrorCode = kerr.ReplicaNotAvailable.Code
			}
		}
		_, leaderLive := snap.Brokers[st.Leader]
		switch {
		case st.Leader < 0:
			p.ErrorCode = kerr.LeaderNotAvailable.Code
		case leaderLive && !hasEndpoint(snap, st.Leader, listener):
			p.ErrorCode = kerr.LeaderNotAvailable.Code
			if version >= 6 {
				p.ErrorCode = kerr.ListenerNotFound.Code
			}
			p.Leader = -1
		case offline(st.Leader), st.Leader == me && !tm.Info.Internal && !b.servesAsLeader(name, tm.Info.ID, int32(i)):
			p.ErrorCode = kerr.LeaderNotAvailable.Code
			p.Leader = -1
		}
	}
	sort.Slice(t.Partitions, func(i, j int) bool { return t.Partitions[i].Partition < t.Partitions[j].Partition })
	return t
}

// servesAsLeader reports whether this broker has opened the partition's log
// for the topic id and serves it as the leader.
func (b *Broker) servesAsLeader(topic string, id coordinator.TopicID, partition int32) bool {
	p := b.partition(topic, partition)
	return p != nil && p.topicID == id
}
