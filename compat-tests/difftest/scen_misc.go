package difftest

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// KIP-848 consumer groups (ConsumerGroupHeartbeat, ConsumerGroupDescribe),
// InitProducerID, DescribeCluster and the config APIs (DescribeConfigs,
// AlterConfigs, IncrementalAlterConfigs).

func cgHeartbeatReq(v int16, group, memberID string, epoch int32, topics ...string) *kmsg.ConsumerGroupHeartbeatRequest {
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = v
	req.Group = group
	req.MemberID = memberID
	req.MemberEpoch = epoch
	req.RebalanceTimeoutMillis = 30000
	if epoch == 0 {
		req.SubscribedTopicNames = topics
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	} else {
		req.RebalanceTimeoutMillis = -1
	}
	return req
}

// kip848Member is the member id the v1 scenarios send (v1 members pick
// their own, KIP-1082); v0 members get one from the broker.
const kip848Member = "dtmember0000000000000A"

func consumerGroupScenarios() []Scenario {
	join := func(r *Run, group string) [2]Answer {
		return r.Check("join", func(s *Side) kmsg.Request {
			id := ""
			if r.V >= 1 {
				id = kip848Member
			}
			return cgHeartbeatReq(r.V, group, id, 0, dataTopic)
		})
	}
	memberOf := func(a Answer) (string, int32) {
		resp := respOf[kmsg.ConsumerGroupHeartbeatResponse](a)
		id := ""
		if resp.MemberID != nil {
			id = *resp.MemberID
		}
		return id, resp.MemberEpoch
	}
	return []Scenario{
		// A KIP-848 member's commits at every OffsetCommit version: Kafka
		// takes them from v9 on only.
		{Name: "offsetcommit-consumer-member", API: kmsg.OffsetCommit, Setup: writeData, Run: func(r *Run) {
			group := r.name("g")
			hv := r.Max(kmsg.ConsumerGroupHeartbeat)
			joined := r.Check("join", func(s *Side) kmsg.Request { return cgHeartbeatReq(hv, group, kip848Member, 0, dataTopic) })
			r.Check("commit", func(s *Side) kmsg.Request {
				_, epoch := memberOf(joined[s.I])
				return commitReq(s, r.V, group, kip848Member, epoch, dataTopic, map[int32]int64{0: 1}, "")
			})
			r.Check("leave", func(s *Side) kmsg.Request { return cgHeartbeatReq(hv, group, kip848Member, -1) })
		}},
		{Name: "consumergroupheartbeat", API: kmsg.ConsumerGroupHeartbeat, Setup: writeData, Run: func(r *Run) {
			group := r.name("g")
			joined := join(r, group)
			r.Check("heartbeat", func(s *Side) kmsg.Request {
				id, epoch := memberOf(joined[s.I])
				return cgHeartbeatReq(r.V, group, id, epoch)
			})
			r.Check("fenced-epoch", func(s *Side) kmsg.Request {
				id, epoch := memberOf(joined[s.I])
				return cgHeartbeatReq(r.V, group, id, epoch+10)
			})
			r.Check("unknown-member", func(s *Side) kmsg.Request {
				return cgHeartbeatReq(r.V, group, "dtnosuchmember00000000", 1)
			})
			r.Check("describe", func(s *Side) kmsg.Request { return cgDescribeReq(r.Max(kmsg.ConsumerGroupDescribe), group) })
			r.Check("leave", func(s *Side) kmsg.Request {
				id, _ := memberOf(joined[s.I])
				return cgHeartbeatReq(r.V, group, id, -1)
			})
			r.Check("after-leave", func(s *Side) kmsg.Request {
				id, epoch := memberOf(joined[s.I])
				return cgHeartbeatReq(r.V, group, id, epoch)
			})
		}},
		{Name: "consumergroupheartbeat-errors", API: kmsg.ConsumerGroupHeartbeat, Setup: writeData, Run: func(r *Run) {
			id := ""
			if r.V >= 1 {
				id = kip848Member
			}
			r.Check("empty-group-id", func(s *Side) kmsg.Request { return cgHeartbeatReq(r.V, "", id, 0, dataTopic) })
			r.Check("no-subscription", func(s *Side) kmsg.Request {
				req := cgHeartbeatReq(r.V, r.name("nosub"), id, 0)
				req.SubscribedTopicNames = nil
				return req
			})
			r.Check("unknown-assignor", func(s *Side) kmsg.Request {
				req := cgHeartbeatReq(r.V, r.name("assignor"), id, 0, dataTopic)
				req.ServerAssignor = kmsg.StringPtr("nonsense")
				return req
			})
			r.Check("missing-rebalance-timeout", func(s *Side) kmsg.Request {
				req := cgHeartbeatReq(r.V, r.name("rto"), id, 0, dataTopic)
				req.RebalanceTimeoutMillis = -1
				return req
			})
			if r.V >= 1 {
				r.Check("no-member-id", func(s *Side) kmsg.Request { return cgHeartbeatReq(r.V, r.name("noid"), "", 0, dataTopic) })
				r.Check("regex-subscription", func(s *Side) kmsg.Request {
					req := cgHeartbeatReq(r.V, r.name("regex"), id, 0)
					req.SubscribedTopicRegex = kmsg.StringPtr("dt\\.data")
					return req
				})
				r.Check("bad-regex", func(s *Side) kmsg.Request {
					req := cgHeartbeatReq(r.V, r.name("badregex"), id, 0)
					req.SubscribedTopicRegex = kmsg.StringPtr("dt(")
					return req
				})
			}
			classic := r.name("classic")
			m := r.joinStable(classic)
			r.Check("classic-group", func(s *Side) kmsg.Request { return cgHeartbeatReq(r.V, classic, id, 0, dataTopic) })
			r.leaveAll(classic, m)
		}},
		{Name: "consumergroupdescribe", API: kmsg.ConsumerGroupDescribe, Setup: writeData, Run: func(r *Run) {
			group := r.name("g")
			r.Do(func(s *Side) kmsg.Request {
				return cgHeartbeatReq(r.Max(kmsg.ConsumerGroupHeartbeat), group, kip848Member, 0, dataTopic)
			})
			r.Check("stable", func(s *Side) kmsg.Request { return cgDescribeReq(r.V, group) })
			r.Check("authorized-operations", func(s *Side) kmsg.Request {
				req := cgDescribeReq(r.V, group)
				req.IncludeAuthorizedOperations = true
				return req
			})
			r.Check("unknown", func(s *Side) kmsg.Request { return cgDescribeReq(r.V, r.name("none")) })
			r.Check("empty-id", func(s *Side) kmsg.Request { return cgDescribeReq(r.V, "") })
			classic := r.name("classic")
			m := r.joinStable(classic)
			r.Check("classic-group", func(s *Side) kmsg.Request { return cgDescribeReq(r.V, classic) })
			r.leaveAll(classic, m)
		}},

		{Name: "initproducerid", API: kmsg.InitProducerID, Run: func(r *Run) {
			init := func(txnID *string, timeout int32, pid int64, epoch int16) func(*Side) kmsg.Request {
				return func(*Side) kmsg.Request {
					req := kmsg.NewPtrInitProducerIDRequest()
					req.Version = r.V
					req.TransactionalID = txnID
					req.TransactionTimeoutMillis = timeout
					req.ProducerID = pid
					req.ProducerEpoch = epoch
					return req
				}
			}
			r.Check("idempotent", init(nil, 60000, -1, -1))
			r.Check("idempotent-second", init(nil, 60000, -1, -1))
			if r.V >= 3 {
				r.Check("idempotent-with-unknown-pid", init(nil, 60000, 999_999, 0))
				r.Check("idempotent-pid-without-epoch", init(nil, 60000, 999_999, -1))
			}
			r.Check("transactional", init(kmsg.StringPtr(r.name("txn")), 60000, -1, -1))
			r.Check("transactional-bad-timeout", init(kmsg.StringPtr(r.name("txn2")), 3_600_000, -1, -1))
			r.Check("transactional-empty-id", init(kmsg.StringPtr(""), 60000, -1, -1))
		}},

		{Name: "describecluster", API: kmsg.DescribeCluster, Run: func(r *Run) {
			describe := func(ops bool, endpoint int8, fenced bool) func(*Side) kmsg.Request {
				return func(*Side) kmsg.Request {
					req := kmsg.NewPtrDescribeClusterRequest()
					req.Version = r.V
					req.IncludeClusterAuthorizedOperations = ops
					req.EndpointType = endpoint
					req.IncludeFencedBrokers = fenced
					return req
				}
			}
			r.Check("", describe(false, 1, false))
			r.Check("authorized-operations", describe(true, 1, false))
			if r.V >= 1 {
				r.Check("controllers", describe(false, 2, false))
				r.Check("bad-endpoint-type", describe(false, 7, false))
			}
			if r.V >= 2 {
				r.Check("fenced", describe(false, 1, true))
			}
		}},
	}
}

func cgDescribeReq(v int16, groups ...string) *kmsg.ConsumerGroupDescribeRequest {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Version = v
	req.Groups = groups
	return req
}

// Config resource types.
const (
	resTopic       = kmsg.ConfigResourceType(2)
	resBroker      = kmsg.ConfigResourceType(4)
	resBrokerLog   = kmsg.ConfigResourceType(8)
	resGroupConfig = kmsg.ConfigResourceType(32)
)

// brokerKeys are broker configs both brokers must describe alike (the
// rest of Kafka's ~200 broker configs are not samsa's business).
var brokerKeys = []string{
	"num.partitions", "auto.create.topics.enable", "default.replication.factor", "min.insync.replicas",
	"message.max.bytes", "log.retention.ms", "log.retention.hours", "log.retention.bytes", "log.segment.bytes",
	"log.cleanup.policy", "compression.type", "offsets.topic.num.partitions", "group.initial.rebalance.delay.ms",
	"log.message.timestamp.type", "delete.topic.enable", "unclean.leader.election.enable",
}

func describeConfigsReq(v int16, synonyms, docs bool, rt kmsg.ConfigResourceType, name string, keys ...string) *kmsg.DescribeConfigsRequest {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version = v
	req.IncludeSynonyms = synonyms
	req.IncludeDocumentation = docs
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType = rt
	res.ResourceName = name
	res.ConfigNames = keys
	req.Resources = append(req.Resources, res)
	return req
}

// keepConfigs drops from a DescribeConfigs response the broker configs
// not in brokerKeys.
func keepConfigs(resp kmsg.Response) {
	dc, ok := resp.(*kmsg.DescribeConfigsResponse)
	if !ok {
		return
	}
	want := map[string]bool{}
	for _, k := range brokerKeys {
		want[k] = true
	}
	for i := range dc.Resources {
		if dc.Resources[i].ResourceType != resBroker {
			continue
		}
		var kept []kmsg.DescribeConfigsResponseResourceConfig
		for _, c := range dc.Resources[i].Configs {
			if want[c.Name] {
				kept = append(kept, c)
			}
		}
		dc.Resources[i].Configs = kept
	}
}

func alterConfigsReq(v int16, validateOnly bool, rt kmsg.ConfigResourceType, name string, kv ...string) *kmsg.AlterConfigsRequest {
	req := kmsg.NewPtrAlterConfigsRequest()
	req.Version = v
	req.ValidateOnly = validateOnly
	res := kmsg.NewAlterConfigsRequestResource()
	res.ResourceType = rt
	res.ResourceName = name
	for i := 0; i+1 < len(kv); i += 2 {
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name = kv[i]
		c.Value = kmsg.StringPtr(kv[i+1])
		res.Configs = append(res.Configs, c)
	}
	req.Resources = append(req.Resources, res)
	return req
}

type incOp struct {
	name  string
	op    int8
	value *string
}

func incAlterReq(v int16, validateOnly bool, rt kmsg.ConfigResourceType, name string, ops ...incOp) *kmsg.IncrementalAlterConfigsRequest {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.Version = v
	req.ValidateOnly = validateOnly
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType = rt
	res.ResourceName = name
	for _, o := range ops {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name = o.name
		c.Op = kmsg.IncrementalAlterConfigOp(o.op)
		c.Value = o.value
		res.Configs = append(res.Configs, c)
	}
	req.Resources = append(req.Resources, res)
	return req
}

func configScenarios() []Scenario {
	sp := kmsg.StringPtr
	return []Scenario{
		// Only requests that leave Kafka's features as they are: the
		// run's Kafka is shared by every scenario.
		{Name: "updatefeatures", API: kmsg.UpdateFeatures, Run: func(r *Run) {
			up := func(step, feature string, level int16, typ int8) {
				r.Check(step, func(s *Side) kmsg.Request {
					req := kmsg.NewPtrUpdateFeaturesRequest()
					req.Version = r.V
					u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
					u.Feature, u.MaxVersionLevel, u.UpgradeType = feature, level, typ
					req.FeatureUpdates = append(req.FeatureUpdates, u)
					return req
				})
			}
			up("noop-group-version", "group.version", 1, 1)
			up("noop-metadata-version", "metadata.version", 33, 1)
			up("unknown-feature", "samsa.difftest.version", 1, 1)
			if r.V >= 1 {
				up("bad-upgrade-type", "group.version", 1, 9)
			}
		}},
		{Name: "describeconfigs-topic", API: kmsg.DescribeConfigs,
			Setup: func(r *Run) {
				r.CreateTopic("dt.describeconfigs.t", 1, map[string]string{"retention.ms": "3600000", "cleanup.policy": "compact"})
			},
			Run: func(r *Run) {
				t := "dt.describeconfigs.t"
				r.Check("all", func(*Side) kmsg.Request { return describeConfigsReq(r.V, false, false, resTopic, t) })
				r.Check("all-synonyms", func(*Side) kmsg.Request { return describeConfigsReq(r.V, true, false, resTopic, t) })
				if r.V >= 3 {
					r.Check("documentation", func(*Side) kmsg.Request {
						return describeConfigsReq(r.V, false, true, resTopic, t, "retention.ms")
					})
				}
				r.Check("some-keys", func(*Side) kmsg.Request {
					return describeConfigsReq(r.V, true, false, resTopic, t, "retention.ms", "segment.bytes", "no.such.key")
				})
				r.Check("unknown-topic", func(*Side) kmsg.Request {
					return describeConfigsReq(r.V, false, false, resTopic, "dt.describeconfigs.none")
				})
				r.Check("empty-topic-name", func(*Side) kmsg.Request { return describeConfigsReq(r.V, false, false, resTopic, "") })
			}},
		{Name: "describeconfigs-broker", API: kmsg.DescribeConfigs, Run: func(r *Run) {
			r.CheckFiltered("all", func(*Side) kmsg.Request { return describeConfigsReq(r.V, false, false, resBroker, "1") }, keepConfigs)
			r.Check("keys", func(*Side) kmsg.Request {
				return describeConfigsReq(r.V, true, false, resBroker, "1", brokerKeys...)
			})
			r.Check("default-resource", func(*Side) kmsg.Request {
				return describeConfigsReq(r.V, false, false, resBroker, "", "num.partitions")
			})
			r.Check("other-broker", func(*Side) kmsg.Request {
				return describeConfigsReq(r.V, false, false, resBroker, "2", "num.partitions")
			})
			r.Check("bad-broker-id", func(*Side) kmsg.Request {
				return describeConfigsReq(r.V, false, false, resBroker, "one", "num.partitions")
			})
			r.Check("broker-logger", func(*Side) kmsg.Request {
				return describeConfigsReq(r.V, false, false, resBrokerLog, "1", "kafka.server")
			})
			r.Check("unknown-resource-type", func(*Side) kmsg.Request { return describeConfigsReq(r.V, false, false, 99, "1") })
			r.Check("group-resource", func(*Side) kmsg.Request { return describeConfigsReq(r.V, false, false, resGroupConfig, "dt-g") })
		}},

		{Name: "alterconfigs-topic", API: kmsg.AlterConfigs, Run: func(r *Run) {
			t := r.name("t")
			r.CreateTopic(t, 1, map[string]string{"retention.ms": "3600000"})
			r.Check("valid", func(*Side) kmsg.Request { return alterConfigsReq(r.V, false, resTopic, t, "segment.ms", "7200000") })
			r.waitConfig(t, "segment.ms", func(c kmsg.DescribeConfigsResponseResourceConfig) bool {
				return c.Value != nil && *c.Value == "7200000"
			})
			r.Check("describe-after", func(*Side) kmsg.Request {
				return describeConfigsReq(r.Max(kmsg.DescribeConfigs), false, false, resTopic, t, "retention.ms", "segment.ms")
			})
			r.Check("validate-only", func(*Side) kmsg.Request { return alterConfigsReq(r.V, true, resTopic, t, "retention.ms", "1000") })
			r.Check("bad-value", func(*Side) kmsg.Request { return alterConfigsReq(r.V, false, resTopic, t, "retention.ms", "soon") })
			r.Check("unknown-key", func(*Side) kmsg.Request { return alterConfigsReq(r.V, false, resTopic, t, "no.such.key", "1") })
			r.Check("unknown-topic", func(*Side) kmsg.Request {
				return alterConfigsReq(r.V, false, resTopic, r.name("none"), "retention.ms", "1000")
			})
			r.Check("null-value", func(*Side) kmsg.Request {
				req := alterConfigsReq(r.V, false, resTopic, t, "retention.ms", "1")
				req.Resources[0].Configs[0].Value = nil
				return req
			})
			r.Check("duplicate-key", func(*Side) kmsg.Request {
				return alterConfigsReq(r.V, false, resTopic, t, "retention.ms", "1000", "retention.ms", "2000")
			})
		}},
		{Name: "alterconfigs-broker", API: kmsg.AlterConfigs, Run: func(r *Run) {
			r.Check("read-only-key", func(*Side) kmsg.Request { return alterConfigsReq(r.V, true, resBroker, "1", "num.partitions", "3") })
			r.Check("unknown-key", func(*Side) kmsg.Request { return alterConfigsReq(r.V, true, resBroker, "1", "no.such.key", "3") })
			r.Check("other-broker", func(*Side) kmsg.Request {
				return alterConfigsReq(r.V, true, resBroker, "5", "log.cleaner.threads", "2")
			})
		}},

		// Dynamic broker configs, per broker and cluster-wide, with a
		// property that changes nothing on either side
		// (log.cleaner.threads): the run's Kafka is shared, so each step
		// that sets one is undone at the end.
		{Name: "describequorum", API: kmsg.DescribeQuorum, Run: func(r *Run) {
			for _, p := range []int32{0, 1} {
				r.Check("partition="+itoa32(p), func(*Side) kmsg.Request {
					req := kmsg.NewPtrDescribeQuorumRequest()
					req.Version = r.V
					rt := kmsg.NewDescribeQuorumRequestTopic()
					rt.Topic = "__cluster_metadata"
					rp := kmsg.NewDescribeQuorumRequestTopicPartition()
					rp.Partition = p
					rt.Partitions = append(rt.Partitions, rp)
					req.Topics = append(req.Topics, rt)
					return req
				})
			}
		}},
		{Name: "incrementalalterconfigs-broker", API: kmsg.IncrementalAlterConfigs, Run: func(r *Run) {
			inc := func(step, name string, validateOnly bool, ops ...incOp) {
				r.Check(step, func(*Side) kmsg.Request { return incAlterReq(r.V, validateOnly, resBroker, name, ops...) })
			}
			dv := r.Max(kmsg.DescribeConfigs)
			inc("set-default", "", false, incOp{"log.cleaner.threads", 0, sp("2")})
			r.waitBrokerConfig("", "log.cleaner.threads", "2")
			r.Check("describe-default", func(*Side) kmsg.Request { return describeConfigsReq(dv, true, false, resBroker, "") })
			inc("set-broker", "1", false, incOp{"log.cleaner.threads", 0, sp("3")})
			r.waitBrokerConfig("1", "log.cleaner.threads", "3")
			r.Check("describe-broker", func(*Side) kmsg.Request {
				return describeConfigsReq(dv, true, false, resBroker, "1", "log.cleaner.threads")
			})
			inc("read-only", "", false, incOp{"log.retention.hours", 0, sp("1")})
			inc("bad-value", "1", false, incOp{"log.cleaner.threads", 0, sp("-3")})
			inc("cross-property", "1", false, incOp{"max.connections.per.ip", 0, sp("0")})
			inc("validate-only", "1", true, incOp{"log.cleaner.threads", 0, sp("4")})
			inc("duplicate-key", "1", false, incOp{"log.cleaner.threads", 0, sp("4")}, incOp{"log.cleaner.threads", 1, nil})
			inc("delete-broker", "1", false, incOp{"log.cleaner.threads", 1, nil})
			inc("delete-default", "", false, incOp{"log.cleaner.threads", 1, nil})
			r.waitBrokerConfig("1", "log.cleaner.threads", "1")
			r.Check("describe-after", func(*Side) kmsg.Request {
				return describeConfigsReq(dv, true, false, resBroker, "1", "log.cleaner.threads")
			})
		}},
		// The legacy AlterConfigs replaces a broker's dynamic configs.
		{Name: "alterconfigs-broker-dynamic", API: kmsg.AlterConfigs, Run: func(r *Run) {
			dv := r.Max(kmsg.DescribeConfigs)
			r.Check("set", func(*Side) kmsg.Request {
				return alterConfigsReq(r.V, false, resBroker, "1", "log.cleaner.threads", "2")
			})
			r.waitBrokerConfig("1", "log.cleaner.threads", "2")
			r.Check("describe", func(*Side) kmsg.Request {
				return describeConfigsReq(dv, false, false, resBroker, "1", "log.cleaner.threads")
			})
			r.Check("clear", func(*Side) kmsg.Request { return alterConfigsReq(r.V, false, resBroker, "1") })
			r.waitBrokerConfig("1", "log.cleaner.threads", "1")
		}},
		// KIP-848 group configs: any group name, existing or not.
		{Name: "groupconfigs", API: kmsg.IncrementalAlterConfigs, Run: func(r *Run) {
			g := r.name("g")
			dv := r.Max(kmsg.DescribeConfigs)
			inc := func(step string, ops ...incOp) {
				r.Check(step, func(*Side) kmsg.Request { return incAlterReq(r.V, false, resGroupConfig, g, ops...) })
			}
			inc("set", incOp{"consumer.session.timeout.ms", 0, sp("50000")}, incOp{"consumer.heartbeat.interval.ms", 0, sp("6000")})
			r.waitGroupConfig(g, "consumer.session.timeout.ms", "50000")
			r.Check("describe", func(*Side) kmsg.Request {
				return describeConfigsReq(dv, true, false, resGroupConfig, g, "consumer.session.timeout.ms", "consumer.heartbeat.interval.ms")
			})
			inc("out-of-range", incOp{"consumer.session.timeout.ms", 0, sp("1000")})
			inc("heartbeat-out-of-range", incOp{"consumer.heartbeat.interval.ms", 0, sp("60000")})
			inc("unknown-key", incOp{"no.such.group.config", 0, sp("1")})
			inc("bad-value", incOp{"consumer.session.timeout.ms", 0, sp("soon")})
			inc("delete", incOp{"consumer.session.timeout.ms", 1, nil}, incOp{"consumer.heartbeat.interval.ms", 1, nil})
			r.waitGroupConfig(g, "consumer.session.timeout.ms", "45000")
			r.Check("describe-after", func(*Side) kmsg.Request {
				return describeConfigsReq(dv, true, false, resGroupConfig, g, "consumer.session.timeout.ms")
			})
			r.Check("empty-name", func(*Side) kmsg.Request {
				return incAlterReq(r.V, false, resGroupConfig, "", incOp{"consumer.session.timeout.ms", 0, sp("50000")})
			})
			r.Check("describe-empty-name", func(*Side) kmsg.Request { return describeConfigsReq(dv, false, false, resGroupConfig, "") })
		}},
		{Name: "incrementalalterconfigs", API: kmsg.IncrementalAlterConfigs, Run: func(r *Run) {
			t := r.name("t")
			r.CreateTopic(t, 1, nil)
			inc := func(step string, validateOnly bool, ops ...incOp) {
				r.Check(step, func(*Side) kmsg.Request { return incAlterReq(r.V, validateOnly, resTopic, t, ops...) })
			}
			inc("set", false, incOp{"retention.ms", 0, sp("3600000")}, incOp{"cleanup.policy", 0, sp("compact")})
			r.waitConfig(t, "cleanup.policy", func(c kmsg.DescribeConfigsResponseResourceConfig) bool {
				return c.Value != nil && *c.Value == "compact"
			})
			r.Check("describe-after-set", func(*Side) kmsg.Request {
				return describeConfigsReq(r.Max(kmsg.DescribeConfigs), false, false, resTopic, t, "retention.ms", "cleanup.policy")
			})
			inc("append", false, incOp{"cleanup.policy", 2, sp("delete")})
			inc("append-duplicate", false, incOp{"cleanup.policy", 2, sp("delete")})
			inc("subtract", false, incOp{"cleanup.policy", 3, sp("compact")})
			inc("append-to-non-list", false, incOp{"retention.ms", 2, sp("5")})
			inc("delete", false, incOp{"retention.ms", 1, nil})
			r.waitConfig(t, "retention.ms", func(c kmsg.DescribeConfigsResponseResourceConfig) bool {
				return c.Source != kmsg.ConfigSourceDynamicTopicConfig
			})
			r.Check("describe-after", func(*Side) kmsg.Request {
				return describeConfigsReq(r.Max(kmsg.DescribeConfigs), false, false, resTopic, t, "retention.ms", "cleanup.policy")
			})
			inc("delete-unset", false, incOp{"segment.ms", 1, nil})
			inc("bad-op", false, incOp{"retention.ms", 9, sp("1")})
			inc("bad-value", false, incOp{"retention.ms", 0, sp("x")})
			inc("null-value-set", false, incOp{"retention.ms", 0, nil})
			inc("unknown-key", false, incOp{"no.such.key", 0, sp("1")})
			inc("duplicate-key", false, incOp{"retention.ms", 0, sp("1")}, incOp{"retention.ms", 1, nil})
			inc("validate-only", true, incOp{"retention.ms", 0, sp("1000")})
			r.Check("unknown-topic", func(*Side) kmsg.Request {
				return incAlterReq(r.V, false, resTopic, r.name("none"), incOp{"retention.ms", 0, sp("1")})
			})
			r.Check("broker-read-only", func(*Side) kmsg.Request {
				return incAlterReq(r.V, true, resBroker, "1", incOp{"num.partitions", 0, sp("3")})
			})
			r.Check("broker-dynamic", func(*Side) kmsg.Request {
				return incAlterReq(r.V, true, resBroker, "1", incOp{"log.cleaner.threads", 0, sp("2")})
			})
		}},
	}
}

// waitBrokerConfig waits (up to 10 s) until both brokers describe the
// broker resource's key with value want (the default resource lists only
// dynamic defaults: there want "" means the key is gone).
func (r *Run) waitBrokerConfig(name, key, want string) {
	r.waitResourceConfig(resBroker, name, key, want)
}

// waitGroupConfig is waitBrokerConfig for a GROUP resource.
func (r *Run) waitGroupConfig(group, key, want string) {
	r.waitResourceConfig(resGroupConfig, group, key, want)
}

func (r *Run) waitResourceConfig(typ kmsg.ConfigResourceType, name, key, want string) {
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range r.Sides {
		for {
			a := s.request("setup", describeConfigsReq(r.Max(kmsg.DescribeConfigs), false, false, typ, name, key))
			done := false
			if a.Err == nil {
				for _, res := range a.Resp.(*kmsg.DescribeConfigsResponse).Resources {
					for _, c := range res.Configs {
						if c.Name == key && c.Value != nil && *c.Value == want {
							done = true
						}
					}
				}
			}
			if done {
				break
			}
			if time.Now().After(deadline) {
				r.Fatalf("%s=%s of %v %q not described by %s after 10 s", key, want, typ, name, s.Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// waitConfig waits (up to 10 s) until both brokers describe topic's key so
// that ok holds: Kafka applies an alteration through its controller and
// describes it a moment later.
func (r *Run) waitConfig(topic, key string, ok func(kmsg.DescribeConfigsResponseResourceConfig) bool) {
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range r.Sides {
		for {
			a := s.request("setup", describeConfigsReq(r.Max(kmsg.DescribeConfigs), false, false, resTopic, topic, key))
			done := false
			if a.Err == nil {
				for _, res := range a.Resp.(*kmsg.DescribeConfigsResponse).Resources {
					for _, c := range res.Configs {
						if c.Name == key && ok(c) {
							done = true
						}
					}
				}
			}
			if done {
				break
			}
			if time.Now().After(deadline) {
				r.Fatalf("%s of %s not applied on %s after 10 s", key, topic, s.Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
