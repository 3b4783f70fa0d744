package difftest

import (
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Classic consumer-group scenarios: FindCoordinator, JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete,
// DescribeGroups, ListGroups, DeleteGroups. Group names are per scenario
// and version, so that no run sees another's members.

// consumerMeta is a consumer protocol subscription to topics.
func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 0
	m.Topics = topics
	return m.AppendTo(nil)
}

// consumerAssign is a consumer protocol assignment of partitions of topic.
func consumerAssign(topic string, partitions ...int32) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = 0
	t := kmsg.NewConsumerMemberAssignmentTopic()
	t.Topic = topic
	t.Partitions = partitions
	a.Topics = append(a.Topics, t)
	return a.AppendTo(nil)
}

func joinReq(v int16, group, member string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = v
	req.Group = group
	req.SessionTimeoutMillis = 30000
	req.RebalanceTimeoutMillis = 10000
	req.MemberID = member
	req.ProtocolType = "consumer"
	for _, name := range []string{"range", "roundrobin"} {
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name = name
		p.Metadata = consumerMeta(dataTopic)
		req.Protocols = append(req.Protocols, p)
	}
	return req
}

func syncReq(v int16, group, member string, gen int32, assign bool) *kmsg.SyncGroupRequest {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = v
	req.Group = group
	req.Generation = gen
	req.MemberID = member
	req.ProtocolType = kmsg.StringPtr("consumer")
	req.Protocol = kmsg.StringPtr("range")
	if assign {
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID = member
		a.MemberAssignment = consumerAssign(dataTopic, 0, 1)
		req.GroupAssignment = append(req.GroupAssignment, a)
	}
	return req
}

func heartbeatReq(v int16, group, member string, gen int32) *kmsg.HeartbeatRequest {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = v
	req.Group = group
	req.Generation = gen
	req.MemberID = member
	return req
}

func leaveReq(v int16, group string, members ...string) *kmsg.LeaveGroupRequest {
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = v
	req.Group = group
	if v <= 2 {
		if len(members) > 0 {
			req.MemberID = members[0]
		}
		return req
	}
	for _, m := range members {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = m
		req.Members = append(req.Members, lm)
	}
	return req
}

// member is one side's view of a joined member.
type member struct {
	id  string
	gen int32
}

// joinStable makes a classic group with one member (the leader) that has
// synced, using the highest common versions; it returns that member per
// side. Each step is checked under step names "join*"/"sync".
func (r *Run) joinStable(group string) [2]member {
	jv, sv := r.Max(kmsg.JoinGroup), r.Max(kmsg.SyncGroup)
	first := r.DoRetry(func(s *Side) kmsg.Request { return joinReq(jv, group, "") },
		func(resp kmsg.Response) int16 { return resp.(*kmsg.JoinGroupResponse).ErrorCode })
	var out [2]member
	for i, resp := range first {
		j := resp.(*kmsg.JoinGroupResponse)
		out[i] = member{id: j.MemberID, gen: j.Generation}
		if j.ErrorCode != 0 && j.ErrorCode != kerr.MemberIDRequired.Code {
			r.Fatalf("join %s on %s: %v", group, r.Sides[i].Name, kerr.ErrorForCode(j.ErrorCode))
		}
	}
	again := r.Do(func(s *Side) kmsg.Request { return joinReq(jv, group, out[s.I].id) })
	for i, resp := range again {
		j := resp.(*kmsg.JoinGroupResponse)
		if j.ErrorCode != 0 {
			r.Fatalf("rejoin %s on %s: %v", group, r.Sides[i].Name, kerr.ErrorForCode(j.ErrorCode))
		}
		out[i].gen = j.Generation
	}
	sync := r.Do(func(s *Side) kmsg.Request { return syncReq(sv, group, out[s.I].id, out[s.I].gen, true) })
	for i, resp := range sync {
		if code := resp.(*kmsg.SyncGroupResponse).ErrorCode; code != 0 {
			r.Fatalf("sync %s on %s: %v", group, r.Sides[i].Name, kerr.ErrorForCode(code))
		}
	}
	return out
}

// leaveAll makes a group empty again (set-up, not checked).
func (r *Run) leaveAll(group string, m [2]member) {
	r.Do(func(s *Side) kmsg.Request { return leaveReq(r.Max(kmsg.LeaveGroup), group, m[s.I].id) })
}

func commitReq(s *Side, v int16, group, memberID string, gen int32, topic string, offsets map[int32]int64, meta string) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = v
	req.Group = group
	req.Generation = gen
	req.MemberID = memberID
	req.RetentionTimeMillis = -1
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic = topic
	if v >= 10 {
		t.TopicID = s.TopicID(topic)
	}
	for p := int32(0); p < 16; p++ {
		off, ok := offsets[p]
		if !ok {
			continue
		}
		cp := kmsg.NewOffsetCommitRequestTopicPartition()
		cp.Partition = p
		cp.Offset = off
		cp.LeaderEpoch = -1
		cp.Metadata = kmsg.StringPtr(meta)
		t.Partitions = append(t.Partitions, cp)
	}
	req.Topics = append(req.Topics, t)
	return req
}

// fetchOffsetsReq asks for group's offsets of topic's partitions (all of
// the group's offsets if partitions is nil and v >= 2).
func fetchOffsetsReq(s *Side, v int16, group, topic string, partitions []int32) *kmsg.OffsetFetchRequest {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = v
	if v >= 8 {
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = group
		g.MemberEpoch = -1
		if partitions != nil {
			t := kmsg.NewOffsetFetchRequestGroupTopic()
			t.Topic = topic
			if v >= 10 {
				t.TopicID = s.TopicID(topic)
			}
			t.Partitions = partitions
			g.Topics = append(g.Topics, t)
		}
		req.Groups = append(req.Groups, g)
		return req
	}
	req.Group = group
	if partitions != nil {
		t := kmsg.NewOffsetFetchRequestTopic()
		t.Topic = topic
		t.Partitions = partitions
		req.Topics = append(req.Topics, t)
	}
	return req
}

func findCoordinatorReq(v int16, keyType int8, keys ...string) *kmsg.FindCoordinatorRequest {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = v
	req.CoordinatorType = keyType
	if v >= 4 {
		req.CoordinatorKeys = keys
	} else if len(keys) > 0 {
		req.CoordinatorKey = keys[0]
	}
	return req
}

// keepGroups drops from a ListGroups response the groups whose names do
// not start with prefix.
func keepGroups(prefix string) func(kmsg.Response) {
	return func(resp kmsg.Response) {
		lg, ok := resp.(*kmsg.ListGroupsResponse)
		if !ok {
			return
		}
		var kept []kmsg.ListGroupsResponseGroup
		for _, g := range lg.Groups {
			if strings.HasPrefix(g.Group, prefix) {
				kept = append(kept, g)
			}
		}
		lg.Groups = kept
	}
}

func groupScenarios() []Scenario {
	return []Scenario{
		{Name: "findcoordinator", API: kmsg.FindCoordinator, Run: func(r *Run) {
			r.Check("group", func(s *Side) kmsg.Request { return findCoordinatorReq(r.V, 0, r.name("g")) })
			if r.V >= 1 {
				r.Check("transaction", func(s *Side) kmsg.Request { return findCoordinatorReq(r.V, 1, r.name("txn")) })
				r.Check("bad-key-type", func(s *Side) kmsg.Request { return findCoordinatorReq(r.V, 5, r.name("g")) })
				r.Check("share-key-type", func(s *Side) kmsg.Request { return findCoordinatorReq(r.V, 2, r.name("g")+":t:0") })
			}
			r.Check("empty-key", func(s *Side) kmsg.Request { return findCoordinatorReq(r.V, 0, "") })
			if r.V >= 4 {
				r.Check("batched", func(s *Side) kmsg.Request { return findCoordinatorReq(r.V, 0, "dt-a", "dt-b", "") })
				r.Check("batched-none", func(s *Side) kmsg.Request { return findCoordinatorReq(r.V, 0) })
			}
		}},

		{Name: "joingroup-new-member", API: kmsg.JoinGroup, Setup: writeData, Run: func(r *Run) {
			group := r.name("g")
			first := r.Check("no-member-id", func(s *Side) kmsg.Request { return joinReq(r.V, group, "") })
			id := func(s *Side) string { return respOf[kmsg.JoinGroupResponse](first[s.I]).MemberID }
			gen := func(s *Side) int32 { return respOf[kmsg.JoinGroupResponse](first[s.I]).Generation }
			if r.V >= 4 {
				second := r.Check("with-member-id", func(s *Side) kmsg.Request { return joinReq(r.V, group, id(s)) })
				gen = func(s *Side) int32 { return respOf[kmsg.JoinGroupResponse](second[s.I]).Generation }
			}
			r.Check("sync", func(s *Side) kmsg.Request { return syncReq(r.Max(kmsg.SyncGroup), group, id(s), gen(s), true) })
			r.Check("rejoin-stable", func(s *Side) kmsg.Request { return joinReq(r.V, group, id(s)) })
			r.Check("leave", func(s *Side) kmsg.Request { return leaveReq(r.Max(kmsg.LeaveGroup), group, id(s)) })
		}},
		{Name: "joingroup-errors", API: kmsg.JoinGroup, Setup: writeData, Run: func(r *Run) {
			r.Check("empty-group-id", func(s *Side) kmsg.Request { return joinReq(r.V, "", "") })
			r.Check("session-timeout-too-small", func(s *Side) kmsg.Request {
				req := joinReq(r.V, r.name("small"), "")
				req.SessionTimeoutMillis = 100
				return req
			})
			r.Check("session-timeout-too-large", func(s *Side) kmsg.Request {
				req := joinReq(r.V, r.name("large"), "")
				req.SessionTimeoutMillis = 3_600_000
				return req
			})
			r.Check("unknown-member-id", func(s *Side) kmsg.Request { return joinReq(r.V, r.name("unknown"), "no-such-member") })
			r.Check("no-protocols", func(s *Side) kmsg.Request {
				req := joinReq(r.V, r.name("noproto"), "")
				req.Protocols = nil
				return req
			})
			r.Check("empty-protocol-type", func(s *Side) kmsg.Request {
				req := joinReq(r.V, r.name("notype"), "")
				req.ProtocolType = ""
				return req
			})
			group := r.name("mismatch")
			m := r.joinStable(group)
			r.Check("protocol-type-mismatch", func(s *Side) kmsg.Request {
				req := joinReq(r.V, group, "")
				req.ProtocolType = "connect"
				return req
			})
			r.Check("no-common-protocol", func(s *Side) kmsg.Request {
				req := joinReq(r.V, group, "")
				req.Protocols = req.Protocols[:0]
				p := kmsg.NewJoinGroupRequestProtocol()
				p.Name = "sticky"
				p.Metadata = consumerMeta(dataTopic)
				req.Protocols = append(req.Protocols, p)
				return req
			})
			r.leaveAll(group, m)
		}},
		{Name: "joingroup-static-member", API: kmsg.JoinGroup, MinV: 5, Setup: writeData, Run: func(r *Run) {
			group := r.name("static")
			first := r.Check("join", func(s *Side) kmsg.Request {
				req := joinReq(r.V, group, "")
				req.InstanceID = kmsg.StringPtr("instance-1")
				return req
			})
			id := func(s *Side) string { return respOf[kmsg.JoinGroupResponse](first[s.I]).MemberID }
			gen := func(s *Side) int32 { return respOf[kmsg.JoinGroupResponse](first[s.I]).Generation }
			r.Check("sync", func(s *Side) kmsg.Request {
				req := syncReq(r.Max(kmsg.SyncGroup), group, id(s), gen(s), true)
				req.InstanceID = kmsg.StringPtr("instance-1")
				return req
			})
			r.Check("rejoin-same-instance-new-member", func(s *Side) kmsg.Request {
				req := joinReq(r.V, group, "")
				req.InstanceID = kmsg.StringPtr("instance-1")
				return req
			})
			r.Check("old-member-heartbeat", func(s *Side) kmsg.Request {
				req := heartbeatReq(r.Max(kmsg.Heartbeat), group, id(s), gen(s))
				req.InstanceID = kmsg.StringPtr("instance-1")
				return req
			})
		}},

		{Name: "syncgroup", API: kmsg.SyncGroup, Setup: writeData, Run: func(r *Run) {
			group := r.name("g")
			jv := r.Max(kmsg.JoinGroup)
			first := r.Do(func(s *Side) kmsg.Request { return joinReq(jv, group, "") })
			joined := r.Do(func(s *Side) kmsg.Request {
				return joinReq(jv, group, first[s.I].(*kmsg.JoinGroupResponse).MemberID)
			})
			id := func(s *Side) string { return joined[s.I].(*kmsg.JoinGroupResponse).MemberID }
			gen := func(s *Side) int32 { return joined[s.I].(*kmsg.JoinGroupResponse).Generation }
			r.Check("bad-generation", func(s *Side) kmsg.Request { return syncReq(r.V, group, id(s), gen(s)+1, true) })
			r.Check("unknown-member", func(s *Side) kmsg.Request { return syncReq(r.V, group, "nobody", gen(s), true) })
			if r.V >= 5 {
				r.Check("protocol-type-mismatch", func(s *Side) kmsg.Request {
					req := syncReq(r.V, group, id(s), gen(s), true)
					req.ProtocolType = kmsg.StringPtr("connect")
					return req
				})
				r.Check("protocol-mismatch", func(s *Side) kmsg.Request {
					req := syncReq(r.V, group, id(s), gen(s), true)
					req.Protocol = kmsg.StringPtr("roundrobin")
					return req
				})
			}
			r.Check("leader", func(s *Side) kmsg.Request { return syncReq(r.V, group, id(s), gen(s), true) })
			r.Check("again-no-assignment", func(s *Side) kmsg.Request { return syncReq(r.V, group, id(s), gen(s), false) })
			r.Check("unknown-group", func(s *Side) kmsg.Request { return syncReq(r.V, r.name("none"), "nobody", 1, false) })
			r.Check("empty-group-id", func(s *Side) kmsg.Request { return syncReq(r.V, "", "nobody", 1, false) })
			r.Check("leave", func(s *Side) kmsg.Request { return leaveReq(r.Max(kmsg.LeaveGroup), group, id(s)) })
		}},

		{Name: "heartbeat", API: kmsg.Heartbeat, Setup: writeData, Run: func(r *Run) {
			group := r.name("g")
			m := r.joinStable(group)
			r.Check("ok", func(s *Side) kmsg.Request { return heartbeatReq(r.V, group, m[s.I].id, m[s.I].gen) })
			r.Check("bad-generation", func(s *Side) kmsg.Request { return heartbeatReq(r.V, group, m[s.I].id, m[s.I].gen+5) })
			r.Check("unknown-member", func(s *Side) kmsg.Request { return heartbeatReq(r.V, group, "nobody", m[s.I].gen) })
			r.Check("unknown-group", func(s *Side) kmsg.Request { return heartbeatReq(r.V, r.name("none"), "nobody", 1) })
			r.Check("empty-group-id", func(s *Side) kmsg.Request { return heartbeatReq(r.V, "", "nobody", 1) })
			// A second member joins: the first one's heartbeat says a
			// rebalance is on, and its rejoin completes the round.
			jv := r.Max(kmsg.JoinGroup)
			pending := r.Do(func(s *Side) kmsg.Request { return joinReq(jv, group, "") })
			second := r.Go("second", "second-join", func(s *Side) kmsg.Request {
				return joinReq(jv, group, pending[s.I].(*kmsg.JoinGroupResponse).MemberID)
			})
			r.waitGroupState(group, "PreparingRebalance")
			r.Check("during-rebalance", func(s *Side) kmsg.Request { return heartbeatReq(r.V, group, m[s.I].id, m[s.I].gen) })
			rejoin := r.Go("main", "first-rejoin", func(s *Side) kmsg.Request { return joinReq(jv, group, m[s.I].id) })
			rejoined := rejoin()
			second()
			r.Check("old-generation", func(s *Side) kmsg.Request { return heartbeatReq(r.V, group, m[s.I].id, m[s.I].gen) })
			r.Check("new-generation-before-sync", func(s *Side) kmsg.Request {
				return heartbeatReq(r.V, group, m[s.I].id, respOf[kmsg.JoinGroupResponse](rejoined[s.I]).Generation)
			})
		}},

		{Name: "leavegroup", API: kmsg.LeaveGroup, Setup: writeData, Run: func(r *Run) {
			group := r.name("g")
			m := r.joinStable(group)
			r.Check("unknown-member", func(s *Side) kmsg.Request { return leaveReq(r.V, group, "nobody") })
			if r.V >= 3 {
				r.Check("known-and-unknown", func(s *Side) kmsg.Request { return leaveReq(r.V, group, m[s.I].id, "nobody") })
			} else {
				r.Check("known", func(s *Side) kmsg.Request { return leaveReq(r.V, group, m[s.I].id) })
			}
			r.Check("again", func(s *Side) kmsg.Request { return leaveReq(r.V, group, m[s.I].id) })
			r.Check("unknown-group", func(s *Side) kmsg.Request { return leaveReq(r.V, r.name("none"), "nobody") })
			r.Check("empty-group-id", func(s *Side) kmsg.Request { return leaveReq(r.V, "", "nobody") })
			if r.V >= 3 {
				r.Check("no-members", func(s *Side) kmsg.Request { return leaveReq(r.V, group) })
			}
			r.Check("describe-after", func(s *Side) kmsg.Request { return describeGroupsReq(r.Max(kmsg.DescribeGroups), group) })
		}},

		{Name: "offsetcommit", API: kmsg.OffsetCommit, Setup: writeData, Run: func(r *Run) {
			group := r.name("g")
			m := r.joinStable(group)
			commit := func(step, memberID string, gen int32, topic string, offsets map[int32]int64, meta string, edit func(*kmsg.OffsetCommitRequest)) {
				r.Check(step, func(s *Side) kmsg.Request {
					mid, g := memberID, gen
					if mid == "" && gen == 0 {
						mid, g = m[s.I].id, m[s.I].gen
					}
					req := commitReq(s, r.V, group, mid, g, topic, offsets, meta)
					if edit != nil {
						edit(req)
					}
					return req
				})
			}
			commit("member", "", 0, dataTopic, map[int32]int64{0: 3, 1: 0}, "meta", nil)
			commit("bad-generation", "", 0, dataTopic, map[int32]int64{0: 4}, "", func(req *kmsg.OffsetCommitRequest) { req.Generation += 3 })
			commit("unknown-member", "nobody", 1, dataTopic, map[int32]int64{0: 4}, "", nil)
			commit("standalone-on-active-group", "", -1, dataTopic, map[int32]int64{0: 4}, "", nil)
			commit("unknown-topic", "", 0, "dt.offsetcommit.none", map[int32]int64{0: 1}, "", nil)
			commit("bad-partition", "", 0, dataTopic, map[int32]int64{9: 1}, "", nil)
			commit("metadata-too-large", "", 0, dataTopic, map[int32]int64{0: 2}, strings.Repeat("m", 5000), nil)
			commit("offset-beyond-end", "", 0, dataTopic, map[int32]int64{0: 1000}, "", nil)
			commit("negative-offset", "", 0, dataTopic, map[int32]int64{0: -7}, "", nil)
			r.Check("fetch-after", func(s *Side) kmsg.Request {
				return fetchOffsetsReq(s, r.Max(kmsg.OffsetFetch), group, dataTopic, []int32{0, 1})
			})
			simple := r.name("simple")
			r.Check("simple-group", func(s *Side) kmsg.Request {
				return commitReq(s, r.V, simple, "", -1, dataTopic, map[int32]int64{0: 2}, "")
			})
			r.Check("empty-group-id", func(s *Side) kmsg.Request {
				return commitReq(s, r.V, "", "", -1, dataTopic, map[int32]int64{0: 2}, "")
			})
			if r.V >= 10 {
				r.Check("unknown-topic-id", func(s *Side) kmsg.Request {
					req := commitReq(s, r.V, simple, "", -1, dataTopic, map[int32]int64{0: 2}, "")
					req.Topics[0].TopicID = [16]byte{3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}
					return req
				})
			}
			r.leaveAll(group, m)
		}},

		{Name: "offsetfetch", API: kmsg.OffsetFetch, Setup: writeData, Run: func(r *Run) {
			group := r.name("g")
			r.Do(func(s *Side) kmsg.Request {
				return commitReq(s, r.Max(kmsg.OffsetCommit), group, "", -1, dataTopic, map[int32]int64{0: 2, 1: 0}, "m")
			})
			r.Check("partitions", func(s *Side) kmsg.Request { return fetchOffsetsReq(s, r.V, group, dataTopic, []int32{0, 1, 5}) })
			if r.V >= 2 {
				r.Check("all", func(s *Side) kmsg.Request { return fetchOffsetsReq(s, r.V, group, dataTopic, nil) })
			}
			r.Check("unknown-group", func(s *Side) kmsg.Request { return fetchOffsetsReq(s, r.V, r.name("none"), dataTopic, []int32{0}) })
			r.Check("unknown-topic", func(s *Side) kmsg.Request { return fetchOffsetsReq(s, r.V, group, "dt.offsetfetch.none", []int32{0}) })
			r.Check("empty-group-id", func(s *Side) kmsg.Request { return fetchOffsetsReq(s, r.V, "", dataTopic, []int32{0}) })
			if r.V >= 7 {
				r.Check("require-stable", func(s *Side) kmsg.Request {
					req := fetchOffsetsReq(s, r.V, group, dataTopic, []int32{0})
					req.RequireStable = true
					return req
				})
			}
			if r.V >= 8 {
				r.Check("batched", func(s *Side) kmsg.Request {
					req := fetchOffsetsReq(s, r.V, group, dataTopic, []int32{0})
					other := fetchOffsetsReq(s, r.V, r.name("other"), dataTopic, nil)
					req.Groups = append(req.Groups, other.Groups...)
					return req
				})
			}
			if r.V >= 9 {
				r.Check("member-epoch-on-classic", func(s *Side) kmsg.Request {
					req := fetchOffsetsReq(s, r.V, group, dataTopic, []int32{0})
					req.Groups[0].MemberID = kmsg.StringPtr("nobody")
					req.Groups[0].MemberEpoch = 3
					return req
				})
			}
		}},

		{Name: "offsetdelete", API: kmsg.OffsetDelete, Setup: writeData, Run: func(r *Run) {
			simple := r.name("simple")
			del := func(group, topic string, partitions ...int32) func(s *Side) kmsg.Request {
				return func(s *Side) kmsg.Request {
					req := kmsg.NewPtrOffsetDeleteRequest()
					req.Version = r.V
					req.Group = group
					t := kmsg.NewOffsetDeleteRequestTopic()
					t.Topic = topic
					for _, p := range partitions {
						dp := kmsg.NewOffsetDeleteRequestTopicPartition()
						dp.Partition = p
						t.Partitions = append(t.Partitions, dp)
					}
					req.Topics = append(req.Topics, t)
					return req
				}
			}
			r.Do(func(s *Side) kmsg.Request {
				return commitReq(s, r.Max(kmsg.OffsetCommit), simple, "", -1, dataTopic, map[int32]int64{0: 2, 1: 1}, "")
			})
			r.Check("empty-group", del(simple, dataTopic, 0))
			r.Check("fetch-after", func(s *Side) kmsg.Request {
				return fetchOffsetsReq(s, r.Max(kmsg.OffsetFetch), simple, dataTopic, []int32{0, 1})
			})
			r.Check("unknown-group", del(r.name("none"), dataTopic, 0))
			r.Check("unknown-topic", del(simple, "dt.offsetdelete.none", 0))
			r.Check("bad-partition", del(simple, dataTopic, 8))
			active := r.name("active")
			m := r.joinStable(active)
			r.Do(func(s *Side) kmsg.Request {
				return commitReq(s, r.Max(kmsg.OffsetCommit), active, m[s.I].id, m[s.I].gen, dataTopic, map[int32]int64{0: 1}, "")
			})
			r.Check("subscribed-topic", del(active, dataTopic, 0))
			r.leaveAll(active, m)
		}},

		{Name: "describegroups", API: kmsg.DescribeGroups, Setup: writeData, Run: func(r *Run) {
			group := r.name("g")
			m := r.joinStable(group)
			r.Check("stable", func(s *Side) kmsg.Request { return describeGroupsReq(r.V, group) })
			r.Check("unknown", func(s *Side) kmsg.Request { return describeGroupsReq(r.V, r.name("none")) })
			r.Check("empty-id", func(s *Side) kmsg.Request { return describeGroupsReq(r.V, "") })
			if r.V >= 3 {
				r.Check("authorized-operations", func(s *Side) kmsg.Request {
					req := describeGroupsReq(r.V, group)
					req.IncludeAuthorizedOperations = true
					return req
				})
			}
			r.leaveAll(group, m)
			r.Check("empty", func(s *Side) kmsg.Request { return describeGroupsReq(r.V, group) })
		}},

		{Name: "listgroups", API: kmsg.ListGroups, Setup: writeData, Run: func(r *Run) {
			prefix := r.name("")
			stable := r.name("stable")
			m := r.joinStable(stable)
			r.Do(func(s *Side) kmsg.Request {
				return commitReq(s, r.Max(kmsg.OffsetCommit), r.name("empty"), "", -1, dataTopic, map[int32]int64{0: 1}, "")
			})
			list := func(states, types []string) func(s *Side) kmsg.Request {
				return func(s *Side) kmsg.Request {
					req := kmsg.NewPtrListGroupsRequest()
					req.Version = r.V
					req.StatesFilter = states
					req.TypesFilter = types
					return req
				}
			}
			r.CheckFiltered("all", list(nil, nil), keepGroups(prefix))
			if r.V >= 4 {
				r.CheckFiltered("states-stable", list([]string{"Stable"}, nil), keepGroups(prefix))
				r.CheckFiltered("states-unknown", list([]string{"Nonsense"}, nil), keepGroups(prefix))
			}
			if r.V >= 5 {
				r.CheckFiltered("types-classic", list(nil, []string{"classic"}), keepGroups(prefix))
				r.CheckFiltered("types-consumer", list(nil, []string{"consumer"}), keepGroups(prefix))
			}
			r.leaveAll(stable, m)
		}},

		{Name: "deletegroups", API: kmsg.DeleteGroups, Setup: writeData, Run: func(r *Run) {
			empty := r.name("empty")
			r.Do(func(s *Side) kmsg.Request {
				return commitReq(s, r.Max(kmsg.OffsetCommit), empty, "", -1, dataTopic, map[int32]int64{0: 1}, "")
			})
			active := r.name("active")
			m := r.joinStable(active)
			r.Check("", func(s *Side) kmsg.Request {
				req := kmsg.NewPtrDeleteGroupsRequest()
				req.Version = r.V
				req.Groups = []string{empty, active, r.name("none"), ""}
				return req
			})
			r.Check("fetch-deleted", func(s *Side) kmsg.Request {
				return fetchOffsetsReq(s, r.Max(kmsg.OffsetFetch), empty, dataTopic, []int32{0})
			})
			r.leaveAll(active, m)
		}},
	}
}

// waitGroupState waits (up to 10 s) until both brokers describe group in
// state: a request sent on another connection has reached the group.
func (r *Run) waitGroupState(group, state string) {
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range r.Sides {
		for {
			a := s.request("setup", describeGroupsReq(r.Max(kmsg.DescribeGroups), group))
			if a.Err == nil {
				if gs := a.Resp.(*kmsg.DescribeGroupsResponse).Groups; len(gs) == 1 && gs[0].State == state {
					break
				}
			}
			if time.Now().After(deadline) {
				r.Fatalf("group %s not %s on %s after 10 s", group, state, s.Name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func describeGroupsReq(v int16, groups ...string) *kmsg.DescribeGroupsRequest {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version = v
	req.Groups = groups
	return req
}
