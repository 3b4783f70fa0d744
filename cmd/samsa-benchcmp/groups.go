package main

// The groups phase (phases.go): consumer-group state, on a broker of its
// own started after the round's, with samsa-bench's group tools
// (cmd/samsa-bench/groups.go). samsa keeps groups and offsets in etcd,
// Kafka in __consumer_offsets: this is where samsa's design could be slow.
//
//	groups/commit/*     group-commits: --groups-commit-groups groups, each
//	                    committing offsets for all --groups-commit-partitions
//	                    partitions of one topic in one OffsetCommit request,
//	                    round-robin, by --groups-committers clients (one
//	                    request in flight each, a connection each) for
//	                    --groups-commit-window, after --groups-commit-warmup
//	                    of the same (a JVM's hot paths compile under the
//	                    first seconds of load). Simple commits: generation
//	                    -1 and no member id, as for a group without members.
//	                    Rows: partition offsets committed per second,
//	                    requests per second, request latency p50 and p99.
//	                    Every group's offsets are read back afterwards; a
//	                    failed commit or a wrong offset fails the run (and
//	                    its rows stay empty).
//	groups/rebalance/*  group-rebalance: --groups-members franz-go members
//	                    of one group on a --groups-rebalance-partitions
//	                    topic, classic (cooperative-sticky, heartbeats every
//	                    --groups-heartbeat) and KIP-848 (the broker's uniform
//	                    assignor, its default 5 s heartbeat interval); once
//	                    formed, cycles of one member joining and one leaving,
//	                    each timed from the change until the group is stable
//	                    again (the broker describes it Stable with exactly
//	                    the running members and their assignments as each
//	                    member's callbacks hold them, every partition held
//	                    once, at a newer generation or epoch, for 1 s). Rows:
//	                    the median join and leave times of the cycles.
//
// A rebalance waits for the members' next heartbeats, which tick together
// after each rebalance; each step starts after a random wait of up to one
// heartbeat interval (5 s for KIP-848), so the rows are that wait's mean
// (half an interval) plus the brokers' own work, and noisy by as much.
// With KIP-848 the members learn of a change only from their heartbeats,
// so its rows are mostly the broker's heartbeat interval.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func init() {
	phases = append(phases, phase{name: "groups", run: runGroupsPhase, metrics: groupsMetrics, flags: groupsFlags})
}

// groupsSizes are the phase's sizes: the flags', or QUICK's.
type groupsSizes struct {
	commitGroups, commitPartitions, committers int
	commitWindow, commitWarmup                 time.Duration
	members, rebalancePartitions               int
	heartbeat                                  time.Duration
	classicCycles, consumerCycles              int
}

var (
	groupsFlagSizes groupsSizes
	// groupsRan is what the last run used (the rows' labels say it).
	groupsRan *groupsSizes
)

// The rebalance protocols: franz-go's classic group and KIP-848's.
var groupsProtocols = []struct{ name, label string }{
	{"classic", "classic cooperative-sticky"},
	{"consumer", "KIP-848 (uniform assignor)"},
}

func groupsFlags(fs *flag.FlagSet) {
	s := &groupsFlagSizes
	fs.IntVar(&s.commitGroups, "groups-commit-groups", 100, "groups phase: groups committing offsets (QUICK: 20)")
	fs.IntVar(&s.commitPartitions, "groups-commit-partitions", 50, "groups phase: partitions of the committed topic, all in each OffsetCommit")
	fs.IntVar(&s.committers, "groups-committers", 20, "groups phase: concurrent committers, each with a connection and its share of the groups")
	fs.DurationVar(&s.commitWindow, "groups-commit-window", 15*time.Second, "groups phase: length of the measured commit run (QUICK: 5s)")
	fs.DurationVar(&s.commitWarmup, "groups-commit-warmup", 5*time.Second, "groups phase: the same commits for this long before the measured run, not measured (QUICK: 2s)")
	fs.IntVar(&s.members, "groups-members", 20, "groups phase: members of the rebalanced group before one joins (QUICK: 10)")
	fs.IntVar(&s.rebalancePartitions, "groups-rebalance-partitions", 20, "groups phase: partitions of the rebalanced group's topic")
	fs.DurationVar(&s.heartbeat, "groups-heartbeat", 100*time.Millisecond, "groups phase: heartbeat interval of the classic members (KIP-848: the broker's)")
	fs.IntVar(&s.classicCycles, "groups-classic-cycles", 5, "groups phase: join-and-leave cycles of the classic group (QUICK: 3)")
	fs.IntVar(&s.consumerCycles, "groups-848-cycles", 3, "groups phase: join-and-leave cycles of the KIP-848 group, up to ~12 s each (QUICK: 1)")
}

// sizes returns the flags' sizes, capped at QUICK's when quick.
func (s groupsSizes) sizes(quick bool) groupsSizes {
	if !quick {
		return s
	}
	s.commitGroups = min(s.commitGroups, 20)
	s.commitWindow = min(s.commitWindow, 5*time.Second)
	s.commitWarmup = min(s.commitWarmup, 2*time.Second)
	s.members = min(s.members, 10)
	s.classicCycles = min(s.classicCycles, 3)
	s.consumerCycles = min(s.consumerCycles, 1)
	return s
}

const (
	groupsOffsetsKey  = "groups/commit/offsets_per_s"
	groupsRequestsKey = "groups/commit/requests_per_s"
	groupsCommitP50   = "groups/commit/p50"
	groupsCommitP99   = "groups/commit/p99"
)

func groupsRebalanceKey(protocol, step string) string {
	return "groups/rebalance/" + protocol + "/" + step
}

func groupsMetrics() []metric {
	s := groupsFlagSizes
	if groupsRan != nil {
		s = *groupsRan
	}
	committers := min(s.committers, s.commitGroups)
	ms := []metric{
		{key: groupsOffsetsKey, unit: "offsets/s", higherBetter: true,
			label: fmt.Sprintf("offset commits/s, %d groups × %d partitions, %d committers (simple commits: generation -1, no members)", s.commitGroups, s.commitPartitions, committers)},
		{key: groupsRequestsKey, unit: "req/s", higherBetter: true,
			label: fmt.Sprintf("OffsetCommit requests/s (%d partitions each), the same run", s.commitPartitions)},
		{key: groupsCommitP50, unit: "ms", label: "OffsetCommit latency p50, the same run"},
		{key: groupsCommitP99, unit: "ms", label: "OffsetCommit latency p99, the same run"},
	}
	for _, p := range groupsProtocols {
		hb, cycles := fmt.Sprintf("heartbeat %v", s.heartbeat), s.classicCycles
		if p.name == "consumer" {
			hb, cycles = "the broker's 5 s heartbeat", s.consumerCycles
		}
		ms = append(ms,
			metric{key: groupsRebalanceKey(p.name, "add"), unit: "ms",
				label: fmt.Sprintf("rebalance to stable, %s, %d members + 1 joins (%s, median of %d)", p.label, s.members, hb, cycles)},
			metric{key: groupsRebalanceKey(p.name, "remove"), unit: "ms",
				label: fmt.Sprintf("rebalance to stable, %s, 1 of %d members leaves (%s, median of %d)", p.label, s.members+1, hb, cycles)},
		)
	}
	return ms
}

func runGroupsPhase(ctx context.Context, o *options, system string, round int, rr *roundResult) {
	s := groupsFlagSizes.sizes(o.quick)
	groupsRan = &s
	r := &rounder{ctx: ctx, o: o, res: rr}
	dir := filepath.Join(o.workDir, fmt.Sprintf("%s-%d-groups", system, round))
	defer func() {
		if !o.keepData {
			_ = os.RemoveAll(dir)
		}
	}()
	start := time.Now()
	b, t0, err := startBroker(ctx, o, system, dir)
	if err != nil {
		r.fail("groups/start", err)
		return
	}
	r.b = b
	defer func() {
		if err := b.stop(); err != nil {
			r.fail("groups/stop", err)
		}
		_ = copyFile(b.log.Name(), r.rawPath("groups-broker"))
		logf("  %s groups phase done in %.0f s", system, time.Since(start).Seconds())
	}()
	out := r.tool("groups/ready", 2*time.Minute, o.benchBin, "--mode", "ready", "--brokers", b.addr,
		"--since", strconv.FormatInt(t0.UnixNano(), 10), "--poll-interval", "10ms", "--timeout", "110s")
	if v, ok := resultField(out, "ready_ms"); !ok || v < 0 {
		r.fail("groups/ready", fmt.Errorf("%s never answered ApiVersions; log:\n%s", system, b.tail(20)))
		return
	}

	r.groupCommits(s)
	for _, p := range groupsProtocols {
		if !b.alive() || ctx.Err() != nil {
			r.fail("groups/rebalance", fmt.Errorf("%s is gone: %v", system, b.waitErr))
			return
		}
		r.groupRebalance(s, p.name)
	}
}

func (r *rounder) groupCommits(s groupsSizes) {
	const step = "groups/commit"
	timeout := s.commitWarmup + s.commitWindow + 3*time.Minute
	cpu0, err0 := cpuSeconds(r.b.pid())
	rec := r.toolRec(step, timeout+30*time.Second, r.o.benchBin, "group-commits", "--brokers", r.b.addr,
		"--topic", "groups-commits", "--partitions", strconv.Itoa(s.commitPartitions),
		"--groups", strconv.Itoa(s.commitGroups), "--committers", strconv.Itoa(s.committers),
		"--warmup", s.commitWarmup.String(), "--duration", s.commitWindow.String(), "--timeout", timeout.String())
	cpu1, err1 := cpuSeconds(r.b.pid())
	if err0 == nil && err1 == nil {
		rec.CPUSecs = cpu1 - cpu0
	}
	rec.Parsed = resultFields(rec.stdout)
	rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	vals, err := groupsCommitValues(rec.Parsed)
	if rec.Error != "" {
		return
	}
	if err != nil {
		r.fail(step, err)
		return
	}
	for k, v := range vals {
		r.res.Values[k] = v
	}
	logf("  %s %s: %.0f offsets/s in %.0f requests/s, p50 %.2f ms, p99 %.2f ms (broker CPU %.1f s)", r.res.System, step,
		vals[groupsOffsetsKey], vals[groupsRequestsKey], vals[groupsCommitP50], vals[groupsCommitP99], rec.CPUSecs)
}

// groupsCommitValues are the commit rows of a group-commits RESULT; an
// error when the run committed nothing or any commit failed.
func groupsCommitValues(p map[string]float64) (map[string]float64, error) {
	switch {
	case p["requests"] <= 0 || p["offsetsps"] <= 0:
		return nil, fmt.Errorf("no commit was answered")
	case p["errors"] != 0 || p["mismatched_groups"] != 0:
		return nil, fmt.Errorf("%.0f commits failed, %.0f groups not as committed", p["errors"], p["mismatched_groups"])
	}
	return map[string]float64{
		groupsOffsetsKey:  p["offsetsps"],
		groupsRequestsKey: p["reqps"],
		groupsCommitP50:   p["p50_ms"],
		groupsCommitP99:   p["p99_ms"],
	}, nil
}

func (r *rounder) groupRebalance(s groupsSizes, protocol string) {
	step := "groups/rebalance/" + protocol
	cycles := s.classicCycles
	if protocol == "consumer" {
		cycles = s.consumerCycles
	}
	const stepTimeout = 90 * time.Second
	// Forming, then each step: at most its wait, a jitter and the settle.
	timeout := stepTimeout + time.Duration(2*cycles)*(stepTimeout+10*time.Second)
	rec := r.toolRec(step, timeout+30*time.Second, r.o.benchBin, "group-rebalance", "--brokers", r.b.addr,
		"--topic", "groups-rebalance", "--group", "rebalance-"+protocol, "--protocol", protocol,
		"--partitions", strconv.Itoa(s.rebalancePartitions), "--members", strconv.Itoa(s.members),
		"--heartbeat-interval", s.heartbeat.String(), "--cycles", strconv.Itoa(cycles),
		"--step-timeout", stepTimeout.String(), "--timeout", timeout.String())
	rec.Parsed = resultFields(rec.stdout)
	rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	if rec.Error != "" {
		return
	}
	vals, err := groupsRebalanceValues(protocol, rec.Parsed, cycles)
	if err != nil {
		r.fail(step, err)
		return
	}
	for k, v := range vals {
		r.res.Values[k] = v
	}
	logf("  %s %s: formed in %.0f ms; a join %.0f ms, a leave %.0f ms to stable (medians of %d)", r.res.System, step,
		rec.Parsed["formed_ms"], vals[groupsRebalanceKey(protocol, "add")], vals[groupsRebalanceKey(protocol, "remove")], cycles)
}

// groupsRebalanceValues are the rebalance rows of a group-rebalance RESULT;
// an error unless every cycle was timed.
func groupsRebalanceValues(protocol string, p map[string]float64, cycles int) (map[string]float64, error) {
	vals := map[string]float64{}
	for _, step := range []string{"add", "remove"} {
		if n := p[step+"_steps"]; n != float64(cycles) {
			return nil, fmt.Errorf("%s: %.0f of %d %s steps timed", protocol, n, cycles, step)
		}
		v, ok := p[step+"_ms"]
		if !ok || v <= 0 {
			return nil, fmt.Errorf("%s: no %s time", protocol, step)
		}
		vals[groupsRebalanceKey(protocol, step)] = v
	}
	return vals, nil
}
