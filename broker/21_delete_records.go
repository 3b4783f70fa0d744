package broker

// DeleteRecords (key 21), v0-v2.
//
//	v0: topics, partitions, offsets; timeout.
//	v1: same as v0.
//	v2: flexible.
//
// The leader moves the partition's log start offset up to the requested
// offset (-1: the high watermark), durably, and deletes the segments
// wholly below it (storage.Log.DeleteRecordsBefore); the followers follow
// the new log start offset through their fetches. As Kafka's
// DelayedDeleteRecords, the answer waits, up to the request's timeout,
// until the low watermark — the smallest log start offset of the leader
// and of the followers on live brokers — has reached the offset, and
// reports it; REQUEST_TIMED_OUT (with the low watermark so far) when it
// has not. An offset above the high watermark or negative is
// OFFSET_OUT_OF_RANGE; a topic whose cleanup.policy lacks delete
// POLICY_VIOLATION, as in Kafka. kafka-delete-records.sh and Kafka
// Streams (purging repartition topics) send it.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/storage"
)

func init() { register(kmsg.DeleteRecords, 0, 2, handleDeleteRecords) }

// deleteRecordsHighWatermark is the offset that means "up to the high
// watermark" (DeleteRecordsRequest.HIGH_WATERMARK).
const deleteRecordsHighWatermark = -1

func handleDeleteRecords(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	type wait struct {
		p      *partition
		sp     *kmsg.DeleteRecordsResponseTopicPartition
		target int64
	}
	var waits []wait
	resp.Topics = make([]kmsg.DeleteRecordsResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			p, target, ke := b.deleteRecords(rt.Topic, rp.Partition, rp.Offset)
			if ke != nil {
				sp.ErrorCode = ke.Code
				continue
			}
			waits = append(waits, wait{p: p, sp: sp, target: target})
		}
	}
	if len(waits) == 0 {
		return resp
	}
	ctx, cancel := context.WithTimeout(rc.ctx, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond) // follower log starts move without waking anybody
	defer tick.Stop()
	for {
		pending := 0
		for i := range waits {
			w := &waits[i]
			low, ok := w.p.lowWatermark(b)
			if !ok {
				w.sp.ErrorCode, w.sp.LowWatermark = kerr.NotLeaderForPartition.Code, -1
				continue
			}
			w.sp.LowWatermark = low
			if low < w.target {
				pending++
			}
		}
		if pending == 0 {
			return resp
		}
		select {
		case <-tick.C:
			continue
		case <-ctx.Done():
		}
		for i := range waits {
			if w := &waits[i]; w.sp.ErrorCode == 0 && w.sp.LowWatermark < w.target {
				w.sp.ErrorCode = kerr.RequestTimedOut.Code
			}
		}
		return resp
	}
}

// deleteRecords moves the log start offset of a partition this broker
// leads up to offset and returns the low watermark the answer waits for.
func (b *Broker) deleteRecords(topic string, partition int32, offset int64) (*partition, int64, *kerr.Error) {
	p := b.partition(topic, partition)
	if p == nil {
		ke, _ := b.notServedError(b.store.Snapshot(), topic, partition, false, true)
		return nil, 0, ke
	}
	if !b.leaseValid() {
		return nil, 0, kerr.NotLeaderForPartition
	}
	if !p.cfg.Load().CleanupPolicyDelete {
		// Kafka's PolicyViolationException: "Records of partition ... can
		// not be deleted due to the configured policy".
		return nil, 0, kerr.PolicyViolation
	}
	l := p.log
	switch {
	case offset == deleteRecordsHighWatermark:
		offset = l.HighWatermark()
	case offset < 0:
		return nil, 0, kerr.OffsetOutOfRange
	}
	newStart, err := l.DeleteRecordsBefore(offset)
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrOffsetOutOfRange):
		return nil, 0, kerr.OffsetOutOfRange
	case errors.Is(err, storage.ErrClosed):
		return nil, 0, kerr.NotLeaderForPartition
	case errors.Is(err, storage.ErrNoSpace):
		return nil, 0, kerr.KafkaStorageError // the checkpoint could not be written; the log is fine
	default:
		b.signalPublish() // the log failed: offline
		b.log.Error().Err(err).Str("topic", topic).Int32("partition", partition).Int64("offset", offset).Msg("delete records failed")
		return nil, 0, kerr.KafkaStorageError
	}
	p.notify()
	return p, newStart, nil
}

// lowWatermark is the smallest log start offset of the leader and of its
// followers on live brokers (Kafka's lowWatermarkIfLeader); a follower
// that has not fetched in this leadership counts as unknown (-1). ok is
// false when this broker no longer leads the partition.
func (p *partition) lowWatermark(b *Broker) (int64, bool) {
	if !p.leader.Load() || p.log == nil {
		return -1, false
	}
	low := p.log.LogStartOffset()
	snap := b.store.Snapshot()
	p.replMu.Lock()
	defer p.replMu.Unlock()
	if !p.repl.leading {
		return -1, false
	}
	for _, f := range p.repl.followers {
		if _, alive := snap.Brokers[f.id]; alive && f.logStart < low {
			low = f.logStart
		}
	}
	return low, true
}
