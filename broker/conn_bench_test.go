package broker

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net"
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// sizedBatch encodes an uncompressed v2 batch of n records with values of
// valueSize bytes (no producer id).
func sizedBatch(n, valueSize int) []byte {
	value := bytes.Repeat([]byte{'v'}, valueSize)
	var recs []byte
	for i := 0; i < n; i++ {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.Value = value
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(n - 1),
		FirstTimestamp:       1_700_000_000_000,
		MaxTimestamp:         1_700_000_000_000,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(n),
		Records:              recs,
	}
	b.Length = int32(49 + len(recs))
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// benchProduceSteady sends the same acks=1 Produce request (one partition,
// one batch of about reqBytes) over one raw connection, one at a time, and
// reports the process's allocations per request: the client side only
// reads the response into a reused buffer, so they are the broker's read
// loop, handler and append.
func benchProduceSteady(b *testing.B, reqBytes int) {
	_, addr := benchBroker(b)
	benchProduceSteadyOn(b, addr, reqBytes)
}

// benchProduceSteadyOn is benchProduceSteady on a broker of the caller's
// (acl_bench_test.go: with the authorizer on).
func benchProduceSteadyOn(b *testing.B, addr string, reqBytes int) {
	createTopicB(b, addr, "steady", 1)
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = 1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "steady"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = sizedBatch(reqBytes/1024, 1000)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)

	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	resp := make([]byte, 64<<10)
	roundTrip := func() {
		if _, err := nc.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, resp[:4]); err != nil {
			b.Fatal(err)
		}
		n := binary.BigEndian.Uint32(resp[:4])
		if _, err := io.ReadFull(nc, resp[:n]); err != nil {
			b.Fatal(err)
		}
	}
	for range 20 { // warm the pools and the connection's buffer
		roundTrip()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roundTrip()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N), "broker-B/req")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "broker-allocs/req")
}

// BenchmarkProduceFreshConn1MiB: one 1 MiB Produce per new connection, the
// case the read loop's buffer growth costs most (it grows from 64 KiB to
// the request's size instead of taking the size prefix's word for it).
func BenchmarkProduceFreshConn1MiB(b *testing.B) {
	_, addr := benchBroker(b)
	createTopicB(b, addr, "fresh", 1)
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = 1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "fresh"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = sizedBatch(1024, 1000)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)
	resp := make([]byte, 64<<10)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := nc.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, resp[:4]); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, resp[:binary.BigEndian.Uint32(resp[:4])]); err != nil {
			b.Fatal(err)
		}
		nc.Close()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N), "B/conn")
}

func BenchmarkProduceSteady16KiB(b *testing.B) { benchProduceSteady(b, 16<<10) }
func BenchmarkProduceSteady1MiB(b *testing.B)  { benchProduceSteady(b, 1<<20) }
