package broker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/broker/config"
)

// TestDurableProduceAcksAfterFsync: with samsa.log.durable every
// acknowledged record is below the partition's recovery point when the
// acknowledgement arrives (fsynced), for several producers at once, and
// every one is read back.
func TestDurableProduceAcksAfterFsync(t *testing.T) {
	b, addr := startTestBroker(t, "samsa.log.durable=true")
	createTopic(t, addr, "dur", 1, nil)
	const producers, each = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, producers*each)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.LeaderAck()),
				kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0))
			var pw sync.WaitGroup
			for i := 0; i < each; i++ {
				pw.Add(1)
				cl.Produce(context.Background(), &kgo.Record{Topic: "dur", Value: []byte(fmt.Sprintf("%d-%d", p, i))},
					func(r *kgo.Record, err error) {
						defer pw.Done()
						if err == nil {
							if rp := b.logs.Get("dur", 0).RecoveryPoint(); rp <= r.Offset {
								err = fmt.Errorf("offset %d acknowledged with the recovery point at %d", r.Offset, rp)
							}
						}
						errs <- err
					})
			}
			pw.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := consumeN(t, addr, "dur", producers*each); len(got) != producers*each {
		t.Fatalf("read %d records", len(got))
	}
}

// BenchmarkProduceDurable compares produce throughput to one partition,
// eight producers at once (franz-go, acks=1, 1 KiB records, linger 0, so
// that batches stay small and each producer has one request in flight on
// its connection), with the default (no fsync), with samsa.log.durable
// (every acknowledgement after fsync, group commit) and with
// flush.messages=1 (an fsync per batch under the log's lock).
func BenchmarkProduceDurable(b *testing.B) {
	for _, mode := range []struct{ name, prop string }{
		{"default", ""},
		{"durable", "samsa.log.durable=true"},
		{"flush.messages=1", "log.flush.interval.messages=1"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			props := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": b.TempDir()}
			if k, v, ok := strings.Cut(mode.prop, "="); ok {
				props[k] = v
			}
			cfg, err := config.NewBroker(props)
			if err != nil {
				b.Fatal(err)
			}
			br, err := New(cfg, zerolog.Nop())
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := br.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			addr := br.Addrs()[0].String()
			createTopicB(b, addr, "bench", 1)
			const producers = 8
			value := make([]byte, 1024)
			var clients []*kgo.Client
			for range producers {
				cl := benchClient(b, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.LeaderAck()),
					kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(64))
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "bench", Value: value}).FirstErr(); err != nil {
					b.Fatal(err)
				}
				clients = append(clients, cl)
			}
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, cl := range clients {
				n := b.N / producers
				if i < b.N%producers {
					n++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n {
						cl.Produce(ctx, &kgo.Record{Topic: "bench", Value: value}, func(_ *kgo.Record, err error) {
							if err != nil {
								b.Error(err)
							}
						})
					}
					cl.Flush(ctx)
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
