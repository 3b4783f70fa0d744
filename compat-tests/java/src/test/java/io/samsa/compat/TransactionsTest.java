package io.samsa.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Transactions (KIP-98, KIP-447, KIP-890) with the Java client's own
 * transactional API: KafkaProducer's initTransactions / beginTransaction /
 * commitTransaction / abortTransaction / sendOffsetsToTransaction, checked by
 * a read_committed and a read_uncommitted KafkaConsumer and by the Admin
 * client (ListOffsets read_committed, OffsetFetch require_stable,
 * DescribeTransactions).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TransactionsTest {
    private static final Duration POLL = Duration.ofMillis(100);
    /** A hang guard for every poll loop, never an assertion about speed. */
    private static final long DEADLINE_MS = 30_000;

    private Admin admin;

    @BeforeAll
    void setUp() {
        admin = Admin.create(KafkaClientsTest.adminProps(Scenarios.bootstrap()));
    }

    @AfterAll
    void tearDown() {
        if (admin != null) {
            admin.close(Duration.ofSeconds(5));
        }
    }

    // ---- helpers ---------------------------------------------------------

    static KafkaProducer<byte[], byte[]> txnProducer(String transactionalId) {
        return KafkaClientsTest.producer(Scenarios.bootstrap(), Map.of(
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId,
                ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 60_000));
    }

    static KafkaConsumer<byte[], byte[]> isolated(IsolationLevel level, Map<String, Object> extra) {
        Map<String, Object> cfg = new HashMap<>(extra);
        cfg.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, level.toString().toLowerCase(Locale.ROOT));
        return KafkaClientsTest.consumer(cfg);
    }

    void createTopic(String topic, int partitions) throws Exception {
        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
    }

    static List<TopicPartition> partitions(String topic, int n) {
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            tps.add(new TopicPartition(topic, i));
        }
        return tps;
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    /**
     * Sends recs in the producer's current transaction and waits for every
     * ack (flush first: an abort may otherwise drop records not yet sent).
     */
    static List<RecordMetadata> sendAcked(KafkaProducer<byte[], byte[]> p, List<ProducerRecord<byte[], byte[]>> recs) throws Exception {
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (ProducerRecord<byte[], byte[]> r : recs) {
            fs.add(p.send(r));
        }
        p.flush();
        List<RecordMetadata> out = new ArrayList<>();
        for (Future<RecordMetadata> f : fs) {
            out.add(f.get());
        }
        return out;
    }

    /** count records "prefix-i", spread round-robin over the topic's n partitions. */
    static List<ProducerRecord<byte[], byte[]>> batch(String topic, int n, String prefix, int count) {
        List<ProducerRecord<byte[], byte[]>> recs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            recs.add(new ProducerRecord<>(topic, i % n, KafkaClientsTest.b("k-" + prefix + "-" + i), KafkaClientsTest.b(prefix + "-" + i)));
        }
        return recs;
    }

    /** The values of recs per partition, in send order. */
    static Map<Integer, List<String>> byPartition(List<ProducerRecord<byte[], byte[]>> recs) {
        Map<Integer, List<String>> out = new TreeMap<>();
        for (ProducerRecord<byte[], byte[]> r : recs) {
            out.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(s(r.value()));
        }
        return out;
    }

    /**
     * Polls the assigned partitions from where they are until each one's
     * position reached its end as this consumer sees it (endOffsets: the
     * last stable offset for read_committed, the high watermark otherwise),
     * and returns the values read per partition, checking that offsets only
     * go up.
     */
    static Map<Integer, List<String>> drainToEnd(KafkaConsumer<byte[], byte[]> c) {
        Map<TopicPartition, Long> end = c.endOffsets(c.assignment());
        Map<Integer, List<String>> out = new TreeMap<>();
        Map<Integer, Long> lastOffset = new HashMap<>();
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (true) {
            boolean done = true;
            for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
                if (c.position(e.getKey()) < e.getValue()) {
                    done = false;
                }
            }
            if (done) {
                return out;
            }
            if (System.currentTimeMillis() > deadline) {
                Map<TopicPartition, Long> pos = new HashMap<>();
                for (TopicPartition tp : end.keySet()) {
                    pos.put(tp, c.position(tp));
                }
                fail("positions " + pos + " did not reach the end offsets " + end + " within " + DEADLINE_MS + " ms; read " + out);
            }
            for (ConsumerRecord<byte[], byte[]> r : c.poll(POLL)) {
                Long prev = lastOffset.put(r.partition(), r.offset());
                assertTrue(prev == null || r.offset() > prev, "offsets go up in partition " + r.partition() + ": " + prev + " then " + r.offset());
                out.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(s(r.value()));
            }
        }
    }

    /** Reads the whole topic (all n partitions) with the given isolation level. */
    static Map<Integer, List<String>> readAll(String topic, int n, IsolationLevel level) {
        try (KafkaConsumer<byte[], byte[]> c = isolated(level, Map.of())) {
            List<TopicPartition> tps = partitions(topic, n);
            c.assign(tps);
            c.seekToBeginning(tps);
            return drainToEnd(c);
        }
    }

    @SafeVarargs
    static Map<Integer, List<String>> concat(Map<Integer, List<String>>... parts) {
        Map<Integer, List<String>> out = new TreeMap<>();
        for (Map<Integer, List<String>> m : parts) {
            for (Map.Entry<Integer, List<String>> e : m.entrySet()) {
                out.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).addAll(e.getValue());
            }
        }
        return out;
    }

    Map<TopicPartition, Long> listOffsets(List<TopicPartition> tps, IsolationLevel level) throws Exception {
        return listOffsets(admin, tps, level);
    }

    static Map<TopicPartition, Long> listOffsets(Admin admin, List<TopicPartition> tps, IsolationLevel level) throws Exception {
        Map<TopicPartition, OffsetSpec> req = new HashMap<>();
        for (TopicPartition tp : tps) {
            req.put(tp, OffsetSpec.latest());
        }
        Map<TopicPartition, Long> out = new HashMap<>();
        admin.listOffsets(req, new ListOffsetsOptions(level)).all().get()
                .forEach((tp, info) -> out.put(tp, info.offset()));
        return out;
    }

    /**
     * Waits until no transaction is open or completing on tps: the last
     * stable offset equals the high watermark. Kafka answers EndTxn once the
     * decision is logged and writes the markers after, so a read right after
     * commitTransaction may still stop short of the last transaction.
     */
    Map<TopicPartition, Long> awaitStable(List<TopicPartition> tps) throws Exception {
        return awaitStable(admin, tps);
    }

    static Map<TopicPartition, Long> awaitStable(Admin admin, List<TopicPartition> tps) throws Exception {
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (true) {
            Map<TopicPartition, Long> hw = listOffsets(admin, tps, IsolationLevel.READ_UNCOMMITTED);
            Map<TopicPartition, Long> lso = listOffsets(admin, tps, IsolationLevel.READ_COMMITTED);
            if (hw.equals(lso)) {
                return hw;
            }
            if (System.currentTimeMillis() > deadline) {
                fail("last stable offsets " + lso + " did not reach the high watermarks " + hw + " within " + DEADLINE_MS + " ms");
            }
            Thread.sleep(50);
        }
    }

    /**
     * The group's offsets from a require_stable fetch once no partition is
     * left out as UNSTABLE_OFFSET_COMMIT (the admin client drops those).
     */
    Map<TopicPartition, Long> awaitStableGroupOffsets(String group, List<TopicPartition> tps) throws Exception {
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (true) {
            Map<TopicPartition, OffsetAndMetadata> got = groupOffsets(group, true);
            if (got.keySet().containsAll(tps)) {
                Map<TopicPartition, Long> out = new HashMap<>();
                got.forEach((tp, om) -> out.put(tp, om == null ? null : om.offset()));
                return out;
            }
            if (System.currentTimeMillis() > deadline) {
                fail("require_stable offset fetch of " + group + " still lacks some of " + tps + " after " + DEADLINE_MS + " ms: " + got);
            }
            Thread.sleep(50);
        }
    }

    /** The group's offsets for tps, require_stable or not (OffsetFetch v7+). */
    Map<TopicPartition, OffsetAndMetadata> groupOffsets(String group, List<TopicPartition> tps, boolean requireStable) throws Exception {
        return admin.listConsumerGroupOffsets(Map.of(group, new ListConsumerGroupOffsetsSpec().topicPartitions(tps)),
                        new ListConsumerGroupOffsetsOptions().requireStable(requireStable))
                .partitionsToOffsetAndMetadata(group).get();
    }

    Map<TopicPartition, OffsetAndMetadata> groupOffsets(String group, boolean requireStable) throws Exception {
        return admin.listConsumerGroupOffsets(group, new ListConsumerGroupOffsetsOptions().requireStable(requireStable))
                .partitionsToOffsetAndMetadata().get();
    }

    TransactionDescription describe(String txnId) throws Exception {
        return admin.describeTransactions(List.of(txnId)).description(txnId).get();
    }

    static boolean causedBy(Throwable t, Class<?>... kinds) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            for (Class<?> k : kinds) {
                if (k.isInstance(c)) {
                    return true;
                }
            }
        }
        return false;
    }

    // ---- scenarios -------------------------------------------------------

    /**
     * txn 1 commits N records, txn 2 aborts M, txn 3 commits K, over three
     * partitions: read_committed sees exactly the N+K, read_uncommitted all
     * N+M+K, and each transaction left one marker per partition it touched.
     */
    @Test
    void commitAbort() throws Exception {
        Scenarios.run("transactions-commit-abort", () -> {
            int n = 3;
            String topic = Scenarios.topic("txn-ca");
            createTopic(topic, n);
            List<ProducerRecord<byte[], byte[]>> t1 = batch(topic, n, "c1", 30);
            List<ProducerRecord<byte[], byte[]>> t2 = batch(topic, n, "a2", 21);
            List<ProducerRecord<byte[], byte[]>> t3 = batch(topic, n, "c3", 24);
            try (KafkaProducer<byte[], byte[]> p = txnProducer(topic + "-tx")) {
                p.initTransactions();
                p.beginTransaction();
                sendAcked(p, t1);
                p.commitTransaction();
                p.beginTransaction();
                sendAcked(p, t2);
                p.abortTransaction();
                p.beginTransaction();
                sendAcked(p, t3);
                p.commitTransaction();
            }
            List<TopicPartition> tps = partitions(topic, n);
            Map<TopicPartition, Long> hw = awaitStable(tps);
            Map<Integer, List<String>> committed = readAll(topic, n, IsolationLevel.READ_COMMITTED);
            assertEquals(concat(byPartition(t1), byPartition(t3)), committed, "read_committed records per partition");
            Map<Integer, List<String>> all = readAll(topic, n, IsolationLevel.READ_UNCOMMITTED);
            assertEquals(concat(byPartition(t1), byPartition(t2), byPartition(t3)), all, "read_uncommitted records per partition");

            // Every transaction touched every partition: 3 control records each.
            for (TopicPartition tp : tps) {
                long data = all.get(tp.partition()).size();
                assertEquals(data + 3, hw.get(tp), "log end offset of " + tp + " (data records + 3 markers)");
            }
            System.out.println("transactions-commit-abort: read_committed " + (t1.size() + t3.size())
                    + " records, read_uncommitted " + (t1.size() + t2.size() + t3.size()));
        });
    }

    /**
     * Consume-transform-produce (KIP-447): a consumer in a group reads the
     * input, a transactional producer writes the upper-cased records and
     * commits the consumed offsets with sendOffsetsToTransaction. One batch
     * is aborted and processed again from the committed offsets. While a
     * transaction holds pending offsets, a require_stable offset fetch must
     * not return them. At the end the output (read_committed) is the
     * transformed input exactly once and the group's offsets are the input's
     * end offsets.
     */
    @Test
    void sendOffsets() throws Exception {
        Scenarios.run("transactions-send-offsets", () -> {
            int n = 2;
            int total = 40;
            String in = Scenarios.topic("txn-so-in");
            String out = Scenarios.topic("txn-so-out");
            String group = in + "-group";
            createTopic(in, n);
            createTopic(out, n);
            List<ProducerRecord<byte[], byte[]>> input = batch(in, n, "v", total);
            try (KafkaProducer<byte[], byte[]> p = KafkaClientsTest.producer(Scenarios.bootstrap(), Map.of())) {
                KafkaClientsTest.sendAll(p, input);
            }
            List<TopicPartition> inTps = partitions(in, n);
            Map<TopicPartition, Long> inEnd = listOffsets(inTps, IsolationLevel.READ_UNCOMMITTED);

            int batches = 0;
            int abortedRecords = 0;
            boolean checkedPending = false; // the require_stable check ran
            Map<TopicPartition, Long> done = new HashMap<>();
            try (KafkaConsumer<byte[], byte[]> c = isolated(IsolationLevel.READ_COMMITTED, Map.of(
                    ConsumerConfig.GROUP_ID_CONFIG, group,
                    ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 7));
                 KafkaProducer<byte[], byte[]> p = txnProducer(out + "-tx")) {
                p.initTransactions();
                c.subscribe(List.of(in));
                long deadline = System.currentTimeMillis() + DEADLINE_MS;
                while (!done.equals(inEnd)) {
                    if (System.currentTimeMillis() > deadline) {
                        fail("committed through " + done + " of " + inEnd + " within " + DEADLINE_MS + " ms");
                    }
                    var recs = c.poll(POLL);
                    if (recs.isEmpty()) {
                        continue;
                    }
                    batches++;
                    Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                    p.beginTransaction();
                    for (ConsumerRecord<byte[], byte[]> r : recs) {
                        p.send(new ProducerRecord<>(out, r.partition(), r.key(), KafkaClientsTest.b(s(r.value()).toUpperCase(Locale.ROOT))));
                        next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    }
                    p.flush();
                    p.sendOffsetsToTransaction(next, c.groupMetadata());

                    if (batches == 3) {
                        // After one commit and one abort, this transaction's
                        // offsets are pending in the coordinator: for those
                        // partitions Kafka answers a require_stable fetch with
                        // UNSTABLE_OFFSET_COMMIT (which the admin client drops
                        // from its answer) and a plain fetch with the last
                        // committed offset.
                        checkedPending = true;
                        List<TopicPartition> pending = new ArrayList<>(next.keySet());
                        Map<TopicPartition, OffsetAndMetadata> stable = groupOffsets(group, pending, true);
                        Map<TopicPartition, OffsetAndMetadata> plain = groupOffsets(group, pending, false);
                        for (TopicPartition tp : pending) {
                            OffsetAndMetadata st = stable.get(tp);
                            assertFalse(st != null && st.offset() == next.get(tp).offset(),
                                    "require_stable fetch returned the pending offset of " + tp + ": " + stable);
                            assertFalse(stable.containsKey(tp),
                                    "require_stable fetch answered " + st + " for " + tp
                                    + " while a transaction holds its offset (Kafka: UNSTABLE_OFFSET_COMMIT)");
                            assertTrue(plain.containsKey(tp), "plain fetch answers for " + tp + ": " + plain);
                            OffsetAndMetadata pl = plain.get(tp);
                            assertEquals(done.get(tp), pl == null ? null : pl.offset(), "plain fetch of " + tp + ": the last committed offset");
                        }
                    }

                    if (batches == 2) {
                        // Abort this one and go back to the committed offsets.
                        abortedRecords = recs.count();
                        Map<TopicPartition, OffsetAndMetadata> before = groupOffsets(group, false);
                        p.abortTransaction();
                        // The consumer's fetch is require_stable and retries
                        // UNSTABLE_OFFSET_COMMIT until the abort completed.
                        var committed = c.committed(c.assignment());
                        for (TopicPartition tp : c.assignment()) {
                            OffsetAndMetadata om = committed.get(tp);
                            OffsetAndMetadata was = before.get(tp);
                            assertEquals(was == null ? null : was.offset(), om == null ? null : om.offset(),
                                    "committed offset of " + tp + " after the abort");
                            c.seek(tp, om == null ? 0 : om.offset());
                        }
                        continue;
                    }
                    p.commitTransaction();
                    for (Map.Entry<TopicPartition, OffsetAndMetadata> e : next.entrySet()) {
                        done.put(e.getKey(), e.getValue().offset());
                    }
                }
            }
            assertTrue(checkedPending, "a third transaction whose pending offsets were fetched (batches: " + batches + ")");
            assertTrue(abortedRecords > 0, "an aborted batch");
            awaitStable(partitions(out, n));

            Map<Integer, List<String>> want = new TreeMap<>();
            byPartition(input).forEach((part, vals) -> {
                List<String> up = new ArrayList<>();
                vals.forEach(v -> up.add(v.toUpperCase(Locale.ROOT)));
                want.put(part, up);
            });
            assertEquals(want, readAll(out, n, IsolationLevel.READ_COMMITTED), "output read_committed: the transformed input once");
            int uncommitted = 0;
            for (List<String> vs : readAll(out, n, IsolationLevel.READ_UNCOMMITTED).values()) {
                uncommitted += vs.size();
            }
            assertEquals(total + abortedRecords, uncommitted, "output read_uncommitted: the input plus the aborted batch");

            assertEquals(inEnd, awaitStableGroupOffsets(group, inTps), "group offsets (require_stable) = the input's end offsets");
            System.out.println("transactions-send-offsets: " + total + " input records in " + batches
                    + " transactions, one of " + abortedRecords + " aborted and redone");
        });
    }

    /**
     * A read_committed KafkaConsumer on a topic with a committed
     * transaction, an aborted one and an open one: it reads exactly the
     * committed records and stops at the last stable offset (the open
     * transaction's first offset) until that transaction commits.
     */
    @Test
    void readCommitted() throws Exception {
        Scenarios.run("read-committed", () -> {
            int n = 2;
            String topic = Scenarios.topic("txn-rc");
            createTopic(topic, n);
            List<TopicPartition> tps = partitions(topic, n);
            List<ProducerRecord<byte[], byte[]>> committed = batch(topic, n, "ok", 10);
            List<ProducerRecord<byte[], byte[]>> aborted = batch(topic, n, "no", 6);
            List<ProducerRecord<byte[], byte[]>> open = batch(topic, n, "open", 8);
            try (KafkaProducer<byte[], byte[]> p = txnProducer(topic + "-tx");
                 KafkaConsumer<byte[], byte[]> c = isolated(IsolationLevel.READ_COMMITTED, Map.of())) {
                p.initTransactions();
                p.beginTransaction();
                sendAcked(p, committed);
                p.commitTransaction();
                p.beginTransaction();
                sendAcked(p, aborted);
                p.abortTransaction();
                awaitStable(tps);
                p.beginTransaction();
                Map<TopicPartition, Long> firstOpen = new HashMap<>();
                for (RecordMetadata md : sendAcked(p, open)) {
                    firstOpen.merge(new TopicPartition(md.topic(), md.partition()), md.offset(), Math::min);
                }

                TransactionDescription d = describe(topic + "-tx");
                assertEquals(TransactionState.ONGOING, d.state(), "state of the open transaction: " + d);
                assertEquals(Set.copyOf(tps), d.topicPartitions(), "partitions of the open transaction");

                // The last stable offset is the open transaction's first offset.
                assertEquals(firstOpen, listOffsets(tps, IsolationLevel.READ_COMMITTED), "ListOffsets read_committed (the LSO)");
                Map<TopicPartition, Long> hw = listOffsets(tps, IsolationLevel.READ_UNCOMMITTED);
                for (TopicPartition tp : tps) {
                    assertTrue(hw.get(tp) > firstOpen.get(tp), "high watermark " + hw + " past the open transaction " + firstOpen);
                }

                c.assign(tps);
                c.seekToBeginning(tps);
                assertEquals(firstOpen, c.endOffsets(tps), "the read_committed consumer's end offsets");
                assertEquals(byPartition(committed), drainToEnd(c), "read_committed with a transaction open");
                for (TopicPartition tp : tps) {
                    assertEquals((long) firstOpen.get(tp), c.position(tp), "position of " + tp + " stops at the LSO");
                }
                // More fetches while the transaction stays open return nothing
                // and do not move past the LSO.
                long until = System.currentTimeMillis() + 1_000;
                while (System.currentTimeMillis() < until) {
                    var more = c.poll(POLL);
                    assertTrue(more.isEmpty(), "read_committed returned " + more.count() + " records of the open transaction");
                }
                for (TopicPartition tp : tps) {
                    assertEquals((long) firstOpen.get(tp), c.position(tp), "position of " + tp + " while the transaction is open");
                }
                // A read_uncommitted consumer sees the open records: they are in the log.
                Map<Integer, List<String>> all = readAll(topic, n, IsolationLevel.READ_UNCOMMITTED);
                assertEquals(concat(byPartition(committed), byPartition(aborted), byPartition(open)), all, "read_uncommitted");

                p.commitTransaction();
                Map<TopicPartition, Long> end = awaitStable(tps);
                assertEquals(byPartition(open), drainToEnd(c), "read_committed after the commit");
                for (TopicPartition tp : tps) {
                    assertEquals((long) end.get(tp), c.position(tp), "position of " + tp + " after the commit");
                }
            }
        });
    }

    /**
     * Two producers with one transactional.id: the second's initTransactions
     * fences the first, whose open transaction is aborted and whose next
     * send or commit fails; only the second's records are read_committed.
     */
    @Test
    void zombieFencing() throws Exception {
        Scenarios.run("zombie-fencing", () -> {
            int n = 2;
            String topic = Scenarios.topic("txn-zombie");
            String txnId = topic + "-tx";
            createTopic(topic, n);
            List<ProducerRecord<byte[], byte[]>> zombie = batch(topic, n, "zombie", 6);
            List<ProducerRecord<byte[], byte[]>> late = batch(topic, n, "late", 2);
            List<ProducerRecord<byte[], byte[]>> fresh = batch(topic, n, "fresh", 5);
            try (KafkaProducer<byte[], byte[]> first = txnProducer(txnId);
                 KafkaProducer<byte[], byte[]> second = txnProducer(txnId)) {
                first.initTransactions();
                first.beginTransaction();
                sendAcked(first, zombie);

                second.initTransactions();
                second.beginTransaction();
                sendAcked(second, fresh);
                second.commitTransaction();

                Throwable fenced = null;
                try {
                    sendAcked(first, late);
                    first.commitTransaction();
                } catch (Exception e) {
                    fenced = e;
                }
                assertNotNull(fenced, "the fenced producer sent and committed a transaction");
                assertTrue(causedBy(fenced, ProducerFencedException.class, InvalidProducerEpochException.class),
                        "the fenced producer failed with " + Scenarios.describe(fenced));
                System.out.println("zombie-fencing: the first producer failed with " + fenced);
                if (!causedBy(fenced, ProducerFencedException.class)) {
                    // InvalidProducerEpoch is abortable in the client; the abort
                    // itself must then be refused: the epoch is a stale one.
                    Throwable abort = null;
                    try {
                        first.abortTransaction();
                    } catch (Exception e) {
                        abort = e;
                    }
                    assertNotNull(abort, "the fenced producer's EndTxn(abort) with its old epoch was accepted");
                    assertTrue(causedBy(abort, ProducerFencedException.class, InvalidProducerEpochException.class),
                            "the fenced producer's abort failed with " + Scenarios.describe(abort));
                    System.out.println("zombie-fencing: then its abort failed with " + abort);
                }
            }
            awaitStable(partitions(topic, n));
            assertEquals(byPartition(fresh), readAll(topic, n, IsolationLevel.READ_COMMITTED), "read_committed: only the second producer's records");
            // The zombie's first records were written (and aborted); its late
            // ones were refused by the partition.
            assertEquals(concat(byPartition(zombie), byPartition(fresh)), readAll(topic, n, IsolationLevel.READ_UNCOMMITTED), "read_uncommitted");

            // The coordinator logs CompleteCommit once every marker is written.
            long deadline = System.currentTimeMillis() + DEADLINE_MS;
            TransactionDescription d;
            while ((d = describe(txnId)).state() != TransactionState.COMPLETE_COMMIT) {
                assertEquals(TransactionState.PREPARE_COMMIT, d.state(), "state of " + txnId + " after the second producer's commit: " + d);
                if (System.currentTimeMillis() > deadline) {
                    fail(txnId + " still " + d + " after " + DEADLINE_MS + " ms");
                }
                Thread.sleep(50);
            }
            assertTrue(d.topicPartitions().isEmpty(), "partitions of the completed " + txnId + ": " + d);
        });
    }
}
