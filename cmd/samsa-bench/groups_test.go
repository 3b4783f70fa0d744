package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseCommitFlags(t *testing.T) {
	c, err := parseCommitFlags([]string{"--brokers", "127.0.0.1:1, 127.0.0.1:2", "--groups", "5", "--committers", "8"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.brokers) != 2 || c.brokers[1] != "127.0.0.1:2" {
		t.Errorf("brokers %q", c.brokers)
	}
	if c.committers != 5 || c.partitions != 50 || c.duration != 15*time.Second {
		t.Errorf("committers %d (capped at the groups), partitions %d, duration %v", c.committers, c.partitions, c.duration)
	}
	for _, bad := range [][]string{
		{"--groups", "0"},
		{"--duration", "3m", "--timeout", "2m"},
		{"--duration", "1m", "--warmup", "1m", "--timeout", "2m"},
		{"--warmup", "-1s"},
		{"--brokers", ""},
		{"extra"},
	} {
		if _, err := parseCommitFlags(bad); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestParseRebalanceFlags(t *testing.T) {
	c, err := parseRebalanceFlags([]string{"--protocol", "consumer"})
	if err != nil {
		t.Fatal(err)
	}
	if c.group != "rebalance-consumer" || c.jitter != 5*time.Second || c.members != 20 || c.cycles != 3 {
		t.Errorf("consumer defaults: %+v", c)
	}
	c, err = parseRebalanceFlags([]string{"--heartbeat-interval", "250ms"})
	if err != nil {
		t.Fatal(err)
	}
	if c.jitter != 250*time.Millisecond {
		t.Errorf("classic jitter %v, want the heartbeat interval", c.jitter)
	}
	for _, bad := range [][]string{{"--protocol", "eager"}, {"--members", "1"}, {"--cycles", "0"}, {"--poll", "0s"}} {
		if _, err := parseRebalanceFlags(bad); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestRebalanceStepsFields(t *testing.T) {
	var s rebalanceSteps
	if s.fields("add") != "" {
		t.Error("fields of no steps")
	}
	for i, d := range []time.Duration{300, 100, 200, 400} {
		s.add(d*time.Millisecond, i)
	}
	got := s.fields("add")
	for _, want := range []string{" add_ms=250.0 ", " add_min_ms=100.0 ", " add_max_ms=400.0 ", " add_steps=4 ", " add_moved=6 ", " add_all_ms=300.0,100.0,200.0,400.0"} {
		if !strings.Contains(got+" ", want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

func TestClassicAssignment(t *testing.T) {
	a := kmsg.NewConsumerMemberAssignment()
	a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "other", Partitions: []int32{0}}, {Topic: "t", Partitions: []int32{3, 7}}}
	set, err := classicAssignment(a.AppendTo(nil), "t")
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(set, map[int32]bool{3: true, 7: true}) {
		t.Errorf("got %v", sorted(set))
	}
	if set, err := classicAssignment(nil, "t"); err != nil || len(set) != 0 {
		t.Errorf("empty assignment: %v, %v", set, err)
	}
	if _, err := classicAssignment([]byte{0, 1, 0}, "t"); err == nil {
		t.Error("no error for a truncated assignment")
	}
}

func TestMoved(t *testing.T) {
	a := map[int32]int{0: 1, 1: 2, 2: 3}
	b := map[int32]int{0: 1, 1: 4, 2: 3}
	if n := moved(a, b); n != 1 {
		t.Errorf("moved %d", n)
	}
	if n := moved(nil, b); n != 3 {
		t.Errorf("moved from nothing %d", n)
	}
}

func TestCommitRequestAndErr(t *testing.T) {
	req := commitRequest("g", "t", [16]byte{1}, 3, 42)
	if req.Generation != -1 || req.MemberID != "" || len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 3 {
		t.Fatalf("request %+v", req)
	}
	if p := req.Topics[0].Partitions[2]; p.Partition != 2 || p.Offset != 42 || p.LeaderEpoch != -1 {
		t.Errorf("partition %+v", p)
	}
	resp := kmsg.NewPtrOffsetCommitResponse()
	rt := kmsg.NewOffsetCommitResponseTopic()
	for p := int32(0); p < 3; p++ {
		rp := kmsg.NewOffsetCommitResponseTopicPartition()
		rp.Partition = p
		rt.Partitions = append(rt.Partitions, rp)
	}
	resp.Topics = []kmsg.OffsetCommitResponseTopic{rt}
	if err := commitErr(resp, 3); err != nil {
		t.Errorf("good answer: %v", err)
	}
	if err := commitErr(resp, 4); err == nil {
		t.Error("no error for a partition missing from the answer")
	}
	resp.Topics[0].Partitions[1].ErrorCode = kerr.CoordinatorLoadInProgress.Code
	if err := commitErr(resp, 3); !errors.Is(err, kerr.CoordinatorLoadInProgress) || !kerr.IsRetriable(err) {
		t.Errorf("error %v", err)
	}
}
