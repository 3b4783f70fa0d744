package group

import (
	"context"
	"testing"
	"time"
)

// TestGroupSettingsOverrideTimings: a group's consumer.session.timeout.ms
// and consumer.heartbeat.interval.ms replace the coordinator's for that
// group only, from the next heartbeat on.
func TestGroupSettingsOverrideTimings(t *testing.T) {
	e := newEnv(t)
	tid := [16]byte{7}
	c := e.coordinator(t, map[string]TopicMeta{"t": {ID: tid, Partitions: 2}})
	ctx := context.Background()

	a := c.ConsumerGroupHeartbeat(ctx, cghb("a", 0, []string{"t"}, nil), "c", "h")
	if a.ErrorCode != 0 || a.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("join: %+v", a)
	}
	c.SetGroupSettings(map[string]GroupSettings{"cg": {SessionTimeout: 50 * time.Second, HeartbeatInterval: 7 * time.Second}})
	a = c.ConsumerGroupHeartbeat(ctx, cghb("a", a.MemberEpoch, nil, nil), "c", "h")
	if a.ErrorCode != 0 || a.HeartbeatIntervalMillis != 7000 {
		t.Fatalf("heartbeat interval after the override: %d", a.HeartbeatIntervalMillis)
	}
	// The default session (45 s) has passed, the group's own (50 s) not.
	e.clock.Advance(47 * time.Second)
	if got := c.ConsumerGroupDescribe([]string{"cg"})[0]; len(got.Members) != 1 {
		t.Fatalf("member expired at the default session timeout, not the group's: %+v", got.Members)
	}
	e.clock.Advance(4 * time.Second)
	if got := c.ConsumerGroupDescribe([]string{"cg"})[0]; len(got.Members) != 0 {
		t.Fatalf("member outlived the group's session timeout: %+v", got.Members)
	}

	// Without the override, the coordinator's values again.
	c.SetGroupSettings(nil)
	b := c.ConsumerGroupHeartbeat(ctx, cghb("b", 0, []string{"t"}, nil), "c", "h")
	if b.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("heartbeat interval without an override: %d", b.HeartbeatIntervalMillis)
	}
}
