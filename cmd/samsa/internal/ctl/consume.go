package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	register(&command{name: "consume", args: "TOPIC", short: "print a topic's records",
		long: `--offset says where to start: start (the oldest record), end (only new
records; the default), N (offset N), -N (N records before the end), or
@TIME (the first record at or after TIME, unix milliseconds or RFC 3339).
With --group the group's committed offsets win and --offset applies only
where it has none; the printed records are committed on exit.

--format is json (one object per line) or a template: %t topic, %p
partition, %o offset, %k key, %v value, %T timestamp (unix ms), %h headers
(k=v,...), %% a percent sign, \n and \t. The default is "%v\n".

It runs until --num records were printed, until the end of every partition
with --exit-at-end (-e), or until interrupted.`,
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.StringVar(&o.offset, "offset", "end", "where to start: start, end, N, -N or @TIME")
			fs.StringVar(&o.offset, "o", "end", "")
			fs.StringVar(&o.group, "group", "", "consume as this consumer group")
			fs.StringVar(&o.group, "g", "", "")
			fs.IntVar(&o.num, "num", 0, "stop after this many records")
			fs.IntVar(&o.num, "n", 0, "")
			fs.BoolVar(&o.exitAtEnd, "exit-at-end", false, "stop at the end of every partition")
			fs.BoolVar(&o.exitAtEnd, "e", false, "")
			fs.StringVar(&o.format, "format", `%v\n`, "json, or a template of %t %p %o %k %v %T %h")
			fs.StringVar(&o.format, "f", `%v\n`, "")
			fs.Var(&o.topics, "partitions", "only these partitions (comma-separated; not with --group)")
			fs.Var(&o.topics, "p", "")
		},
		run: consume})
}

// parseOffset parses an offset spec.
func parseOffset(spec string) (kgo.Offset, error) {
	switch spec {
	case "start", "oldest", "beginning":
		return kgo.NewOffset().AtStart(), nil
	case "end", "newest":
		return kgo.NewOffset().AtEnd(), nil
	}
	if ts, ok := strings.CutPrefix(spec, "@"); ok {
		if ms, err := strconv.ParseInt(ts, 10, 64); err == nil && ms >= 0 {
			return kgo.NewOffset().AfterMilli(ms), nil
		}
		if t, err := time.Parse(time.RFC3339, ts); err == nil {
			return kgo.NewOffset().AfterMilli(t.UnixMilli()), nil
		}
		return kgo.Offset{}, usagef("--offset %q: want @<unix ms> or @<RFC 3339 time>", spec)
	}
	n, err := strconv.ParseInt(spec, 10, 64)
	if err != nil {
		return kgo.Offset{}, usagef("--offset %q: want start, end, N, -N or @TIME", spec)
	}
	if n < 0 {
		return kgo.NewOffset().AtEnd().Relative(n), nil
	}
	return kgo.NewOffset().At(n), nil
}

// recordPrinter writes records in the --format.
type recordPrinter struct {
	json bool
	tmpl string
	w    *bufio.Writer
}

type jsonRecord struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp int64             `json:"timestamp"`
	Key       *string           `json:"key"`
	Value     *string           `json:"value"`
	Headers   map[string]string `json:"headers,omitempty"`
}

func text(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	if !utf8.ValidString(s) {
		s = strconv.Quote(s)
	}
	return &s
}

func (p *recordPrinter) print(r *kgo.Record) error {
	if p.json {
		jr := jsonRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(),
			Key: text(r.Key), Value: text(r.Value)}
		if len(r.Headers) > 0 {
			jr.Headers = map[string]string{}
			for _, h := range r.Headers {
				jr.Headers[h.Key] = string(h.Value)
			}
		}
		b, err := json.Marshal(jr)
		if err != nil {
			return err
		}
		p.w.Write(b)
		return p.w.WriteByte('\n')
	}
	f := p.tmpl
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			p.w.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 't':
			p.w.WriteString(r.Topic)
		case 'p':
			p.w.WriteString(strconv.Itoa(int(r.Partition)))
		case 'o':
			p.w.WriteString(strconv.FormatInt(r.Offset, 10))
		case 'k':
			p.w.Write(r.Key)
		case 'v':
			p.w.Write(r.Value)
		case 'T':
			p.w.WriteString(strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
		case 'h':
			for j, h := range r.Headers {
				if j > 0 {
					p.w.WriteByte(',')
				}
				p.w.WriteString(h.Key + "=" + string(h.Value))
			}
		default:
			p.w.WriteByte(f[i])
		}
	}
	return nil
}

func checkTemplate(f string) error {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if i+1 == len(f) || !strings.ContainsRune("tpokvTh%", rune(f[i+1])) {
			return usagef("--format %q: unknown verb at %q (want %%t %%p %%o %%k %%v %%T %%h or json)", f, f[i:])
		}
		i++
	}
	return nil
}

func consume(ctx context.Context, c *cmdCtx) error {
	if err := c.need(1, "topic"); err != nil {
		return err
	}
	topic := c.args[0]
	if _, err := parseOffset(c.o.offset); err != nil {
		return err
	}
	p := &recordPrinter{w: bufio.NewWriter(c.env.Stdout)}
	if c.o.format == "json" {
		p.json = true
	} else {
		p.tmpl = unescape(c.o.format)
		if err := checkTemplate(p.tmpl); err != nil {
			return err
		}
	}
	var parts []int32
	for _, list := range c.o.topics {
		for _, s := range strings.Split(list, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 0 {
				return usagef("--partitions %q: want partition numbers", list)
			}
			parts = append(parts, int32(n))
		}
	}
	if len(parts) > 0 && c.o.group != "" {
		return usagef("--partitions and --group do not go together (a group's partitions are assigned)")
	}
	if err := c.connect(); err != nil {
		return err
	}
	// Where each partition starts and ends, resolved here: the topic must
	// exist (a consumer of a missing topic would wait forever), and -e
	// knows from it which partitions have anything to read.
	mctx, cancel := c.withTimeout(ctx)
	pos, ends, err := c.resolveStart(mctx, topic, parts)
	cancel()
	if err != nil {
		return err
	}
	remaining := map[int32]int64{}
	for pt, at := range pos {
		if at < ends[pt] {
			remaining[pt] = ends[pt]
		}
	}
	opts := []kgo.Opt{kgo.SeedBrokers(strings.Split(c.o.brokers, ",")...), kgo.ClientID("samsa-cli"),
		kgo.FetchMaxWait(500 * time.Millisecond), kgo.RetryTimeout(c.o.timeout)}
	if c.o.group != "" {
		start, _ := parseOffset(c.o.offset)
		opts = append(opts, kgo.ConsumerGroup(c.o.group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start),
			kgo.DisableAutoCommit())
	} else {
		offs := map[int32]kgo.Offset{}
		for pt, at := range pos {
			offs[pt] = kgo.NewOffset().At(at)
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}))
	}
	cons, err := kgo.NewClient(opts...)
	if err != nil {
		return usagef("%v", err)
	}
	defer cons.Close()

	var printed []*kgo.Record
	n := 0
	done := func() bool {
		return (c.o.num > 0 && n >= c.o.num) || (c.o.exitAtEnd && len(remaining) == 0)
	}
	var runErr error
	for !done() {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			break
		}
		fs.EachError(func(t string, pt int32, err error) {
			if runErr == nil && !errors.Is(err, context.Canceled) {
				runErr = fmt.Errorf("fetch %s-%d: %w", t, pt, err)
			}
		})
		if runErr != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			if done() {
				return
			}
			if err := p.print(r); err != nil && runErr == nil {
				runErr = err
			}
			n++
			printed = append(printed, r)
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
		p.w.Flush()
	}
	p.w.Flush()
	if c.o.group != "" && len(printed) > 0 {
		cctx, cancel := context.WithTimeout(context.Background(), c.o.timeout)
		if err := cons.CommitRecords(cctx, printed...); err != nil && runErr == nil {
			runErr = fmt.Errorf("commit: %w", err)
		}
		cancel()
	}
	if runErr != nil {
		return reachErr(runErr, c.o.brokers)
	}
	return nil
}

// resolveStart returns the offset each partition starts at (for a group:
// its committed offset, else the spec's) and the partitions' end offsets.
func (c *cmdCtx) resolveStart(ctx context.Context, topic string, only []int32) (pos, ends map[int32]int64, err error) {
	details, err := c.adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, nil, reachErr(err, c.o.brokers)
	}
	d := details[topic]
	if d.Err != nil {
		return nil, nil, fmt.Errorf("topic %s: %w", topic, d.Err)
	}
	parts := only
	if len(parts) == 0 {
		for pt := range d.Partitions {
			parts = append(parts, pt)
		}
	}
	for _, pt := range parts {
		if _, ok := d.Partitions[pt]; !ok {
			return nil, nil, fmt.Errorf("topic %s: UNKNOWN_TOPIC_OR_PARTITION: no partition %d", topic, pt)
		}
	}
	starts, err := c.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, nil, reachErr(err, c.o.brokers)
	}
	endl, err := c.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, nil, reachErr(err, c.o.brokers)
	}
	var atTime kadm.ListedOffsets
	if ts, ok := strings.CutPrefix(c.o.offset, "@"); ok {
		ms, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil {
			t, _ := time.Parse(time.RFC3339, ts)
			ms = t.UnixMilli()
		}
		if atTime, err = c.adm.ListOffsetsAfterMilli(ctx, ms, topic); err != nil {
			return nil, nil, reachErr(err, c.o.brokers)
		}
	}
	var committed kadm.OffsetResponses
	if c.o.group != "" {
		if committed, err = c.adm.FetchOffsets(ctx, c.o.group); err != nil {
			return nil, nil, reachErr(err, c.o.brokers)
		}
	}
	pos, ends = map[int32]int64{}, map[int32]int64{}
	for _, pt := range parts {
		so, _ := starts.Lookup(topic, pt)
		eo, _ := endl.Lookup(topic, pt)
		if so.Err != nil || eo.Err != nil {
			return nil, nil, fmt.Errorf("offsets of %s-%d: %w", topic, pt, errors.Join(so.Err, eo.Err))
		}
		lo, hi := so.Offset, eo.Offset
		ends[pt] = hi
		if o, ok := committed.Lookup(topic, pt); ok && o.Err == nil && o.At >= 0 {
			pos[pt] = o.At
			continue
		}
		var at int64
		switch spec := c.o.offset; {
		case spec == "start" || spec == "oldest" || spec == "beginning":
			at = lo
		case spec == "end" || spec == "newest":
			at = hi
		case strings.HasPrefix(spec, "@"):
			at = hi
			if t, ok := atTime.Lookup(topic, pt); ok && t.Err == nil && t.Offset >= 0 {
				at = t.Offset
			}
		default:
			n, _ := strconv.ParseInt(spec, 10, 64)
			if n < 0 {
				at = hi + n
			} else {
				at = n
			}
		}
		pos[pt] = min(max(at, lo), hi)
	}
	return pos, ends, nil
}
