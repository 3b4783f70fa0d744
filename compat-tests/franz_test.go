package compat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// franz-go (kgo, kadm) against samsa: every scenario of scenarios_test.go.

const franzClient = "franz-go"

var franzCodecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

func TestFranz(t *testing.T) {
	c := franzClient
	setBudget(c, 90*time.Second)
	s := StartSamsa(t)
	addr := s.Addr

	runScenario(t, c, scBootstrapMetadata, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scBootstrapMetadata)
		if err := fxCreateTopic(ctx, addr, topic, 3, nil); err != nil {
			return err
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			return err
		}
		defer cl.Close()
		md, err := kadm.NewClient(cl).Metadata(ctx, topic)
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		if len(md.Brokers) != 1 {
			return fmt.Errorf("metadata lists %d brokers, want 1: %v", len(md.Brokers), md.Brokers)
		}
		b := md.Brokers[0]
		if got := fmt.Sprintf("%s:%d", b.Host, b.Port); got != addr {
			return fmt.Errorf("broker advertised as %s, want %s", got, addr)
		}
		td := md.Topics[topic]
		if td.Err != nil || len(td.Partitions) != 3 {
			return fmt.Errorf("topic %s: err %v, %d partitions, want 3", topic, td.Err, len(td.Partitions))
		}
		for _, p := range td.Partitions {
			if p.Leader != b.NodeID {
				return fmt.Errorf("partition %d: leader %d, want %d", p.Partition, p.Leader, b.NodeID)
			}
		}
		return nil
	})

	runScenario(t, c, scAdminTopics, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scAdminTopics)
		// kadm's metadata answers are cached for MetadataMinAge (5 s by
		// default): the listing after the delete would be a stale one.
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MetadataMinAge(50*time.Millisecond))
		if err != nil {
			return err
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		cr, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}, topic)
		if err == nil {
			err = cr.Err
		}
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		listed, err := adm.ListTopics(ctx)
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		if !listed.Has(topic) {
			return fmt.Errorf("list: %s missing from %v", topic, listed.Names())
		}
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return fmt.Errorf("describe: %w", err)
		}
		if td := md.Topics[topic]; td.Err != nil || len(td.Partitions) != 3 {
			return fmt.Errorf("describe: err %v, %d partitions, want 3", td.Err, len(td.Partitions))
		}
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			return fmt.Errorf("describe configs: %w", err)
		}
		rc, err := rcs.On(topic, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			return fmt.Errorf("describe configs: %w", err)
		}
		found := false
		for _, cfg := range rc.Configs {
			if cfg.Key == "retention.ms" {
				found = true
				if cfg.MaybeValue() != "3600000" {
					return fmt.Errorf("describe configs: retention.ms=%q, want 3600000", cfg.MaybeValue())
				}
			}
		}
		if !found {
			return errors.New("describe configs: no retention.ms")
		}
		dr, err := adm.DeleteTopic(ctx, topic)
		if err == nil {
			err = dr.Err
		}
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		return pollUntil(ctx, "topic still listed after delete", func() (bool, error) {
			listed, err := adm.ListTopics(ctx)
			return err == nil && !listed.Has(topic), err
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
			if err := franzProduce(ctx, addr, topic, want, kgo.ProducerBatchCompression(franzCodecs[codec])); err != nil {
				return err
			}
			got, err := franzConsume(ctx, len(want), kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
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
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
		if err != nil {
			return err
		}
		defer cl.Close()
		var recs []*kgo.Record
		for _, k := range keys {
			recs = append(recs, &kgo.Record{Key: k, Value: []byte("v")})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
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
		if err := franzProduce(ctx, addr, topic, recs); err != nil {
			return err
		}
		got, err := franzConsume(ctx, seqRecords-4, kgo.SeedBrokers(addr),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(4)}}))
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
		if err := franzProduce(ctx, addr, topic, recs); err != nil {
			return err
		}
		// Records are 1 s apart: the first at or after base+4.5 s is #5.
		at := base.Add(4500 * time.Millisecond).UnixMilli()
		got, err := franzConsume(ctx, seqRecords-5, kgo.SeedBrokers(addr),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AfterMilli(at)}}))
		if err != nil {
			return err
		}
		return compareRecords(recs[5:], got, 5)
	})

	// groupCommitResume: commit after 5 records, close, and a new member
	// resumes after the commit; kip848 makes both members KIP-848 ones
	// (kgo.ServerSideBalancer: ConsumerGroupHeartbeat, broker-side assignor).
	groupCommitResume := func(ctx context.Context, scenario string, kip848 bool) error {
		topic := topicName(c, scenario)
		group := topic + ".group"
		if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
			return err
		}
		recs := makeRecords(topic, seqRecords, baseTime())
		if err := franzProduce(ctx, addr, topic, recs); err != nil {
			return err
		}
		opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.FetchMaxWait(200 * time.Millisecond)}
		wantType := "classic"
		if kip848 {
			opts = append(opts, kgo.ServerSideBalancer())
			wantType = "consumer"
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return err
		}
		got, err := franzPoll(ctx, cl, 5)
		if err != nil {
			cl.Close()
			return fmt.Errorf("first consumer: %w", err)
		}
		// Processed records 0..4: commit 5 (the next offset to read).
		last := got[4]
		if err := cl.CommitRecords(ctx, &kgo.Record{Topic: topic, Partition: 0, Offset: last.Offset, LeaderEpoch: -1}); err != nil {
			cl.Close()
			return fmt.Errorf("commit: %w", err)
		}
		cl.Close() // leaves the group
		if typ, err := fxGroupType(ctx, addr, group); err != nil || typ != wantType {
			return fmt.Errorf("group type %q (%v), want %s", typ, err, wantType)
		}
		if off, err := fxCommittedOffset(ctx, addr, group, topic, 0); err != nil || off != 5 {
			return fmt.Errorf("committed offset %d (%v), want 5", off, err)
		}
		cl2, err := kgo.NewClient(opts...)
		if err != nil {
			return err
		}
		defer cl2.Close()
		got2, err := franzPoll(ctx, cl2, seqRecords-5)
		if err != nil {
			return fmt.Errorf("second consumer: %w", err)
		}
		return compareRecords(recs[5:], got2, 5)
	}
	runScenario(t, c, scGroupCommitResume, func(ctx context.Context, t *testing.T) error {
		return groupCommitResume(ctx, scGroupCommitResume, false)
	})
	runScenario(t, c, scGroupCommitResumeKIP848, func(ctx context.Context, t *testing.T) error {
		return groupCommitResume(ctx, scGroupCommitResumeKIP848, true)
	})

	runScenario(t, c, scErrUnknownTopic, func(ctx context.Context, t *testing.T) error {
		s2 := StartSamsa(t, "--override", "auto.create.topics.enable=false")
		cl, err := kgo.NewClient(kgo.SeedBrokers(s2.Addr), kgo.DefaultProduceTopic("missing-topic"),
			kgo.UnknownTopicRetries(2), kgo.RecordDeliveryTimeout(20*time.Second))
		if err != nil {
			return err
		}
		defer cl.Close()
		err = cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr()
		return expectErr(err, "UNKNOWN_TOPIC_OR_PARTITION", func(err error) bool { return errors.Is(err, kerr.UnknownTopicOrPartition) })
	})

	runScenario(t, c, scErrMessageTooLarge, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scErrMessageTooLarge)
		if err := fxCreateTopic(ctx, addr, topic, 1, map[string]string{"max.message.bytes": fmt.Sprint(smallMaxMessageBytes)}); err != nil {
			return err
		}
		// The client's own limit is far above the topic's: samsa rejects.
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
			kgo.ProducerBatchMaxBytes(4<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
		if err != nil {
			return err
		}
		defer cl.Close()
		err = cl.ProduceSync(ctx, &kgo.Record{Value: randomBytes(largeValueBytes)}).FirstErr()
		return expectErr(err, "MESSAGE_TOO_LARGE", func(err error) bool { return errors.Is(err, kerr.MessageTooLarge) })
	})

	// franz-go consumes on an incremental fetch session (KIP-227): one
	// full fetch opens it, then each fetch names only what changed and
	// each answer lists only the partitions that did. A consumer of many
	// partitions must still get every record, the ones produced while it
	// polls too (to a few partitions: the rest are left out of the
	// answers).
	runScenario(t, c, scFetchIncrementalMany, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scFetchIncrementalMany)
		if err := fxCreateTopic(ctx, addr, topic, manyPartitions, nil); err != nil {
			return err
		}
		want := make([][]testRecord, manyPartitions)
		produce := func(p, n int) error {
			recs := makeRecords(fmt.Sprintf("%s-%d-%d", topic, p, len(want[p])), n, baseTime())
			want[p] = append(want[p], recs...)
			return fxProducePartition(ctx, addr, topic, int32(p), recs)
		}
		for p := range manyPartitions {
			if err := produce(p, 3); err != nil {
				return err
			}
		}
		cachedBefore, err := fxMetric(ctx, s.AdminAddr, metricFetchSessionPartitions)
		if err != nil {
			return err
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			return err
		}
		defer cl.Close()
		got, err := franzPollAny(ctx, cl, manyPartitions*3)
		if err != nil {
			return err
		}
		// The session holds the topic's partitions while the consumer
		// polls.
		cached, err := fxMetric(ctx, s.AdminAddr, metricFetchSessionPartitions)
		if err != nil {
			return err
		}
		if cached-cachedBefore < manyPartitions {
			return fmt.Errorf("fetch sessions hold %v partitions, %v before the consumer: no session of its %d partitions", cached, cachedBefore, manyPartitions)
		}
		more := 0
		for p := 0; p < manyPartitions; p += 7 {
			if err := produce(p, 2); err != nil {
				return err
			}
			more += 2
		}
		rest, err := franzPollAny(ctx, cl, more)
		if err != nil {
			return err
		}
		byPart := make([][]testRecord, manyPartitions)
		for _, r := range append(got, rest...) {
			if r.Partition < 0 || int(r.Partition) >= manyPartitions {
				return fmt.Errorf("record of partition %d", r.Partition)
			}
			byPart[r.Partition] = append(byPart[r.Partition], r)
		}
		for p := range manyPartitions {
			if err := compareRecords(want[p], byPart[p], 0); err != nil {
				return fmt.Errorf("partition %d: %w", p, err)
			}
		}
		return nil
	})
}

// franzPollAny polls until it has n records of any partitions (more is an
// error), in the order they came.
func franzPollAny(ctx context.Context, cl *kgo.Client, n int) ([]testRecord, error) {
	var out []testRecord
	for len(out) < n {
		fs := cl.PollRecords(ctx, n-len(out))
		if ctx.Err() != nil {
			return out, fmt.Errorf("consumed %d of %d records: %w", len(out), n, ctx.Err())
		}
		var errs []error
		fs.EachError(func(t string, p int32, err error) { errs = append(errs, fmt.Errorf("%s[%d]: %w", t, p, err)) })
		if len(errs) > 0 {
			return out, fmt.Errorf("consume: %w", errors.Join(errs...))
		}
		fs.EachRecord(func(kr *kgo.Record) { out = append(out, fromKgoRecord(kr)) })
	}
	if len(out) > n {
		return out, fmt.Errorf("consumed %d records, want %d", len(out), n)
	}
	return out, nil
}

// franzProduce produces recs to partition 0 of topic, in order, in one
// client, and waits for all acks.
func franzProduce(ctx context.Context, addr, topic string, recs []testRecord, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = toKgoRecord(topic, r)
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// franzConsume starts a consumer with opts and polls n records.
func franzConsume(ctx context.Context, n int, opts ...kgo.Opt) ([]testRecord, error) {
	cl, err := kgo.NewClient(append(opts, kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return franzPoll(ctx, cl, n)
}

// franzPoll polls until it has n records (more is an error).
func franzPoll(ctx context.Context, cl *kgo.Client, n int) ([]testRecord, error) {
	var out []testRecord
	for len(out) < n {
		fs := cl.PollRecords(ctx, n-len(out))
		if ctx.Err() != nil {
			return out, fmt.Errorf("consumed %d of %d records: %w", len(out), n, ctx.Err())
		}
		var errs []error
		fs.EachError(func(t string, p int32, err error) { errs = append(errs, fmt.Errorf("%s[%d]: %w", t, p, err)) })
		if len(errs) > 0 {
			return out, fmt.Errorf("consume: %w", errors.Join(errs...))
		}
		fs.EachRecord(func(kr *kgo.Record) { out = append(out, fromKgoRecord(kr)) })
	}
	slices.SortStableFunc(out, func(a, b testRecord) int { return int(a.Offset - b.Offset) })
	return out, nil
}
