package compat

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProduceRecordErrors: a stock producer (franz-go) gets Kafka's error
// for records the topic's configs refuse: INVALID_TIMESTAMP for a record
// older than message.timestamp.before.max.ms, INVALID_RECORD for a keyless
// record on a compacted topic, and the good records of another batch are
// unaffected.
func TestProduceRecordErrors(t *testing.T) {
	s := StartSamsa(t)
	adm, cl := newAdmin(t, s.Addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hour := "3600000"
	compact := "compact"
	for name, cfg := range map[string]map[string]*string{
		"produce-errors-ts":      {"message.timestamp.before.max.ms": &hour},
		"produce-errors-compact": {"cleanup.policy": &compact},
	} {
		if _, err := adm.CreateTopic(ctx, 1, 1, cfg, name); err != nil {
			t.Fatal(err)
		}
	}

	p, err := kgo.NewClient(kgo.SeedBrokers(s.Addr), kgo.RecordRetries(2), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	produce := func(r *kgo.Record) error { return p.ProduceSync(ctx, r).FirstErr() }

	old := &kgo.Record{Topic: "produce-errors-ts", Value: []byte("old"), Timestamp: time.Now().Add(-2 * time.Hour)}
	if err := produce(old); !errors.Is(err, kerr.InvalidTimestamp) {
		t.Errorf("a record 2 h old under message.timestamp.before.max.ms=1h: %v, want INVALID_TIMESTAMP", err)
	}
	if err := produce(&kgo.Record{Topic: "produce-errors-ts", Value: []byte("new")}); err != nil {
		t.Errorf("a current record: %v", err)
	}
	if err := produce(&kgo.Record{Topic: "produce-errors-compact", Value: []byte("no key")}); !errors.Is(err, kerr.InvalidRecord) {
		t.Errorf("a keyless record on a compacted topic: %v, want INVALID_RECORD", err)
	}
	if err := produce(&kgo.Record{Topic: "produce-errors-compact", Key: []byte("k"), Value: []byte("keyed")}); err != nil {
		t.Errorf("a keyed record on a compacted topic: %v", err)
	}
}

// TestProduceRecordErrorsJavaProducer: Kafka's Java producer (the console
// producer) sends three records in one batch to a compacted topic, the
// middle one without a key. As against Kafka 4.4, the broker names that
// record in the answer's ErrorRecords: the producer fails it with an
// InvalidRecordException and the other two with "part of a batch which
// had one more more invalid records" (Sender.failBatch).
func TestProduceRecordErrorsJavaProducer(t *testing.T) {
	kt, err := newKafkaTools(t)
	if err != nil {
		t.Fatal(err)
	}
	s := StartSamsa(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const topic = "produce-errors-java"
	if _, _, err := kt.run(ctx, "", clsTopics, "--bootstrap-server", s.Addr, "--create", "--topic", topic,
		"--partitions", "1", "--config", "cleanup.policy=compact"); err != nil {
		t.Fatal(err)
	}
	// Exits 0 either way: the console producer only logs failed sends.
	_, stderr, _ := kt.run(ctx, "k1:v1\nNULL:v2\nk3:v3\n", clsProducer, "--bootstrap-server", s.Addr, "--topic", topic,
		"--reader-property", "parse.key=true", "--reader-property", "key.separator=:", "--reader-property", "null.marker=NULL",
		"--command-property", "linger.ms=2000")
	var invalid, others int
	for _, l := range strings.Split(stderr, "\n") {
		switch {
		case strings.HasPrefix(l, "org.apache.kafka.common.InvalidRecordException: "):
			invalid++
		case l == "org.apache.kafka.common.KafkaException: Failed to append record because it was part of a batch which had one more more invalid records":
			others++
		}
	}
	if invalid != 1 || others != 2 {
		t.Fatalf("%d records failed as invalid and %d as part of their batch, want 1 and 2; stderr:\n%s", invalid, others, stderr)
	}
}
