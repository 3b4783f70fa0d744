package broker

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/broker/config"
)

// BenchmarkOffsetCommitOneGroup100Partitions: one OffsetCommit of 100
// partitions per op (reported as commits/s = partitions/s).
func BenchmarkOffsetCommitOneGroup100Partitions(b *testing.B) {
	_, addr := benchBroker(b)
	createTopicB(b, addr, "bench100", 100)
	adm := kadm.NewClient(benchClient(b, addr))
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		offs := kadm.Offsets{}
		for p := int32(0); p < 100; p++ {
			offs.Add(kadm.Offset{Topic: "bench100", Partition: p, At: int64(i), LeaderEpoch: -1})
		}
		resp, err := adm.CommitOffsets(ctx, "g", offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "offsets/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkOffsetCommit1000GroupsOnePartition: each op commits one
// partition for each of 1,000 groups, concurrently.
func BenchmarkOffsetCommit1000GroupsOnePartition(b *testing.B) {
	_, addr := benchBroker(b)
	createTopicB(b, addr, "bench1", 1)
	cl := benchClient(b, addr)
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		errs := make(chan error, 1000)
		sem := make(chan struct{}, 64)
		for g := 0; g < 1000; g++ {
			sem <- struct{}{}
			go func(g int) {
				defer func() { <-sem }()
				offs := kadm.Offsets{}
				offs.Add(kadm.Offset{Topic: "bench1", Partition: 0, At: int64(i), LeaderEpoch: -1})
				resp, err := adm.CommitOffsets(ctx, fmt.Sprintf("g%d", g), offs)
				if err == nil {
					err = resp.Error()
				}
				errs <- err
			}(g)
		}
		for g := 0; g < 1000; g++ {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkRebalance3To4Members: time from a fourth member joining a
// stable three-member group to all four having an assignment.
func BenchmarkRebalance3To4Members(b *testing.B) {
	_, addr := benchBroker(b)
	createTopicB(b, addr, "rb", 12)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		group := fmt.Sprintf("rb%d", i)
		var members []*benchMember
		for j := 0; j < 3; j++ {
			members = append(members, newBenchMember(b, addr, group, "rb"))
		}
		waitBench(b, members, 12)
		b.StartTimer()
		members = append(members, newBenchMember(b, addr, group, "rb"))
		waitBench(b, members, 12)
		b.StopTimer()
		for _, m := range members {
			m.stop()
		}
	}
}

// benchBroker is startTestBroker for benchmarks.
func benchBroker(b *testing.B) (*Broker, string) {
	props := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": b.TempDir()}
	for _, o := range groupOverrides {
		k, v, _ := strings.Cut(o, "=")
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := br.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	return br, br.Addrs()[0].String()
}

func benchClient(b *testing.B, addr string, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return cl
}

func createTopicB(b *testing.B, addr, topic string, n int32) {
	adm := kadm.NewClient(benchClient(b, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, n, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		b.Fatal(err)
	}
}

type benchMember struct {
	n      atomic.Int64 // partitions assigned
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
}

func newBenchMember(b *testing.B, addr, group, topic string) *benchMember {
	m := &benchMember{done: make(chan struct{})}
	cl := benchClient(b, addr, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { m.n.Add(int64(len(a[topic]))) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.n.Add(-int64(len(r[topic]))) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.n.Add(-int64(len(r[topic]))) }),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.HeartbeatInterval(100*time.Millisecond),
		kgo.SessionTimeout(3*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	m.cl, m.cancel = cl, cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	return m
}

func (m *benchMember) stop() { m.cancel(); <-m.done; m.cl.Close() }

func waitBench(b *testing.B, ms []*benchMember, n int) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		total, all := 0, true
		for _, m := range ms {
			k := int(m.n.Load())
			if k == 0 {
				all = false
			}
			total += k
		}
		if all && total == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("no convergence")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
