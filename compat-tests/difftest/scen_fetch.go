package difftest

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch, ListOffsets and OffsetForLeaderEpoch scenarios. They read a
// topic written once: dt.data, partition 0 holds offsets 0-4 (a batch of
// three records, then one of two), partition 1 is empty.

const dataTopic = "dt.data"

func writeData(r *Run) {
	r.OnceFor("dt.data", func() {
		r.CreateTopic(dataTopic, 2, nil)
		r.Produce(dataTopic, 0, Batch(NoProducer, Values("first", 3)...))
		r.Produce(dataTopic, 0, Batch(BatchOpts{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: baseTimestamp + 10}, Values("second", 2)...))
	})
}

// fetchPart is one partition of a Fetch.
type fetchPart struct {
	topic       string
	partition   int32
	offset      int64
	maxBytes    int32
	leaderEpoch int32
}

// fetchReqOf builds a sessionless Fetch (for v13+ the topic goes by id).
func fetchReqOf(s *Side, v int16, parts ...fetchPart) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = v
	req.ReplicaID = -1
	req.MaxWaitMillis = 20
	req.MinBytes = 1
	req.MaxBytes = 50 << 20
	req.SessionEpoch = -1
	for _, p := range parts {
		var t *kmsg.FetchRequestTopic
		for i := range req.Topics {
			if req.Topics[i].Topic == p.topic {
				t = &req.Topics[i]
			}
		}
		if t == nil {
			nt := kmsg.NewFetchRequestTopic()
			nt.Topic = p.topic
			if v >= 13 {
				nt.TopicID = s.TopicID(p.topic)
			}
			req.Topics = append(req.Topics, nt)
			t = &req.Topics[len(req.Topics)-1]
		}
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition = p.partition
		fp.FetchOffset = p.offset
		fp.PartitionMaxBytes = p.maxBytes
		if fp.PartitionMaxBytes == 0 {
			fp.PartitionMaxBytes = 1 << 20
		}
		fp.CurrentLeaderEpoch = p.leaderEpoch
		fp.LogStartOffset = -1
		t.Partitions = append(t.Partitions, fp)
	}
	return req
}

func fetchReq(s *Side, v int16, topic string, partition int32, offset int64) *kmsg.FetchRequest {
	return fetchReqOf(s, v, fetchPart{topic: topic, partition: partition, offset: offset, leaderEpoch: -1})
}

func listOffsetsReq(s *Side, v int16, topic string, partition int32, timestamp int64, leaderEpoch int32) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = v
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	p := kmsg.NewListOffsetsRequestTopicPartition()
	p.Partition = partition
	p.Timestamp = timestamp
	p.CurrentLeaderEpoch = leaderEpoch
	p.MaxNumOffsets = 1
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

func ofleReq(v int16, topic string, partition, leaderEpoch, currentEpoch int32) *kmsg.OffsetForLeaderEpochRequest {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version = v
	req.ReplicaID = -1
	t := kmsg.NewOffsetForLeaderEpochRequestTopic()
	t.Topic = topic
	p := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	p.Partition = partition
	p.LeaderEpoch = leaderEpoch
	p.CurrentLeaderEpoch = currentEpoch
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

func fetchScenarios() []Scenario {
	one := func(r *Run, step string, p fetchPart, edit func(*kmsg.FetchRequest)) [2]Answer {
		return r.Check(step, func(s *Side) kmsg.Request {
			req := fetchReqOf(s, r.V, p)
			if edit != nil {
				edit(req)
			}
			return req
		})
	}
	return []Scenario{
		{Name: "fetch-in-range", API: kmsg.Fetch, Setup: writeData, Run: func(r *Run) {
			for _, off := range []int64{0, 1, 3, 4} {
				one(r, "offset="+itoa32(int32(off)), fetchPart{topic: dataTopic, offset: off, leaderEpoch: -1}, nil)
			}
			one(r, "two-partitions", fetchPart{topic: dataTopic, offset: 0, leaderEpoch: -1}, func(req *kmsg.FetchRequest) {
				p := req.Topics[0].Partitions[0]
				p.Partition = 1
				req.Topics[0].Partitions = append(req.Topics[0].Partitions, p)
			})
		}},
		{Name: "fetch-out-of-range", API: kmsg.Fetch, Setup: writeData, Run: func(r *Run) {
			for _, off := range []int64{6, 100, -1, -5} {
				one(r, "offset="+itoa32(int32(off)), fetchPart{topic: dataTopic, offset: off, leaderEpoch: -1}, nil)
			}
		}},
		{Name: "fetch-at-end", API: kmsg.Fetch, Setup: writeData, Run: func(r *Run) {
			one(r, "end", fetchPart{topic: dataTopic, offset: 5, leaderEpoch: -1}, nil)
			one(r, "empty-partition", fetchPart{topic: dataTopic, partition: 1, offset: 0, leaderEpoch: -1}, nil)
			one(r, "min-bytes-wait", fetchPart{topic: dataTopic, offset: 5, leaderEpoch: -1}, func(req *kmsg.FetchRequest) {
				req.MinBytes = 1 << 20
				req.MaxWaitMillis = 100
			})
		}},
		{Name: "fetch-max-bytes-tiny", API: kmsg.Fetch, Setup: writeData, Run: func(r *Run) {
			one(r, "partition-max-bytes=1", fetchPart{topic: dataTopic, offset: 0, maxBytes: 1, leaderEpoch: -1}, nil)
			one(r, "max-bytes=1", fetchPart{topic: dataTopic, offset: 0, leaderEpoch: -1}, func(req *kmsg.FetchRequest) { req.MaxBytes = 1 })
			one(r, "max-bytes=100", fetchPart{topic: dataTopic, offset: 0, leaderEpoch: -1}, func(req *kmsg.FetchRequest) { req.MaxBytes = 100 })
			one(r, "partition-max-bytes=0", fetchPart{topic: dataTopic, offset: 0, maxBytes: -1, leaderEpoch: -1}, func(req *kmsg.FetchRequest) {
				req.Topics[0].Partitions[0].PartitionMaxBytes = 0
			})
		}},
		{Name: "fetch-isolation", API: kmsg.Fetch, Setup: writeData, Run: func(r *Run) {
			for _, iso := range []int8{0, 1, 2} {
				one(r, "isolation="+itoa32(int32(iso)), fetchPart{topic: dataTopic, offset: 0, leaderEpoch: -1}, func(req *kmsg.FetchRequest) {
					req.IsolationLevel = iso
				})
			}
		}},
		{Name: "fetch-unknown", API: kmsg.Fetch, Setup: writeData, Run: func(r *Run) {
			one(r, "topic", fetchPart{topic: "dt.fetch-unknown.none", offset: 0, leaderEpoch: -1}, nil)
			one(r, "partition", fetchPart{topic: dataTopic, partition: 7, offset: 0, leaderEpoch: -1}, nil)
			one(r, "negative-partition", fetchPart{topic: dataTopic, partition: -1, offset: 0, leaderEpoch: -1}, nil)
			if r.V >= 13 {
				r.Check("topic-id", func(s *Side) kmsg.Request {
					req := fetchReq(s, r.V, dataTopic, 0, 0)
					req.Topics[0].TopicID = [16]byte{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}
					return req
				})
			}
		}},
		{Name: "fetch-leader-epoch", API: kmsg.Fetch, MinV: 9, Setup: writeData, Run: func(r *Run) {
			for _, e := range []int32{0, 5, -1} {
				one(r, "current-epoch="+itoa32(e), fetchPart{topic: dataTopic, offset: 0, leaderEpoch: e}, nil)
			}
			one(r, "last-fetched-epoch", fetchPart{topic: dataTopic, offset: 5, leaderEpoch: 0}, func(req *kmsg.FetchRequest) {
				if r.V >= 12 {
					req.Topics[0].Partitions[0].LastFetchedEpoch = 3
				}
			})
		}},
		{Name: "fetch-sessions", API: kmsg.Fetch, MinV: 7, Setup: writeData, Run: func(r *Run) {
			open := r.Check("open", func(s *Side) kmsg.Request {
				req := fetchReq(s, r.V, dataTopic, 0, 0)
				req.SessionID, req.SessionEpoch = 0, 0
				return req
			})
			incr := func(step string, epoch int32, id func(s *Side) int32, edit func(*Side, *kmsg.FetchRequest)) {
				r.Check(step, func(s *Side) kmsg.Request {
					req := kmsg.NewPtrFetchRequest()
					req.Version = r.V
					req.ReplicaID = -1
					req.MaxWaitMillis = 20
					req.MinBytes = 1
					req.MaxBytes = 50 << 20
					req.SessionID = id(s)
					req.SessionEpoch = epoch
					if edit != nil {
						edit(s, req)
					}
					return req
				})
			}
			sid := func(s *Side) int32 { return respOf[kmsg.FetchResponse](open[s.I]).SessionID }
			incr("incremental", 1, sid, nil)
			incr("incremental-new-offset", 2, sid, func(s *Side, req *kmsg.FetchRequest) {
				t := kmsg.NewFetchRequestTopic()
				t.Topic = dataTopic
				if r.V >= 13 {
					t.TopicID = s.TopicID(dataTopic)
				}
				p := kmsg.NewFetchRequestTopicPartition()
				p.Partition, p.FetchOffset, p.PartitionMaxBytes, p.CurrentLeaderEpoch, p.LogStartOffset = 0, 3, 1<<20, -1, -1
				t.Partitions = append(t.Partitions, p)
				req.Topics = append(req.Topics, t)
			})
			incr("wrong-epoch", 7, sid, nil)
			incr("unknown-session", 1, func(*Side) int32 { return 123456789 }, nil)
			incr("close", -1, sid, nil)
			// Closing a session the broker does not know (epoch -1) is a
			// sessionless full fetch for Kafka.
			incr("close-unknown-session", -1, func(*Side) int32 { return 123456789 }, func(s *Side, req *kmsg.FetchRequest) {
				t := kmsg.NewFetchRequestTopic()
				t.Topic = dataTopic
				if r.V >= 13 {
					t.TopicID = s.TopicID(dataTopic)
				}
				p := kmsg.NewFetchRequestTopicPartition()
				p.Partition, p.FetchOffset, p.PartitionMaxBytes, p.CurrentLeaderEpoch, p.LogStartOffset = 0, 0, 1<<20, -1, -1
				t.Partitions = append(t.Partitions, p)
				req.Topics = append(req.Topics, t)
			})
			incr("session-id-minus-one", -1, func(*Side) int32 { return -1 }, func(s *Side, req *kmsg.FetchRequest) {
				t := kmsg.NewFetchRequestTopic()
				t.Topic = dataTopic
				if r.V >= 13 {
					t.TopicID = s.TopicID(dataTopic)
				}
				p := kmsg.NewFetchRequestTopicPartition()
				p.Partition, p.FetchOffset, p.PartitionMaxBytes, p.CurrentLeaderEpoch, p.LogStartOffset = 0, 3, 1<<20, -1, -1
				t.Partitions = append(t.Partitions, p)
				req.Topics = append(req.Topics, t)
			})
			incr("sessionless-full", -1, func(*Side) int32 { return 0 }, func(s *Side, req *kmsg.FetchRequest) {
				t := kmsg.NewFetchRequestTopic()
				t.Topic = dataTopic
				if r.V >= 13 {
					t.TopicID = s.TopicID(dataTopic)
				}
				p := kmsg.NewFetchRequestTopicPartition()
				p.Partition, p.FetchOffset, p.PartitionMaxBytes, p.CurrentLeaderEpoch, p.LogStartOffset = 0, 0, 1<<20, -1, -1
				t.Partitions = append(t.Partitions, p)
				req.Topics = append(req.Topics, t)
			})
		}},

		{Name: "listoffsets", API: kmsg.ListOffsets, Setup: writeData, Run: func(r *Run) {
			for _, ts := range []struct {
				step string
				ts   int64
				minV int16
			}{
				{"latest", -1, 0}, {"earliest", -2, 0}, {"max-timestamp", -3, 7}, {"earliest-local", -4, 8},
				{"latest-tiered", -5, 9}, {"earliest-pending-upload", -6, 11},
				{"timestamp-first", baseTimestamp, 0}, {"timestamp-mid", baseTimestamp + 1, 0},
				{"timestamp-second-batch", baseTimestamp + 5, 0}, {"timestamp-after-all", baseTimestamp + 100, 0},
				{"timestamp-zero", 0, 0}, {"bad-timestamp", -7, 0},
			} {
				if r.V < ts.minV {
					continue
				}
				r.Check(ts.step, func(s *Side) kmsg.Request { return listOffsetsReq(s, r.V, dataTopic, 0, ts.ts, -1) })
			}
			r.Check("empty-partition", func(s *Side) kmsg.Request { return listOffsetsReq(s, r.V, dataTopic, 1, -1, -1) })
		}},
		{Name: "listoffsets-errors", API: kmsg.ListOffsets, Setup: writeData, Run: func(r *Run) {
			r.Check("unknown-topic", func(s *Side) kmsg.Request { return listOffsetsReq(s, r.V, "dt.listoffsets.none", 0, -1, -1) })
			r.Check("bad-partition", func(s *Side) kmsg.Request { return listOffsetsReq(s, r.V, dataTopic, 9, -1, -1) })
			if r.V >= 4 {
				r.Check("future-leader-epoch", func(s *Side) kmsg.Request { return listOffsetsReq(s, r.V, dataTopic, 0, -1, 5) })
				r.Check("current-leader-epoch", func(s *Side) kmsg.Request { return listOffsetsReq(s, r.V, dataTopic, 0, -1, 0) })
			}
			if r.V >= 2 {
				r.Check("read-committed", func(s *Side) kmsg.Request {
					req := listOffsetsReq(s, r.V, dataTopic, 0, -1, -1)
					req.IsolationLevel = 1
					return req
				})
			}
			r.Check("duplicate-partition", func(s *Side) kmsg.Request {
				req := listOffsetsReq(s, r.V, dataTopic, 0, -1, -1)
				req.Topics[0].Partitions = append(req.Topics[0].Partitions, req.Topics[0].Partitions[0])
				return req
			})
			r.Check("replica-id", func(s *Side) kmsg.Request {
				req := listOffsetsReq(s, r.V, dataTopic, 0, -1, -1)
				req.ReplicaID = 1
				return req
			})
		}},

		{Name: "offsetforleaderepoch", API: kmsg.OffsetForLeaderEpoch, Setup: writeData, Run: func(r *Run) {
			for _, c := range []struct {
				step           string
				epoch, current int32
				topic          string
				partition      int32
			}{
				{step: "current-epoch", epoch: 0, current: -1},
				{step: "current-epoch-fenced-check", epoch: 0, current: 0},
				{step: "old-epoch", epoch: -1, current: -1},
				{step: "future-epoch", epoch: 5, current: -1},
				{step: "future-current-epoch", epoch: 0, current: 5},
				{step: "empty-partition", epoch: 0, current: -1, partition: 1},
				{step: "unknown-topic", epoch: 0, current: -1, topic: "dt.ofle.none"},
				{step: "bad-partition", epoch: 0, current: -1, partition: 4},
			} {
				topic := c.topic
				if topic == "" {
					topic = dataTopic
				}
				r.Check(c.step, func(s *Side) kmsg.Request { return ofleReq(r.V, topic, c.partition, c.epoch, c.current) })
			}
			if r.V >= 3 {
				r.Check("as-follower", func(s *Side) kmsg.Request {
					req := ofleReq(r.V, dataTopic, 0, 0, -1)
					req.ReplicaID = 2
					return req
				})
				r.Check("debug-replica-id", func(s *Side) kmsg.Request {
					req := ofleReq(r.V, dataTopic, 0, 0, -1)
					req.ReplicaID = -2
					return req
				})
			}
		}},
	}
}
