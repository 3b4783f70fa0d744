// Command samsa-bench is a load generator for samsa (or any Kafka broker)
// built on franz-go.
//
// Modes:
//
//	produce  send --record-size byte records as fast as the broker acks them;
//	         reports records/s, MiB/s and ack latency percentiles
//	consume  read --records records (default: everything present at start)
//	         from the start of every partition; reports records/s and MiB/s
//	e2e      produce at a fixed --rate and consume the same records; reports
//	         end-to-end latency (produce call -> consumer poll) p50/p99/p99.9
//	txn      transactions of --txn-records records each (acks=all, one
//	         transactional id), one after the other as fast as they
//	         commit; every --abort-every'th is aborted instead; reports
//	         transactions/s, records/s and begin-to-committed latency
//	ready    poll the first of --brokers with ApiVersions (a new connection
//	         every --poll-interval) until one is answered without error;
//	         reports the time since --since (a Unix time in nanoseconds,
//	         e.g. taken just before the broker process was started)
//
// Every run is bounded: by --duration and/or --records, and in any case by
// --timeout. It talks only to --brokers (default 127.0.0.1:9092).
//
// Progress goes to stderr; the last line on stdout is one line that scripts
// parse:
//
//	RESULT mode=produce acks=1 partitions=8 record_size=1024 records=... recps=... MBps=... ...
//
// MBps is MiB/s of record values (key+value when consuming), computed like
// kafka-producer-perf-test so the numbers compare.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type config struct {
	brokers     []string
	topic       string
	partitions  int
	replication int
	recordSize  int
	acks        string
	duration    time.Duration
	records     int64
	createTopic bool
	mode        string
	rate        int
	timeout     time.Duration
	compression string
	linger      time.Duration
	since       int64
	pollEvery   time.Duration
	txnRecords  int
	abortEvery  int
	isolation   string // consume: uncommitted or committed
	// dial connects to a broker: plain TCP, or TLS with --tls-ca.
	dial func(ctx context.Context, network, host string) (net.Conn, error)
}

const mib = 1024 * 1024

// tools are the load generators of the benchmark's phases, each in a file
// of its own that registers it in init: `samsa-bench TOOL [flags]` runs
// one with its own flags (and its own RESULT line).
var tools = map[string]func(ctx context.Context, args []string) error{}

func main() {
	if len(os.Args) > 1 {
		if tool, ok := tools[os.Args[1]]; ok {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			err := tool(ctx, os.Args[2:])
			stop()
			if err != nil {
				fmt.Fprintf(os.Stderr, "samsa-bench %s: %v\n", os.Args[1], err)
				os.Exit(1)
			}
			return
		}
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "samsa-bench:", err)
		os.Exit(2)
	}
	// --timeout bounds the whole run, whatever else happens; Ctrl-C and
	// SIGTERM end it early (the result so far is still printed).
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var runErr error
	switch cfg.mode {
	case "produce":
		runErr = runProduce(ctx, cfg)
	case "consume":
		runErr = runConsume(ctx, cfg)
	case "e2e":
		runErr = runE2E(ctx, cfg)
	case "txn":
		runErr = runTxn(ctx, cfg)
	case "ready":
		runErr = runReady(ctx, cfg)
	}
	if runErr != nil {
		fmt.Fprintln(os.Stderr, "samsa-bench:", runErr)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("samsa-bench", flag.ContinueOnError)
	var (
		cfg     config
		brokers string
	)
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated bootstrap brokers (the only addresses contacted)")
	fs.StringVar(&cfg.topic, "topic", "samsa-bench", "topic")
	fs.IntVar(&cfg.partitions, "partitions", 8, "partitions when creating the topic")
	fs.IntVar(&cfg.replication, "replication-factor", 1, "replication factor when creating the topic")
	fs.IntVar(&cfg.recordSize, "record-size", 1024, "record value size in bytes (e2e: at least 8)")
	fs.StringVar(&cfg.acks, "acks", "1", "producer acks: 0, 1 or all (all is idempotent)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to produce/consume (0: until --records)")
	fs.Int64Var(&cfg.records, "records", 0, "stop after this many records (0: until --duration; consume: everything present at start)")
	fs.BoolVar(&cfg.createTopic, "create-topic", true, "create the topic first (an existing topic is used as it is)")
	fs.StringVar(&cfg.mode, "mode", "produce", "produce, consume, e2e, txn or ready")
	fs.IntVar(&cfg.txnRecords, "txn-records", 10, "txn: records per transaction")
	fs.IntVar(&cfg.abortEvery, "abort-every", 0, "txn: abort every this many transactions instead of committing them (0: none)")
	fs.StringVar(&cfg.isolation, "isolation", "uncommitted", "consume: read_uncommitted (uncommitted) or read_committed (committed)")
	fs.IntVar(&cfg.rate, "rate", 1000, "e2e: records per second")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "hard limit for the whole run")
	fs.StringVar(&cfg.compression, "compression", "none", "producer compression: none, gzip, snappy, lz4, zstd")
	fs.DurationVar(&cfg.linger, "linger", -1, "producer linger (default: 5ms for produce, 0 for e2e)")
	fs.Int64Var(&cfg.since, "since", 0, "ready: start time as Unix nanoseconds (default: when samsa-bench started)")
	fs.DurationVar(&cfg.pollEvery, "poll-interval", 2*time.Millisecond, "ready: pause between attempts")
	tlsCA := fs.String("tls-ca", "", "connect with TLS, trusting the CA certificates of this PEM file (an SSL listener)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	cfg.brokers = splitList(brokers)
	switch {
	case len(cfg.brokers) == 0:
		return nil, errors.New("--brokers is empty")
	case cfg.mode != "produce" && cfg.mode != "consume" && cfg.mode != "e2e" && cfg.mode != "txn" && cfg.mode != "ready":
		return nil, fmt.Errorf("--mode %q: want produce, consume, e2e, txn or ready", cfg.mode)
	case cfg.txnRecords < 1 || cfg.abortEvery < 0:
		return nil, errors.New("--txn-records must be at least 1 and --abort-every at least 0")
	case cfg.isolation != "uncommitted" && cfg.isolation != "committed":
		return nil, fmt.Errorf("--isolation %q: want uncommitted or committed", cfg.isolation)
	case cfg.acks != "0" && cfg.acks != "1" && cfg.acks != "all" && cfg.acks != "-1":
		return nil, fmt.Errorf("--acks %q: want 0, 1 or all", cfg.acks)
	case cfg.recordSize < 0 || (cfg.mode == "e2e" && cfg.recordSize < 8):
		return nil, fmt.Errorf("--record-size %d too small", cfg.recordSize)
	case cfg.partitions < 1:
		return nil, errors.New("--partitions must be at least 1")
	case cfg.timeout <= 0:
		return nil, errors.New("--timeout must be positive")
	case cfg.mode == "e2e" && cfg.rate <= 0:
		return nil, errors.New("--rate must be positive")
	case cfg.mode == "ready" && cfg.pollEvery <= 0:
		return nil, errors.New("--poll-interval must be positive")
	case cfg.mode != "consume" && cfg.mode != "ready" && cfg.duration <= 0 && cfg.records <= 0:
		return nil, errors.New("set --duration or --records: every run is bounded")
	}
	if cfg.acks == "-1" {
		cfg.acks = "all"
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	cfg.dial = d.DialContext
	if *tlsCA != "" {
		ca, err := os.ReadFile(*tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate", *tlsCA)
		}
		td := &tls.Dialer{NetDialer: d, Config: &tls.Config{RootCAs: pool}}
		cfg.dial = td.DialContext
	}
	if cfg.linger < 0 {
		cfg.linger = 5 * time.Millisecond
		if cfg.mode == "e2e" {
			cfg.linger = 0
		}
	}
	if _, err := codec(cfg.compression); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// splitList is a comma-separated list (--brokers), blanks dropped.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", name)
}

func producerOpts(cfg *config) []kgo.Opt {
	c, _ := codec(cfg.compression)
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.brokers...), kgo.Dialer(cfg.dial),
		kgo.DefaultProduceTopic(cfg.topic),
		kgo.ProducerLinger(cfg.linger),
		kgo.ProducerBatchCompression(c),
		kgo.RecordDeliveryTimeout(30 * time.Second),
	}
	switch cfg.acks {
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	}
	return opts
}

// ensureTopic creates the topic if asked and returns its partition count.
func ensureTopic(ctx context.Context, cfg *config) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.brokers...), kgo.Dialer(cfg.dial))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if cfg.createTopic {
		_, err := adm.CreateTopic(ctx, int32(cfg.partitions), int16(cfg.replication), nil, cfg.topic)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return 0, fmt.Errorf("creating topic %s: %w", cfg.topic, err)
		}
	}
	// The topic's metadata may take a moment to reach every broker.
	for {
		topics, err := adm.ListTopics(ctx, cfg.topic)
		if err == nil {
			if td, ok := topics[cfg.topic]; ok && td.Err == nil && len(td.Partitions) > 0 {
				if cfg.createTopic && len(td.Partitions) != cfg.partitions {
					fmt.Fprintf(os.Stderr, "samsa-bench: topic %s exists with %d partitions (asked for %d); using it\n", cfg.topic, len(td.Partitions), cfg.partitions)
				}
				return len(td.Partitions), nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("topic %s not available: %v", cfg.topic, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// latencies collects durations from concurrent callbacks.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// summary returns avg, p50, p99, p99.9 and max in milliseconds.
func (l *latencies) summary() (avg, p50, p99, p999, pmax float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	var sum time.Duration
	for _, d := range l.d {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	q := func(f float64) float64 { return ms(l.d[int(f*float64(len(l.d)-1))]) }
	return ms(sum / time.Duration(len(l.d))), q(0.50), q(0.99), q(0.999), ms(l.d[len(l.d)-1])
}

// progress prints a line to stderr every second until stop is closed.
func progress(what string, count *atomic.Int64, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last, lastT := int64(0), time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			n := count.Load()
			fmt.Fprintf(os.Stderr, "%s: %d records, %.0f rec/s\n", what, n, float64(n-last)/now.Sub(lastT).Seconds())
			last, lastT = n, now
		}
	}
}

func runProduce(ctx context.Context, cfg *config) error {
	parts, err := ensureTopic(ctx, cfg)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(producerOpts(cfg)...)
	if err != nil {
		return err
	}
	defer cl.Close()

	value := make([]byte, cfg.recordSize)
	rand.New(rand.NewSource(1)).Read(value) // incompressible, like perf-test's random payload

	var (
		acked, failed atomic.Int64
		lat           latencies
		firstErr      firstError
	)
	stopProgress := make(chan struct{})
	go progress("produce", &acked, stopProgress)

	fmt.Fprintf(os.Stderr, "produce: topic=%s partitions=%d acks=%s record_size=%d duration=%v records=%d brokers=%s\n",
		cfg.topic, parts, cfg.acks, cfg.recordSize, cfg.duration, cfg.records, strings.Join(cfg.brokers, ","))
	start := time.Now()
	var deadline time.Time
	if cfg.duration > 0 {
		deadline = start.Add(cfg.duration)
	}
	var sent int64
	for (cfg.records <= 0 || sent < cfg.records) && ctx.Err() == nil {
		if !deadline.IsZero() && sent%64 == 0 && time.Now().After(deadline) {
			break
		}
		// Timestamp left zero: kgo stamps it when the record is buffered,
		// so the promise sees the send-to-ack latency.
		cl.Produce(ctx, &kgo.Record{Value: value}, func(r *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				firstErr.set(err)
				return
			}
			acked.Add(1)
			lat.add(time.Since(r.Timestamp))
		})
		sent++
	}
	flushErr := cl.Flush(ctx)
	elapsed := time.Since(start)
	close(stopProgress)

	n := acked.Load()
	secs := elapsed.Seconds()
	avg, p50, p99, p999, pmax := lat.summary()
	fmt.Printf("RESULT mode=produce acks=%s partitions=%d record_size=%d compression=%s records=%d errors=%d seconds=%.2f recps=%.0f MBps=%.2f lat_avg_ms=%.2f lat_p50_ms=%.2f lat_p99_ms=%.2f lat_p999_ms=%.2f lat_max_ms=%.2f\n",
		cfg.acks, parts, cfg.recordSize, cfg.compression, n, failed.Load(), secs,
		float64(n)/secs, float64(n)*float64(cfg.recordSize)/mib/secs, avg, p50, p99, p999, pmax)

	if flushErr != nil {
		return fmt.Errorf("flush: %w", flushErr)
	}
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d records failed; first error: %v", f, firstErr.get())
	}
	if n == 0 {
		return errors.New("no record was acknowledged")
	}
	return nil
}

func runConsume(ctx context.Context, cfg *config) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.brokers...), kgo.Dialer(cfg.dial))
	if err != nil {
		return err
	}
	adm := kadm.NewClient(cl)
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	starts, err := adm.ListStartOffsets(lctx, cfg.topic)
	if err == nil {
		err = starts.Error()
	}
	var ends kadm.ListedOffsets
	if err == nil {
		ends, err = adm.ListEndOffsets(lctx, cfg.topic)
		if err == nil {
			err = ends.Error()
		}
	}
	cancel()
	cl.Close()
	if err != nil {
		return fmt.Errorf("listing offsets of %s: %w", cfg.topic, err)
	}
	offsets := make(map[int32]kgo.Offset)
	var available int64
	ends.Each(func(lo kadm.ListedOffset) {
		offsets[lo.Partition] = kgo.NewOffset().AtStart()
		if so, ok := starts.Lookup(cfg.topic, lo.Partition); ok {
			available += lo.Offset - so.Offset
		}
	})
	if len(offsets) == 0 {
		return fmt.Errorf("topic %s has no partitions", cfg.topic)
	}
	target := available
	if cfg.records > 0 {
		target = cfg.records
	}
	if target == 0 {
		return fmt.Errorf("topic %s is empty", cfg.topic)
	}

	ccl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.brokers...), kgo.Dialer(cfg.dial),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.topic: offsets}),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.FetchIsolationLevel(isolationLevel(cfg.isolation)),
	)
	if err != nil {
		return err
	}
	defer ccl.Close()

	if cfg.duration > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, cfg.duration)
		defer c()
	}
	fmt.Fprintf(os.Stderr, "consume: topic=%s partitions=%d target=%d records (available at start: %d)\n", cfg.topic, len(offsets), target, available)

	var count atomic.Int64
	stopProgress := make(chan struct{})
	go progress("consume", &count, stopProgress)
	var bytes int64
	var fetchErr error
	start := time.Now()
	for count.Load() < target {
		fetches := ccl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(_ string, _ int32, err error) {
			if fetchErr == nil {
				fetchErr = err
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			bytes += int64(len(r.Key) + len(r.Value))
			count.Add(1)
		})
	}
	elapsed := time.Since(start)
	close(stopProgress)

	n := count.Load()
	secs := elapsed.Seconds()
	fmt.Printf("RESULT mode=consume isolation=%s partitions=%d records=%d bytes=%d seconds=%.2f recps=%.0f MBps=%.2f\n",
		cfg.isolation, len(offsets), n, bytes, secs, float64(n)/secs, float64(bytes)/mib/secs)
	if n < target {
		if fetchErr != nil {
			return fmt.Errorf("read %d of %d records before the time limit; first fetch error: %w", n, target, fetchErr)
		}
		return fmt.Errorf("read %d of %d records before the time limit", n, target)
	}
	return nil
}

func isolationLevel(name string) kgo.IsolationLevel {
	if name == "committed" {
		return kgo.ReadCommitted()
	}
	return kgo.ReadUncommitted()
}

// runTxn runs transactions one after the other: begin, --txn-records
// records, flush, commit (or abort), as a transactional producer does.
func runTxn(ctx context.Context, cfg *config) error {
	parts, err := ensureTopic(ctx, cfg)
	if err != nil {
		return err
	}
	opts := producerOpts(&config{brokers: cfg.brokers, topic: cfg.topic, linger: cfg.linger, compression: cfg.compression, acks: "all", dial: cfg.dial})
	opts = append(opts, kgo.TransactionalID(fmt.Sprintf("samsa-bench-%d", time.Now().UnixNano())),
		kgo.TransactionTimeout(60*time.Second))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	value := make([]byte, cfg.recordSize)
	rand.New(rand.NewSource(1)).Read(value)
	var (
		committed     atomic.Int64 // records
		txns, aborted int64
		lat           latencies
		firstErr      firstError
	)
	stopProgress := make(chan struct{})
	go progress("txn", &committed, stopProgress)
	fmt.Fprintf(os.Stderr, "txn: topic=%s partitions=%d txn_records=%d record_size=%d abort_every=%d duration=%v records=%d\n",
		cfg.topic, parts, cfg.txnRecords, cfg.recordSize, cfg.abortEvery, cfg.duration, cfg.records)
	start := time.Now()
	var deadline time.Time
	if cfg.duration > 0 {
		deadline = start.Add(cfg.duration)
	}
	var runErr error
	for ctx.Err() == nil && (cfg.records <= 0 || committed.Load() < cfg.records) && (deadline.IsZero() || time.Now().Before(deadline)) {
		t0 := time.Now()
		if err := cl.BeginTransaction(); err != nil {
			runErr = fmt.Errorf("begin: %w", err)
			break
		}
		for range cfg.txnRecords {
			cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					firstErr.set(err)
				}
			})
		}
		abort := cfg.abortEvery > 0 && (txns+aborted+1)%int64(cfg.abortEvery) == 0
		if err := cl.Flush(ctx); err != nil {
			runErr = fmt.Errorf("flush: %w", err)
			break
		}
		if err := firstErr.get(); err != nil {
			runErr = fmt.Errorf("produce: %w", err)
			break
		}
		commit := kgo.TryCommit
		if abort {
			commit = kgo.TryAbort
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			runErr = fmt.Errorf("end transaction: %w", err)
			break
		}
		if abort {
			aborted++
			continue
		}
		lat.add(time.Since(t0))
		txns++
		committed.Add(int64(cfg.txnRecords))
	}
	elapsed := time.Since(start)
	close(stopProgress)
	secs := elapsed.Seconds()
	n := committed.Load()
	avg, p50, p99, p999, pmax := lat.summary()
	fmt.Printf("RESULT mode=txn partitions=%d txn_records=%d record_size=%d txns=%d aborted=%d records=%d seconds=%.2f txnps=%.1f recps=%.0f lat_avg_ms=%.2f lat_p50_ms=%.2f lat_p99_ms=%.2f lat_p999_ms=%.2f lat_max_ms=%.2f\n",
		parts, cfg.txnRecords, cfg.recordSize, txns, aborted, n, secs, float64(txns+aborted)/secs, float64(n)/secs, avg, p50, p99, p999, pmax)
	if runErr != nil {
		return runErr
	}
	if txns == 0 {
		return errors.New("no transaction committed")
	}
	return nil
}

func runE2E(ctx context.Context, cfg *config) error {
	parts, err := ensureTopic(ctx, cfg)
	if err != nil {
		return err
	}
	// The consumer starts at the current end of every partition so it sees
	// exactly the records this run produces.
	acl, err := kgo.NewClient(kgo.SeedBrokers(cfg.brokers...), kgo.Dialer(cfg.dial))
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	ends, err := kadm.NewClient(acl).ListEndOffsets(lctx, cfg.topic)
	if err == nil {
		err = ends.Error()
	}
	cancel()
	acl.Close()
	if err != nil {
		return fmt.Errorf("listing end offsets of %s: %w", cfg.topic, err)
	}
	offsets := make(map[int32]kgo.Offset)
	ends.Each(func(lo kadm.ListedOffset) { offsets[lo.Partition] = kgo.NewOffset().At(lo.Offset) })

	ccl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.brokers...), kgo.Dialer(cfg.dial),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.topic: offsets}),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer ccl.Close()
	pcl, err := kgo.NewClient(producerOpts(cfg)...)
	if err != nil {
		return err
	}
	defer pcl.Close()

	var (
		lat               latencies
		received          atomic.Int64
		acked, failed     atomic.Int64
		firstErr          firstError
		consumerCtx, stop = context.WithCancel(ctx)
		consumerDone      = make(chan struct{})
	)
	defer stop()
	go func() {
		defer close(consumerDone)
		for {
			fetches := ccl.PollFetches(consumerCtx)
			if consumerCtx.Err() != nil {
				return
			}
			now := time.Now()
			fetches.EachRecord(func(r *kgo.Record) {
				if len(r.Value) >= 8 {
					sent := int64(0)
					for i := 0; i < 8; i++ {
						sent = sent<<8 | int64(r.Value[i])
					}
					lat.add(now.Sub(time.Unix(0, sent)))
				}
				received.Add(1)
			})
		}
	}()

	stopProgress := make(chan struct{})
	go progress("e2e", &received, stopProgress)
	fmt.Fprintf(os.Stderr, "e2e: topic=%s partitions=%d acks=%s rate=%d/s record_size=%d duration=%v records=%d\n",
		cfg.topic, parts, cfg.acks, cfg.rate, cfg.recordSize, cfg.duration, cfg.records)

	start := time.Now()
	var sent int64
	tick := time.NewTicker(time.Millisecond)
	for ctx.Err() == nil && (cfg.records <= 0 || sent < cfg.records) {
		elapsed := time.Since(start)
		if cfg.duration > 0 && elapsed >= cfg.duration {
			break
		}
		due := int64(elapsed.Seconds() * float64(cfg.rate))
		for sent < due && (cfg.records <= 0 || sent < cfg.records) {
			v := make([]byte, cfg.recordSize)
			ts := time.Now().UnixNano()
			for i := 7; i >= 0; i-- {
				v[i] = byte(ts)
				ts >>= 8
			}
			pcl.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
					firstErr.set(err)
					return
				}
				acked.Add(1)
			})
			sent++
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	tick.Stop()
	flushErr := pcl.Flush(ctx)
	// Give the consumer a bounded grace period to catch up; it may be
	// blocked in a poll with nothing left to fetch, so stop it from here.
	grace := time.Now().Add(10 * time.Second)
	for received.Load() < acked.Load() && time.Now().Before(grace) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-consumerDone
	close(stopProgress)

	_, p50, p99, p999, pmax := lat.summary()
	n, a := received.Load(), acked.Load()
	fmt.Printf("RESULT mode=e2e acks=%s partitions=%d record_size=%d rate=%d produced=%d errors=%d records=%d missing=%d p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f\n",
		cfg.acks, parts, cfg.recordSize, cfg.rate, a, failed.Load(), n, max64(a-n, 0), p50, p99, p999, pmax)

	switch {
	case flushErr != nil:
		return fmt.Errorf("flush: %w", flushErr)
	case failed.Load() > 0:
		return fmt.Errorf("%d records failed; first error: %v", failed.Load(), firstErr.get())
	case n < a:
		return fmt.Errorf("consumed %d of %d acknowledged records", n, a)
	case a == 0:
		return errors.New("no record was acknowledged")
	}
	return nil
}

// firstError keeps the first error reported by concurrent callbacks.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
