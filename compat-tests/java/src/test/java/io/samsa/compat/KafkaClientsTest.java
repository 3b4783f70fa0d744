package io.samsa.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every compat scenario with org.apache.kafka:kafka-clients, the reference
 * client: the producer with its defaults (idempotence on), the consumer
 * (classic and KIP-848 groups) and the Admin client.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KafkaClientsTest {
    private static final Duration POLL = Duration.ofMillis(200);
    private static final long CONSUME_DEADLINE_MS = 20_000;

    private Admin admin;

    @BeforeAll
    void setUp() {
        admin = Admin.create(adminProps(Scenarios.bootstrap()));
    }

    @AfterAll
    void tearDown() {
        if (admin != null) {
            admin.close(Duration.ofSeconds(5));
        }
    }

    // ---- helpers ---------------------------------------------------------

    static Properties adminProps(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "java-compat-admin");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        return p;
    }

    static KafkaProducer<byte[], byte[]> producer(String bootstrap, Map<String, Object> extra) {
        Map<String, Object> p = new HashMap<>();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "java-compat-producer");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 20_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 15_000);
        p.putAll(extra);
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    static KafkaConsumer<byte[], byte[]> consumer(Map<String, Object> extra) {
        Map<String, Object> p = new HashMap<>();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, Scenarios.bootstrap());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "java-compat-consumer");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 15_000);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.putAll(extra);
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    void createTopic(String topic, int partitions, Map<String, String> configs) throws Exception {
        NewTopic nt = new NewTopic(topic, partitions, (short) 1).configs(configs);
        admin.createTopics(List.of(nt)).all().get();
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Reads from the assigned partitions until n records arrived or the deadline passed. */
    static List<ConsumerRecord<byte[], byte[]>> pollN(KafkaConsumer<byte[], byte[]> c, int n) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + CONSUME_DEADLINE_MS;
        while (out.size() < n && System.currentTimeMillis() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : c.poll(POLL)) {
                out.add(r);
            }
        }
        if (out.size() < n) {
            fail("consumed " + out.size() + " of " + n + " records within " + CONSUME_DEADLINE_MS + " ms");
        }
        return out;
    }

    /** The records every produce-consume scenario sends (the same shapes in every ecosystem). */
    static List<ProducerRecord<byte[], byte[]>> sampleRecords(String topic, long baseTs) {
        List<ProducerRecord<byte[], byte[]>> recs = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            long ts = baseTs + i;
            String filler = " lorem ipsum dolor sit amet ".repeat(8);
            switch (i % 4) {
                case 0 -> recs.add(new ProducerRecord<>(topic, 0, ts, b("key-" + i), b("value-" + i + filler),
                        List.of(new RecordHeader("h1", b("v-" + i)), new RecordHeader("bin", new byte[] {0, 1, 2, (byte) 255}))));
                case 1 -> recs.add(new ProducerRecord<>(topic, 0, ts, null, b("keyless-" + i + filler),
                        List.of(new RecordHeader("h1", b("x")))));
                case 2 -> recs.add(new ProducerRecord<>(topic, 0, ts, b("key-" + i), new byte[0], List.of()));
                default -> recs.add(new ProducerRecord<>(topic, 0, ts, b("key-" + i), null,
                        List.of(new RecordHeader("empty", new byte[0]))));
            }
        }
        return recs;
    }

    static void assertSameRecord(ProducerRecord<byte[], byte[]> want, ConsumerRecord<byte[], byte[]> got, int i) {
        String at = "record " + i + ": ";
        assertArrayEquals(want.key(), got.key(), at + "key");
        assertArrayEquals(want.value(), got.value(), at + "value");
        assertEquals(want.timestamp(), got.timestamp(), at + "timestamp");
        assertEquals(TimestampType.CREATE_TIME, got.timestampType(), at + "timestamp type");
        Header[] wh = want.headers().toArray();
        Header[] gh = got.headers().toArray();
        assertEquals(wh.length, gh.length, at + "header count");
        for (int h = 0; h < wh.length; h++) {
            assertEquals(wh[h].key(), gh[h].key(), at + "header " + h + " key");
            assertArrayEquals(wh[h].value(), gh[h].value(), at + "header " + h + " value");
        }
    }

    static List<RecordMetadata> sendAll(KafkaProducer<byte[], byte[]> p, List<ProducerRecord<byte[], byte[]>> recs) throws Exception {
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

    /** Produces count small records with timestamps baseTs + i*1000 to partition 0. */
    void produceNumbered(String topic, int count, long baseTs) throws Exception {
        List<ProducerRecord<byte[], byte[]>> recs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            recs.add(new ProducerRecord<>(topic, 0, baseTs + i * 1000L, b("k" + i), b("v" + i)));
        }
        try (KafkaProducer<byte[], byte[]> p = producer(Scenarios.bootstrap(), Map.of())) {
            List<RecordMetadata> md = sendAll(p, recs);
            for (int i = 0; i < count; i++) {
                assertEquals(i, md.get(i).offset(), "offset of record " + i);
            }
        }
    }

    // ---- scenarios -------------------------------------------------------

    @Test
    void bootstrapMetadata() throws Exception {
        Scenarios.run("bootstrap-metadata", () -> {
            DescribeClusterResult dc = admin.describeCluster();
            Collection<Node> nodes = dc.nodes().get();
            assertEquals(1, nodes.size(), "brokers: " + nodes);
            Node n = nodes.iterator().next();
            assertEquals(Scenarios.bootstrap(), n.host() + ":" + n.port(), "advertised address");
            assertNotNull(dc.clusterId().get(), "cluster id");
            assertNotNull(dc.controller().get(), "controller");
            String topic = Scenarios.topic("metadata");
            createTopic(topic, 2, Map.of());
            try (KafkaProducer<byte[], byte[]> p = producer(Scenarios.bootstrap(), Map.of())) {
                var parts = p.partitionsFor(topic);
                assertEquals(2, parts.size(), "partitions of " + topic);
                for (var pi : parts) {
                    assertNotNull(pi.leader(), "leader of partition " + pi.partition());
                    assertEquals(n.id(), pi.leader().id(), "leader of partition " + pi.partition());
                }
            }
        });
    }

    @Test
    void adminTopics() throws Exception {
        Scenarios.run("admin-topics", () -> {
            String topic = Scenarios.topic("admin");
            createTopic(topic, 3, Map.of("retention.ms", "3600000", "cleanup.policy", "delete"));
            assertTrue(admin.listTopics().names().get().contains(topic), "listTopics has " + topic);

            ExecutionException dup = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> createTopic(topic, 1, Map.of()), "creating an existing topic");
            assertInstanceOf(TopicExistsException.class, dup.getCause(), "creating an existing topic");

            TopicDescription td = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            assertEquals(3, td.partitions().size(), "partitions");
            assertNotNull(td.topicId(), "topic id");
            for (TopicPartitionInfo pi : td.partitions()) {
                assertNotNull(pi.leader(), "leader of " + pi.partition());
                assertEquals(1, pi.replicas().size(), "replicas of " + pi.partition());
                assertEquals(1, pi.isr().size(), "isr of " + pi.partition());
            }

            ConfigResource cr = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Config cfg = admin.describeConfigs(List.of(cr)).all().get().get(cr);
            assertEquals("3600000", cfg.get("retention.ms").value(), "retention.ms");
            assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, cfg.get("retention.ms").source(), "source of retention.ms");
            assertEquals("delete", cfg.get("cleanup.policy").value(), "cleanup.policy");
            ConfigEntry segmentBytes = cfg.get("segment.bytes");
            assertNotNull(segmentBytes, "segment.bytes is described");
            assertTrue(segmentBytes.isDefault(), "segment.bytes is a default: " + segmentBytes);

            admin.deleteTopics(List.of(topic)).all().get();
            long deadline = System.currentTimeMillis() + 10_000;
            while (admin.listTopics().names().get().contains(topic)) {
                if (System.currentTimeMillis() > deadline) {
                    fail(topic + " still listed 10 s after DeleteTopics");
                }
                Thread.sleep(100);
            }
            ExecutionException gone = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> admin.describeTopics(List.of(topic)).allTopicNames().get(), "describing a deleted topic");
            assertInstanceOf(UnknownTopicOrPartitionException.class, gone.getCause(), "describing a deleted topic");
        });
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"none", "gzip", "snappy", "lz4", "zstd"})
    void produceConsume(String codec) throws Exception {
        Scenarios.run("produce-consume-" + codec, () -> {
            String topic = Scenarios.topic("pc-" + codec);
            createTopic(topic, 1, Map.of());
            long baseTs = System.currentTimeMillis() - 60_000;
            List<ProducerRecord<byte[], byte[]>> recs = sampleRecords(topic, baseTs);
            try (KafkaProducer<byte[], byte[]> p = producer(Scenarios.bootstrap(),
                    Map.of(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec))) {
                List<RecordMetadata> md = sendAll(p, recs);
                for (int i = 0; i < md.size(); i++) {
                    assertEquals(i, md.get(i).offset(), "offset of record " + i);
                }
            }
            try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of())) {
                TopicPartition tp = new TopicPartition(topic, 0);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<ConsumerRecord<byte[], byte[]>> got = pollN(c, recs.size());
                assertEquals(recs.size(), got.size(), "records consumed");
                for (int i = 0; i < recs.size(); i++) {
                    assertEquals(i, got.get(i).offset(), "offset of record " + i);
                    assertSameRecord(recs.get(i), got.get(i), i);
                }
            }
        });
    }

    @Test
    void keyPartitioning() throws Exception {
        Scenarios.run("key-partitioning", () -> {
            // Kafka's own murmur2 test vectors (UtilsTest): the reference every
            // other ecosystem's suite checks its own implementation against.
            assertEquals(-973932308, Utils.murmur2(b("21")));
            assertEquals(-790332482, Utils.murmur2(b("foobar")));
            assertEquals(-985981536, Utils.murmur2(b("a-little-bit-long-string")));
            assertEquals(-1486304829, Utils.murmur2(b("a-little-bit-longer-string")));
            assertEquals(-58897971, Utils.murmur2(b("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")));
            assertEquals(479470107, Utils.murmur2(b("abc")));

            int n = 6;
            String topic = Scenarios.topic("keys");
            createTopic(topic, n, Map.of());
            List<ProducerRecord<byte[], byte[]>> recs = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                recs.add(new ProducerRecord<>(topic, b("user-" + i), b("v" + i)));
            }
            Map<String, Integer> want = new HashMap<>();
            try (KafkaProducer<byte[], byte[]> p = producer(Scenarios.bootstrap(), Map.of())) {
                List<RecordMetadata> md = sendAll(p, recs);
                for (int i = 0; i < recs.size(); i++) {
                    int expect = Utils.toPositive(Utils.murmur2(recs.get(i).key())) % n;
                    assertEquals(expect, md.get(i).partition(), "partition of key user-" + i);
                    want.put("user-" + i, expect);
                }
            }
            try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of())) {
                List<TopicPartition> tps = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    tps.add(new TopicPartition(topic, i));
                }
                c.assign(tps);
                c.seekToBeginning(tps);
                for (ConsumerRecord<byte[], byte[]> r : pollN(c, recs.size())) {
                    String key = new String(r.key(), StandardCharsets.UTF_8);
                    assertEquals(want.get(key), r.partition(), "stored partition of key " + key);
                }
            }
        });
    }

    @Test
    void consumeFromOffset() throws Exception {
        Scenarios.run("consume-from-offset", () -> {
            String topic = Scenarios.topic("from-offset");
            createTopic(topic, 1, Map.of());
            produceNumbered(topic, 10, System.currentTimeMillis() - 60_000);
            try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of())) {
                TopicPartition tp = new TopicPartition(topic, 0);
                c.assign(List.of(tp));
                assertEquals(0L, c.beginningOffsets(List.of(tp)).get(tp), "beginning offset");
                assertEquals(10L, c.endOffsets(List.of(tp)).get(tp), "end offset");
                c.seek(tp, 5);
                List<ConsumerRecord<byte[], byte[]>> got = pollN(c, 5);
                assertEquals(5, got.size(), "records from offset 5");
                for (int i = 0; i < 5; i++) {
                    assertEquals(5 + i, got.get(i).offset(), "offset");
                    assertArrayEquals(b("v" + (5 + i)), got.get(i).value(), "value at offset " + (5 + i));
                }
                // At the end of the partition: fetches come back empty, and nothing more arrives.
                assertTrue(c.poll(Duration.ofMillis(1_000)).isEmpty(), "records past the end of the partition");
                assertEquals(10L, c.position(tp), "position at the end");
            }
        });
    }

    @Test
    void consumeFromTimestamp() throws Exception {
        Scenarios.run("consume-from-timestamp", () -> {
            String topic = Scenarios.topic("from-ts");
            createTopic(topic, 1, Map.of());
            long baseTs = System.currentTimeMillis() - 600_000;
            produceNumbered(topic, 10, baseTs);
            try (KafkaConsumer<byte[], byte[]> c = consumer(Map.of())) {
                TopicPartition tp = new TopicPartition(topic, 0);
                c.assign(List.of(tp));
                // The first record with timestamp >= baseTs+5500 is the 7th (offset 6).
                OffsetAndTimestamp ot = c.offsetsForTimes(Map.of(tp, baseTs + 5_500)).get(tp);
                assertNotNull(ot, "offsetsForTimes(base+5.5s)");
                assertEquals(6, ot.offset(), "offset for base+5.5s");
                assertEquals(baseTs + 6_000, ot.timestamp(), "timestamp of that offset");
                OffsetAndTimestamp exact = c.offsetsForTimes(Map.of(tp, baseTs + 3_000)).get(tp);
                assertEquals(3, exact.offset(), "offset for an exact timestamp");
                assertNull(c.offsetsForTimes(Map.of(tp, baseTs + 60_000)).get(tp), "offsetsForTimes after the last record");
                c.seek(tp, ot.offset());
                List<ConsumerRecord<byte[], byte[]>> got = pollN(c, 4);
                assertEquals(6, got.get(0).offset(), "first consumed offset");
                assertEquals(baseTs + 6_000, got.get(0).timestamp(), "first consumed timestamp");
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"classic", "consumer"})
    void groupCommitResume(String protocol) throws Exception {
        String scenario = protocol.equals("classic") ? "group-commit-resume" : "group-commit-resume-kip848";
        Scenarios.run(scenario, () -> {
            String topic = Scenarios.topic(scenario);
            String group = topic + "-group";
            createTopic(topic, 1, Map.of());
            produceNumbered(topic, 10, System.currentTimeMillis() - 60_000);
            Map<String, Object> cfg = Map.of(
                    ConsumerConfig.GROUP_ID_CONFIG, group,
                    ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol,
                    ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 3);
            TopicPartition tp = new TopicPartition(topic, 0);
            try (KafkaConsumer<byte[], byte[]> c = consumer(cfg)) {
                c.subscribe(List.of(topic));
                List<ConsumerRecord<byte[], byte[]>> got = pollN(c, 6);
                for (int i = 0; i < 6; i++) {
                    assertEquals(i, got.get(i).offset(), "first consumer, record " + i);
                }
                c.commitSync(Map.of(tp, new OffsetAndMetadata(6, "six")));
                OffsetAndMetadata committed = c.committed(Set.of(tp)).get(tp);
                assertNotNull(committed, "committed offset");
                assertEquals(6, committed.offset(), "committed offset");
                assertEquals("six", committed.metadata(), "committed metadata");
            }
            try (KafkaConsumer<byte[], byte[]> c = consumer(cfg)) {
                c.subscribe(List.of(topic));
                List<ConsumerRecord<byte[], byte[]>> got = pollN(c, 4);
                assertEquals(6, got.get(0).offset(), "the new consumer resumes after the commit");
                for (int i = 0; i < got.size(); i++) {
                    assertEquals(6 + i, got.get(i).offset(), "second consumer, record " + i);
                }
                assertEquals(Set.of(tp), c.assignment(), "assignment");
            }
            var offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            assertEquals(6, offsets.get(tp).offset(), "group offset seen by the admin client");
        });
    }

    @Test
    void errorUnknownTopic() throws Exception {
        Scenarios.run("error-unknown-topic", () -> {
            String topic = Scenarios.topic("missing");
            try (KafkaProducer<byte[], byte[]> p = producer(Scenarios.bootstrapNoAuto(),
                    Map.of(ProducerConfig.MAX_BLOCK_MS_CONFIG, 3_000))) {
                ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                        () -> p.send(new ProducerRecord<>(topic, b("k"), b("v"))).get(), "producing to a missing topic");
                Throwable cause = e.getCause();
                // Against Kafka the Java producer either fails with the broker's
                // UNKNOWN_TOPIC_OR_PARTITION or gives up waiting for the topic's metadata.
                boolean unknown = cause instanceof UnknownTopicOrPartitionException
                        || (cause instanceof TimeoutException && String.valueOf(cause.getMessage()).contains("not present in metadata"));
                assertTrue(unknown, "unexpected error: " + Scenarios.describe(cause));
                System.out.println("error-unknown-topic: the producer failed with " + cause);
            }
            try (Admin a = Admin.create(adminProps(Scenarios.bootstrapNoAuto()))) {
                ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                        () -> a.describeTopics(List.of(topic)).allTopicNames().get(), "describing the missing topic");
                assertInstanceOf(UnknownTopicOrPartitionException.class, e.getCause(), "describing the missing topic");
                assertFalse(a.listTopics().names().get().contains(topic), "the topic was auto-created");
            }
        });
    }

    @Test
    void errorMessageTooLarge() throws Exception {
        Scenarios.run("error-message-too-large", () -> {
            String topic = Scenarios.topic("too-large");
            createTopic(topic, 1, Map.of("max.message.bytes", "10000"));
            byte[] big = new byte[20_000];
            Arrays.fill(big, (byte) 'x');
            try (KafkaProducer<byte[], byte[]> p = producer(Scenarios.bootstrap(), Map.of(
                    ProducerConfig.COMPRESSION_TYPE_CONFIG, "none",
                    ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 1_048_576))) {
                // Under the limit goes through: the topic config is what rejects.
                p.send(new ProducerRecord<>(topic, b("small"), new byte[5_000])).get();
                ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                        () -> p.send(new ProducerRecord<>(topic, b("big"), big)).get(), "producing 20000 bytes");
                assertInstanceOf(RecordTooLargeException.class, e.getCause(), "producing 20000 bytes");
            }
        });
    }
}
