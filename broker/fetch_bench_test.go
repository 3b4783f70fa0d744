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
// The plain cases are sessionless full fetches (epoch -1); the
// "incremental" ones open a fetch session and then send incremental
// fetches that name no partition, so the session's (unchanged) offsets
// are read: the same records, through the session path.
func BenchmarkFetchConsume(b *testing.B) {
	for _, bc := range []struct {
		name        string
		partMax     int32
		incremental bool
	}{
		{"small16KiB", 16 << 10, false}, {"large1MiB", 1 << 20, false},
		{"small16KiB-incremental", 16 << 10, true}, {"large1MiB-incremental", 1 << 20, true},
	} {
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
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 16<<20)
			var size [4]byte
			roundTrip := func(frame []byte) int {
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
				return n
			}
			formatter := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench"))
			var frame []byte
			epochAt := -1 // where the session epoch is in frame
			if bc.incremental {
				req.SessionID, req.SessionEpoch = 0, 0
				n := roundTrip(formatter.AppendRequest(nil, req, 1))
				resp := kmsg.NewPtrFetchResponse()
				resp.Version = req.Version
				if err := resp.ReadFrom(buf[5:n]); err != nil { // correlation id, header tags
					b.Fatal(err)
				}
				if resp.ErrorCode != 0 || resp.SessionID == 0 {
					b.Fatalf("no session: error %d, session %d", resp.ErrorCode, resp.SessionID)
				}
				incr := kmsg.NewPtrFetchRequest()
				incr.Version, incr.ReplicaID, incr.MaxBytes = req.Version, -1, req.MaxBytes
				incr.SessionID, incr.SessionEpoch = resp.SessionID, 1
				frame = formatter.AppendRequest(nil, incr, 1)
				incr.SessionEpoch = 2
				other := formatter.AppendRequest(nil, incr, 1)
				for i := range frame {
					if frame[i] != other[i] {
						epochAt = i - 3 // the epoch's last byte differs
						break
					}
				}
			} else {
				frame = formatter.AppendRequest(nil, req, 1)
			}
			total := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if epochAt >= 0 {
					binary.BigEndian.PutUint32(frame[epochAt:], uint32(i+1))
				}
				n := roundTrip(frame)
				// v12: correlation id, header tags, throttle, error code.
				if i == 0 && binary.BigEndian.Uint16(buf[9:]) != 0 {
					b.Fatalf("fetch error %d", int16(binary.BigEndian.Uint16(buf[9:])))
				}
				total += n
			}
			b.SetBytes(int64(total / b.N))
		})
	}
}
