package main

// The failover tool of the benchmark's cluster phase
// (cmd/samsa-benchcmp/cluster.go):
//
//	samsa-bench failover --brokers A,B,C --topic T --rate 500 \
//	    --ready-file F --kill-file K
//
// It produces --record-size byte records to an existing one-partition topic
// at a fixed --rate, acks=all and linger 0, and notes for every record when
// it was handed to the client and when its acknowledgement came. Once
// --warm of them are acknowledged it creates --ready-file. The caller then
// kills the partition's leader and writes --kill-file: two Unix times in
// nanoseconds, taken just before the kill and once the process was reaped.
//
// The failover time (kill_to_ack_ms) runs from the kill to the first
// acknowledgement of a record produced after the kill: the dead leader
// cannot have acknowledged such a record (an acks=all answer needs a
// follower's fetch, far longer than a SIGKILL takes to stop a process),
// whereas an answer it wrote just before it died may still be read from
// the socket after the kill. reap_ms is how long the killed process took
// to be reaped (a JVM's heap is unmapped then), for the record only.
// max_gap_ms is the longest silence between two acknowledgements of the
// run, the same outage seen from the producer alone.
//
// The client asks for metadata at most every 100 ms and retries every
// 50 ms, so that the figure is the broker side's (a new leader elected and
// announced) more than the client's backoff; both brokers get the same
// client. The run ends --after past the first such acknowledgement, or at
// --duration, and in any case at --timeout; the last line on stdout is
//
//	RESULT mode=failover rate=... records=... acked=... errors=... kill_to_ack_ms=... max_gap_ms=... reap_ms=...
//
// kill_to_ack_ms is -1 when there was no kill or no acknowledgement after it.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func init() { tools["failover"] = runFailoverTool }

type failoverConfig struct {
	brokers         []string
	topic           string
	rate            int
	recordSize      int
	warm            int
	after           time.Duration
	duration        time.Duration
	timeout         time.Duration
	deliveryTimeout time.Duration
	readyFile       string
	killFile        string
	idempotent      bool
}

func parseFailoverFlags(args []string) (*failoverConfig, error) {
	fs := flag.NewFlagSet("samsa-bench failover", flag.ContinueOnError)
	var (
		c       failoverConfig
		brokers string
	)
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated bootstrap brokers (the only addresses contacted)")
	fs.StringVar(&c.topic, "topic", "samsa-bench-failover", "an existing topic (one partition)")
	fs.IntVar(&c.rate, "rate", 500, "records per second")
	fs.IntVar(&c.recordSize, "record-size", 1024, "record value size in bytes")
	fs.IntVar(&c.warm, "warm", 0, "acknowledgements before --ready-file is created (default: one second's worth)")
	fs.DurationVar(&c.after, "after", time.Second, "how long to go on producing after the first acknowledgement past the kill")
	fs.DurationVar(&c.duration, "duration", 2*time.Minute, "produce at most this long")
	fs.DurationVar(&c.timeout, "timeout", 3*time.Minute, "hard limit for the whole run")
	fs.DurationVar(&c.deliveryTimeout, "delivery-timeout", 2*time.Minute, "a record not acknowledged within this long fails")
	fs.StringVar(&c.readyFile, "ready-file", "", "created once --warm records are acknowledged")
	fs.StringVar(&c.killFile, "kill-file", "", `read for "KILL_NS DEAD_NS" (Unix nanoseconds: before the kill, once the process was gone)`)
	fs.BoolVar(&c.idempotent, "idempotent", true, "idempotent producer (Kafka's default with acks=all)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c.brokers = splitList(brokers)
	switch {
	case len(c.brokers) == 0:
		return nil, errors.New("--brokers is empty")
	case c.rate < 1 || c.rate > 100_000:
		return nil, errors.New("--rate must be between 1 and 100000")
	case c.recordSize < 0:
		return nil, errors.New("--record-size must not be negative")
	case c.warm < 0 || c.after < 0:
		return nil, errors.New("--warm and --after must not be negative")
	case c.duration <= 0 || c.timeout <= 0 || c.deliveryTimeout <= 0:
		return nil, errors.New("--duration, --timeout and --delivery-timeout must be positive")
	case c.killFile == "":
		return nil, errors.New("--kill-file is needed")
	}
	if c.warm == 0 {
		c.warm = c.rate
	}
	return &c, nil
}

// parseKillFile reads "KILL_NS DEAD_NS"; ok is false while the file is
// absent or not complete yet.
func parseKillFile(data []byte) (killNs, deadNs int64, ok bool) {
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return 0, 0, false
	}
	k, err1 := strconv.ParseInt(f[0], 10, 64)
	d, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || k <= 0 || d < k {
		return 0, 0, false
	}
	return k, d, true
}

// ackEvent is one record: when it was produced and when it was answered
// (Unix nanoseconds), and whether the answer was an error.
type ackEvent struct {
	sent, answered int64
	failed         bool
}

type failoverStats struct {
	acked, failed int
	// killToAck: -1 when no record produced after the kill was
	// acknowledged.
	killToAck time.Duration
	maxGap    time.Duration
}

// failoverFigures computes the run's figures from its records and the
// kill's time (0: no kill).
func failoverFigures(evs []ackEvent, killNs int64) failoverStats {
	st := failoverStats{killToAck: -1}
	var acks []int64
	first := int64(-1)
	for _, e := range evs {
		if e.failed {
			st.failed++
			continue
		}
		st.acked++
		acks = append(acks, e.answered)
		if killNs > 0 && e.sent > killNs && (first < 0 || e.answered < first) {
			first = e.answered
		}
	}
	if first >= 0 {
		st.killToAck = time.Duration(first - killNs)
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i] < acks[j] })
	for i := 1; i < len(acks); i++ {
		if g := time.Duration(acks[i] - acks[i-1]); g > st.maxGap {
			st.maxGap = g
		}
	}
	return st
}

func runFailoverTool(ctx context.Context, args []string) error {
	c, err := parseFailoverFlags(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	opts := []kgo.Opt{
		kgo.SeedBrokers(c.brokers...),
		kgo.DefaultProduceTopic(c.topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(c.deliveryTimeout),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		// The whole outage's records fit in the buffer: Produce must
		// not block, or the fixed rate would stop with the leader.
		kgo.MaxBufferedRecords(c.rate*int(c.deliveryTimeout/time.Second+1) + 1000),
	}
	if !c.idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	value := make([]byte, c.recordSize)
	rand.New(rand.NewSource(1)).Read(value)

	var (
		mu        sync.Mutex
		evs       []ackEvent // guarded by mu
		acked     atomic.Int64
		killAt    atomic.Int64 // 0 until the kill file is read
		recovered atomic.Int64 // answer time of a record produced after killAt
		firstErr  firstError
		killNs    int64
		deadNs    int64
	)
	stopProgress := make(chan struct{})
	go progress("failover", &acked, stopProgress)
	fmt.Fprintf(os.Stderr, "failover: topic=%s rate=%d record_size=%d idempotent=%v brokers=%s\n",
		c.topic, c.rate, c.recordSize, c.idempotent, strings.Join(c.brokers, ","))

	interval := time.Second / time.Duration(c.rate)
	start := time.Now()
	deadline := start.Add(c.duration)
	next := start
	lastPoll := time.Time{}
	ready := c.readyFile == ""
	var sent int64
	for ctx.Err() == nil {
		now := time.Now()
		if now.After(deadline) {
			break
		}
		if rec := recovered.Load(); rec > 0 && now.UnixNano() > rec+int64(c.after) {
			break
		}
		if !ready && acked.Load() >= int64(c.warm) {
			if err := os.WriteFile(c.readyFile, []byte(strconv.FormatInt(now.UnixNano(), 10)+"\n"), 0o644); err != nil {
				return fmt.Errorf("--ready-file: %w", err)
			}
			ready = true
		}
		if killNs == 0 && now.Sub(lastPoll) >= 10*time.Millisecond {
			lastPoll = now
			if data, err := os.ReadFile(c.killFile); err == nil {
				if k, d, ok := parseKillFile(data); ok {
					killNs, deadNs = k, d
					killAt.Store(k)
					fmt.Fprintf(os.Stderr, "failover: leader killed %.1f ms ago\n", float64(now.UnixNano()-k)/1e6)
				}
			}
		}
		t := now.UnixNano()
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			at := time.Now().UnixNano()
			mu.Lock()
			evs = append(evs, ackEvent{sent: t, answered: at, failed: err != nil})
			mu.Unlock()
			if err != nil {
				firstErr.set(err)
				return
			}
			acked.Add(1)
			if k := killAt.Load(); k > 0 && t > k {
				recovered.CompareAndSwap(0, at)
			}
		})
		sent++
		// A fixed schedule; after a stall (Produce blocking) it starts
		// afresh rather than bursting to catch up.
		next = next.Add(interval)
		if lag := time.Since(next); lag > 100*time.Millisecond {
			next = time.Now()
		}
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	flushErr := cl.Flush(fctx)
	fcancel()
	close(stopProgress)

	mu.Lock()
	st := failoverFigures(evs, killNs)
	mu.Unlock()
	ms := func(d time.Duration) float64 {
		if d < 0 {
			return -1
		}
		return float64(d) / float64(time.Millisecond)
	}
	fmt.Printf("RESULT mode=failover rate=%d record_size=%d records=%d acked=%d errors=%d seconds=%.2f kill_to_ack_ms=%.1f max_gap_ms=%.1f reap_ms=%.1f\n",
		c.rate, c.recordSize, sent, st.acked, st.failed, time.Since(start).Seconds(), ms(st.killToAck), ms(st.maxGap),
		ms(time.Duration(deadNs-killNs)))
	switch {
	case killNs == 0:
		return fmt.Errorf("no kill in --kill-file %s before the run ended", c.killFile)
	case st.killToAck < 0:
		return fmt.Errorf("no record produced after the kill was acknowledged (first error: %v, flush: %v)", firstErr.get(), flushErr)
	}
	if st.failed > 0 {
		fmt.Fprintf(os.Stderr, "failover: %d records failed; first error: %v\n", st.failed, firstErr.get())
	}
	return nil
}
