package broker

// DeleteTopics (key 20), v1-v6 (Kafka 4's floor is v1).
//
//	v0: topic names and a timeout.
//	v1: throttle time.
//	v2: same as v1.
//	v3: with delete.topic.enable=false, TOPIC_DELETION_DISABLED instead of
//	    INVALID_REQUEST.
//	v4: flexible.
//	v5: per-topic ErrorMessage; quota violations (none here).
//	v6: topics by name or by id (KIP-516); the response carries the id.
//
// As in Kafka: an entry with both a name and an id, or neither, is
// INVALID_REQUEST; a name or id given twice is INVALID_REQUEST for that
// name or id; unknown names are UNKNOWN_TOPIC_OR_PARTITION and unknown ids
// UNKNOWN_TOPIC_ID. Unlike Kafka, internal topics (__consumer_offsets,
// __transaction_state) cannot be deleted: group and transaction
// coordinator placement depends on them, and Kafka's own tools refuse it.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.DeleteTopics, 1, 6, handleDeleteTopics) }

func handleDeleteTopics(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)

	// Normalise both request layouts to (name, id) entries.
	type entry struct {
		name *string
		id   [16]byte
	}
	var entries []entry
	if req.Version >= 6 {
		for _, t := range req.Topics {
			entries = append(entries, entry{name: t.Topic, id: t.TopicID})
		}
	} else {
		for _, n := range req.TopicNames {
			entries = append(entries, entry{name: strPtr(n)})
		}
	}

	add := func(name *string, id [16]byte, e *kerr.Error, msg string) {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic = name
		st.TopicID = id
		st.ErrorCode = errCode(e)
		if e != nil && msg != "" {
			st.ErrorMessage = strPtr(msg)
		}
		resp.Topics = append(resp.Topics, st)
	}

	if !deleteTopicEnabled(b) {
		for _, en := range entries {
			if req.Version < 3 {
				add(en.name, en.id, kerr.InvalidRequest, "Topic deletion is disabled.")
			} else {
				add(en.name, en.id, kerr.TopicDeletionDisabled, "Topic deletion is disabled.")
			}
		}
		return resp
	}

	names := make(map[string]int)
	ids := make(map[[16]byte]int)
	for _, en := range entries {
		switch {
		case en.name != nil && en.id != [16]byte{}:
		case en.name != nil:
			names[*en.name]++
		case en.id != [16]byte{}:
			ids[en.id]++
		}
	}

	ctx, cancel, wait := adminCtx(rc.ctx, req.TimeoutMillis)
	defer cancel()
	snap := b.store.Snapshot()
	var maxRev int64
	var deleted []int
	resolved := make(map[string]bool) // topic names already taken by an entry

	for _, en := range entries {
		var tm *coordinator.TopicMeta
		switch {
		case en.name != nil && en.id != [16]byte{}:
			add(en.name, en.id, kerr.InvalidRequest, "You may not specify both topic name and topic id.")
			continue
		case en.name == nil && en.id == [16]byte{}:
			add(nil, en.id, kerr.InvalidRequest, "Neither topic name nor id were specified.")
			continue
		case en.name != nil:
			if names[*en.name] > 1 {
				add(en.name, en.id, kerr.InvalidRequest, "Duplicate topic name.")
				continue
			}
			if tm = snap.Topic(*en.name); tm == nil {
				add(en.name, en.id, kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")
				continue
			}
		default:
			if ids[en.id] > 1 {
				add(nil, en.id, kerr.InvalidRequest, "Duplicate topic id.")
				continue
			}
			if tm = snap.TopicByID(coordinator.TopicID(en.id)); tm == nil {
				add(nil, en.id, kerr.UnknownTopicID, "This server does not host this topic ID.")
				continue
			}
		}
		name := tm.Info.Name
		if !b.authorize(rc, kmsg.ACLOperationDelete, kmsg.ACLResourceTypeTopic, name) { // acl.go
			add(en.name, en.id, kerr.TopicAuthorizationFailed, "Authorization failed.")
			continue
		}
		if t, over := b.mutationQuota(rc, len(tm.Partitions)); over && req.Version >= 5 { // quota.go
			add(en.name, en.id, kerr.ThrottlingQuotaExceeded, "The throttling quota has been exceeded.")
			resp.ThrottleMillis = max(resp.ThrottleMillis, t)
			continue
		}
		if resolved[name] {
			add(en.name, en.id, kerr.InvalidRequest, "The provided topic name maps to an ID that was already supplied.")
			continue
		}
		resolved[name] = true
		if tm.Info.Internal {
			add(strPtr(name), tm.Info.ID, kerr.InvalidRequest,
				fmt.Sprintf("Topic '%s' is an internal topic and cannot be deleted.", name))
			continue
		}
		rev, err := b.store.DeleteTopic(ctx, name)
		if err != nil {
			e, msg := storeError(err, name)
			add(strPtr(name), tm.Info.ID, e, msg)
			continue
		}
		b.log.Info().Str("topic", name).Str("topic_id", tm.Info.ID.String()).Msg("topic deleted")
		maxRev = max(maxRev, rev)
		deleted = append(deleted, len(resp.Topics))
		add(strPtr(name), tm.Info.ID, nil, "")
	}

	if maxRev > 0 && wait {
		if err := b.waitApplied(ctx, maxRev); err != nil {
			e, msg := waitError(err)
			for _, i := range deleted {
				resp.Topics[i].ErrorCode = e.Code
				resp.Topics[i].ErrorMessage = strPtr(msg)
			}
		}
	}
	return resp
}

// deleteTopicEnabled reads delete.topic.enable (default true, as Kafka's).
func deleteTopicEnabled(b *Broker) bool {
	e, ok := b.cfg.Get("delete.topic.enable")
	return !ok || e.Value != "false"
}
