package main

import (
	"testing"
	"time"
)

func TestResolveScaleSizes(t *testing.T) {
	full := resolveScaleSizes(false, scaleSizes{})
	if full.total() != 10_000 || full.conns != 2000 || full.producers != 200 || full.idle != 10*time.Second {
		t.Errorf("full sizes %+v", full)
	}
	quick := resolveScaleSizes(true, scaleSizes{})
	if quick.total() != 2000 || quick.conns != 500 || quick.producers != 50 || quick.faninFor != 5*time.Second {
		t.Errorf("quick sizes %+v", quick)
	}
	// A flag set wins over the QUICK default; the others stay.
	got := resolveScaleSizes(true, scaleSizes{topics: 3, faninFor: time.Second})
	if got.topics != 3 || got.faninFor != time.Second || got.partitions != 100 || got.conns != 500 {
		t.Errorf("with flags %+v", got)
	}
}

func TestPickScaleFields(t *testing.T) {
	out := "scale-create: ...\nRESULT tool=scale-create topics=100 partitions=10000 requests=10 create_ms=12345.6\n"
	vals, err := pickScaleFields(resultFields(out), []scaleField{{"create_ms", scaleCreateKey, 0.001}, {"requests", "n", 1}})
	if err != nil {
		t.Fatal(err)
	}
	if v := vals[scaleCreateKey]; v < 12.3455 || v > 12.3457 {
		t.Errorf("%s = %v, want 12.3456", scaleCreateKey, v)
	}
	if vals["n"] != 10 {
		t.Errorf("n = %v", vals["n"])
	}
	// -1 is what a tool prints for a value it could not measure.
	if _, err := pickScaleFields(resultFields("RESULT tool=scale-ready ready_ms=-1\n"), []scaleField{{"ready_ms", scaleRestartKillKey, 1}}); err == nil {
		t.Error("no error for ready_ms=-1")
	}
	if _, err := pickScaleFields(resultFields("RESULT tool=scale-conns opened=5\n"), []scaleField{{"rss_growth_kib_per_conn", scaleConnRSSKey, 1}}); err == nil {
		t.Error("no error for a missing field")
	}
}

func TestScaleThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 10_000: "10,000", 1_234_567: "1,234,567", -2000: "-2,000"} {
		if got := scaleThousands(n); got != want {
			t.Errorf("scaleThousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestScaleMetrics(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range scaleMetrics() {
		if seen[m.key] {
			t.Errorf("key %s twice", m.key)
		}
		seen[m.key] = true
	}
	for _, k := range []string{scaleIdleRSSKey, scaleRestartKillKey, scaleRestartCleanKey} {
		for _, m := range scaleMetrics() {
			if m.key == k && m.target != 0.2 {
				t.Errorf("%s: target %v, want 0.2", k, m.target)
			}
		}
	}
}
