package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Java classes of Kafka's own tools (kafka-tools jar).
const (
	producerPerf = "org.apache.kafka.tools.ProducerPerformance"
	consumerPerf = "org.apache.kafka.tools.ConsumerPerformance"
	endToEnd     = "org.apache.kafka.tools.EndToEndLatency"
)

// Tool names as they appear in metric keys.
const (
	toolPerf  = "perf-test"   // Kafka's kafka-producer/consumer-perf-test
	toolBench = "samsa-bench" // cmd/samsa-bench (franz-go)
)

// roundResult is what one broker did in one round.
type roundResult struct {
	System  string             `json:"system"`
	Round   int                `json:"round"`
	Seconds float64            `json:"seconds"`
	Values  map[string]float64 `json:"values"`
	// BusyBefore is the fraction of the machine's CPU that was busy during
	// one second just before the round, when none of ours ran: other
	// people's load, which makes the round's numbers noisy.
	BusyBefore float64     `json:"machine_busy_before"`
	Runs       []runRecord `json:"runs"`
	Errors     []string    `json:"errors,omitempty"`
}

// runRecord is one tool invocation, with what was parsed from it.
type runRecord struct {
	Step     string             `json:"step"`
	Seconds  float64            `json:"seconds"`
	Result   string             `json:"result,omitempty"` // the tool's summary line
	Parsed   map[string]float64 `json:"parsed,omitempty"`
	CPUSecs  float64            `json:"broker_cpu_seconds,omitempty"`
	Error    string             `json:"error,omitempty"`
	RawLogAt string             `json:"raw_log"`
}

type rounder struct {
	ctx context.Context
	o   *options
	b   *broker
	res *roundResult
	// produced, consumed: bytes and broker CPU seconds summed over the
	// produce and consume runs.
	producedBytes, producedCPU float64
	consumedBytes, consumedCPU float64
}

func produceKey(tool, acks string, parts int) string {
	return fmt.Sprintf("produce/%s/acks=%s/p=%d", tool, acks, parts)
}

func produceTopic(tool, acks string, parts int) string {
	return fmt.Sprintf("%s-p%d-acks%s", tool, parts, acks)
}

// runRound starts a fresh broker, runs every workload against it and stops it.
func runRound(ctx context.Context, o *options, system string, round int) *roundResult {
	res := &roundResult{System: system, Round: round, Values: map[string]float64{}}
	dir := filepath.Join(o.workDir, fmt.Sprintf("%s-%d", system, round))
	r := &rounder{ctx: ctx, o: o, res: res}
	if busy, err := machineBusy(ctx, time.Second); err == nil {
		res.BusyBefore = busy
		if busy > 0.1 {
			logf("  WARNING: %.0f%% of the CPU was busy with other work just before this round; its numbers are noisy", 100*busy)
		}
	}
	defer func() {
		if !o.keepData {
			_ = os.RemoveAll(dir)
		}
	}()

	b, t0, err := startBroker(ctx, o, system, dir)
	if err != nil {
		r.fail("start", err)
		return res
	}
	r.b = b
	defer func() {
		if err := b.stop(); err != nil {
			r.fail("stop", err)
		}
		// The broker's own log, for a look after the fact.
		_ = copyFile(b.log.Name(), r.rawPath("broker"))
	}()

	// Ready: the poller starts right after the broker process.
	out := r.tool("ready", 2*time.Minute, o.benchBin, "--mode", "ready", "--brokers", b.addr,
		"--since", strconv.FormatInt(t0.UnixNano(), 10), "--poll-interval", "2ms", "--timeout", "110s")
	if v, ok := resultField(out, "ready_ms"); ok && v >= 0 {
		res.Values["ready_ms"] = v
	} else {
		r.fail("ready", fmt.Errorf("%s never answered ApiVersions; log:\n%s", system, b.tail(20)))
		return res
	}
	logf("  %s ready in %.0f ms", system, res.Values["ready_ms"])

	if !sleepCtx(ctx, o.idleWait) {
		return res
	}
	if v, err := procStatus(b.pid(), "VmRSS"); err == nil {
		res.Values["idle_rss_mib"] = v
	} else {
		r.fail("idle rss", err)
	}

	// Warm-up, not measured: a JVM compiles its hot paths during the first
	// seconds of load, and the table is about steady state (ready and idle
	// RSS above are the cold numbers).
	if o.warmupRecords > 0 {
		r.warmup()
	}

	// Produce: both tools, acks 1 and all, 1 and 8 partitions.
	for _, tool := range []string{toolPerf, toolBench} {
		for _, parts := range []int{1, 8} {
			for _, acks := range []string{"1", "all"} {
				if !b.alive() || ctx.Err() != nil {
					r.fail("produce", fmt.Errorf("%s is gone: %v", system, b.waitErr))
					return res
				}
				r.produce(tool, acks, parts)
			}
		}
	}
	if r.producedBytes > 0 {
		res.Values["cpu_s_per_gib"] = r.producedCPU / (r.producedBytes / (1 << 30))
	}

	// Consume what each tool's producer wrote to 8 partitions with acks=1.
	r.consume(toolPerf, produceTopic(toolPerf, "1", 8))
	r.consume(toolBench, produceTopic(toolBench, "1", 8))
	if r.consumedBytes > 0 {
		res.Values["cpu_s_per_gib_consumed"] = r.consumedCPU / (r.consumedBytes / (1 << 30))
	}

	// Broker CPU per GiB consumed, hot and cold (cost.go).
	if !b.alive() || ctx.Err() != nil {
		r.fail("cost", fmt.Errorf("%s is gone: %v", system, b.waitErr))
		return res
	}
	r.cost()

	// End-to-end latency, with the produce runs' dirty pages written back
	// first (not timed) so that their writeback does not land in it.
	_, _ = runCmd(ctx, 2*time.Minute, "", "sync")
	r.e2eBench("e2e/"+toolBench, "e2e-bench", o.e2eRate)
	if o.heavyRate > 0 {
		_, _ = runCmd(ctx, 2*time.Minute, "", "sync")
		r.e2eBench(heavyStep, "e2e-heavy", o.heavyRate)
	}
	if o.e2eRecords > 0 {
		r.e2eJava()
	}

	// Transactions (txn.go): small transactions per second, and what
	// read_committed costs a consumer of transactional data.
	if !b.alive() || ctx.Err() != nil {
		r.fail("txn", fmt.Errorf("%s is gone: %v", system, b.waitErr))
		return res
	}
	r.txnRate()
	r.txnConsume()

	if v, err := procStatus(b.pid(), "VmHWM"); err == nil {
		res.Values["peak_rss_mib"] = v
	} else {
		r.fail("peak rss", err)
	}
	return res
}

// warmup produces and consumes --warmup-records with both tools on topics
// of their own; failures are recorded like any other.
func (r *rounder) warmup() {
	n := strconv.FormatInt(r.o.warmupRecords, 10)
	start := time.Now()
	if err := createTopic(r.ctx, r.b.addr, "warmup-perf", 8); err != nil {
		r.fail("warmup", err)
		return
	}
	r.kafkaTool("warmup/produce/"+toolPerf, producerPerf, "--topic", "warmup-perf", "--num-records", n,
		"--record-size", strconv.Itoa(r.o.recordSize), "--throughput", "-1",
		"--command-property", "bootstrap.servers="+r.b.addr, "acks=all")
	r.tool("warmup/produce/"+toolBench, r.o.runTimeout, r.o.benchBin, "--mode", "produce", "--brokers", r.b.addr,
		"--topic", "warmup-bench", "--partitions", "8", "--acks", "1", "--record-size", strconv.Itoa(r.o.recordSize),
		"--records", n, "--duration", "60s", "--timeout", r.o.runTimeout.String())
	r.kafkaTool("warmup/consume/"+toolPerf, consumerPerf, "--bootstrap-server", r.b.addr, "--topic", "warmup-perf",
		"--num-records", n, "--timeout", "30000")
	r.tool("warmup/consume/"+toolBench, r.o.runTimeout, r.o.benchBin, "--mode", "consume", "--brokers", r.b.addr,
		"--topic", "warmup-bench", "--duration", "60s", "--timeout", r.o.runTimeout.String())
	logf("  %s warmed up (%s records produced and consumed with each tool) in %.0f s", r.res.System, n, time.Since(start).Seconds())
}

func (r *rounder) fail(step string, err error) {
	msg := fmt.Sprintf("%s round %d %s: %v", r.res.System, r.res.Round, step, err)
	logf("  ERROR %s", msg)
	r.res.Errors = append(r.res.Errors, msg)
}

func (r *rounder) rawPath(step string) string {
	name := fmt.Sprintf("r%d-%s-%s.log", r.res.Round, r.res.System, strings.NewReplacer("/", "_", "=", "", " ", "_").Replace(step))
	return filepath.Join(r.o.outDir, "raw", name)
}

// tool runs one command, saves its command line and output under raw/ and
// returns its stdout. A failure is recorded in the round's errors.
func (r *rounder) tool(step string, timeout time.Duration, name string, args ...string) string {
	rec := r.toolRec(step, timeout, name, args...)
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	return rec.stdout
}

type toolResult struct {
	runRecord
	stdout string
}

func (r *rounder) toolRec(step string, timeout time.Duration, name string, args ...string) toolResult {
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	secs := time.Since(start).Seconds()
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	raw := r.rawPath(step)
	_ = os.WriteFile(raw, []byte(fmt.Sprintf("$ %s %s\n# %.1f s, err=%v\n--- stdout\n%s--- stderr\n%s",
		name, strings.Join(args, " "), secs, err, stdout.String(), stderr.String())), 0o644)
	rec := toolResult{runRecord: runRecord{Step: step, Seconds: secs, RawLogAt: raw}, stdout: stdout.String()}
	if err != nil {
		rec.Error = err.Error()
		r.fail(step, fmt.Errorf("%w (see %s)", err, raw))
	}
	return rec
}

func (r *rounder) kafkaTool(step string, class string, args ...string) toolResult {
	return r.toolRec(step, r.o.runTimeout, r.o.kafkaSh, append([]string{"run", class}, args...)...)
}

func (r *rounder) produce(tool, acks string, parts int) {
	key := produceKey(tool, acks, parts)
	topic := produceTopic(tool, acks, parts)
	if err := createTopic(r.ctx, r.b.addr, topic, parts); err != nil {
		r.fail(key, err)
		return
	}
	// Start each run with no dirty pages of the previous one (not timed).
	_, _ = runCmd(r.ctx, 2*time.Minute, "", "sync")
	cpu0, err0 := cpuSeconds(r.b.pid())
	var rec toolResult
	var mibps, records float64
	var parsed map[string]float64
	switch tool {
	case toolPerf:
		props := []string{"bootstrap.servers=" + r.b.addr, "acks=" + acks}
		if acks == "1" {
			props = append(props, "enable.idempotence=false")
		}
		rec = r.kafkaTool(key, producerPerf, append([]string{"--topic", topic,
			"--num-records", strconv.FormatInt(r.o.records, 10), "--record-size", strconv.Itoa(r.o.recordSize),
			"--throughput", "-1", "--command-property"}, props...)...)
		p, err := parseProducerPerf(rec.stdout)
		if err != nil && rec.Error == "" {
			r.fail(key, err)
		}
		parsed = p
		mibps, records = p["MiBps"], p["records"]
		rec.Result = lastMatchingLine(rec.stdout, "records sent")
	case toolBench:
		rec = r.toolRec(key, r.o.runTimeout, r.o.benchBin, "--mode", "produce", "--brokers", r.b.addr,
			"--topic", topic, "--partitions", strconv.Itoa(parts), "--acks", acks,
			"--record-size", strconv.Itoa(r.o.recordSize), "--records", strconv.FormatInt(r.o.benchMaxRecords, 10),
			"--duration", r.o.benchDuration.String(), "--timeout", r.o.runTimeout.String())
		parsed = resultFields(rec.stdout)
		mibps, records = parsed["MBps"], parsed["records"]
		rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
	}
	cpu1, err1 := cpuSeconds(r.b.pid())
	rec.Parsed = parsed
	if err0 == nil && err1 == nil {
		rec.CPUSecs = cpu1 - cpu0
	}
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	if rec.Error != "" || mibps <= 0 {
		return
	}
	r.res.Values[key] = mibps
	if err0 == nil && err1 == nil && records > 0 {
		r.producedBytes += records * float64(r.o.recordSize)
		r.producedCPU += cpu1 - cpu0
		if v, ok := perGiB(cpu1-cpu0, records*float64(r.o.recordSize)); ok {
			r.res.Values[cpuKey(key)] = v
		}
	}
	logf("  %s %s: %.1f MiB/s (broker CPU %.1f s)", r.res.System, key, mibps, rec.CPUSecs)
}

func (r *rounder) consume(tool, topic string) {
	key := "consume/" + tool
	var rec toolResult
	var mibps, nbytes float64
	_, _ = runCmd(r.ctx, 2*time.Minute, "", "sync")
	cpu0, err0 := cpuSeconds(r.b.pid())
	switch tool {
	case toolPerf:
		rec = r.kafkaTool(key, consumerPerf, "--bootstrap-server", r.b.addr, "--topic", topic,
			"--num-records", strconv.FormatInt(r.o.records, 10), "--timeout", "30000")
		p, err := parseConsumerPerf(rec.stdout)
		if err != nil && rec.Error == "" {
			r.fail(key, err)
		}
		rec.Parsed = p
		mibps, nbytes = p["MiBps"], p["MiB"]*(1<<20)
		if p["records"] < float64(r.o.records) {
			mibps = 0
			if rec.Error == "" {
				r.fail(key, fmt.Errorf("consumed %.0f of %d records", p["records"], r.o.records))
			}
		}
		rec.Result = lastLine(strings.TrimSpace(rec.stdout))
	case toolBench:
		rec = r.toolRec(key, r.o.runTimeout, r.o.benchBin, "--mode", "consume", "--brokers", r.b.addr,
			"--topic", topic, "--duration", (r.o.runTimeout - 30*time.Second).String(), "--timeout", r.o.runTimeout.String())
		rec.Parsed = resultFields(rec.stdout)
		mibps, nbytes = rec.Parsed["MBps"], rec.Parsed["bytes"]
		rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
	}
	cpu1, err1 := cpuSeconds(r.b.pid())
	if err0 == nil && err1 == nil {
		rec.CPUSecs = cpu1 - cpu0
	}
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	if rec.Error == "" && mibps > 0 {
		r.res.Values[key] = mibps
		if err0 == nil && err1 == nil && nbytes > 0 {
			r.consumedBytes += nbytes
			r.consumedCPU += cpu1 - cpu0
		}
		logf("  %s %s: %.1f MiB/s (broker CPU %.1f s)", r.res.System, key, mibps, rec.CPUSecs)
	}
}

// heavyStep is the key prefix of the heavy-load latency run (saturation.go).
const heavyStep = "e2e/heavy"

// e2eBench runs samsa-bench --mode e2e at rate records/s (acks=all, 1
// partition) on topic; its percentiles go to step/p50, step/p99, step/p999.
func (r *rounder) e2eBench(step, topic string, rate int) {
	rec := r.toolRec(step, r.o.runTimeout, r.o.benchBin, "--mode", "e2e", "--brokers", r.b.addr,
		"--topic", topic, "--partitions", "1", "--acks", "all", "--rate", strconv.Itoa(rate),
		"--record-size", strconv.Itoa(r.o.recordSize), "--duration", r.o.e2eDuration.String(),
		"--timeout", r.o.runTimeout.String())
	rec.Parsed = resultFields(rec.stdout)
	rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	if rec.Error != "" || rec.Parsed["records"] == 0 {
		return
	}
	for _, q := range []string{"p50", "p99", "p999"} {
		r.res.Values[step+"/"+q] = rec.Parsed[q+"_ms"]
	}
	logf("  %s %s at %d/s: p50 %.2f p99 %.2f p99.9 %.2f ms", r.res.System, step, rate,
		rec.Parsed["p50_ms"], rec.Parsed["p99_ms"], rec.Parsed["p999_ms"])
}

func (r *rounder) e2eJava() {
	step := "e2e/ping-pong"
	rec := r.kafkaTool(step, endToEnd, "--bootstrap-server", r.b.addr, "--topic", "e2e-ping-pong",
		"--num-records", strconv.Itoa(r.o.e2eRecords), "--producer-acks", "all",
		"--record-size", strconv.Itoa(r.o.recordSize))
	p, err := parseEndToEnd(rec.stdout)
	if err != nil && rec.Error == "" {
		r.fail(step, err)
	}
	rec.Parsed = p
	rec.Result = strings.Join([]string{lastMatchingLine(rec.stdout, "Avg latency"), lastMatchingLine(rec.stdout, "Percentiles")}, "; ")
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	if rec.Error != "" || err != nil {
		return
	}
	for _, q := range []string{"avg", "p99", "p999"} {
		r.res.Values[step+"/"+q] = p[q+"_ms"]
	}
	logf("  %s %s: avg %.2f p99 %.0f p99.9 %.0f ms", r.res.System, step, p["avg_ms"], p["p99_ms"], p["p999_ms"])
}

// createTopic creates topic with parts partitions (replication 1) and waits
// until every partition has a leader.
func createTopic(ctx context.Context, addr, topic string, parts int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, int32(parts), 1, nil, topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	for {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if t, ok := td[topic]; ok && t.Err == nil && len(t.Partitions) == parts {
				ready := true
				for _, p := range t.Partitions {
					ready = ready && p.Err == nil && p.Leader >= 0
				}
				if ready {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s has no leaders after 60 s: %v", topic, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runCmd runs a command to completion within timeout and returns its
// combined output.
func runCmd(ctx context.Context, timeout time.Duration, dir, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// ---- parsers of the tools' output -------------------------------------------

// resultFields parses the last "RESULT k=v ..." line of samsa-bench; values
// that are not numbers are left out.
func resultFields(out string) map[string]float64 {
	m := map[string]float64{}
	line := lastMatchingLine(out, "RESULT ")
	for _, kv := range strings.Fields(strings.TrimPrefix(line, "RESULT ")) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			m[k] = f
		}
	}
	return m
}

func resultField(out, name string) (float64, bool) {
	v, ok := resultFields(out)[name]
	return v, ok
}

func lastMatchingLine(out, substr string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], substr) {
			return strings.TrimSpace(lines[i])
		}
	}
	return ""
}

// ProducerPerformance's final line:
//
//	1000000 records sent, 74906.367041 records/sec (73.15 MB/sec), 330.07 ms avg latency,
//	684.00 ms max latency, 302 ms 50th, 602 ms 95th, 670 ms 99th, 680 ms 99.9th.
//
// Its "MB" is MiB (records/s * record size / 1024 / 1024).
var producerPerfRE = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th`)

func parseProducerPerf(out string) (map[string]float64, error) {
	all := producerPerfRE.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		return map[string]float64{}, errors.New("no summary line in ProducerPerformance's output")
	}
	m := all[len(all)-1]
	names := []string{"records", "recps", "MiBps", "lat_avg_ms", "lat_max_ms", "lat_p50_ms", "lat_p95_ms", "lat_p99_ms", "lat_p999_ms"}
	res := map[string]float64{}
	for i, n := range names {
		f, err := strconv.ParseFloat(m[i+1], 64)
		if err != nil {
			return res, fmt.Errorf("ProducerPerformance %s: %w", n, err)
		}
		res[n] = f
	}
	return res, nil
}

// ConsumerPerformance prints a header and one line of comma-separated values:
//
//	start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg,
//	nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
//
// MB.sec is over the whole run (group join included); fetch.MB.sec leaves the
// join out. "MB" is MiB.
func parseConsumerPerf(out string) (map[string]float64, error) {
	res := map[string]float64{}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "start.time") {
			continue
		}
		var header []string
		for _, h := range strings.Split(l, ",") {
			header = append(header, strings.TrimSpace(h))
		}
		for _, data := range lines[i+1:] {
			vals := strings.Split(data, ",")
			if len(vals) != len(header) {
				continue
			}
			want := map[string]string{
				"data.consumed.in.MB": "MiB", "MB.sec": "MiBps", "data.consumed.in.nMsg": "records",
				"nMsg.sec": "recps", "rebalance.time.ms": "rebalance_ms", "fetch.time.ms": "fetch_ms",
				"fetch.MB.sec": "fetch_MiBps", "fetch.nMsg.sec": "fetch_recps",
			}
			for j, h := range header {
				if n, ok := want[h]; ok {
					if f, err := strconv.ParseFloat(strings.TrimSpace(vals[j]), 64); err == nil {
						res[n] = f
					}
				}
			}
			if _, ok := res["MiBps"]; ok {
				return res, nil
			}
		}
	}
	return res, errors.New("no result line in ConsumerPerformance's output")
}

// EndToEndLatency ends with
//
//	Avg latency: 0.9477 ms
//	Percentiles: 50th = 0, 99th = 3, 99.9th = 8
//
// (percentiles in whole milliseconds, truncated).
var (
	e2eAvgRE = regexp.MustCompile(`Avg latency: ([\d.]+) ms`)
	e2ePctRE = regexp.MustCompile(`Percentiles: 50th = (\d+), 99th = (\d+), 99\.9th = (\d+)`)
)

func parseEndToEnd(out string) (map[string]float64, error) {
	res := map[string]float64{}
	a := e2eAvgRE.FindStringSubmatch(out)
	p := e2ePctRE.FindStringSubmatch(out)
	if a == nil || p == nil {
		return res, errors.New("no latency summary in EndToEndLatency's output")
	}
	for i, n := range []string{"avg_ms", "p50_ms", "p99_ms", "p999_ms"} {
		s := a[1]
		if i > 0 {
			s = p[i]
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return res, err
		}
		res[n] = f
	}
	return res, nil
}
