package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestClusterPickLeader(t *testing.T) {
	for _, tc := range []struct {
		avoid []int32
		want  []int32
	}{
		{nil, []int32{1, 2, 3}},
		{[]int32{1}, []int32{2, 1, 3}},
		{[]int32{1, 2}, []int32{3, 1, 2}},
		{[]int32{2, 1}, []int32{3, 1, 2}},
		{[]int32{3, 3}, []int32{1, 2, 3}},
		{[]int32{-1, 2}, []int32{1, 2, 3}}, // no quorum leader known
		{[]int32{1, 2, 3}, []int32{1, 2, 3}},
	} {
		got := clusterPickLeader(3, tc.avoid...)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("clusterPickLeader(3, %v) = %v, want %v", tc.avoid, got, tc.want)
		}
	}
}

func TestClusterSamsaArgs(t *testing.T) {
	args := clusterSamsaArgs(2, "/d/node2/data", []int{9001, 9002, 9003}, []int{9101, 9102, 9103}, []string{"broker.session.timeout.ms=3000"})
	line := strings.Join(args, " ")
	for _, want := range []string{
		"--broker-id 2 ",
		"--data-dir /d/node2/data ",
		"--listeners PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102 ",
		"--advertised-listeners PLAINTEXT://127.0.0.1:9002 ",
		"--override process.roles=broker,controller",
		"--override controller.quorum.voters=1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103",
		"--override controller.listener.names=CONTROLLER",
		"--override broker.session.timeout.ms=3000",
	} {
		if !strings.Contains(line+" ", want) {
			t.Errorf("samsa args %q lack %q", line, want)
		}
	}
	// The admin listener is off: its value is an empty argument.
	for i, a := range args {
		if a == "--admin-listener" && (i+1 >= len(args) || args[i+1] != "") {
			t.Errorf("--admin-listener not followed by an empty value: %q", args)
		}
	}
}

func TestClusterMetricsAndPorts(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range clusterMetrics() {
		if seen[m.key] {
			t.Errorf("metric key %s twice", m.key)
		}
		seen[m.key] = true
		if m.target != 0 {
			t.Errorf("%s has target %v; the issue gives the cluster rows none", m.key, m.target)
		}
	}
	for _, s := range clusterSettings {
		if !seen[clusterFailoverKey(s.name)] {
			t.Errorf("no row for setting %s", s.name)
		}
	}
	if got := clusterJoinInts([]int{1, 22, 333}); got != "1,22,333" {
		t.Errorf("clusterJoinInts = %q", got)
	}
	ports, err := clusterFreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[int]bool{}
	for _, p := range ports {
		distinct[p] = true
	}
	if len(ports) != 6 || len(distinct) != 6 {
		t.Errorf("clusterFreePorts(6) = %v", ports)
	}
}
