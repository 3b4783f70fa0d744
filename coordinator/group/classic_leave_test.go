package group

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestClassicLastMemberLeavesGroupEmpty: when the last member leaves a
// Stable group, the group is Empty at once and the next member's join
// completes without waiting for the previous rebalance timeout, as Kafka's
// join completes immediately when every (no) member has joined.
func TestClassicLastMemberLeavesGroupEmpty(t *testing.T) {
	e := newEnv(t)
	c := e.coordinator(t, nil)
	ctx := context.Background()
	r := join(t, c)
	if s := c.SyncGroup(ctx, syncReq(r.MemberID, r.Generation, map[string]string{r.MemberID: "a"})); s.ErrorCode != 0 {
		t.Fatalf("sync: %v", kerr.ErrorForCode(s.ErrorCode))
	}
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Version = 4
	lv.Group = "g"
	lv.Members = []kmsg.LeaveGroupRequestMember{{MemberID: r.MemberID}}
	if resp := c.LeaveGroup(lv); resp.ErrorCode != 0 || resp.Members[0].ErrorCode != 0 {
		t.Fatalf("leave: %+v", resp)
	}
	if dg := c.DescribeGroup("g", 5); dg.State != "Empty" {
		t.Fatalf("after the last member left: state %s, want Empty at once", dg.State)
	}

	// The next member joins without the clock moving: no rebalance
	// timeout (10 s here) to wait out.
	done := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { done <- join(t, c) }()
	select {
	case r := <-done:
		if r.ErrorCode != 0 || r.Generation <= 1 {
			t.Fatalf("next join: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the next join waits for the previous rebalance timeout")
	}
}
