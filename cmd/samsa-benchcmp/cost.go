package main

// Broker cost per byte: the broker process's CPU seconds (utime+stime of
// all its threads, /proc/<pid>/stat) during one measurement, divided by the
// GiB of record values it moved. The clients' CPU is not in it.
//
// Produce: every produce run gets its own figure (cpuKey of its produce
// key); the table shows samsa-bench's four runs. Consume: a topic of its own
// (--cost-mib over 8 partitions) is written, then read --cost-passes times
// while it is still in the page cache (hot), then as many times with the
// page cache dropped before each pass (cold). samsa keeps only the newest
// 256 MiB it wrote in the cache, so --cost-mib stays below that for "hot" to
// mean the same for both brokers.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

const dropCachesPath = "/proc/sys/vm/drop_caches"

const costTopic = "cost-p8"

// cpuKey is the metric key of the broker CPU per GiB of a measurement.
func cpuKey(key string) string { return "cpu/" + key }

// perGiB returns CPU seconds per GiB of nbytes; false when there is nothing
// to divide by.
func perGiB(cpuSecs, nbytes float64) (float64, bool) {
	if nbytes <= 0 || cpuSecs < 0 {
		return 0, false
	}
	return cpuSecs / (nbytes / (1 << 30)), true
}

// dropCachesProbe says why this process cannot drop the page cache, or ""
// when it can (root, and /proc/sys/vm writable).
func dropCachesProbe() string {
	if os.Geteuid() != 0 {
		return "not running as root"
	}
	f, err := os.OpenFile(dropCachesPath, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Sprintf("cannot open %s: %v", dropCachesPath, err)
	}
	_ = f.Close()
	return ""
}

// dropCaches writes dirty pages back and drops the clean ones, dentries and
// inodes: `sync; echo 3 > /proc/sys/vm/drop_caches`.
func dropCaches(ctx context.Context) error {
	if out, err := runCmd(ctx, 2*time.Minute, "", "sync"); err != nil {
		return fmt.Errorf("sync: %w: %s", err, out)
	}
	f, err := os.OpenFile(dropCachesPath, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString("3\n")
	return errors.Join(werr, f.Close())
}

// cost writes the cost topic and measures the hot and the cold reads of it.
func (r *rounder) cost() {
	records := (int64(r.o.costMiB) << 20) / int64(r.o.recordSize)
	if err := createTopic(r.ctx, r.b.addr, costTopic, 8); err != nil {
		r.fail("cost", err)
		return
	}
	out := r.tool("cost/fill", r.o.runTimeout, r.o.benchBin, "--mode", "produce", "--brokers", r.b.addr,
		"--topic", costTopic, "--partitions", "8", "--acks", "1", "--record-size", strconv.Itoa(r.o.recordSize),
		"--records", strconv.FormatInt(records, 10), "--duration", (r.o.runTimeout - 30*time.Second).String(),
		"--timeout", r.o.runTimeout.String())
	if got := resultFields(out)["records"]; got < float64(records) {
		r.fail("cost/fill", fmt.Errorf("wrote %.0f of %d records", got, records))
		return
	}
	_, _ = runCmd(r.ctx, 2*time.Minute, "", "sync")
	r.costConsume("hot")
	if r.o.dropCachesProblem == "" {
		r.costConsume("cold")
	}
}

// costConsume reads the cost topic --cost-passes times with samsa-bench,
// each pass from the start with a new client; cold drops the page cache
// before each pass (not measured).
func (r *rounder) costConsume(temp string) {
	key := "consume/" + temp
	var cpu, nbytes, secs float64
	for pass := 1; pass <= r.o.costPasses; pass++ {
		step := fmt.Sprintf("%s/%d", key, pass)
		if temp == "cold" {
			if err := dropCaches(r.ctx); err != nil {
				r.fail(step, fmt.Errorf("dropping the page cache: %w", err))
				return
			}
		}
		cpu0, err0 := cpuSeconds(r.b.pid())
		rec := r.toolRec(step, r.o.runTimeout, r.o.benchBin, "--mode", "consume", "--brokers", r.b.addr,
			"--topic", costTopic, "--duration", (r.o.runTimeout - 30*time.Second).String(),
			"--timeout", r.o.runTimeout.String())
		cpu1, err1 := cpuSeconds(r.b.pid())
		rec.Parsed = resultFields(rec.stdout)
		rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
		if err := errors.Join(err0, err1); err != nil {
			r.res.Runs = append(r.res.Runs, rec.runRecord)
			r.fail(step, err)
			return
		}
		rec.CPUSecs = cpu1 - cpu0
		r.res.Runs = append(r.res.Runs, rec.runRecord)
		if rec.Error != "" || rec.Parsed["bytes"] <= 0 || rec.Parsed["seconds"] <= 0 {
			return
		}
		cpu += rec.CPUSecs
		nbytes += rec.Parsed["bytes"]
		secs += rec.Parsed["seconds"]
	}
	v, _ := perGiB(cpu, nbytes)
	r.res.Values[cpuKey(key)] = v
	r.res.Values[key] = nbytes / (1 << 20) / secs
	logf("  %s %s: %.1f MiB/s, broker CPU %.2f s per GiB (%d passes)", r.res.System, key, r.res.Values[key], v, r.o.costPasses)
}
