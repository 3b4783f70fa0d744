// Command samsa-benchcmp runs the same workloads against samsa and Apache
// Kafka on this machine and writes one table of medians with samsa/Kafka
// ratios, a chart and the raw numbers. `make bench` runs it through
// scripts/bench-compare.sh; bench/README.md explains how to read the results.
//
// One broker runs at a time, never both. Each round starts a fresh broker
// with an empty data dir and runs, in order:
//
//	ready      process start -> first answered ApiVersions (samsa-bench --mode ready)
//	idle RSS   VmRSS of the broker process --idle-wait after it is ready
//	warm-up    --warmup-records produced and consumed with both tools, not
//	           measured (a JVM compiles its hot paths under the first load)
//	produce    records of --record-size bytes, acks=1 and acks=all, 1 and 8
//	           partitions, with kafka-producer-perf-test (ProducerPerformance,
//	           --records records) and with samsa-bench (--bench-duration, at
//	           most --bench-max-records); CPU time of the broker
//	           (utime+stime) around each run gives CPU s per GiB
//	consume    kafka-consumer-perf-test on what ProducerPerformance wrote to
//	           8 partitions with acks=1, and samsa-bench on what samsa-bench wrote
//	cost       --cost-mib written to 8 partitions, then read --cost-passes
//	           times hot (in the page cache) and as often cold (page cache
//	           dropped before each pass; root only): broker CPU per GiB
//	e2e        samsa-bench at a fixed --e2e-rate (light load) and at half
//	           the lower saturation rate of the brokers (heavy load), both
//	           acks=all, 1 partition; Kafka's EndToEndLatency (one record at
//	           a time)
//	peak RSS   VmHWM of the broker process after all of that
//
// The heavy load's rate comes from a pre-pass before the rounds: each broker
// is started once on its own and samsa-bench produces to it at full speed
// (acks=all, 1 partition, three runs of --saturation-duration, by default
// --bench-duration; the best run counts). --e2e-heavy-rate sets the rate
// instead and skips the pre-pass.
//
// Rounds alternate samsa, Kafka, samsa, Kafka, ...; the table holds the
// median over rounds. Before the rounds, the machine's own limits are
// measured: buffered and fdatasync'ed sequential writes of the data disk
// (dd), one loopback TCP stream, and the CPU per GiB of a bare sendfile
// sender over loopback, the floor under the consume cost rows (floor.go).
//
// Everything listens on and connects to 127.0.0.1 only, and every step is
// bounded by a timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type options struct {
	rounds          int
	records         int64
	benchDuration   time.Duration
	benchMaxRecords int64
	recordSize      int
	e2eRate         int
	e2eDuration     time.Duration
	e2eRecords      int
	idleWait        time.Duration
	warmupRecords   int64
	runTimeout      time.Duration
	diskMiB         int
	tcpMiB          int
	samsaBin        string
	benchBin        string
	imageBin        string
	kafkaSh         string
	workDir         string
	outDir          string
	systems         []string
	note            string
	keepData        bool
	skipMachine     bool
	// quick: QUICK=1, the extra phases (phases.go) pick their small sizes.
	quick bool
	// Broker cost per byte (cost.go).
	costMiB    int
	costPasses int
	// Latency under heavy load (saturation.go).
	saturationDuration time.Duration
	e2eHeavyRate       int

	// Found at run time, not flags: why the page cache cannot be dropped
	// ("" when it can), and the heavy load's rate once known.
	dropCachesProblem string
	heavyRate         int
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == bareBrokerArg { // floor.go
		if err := bareBroker(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "samsa-benchcmp:", err)
			os.Exit(1)
		}
		return
	}
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "samsa-benchcmp:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "samsa-benchcmp:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("samsa-benchcmp", flag.ContinueOnError)
	var o options
	var systems string
	fs.IntVar(&o.rounds, "rounds", 3, "rounds per broker (alternating samsa, Kafka)")
	fs.Int64Var(&o.records, "records", 1_000_000, "records per produce run of kafka-producer-perf-test (it has no time limit)")
	fs.DurationVar(&o.benchDuration, "bench-duration", 8*time.Second, "length of each samsa-bench produce run")
	fs.Int64Var(&o.benchMaxRecords, "bench-max-records", 4_000_000, "records per samsa-bench produce run at most (bounds disk use)")
	fs.IntVar(&o.recordSize, "record-size", 1024, "record value size in bytes")
	fs.IntVar(&o.e2eRate, "e2e-rate", 1000, "records/s of the fixed-rate end-to-end latency run")
	fs.DurationVar(&o.e2eDuration, "e2e-duration", 15*time.Second, "length of the fixed-rate end-to-end latency run")
	fs.IntVar(&o.e2eRecords, "e2e-records", 5000, "records of Kafka's EndToEndLatency (one at a time) run; 0 skips it")
	fs.Int64Var(&o.warmupRecords, "warmup-records", 200_000, "records produced and consumed with each tool before the measured runs (not measured; 0: no warm-up)")
	fs.DurationVar(&o.idleWait, "idle-wait", 5*time.Second, "how long after ready the idle RSS is read")
	fs.DurationVar(&o.runTimeout, "run-timeout", 5*time.Minute, "limit for any one tool run")
	fs.IntVar(&o.diskMiB, "disk-mib", 2048, "MiB written by each dd run of the disk measurement")
	fs.IntVar(&o.tcpMiB, "tcp-mib", 8192, "MiB sent through loopback TCP (at most 10 s)")
	fs.StringVar(&o.samsaBin, "samsa", "bin/samsa", "samsa binary")
	fs.StringVar(&o.benchBin, "samsa-bench", "bin/samsa-bench", "samsa-bench binary")
	fs.StringVar(&o.imageBin, "image-binary", "", "samsa built as the Dockerfile builds it (static, -trimpath, -s -w): the image layer row (empty: no row)")
	fs.StringVar(&o.kafkaSh, "kafka-sh", "scripts/kafka.sh", "script that fetches and runs Apache Kafka")
	fs.StringVar(&o.workDir, "work-dir", "", "where the brokers' data dirs go (default: a new temp dir; removed at the end)")
	fs.StringVar(&o.outDir, "out", "", "results folder (default bench-results/<UTC timestamp>)")
	fs.StringVar(&systems, "systems", "samsa,kafka", "brokers to run, in round order")
	fs.StringVar(&o.note, "note", "", "a line for the report's header (e.g. the source revision)")
	fs.BoolVar(&o.keepData, "keep-data", false, "keep the brokers' data dirs (for debugging)")
	fs.BoolVar(&o.skipMachine, "skip-machine", false, "skip the machine's limits (disk, loopback, sendfile floor)")
	fs.BoolVar(&o.quick, "quick", false, "QUICK=1: the scale, group and cluster phases use their small sizes")
	registerPhaseFlags(fs)
	fs.IntVar(&o.costMiB, "cost-mib", 192, "MiB written for the hot and cold consume cost runs (samsa keeps 256 MiB hot at most: stay below)")
	fs.IntVar(&o.costPasses, "cost-passes", 3, "passes over those MiB per hot and per cold consume measurement")
	fs.DurationVar(&o.saturationDuration, "saturation-duration", 0, "length of each of the pre-pass's three saturation produce runs (0: --bench-duration)")
	fs.IntVar(&o.e2eHeavyRate, "e2e-heavy-rate", 0, "records/s of the heavy-load latency run (0: half the lower broker's saturation rate, from a pre-pass)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, s := range strings.Split(systems, ",") {
		switch s = strings.TrimSpace(s); s {
		case "samsa", "kafka", samsaCache0:
			o.systems = append(o.systems, s)
		case "":
		default:
			return nil, fmt.Errorf("--systems: unknown system %q (want samsa, kafka, %s)", s, samsaCache0)
		}
	}
	switch {
	case len(o.systems) == 0:
		return nil, fmt.Errorf("--systems is empty")
	case o.rounds < 1:
		return nil, fmt.Errorf("--rounds must be at least 1")
	case o.records < 1 || o.benchMaxRecords < 1:
		return nil, fmt.Errorf("--records and --bench-max-records must be at least 1")
	case o.benchDuration <= 0 || o.benchDuration > o.runTimeout-30*time.Second:
		return nil, fmt.Errorf("--bench-duration must be positive and 30 s shorter than --run-timeout")
	case o.recordSize < 8:
		return nil, fmt.Errorf("--record-size must be at least 8")
	case o.e2eRate < 1 || o.e2eDuration <= 0:
		return nil, fmt.Errorf("--e2e-rate and --e2e-duration must be positive")
	case o.runTimeout <= 0:
		return nil, fmt.Errorf("--run-timeout must be positive")
	case o.costMiB < 1 || o.costPasses < 1:
		return nil, fmt.Errorf("--cost-mib and --cost-passes must be at least 1")
	case o.e2eHeavyRate < 0 || o.saturationDuration < 0:
		return nil, fmt.Errorf("--e2e-heavy-rate and --saturation-duration must not be negative")
	}
	if o.saturationDuration == 0 {
		o.saturationDuration = o.benchDuration
	}
	if o.outDir == "" {
		o.outDir = filepath.Join("bench-results", time.Now().UTC().Format("20060102T150405Z"))
	}
	return &o, nil
}

func run(ctx context.Context, o *options) error {
	for _, p := range []*string{&o.samsaBin, &o.benchBin, &o.kafkaSh} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%s: %w", *p, err)
		}
		*p = abs
	}
	if err := os.MkdirAll(filepath.Join(o.outDir, "raw"), 0o755); err != nil {
		return err
	}
	if o.workDir == "" {
		d, err := os.MkdirTemp("", "samsa-benchcmp.")
		if err != nil {
			return err
		}
		o.workDir = d
		if !o.keepData {
			defer os.RemoveAll(d)
		}
	} else if err := os.MkdirAll(o.workDir, 0o755); err != nil {
		return err
	}

	res := newResults(o)
	logf("results go to %s; brokers' data under %s", o.outDir, o.workDir)

	if hasSystem(o, "kafka") {
		logf("fetching Apache Kafka (once; cached under .cache/kafka)")
		out, err := runCmd(ctx, 10*time.Minute, "", o.kafkaSh, "fetch")
		if err != nil {
			return fmt.Errorf("fetching Kafka: %w\n%s", err, out)
		}
		res.KafkaLibs = strings.TrimSpace(lastLine(out))
		res.KafkaVersion = filepath.Base(filepath.Dir(res.KafkaLibs))
		if v, err := runCmd(ctx, time.Minute, "", "java", "-version"); err == nil {
			res.Java = strings.TrimSpace(firstLine(v))
		}
	}
	if v, err := runCmd(ctx, 10*time.Second, "", o.samsaBin, "version"); err == nil {
		res.Samsa = strings.TrimSpace(v)
	}

	res.Footprint = footprint(o.samsaBin, res.KafkaLibs, o.systems)
	if o.imageBin != "" {
		var err error
		if res.Image, err = measureImageLayer(o.imageBin); err != nil {
			logf("  ERROR image layer: %v", err)
			res.ImageError = err.Error()
		}
	}
	o.dropCachesProblem = dropCachesProbe()
	res.DropCaches = o.dropCachesProblem
	if o.dropCachesProblem != "" {
		logf("  the page cache cannot be dropped (%s): no cold consume rows", o.dropCachesProblem)
	}

	if !o.skipMachine {
		logf("machine limits: disk (dd, %d MiB, %d runs buffered and %d with fdatasync), loopback TCP and a bare broker sending its log with sendfile to samsa-bench (%d runs of %d × %d MiB)", o.diskMiB, diskRuns, diskRuns, floorRuns, o.costPasses, o.costMiB)
		res.Limits = measureMachine(ctx, o)
	}

	if err := heavyLoad(ctx, o, res); err != nil {
		return err
	}

	for round := 1; round <= o.rounds; round++ {
		for _, sys := range o.systems {
			if err := ctx.Err(); err != nil {
				return err
			}
			logf("round %d/%d: %s", round, o.rounds, sys)
			start := time.Now()
			rr := runRound(ctx, o, sys, round)
			runPhases(ctx, o, sys, round, rr) // phases.go
			rr.Seconds = time.Since(start).Seconds()
			if v, ok := res.Footprint[sys]; ok {
				rr.Values[installKey] = v
			}
			if res.Image != nil && sys == "samsa" {
				rr.Values[imageKey] = res.Image.TarMiB
			}
			res.Rounds = append(res.Rounds, rr)
			logf("round %d/%d: %s done in %.0f s", round, o.rounds, sys, rr.Seconds)
			// Partial results survive an interrupted run.
			_ = res.writeJSON(filepath.Join(o.outDir, "results.json"))
		}
	}
	res.Finished = time.Now().UTC()
	return res.write(os.Stdout)
}

func hasSystem(o *options, s string) bool {
	for _, x := range o.systems {
		if x == s {
			return true
		}
	}
	return false
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchcmp %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func machineInfo() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.IndexByte(l, ':'); i >= 0 {
					model = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(firstLine(string(b)), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%s %s, %d cores (%s), %s RAM", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, mem)
}
