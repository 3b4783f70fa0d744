package group

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestConsumerFullHeartbeatGetsAssignment: a heartbeat that carries the
// rebalance timeout, the subscription and the owned partitions (what a
// member sends after an error) gets its assignment again, unchanged or
// not, as Kafka answers it; a plain heartbeat does not.
func TestConsumerFullHeartbeatGetsAssignment(t *testing.T) {
	e := newEnv(t)
	tid := [16]byte{9}
	c := e.coordinator(t, map[string]TopicMeta{"t": {ID: tid, Partitions: 2}})
	ctx := context.Background()
	a := c.ConsumerGroupHeartbeat(ctx, cghb("a", 0, []string{"t"}, nil), "c", "h")
	if a.ErrorCode != 0 || len(assigned(a)[tid]) != 2 {
		t.Fatalf("join: %+v", a)
	}
	owned := assigned(a)
	plain := cghb("a", a.MemberEpoch, nil, nil)
	plain.RebalanceTimeoutMillis = -1
	if r := c.ConsumerGroupHeartbeat(ctx, plain, "c", "h"); r.Assignment != nil {
		t.Fatalf("a plain heartbeat got the unchanged assignment again: %+v", r.Assignment)
	}
	full := cghb("a", a.MemberEpoch, []string{"t"}, owned)
	r := c.ConsumerGroupHeartbeat(ctx, full, "c", "h")
	if r.ErrorCode != 0 || r.Assignment == nil || len(assigned(r)[tid]) != 2 {
		t.Fatalf("a full heartbeat: %+v", r)
	}
}

// TestConsumerCommitNeedsV9: a KIP-848 member commits with OffsetCommit
// v9+; an older version is UNSUPPORTED_VERSION, as Kafka answers it.
func TestConsumerCommitNeedsV9(t *testing.T) {
	e := newEnv(t)
	tid := [16]byte{4}
	c := e.coordinator(t, map[string]TopicMeta{"t": {ID: tid, Partitions: 1}})
	ctx := context.Background()
	a := c.ConsumerGroupHeartbeat(ctx, cghb("a", 0, []string{"t"}, nil), "c", "h")
	commit := []Commit{{Topic: "t", Partition: 0, Offset: 1, LeaderEpoch: -1}}
	for _, tc := range []struct {
		v    int16
		want int16
	}{{8, kerr.UnsupportedVersion.Code}, {9, 0}} {
		codes := c.CommitOffsets(ctx, CommitArgs{Group: "cg", MemberID: "a", Generation: a.MemberEpoch, Version: tc.v, RetentionMs: -1}, commit)
		if codes[0] != tc.want {
			t.Errorf("v%d: error %d, want %d", tc.v, codes[0], tc.want)
		}
	}
}
