package difftest

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch session scenarios beyond fetch-sessions (scen_fetch.go): what an
// incremental answer lists as the session's partitions change (KIP-227's
// rules for an omitted partition), ForgottenTopics, a session emptied, a
// duplicate epoch, a session used at the other side of the v13 topic-id
// line, a full fetch that replaces the session it names, and a request
// error on a session. Each version gets a topic of its own, so that what
// changed is this run's doing.

// sessPart is one partition named in a session fetch.
type sessPart struct {
	partition int32
	offset    int64
	// leaderEpoch is the current leader epoch sent (v9+); 0 sends -1.
	leaderEpoch int32
}

// sessionFetch builds a Fetch on a session: id, epoch, the partitions it
// adds or updates and the ones it forgets, all of topic.
func sessionFetch(s *Side, v int16, topic string, id, epoch int32, parts []sessPart, forget []int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = v
	req.ReplicaID = -1
	req.MaxWaitMillis = 20
	req.MinBytes = 1
	req.MaxBytes = 50 << 20
	req.SessionID, req.SessionEpoch = id, epoch
	if len(parts) > 0 {
		t := kmsg.NewFetchRequestTopic()
		t.Topic = topic
		if v >= 13 {
			t.TopicID = s.TopicID(topic)
		}
		for _, p := range parts {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch, fp.LogStartOffset = p.partition, p.offset, 1<<20, -1, -1
			if p.leaderEpoch != 0 {
				fp.CurrentLeaderEpoch = p.leaderEpoch
			}
			t.Partitions = append(t.Partitions, fp)
		}
		req.Topics = append(req.Topics, t)
	}
	if len(forget) > 0 {
		ft := kmsg.NewFetchRequestForgottenTopic()
		ft.Topic = topic
		if v >= 13 {
			ft.TopicID = s.TopicID(topic)
		}
		ft.Partitions = forget
		req.ForgottenTopics = append(req.ForgottenTopics, ft)
	}
	return req
}

func fetchSessionScenarios() []Scenario {
	return []Scenario{
		{Name: "fetch-session-changes", API: kmsg.Fetch, MinV: 7, Run: func(r *Run) {
			topic := r.name("s")
			r.CreateTopic(topic, 3, nil)
			r.Produce(topic, 0, Batch(NoProducer, Values("p0", 3)...))
			var ids [2]int32
			sid := func(s *Side) int32 { return ids[s.I] }
			epoch := int32(0)
			step := func(name string, e int32, parts []sessPart, forget []int32) [2]Answer {
				return r.Check(name, func(s *Side) kmsg.Request {
					return sessionFetch(s, r.V, topic, sid(s), e, parts, forget)
				})
			}
			// next steps on the session at its next epoch.
			next := func(name string, parts []sessPart, forget []int32) [2]Answer {
				epoch++
				return step(name, epoch, parts, forget)
			}
			open := step("open", 0, []sessPart{{partition: 0}, {partition: 1}}, nil)
			for i := range ids {
				ids[i] = respOf[kmsg.FetchResponse](open[i]).SessionID
			}
			// p0's cached offset is still 0: its records again; p1 (empty,
			// same high watermark) is left out.
			next("unchanged", nil, nil)
			// p0 moves to its end (no records, same high watermark: left
			// out); p1 gets records at its cached offset 0.
			r.Produce(topic, 1, Batch(NoProducer, Values("p1", 2)...))
			next("new-records", []sessPart{{partition: 0, offset: 3}}, nil)
			// p2 joins (listed: never answered in this session); p1 moves
			// to its end (left out).
			next("add-partition", []sessPart{{partition: 2}, {partition: 1, offset: 2}}, nil)
			// An error is listed, and so is the partition once the error
			// is gone, though nothing else changed (v9+: the current
			// leader epoch).
			next("leader-epoch-error", []sessPart{{partition: 2, leaderEpoch: 5}}, nil)
			next("leader-epoch-fixed", []sessPart{{partition: 2}}, nil)
			next("leader-epoch-settled", nil, nil)
			// p0's cached offset is 3, its end: a new batch there is
			// listed, with its new high watermark.
			r.Produce(topic, 0, Batch(NoProducer, Values("p0b", 2)...))
			next("records-after-produce", nil, nil)
			next("forget", nil, []int32{0})
			// The same epoch again: the session has moved on.
			step("duplicate-epoch", epoch, nil, nil)
			// A partition the topic does not have: an error, listed in
			// every answer.
			next("error-partition", []sessPart{{partition: 7}}, nil)
			next("error-partition-again", nil, nil)
			// Every partition forgotten: the session is closed and the
			// fetch answered without one.
			next("forget-all", nil, []int32{1, 2, 7})
			next("after-forget-all", nil, nil)

			// A session made at one side of v13 and used at the other.
			if other := topicIDSide(r); other >= 0 {
				reopen := step("reopen", 0, []sessPart{{partition: 0}}, nil)
				for i := range ids {
					ids[i] = respOf[kmsg.FetchResponse](reopen[i]).SessionID
				}
				r.Check("other-topic-id-side", func(s *Side) kmsg.Request {
					return sessionFetch(s, other, topic, sid(s), 1, nil, nil)
				})
			}
			// A full fetch (epoch 0) naming a session closes it and makes
			// another; the old id is then unknown.
			first := step("replace-open", 0, []sessPart{{partition: 0, offset: 5}}, nil)
			var old [2]int32
			for i := range ids {
				old[i] = respOf[kmsg.FetchResponse](first[i]).SessionID
				ids[i] = old[i]
			}
			second := step("replace", 0, []sessPart{{partition: 0, offset: 5}}, nil)
			for i := range ids {
				ids[i] = old[i]
			}
			step("replaced-session", 1, nil, nil)
			for i := range ids {
				ids[i] = respOf[kmsg.FetchResponse](second[i]).SessionID
			}
			step("replacing-session", 1, nil, nil)
			// A request error on a session: the request fails, with the
			// session id echoed.
			r.Check("isolation=2", func(s *Side) kmsg.Request {
				req := sessionFetch(s, r.V, topic, sid(s), 2, []sessPart{{partition: 0}}, nil)
				req.IsolationLevel = 2
				return req
			})
			step("close", -1, nil, nil)
			step("closed-session", 3, nil, nil)
		}},
	}
}

// topicIDSide is a Fetch version on the other side of the v13 topic-id
// line from the run's that both brokers serve, or -1.
func topicIDSide(r *Run) int16 {
	lo, hi, ok := commonVersions(r.Sides, kmsg.Fetch.Int16())
	if !ok {
		return -1
	}
	if r.V >= 13 && lo <= 12 {
		return 12
	}
	if r.V < 13 && hi >= 13 {
		return 13
	}
	return -1
}
