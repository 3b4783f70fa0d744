package broker

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkProduceSteady sends one acks=1 Produce of one 10-record batch
// per op on one connection and waits for its answer: the whole request
// path (read loop, decode, dispatch, validate, append, encode, write) with
// nothing else in the process allocating, so allocs/op is the broker's.
func BenchmarkProduceSteady(b *testing.B) {
	_, addr := benchBroker(b)
	createTopicB(b, addr, "steady", 1)
	batch := testBatch(-1, -1, -1, 10)

	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = 1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "steady"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	resp := make([]byte, 0, 4096)
	roundTrip := func() {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(frame); err != nil {
			b.Fatal(err)
		}
		var size [4]byte
		if _, err := io.ReadFull(br, size[:]); err != nil {
			b.Fatal(err)
		}
		n := int(binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(br, resp[:n]); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ { // warm the pools
		roundTrip()
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roundTrip()
	}
}
