package main

// The scale phase (phases.go): many partitions, and many connections, each
// on fresh brokers of its own. The load comes from samsa-bench's scale-*
// tools (cmd/samsa-bench/scale.go), the same for both brokers.
//
// Partitions (a broker on its own data dir, restarted twice on it):
//
//	create    --scale-topics x --scale-partitions partitions, replication 1,
//	          10 topics per CreateTopics request, one request at a time; the
//	          time from the first request to the first Metadata answer that
//	          lists every partition with a leader
//	idle      after a settling pause, the broker's CPU seconds over an idle
//	          window as a percentage of one core, and VmRSS at its end
//	first     one record to every partition at once, acks=1: the time until
//	          all are acked (a fresh partition's first write; the JVM also
//	          compiles its produce path meanwhile)
//	produce   then --scale-rate records/s for --scale-produce-duration,
//	          record i to partition i mod N of all of them, acks=1: achieved
//	          rate (records acked / time to the last ack) and ack p99
//	kill -9   SIGKILL right after that (the produced data not yet flushed,
//	          nor Kafka's recovery points checkpointed), then the same command on the same data dir;
//	          restart-to-ready is process start -> the first Metadata answer
//	          (all topics, a new connection per attempt) listing every
//	          partition with a leader and no error
//	clean     SIGTERM, the time until the process exits, then the same
//	          restart and the same measure; the broker is then killed, as
//	          its data dir is removed
//
// Kafka answers no client request before its logs are loaded, so "listed
// with leaders" means served; the same definition holds for samsa.
//
// Connections (a second fresh broker):
//
//	idle      --scale-conns TCP connections, each sends one ApiVersions
//	          request and stays idle; (VmRSS with them open, a few seconds
//	          after the last is answered, minus VmRSS before) / connections
//	fan-in    --scale-producers franz-go clients, acks=all, to one topic of
//	          8 partitions, --scale-fanin-rate records/s in total, each
//	          client its share on its own schedule, for --scale-fanin-warmup
//	          unmeasured (a fresh JVM compiles meanwhile) and then
//	          --scale-fanin-duration: achieved rate, ack p99 and p99.9 of
//	          the measured records
//
// QUICK (--quick) picks small sizes (2,000 partitions, 500 connections, 50
// producers, shorter windows) so the phase stays under 2 minutes a broker;
// any --scale-* flag set wins over both.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Row keys.
const (
	scaleCreateKey       = "scale/create_s"
	scaleIdleRSSKey      = "scale/idle_rss_mib"
	scaleIdleCPUKey      = "scale/idle_cpu_pct"
	scaleFirstRecordsKey = "scale/produce/first_s"
	scaleProduceRateKey  = "scale/produce/recps"
	scaleProduceP99Key   = "scale/produce/p99"
	scaleRestartKillKey  = "scale/restart_kill9_ms"
	scaleStopKey         = "scale/stop_ms"
	scaleRestartCleanKey = "scale/restart_clean_ms"
	scaleConnRSSKey      = "conns/rss_kib_per_conn"
	scaleFaninRateKey    = "conns/fanin/recps"
	scaleFaninP99Key     = "conns/fanin/p99"
	scaleFaninP999Key    = "conns/fanin/p999"
)

// scaleFaninPartitions is the fan-in topic's partition count.
const scaleFaninPartitions = 8

// scaleSizes are the phase's sizes; zero fields of the flags take the
// full or the QUICK default.
type scaleSizes struct {
	topics, partitions int           // per topic
	settle, idle       time.Duration // pause after create, idle window
	rate               int           // records/s over all partitions
	produceFor         time.Duration
	restartTimeout     time.Duration // each restart-to-ready at most
	conns              int
	producers          int
	faninRate          int
	faninWarmup        time.Duration // at the same rate, not measured
	faninFor           time.Duration
}

var (
	fullScale = scaleSizes{topics: 100, partitions: 100, settle: 10 * time.Second, idle: 10 * time.Second,
		rate: 2000, produceFor: 10 * time.Second, restartTimeout: 5 * time.Minute,
		conns: 2000, producers: 200, faninRate: 2000, faninWarmup: 5 * time.Second, faninFor: 10 * time.Second}
	quickScale = scaleSizes{topics: 20, partitions: 100, settle: 3 * time.Second, idle: 3 * time.Second,
		rate: 2000, produceFor: 3 * time.Second, restartTimeout: 2 * time.Minute,
		conns: 500, producers: 50, faninRate: 2000, faninWarmup: 2 * time.Second, faninFor: 5 * time.Second}

	// scaleFlags holds the --scale-* flags (zero: the default).
	scaleFlags scaleSizes
	// scaleUsed are the sizes of the last run, for the rows' labels.
	scaleUsed *scaleSizes
)

func init() {
	phases = append(phases, phase{name: "scale", run: runScalePhase, metrics: scaleMetrics, flags: scaleFlagSet})
}

func scaleFlagSet(fs *flag.FlagSet) {
	f := &scaleFlags
	fs.IntVar(&f.topics, "scale-topics", 0, "scale phase: topics (0: 100, QUICK 20)")
	fs.IntVar(&f.partitions, "scale-partitions", 0, "scale phase: partitions per topic (0: 100)")
	fs.DurationVar(&f.settle, "scale-settle", 0, "scale phase: pause between creation and the idle window (0: 10s, QUICK 3s)")
	fs.DurationVar(&f.idle, "scale-idle", 0, "scale phase: idle window for CPU and RSS after creation (0: 10s, QUICK 3s)")
	fs.IntVar(&f.rate, "scale-rate", 0, "scale phase: records/s of the produce over all partitions (0: 2000)")
	fs.DurationVar(&f.produceFor, "scale-produce-duration", 0, "scale phase: length of that produce (0: 10s, QUICK 3s)")
	fs.IntVar(&f.conns, "scale-conns", 0, "scale phase: idle connections (0: 2000, QUICK 500)")
	fs.IntVar(&f.producers, "scale-producers", 0, "scale phase: producer clients of the fan-in (0: 200, QUICK 50)")
	fs.IntVar(&f.faninRate, "scale-fanin-rate", 0, "scale phase: records/s of the fan-in, all producers together (0: 2000)")
	fs.DurationVar(&f.faninWarmup, "scale-fanin-warmup", 0, "scale phase: the fan-in's unmeasured start at the same rate (0: 5s, QUICK 2s)")
	fs.DurationVar(&f.faninFor, "scale-fanin-duration", 0, "scale phase: length of the fan-in, measured (0: 10s, QUICK 5s)")
}

// resolveScaleSizes returns the defaults for quick with every non-zero
// field of set in their place.
func resolveScaleSizes(quick bool, set scaleSizes) scaleSizes {
	s := fullScale
	if quick {
		s = quickScale
	}
	pickInt := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	pickDur := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	pickInt(&s.topics, set.topics)
	pickInt(&s.partitions, set.partitions)
	pickDur(&s.settle, set.settle)
	pickDur(&s.idle, set.idle)
	pickInt(&s.rate, set.rate)
	pickDur(&s.produceFor, set.produceFor)
	pickDur(&s.restartTimeout, set.restartTimeout)
	pickInt(&s.conns, set.conns)
	pickInt(&s.producers, set.producers)
	pickInt(&s.faninRate, set.faninRate)
	pickDur(&s.faninWarmup, set.faninWarmup)
	pickDur(&s.faninFor, set.faninFor)
	return s
}

func (s scaleSizes) total() int { return s.topics * s.partitions }

// scaleThousands writes n with comma separators (10000 -> "10,000").
func scaleThousands(n int) string {
	if n < 0 {
		return "-" + scaleThousands(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func scaleMetrics() []metric {
	s := fullScale
	if scaleUsed != nil {
		s = *scaleUsed
	}
	n := scaleThousands(s.total())
	return []metric{
		{key: scaleCreateKey, label: fmt.Sprintf("scale: create %s partitions (%d topics × %d, RF 1) until all listed with leaders", n, s.topics, s.partitions), unit: "s"},
		{key: scaleIdleRSSKey, label: fmt.Sprintf("scale: idle RSS with %s partitions", n), unit: "MiB", target: 0.2},
		{key: scaleIdleCPUKey, label: fmt.Sprintf("scale: idle CPU with %s partitions (%v window)", n, s.idle), unit: "% of a core"},
		{key: scaleFirstRecordsKey, label: fmt.Sprintf("scale: first record to each of %s partitions at once, acks=1: until all acked", n), unit: "s"},
		{key: scaleProduceRateKey, label: fmt.Sprintf("scale: produce over all %s partitions, %s records/s asked, acks=1: achieved", n, scaleThousands(s.rate)), unit: "records/s", higherBetter: true},
		{key: scaleProduceP99Key, label: fmt.Sprintf("scale: produce over all %s partitions: ack p99", n), unit: "ms"},
		{key: scaleRestartKillKey, label: fmt.Sprintf("scale: restart to ready after kill -9 (Metadata lists all %s partitions with leaders)", n), unit: "ms", target: 0.2},
		{key: scaleStopKey, label: fmt.Sprintf("scale: clean stop, SIGTERM to exit, %s partitions", n), unit: "ms"},
		{key: scaleRestartCleanKey, label: "scale: restart to ready after that clean stop (the same measure)", unit: "ms", target: 0.2},
		{key: scaleConnRSSKey, label: fmt.Sprintf("connections: RSS growth per idle connection (%s, one ApiVersions each)", scaleThousands(s.conns)), unit: "KiB"},
		{key: scaleFaninRateKey, label: fmt.Sprintf("fan-in: %d producers, %s records/s in total asked, acks=all, %d partitions: achieved", s.producers, scaleThousands(s.faninRate), scaleFaninPartitions), unit: "records/s", higherBetter: true},
		{key: scaleFaninP99Key, label: fmt.Sprintf("fan-in: %d producers: ack p99", s.producers), unit: "ms"},
		{key: scaleFaninP999Key, label: fmt.Sprintf("fan-in: %d producers: ack p99.9", s.producers), unit: "ms"},
	}
}

func runScalePhase(ctx context.Context, o *options, system string, round int, rr *roundResult) {
	s := resolveScaleSizes(o.quick, scaleFlags)
	scaleUsed = &s
	r := &rounder{ctx: ctx, o: o, res: rr}
	// The brokers inherit this process's limit. Kafka holds one file open
	// per partition (its indexes are mapped and closed), samsa three (.log,
	// .index, .timeindex); a connection is one more.
	if err := scaleRaiseNoFile(uint64(3*s.total() + s.conns + 4096)); err != nil {
		logf("  scale: %v", err)
	}
	start := time.Now()
	r.scalePartitions(s)
	logf("  %s scale: partitions done in %.0f s", system, time.Since(start).Seconds())
	if ctx.Err() != nil {
		return
	}
	start = time.Now()
	r.scaleConnections(s)
	logf("  %s scale: connections done in %.0f s", system, time.Since(start).Seconds())
}

// scaleRaiseNoFile raises RLIMIT_NOFILE of this process (and so of the
// brokers it starts from now on) to need when it is below: the soft limit
// up to the hard one, and the hard one too when allowed (root). An error
// says the limit stays below need.
func scaleRaiseNoFile(need uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	if l.Cur >= need {
		return nil
	}
	if l.Max < need {
		up := syscall.Rlimit{Cur: need, Max: need}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up); err == nil {
			logf("  scale: RLIMIT_NOFILE raised to %d (was %d, hard %d)", need, l.Cur, l.Max)
			return nil
		}
	}
	was := l.Cur
	l.Cur = min(l.Max, need)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("raising RLIMIT_NOFILE from %d to %d: %w", was, l.Cur, err)
	}
	if l.Cur < need {
		return fmt.Errorf("RLIMIT_NOFILE is %d (the hard limit), below the %d file descriptors the brokers may need", l.Cur, need)
	}
	logf("  scale: RLIMIT_NOFILE raised to %d (was %d)", l.Cur, was)
	return nil
}

// scaleField is a RESULT field of a tool that becomes a row: value * mul.
type scaleField struct {
	field, key string
	mul        float64
}

// pickScaleFields returns the rows' values from a tool's RESULT fields; an
// error names the first field that is missing or negative (the tools print
// -1 for what they could not measure).
func pickScaleFields(parsed map[string]float64, want []scaleField) (map[string]float64, error) {
	out := map[string]float64{}
	for _, w := range want {
		v, ok := parsed[w.field]
		if !ok || v < 0 {
			return nil, fmt.Errorf("no %s in the tool's RESULT line", w.field)
		}
		out[w.key] = v * w.mul
	}
	return out, nil
}

// scaleTool runs samsa-bench TOOL args within timeout (the tool's own
// --timeout 10 s shorter), records the run with the broker's CPU seconds
// during it, and sets the rows of want. It returns the parsed fields, or nil
// when the run failed or a field is missing.
func (r *rounder) scaleTool(step, tool string, timeout time.Duration, want []scaleField, args ...string) map[string]float64 {
	args = append([]string{tool, "--brokers", r.b.addr, "--timeout", (timeout - 10*time.Second).String()}, args...)
	cpu0, err0 := cpuSeconds(r.b.pid())
	rec := r.toolRec(step, timeout, r.o.benchBin, args...)
	cpu1, err1 := cpuSeconds(r.b.pid())
	if err0 == nil && err1 == nil {
		rec.CPUSecs = cpu1 - cpu0
	}
	rec.Parsed = resultFields(rec.stdout)
	rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	if rec.Error != "" {
		r.scaleWhy(step, rec.RawLogAt)
		return nil
	}
	vals, err := pickScaleFields(rec.Parsed, want)
	if err != nil {
		r.fail(step, err)
		return nil
	}
	for k, v := range vals {
		r.res.Values[k] = v
	}
	return rec.Parsed
}

// scaleWhy adds to the round's errors the last line a failed tool wrote
// (the line that says what went wrong), and says so when the broker ran out
// of file descriptors.
func (r *rounder) scaleWhy(step, raw string) {
	if data, err := os.ReadFile(raw); err == nil {
		if line := lastLine(strings.TrimSpace(string(data))); line != "" {
			r.fail(step, errors.New(line))
		}
	}
	if data, err := os.ReadFile(r.b.log.Name()); err == nil && bytes.Contains(data, []byte("too many open files")) {
		var l syscall.Rlimit
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
		r.fail(step, fmt.Errorf("%s ran out of file descriptors (\"too many open files\" in its log; RLIMIT_NOFILE %d, hard %d)", r.res.System, l.Cur, l.Max))
	}
}

// scaleStart starts a fresh broker in dir and waits for its first
// ApiVersions answer; nil when either failed (recorded).
func (r *rounder) scaleStart(step, dir string) *broker {
	b, t0, err := startBroker(r.ctx, r.o, r.res.System, dir)
	if err != nil {
		r.fail(step+"/start", err)
		return nil
	}
	r.b = b
	out := r.tool(step+"/ready", 2*time.Minute, r.o.benchBin, "--mode", "ready", "--brokers", b.addr,
		"--since", strconv.FormatInt(t0.UnixNano(), 10), "--poll-interval", "2ms", "--timeout", "110s")
	if v, ok := resultField(out, "ready_ms"); !ok || v < 0 {
		r.fail(step+"/ready", fmt.Errorf("%s never answered ApiVersions; log:\n%s", r.res.System, b.tail(20)))
		r.scaleStop(step, b)
		return nil
	}
	return b
}

// scaleStop stops b (SIGTERM, 60 s) if it still runs and keeps its log.
func (r *rounder) scaleStop(step string, b *broker) {
	if b.alive() {
		if err := b.stop(); err != nil {
			r.fail(step+"/stop", err)
		}
	} else {
		b.log.Close()
	}
	r.scaleKeepLog(step, b)
}

// scaleTerm sends SIGTERM to b and waits until it has exited, at most
// timeout (broker.stop's 60 s can be short for 10,000 partitions), then
// kills it. An error says it had to be killed, or had exited already.
func scaleTerm(b *broker, timeout time.Duration) error {
	if !b.alive() {
		return fmt.Errorf("%s had exited already: %v", b.system, b.waitErr)
	}
	defer b.log.Close()
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
		return nil
	case <-time.After(timeout):
	}
	_ = b.cmd.Process.Kill()
	<-b.exited
	return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", b.system, timeout)
}

// scaleKill sends SIGKILL to b and waits until it has exited (30 s at most),
// then keeps its log.
func (r *rounder) scaleKill(step string, b *broker) error {
	defer r.scaleKeepLog(step, b)
	if b.alive() {
		_ = b.cmd.Process.Kill()
		select {
		case <-b.exited:
		case <-time.After(30 * time.Second):
			return fmt.Errorf("%s still runs 30 s after SIGKILL", b.system)
		}
	}
	b.log.Close()
	return nil
}

func (r *rounder) scaleKeepLog(step string, b *broker) {
	_ = copyFile(b.log.Name(), r.rawPath(step+"/"+strings.TrimSuffix(filepath.Base(b.log.Name()), ".log")))
}

// scaleRestartBroker runs old's command again on old's data dir (nothing is
// prepared or removed) once old has exited; the log goes to a file of its
// own. The time is taken just before the process starts.
func scaleRestartBroker(old *broker, tag string) (*broker, time.Time, error) {
	if old.alive() {
		return nil, time.Time{}, fmt.Errorf("%s still runs", old.system)
	}
	b := &broker{system: old.system, addr: old.addr, dir: old.dir}
	b.cmd = exec.Command(old.cmd.Path, old.cmd.Args[1:]...)
	var err error
	b.log, err = os.Create(filepath.Join(old.dir, fmt.Sprintf("%s-%s.log", old.system, tag)))
	if err != nil {
		return nil, time.Time{}, err
	}
	t0, err := b.launch()
	if err != nil {
		return nil, time.Time{}, err
	}
	return b, t0, nil
}

// scaleListArgs are the flags that name the partitions' topics.
func scaleListArgs(s scaleSizes) []string {
	return []string{"--prefix", "scale-", "--topics", strconv.Itoa(s.topics), "--partitions", strconv.Itoa(s.partitions)}
}

func (r *rounder) scalePartitions(s scaleSizes) {
	system := r.res.System
	dir := filepath.Join(r.o.workDir, fmt.Sprintf("scale-%s-%d", system, r.res.Round))
	defer func() {
		if !r.o.keepData {
			_ = os.RemoveAll(dir)
		}
	}()
	b := r.scaleStart("scale", dir)
	if b == nil {
		return
	}
	// Whichever broker runs last is killed: its data dir goes next.
	defer func() {
		if err := r.scaleKill("scale", r.b); err != nil {
			r.fail("scale/kill", err)
		}
	}()

	// Create.
	timeout := max(r.o.runTimeout, 2*time.Minute)
	got := r.scaleTool("scale/create", "scale-create", timeout, []scaleField{{"create_ms", scaleCreateKey, 0.001}},
		scaleListArgs(s)...)
	if got == nil {
		return
	}
	logf("  %s scale: %s partitions created in %.1f s", system, scaleThousands(s.total()), got["create_ms"]/1000)

	// Idle.
	if !sleepCtx(r.ctx, s.settle) {
		return
	}
	cpu0, err0 := cpuSeconds(b.pid())
	if !sleepCtx(r.ctx, s.idle) {
		return
	}
	cpu1, err1 := cpuSeconds(b.pid())
	rss, err2 := procStatus(b.pid(), "VmRSS")
	if err0 != nil || err1 != nil || err2 != nil {
		r.fail("scale/idle", fmt.Errorf("reading /proc of %s: %v %v %v", system, err0, err1, err2))
	} else {
		r.res.Values[scaleIdleCPUKey] = 100 * (cpu1 - cpu0) / s.idle.Seconds()
		r.res.Values[scaleIdleRSSKey] = rss
		logf("  %s scale: idle %.1f MiB RSS, %.2f%% of a core", system, rss, r.res.Values[scaleIdleCPUKey])
	}

	// The first record to every partition, then the fixed rate over all.
	got = r.scaleTool("scale/produce", "scale-produce", s.produceFor+4*time.Minute,
		[]scaleField{{"first_records_ms", scaleFirstRecordsKey, 0.001}, {"recps", scaleProduceRateKey, 1}, {"lat_p99_ms", scaleProduceP99Key, 1}},
		append(scaleListArgs(s), "--rate", strconv.Itoa(s.rate), "--duration", s.produceFor.String(),
			"--record-size", strconv.Itoa(r.o.recordSize))...)
	if got != nil {
		r.scaleFailed("scale/produce", got)
		logf("  %s scale: first record to every partition acked in %.1f s; then %.0f records/s of %d asked, ack p99 %.2f ms",
			system, got["first_records_ms"]/1000, got["recps"], s.rate, got["lat_p99_ms"])
	}
	if !b.alive() || r.ctx.Err() != nil {
		r.fail("scale/produce", fmt.Errorf("%s is gone: %v", system, b.waitErr))
		return
	}

	// kill -9, restart.
	if err := r.scaleKill("scale", b); err != nil {
		r.fail("scale/kill9", err)
		return
	}
	if !r.scaleRestart("kill9", scaleRestartKillKey, s) {
		return
	}
	b = r.b

	// Clean stop, restart.
	t := time.Now()
	if err := scaleTerm(b, s.restartTimeout); err != nil {
		// Killed: not a clean stop, so no clean restart either.
		r.fail("scale/stop", err)
		r.scaleKeepLog("scale", b)
		return
	}
	r.res.Values[scaleStopKey] = float64(time.Since(t)) / float64(time.Millisecond)
	r.scaleKeepLog("scale", b)
	logf("  %s scale: clean stop in %.0f ms", system, r.res.Values[scaleStopKey])
	r.scaleRestart("clean", scaleRestartCleanKey, s)
}

// scaleFailed records an error when a produce tool counted failed records
// (the values stay: the achieved rate leaves those records out).
func (r *rounder) scaleFailed(step string, got map[string]float64) {
	if n := got["errors"]; n > 0 {
		r.fail(step, fmt.Errorf("%.0f of %.0f records failed (not in the achieved rate)", n, n+got["records"]))
	}
}

// scaleRestart starts r.b's command again on its data dir (r.b has exited)
// and measures restart-to-ready into key; r.b is the new broker after it.
// false when it did not come back.
func (r *rounder) scaleRestart(tag, key string, s scaleSizes) bool {
	old := r.b
	if old.alive() {
		r.fail("scale/restart-"+tag, fmt.Errorf("%s still runs", old.system))
		return false
	}
	b, t0, err := scaleRestartBroker(old, "after-"+tag)
	if err != nil {
		r.fail("scale/restart-"+tag, err)
		return false
	}
	r.b = b
	got := r.scaleTool("scale/restart-"+tag, "scale-ready", s.restartTimeout, []scaleField{{"ready_ms", key, 1}},
		append(scaleListArgs(s), "--since", strconv.FormatInt(t0.UnixNano(), 10))...)
	if got == nil {
		r.fail("scale/restart-"+tag, fmt.Errorf("%s not ready; log:\n%s", r.res.System, b.tail(20)))
		return false
	}
	logf("  %s scale: ready %.0f ms after the restart (%s)", r.res.System, got["ready_ms"], tag)
	return true
}

func (r *rounder) scaleConnections(s scaleSizes) {
	system := r.res.System
	dir := filepath.Join(r.o.workDir, fmt.Sprintf("scale-conns-%s-%d", system, r.res.Round))
	defer func() {
		if !r.o.keepData {
			_ = os.RemoveAll(dir)
		}
	}()
	b := r.scaleStart("conns", dir)
	if b == nil {
		return
	}
	defer func() {
		if err := r.scaleKill("conns", b); err != nil {
			r.fail("conns/kill", err)
		}
	}()
	if !sleepCtx(r.ctx, s.settle) {
		return
	}
	got := r.scaleTool("conns/idle", "scale-conns", 3*time.Minute, []scaleField{{"rss_growth_kib_per_conn", scaleConnRSSKey, 1}},
		"--conns", strconv.Itoa(s.conns), "--pid", strconv.Itoa(b.pid()), "--settle", "3s")
	if got != nil {
		logf("  %s connections: %.0f open, RSS %.0f -> %.0f KiB: %.2f KiB each", system, got["opened"],
			got["rss_before_kib"], got["rss_open_kib"], got["rss_growth_kib_per_conn"])
	}
	if !b.alive() || r.ctx.Err() != nil {
		r.fail("conns/idle", fmt.Errorf("%s is gone: %v", system, b.waitErr))
		return
	}
	got = r.scaleTool("conns/fanin", "scale-fanin", s.faninWarmup+s.faninFor+3*time.Minute,
		[]scaleField{{"recps", scaleFaninRateKey, 1}, {"lat_p99_ms", scaleFaninP99Key, 1}, {"lat_p999_ms", scaleFaninP999Key, 1}},
		"--prefix", "fanin-", "--partitions", strconv.Itoa(scaleFaninPartitions), "--producers", strconv.Itoa(s.producers),
		"--rate", strconv.Itoa(s.faninRate), "--warmup", s.faninWarmup.String(), "--duration", s.faninFor.String(), "--acks", "all",
		"--record-size", strconv.Itoa(r.o.recordSize))
	if got != nil {
		r.scaleFailed("conns/fanin", got)
		logf("  %s fan-in: %.0f producers, %.0f records/s, ack p99 %.2f ms, p99.9 %.2f ms", system, got["producers"],
			got["recps"], got["lat_p99_ms"], got["lat_p999_ms"])
	}
}
