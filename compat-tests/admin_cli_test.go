package compat

import (
	"context"
	"crypto/rand"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka 4.4's admin tools run against the real binary: kafka-configs.sh on
// brokers (one broker and the cluster default) and groups,
// kafka-features.sh, kafka-metadata-quorum.sh and kafka-transactions.sh.
// The expected lines are what the same commands print against Kafka 4.4
// (scripts/kafka.sh start), except where samsa's answer is its own (the
// quorum is etcd's).
const (
	clsFeatures   = "org.apache.kafka.tools.FeatureCommand"
	clsQuorum     = "org.apache.kafka.tools.MetadataQuorumCommand"
	clsTransTools = "org.apache.kafka.tools.TransactionsCommand"
)

func TestKafkaAdminTools(t *testing.T) {
	kt, err := newKafkaTools(t)
	if err != nil {
		t.Fatal(err) // a missing tool is a failure to fix on the machine
	}
	s := StartSamsa(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := func(t *testing.T, class string, args ...string) string {
		t.Helper()
		out, _, err := kt.run(ctx, "", class, append([]string{"--bootstrap-server", s.Addr}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	refused := func(t *testing.T, class string, args ...string) string {
		t.Helper()
		out, stderr, err := kt.run(ctx, "", class, append([]string{"--bootstrap-server", s.Addr}, args...)...)
		if err == nil {
			t.Fatalf("%s %v succeeded, want it refused:\n%s", class, args, out)
		}
		return stderr
	}
	want := func(t *testing.T, what, out string, lines ...string) {
		t.Helper()
		for _, l := range lines {
			if !containsLine(out, l) {
				t.Errorf("%s: no line %q in:\n%s", what, l, out)
			}
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr), kgo.DefaultProduceTopic("admin-tools"), kgo.AllowAutoTopicCreation(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(8<<20), kgo.RecordRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(value []byte) error {
		return cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr()
	}

	t.Run("configs-brokers", func(t *testing.T) {
		cfg := []string{"--entity-type", "brokers"}
		one := append(append([]string{}, cfg...), "--entity-name", "1")
		def := append(append([]string{}, cfg...), "--entity-default")
		out := run(t, clsConfigs, append(one, "--alter", "--add-config", "log.retention.ms=7200000,log.cleaner.threads=2")...)
		want(t, "alter broker 1", out, "Completed updating config for broker 1.")
		out = run(t, clsConfigs, append(def, "--alter", "--add-config", "message.max.bytes=2000")...)
		want(t, "alter default", out, "Completed updating default config for brokers in the cluster.")
		out = run(t, clsConfigs, append(one, "--describe")...)
		want(t, "describe broker 1", out,
			"Dynamic configs for broker 1 are:",
			"log.cleaner.threads=2 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.cleaner.threads=2, DEFAULT_CONFIG:log.cleaner.threads=1}",
			"log.retention.ms=7200000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=7200000, DEFAULT_CONFIG:log.retention.hours=168}")
		out = run(t, clsConfigs, append(def, "--describe")...)
		want(t, "describe default", out,
			"Default configs for brokers in the cluster are:",
			"message.max.bytes=2000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:message.max.bytes=2000}")

		// The dynamic default acts at once: a 3000-byte record (random, so
		// that compression keeps it large) is too large.
		big := make([]byte, 3000)
		rand.Read(big)
		if err := produce(big); !errors.Is(err, kerr.MessageTooLarge) {
			t.Errorf("produce 3000 bytes under a dynamic message.max.bytes=2000: %v, want MESSAGE_TOO_LARGE", err)
		}

		stderr := refused(t, clsConfigs, append(def, "--alter", "--add-config", "log.roll.hours=10")...)
		if !strings.Contains(stderr, "InvalidRequestException: Cannot update these configs dynamically: [log.roll.hours]") {
			t.Errorf("log.roll.hours: %s", lastLines(stderr, 3))
		}

		run(t, clsConfigs, append(one, "--alter", "--delete-config", "log.retention.ms,log.cleaner.threads")...)
		run(t, clsConfigs, append(def, "--alter", "--delete-config", "message.max.bytes")...)
		out = run(t, clsConfigs, append(one, "--describe")...)
		if strings.TrimSpace(out) != "Dynamic configs for broker 1 are:" {
			t.Errorf("after --delete-config:\n%s", out)
		}
		if err := produce(big); err != nil {
			t.Errorf("produce 3000 bytes after deleting the dynamic default: %v", err)
		}
	})

	t.Run("configs-groups", func(t *testing.T) {
		grp := []string{"--entity-type", "groups", "--entity-name", "admin-tools-group"}
		out := run(t, clsConfigs, append(grp, "--alter", "--add-config", "consumer.session.timeout.ms=50000")...)
		want(t, "alter group", out, "Completed updating config for group admin-tools-group.")
		out = run(t, clsConfigs, append(grp, "--describe")...)
		want(t, "describe group", out,
			"Dynamic configs for group admin-tools-group are:",
			"consumer.session.timeout.ms=50000 sensitive=false synonyms={DYNAMIC_GROUP_CONFIG:consumer.session.timeout.ms=50000, DEFAULT_CONFIG:group.consumer.session.timeout.ms=45000}")
		out = run(t, clsConfigs, append(grp, "--describe", "--all")...)
		want(t, "describe group --all", out,
			"consumer.heartbeat.interval.ms=5000 sensitive=false synonyms={DEFAULT_CONFIG:group.consumer.heartbeat.interval.ms=5000}",
			"consumer.assignment.interval.ms=1000 sensitive=false synonyms={DEFAULT_CONFIG:group.consumer.assignment.interval.ms=1000}",
			"streams.assignor.name=sticky sensitive=false synonyms={DEFAULT_CONFIG:group.streams.assignors=sticky}")
		stderr := refused(t, clsConfigs, append(grp, "--alter", "--add-config", "consumer.session.timeout.ms=10")...)
		if !strings.Contains(stderr, "InvalidConfigurationException: consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive.") {
			t.Errorf("consumer.session.timeout.ms=10: %s", lastLines(stderr, 3))
		}
		run(t, clsConfigs, append(grp, "--alter", "--delete-config", "consumer.session.timeout.ms")...)
		out = run(t, clsConfigs, append(grp, "--describe")...)
		if strings.TrimSpace(out) != "Dynamic configs for group admin-tools-group are:" {
			t.Errorf("after --delete-config:\n%s", out)
		}
	})

	t.Run("features", func(t *testing.T) {
		out := run(t, clsFeatures, "describe")
		for _, re := range []string{
			`(?m)^Feature: metadata\.version\s+SupportedMinVersion: 4\.4-IV2\s+SupportedMaxVersion: 4\.4-IV2\s+FinalizedVersionLevel: 4\.4-IV2\s+Epoch: \d+$`,
			`(?m)^Feature: group\.version\s+SupportedMinVersion: 1\s+SupportedMaxVersion: 1\s+FinalizedVersionLevel: 1\s+Epoch: \d+$`,
			`(?m)^Feature: transaction\.version\s+SupportedMinVersion: 2\s+SupportedMaxVersion: 2\s+FinalizedVersionLevel: 2\s+Epoch: \d+$`,
			`(?m)^Feature: share\.version\s+SupportedMinVersion: 0\s+SupportedMaxVersion: 0\s+FinalizedVersionLevel: 0\s+Epoch: \d+$`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("kafka-features describe: no match for %s in:\n%s", re, out)
			}
		}
	})

	t.Run("features-update", func(t *testing.T) {
		out := run(t, clsFeatures, "upgrade", "--feature", "group.version=1")
		want(t, "upgrade group.version=1", out, "group.version was upgraded to 1.")
		// Refused: the tool prints why and exits non-zero.
		out = run(t, clsFeatures, "upgrade", "--feature", "transaction.version=2")
		want(t, "upgrade transaction.version=2", out, "transaction.version was upgraded to 2.")
		out, _, _ = kt.run(ctx, "", clsFeatures, "--bootstrap-server", s.Addr, "upgrade", "--feature", "share.version=1")
		if !strings.Contains(out, "Could not upgrade share.version to 1. invalid update version 1 for feature share.version") {
			t.Errorf("upgrade share.version=1:\n%s", out)
		}
		out, _, _ = kt.run(ctx, "", clsFeatures, "--bootstrap-server", s.Addr, "downgrade", "--feature", "transaction.version=1")
		if !strings.Contains(out, "Could not downgrade transaction.version to 1.") {
			t.Errorf("downgrade transaction.version=1:\n%s", out)
		}
		out, _, _ = kt.run(ctx, "", clsFeatures, "--bootstrap-server", s.Addr, "downgrade", "--feature", "group.version=0")
		if !strings.Contains(out, "Could not downgrade group.version to 0.") {
			t.Errorf("downgrade group.version=0:\n%s", out)
		}
	})

	t.Run("metadata-quorum", func(t *testing.T) {
		out := run(t, clsQuorum, "describe", "--status")
		for _, re := range []string{
			`(?m)^LeaderId:\s+1$`, `(?m)^LeaderEpoch:\s+\d+$`, `(?m)^HighWatermark:\s+\d+$`, `(?m)^MaxFollowerLag:\s+0$`,
			`(?m)^CurrentVoters:\s+\[\{"id": 1, "endpoints": \["ETCD://127\.0\.0\.1:\d+"\]\}\]$`, `(?m)^CurrentObservers:\s+\[\]$`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("kafka-metadata-quorum describe --status: no match for %s in:\n%s", re, out)
			}
		}
		out = run(t, clsQuorum, "describe", "--replication")
		if !regexp.MustCompile(`(?m)^1\s+AAAAAAAAAAAAAAAAAAAAAA\s+\d+\s+0\s+\d+\s+\d+\s+Leader\s*$`).MatchString(out) {
			t.Errorf("kafka-metadata-quorum describe --replication: no leader row for node 1:\n%s", out)
		}
	})

	t.Run("transactions-describe-producers", func(t *testing.T) {
		for range 2 {
			if err := produce([]byte("idempotent")); err != nil { // kgo produces idempotently by default
				t.Fatal(err)
			}
		}
		out := run(t, clsTransTools, "describe-producers", "--topic", "admin-tools", "--partition", "0")
		if !regexp.MustCompile(`(?m)^ProducerId\s+ProducerEpoch\s+LatestCoordinatorEpoch\s+LastSequence\s+LastTimestamp\s+CurrentTransactionStartOffset\s*$`).MatchString(out) ||
			!regexp.MustCompile(`(?m)^\d+\s+\d+\s+-1\s+[1-9]\d*\s+\d{13}\s+None\s*$`).MatchString(out) {
			t.Errorf("kafka-transactions describe-producers: no producer row:\n%s", out)
		}
	})
}
