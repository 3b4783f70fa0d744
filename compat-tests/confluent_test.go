package compat

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// confluent-kafka-go v2 (librdkafka, bundled and linked through cgo)
// against samsa: every scenario of scenarios_test.go.

const confluentClient = "confluent-kafka-go"

func confluentConfig(addr string, extra kafka.ConfigMap) *kafka.ConfigMap {
	cm := kafka.ConfigMap{
		"bootstrap.servers": addr,
		"client.id":         "samsa-compat",
		// librdkafka logs to stderr; warnings and errors are enough.
		"log_level": 4,
	}
	for k, v := range extra {
		cm[k] = v
	}
	return &cm
}

func TestConfluent(t *testing.T) {
	c := confluentClient
	setBudget(c, 90*time.Second)
	s := StartSamsa(t)
	addr := s.Addr

	runScenario(t, c, scBootstrapMetadata, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scBootstrapMetadata)
		if err := fxCreateTopic(ctx, addr, topic, 3, nil); err != nil {
			return err
		}
		p, err := kafka.NewProducer(confluentConfig(addr, nil))
		if err != nil {
			return fmt.Errorf("producer: %w", err)
		}
		defer p.Close()
		md, err := p.GetMetadata(&topic, false, 10000)
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		if len(md.Brokers) != 1 {
			return fmt.Errorf("metadata lists %d brokers, want 1: %+v", len(md.Brokers), md.Brokers)
		}
		b := md.Brokers[0]
		if got := fmt.Sprintf("%s:%d", b.Host, b.Port); got != addr {
			return fmt.Errorf("broker advertised as %s, want %s", got, addr)
		}
		tm, ok := md.Topics[topic]
		if !ok || tm.Error.Code() != kafka.ErrNoError || len(tm.Partitions) != 3 {
			return fmt.Errorf("topic %s: %+v, want 3 partitions", topic, tm)
		}
		for _, pm := range tm.Partitions {
			if pm.Leader != b.ID {
				return fmt.Errorf("partition %d: leader %d, want %d", pm.ID, pm.Leader, b.ID)
			}
		}
		return nil
	})

	runScenario(t, c, scAdminTopics, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scAdminTopics)
		adm, err := kafka.NewAdminClient(confluentConfig(addr, nil))
		if err != nil {
			return fmt.Errorf("admin client: %w", err)
		}
		defer adm.Close()
		res, err := adm.CreateTopics(ctx, []kafka.TopicSpecification{{
			Topic: topic, NumPartitions: 3, ReplicationFactor: 1,
			Config: map[string]string{"retention.ms": "3600000"},
		}})
		if err == nil && (len(res) != 1 || res[0].Error.Code() != kafka.ErrNoError) {
			err = fmt.Errorf("%v", res)
		}
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		listed := func() (map[string]kafka.TopicMetadata, error) {
			md, err := adm.GetMetadata(nil, true, 10000)
			if err != nil {
				return nil, err
			}
			return md.Topics, nil
		}
		all, err := listed()
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		if _, ok := all[topic]; !ok {
			return fmt.Errorf("list: %s missing", topic)
		}
		dt, err := adm.DescribeTopics(ctx, kafka.NewTopicCollectionOfTopicNames([]string{topic}))
		if err != nil {
			return fmt.Errorf("describe: %w", err)
		}
		if len(dt.TopicDescriptions) != 1 {
			return fmt.Errorf("describe: %d descriptions, want 1", len(dt.TopicDescriptions))
		}
		if d := dt.TopicDescriptions[0]; d.Error.Code() != kafka.ErrNoError || d.Name != topic || len(d.Partitions) != 3 {
			return fmt.Errorf("describe: %s: err %v, %d partitions, want 3", d.Name, d.Error, len(d.Partitions))
		}
		cr, err := adm.DescribeConfigs(ctx, []kafka.ConfigResource{{Type: kafka.ResourceTopic, Name: topic}})
		if err != nil {
			return fmt.Errorf("describe configs: %w", err)
		}
		if len(cr) != 1 || cr[0].Error.Code() != kafka.ErrNoError {
			return fmt.Errorf("describe configs: %v", cr)
		}
		if e, ok := cr[0].Config["retention.ms"]; !ok || e.Value != "3600000" {
			return fmt.Errorf("describe configs: retention.ms=%+v, want 3600000", e)
		}
		dr, err := adm.DeleteTopics(ctx, []string{topic})
		if err == nil && (len(dr) != 1 || dr[0].Error.Code() != kafka.ErrNoError) {
			err = fmt.Errorf("%v", dr)
		}
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		return pollUntil(ctx, "topic still listed after delete", func() (bool, error) {
			all, err := listed()
			_, still := all[topic]
			return err == nil && !still, err
		})
	})

	for _, codec := range allCodecs {
		name := scProduceConsume(codec)
		runScenario(t, c, name, func(ctx context.Context, t *testing.T) error {
			topic := topicName(c, name)
			if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
				return err
			}
			want := makeRecords(name, produceConsumeRecords, baseTime())
			if err := confluentProduce(addr, topic, want, kafka.ConfigMap{"compression.codec": codec, "linger.ms": 20}); err != nil {
				return err
			}
			got, err := confluentRead(ctx, addr, topic, kafka.OffsetBeginning, len(want))
			if err != nil {
				return err
			}
			if err := compareRecords(want, got, 0); err != nil {
				return err
			}
			return fxCheckStoredCodec(ctx, addr, topic, codec)
		})
	}

	runScenario(t, c, scKeyPartitioning, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scKeyPartitioning)
		if err := fxCreateTopic(ctx, addr, topic, keyPartitions, nil); err != nil {
			return err
		}
		keys := partitionKeys()
		var recs []testRecord
		for _, k := range keys {
			recs = append(recs, testRecord{Key: k, Value: []byte("v"), Partition: kafka.PartitionAny})
		}
		// librdkafka's default is consistent_random (CRC32); murmur2_random is
		// the Java client's partitioner.
		if err := confluentProduce(addr, topic, recs, kafka.ConfigMap{"partitioner": "murmur2_random"}); err != nil {
			return err
		}
		return fxCheckKeyPlacement(ctx, addr, topic, keys, keyPartitions)
	})

	runScenario(t, c, scConsumeFromOffset, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scConsumeFromOffset)
		if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
			return err
		}
		recs := makeRecords(topic, seqRecords, baseTime())
		if err := confluentProduce(addr, topic, recs, nil); err != nil {
			return err
		}
		got, err := confluentRead(ctx, addr, topic, 4, seqRecords-4)
		if err != nil {
			return err
		}
		return compareRecords(recs[4:], got, 4)
	})

	runScenario(t, c, scConsumeFromTime, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scConsumeFromTime)
		if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
			return err
		}
		base := baseTime()
		recs := makeRecords(topic, seqRecords, base)
		if err := confluentProduce(addr, topic, recs, nil); err != nil {
			return err
		}
		cons, err := kafka.NewConsumer(confluentConfig(addr, kafka.ConfigMap{"group.id": topic + ".unused", "enable.auto.commit": false}))
		if err != nil {
			return fmt.Errorf("consumer: %w", err)
		}
		offs, err := cons.OffsetsForTimes([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: kafka.Offset(base.Add(4500 * time.Millisecond).UnixMilli())}}, 10000)
		cons.Close()
		if err != nil {
			return fmt.Errorf("offsets for times: %w", err)
		}
		if len(offs) != 1 || offs[0].Error != nil || offs[0].Offset != 5 {
			return fmt.Errorf("offsets for times: %v, want offset 5", offs)
		}
		got, err := confluentRead(ctx, addr, topic, offs[0].Offset, seqRecords-5)
		if err != nil {
			return err
		}
		return compareRecords(recs[5:], got, 5)
	})

	// groupCommitResume: a member reads 5 records and commits, a new member
	// resumes after the commit; protocol is librdkafka's group.protocol
	// (classic, or consumer: KIP-848, checked by the group's type).
	groupCommitResume := func(ctx context.Context, scenario, protocol string) error {
		topic := topicName(c, scenario)
		group := topic + ".group"
		if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
			return err
		}
		recs := makeRecords(topic, seqRecords, baseTime())
		if err := confluentProduce(addr, topic, recs, nil); err != nil {
			return err
		}
		if _, err := confluentGroupRead(ctx, addr, group, topic, 5, true, protocol); err != nil {
			return fmt.Errorf("first consumer: %w", err)
		}
		if typ, err := fxGroupType(ctx, addr, group); err != nil || typ != protocol {
			return fmt.Errorf("group type %q (%v), want %s", typ, err, protocol)
		}
		if off, err := fxCommittedOffset(ctx, addr, group, topic, 0); err != nil || off != 5 {
			return fmt.Errorf("committed offset %d (%v), want 5", off, err)
		}
		got, err := confluentGroupRead(ctx, addr, group, topic, seqRecords-5, false, protocol)
		if err != nil {
			return fmt.Errorf("second consumer: %w", err)
		}
		return compareRecords(recs[5:], got, 5)
	}
	runScenario(t, c, scGroupCommitResume, func(ctx context.Context, t *testing.T) error {
		return groupCommitResume(ctx, scGroupCommitResume, "classic")
	})
	runScenario(t, c, scGroupCommitResumeKIP848, func(ctx context.Context, t *testing.T) error {
		return groupCommitResume(ctx, scGroupCommitResumeKIP848, "consumer")
	})

	runScenario(t, c, scErrUnknownTopic, func(ctx context.Context, t *testing.T) error {
		s2 := StartSamsa(t, "--override", "auto.create.topics.enable=false")
		// librdkafka waits topic.metadata.propagation.max.ms (30 s) for a
		// topic the broker does not know before failing its messages.
		err := confluentProduce(s2.Addr, "missing-topic", []testRecord{{Value: []byte("v"), Partition: kafka.PartitionAny}},
			kafka.ConfigMap{"topic.metadata.propagation.max.ms": 1000, "message.timeout.ms": 20000})
		// librdkafka reports the broker's UNKNOWN_TOPIC_OR_PARTITION in
		// metadata as its local code _UNKNOWN_TOPIC.
		return expectErr(err, "UNKNOWN_TOPIC_OR_PARTITION", func(err error) bool {
			return confluentErrIs(err, kafka.ErrUnknownTopicOrPart) || confluentErrIs(err, kafka.ErrUnknownTopic)
		})
	})

	runScenario(t, c, scErrMessageTooLarge, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scErrMessageTooLarge)
		if err := fxCreateTopic(ctx, addr, topic, 1, map[string]string{"max.message.bytes": strconv.Itoa(smallMaxMessageBytes)}); err != nil {
			return err
		}
		// message.max.bytes far above the topic's limit: samsa rejects.
		err := confluentProduce(addr, topic, []testRecord{{Value: randomBytes(largeValueBytes)}},
			kafka.ConfigMap{"message.max.bytes": 4 << 20, "compression.codec": "none", "message.timeout.ms": 20000})
		return expectErr(err, "MESSAGE_TOO_LARGE", func(err error) bool { return confluentErrIs(err, kafka.ErrMsgSizeTooLarge) })
	})

	// librdkafka uses no fetch sessions: every Fetch carries session id 0
	// and epoch -1, a full fetch without a session (KIP-227). Three
	// partitions in one consumer, so that its fetches name several.
	runScenario(t, c, scFetchSessionless, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scFetchSessionless)
		if err := fxCreateTopic(ctx, addr, topic, 3, nil); err != nil {
			return err
		}
		var want [3][]testRecord
		for p := range want {
			want[p] = makeRecords(fmt.Sprintf("%s-%d", topic, p), seqRecords, baseTime())
			if err := fxProducePartition(ctx, addr, topic, int32(p), want[p]); err != nil {
				return err
			}
		}
		return fxNoNewSession(ctx, s.AdminAddr, func() error {
			cons, err := kafka.NewConsumer(confluentConfig(addr, kafka.ConfigMap{
				"group.id": topic + ".assign", "enable.auto.commit": false, "fetch.wait.max.ms": 200,
			}))
			if err != nil {
				return fmt.Errorf("consumer: %w", err)
			}
			defer cons.Close()
			var tps []kafka.TopicPartition
			for p := range want {
				tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: int32(p), Offset: kafka.OffsetBeginning})
			}
			if err := cons.Assign(tps); err != nil {
				return fmt.Errorf("assign: %w", err)
			}
			got, err := confluentPoll(ctx, cons, len(want)*seqRecords)
			if err != nil {
				return err
			}
			var byPart [3][]testRecord
			for _, r := range got {
				if r.Partition < 0 || int(r.Partition) >= len(byPart) {
					return fmt.Errorf("record of partition %d", r.Partition)
				}
				byPart[r.Partition] = append(byPart[r.Partition], r)
			}
			for p := range want {
				if err := compareRecords(want[p], byPart[p], 0); err != nil {
					return fmt.Errorf("partition %d: %w", p, err)
				}
			}
			return nil
		})
	})
}

func confluentErrIs(err error, code kafka.ErrorCode) bool {
	var ke kafka.Error
	return errors.As(err, &ke) && ke.Code() == code
}

// confluentProduce produces recs (to rec.Partition: 0 unless set, e.g. to
// kafka.PartitionAny) with one producer, waits for every delivery report
// and returns the first error.
func confluentProduce(addr, topic string, recs []testRecord, extra kafka.ConfigMap) error {
	cfg := kafka.ConfigMap{"acks": "all", "linger.ms": 5}
	for k, v := range extra {
		cfg[k] = v
	}
	p, err := kafka.NewProducer(confluentConfig(addr, cfg))
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	defer p.Close()
	dr := make(chan kafka.Event, len(recs))
	for _, r := range recs {
		m := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: r.Partition},
			Key:            r.Key,
			Value:          r.Value,
			Timestamp:      r.Timestamp,
		}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		if err := p.Produce(m, dr); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
	}
	var first error
	timeout := time.After(45 * time.Second)
	for i := range recs {
		select {
		case ev := <-dr:
			m, ok := ev.(*kafka.Message)
			if !ok {
				return fmt.Errorf("produce: unexpected event %v", ev)
			}
			if m.TopicPartition.Error != nil && first == nil {
				first = fmt.Errorf("delivery: %w", m.TopicPartition.Error)
			}
		case <-timeout:
			return fmt.Errorf("delivery reports: %d of %d after 45 s", i, len(recs))
		}
	}
	return first
}

func fromConfluentMessage(m *kafka.Message) testRecord {
	r := testRecord{Key: m.Key, Value: m.Value, Timestamp: m.Timestamp, Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset)}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, testHeader{Key: h.Key, Value: h.Value})
	}
	return r
}

// confluentRead assigns partition 0 of topic at offset and reads n
// records.
func confluentRead(ctx context.Context, addr, topic string, offset kafka.Offset, n int) ([]testRecord, error) {
	cons, err := kafka.NewConsumer(confluentConfig(addr, kafka.ConfigMap{
		"group.id": topic + ".assign", "enable.auto.commit": false, "fetch.wait.max.ms": 200,
	}))
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	defer cons.Close()
	if err := cons.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: offset}}); err != nil {
		return nil, fmt.Errorf("assign: %w", err)
	}
	return confluentPoll(ctx, cons, n)
}

func confluentPoll(ctx context.Context, cons *kafka.Consumer, n int) ([]testRecord, error) {
	var out []testRecord
	for len(out) < n {
		if ctx.Err() != nil {
			return out, fmt.Errorf("consumed %d of %d records: %w", len(out), n, ctx.Err())
		}
		m, err := cons.ReadMessage(200 * time.Millisecond)
		if err != nil {
			var ke kafka.Error
			if errors.As(err, &ke) && ke.IsTimeout() {
				continue
			}
			return out, fmt.Errorf("consume: %w", err)
		}
		out = append(out, fromConfluentMessage(m))
	}
	return out, nil
}

// confluentGroupRead subscribes as a member of group with librdkafka's
// group.protocol ("classic" or "consumer", KIP-848), reads n records and,
// if commit, commits the offset after the last one before closing.
func confluentGroupRead(ctx context.Context, addr, group, topic string, n int, commit bool, protocol string) ([]testRecord, error) {
	cfg := kafka.ConfigMap{
		"group.id": group, "enable.auto.commit": false, "auto.offset.reset": "earliest", "fetch.wait.max.ms": 200,
		"group.protocol": protocol,
	}
	cons, err := kafka.NewConsumer(confluentConfig(addr, cfg))
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	if err := cons.Subscribe(topic, nil); err != nil {
		cons.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	out, err := confluentPoll(ctx, cons, n)
	if err != nil {
		cons.Close()
		return out, err
	}
	if commit {
		next := kafka.Offset(out[len(out)-1].Offset + 1)
		if _, err := cons.CommitOffsets([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: next}}); err != nil {
			cons.Close()
			return out, fmt.Errorf("commit: %w", err)
		}
	}
	if err := cons.Close(); err != nil {
		return out, fmt.Errorf("close: %w", err)
	}
	return out, nil
}
