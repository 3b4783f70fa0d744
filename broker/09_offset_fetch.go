package broker

// OffsetFetch (key 9), served v1-v10.
//
//	v0: not served (offsets in ZooKeeper; removed by KIP-896).
//	v1: offsets stored by the coordinator.
//	v2: top-level error code; null topics = every committed partition.
//	v3: throttle time.
//	v4: same as v3.
//	v5: committed leader epoch.
//	v6: flexible.
//	v7: require_stable (KIP-447): a partition with a transactional offset
//	    pending (TxnOffsetCommit whose transaction has not ended) is
//	    answered UNSTABLE_OFFSET_COMMIT with offset -1, which the consumer
//	    retries; without it the committed offset is answered as before.
//	v8: several groups per request (KIP-709), per-group error codes.
//	v9: KIP-848 member id and epoch, validated for consumer groups.
//	v10: topics by id.
//
// A group with no commit for a partition, or no such group at all, answers
// offset -1 with no error, as Kafka does.

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/coordinator/group"
)

func init() { register(kmsg.OffsetFetch, 1, 10, handleOffsetFetch) }

// fetchTopic is one requested topic of one group.
type fetchTopic struct {
	name       string
	id         [16]byte
	partitions []int32
}

type fetchedTopic struct {
	name       string
	id         [16]byte
	partitions []kmsg.OffsetFetchResponseGroupTopicPartition
}

func handleOffsetFetch(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	snap := b.store.Snapshot()
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			var topics []fetchTopic
			if rg.Topics != nil {
				topics = make([]fetchTopic, 0, len(rg.Topics))
				for _, t := range rg.Topics {
					topics = append(topics, fetchTopic{name: t.Topic, id: t.TopicID, partitions: t.Partitions})
				}
			}
			code, out := b.fetchGroupOffsets(snap, req.Version, rg.Group, rg.MemberID, rg.MemberEpoch, topics, rg.Topics == nil, req.RequireStable)
			code, out = b.authorizeOffsetFetch(rc, rg.Group, topics, code, out, rg.Topics == nil) // acl.go
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group = rg.Group
			g.ErrorCode = code
			for _, ft := range out {
				t := kmsg.NewOffsetFetchResponseGroupTopic()
				t.Topic, t.TopicID, t.Partitions = ft.name, ft.id, ft.partitions
				g.Topics = append(g.Topics, t)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}
	var topics []fetchTopic
	all := req.Topics == nil && req.Version >= 2
	for _, t := range req.Topics {
		topics = append(topics, fetchTopic{name: t.Topic, partitions: t.Partitions})
	}
	code, out := b.fetchGroupOffsets(snap, req.Version, req.Group, nil, -1, topics, all, req.Version >= 7 && req.RequireStable)
	code, out = b.authorizeOffsetFetch(rc, req.Group, topics, code, out, all) // acl.go
	if req.Version >= 2 {
		resp.ErrorCode = code
	}
	for _, ft := range out {
		t := kmsg.NewOffsetFetchResponseTopic()
		t.Topic = ft.name
		for _, p := range ft.partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
			t.Partitions = append(t.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// fetchGroupOffsets answers one group: a group-level error code and the
// topics (every requested partition, or every committed one when all).
func (b *Broker) fetchGroupOffsets(snap *coordinator.Snapshot, version int16, groupID string, memberID *string, memberEpoch int32, topics []fetchTopic, all, requireStable bool) (int16, []fetchedTopic) {
	partErr := func(code int16) []fetchedTopic {
		out := make([]fetchedTopic, 0, len(topics))
		for _, t := range topics {
			ft := fetchedTopic{name: t.name, id: t.id}
			for _, p := range t.partitions {
				ft.partitions = append(ft.partitions, offsetFetchPartition(p, group.Offset{Offset: -1, LeaderEpoch: -1}, code))
			}
			out = append(out, ft)
		}
		return out
	}
	if e := b.groupError(groupID); e != nil {
		return e.Code, partErr(e.Code)
	}
	args := group.FetchArgs{Group: groupID, MemberID: memberID, MemberEpoch: memberEpoch, RequireStable: requireStable}
	unknownID := make(map[int]bool)
	if !all {
		args.Topics = make(map[string][]int32, len(topics))
		for i := range topics {
			if version >= 10 {
				tm := snap.TopicByID(topics[i].id)
				if tm == nil {
					unknownID[i] = true
					continue
				}
				topics[i].name = tm.Info.Name
			}
			args.Topics[topics[i].name] = append(args.Topics[topics[i].name], topics[i].partitions...)
		}
	}
	offsets, code := b.groups.FetchOffsets(args)
	if code != 0 {
		return code, partErr(code)
	}
	if all {
		names := make([]string, 0, len(offsets))
		for t := range offsets {
			names = append(names, t)
		}
		sort.Strings(names)
		out := make([]fetchedTopic, 0, len(names))
		for _, name := range names {
			ft := fetchedTopic{name: name}
			if tm := snap.Topic(name); tm != nil {
				ft.id = tm.Info.ID
			} else if version >= 10 {
				continue // a deleted topic has no id to name it by
			}
			ps := make([]int32, 0, len(offsets[name]))
			for p := range offsets[name] {
				ps = append(ps, p)
			}
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			for _, p := range ps {
				ft.partitions = append(ft.partitions, offsetFetchPartition(p, offsets[name][p], 0))
			}
			out = append(out, ft)
		}
		return 0, out
	}
	out := make([]fetchedTopic, 0, len(topics))
	for i, t := range topics {
		ft := fetchedTopic{name: t.name, id: t.id}
		for _, p := range t.partitions {
			if unknownID[i] {
				ft.partitions = append(ft.partitions, offsetFetchPartition(p, group.Offset{Offset: -1, LeaderEpoch: -1}, kerr.UnknownTopicID.Code))
				continue
			}
			ft.partitions = append(ft.partitions, offsetFetchPartition(p, offsets[t.name][p], 0))
		}
		out = append(out, ft)
	}
	return 0, out
}

func offsetFetchPartition(p int32, o group.Offset, code int16) kmsg.OffsetFetchResponseGroupTopicPartition {
	rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
	rp.Partition = p
	if o.Unstable && code == 0 {
		code = kerr.UnstableOffsetCommit.Code
	}
	rp.Offset = o.Offset
	rp.LeaderEpoch = o.LeaderEpoch
	rp.Metadata = strPtr(o.Metadata)
	rp.ErrorCode = code
	return rp
}
