package main

// The load generators of samsa-benchcmp's scale phase
// (cmd/samsa-benchcmp/scale.go), one tool each (`samsa-bench TOOL flags`):
//
//	scale-create   create --topics topics of --partitions partitions each
//	               (replication 1), --batch topics per CreateTopics request,
//	               one request after the other, then poll Metadata until one
//	               answer lists every partition with a leader; create_ms is
//	               the first request to that answer
//	scale-ready    poll with Metadata of all topics, a new connection per
//	               attempt, until an answer lists all --topics x --partitions
//	               partitions of the --prefix topics, each with a leader and
//	               no error; ready_ms is counted from --since
//	scale-produce  one record to every partition of those topics (timed on
//	               its own), then a fixed --rate of records spread
//	               round-robin over all of them (acks=1); the achieved rate
//	               and ack latency percentiles
//	scale-conns    open --conns TCP connections that each send one
//	               ApiVersions request and then stay idle; VmRSS of the
//	               broker (--pid, this machine) before and with them open
//	scale-fanin    --producers separate franz-go clients (acks=all), each
//	               its share of a fixed total --rate to one topic, for
//	               --warmup unmeasured and then --duration; ack latency
//	               percentiles over all of them
//
// Topics are named <prefix><index>, index zero-padded to three digits.
// Every run is bounded by --timeout; the RESULT line comes last on stdout.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	tools["scale-create"] = runScaleCreate
	tools["scale-ready"] = runScaleReady
	tools["scale-produce"] = runScaleProduce
	tools["scale-conns"] = runScaleConns
	tools["scale-fanin"] = runScaleFanin
}

// scaleCommon are the flags every scale tool has.
type scaleCommon struct {
	brokers    string
	timeout    time.Duration
	prefix     string
	topics     int
	partitions int
}

func newScaleFlags(name string) (*flag.FlagSet, *scaleCommon) {
	fs := flag.NewFlagSet("samsa-bench "+name, flag.ContinueOnError)
	c := &scaleCommon{}
	fs.StringVar(&c.brokers, "brokers", "127.0.0.1:9092", "comma-separated bootstrap brokers (the only addresses contacted)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "hard limit for the whole run")
	fs.StringVar(&c.prefix, "prefix", "scale-", "topic name prefix")
	fs.IntVar(&c.topics, "topics", 100, "topics")
	fs.IntVar(&c.partitions, "partitions", 100, "partitions per topic")
	return fs, c
}

func (c *scaleCommon) check(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	case len(c.brokerList()) == 0:
		return errors.New("--brokers is empty")
	case c.timeout <= 0:
		return errors.New("--timeout must be positive")
	case c.topics < 1 || c.topics > 1000 || c.partitions < 1:
		return errors.New("--topics must be 1..1000 and --partitions at least 1")
	}
	return nil
}

func (c *scaleCommon) brokerList() []string { return splitList(c.brokers) }

func (c *scaleCommon) topicName(i int) string { return fmt.Sprintf("%s%03d", c.prefix, i) }

func scaleMsSince(t time.Time) float64 { return float64(time.Since(t)) / float64(time.Millisecond) }

// scaleListing is what one Metadata answer says of the --prefix topics.
type scaleListing struct {
	topics     int // topics named prefix*, without a topic-level error
	partitions int // their partitions
	led        int // of those, partitions with a leader and no error
}

// complete says whether the listing has exactly topics x partitions
// partitions, all led.
func (l scaleListing) complete(topics, partitions int) bool {
	want := topics * partitions
	return l.topics == topics && l.partitions == want && l.led == want
}

func listScale(resp *kmsg.MetadataResponse, prefix string) scaleListing {
	var l scaleListing
	for _, t := range resp.Topics {
		if t.Topic == nil || !strings.HasPrefix(*t.Topic, prefix) || t.ErrorCode != 0 {
			continue
		}
		l.topics++
		l.partitions += len(t.Partitions)
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 && p.Leader >= 0 {
				l.led++
			}
		}
	}
	return l
}

// scaleMetadataAll asks for every topic, creating none.
func scaleMetadataAll() *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.Topics = nil // null: all topics
	req.AllowAutoTopicCreation = false
	return req
}

// ---- scale-create -------------------------------------------------------------

func runScaleCreate(ctx context.Context, args []string) error {
	fs, c := newScaleFlags("scale-create")
	batch := fs.Int("batch", 10, "topics per CreateTopics request")
	pollEvery := fs.Duration("poll-interval", 50*time.Millisecond, "pause between Metadata listings once the topics are requested")
	stall := fs.Duration("stall", time.Minute, "give up when this long passes without one more partition listed with a leader")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(fs); err != nil {
		return err
	}
	if *batch < 1 || *pollEvery <= 0 || *stall <= 0 {
		return errors.New("--batch, --poll-interval and --stall must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokerList()...), kgo.RetryTimeout(c.timeout))
	if err != nil {
		return err
	}
	defer cl.Close()

	fmt.Fprintf(os.Stderr, "scale-create: %d topics x %d partitions, %d topics per request\n", c.topics, c.partitions, *batch)
	start := time.Now()
	requests := 0
	for i := 0; i < c.topics; i += *batch {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = int32(min(c.timeout, time.Minute) / time.Millisecond)
		for j := i; j < min(i+*batch, c.topics); j++ {
			t := kmsg.NewCreateTopicsRequestTopic()
			t.Topic = c.topicName(j)
			t.NumPartitions = int32(c.partitions)
			t.ReplicationFactor = 1
			req.Topics = append(req.Topics, t)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("CreateTopics (topics %d..%d): %w", i, i+len(req.Topics)-1, err)
		}
		requests++
		for _, t := range resp.Topics {
			if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				msg := ""
				if t.ErrorMessage != nil {
					msg = ": " + *t.ErrorMessage
				}
				return fmt.Errorf("creating %s: %w%s", t.Topic, err, msg)
			}
		}
	}
	requestedMS := scaleMsSince(start)
	fmt.Fprintf(os.Stderr, "scale-create: %d CreateTopics requests answered in %.0f ms\n", requests, requestedMS)

	var last scaleListing
	listings := 0
	progressed := time.Now()
	for {
		resp, err := scaleMetadataAll().RequestWith(ctx, cl)
		listings++
		if err == nil {
			l := listScale(resp, c.prefix)
			if l.complete(c.topics, c.partitions) {
				break
			}
			if l.led > last.led {
				progressed = time.Now()
			}
			last = l
		}
		var why string
		select {
		case <-ctx.Done():
			why = fmt.Sprintf("after %v", c.timeout)
		case <-time.After(*pollEvery):
			if time.Since(progressed) > *stall {
				why = fmt.Sprintf("no partition got a leader for %v", *stall)
			}
		}
		if why != "" {
			fmt.Printf("RESULT tool=scale-create topics=%d partitions=%d led=%d create_ms=-1\n", c.topics, c.topics*c.partitions, last.led)
			msg := fmt.Sprintf("%s: %d topics, %d partitions listed, %d with leaders (want %d)",
				why, last.topics, last.partitions, last.led, c.topics*c.partitions)
			if err != nil {
				msg += fmt.Sprintf("; last error: %v", err)
			}
			return errors.New(msg)
		}
	}
	fmt.Printf("RESULT tool=scale-create topics=%d partitions=%d requests=%d listings=%d requested_ms=%.1f create_ms=%.1f\n",
		c.topics, c.topics*c.partitions, requests, listings, requestedMS, scaleMsSince(start))
	return nil
}

// ---- scale-ready --------------------------------------------------------------

func runScaleReady(ctx context.Context, args []string) error {
	fs, c := newScaleFlags("scale-ready")
	since := fs.Int64("since", 0, "start time as Unix nanoseconds (default: when this tool started)")
	pollEvery := fs.Duration("poll-interval", 20*time.Millisecond, "pause between attempts")
	attemptTimeout := fs.Duration("attempt-timeout", 10*time.Second, "limit of one attempt (connect, Metadata, answer)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(fs); err != nil {
		return err
	}
	if *pollEvery <= 0 || *attemptTimeout <= 0 {
		return errors.New("--poll-interval and --attempt-timeout must be positive")
	}
	t0 := time.Now()
	if *since > 0 {
		t0 = time.Unix(0, *since)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	addr := c.brokerList()[0]
	var (
		attempts, answered int
		last               scaleListing
		lastErr            error
	)
	for {
		attempts++
		resp, err := scaleMetadataOnce(ctx, addr, *attemptTimeout)
		if err == nil {
			answered++
			last = listScale(resp, c.prefix)
			if last.complete(c.topics, c.partitions) {
				fmt.Printf("RESULT tool=scale-ready broker=%s attempts=%d answered=%d partitions=%d ready_ms=%.1f\n",
					addr, attempts, answered, last.partitions, scaleMsSince(t0))
				return nil
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			fmt.Printf("RESULT tool=scale-ready broker=%s attempts=%d answered=%d partitions=%d ready_ms=-1\n", addr, attempts, answered, last.partitions)
			return fmt.Errorf("not ready within --timeout: the last answer listed %d topics, %d partitions, %d with leaders (want %d); last error: %v",
				last.topics, last.partitions, last.led, c.topics*c.partitions, lastErr)
		case <-time.After(*pollEvery):
		}
	}
}

// scaleMetadataOnce asks addr for all topics on a new connection.
func scaleMetadataOnce(ctx context.Context, addr string, timeout time.Duration) (*kmsg.MetadataResponse, error) {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	resp, err := scaleRoundTrip(conn, scaleMetadataAll(), 1)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// scaleRoundTrip writes one request on conn and decodes its answer.
func scaleRoundTrip(conn net.Conn, req kmsg.Request, corr int32) (kmsg.Response, error) {
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("samsa-bench")).AppendRequest(nil, req, corr)
	if _, err := conn.Write(frame); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > 64<<20 {
		return nil, fmt.Errorf("response size %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, err
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	return resp, decodeScaleResponse(body, resp, corr)
}

// decodeScaleResponse decodes a response body (after the size): the header's
// correlation id, for flexible versions the header's tagged fields
// (ApiVersions excepted: its header is never flexible), then resp.
func decodeScaleResponse(body []byte, resp kmsg.Response, corr int32) error {
	if len(body) < 4 {
		return errors.New("short response")
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	if resp.IsFlexible() && resp.Key() != kmsg.ApiVersions.Int16() {
		var err error
		if body, err = scaleSkipTags(body); err != nil {
			return err
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		return fmt.Errorf("decoding %s response v%d: %w", kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	return nil
}

func scaleSkipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errors.New("bad tagged field count")
	}
	b = b[n:]
	for range count {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < size {
			return nil, errors.New("bad tagged field size")
		}
		b = b[n+int(size):]
	}
	return b, nil
}

// ---- scale-produce ------------------------------------------------------------

func runScaleProduce(ctx context.Context, args []string) error {
	fs, c := newScaleFlags("scale-produce")
	rate := fs.Int("rate", 2000, "records per second over all partitions")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	recordSize := fs.Int("record-size", 1024, "record value size in bytes")
	linger := fs.Duration("linger", 0, "producer linger")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(fs); err != nil {
		return err
	}
	if *rate < 1 || *duration <= 0 || *recordSize < 0 || *linger < 0 {
		return errors.New("--rate and --duration must be positive, --record-size and --linger not negative")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	// Every partition of every topic, in order; record i goes to the
	// (i mod n)'th, so each gets the same share.
	type tp struct {
		topic string
		part  int32
	}
	var targets []tp
	for i := range c.topics {
		for p := range c.partitions {
			targets = append(targets, tp{c.topicName(i), int32(p)})
		}
	}
	cfg := &config{brokers: c.brokerList(), acks: "1", linger: *linger, compression: "none", dial: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}
	opts := append(producerOpts(cfg), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxBufferedRecords(max(10_000, 2**rate)),
		// Longer than producerOpts' 30 s: a broker that falls behind shows
		// in the latencies and the achieved rate rather than as failures.
		kgo.RecordDeliveryTimeout(2*time.Minute))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	value := make([]byte, *recordSize)
	rand.New(rand.NewSource(1)).Read(value)

	// Not timed with the rest: one record to every partition, all at
	// once, so that the rate run is the steady state of a broker whose
	// partitions all hold data (a fresh one opens or creates files on the
	// first write, a JVM compiles meanwhile); how long until all are acked
	// is reported on its own.
	warm := time.Now()
	var firstErr firstError
	var warmFailed atomic.Int64
	for _, t := range targets {
		cl.Produce(ctx, &kgo.Record{Topic: t.topic, Partition: t.part, Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				warmFailed.Add(1)
				firstErr.set(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("first records: flush: %w", err)
	}
	if n := warmFailed.Load(); n > 0 {
		return fmt.Errorf("first records: %d of %d failed; first error: %w", n, len(targets), firstErr.get())
	}
	warmMS := scaleMsSince(warm)
	fmt.Fprintf(os.Stderr, "scale-produce: one record to each of %d partitions acked in %.0f ms\n", len(targets), warmMS)

	var (
		acked, failed atomic.Int64
		lat           latencies
	)
	stopProgress := make(chan struct{})
	go progress("scale-produce", &acked, stopProgress)
	fmt.Fprintf(os.Stderr, "scale-produce: %d partitions, %d records/s, %v, acks=1, record_size=%d\n", len(targets), *rate, *duration, *recordSize)
	start := time.Now()
	var sent int64
	tick := time.NewTicker(time.Millisecond)
	for ctx.Err() == nil {
		elapsed := time.Since(start)
		if elapsed >= *duration {
			break
		}
		for due := int64(elapsed.Seconds() * float64(*rate)); sent < due && ctx.Err() == nil; sent++ {
			t := targets[sent%int64(len(targets))]
			t0 := time.Now()
			cl.Produce(ctx, &kgo.Record{Topic: t.topic, Partition: t.part, Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
					firstErr.set(err)
					return
				}
				acked.Add(1)
				lat.add(time.Since(t0))
			})
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	tick.Stop()
	flushErr := cl.Flush(ctx)
	elapsed := time.Since(start)
	close(stopProgress)

	n := acked.Load()
	avg, p50, p99, p999, pmax := lat.summary()
	fmt.Printf("RESULT tool=scale-produce partitions=%d rate=%d first_records_ms=%.1f sent=%d records=%d errors=%d seconds=%.2f recps=%.1f lat_avg_ms=%.2f lat_p50_ms=%.2f lat_p99_ms=%.2f lat_p999_ms=%.2f lat_max_ms=%.2f\n",
		len(targets), *rate, warmMS, sent, n, failed.Load(), elapsed.Seconds(), float64(n)/elapsed.Seconds(), avg, p50, p99, p999, pmax)
	// Failed records are counted (errors=), not fatal: the achieved rate
	// leaves them out.
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "scale-produce: %d records failed; first error: %v\n", f, firstErr.get())
	}
	switch {
	case flushErr != nil:
		return fmt.Errorf("flush: %w", flushErr)
	case n == 0:
		return errors.New("no record was acknowledged")
	}
	return nil
}

// ---- scale-conns --------------------------------------------------------------

func runScaleConns(ctx context.Context, args []string) error {
	fs, c := newScaleFlags("scale-conns")
	conns := fs.Int("conns", 2000, "connections to open")
	pid := fs.Int("pid", 0, "the broker's process id on this machine, for VmRSS (0: not read)")
	settle := fs.Duration("settle", 3*time.Second, "wait after the last connection is answered before VmRSS is read again")
	parallel := fs.Int("parallel", 50, "connections being opened at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(fs); err != nil {
		return err
	}
	if *conns < 1 || *parallel < 1 || *settle < 0 {
		return errors.New("--conns and --parallel must be positive, --settle not negative")
	}
	if err := scaleRaiseNoFile(uint64(*conns) + 256); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	addr := c.brokerList()[0]

	var rss0 float64
	if *pid > 0 {
		v, err := scaleReadVmRSS(*pid)
		if err != nil {
			return err
		}
		rss0 = v
	}

	// Open them, each with its ApiVersions answered; a reader per
	// connection then notices if the broker closes it while idle.
	var (
		mu       sync.Mutex
		open     []net.Conn
		firstErr firstError
		closed   atomic.Int64
		closing  atomic.Bool
		wg       sync.WaitGroup
		readers  sync.WaitGroup
	)
	defer func() {
		closing.Store(true)
		mu.Lock()
		for _, cn := range open {
			cn.Close()
		}
		mu.Unlock()
		readers.Wait()
	}()
	start := time.Now()
	next := make(chan int)
	for range *parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cn, err := scaleIdleConn(ctx, addr, int32(i+1))
				if err != nil {
					firstErr.set(fmt.Errorf("connection %d: %w", i+1, err))
					continue
				}
				mu.Lock()
				open = append(open, cn)
				mu.Unlock()
				readers.Add(1)
				go func() {
					defer readers.Done()
					var b [1]byte
					if _, err := cn.Read(b[:]); err != nil && !closing.Load() {
						closed.Add(1)
					}
				}()
			}
		}()
	}
	for i := 0; i < *conns && ctx.Err() == nil && firstErr.get() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	openMS := scaleMsSince(start)
	mu.Lock()
	opened := len(open)
	mu.Unlock()
	if err := firstErr.get(); err != nil {
		fmt.Printf("RESULT tool=scale-conns conns=%d opened=%d rss_growth_kib_per_conn=-1\n", *conns, opened)
		return err
	}
	fmt.Fprintf(os.Stderr, "scale-conns: %d connections open and answered in %.0f ms; idle for %v\n", opened, openMS, *settle)
	if !scaleSleep(ctx, *settle) {
		return ctx.Err()
	}
	var rss1 float64
	if *pid > 0 {
		v, err := scaleReadVmRSS(*pid)
		if err != nil {
			return err
		}
		rss1 = v
	}
	fmt.Printf("RESULT tool=scale-conns conns=%d opened=%d closed_by_broker=%d open_ms=%.0f rss_before_kib=%.0f rss_open_kib=%.0f rss_growth_kib_per_conn=%.2f\n",
		*conns, opened, closed.Load(), openMS, rss0, rss1, (rss1-rss0)/float64(opened))
	if n := closed.Load(); n > 0 {
		return fmt.Errorf("the broker closed %d of the idle connections", n)
	}
	return nil
}

// scaleIdleConn connects and has one ApiVersions request answered.
func scaleIdleConn(ctx context.Context, addr string, corr int32) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	cn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = cn.SetDeadline(time.Now().Add(30 * time.Second))
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName = "samsa-bench"
	req.ClientSoftwareVersion = "1"
	resp, err := scaleRoundTrip(cn, req, corr)
	if err == nil {
		err = kerr.ErrorForCode(resp.(*kmsg.ApiVersionsResponse).ErrorCode)
	}
	if err != nil {
		cn.Close()
		return nil, err
	}
	_ = cn.SetDeadline(time.Time{})
	return cn, nil
}

// scaleRaiseNoFile raises the soft RLIMIT_NOFILE to the hard limit when it is
// below need, and fails when even the hard limit is.
func scaleRaiseNoFile(need uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	if l.Cur >= need {
		return nil
	}
	if l.Max < need {
		return fmt.Errorf("RLIMIT_NOFILE hard limit %d is below the %d file descriptors needed", l.Max, need)
	}
	l.Cur = l.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

// scaleReadVmRSS returns VmRSS of a process in KiB.
func scaleReadVmRSS(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return scaleParseVmRSS(data)
}

func scaleParseVmRSS(status []byte) (float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", sc.Text())
		}
		return strconv.ParseFloat(f[0], 64)
	}
	return 0, errors.New("no VmRSS line")
}

func scaleSleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// ---- scale-fanin --------------------------------------------------------------

func runScaleFanin(ctx context.Context, args []string) error {
	fs, c := newScaleFlags("scale-fanin")
	producers := fs.Int("producers", 200, "producer clients, each a kgo.Client of its own")
	rate := fs.Int("rate", 2000, "records per second, all producers together")
	duration := fs.Duration("duration", 10*time.Second, "how long to send, measured")
	warmup := fs.Duration("warmup", 0, "how long to send at the same rate before that, not measured")
	recordSize := fs.Int("record-size", 1024, "record value size in bytes")
	acks := fs.String("acks", "all", "producer acks: 1 or all")
	linger := fs.Duration("linger", 0, "producer linger")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(fs); err != nil {
		return err
	}
	switch {
	case *producers < 1 || *rate < 1 || *duration <= 0:
		return errors.New("--producers, --rate and --duration must be positive")
	case *acks != "1" && *acks != "all":
		return fmt.Errorf("--acks %q: want 1 or all", *acks)
	case *recordSize < 0 || *linger < 0 || *warmup < 0:
		return errors.New("--record-size, --linger and --warmup must not be negative")
	}
	// A few connections per client (metadata, produce).
	if err := scaleRaiseNoFile(uint64(*producers)*4 + 256); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	topic := c.topicName(0)
	dial := (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	cfg := &config{brokers: c.brokerList(), topic: topic, partitions: c.partitions, replication: 1, createTopic: true,
		acks: *acks, linger: *linger, compression: "none", dial: dial}
	parts, err := ensureTopic(ctx, cfg)
	if err != nil {
		return err
	}
	clients := make([]*kgo.Client, *producers)
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.Close()
			}
		}
	}()
	for i := range clients {
		opts := append(producerOpts(cfg), kgo.RecordDeliveryTimeout(2*time.Minute))
		if clients[i], err = kgo.NewClient(opts...); err != nil {
			return err
		}
	}
	value := make([]byte, *recordSize)
	rand.New(rand.NewSource(1)).Read(value)

	// Not measured: one record from each client, so that its connections,
	// metadata and (acks=all) producer id are in place before the clock.
	warm := time.Now()
	var warmErr firstError
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
				warmErr.set(err)
			}
		}()
	}
	wg.Wait()
	if err := warmErr.get(); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	fmt.Fprintf(os.Stderr, "scale-fanin: %d producers ready in %.0f ms; %d records/s in total to %s (%d partitions), acks=%s, %v unmeasured then %v\n",
		*producers, scaleMsSince(warm), *rate, topic, parts, *acks, *warmup, *duration)

	var (
		acked, failed, sent atomic.Int64
		warmFailed          atomic.Int64
		lat                 latencies
		firstErr            firstError
	)
	stopProgress := make(chan struct{})
	go progress("scale-fanin", &acked, stopProgress)
	// Producer i sends at rate/producers, its schedule shifted by i/producers
	// of its interval so that the sends spread over time. Records sent
	// before start (the --warmup) count nowhere.
	interval := time.Duration(float64(time.Second) * float64(*producers) / float64(*rate))
	begin := time.Now()
	start := begin.Add(*warmup)
	end := start.Add(*duration)
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			offset := time.Duration(int64(interval) * int64(i) / int64(*producers))
			for k := int64(0); ; k++ {
				at := begin.Add(offset + time.Duration(k)*interval)
				if !at.Before(end) || !scaleSleep(ctx, time.Until(at)) {
					return
				}
				t0 := time.Now()
				measured := !at.Before(start)
				if measured {
					sent.Add(1)
				}
				cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
					if !measured {
						if err != nil {
							warmFailed.Add(1)
						}
						return
					}
					if err != nil {
						failed.Add(1)
						firstErr.set(err)
						return
					}
					acked.Add(1)
					lat.add(time.Since(t0))
				})
			}
		}()
	}
	wg.Wait()
	var flushErr firstError
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cl.Flush(ctx); err != nil {
				flushErr.set(err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)

	n := acked.Load()
	avg, p50, p99, p999, pmax := lat.summary()
	fmt.Printf("RESULT tool=scale-fanin producers=%d partitions=%d acks=%s rate=%d warmup_s=%.1f warmup_errors=%d sent=%d records=%d errors=%d seconds=%.2f recps=%.1f lat_avg_ms=%.2f lat_p50_ms=%.2f lat_p99_ms=%.2f lat_p999_ms=%.2f lat_max_ms=%.2f\n",
		*producers, parts, *acks, *rate, warmup.Seconds(), warmFailed.Load(), sent.Load(), n, failed.Load(), elapsed.Seconds(), float64(n)/elapsed.Seconds(), avg, p50, p99, p999, pmax)
	// Failed records are counted (errors=), not fatal.
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "scale-fanin: %d records failed; first error: %v\n", f, firstErr.get())
	}
	switch {
	case flushErr.get() != nil:
		return fmt.Errorf("flush: %w", flushErr.get())
	case n == 0:
		return errors.New("no record was acknowledged")
	}
	return nil
}
