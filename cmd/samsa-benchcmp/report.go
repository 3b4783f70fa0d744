package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// metric is one row of the table.
type metric struct {
	key          string
	label        string
	unit         string
	higherBetter bool
	// target is the bound on samsa/Kafka (≥ target when higher is
	// better, ≤ target otherwise); 0: no target, the row is for context.
	target float64
}

func metrics() []metric {
	var ms []metric
	for _, tool := range []string{toolPerf, toolBench} {
		for _, acks := range []string{"1", "all"} {
			for _, parts := range []int{1, 8} {
				ms = append(ms, metric{
					key:   produceKey(tool, acks, parts),
					label: fmt.Sprintf("produce, %s, acks=%s, %s", tool, acks, partitionsText(parts)),
					unit:  "MiB/s", higherBetter: true, target: 1.5,
				})
			}
		}
	}
	ms = append(ms,
		metric{key: "consume/" + toolPerf, label: "consume, " + toolPerf + " (8 partitions)", unit: "MiB/s", higherBetter: true, target: 1.5},
		metric{key: "consume/" + toolBench, label: "consume, " + toolBench + " (8 partitions)", unit: "MiB/s", higherBetter: true, target: 1.5},
		metric{key: "consume/hot", label: "consume hot (page cache), samsa-bench (8 partitions)", unit: "MiB/s", higherBetter: true},
		metric{key: "consume/cold", label: "consume cold (after drop_caches), samsa-bench (8 partitions)", unit: "MiB/s", higherBetter: true},
	)
	// Latency under load: the light load is the fixed --e2e-rate run (its
	// keys predate the heavy one), the heavy load is saturation.go's.
	for _, load := range []struct{ step, name string }{{"e2e/" + toolBench, "light load (--e2e-rate)"}, {heavyStep, "heavy load (half of saturation)"}} {
		ms = append(ms,
			metric{key: load.step + "/p50", label: "e2e latency p50, " + load.name + ", acks=all", unit: "ms"},
			metric{key: load.step + "/p99", label: "e2e latency p99, " + load.name + ", acks=all", unit: "ms", target: 0.4},
			metric{key: load.step + "/p999", label: "e2e latency p99.9, " + load.name + ", acks=all", unit: "ms", target: 0.4},
		)
	}
	ms = append(ms,
		metric{key: "e2e/ping-pong/avg", label: "e2e latency avg, EndToEndLatency (one at a time)", unit: "ms"},
		metric{key: "e2e/ping-pong/p99", label: "e2e latency p99, EndToEndLatency (whole ms)", unit: "ms"},
		metric{key: "e2e/ping-pong/p999", label: "e2e latency p99.9, EndToEndLatency (whole ms)", unit: "ms"},
		metric{key: "ready_ms", label: "start to first ApiVersions answer", unit: "ms", target: 0.1},
		metric{key: "idle_rss_mib", label: "idle RSS", unit: "MiB", target: 0.1},
		metric{key: installKey, label: "install size (samsa binary; Kafka: its jars, no JVM)", unit: "MiB"},
		metric{key: imageKey, label: "Docker image: the layer samsa's Dockerfile adds to its base (tar)", unit: "MiB"},
		metric{key: "peak_rss_mib", label: "peak RSS (VmHWM after the load)", unit: "MiB"},
		metric{key: "cpu_s_per_gib", label: "broker CPU per GiB produced (all produce runs)", unit: "s/GiB"},
		metric{key: "cpu_s_per_gib_consumed", label: "broker CPU per GiB consumed (both consume runs)", unit: "s/GiB"},
	)
	// Broker cost per byte, one run each (cost.go).
	for _, acks := range []string{"1", "all"} {
		for _, parts := range []int{1, 8} {
			ms = append(ms, metric{
				key:   cpuKey(produceKey(toolBench, acks, parts)),
				label: fmt.Sprintf("broker CPU per GiB, produce acks=%s, %s (samsa-bench run)", acks, partitionsText(parts)),
				unit:  "s/GiB", target: 0.4,
			})
		}
	}
	ms = append(ms,
		metric{key: txnRateKey, label: fmt.Sprintf("transactions/s, %d records of 1 partition each, one producer", txnSmallRecords), unit: "txn/s", higherBetter: true},
		metric{key: txnRateKey + "/p99", label: "transaction begin-to-commit p99 (the same run)", unit: "ms"},
		metric{key: txnConsumeKey("uncommitted"), label: "consume transactional data, read_uncommitted (8 partitions)", unit: "MiB/s", higherBetter: true},
		metric{key: txnConsumeKey("committed"), label: "consume transactional data, read_committed (8 partitions)", unit: "MiB/s", higherBetter: true},
		metric{key: txnCommittedCostKey, label: "read_committed / read_uncommitted consume throughput", unit: "ratio", higherBetter: true},
	)
	ms = append(ms, phaseMetrics()...) // phases.go
	ms = append(ms,
		metric{key: cpuKey("consume/hot"), label: "broker CPU per GiB, consume hot (page cache)", unit: "s/GiB", target: 0.4},
		metric{key: cpuKey("consume/cold"), label: "broker CPU per GiB, consume cold (after drop_caches)", unit: "s/GiB", target: 0.4},
	)
	return ms
}

func partitionsText(n int) string {
	if n == 1 {
		return "1 partition"
	}
	return fmt.Sprintf("%d partitions", n)
}

type results struct {
	Started      time.Time      `json:"started"`
	Finished     time.Time      `json:"finished"`
	Machine      string         `json:"machine"`
	Samsa        string         `json:"samsa"`
	KafkaVersion string         `json:"kafka_version,omitempty"`
	KafkaLibs    string         `json:"kafka_libs,omitempty"`
	Java         string         `json:"java,omitempty"`
	Note         string         `json:"note,omitempty"`
	Options      map[string]any `json:"options"`
	Limits       *machineLimits `json:"machine_limits,omitempty"`
	Rounds       []*roundResult `json:"rounds"`
	// Footprint is the install size in MiB per system (footprint.go).
	Footprint map[string]float64 `json:"install_mib,omitempty"`
	// Image is the layer samsa's Dockerfile adds (footprint.go); nil when
	// not measured (ImageError says why, if it failed).
	Image      *imageLayer `json:"image_layer,omitempty"`
	ImageError string      `json:"image_layer_error,omitempty"`
	// DropCaches says why the page cache could not be dropped; "" when it
	// could (the cold consume rows exist).
	DropCaches string `json:"drop_caches_problem,omitempty"`
	// The heavy load (saturation.go): the pre-pass's runs, each system's
	// saturation in records/s, the rate used and where it came from.
	Prepass    []*roundResult     `json:"prepass,omitempty"`
	Saturation map[string]float64 `json:"saturation_recps,omitempty"`
	HeavyRate  int                `json:"e2e_heavy_rate,omitempty"`
	HeavyFrom  string             `json:"e2e_heavy_rate_from,omitempty"`

	outDir string
}

func newResults(o *options) *results {
	return &results{
		Started: time.Now().UTC(),
		Machine: machineInfo(),
		Note:    o.note,
		Options: map[string]any{
			"rounds": o.rounds, "records": o.records, "record_size": o.recordSize,
			"bench_duration": o.benchDuration.String(), "bench_max_records": o.benchMaxRecords,
			"e2e_rate": o.e2eRate, "e2e_duration": o.e2eDuration.String(), "e2e_records": o.e2eRecords,
			"idle_wait": o.idleWait.String(), "systems": o.systems, "warmup_records": o.warmupRecords,
			"cost_mib": o.costMiB, "cost_passes": o.costPasses, "saturation_duration": o.saturationDuration.String(),
		},
		outDir: o.outDir,
	}
}

func (r *results) writeJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// values returns a metric's per-round values of one system, in round order.
func (r *results) values(system, key string) []float64 {
	var v []float64
	for _, rr := range r.Rounds {
		if rr.System != system {
			continue
		}
		if x, ok := rr.Values[key]; ok {
			v = append(v, x)
		}
	}
	return v
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// row is a metric with its medians.
type row struct {
	metric
	samsa, kafka float64 // medians, NaN when missing
	ratio        float64 // samsa/kafka, NaN when not computable
}

// verdict: "met", "MISSED" or "" (no target or no data).
func (w row) verdict() string {
	if w.target == 0 || math.IsNaN(w.ratio) {
		return ""
	}
	if (w.higherBetter && w.ratio >= w.target) || (!w.higherBetter && w.ratio <= w.target) {
		return "met"
	}
	return "MISSED"
}

// advantage is how many times better samsa is (>1: samsa better).
func (w row) advantage() float64 {
	if w.higherBetter {
		return w.ratio
	}
	return 1 / w.ratio
}

func (r *results) rows() []row {
	var rows []row
	for _, m := range metrics() {
		w := row{metric: m, samsa: median(r.values("samsa", m.key)), kafka: median(r.values(otherSystem(r), m.key)), ratio: math.NaN()}
		if !math.IsNaN(w.samsa) && !math.IsNaN(w.kafka) && w.kafka > 0 && w.samsa > 0 {
			w.ratio = w.samsa / w.kafka
		}
		rows = append(rows, w)
	}
	return rows
}

func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func fmtRatio(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	if v >= 10 {
		return fmt.Sprintf("%.1f×", v)
	}
	if v < 0.1 {
		return fmt.Sprintf("%.3f×", v)
	}
	return fmt.Sprintf("%.2f×", v)
}

func (m metric) targetText() string {
	switch {
	case m.target == 0:
		return ""
	case m.higherBetter:
		return fmt.Sprintf("≥ %g×", m.target)
	default:
		return fmt.Sprintf("≤ %g×", m.target)
	}
}

// markdown renders the report.
func (r *results) markdown() string {
	var b strings.Builder
	rows := r.rows()
	nS, nK := r.roundCount("samsa"), r.roundCount(otherSystem(r))
	other := otherLabel(r)
	fmt.Fprintf(&b, "# samsa vs Apache Kafka — %s\n\n", r.Started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- machine: %s\n", r.Machine)
	fmt.Fprintf(&b, "- samsa: %s\n", r.Samsa)
	if r.Note != "" {
		fmt.Fprintf(&b, "- %s\n", r.Note)
	}
	if r.KafkaVersion != "" {
		fmt.Fprintf(&b, "- Apache Kafka %s (KRaft, combined broker+controller, -Xms1g -Xmx1g G1), %s\n", r.KafkaVersion, r.Java)
	}
	fmt.Fprintf(&b, "- rounds: %d samsa, %d %s, alternating; values are medians over rounds. Record size %v B; produce runs of %v records with perf-test and of %v (at most %v records) with samsa-bench, after an unmeasured warm-up of %v records per tool; e2e at %v records/s for %v.\n",
		nS, nK, other, r.Options["record_size"], r.Options["records"], r.Options["bench_duration"], r.Options["bench_max_records"], r.Options["warmup_records"], r.Options["e2e_rate"], r.Options["e2e_duration"])
	fmt.Fprintf(&b, "- clients and broker share the machine's cores; MiB/s counts record values (as the perf tools do)\n")
	b.WriteString(r.loadNotes())
	b.WriteString("\n")

	fmt.Fprintf(&b, "| metric | unit | samsa | %s | samsa/%s | target | |\n|---|---|--:|--:|--:|--:|---|\n", other, other)
	for _, w := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", w.label, w.unit, fmtNum(w.samsa), fmtNum(w.kafka), fmtRatio(w.ratio), w.targetText(), w.verdict())
	}

	if l := r.Limits; l != nil {
		b.WriteString("\n## The machine's limits (same run)\n\n")
		fmt.Fprintf(&b, "| limit | MiB/s |\n|---|--:|\n| data disk, sequential 1 MiB writes, buffered (dd; best of %s) | %s |\n| data disk, same with fdatasync (dd conv=fdatasync; best of %s) | %s |\n| loopback TCP, one stream | %s |\n\n",
			joinNums(l.DiskBufferedRuns), fmtNum(l.DiskBufferedMiBps), joinNums(l.DiskFdatasyncRuns), fmtNum(l.DiskFdatasyncMiBps), fmtNum(l.LoopbackMiBps))
		for _, sys := range []string{"samsa", otherSystem(r)} {
			best, bestKey := math.NaN(), ""
			for _, w := range rows {
				if !strings.HasPrefix(w.key, "produce/") {
					continue
				}
				v := w.samsa
				if sys != "samsa" {
					v = w.kafka
				}
				if !math.IsNaN(v) && (math.IsNaN(best) || v > best) {
					best, bestKey = v, w.label
				}
			}
			if math.IsNaN(best) {
				continue
			}
			fmt.Fprintf(&b, "- %s's best produce throughput, %s MiB/s (%s), is %s of buffered disk writes, %s of fdatasync'ed disk writes and %s of loopback TCP.\n",
				map[string]string{"samsa": "samsa", otherSystem(r): other}[sys], fmtNum(best), bestKey,
				pct(best, l.DiskBufferedMiBps), pct(best, l.DiskFdatasyncMiBps), pct(best, l.LoopbackMiBps))
		}
		b.WriteString(r.floorNotes(rows, l))
	}

	fmt.Fprintf(&b, "\n## Every round (the medians above are over these)\n\n| metric | samsa | %s |\n|---|---|---|\n", other)
	for _, w := range rows {
		fmt.Fprintf(&b, "| %s (%s) | %s | %s |\n", w.label, w.unit, joinNums(r.values("samsa", w.key)), joinNums(r.values(otherSystem(r), w.key)))
	}
	b.WriteString("\nRounds in order (duration; share of the CPU busy with other work in the second before it): ")
	var durs []string
	noisy := false
	for _, rr := range r.Rounds {
		durs = append(durs, fmt.Sprintf("%s#%d %.0f s (%.0f%%)", rr.System, rr.Round, rr.Seconds, 100*rr.BusyBefore))
		noisy = noisy || rr.BusyBefore > 0.1
	}
	b.WriteString(strings.Join(durs, ", ") + ".\n")
	if noisy {
		b.WriteString("\n**Other work used more than 10% of the CPU before some rounds: those rounds' numbers are noisy.**\n")
	}

	var errs []string
	for _, rr := range r.Rounds {
		errs = append(errs, rr.Errors...)
	}
	for _, rr := range r.Prepass {
		errs = append(errs, rr.Errors...)
	}
	if r.Limits != nil {
		errs = append(errs, r.Limits.Errors...)
	}
	if len(errs) > 0 {
		b.WriteString("\n## Errors\n\n")
		for _, e := range errs {
			fmt.Fprintf(&b, "- %s\n", strings.SplitN(e, "\n", 2)[0])
		}
	}
	b.WriteString("\nRaw tool output: raw/; every number: results.json; chart: chart.svg. How to read this: bench/README.md.\n")
	return b.String()
}

// floorNotes are the bare broker's rows (floor.go) and what they
// say of the consume cost rows: a ratio to Kafka below the floor's own is
// out of reach of any broker that sends over loopback TCP on this machine.
func (r *results) floorNotes(rows []row, l *machineLimits) string {
	if l.SendfileHotCPU <= 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| floor | s/GiB |\n|---|--:|\n| bare broker sending its log files with sendfile to samsa-bench's consumer, CPU per GiB, hot (page cache; median of %s) | %s |\n",
		joinNums(l.SendfileHotRuns), fmtNum(l.SendfileHotCPU))
	if l.SendfileColdCPU > 0 {
		fmt.Fprintf(&b, "| the same, cold (page cache dropped before each pass; median of %s) | %s |\n", joinNums(l.SendfileColdRuns), fmtNum(l.SendfileColdCPU))
	}
	b.WriteString("\n")
	other := otherLabel(r)
	for _, t := range []struct {
		temp  string
		floor float64
	}{{"hot", l.SendfileHotCPU}, {"cold", l.SendfileColdCPU}} {
		i := slices.IndexFunc(rows, func(w row) bool { return w.key == cpuKey("consume/"+t.temp) })
		if t.floor <= 0 || i < 0 || math.IsNaN(rows[i].kafka) || rows[i].kafka <= 0 {
			continue
		}
		w := rows[i]
		reach := "above that: a broker as lean as the bare one would meet it"
		if t.floor/w.kafka > w.target {
			reach = "below that: a broker doing no more than the bare one would still miss it on this machine"
		}
		fmt.Fprintf(&b, "- consume %s: the bare broker costs %s s per GiB, %s %s's broker (%s) and %s samsa's (%s). A broker that cost no more than the bare one would be at %s %s; the ≤ %s target is %s.\n",
			t.temp, fmtNum(t.floor), fmtRatio(t.floor/w.kafka), other, fmtNum(w.kafka), fmtRatio(t.floor/w.samsa), fmtNum(w.samsa),
			fmtRatio(t.floor/w.kafka), other, fmtRatio(w.target), reach)
	}
	return b.String()
}

// loadNotes are the header lines on the heavy load's rate, the cold
// consume rows and the Docker image.
func (r *results) loadNotes() string {
	var b strings.Builder
	switch {
	case r.Image != nil:
		fmt.Fprintf(&b, "- Docker image: not built (no docker engine on this machine, and its base cannot be pulled). The layer samsa's Dockerfile adds, its static stripped binary and /var/lib/samsa, is %s MiB as a tar (%s MiB gzipped, what a pull downloads); its base, gcr.io/distroless/static-debian12, is about %d MiB by the distroless project's README (not measured): about %s MiB in all\n",
			fmtNum(r.Image.TarMiB), fmtNum(r.Image.GzipMiB), distrolessStaticMiB, fmtNum(r.Image.TarMiB+distrolessStaticMiB))
	case r.ImageError != "":
		fmt.Fprintf(&b, "- Docker image: the layer samsa adds could not be measured: %s\n", r.ImageError)
	}
	switch {
	case r.HeavyRate > 0 && len(r.Saturation) > 0:
		var sat []string
		for _, s := range r.systems() {
			if v, ok := r.Saturation[s]; ok {
				sat = append(sat, fmt.Sprintf("%s %s", s, fmtNum(v)))
			}
		}
		fmt.Fprintf(&b, "- heavy load: %d records/s, %s (samsa-bench produce, acks=all, 1 partition, best of %d runs of %v on a fresh broker of each; records/s: %s)\n",
			r.HeavyRate, r.HeavyFrom, saturationRuns, r.Options["saturation_duration"], strings.Join(sat, ", "))
	case r.HeavyRate > 0:
		fmt.Fprintf(&b, "- heavy load: %d records/s, %s\n", r.HeavyRate, r.HeavyFrom)
	case r.HeavyFrom != "":
		fmt.Fprintf(&b, "- heavy load: %s; no heavy-load rows\n", r.HeavyFrom)
	}
	fmt.Fprintf(&b, "- consume cost: %v MiB over 8 partitions written, then read %v times hot and %v times cold with samsa-bench; CPU per GiB counts the broker process only\n",
		r.Options["cost_mib"], r.Options["cost_passes"], r.Options["cost_passes"])
	if r.DropCaches != "" {
		fmt.Fprintf(&b, "- **consume cold not measured: the page cache cannot be dropped (%s); run as root for those rows**\n", r.DropCaches)
	} else {
		b.WriteString("- consume cold: `sync; echo 3 > /proc/sys/vm/drop_caches` before each cold pass, for every broker alike\n")
	}
	return b.String()
}

func (r *results) roundCount(system string) int {
	n := 0
	for _, rr := range r.Rounds {
		if rr.System == system {
			n++
		}
	}
	return n
}

func pct(v, of float64) string {
	if math.IsNaN(v) || of <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*v/of)
}

func joinNums(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmtNum(x)
	}
	return strings.Join(s, ", ")
}

// svg renders how many times better samsa is than Kafka per metric, on a log
// scale: bars right of 1× are samsa ahead. Green: target met, red: missed,
// grey: no target. A black tick marks the target.
func (r *results) svg() string {
	rows := r.rows()
	const (
		left, right, top, rowH = 380.0, 150.0, 50.0, 22.0
		plotW                  = 520.0
	)
	lo, hi := math.Log10(0.1), math.Log10(100)
	x := func(v float64) float64 {
		l := math.Log10(math.Max(0.1, math.Min(100, v)))
		return left + (l-lo)/(hi-lo)*plotW
	}
	h := top + rowH*float64(len(rows)) + 40
	w := left + plotW + right
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">samsa vs Apache Kafka %s: how many times better samsa is (log scale; &gt;1× = samsa ahead)</text>`+"\n", html.EscapeString(r.KafkaVersion))
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555">medians of %d+%d rounds, %s; green = target met, red = missed, grey = no target, tick = target</text>`+"\n",
		r.roundCount("samsa"), r.roundCount(otherSystem(r)), html.EscapeString(r.Started.Format("2006-01-02 15:04 UTC")))
	for _, t := range []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100} {
		stroke := "#ddd"
		if t == 1 {
			stroke = "#000"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x(t), top-4, x(t), top+rowH*float64(len(rows)), stroke)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%g×</text>`+"\n", x(t), top+rowH*float64(len(rows))+16, t)
	}
	for i, rw := range rows {
		y := top + rowH*float64(i)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-8, y+15, html.EscapeString(rw.label))
		if math.IsNaN(rw.ratio) {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#999">no data</text>`+"\n", x(1)+6, y+15)
			continue
		}
		adv := rw.advantage()
		color := "#9e9e9e"
		switch rw.verdict() {
		case "met":
			color = "#2e7d32"
		case "MISSED":
			color = "#c62828"
		}
		x0, x1 := x(1), x(adv)
		if x1 < x0 {
			x0, x1 = x1, x0
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x0, y+4, math.Max(x1-x0, 1), rowH-8, color)
		label := fmt.Sprintf("%.2f×", adv)
		if rw.target != 0 {
			t := rw.target
			if !rw.higherBetter {
				t = 1 / t
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="2"/>`+"\n", x(t), y+2, x(t), y+rowH-2)
			label += fmt.Sprintf(" (target %g×)", t)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+plotW+6, y+15, html.EscapeString(label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// write saves results.md, chart.svg and results.json and prints the table.
func (r *results) write(stdout io.Writer) error {
	md := r.markdown()
	if err := os.WriteFile(filepath.Join(r.outDir, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.outDir, "chart.svg"), []byte(r.svg()), 0o644); err != nil {
		return err
	}
	if err := r.writeJSON(filepath.Join(r.outDir, "results.json")); err != nil {
		return err
	}
	fmt.Fprintln(stdout, md)
	fmt.Fprintf(stdout, "saved %s/{results.md,chart.svg,results.json,raw/}\n", r.outDir)
	return nil
}

// samsaCache0 is samsa with log.cache.hot.bytes=0 (the page cache left to
// the kernel): --systems samsa,samsa-cache0 compares the page-cache
// machinery against none, in the samsa/Kafka columns' place.
const samsaCache0 = "samsa-cache0"

// otherSystem is what samsa is compared with: Kafka, or samsa-cache0 when
// the run has it.
func otherSystem(r *results) string {
	for _, s := range r.systems() {
		if s == samsaCache0 {
			return samsaCache0
		}
	}
	return "kafka"
}

func otherLabel(r *results) string {
	if otherSystem(r) == samsaCache0 {
		return "samsa, log.cache.hot.bytes=0"
	}
	return "Kafka"
}

// systems are the run's systems (its options).
func (r *results) systems() []string {
	switch v := r.Options["systems"].(type) {
	case []string:
		return v
	case []any: // read back from results.json
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
