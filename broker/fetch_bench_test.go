package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkFetchConsume measures the consume path in-process: one raw
// connection sends the same Fetch (8 partitions, from offset 0, partition
// max bytes as named) and reads the response into a reused buffer, so the
// client side allocates nothing; allocs/op are the broker's. "small" reads
// are copied into the request's buffer, "large" ones sent from the file.
func BenchmarkFetchConsume(b *testing.B) {
	for _, bc := range []struct {
		name    string
		partMax int32
	}{{"small16KiB", 16 << 10}, {"large1MiB", 1 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			_, addr := benchBroker(b)
			createTopicB(b, addr, "fb", 8)
			cl := benchClient(b, addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
				kgo.ProducerBatchCompression(kgo.NoCompression()))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for i := range 8 * 2000 {
				v := bytes.Repeat([]byte{byte(i)}, 1000)
				cl.Produce(ctx, &kgo.Record{Topic: "fb", Value: v}, nil)
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			req := fetchFrom("fb", 8, func(int32) int64 { return 0 })
			for i := range req.Topics[0].Partitions {
				req.Topics[0].Partitions[i].PartitionMaxBytes = bc.partMax
			}
			frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 16<<20)
			var size [4]byte
			total := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(frame); err != nil {
					b.Fatal(err)
				}
				if _, err := readFull(c, size[:]); err != nil {
					b.Fatal(err)
				}
				n := int(binary.BigEndian.Uint32(size[:]))
				if n > len(buf) {
					b.Fatal(fmt.Sprintf("response of %d bytes", n))
				}
				if _, err := readFull(c, buf[:n]); err != nil {
					b.Fatal(err)
				}
				total += n
			}
			b.SetBytes(int64(total / b.N))
		})
	}
}
