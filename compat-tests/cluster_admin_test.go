package compat

// Admin of a real 3-broker cluster with Kafka's own tools:
// kafka-reassign-partitions.sh (ReassignPartitionsCommand: --execute,
// --verify) and kafka-leader-election.sh (LeaderElectionCommand).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	clsReassign       = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand"
	clsLeaderElection = "org.apache.kafka.tools.LeaderElectionCommand"
)

// TestClusterReassignWithKafkaTools moves an RF 2 partition from brokers
// {1, 2} to {2, 3} with kafka-reassign-partitions.sh under an idempotent
// acks=all producer: --verify reports it completed, broker 3's log is byte
// for byte broker 2's, broker 1's log is deleted (renamed -delete, never
// set aside as -stray), and every acknowledged record is there exactly
// once at its offset. Then kafka-leader-election.sh moves leadership back
// to the preferred replica after a failover.
func TestClusterReassignWithKafkaTools(t *testing.T) {
	tools, err := newKafkaTools(t)
	if err != nil {
		t.Fatalf("Kafka's tools: %v", err)
	}
	c := startCluster(t, clusterOptions{})
	const topic = "reassign-tools"
	// The deleted log's directory stays around to be looked at.
	c.CreateTopic(topic, -1, -1, map[string]string{"file.delete.delay.ms": "600000"}, [][]int32{{1, 2}})
	c.WaitFullISR(topic, 1, catchUpTimeout)
	prod := startLoadProducer(t, c.Bootstrap(), topic, 100_000, 500, 7)
	prod.WaitProgress(300, failoverTimeout, "before the reassignment")

	bootstrap := strings.Join(c.Bootstrap(), ",")
	plan := filepath.Join(t.TempDir(), "reassign.json")
	if err := os.WriteFile(plan, []byte(fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"replicas":[2,3]}]}`, topic)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, stderr, err := tools.run(ctx, "", clsReassign, "--bootstrap-server", bootstrap, "--reassignment-json-file", plan, "--execute")
	if err != nil {
		t.Fatalf("--execute: %v\n%s\n%s", err, out, stderr)
	}
	if !strings.Contains(out, "Successfully started partition reassignment") || !strings.Contains(out, `"replicas":[1,2]`) {
		t.Fatalf("--execute printed:\n%s", out)
	}
	t.Logf("--execute:\n%s", out)
	var verify string
	c.WaitFor(catchUpTimeout, "--verify to report the reassignment completed", func() (bool, string) {
		out, stderr, err := tools.run(ctx, "", clsReassign, "--bootstrap-server", bootstrap, "--reassignment-json-file", plan, "--verify")
		verify = out
		if err != nil {
			return false, fmt.Sprintf("%v: %s %s", err, out, stderr)
		}
		return strings.Contains(out, fmt.Sprintf("Reassignment of partition %s-0 is completed.", topic)), out
	})
	t.Logf("--verify:\n%s", verify)
	prod.WaitProgress(300, failoverTimeout, "after the reassignment")

	v := c.Partition(topic, 0)
	if fmt.Sprint(v.Replicas) != "[2 3]" || v.Leader != 2 || fmt.Sprint(v.ISR) != "[2 3]" {
		t.Errorf("after the reassignment: %s, want replicas [2 3], ISR [2 3], leader 2", v)
	}
	c.waitSameLog(3, topic, 0)
	entries, err := os.ReadDir(c.Broker(1).DataDir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), topic+"-0") {
			left = append(left, e.Name())
		}
	}
	if len(left) != 1 || !strings.HasSuffix(left[0], "-delete") {
		t.Errorf("broker 1's directories of %s-0: %v, want only the renamed -delete one", topic, left)
	}

	// Leadership away from the preferred replica 2 (killed and back in
	// the ISR), then kafka-leader-election.sh --election-type preferred.
	c.Kill9(2)
	c.WaitLeader(topic, 0, 2, v.LeaderEpoch, failoverTimeout)
	c.Start(2)
	c.WaitFullISR(topic, 1, catchUpTimeout)
	out, stderr, err = tools.run(ctx, "", clsLeaderElection, "--bootstrap-server", bootstrap,
		"--election-type", "preferred", "--topic", topic, "--partition", "0")
	if err != nil || !strings.Contains(out, "Successfully completed leader election (PREFERRED) for partitions "+topic+"-0") {
		t.Fatalf("kafka-leader-election --election-type preferred: %v\n%s\n%s", err, out, stderr)
	}
	if l, _ := c.Leader(topic, 0); l != 2 {
		c.WaitFor(failoverTimeout, "broker 2 to lead again", func() (bool, string) {
			l, e := c.Leader(topic, 0)
			return l == 2, fmt.Sprintf("leader %d epoch %d", l, e)
		})
	}
	// Nothing left to elect.
	out, stderr, err = tools.run(ctx, "", clsLeaderElection, "--bootstrap-server", bootstrap,
		"--election-type", "preferred", "--all-topic-partitions")
	if err != nil || strings.Contains(out, "Error") {
		t.Fatalf("kafka-leader-election --all-topic-partitions: %v\n%s\n%s", err, out, stderr)
	}
	t.Logf("--all-topic-partitions:\n%s", out)

	prod.WaitProgress(300, failoverTimeout, "after the election")
	acked := prod.Stop()
	c.verifyTopic(topic, 1, acked)
	t.Logf("%d records acknowledged through the reassignment and the elections", len(acked))
}
