package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseProducerPerf(t *testing.T) {
	out := "72632 records sent, 14523.5 records/sec (14.18 MB/sec), 1458.0 ms avg latency, 2166.0 ms max latency.\n" +
		"200000 records sent, 24177.949710 records/sec (23.61 MB/sec), 1076.94 ms avg latency, 2166.00 ms max latency, 936 ms 50th, 1910 ms 95th, 2125 ms 99th, 2158 ms 99.9th.\n"
	m, err := parseProducerPerf(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"records": 200000, "MiBps": 23.61, "lat_p50_ms": 936, "lat_p99_ms": 2125, "lat_p999_ms": 2158}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, err := parseProducerPerf("nothing"); err == nil {
		t.Error("no error for output without a summary")
	}
}

func TestParseConsumerPerf(t *testing.T) {
	out := "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n" +
		"2026-11-25 12:21:26:946, 2026-11-25 12:21:28:327, 292.9688, 212.1425, 300000, 217233.8885, 344, 1037, 282.5157, 289296.0463\n"
	m, err := parseConsumerPerf(out)
	if err != nil {
		t.Fatal(err)
	}
	if m["MiBps"] != 212.1425 || m["records"] != 300000 || m["fetch_MiBps"] != 282.5157 || m["rebalance_ms"] != 344 {
		t.Errorf("parsed %v", m)
	}
}

func TestParseEndToEnd(t *testing.T) {
	m, err := parseEndToEnd("0\t87.377984\n1000\t0.692579\nAvg latency: 0.9477 ms\nPercentiles: 50th = 0, 99th = 3, 99.9th = 8\n")
	if err != nil {
		t.Fatal(err)
	}
	if m["avg_ms"] != 0.9477 || m["p50_ms"] != 0 || m["p99_ms"] != 3 || m["p999_ms"] != 8 {
		t.Errorf("parsed %v", m)
	}
}

func TestResultFields(t *testing.T) {
	out := "progress\nRESULT mode=produce acks=all partitions=8 records=1000 MBps=12.50 lat_p99_ms=3.10\n"
	m := resultFields(out)
	if m["records"] != 1000 || m["MBps"] != 12.5 || m["partitions"] != 8 {
		t.Errorf("parsed %v", m)
	}
	if _, ok := m["acks"]; ok {
		t.Error("acks=all parsed as a number")
	}
}

func TestParseDD(t *testing.T) {
	v, err := parseDD("2048+0 records in\n2048+0 records out\n2147483648 bytes (2.1 GB, 2.0 GiB) copied, 2.0 s, 1.1 GB/s\n")
	if err != nil || v != 1024 {
		t.Errorf("parseDD = %v, %v; want 1024", v, err)
	}
}

func TestProcParsers(t *testing.T) {
	status := []byte("Name:\tjava\nVmHWM:\t  800000 kB\nVmRSS:\t  409600 kB\n")
	if v, err := parseStatusField(status, "VmRSS"); err != nil || v != 400 {
		t.Errorf("VmRSS = %v, %v; want 400", v, err)
	}
	// comm with a space and a paren; utime=250 stime=50 ticks.
	stat := []byte("42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0")
	if v, err := parseStatCPU(stat); err != nil || v != 3 {
		t.Errorf("cpu = %v, %v; want 3", v, err)
	}
}

func TestMedianAndVerdict(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
	up := row{metric: metric{higherBetter: true, target: 1.5}, ratio: 1.6}
	down := row{metric: metric{target: 0.5}, ratio: 0.6}
	if up.verdict() != "met" || down.verdict() != "MISSED" {
		t.Errorf("verdicts %q %q", up.verdict(), down.verdict())
	}
}

func TestReportRenders(t *testing.T) {
	r := &results{Options: map[string]any{}, Limits: &machineLimits{DiskBufferedMiBps: 1000, LoopbackMiBps: 2000}}
	for i, sys := range []string{"samsa", "kafka", "samsa", "kafka"} {
		r.Rounds = append(r.Rounds, &roundResult{System: sys, Round: i/2 + 1, Values: map[string]float64{
			produceKey(toolBench, "1", 8): float64(100 * (i%2 + 1)), "ready_ms": 50,
		}})
	}
	md, svg := r.markdown(), r.svg()
	for _, want := range []string{"| produce, samsa-bench, acks=1, 8 partitions | MiB/s | 100 | 200 | 0.50× | ≥ 1.5× | MISSED |", "10% of buffered"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "</svg>") {
		t.Error("svg malformed")
	}
}

func TestParseCPUTimes(t *testing.T) {
	v, err := parseCPUTimes([]byte("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n"))
	if err != nil || v[0] != 1000 || v[1] != 850 {
		t.Errorf("parseCPUTimes = %v, %v; want [1000 850]", v, err)
	}
}

func TestPerGiB(t *testing.T) {
	if v, ok := perGiB(3, 1.5*(1<<30)); !ok || v != 2 {
		t.Errorf("perGiB = %v, %v; want 2", v, ok)
	}
	if _, ok := perGiB(3, 0); ok {
		t.Error("perGiB of no bytes is ok")
	}
	if got := cpuKey(produceKey(toolBench, "all", 8)); got != "cpu/produce/samsa-bench/acks=all/p=8" {
		t.Errorf("cpuKey = %q", got)
	}
}

func TestHeavyRate(t *testing.T) {
	sat := map[string]float64{"samsa": 90001, "kafka": 40001}
	if v, err := heavyRate(sat, []string{"samsa", "kafka"}, 0.5); err != nil || v != 20000 {
		t.Errorf("heavyRate = %v, %v; want 20000 (half of the lower)", v, err)
	}
	if v, err := heavyRate(sat, []string{"samsa"}, 0.5); err != nil || v != 45000 {
		t.Errorf("heavyRate samsa only = %v, %v; want 45000", v, err)
	}
	if _, err := heavyRate(map[string]float64{"samsa": 1000}, []string{"samsa", "kafka"}, 0.5); err == nil {
		t.Error("no error with Kafka's saturation missing")
	}
	if v, _ := heavyRate(map[string]float64{"samsa": 1}, []string{"samsa"}, 0.5); v != 1 {
		t.Errorf("heavyRate floor = %v; want 1", v)
	}
}

func TestFootprint(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "samsa")
	libs := filepath.Join(dir, "libs")
	if err := os.Mkdir(libs, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{bin: 1 << 20, filepath.Join(libs, "a.jar"): 1 << 19, filepath.Join(libs, "b.jar"): 1 << 19, filepath.Join(libs, "notes.txt"): 1 << 20} {
		if err := os.WriteFile(name, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := footprint(bin, libs, []string{"samsa", "kafka", samsaCache0})
	if f["samsa"] != 1 || f["kafka"] != 1 || f[samsaCache0] != 1 {
		t.Errorf("footprint = %v; want 1 MiB each (jars only)", f)
	}
	if f := footprint(bin, "", []string{"kafka"}); len(f) != 0 {
		t.Errorf("footprint without Kafka's libs = %v", f)
	}
}

func TestReportNewRows(t *testing.T) {
	r := &results{Options: map[string]any{"systems": []string{"samsa", "kafka"}, "cost_mib": 192, "cost_passes": 3, "saturation_duration": "5s"},
		HeavyRate: 20000, HeavyFrom: "50% of the lower saturation rate of the pre-pass",
		Saturation: map[string]float64{"samsa": 90000, "kafka": 40000}}
	vals := map[string]map[string]float64{
		"samsa": {cpuKey(produceKey(toolBench, "1", 1)): 1, cpuKey("consume/hot"): 0.5, cpuKey("consume/cold"): 2, heavyStep + "/p99": 3, heavyStep + "/p999": 9, installKey: 40},
		"kafka": {cpuKey(produceKey(toolBench, "1", 1)): 4, cpuKey("consume/hot"): 0.5, cpuKey("consume/cold"): 4, heavyStep + "/p99": 10, heavyStep + "/p999": 20, installKey: 120},
	}
	for i, sys := range []string{"samsa", "kafka"} {
		r.Rounds = append(r.Rounds, &roundResult{System: sys, Round: i + 1, Values: vals[sys]})
	}
	md := r.markdown()
	for _, want := range []string{
		"| broker CPU per GiB, produce acks=1, 1 partition (samsa-bench run) | s/GiB | 1.00 | 4.00 | 0.25× | ≤ 0.4× | met |",
		"| broker CPU per GiB, consume hot (page cache) | s/GiB | 0.50 | 0.50 | 1.00× | ≤ 0.4× | MISSED |",
		"| broker CPU per GiB, consume cold (after drop_caches) | s/GiB | 2.00 | 4.00 | 0.50× | ≤ 0.4× | MISSED |",
		"| e2e latency p99, heavy load (half of saturation), acks=all | ms | 3.00 | 10.0 | 0.30× | ≤ 0.4× | met |",
		"| e2e latency p99.9, heavy load (half of saturation), acks=all | ms | 9.00 | 20.0 | 0.45× | ≤ 0.4× | MISSED |",
		"| install size (samsa binary; Kafka: its jars, no JVM) | MiB | 40.0 | 120 | 0.33× |  |  |",
		"heavy load: 20000 records/s, 50% of the lower saturation rate",
		"records/s: samsa 90000, kafka 40000",
		"drop_caches` before each cold pass",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	r.DropCaches = "not running as root"
	if md := r.markdown(); !strings.Contains(md, "consume cold not measured: the page cache cannot be dropped (not running as root)") {
		t.Errorf("markdown does not say the cold rows are missing:\n%s", md)
	}
	r.HeavyRate, r.HeavyFrom = 0, "not measured: no saturation rate for kafka"
	if md := r.markdown(); !strings.Contains(md, "heavy load: not measured: no saturation rate for kafka; no heavy-load rows") {
		t.Errorf("markdown does not say the heavy rows are missing:\n%s", md)
	}
}

// The pre-pass's runs default to the main produce runs' length; a length
// set wins, and a negative one is refused.
func TestSaturationDurationFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration
	}{
		{[]string{"--bench-duration", "7s"}, 7 * time.Second},
		{[]string{"--bench-duration", "7s", "--saturation-duration", "0"}, 7 * time.Second},
		{[]string{"--bench-duration", "7s", "--saturation-duration", "3s"}, 3 * time.Second},
	} {
		o, err := parseFlags(append(c.args, "--out", t.TempDir()))
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if o.saturationDuration != c.want {
			t.Errorf("%v: saturation duration %v, want %v", c.args, o.saturationDuration, c.want)
		}
	}
	if _, err := parseFlags([]string{"--saturation-duration", "-1s", "--out", t.TempDir()}); err == nil {
		t.Error("a negative --saturation-duration was accepted")
	}
}
