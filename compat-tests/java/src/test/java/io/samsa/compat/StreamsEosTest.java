package io.samsa.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.junit.jupiter.api.Test;

/**
 * Kafka Streams with processing.guarantee=exactly_once_v2 (KIP-447: one
 * transactional producer per stream thread, offsets committed in its
 * transactions) run in this JVM against samsa: a word count through the DSL
 * (flatMapValues, groupBy into a repartition topic, count into a state store
 * with a changelog). Half the input goes in, the application is closed while
 * it is processing, the rest goes in and a new instance with the same
 * application.id and an empty state directory (so its store is restored from
 * the changelog) finishes the job.
 *
 * With the record cache off every input word yields one output update, so
 * under exactly-once the read_committed output holds, for every word, exactly
 * the updates 1, 2, ..., n: a lost, repeated or uncommitted update breaks the
 * sequence, and the last value is the word's count.
 */
class StreamsEosTest {
    private static final String SCENARIO = "streams-exactly-once-v2";
    private static final int LINES = 3_000;
    private static final long WAIT_MS = 60_000;
    private static final Duration POLL = Duration.ofMillis(100);
    private static final String[] WORDS = (
            "kafka samsa stream table topic partition offset record batch broker "
            + "leader replica segment index marker commit abort fence epoch producer "
            + "consumer group member assign rebalance store changelog repartition window join").split(" ");

    @Test
    void streamsExactlyOnceV2() throws Exception {
        Scenarios.run(SCENARIO, this::scenario);
    }

    private void scenario() throws Exception {
        String id = UUID.randomUUID().toString().substring(0, 8);
        String appId = "java-streams-eos-" + id;
        String input = "java-streams-in-" + id;
        String output = "java-streams-out-" + id;
        int n = 2;
        List<String> lines = lines(new Random(20260101L));
        Map<String, Long> want = new TreeMap<>();
        for (String line : lines) {
            for (String w : line.split(" ")) {
                want.merge(w, 1L, Long::sum);
            }
        }
        long words = want.values().stream().mapToLong(Long::longValue).sum();

        try (Admin admin = Admin.create(KafkaClientsTest.adminProps(Scenarios.bootstrap()));
             KafkaProducer<byte[], byte[]> feeder = KafkaClientsTest.producer(Scenarios.bootstrap(), Map.of());
             KafkaConsumer<String, byte[]> tail = outputConsumer(IsolationLevel.READ_COMMITTED)) {
            admin.createTopics(List.of(new NewTopic(input, n, (short) 1), new NewTopic(output, n, (short) 1))).all().get();
            List<TopicPartition> outTps = TransactionsTest.partitions(output, n);
            tail.assign(outTps);
            tail.seekToBeginning(outTps);
            Map<String, Long> last = new HashMap<>();

            long t0 = System.nanoTime();
            feed(feeder, input, n, lines.subList(0, LINES / 2));
            App first = new App(appId);
            first.start();
            // Some output committed, then the rest of the input, then stop
            // the first instance while it has work in hand.
            long quarter = words / 4;
            awaitOutput(tail, last, m -> sum(m) >= quarter, first, "a quarter of the words counted by the first instance");
            log("first instance committed " + sum(last) + " of " + words + " word updates", t0);
            feed(feeder, input, n, lines.subList(LINES / 2, LINES));
            first.close();
            log("first instance closed", t0);

            App second = new App(appId);
            second.start();
            awaitOutput(tail, last, want::equals, second, "the final counts");
            log("second instance reached the final counts", t0);
            second.close();
            log("second instance closed", t0);

            // Both instances closed cleanly: no transaction is left open.
            TransactionsTest.awaitStable(admin, outTps);

            Map<String, List<Long>> committed = readOutput(output, n, IsolationLevel.READ_COMMITTED);
            Map<String, List<Long>> uncommitted = readOutput(output, n, IsolationLevel.READ_UNCOMMITTED);
            assertEquals(want.keySet(), committed.keySet(), "words in the read_committed output");
            long updates = 0;
            for (Map.Entry<String, Long> e : want.entrySet()) {
                List<Long> got = committed.get(e.getKey());
                List<Long> seq = new ArrayList<>();
                for (long i = 1; i <= e.getValue(); i++) {
                    seq.add(i);
                }
                assertEquals(seq, got, "read_committed updates of \"" + e.getKey() + "\": exactly 1.." + e.getValue());
                updates += got.size();
                List<Long> all = uncommitted.get(e.getKey());
                assertTrue(isSubsequence(got, all), "the read_committed updates of \"" + e.getKey() + "\" are among the read_uncommitted ones");
            }
            long uncommittedUpdates = uncommitted.values().stream().mapToLong(List::size).sum();
            assertEquals(words, updates, "read_committed updates = input words");
            assertTrue(uncommittedUpdates >= updates, "read_uncommitted " + uncommittedUpdates + " >= read_committed " + updates);

            // The topology's internal topics, created by Streams on samsa.
            String changelog = appId + "-counts-changelog";
            String repartition = appId + "-words-repartition";
            Set<String> topics = admin.listTopics().names().get();
            assertTrue(topics.contains(changelog), changelog + " exists: " + topics);
            assertTrue(topics.contains(repartition), repartition + " exists: " + topics);
            ConfigResource cr = new ConfigResource(ConfigResource.Type.TOPIC, changelog);
            Config cfg = admin.describeConfigs(List.of(cr)).all().get().get(cr);
            assertEquals("compact", cfg.get("cleanup.policy").value(), "cleanup.policy of " + changelog);
            // The changelog (written in the same transactions) ends at the counts.
            assertEquals(want, changelogCounts(admin, changelog), "last count per word in " + changelog + " (read_committed)");

            // The input offsets were committed through the transactions.
            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
            List<TopicPartition> inTps = TransactionsTest.partitions(input, n);
            Map<TopicPartition, Long> inEnd = endOffsets(inTps);
            for (TopicPartition tp : inTps) {
                assertNotNull(offsets.get(tp), "committed offset of " + tp + ": " + offsets);
                assertEquals((long) inEnd.get(tp), offsets.get(tp).offset(), "committed offset of " + tp);
            }
            System.out.println(SCENARIO + ": " + LINES + " lines, " + want.size() + " words, " + updates
                    + " read_committed updates (" + uncommittedUpdates + " read_uncommitted) in "
                    + (System.nanoTime() - t0) / 1_000_000 + " ms");
        }
    }

    // ---- the application -------------------------------------------------

    /** One Streams instance, with its state and exceptions watched. */
    private static final class App {
        final KafkaStreams streams;
        final List<Throwable> errors = new CopyOnWriteArrayList<>();
        final List<KafkaStreams.State> states = new CopyOnWriteArrayList<>();
        final Path stateDir;

        App(String appId) throws Exception {
            stateDir = Files.createTempDirectory("samsa-streams-");
            streams = new KafkaStreams(topology(appId), props(appId, stateDir));
            streams.setStateListener((now, before) -> states.add(now));
            streams.setUncaughtExceptionHandler(e -> {
                errors.add(e);
                return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            });
        }

        void start() {
            streams.start();
        }

        /** Fails the test if the instance hit an error or stopped on its own. */
        void check() {
            if (!errors.isEmpty()) {
                throw new AssertionError("Kafka Streams failed: " + Scenarios.describe(errors.get(0)), errors.get(0));
            }
            KafkaStreams.State st = streams.state();
            if (st == KafkaStreams.State.ERROR || st == KafkaStreams.State.PENDING_ERROR || st.hasCompletedShutdown()) {
                fail("Kafka Streams is " + st + " (states " + states + ")");
            }
        }

        void close() throws Exception {
            check();
            assertTrue(states.contains(KafkaStreams.State.RUNNING), "the instance ran: states " + states);
            // Leave the group on close: Streams' consumer otherwise stays a
            // member until its session times out, and the next instance
            // would wait for it.
            boolean closed = streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                    .withTimeout(Duration.ofSeconds(30)));
            assertTrue(closed, "Kafka Streams closed within 30 s (state " + streams.state() + ")");
            assertEquals(KafkaStreams.State.NOT_RUNNING, streams.state(), "state after close");
            assertTrue(errors.isEmpty(), "errors: " + errors);
            Utils.delete(stateDir.toFile());
        }
    }

    static Topology topology(String appId) {
        StreamsBuilder b = new StreamsBuilder();
        b.stream(inputOf(appId), Consumed.with(Serdes.ByteArray(), Serdes.String()))
                .flatMapValues(line -> Arrays.asList(line.split(" ")))
                .groupBy((k, word) -> word, Grouped.with("words", Serdes.String(), Serdes.String()))
                .count(Materialized.as("counts"))
                .toStream()
                .to(outputOf(appId), Produced.with(Serdes.String(), Serdes.Long()));
        return b.build();
    }

    static String inputOf(String appId) {
        return appId.replace("java-streams-eos-", "java-streams-in-");
    }

    static String outputOf(String appId) {
        return appId.replace("java-streams-eos-", "java-streams-out-");
    }

    static Properties props(String appId, Path stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, Scenarios.bootstrap());
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 10_000);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1_000);
        return p;
    }

    // ---- input and output ------------------------------------------------

    static List<String> lines(Random r) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < LINES; i++) {
            int k = 1 + r.nextInt(8);
            StringBuilder sb = new StringBuilder();
            for (int j = 0; j < k; j++) {
                if (j > 0) {
                    sb.append(' ');
                }
                // A skewed pick: some words are much more frequent than others.
                int w = (int) (Math.pow(r.nextDouble(), 2) * WORDS.length);
                sb.append(WORDS[w]);
            }
            out.add(sb.toString().toLowerCase(Locale.ROOT));
        }
        return out;
    }

    /** Sends lines round-robin over the input's n partitions (keyless). */
    static void feed(KafkaProducer<byte[], byte[]> p, String topic, int n, List<String> lines) throws Exception {
        List<ProducerRecord<byte[], byte[]>> recs = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            recs.add(new ProducerRecord<>(topic, i % n, null, KafkaClientsTest.b(lines.get(i))));
        }
        KafkaClientsTest.sendAll(p, recs);
    }

    static KafkaConsumer<String, byte[]> outputConsumer(IsolationLevel level) {
        Map<String, Object> p = new HashMap<>();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, Scenarios.bootstrap());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "java-compat-streams-reader");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, level.toString().toLowerCase(Locale.ROOT));
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 15_000);
        return new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
    }

    static long decodeLong(byte[] v) {
        assertNotNull(v, "a null count");
        assertEquals(8, v.length, "a count's size");
        return ByteBuffer.wrap(v).getLong();
    }

    interface Done {
        boolean test(Map<String, Long> lastValues);
    }

    /** Tails the read_committed output into last until done holds. */
    static void awaitOutput(KafkaConsumer<String, byte[]> tail, Map<String, Long> last, Done done, App app, String what) {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (!done.test(last)) {
            app.check();
            if (System.currentTimeMillis() > deadline) {
                fail("waited " + WAIT_MS + " ms for " + what + "; last values " + last);
            }
            for (ConsumerRecord<String, byte[]> r : tail.poll(POLL)) {
                last.put(r.key(), decodeLong(r.value()));
            }
        }
    }

    static long sum(Map<String, Long> m) {
        return m.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Every update per word, in the order of its partition. */
    static Map<String, List<Long>> readOutput(String topic, int n, IsolationLevel level) {
        Map<String, List<Long>> out = new TreeMap<>();
        try (KafkaConsumer<String, byte[]> c = outputConsumer(level)) {
            List<TopicPartition> tps = TransactionsTest.partitions(topic, n);
            c.assign(tps);
            c.seekToBeginning(tps);
            drain(c, r -> out.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(decodeLong(r.value())));
        }
        return out;
    }

    /**
     * The last count per word in the store's changelog, read_committed (a
     * timestamped store logs its timestamp as the record's and the count,
     * a long, as the value).
     */
    static Map<String, Long> changelogCounts(Admin admin, String changelog) throws Exception {
        int parts = admin.describeTopics(List.of(changelog)).allTopicNames().get().get(changelog).partitions().size();
        Map<String, Long> out = new TreeMap<>();
        try (KafkaConsumer<String, byte[]> c = outputConsumer(IsolationLevel.READ_COMMITTED)) {
            List<TopicPartition> tps = TransactionsTest.partitions(changelog, parts);
            c.assign(tps);
            c.seekToBeginning(tps);
            drain(c, r -> {
                out.put(r.key(), decodeLong(r.value()));
            });
        }
        return out;
    }

    interface Sink {
        void accept(ConsumerRecord<String, byte[]> r);
    }

    static void drain(KafkaConsumer<String, byte[]> c, Sink sink) {
        Map<TopicPartition, Long> end = c.endOffsets(c.assignment());
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (true) {
            boolean done = true;
            for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
                if (c.position(e.getKey()) < e.getValue()) {
                    done = false;
                }
            }
            if (done) {
                return;
            }
            if (System.currentTimeMillis() > deadline) {
                fail("did not read to the end offsets " + end + " within " + WAIT_MS + " ms");
            }
            for (ConsumerRecord<String, byte[]> r : c.poll(POLL)) {
                sink.accept(r);
            }
        }
    }

    static Map<TopicPartition, Long> endOffsets(List<TopicPartition> tps) {
        try (KafkaConsumer<String, byte[]> c = outputConsumer(IsolationLevel.READ_UNCOMMITTED)) {
            return c.endOffsets(tps);
        }
    }

    static boolean isSubsequence(List<Long> sub, List<Long> all) {
        if (all == null) {
            return sub.isEmpty();
        }
        int i = 0;
        for (Long v : all) {
            if (i < sub.size() && sub.get(i).equals(v)) {
                i++;
            }
        }
        return i == sub.size();
    }

    static void log(String what, long t0) {
        System.out.println(SCENARIO + ": " + what + " at " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    }
}
