package ctl

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	register(&command{name: "produce", args: "TOPIC", short: "produce records read from stdin, one per line",
		long: `Each line of stdin is one record. --format says how a line splits into
key and value: %k is the key, %v the value, %p a partition number, anything
else must appear literally ("%k %v" splits at the first space, "%k\t%v" at a
tab). The default is "%v": the whole line is the value. --key sets the key
of every record that has none from the format.`,
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.StringVar(&o.key, "key", "", "key of every record")
			fs.StringVar(&o.key, "k", "", "")
			fs.Var(&o.headers, "header", "header KEY=VALUE on every record (repeatable)")
			fs.Var(&o.headers, "H", "")
			fs.StringVar(&o.format, "format", "%v", "how a line splits into key and value (%k, %v, %p)")
			fs.StringVar(&o.format, "f", "%v", "")
			fs.StringVar(&o.acks, "acks", "all", "acks: all, 1 or 0")
			fs.IntVar(&o.partition, "partition", -1, "produce to this partition (default: by key, else spread)")
			fs.IntVar(&o.partition, "p", -1, "")
		},
		run: produce})
}

// lineFormat is a parsed --format: literals between verbs.
type lineFormat struct {
	verbs    []byte   // 'k', 'v', 'p'
	literals []string // literals[i] precedes verbs[i]; one more at the end
}

func parseLineFormat(f string) (*lineFormat, error) {
	f = unescape(f)
	lf := &lineFormat{}
	var lit strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			lit.WriteByte(f[i])
			continue
		}
		if i+1 == len(f) {
			return nil, usagef("--format %q ends with %%", f)
		}
		i++
		switch f[i] {
		case '%':
			lit.WriteByte('%')
		case 'k', 'v', 'p':
			if len(lf.verbs) > 0 && lit.Len() == 0 {
				return nil, usagef("--format %q: two verbs need a separator between them", f)
			}
			lf.literals = append(lf.literals, lit.String())
			lit.Reset()
			lf.verbs = append(lf.verbs, f[i])
		default:
			return nil, usagef("--format %q: unknown verb %%%c (want %%k, %%v or %%p)", f, f[i])
		}
	}
	lf.literals = append(lf.literals, lit.String())
	return lf, nil
}

// unescape turns \t, \n and \\ into their characters.
func unescape(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\\`, `\`).Replace(s)
}

// parse splits line into its fields.
func (lf *lineFormat) parse(line string) (key, value *string, partition int, err error) {
	partition = -1
	rest := line
	for i, verb := range lf.verbs {
		if !strings.HasPrefix(rest, lf.literals[i]) {
			return nil, nil, 0, fmt.Errorf("line %q does not match the format: want %q", line, lf.literals[i])
		}
		rest = rest[len(lf.literals[i]):]
		var field string
		if next := lf.literals[i+1]; next == "" {
			field, rest = rest, ""
		} else if j := strings.Index(rest, next); j >= 0 {
			field, rest = rest[:j], rest[j:]
		} else {
			return nil, nil, 0, fmt.Errorf("line %q does not match the format: no %q after a field", line, next)
		}
		switch verb {
		case 'k':
			key = &field
		case 'v':
			value = &field
		case 'p':
			if _, err := fmt.Sscanf(field, "%d", &partition); err != nil || partition < 0 {
				return nil, nil, 0, fmt.Errorf("line %q: partition %q is not a number", line, field)
			}
		}
	}
	if rest != lf.literals[len(lf.literals)-1] {
		return nil, nil, 0, fmt.Errorf("line %q does not match the format", line)
	}
	return key, value, partition, nil
}

func produce(ctx context.Context, c *cmdCtx) error {
	if err := c.need(1, "topic"); err != nil {
		return err
	}
	lf, err := parseLineFormat(c.o.format)
	if err != nil {
		return err
	}
	headers, err := parseKV(c.o.headers, "--header")
	if err != nil {
		return err
	}
	var acks kgo.Acks
	switch c.o.acks {
	case "all", "-1":
		acks = kgo.AllISRAcks()
	case "1":
		acks = kgo.LeaderAck()
	case "0":
		acks = kgo.NoAck()
	default:
		return usagef("--acks %q: want all, 1 or 0", c.o.acks)
	}
	opts := []kgo.Opt{kgo.RequiredAcks(acks), kgo.DefaultProduceTopic(c.args[0]), kgo.RecordPartitioner(cliPartitioner()),
		kgo.ProduceRequestTimeout(c.o.timeout), kgo.RecordDeliveryTimeout(c.o.timeout)}
	if c.o.acks != "all" && c.o.acks != "-1" {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if err := c.connect(opts...); err != nil {
		return err
	}
	topic := c.args[0]
	if c.o.partition >= 0 || strings.Contains(c.o.format, "%p") {
		// A named partition must exist: the partitioner cannot refuse.
		mctx, cancel := c.withTimeout(ctx)
		details, err := c.adm.ListTopics(mctx, topic)
		cancel()
		if err != nil {
			return reachErr(err, c.o.brokers)
		}
		d := details[topic]
		if d.Err != nil {
			return fmt.Errorf("topic %s: %w", topic, d.Err)
		}
		c.parts = len(d.Partitions)
		if c.o.partition >= c.parts {
			return fmt.Errorf("topic %s: UNKNOWN_TOPIC_OR_PARTITION: it has %d partitions, no partition %d", topic, c.parts, c.o.partition)
		}
	}
	sc := bufio.NewScanner(c.env.Stdin)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var firstErr error
	n := 0
	results := make(chan error, 1024)
	pending := 0
	drain := func(block bool) {
		for pending > 0 {
			var err error
			if block {
				err = <-results
			} else {
				select {
				case err = <-results:
				default:
					return
				}
			}
			pending--
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	for sc.Scan() {
		key, value, part, err := lf.parse(sc.Text())
		if err != nil {
			drain(true)
			return usagef("%v", err)
		}
		rec := &kgo.Record{Topic: topic, Partition: int32(c.o.partition)}
		if part >= 0 {
			if part >= c.parts {
				drain(true)
				return fmt.Errorf("topic %s: UNKNOWN_TOPIC_OR_PARTITION: it has %d partitions, no partition %d", topic, c.parts, part)
			}
			rec.Partition = int32(part)
		}
		if key != nil {
			rec.Key = []byte(*key)
		} else if c.o.key != "" {
			rec.Key = []byte(c.o.key)
		}
		if value != nil {
			rec.Value = []byte(*value)
		} else {
			rec.Value = []byte{}
		}
		for k, v := range headers {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		pending++
		n++
		c.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) { results <- err })
		if pending >= cap(results)-1 {
			drain(true)
		}
		drain(false)
		if firstErr != nil {
			break
		}
	}
	if err := c.cl.Flush(ctx); err != nil && firstErr == nil {
		firstErr = err
	}
	drain(true)
	if err := sc.Err(); err != nil && firstErr == nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	if firstErr != nil {
		return fmt.Errorf("topic %s: %w", topic, reachErr(firstErr, c.o.brokers))
	}
	fmt.Fprintf(c.env.Stderr, "produced %d records to %s\n", n, topic)
	return nil
}

// cliPartitioner sends a record to the partition it names, else by key as
// Kafka's default partitioner does, else spreads them.
func cliPartitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		keyed := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
		next := 0
		return func(r *kgo.Record, n int) int {
			if r.Partition >= 0 {
				return int(r.Partition)
			}
			if r.Key != nil {
				return keyed.Partition(r, n)
			}
			next++
			return next % n
		}
	})
}
