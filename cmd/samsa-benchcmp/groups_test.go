package main

import (
	"testing"
	"time"
)

func TestGroupsCommitValues(t *testing.T) {
	out := "offsets committed: 123600 records, 67250 rec/s\n" +
		"RESULT tool=group-commits groups=20 partitions=50 committers=20 seconds=5.03 requests=4472 errors=0 offsets=223600 reqps=888.9 offsetsps=44443.8 p50_ms=17.173 p99_ms=119.746 p999_ms=321.343 max_ms=349.722 verified_groups=20 mismatched_groups=0\n"
	vals, err := groupsCommitValues(resultFields(out))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{groupsOffsetsKey: 44443.8, groupsRequestsKey: 888.9, groupsCommitP50: 17.173, groupsCommitP99: 119.746}
	for k, v := range want {
		if vals[k] != v {
			t.Errorf("%s = %v, want %v", k, vals[k], v)
		}
	}
	for _, bad := range []string{
		"RESULT tool=group-commits requests=10 errors=1 reqps=2 offsetsps=100 mismatched_groups=0",
		"RESULT tool=group-commits requests=10 errors=0 reqps=2 offsetsps=100 mismatched_groups=3",
		"RESULT tool=group-commits requests=0 errors=0 reqps=0 offsetsps=0 mismatched_groups=0",
		"no result line",
	} {
		if _, err := groupsCommitValues(resultFields(bad)); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestGroupsRebalanceValues(t *testing.T) {
	out := "RESULT tool=group-rebalance protocol=consumer assignor=uniform members=20 partitions=20 heartbeat_ms=broker jitter_ms=5000 settle_ms=1000 cycles=3 formed_ms=10102.1 generation=-1 epoch=27" +
		" add_ms=3502.6 add_min_ms=3171.3 add_max_ms=3561.2 add_steps=3 add_moved=0 add_all_ms=3171.3,3561.2,3502.6" +
		" remove_ms=3720.7 remove_min_ms=2221.4 remove_max_ms=4500.7 remove_steps=3 remove_moved=3 remove_all_ms=4500.7,3720.7,2221.4\n"
	p := resultFields(out)
	if _, ok := p["heartbeat_ms"]; ok {
		t.Error("heartbeat_ms=broker parsed as a number")
	}
	vals, err := groupsRebalanceValues("consumer", p, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := vals[groupsRebalanceKey("consumer", "add")]; got != 3502.6 {
		t.Errorf("add = %v", got)
	}
	if got := vals[groupsRebalanceKey("consumer", "remove")]; got != 3720.7 {
		t.Errorf("remove = %v", got)
	}
	if _, err := groupsRebalanceValues("consumer", p, 5); err == nil {
		t.Error("no error with fewer steps than cycles")
	}
	// A run that failed after forming the group has no step fields.
	if _, err := groupsRebalanceValues("classic", resultFields("RESULT tool=group-rebalance formed_ms=74.2"), 1); err == nil {
		t.Error("no error without steps")
	}
}

func TestGroupsSizes(t *testing.T) {
	full := groupsSizes{commitGroups: 100, commitPartitions: 50, committers: 20, commitWindow: 15 * time.Second, commitWarmup: 5 * time.Second,
		members: 20, rebalancePartitions: 20, heartbeat: 100 * time.Millisecond, classicCycles: 5, consumerCycles: 3}
	if got := full.sizes(false); got != full {
		t.Errorf("not quick: %+v", got)
	}
	q := full.sizes(true)
	want := full
	want.commitGroups, want.commitWindow, want.commitWarmup, want.members, want.classicCycles, want.consumerCycles = 20, 5*time.Second, 2*time.Second, 10, 3, 1
	if q != want {
		t.Errorf("quick: %+v, want %+v", q, want)
	}
	// Smaller flags than QUICK's stay.
	small := full
	small.commitGroups, small.members = 4, 3
	if q := small.sizes(true); q.commitGroups != 4 || q.members != 3 {
		t.Errorf("quick of small sizes: %+v", q)
	}
}

func TestGroupsMetricsKeys(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range groupsMetrics() {
		if seen[m.key] {
			t.Errorf("key %s twice", m.key)
		}
		seen[m.key] = true
		if m.target != 0 {
			t.Errorf("%s has a target", m.key)
		}
	}
	for _, k := range []string{groupsOffsetsKey, groupsRequestsKey, groupsCommitP50, groupsCommitP99,
		groupsRebalanceKey("classic", "add"), groupsRebalanceKey("classic", "remove"),
		groupsRebalanceKey("consumer", "add"), groupsRebalanceKey("consumer", "remove")} {
		if !seen[k] {
			t.Errorf("no row for %s", k)
		}
	}
}
