package io.samsa.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.Writer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.utils.internals.Exit;
import org.apache.kafka.connect.cli.ConnectDistributed;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.runtime.Connect;
import org.apache.kafka.connect.runtime.distributed.DistributedHerder;
import org.apache.kafka.connect.sink.SinkConnector;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.apache.kafka.connect.source.SourceConnector;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;
import org.junit.jupiter.api.Test;

/**
 * Kafka Connect's distributed worker (org.apache.kafka:connect-runtime), run
 * in this JVM against samsa: its internal topics (configs, offsets, status)
 * are created on samsa as compacted topics, and Connect itself refuses to
 * start if their cleanup.policy is not exactly compact. A file source and a
 * file sink connector are created through the REST API; lines appended to the
 * source file must reach the sink file in order. Then the worker is replaced
 * by a new one in the same group: the connectors come back from the config
 * topic and the source resumes from the offsets topic, so new lines arrive
 * and old ones are not delivered again.
 *
 * connect-file (FileStreamSource/FileStreamSink) is not on the registries the
 * project reaches, so the two connectors are here, doing the same file work.
 */
class KafkaConnectTest {
    private static final String SCENARIO = "connect-distributed";
    private static final String CONFIGS = "connect-configs";
    private static final String OFFSETS = "connect-offsets";
    private static final String STATUS = "connect-status";
    private static final long WAIT_MS = 30_000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void connectDistributed() throws Exception {
        Scenarios.run(SCENARIO, this::scenario);
    }

    private void scenario() throws Exception {
        String id = UUID.randomUUID().toString().substring(0, 8);
        String topic = "java-connect-lines-" + id;
        String group = "java-connect-" + id;
        Path dir = Files.createTempDirectory("samsa-connect-");
        Path source = dir.resolve("source.txt");
        Path sink = dir.resolve("sink.txt");
        Files.createFile(source);
        Map<String, String> worker = workerProps(group);

        // Connect's command-line runner calls Exit.exit when a worker fails to
        // start: make that a test failure, not the end of Surefire's JVM.
        Exit.setExitProcedure((code, msg) -> {
            throw new IllegalStateException("Kafka Connect called Exit.exit(" + code + "): " + msg);
        });
        try (Admin admin = Admin.create(KafkaClientsTest.adminProps(Scenarios.bootstrap()))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
            List<String> want = new ArrayList<>();

            // ---- the first worker: create both connectors, move lines.
            long t0 = System.nanoTime();
            Connect<DistributedHerder> first = start(worker);
            URI rest;
            try {
                rest = first.rest().serverUrl();
                awaitHealthy(rest);
                log("first worker up at " + rest, t0);
                put(rest, "connectors/file-source/config", Map.of(
                        "connector.class", FileSource.class.getName(),
                        "tasks.max", "1",
                        "file", source.toString(),
                        "topic", topic));
                put(rest, "connectors/file-sink/config", Map.of(
                        "connector.class", FileSink.class.getName(),
                        "tasks.max", "1",
                        "file", sink.toString(),
                        "topics", topic));
                awaitRunning(rest, "file-source");
                awaitRunning(rest, "file-sink");
                log("connectors running", t0);
                append(source, want, "before", 1, 20);
                awaitSink(sink, want);
                log("first 20 lines through", t0);
            } finally {
                stop(first);
            }
            log("first worker stopped", t0);

            // ---- the internal topics, as Connect left them on samsa.
            checkInternalTopics(admin);

            // Lines appended while no worker runs are read by the next one
            // from the position stored in connect-offsets.
            append(source, want, "offline", 1, 5);

            // ---- a new worker, same group: nothing is created again.
            Connect<DistributedHerder> second = start(worker);
            try {
                rest = second.rest().serverUrl();
                awaitHealthy(rest);
                log("second worker up at " + rest, t0);
                JsonNode list = get(rest, "connectors");
                Set<String> names = new TreeSet<>();
                list.forEach(n -> names.add(n.asText()));
                assertEquals(Set.of("file-source", "file-sink"), names,
                        "connectors the new worker read back from " + CONFIGS);
                awaitRunning(rest, "file-source");
                awaitRunning(rest, "file-sink");
                append(source, want, "after", 1, 10);
                awaitSink(sink, want);
                log("all 35 lines through", t0);
                // A duplicate would come late: give it a moment, then look again.
                Thread.sleep(1_000);
                assertEquals(want, lines(sink), "the sink file after the restart (no line twice, none lost)");
            } finally {
                stop(second);
            }
            log("second worker stopped", t0);

            // ---- the topic holds each line once: the source resumed its offset.
            List<String> stored = readTopic(topic, want.size());
            List<String> wantJson = new ArrayList<>();
            for (String w : want) {
                wantJson.add(JSON.writeValueAsString(w));
            }
            assertEquals(wantJson, stored, "the records of " + topic);
        } finally {
            Exit.resetExitProcedure();
        }
    }

    // ---- the worker -------------------------------------------------------

    private static Map<String, String> workerProps(String group) {
        Map<String, String> p = new HashMap<>();
        p.put("bootstrap.servers", Scenarios.bootstrap());
        p.put("group.id", group);
        p.put("config.storage.topic", CONFIGS);
        p.put("offset.storage.topic", OFFSETS);
        p.put("status.storage.topic", STATUS);
        p.put("config.storage.replication.factor", "1");
        p.put("offset.storage.replication.factor", "1");
        p.put("status.storage.replication.factor", "1");
        p.put("key.converter", "org.apache.kafka.connect.storage.StringConverter");
        p.put("value.converter", "org.apache.kafka.connect.json.JsonConverter");
        p.put("value.converter.schemas.enable", "false");
        p.put("listeners", "http://127.0.0.1:0");
        p.put("rest.advertised.host.name", "127.0.0.1");
        p.put("offset.flush.interval.ms", "500");
        // A member that left is not waited for: the new worker gets its
        // connectors at once.
        p.put("scheduled.rebalance.max.delay.ms", "1000");
        // The test's connectors are on the class path; no plugin.path.
        p.put("plugin.discovery", "only_scan");
        return p;
    }

    private static Connect<DistributedHerder> start(Map<String, String> props) {
        return new ConnectDistributed().startConnect(props);
    }

    private static void stop(Connect<DistributedHerder> c) {
        c.stop();
        c.awaitStop();
    }

    private static void log(String what, long t0) {
        System.out.printf("connect-distributed: %s (%.1f s)%n", what, (System.nanoTime() - t0) / 1e9);
    }

    private static void checkInternalTopics(Admin admin) throws Exception {
        List<String> internal = List.of(CONFIGS, OFFSETS, STATUS);
        Map<String, TopicDescription> desc = admin.describeTopics(internal).allTopicNames().get();
        assertEquals(1, desc.get(CONFIGS).partitions().size(), CONFIGS + " partitions");
        assertEquals(25, desc.get(OFFSETS).partitions().size(), OFFSETS + " partitions (offset.storage.partitions)");
        assertEquals(5, desc.get(STATUS).partitions().size(), STATUS + " partitions (status.storage.partitions)");
        List<ConfigResource> res = new ArrayList<>();
        for (String t : internal) {
            res.add(new ConfigResource(ConfigResource.Type.TOPIC, t));
        }
        Map<ConfigResource, Config> cfgs = admin.describeConfigs(res).all().get();
        for (ConfigResource r : res) {
            assertEquals("compact", cfgs.get(r).get("cleanup.policy").value(), r.name() + " cleanup.policy");
        }
        // Something was written to each: the two connector configs with their
        // task configs, the source's position, the connectors' states.
        for (String t : internal) {
            long end = 0;
            Map<TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> q = new HashMap<>();
            desc.get(t).partitions().forEach(p ->
                    q.put(new TopicPartition(t, p.partition()), org.apache.kafka.clients.admin.OffsetSpec.latest()));
            for (var e : admin.listOffsets(q).all().get().values()) {
                end += e.offset();
            }
            assertTrue(end > 0, t + " holds no record");
        }
    }

    // ---- REST ----------------------------------------------------------------

    private void awaitHealthy(URI rest) throws Exception {
        // GET /health (KIP-1017) answers 200 once the worker has joined its
        // group and read the config topic to its end.
        String last = "";
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (System.currentTimeMillis() < deadline) {
            try {
                HttpResponse<String> r = http.send(req(rest, "health").GET().build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
                last = r.statusCode() + " " + r.body();
            } catch (IOException e) {
                last = e.toString();
            }
            Thread.sleep(200);
        }
        fail("the worker at " + rest + " was not healthy within " + WAIT_MS + " ms: " + last);
    }

    private void put(URI rest, String path, Map<String, String> config) throws Exception {
        // A worker that is healthy can still be rebalancing (409): retry.
        String body = JSON.writeValueAsString(config);
        String last = "";
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (System.currentTimeMillis() < deadline) {
            HttpResponse<String> r = http.send(req(rest, path)
                    .header("Content-Type", "application/json")
                    .PUT(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200 || r.statusCode() == 201) {
                return;
            }
            last = r.statusCode() + " " + r.body();
            if (r.statusCode() != 409 && r.statusCode() < 500) {
                break;
            }
            Thread.sleep(200);
        }
        fail("PUT " + path + ": " + last);
    }

    private JsonNode get(URI rest, String path) throws Exception {
        HttpResponse<String> r = http.send(req(rest, path).GET().build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new AssertionError("GET " + path + ": " + r.statusCode() + " " + r.body());
        }
        return JSON.readTree(r.body());
    }

    private void awaitRunning(URI rest, String connector) throws Exception {
        String last = "";
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (System.currentTimeMillis() < deadline) {
            HttpResponse<String> r = http.send(req(rest, "connectors/" + connector + "/status").GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            last = r.statusCode() + " " + r.body();
            if (r.statusCode() == 200) {
                JsonNode s = JSON.readTree(r.body());
                JsonNode tasks = s.path("tasks");
                if (s.path("connector").path("state").asText().equals("RUNNING")
                        && tasks.size() == 1 && tasks.get(0).path("state").asText().equals("RUNNING")) {
                    return;
                }
                if (last.contains("FAILED")) {
                    break;
                }
            }
            Thread.sleep(200);
        }
        fail(connector + " is not RUNNING with its task: " + last);
    }

    private static HttpRequest.Builder req(URI rest, String path) {
        return HttpRequest.newBuilder(rest.resolve("/" + path)).timeout(Duration.ofSeconds(10));
    }

    // ---- files and the topic -----------------------------------------------

    private static void append(Path file, List<String> want, String prefix, int from, int n) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < from + n; i++) {
            String line = prefix + "-" + i;
            want.add(line);
            sb.append(line).append('\n');
        }
        Files.writeString(file, sb, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    private static List<String> lines(Path file) throws IOException {
        if (!Files.exists(file)) {
            return List.of();
        }
        return Files.readAllLines(file, StandardCharsets.UTF_8);
    }

    private static void awaitSink(Path sink, List<String> want) throws Exception {
        List<String> got = List.of();
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (System.currentTimeMillis() < deadline) {
            got = lines(sink);
            if (got.size() >= want.size()) {
                break;
            }
            Thread.sleep(100);
        }
        assertEquals(want, got, "the sink file");
    }

    private static List<String> readTopic(String topic, int n) {
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<byte[], byte[]> c = KafkaClientsTest.consumer(Map.of())) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long end = c.endOffsets(List.of(tp)).get(tp);
            List<String> out = new ArrayList<>();
            long deadline = System.currentTimeMillis() + WAIT_MS;
            while (c.position(tp) < end && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    out.add(new String(r.value(), StandardCharsets.UTF_8));
                }
            }
            assertEquals(n, end, topic + " end offset (one record per line)");
            return out;
        }
    }

    // ---- the connectors: FileStreamSource and FileStreamSink, in brief ---------

    private static final ConfigDef SOURCE_CONFIG = new ConfigDef()
            .define("file", ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "the file to read lines from")
            .define("topic", ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "the topic to write them to");
    private static final ConfigDef SINK_CONFIG = new ConfigDef()
            .define("file", ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "the file to append records to");

    /** Hands its one task its own configuration. */
    private static List<Map<String, String>> oneTask(Map<String, String> props) {
        return List.of(props);
    }

    public static class FileSource extends SourceConnector {
        private Map<String, String> props;

        @Override public void start(Map<String, String> props) { this.props = props; }
        @Override public Class<? extends Task> taskClass() { return FileSourceTask.class; }
        @Override public List<Map<String, String>> taskConfigs(int maxTasks) { return oneTask(props); }
        @Override public void stop() {}
        @Override public ConfigDef config() { return SOURCE_CONFIG; }
        @Override public String version() { return "1"; }
    }

    /**
     * Reads whole lines from its file, each one record whose source offset is
     * the byte position after it (FileStreamSourceTask's "position"), and
     * starts from the position Connect stored for the file.
     */
    public static class FileSourceTask extends SourceTask {
        private String file;
        private String topic;
        private long position;

        @Override public String version() { return "1"; }

        @Override
        public void start(Map<String, String> props) {
            file = props.get("file");
            topic = props.get("topic");
            Map<String, Object> off = context.offsetStorageReader().offset(partition());
            position = off == null ? 0 : ((Number) off.get("position")).longValue();
        }

        private Map<String, String> partition() {
            return Map.of("filename", file);
        }

        @Override
        public List<SourceRecord> poll() throws InterruptedException {
            List<SourceRecord> out = new ArrayList<>();
            try (RandomAccessFile f = new RandomAccessFile(file, "r")) {
                if (f.length() > position) {
                    byte[] buf = new byte[(int) Math.min(f.length() - position, 1 << 20)];
                    f.seek(position);
                    f.readFully(buf);
                    int start = 0;
                    for (int i = 0; i < buf.length; i++) {
                        if (buf[i] == '\n') {
                            String line = new String(buf, start, i - start, StandardCharsets.UTF_8);
                            start = i + 1;
                            out.add(new SourceRecord(partition(), Map.of("position", position + start),
                                    topic, null, null, null, Schema.STRING_SCHEMA, line));
                        }
                    }
                    position += start;
                }
            } catch (IOException e) {
                throw new ConnectException("reading " + file, e);
            }
            if (out.isEmpty()) {
                Thread.sleep(100);
                return null;
            }
            return out;
        }

        @Override public void stop() {}
    }

    public static class FileSink extends SinkConnector {
        private Map<String, String> props;

        @Override public void start(Map<String, String> props) { this.props = props; }
        @Override public Class<? extends Task> taskClass() { return FileSinkTask.class; }
        @Override public List<Map<String, String>> taskConfigs(int maxTasks) { return oneTask(props); }
        @Override public void stop() {}
        @Override public ConfigDef config() { return SINK_CONFIG; }
        @Override public String version() { return "1"; }
    }

    /** Appends each record's value as a line; flush makes them durable. */
    public static class FileSinkTask extends SinkTask {
        private Writer out;
        private String file;

        @Override public String version() { return "1"; }

        @Override
        public void start(Map<String, String> props) {
            file = props.get("file");
            try {
                out = Files.newBufferedWriter(Path.of(file), StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException e) {
                throw new ConnectException("opening " + file, e);
            }
        }

        @Override
        public void put(Collection<SinkRecord> records) {
            try {
                for (SinkRecord r : records) {
                    out.write(String.valueOf(r.value()));
                    out.write('\n');
                }
                // Written through at once, so that the test sees each line
                // as soon as the task has it.
                out.flush();
            } catch (IOException e) {
                throw new ConnectException("writing " + file, e);
            }
        }

        @Override
        public void flush(Map<TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> offsets) {
            try {
                out.flush();
            } catch (IOException e) {
                throw new ConnectException("flushing " + file, e);
            }
        }

        @Override
        public void stop() {
            try {
                if (out != null) {
                    out.close();
                }
            } catch (IOException e) {
                throw new ConnectException("closing " + file, e);
            }
        }
    }
}
