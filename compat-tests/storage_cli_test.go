package compat

// Kafka's storage tools against samsa, with two log directories (log.dirs
// through the real binary's --data-dir):
//
//   - kafka-log-dirs.sh --describe (LogDirsCommand, DescribeLogDirs): both
//     directories listed, every partition in exactly one, with its size;
//   - kafka-delete-records.sh (DeleteRecordsCommand, DeleteRecords): the
//     low watermark moves and kafka-get-offsets sees it;
//   - kafka-dump-log.sh (DumpLogSegments) reading the segment files of a
//     compacted topic after the cleaner ran: valid batches, offsets kept,
//     one record per key, the latest value;
//   - kafka-reassign-partitions.sh (ReassignPartitionsCommand) with
//     "log_dirs" in its plan (AlterReplicaLogDirs): the replica moves to
//     the other directory, --verify reports it done, every record is read.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	scLogDirsDescribe   = "log-dirs-describe"
	scDeleteRecords     = "delete-records"
	scDumpLogCompacted  = "dump-log-compacted"
	scReassignLogDir    = "reassign-log-dir"
	clsLogDirs          = "org.apache.kafka.tools.LogDirsCommand"
	clsDeleteRecords    = "org.apache.kafka.tools.DeleteRecordsCommand"
	storageCLIPartition = 4
)

var storageCLIScenarios = []string{scLogDirsDescribe, scDeleteRecords, scDumpLogCompacted, scReassignLogDir}

func TestKafkaCLIStorage(t *testing.T) {
	c := kafkaCLIClient
	kt, err := newKafkaTools(t)
	if err != nil {
		failAll(t, c, storageCLIScenarios, err)
		return
	}
	// Its own budget: TestKafkaCLI's may be spent by now.
	setBudget(c, 120*time.Second)
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "d1"), filepath.Join(root, "d2")
	s := StartSamsa(t, "--data-dir", d1+","+d2, "--override", "log.cleaner.backoff.ms=100")
	addr := s.Addr
	boot := []string{"--bootstrap-server", addr}
	run := func(ctx context.Context, stdin, class string, args ...string) (string, string, error) {
		return kt.run(ctx, stdin, class, append(append([]string{}, boot...), args...)...)
	}

	runScenario(t, c, scLogDirsDescribe, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scLogDirsDescribe)
		if err := fxCreateTopic(ctx, addr, topic, storageCLIPartition, nil); err != nil {
			return err
		}
		if err := fxProducePartitions(ctx, addr, topic, storageCLIPartition, 5); err != nil {
			return err
		}
		out, _, err := run(ctx, "", clsLogDirs, "--describe", "--topic-list", topic)
		if err != nil {
			return err
		}
		return checkLogDirsOutput(out, topic, storageCLIPartition, []string{d1, d2})
	})

	runScenario(t, c, scDeleteRecords, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scDeleteRecords)
		if _, err := cliSeqTopic(ctx, addr, topic); err != nil {
			return err
		}
		spec := filepath.Join(t.TempDir(), "delete.json")
		js := fmt.Sprintf(`{"partitions":[{"topic":%q,"partition":0,"offset":4}],"version":1}`, topic)
		if err := os.WriteFile(spec, []byte(js), 0o644); err != nil {
			return err
		}
		out, _, err := run(ctx, "", clsDeleteRecords, "--offset-json-file", spec)
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`partition: ` + regexp.QuoteMeta(topic) + `-0\s+low_watermark: 4`).MatchString(out) {
			return fmt.Errorf("kafka-delete-records: no low_watermark 4 for %s-0:\n%s", topic, out)
		}
		out, _, err = run(ctx, "", clsGetOffsets, "--topic", topic, "--time", "-2")
		if err != nil {
			return err
		}
		if !containsLine(out, topic+":0:4") {
			return fmt.Errorf("kafka-get-offsets --time -2 after delete-records: want %s:0:4:\n%s", topic, out)
		}
		return nil
	})

	runScenario(t, c, scReassignLogDir, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scReassignLogDir)
		want, err := cliSeqTopic(ctx, addr, topic)
		if err != nil {
			return err
		}
		from, to := d1, d2
		if _, err := os.Stat(filepath.Join(d2, topic+"-0")); err == nil {
			from, to = d2, d1
		}
		plan := filepath.Join(t.TempDir(), "plan.json")
		js := fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"replicas":[1],"log_dirs":[%q]}]}`, topic, to)
		if err := os.WriteFile(plan, []byte(js), 0o644); err != nil {
			return err
		}
		out, _, err := run(ctx, "", clsReassign, "--reassignment-json-file", plan, "--execute")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "Successfully started moving log directory to "+to) {
			return fmt.Errorf("kafka-reassign-partitions --execute:\n%s", out)
		}
		var verify string
		for {
			verify, _, err = run(ctx, "", clsReassign, "--reassignment-json-file", plan, "--verify")
			if err == nil && strings.Contains(verify, fmt.Sprintf("Reassignment of replica %s-0-1 completed", topic)) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("kafka-reassign-partitions --verify never reported the move done (%v):\n%s", err, verify)
			case <-time.After(500 * time.Millisecond):
			}
		}
		if _, err := os.Stat(filepath.Join(to, topic+"-0")); err != nil {
			return fmt.Errorf("after the move: %w", err)
		}
		if _, err := os.Stat(filepath.Join(from, topic+"-0")); !os.IsNotExist(err) {
			return fmt.Errorf("after the move the source %s is still there (%v)", filepath.Join(from, topic+"-0"), err)
		}
		got, err := fxReadAll(ctx, addr, topic)
		if err != nil {
			return err
		}
		return compareRecords(want, got, 0)
	})

	runScenario(t, c, scDumpLogCompacted, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scDumpLogCompacted)
		return dumpCompacted(ctx, kt, addr, topic, []string{d1, d2})
	})
}

// fxProducePartitions produces n records to each of the topic's partitions.
func fxProducePartitions(ctx context.Context, addr, topic string, partitions int32, n int) error {
	cl, err := fxClient(addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var krs []*kgo.Record
	for p := range partitions {
		for i := range n {
			krs = append(krs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))})
		}
	}
	return cl.ProduceSync(ctx, krs...).FirstErr()
}

// checkLogDirsOutput parses LogDirsCommand's JSON line: the broker lists
// every directory (no error), each partition of topic in exactly one, with
// a size > 0 and no offset lag, and the partition's directory is really
// there on disk.
func checkLogDirsOutput(out, topic string, partitions int32, dirs []string) error {
	var doc struct {
		Brokers []struct {
			Broker  int `json:"broker"`
			LogDirs []struct {
				LogDir     string  `json:"logDir"`
				Error      *string `json:"error"`
				Partitions []struct {
					Partition string `json:"partition"`
					Size      int64  `json:"size"`
					OffsetLag int64  `json:"offsetLag"`
					IsFuture  bool   `json:"isFuture"`
				} `json:"partitions"`
			} `json:"logDirs"`
		} `json:"brokers"`
	}
	found := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "{") {
			if err := json.Unmarshal([]byte(l), &doc); err != nil {
				return fmt.Errorf("kafka-log-dirs: bad JSON %q: %w", l, err)
			}
			found = true
		}
	}
	if !found || len(doc.Brokers) != 1 {
		return fmt.Errorf("kafka-log-dirs: no broker in:\n%s", out)
	}
	var listed []string
	where := map[string]string{}
	for _, ld := range doc.Brokers[0].LogDirs {
		listed = append(listed, ld.LogDir)
		if ld.Error != nil {
			return fmt.Errorf("kafka-log-dirs: %s reports error %s", ld.LogDir, *ld.Error)
		}
		for _, p := range ld.Partitions {
			if prev, dup := where[p.Partition]; dup {
				return fmt.Errorf("kafka-log-dirs: %s in %s and %s", p.Partition, prev, ld.LogDir)
			}
			where[p.Partition] = ld.LogDir
			if p.Size <= 0 || p.OffsetLag != 0 || p.IsFuture {
				return fmt.Errorf("kafka-log-dirs: %s: size %d, lag %d, future %v", p.Partition, p.Size, p.OffsetLag, p.IsFuture)
			}
			if _, err := os.Stat(filepath.Join(ld.LogDir, p.Partition)); err != nil {
				return fmt.Errorf("kafka-log-dirs: %s listed in %s: %w", p.Partition, ld.LogDir, err)
			}
		}
	}
	sort.Strings(listed)
	want := append([]string(nil), dirs...)
	sort.Strings(want)
	if strings.Join(listed, ",") != strings.Join(want, ",") {
		return fmt.Errorf("kafka-log-dirs: directories %v, want %v", listed, want)
	}
	per := map[string]int{}
	for p := range partitions {
		d, ok := where[topic+"-"+strconv.Itoa(int(p))]
		if !ok {
			return fmt.Errorf("kafka-log-dirs: %s-%d not listed: %v", topic, p, where)
		}
		per[d]++
	}
	if len(per) != len(dirs) {
		return fmt.Errorf("kafka-log-dirs: partitions not spread over every directory: %v", per)
	}
	return nil
}

var dumpRecordRe = regexp.MustCompile(`^\| offset: (\d+) .* key: (\S+) payload: (\S+)`)

// dumpCompacted fills a compacted topic in rounds that land in separate
// segments (segment.ms), waits for the cleaner, and reads the closed
// segments with DumpLogSegments: each key once, with its last value, in
// increasing offsets, every batch valid.
func dumpCompacted(ctx context.Context, kt *kafkaTools, addr, topic string, dirs []string) error {
	if err := fxCreateTopic(ctx, addr, topic, 1, map[string]string{
		"cleanup.policy": "compact", "segment.ms": "200", "segment.jitter.ms": "0",
		"min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "0",
	}); err != nil {
		return err
	}
	const rounds, keys = 5, 10
	for r := range rounds {
		var recs []testRecord
		for k := range keys {
			recs = append(recs, testRecord{Key: []byte(fmt.Sprintf("k%d", k)), Value: []byte(fmt.Sprintf("r%d-k%d", r, k))})
		}
		if err := fxProduce(ctx, addr, topic, recs); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond) // the next append rolls
	}
	// One more record rolls the last round into a closed segment.
	if err := fxProduce(ctx, addr, topic, []testRecord{{Key: []byte("last"), Value: []byte("last")}}); err != nil {
		return err
	}
	var pdir string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, topic+"-0")); err == nil {
			pdir = filepath.Join(d, topic+"-0")
		}
	}
	if pdir == "" {
		return fmt.Errorf("no directory of %s-0 in %v", topic, dirs)
	}
	var lastOut string
	var lastErr error
	for ctx.Err() == nil {
		ents, err := os.ReadDir(pdir)
		if err != nil {
			return err
		}
		var logs []string
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".log") {
				logs = append(logs, filepath.Join(pdir, e.Name()))
			}
		}
		sort.Strings(logs)
		if len(logs) >= 2 {
			closed := logs[:len(logs)-1] // the active segment is never cleaned
			// A cleaning may swap a file away between the listing and
			// the tool's open: look again.
			out, _, err := kt.run(ctx, "", clsDumpLog, "--files", strings.Join(closed, ","), "--print-data-log")
			if err == nil {
				err = checkCompactedDump(out, keys, rounds)
			}
			lastOut, lastErr = out, err
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("kafka-dump-log never showed the cleaned log: %v\n%s", lastErr, lastLines(lastOut, 20))
}

func checkCompactedDump(out string, keys, rounds int) error {
	if strings.Contains(out, "Exception") || strings.Contains(out, "isvalid: false") {
		return fmt.Errorf("kafka-dump-log: %s", lastLines(out, 5))
	}
	seen := map[string]string{}
	prev := int64(-1)
	for _, l := range strings.Split(out, "\n") {
		m := dumpRecordRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		off, _ := strconv.ParseInt(m[1], 10, 64)
		if off <= prev {
			return fmt.Errorf("offset %d after %d", off, prev)
		}
		prev = off
		if v, dup := seen[m[2]]; dup {
			return fmt.Errorf("key %s twice (%s, %s): not cleaned yet", m[2], v, m[3])
		}
		seen[m[2]] = m[3]
	}
	if len(seen) != keys {
		return fmt.Errorf("%d keys in the closed segments, want %d", len(seen), keys)
	}
	for k := range keys {
		key := fmt.Sprintf("k%d", k)
		if want := fmt.Sprintf("r%d-%s", rounds-1, key); seen[key] != want {
			return fmt.Errorf("key %s: %q, want its last value %q", key, seen[key], want)
		}
	}
	if prev < int64((rounds-1)*keys) {
		return errors.New("the last round's offsets are missing")
	}
	return nil
}
