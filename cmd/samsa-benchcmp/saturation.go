package main

// Latency under load: besides the light fixed rate (--e2e-rate), each round
// runs samsa-bench --mode e2e at a heavy rate, heavyShare of the lower of
// the brokers' saturation produce rates.
//
// The rate must be the same for every round of every broker, and known
// before the first round: rounds alternate, so samsa's first round runs
// before any Kafka round has measured anything. Hence a pre-pass: each
// broker is started once, fresh, and samsa-bench produces to it at full
// speed with the e2e run's settings (acks=all, 1 partition, --record-size)
// for --saturation-duration (by default the main produce runs' length),
// saturationRuns times; the best run is its saturation. The first runs warm
// a JVM up: with two runs of 5 s Kafka's figure swung from 229k to 583k
// records/s between two make bench runs, and the heavy load with it. The
// pre-pass's runs are in results.json and raw/ (round 0), not in the table.

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// heavyShare is the heavy load as a share of the lower saturation rate.
const heavyShare = 0.5

const saturationRuns = 3

// heavyLoad sets o.heavyRate: --e2e-heavy-rate if given, else from the
// pre-pass. A failed pre-pass leaves it 0 (no heavy rows) and says why in the
// results; only a cancelled context is an error.
func heavyLoad(ctx context.Context, o *options, res *results) error {
	if o.e2eHeavyRate > 0 {
		o.heavyRate = o.e2eHeavyRate
		res.HeavyRate = o.heavyRate
		res.HeavyFrom = "set with --e2e-heavy-rate"
		return nil
	}
	res.Saturation = map[string]float64{}
	for _, sys := range o.systems {
		logf("pre-pass: %s saturation (samsa-bench produce, acks=all, 1 partition, %d × %v)", sys, saturationRuns, o.saturationDuration)
		rr := measureSaturation(ctx, o, sys)
		res.Prepass = append(res.Prepass, rr)
		if err := ctx.Err(); err != nil {
			return err
		}
		if v, ok := rr.Values["saturation_recps"]; ok {
			res.Saturation[sys] = v
			logf("pre-pass: %s saturates at %.0f records/s", sys, v)
		}
	}
	rate, err := heavyRate(res.Saturation, o.systems, heavyShare)
	if err != nil {
		res.HeavyFrom = "not measured: " + err.Error()
		logf("  ERROR pre-pass: %v; no heavy-load latency rows", err)
		return nil
	}
	o.heavyRate = rate
	res.HeavyRate = rate
	res.HeavyFrom = fmt.Sprintf("%.0f%% of the lower saturation rate of the pre-pass", 100*heavyShare)
	logf("pre-pass: heavy load is %d records/s", rate)
	return nil
}

// heavyRate is share × the lowest saturation rate among systems, in whole
// records/s (at least 1); every system needs a rate.
func heavyRate(sat map[string]float64, systems []string, share float64) (int, error) {
	low := math.Inf(1)
	for _, s := range systems {
		v, ok := sat[s]
		if !ok || v <= 0 {
			return 0, fmt.Errorf("no saturation rate for %s", s)
		}
		low = math.Min(low, v)
	}
	if math.IsInf(low, 1) {
		return 0, fmt.Errorf("no systems")
	}
	return max(1, int(share*low)), nil
}

// measureSaturation starts a fresh broker, produces to it at full speed
// saturationRuns times and stops it. Values["saturation_recps"] is the best
// run's records/s.
func measureSaturation(ctx context.Context, o *options, system string) *roundResult {
	res := &roundResult{System: system, Round: 0, Values: map[string]float64{}}
	r := &rounder{ctx: ctx, o: o, res: res}
	dir := filepath.Join(o.workDir, system+"-saturation")
	defer func() {
		if !o.keepData {
			_ = os.RemoveAll(dir)
		}
	}()
	start := time.Now()
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	b, t0, err := startBroker(ctx, o, system, dir)
	if err != nil {
		r.fail("saturation/start", err)
		return res
	}
	r.b = b
	defer func() {
		if err := b.stop(); err != nil {
			r.fail("saturation/stop", err)
		}
		_ = copyFile(b.log.Name(), r.rawPath("saturation_broker"))
	}()
	out := r.tool("saturation/ready", 2*time.Minute, o.benchBin, "--mode", "ready", "--brokers", b.addr,
		"--since", strconv.FormatInt(t0.UnixNano(), 10), "--poll-interval", "2ms", "--timeout", "110s")
	if v, ok := resultField(out, "ready_ms"); !ok || v < 0 {
		r.fail("saturation/ready", fmt.Errorf("%s never answered ApiVersions; log:\n%s", system, b.tail(20)))
		return res
	}
	best := 0.0
	for i := 1; i <= saturationRuns; i++ {
		topic := fmt.Sprintf("saturation-%d", i)
		if err := createTopic(ctx, b.addr, topic, 1); err != nil {
			r.fail("saturation", err)
			return res
		}
		_, _ = runCmd(ctx, 2*time.Minute, "", "sync")
		rec := r.toolRec(fmt.Sprintf("saturation/%d", i), o.runTimeout, o.benchBin, "--mode", "produce", "--brokers", b.addr,
			"--topic", topic, "--partitions", "1", "--acks", "all", "--record-size", strconv.Itoa(o.recordSize),
			"--records", strconv.FormatInt(o.benchMaxRecords, 10), "--duration", o.saturationDuration.String(),
			"--timeout", o.runTimeout.String())
		rec.Parsed = resultFields(rec.stdout)
		rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
		res.Runs = append(res.Runs, rec.runRecord)
		if rec.Error == "" {
			best = math.Max(best, rec.Parsed["recps"])
		}
	}
	if best > 0 {
		res.Values["saturation_recps"] = best
	}
	return res
}
