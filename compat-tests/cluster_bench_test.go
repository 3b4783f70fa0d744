//go:build clusterbench

package compat

// The cluster's figures (not a pass/fail test): failover time, controlled
// shutdown time, and produce throughput with replication factor 3 against 1
// on three brokers on loopback. Run with `make cluster-bench`, or
//
//	cd compat-tests && go test -tags clusterbench -run TestClusterFigures -v -count=1 -timeout 20m .
//
// SAMSA_BENCH_BIN names a samsa-bench binary (default: built here).
// CLUSTER_BENCH_DURATION (default 10s) is each throughput run's length.
// The cluster is started with clusterOptions.direct: clients and brokers
// reach each other without the fault proxies, whose copying would be part
// of the figures otherwise.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestClusterFigures(t *testing.T) {
	c := startCluster(t, clusterOptions{direct: true})
	t.Logf("FIGURE session timeout %v (broker.session.timeout.ms, if this samsa knows it), replica.lag.time.max.ms %v", c.opts.sessionTimeout, c.opts.replicaLag)

	// Failover: leader killed -> first acks=all produce acknowledged by
	// the new leader, three rounds.
	const ftopic = "figures-failover"
	c.replicatedTopic(ftopic, 1)
	// Not idempotent: an idempotent record already sent cannot fail by
	// its deadline (kgo waits for an answer about it), and the probe
	// must give up after its timeout.
	cl := c.clusterClient(
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(),
		kgo.RecordDeliveryTimeout(60*time.Second),
		kgo.DefaultProduceTopic(ftopic),
		kgo.ProducerLinger(0),
		kgo.MetadataMinAge(50*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
	)
	defer cl.Close()
	produce := func(timeout time.Duration) (int32, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		r := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("probe")})
		if err := r.FirstErr(); err != nil {
			return -1, err
		}
		return r[0].Record.LeaderEpoch, nil
	}
	if _, err := produce(30 * time.Second); err != nil {
		t.Fatalf("first produce: %v", err)
	}
	var failovers []time.Duration
	for round := 0; round < 3; round++ {
		before := c.Partition(ftopic, 0)
		start := time.Now()
		c.Kill9(before.Leader)
		epoch, err := produce(60 * time.Second)
		took := time.Since(start)
		if err != nil {
			t.Logf("FIGURE failover round %d: no produce acknowledged within 60s of killing leader %d: %v", round+1, before.Leader, err)
			c.Start(before.Leader)
			c.waitFormed()
			break
		}
		after := c.Partition(ftopic, 0, before.Leader)
		t.Logf("FIGURE failover round %d: leader %d killed -> first ack %v later (new leader %d, batch epoch %d)", round+1, before.Leader, took.Round(time.Millisecond), after.Leader, epoch)
		failovers = append(failovers, took)
		c.Start(before.Leader)
		c.WaitFullISR(ftopic, 1, catchUpTimeout)
	}
	if len(failovers) > 0 {
		slices.Sort(failovers)
		t.Logf("FIGURE failover median %v over %d rounds", failovers[len(failovers)/2].Round(time.Millisecond), len(failovers))
	}

	// Controlled shutdown: SIGTERM -> exit, for a broker that leads
	// partitions, three rounds.
	const stopic = "figures-shutdown"
	c.replicatedTopic(stopic, 6)
	for _, b := range c.Brokers {
		took := c.Stop(b.ID)
		t.Logf("FIGURE controlled shutdown of broker %d: %v", b.ID, took.Round(time.Millisecond))
		c.Start(b.ID)
		c.WaitFullISR(stopic, 6, catchUpTimeout)
	}

	// Throughput: samsa-bench produce, acks=all, RF 3 (min.insync.replicas
	// 2) against RF 1, same partitions and record size.
	bench := benchBinary(t)
	dur := os.Getenv("CLUSTER_BENCH_DURATION")
	if dur == "" {
		dur = "10s"
	}
	for _, rf := range []int{1, 3} {
		topic := fmt.Sprintf("figures-rf%d", rf)
		if rf == 3 {
			c.CreateTopic(topic, 6, 3, minISR2, nil)
		} else {
			c.CreateTopic(topic, 6, 1, nil, nil)
		}
		out, err := exec.Command(bench, "--brokers", strings.Join(c.Bootstrap(), ","), "--topic", topic,
			"--create-topic=false", "--acks", "all", "--record-size", "1024", "--duration", dur, "--timeout", "5m").Output()
		if err != nil {
			t.Errorf("samsa-bench RF %d: %v\n%s", rf, err, out)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Logf("FIGURE produce RF %d acks=all: %s", rf, lines[len(lines)-1])
	}
}
