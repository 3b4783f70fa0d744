package group

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

// fakeClock fires timers only when Advance passes them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves time forward, running due timers in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.Slice(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var due *fakeTimer
		for i, t := range c.timers {
			if t.stopped {
				continue
			}
			if !t.at.After(end) {
				due = t
				t.stopped = true
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
			}
			break
		}
		if due == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		if due.at.After(c.now) {
			c.now = due.at
		}
		c.mu.Unlock()
		due.f()
	}
}

type env struct {
	store *coordinator.Store
	clock *fakeClock
	dir   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	return openEnv(t, dir, &fakeClock{now: time.Unix(1_700_000_000, 0)})
}

func openEnv(t *testing.T, dir string, clock *fakeClock) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := coordinator.Open(ctx, coordinator.Config{EmbeddedDir: dir, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &env{store: s, clock: clock, dir: dir}
}

func (e *env) coordinator(t *testing.T, topics map[string]TopicMeta) *Coordinator {
	t.Helper()
	c, err := New(Config{
		Client: e.store.Client(), Key: e.store.Key, Logger: zerolog.Nop(), Clock: e.clock,
		MinSessionTimeout: time.Second,
		Topics:            func() map[string]TopicMeta { return topics },
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func joinReq(memberID, instance string) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = 9
	r.Group = "g"
	r.MemberID = memberID
	if instance != "" {
		r.InstanceID = &instance
	}
	r.SessionTimeoutMillis = 5000
	r.RebalanceTimeoutMillis = 10000
	r.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte("m")
	r.Protocols = append(r.Protocols, p)
	return r
}

// join runs the KIP-394 round trip and returns the joined response.
func join(t *testing.T, c *Coordinator) *kmsg.JoinGroupResponse {
	t.Helper()
	ctx := context.Background()
	r := c.JoinGroup(ctx, joinReq("", ""), "client", "/127.0.0.1")
	if r.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	r = c.JoinGroup(ctx, joinReq(r.MemberID, ""), "client", "/127.0.0.1")
	if r.ErrorCode != 0 {
		t.Fatalf("second join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	return r
}

func syncReq(member string, gen int32, assign map[string]string) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Group, r.MemberID, r.Generation = "g", member, gen
	for m, a := range assign {
		x := kmsg.NewSyncGroupRequestGroupAssignment()
		x.MemberID, x.MemberAssignment = m, []byte(a)
		r.GroupAssignment = append(r.GroupAssignment, x)
	}
	return r
}

func TestClassicSessionExpiryAndRestart(t *testing.T) {
	e := newEnv(t)
	c := e.coordinator(t, nil)
	ctx := context.Background()
	a := join(t, c)
	if a.Generation != 1 || a.LeaderID != a.MemberID {
		t.Fatalf("join: %+v", a)
	}
	if r := c.SyncGroup(ctx, syncReq(a.MemberID, 1, map[string]string{a.MemberID: "A"})); r.ErrorCode != 0 || string(r.MemberAssignment) != "A" {
		t.Fatalf("sync: %+v", r)
	}
	// A second member joins: the group rebalances; the first must rejoin.
	var b *kmsg.JoinGroupResponse
	done := make(chan struct{})
	go func() {
		defer close(done)
		b = join(t, c)
	}()
	// The first member learns of the rebalance from its heartbeat.
	deadline := time.Now().Add(5 * time.Second)
	for {
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = "g", a.MemberID, 1
		if code := c.Heartbeat(hb).ErrorCode; code == kerr.RebalanceInProgress.Code {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no REBALANCE_IN_PROGRESS")
		}
		time.Sleep(5 * time.Millisecond)
	}
	a2 := c.JoinGroup(ctx, joinReq(a.MemberID, ""), "client", "/127.0.0.1")
	<-done
	if a2.Generation != 2 || b.Generation != 2 || len(a2.Members) != 2 {
		t.Fatalf("rebalance: a=%+v b=%+v", a2, b)
	}
	var bsync *kmsg.SyncGroupResponse
	syncDone := make(chan struct{})
	go func() { defer close(syncDone); bsync = c.SyncGroup(ctx, syncReq(b.MemberID, 2, nil)) }()
	c.SyncGroup(ctx, syncReq(a.MemberID, 2, map[string]string{a.MemberID: "A", b.MemberID: "B"}))
	<-syncDone
	if string(bsync.MemberAssignment) != "B" {
		t.Fatalf("follower sync: %+v", bsync)
	}
	// b stops heartbeating; a keeps going. After b's session (5s), b is
	// removed and a's heartbeat says REBALANCE_IN_PROGRESS.
	for i := 0; i < 7; i++ {
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = "g", a.MemberID, 2
		c.Heartbeat(hb)
		e.clock.Advance(time.Second)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", b.MemberID, 2
	if code := c.Heartbeat(hb).ErrorCode; code != kerr.UnknownMemberID.Code {
		t.Fatalf("expired member heartbeat: %v", kerr.ErrorForCode(code))
	}
	hb.MemberID = a.MemberID
	if code := c.Heartbeat(hb).ErrorCode; code != kerr.RebalanceInProgress.Code {
		t.Fatalf("survivor heartbeat: %v", kerr.ErrorForCode(code))
	}
	a3 := c.JoinGroup(ctx, joinReq(a.MemberID, ""), "client", "/127.0.0.1")
	if a3.Generation != 3 || len(a3.Members) != 1 {
		t.Fatalf("after expiry: %+v", a3)
	}
	c.SyncGroup(ctx, syncReq(a.MemberID, 3, map[string]string{a.MemberID: "AB"}))

	// Restart: the group comes back Stable with its member and assignment.
	c.Close()
	c2 := e.coordinator(t, nil)
	dg := c2.DescribeGroup("g", 5)
	if dg.State != "Stable" || len(dg.Members) != 1 || string(dg.Members[0].MemberAssignment) != "AB" {
		t.Fatalf("after restart: %+v", dg)
	}
}

func TestCommitThousandPartitionsChunkedAndReloaded(t *testing.T) {
	e := newEnv(t)
	c := e.coordinator(t, nil)
	ctx := context.Background()
	var commits []Commit
	meta := string(make([]byte, 4000)) // ~1,000 x 4 KB spans several 1 MiB transactions
	for p := int32(0); p < 1000; p++ {
		commits = append(commits, Commit{Topic: "t", Partition: p, Offset: int64(p), LeaderEpoch: 1, Metadata: &meta})
	}
	codes := c.CommitOffsets(ctx, CommitArgs{Group: "simple", Generation: -1, Version: 9, RetentionMs: -1}, commits)
	for i, code := range codes {
		if code != 0 {
			t.Fatalf("partition %d: %v", i, kerr.ErrorForCode(code))
		}
	}
	c.Close()
	c2 := e.coordinator(t, nil)
	offs, code := c2.FetchOffsets(FetchArgs{Group: "simple"})
	if code != 0 || len(offs["t"]) != 1000 || offs["t"][999].Offset != 999 || offs["t"][5].LeaderEpoch != 1 {
		t.Fatalf("after reload: code %d, %d offsets", code, len(offs["t"]))
	}
	// Unknown group: -1, no error.
	offs, code = c2.FetchOffsets(FetchArgs{Group: "nope", Topics: map[string][]int32{"t": {0}}})
	if code != 0 || offs["t"][0].Offset != -1 {
		t.Fatalf("unknown group: %d %+v", code, offs)
	}
	// Expiry: the group never had members; its offsets expire a retention
	// period after the commit, and the group goes with them.
	e.clock.Advance(8 * 24 * time.Hour)
	if n := c2.ExpireOffsets(ctx); n != 1000 {
		t.Fatalf("expired %d offsets", n)
	}
	if gs, _ := c2.ListGroups(nil, nil); len(gs) != 0 {
		t.Fatalf("groups after expiry: %+v", gs)
	}
}

func cghb(member string, epoch int32, topics []string, owned map[[16]byte][]int32) *kmsg.ConsumerGroupHeartbeatRequest {
	r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	r.Version = 1
	r.Group = "cg"
	r.MemberID = member
	r.MemberEpoch = epoch
	r.RebalanceTimeoutMillis = 10000
	r.SubscribedTopicNames = topics
	if owned != nil {
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		for t, ps := range owned {
			x := kmsg.NewConsumerGroupHeartbeatRequestTopic()
			x.TopicID, x.Partitions = t, ps
			r.Topics = append(r.Topics, x)
		}
	}
	return r
}

func assigned(r *kmsg.ConsumerGroupHeartbeatResponse) map[[16]byte][]int32 {
	if r.Assignment == nil {
		return nil
	}
	out := map[[16]byte][]int32{}
	for _, t := range r.Assignment.Topics {
		out[t.TopicID] = t.Partitions
	}
	return out
}

func TestConsumerGroupRevokesBeforeReassigning(t *testing.T) {
	e := newEnv(t)
	tid := [16]byte{1}
	c := e.coordinator(t, map[string]TopicMeta{"t": {ID: tid, Partitions: 4}})
	ctx := context.Background()
	a := c.ConsumerGroupHeartbeat(ctx, cghb("a", 0, []string{"t"}, nil), "c", "h")
	if a.ErrorCode != 0 || a.MemberEpoch != 1 || len(assigned(a)[tid]) != 4 {
		t.Fatalf("first member: %+v", a)
	}
	aOwned := assigned(a)
	b := c.ConsumerGroupHeartbeat(ctx, cghb("b", 0, []string{"t"}, nil), "c", "h")
	if b.ErrorCode != 0 || len(assigned(b)[tid]) != 0 {
		t.Fatalf("second member must wait for revocation: %+v %v", b, assigned(b))
	}
	// a is told to give up two partitions, keeping its epoch.
	a = c.ConsumerGroupHeartbeat(ctx, cghb("a", 1, nil, aOwned), "c", "h")
	if a.MemberEpoch != 1 || len(assigned(a)[tid]) != 2 {
		t.Fatalf("revocation: %+v %v", a, assigned(a))
	}
	// b still gets nothing while a holds them.
	b = c.ConsumerGroupHeartbeat(ctx, cghb("b", b.MemberEpoch, nil, map[[16]byte][]int32{}), "c", "h")
	if len(assigned(b)[tid]) != 0 {
		t.Fatalf("b got partitions before a released them: %v", assigned(b))
	}
	// a acknowledges; it moves to epoch 2, and b gets the released ones.
	a = c.ConsumerGroupHeartbeat(ctx, cghb("a", 1, nil, assigned(a)), "c", "h")
	if a.MemberEpoch != 2 {
		t.Fatalf("after ack: %+v", a)
	}
	b = c.ConsumerGroupHeartbeat(ctx, cghb("b", b.MemberEpoch, nil, map[[16]byte][]int32{}), "c", "h")
	if b.MemberEpoch != 2 || len(assigned(b)[tid]) != 2 {
		t.Fatalf("b after release: %+v %v", b, assigned(b))
	}
	// Errors.
	if r := c.ConsumerGroupHeartbeat(ctx, cghb("a", 7, nil, nil), "c", "h"); r.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Errorf("bad epoch: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := c.ConsumerGroupHeartbeat(ctx, cghb("zz", 3, nil, nil), "c", "h"); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("unknown member: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	bad := cghb("x", 0, []string{"t"}, nil)
	bad.ServerAssignor = new(string)
	*bad.ServerAssignor = "sticky"
	if r := c.ConsumerGroupHeartbeat(ctx, bad, "c", "h"); r.ErrorCode != kerr.UnsupportedAssignor.Code {
		t.Errorf("unknown assignor: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// b's session expires: a gets everything back.
	for i := 0; i < 50; i++ {
		a = c.ConsumerGroupHeartbeat(ctx, cghb("a", a.MemberEpoch, nil, nil), "c", "h")
		e.clock.Advance(time.Second)
	}
	if got := c.ConsumerGroupDescribe([]string{"cg"})[0]; len(got.Members) != 1 {
		t.Fatalf("after b's session: %+v", got)
	}
	if fmt.Sprint(assigned(a)[tid]) != "[0 1 2 3]" && a.Assignment != nil {
		t.Errorf("a after b left: %v", assigned(a))
	}
}

func TestAssignorsBalanced(t *testing.T) {
	t1, t2 := [16]byte{1}, [16]byte{2}
	s := &assignSpec{
		members:    []string{"a", "b", "c"},
		subscribed: map[string][][16]byte{"a": {t1, t2}, "b": {t1, t2}, "c": {t1, t2}},
		partitions: map[[16]byte]int32{t1: 6, t2: 3},
	}
	for _, name := range []string{"uniform", "range"} {
		out := runAssignor(name, s)
		seen := map[tp]bool{}
		for m, ts := range out {
			n := 0
			for id, ps := range ts {
				for _, p := range ps {
					if seen[tp{id, p}] {
						t.Fatalf("%s: %v/%d assigned twice", name, id, p)
					}
					seen[tp{id, p}] = true
					n++
				}
			}
			if n != 3 {
				t.Errorf("%s: member %s has %d partitions", name, m, n)
			}
		}
		if len(seen) != 9 {
			t.Errorf("%s: %d partitions assigned", name, len(seen))
		}
	}
}

func TestEscapeGroup(t *testing.T) {
	for _, id := range []string{"", "a", "a/b", "%", "x%2Fy", "\x00", "grüppe"} {
		esc := escapeGroup(id)
		back, err := unescapeGroup(esc)
		if err != nil || back != id {
			t.Errorf("%q -> %q -> %q (%v)", id, esc, back, err)
		}
		for i := 0; i < len(esc); i++ {
			if esc[i] == '/' {
				t.Errorf("%q escaped to %q", id, esc)
			}
		}
	}
}
