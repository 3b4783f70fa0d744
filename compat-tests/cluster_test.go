package compat

// Cluster tests that need no replication: the cluster forms on a shared
// etcd, every broker is registered and reachable through its proxies, and
// every broker answers the same metadata.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestClusterForms: three brokers on one 3-member etcd register, agree on
// one controller, advertise their client proxies, and answer the same
// metadata (replicas, leaders, epochs) for an RF 3 topic whose replicas and
// leaders are spread over all three.
func TestClusterForms(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	const topic, partitions = "forms", 6
	c.CreateTopic(topic, partitions, 3, map[string]string{"min.insync.replicas": "2"}, nil)

	// Every broker lists every broker at its client proxy's address.
	for _, b := range c.Brokers {
		m, err := b.Metadata(nil)
		if err != nil {
			t.Fatalf("broker %d: metadata: %v", b.ID, err)
		}
		if len(m.Brokers) != len(c.Brokers) {
			t.Fatalf("broker %d lists %d brokers, want %d", b.ID, len(m.Brokers), len(c.Brokers))
		}
		for _, mb := range m.Brokers {
			want := c.Broker(mb.NodeID).Client
			if got := fmt.Sprintf("%s:%d", mb.Host, mb.Port); got != want.Addr() {
				t.Errorf("broker %d lists broker %d at %s, want its client link %s", b.ID, mb.NodeID, got, want.Addr())
			}
		}
		if m.ControllerID < 1 || int(m.ControllerID) > len(c.Brokers) {
			t.Errorf("broker %d names controller %d", b.ID, m.ControllerID)
		}
	}

	// The same view of every partition from every broker; replicas are
	// the three brokers, leaders spread over all of them.
	leaders := map[int32]int{}
	for p := int32(0); p < partitions; p++ {
		var first PartitionView
		for i, b := range c.Brokers {
			v := b.Partition(topic, p)
			if v.Err != nil {
				t.Fatalf("broker %d, partition %d: %v", b.ID, p, v.Err)
			}
			if i == 0 {
				first = v
				continue
			}
			if v.Leader != first.Leader || v.LeaderEpoch != first.LeaderEpoch || !slices.Equal(v.Replicas, first.Replicas) || !slices.Equal(v.ISR, first.ISR) {
				t.Errorf("partition %d: broker %d says %s, broker %d says %s", p, b.ID, v, first.From, first)
			}
		}
		r := slices.Clone(first.Replicas)
		slices.Sort(r)
		if !slices.Equal(r, []int32{1, 2, 3}) {
			t.Errorf("partition %d: replicas %v, want brokers 1, 2 and 3", p, first.Replicas)
		}
		if len(first.Replicas) > 0 && first.Leader != first.Replicas[0] {
			t.Errorf("partition %d: leader %d is not the preferred replica %d", p, first.Leader, first.Replicas[0])
		}
		leaders[first.Leader]++
	}
	for _, b := range c.Brokers {
		if leaders[b.ID] != partitions/len(c.Brokers) {
			t.Errorf("broker %d leads %d of %d partitions, want %d (leaders spread evenly): %v", b.ID, leaders[b.ID], partitions, partitions/len(c.Brokers), leaders)
		}
	}
}

// TestClusterClientLinks: a client bootstrapped from the proxies produces
// and consumes on every partition, so every broker is reached through its
// client link; cutting one link with Reset makes a client that knows only
// that broker fail, and healing it makes it work again.
func TestClusterClientLinks(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	const topic, partitions = "links", 3
	c.CreateTopic(topic, partitions, 3, map[string]string{"min.insync.replicas": "2"}, nil)

	acked := produceRecords(t, c.Bootstrap()[0], topic, 300, 30, 7)
	consumed := consumeAll(t, c.Bootstrap()[1], topic, partitions, countPerPartition(acked), 30*time.Second)
	verifyRecords(t, acked, consumed)
	for _, b := range c.Brokers {
		if b.Client.Accepted() == 0 {
			t.Errorf("no client connection went through broker %d's client link", b.ID)
		}
	}

	b := c.Broker(2)
	b.Client.Reset()
	if err := pingVia(b.Client.Addr()); err == nil {
		t.Fatalf("ApiVersions through broker 2's reset client link succeeded")
	}
	b.Client.Pass()
	if err := pingVia(b.Client.Addr()); err != nil {
		t.Fatalf("ApiVersions through broker 2's healed client link: %v", err)
	}
}

// pingVia sends one ApiVersions to addr with a client that knows only addr.
func pingVia(addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(time.Second), kgo.RequestRetries(0), kgo.RetryTimeout(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = cl.SeedBrokers()[0].Request(ctx, kmsg.NewPtrApiVersionsRequest())
	return err
}

// TestClusterRestartKeepsRegistration: a broker restarted (SIGTERM, then
// start on the same data dir) is listed again by every broker, with the
// same client link.
func TestClusterRestartKeepsRegistration(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	c.Restart(3)
	c.waitFormed()
	c.Kill9(1)
	c.Start(1)
	c.waitFormed()
}
