package compat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// IBM/sarama against samsa: every scenario of scenarios_test.go, with
// sarama's default protocol version (Config.Version = DefaultVersion).

const saramaClient = "sarama"

var saramaCodecs = map[string]sarama.CompressionCodec{
	"none":   sarama.CompressionNone,
	"gzip":   sarama.CompressionGZIP,
	"snappy": sarama.CompressionSnappy,
	"lz4":    sarama.CompressionLZ4,
	"zstd":   sarama.CompressionZSTD,
}

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "samsa-compat"
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	return cfg
}

func TestSarama(t *testing.T) {
	c := saramaClient
	setBudget(c, 90*time.Second)
	s := StartSamsa(t)
	addr := s.Addr

	runScenario(t, c, scBootstrapMetadata, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scBootstrapMetadata)
		if err := fxCreateTopic(ctx, addr, topic, 3, nil); err != nil {
			return err
		}
		cl, err := sarama.NewClient([]string{addr}, saramaConfig())
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer cl.Close()
		brokers := cl.Brokers()
		if len(brokers) != 1 || brokers[0].Addr() != addr {
			var as []string
			for _, b := range brokers {
				as = append(as, b.Addr())
			}
			return fmt.Errorf("brokers %v, want [%s]", as, addr)
		}
		parts, err := cl.Partitions(topic)
		if err != nil {
			return fmt.Errorf("partitions: %w", err)
		}
		if len(parts) != 3 {
			return fmt.Errorf("topic %s: %d partitions, want 3", topic, len(parts))
		}
		for _, p := range parts {
			l, err := cl.Leader(topic, p)
			if err != nil {
				return fmt.Errorf("leader of partition %d: %w", p, err)
			}
			if l.ID() != brokers[0].ID() {
				return fmt.Errorf("partition %d: leader %d, want %d", p, l.ID(), brokers[0].ID())
			}
		}
		return nil
	})

	runScenario(t, c, scAdminTopics, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scAdminTopics)
		adm, err := sarama.NewClusterAdmin([]string{addr}, saramaConfig())
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer adm.Close()
		retention := "3600000"
		err = adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1,
			ConfigEntries: map[string]*string{"retention.ms": &retention}}, false)
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		listed, err := adm.ListTopics()
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		d, ok := listed[topic]
		if !ok {
			return fmt.Errorf("list: %s missing", topic)
		}
		if d.NumPartitions != 3 {
			return fmt.Errorf("list: %s has %d partitions, want 3", topic, d.NumPartitions)
		}
		if v := d.ConfigEntries["retention.ms"]; v == nil || *v != retention {
			return fmt.Errorf("list: %s has retention.ms=%v, want %s", topic, v, retention)
		}
		tms, err := adm.DescribeTopics([]string{topic})
		if err != nil {
			return fmt.Errorf("describe: %w", err)
		}
		if len(tms) != 1 || tms[0].Err != sarama.ErrNoError || len(tms[0].Partitions) != 3 {
			return fmt.Errorf("describe: %+v", tms)
		}
		entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
		if err != nil {
			return fmt.Errorf("describe configs: %w", err)
		}
		found := false
		for _, e := range entries {
			if e.Name == "retention.ms" {
				found = true
				if e.Value != retention {
					return fmt.Errorf("describe configs: retention.ms=%q, want %s", e.Value, retention)
				}
			}
		}
		if !found {
			return errors.New("describe configs: no retention.ms")
		}
		if err := adm.DeleteTopic(topic); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		return pollUntil(ctx, "topic still listed after delete", func() (bool, error) {
			listed, err := adm.ListTopics()
			_, still := listed[topic]
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
			cfg := saramaConfig()
			cfg.Producer.Compression = saramaCodecs[codec]
			// Batch the records rather than one request per record.
			cfg.Producer.Flush.Messages = len(want)
			cfg.Producer.Flush.Frequency = 50 * time.Millisecond
			if err := saramaProduce(addr, cfg, topic, want); err != nil {
				return err
			}
			got, err := saramaConsume(ctx, addr, topic, sarama.OffsetOldest, len(want))
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
		cfg := saramaConfig()
		// The Java client's partitioner: toPositive(murmur2(key)) % n.
		cfg.Producer.Partitioner = sarama.NewCustomPartitioner(sarama.WithAbsFirst(), sarama.WithCustomHashFunction(newMurmur2Hash))
		p, err := sarama.NewSyncProducer([]string{addr}, cfg)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer p.Close()
		keys := partitionKeys()
		var msgs []*sarama.ProducerMessage
		for _, k := range keys {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.ByteEncoder(k), Value: sarama.StringEncoder("v")})
		}
		if err := p.SendMessages(msgs); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		return fxCheckKeyPlacement(ctx, addr, topic, keys, keyPartitions)
	})

	runScenario(t, c, scConsumeFromOffset, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scConsumeFromOffset)
		if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
			return err
		}
		recs := makeRecords(topic, seqRecords, baseTime())
		if err := saramaProduce(addr, saramaConfig(), topic, recs); err != nil {
			return err
		}
		got, err := saramaConsume(ctx, addr, topic, 4, seqRecords-4)
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
		if err := saramaProduce(addr, saramaConfig(), topic, recs); err != nil {
			return err
		}
		cl, err := sarama.NewClient([]string{addr}, saramaConfig())
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer cl.Close()
		off, err := cl.GetOffset(topic, 0, base.Add(4500*time.Millisecond).UnixMilli())
		if err != nil {
			return fmt.Errorf("offset for time: %w", err)
		}
		if off != 5 {
			return fmt.Errorf("offset for base+4.5s is %d, want 5", off)
		}
		got, err := saramaConsume(ctx, addr, topic, off, seqRecords-5)
		if err != nil {
			return err
		}
		return compareRecords(recs[5:], got, 5)
	})

	runScenario(t, c, scGroupCommitResume, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scGroupCommitResume)
		group := topic + ".group"
		if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
			return err
		}
		recs := makeRecords(topic, seqRecords, baseTime())
		if err := saramaProduce(addr, saramaConfig(), topic, recs); err != nil {
			return err
		}
		// First member: process records 0..4, mark and commit, leave.
		if _, err := saramaGroupConsume(ctx, addr, group, topic, 5, true); err != nil {
			return fmt.Errorf("first consumer: %w", err)
		}
		if off, err := fxCommittedOffset(ctx, addr, group, topic, 0); err != nil || off != 5 {
			return fmt.Errorf("committed offset %d (%v), want 5", off, err)
		}
		got, err := saramaGroupConsume(ctx, addr, group, topic, seqRecords-5, false)
		if err != nil {
			return fmt.Errorf("second consumer: %w", err)
		}
		return compareRecords(recs[5:], got, 5)
	})

	runScenario(t, c, scErrUnknownTopic, func(ctx context.Context, t *testing.T) error {
		s2 := StartSamsa(t, "--override", "auto.create.topics.enable=false")
		cfg := saramaConfig()
		cfg.Producer.Partitioner = sarama.NewRandomPartitioner
		cfg.Metadata.Retry.Max = 2
		p, err := sarama.NewSyncProducer([]string{s2.Addr}, cfg)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer p.Close()
		_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: "missing-topic", Value: sarama.StringEncoder("v")})
		return expectErr(err, "UNKNOWN_TOPIC_OR_PARTITION", func(err error) bool { return errors.Is(err, sarama.ErrUnknownTopicOrPartition) })
	})

	runScenario(t, c, scErrMessageTooLarge, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scErrMessageTooLarge)
		if err := fxCreateTopic(ctx, addr, topic, 1, map[string]string{"max.message.bytes": fmt.Sprint(smallMaxMessageBytes)}); err != nil {
			return err
		}
		cfg := saramaConfig()
		cfg.Producer.MaxMessageBytes = 4 << 20 // far above the topic's limit: samsa rejects
		p, err := sarama.NewSyncProducer([]string{addr}, cfg)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer p.Close()
		_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.ByteEncoder(randomBytes(largeValueBytes))})
		return expectErr(err, "MESSAGE_TOO_LARGE", func(err error) bool { return errors.Is(err, sarama.ErrMessageSizeTooLarge) })
	})
}

// saramaProduce sends recs to partition 0 of topic in one SendMessages.
func saramaProduce(addr string, cfg *sarama.Config, topic string, recs []testRecord) error {
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.ByteEncoder(r.Value), Timestamp: r.Timestamp}
		if r.Key != nil {
			m.Key = sarama.ByteEncoder(r.Key)
		}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		msgs[i] = m
	}
	if err := p.SendMessages(msgs); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

func fromSaramaMessage(m *sarama.ConsumerMessage) testRecord {
	r := testRecord{Key: m.Key, Value: m.Value, Timestamp: m.Timestamp, Partition: m.Partition, Offset: m.Offset}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, testHeader{Key: string(h.Key), Value: h.Value})
	}
	return r
}

// saramaConsume reads n records of partition 0 from offset.
func saramaConsume(ctx context.Context, addr, topic string, offset int64, n int) ([]testRecord, error) {
	cons, err := sarama.NewConsumer([]string{addr}, saramaConfig())
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, 0, offset)
	if err != nil {
		return nil, fmt.Errorf("consume partition: %w", err)
	}
	defer pc.Close()
	var out []testRecord
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, fromSaramaMessage(m))
		case err := <-pc.Errors():
			return out, fmt.Errorf("consume: %w", err)
		case <-ctx.Done():
			return out, fmt.Errorf("consumed %d of %d records: %w", len(out), n, ctx.Err())
		}
	}
	return out, nil
}

// saramaGroupConsume joins group, reads n records of topic and, if
// commit, marks them and commits before leaving the group.
func saramaGroupConsume(ctx context.Context, addr, group, topic string, n int, commit bool) ([]testRecord, error) {
	cfg := saramaConfig()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cg, err := sarama.NewConsumerGroup([]string{addr}, group, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumer group: %w", err)
	}
	h := &saramaHandler{n: n, commit: commit, done: make(chan struct{})}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		for cctx.Err() == nil {
			if err := cg.Consume(cctx, []string{topic}, h); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	var groupErr error
	select {
	case <-h.done:
	case err := <-errc:
		groupErr = err
	case err := <-cg.Errors():
		groupErr = err
	case <-ctx.Done():
	}
	cancel()
	closeErr := cg.Close()
	h.mu.Lock()
	out := h.got
	h.mu.Unlock()
	switch {
	case groupErr != nil:
		return out, groupErr
	case len(out) < n:
		return out, fmt.Errorf("consumed %d of %d records: %v", len(out), n, ctx.Err())
	case closeErr != nil:
		return out, fmt.Errorf("close: %w", closeErr)
	}
	return out, nil
}

type saramaHandler struct {
	n      int
	commit bool
	done   chan struct{}

	mu  sync.Mutex // guards got
	got []testRecord
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.mu.Lock()
			if len(h.got) >= h.n {
				h.mu.Unlock()
				continue
			}
			h.got = append(h.got, fromSaramaMessage(m))
			full := len(h.got) == h.n
			h.mu.Unlock()
			if h.commit {
				sess.MarkMessage(m, "")
			}
			if full {
				if h.commit {
					sess.Commit()
				}
				// Stay in the session until the caller cancels it: returning
				// would make the Consume loop rejoin first.
				close(h.done)
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}
