package protocol

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkFetchVec encodes resp both ways at version v and fails on any
// difference from kmsg's encoding (AppendResponse).
func checkFetchVec(t *testing.T, name string, v int16, resp *kmsg.FetchResponse) {
	t.Helper()
	resp.SetVersion(v)
	const corr = 0x01020304
	want := AppendResponse(nil, corr, resp)

	// Append semantics: what dst and vec already hold is kept.
	prefix := []byte("prefix")
	dst := append(make([]byte, 0, 8), prefix...)
	vec := [][]byte{[]byte("old")}
	dst, vec = AppendFetchResponseVec(dst, vec, corr, resp)
	if !bytes.HasPrefix(dst, prefix) {
		t.Fatalf("%s v%d: dst prefix overwritten", name, v)
	}
	if len(vec) == 0 || string(vec[0]) != "old" {
		t.Fatalf("%s v%d: vec prefix overwritten", name, v)
	}
	got := bytes.Join(vec[1:], nil)
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s v%d: encodings differ at byte %d (got %d bytes, want %d)\ngot  %x\nwant %x",
			name, v, i, len(got), len(want), clip(got, i), clip(want, i))
	}
	// Large record batches are referenced, not copied.
	for i := range resp.Topics {
		for _, p := range resp.Topics[i].Partitions {
			if len(p.RecordBatches) < minVecRecords {
				continue
			}
			found := false
			for _, b := range vec[1:] {
				if len(b) == len(p.RecordBatches) && &b[0] == &p.RecordBatches[0] {
					found = true
				}
			}
			if !found {
				t.Fatalf("%s v%d: %d-byte record batches copied, not referenced", name, v, len(p.RecordBatches))
			}
		}
	}
	// Fresh dst and vec as well.
	_, vec2 := AppendFetchResponseVec(nil, nil, corr, resp)
	if got2 := bytes.Join(vec2, nil); !bytes.Equal(got2, want) {
		t.Fatalf("%s v%d: encoding into nil dst differs", name, v)
	}
}

func clip(b []byte, at int) []byte {
	lo, hi := max(at-16, 0), min(at+16, len(b))
	return b[lo:hi]
}

func recs(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func part(p int32, records []byte) kmsg.FetchResponseTopicPartition {
	sp := kmsg.NewFetchResponseTopicPartition()
	sp.Partition = p
	sp.HighWatermark = 1000 + int64(p)
	sp.LastStableOffset = 900 + int64(p)
	sp.LogStartOffset = 10
	sp.PreferredReadReplica = -1
	sp.RecordBatches = records
	return sp
}

func topic(name string, id byte, parts ...kmsg.FetchResponseTopicPartition) kmsg.FetchResponseTopic {
	st := kmsg.NewFetchResponseTopic()
	st.Topic = name
	st.TopicID = [16]byte{id, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, id}
	st.Partitions = parts
	return st
}

func fetchResp(mod func(*kmsg.FetchResponse)) *kmsg.FetchResponse {
	r := kmsg.NewPtrFetchResponse()
	mod(r)
	return r
}

func fetchCases() map[string]*kmsg.FetchResponse {
	rack := "rack-a"
	empty := ""
	longHost := strings.Repeat("h", 300) // broker tag longer than 127 bytes
	cases := map[string]*kmsg.FetchResponse{
		"empty": fetchResp(func(*kmsg.FetchResponse) {}),
		"empty topics non-nil": fetchResp(func(r *kmsg.FetchResponse) {
			r.Topics = []kmsg.FetchResponseTopic{}
		}),
		"top-level error": fetchResp(func(r *kmsg.FetchResponse) {
			r.ErrorCode = 70
			r.SessionID = 1234
			r.ThrottleMillis = 55
		}),
		"topic without partitions": fetchResp(func(r *kmsg.FetchResponse) {
			r.Topics = []kmsg.FetchResponseTopic{topic("t", 1)}
		}),
		"partition errors": fetchResp(func(r *kmsg.FetchResponse) {
			p0 := part(0, []byte{})
			p0.ErrorCode = 3
			p0.HighWatermark, p0.LastStableOffset, p0.LogStartOffset = -1, -1, -1
			p1 := part(1, nil)
			p1.ErrorCode = 1
			r.Topics = []kmsg.FetchResponseTopic{topic("errs", 2, p0, p1)}
		}),
		"nil empty small large records": fetchResp(func(r *kmsg.FetchResponse) {
			r.Topics = []kmsg.FetchResponseTopic{
				topic("a", 1, part(0, nil), part(1, []byte{}), part(2, recs(1, 7))),
				topic("b", 2, part(0, recs(100, 1)), part(1, recs(200, 2)), part(2, recs(minVecRecords-1, 3))),
				topic("c", 3, part(5, recs(minVecRecords, 4)), part(6, recs(1<<20, 5)), part(7, nil), part(8, recs(70000, 6))),
			}
		}),
		"only large records": fetchResp(func(r *kmsg.FetchResponse) {
			r.Topics = []kmsg.FetchResponseTopic{topic("big", 9, part(0, recs(1<<16, 9)))}
		}),
		"many partitions": fetchResp(func(r *kmsg.FetchResponse) {
			var ps []kmsg.FetchResponseTopicPartition
			for i := range 40 { // more than the encoder's on-stack marks
				ps = append(ps, part(int32(i), recs(minVecRecords+i, byte(i))))
			}
			r.Topics = []kmsg.FetchResponseTopic{topic("many", 4, ps...), topic("many2", 5, ps[:3]...)}
		}),
		"aborted transactions": fetchResp(func(r *kmsg.FetchResponse) {
			pNil := part(0, recs(10, 1))
			pEmpty := part(1, recs(10, 2))
			pEmpty.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			pSome := part(2, recs(5000, 3))
			for i := range 3 {
				at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
				at.ProducerID, at.FirstOffset = int64(100+i), int64(7*i)
				pSome.AbortedTransactions = append(pSome.AbortedTransactions, at)
			}
			r.Topics = []kmsg.FetchResponseTopic{topic("txn", 6, pNil, pEmpty, pSome)}
		}),
		"tagged partition fields": fetchResp(func(r *kmsg.FetchResponse) {
			var ps []kmsg.FetchResponseTopicPartition
			// Each tag: unset, or set with either or both of its fields
			// away from the -1 default.
			pick := func(variant int, a, b int64) (int64, int64) {
				switch variant {
				case 0:
					return a, -1
				case 1:
					return -1, b
				default:
					return a, b
				}
			}
			for mask := range 8 {
				for variant := range 3 {
					p := part(int32(len(ps)), recs(50, byte(mask)))
					if mask&1 != 0 {
						e, o := pick(variant, 5, 1<<40)
						p.DivergingEpoch.Epoch, p.DivergingEpoch.EndOffset = int32(e), o
					}
					if mask&2 != 0 {
						id, e := pick(variant, 3, 17)
						p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = int32(id), int32(e)
					}
					if mask&4 != 0 {
						o, e := pick(variant, 123456, 2)
						p.SnapshotID.EndOffset, p.SnapshotID.Epoch = o, int32(e)
					}
					ps = append(ps, p)
				}
			}
			r.Topics = []kmsg.FetchResponseTopic{topic("tags", 7, ps...)}
		}),
		"preferred read replica": fetchResp(func(r *kmsg.FetchResponse) {
			p := part(0, recs(8000, 1))
			p.PreferredReadReplica = 2
			r.Topics = []kmsg.FetchResponseTopic{topic("prr", 8, p)}
		}),
		"brokers": fetchResp(func(r *kmsg.FetchResponse) {
			p := part(0, []byte{})
			p.ErrorCode = 6
			p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = 1, 4
			r.Topics = []kmsg.FetchResponseTopic{topic("nl", 9, p)}
			for i, rk := range []*string{nil, &rack, &empty} {
				b := kmsg.NewFetchResponseBroker()
				b.NodeID, b.Host, b.Port, b.Rack = int32(i), fmt.Sprintf("broker-%d.example", i), 9092+int32(i), rk
				r.Brokers = append(r.Brokers, b)
			}
		}),
		"broker tag over 127 bytes": fetchResp(func(r *kmsg.FetchResponse) {
			b := kmsg.NewFetchResponseBroker()
			b.NodeID, b.Host, b.Port = 1, longHost, 9092
			r.Brokers = append(r.Brokers, b)
			r.Topics = []kmsg.FetchResponseTopic{topic("x", 1, part(0, recs(minVecRecords*2, 1)))}
		}),
		"empty brokers non-nil": fetchResp(func(r *kmsg.FetchResponse) {
			r.Brokers = []kmsg.FetchResponseBroker{}
		}),
		"long names": fetchResp(func(r *kmsg.FetchResponse) {
			r.Topics = []kmsg.FetchResponseTopic{topic(strings.Repeat("t", 249), 1, part(0, recs(300, 1)))}
		}),
		"unknown tags": fetchResp(func(r *kmsg.FetchResponse) {
			p := part(0, recs(minVecRecords, 1))
			p.UnknownTags.Set(9, []byte("p9"))
			p.UnknownTags.Set(7, []byte("p7"))
			p.DivergingEpoch.UnknownTags.Set(5, []byte("de"))
			p.CurrentLeader.UnknownTags.Set(5, bytes.Repeat([]byte("c"), 200))
			p.SnapshotID.UnknownTags.Set(4, nil)
			at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
			at.UnknownTags.Set(3, []byte("at"))
			p.AbortedTransactions = append(p.AbortedTransactions, at)
			tp := topic("u", 1, p)
			tp.UnknownTags.Set(2, []byte("topic"))
			r.Topics = []kmsg.FetchResponseTopic{tp}
			b := kmsg.NewFetchResponseBroker()
			b.UnknownTags.Set(6, []byte("b"))
			r.Brokers = append(r.Brokers, b)
			r.UnknownTags.Set(8, []byte("top"))
			r.UnknownTags.Set(3, []byte("top3"))
		}),
	}
	return cases
}

func TestAppendFetchResponseVecMatchesKmsg(t *testing.T) {
	for name, resp := range fetchCases() {
		// Every version kmsg knows, including the ones the broker does not
		// serve (the gates are the same code).
		for v := int16(0); v <= resp.MaxVersion(); v++ {
			checkFetchVec(t, name, v, resp)
		}
	}
}

func TestAppendFetchResponseVecVectorShape(t *testing.T) {
	big := recs(minVecRecords, 1)
	resp := fetchResp(func(r *kmsg.FetchResponse) {
		r.Topics = []kmsg.FetchResponseTopic{topic("a", 1, part(0, big), part(1, recs(10, 2)), part(2, big))}
	})
	resp.SetVersion(12)
	_, vec := AppendFetchResponseVec(nil, nil, 1, resp)
	// head, big, fields + small records inline + fields, big, trailer.
	if len(vec) != 5 {
		t.Fatalf("vector has %d parts, want 5", len(vec))
	}
	if &vec[1][0] != &big[0] || &vec[3][0] != &big[0] {
		t.Fatal("large record batches not referenced in place")
	}
}

func randFetchResponse(rng *rand.Rand) *kmsg.FetchResponse {
	r := kmsg.NewPtrFetchResponse()
	i16 := func() int16 { return int16(rng.Uint32()) }
	i32 := func() int32 {
		if rng.IntN(3) == 0 {
			return -1
		}
		return int32(rng.Uint32())
	}
	i64 := func() int64 {
		if rng.IntN(3) == 0 {
			return -1
		}
		return int64(rng.Uint64())
	}
	str := func() string { return strings.Repeat("s", rng.IntN(300)) }
	byts := func() []byte {
		switch rng.IntN(5) {
		case 0:
			return nil
		case 1:
			return []byte{}
		case 2:
			return recs(minVecRecords+rng.IntN(3*minVecRecords), byte(rng.Uint32()))
		default:
			return recs(rng.IntN(minVecRecords+10), byte(rng.Uint32()))
		}
	}
	r.ThrottleMillis, r.ErrorCode, r.SessionID = i32(), i16(), i32()
	for range rng.IntN(4) {
		tp := kmsg.NewFetchResponseTopic()
		tp.Topic = str()
		for k := range tp.TopicID {
			tp.TopicID[k] = byte(rng.Uint32())
		}
		for range rng.IntN(6) {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition, p.ErrorCode, p.HighWatermark = i32(), i16(), i64()
			p.LastStableOffset, p.LogStartOffset, p.PreferredReadReplica = i64(), i64(), i32()
			switch rng.IntN(3) {
			case 0:
			case 1:
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			default:
				for range rng.IntN(4) + 1 {
					p.AbortedTransactions = append(p.AbortedTransactions,
						kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: i64(), FirstOffset: i64()})
				}
			}
			p.RecordBatches = byts()
			if rng.IntN(2) == 0 {
				p.DivergingEpoch.Epoch, p.DivergingEpoch.EndOffset = i32(), i64()
			}
			if rng.IntN(2) == 0 {
				p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = i32(), i32()
			}
			if rng.IntN(2) == 0 {
				p.SnapshotID.EndOffset, p.SnapshotID.Epoch = i64(), i32()
			}
			tp.Partitions = append(tp.Partitions, p)
		}
		r.Topics = append(r.Topics, tp)
	}
	for range rng.IntN(3) {
		b := kmsg.NewFetchResponseBroker()
		b.NodeID, b.Host, b.Port = i32(), str(), i32()
		if rng.IntN(2) == 0 {
			s := str()
			b.Rack = &s
		}
		r.Brokers = append(r.Brokers, b)
	}
	return r
}

func TestAppendFetchResponseVecRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 2000
	if testing.Short() {
		n = 200
	}
	for i := range n {
		resp := randFetchResponse(rng)
		v := int16(4 + rng.IntN(15))
		checkFetchVec(t, fmt.Sprintf("random #%d", i), v, resp)
	}
}

func FuzzAppendFetchResponseVec(f *testing.F) {
	f.Add(uint64(1), uint64(2), int16(4))
	f.Add(uint64(3), uint64(4), int16(12))
	f.Add(uint64(5), uint64(6), int16(18))
	f.Fuzz(func(t *testing.T, s1, s2 uint64, v int16) {
		if v < 0 || v > 18 {
			return
		}
		checkFetchVec(t, "fuzz", v, randFetchResponse(rand.New(rand.NewPCG(s1, s2))))
	})
}

// TestAppendFetchResponseVecExternal: partitions whose records are external
// leave a nil part for each, in order; filling the parts with the records
// gives kmsg's encoding of the same response.
func TestAppendFetchResponseVecExternal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		resp := randFetchResponse(rng)
		v := int16(4 + rng.IntN(15))
		resp.SetVersion(v)
		want := AppendResponse(nil, 7, resp)
		// Every other partition with records goes external; the encoder
		// must not look at its RecordBatches, so they are hidden from it.
		var order [][]byte
		hidden := map[*kmsg.FetchResponseTopicPartition][]byte{}
		k := 0
		for ti := range resp.Topics {
			for pi := range resp.Topics[ti].Partitions {
				p := &resp.Topics[ti].Partitions[pi]
				if p.RecordBatches != nil && k%2 == 0 {
					hidden[p] = p.RecordBatches
					order = append(order, p.RecordBatches)
					p.RecordBatches = []byte("must not be sent")
				}
				k++
			}
		}
		_, vec := AppendFetchResponseVecExt(nil, nil, 7, resp, func(p *kmsg.FetchResponseTopicPartition) (int, bool) {
			b, ok := hidden[p]
			return len(b), ok
		})
		var got []byte
		next := 0
		for _, part := range vec {
			if part == nil {
				if next == len(order) {
					t.Fatalf("#%d v%d: more nil parts than external partitions", i, v)
				}
				part = order[next]
				next++
			}
			got = append(got, part...)
		}
		if next != len(order) {
			t.Fatalf("#%d v%d: %d nil parts, want %d", i, v, next, len(order))
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("#%d v%d: encodings differ (got %d bytes, want %d)", i, v, len(got), len(want))
		}
	}
}
