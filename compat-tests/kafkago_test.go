package compat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	kafkaproto "github.com/segmentio/kafka-go/protocol"
)

// segmentio/kafka-go against samsa: every scenario of scenarios_test.go
// (Client for admin, Writer to produce, Reader to consume).

const kafkagoClient = "kafka-go"

var kafkagoCodecs = map[string]kafka.Compression{
	"none":   0,
	"gzip":   kafka.Gzip,
	"snappy": kafka.Snappy,
	"lz4":    kafka.Lz4,
	"zstd":   kafka.Zstd,
}

func TestKafkaGo(t *testing.T) {
	c := kafkagoClient
	setBudget(c, 90*time.Second)
	s := StartSamsa(t)
	addr := s.Addr
	// kafka-go's Transport serves metadata from a cache it refreshes every
	// MetadataTTL (6 s by default; kafka.DefaultTransport is shared by all
	// Writers and Clients without one): topics created or deleted by
	// another client show up only after the next refresh. Each Writer gets
	// a Transport of its own (a fresh cache, as a new program has), and the
	// admin Client one with a short TTL.
	adminTransport := &kafka.Transport{MetadataTTL: 100 * time.Millisecond}
	defer adminTransport.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: adminTransport}

	runScenario(t, c, scBootstrapMetadata, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scBootstrapMetadata)
		if err := fxCreateTopic(ctx, addr, topic, 3, nil); err != nil {
			return err
		}
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		for i := 0; err == nil && kafkagoStaleMetadata(md) && i < 50; i++ {
			// Client.Metadata answers from the transport's cache (refreshed
			// every 100 ms here), which may predate the topic or its leader.
			time.Sleep(100 * time.Millisecond)
			md, err = cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		}
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
		if md.Controller.ID != b.ID {
			return fmt.Errorf("controller %d, want %d", md.Controller.ID, b.ID)
		}
		if len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) != 3 {
			return fmt.Errorf("topic %s: %+v, want 3 partitions", topic, md.Topics)
		}
		for _, p := range md.Topics[0].Partitions {
			if p.Leader.ID != b.ID {
				return fmt.Errorf("partition %d: leader %d, want %d", p.ID, p.Leader.ID, b.ID)
			}
		}
		// The Conn API too (what many kafka-go programs use).
		conn, err := kafka.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("dial: %w", err)
		}
		defer conn.Close()
		parts, err := conn.ReadPartitions(topic)
		if err != nil {
			return fmt.Errorf("conn read partitions: %w", err)
		}
		if len(parts) != 3 {
			return fmt.Errorf("conn read partitions: %d, want 3", len(parts))
		}
		return nil
	})

	runScenario(t, c, scAdminTopics, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scAdminTopics)
		cr, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: topic, NumPartitions: 3, ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "3600000"}},
		}}})
		if err == nil {
			err = cr.Errors[topic]
		}
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		listed := func() (map[string]kafka.Topic, error) {
			md, err := cl.Metadata(ctx, &kafka.MetadataRequest{})
			if err != nil {
				return nil, err
			}
			m := map[string]kafka.Topic{}
			for _, tp := range md.Topics {
				m[tp.Name] = tp
			}
			return m, nil
		}
		all, err := listed()
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		tp, ok := all[topic]
		if !ok {
			return fmt.Errorf("list: %s missing", topic)
		}
		if tp.Error != nil || len(tp.Partitions) != 3 {
			return fmt.Errorf("describe: err %v, %d partitions, want 3", tp.Error, len(tp.Partitions))
		}
		dc, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
		}}})
		if err != nil {
			return fmt.Errorf("describe configs: %w", err)
		}
		if len(dc.Resources) != 1 || dc.Resources[0].Error != nil {
			return fmt.Errorf("describe configs: %+v", dc.Resources)
		}
		found := false
		for _, e := range dc.Resources[0].ConfigEntries {
			if e.ConfigName == "retention.ms" {
				found = true
				if e.ConfigValue != "3600000" {
					return fmt.Errorf("describe configs: retention.ms=%q, want 3600000", e.ConfigValue)
				}
			}
		}
		if !found {
			return errors.New("describe configs: no retention.ms")
		}
		dr, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
		if err == nil {
			err = dr.Errors[topic]
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
			w := kafkagoWriter(addr, topic)
			w.Compression = kafkagoCodecs[codec]
			if err := kafkagoProduce(ctx, w, want); err != nil {
				return err
			}
			got, err := kafkagoRead(ctx, addr, topic, kafka.FirstOffset, time.Time{}, len(want))
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
		w := kafkagoWriter(addr, topic)
		w.Balancer = kafka.Murmur2Balancer{}
		keys := partitionKeys()
		var msgs []kafka.Message
		for _, k := range keys {
			msgs = append(msgs, kafka.Message{Key: k, Value: []byte("v")})
		}
		err := w.WriteMessages(ctx, msgs...)
		if cerr := kafkagoClose(w); err == nil {
			err = cerr
		}
		if err != nil {
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
		if err := kafkagoProduce(ctx, kafkagoWriter(addr, topic), recs); err != nil {
			return err
		}
		got, err := kafkagoRead(ctx, addr, topic, 4, time.Time{}, seqRecords-4)
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
		if err := kafkagoProduce(ctx, kafkagoWriter(addr, topic), recs); err != nil {
			return err
		}
		got, err := kafkagoRead(ctx, addr, topic, 0, base.Add(4500*time.Millisecond), seqRecords-5)
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
		if err := kafkagoProduce(ctx, kafkagoWriter(addr, topic), recs); err != nil {
			return err
		}
		if _, err := kafkagoGroupRead(ctx, addr, group, topic, 5, true); err != nil {
			return fmt.Errorf("first consumer: %w", err)
		}
		if off, err := fxCommittedOffset(ctx, addr, group, topic, 0); err != nil || off != 5 {
			return fmt.Errorf("committed offset %d (%v), want 5", off, err)
		}
		got, err := kafkagoGroupRead(ctx, addr, group, topic, seqRecords-5, false)
		if err != nil {
			return fmt.Errorf("second consumer: %w", err)
		}
		return compareRecords(recs[5:], got, 5)
	})

	runScenario(t, c, scErrUnknownTopic, func(ctx context.Context, t *testing.T) error {
		s2 := StartSamsa(t, "--override", "auto.create.topics.enable=false")
		w := kafkagoWriter(s2.Addr, "missing-topic")
		w.MaxAttempts = 2
		// The Writer asks the broker for the topic by name (with auto-creation
		// allowed on the client's side) instead of only looking into the full
		// metadata it already has: the refusal comes from samsa.
		w.AllowAutoTopicCreation = true
		err := w.WriteMessages(ctx, kafka.Message{Value: []byte("v")})
		kafkagoClose(w)
		return expectErr(err, "UNKNOWN_TOPIC_OR_PARTITION", func(err error) bool { return kafkagoErrIs(err, kafka.UnknownTopicOrPartition) })
	})

	runScenario(t, c, scErrMessageTooLarge, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scErrMessageTooLarge)
		if err := fxCreateTopic(ctx, addr, topic, 1, map[string]string{"max.message.bytes": strconv.Itoa(smallMaxMessageBytes)}); err != nil {
			return err
		}
		w := kafkagoWriter(addr, topic)
		w.BatchBytes = 4 << 20 // far above the topic's limit: samsa rejects
		w.MaxAttempts = 1
		err := w.WriteMessages(ctx, kafka.Message{Value: randomBytes(largeValueBytes)})
		kafkagoClose(w)
		return expectErr(err, "MESSAGE_TOO_LARGE", func(err error) bool { return kafkagoErrIs(err, kafka.MessageSizeTooLarge) })
	})

	// kafka-go uses no fetch sessions: Client.Fetch sends session id -1
	// and epoch -1, the Reader (Conn.ReadBatch) 0 and -1. Both are full
	// fetches without a session (KIP-227's final epoch); samsa once
	// answered the first FETCH_SESSION_ID_NOT_FOUND and no data.
	runScenario(t, c, scFetchSessionless, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scFetchSessionless)
		if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
			return err
		}
		recs := makeRecords(topic, seqRecords, baseTime())
		if err := fxProduce(ctx, addr, topic, recs); err != nil {
			return err
		}
		return fxNoNewSession(ctx, s.AdminAddr, func() error {
			got, err := kafkagoClientFetch(ctx, cl, topic, seqRecords)
			for i := 0; err != nil && kafkagoStaleCache(err) && i < 20; i++ {
				// kafka-go's transport routes from its metadata cache (all
				// topics, refreshed every 6 s), which may predate the topic
				// ("topic not found") or date from the moment it was being
				// created, before its leader opened the log ("topic partition
				// has no leader"): it says so without asking the broker. Give
				// the cache time to refresh.
				time.Sleep(500 * time.Millisecond)
				got, err = kafkagoClientFetch(ctx, cl, topic, seqRecords)
			}
			if err != nil {
				return fmt.Errorf("Client.Fetch: %w", err)
			}
			if err := compareRecords(recs, got, 0); err != nil {
				return fmt.Errorf("Client.Fetch: %w", err)
			}
			got, err = kafkagoRead(ctx, addr, topic, 0, time.Time{}, seqRecords)
			if err != nil {
				return fmt.Errorf("Reader: %w", err)
			}
			if err := compareRecords(recs, got, 0); err != nil {
				return fmt.Errorf("Reader: %w", err)
			}
			return nil
		})
	})
}

// kafkagoStaleCache reports whether err is one kafka-go's transport
// answers from its own metadata cache before sending a request.
func kafkagoStaleCache(err error) bool {
	return strings.Contains(err.Error(), "topic not found") || strings.Contains(err.Error(), "topic partition has no leader")
}

// kafkagoStaleMetadata reports whether a cached metadata answer predates
// its topics or their leaders: a topic unknown, or a partition whose leader
// is not available yet.
func kafkagoStaleMetadata(md *kafka.MetadataResponse) bool {
	for _, t := range md.Topics {
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			return true
		}
		for _, p := range t.Partitions {
			if errors.Is(p.Error, kafka.LeaderNotAvailable) {
				return true
			}
		}
	}
	return false
}

// kafkagoClientFetch reads n records of partition 0 from its start with
// Client.Fetch, one request per batch of answers.
func kafkagoClientFetch(ctx context.Context, cl *kafka.Client, topic string, n int) ([]testRecord, error) {
	var out []testRecord
	for off := int64(0); len(out) < n; {
		resp, err := cl.Fetch(ctx, &kafka.FetchRequest{
			Topic: topic, Partition: 0, Offset: off,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond,
		})
		if err != nil {
			return out, fmt.Errorf("fetch at %d: %w", off, err)
		}
		if resp.Error != nil {
			return out, fmt.Errorf("fetch at %d: %w", off, resp.Error)
		}
		for {
			r, err := resp.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return out, fmt.Errorf("fetch at %d: reading records: %w", off, err)
			}
			if r.Offset < off {
				continue // the batch began before the fetch offset
			}
			tr := testRecord{Timestamp: r.Time, Offset: r.Offset}
			if r.Key != nil {
				if tr.Key, err = kafkaproto.ReadAll(r.Key); err != nil {
					return out, err
				}
			}
			if r.Value != nil {
				if tr.Value, err = kafkaproto.ReadAll(r.Value); err != nil {
					return out, err
				}
			}
			for _, h := range r.Headers {
				tr.Headers = append(tr.Headers, testHeader{Key: h.Key, Value: h.Value})
			}
			out = append(out, tr)
			off = r.Offset + 1
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

func kafkagoWriter(addr, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		Balancer:     &kafka.LeastBytes{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 20 * time.Millisecond,
		BatchSize:    1000,
		Transport:    &kafka.Transport{},
	}
}

// kafkagoErrIs is errors.Is that also looks into the per-message errors
// of a kafka.WriteErrors (which has no Unwrap).
func kafkagoErrIs(err error, target kafka.Error) bool {
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if errors.Is(e, target) {
				return true
			}
		}
	}
	return errors.Is(err, target)
}

// kafkagoClose closes w and its own Transport.
func kafkagoClose(w *kafka.Writer) error {
	err := w.Close()
	if tr, ok := w.Transport.(*kafka.Transport); ok {
		tr.CloseIdleConnections()
	}
	return err
}

// kafkagoProduce writes recs in one WriteMessages (one batch) and closes w.
func kafkagoProduce(ctx context.Context, w *kafka.Writer, recs []testRecord) error {
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		m := kafka.Message{Key: r.Key, Value: r.Value, Time: r.Timestamp}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		msgs[i] = m
	}
	err := w.WriteMessages(ctx, msgs...)
	if cerr := kafkagoClose(w); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

func fromKafkagoMessage(m kafka.Message) testRecord {
	r := testRecord{Key: m.Key, Value: m.Value, Timestamp: m.Time, Partition: int32(m.Partition), Offset: m.Offset}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, testHeader{Key: h.Key, Value: h.Value})
	}
	return r
}

// kafkagoRead reads n records of partition 0 with a partition Reader,
// from offset, or from the first offset at or after at if at is set.
func kafkagoRead(ctx context.Context, addr, topic string, offset int64, at time.Time, n int) ([]testRecord, error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: 0, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	if !at.IsZero() {
		if err := r.SetOffsetAt(ctx, at); err != nil {
			return nil, fmt.Errorf("set offset at %v: %w", at, err)
		}
	} else if err := r.SetOffset(offset); err != nil {
		return nil, fmt.Errorf("set offset %d: %w", offset, err)
	}
	var out []testRecord
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return out, fmt.Errorf("consumed %d of %d records: %w", len(out), n, err)
		}
		out = append(out, fromKafkagoMessage(m))
	}
	return out, nil
}

// kafkagoGroupRead reads n records as a member of group and, if commit,
// commits after the last one before closing (leaving the group).
func kafkagoGroupRead(ctx context.Context, addr, group, topic string, n int, commit bool) ([]testRecord, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{addr}, GroupID: group, Topic: topic,
		StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond,
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second,
	})
	var out []testRecord
	var last kafka.Message
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			r.Close()
			return out, fmt.Errorf("consumed %d of %d records: %w", len(out), n, err)
		}
		out = append(out, fromKafkagoMessage(m))
		last = m
	}
	if commit {
		if err := r.CommitMessages(ctx, last); err != nil {
			r.Close()
			return out, fmt.Errorf("commit: %w", err)
		}
	}
	if err := r.Close(); err != nil {
		return out, fmt.Errorf("close: %w", err)
	}
	return out, nil
}
