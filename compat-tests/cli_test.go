package compat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Command-line tools against samsa:
//
//   - kafka-cli: Apache Kafka's own tools, run as `java -cp '<libs>/*'
//     <main class>` from the jars scripts/kafka.sh fetches from Maven
//     Central (kafka-topics, kafka-configs, kafka-console-producer,
//     kafka-console-consumer, kafka-consumer-groups, kafka-get-offsets,
//     kafka-broker-api-versions), and kafka-dump-log (DumpLogSegments)
//     reading samsa's segment files.
//   - kcat: Debian's kcat (librdkafka inside), in kcat_test.go.
//
// A JVM start costs 1-2 s on CI's 2 cores. The tools therefore run with
// C1 only, the serial GC and a class-data-sharing archive per main class
// (dumped by the first run into .cache/compat-cds, used by later ones:
// about 0.7 s per start), and independent runs go two at a time.

const (
	kafkaCLIClient = "kafka-cli"
	kcatClient     = "kcat"

	scDumpLogSegments = "dump-log-segments"
	scDumpLogIndexes  = "dump-log-indexes"

	toolTimeout = 30 * time.Second
	// Kafka's tools print null keys and header-less records with these.
	cliNull = "<NULL>"
)

// Main classes of Kafka 4's tools (all in kafka-tools).
const (
	clsTopics      = "org.apache.kafka.tools.TopicCommand"
	clsConfigs     = "org.apache.kafka.tools.ConfigCommand"
	clsProducer    = "org.apache.kafka.tools.ConsoleProducer"
	clsConsumer    = "org.apache.kafka.tools.consumer.ConsoleConsumer"
	clsGroups      = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
	clsGetOffsets  = "org.apache.kafka.tools.GetOffsetShell"
	clsAPIVersions = "org.apache.kafka.tools.BrokerApiVersionsCommand"
	clsDumpLog     = "org.apache.kafka.tools.DumpLogSegments"
)

var kafkaCLIScenarios = func() []string {
	s := []string{scBootstrapMetadata, scAdminTopics}
	for _, c := range allCodecs {
		s = append(s, scProduceConsume(c))
	}
	return append(s, scKeyPartitioning, scConsumeFromOffset, scConsumeFromTime, scGroupCommitResume,
		scGroupCommitResumeKIP848, scErrUnknownTopic, scErrMessageTooLarge, scDumpLogSegments, scDumpLogIndexes)
}()

var kcatScenarios = func() []string {
	s := []string{scBootstrapMetadata}
	for _, c := range allCodecs {
		s = append(s, scProduceConsume(c))
	}
	return append(s, scKeyPartitioning, scConsumeFromOffset, scConsumeFromTime, scGroupCommitResume,
		scErrUnknownTopic, scErrMessageTooLarge)
}()

// failAll records every scenario of client as failed with err: the tool
// itself is missing, which is a failure to fix on the machine, not a skip.
func failAll(t *testing.T, client string, scenarios []string, err error) {
	t.Helper()
	for _, s := range scenarios {
		record(client, s, err)
	}
	t.Errorf("%s: %v", client, err)
}

// ---- running Kafka's tools --------------------------------------------------------

type kafkaTools struct {
	java   string
	libs   string
	log4j  string
	cdsDir string

	mu      sync.Mutex      // guards the fields below
	dumping map[string]bool // main classes whose CDS archive a run is dumping
	noCDS   bool            // this JVM refused the CDS flags: run without
}

// newKafkaTools finds java and Kafka's jars: $KAFKA_LIBS, else what
// `scripts/kafka.sh fetch` prints (it downloads them once).
func newKafkaTools(t *testing.T) (*kafkaTools, error) {
	java := "java"
	if h := os.Getenv("JAVA_HOME"); h != "" {
		java = filepath.Join(h, "bin", "java")
	}
	java, err := exec.LookPath(java)
	if err != nil {
		return nil, fmt.Errorf("no java (JDK 17+ needed for Kafka's tools): %w", err)
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	libs := os.Getenv("KAFKA_LIBS")
	if libs == "" {
		cmd := exec.Command("bash", filepath.Join(root, "scripts", "kafka.sh"), "fetch")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("scripts/kafka.sh fetch (Kafka's jars from Maven Central; run `make compat-setup`): %v: %s", err, lastLines(stderr.String(), 5))
		}
		libs = strings.TrimSpace(lastLines(string(out), 1))
	}
	if m, _ := filepath.Glob(filepath.Join(libs, "kafka-tools-*.jar")); len(m) == 0 {
		return nil, fmt.Errorf("no kafka-tools jar in %q (KAFKA_LIBS or scripts/kafka.sh fetch)", libs)
	}
	// One CDS archive directory per JDK build: an archive only works with
	// the JVM that wrote it.
	fi, err := os.Stat(java)
	if err != nil {
		return nil, err
	}
	real, _ := filepath.EvalSymlinks(java)
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s %s %d %d", real, libs, fi.Size(), fi.ModTime().UnixNano())))
	cdsDir := filepath.Join(root, ".cache", "compat-cds", fmt.Sprintf("%x", sum[:6]))
	if err := os.MkdirAll(cdsDir, 0o755); err != nil {
		return nil, err
	}
	log4j := filepath.Join(t.TempDir(), "tools-log4j2.properties")
	// Warnings and errors to stderr: stdout stays the tool's own output.
	err = os.WriteFile(log4j, []byte(`status = error
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = STDERR
`), 0o644)
	if err != nil {
		return nil, err
	}
	return &kafkaTools{java: java, libs: libs, log4j: log4j, cdsDir: cdsDir, dumping: map[string]bool{}}, nil
}

// run runs one tool with stdin and returns its stdout and stderr; a
// non-zero exit is an error that quotes the end of stderr.
func (k *kafkaTools) run(ctx context.Context, stdin, class string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	jvm := []string{
		"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m", "-Xss1m",
		"-Xlog:disable", "-Xlog:all=error:stderr",
		"-Djava.awt.headless=true", "-Dlog4j2.configurationFile=file:" + k.log4j,
	}
	archive := filepath.Join(k.cdsDir, class+".jsa")
	tmpArchive := ""
	k.mu.Lock()
	if k.noCDS {
		// as is
	} else if _, err := os.Stat(archive); err == nil {
		jvm = append(jvm, "-XX:SharedArchiveFile="+archive)
	} else if !k.dumping[class] {
		k.dumping[class] = true
		tmpArchive = fmt.Sprintf("%s.%d.tmp", archive, time.Now().UnixNano())
		jvm = append(jvm, "-XX:ArchiveClassesAtExit="+tmpArchive)
	}
	k.mu.Unlock()
	jvm = append(jvm, "-cp", filepath.Join(k.libs, "*"), class)
	cmd := exec.CommandContext(ctx, k.java, append(jvm, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if tmpArchive != "" {
		if err == nil {
			os.Rename(tmpArchive, archive)
		} else {
			os.Remove(tmpArchive)
		}
		k.mu.Lock()
		delete(k.dumping, class)
		k.mu.Unlock()
	}
	if err != nil && tmpArchive != "" && strings.Contains(stderr.String(), "Unrecognized VM option") {
		k.mu.Lock()
		k.noCDS = true
		k.mu.Unlock()
		return k.run(ctx, stdin, class, args...)
	}
	short := class[strings.LastIndexByte(class, '.')+1:]
	if ctx.Err() != nil {
		return stdout.String(), stderr.String(), fmt.Errorf("%s %s: timed out after %v: %s", short, shellJoin(args), toolTimeout, lastLines(stderr.String(), 5))
	}
	if err != nil {
		return stdout.String(), stderr.String(), fmt.Errorf("%s %s: %v: %s", short, shellJoin(args), err, lastLines(stderr.String(), 5))
	}
	return stdout.String(), stderr.String(), nil
}

// shellJoin renders a command line on one line, quoting odd arguments.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\\'\"|$&;<>*?%") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// parallel runs fns at most two at a time (CI has two cores) and returns
// their errors by index.
func parallel(fns ...func() error) []error {
	errs := make([]error, len(fns))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errs
}

// textRecords are makeRecords without the binary tail of each value: the
// console tools and kcat read and print lines of text.
func textRecords(prefix string, n int, base time.Time) []testRecord {
	recs := makeRecords(prefix, n, base)
	for i := range recs {
		recs[i].Value = recs[i].Value[:len(recs[i].Value)-6]
	}
	return recs
}

// consoleProducerInput renders recs for ConsoleProducer with parse.key,
// parse.headers and null.marker=<NULL>: "h1:v1,h2:v2\tkey\tvalue".
func consoleProducerInput(recs []testRecord) string {
	var b strings.Builder
	for _, r := range recs {
		if len(r.Headers) == 0 {
			b.WriteString(cliNull)
		}
		for i, h := range r.Headers {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s:%s", h.Key, h.Value)
		}
		b.WriteByte('\t')
		if r.Key == nil {
			b.WriteString(cliNull)
		} else {
			b.Write(r.Key)
		}
		fmt.Fprintf(&b, "\t%s\n", r.Value)
	}
	return b.String()
}

var consoleProducerArgs = []string{
	"--reader-property", "parse.key=true", "--reader-property", "parse.headers=true",
	"--reader-property", "null.marker=" + cliNull,
}

// consoleConsumerFormat makes ConsoleConsumer print
// "CreateTime:ts|Partition:p|Offset:o|h1:v1,h2:v2|key|value".
var consoleConsumerFormat = []string{
	"--formatter-property", "print.timestamp=true", "--formatter-property", "print.partition=true",
	"--formatter-property", "print.offset=true", "--formatter-property", "print.headers=true",
	"--formatter-property", "print.key=true", "--formatter-property", "key.separator=|",
	"--formatter-property", "null.literal=" + cliNull,
}

// parseConsoleConsumer parses ConsoleConsumer output in that format.
func parseConsoleConsumer(out string) ([]testRecord, error) {
	var recs []testRecord
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, "|", 6)
		if len(f) != 6 || !strings.HasPrefix(f[0], "CreateTime:") || !strings.HasPrefix(f[1], "Partition:") || !strings.HasPrefix(f[2], "Offset:") {
			return recs, fmt.Errorf("unexpected console consumer line %q", line)
		}
		ts, err1 := strconv.ParseInt(strings.TrimPrefix(f[0], "CreateTime:"), 10, 64)
		p, err2 := strconv.ParseInt(strings.TrimPrefix(f[1], "Partition:"), 10, 32)
		o, err3 := strconv.ParseInt(strings.TrimPrefix(f[2], "Offset:"), 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return recs, fmt.Errorf("console consumer line %q: %w", line, err)
		}
		r := testRecord{Timestamp: time.UnixMilli(ts), Partition: int32(p), Offset: o, Value: []byte(f[5])}
		if f[4] != cliNull {
			r.Key = []byte(f[4])
		}
		if f[3] != "NO_HEADERS" {
			for _, h := range strings.Split(f[3], ",") {
				k, v, _ := strings.Cut(h, ":")
				r.Headers = append(r.Headers, testHeader{Key: k, Value: []byte(v)})
			}
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// checkTimestampsBetween checks that every record's timestamp is within
// [from, to] (tools that stamp records with the time of sending) and then
// copies them into want, so that compareRecords checks the rest.
func checkTimestampsBetween(want, got []testRecord, from, to time.Time) error {
	from, to = from.Add(-time.Second), to.Add(time.Second)
	for i := range got {
		if got[i].Timestamp.Before(from) || got[i].Timestamp.After(to) {
			return fmt.Errorf("record %d: timestamp %d ms is outside the produce window [%d, %d]", i, got[i].Timestamp.UnixMilli(), from.UnixMilli(), to.UnixMilli())
		}
		if i < len(want) {
			want[i].Timestamp = got[i].Timestamp
		}
	}
	return nil
}

// printableKeys are the keys of partitionKeys that survive a text line.
func printableKeys() [][]byte {
	var out [][]byte
	for _, k := range partitionKeys() {
		if utf8.Valid(k) && !bytes.ContainsAny(k, "\x00\t\n|") {
			out = append(out, k)
		}
	}
	return out
}

// ---- kafka-cli ------------------------------------------------------------------

func TestKafkaCLI(t *testing.T) {
	c := kafkaCLIClient
	kt, err := newKafkaTools(t)
	if err != nil {
		failAll(t, c, kafkaCLIScenarios, err)
		return
	}
	setBudget(c, 150*time.Second)
	s := StartSamsa(t)
	addr := s.Addr
	boot := []string{"--bootstrap-server", addr}
	run := func(ctx context.Context, stdin, class string, args ...string) (string, string, error) {
		return kt.run(ctx, stdin, class, append(append([]string{}, boot...), args...)...)
	}

	runScenario(t, c, scBootstrapMetadata, func(ctx context.Context, t *testing.T) error {
		out, _, err := run(ctx, "", clsAPIVersions)
		if err != nil {
			return err
		}
		if !strings.Contains(out, addr+" (id: 1 ") {
			return fmt.Errorf("kafka-broker-api-versions does not list broker 1 at %s: %s", addr, lastLines(out, 3))
		}
		for _, api := range []string{"Produce(0)", "Fetch(1)", "ListOffsets(2)", "Metadata(3)", "ApiVersions(18)", "CreateTopics(19)"} {
			re := regexp.MustCompile(regexp.QuoteMeta(api) + `: \d+ to \d+ \[usable: \d+\]`)
			if !re.MatchString(out) {
				return fmt.Errorf("kafka-broker-api-versions: %s not usable:\n%s", api, out)
			}
		}
		return nil
	})

	runScenario(t, c, scAdminTopics, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scAdminTopics)
		if _, _, err := run(ctx, "", clsTopics, "--create", "--topic", topic, "--partitions", "3",
			"--replication-factor", "1", "--config", "retention.ms=3600000"); err != nil {
			return err
		}
		out, _, err := run(ctx, "", clsTopics, "--list")
		if err != nil {
			return err
		}
		if !containsLine(out, topic) {
			return fmt.Errorf("kafka-topics --list: %s missing:\n%s", topic, out)
		}
		out, _, err = run(ctx, "", clsTopics, "--describe", "--topic", topic)
		if err != nil {
			return err
		}
		for _, want := range []string{"PartitionCount: 3", "ReplicationFactor: 1", "retention.ms=3600000"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("kafka-topics --describe: no %q in:\n%s", want, out)
			}
		}
		if n := strings.Count(out, "Leader: 1"); n != 3 {
			return fmt.Errorf("kafka-topics --describe: %d partitions led by broker 1, want 3:\n%s", n, out)
		}
		cfg := []string{"--entity-type", "topics", "--entity-name", topic}
		if _, _, err := run(ctx, "", clsConfigs, append(cfg, "--alter", "--add-config", "max.message.bytes=20000")...); err != nil {
			return err
		}
		out, _, err = run(ctx, "", clsConfigs, append(cfg, "--describe")...)
		if err != nil {
			return err
		}
		for _, want := range []string{"retention.ms=3600000", "max.message.bytes=20000"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("kafka-configs --describe: no %q in:\n%s", want, out)
			}
		}
		if _, _, err := run(ctx, "", clsTopics, "--delete", "--topic", topic); err != nil {
			return err
		}
		out, _, err = run(ctx, "", clsTopics, "--list")
		if err != nil {
			return err
		}
		if containsLine(out, topic) {
			return fmt.Errorf("kafka-topics --list: %s still listed after --delete", topic)
		}
		return nil
	})

	// The codecs: one console producer per codec (two at a time), then one
	// console consumer for all five topics.
	pcTopics := map[string]string{}
	pcWant := map[string][]testRecord{}
	pcErr := map[string]error{}
	var pcFrom, pcTo time.Time
	var pcGot map[string][]testRecord
	var pcConsumeErr error
	t.Run("produce-all-codecs", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*scenarioTimeout)
		defer cancel()
		var fns []func() error
		for _, codec := range allCodecs {
			name := scProduceConsume(codec)
			topic := topicName(c, name)
			pcTopics[codec] = topic
			pcWant[codec] = textRecords(name, produceConsumeRecords, time.Time{})
			fns = append(fns, func() error {
				if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
					return err
				}
				_, _, err := run(ctx, consoleProducerInput(pcWant[codec]), clsProducer,
					append([]string{"--topic", topic, "--compression-codec", codec}, consoleProducerArgs...)...)
				return err
			})
		}
		pcFrom = time.Now()
		for i, err := range parallel(fns...) {
			pcErr[allCodecs[i]] = err
		}
		pcTo = time.Now()
		out, _, err := run(ctx, "", clsConsumer, append([]string{"--include", regexp.QuoteMeta(c) + `\.produce-consume-.*`,
			"--from-beginning", "--max-messages", strconv.Itoa(len(allCodecs) * produceConsumeRecords), "--timeout-ms", "20000"},
			consoleConsumerFormat...)...)
		recs, perr := parseConsoleConsumer(out)
		pcConsumeErr = errors.Join(err, perr)
		pcGot = map[string][]testRecord{}
		for _, r := range recs {
			name, _, _ := strings.Cut(string(r.Value), " record ")
			codec := strings.TrimPrefix(name, "produce-consume-")
			pcGot[codec] = append(pcGot[codec], r)
		}
	})
	for _, codec := range allCodecs {
		name := scProduceConsume(codec)
		runScenario(t, c, name, func(ctx context.Context, t *testing.T) error {
			if err := pcErr[codec]; err != nil {
				return fmt.Errorf("kafka-console-producer: %w", err)
			}
			want, got := pcWant[codec], pcGot[codec]
			if len(got) != len(want) && pcConsumeErr != nil {
				return fmt.Errorf("kafka-console-consumer: %w", pcConsumeErr)
			}
			if err := checkTimestampsBetween(want, got, pcFrom, pcTo); err != nil {
				return err
			}
			if err := compareRecords(want, got, 0); err != nil {
				return err
			}
			return fxCheckStoredCodec(ctx, addr, pcTopics[codec], codec)
		})
	}

	runScenario(t, c, scKeyPartitioning, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scKeyPartitioning)
		if err := fxCreateTopic(ctx, addr, topic, keyPartitions, nil); err != nil {
			return err
		}
		keys := printableKeys()
		var in strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&in, "%s\tv\n", k)
		}
		// The Java producer's own default partitioner: the reference.
		if _, _, err := run(ctx, in.String(), clsProducer, "--topic", topic, "--reader-property", "parse.key=true"); err != nil {
			return err
		}
		return fxCheckKeyPlacement(ctx, addr, topic, keys, keyPartitions)
	})

	runScenario(t, c, scConsumeFromOffset, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scConsumeFromOffset)
		recs, err := cliSeqTopic(ctx, addr, topic)
		if err != nil {
			return err
		}
		out, _, err := run(ctx, "", clsConsumer, append([]string{"--topic", topic, "--partition", "0", "--offset", "4",
			"--max-messages", strconv.Itoa(seqRecords - 4), "--timeout-ms", "20000"}, consoleConsumerFormat...)...)
		if err != nil {
			return err
		}
		got, err := parseConsoleConsumer(out)
		if err != nil {
			return err
		}
		return compareRecords(recs[4:], got, 4)
	})

	runScenario(t, c, scConsumeFromTime, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scConsumeFromTime)
		recs, err := cliSeqTopic(ctx, addr, topic)
		if err != nil {
			return err
		}
		at := recs[0].Timestamp.Add(4500 * time.Millisecond).UnixMilli()
		out, _, err := run(ctx, "", clsGetOffsets, "--topic", topic, "--time", strconv.FormatInt(at, 10))
		if err != nil {
			return err
		}
		if got := strings.TrimSpace(out); got != topic+":0:5" {
			return fmt.Errorf("kafka-get-offsets --time %d: %q, want %s:0:5", at, got, topic)
		}
		out, _, err = run(ctx, "", clsConsumer, append([]string{"--topic", topic, "--partition", "0", "--offset", "5",
			"--max-messages", strconv.Itoa(seqRecords - 5), "--timeout-ms", "20000"}, consoleConsumerFormat...)...)
		if err != nil {
			return err
		}
		got, err := parseConsoleConsumer(out)
		if err != nil {
			return err
		}
		return compareRecords(recs[5:], got, 5)
	})

	// groupCommitResume: the console consumer in a group reads 5 records
	// and commits, kafka-consumer-groups --describe shows the commit, and a
	// second console consumer resumes after it. protocol is the consumer's
	// group.protocol: classic, or consumer (KIP-848; kafka-consumer-groups
	// then describes it with ConsumerGroupDescribe).
	groupCommitResume := func(ctx context.Context, scenario, protocol string) error {
		topic := topicName(c, scenario)
		group := topic + ".group"
		recs, err := cliSeqTopic(ctx, addr, topic)
		if err != nil {
			return err
		}
		// max.poll.records=5: the position after the first poll is 5, and
		// closing after 5 records commits exactly that (auto-commit).
		consume := func(n int) ([]testRecord, error) {
			out, _, err := run(ctx, "", clsConsumer, append([]string{"--topic", topic, "--group", group, "--from-beginning",
				"--max-messages", strconv.Itoa(n), "--timeout-ms", "20000", "--command-property", "max.poll.records=5",
				"--command-property", "group.protocol=" + protocol},
				consoleConsumerFormat...)...)
			if err != nil {
				return nil, err
			}
			return parseConsoleConsumer(out)
		}
		got, err := consume(5)
		if err != nil {
			return fmt.Errorf("first consumer: %w", err)
		}
		if err := compareRecords(recs[:5], got, 0); err != nil {
			return fmt.Errorf("first consumer: %w", err)
		}
		if typ, err := fxGroupType(ctx, addr, group); err != nil || typ != protocol {
			return fmt.Errorf("group type %q (%v), want %s", typ, err, protocol)
		}
		out, _, err := run(ctx, "", clsGroups, "--describe", "--group", group)
		if err != nil {
			return err
		}
		if cur, end := groupDescribeOffsets(out, topic, 0); cur != "5" || end != "10" {
			return fmt.Errorf("kafka-consumer-groups --describe: current offset %q, log end %q, want 5 and 10:\n%s", cur, end, out)
		}
		got, err = consume(seqRecords - 5)
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
		out, stderr, err := kt.run(ctx, "v\n", clsProducer, "--bootstrap-server", s2.Addr, "--topic", "missing-topic", "--sync", "--max-block-ms", "3000")
		// The Java producer logs the metadata error and then times out
		// waiting for the topic (TimeoutException).
		if err == nil {
			return errors.New("kafka-console-producer to a missing topic succeeded")
		}
		if !strings.Contains(out+stderr, "UNKNOWN_TOPIC_OR_PARTITION") {
			return fmt.Errorf("kafka-console-producer did not report UNKNOWN_TOPIC_OR_PARTITION: %v", err)
		}
		return nil
	})

	runScenario(t, c, scErrMessageTooLarge, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scErrMessageTooLarge)
		if err := fxCreateTopic(ctx, addr, topic, 1, map[string]string{"max.message.bytes": strconv.Itoa(smallMaxMessageBytes)}); err != nil {
			return err
		}
		// max.request.size far above the topic's limit: samsa rejects.
		line := strings.Repeat("x", largeValueBytes) + "\n"
		out, stderr, err := run(ctx, line, clsProducer, "--topic", topic, "--sync", "--compression-codec", "none",
			"--command-property", "max.request.size=4194304")
		if err == nil {
			return errors.New("kafka-console-producer of a record over max.message.bytes succeeded")
		}
		// RecordTooLargeException is the Java client's MESSAGE_TOO_LARGE.
		if !strings.Contains(out+stderr, "RecordTooLargeException") || strings.Contains(out+stderr, "max.request.size") {
			return fmt.Errorf("kafka-console-producer did not report the broker's MESSAGE_TOO_LARGE: %v", err)
		}
		return nil
	})

	// kafka-dump-log over a partition with many batches (so that the
	// offset and time indexes have entries), some gzip-compressed.
	var dumpOut string
	var dumpErr error
	var dumpWant []string
	t.Run("dump-prepare", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
		defer cancel()
		dumpWant, dumpErr = cliDumpTopic(ctx, addr, topicName(c, "dump"))
		if dumpErr != nil {
			return
		}
		seg := filepath.Join(s.DataDir, topicName(c, "dump")+"-0", "00000000000000000000")
		dumpOut, _, dumpErr = kt.run(ctx, "", clsDumpLog, "--files", seg+".log,"+seg+".index,"+seg+".timeindex", "--print-data-log")
	})
	sections := splitDumpSections(dumpOut)
	runScenario(t, c, scDumpLogSegments, func(ctx context.Context, t *testing.T) error {
		if dumpErr != nil {
			return dumpErr
		}
		return checkDumpLog(sections[".log"], dumpWant)
	})
	runScenario(t, c, scDumpLogIndexes, func(ctx context.Context, t *testing.T) error {
		if dumpErr != nil {
			return dumpErr
		}
		return checkDumpIndexes(sections[".index"], sections[".timeindex"], dumpOut)
	})
}

func containsLine(out, line string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

// groupDescribeOffsets finds CURRENT-OFFSET and LOG-END-OFFSET of a
// partition in `kafka-consumer-groups --describe` output.
func groupDescribeOffsets(out, topic string, partition int) (cur, end string) {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && f[1] == topic && f[2] == strconv.Itoa(partition) {
			return f[3], f[4]
		}
	}
	return "", ""
}

// cliSeqTopic creates a one-partition topic and produces seqRecords text
// records to it (timestamps 1 s apart) with the fixture client.
func cliSeqTopic(ctx context.Context, addr, topic string) ([]testRecord, error) {
	if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
		return nil, err
	}
	recs := textRecords(topic, seqRecords, baseTime())
	return recs, fxProduce(ctx, addr, topic, recs)
}

const dumpRecords = 300

// cliDumpTopic fills partition 0 of topic with dumpRecords records of
// ~1 KB in batches of 10 (every other batch gzip) and returns the marker
// each record's value carries.
func cliDumpTopic(ctx context.Context, addr, topic string) ([]string, error) {
	if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
		return nil, err
	}
	base := baseTime()
	var markers []string
	for b := 0; b < dumpRecords/10; b++ {
		var recs []testRecord
		for i := b * 10; i < b*10+10; i++ {
			m := fmt.Sprintf("dump-record-%04d", i)
			markers = append(markers, m)
			recs = append(recs, testRecord{
				Key:       []byte(fmt.Sprintf("k%d", i)),
				Value:     []byte(m + " " + strings.Repeat("payload ", 128)),
				Headers:   []testHeader{{Key: "n", Value: []byte(strconv.Itoa(i))}},
				Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			})
		}
		codec := "none"
		if b%2 == 1 {
			codec = "gzip"
		}
		if err := fxProduceCodec(ctx, addr, topic, recs, codec); err != nil {
			return nil, err
		}
	}
	return markers, nil
}

// splitDumpSections splits DumpLogSegments output into the part of each
// file, keyed by extension.
func splitDumpSections(out string) map[string]string {
	sections := map[string]string{}
	cur := ""
	for _, l := range strings.Split(out, "\n") {
		if f, ok := strings.CutPrefix(l, "Dumping "); ok {
			cur = filepath.Ext(strings.TrimSpace(f))
			continue
		}
		sections[cur] += l + "\n"
	}
	return sections
}

var dumpBatchRe = regexp.MustCompile(`^baseOffset: (\d+) lastOffset: (\d+) count: (\d+) .* compresscodec: (\w+) .* isvalid: (\w+)`)

func checkDumpLog(out string, markers []string) error {
	if strings.TrimSpace(out) == "" {
		return errors.New("kafka-dump-log printed nothing for the .log file")
	}
	batches, records := 0, 0
	codecs := map[string]int{}
	seen := map[string]bool{}
	next := int64(0)
	for _, l := range strings.Split(out, "\n") {
		if m := dumpBatchRe.FindStringSubmatch(l); m != nil {
			batches++
			codecs[m[4]]++
			if m[5] != "true" {
				return fmt.Errorf("kafka-dump-log: invalid batch: %s", l)
			}
			if base, _ := strconv.ParseInt(m[1], 10, 64); base != next {
				return fmt.Errorf("kafka-dump-log: batch at offset %d, want %d: %s", base, next, l)
			}
			last, _ := strconv.ParseInt(m[2], 10, 64)
			next = last + 1
			continue
		}
		if strings.HasPrefix(l, "| offset: ") {
			records++
			if _, p, ok := strings.Cut(l, " payload: "); ok {
				seen[strings.Fields(p)[0]] = true
			}
			continue
		}
		if strings.Contains(l, "Exception") || strings.Contains(l, "rror") {
			return fmt.Errorf("kafka-dump-log: %s", l)
		}
	}
	if batches != len(markers)/10 || records != len(markers) {
		return fmt.Errorf("kafka-dump-log: %d batches and %d records, want %d and %d", batches, records, len(markers)/10, len(markers))
	}
	if codecs["gzip"] != batches/2 || codecs["none"] != batches/2 {
		return fmt.Errorf("kafka-dump-log: codecs %v, want half gzip, half none", codecs)
	}
	for _, m := range markers {
		if !seen[m] {
			return fmt.Errorf("kafka-dump-log: no record with payload %s", m)
		}
	}
	return nil
}

func checkDumpIndexes(index, timeindex, all string) error {
	if low := strings.ToLower(all); strings.Contains(low, "mismatch") || strings.Contains(low, "out of order") {
		return fmt.Errorf("kafka-dump-log reports index mismatches:\n%s", lastLines(all, 10))
	}
	if strings.Contains(all, "Exception") {
		return fmt.Errorf("kafka-dump-log: %s", lastLines(all, 5))
	}
	idx := regexp.MustCompile(`(?m)^offset: \d+ position: \d+$`).FindAllString(index, -1)
	tidx := regexp.MustCompile(`(?m)^timestamp: \d+ offset: \d+$`).FindAllString(timeindex, -1)
	if len(idx) == 0 {
		return fmt.Errorf("kafka-dump-log: no offset index entries: %q", lastLines(index, 3))
	}
	if len(tidx) == 0 {
		return fmt.Errorf("kafka-dump-log: no time index entries: %q", lastLines(timeindex, 3))
	}
	return nil
}
