package difftest

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Set-up helpers shared by the scenarios: topics that exist (and have a
// leader) on both brokers before a scenario starts, record batches built
// byte by byte, and typed access to answers.

// baseTimestamp is the first record timestamp of every batch the
// scenarios write: one value per run, so that both brokers store the same
// bytes, and an hour old, so that retention (7 days) keeps the data and
// message.timestamp.after.max.ms does not refuse it.
var baseTimestamp = time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()

// Rec is one record of a batch.
type Rec struct {
	Key, Value []byte
	Headers    [][2]string
}

// BatchOpts are the header fields of a v2 batch.
type BatchOpts struct {
	BaseTimestamp int64 // baseTimestamp if 0
	ProducerID    int64 // -1 unless idempotent
	ProducerEpoch int16
	BaseSequence  int32
	Attributes    int16 // compression, timestamp type, transactional, control
	Transactional bool
	// TimestampDeltas, when set, is record i's timestamp delta (else i).
	TimestampDeltas []int64
	// Zstd compresses the records with zstd (attributes codec 4).
	Zstd bool
}

// NoProducer is BatchOpts for a batch without a producer id.
var NoProducer = BatchOpts{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}

// Batch encodes one uncompressed v2 record batch (base offset 0, leader
// epoch -1, the CRC-32C computed), record i at timestamp base+i.
func Batch(o BatchOpts, recs ...Rec) []byte {
	if o.BaseTimestamp == 0 {
		o.BaseTimestamp = baseTimestamp
	}
	var records []byte
	for i, r := range recs {
		var body []byte
		body = append(body, 0) // record attributes
		delta := int64(i)
		if i < len(o.TimestampDeltas) {
			delta = o.TimestampDeltas[i]
		}
		body = binary.AppendVarint(body, delta)
		body = binary.AppendVarint(body, int64(i))
		body = appendVarBytes(body, r.Key)
		body = appendVarBytes(body, r.Value)
		body = binary.AppendVarint(body, int64(len(r.Headers)))
		for _, h := range r.Headers {
			body = appendVarBytes(body, []byte(h[0]))
			body = appendVarBytes(body, []byte(h[1]))
		}
		records = binary.AppendVarint(records, int64(len(body)))
		records = append(records, body...)
	}
	attrs := o.Attributes
	if o.Transactional {
		attrs |= 0x10
	}
	if o.Zstd {
		attrs |= 4
		records = zstdEncoder.EncodeAll(records, nil)
	}
	maxTS := o.BaseTimestamp + int64(max(len(recs)-1, 0))
	for _, d := range o.TimestampDeltas {
		maxTS = max(maxTS, o.BaseTimestamp+d)
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(49 + len(records)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       o.BaseTimestamp,
		MaxTimestamp:         maxTS,
		ProducerID:           o.ProducerID,
		ProducerEpoch:        o.ProducerEpoch,
		FirstSequence:        o.BaseSequence,
		NumRecords:           int32(len(recs)),
		Records:              records,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32c))
	return b
}

// zstdEncoder compresses the records of BatchOpts.Zstd batches.
var zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))

func appendVarBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	b = binary.AppendVarint(b, int64(len(v)))
	return append(b, v...)
}

// Values returns n records with values "<prefix>-0", ... and keys
// "k0", ... .
func Values(prefix string, n int) []Rec {
	out := make([]Rec, n)
	for i := range out {
		out[i] = Rec{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	return out
}

// respOf returns a's response as *T, or a zero *T if the side did not
// answer with one (the difference is reported by the check itself).
func respOf[T any, PT interface {
	*T
	kmsg.Response
}](a Answer) PT {
	if p, ok := a.Resp.(PT); ok {
		return p
	}
	return PT(new(T))
}

// CreateTopic creates topic on both brokers (at the highest common
// CreateTopics version) and waits until both have a leader for every
// partition. An existing topic is fine.
func (r *Run) CreateTopic(topic string, partitions int32, configs map[string]string) {
	resps := r.Do(func(s *Side) kmsg.Request {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version = r.Max(kmsg.CreateTopics)
		req.TimeoutMillis = 30000
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic = topic
		t.NumPartitions = partitions
		t.ReplicationFactor = 1
		for k, v := range configs {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, kmsg.StringPtr(v)
			t.Configs = append(t.Configs, c)
		}
		req.Topics = append(req.Topics, t)
		return req
	})
	for i, resp := range resps {
		for _, t := range resp.(*kmsg.CreateTopicsResponse).Topics {
			if t.ErrorCode != 0 && t.ErrorCode != kerr.TopicAlreadyExists.Code {
				r.Fatalf("creating %s on %s: %v", topic, r.Sides[i].Name, kerr.ErrorForCode(t.ErrorCode))
			}
		}
	}
	r.WaitTopic(topic, partitions)
}

// WaitTopic waits (up to 20 s) until both brokers list topic with a leader
// for each of its partitions.
func (r *Run) WaitTopic(topic string, partitions int32) {
	deadline := time.Now().Add(20 * time.Second)
	for i, s := range r.Sides {
		for {
			md := r.metadata(s, topic)
			ok := false
			if md != nil && len(md.Topics) == 1 && md.Topics[0].ErrorCode == 0 && int32(len(md.Topics[0].Partitions)) >= partitions {
				ok = true
				for _, p := range md.Topics[0].Partitions {
					if p.ErrorCode != 0 || p.Leader < 0 {
						ok = false
					}
				}
			}
			if ok && r.partitionsReady(s, topic, partitions) {
				s.Norm.LearnTopicIDs(md)
				break
			}
			if time.Now().After(deadline) {
				r.Fatalf("topic %s has no leader on %s after 20 s", topic, r.Sides[i].Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// partitionsReady says whether the broker answers ListOffsets for every
// partition: Kafka lists a new partition's leader in Metadata a moment
// before the partition takes requests.
func (r *Run) partitionsReady(s *Side, topic string, partitions int32) bool {
	for p := range partitions {
		a := s.request("setup", listOffsetsReq(s, r.Max(kmsg.ListOffsets), topic, p, -1, -1))
		if a.Err != nil {
			return false
		}
		for _, t := range a.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, lp := range t.Partitions {
				if lp.ErrorCode != 0 {
					return false
				}
			}
		}
	}
	return true
}

// retriable are the errors a set-up step waits out (a partition or a
// coordinator that is still being set up).
func retriable(code int16) bool {
	switch code {
	case kerr.NotLeaderForPartition.Code, kerr.UnknownTopicOrPartition.Code, kerr.LeaderNotAvailable.Code,
		kerr.CoordinatorLoadInProgress.Code, kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
		return true
	}
	return false
}

// DoRetry is Do for set-up requests that can fail while the broker is
// still settling: it resends to a side whose answer has a retriable error
// (errOf picks the error code out of an answer) for up to 20 s.
func (r *Run) DoRetry(build Builder, errOf func(kmsg.Response) int16) [2]kmsg.Response {
	return r.DoRetryCodes(build, errOf)
}

// produceErr is the first error code of a Produce response.
func produceErr(resp kmsg.Response) int16 {
	for _, t := range resp.(*kmsg.ProduceResponse).Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return p.ErrorCode
			}
		}
	}
	return 0
}

// WaitTopicGone waits (up to 20 s) until neither broker lists topic.
func (r *Run) WaitTopicGone(topic string) {
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range r.Sides {
		for {
			md := r.metadata(s, topic)
			if md != nil && len(md.Topics) == 1 && md.Topics[0].ErrorCode == kerr.UnknownTopicOrPartition.Code {
				break
			}
			if time.Now().After(deadline) {
				r.Fatalf("topic %s still listed on %s 20 s after its deletion", topic, s.Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// metadata asks one side about one topic, without creating it.
func (r *Run) metadata(s *Side, topic string) *kmsg.MetadataResponse {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = r.Max(kmsg.Metadata)
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	req.AllowAutoTopicCreation = false
	a := s.request("setup", req)
	if a.Err != nil {
		return nil
	}
	return a.Resp.(*kmsg.MetadataResponse)
}

// Produce writes batch to topic/partition on both sides with acks=-1 at
// the highest common version, and fails the run on an error.
func (r *Run) Produce(topic string, partition int32, batch []byte) {
	resps := r.DoRetry(func(s *Side) kmsg.Request { return produceReq(s, r.Max(kmsg.Produce), -1, topic, partition, batch) }, produceErr)
	for i, resp := range resps {
		for _, t := range resp.(*kmsg.ProduceResponse).Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					r.Fatalf("producing to %s-%d on %s: %v", topic, partition, r.Sides[i].Name, kerr.ErrorForCode(p.ErrorCode))
				}
			}
		}
	}
}

// produceReq is one Produce request of one batch (v13 names the topic by
// id).
func produceReq(s *Side, v, acks int16, topic string, partition int32, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = v
	req.Acks = acks
	req.TimeoutMillis = 10000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = topic
	if v >= 13 {
		t.TopicID = s.TopicID(topic)
	}
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition = partition
	p.Records = batch
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

// name is a topic or group name unique to a scenario and version.
func (r *Run) name(what string) string {
	return fmt.Sprintf("dt.%s.%s.v%d", r.Scenario, what, r.V)
}

func itoa32(i int32) string { return strconv.Itoa(int(i)) }

// vs is the run's version as a string, for names.
func (r *Run) vs() string { return strconv.Itoa(int(r.V)) }
