package main

import (
	"math"
	"strings"
	"testing"
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
