package broker

// ListOffsets (key 2), v1-v11.
//
//	v0: old-style offset arrays; removed by KIP-896, not served.
//	v1: a single offset and its timestamp.
//	v2: isolation level: READ_COMMITTED answers up to the last stable
//	    offset (latest is the last stable offset; a lookup by timestamp,
//	    or the largest timestamp, finds only offsets below it), as
//	    Kafka's lastFetchableOffset; READ_UNCOMMITTED up to the high
//	    watermark.
//	v3: same as v2.
//	v4: current leader epoch in the request, leader epoch in the response.
//	v5: same as v4 (OFFSET_NOT_AVAILABLE may be returned).
//	v6: flexible.
//	v7: timestamp -3: the record with the largest timestamp (KIP-734).
//	v8: timestamp -4: earliest local offset (= earliest, no tiered storage).
//	v9: timestamp -5: latest tiered offset (none: -1).
//	v10: timeout (unused: nothing here is remote).
//	v11: timestamp -6: earliest pending upload (none: -1).
//
// Special timestamps: -2 earliest, -1 latest; another negative one is
// UNSUPPORTED_VERSION, as Kafka answers a lookup it does not know. The
// leader epoch of the latest offset is the leader's current epoch, also
// before anything was written in it (Kafka's epoch cache gains it when
// the broker becomes leader).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ListOffsets, 1, 11, handleListOffsets) }

const (
	tsLatest             = -1
	tsEarliest           = -2
	tsMaxTimestamp       = -3
	tsEarliestLocal      = -4
	tsLatestTiered       = -5
	tsEarliestPendingUpl = -6
)

func handleListOffsets(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	// A partition asked for more than once is answered once, with
	// INVALID_REQUEST, as Kafka answers it.
	type tp struct {
		topic     string
		partition int32
	}
	count := make(map[tp]int)
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			count[tp{rt.Topic, rp.Partition}]++
		}
	}
	resp.Topics = make([]kmsg.ListOffsetsResponseTopic, 0, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ListOffsetsResponseTopicPartition, 0, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			key := tp{rt.Topic, rp.Partition}
			if count[key] < 0 {
				continue // answered already
			}
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp = -1
			sp.Offset = -1
			sp.LeaderEpoch = -1
			if count[key] > 1 {
				sp.ErrorCode = kerr.InvalidRequest.Code
				count[key] = -1
			} else if !b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, rt.Topic) { // acl.go
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else {
				sp.ErrorCode = b.listOffset(rt.Topic, rp, &sp, req.IsolationLevel == 1)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (b *Broker) listOffset(topic string, rp *kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition, readCommitted bool) int16 {
	p := b.partition(topic, rp.Partition)
	if p == nil {
		ke, _ := b.notServedError(b.store.Snapshot(), topic, rp.Partition, false, true)
		return ke.Code
	}
	epoch := p.leaderEpoch.Load()
	if rp.CurrentLeaderEpoch >= 0 {
		if rp.CurrentLeaderEpoch < epoch {
			return kerr.FencedLeaderEpoch.Code
		} else if rp.CurrentLeaderEpoch > epoch {
			return kerr.UnknownLeaderEpoch.Code
		}
	}
	l := p.log
	// hwm: the last fetchable offset + 1 for the isolation level.
	hwm := l.HighWatermark()
	if readCommitted {
		hwm = l.LastStableOffset()
	}
	switch ts := rp.Timestamp; {
	case ts == tsLatest:
		// Kafka's leader-epoch cache holds the leader's epoch from the
		// moment it leads, records written in it or not.
		sp.Offset = hwm
		sp.LeaderEpoch = max(l.LatestEpoch(), epoch)
	case ts == tsEarliest || ts == tsEarliestLocal:
		sp.Offset = l.LogStartOffset()
		sp.LeaderEpoch = b.epochForOffset(p, sp.Offset)
	case ts == tsMaxTimestamp:
		off, mts, found, err := l.MaxTimestamp()
		if err != nil {
			return b.storageErr(p, err)
		}
		if found && off < hwm {
			sp.Offset, sp.Timestamp = off, mts
			sp.LeaderEpoch = b.epochForOffset(p, off)
		}
	case ts == tsLatestTiered || ts == tsEarliestPendingUpl:
		// No tiered storage: nothing to report.
	case ts < 0:
		// A special timestamp this version does not know of (Kafka's
		// answer: the client asks for a lookup newer than the broker).
		return kerr.UnsupportedVersion.Code
	default:
		off, fts, found, err := l.OffsetForTimestamp(ts)
		if err != nil {
			return b.storageErr(p, err)
		}
		if found && off < hwm {
			sp.Offset, sp.Timestamp = off, fts
			sp.LeaderEpoch = b.epochForOffset(p, off)
		}
	}
	return 0
}

// epochForOffset is the leader epoch of the batch holding offset: the
// smallest cached epoch whose end offset is above offset.
func (b *Broker) epochForOffset(p *partition, offset int64) int32 {
	candidate := int32(-1)
	for e := p.log.LatestEpoch(); e >= 0; {
		end, found := p.log.EndOffsetForEpoch(e)
		if found < 0 || end <= offset {
			break
		}
		candidate = found
		e = found - 1
	}
	if candidate < 0 && offset >= p.log.LogEndOffset() {
		// Past every written batch: the leader's current epoch, which
		// Kafka's cache holds from the log end offset on.
		return p.leaderEpoch.Load()
	}
	return candidate
}

func (b *Broker) storageErr(p *partition, err error) int16 {
	b.log.Error().Err(err).Str("topic", p.topic).Int32("partition", p.index).Msg("storage lookup failed")
	return kerr.KafkaStorageError.Code
}
