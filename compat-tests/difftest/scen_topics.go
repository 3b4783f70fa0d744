package difftest

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreateTopics, DeleteTopics and CreatePartitions scenarios.

// newTopic is one CreateTopics entry; configs alternate name, value.
func newTopic(name string, partitions int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = name
	t.NumPartitions = partitions
	t.ReplicationFactor = rf
	for i := 0; i+1 < len(configs); i += 2 {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = configs[i]
		c.Value = kmsg.StringPtr(configs[i+1])
		t.Configs = append(t.Configs, c)
	}
	return t
}

func createTopicsReq(v int16, validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = v
	req.TimeoutMillis = 30000
	req.ValidateOnly = validateOnly
	req.Topics = topics
	return req
}

func deleteTopicsReq(v int16, s *Side, names ...string) *kmsg.DeleteTopicsRequest {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = v
	req.TimeoutMillis = 30000
	for _, n := range names {
		if v >= 6 {
			t := kmsg.NewDeleteTopicsRequestTopic()
			t.Topic = kmsg.StringPtr(n)
			req.Topics = append(req.Topics, t)
		} else {
			req.TopicNames = append(req.TopicNames, n)
		}
	}
	return req
}

func createPartitionsReq(v int16, validateOnly bool, topic string, count int32, assignment ...[]int32) *kmsg.CreatePartitionsRequest {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.Version = v
	req.TimeoutMillis = 30000
	req.ValidateOnly = validateOnly
	t := kmsg.NewCreatePartitionsRequestTopic()
	t.Topic = topic
	t.Count = count
	for _, a := range assignment {
		as := kmsg.NewCreatePartitionsRequestTopicAssignment()
		as.Replicas = a
		t.Assignment = append(t.Assignment, as)
	}
	req.Topics = append(req.Topics, t)
	return req
}

func topicScenarios() []Scenario {
	return []Scenario{
		{Name: "createtopics-valid", API: kmsg.CreateTopics, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request {
				return createTopicsReq(r.V, false, newTopic(r.name("a"), 3, 1), newTopic(r.name("b"), 1, -1))
			})
			r.WaitTopic(r.name("a"), 3)
			r.Check("metadata", func(s *Side) kmsg.Request { return metadataReq(r.Max(kmsg.Metadata), r.name("a"), r.name("b")) })
		}},
		{Name: "createtopics-defaults", API: kmsg.CreateTopics, MinV: 4, Run: func(r *Run) {
			// v4+: -1 partitions and replication factor mean the broker's defaults.
			r.Check("", func(s *Side) kmsg.Request { return createTopicsReq(r.V, false, newTopic(r.name("d"), -1, -1)) })
		}},
		{Name: "createtopics-existing", API: kmsg.CreateTopics, Run: func(r *Run) {
			r.CreateTopic(r.name("x"), 1, nil)
			r.Check("", func(s *Side) kmsg.Request { return createTopicsReq(r.V, false, newTopic(r.name("x"), 1, 1)) })
			r.Check("validate-only", func(s *Side) kmsg.Request { return createTopicsReq(r.V, true, newTopic(r.name("x"), 1, 1)) })
		}},
		{Name: "createtopics-duplicate-in-request", API: kmsg.CreateTopics, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request {
				return createTopicsReq(r.V, false, newTopic(r.name("dup"), 1, 1), newTopic(r.name("dup"), 2, 1))
			})
		}},
		{Name: "createtopics-invalid-names", API: kmsg.CreateTopics, Run: func(r *Run) {
			for _, n := range []string{"", ".", "..", "bad name", "a/b", strings.Repeat("y", 250), "__consumer_offsets", "dt.with_underscore.v" + r.vs()} {
				r.Check(stepName(n), func(s *Side) kmsg.Request { return createTopicsReq(r.V, false, newTopic(n, 1, 1)) })
			}
		}},
		{Name: "createtopics-colliding-name", API: kmsg.CreateTopics, Run: func(r *Run) {
			// '.' and '_' collide in metric names: Kafka refuses the second.
			r.CreateTopic("dt.collide_a.v"+r.vs(), 1, nil)
			r.Check("", func(s *Side) kmsg.Request {
				return createTopicsReq(r.V, false, newTopic("dt.collide.a.v"+r.vs(), 1, 1))
			})
		}},
		{Name: "createtopics-bad-partitions", API: kmsg.CreateTopics, Run: func(r *Run) {
			for _, p := range []int32{0, -2, -1} {
				if p == -1 && r.V >= 4 {
					continue // the broker default, see createtopics-defaults
				}
				r.Check("partitions="+itoa32(p), func(s *Side) kmsg.Request {
					return createTopicsReq(r.V, false, newTopic(r.name("p"+itoa32(-p)), p, 1))
				})
			}
		}},
		{Name: "createtopics-bad-replication-factor", API: kmsg.CreateTopics, Run: func(r *Run) {
			for _, rf := range []int16{0, 2, -2} {
				r.Check("rf="+itoa32(int32(rf)), func(s *Side) kmsg.Request {
					return createTopicsReq(r.V, false, newTopic(r.name("rf"+itoa32(int32(-rf))), 1, rf))
				})
			}
		}},
		{Name: "createtopics-configs", API: kmsg.CreateTopics, Run: func(r *Run) {
			r.Check("valid", func(s *Side) kmsg.Request {
				return createTopicsReq(r.V, false, newTopic(r.name("cfg"), 1, 1,
					"cleanup.policy", "compact", "retention.ms", "3600000", "max.message.bytes", "20000", "min.insync.replicas", "1"))
			})
			bad := [][2]string{
				{"retention.ms", "abc"},
				{"cleanup.policy", "nope"},
				{"no.such.config", "1"},
				{"min.insync.replicas", "0"},
				{"segment.bytes", "10"},
				{"compression.type", "brotli"},
				{"message.timestamp.type", "Sometimes"},
			}
			for i, kv := range bad {
				r.Check("invalid-"+kv[0], func(s *Side) kmsg.Request {
					return createTopicsReq(r.V, false, newTopic(r.name("bad"+itoa32(int32(i))), 1, 1, kv[0], kv[1]))
				})
			}
			r.Check("null-value", func(s *Side) kmsg.Request {
				t := newTopic(r.name("nullcfg"), 1, 1)
				c := kmsg.NewCreateTopicsRequestTopicConfig()
				c.Name = "retention.ms"
				t.Configs = append(t.Configs, c)
				return createTopicsReq(r.V, false, t)
			})
		}},
		{Name: "createtopics-validate-only", API: kmsg.CreateTopics, Run: func(r *Run) {
			r.Check("valid", func(s *Side) kmsg.Request { return createTopicsReq(r.V, true, newTopic(r.name("vo"), 2, 1)) })
			r.Check("then-metadata", func(s *Side) kmsg.Request {
				return metadataReq(r.Max(kmsg.Metadata), r.name("vo"))
			})
			r.Check("invalid-config", func(s *Side) kmsg.Request {
				return createTopicsReq(r.V, true, newTopic(r.name("vo2"), 1, 1, "retention.ms", "x"))
			})
		}},
		{Name: "createtopics-manual-assignment", API: kmsg.CreateTopics, Run: func(r *Run) {
			assign := func(name string, parts int32, rf int16, replicas ...[]int32) kmsg.CreateTopicsRequestTopic {
				t := newTopic(name, parts, rf)
				for i, rs := range replicas {
					a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
					a.Partition = int32(i)
					a.Replicas = rs
					t.ReplicaAssignment = append(t.ReplicaAssignment, a)
				}
				return t
			}
			r.Check("valid", func(s *Side) kmsg.Request {
				return createTopicsReq(r.V, false, assign(r.name("ma"), -1, -1, []int32{1}, []int32{1}))
			})
			r.Check("unknown-broker", func(s *Side) kmsg.Request {
				return createTopicsReq(r.V, false, assign(r.name("mb"), -1, -1, []int32{7}))
			})
			r.Check("with-partition-count", func(s *Side) kmsg.Request {
				return createTopicsReq(r.V, false, assign(r.name("mc"), 2, -1, []int32{1}))
			})
			r.Check("duplicate-replica", func(s *Side) kmsg.Request {
				return createTopicsReq(r.V, false, assign(r.name("md"), -1, -1, []int32{1, 1}))
			})
			r.Check("empty-replicas", func(s *Side) kmsg.Request {
				return createTopicsReq(r.V, false, assign(r.name("me"), -1, -1, []int32{}))
			})
		}},
		{Name: "createtopics-empty-request", API: kmsg.CreateTopics, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request { return createTopicsReq(r.V, false) })
		}},

		{Name: "deletetopics-by-name", API: kmsg.DeleteTopics, Run: func(r *Run) {
			topic := r.name("del")
			r.CreateTopic(topic, 2, nil)
			r.Check("", func(s *Side) kmsg.Request { return deleteTopicsReq(r.V, s, topic) })
			r.WaitTopicGone(topic)
			r.Check("metadata-after", func(s *Side) kmsg.Request { return metadataReq(r.Max(kmsg.Metadata), topic) })
			r.Check("again", func(s *Side) kmsg.Request { return deleteTopicsReq(r.V, s, topic) })
		}},
		{Name: "deletetopics-unknown", API: kmsg.DeleteTopics, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request { return deleteTopicsReq(r.V, s, r.name("never"), "") })
		}},
		{Name: "deletetopics-by-id", API: kmsg.DeleteTopics, MinV: 6, Run: func(r *Run) {
			topic := r.name("delid")
			r.CreateTopic(topic, 1, nil)
			byID := func(id [16]byte) *kmsg.DeleteTopicsRequest {
				req := kmsg.NewPtrDeleteTopicsRequest()
				req.Version = r.V
				req.TimeoutMillis = 30000
				t := kmsg.NewDeleteTopicsRequestTopic()
				t.TopicID = id
				req.Topics = append(req.Topics, t)
				return req
			}
			r.Check("known", func(s *Side) kmsg.Request { return byID(s.TopicID(topic)) })
			r.WaitTopicGone(topic)
			r.Check("unknown", func(s *Side) kmsg.Request { return byID([16]byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}) })
			r.Check("zero", func(s *Side) kmsg.Request { return byID([16]byte{}) })
			r.Check("name-and-id", func(s *Side) kmsg.Request {
				req := byID([16]byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9})
				req.Topics[0].Topic = kmsg.StringPtr(topic)
				return req
			})
		}},
		{Name: "deletetopics-then-produce", API: kmsg.DeleteTopics, Once: true, Run: func(r *Run) {
			topic := r.name("gone")
			r.CreateTopic(topic, 1, nil)
			r.Produce(topic, 0, Batch(NoProducer, Values("before", 2)...))
			r.Do(func(s *Side) kmsg.Request { return deleteTopicsReq(r.V, s, topic) })
			r.WaitTopicGone(topic)
			r.Check("produce", func(s *Side) kmsg.Request {
				return produceReq(s, 12, -1, topic, 0, Batch(NoProducer, Values("after", 1)...))
			})
			r.Check("fetch", func(s *Side) kmsg.Request { return fetchReq(s, 12, topic, 0, 0) })
		}},

		{Name: "createpartitions-increase", API: kmsg.CreatePartitions, Run: func(r *Run) {
			topic := r.name("cp")
			r.CreateTopic(topic, 1, nil)
			r.Check("validate-only", func(s *Side) kmsg.Request { return createPartitionsReq(r.V, true, topic, 3) })
			r.Check("", func(s *Side) kmsg.Request { return createPartitionsReq(r.V, false, topic, 3) })
			r.WaitTopic(topic, 3)
			r.Check("metadata", func(s *Side) kmsg.Request { return metadataReq(r.Max(kmsg.Metadata), topic) })
			r.Check("same-count", func(s *Side) kmsg.Request { return createPartitionsReq(r.V, false, topic, 3) })
			r.Check("decrease", func(s *Side) kmsg.Request { return createPartitionsReq(r.V, false, topic, 2) })
			r.Check("with-assignment", func(s *Side) kmsg.Request { return createPartitionsReq(r.V, false, topic, 4, []int32{1}) })
			r.Check("bad-assignment-count", func(s *Side) kmsg.Request {
				return createPartitionsReq(r.V, false, topic, 7, []int32{1})
			})
			r.Check("unknown-broker", func(s *Side) kmsg.Request { return createPartitionsReq(r.V, false, topic, 5, []int32{4}) })
		}},
		{Name: "createpartitions-unknown-topic", API: kmsg.CreatePartitions, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request { return createPartitionsReq(r.V, false, r.name("nope"), 2) })
		}},
		{Name: "describetopicpartitions", API: kmsg.DescribeTopicPartitions,
			Setup: func(r *Run) {
				r.CreateTopic("dt.dtp.a", 3, nil)
				r.CreateTopic("dt.dtp.b", 2, nil)
			},
			Run: func(r *Run) {
				dtp := func(step string, limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, topics ...string) {
					r.Check(step, func(*Side) kmsg.Request {
						req := kmsg.NewPtrDescribeTopicPartitionsRequest()
						req.Version = r.V
						req.ResponsePartitionLimit = limit
						req.Cursor = cursor
						for _, t := range topics {
							rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
							rt.Topic = t
							req.Topics = append(req.Topics, rt)
						}
						return req
					})
				}
				dtp("first-page", 2, nil, "dt.dtp.b", "dt.dtp.a")
				dtp("second-page", 2, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "dt.dtp.a", Partition: 2}, "dt.dtp.a", "dt.dtp.b")
				dtp("exact-page", 3, nil, "dt.dtp.a", "dt.dtp.b")
				dtp("whole", 100, nil, "dt.dtp.a", "dt.dtp.b", "dt.dtp.none", "bad name")
				dtp("stray-cursor", 100, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "dt.dtp.z"}, "dt.dtp.a")
				dtp("zero-limit", 0, nil, "dt.dtp.a")
			}},
		{Name: "createpartitions-duplicate-topic", API: kmsg.CreatePartitions, Run: func(r *Run) {
			topic := r.name("cpd")
			r.CreateTopic(topic, 1, nil)
			r.Check("", func(s *Side) kmsg.Request {
				req := createPartitionsReq(r.V, false, topic, 2)
				req.Topics = append(req.Topics, req.Topics[0])
				return req
			})
		}},
	}
}

// lastScenarios run after all others: Kafka deletes its own
// __consumer_offsets when asked (and recreates it on the next
// FindCoordinator), which would break every group scenario after it.
func lastScenarios() []Scenario {
	return []Scenario{
		{Name: "deletetopics-internal", API: kmsg.DeleteTopics, Once: true, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request { return deleteTopicsReq(r.V, s, "__consumer_offsets") })
		}},
	}
}

// stepName makes a value usable in a step name (no spaces, bounded).
func stepName(s string) string {
	if s == "" {
		return "empty"
	}
	if len(s) > 24 {
		s = s[:12] + "..." + itoa32(int32(len(s)))
	}
	return strings.NewReplacer(" ", "_", "/", "|").Replace(s)
}
