package difftest

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch sessions in a replay. Kafka gave the recorded clients incremental
// fetch sessions (KIP-227); samsa declines them (session id 0), and a
// client talking to samsa would then have sent full fetches. So the replay
// keeps each recorded session's partition set itself and sends samsa, in
// place of each incremental fetch, the full sessionless fetch of that set.
// Kafka's incremental answer lists only the partitions that changed; the
// partitions samsa's full answer adds with nothing in them (no records, no
// error) are dropped before the comparison, since a client does nothing
// with them either.

type sessionPart struct {
	topic     string
	id        [16]byte
	partition int32
}

type fetchSession struct {
	parts map[sessionPart]kmsg.FetchRequestTopicPartition
	order []sessionPart
}

type fetchSessions struct {
	byID map[int32]*fetchSession // Kafka's session id -> its partitions
}

func newFetchSessions() *fetchSessions {
	return &fetchSessions{byID: map[int32]*fetchSession{}}
}

func (fs *fetchSession) update(req *kmsg.FetchRequest) {
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			k := sessionPart{topic: t.Topic, id: t.TopicID, partition: p.Partition}
			if _, ok := fs.parts[k]; !ok {
				fs.order = append(fs.order, k)
			}
			fs.parts[k] = p
		}
	}
	for _, t := range req.ForgottenTopics {
		for _, p := range t.Partitions {
			delete(fs.parts, sessionPart{topic: t.Topic, id: t.TopicID, partition: p})
		}
	}
}

// translate returns the request to send samsa for a recorded Fetch whose
// recorded answer is kafkaResp (nil if none), and whether it stands in for
// an incremental fetch.
func (s *fetchSessions) translate(req *kmsg.FetchRequest, kafkaResp *kmsg.FetchResponse) (*kmsg.FetchRequest, bool) {
	if req.Version < 7 {
		return req, false
	}
	switch {
	case req.SessionEpoch == -1:
		// Sessionless, or the close of a session: a full fetch either
		// way. samsa gave no session to close, so it gets the sessionless
		// fetch a client of samsa's would have sent.
		if _, ok := s.byID[req.SessionID]; ok {
			delete(s.byID, req.SessionID)
			full := *req
			full.SessionID = 0
			return &full, false
		}
		return req, false
	case req.SessionEpoch == 0:
		// A new session: full fetch; Kafka's answer names the session.
		if kafkaResp != nil && kafkaResp.SessionID != 0 {
			fs := &fetchSession{parts: map[sessionPart]kmsg.FetchRequestTopicPartition{}}
			fs.update(req)
			s.byID[kafkaResp.SessionID] = fs
		}
		return req, false
	}
	fs := s.byID[req.SessionID]
	if fs == nil {
		return req, false
	}
	fs.update(req)
	full := *req
	full.SessionID = 0
	full.SessionEpoch = -1
	full.ForgottenTopics = nil
	full.Topics = nil
	index := map[string]int{}
	for _, k := range fs.order {
		p, ok := fs.parts[k]
		if !ok {
			continue
		}
		key := k.topic + "\x00" + string(k.id[:])
		i, ok := index[key]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = k.topic, k.id
			full.Topics = append(full.Topics, t)
			i = len(full.Topics) - 1
			index[key] = i
		}
		full.Topics[i].Partitions = append(full.Topics[i].Partitions, p)
	}
	return &full, true
}

// dropUnchanged removes from samsa's full answer the partitions Kafka's
// incremental answer left out that carry nothing (no records, no error).
func dropUnchanged(kafka, samsa *kmsg.FetchResponse, kafkaNorm, samsaNorm *Normalizer) {
	listed := map[string]bool{}
	name := func(n *Normalizer, topic string, id [16]byte) string {
		if topic != "" {
			return topic
		}
		return n.topicNames[id]
	}
	for _, t := range kafka.Topics {
		for _, p := range t.Partitions {
			listed[name(kafkaNorm, t.Topic, t.TopicID)+"\x00"+itoa32(p.Partition)] = true
		}
	}
	var topics []kmsg.FetchResponseTopic
	for _, t := range samsa.Topics {
		var parts []kmsg.FetchResponseTopicPartition
		for _, p := range t.Partitions {
			if !listed[name(samsaNorm, t.Topic, t.TopicID)+"\x00"+itoa32(p.Partition)] && p.ErrorCode == 0 && len(p.RecordBatches) == 0 {
				continue
			}
			parts = append(parts, p)
		}
		if len(parts) > 0 {
			t.Partitions = parts
			topics = append(topics, t)
		}
	}
	samsa.Topics = topics
}
