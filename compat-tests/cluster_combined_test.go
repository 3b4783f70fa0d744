package compat

import (
	"testing"
)

// TestClusterCombinedMode (g): three brokers with Kafka's combined-node
// properties (process.roles=broker,controller, controller.quorum.voters,
// controller.listener.names) form one cluster on the etcd their embedded
// members make among themselves, with no etcd outside. One is killed; the
// other two keep serving writes (acks=all, min.insync.replicas=2), reads
// and metadata changes (a topic created needs the etcd quorum of the two);
// the killed one comes back and catches up.
func TestClusterCombinedMode(t *testing.T) {
	c := startCluster(t, clusterOptions{combined: true})
	const topic, partitions = "combined", 3
	c.replicatedTopic(topic, partitions)
	acked := produceRecords(t, c.Broker(1).Client.Addr(), topic, 1000, 30, 21)

	before := make([]PartitionView, partitions)
	for p := range before {
		before[p] = c.Partition(topic, int32(p))
	}
	const victim = 1
	c.Kill9(victim)
	for p, v := range before {
		if v.Leader == victim {
			c.WaitLeader(topic, int32(p), victim, v.LeaderEpoch, failoverTimeout)
		}
	}
	more := produceRecords(t, c.Broker(2).Client.Addr(), topic, 1000, 30, 22)
	for _, ar := range more {
		ar.seq += len(acked)
	}
	acked = append(acked, more...)
	c.verifyTopic(topic, partitions, acked)
	c.CreateTopic("combined-after-kill", 2, 2, nil, nil)

	c.Start(victim)
	c.waitFormed()
	c.WaitFullISR(topic, partitions, catchUpTimeout)
	c.verifyTopic(topic, partitions, acked)
}
