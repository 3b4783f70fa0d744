package compat

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Transactions (KIP-98, KIP-447, KIP-890) with the Go clients against the
// real binary, the matrix cells of txn_helpers_test.go's scenarios:
//
//   - transactions-commit-abort: franz-go, sarama and confluent-kafka-go as
//     transactional producers (kafka-go has none); sarama and
//     confluent-kafka-go also put a consumed offset into a transaction.
//   - read-committed: franz-go, sarama, confluent-kafka-go, kafka-go and
//     kcat as read_committed consumers of a franz-go fixture.
//   - zombie-fencing (franz-go): a second producer with the same
//     transactional id fences the first.
//   - exactly-once-copy (franz-go): a GroupTransactSession copier chain
//     whose copier, a child process (txn_helpers_test.go), is killed
//     mid-transaction and replaced, with a second member joining.

// txgCommitAbortPartitions is the partition count of the commit-abort
// topics.
const txgCommitAbortPartitions = 3

// txgSpread sets recs' partitions round-robin over partitions.
func txgSpread(recs []testRecord, partitions int32) []testRecord {
	for i := range recs {
		recs[i].Partition = int32(i) % partitions
	}
	return recs
}

// txgCommitAbortTxns are transaction 1 (N records, to be committed) and
// transaction 2 (M records, to be aborted) of a commit-abort scenario.
func txgCommitAbortTxns(prefix string) (txn1, txn2 []testRecord) {
	base := baseTime()
	txn1 = txgSpread(makeRecords(prefix+"-txn1", 12, base), txgCommitAbortPartitions)
	txn2 = txgSpread(makeRecords(prefix+"-txn2-aborted", 9, base.Add(time.Minute)), txgCommitAbortPartitions)
	return txn1, txn2
}

// txgTransform is the "transform" of a consume-transform-produce step:
// each consumed record becomes one output record (key, headers and
// timestamp kept, the value prefixed, its source offset in a header).
func txgTransform(consumed []testRecord, partitions int32) []testRecord {
	out := make([]testRecord, len(consumed))
	for i, r := range consumed {
		out[i] = testRecord{
			Key:       r.Key,
			Value:     append([]byte("transformed: "), r.Value...),
			Headers:   append(append([]testHeader(nil), r.Headers...), testHeader{Key: "src-offset", Value: []byte(strconv.FormatInt(r.Offset, 10))}),
			Timestamp: r.Timestamp,
		}
	}
	return txgSpread(out, partitions)
}

// txgSource creates a one-partition source topic of n records (franz-go)
// for a consume-transform-produce step and returns them.
func txgSource(ctx context.Context, addr, topic string, n int) ([]testRecord, error) {
	if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
		return nil, err
	}
	recs := makeRecords(topic, n, baseTime())
	return recs, fxProduce(ctx, addr, topic, recs)
}

// ---- franz-go -------------------------------------------------------------------------

func TestTxnFranz(t *testing.T) {
	c := franzClient
	setBudget(c, 75*time.Second)
	s := StartSamsa(t)
	addr := s.Addr

	runScenario(t, c, scTxnCommitAbort, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scTxnCommitAbort)
		if err := fxCreateTopic(ctx, addr, topic, txgCommitAbortPartitions, nil); err != nil {
			return err
		}
		txn1, txn2 := txgCommitAbortTxns(topic)
		txn3 := txgSpread(makeRecords(topic+"-txn3", 15, baseTime().Add(2*time.Minute)), txgCommitAbortPartitions)
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID(topic+".producer"),
			kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			return err
		}
		defer cl.Close()
		txns, commits := [][]testRecord{txn1, txn2, txn3}, []bool{true, false, true}
		for i, txn := range txns {
			if err := cl.BeginTransaction(); err != nil {
				return fmt.Errorf("txn %d: begin: %w", i+1, err)
			}
			krs := make([]*kgo.Record, len(txn))
			for j, r := range txn {
				krs[j] = toKgoRecord(topic, r)
				krs[j].Partition = r.Partition
			}
			if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
				return fmt.Errorf("txn %d: produce: %w", i+1, err)
			}
			if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commits[i])); err != nil {
				return fmt.Errorf("txn %d: end (commit %v): %w", i+1, commits[i], err)
			}
		}
		return txgVerifyCommitAbort(ctx, addr, topic, txgCommitAbortPartitions, txns, commits)
	})

	runScenario(t, c, scReadCommitted, func(ctx context.Context, t *testing.T) error {
		f, err := txgPrepareReadCommitted(ctx, addr, topicName(c, scReadCommitted))
		if err != nil {
			return err
		}
		defer f.close()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeTopics(f.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			return err
		}
		st := &txgFranzStream{cl: cl}
		defer st.close()
		return txgRunReadCommitted(ctx, f, st, nil)
	})

	runScenario(t, c, txgScZombieFencing, func(ctx context.Context, t *testing.T) error {
		return txgZombieFencing(ctx, t, addr, topicName(c, txgScZombieFencing))
	})
}

// txgFranzStream is a franz-go consumer as a txgStream.
type txgFranzStream struct {
	cl  *kgo.Client
	buf []testRecord
}

func (s *txgFranzStream) next(ctx context.Context) (testRecord, error) {
	for len(s.buf) == 0 {
		fs := s.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return testRecord{}, ctx.Err()
		}
		var errs []error
		fs.EachError(func(t string, p int32, err error) { errs = append(errs, fmt.Errorf("%s[%d]: %w", t, p, err)) })
		if len(errs) > 0 {
			return testRecord{}, errors.Join(errs...)
		}
		fs.EachRecord(func(kr *kgo.Record) { s.buf = append(s.buf, fromKgoRecord(kr)) })
	}
	r := s.buf[0]
	s.buf = s.buf[1:]
	return r, nil
}

func (s *txgFranzStream) close() error { s.cl.Close(); return nil }

// txgIsFenced reports whether err is one of the two errors a fenced
// transactional producer gets: PRODUCER_FENCED (the coordinator:
// EndTxn, AddPartitionsToTxn) or INVALID_PRODUCER_EPOCH (a partition
// leader: Produce).
func txgIsFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

// txgZombieFencing: producer A opens a transaction and writes; B, with
// the same transactional id, initializes (a higher epoch, A's
// transaction aborted); A's next produce and its commit fail fenced. B
// then opens a transaction and is fenced in turn by C before its commit
// (the EndTxn alone is refused). C commits. read_committed sees exactly
// C's records; read_uncommitted A's and B's written ones too, and never
// the record A tried to write after it was fenced.
func txgZombieFencing(ctx context.Context, t *testing.T, addr, topic string) error {
	const parts = 2
	if err := fxCreateTopic(ctx, addr, topic, parts, nil); err != nil {
		return err
	}
	id := topic + ".producer"
	newProducer := func() (*kgo.Client, error) {
		return kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.TransactionTimeout(time.Minute), kgo.RecordRetries(3))
	}
	base := baseTime()
	recs := func(name string, n int) []*kgo.Record {
		var out []*kgo.Record
		for i := range n {
			out = append(out, &kgo.Record{Topic: topic, Partition: int32(i % parts), Key: []byte(fmt.Sprintf("%s-%d", name, i)),
				Value: []byte("written by " + name), Timestamp: base.Add(time.Duration(i) * time.Millisecond)})
		}
		return out
	}
	var written []*kgo.Record // every record a produce call acknowledged
	open := func(cl *kgo.Client, name string, n int) error {
		if err := cl.BeginTransaction(); err != nil {
			return fmt.Errorf("%s: begin: %w", name, err)
		}
		rs := recs(name, n)
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			return fmt.Errorf("%s: produce: %w", name, err)
		}
		written = append(written, rs...)
		return nil
	}

	a, err := newProducer()
	if err != nil {
		return err
	}
	defer a.Close()
	if err := open(a, "A", 4); err != nil {
		return err
	}
	pidA, epochA, err := a.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("A: producer id: %w", err)
	}
	b, err := newProducer()
	if err != nil {
		return err
	}
	defer b.Close()
	pidB, epochB, err := b.ProducerID(ctx) // InitProducerId: fences A
	if err != nil {
		return fmt.Errorf("B: InitProducerId: %w", err)
	}
	if pidB != pidA || epochB <= epochA {
		return fmt.Errorf("B's InitProducerId answered producer %d epoch %d; want producer %d with an epoch above A's %d", pidB, epochB, pidA, epochA)
	}
	// A, fenced, produces again to a partition of its transaction: the
	// leader must refuse it (the abort marker carries a higher epoch).
	late := &kgo.Record{Topic: topic, Partition: 0, Key: []byte("A-after-fence"), Value: []byte("must never be written")}
	err = a.ProduceSync(ctx, late).FirstErr()
	if !txgIsFenced(err) {
		return fmt.Errorf("A's produce after B's InitProducerId: error %v (%T); want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err, err)
	}
	t.Logf("A (producer %d epoch %d), fenced by B (epoch %d): produce: %v", pidA, epochA, epochB, err)
	// Its commit fails too. franz-go, its producer id failed by the
	// fenced produce, refuses it itself (OPERATION_NOT_ATTEMPTED, no
	// EndTxn sent); the EndTxn path is B's below.
	err = a.EndTransaction(ctx, kgo.TryCommit)
	if !txgIsFenced(err) && !errors.Is(err, kerr.OperationNotAttempted) {
		return fmt.Errorf("A's commit after B's InitProducerId: error %v; want PRODUCER_FENCED, INVALID_PRODUCER_EPOCH or franz-go's OPERATION_NOT_ATTEMPTED", err)
	}
	t.Logf("A: commit: %v", err)

	if err := open(b, "B", 4); err != nil {
		return err
	}
	c, err := newProducer()
	if err != nil {
		return err
	}
	defer c.Close()
	if _, _, err := c.ProducerID(ctx); err != nil {
		return fmt.Errorf("C: InitProducerId: %w", err)
	}
	err = b.EndTransaction(ctx, kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) {
		return fmt.Errorf("B's commit (EndTxn alone) after C's InitProducerId: error %v; want PRODUCER_FENCED", err)
	}
	t.Logf("B, fenced by C: commit: %v", err)
	if err := open(c, "C", 6); err != nil {
		return err
	}
	if err := c.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("C: commit: %w", err)
	}

	if err := txgPutSentinels(ctx, addr, topic, parts); err != nil {
		return err
	}
	for _, rc := range []bool{true, false} {
		got, err := txgReadToSentinels(ctx, addr, topic, parts, rc)
		if err != nil {
			return err
		}
		var want []string
		for _, r := range written {
			if !rc || strings.HasPrefix(string(r.Key), "C-") {
				want = append(want, fmt.Sprintf("%d/%s", r.Partition, r.Key))
			}
		}
		var have []string
		for p, rs := range got {
			for _, r := range rs {
				have = append(have, fmt.Sprintf("%d/%s", p, r.Key))
			}
		}
		if fmt.Sprint(sortedStrings(want)) != fmt.Sprint(sortedStrings(have)) {
			return fmt.Errorf("read_committed=%v: records %v, want %v", rc, have, want)
		}
	}
	return nil
}

func sortedStrings(s []string) []string {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	out := sortedKeys(m)
	if len(out) != len(s) {
		out = append(out, fmt.Sprintf("(%d duplicates)", len(s)-len(out)))
	}
	return out
}

// ---- sarama ---------------------------------------------------------------------------

// txgSaramaTxnConfig is sarama's transactional producer configuration.
func txgSaramaTxnConfig(id string) *sarama.Config {
	cfg := saramaConfig()
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = id
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Transaction.Retry.Backoff = 50 * time.Millisecond
	return cfg
}

func txgSaramaMessages(topic string, recs []testRecord) []*sarama.ProducerMessage {
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Partition: r.Partition, Value: sarama.ByteEncoder(r.Value), Timestamp: r.Timestamp}
		if r.Key != nil {
			m.Key = sarama.ByteEncoder(r.Key)
		}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		msgs[i] = m
	}
	return msgs
}

func TestTxnSarama(t *testing.T) {
	c := saramaClient
	setBudget(c, 60*time.Second)
	s := StartSamsa(t)
	addr := s.Addr

	// Transactions 2 and 3 carry consumed offsets of a source topic
	// (AddMessageToTxn): sarama sends them (AddOffsetsToTxn,
	// TxnOffsetCommit) only within CommitTxn, so the aborted one never
	// reaches the broker and the committed one must be visible after it.
	runScenario(t, c, scTxnCommitAbort, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scTxnCommitAbort)
		src, group := topic+".src", topic+".group"
		if err := fxCreateTopic(ctx, addr, topic, txgCommitAbortPartitions, nil); err != nil {
			return err
		}
		if _, err := txgSource(ctx, addr, src, 6); err != nil {
			return err
		}
		// Consume the source with sarama.
		cons, err := sarama.NewConsumer([]string{addr}, saramaConfig())
		if err != nil {
			return fmt.Errorf("consumer: %w", err)
		}
		defer cons.Close()
		pc, err := cons.ConsumePartition(src, 0, sarama.OffsetOldest)
		if err != nil {
			return fmt.Errorf("consume partition: %w", err)
		}
		defer pc.Close()
		var msgs []*sarama.ConsumerMessage
		var consumed []testRecord
		for len(msgs) < 6 {
			select {
			case m := <-pc.Messages():
				msgs = append(msgs, m)
				consumed = append(consumed, fromSaramaMessage(m))
			case err := <-pc.Errors():
				return fmt.Errorf("consume: %w", err)
			case <-ctx.Done():
				return fmt.Errorf("consumed %d of 6 source records: %w", len(msgs), ctx.Err())
			}
		}

		p, err := sarama.NewSyncProducer([]string{addr}, txgSaramaTxnConfig(topic+".producer"))
		if err != nil {
			return fmt.Errorf("transactional producer: %w", err)
		}
		defer p.Close()
		txn1, txn2 := txgCommitAbortTxns(topic)
		txn3 := txgTransform(consumed, txgCommitAbortPartitions)
		run := func(n int, recs []testRecord, offsets []*sarama.ConsumerMessage, commit bool) error {
			if err := p.BeginTxn(); err != nil {
				return fmt.Errorf("txn %d: BeginTxn: %w", n, err)
			}
			if err := p.SendMessages(txgSaramaMessages(topic, recs)); err != nil {
				return fmt.Errorf("txn %d: SendMessages: %w", n, err)
			}
			for _, m := range offsets {
				if err := p.AddMessageToTxn(m, group, nil); err != nil {
					return fmt.Errorf("txn %d: AddMessageToTxn: %w", n, err)
				}
			}
			end, what := p.CommitTxn, "CommitTxn"
			if !commit {
				end, what = p.AbortTxn, "AbortTxn"
			}
			if err := end(); err != nil {
				return fmt.Errorf("txn %d: %s: %w", n, what, err)
			}
			return nil
		}
		if err := run(1, txn1, nil, true); err != nil {
			return err
		}
		if err := run(2, txn2, msgs[:3], false); err != nil {
			return err
		}
		if err := txgAwaitStableOffset(ctx, addr, group, src, 0, -1); err != nil {
			return fmt.Errorf("after the aborted transaction 2: %w", err)
		}
		if err := run(3, txn3, msgs, true); err != nil {
			return err
		}
		if err := txgAwaitStableOffset(ctx, addr, group, src, 0, 6); err != nil {
			return fmt.Errorf("after the committed transaction 3: %w", err)
		}
		return txgVerifyCommitAbort(ctx, addr, topic, txgCommitAbortPartitions, [][]testRecord{txn1, txn2, txn3}, []bool{true, false, true})
	})

	runScenario(t, c, scReadCommitted, func(ctx context.Context, t *testing.T) error {
		f, err := txgPrepareReadCommitted(ctx, addr, topicName(c, scReadCommitted))
		if err != nil {
			return err
		}
		defer f.close()
		cfg := saramaConfig()
		cfg.Consumer.IsolationLevel = sarama.ReadCommitted
		cfg.Consumer.Return.Errors = true
		cons, err := sarama.NewConsumer([]string{addr}, cfg)
		if err != nil {
			return fmt.Errorf("consumer: %w", err)
		}
		st := &txgChanStream{ch: make(chan txgItem, 64)}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var pcs []sarama.PartitionConsumer
		st.stop = func() error {
			close(stop)
			for _, pc := range pcs {
				pc.AsyncClose()
			}
			wg.Wait()
			return cons.Close()
		}
		defer st.close()
		for part := range int32(txgRCPartitions) {
			pc, err := cons.ConsumePartition(f.topic, part, sarama.OffsetOldest)
			if err != nil {
				return fmt.Errorf("consume partition %d: %w", part, err)
			}
			pcs = append(pcs, pc)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					var it txgItem
					select {
					case m, ok := <-pc.Messages():
						if !ok {
							return
						}
						it.rec = fromSaramaMessage(m)
					case err, ok := <-pc.Errors():
						if !ok {
							return
						}
						it.err = err
					case <-stop:
						return
					}
					select {
					case st.ch <- it:
					case <-stop:
						return
					}
				}
			}()
		}
		return txgRunReadCommitted(ctx, f, st, nil)
	})
}

// ---- confluent-kafka-go -------------------------------------------------------------------

// txgConfluentSend produces recs in the producer's open transaction and
// waits for every delivery report.
func txgConfluentSend(ctx context.Context, p *kafka.Producer, topic string, recs []testRecord) error {
	dr := make(chan kafka.Event, len(recs))
	for _, r := range recs {
		m := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: r.Partition}, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		if err := p.Produce(m, dr); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
	}
	for i := range recs {
		select {
		case ev := <-dr:
			m, ok := ev.(*kafka.Message)
			if !ok {
				return fmt.Errorf("produce: unexpected event %v", ev)
			}
			if m.TopicPartition.Error != nil {
				return fmt.Errorf("delivery: %w", m.TopicPartition.Error)
			}
		case <-ctx.Done():
			return fmt.Errorf("delivery reports: %d of %d: %w", i, len(recs), ctx.Err())
		}
	}
	return nil
}

func TestTxnConfluent(t *testing.T) {
	c := confluentClient
	setBudget(c, 60*time.Second)
	s := StartSamsa(t)
	addr := s.Addr

	// Transactions 2 and 3 carry the offset of a source topic consumed by
	// a librdkafka consumer of the group (SendOffsetsToTransaction with
	// its group metadata), which librdkafka sends at once: while either
	// is open the group's offset stays the committed one
	// (require_stable: UNSTABLE_OFFSET_COMMIT); the abort drops it, the
	// commit makes it the group's.
	runScenario(t, c, scTxnCommitAbort, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scTxnCommitAbort)
		src, group := topic+".src", topic+".group"
		if err := fxCreateTopic(ctx, addr, topic, txgCommitAbortPartitions, nil); err != nil {
			return err
		}
		if _, err := txgSource(ctx, addr, src, 6); err != nil {
			return err
		}
		cons, err := kafka.NewConsumer(confluentConfig(addr, kafka.ConfigMap{
			"group.id": group, "enable.auto.commit": false, "fetch.wait.max.ms": 200, "isolation.level": "read_committed",
		}))
		if err != nil {
			return fmt.Errorf("consumer: %w", err)
		}
		defer cons.Close()
		if err := cons.Assign([]kafka.TopicPartition{{Topic: &src, Partition: 0, Offset: kafka.OffsetBeginning}}); err != nil {
			return fmt.Errorf("assign: %w", err)
		}
		consumed, err := confluentPoll(ctx, cons, 6)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		gm, err := cons.GetConsumerGroupMetadata()
		if err != nil {
			return fmt.Errorf("group metadata: %w", err)
		}

		p, err := kafka.NewProducer(confluentConfig(addr, kafka.ConfigMap{"transactional.id": topic + ".producer", "linger.ms": 5}))
		if err != nil {
			return fmt.Errorf("producer: %w", err)
		}
		defer p.Close()
		if err := p.InitTransactions(ctx); err != nil {
			return fmt.Errorf("InitTransactions: %w", err)
		}
		txn1, txn2 := txgCommitAbortTxns(topic)
		txn3 := txgTransform(consumed, txgCommitAbortPartitions)
		run := func(n int, recs []testRecord, offset int64, commit bool, committedBefore int64) error {
			if err := p.BeginTransaction(); err != nil {
				return fmt.Errorf("txn %d: BeginTransaction: %w", n, err)
			}
			if err := txgConfluentSend(ctx, p, topic, recs); err != nil {
				return fmt.Errorf("txn %d: %w", n, err)
			}
			if offset >= 0 {
				offs := []kafka.TopicPartition{{Topic: &src, Partition: 0, Offset: kafka.Offset(offset)}}
				if err := p.SendOffsetsToTransaction(ctx, offs, gm); err != nil {
					return fmt.Errorf("txn %d: SendOffsetsToTransaction: %w", n, err)
				}
				if err := txgCheckPendingOffset(ctx, addr, group, src, 0, committedBefore); err != nil {
					return fmt.Errorf("txn %d: %w", n, err)
				}
			}
			if commit {
				if err := p.CommitTransaction(ctx); err != nil {
					return fmt.Errorf("txn %d: CommitTransaction: %w", n, err)
				}
			} else if err := p.AbortTransaction(ctx); err != nil {
				return fmt.Errorf("txn %d: AbortTransaction: %w", n, err)
			}
			return nil
		}
		if err := run(1, txn1, -1, true, -1); err != nil {
			return err
		}
		if err := run(2, txn2, 3, false, -1); err != nil {
			return err
		}
		if err := txgAwaitStableOffset(ctx, addr, group, src, 0, -1); err != nil {
			return fmt.Errorf("after the aborted transaction 2: %w", err)
		}
		if err := run(3, txn3, 6, true, -1); err != nil {
			return err
		}
		if err := txgAwaitStableOffset(ctx, addr, group, src, 0, 6); err != nil {
			return fmt.Errorf("after the committed transaction 3: %w", err)
		}
		return txgVerifyCommitAbort(ctx, addr, topic, txgCommitAbortPartitions, [][]testRecord{txn1, txn2, txn3}, []bool{true, false, true})
	})

	runScenario(t, c, scReadCommitted, func(ctx context.Context, t *testing.T) error {
		f, err := txgPrepareReadCommitted(ctx, addr, topicName(c, scReadCommitted))
		if err != nil {
			return err
		}
		defer f.close()
		cons, err := kafka.NewConsumer(confluentConfig(addr, kafka.ConfigMap{
			"group.id": f.topic + ".assign", "enable.auto.commit": false, "fetch.wait.max.ms": 200, "isolation.level": "read_committed",
		}))
		if err != nil {
			return fmt.Errorf("consumer: %w", err)
		}
		st := &txgConfluentStream{cons: cons}
		defer st.close()
		var tps []kafka.TopicPartition
		for p := range int32(txgRCPartitions) {
			tps = append(tps, kafka.TopicPartition{Topic: &f.topic, Partition: p, Offset: kafka.OffsetBeginning})
		}
		if err := cons.Assign(tps); err != nil {
			return fmt.Errorf("assign: %w", err)
		}
		return txgRunReadCommitted(ctx, f, st, nil)
	})
}

// txgConfluentStream is a librdkafka consumer as a txgStream.
type txgConfluentStream struct{ cons *kafka.Consumer }

func (s *txgConfluentStream) next(ctx context.Context) (testRecord, error) {
	for ctx.Err() == nil {
		m, err := s.cons.ReadMessage(100 * time.Millisecond)
		if err != nil {
			var ke kafka.Error
			if errors.As(err, &ke) && ke.IsTimeout() {
				continue
			}
			return testRecord{}, err
		}
		return fromConfluentMessage(m), nil
	}
	return testRecord{}, ctx.Err()
}

func (s *txgConfluentStream) close() error { return s.cons.Close() }

// ---- kafka-go -----------------------------------------------------------------------------

// kafka-go has no read_committed cell: its Reader takes an IsolationLevel
// and samsa's fetches stop at the last stable offset for it, but it
// neither hides control batches nor drops aborted transactions' records
// (segmentio/kafka-go#1332, open), so it does not support read_committed
// consumption; like its missing OAUTHBEARER, the cell is not run.

// ---- kcat ---------------------------------------------------------------------------------

// txgKcatFormat prints "partition|offset|timestamp|key|value".
const txgKcatFormat = "%p|%o|%T|%k|%s\n"

func txgParseKcatLine(line string) (testRecord, error) {
	f := strings.SplitN(line, "|", 5)
	if len(f) != 5 {
		return testRecord{}, fmt.Errorf("unexpected kcat line %q", line)
	}
	p, err1 := strconv.ParseInt(f[0], 10, 32)
	o, err2 := strconv.ParseInt(f[1], 10, 64)
	ts, err3 := strconv.ParseInt(f[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return testRecord{}, fmt.Errorf("kcat line %q: %w", line, err)
	}
	return testRecord{Partition: int32(p), Offset: o, Timestamp: time.UnixMilli(ts), Key: []byte(f[3]), Value: []byte(f[4])}, nil
}

func TestTxnKcat(t *testing.T) {
	c := kcatClient
	if _, err := exec.LookPath("kcat"); err != nil {
		failAll(t, c, []string{scReadCommitted}, errors.New("kcat is not installed"))
		return
	}
	setBudget(c, 30*time.Second)
	s := StartSamsa(t)
	addr := s.Addr

	// A kcat process consuming read_committed throughout; while the
	// transaction is open, a second kcat with -e (exit at the end of every
	// partition, which for read_committed is the LSO) must print exactly
	// the committed records and exit.
	runScenario(t, c, scReadCommitted, func(ctx context.Context, t *testing.T) error {
		f, err := txgPrepareReadCommitted(ctx, addr, topicName(c, scReadCommitted))
		if err != nil {
			return err
		}
		defer f.close()
		args := []string{"-b", addr, "-C", "-t", f.topic, "-o", "beginning", "-u", "-q", "-X", "isolation.level=read_committed", "-f", txgKcatFormat}
		pctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(pctx, "kcat", args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			cancel()
			return err
		}
		if err := cmd.Start(); err != nil {
			cancel()
			return fmt.Errorf("kcat: %w", err)
		}
		st := &txgChanStream{ch: make(chan txgItem, 64)}
		done := make(chan struct{})
		st.stop = func() error {
			cancel()
			<-done
			cmd.Wait()
			return nil
		}
		defer st.close()
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				r, err := txgParseKcatLine(sc.Text())
				select {
				case st.ch <- txgItem{rec: r, err: err}:
				case <-pctx.Done():
					return
				}
			}
			if pctx.Err() == nil {
				select {
				case st.ch <- txgItem{err: fmt.Errorf("kcat exited: %v: %s", sc.Err(), lastLines(stderr.String(), 3))}:
				case <-pctx.Done():
				}
			}
		}()
		whileOpen := func(ctx context.Context) error {
			stdout, _, err := runKcat(ctx, "", append(args[:len(args)-2:len(args)-2], "-e", "-f", txgKcatFormat)...)
			if err != nil {
				return fmt.Errorf("kcat -e while the transaction is open: %w", err)
			}
			got := make([][]testRecord, txgRCPartitions)
			for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
				if line == "" {
					continue
				}
				r, err := txgParseKcatLine(line)
				if err != nil {
					return err
				}
				if r.Partition < 0 || r.Partition >= txgRCPartitions {
					return fmt.Errorf("kcat -e: record of partition %d", r.Partition)
				}
				got[r.Partition] = append(got[r.Partition], r)
			}
			for p := range int32(txgRCPartitions) {
				want := f.committed[p]
				if len(got[p]) != len(want) {
					return fmt.Errorf("kcat -e while the transaction is open: partition %d: %d records %v, want the %d committed ones", p, len(got[p]), got[p], len(want))
				}
				for i := range want {
					if string(got[p][i].Key) != string(want[i].Key) || string(got[p][i].Value) != string(want[i].Value) || got[p][i].Offset != want[i].Offset {
						return fmt.Errorf("kcat -e: partition %d record %d: %q=%q at %d, want %q=%q at %d", p, i, got[p][i].Key, got[p][i].Value, got[p][i].Offset, want[i].Key, want[i].Value, want[i].Offset)
					}
				}
			}
			return nil
		}
		return txgRunReadCommitted(ctx, f, st, whileOpen)
	})
}

// ---- helpers ----------------------------------------------------------------------------------

// txgListLSO returns, per partition of topic, the read_uncommitted and
// the read_committed end offsets (high watermark, last stable offset).
func txgListLSO(ctx context.Context, addr, topic string) (hwm, lso map[int32]int64, err error) {
	cl, err := fxClient(addr)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	stable, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	hwm, lso = map[int32]int64{}, map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { hwm[o.Partition] = o.Offset })
	stable.Each(func(o kadm.ListedOffset) { lso[o.Partition] = o.Offset })
	return hwm, lso, nil
}

// ---- exactly-once-copy (franz-go GroupTransactSession) -----------------------------------------

const (
	txgCopyPartitions = 4
	txgCopyTxns       = 10  // committed input transactions
	txgCopyPerTxn     = 260 // records per partition per input transaction
	txgCopyPoison     = 25  // records per partition of each aborted input transaction
)

// txgCopyInput writes the copier's input with a franz-go transactional
// producer: txgCopyTxns committed transactions of txgCopyPerTxn records
// per partition, and after the 4th and the 8th an aborted one of
// "poison" records, which no read_committed copier may copy. It returns
// the committed records per partition, with their offsets.
func txgCopyInput(ctx context.Context, addr, topic string) ([][]testRecord, error) {
	cl, err := fxClient(addr, kgo.TransactionalID(topic+".producer"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	in := make([][]testRecord, txgCopyPartitions)
	seqs := make([]int, txgCopyPartitions) // per partition, committed or not
	base := baseTime()
	txn := func(n int, poison bool) error {
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		var krs []*kgo.Record
		for p := range int32(txgCopyPartitions) {
			for range n {
				seq := seqs[p]
				seqs[p]++
				key := fmt.Sprintf("in-%d-%05d", p, seq)
				if poison {
					key = fmt.Sprintf("poison-%d-%05d", p, seq)
				}
				krs = append(krs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(key),
					Value:     []byte(fmt.Sprintf("value of %s: the quick brown fox jumps over the lazy dog", key)),
					Timestamp: base.Add(time.Duration(seq) * time.Millisecond)})
			}
		}
		if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
			return err
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(!poison)); err != nil {
			return err
		}
		if !poison {
			for _, kr := range krs {
				in[kr.Partition] = append(in[kr.Partition], fromKgoRecord(kr))
			}
		}
		return nil
	}
	for i := range txgCopyTxns {
		if err := txn(txgCopyPerTxn, false); err != nil {
			return nil, fmt.Errorf("fixture: input transaction %d: %w", i+1, err)
		}
		if i == 3 || i == 7 {
			if err := txn(txgCopyPoison, true); err != nil {
				return nil, fmt.Errorf("fixture: aborted input transaction: %w", err)
			}
		}
	}
	return in, nil
}

// TestTxnGroupTransactSession: a consume-transform-produce chain with
// franz-go's GroupTransactSession (KIP-447: read_committed consumer in a
// group, transactional producer, the consumed offsets committed in the
// transaction) copying 10,400 records from a 4-partition topic to
// another. Copier A aborts every 4th transaction (its records are
// processed again) and is SIGKILLed holding an open transaction whose
// records are written; copier B, with the same transactional id and
// static group member id, fences it and takes its place, aborting every
// 5th, while copier C (a transactional id of its own) joins the group:
// the partitions are rebalanced between B and C mid-stream (the session
// aborts a transaction the rebalance overtook). read_committed, the
// output is the input exactly: every record once, in its input
// partition's order; read_uncommitted, it also holds every aborted and
// the killed transaction's records, as many as the copiers reported.
func TestTxnGroupTransactSession(t *testing.T) {
	s := StartSamsa(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	err := txgExactlyOnceCopy(ctx, t, s.Addr)
	record(franzClient, txgScExactlyOnceCopy, err)
	if err != nil {
		t.Errorf("%s / %s: %v", franzClient, txgScExactlyOnceCopy, err)
	}
	t.Logf("%s / %s took %v", franzClient, txgScExactlyOnceCopy, time.Since(begin).Round(time.Millisecond))
}

func txgExactlyOnceCopy(ctx context.Context, t *testing.T, addr string) error {
	prefix := topicName(franzClient, txgScExactlyOnceCopy)
	in, out, group := prefix+".in", prefix+".out", prefix+".copiers"
	for _, topic := range []string{in, out} {
		if err := fxCreateTopic(ctx, addr, topic, txgCopyPartitions, nil); err != nil {
			return err
		}
	}
	input, err := txgCopyInput(ctx, addr, in)
	if err != nil {
		return err
	}
	total := txgCount(input)
	t.Logf("input: %d committed records in %d partitions, %d aborted", total, txgCopyPartitions, 2*txgCopyPoison*txgCopyPartitions)

	cfg := txgCopierConfig{Addr: addr, In: in, Out: out, Group: group, TxnID: prefix + ".copier",
		InstanceID: prefix + ".copier-0", MaxPoll: 400}
	var ends []txgCopierEvent
	// wait collects cp's events until one of kind want (or its exit).
	wait := func(cp *txgCopier, want string) (txgCopierEvent, error) {
		for {
			select {
			case ev, ok := <-cp.events:
				if !ok {
					<-cp.exited
					return ev, fmt.Errorf("copier %s exited (%s) before %q: %s", cp.name, cp.exitStatus(), want, cp.tail(30))
				}
				if ev.Event == "end" {
					ends = append(ends, ev)
				}
				if ev.Event == want {
					return ev, nil
				}
			case <-ctx.Done():
				return txgCopierEvent{}, fmt.Errorf("copier %s: no %q: %w: %s", cp.name, want, ctx.Err(), cp.tail(30))
			}
		}
	}

	cfgA := cfg
	cfgA.Name, cfgA.AbortEvery, cfgA.HoldAt = "A", 4, 9
	a, err := txgStartCopier(t, cfgA)
	if err != nil {
		return err
	}
	hold, err := wait(a, "hold")
	if err != nil {
		return err
	}
	// The held transaction's records are in the log past the LSO.
	var hwm, lso map[int32]int64
	if err := pollUntil(ctx, "the held transaction's records are not all past the LSO", func() (bool, error) {
		var err error
		hwm, lso, err = txgListLSO(ctx, addr, out)
		unstable := int64(0)
		for p, h := range hwm {
			unstable += h - lso[p]
		}
		return err == nil && unstable == int64(hold.Records), err
	}); err != nil {
		return fmt.Errorf("%w (high watermarks %v, LSOs %v, held %d records)", err, hwm, lso, hold.Records)
	}
	a.cmd.Process.Kill()
	<-a.exited
	t.Logf("copier A: %d transactions ended, then SIGKILLed holding transaction %d of %d records (%s)", len(ends), hold.Txn, hold.Records, a.exitStatus())

	// B takes over A's place (same transactional id and static member
	// id); C, with a transactional id of its own, joins the group with it,
	// so that the partitions are rebalanced between them mid-stream.
	cfgB, cfgC := cfg, cfg
	cfgB.Name, cfgB.AbortEvery, cfgB.MaxPoll = "B", 5, 150
	cfgC.Name, cfgC.AbortEvery, cfgC.MaxPoll = "C", 6, 150
	cfgC.TxnID, cfgC.InstanceID = prefix+".copier-c", prefix+".copier-1"
	var rest []*txgCopier
	for _, cfg := range []txgCopierConfig{cfgB, cfgC} {
		cp, err := txgStartCopier(t, cfg)
		if err != nil {
			return err
		}
		rest = append(rest, cp)
	}
	// They are done once the group's committed offsets are past every
	// input record (franz-go commits the offset after the last consumed
	// one). Their events wait in their channels meanwhile.
	err = pollUntil(ctx, "the copiers' group has not committed the whole input", func() (bool, error) {
		for _, cp := range rest {
			select {
			case <-cp.exited:
				return false, fmt.Errorf("copier %s exited (%s): %s", cp.name, cp.exitStatus(), cp.tail(30))
			default:
			}
		}
		for p := range int32(txgCopyPartitions) {
			want := input[p][len(input[p])-1].Offset + 1
			off, err := txgOffsetFetch(ctx, addr, group, in, p, true)
			if err != nil || off != want {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, cp := range rest {
		cp.stdin.Close()
	}
	for _, cp := range rest {
		if _, err := wait(cp, "done"); err != nil {
			return err
		}
		select {
		case <-cp.exited:
		case <-ctx.Done():
			return fmt.Errorf("copier %s did not exit after its stdin closed: %w", cp.name, ctx.Err())
		}
		if !cp.cmd.ProcessState.Success() {
			return fmt.Errorf("copier %s: %s: %s", cp.name, cp.exitStatus(), cp.tail(30))
		}
	}
	return txgCheckCopy(ctx, t, addr, out, input, ends, hold)
}

// txgCheckCopy checks the copy's output against its input and the
// copiers' own account of their transactions (ends; hold, the killed
// one).
func txgCheckCopy(ctx context.Context, t *testing.T, addr, out string, input [][]testRecord, ends []txgCopierEvent, hold txgCopierEvent) error {
	committed, aborted, tries := 0, 0, map[string]int{}
	for _, ev := range ends {
		if ev.Committed {
			committed += ev.Records
		} else {
			aborted += ev.Records
		}
		tries[fmt.Sprintf("try_commit=%v committed=%v", ev.TryCommit, ev.Committed)]++
	}
	total := txgCount(input)
	t.Logf("copiers: %d transactions %v; %d records committed, %d aborted, %d in the killed transaction", len(ends), tries, committed, aborted, hold.Records)
	if committed != total {
		return fmt.Errorf("the copiers committed %d records, the input has %d", committed, total)
	}
	if aborted == 0 {
		return errors.New("no copier transaction was aborted: the scenario did not run as designed")
	}
	if err := txgPutSentinels(ctx, addr, out, txgCopyPartitions); err != nil {
		return err
	}
	rc, err := txgReadToSentinels(ctx, addr, out, txgCopyPartitions, true)
	if err != nil {
		return err
	}
	by := map[string]int{}
	for p := range int32(txgCopyPartitions) {
		want, got := input[p], rc[p]
		for i := range min(len(want), len(got)) {
			src := ""
			for _, h := range got[i].Headers {
				if h.Key == "src" {
					src = string(h.Value)
				}
				if h.Key == "copier" {
					by[string(h.Value)]++
				}
			}
			if string(got[i].Key) != string(want[i].Key) || string(got[i].Value) != string(want[i].Value) || src != fmt.Sprintf("%d:%d", p, want[i].Offset) {
				return fmt.Errorf("read_committed output partition %d, record %d: key %q from %s, want key %q from %d:%d (order broken, a record lost, duplicated or aborted)",
					p, i, got[i].Key, src, want[i].Key, p, want[i].Offset)
			}
		}
		if len(got) != len(want) {
			return fmt.Errorf("read_committed output partition %d: %d records, the input has %d", p, len(got), len(want))
		}
	}
	if by["A"] == 0 || by["B"] == 0 || by["C"] == 0 {
		return fmt.Errorf("committed output records per copier %v: want some from each of A, B and C", by)
	}
	ru, err := txgReadToSentinels(ctx, addr, out, txgCopyPartitions, false)
	if err != nil {
		return err
	}
	keys := map[string]bool{}
	for _, part := range input {
		for _, r := range part {
			keys[string(r.Key)] = true
		}
	}
	for p, part := range ru {
		for _, r := range part {
			if !keys[string(r.Key)] {
				return fmt.Errorf("read_uncommitted output partition %d: record %q at %d is not an input record (an aborted input transaction was copied)", p, r.Key, r.Offset)
			}
		}
	}
	nRU, wantRU := txgCount(ru), total+aborted+hold.Records
	t.Logf("output: %d records read_committed (%v per copier), %d read_uncommitted", txgCount(rc), by, nRU)
	if nRU != wantRU || nRU <= txgCount(rc) {
		return fmt.Errorf("read_uncommitted output holds %d records, want %d (%d committed + %d aborted + %d of the killed transaction)", nRU, wantRU, total, aborted, hold.Records)
	}
	return nil
}
