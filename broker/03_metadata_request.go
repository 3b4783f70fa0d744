package broker

// Metadata request checks Kafka applies before answering (03_metadata.go
// answers): topic-id lookups exist from v12, a topic named twice is
// answered once, and the cluster's authorized operations are listed when
// asked (v8-v10).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupAllOps is every operation on a GROUP resource (READ, DELETE,
// DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS), all allowed without an
// authorizer, as Kafka answers then (KIP-430).
const groupAllOps = int32(1<<kmsg.ACLOperationRead |
	1<<kmsg.ACLOperationDelete |
	1<<kmsg.ACLOperationDescribe |
	1<<kmsg.ACLOperationDescribeConfigs |
	1<<kmsg.ACLOperationAlterConfigs)

// metadataRequestError is Kafka's error answer to a request it refuses
// as a whole: v10 and v11 name topics only (topic ids came with v12; a
// null name cannot even be decoded there), so a topic id or a null name
// fails the request with INVALID_REQUEST on every topic, without brokers
// or a cluster id. nil when the request is fine.
func metadataRequestError(req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	if req.Version >= 12 || req.Version < 10 {
		return nil
	}
	bad := false
	for _, rt := range req.Topics {
		if rt.Topic == nil || rt.TopicID != [16]byte{} {
			bad = true
			break
		}
	}
	if !bad {
		return nil
	}
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.ControllerID = -1
	resp.AuthorizedOperations = authorizedOpsNotRequested
	for _, rt := range req.Topics {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		if t.Topic == nil {
			t.Topic = strPtr("")
		}
		t.ErrorCode = kerr.InvalidRequest.Code
		t.AuthorizedOperations = authorizedOpsNotRequested
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// dedupMetadataTopics drops the repeats of a topic named (or, without a
// name, identified) more than once: Kafka answers each topic once.
func dedupMetadataTopics(topics []kmsg.MetadataRequestTopic) []kmsg.MetadataRequestTopic {
	if len(topics) < 2 {
		return topics
	}
	names := make(map[string]bool, len(topics))
	ids := make(map[[16]byte]bool)
	out := topics[:0:0]
	for _, rt := range topics {
		if rt.Topic != nil {
			if names[*rt.Topic] {
				continue
			}
			names[*rt.Topic] = true
		} else {
			if ids[rt.TopicID] {
				continue
			}
			ids[rt.TopicID] = true
		}
		out = append(out, rt)
	}
	return out
}
