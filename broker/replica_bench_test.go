package broker

import (
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestReplicatedProduceThroughput is a figure, not a check: acks=all
// produce throughput to a topic of replication factor 1 and 3 on three
// in-process brokers (one machine: the followers' fetches share its cores).
// Run with SAMSA_REPL_BENCH=1 go test -run TestReplicatedProduceThroughput -v ./broker/
func TestReplicatedProduceThroughput(t *testing.T) {
	if os.Getenv("SAMSA_REPL_BENCH") == "" {
		t.Skip("a measurement: set SAMSA_REPL_BENCH=1")
	}
	c := newReplCluster(t, 3, "replica.lag.time.max.ms=600000")
	c.createTopic("rf1", []int32{1}, nil)
	c.createTopic("rf3", []int32{1, 2, 3}, map[string]string{"min.insync.replicas": "2"})
	value := make([]byte, 1024)
	rand.Read(value)
	const n = 200_000
	for _, topic := range []string{"rf1", "rf3", "rf1", "rf3"} {
		cl := newClient(t, c.addrs[1], kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		start := time.Now()
		for range n {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Error(err)
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		cancel()
		cl.Close()
		t.Logf("%s: %d x 1 KiB acks=all in %v: %.0f MB/s, %.0f records/s; leader log end offset %d", topic, n,
			d.Round(time.Millisecond), float64(n*1024)/d.Seconds()/1e6, float64(n)/d.Seconds(), c.log(1, topic).LogEndOffset())
	}
}
