package broker

// Admin APIs on a 3-broker cluster: ElectLeaders, AlterPartitionReassignments,
// ListPartitionReassignments (asked of a broker that is not the controller),
// CreatePartitions and DescribeCluster.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

// ask sends req to broker id on a connection of its own and returns the
// decoded answer.
func (c *testCluster) ask(id int32, req kmsg.Request) kmsg.Response {
	c.t.Helper()
	resp, err := askAddr(c.addrs[id], req)
	if err != nil {
		c.t.Fatalf("%s to broker %d: %v", kmsg.NameForKey(req.Key()), id, err)
	}
	return resp
}

// askAddr sends req (at its version) to addr and decodes the answer.
func askAddr(addr string, req kmsg.Request) (kmsg.Response, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("admin-cluster-test"))
	if _, err := conn.Write(f.AppendRequest(nil, req, 1)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := readFull(conn, size[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := readFull(conn, buf); err != nil {
		return nil, err
	}
	body := buf[4:]
	resp := req.ResponseKind()
	if resp.IsFlexible() {
		body = body[1:] // response header tags
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, err
	}
	return resp, nil
}

// notController is a live broker of ids that is not the controller.
func (c *testCluster) notController(ids ...int32) int32 {
	c.t.Helper()
	var ctrl int32
	waitFor(c.t, "a controller", func() bool { ctrl = c.snap().ControllerID; return ctrl > 0 })
	for _, id := range ids {
		if id != ctrl {
			if _, ok := c.brokers[id]; ok {
				return id
			}
		}
	}
	c.t.Fatalf("no live broker among %v but the controller %d", ids, ctrl)
	return -1
}

// moveLeader writes, as a test, a state of topic/p led by leader (leader
// epoch + 1): what a failover leaves behind.
func (c *testCluster) moveLeader(topic string, p, leader int32) coordinator.PartitionState {
	c.t.Helper()
	var rev int64
	for try := 0; ; try++ {
		// The brokers change the state too (the new leader's ISR
		// updates): retry on a newer one, as the controller would.
		if err := c.etcd.WaitForRevision(testCtx(c.t), c.latestRevision()); err != nil {
			c.t.Fatal(err)
		}
		tm := c.snap().Topic(topic)
		st := tm.Partitions[p]
		moved := st
		moved.Leader, moved.LeaderEpoch = leader, st.LeaderEpoch+1
		var err error
		rev, err = c.etcd.UpdatePartitionState(testCtx(c.t), tm.Info.ID, p, st.PartitionEpoch, moved)
		if err == nil {
			break
		}
		if !errors.Is(err, coordinator.ErrConflict) || try == 20 {
			c.t.Fatal(err)
		}
	}
	for _, s := range append([]*coordinator.Store{c.etcd}, c.stores()...) {
		if err := s.WaitForRevision(testCtx(c.t), rev); err != nil {
			c.t.Fatal(err)
		}
	}
	return c.partition(topic, p)
}

// caughtUp waits until the observer's snapshot has everything broker id's
// has (an answer that waited for broker id to apply its change).
func (c *testCluster) caughtUp(id int32) {
	c.t.Helper()
	if err := c.etcd.WaitForRevision(testCtx(c.t), c.brokers[id].store.Snapshot().Revision); err != nil {
		c.t.Fatal(err)
	}
}

func (c *testCluster) stores() []*coordinator.Store {
	var out []*coordinator.Store
	for _, b := range c.brokers {
		out = append(out, b.store)
	}
	return out
}

func electReq(version int16, electionType int8, topics map[string][]int32) *kmsg.ElectLeadersRequest {
	req := kmsg.NewPtrElectLeadersRequest()
	req.Version = version
	req.ElectionType = electionType
	req.TimeoutMillis = 15000
	if topics != nil {
		req.Topics = []kmsg.ElectLeadersRequestTopic{}
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range topics {
				if !yield(n) {
					return
				}
			}
		})
		for _, n := range names {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = n, topics[n]
			req.Topics = append(req.Topics, rt)
		}
	}
	return req
}

// electResults flattens an ElectLeaders answer to "topic-p" -> error code.
func electResults(t *testing.T, resp kmsg.Response) map[string]int16 {
	t.Helper()
	r := resp.(*kmsg.ElectLeadersResponse)
	if r.ErrorCode != 0 {
		t.Fatalf("ElectLeaders: top-level error %d", r.ErrorCode)
	}
	out := map[string]int16{}
	for _, rt := range r.Topics {
		for _, p := range rt.Partitions {
			out[fmt.Sprintf("%s-%d", rt.Topic, p.Partition)] = p.ErrorCode
			if (p.ErrorCode == 0) != (p.ErrorMessage == nil) {
				t.Errorf("%s-%d: error %d with message %v", rt.Topic, p.Partition, p.ErrorCode, p.ErrorMessage)
			}
		}
	}
	return out
}

func wantCodes(t *testing.T, what string, got map[string]int16, want map[string]*kerr.Error) {
	t.Helper()
	for k, e := range want {
		c, ok := got[k]
		if !ok {
			t.Errorf("%s: no result for %s (got %v)", what, k, got)
			continue
		}
		if c != errCode(e) {
			t.Errorf("%s: %s: error %v, want %v", what, k, kerr.ErrorForCode(c), e)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: results %v, want exactly %v", what, got, want)
	}
}

// ElectLeaders PREFERRED asked of a broker that is not the controller:
// leadership moves back to the first replica (leader epoch + 1) where it
// is in the ISR; a partition led by it already needs no election; unknown
// topics and partitions are UNKNOWN_TOPIC_OR_PARTITION; a preferred replica
// that is down is PREFERRED_LEADER_NOT_AVAILABLE; and with null topics
// (--all-topic-partitions) every topic is listed without the partitions
// that needed nothing.
func TestElectLeadersPreferred(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3})
	c.createAssigned(1, "el", [][]int32{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}}, nil)
	waitFor(t, "preferred leaders and full ISRs", func() bool {
		for p, st := range c.snap().Topic("el").Partitions {
			if st.Leader != st.Replicas[0] || len(st.ISR) != 3 {
				t.Logf("partition %d: %+v", p, st)
				return false
			}
		}
		return true
	})
	moved := c.moveLeader("el", 0, 2)
	via := c.notController(1, 2, 3)

	for _, v := range []int16{0, 1, 2} {
		if v > 0 {
			moved = c.moveLeader("el", 0, 2)
		}
		got := electResults(t, c.ask(via, electReq(v, electionPreferredType, map[string][]int32{"el": {0, 1, 7}, "nosuch": {0}})))
		wantCodes(t, fmt.Sprintf("v%d", v), got, map[string]*kerr.Error{
			"el-0": nil, "el-1": kerr.ElectionNotNeeded, "el-7": kerr.UnknownTopicOrPartition, "nosuch-0": kerr.UnknownTopicOrPartition,
		})
		// The answer waited for the asked broker to apply it.
		st, _ := c.brokers[via].store.Snapshot().Partition("el", 0)
		if st.Leader != 1 || st.LeaderEpoch != moved.LeaderEpoch+1 {
			t.Fatalf("v%d: after the election partition 0 is %+v, want leader 1 at epoch %d", v, st, moved.LeaderEpoch+1)
		}
	}
	waitFor(t, "broker 1 serves el-0 again", func() bool { return c.brokers[1].partition("el", 0) != nil })

	// All partitions: nothing to do, every topic listed with no partition.
	r := c.ask(via, electReq(2, electionPreferredType, nil)).(*kmsg.ElectLeadersResponse)
	var names []string
	for _, rt := range r.Topics {
		names = append(names, rt.Topic)
		if len(rt.Partitions) != 0 {
			t.Errorf("all partitions, nothing to elect: %s lists %+v", rt.Topic, rt.Partitions)
		}
	}
	if !slices.Equal(names, c.snap().TopicNames) {
		t.Errorf("all partitions: topics %v, want %v", names, c.snap().TopicNames)
	}

	// All partitions with one to move: only that one is listed.
	c.moveLeader("el", 2, 1)
	r = c.ask(via, electReq(2, electionPreferredType, nil)).(*kmsg.ElectLeadersResponse)
	got := electResults(t, r)
	wantCodes(t, "all partitions", got, map[string]*kerr.Error{"el-2": nil})
	waitFor(t, "el-2 led by 3", func() bool { return c.leaderOf("el", 2) == 3 })

	// The preferred replica down: not available.
	c.moveLeader("el", 1, 3)
	c.crash(2)
	c.waitDead(2)
	waitFor(t, "2 out of el-1's ISR", func() bool { return !slices.Contains(c.partition("el", 1).ISR, 2) })
	via = c.notController(1, 3)
	got = electResults(t, c.ask(via, electReq(2, electionPreferredType, map[string][]int32{"el": {1}})))
	wantCodes(t, "preferred replica down", got, map[string]*kerr.Error{"el-1": kerr.PreferredLeaderNotAvailable})
	if l := c.leaderOf("el", 1); l != 3 {
		t.Errorf("el-1 led by %d after a refused election, want 3", l)
	}
}

// ElectLeaders UNCLEAN: a partition with a leader needs no election; a
// leaderless one whose ISR is gone gets its first live replica (ISR :=
// [it], leader epoch + 1) even though the topic does not allow unclean
// elections itself; one with no live replica is ELIGIBLE_LEADERS_NOT_AVAILABLE.
func TestElectLeadersUnclean(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3})
	c.createAssigned(3, "u1", [][]int32{{1, 2}}, nil)
	c.createAssigned(3, "u2", [][]int32{{1}}, nil)
	c.createAssigned(3, "u3", [][]int32{{3}}, nil)
	waitFor(t, "u1 in sync", func() bool { return len(c.partition("u1", 0).ISR) == 2 })
	c.crash(2)
	c.waitDead(2)
	waitFor(t, "2 out of u1's ISR", func() bool { return slices.Equal(c.partition("u1", 0).ISR, []int32{1}) })
	c.crash(1)
	c.waitDead(1)
	waitFor(t, "u1 and u2 leaderless", func() bool { return c.leaderOf("u1", 0) == -1 && c.leaderOf("u2", 0) == -1 })
	c.start(2)
	c.waitLive(2)
	time.Sleep(2 * controllerTick)
	before := c.partition("u1", 0)
	if before.Leader != -1 {
		t.Fatalf("u1 elected %d without unclean elections: %+v", before.Leader, before)
	}
	via := c.notController(2, 3)
	got := electResults(t, c.ask(via, electReq(1, electionUncleanType, map[string][]int32{"u1": {0}, "u2": {0}, "u3": {0}})))
	wantCodes(t, "unclean", got, map[string]*kerr.Error{
		"u1-0": nil, "u2-0": kerr.EligibleLeadersNotAvailable, "u3-0": kerr.ElectionNotNeeded,
	})
	c.caughtUp(via)
	st := c.partition("u1", 0)
	if st.Leader != 2 || !slices.Equal(st.ISR, []int32{2}) || st.LeaderEpoch != before.LeaderEpoch+1 {
		t.Fatalf("after the unclean election: %+v, want leader 2, ISR [2], epoch %d", st, before.LeaderEpoch+1)
	}
	// An unknown election type is refused.
	r := c.ask(via, electReq(1, 7, map[string][]int32{"u1": {0}})).(*kmsg.ElectLeadersResponse)
	if r.ErrorCode != kerr.InvalidRequest.Code || len(r.Topics) != 1 || r.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("election type 7: %+v", r)
	}
}

func reassignReq(version int16, topic string, parts map[int32][]int32, cancel ...int32) *kmsg.AlterPartitionAssignmentsRequest {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.Version = version
	req.TimeoutMillis = 15000
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	for _, p := range slices.Sorted(func(yield func(int32) bool) {
		for p := range parts {
			if !yield(p) {
				return
			}
		}
	}) {
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = p, parts[p]
		if rp.Replicas == nil {
			rp.Replicas = []int32{}
		}
		rt.Partitions = append(rt.Partitions, rp)
	}
	for _, p := range cancel {
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition = p // nil replicas: cancel
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// reassignResults flattens an AlterPartitionReassignments answer to
// "topic-p" -> error code.
func reassignResults(t *testing.T, resp kmsg.Response) map[string]int16 {
	t.Helper()
	r := resp.(*kmsg.AlterPartitionAssignmentsResponse)
	if r.ErrorCode != 0 {
		t.Fatalf("AlterPartitionReassignments: top-level error %d", r.ErrorCode)
	}
	out := map[string]int16{}
	for _, rt := range r.Topics {
		for _, p := range rt.Partitions {
			out[fmt.Sprintf("%s-%d", rt.Topic, p.Partition)] = p.ErrorCode
			if (p.ErrorCode == 0) != (p.ErrorMessage == nil) {
				t.Errorf("%s-%d: error %d with message %v", rt.Topic, p.Partition, p.ErrorCode, p.ErrorMessage)
			}
		}
	}
	return out
}

// listReassignments asks broker id for the reassignments in progress:
// "topic-p" -> the partition's replicas, adding and removing replicas.
func (c *testCluster) listReassignments(id int32, topics map[string][]int32) map[string][3][]int32 {
	c.t.Helper()
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = 15000
	if topics != nil {
		req.Topics = []kmsg.ListPartitionReassignmentsRequestTopic{}
		for n, ps := range topics {
			rt := kmsg.NewListPartitionReassignmentsRequestTopic()
			rt.Topic, rt.Partitions = n, ps
			req.Topics = append(req.Topics, rt)
		}
	}
	r := c.ask(id, req).(*kmsg.ListPartitionReassignmentsResponse)
	if r.ErrorCode != 0 {
		c.t.Fatalf("ListPartitionReassignments: error %d", r.ErrorCode)
	}
	out := map[string][3][]int32{}
	for _, rt := range r.Topics {
		if len(rt.Partitions) == 0 {
			c.t.Errorf("ListPartitionReassignments lists %s with no partition", rt.Topic)
		}
		for _, p := range rt.Partitions {
			out[fmt.Sprintf("%s-%d", rt.Topic, p.Partition)] = [3][]int32{p.Replicas, p.AddingReplicas, p.RemovingReplicas}
		}
	}
	return out
}

// The request errors of AlterPartitionReassignments, and a reassignment
// that cannot complete (its new replica's broker died just after the
// request) listed by ListPartitionReassignments and then cancelled: the
// partition and its topic's assignment are back to the original replicas.
func TestReassignmentErrorsListAndCancel(t *testing.T) {
	// A long session: the crashed broker stays registered (its lease
	// holds) while the reassignment to it is requested.
	c := newTestCluster(t, []int32{1, 2, 3}, "broker.session.timeout.ms=10000")
	tm := c.createAssigned(1, "rc", [][]int32{{1, 2}, {2, 1}}, nil)
	waitFor(t, "rc in sync", func() bool {
		return len(c.partition("rc", 0).ISR) == 2 && len(c.partition("rc", 1).ISR) == 2
	})
	via := c.notController(1, 2)

	got := reassignResults(t, c.ask(via, reassignReq(1, "rc", map[int32][]int32{1: {2, 2}, 5: {1, 2}}, 0)))
	wantCodes(t, "errors", got, map[string]*kerr.Error{
		"rc-0": kerr.NoReassignmentInProgress, "rc-1": kerr.InvalidReplicaAssignment, "rc-5": kerr.UnknownTopicOrPartition,
	})
	got = reassignResults(t, c.ask(via, reassignReq(1, "rc", map[int32][]int32{0: {}})))
	wantCodes(t, "empty target", got, map[string]*kerr.Error{"rc-0": kerr.InvalidReplicaAssignment})
	got = reassignResults(t, c.ask(via, reassignReq(1, "rc", map[int32][]int32{0: {1, 99}})))
	wantCodes(t, "unregistered broker", got, map[string]*kerr.Error{"rc-0": kerr.InvalidReplicaAssignment})
	got = reassignResults(t, c.ask(via, reassignReq(0, "nosuch", map[int32][]int32{0: {1}})))
	wantCodes(t, "unknown topic", got, map[string]*kerr.Error{"nosuch-0": kerr.UnknownTopicOrPartition})
	req := reassignReq(1, "rc", map[int32][]int32{0: {1, 2, 3}})
	req.AllowReplicationFactorChange = false
	got = reassignResults(t, c.ask(via, req))
	wantCodes(t, "replication factor change refused", got, map[string]*kerr.Error{"rc-0": kerr.InvalidReplicationFactor})
	if st := c.partition("rc", 0); !slices.Equal(st.Replicas, []int32{1, 2}) || st.Reassigning() {
		t.Fatalf("a refused request changed rc-0: %+v", st)
	}
	if l := c.listReassignments(via, nil); len(l) != 0 {
		t.Fatalf("reassignments before any: %v", l)
	}

	// Move rc-0 to {2, 3} with broker 3 crashed but still registered: 3
	// never catches up, so the reassignment stays in progress.
	c.crash(3)
	got = reassignResults(t, c.ask(via, reassignReq(0, "rc", map[int32][]int32{0: {2, 3}})))
	wantCodes(t, "move to a crashed broker", got, map[string]*kerr.Error{"rc-0": nil})
	c.caughtUp(via)
	want := [3][]int32{{2, 3, 1}, {3}, {1}}
	for _, q := range []map[string][]int32{nil, {"rc": {0, 1, 9}, "nosuch": {0}}} {
		l := c.listReassignments(via, q)
		if len(l) != 1 || fmt.Sprint(l["rc-0"]) != fmt.Sprint(want) {
			t.Fatalf("list %v: %v, want rc-0 %v", q, l, want)
		}
	}
	st := c.partition("rc", 0)
	if !slices.Equal(c.snap().Topic("rc").Info.Replicas[0], st.Replicas) || st.Leader != 1 || slices.Contains(st.ISR, 3) {
		t.Fatalf("in progress: state %+v, topic assignment %v", st, c.snap().Topic("rc").Info.Replicas[0])
	}
	time.Sleep(2 * controllerTick)
	if st := c.partition("rc", 0); !st.Reassigning() {
		t.Fatalf("completed without broker 3: %+v", st)
	}
	// v1 refuses another replication factor than the target's.
	req = reassignReq(1, "rc", map[int32][]int32{0: {1}})
	req.AllowReplicationFactorChange = false
	got = reassignResults(t, c.ask(via, req))
	wantCodes(t, "replication factor change refused in progress", got, map[string]*kerr.Error{"rc-0": kerr.InvalidReplicationFactor})

	got = reassignResults(t, c.ask(via, reassignReq(0, "rc", nil, 0)))
	wantCodes(t, "cancel", got, map[string]*kerr.Error{"rc-0": nil})
	c.caughtUp(via)
	st = c.partition("rc", 0)
	if !slices.Equal(st.Replicas, []int32{2, 1}) || st.Reassigning() || slices.Contains(st.ISR, 3) ||
		!slices.Equal(c.snap().Topic("rc").Info.Replicas[0], st.Replicas) {
		t.Fatalf("after the cancel: %+v, topic assignment %v; want replicas [2 1] (the target's order, then the removed)", st, c.snap().Topic("rc").Info.Replicas[0])
	}
	if l := c.listReassignments(via, nil); len(l) != 0 {
		t.Fatalf("reassignments after the cancel: %v", l)
	}
	if st := c.partition("rc", 1); !slices.Equal(st.Replicas, tm.Partitions[1].Replicas) {
		t.Errorf("rc-1 changed: %+v", st)
	}
}

// replicaLogBytes is the concatenation of a replica's segment files.
func replicaLogBytes(t *testing.T, dataDir, topic string, p int32) []byte {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dataDir, fmt.Sprintf("%s-%d", topic, p), "*.log"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments of %s-%d in %s: %v %v", topic, p, dataDir, segs, err)
	}
	sort.Strings(segs)
	var out []byte
	for _, s := range segs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// A reassignment of an RF 2 partition from {1, 2} to {2, 3} under an
// acks=all producer: broker 3 catches up as a follower, then the
// controller completes the move — replicas and the topic's assignment
// [2 3], leadership from the removed broker 1 to 2 at the next epoch — and
// broker 1 deletes its log (renamed -delete, not set aside as stray).
// Every acknowledged record is there, and broker 3's log is byte for byte
// broker 2's.
func TestReassignmentMovesReplicas(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3})
	c.createAssigned(1, "mv", [][]int32{{1, 2}}, nil)
	waitFor(t, "mv in sync", func() bool { st := c.partition("mv", 0); return st.Leader == 1 && len(st.ISR) == 2 })
	before := c.partition("mv", 0)

	prod := newClient(t, c.addrs[2], kgo.DefaultProduceTopic("mv"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(100*time.Millisecond))
	ctx := testCtx(t)
	var acked []string
	produce := func(n int, tag string) {
		for i := 0; i < n; i++ {
			v := fmt.Sprintf("%s-%d", tag, i)
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", v, err)
			}
			acked = append(acked, v)
		}
	}
	produce(200, "before")
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			v := fmt.Sprintf("during-%d", i)
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				done <- fmt.Errorf("produce %s: %w", v, err)
				return
			}
			acked = append(acked, v)
		}
	}()

	via := c.notController(1, 2, 3)
	asked := time.Now()
	got := reassignResults(t, c.ask(via, reassignReq(0, "mv", map[int32][]int32{0: {2, 3}})))
	wantCodes(t, "reassign", got, map[string]*kerr.Error{"mv-0": nil})
	c.caughtUp(via)
	waitFor(t, "reassignment completed", func() bool {
		st := c.partition("mv", 0)
		return !st.Reassigning() && slices.Equal(st.Replicas, []int32{2, 3})
	})
	completedIn := time.Since(asked)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	produce(50, "after")

	st := c.partition("mv", 0)
	if st.Leader != 2 || st.LeaderEpoch != before.LeaderEpoch+1 || !slices.Equal(st.ISR, []int32{2, 3}) {
		t.Errorf("after the move: %+v, want leader 2 at epoch %d, ISR [2 3]", st, before.LeaderEpoch+1)
	}
	if a := c.snap().Topic("mv").Info.Replicas; len(a) != 1 || !slices.Equal(a[0], []int32{2, 3}) {
		t.Errorf("topic assignment %v, want [[2 3]]", a)
	}
	if l := c.listReassignments(via, nil); len(l) != 0 {
		t.Errorf("reassignments after completion: %v", l)
	}

	// Broker 1's log went through -delete, not -stray.
	waitFor(t, "broker 1's replica gone", func() bool { return c.brokers[1].hosted("mv", 0) == nil })
	var aside []string
	for _, n := range dirNames(t, c.dirs[1]) {
		if strings.HasPrefix(n, "mv-0") {
			aside = append(aside, n)
		}
	}
	if len(aside) != 1 || !strings.HasPrefix(aside[0], "mv-0.") || !strings.HasSuffix(aside[0], "-delete") {
		t.Errorf("broker 1's directories of mv-0: %v, want one mv-0.<hex>-delete", aside)
	}

	// Every acknowledged record, in order, from the new leader.
	recs := consumeN(t, c.addrs[3], "mv", len(acked))
	for i, r := range recs {
		if i >= len(acked) || string(r.Value) != acked[i] || r.Offset != int64(i) {
			t.Fatalf("record %d at offset %d: %q, want %q", i, r.Offset, r.Value, acked[i])
		}
	}
	if leo := c.brokers[2].hosted("mv", 0).log.LogEndOffset(); leo != int64(len(acked)) {
		t.Errorf("log end offset %d, acknowledged %d records", leo, len(acked))
	}
	waitFor(t, "broker 3's log equal to broker 2's", func() bool {
		return bytes.Equal(replicaLogBytes(t, c.dirs[2], "mv", 0), replicaLogBytes(t, c.dirs[3], "mv", 0))
	})
	t.Logf("moved %d records; the reassignment completed %s after the request", len(acked), completedIn)
}

// CreatePartitions asked of a broker that is not the controller, on 3
// brokers: the new partitions keep the topic's replication factor, spread
// their leaders over every broker, start with their first replica leading
// and every replica in the ISR, and are served — each takes an acks=all
// record through a client that knows only one broker, and every broker's
// Metadata names the same leader and replicas. A manual assignment is
// taken as given; one naming an unregistered broker or another
// replication factor is refused.
func TestCreatePartitionsAcrossBrokers(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3})
	via := c.notController(1, 2, 3)
	if _, e, msg := c.brokers[via].createTopic(testCtx(t), "cp", 3, 2, nil, nil, false); e != nil {
		t.Fatal(e, msg)
	}
	waitFor(t, "cp in the observer's snapshot", func() bool { return c.snap().Topic("cp") != nil })

	createParts := func(count int32, assignment [][]int32) *kmsg.CreatePartitionsResponseTopic {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.TimeoutMillis = 15000
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "cp", count
		for _, a := range assignment {
			ra := kmsg.NewCreatePartitionsRequestTopicAssignment()
			ra.Replicas = a
			rt.Assignment = append(rt.Assignment, ra)
		}
		req.Topics = append(req.Topics, rt)
		r := c.ask(via, req).(*kmsg.CreatePartitionsResponse)
		return &r.Topics[0]
	}
	if r := createParts(9, nil); r.ErrorCode != 0 {
		t.Fatalf("CreatePartitions to 9: %d %v", r.ErrorCode, r.ErrorMessage)
	}
	c.caughtUp(via)
	tm := c.snap().Topic("cp")
	if len(tm.Partitions) != 9 || len(tm.Info.Replicas) != 9 {
		t.Fatalf("%d partitions, assignment %v", len(tm.Partitions), tm.Info.Replicas)
	}
	leaders := map[int32]int{}
	for p := 3; p < 9; p++ {
		rs := tm.Info.Replicas[p]
		if len(rs) != 2 || rs[0] == rs[1] || !slices.Equal(tm.Partitions[p].Replicas, rs) {
			t.Errorf("partition %d: assignment %v, state %+v", p, rs, tm.Partitions[p])
		}
		leaders[rs[0]]++
	}
	if len(leaders) != 3 || leaders[1] != 2 || leaders[2] != 2 || leaders[3] != 2 {
		t.Errorf("first replicas of the new partitions per broker: %v, want 2 each", leaders)
	}
	waitFor(t, "new partitions led by their first replica with full ISRs", func() bool {
		for p, st := range c.snap().Topic("cp").Partitions {
			if st.Leader != st.Replicas[0] || len(st.ISR) != 2 {
				return false
			}
			if c.brokers[st.Leader].partition("cp", int32(p)) == nil {
				return false
			}
		}
		return true
	})
	cl := newClient(t, c.addrs[via], kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	for p := int32(0); p < 9; p++ {
		r := &kgo.Record{Topic: "cp", Partition: p, Value: []byte(fmt.Sprintf("to %d", p))}
		if err := cl.ProduceSync(testCtx(t), r).FirstErr(); err != nil {
			t.Fatalf("produce to partition %d: %v", p, err)
		}
		if r.Offset != 0 {
			t.Errorf("partition %d: offset %d", p, r.Offset)
		}
	}
	want := c.snap().Topic("cp").Partitions
	for id := range c.brokers {
		md := metadataOf(t, c.addrs[id], "cp")
		if len(md.Partitions) != 9 {
			t.Fatalf("broker %d: %d partitions", id, len(md.Partitions))
		}
		for p, mp := range md.Partitions {
			if mp.Leader != want[p].Leader || !slices.Equal(mp.Replicas, want[p].Replicas) || mp.LeaderEpoch != want[p].LeaderEpoch {
				t.Errorf("broker %d's metadata of partition %d: %+v, want %+v", id, p, mp, want[p])
			}
		}
	}

	// A manual assignment.
	if r := createParts(10, [][]int32{{3, 1}}); r.ErrorCode != 0 {
		t.Fatalf("CreatePartitions to 10 on [3 1]: %d %v", r.ErrorCode, r.ErrorMessage)
	}
	c.caughtUp(via)
	if st := c.partition("cp", 9); !slices.Equal(st.Replicas, []int32{3, 1}) || !slices.Equal(c.snap().Topic("cp").Info.Replicas[9], []int32{3, 1}) {
		t.Errorf("partition 9: %+v", st)
	}
	waitFor(t, "partition 9 led by 3", func() bool { return c.brokers[3].partition("cp", 9) != nil })
	for _, bad := range [][][]int32{{{3, 9}}, {{1, 2, 3}}} {
		if r := createParts(11, bad); r.ErrorCode != kerr.InvalidReplicaAssignment.Code {
			t.Errorf("assignment %v: error %d %v, want INVALID_REPLICA_ASSIGNMENT", bad, r.ErrorCode, r.ErrorMessage)
		}
	}
}

// DescribeCluster on every broker of 3 lists all three with their
// endpoints and racks and names the controller; a broker that dies leaves
// the list, and when the controller dies the answer names the new one.
func TestDescribeClusterThreeBrokers(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3}, "broker.rack=r")
	describe := func(id int32) *kmsg.DescribeClusterResponse {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version = 1
		req.EndpointType = 1
		return c.ask(id, req).(*kmsg.DescribeClusterResponse)
	}
	check := func(ids ...int32) {
		t.Helper()
		ctrl := c.snap().ControllerID
		for _, id := range ids {
			var r *kmsg.DescribeClusterResponse
			waitFor(t, fmt.Sprintf("broker %d describes brokers %v", id, ids), func() bool {
				r = describe(id)
				if len(r.Brokers) != len(ids) {
					return false
				}
				for i, br := range r.Brokers {
					if br.NodeID != ids[i] {
						return false
					}
				}
				return r.ControllerID == ctrl
			})
			if r.ErrorCode != 0 || r.ClusterID != c.etcd.ClusterID() {
				t.Errorf("broker %d: %+v", id, r)
			}
			for _, br := range r.Brokers {
				if addr := net.JoinHostPort(br.Host, fmt.Sprint(br.Port)); addr != c.addrs[br.NodeID] || br.Rack == nil || *br.Rack != "r" {
					t.Errorf("broker %d describes %d at %s rack %v, want %s rack r", id, br.NodeID, addr, br.Rack, c.addrs[br.NodeID])
				}
			}
		}
	}
	waitFor(t, "a controller", func() bool { return c.snap().ControllerID > 0 })
	check(1, 2, 3)
	ctrl := c.snap().ControllerID
	others := slices.DeleteFunc([]int32{1, 2, 3}, func(id int32) bool { return id == ctrl })
	c.crash(others[0])
	c.waitDead(others[0])
	left := slices.DeleteFunc([]int32{1, 2, 3}, func(id int32) bool { return id == others[0] })
	check(left...)
	c.crash(ctrl)
	c.waitDead(ctrl)
	waitFor(t, "a new controller", func() bool { id := c.snap().ControllerID; return id > 0 && id != ctrl })
	check(others[1])
}

// Two CreatePartitions for the same count on brokers whose snapshots lag
// each other: the second is planned on a snapshot that does not have the
// first's partitions yet, and is refused (the topic has that count
// already) instead of adding its partitions after the first's.
func TestCreatePartitionsPlannedOnStaleSnapshot(t *testing.T) {
	b, addr := startTestBroker(t)
	createTopic(t, addr, "stale", 3, nil)
	stale := b.store.Snapshot()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "stale", 6
	if _, e, msg := b.addPartitions(testCtx(t), stale, rt); e != nil {
		t.Fatal(e, msg)
	}
	_, e, msg := b.addPartitions(testCtx(t), stale, rt)
	if e != kerr.InvalidPartitions {
		t.Errorf("second CreatePartitions to 6 planned on 3 partitions: %v %s, want INVALID_PARTITIONS", e, msg)
	}
	rev, err := b.store.Client().Get(testCtx(t), b.store.Key("topics", "stale"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.WaitForRevision(testCtx(t), rev.Header.Revision); err != nil {
		t.Fatal(err)
	}
	if n := len(b.store.Snapshot().Topic("stale").Partitions); n != 6 {
		t.Errorf("%d partitions, want 6", n)
	}
}

// IncrementalAlterConfigs on a broker: DELETEs alone succeed and change
// nothing (no broker config is dynamic, so there is none to remove: what
// kafka-reassign-partitions.sh --verify sends to clear throttles); any
// other operation is still refused.
func TestIncrementalAlterBrokerDeletes(t *testing.T) {
	b, addr := startTestBroker(t)
	req := func(ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) *kmsg.IncrementalAlterConfigsResponseResource {
		r := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType = kmsg.ConfigResourceTypeBroker
		rr.ResourceName = fmt.Sprint(b.cfg.BrokerID)
		rr.Configs = ops
		r.Resources = append(r.Resources, rr)
		resp, err := askAddr(addr, r)
		if err != nil {
			t.Fatal(err)
		}
		return &resp.(*kmsg.IncrementalAlterConfigsResponse).Resources[0]
	}
	op := func(o kmsg.IncrementalAlterConfigOp, name string, value *string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Op, c.Name, c.Value = o, name, value
		return c
	}
	if r := req(op(kmsg.IncrementalAlterConfigOpDelete, "leader.replication.throttled.rate", nil),
		op(kmsg.IncrementalAlterConfigOpDelete, "follower.replication.throttled.rate", nil)); r.ErrorCode != 0 {
		t.Errorf("broker DELETEs: %d %v", r.ErrorCode, r.ErrorMessage)
	}
	if r := req(op(kmsg.IncrementalAlterConfigOpDelete, "leader.replication.throttled.rate", nil),
		op(kmsg.IncrementalAlterConfigOpSet, "num.partitions", kmsg.StringPtr("3"))); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("broker SET with a DELETE: %d %v, want INVALID_REQUEST", r.ErrorCode, r.ErrorMessage)
	}
}

// DescribeLogDirs lists the one log directory (absolute) with the hosted
// partitions asked for, each with its size and no offset lag; null topics
// ask for every log, a topic with none of the asked partitions is left
// out.
func TestDescribeLogDirs(t *testing.T) {
	b, addr := startTestBroker(t)
	createTopic(t, addr, "ld", 2, nil)
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := 0; i < 5; i++ {
		if err := cl.ProduceSync(testCtx(t), &kgo.Record{Topic: "ld", Partition: 1, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	abs, err := filepath.Abs(b.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	describe := func(v int16, topics []kmsg.DescribeLogDirsRequestTopic) *kmsg.DescribeLogDirsResponse {
		req := kmsg.NewPtrDescribeLogDirsRequest()
		req.Version = v
		req.Topics = topics
		resp, err := askAddr(addr, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.DescribeLogDirsResponse)
	}
	for _, v := range []int16{1, 4, 5} {
		r := describe(v, nil)
		if len(r.Dirs) != 1 || r.Dirs[0].Dir != abs || r.Dirs[0].ErrorCode != 0 || len(r.Dirs[0].Topics) != 1 || r.Dirs[0].Topics[0].Topic != "ld" {
			t.Fatalf("v%d all logs: %+v", v, r)
		}
		ps := r.Dirs[0].Topics[0].Partitions
		sort.Slice(ps, func(i, j int) bool { return ps[i].Partition < ps[j].Partition })
		if len(ps) != 2 || ps[0].Size != 0 || ps[1].Size != b.hosted("ld", 1).log.Size() || ps[1].Size == 0 || ps[1].OffsetLag != 0 {
			t.Errorf("v%d partitions: %+v", v, ps)
		}
		if v >= 4 && (r.Dirs[0].TotalBytes != -1 || r.Dirs[0].UsableBytes != -1) {
			t.Errorf("v%d volume sizes %d %d, want -1 (unknown)", v, r.Dirs[0].TotalBytes, r.Dirs[0].UsableBytes)
		}
	}
	rt := kmsg.NewDescribeLogDirsRequestTopic()
	rt.Topic, rt.Partitions = "ld", []int32{1, 7}
	other := kmsg.NewDescribeLogDirsRequestTopic()
	other.Topic, other.Partitions = "nosuch", []int32{0}
	r := describe(2, []kmsg.DescribeLogDirsRequestTopic{rt, other})
	if len(r.Dirs) != 1 || len(r.Dirs[0].Topics) != 1 || len(r.Dirs[0].Topics[0].Partitions) != 1 || r.Dirs[0].Topics[0].Partitions[0].Partition != 1 {
		t.Errorf("asked for ld-1, ld-7 and nosuch-0: %+v", r.Dirs)
	}
	r = describe(3, []kmsg.DescribeLogDirsRequestTopic{other})
	if len(r.Dirs) != 1 || r.Dirs[0].Dir != abs || len(r.Dirs[0].Topics) != 0 {
		t.Errorf("asked for nothing hosted: %+v", r.Dirs)
	}
}

// Odd but well-formed admin requests get answers with per-partition errors,
// never a closed connection: negative and huge partition numbers, negative
// and repeated broker ids, empty names.
func TestAdminRequestsOddInput(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "odd", 1, nil)
	ask := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := askAddr(addr, req)
		if err != nil {
			t.Fatalf("%s: no answer: %v", kmsg.NameForKey(req.Key()), err)
		}
		return resp
	}
	el := electReq(2, electionPreferredType, map[string][]int32{"odd": {-1, 1 << 30, 0, 0}, "": {0}})
	got := electResults(t, ask(el))
	wantCodes(t, "elect", got, map[string]*kerr.Error{
		"odd--1": kerr.UnknownTopicOrPartition, "odd-1073741824": kerr.UnknownTopicOrPartition,
		"odd-0": kerr.ElectionNotNeeded, "-0": kerr.UnknownTopicOrPartition,
	})
	if r := ask(el).(*kmsg.ElectLeadersResponse); len(r.Topics[1].Partitions) != 4 {
		t.Errorf("elect: a result per requested partition, duplicates included: %+v", r.Topics[1])
	}
	ra := reassignReq(1, "odd", map[int32][]int32{-1: {1}, 1 << 30: {1}, 0: {-5, 1}})
	got = reassignResults(t, ask(ra))
	wantCodes(t, "reassign", got, map[string]*kerr.Error{
		"odd--1": kerr.UnknownTopicOrPartition, "odd-1073741824": kerr.UnknownTopicOrPartition, "odd-0": kerr.InvalidReplicaAssignment,
	})
	big := make([]int32, 100000)
	for i := range big {
		big[i] = int32(i)
	}
	got = reassignResults(t, ask(reassignReq(1, "odd", map[int32][]int32{0: big})))
	wantCodes(t, "a huge target", got, map[string]*kerr.Error{"odd-0": kerr.InvalidReplicaAssignment})
	lr := kmsg.NewPtrListPartitionReassignmentsRequest()
	rt := kmsg.NewListPartitionReassignmentsRequestTopic()
	rt.Topic, rt.Partitions = "odd", []int32{-1, 1 << 30}
	lr.Topics = append(lr.Topics, rt)
	if r := ask(lr).(*kmsg.ListPartitionReassignmentsResponse); r.ErrorCode != 0 || len(r.Topics) != 0 {
		t.Errorf("list: %+v", r)
	}
	dl := kmsg.NewPtrDescribeLogDirsRequest()
	dl.Version = 4
	dt := kmsg.NewDescribeLogDirsRequestTopic()
	dt.Topic, dt.Partitions = "odd", []int32{-1, -1, 1 << 30}
	dl.Topics = append(dl.Topics, dt)
	if r := ask(dl).(*kmsg.DescribeLogDirsResponse); len(r.Dirs) != 1 || len(r.Dirs[0].Topics) != 0 {
		t.Errorf("log dirs: %+v", r)
	}
}

// latestRevision is the highest revision any broker's snapshot has seen.
func (c *testCluster) latestRevision() int64 {
	var rev int64
	for _, s := range c.stores() {
		rev = max(rev, s.Snapshot().Revision)
	}
	return rev
}
