package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kcat (Debian's package, librdkafka inside) against samsa; the shared
// helpers of the command-line rows are in cli_test.go.

// kcatFormat prints "offset|timestamp|key|headers|value" (-Z: NULL keys).
const kcatFormat = "%o|%T|%k|%h|%s\n"

func runKcat(ctx context.Context, stdin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return stdout.String(), stderr.String(), fmt.Errorf("kcat %s: timed out after %v: %s", shellJoin(args), toolTimeout, lastLines(stderr.String(), 3))
	}
	if err != nil {
		return stdout.String(), stderr.String(), fmt.Errorf("kcat %s: %v: %s", shellJoin(args), err, lastLines(stderr.String(), 3))
	}
	return stdout.String(), stderr.String(), nil
}

func parseKcat(out string) ([]testRecord, error) {
	var recs []testRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.SplitN(line, "|", 5)
		if len(f) != 5 {
			return recs, fmt.Errorf("unexpected kcat line %q", line)
		}
		o, err1 := strconv.ParseInt(f[0], 10, 64)
		ts, err2 := strconv.ParseInt(f[1], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return recs, fmt.Errorf("kcat line %q: %w", line, err)
		}
		r := testRecord{Offset: o, Timestamp: time.UnixMilli(ts), Value: []byte(f[4])}
		if f[2] != "NULL" {
			r.Key = []byte(f[2])
		}
		if f[3] != "" {
			for _, h := range strings.Split(f[3], ",") {
				k, v, _ := strings.Cut(h, "=")
				r.Headers = append(r.Headers, testHeader{Key: k, Value: []byte(v)})
			}
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

func TestKcat(t *testing.T) {
	c := kcatClient
	if _, err := exec.LookPath("kcat"); err != nil {
		failAll(t, c, kcatScenarios, errors.New("kcat is not installed: `apt-get install kcat` (Debian package; `make compat-setup` installs it when run as root)"))
		return
	}
	setBudget(c, 90*time.Second)
	s := StartSamsa(t)
	addr := s.Addr

	runScenario(t, c, scBootstrapMetadata, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scBootstrapMetadata)
		if err := fxCreateTopic(ctx, addr, topic, 3, nil); err != nil {
			return err
		}
		out, _, err := runKcat(ctx, "", "-b", addr, "-L", "-J", "-t", topic)
		if err != nil {
			return err
		}
		var md struct {
			Brokers []struct {
				ID   int32  `json:"id"`
				Name string `json:"name"`
			} `json:"brokers"`
			Topics []struct {
				Topic      string `json:"topic"`
				Err        string `json:"error"`
				Partitions []struct {
					Partition int32 `json:"partition"`
					Leader    int32 `json:"leader"`
				} `json:"partitions"`
			} `json:"topics"`
		}
		if err := json.Unmarshal([]byte(out), &md); err != nil {
			return fmt.Errorf("kcat -L -J: %w: %s", err, out)
		}
		if len(md.Brokers) != 1 || md.Brokers[0].Name != addr {
			return fmt.Errorf("kcat -L: brokers %+v, want one at %s", md.Brokers, addr)
		}
		if len(md.Topics) != 1 || md.Topics[0].Topic != topic || len(md.Topics[0].Partitions) != 3 {
			return fmt.Errorf("kcat -L: topics %+v, want %s with 3 partitions", md.Topics, topic)
		}
		for _, p := range md.Topics[0].Partitions {
			if p.Leader != md.Brokers[0].ID {
				return fmt.Errorf("kcat -L: partition %d led by %d", p.Partition, p.Leader)
			}
		}
		return nil
	})

	kcatHeaders := []testHeader{{Key: "h1", Value: []byte("v1")}, {Key: "empty", Value: []byte{}}}
	for _, codec := range allCodecs {
		name := scProduceConsume(codec)
		runScenario(t, c, name, func(ctx context.Context, t *testing.T) error {
			topic := topicName(c, name)
			if err := fxCreateTopic(ctx, addr, topic, 1, nil); err != nil {
				return err
			}
			// kcat sets headers per run (-H), not per line.
			want := textRecords(name, produceConsumeRecords, time.Time{})
			var in strings.Builder
			for i := range want {
				want[i].Headers = kcatHeaders
				if want[i].Key != nil {
					fmt.Fprintf(&in, "%s|", want[i].Key)
				}
				fmt.Fprintf(&in, "%s\n", want[i].Value)
			}
			from := time.Now()
			if _, _, err := runKcat(ctx, in.String(), "-b", addr, "-P", "-t", topic, "-p", "0", "-z", codec, "-K", "|",
				"-H", "h1=v1", "-H", "empty="); err != nil {
				return err
			}
			to := time.Now()
			out, _, err := runKcat(ctx, "", "-b", addr, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-Z", "-f", kcatFormat)
			if err != nil {
				return err
			}
			got, err := parseKcat(out)
			if err != nil {
				return err
			}
			if err := checkTimestampsBetween(want, got, from, to); err != nil {
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
		var in strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&in, "%s|v\n", k)
		}
		if _, _, err := runKcat(ctx, in.String(), "-b", addr, "-P", "-t", topic, "-K", "|", "-X", "partitioner=murmur2_random"); err != nil {
			return err
		}
		return fxCheckKeyPlacement(ctx, addr, topic, keys, keyPartitions)
	})

	consumeFrom := func(ctx context.Context, topic, offset string, n int) ([]testRecord, error) {
		out, _, err := runKcat(ctx, "", "-b", addr, "-C", "-t", topic, "-p", "0", "-o", offset, "-c", strconv.Itoa(n), "-e", "-Z", "-f", kcatFormat)
		if err != nil {
			return nil, err
		}
		return parseKcat(out)
	}

	runScenario(t, c, scConsumeFromOffset, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scConsumeFromOffset)
		recs, err := cliSeqTopic(ctx, addr, topic)
		if err != nil {
			return err
		}
		got, err := consumeFrom(ctx, topic, "4", seqRecords-4)
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
		got, err := consumeFrom(ctx, topic, fmt.Sprintf("s@%d", at), seqRecords-5)
		if err != nil {
			return err
		}
		return compareRecords(recs[5:], got, 5)
	})

	runScenario(t, c, scGroupCommitResume, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scGroupCommitResume)
		group := topic + ".group"
		recs, err := cliSeqTopic(ctx, addr, topic)
		if err != nil {
			return err
		}
		// Balanced consumer; offsets are stored as records are handed out
		// and committed when kcat closes after -c records.
		consume := func(n int) ([]testRecord, error) {
			out, _, err := runKcat(ctx, "", "-b", addr, "-G", group, topic, "-c", strconv.Itoa(n), "-Z", "-f", kcatFormat,
				"-X", "auto.offset.reset=earliest")
			if err != nil {
				return nil, err
			}
			return parseKcat(out)
		}
		got, err := consume(5)
		if err != nil {
			return fmt.Errorf("first consumer: %w", err)
		}
		if err := compareRecords(recs[:5], got, 0); err != nil {
			return fmt.Errorf("first consumer: %w", err)
		}
		if off, err := fxCommittedOffset(ctx, addr, group, topic, 0); err != nil || off != 5 {
			return fmt.Errorf("committed offset %d (%v), want 5", off, err)
		}
		got, err = consume(seqRecords - 5)
		if err != nil {
			return fmt.Errorf("second consumer: %w", err)
		}
		return compareRecords(recs[5:], got, 5)
	})

	runScenario(t, c, scErrUnknownTopic, func(ctx context.Context, t *testing.T) error {
		s2 := StartSamsa(t, "--override", "auto.create.topics.enable=false")
		out, stderr, err := runKcat(ctx, "v\n", "-b", s2.Addr, "-P", "-t", "missing-topic",
			"-X", "topic.metadata.propagation.max.ms=1000", "-X", "message.timeout.ms=10000")
		if err == nil {
			return errors.New("kcat -P to a missing topic succeeded")
		}
		if !strings.Contains(out+stderr, "Unknown topic or partition") {
			return fmt.Errorf("kcat did not report UNKNOWN_TOPIC_OR_PARTITION: %v", err)
		}
		return nil
	})

	runScenario(t, c, scErrMessageTooLarge, func(ctx context.Context, t *testing.T) error {
		topic := topicName(c, scErrMessageTooLarge)
		if err := fxCreateTopic(ctx, addr, topic, 1, map[string]string{"max.message.bytes": strconv.Itoa(smallMaxMessageBytes)}); err != nil {
			return err
		}
		out, stderr, err := runKcat(ctx, strings.Repeat("x", largeValueBytes)+"\n", "-b", addr, "-P", "-t", topic, "-p", "0",
			"-z", "none", "-X", "message.max.bytes=4194304")
		if err == nil {
			return errors.New("kcat -P of a record over max.message.bytes succeeded")
		}
		if !strings.Contains(out+stderr, "Broker: Message size too large") {
			return fmt.Errorf("kcat did not report the broker's MESSAGE_TOO_LARGE: %v", err)
		}
		return nil
	})
}
