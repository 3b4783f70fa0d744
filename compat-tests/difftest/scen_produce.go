package difftest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce scenarios: acks, bad input, record validation and idempotent
// sequences.

// produceTo is a Produce of one batch at the run's version.
func (r *Run) produceTo(step string, acks int16, topic string, partition int32, batch []byte) [2]Answer {
	return r.Check(step, func(s *Side) kmsg.Request { return produceReq(s, r.V, acks, topic, partition, batch) })
}

// listEnd checks the latest offset of topic/partition on both brokers.
func (r *Run) listEnd(step, topic string, partition int32) {
	r.Check(step, func(s *Side) kmsg.Request {
		return listOffsetsReq(s, r.Max(kmsg.ListOffsets), topic, partition, -1, -1)
	})
}

// initPID allocates an idempotent producer id on both brokers.
func (r *Run) initPID() [2]*kmsg.InitProducerIDResponse {
	resps := r.DoRetry(func(s *Side) kmsg.Request {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = r.Max(kmsg.InitProducerID)
		req.TransactionTimeoutMillis = 60000
		return req
	}, func(resp kmsg.Response) int16 { return resp.(*kmsg.InitProducerIDResponse).ErrorCode })
	var out [2]*kmsg.InitProducerIDResponse
	for i, resp := range resps {
		out[i] = resp.(*kmsg.InitProducerIDResponse)
		if out[i].ErrorCode != 0 {
			r.Fatalf("InitProducerID on %s: error %d", r.Sides[i].Name, out[i].ErrorCode)
		}
	}
	return out
}

// withCRC recomputes a batch's CRC after an edit of its header.
func withCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32c))
	return b
}

func produceScenarios() []Scenario {
	idem := func(pid kmsg.InitProducerIDResponse, epochDelta int16, seq int32, recs ...Rec) BatchOpts {
		return BatchOpts{ProducerID: pid.ProducerID, ProducerEpoch: pid.ProducerEpoch + epochDelta, BaseSequence: seq}
	}
	return []Scenario{
		{Name: "produce-acks", API: kmsg.Produce, Run: func(r *Run) {
			topic := r.name("acks")
			r.CreateTopic(topic, 1, nil)
			for _, acks := range []int16{1, -1, 0} {
				r.produceTo("acks="+itoa32(int32(acks)), acks, topic, 0, Batch(NoProducer, Values("a", 2)...))
			}
			r.listEnd("end", topic, 0)
		}},
		{Name: "produce-bad-acks", API: kmsg.Produce, Run: func(r *Run) {
			topic := r.name("badacks")
			r.CreateTopic(topic, 1, nil)
			for _, acks := range []int16{2, -2} {
				r.produceTo("acks="+itoa32(int32(acks)), acks, topic, 0, Batch(NoProducer, Values("a", 1)...))
			}
			r.listEnd("end", topic, 0)
		}},
		{Name: "produce-unknown-topic", API: kmsg.Produce, Run: func(r *Run) {
			topic := r.name("unknown")
			r.produceTo("", -1, topic, 0, Batch(NoProducer, Values("u", 1)...))
			r.Check("metadata-after", func(s *Side) kmsg.Request { return metadataReq(r.Max(kmsg.Metadata), topic) })
		}},
		{Name: "produce-bad-partition", API: kmsg.Produce, Run: func(r *Run) {
			topic := r.name("badpart")
			r.CreateTopic(topic, 1, nil)
			for _, p := range []int32{1, 99, -1} {
				r.produceTo("partition="+itoa32(p), -1, topic, p, Batch(NoProducer, Values("p", 1)...))
			}
		}},
		{Name: "produce-many-partitions", API: kmsg.Produce, Run: func(r *Run) {
			good := r.name("good")
			r.CreateTopic(good, 2, nil)
			r.Check("", func(s *Side) kmsg.Request {
				req := produceReq(s, r.V, -1, good, 0, Batch(NoProducer, Values("g0", 2)...))
				p := kmsg.NewProduceRequestTopicPartition()
				p.Partition = 1
				p.Records = Batch(NoProducer, Values("g1", 3)...)
				req.Topics[0].Partitions = append(req.Topics[0].Partitions, p)
				other := produceReq(s, r.V, -1, r.name("missing"), 0, Batch(NoProducer, Values("m", 1)...))
				req.Topics = append(req.Topics, other.Topics...)
				return req
			})
		}},
		{Name: "produce-corrupt-batch", API: kmsg.Produce, Run: func(r *Run) {
			topic := r.name("corrupt")
			r.CreateTopic(topic, 1, nil)
			good := Batch(NoProducer, Values("c", 3)...)
			r.produceTo("truncated", -1, topic, 0, good[:len(good)-5])
			long := append([]byte(nil), good...)
			binary.BigEndian.PutUint32(long[8:], uint32(len(good))) // says 12 bytes more than there are
			r.produceTo("length-beyond-end", -1, topic, 0, long)
			r.produceTo("trailing-garbage", -1, topic, 0, append(append([]byte(nil), good...), 1, 2, 3))
			r.produceTo("empty", -1, topic, 0, []byte{})
			if r.V == r.Max(kmsg.Produce) {
				// Kafka never answers this one: a short wait, at one version.
				r.CheckWithin("null", 3*time.Second, func(s *Side) kmsg.Request { return produceReq(s, r.V, -1, topic, 0, nil) })
			}
			count := append([]byte(nil), good...)
			binary.BigEndian.PutUint32(count[57:], 5) // NumRecords 5, three records
			r.produceTo("record-count-mismatch", -1, topic, 0, withCRC(count))
			noRecs := Batch(NoProducer)
			r.produceTo("zero-records", -1, topic, 0, noRecs)
			deltas := Batch(NoProducer, Values("d", 2)...)
			binary.BigEndian.PutUint32(deltas[23:], 7) // LastOffsetDelta 7, two records
			r.produceTo("bad-last-offset-delta", -1, topic, 0, withCRC(deltas))
			r.listEnd("end", topic, 0)
		}},
		{Name: "produce-bad-crc", API: kmsg.Produce, Run: func(r *Run) {
			topic := r.name("crc")
			r.CreateTopic(topic, 1, nil)
			b := Batch(NoProducer, Values("crc", 2)...)
			b[len(b)-1] ^= 0xff
			r.produceTo("", -1, topic, 0, b)
			r.listEnd("end", topic, 0)
		}},
		{Name: "produce-magic", API: kmsg.Produce, Run: func(r *Run) {
			topic := r.name("magic")
			r.CreateTopic(topic, 1, nil)
			for _, m := range []byte{0, 1, 3} {
				b := Batch(NoProducer, Values("m", 1)...)
				b[16] = m
				r.produceTo("magic="+itoa32(int32(m)), -1, topic, 0, b)
			}
		}},
		{Name: "produce-too-large", API: kmsg.Produce, Run: func(r *Run) {
			topic := r.name("large")
			r.CreateTopic(topic, 1, map[string]string{"max.message.bytes": "1000"})
			r.produceTo("", -1, topic, 0, Batch(NoProducer, Rec{Value: bytes.Repeat([]byte("x"), 2000)}))
			r.produceTo("just-fits", -1, topic, 0, Batch(NoProducer, Rec{Value: bytes.Repeat([]byte("x"), 900)}))
			r.listEnd("end", topic, 0)
		}},
		{Name: "produce-timestamps", API: kmsg.Produce, Run: func(r *Run) {
			topic := r.name("ts")
			r.CreateTopic(topic, 1, map[string]string{"message.timestamp.after.max.ms": "60000"})
			future := BatchOpts{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: 4_000_000_000_000}
			r.produceTo("future", -1, topic, 0, Batch(future, Values("f", 1)...))
			logAppend := r.name("lat")
			r.CreateTopic(logAppend, 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
			r.produceTo("log-append-time", -1, logAppend, 0, Batch(NoProducer, Values("l", 2)...))
		}},
		{Name: "produce-compacted-keyless", API: kmsg.Produce, Run: func(r *Run) {
			topic := r.name("compact")
			r.CreateTopic(topic, 1, map[string]string{"cleanup.policy": "compact"})
			r.produceTo("keyless", -1, topic, 0, Batch(NoProducer, Rec{Key: []byte("k"), Value: []byte("v")}, Rec{Value: []byte("no key")}))
			r.produceTo("keyed", -1, topic, 0, Batch(NoProducer, Rec{Key: []byte("k"), Value: []byte("v")}))
			r.produceTo("tombstone", -1, topic, 0, Batch(NoProducer, Rec{Key: []byte("k")}))
			r.listEnd("end", topic, 0)
		}},
		{Name: "produce-record-set", API: kmsg.Produce, Run: func(r *Run) {
			// The shape of a partition's record set: what Kafka parses
			// before its log is involved, and what its log checks first.
			topic := r.name("shape")
			r.CreateTopic(topic, 1, nil)
			good := Batch(NoProducer, Values("s", 2)...)
			based := append([]byte(nil), good...)
			binary.BigEndian.PutUint64(based, 5)
			r.produceTo("base-offset-5", -1, topic, 0, based)
			r.produceTo("two-batches", -1, topic, 0, append(append([]byte(nil), good...), good...))
			r.produceTo("trailing-size-below-14", -1, topic, 0, append(append([]byte(nil), good...), make([]byte, 12)...))
			badMagic := append([]byte(nil), good[:20]...)
			badMagic[16] = 9
			r.produceTo("trailing-bad-magic", -1, topic, 0, append(append([]byte(nil), good...), badMagic...))
			r.produceTo("batch-header-only", -1, topic, 0, good[:17])
			r.produceTo("trailing-partial-batch", -1, topic, 0, append(append([]byte(nil), good...), good[:40]...))
			zo := NoProducer
			zo.Zstd = true
			r.produceTo("zstd", -1, topic, 0, Batch(zo, Values("z", 2)...))
			r.listEnd("end", topic, 0)
		}},
		{Name: "produce-record-errors", API: kmsg.Produce, Run: func(r *Run) {
			// Every offending record is named (v8+), with the code of the
			// worst: INVALID_TIMESTAMP once any timestamp is out of range.
			compact := r.name("compact")
			r.CreateTopic(compact, 1, map[string]string{"cleanup.policy": "compact", "message.timestamp.after.max.ms": "60000"})
			k := []byte("k")
			r.produceTo("keyless-two-of-four", -1, compact, 0, Batch(NoProducer, Rec{Key: k, Value: k}, Rec{Value: k}, Rec{Key: k, Value: k}, Rec{Value: k}))
			ahead := NoProducer
			ahead.TimestampDeltas = []int64{0, 3 * 3600 * 1000, 0, 4 * 3600 * 1000} // an hour old base: two records hours ahead
			r.produceTo("timestamps-two-of-four", -1, compact, 0, Batch(ahead, Rec{Key: k, Value: k}, Rec{Key: k, Value: k}, Rec{Key: k, Value: k}, Rec{Key: k, Value: k}))
			r.produceTo("keyless-and-timestamp", -1, compact, 0, Batch(ahead, Rec{Value: k}, Rec{Key: k, Value: k}, Rec{Key: k, Value: k}, Rec{Key: k, Value: k}))
			lat := r.name("lat")
			r.CreateTopic(lat, 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
			latBatch := NoProducer
			latBatch.Attributes = 0x08
			r.produceTo("log-append-time-batch", -1, lat, 0, Batch(latBatch, Values("l", 2)...))
			r.listEnd("end-compact", compact, 0)
			r.listEnd("end-lat", lat, 0)
		}},
		{Name: "produce-idempotent", API: kmsg.Produce, MinV: 3, Run: func(r *Run) {
			topic := r.name("idem")
			r.CreateTopic(topic, 1, nil)
			pids := r.initPID()
			send := func(step string, epochDelta int16, seq int32, n int) {
				r.Check(step, func(s *Side) kmsg.Request {
					return produceReq(s, r.V, -1, topic, 0, Batch(idem(*pids[s.I], epochDelta, seq), Values(step, n)...))
				})
			}
			send("seq0", 0, 0, 2)
			send("seq2", 0, 2, 3)
			send("duplicate-seq2", 0, 2, 3)
			send("duplicate-seq0", 0, 0, 2)
			send("gap", 0, 9, 1)
			send("seq5", 0, 5, 1)
			send("bumped-epoch", 1, 0, 1)
			send("fenced-epoch", 0, 6, 1)
			r.listEnd("end", topic, 0)
			r.Check("unknown-producer-id", func(s *Side) kmsg.Request {
				o := BatchOpts{ProducerID: 424242, ProducerEpoch: 0, BaseSequence: 3}
				return produceReq(s, r.V, -1, topic, 0, Batch(o, Values("u", 1)...))
			})
			r.Check("unknown-producer-id-seq0", func(s *Side) kmsg.Request {
				o := BatchOpts{ProducerID: 434343, ProducerEpoch: 0, BaseSequence: 0}
				return produceReq(s, r.V, -1, topic, 0, Batch(o, Values("u", 1)...))
			})
			r.Check("acks1", func(s *Side) kmsg.Request {
				return produceReq(s, r.V, 1, topic, 0, Batch(idem(*pids[s.I], 1, 1), Values("a1", 1)...))
			})
		}},
		{Name: "describeproducers", API: kmsg.DescribeProducers, Run: func(r *Run) {
			topic := r.name("dp")
			r.CreateTopic(topic, 2, nil)
			pids := r.initPID()
			r.Do(func(s *Side) kmsg.Request {
				return produceReq(s, r.Max(kmsg.Produce), -1, topic, 0, Batch(idem(*pids[s.I], 0, 0), Values("dp", 3)...))
			})
			r.Check("", func(s *Side) kmsg.Request {
				req := kmsg.NewPtrDescribeProducersRequest()
				req.Version = r.V
				rt := kmsg.NewDescribeProducersRequestTopic()
				rt.Topic, rt.Partitions = topic, []int32{0, 1, 9}
				req.Topics = append(req.Topics, rt)
				return req
			})
			r.Check("unknown-topic", func(s *Side) kmsg.Request {
				req := kmsg.NewPtrDescribeProducersRequest()
				req.Version = r.V
				rt := kmsg.NewDescribeProducersRequestTopic()
				rt.Topic, rt.Partitions = r.name("none"), []int32{0}
				req.Topics = append(req.Topics, rt)
				return req
			})
		}},
		{Name: "produce-transactional-batch-without-txn", API: kmsg.Produce, MinV: 3, Run: func(r *Run) {
			topic := r.name("txnbatch")
			r.CreateTopic(topic, 1, nil)
			pids := r.initPID()
			r.Check("", func(s *Side) kmsg.Request {
				o := idem(*pids[s.I], 0, 0)
				o.Transactional = true
				req := produceReq(s, r.V, -1, topic, 0, Batch(o, Values("t", 1)...))
				req.TransactionID = kmsg.StringPtr("dt-no-such-txn")
				return req
			})
		}},
	}
}
