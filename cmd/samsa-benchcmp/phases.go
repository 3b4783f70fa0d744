package main

import (
	"context"
	"flag"
	"strings"
)

// The phases after a round's shared broker (runRound) is stopped: each
// starts brokers of its own, so that its load (10,000 partitions, 2,000
// connections, 100 groups, a three-broker cluster) does not bend the
// other rows, and adds its values and runs to the round's result.
//
//	scale    scale.go: 10,000 partitions (create time, idle RSS and CPU,
//	         restart-to-ready after a clean stop and after kill -9, a fixed
//	         produce rate over all of them) and connections (RSS per idle
//	         connection, a 200-producer fan-in's p99)
//	groups   groups.go: offset commits per second of 100 groups x 50
//	         partitions, OffsetCommit p99, rebalance time of a 20-member
//	         group, classic and KIP-848
//	cluster  cluster.go: three brokers, replication factor 3
//
// Each phase is a function of the round; --phases selects them, and they
// run in the first --phase-rounds rounds only (1 by default: a phase takes
// minutes, and `make bench` has 45).

// phase is one of them.
type phase struct {
	name    string
	run     func(ctx context.Context, o *options, system string, round int, rr *roundResult)
	metrics func() []metric
	flags   func(fs *flag.FlagSet)
}

// phases is filled by each phase file's init.
var phases []phase

var (
	phaseSelect string
	// phaseRounds: the phases run in the first this many rounds only (each
	// is minutes long; their rows are the median of those rounds).
	phaseRounds int
)

func registerPhaseFlags(fs *flag.FlagSet) {
	fs.StringVar(&phaseSelect, "phases", "all", "the phases after each round to run: all, none, or a comma-separated list (scale, groups, cluster)")
	fs.IntVar(&phaseRounds, "phase-rounds", 1, "run the phases in the first this many rounds only")
	for _, p := range phases {
		if p.flags != nil {
			p.flags(fs)
		}
	}
}

func phaseSelected(name string) bool {
	if phaseSelect == "all" {
		return true
	}
	for _, s := range splitComma(phaseSelect) {
		if s == name {
			return true
		}
	}
	return false
}

func runPhases(ctx context.Context, o *options, system string, round int, rr *roundResult) {
	if round > phaseRounds {
		return
	}
	for _, p := range phases {
		if ctx.Err() != nil {
			return
		}
		if !phaseSelected(p.name) {
			continue
		}
		logf("round %d: %s: phase %s", round, system, p.name)
		p.run(ctx, o, system, round, rr)
	}
}

func phaseMetrics() []metric {
	var ms []metric
	for _, p := range phases {
		ms = append(ms, p.metrics()...)
	}
	return ms
}

func splitComma(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
