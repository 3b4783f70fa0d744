package broker

// Group coordinator paths that stock clients rarely or never exercise:
// static-member fencing (KIP-345), KIP-848 static members and regex
// subscriptions, the initial rebalance delay, the group.consumer.*
// timeouts, and the error codes Apache Kafka 4.x returns at the edges.
// Most requests are raw kmsg requests so each case is driven exactly.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

func strp(s string) *string { return &s }

func codeName(c int16) string {
	if c == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(c).Error()
}

// maxVersionClient is a client that speaks at most version v of key.
func maxVersionClient(t *testing.T, addr string, key kmsg.Key, v int16) *kgo.Client {
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(key.Int16(), v)
	return newClient(t, addr, kgo.MaxVersions(vs))
}

func classicJoinReq(group, memberID string, instance *string) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Group, r.MemberID, r.InstanceID = group, memberID, instance
	r.SessionTimeoutMillis = 6000
	r.RebalanceTimeoutMillis = 5000
	r.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{0, 1}
	r.Protocols = append(r.Protocols, p)
	return r
}

func doJoin(t *testing.T, cl *kgo.Client, r *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	t.Helper()
	resp, err := r.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatalf("JoinGroup: %v", err)
	}
	return resp
}

func doSync(t *testing.T, cl *kgo.Client, group, member string, instance *string, gen int32, assign map[string]string) *kmsg.SyncGroupResponse {
	t.Helper()
	r := kmsg.NewPtrSyncGroupRequest()
	r.Group, r.MemberID, r.InstanceID, r.Generation = group, member, instance, gen
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, []byte(a)
		r.GroupAssignment = append(r.GroupAssignment, ga)
	}
	resp, err := r.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatalf("SyncGroup: %v", err)
	}
	return resp
}

func doHeartbeat(t *testing.T, cl *kgo.Client, group, member string, instance *string, gen int32) int16 {
	t.Helper()
	r := kmsg.NewPtrHeartbeatRequest()
	r.Group, r.MemberID, r.InstanceID, r.Generation = group, member, instance, gen
	resp, err := r.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	return resp.ErrorCode
}

func doCommit(t *testing.T, cl *kgo.Client, group, member string, instance *string, gen int32, topic string) int16 {
	t.Helper()
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Group, r.MemberID, r.InstanceID, r.Generation = group, member, instance, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic // v2-v9
	for id, name := range topicNames(t, cl, topic) {
		if name == topic {
			rt.TopicID = id // v10+
		}
	}
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 1
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	resp, err := r.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatalf("OffsetCommit: %v", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("OffsetCommit response: %+v", resp)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// joinStaticLeader makes instance the only (static) member and leader of
// a stable group: generation 1, assignment "a-0".
func joinStaticLeader(t *testing.T, cl *kgo.Client, group, instance string) string {
	t.Helper()
	jr := doJoin(t, cl, classicJoinReq(group, "", strp(instance)))
	if jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != jr.MemberID || len(jr.Members) != 1 {
		t.Fatalf("static JoinGroup: %s %+v", codeName(jr.ErrorCode), jr)
	}
	if jr.Members[0].InstanceID == nil || *jr.Members[0].InstanceID != instance {
		t.Fatalf("leader's member list lacks the instance id: %+v", jr.Members[0])
	}
	sr := doSync(t, cl, group, jr.MemberID, strp(instance), 1, map[string]string{jr.MemberID: "a-0"})
	if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "a-0" {
		t.Fatalf("SyncGroup: %s %q", codeName(sr.ErrorCode), sr.MemberAssignment)
	}
	return jr.MemberID
}

// KIP-345: a JoinGroup with a known group.instance.id and an unknown
// member id replaces the static member; the old member id is fenced.
func TestGroupStaticMemberFencing(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	createTopic(t, addr, "sf", 1, nil)
	clA, clB := newClient(t, addr), newClient(t, addr)
	const g, inst = "sf-g", "i-1"
	oldID := joinStaticLeader(t, clA, g, inst)
	if c := doHeartbeat(t, clA, g, oldID, strp(inst), 1); c != 0 {
		t.Fatalf("heartbeat before replacement: %s", codeName(c))
	}

	// The instance restarts: Stable, same protocol → no rebalance. The new
	// member inherits leadership; JoinGroup v9 tells it to skip assigning.
	jr := doJoin(t, clB, classicJoinReq(g, "", strp(inst)))
	newID := jr.MemberID
	if jr.ErrorCode != 0 || newID == "" || newID == oldID || jr.Generation != 1 {
		t.Fatalf("replacing JoinGroup: %s %+v", codeName(jr.ErrorCode), jr)
	}
	if jr.LeaderID != newID || !jr.SkipAssignment || len(jr.Members) != 1 || jr.Members[0].MemberID != newID {
		t.Errorf("replacing JoinGroup v%d: leader %q (new %q) skip=%v members=%+v", jr.Version, jr.LeaderID, newID, jr.SkipAssignment, jr.Members)
	}

	// The old member id is fenced on every path that names the instance.
	if c := doHeartbeat(t, clA, g, oldID, strp(inst), 1); c != kerr.FencedInstanceID.Code {
		t.Errorf("old member Heartbeat: %s, want FENCED_INSTANCE_ID", codeName(c))
	}
	if sr := doSync(t, clA, g, oldID, strp(inst), 1, nil); sr.ErrorCode != kerr.FencedInstanceID.Code {
		t.Errorf("old member SyncGroup: %s, want FENCED_INSTANCE_ID", codeName(sr.ErrorCode))
	}
	if c := doCommit(t, clA, g, oldID, strp(inst), 1, "sf"); c != kerr.FencedInstanceID.Code {
		t.Errorf("old member OffsetCommit: %s, want FENCED_INSTANCE_ID", codeName(c))
	}
	if r := doJoin(t, clA, classicJoinReq(g, oldID, strp(inst))); r.ErrorCode != kerr.FencedInstanceID.Code {
		t.Errorf("old member JoinGroup: %s, want FENCED_INSTANCE_ID", codeName(r.ErrorCode))
	}
	// Any member id other than the current one, with the instance id.
	if c := doHeartbeat(t, clA, g, "bogus", strp(inst), 1); c != kerr.FencedInstanceID.Code {
		t.Errorf("Heartbeat with the instance id and a wrong member id: %s, want FENCED_INSTANCE_ID", codeName(c))
	}
	// Without the instance id the old id is simply unknown (Kafka's validateMember).
	if c := doHeartbeat(t, clA, g, oldID, nil, 1); c != kerr.UnknownMemberID.Code {
		t.Errorf("old member Heartbeat without instance id: %s, want UNKNOWN_MEMBER_ID", codeName(c))
	}
	// An unknown instance id is UNKNOWN_MEMBER_ID, not FENCED.
	if c := doHeartbeat(t, clA, g, newID, strp("other"), 1); c != kerr.UnknownMemberID.Code {
		t.Errorf("Heartbeat with an unknown instance id: %s, want UNKNOWN_MEMBER_ID", codeName(c))
	}
	// LeaveGroup naming the instance with the old member id is fenced too.
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Group = g
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID, lm.InstanceID = oldID, strp(inst)
	lv.Members = append(lv.Members, lm)
	if lr, err := lv.RequestWith(testCtx(t), clA); err != nil || lr.ErrorCode != 0 || len(lr.Members) != 1 || lr.Members[0].ErrorCode != kerr.FencedInstanceID.Code {
		t.Errorf("LeaveGroup of the fenced member: %v %+v", err, lr)
	}

	// ...and the current member id under an unknown instance id is unknown
	// (and is not removed).
	lv.Members[0].MemberID, lv.Members[0].InstanceID = newID, strp("other")
	if lr, err := lv.RequestWith(testCtx(t), clA); err != nil || lr.ErrorCode != 0 || len(lr.Members) != 1 || lr.Members[0].ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("LeaveGroup with an unknown instance id: %v %+v", err, lr)
	}

	// The new member keeps the old assignment, in the same generation.
	if sr := doSync(t, clB, g, newID, strp(inst), 1, nil); sr.ErrorCode != 0 || string(sr.MemberAssignment) != "a-0" {
		t.Errorf("new member SyncGroup: %s %q, want the old assignment a-0", codeName(sr.ErrorCode), sr.MemberAssignment)
	}
	if c := doHeartbeat(t, clB, g, newID, strp(inst), 1); c != 0 {
		t.Errorf("new member Heartbeat: %s", codeName(c))
	}
	if c := doCommit(t, clB, g, newID, strp(inst), 1, "sf"); c != 0 {
		t.Errorf("new member OffsetCommit: %s", codeName(c))
	}
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{g}
	dr, err := dg.RequestWith(testCtx(t), clB)
	if err != nil || len(dr.Groups) != 1 {
		t.Fatalf("DescribeGroups: %v %+v", err, dr)
	}
	if d := dr.Groups[0]; d.State != "Stable" || len(d.Members) != 1 || d.Members[0].MemberID != newID {
		t.Errorf("DescribeGroups after replacement: state %s members %+v", d.State, d.Members)
	}
}

// Before JoinGroup v9 (KIP-814) a replaced static leader cannot be told to
// skip the assignment, so Kafka answers with the previous leader's id: the
// new member does not see itself as leader and does not reassign.
func TestGroupStaticLeaderReplacedBeforeV9(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	const g, inst = "sf8-g", "i-1"
	oldID := joinStaticLeader(t, newClient(t, addr), g, inst)
	cl8 := maxVersionClient(t, addr, kmsg.JoinGroup, 8)
	jr := doJoin(t, cl8, classicJoinReq(g, "", strp(inst)))
	if jr.Version != 8 {
		t.Fatalf("JoinGroup sent as v%d, want v8", jr.Version)
	}
	if jr.ErrorCode != 0 || jr.MemberID == oldID || jr.Generation != 1 {
		t.Fatalf("replacing JoinGroup v8: %s %+v", codeName(jr.ErrorCode), jr)
	}
	if jr.LeaderID != oldID || len(jr.Members) != 0 || jr.SkipAssignment {
		t.Errorf("replacing JoinGroup v8: leader %q members %d skip=%v; Kafka answers leader=%q (the replaced id), no members",
			jr.LeaderID, len(jr.Members), jr.SkipAssignment, oldID)
	}
	if sr := doSync(t, cl8, g, jr.MemberID, strp(inst), 1, nil); sr.ErrorCode != 0 || string(sr.MemberAssignment) != "a-0" {
		t.Errorf("new member SyncGroup: %s %q", codeName(sr.ErrorCode), sr.MemberAssignment)
	}
}

// A static member replaced while its SyncGroup is parked (CompletingRebalance)
// gets FENCED_INSTANCE_ID on that SyncGroup, and the group rebalances.
func TestGroupStaticMemberFencedWhileAwaitingSync(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	const g = "sfs-g"
	clL, clF, clF2 := newClient(t, addr), newClient(t, addr), newClient(t, addr)

	// Leader L (dynamic, KIP-394 round trip) forms generation 1 alone.
	jl := doJoin(t, clL, classicJoinReq(g, "", nil))
	if jl.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("leader first JoinGroup: %s", codeName(jl.ErrorCode))
	}
	leaderID := jl.MemberID
	if jl = doJoin(t, clL, classicJoinReq(g, leaderID, nil)); jl.ErrorCode != 0 || jl.Generation != 1 {
		t.Fatalf("leader JoinGroup: %s %+v", codeName(jl.ErrorCode), jl)
	}
	if sr := doSync(t, clL, g, leaderID, nil, 1, map[string]string{leaderID: "l"}); sr.ErrorCode != 0 {
		t.Fatalf("leader SyncGroup: %s", codeName(sr.ErrorCode))
	}
	// Static follower F joins: a rebalance the leader learns of by heartbeat.
	type joinResult struct {
		resp *kmsg.JoinGroupResponse
		err  error
	}
	fch := make(chan joinResult, 1)
	go func() {
		r, err := classicJoinReq(g, "", strp("f")).RequestWith(context.Background(), clF)
		fch <- joinResult{r, err}
	}()
	for deadline := time.Now().Add(5 * time.Second); ; {
		c := doHeartbeat(t, clL, g, leaderID, nil, 1)
		if c == kerr.RebalanceInProgress.Code {
			break
		}
		if c != 0 || time.Now().After(deadline) {
			t.Fatalf("leader heartbeat while F joins: %s", codeName(c))
		}
		time.Sleep(20 * time.Millisecond)
	}
	jl = doJoin(t, clL, classicJoinReq(g, leaderID, nil))
	jf := <-fch
	if jf.err != nil || jl.ErrorCode != 0 || jf.resp.ErrorCode != 0 || jl.Generation != 2 || jf.resp.Generation != 2 {
		t.Fatalf("generation 2 joins: leader %s %+v, follower %v %+v", codeName(jl.ErrorCode), jl, jf.err, jf.resp)
	}
	gen := jl.Generation
	fID := jf.resp.MemberID
	if jl.LeaderID != leaderID || len(jl.Members) != 2 {
		t.Fatalf("leader JoinGroup: %+v", jl)
	}

	// F syncs first and waits for the leader's assignment.
	fsync := make(chan *kmsg.SyncGroupResponse, 1)
	go func() {
		r := kmsg.NewPtrSyncGroupRequest()
		r.Group, r.MemberID, r.InstanceID, r.Generation = g, fID, strp("f"), gen
		resp, err := r.RequestWith(context.Background(), clF)
		if err != nil {
			resp = &kmsg.SyncGroupResponse{ErrorCode: -100}
		}
		fsync <- resp
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case r := <-fsync:
		t.Fatalf("follower SyncGroup answered before the leader's: %s", codeName(r.ErrorCode))
	default:
	}

	// The instance restarts under a new member id while F's sync is parked.
	f2ch := make(chan joinResult, 1)
	go func() {
		r, err := classicJoinReq(g, "", strp("f")).RequestWith(context.Background(), clF2)
		f2ch <- joinResult{r, err}
	}()
	select {
	case r := <-fsync:
		if r.ErrorCode != kerr.FencedInstanceID.Code {
			t.Errorf("parked SyncGroup of the replaced member: %s, want FENCED_INSTANCE_ID", codeName(r.ErrorCode))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("parked SyncGroup of the replaced member was not answered")
	}

	// Kafka rebalances (the leader may have assigned to the old id): the
	// leader learns it from its SyncGroup or Heartbeat, rejoins, and both
	// land in the next generation.
	if sr := doSync(t, clL, g, leaderID, nil, gen, map[string]string{leaderID: "l", fID: "f"}); sr.ErrorCode != kerr.RebalanceInProgress.Code {
		t.Errorf("leader SyncGroup after the replacement: %s, want REBALANCE_IN_PROGRESS", codeName(sr.ErrorCode))
	}
	jl2 := doJoin(t, clL, classicJoinReq(g, leaderID, nil))
	f2 := <-f2ch
	if f2.err != nil || jl2.ErrorCode != 0 || f2.resp.ErrorCode != 0 {
		t.Fatalf("rejoin: leader %s, new instance %v %+v", codeName(jl2.ErrorCode), f2.err, f2.resp)
	}
	if jl2.Generation != gen+1 || f2.resp.Generation != gen+1 || f2.resp.MemberID == fID {
		t.Errorf("next generation: leader %d, new instance %d (id %q, old %q), want %d", jl2.Generation, f2.resp.Generation, f2.resp.MemberID, fID, gen+1)
	}
}

// --- KIP-848 ---------------------------------------------------------

// cgMember drives ConsumerGroupHeartbeat by hand, acknowledging every
// assignment it receives (a cooperative member that revokes at once).
type cgMember struct {
	cl       *kgo.Client
	group    string
	id       string
	instance *string
	topics   []string
	regex    *string
	epoch    int32
	owned    map[[16]byte][]int32
	interval int32
}

func newCGMember(t *testing.T, addr, group string, instance *string) *cgMember {
	return &cgMember{
		cl: newClient(t, addr), group: group, instance: instance,
		id: fmt.Sprintf("m-%d-%d", time.Now().UnixNano(), len(group)),
	}
}

// heartbeat sends one heartbeat at the member's epoch; on success the
// member adopts the returned epoch and assignment.
func (m *cgMember) heartbeat(t *testing.T) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Group, req.MemberID, req.MemberEpoch, req.InstanceID = m.group, m.id, m.epoch, m.instance
	if m.epoch == 0 {
		req.RebalanceTimeoutMillis = 5000
		if m.regex != nil {
			req.SubscribedTopicRegex = m.regex
		} else {
			req.SubscribedTopicNames = m.topics
		}
	}
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if m.epoch > 0 {
		for id, ps := range m.owned {
			rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
			rt.TopicID, rt.Partitions = id, ps
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := req.RequestWith(testCtx(t), m.cl)
	if err != nil {
		t.Fatalf("ConsumerGroupHeartbeat: %v", err)
	}
	if resp.ErrorCode == 0 {
		m.epoch = resp.MemberEpoch
		m.interval = resp.HeartbeatIntervalMillis
		if resp.Assignment != nil {
			m.owned = map[[16]byte][]int32{}
			for _, at := range resp.Assignment.Topics {
				m.owned[at.TopicID] = append([]int32(nil), at.Partitions...)
			}
		}
	}
	return resp
}

func (m *cgMember) leave(t *testing.T, epoch int32) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Group, req.MemberID, req.MemberEpoch, req.InstanceID = m.group, m.id, epoch, m.instance
	resp, err := req.RequestWith(testCtx(t), m.cl)
	if err != nil {
		t.Fatalf("ConsumerGroupHeartbeat(leave): %v", err)
	}
	return resp
}

func (m *cgMember) count() int {
	n := 0
	for _, ps := range m.owned {
		n += len(ps)
	}
	return n
}

// sig is the member's assignment as "topic:p,p;..." using names.
func (m *cgMember) sig(names map[[16]byte]string) string {
	var parts []string
	for id, ps := range m.owned {
		ps = append([]int32(nil), ps...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		for _, p := range ps {
			parts = append(parts, fmt.Sprintf("%s-%d", names[id], p))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func topicNames(t *testing.T, cl *kgo.Client, topics ...string) map[[16]byte]string {
	t.Helper()
	td, err := kadm.NewClient(cl).ListTopics(testCtx(t), topics...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[[16]byte]string{}
	for name, d := range td {
		out[[16]byte(d.ID)] = name
	}
	return out
}

// converge heartbeats the members until their assignments partition n
// partitions and a full round changes nothing.
func converge(t *testing.T, n int, members ...*cgMember) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	stableRounds := 0
	for time.Now().Before(deadline) {
		before := ""
		for _, m := range members {
			before += fmt.Sprint(m.epoch, m.owned)
		}
		total := 0
		for _, m := range members {
			if r := m.heartbeat(t); r.ErrorCode != 0 {
				t.Fatalf("heartbeat of %s: %s %v", m.id, codeName(r.ErrorCode), r.ErrorMessage)
			}
			total += m.count()
		}
		after := ""
		for _, m := range members {
			after += fmt.Sprint(m.epoch, m.owned)
		}
		if total == n && before == after {
			if stableRounds++; stableRounds >= 2 {
				return
			}
		} else {
			stableRounds = 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	var desc []string
	for _, m := range members {
		desc = append(desc, fmt.Sprint(m.epoch, m.owned))
	}
	t.Fatalf("assignment did not converge: %v", desc)
}

func describeCG(t *testing.T, cl *kgo.Client, group string) kmsg.ConsumerGroupDescribeResponseGroup {
	t.Helper()
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil || len(resp.Groups) != 1 {
		t.Fatalf("ConsumerGroupDescribe: %v %+v", err, resp)
	}
	return resp.Groups[0]
}

// KIP-848 static membership: an instance id owned by an active member is
// UNRELEASED_INSTANCE_ID; after a static leave (epoch -2) a new member id
// with that instance takes over its assignment with no rebalance.
func TestGroupConsumerStaticMember(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	createTopic(t, addr, "cst", 4, nil)
	names := topicNames(t, newClient(t, addr), "cst")
	const g = "cst-g"
	s1 := newCGMember(t, addr, g, strp("s1"))
	s1.topics = []string{"cst"}
	d := newCGMember(t, addr, g, nil)
	d.id += "-d"
	d.topics = []string{"cst"}
	converge(t, 4, s1, d)
	if s1.count() != 2 || d.count() != 2 {
		t.Fatalf("uniform over 4 partitions: static %s, dynamic %s", s1.sig(names), d.sig(names))
	}
	s1Sig, dSig, s1Epoch, dEpoch := s1.sig(names), d.sig(names), s1.epoch, d.epoch
	before := describeCG(t, s1.cl, g)

	// Another member id claiming the active instance.
	s2 := newCGMember(t, addr, g, strp("s1"))
	s2.id += "-s2"
	s2.topics = []string{"cst"}
	if r := s2.heartbeat(t); r.ErrorCode != kerr.UnreleasedInstanceID.Code {
		t.Fatalf("join with an active instance id: %s, want UNRELEASED_INSTANCE_ID", codeName(r.ErrorCode))
	}

	// The static member leaves temporarily.
	if r := s1.leave(t, -2); r.ErrorCode != 0 || r.MemberEpoch != -2 {
		t.Fatalf("static leave: %s epoch %d", codeName(r.ErrorCode), r.MemberEpoch)
	}
	if g2 := describeCG(t, d.cl, g); g2.Epoch != before.Epoch || len(g2.Members) != 2 {
		t.Errorf("after the static leave: group epoch %d (was %d), %d members; a static leave keeps the member", g2.Epoch, before.Epoch, len(g2.Members))
	}

	// The instance comes back under s2's id: same partitions, same epoch.
	r := s2.heartbeat(t)
	if r.ErrorCode != 0 {
		t.Fatalf("rejoin of the released instance: %s %v", codeName(r.ErrorCode), r.ErrorMessage)
	}
	if r.Assignment == nil || s2.sig(names) != s1Sig || s2.epoch != s1Epoch {
		t.Errorf("rejoined instance: epoch %d partitions %s, want epoch %d partitions %s", s2.epoch, s2.sig(names), s1Epoch, s1Sig)
	}
	// No rebalance for the other member.
	if r := d.heartbeat(t); r.ErrorCode != 0 || d.epoch != dEpoch || d.sig(names) != dSig {
		t.Errorf("other member after the takeover: %s epoch %d (was %d) partitions %s (was %s)", codeName(r.ErrorCode), d.epoch, dEpoch, d.sig(names), dSig)
	}
	after := describeCG(t, d.cl, g)
	if after.Epoch != before.Epoch {
		t.Errorf("group epoch moved %d -> %d on a static takeover", before.Epoch, after.Epoch)
	}
	var ids []string
	for _, m := range after.Members {
		ids = append(ids, m.MemberID)
	}
	sort.Strings(ids)
	want := []string{d.id, s2.id}
	sort.Strings(want)
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("members after takeover: %v, want %v", ids, want)
	}
	// The replaced member id is fenced.
	if r := s1.heartbeat(t); r.ErrorCode != kerr.FencedInstanceID.Code {
		t.Errorf("heartbeat of the replaced member: %s, want FENCED_INSTANCE_ID", codeName(r.ErrorCode))
	}
	// A heartbeat for a group that does not exist is GROUP_ID_NOT_FOUND.
	ghost := newCGMember(t, addr, "cst-ghost", nil)
	ghost.epoch = 3
	if r := ghost.heartbeat(t); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("heartbeat (epoch 3) for a missing group: %s, want GROUP_ID_NOT_FOUND", codeName(r.ErrorCode))
	}
}

// KIP-848 regex subscriptions: full-match, topics created later join the
// subscription on a following heartbeat.
func TestGroupConsumerRegexSubscription(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	createTopic(t, addr, "orders-a", 2, nil)
	createTopic(t, addr, "orders-b", 2, nil)
	createTopic(t, addr, "payments", 2, nil)
	createTopic(t, addr, "old-orders-x", 1, nil) // matches only unanchored
	const g = "rx-g"

	bad := newCGMember(t, addr, g, nil)
	bad.regex = strp("orders-[")
	if r := bad.heartbeat(t); r.ErrorCode != kerr.InvalidRegularExpression.Code {
		t.Errorf("invalid regex: %s, want INVALID_REGULAR_EXPRESSION", codeName(r.ErrorCode))
	}

	m := newCGMember(t, addr, g, nil)
	m.regex = strp("orders-.*")
	waitParts := func(n int) map[[16]byte]string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if r := m.heartbeat(t); r.ErrorCode != 0 {
				t.Fatalf("heartbeat: %s %v", codeName(r.ErrorCode), r.ErrorMessage)
			}
			if m.count() >= n || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return topicNames(t, newClient(t, addr)) // a fresh client: kgo caches metadata
	}
	names := waitParts(4)
	if got := m.sig(names); got != "orders-a-0,orders-a-1,orders-b-0,orders-b-1" {
		t.Fatalf("regex orders-.* assigned %q", got)
	}
	dg := describeCG(t, m.cl, g)
	if len(dg.Members) != 1 || dg.Members[0].SubscribedTopicRegex == nil || *dg.Members[0].SubscribedTopicRegex != "orders-.*" {
		t.Errorf("ConsumerGroupDescribe member: %+v", dg.Members)
	}

	createTopic(t, addr, "orders-c", 1, nil)
	names = waitParts(5)
	if got := m.sig(names); got != "orders-a-0,orders-a-1,orders-b-0,orders-b-1,orders-c-0" {
		t.Fatalf("after creating orders-c, assigned %q (owned %v, names %v)", got, m.owned, names)
	}
}

// A regex subscription matches internal topics too, as Kafka resolves it.
func TestGroupConsumerRegexMatchesInternalTopics(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	m := newCGMember(t, addr, "rx-internal", nil)
	m.regex = strp("__consumer_off.*")
	deadline := time.Now().Add(10 * time.Second)
	for m.count() < 50 && time.Now().Before(deadline) {
		if r := m.heartbeat(t); r.ErrorCode != 0 {
			t.Fatalf("heartbeat: %s", codeName(r.ErrorCode))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := m.count(); n != 50 {
		t.Fatalf("regex __consumer_off.* got %d partitions, want the 50 of __consumer_offsets", n)
	}
}

// group.initial.rebalance.delay.ms: the first rebalance of a new group
// waits for the delay, and members arriving meanwhile join the same
// generation.
func TestGroupInitialRebalanceDelay(t *testing.T) {
	const delay = 1500 * time.Millisecond
	_, addr := startTestBroker(t, append(groupOverrides, "group.initial.rebalance.delay.ms=1500")...)
	const g = "delay-g"
	type res struct {
		resp    *kmsg.JoinGroupResponse
		elapsed time.Duration
		err     error
	}
	join := func(cl *kgo.Client) <-chan res {
		ch := make(chan res, 1)
		first := doJoin(t, cl, classicJoinReq(g, "", nil))
		if first.ErrorCode != kerr.MemberIDRequired.Code {
			t.Fatalf("first JoinGroup: %s", codeName(first.ErrorCode))
		}
		go func() {
			start := time.Now()
			r, err := classicJoinReq(g, first.MemberID, nil).RequestWith(context.Background(), cl)
			ch <- res{r, time.Since(start), err}
		}()
		return ch
	}
	a := join(newClient(t, addr))
	time.Sleep(300 * time.Millisecond)
	b := join(newClient(t, addr))
	ra, rb := <-a, <-b
	if ra.err != nil || rb.err != nil || ra.resp.ErrorCode != 0 || rb.resp.ErrorCode != 0 {
		t.Fatalf("joins: %v %+v / %v %+v", ra.err, ra.resp, rb.err, rb.resp)
	}
	t.Logf("first JoinGroup answered after %s (delay %s)", ra.elapsed, delay)
	if ra.elapsed < delay*8/10 {
		t.Errorf("first JoinGroup answered after %s, before the %s initial delay", ra.elapsed, delay)
	}
	if ra.elapsed > 10*time.Second {
		t.Errorf("first JoinGroup took %s", ra.elapsed)
	}
	if ra.resp.Generation != 1 || rb.resp.Generation != 1 || ra.resp.LeaderID != rb.resp.LeaderID {
		t.Errorf("generations %d/%d leaders %q/%q: both members must land in generation 1",
			ra.resp.Generation, rb.resp.Generation, ra.resp.LeaderID, rb.resp.LeaderID)
	}
	leader := ra.resp
	if rb.resp.LeaderID == rb.resp.MemberID {
		leader = rb.resp
	}
	if len(leader.Members) != 2 {
		t.Errorf("leader sees %d members, want 2", len(leader.Members))
	}
}

// group.consumer.heartbeat.interval.ms is what ConsumerGroupHeartbeat
// returns; group.consumer.session.timeout.ms removes a silent member.
func TestGroupConsumerSessionAndInterval(t *testing.T) {
	const session = 2 * time.Second
	_, addr := startTestBroker(t, append(groupOverrides,
		"group.consumer.session.timeout.ms=2000", "group.consumer.heartbeat.interval.ms=250")...)
	createTopic(t, addr, "sess", 4, nil)
	const g = "sess-g"
	x := newCGMember(t, addr, g, nil)
	x.id += "-x"
	x.topics = []string{"sess"}
	y := newCGMember(t, addr, g, nil)
	y.id += "-y"
	y.topics = []string{"sess"}
	converge(t, 4, x, y)
	if x.interval != 250 || y.interval != 250 {
		t.Errorf("heartbeat interval %d/%d ms, want 250", x.interval, y.interval)
	}
	if x.count() != 2 || y.count() != 2 {
		t.Fatalf("assignment %d/%d", x.count(), y.count())
	}

	// x goes silent; y keeps heartbeating.
	x.heartbeat(t)
	silent := time.Now()
	var removedAfter time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	var yErr int16
	var ymu sync.Mutex
	go func() {
		defer wg.Done()
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		for ctx.Err() == nil {
			ymu.Lock()
			req.Group, req.MemberID, req.MemberEpoch = g, y.id, y.epoch
			req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
			for id, ps := range y.owned {
				rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
				rt.TopicID, rt.Partitions = id, ps
				req.Topics = append(req.Topics, rt)
			}
			ymu.Unlock()
			resp, err := req.RequestWith(ctx, y.cl)
			if err != nil {
				return
			}
			ymu.Lock()
			if resp.ErrorCode != 0 {
				yErr = resp.ErrorCode
			} else {
				y.epoch = resp.MemberEpoch
				if resp.Assignment != nil {
					y.owned = map[[16]byte][]int32{}
					for _, at := range resp.Assignment.Topics {
						y.owned[at.TopicID] = at.Partitions
					}
				}
			}
			ymu.Unlock()
			time.Sleep(250 * time.Millisecond)
		}
	}()
	deadline := silent.Add(session + 5*time.Second)
	for {
		if dg := describeCG(t, y.cl, g); len(dg.Members) == 1 {
			if dg.Members[0].MemberID != y.id {
				t.Fatalf("the wrong member was removed: %+v", dg.Members)
			}
			removedAfter = time.Since(silent)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("silent member not removed %s after its last heartbeat (session %s)", time.Since(silent), session)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("silent member removed %s after its last heartbeat (session %s)", removedAfter, session)
	if removedAfter < session*8/10 {
		t.Errorf("silent member removed after %s, before its %s session could expire", removedAfter, session)
	}
	// y takes over every partition.
	for deadline := time.Now().Add(5 * time.Second); ; {
		ymu.Lock()
		n, e := y.count(), yErr
		ymu.Unlock()
		if e != 0 {
			t.Fatalf("surviving member heartbeat: %s", codeName(e))
		}
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("surviving member has %d partitions, want 4", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if r := x.heartbeat(t); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("heartbeat of the expired member: %s, want UNKNOWN_MEMBER_ID", codeName(r.ErrorCode))
	}
}

// Edges of Kafka's error codes not covered by TestGroupProtocolErrors.
func TestGroupErrorEdges(t *testing.T) {
	_, addr := startTestBroker(t, append(groupOverrides, "group.max.session.timeout.ms=10000")...)
	createTopic(t, addr, "edge", 1, nil)
	cl := newClient(t, addr)

	// Session timeout bounds are inclusive: [min, max].
	for _, c := range []struct {
		ms   int32
		want int16
	}{
		{499, kerr.InvalidSessionTimeout.Code},
		{500, kerr.MemberIDRequired.Code},
		{10000, kerr.MemberIDRequired.Code},
		{10001, kerr.InvalidSessionTimeout.Code},
	} {
		r := classicJoinReq("edge-g", "", nil)
		r.SessionTimeoutMillis = c.ms
		if got := doJoin(t, cl, r).ErrorCode; got != c.want {
			t.Errorf("JoinGroup with session %d ms: %s, want %s", c.ms, codeName(got), codeName(c.want))
		}
	}

	// LeaveGroup v0-v2 (one member, top-level error) on a missing group.
	cl2 := maxVersionClient(t, addr, kmsg.LeaveGroup, 2)
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Group, lv.MemberID = "edge-ghost", "m-1"
	if lr, err := lv.RequestWith(testCtx(t), cl2); err != nil || lr.Version > 2 || lr.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("LeaveGroup v2 on a missing group: %v %+v, want UNKNOWN_MEMBER_ID", err, lr)
	}

	// OffsetCommit with a generation on a missing group: GROUP_ID_NOT_FOUND
	// from v9, ILLEGAL_GENERATION before; without one a simple group.
	if c := doCommit(t, cl, "edge-ghost", "m-1", nil, 1, "edge"); c != kerr.GroupIDNotFound.Code {
		t.Errorf("OffsetCommit (latest) gen 1 on a missing group: %s, want GROUP_ID_NOT_FOUND", codeName(c))
	}
	cl8 := maxVersionClient(t, addr, kmsg.OffsetCommit, 8)
	if c := doCommit(t, cl8, "edge-ghost", "m-1", nil, 1, "edge"); c != kerr.IllegalGeneration.Code {
		t.Errorf("OffsetCommit v8 gen 1 on a missing group: %s, want ILLEGAL_GENERATION", codeName(c))
	}
	if c := doCommit(t, cl, "edge-simple", "", nil, -1, "edge"); c != 0 {
		t.Errorf("simple OffsetCommit: %s", codeName(c))
	}
	// The simple group exists now but has no members: member requests are
	// UNKNOWN_MEMBER_ID (Kafka: an empty group), not GROUP_ID_NOT_FOUND.
	if sr := doSync(t, cl, "edge-simple", "m-1", nil, 0, nil); sr.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("SyncGroup on an empty group: %s, want UNKNOWN_MEMBER_ID", codeName(sr.ErrorCode))
	}
	if c := doHeartbeat(t, cl, "edge-simple", "m-1", nil, 0); c != kerr.UnknownMemberID.Code {
		t.Errorf("Heartbeat on an empty group: %s, want UNKNOWN_MEMBER_ID", codeName(c))
	}
	// A commit with a generation on the empty group names an unknown member.
	if c := doCommit(t, cl, "edge-simple", "m-1", nil, 1, "edge"); c != kerr.UnknownMemberID.Code {
		t.Errorf("OffsetCommit gen 1 on an empty group: %s, want UNKNOWN_MEMBER_ID", codeName(c))
	}
}
