package compat

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Consumer groups (issue 3) against the real binary with stock clients:
// franz-go (eager range, cooperative-sticky, KIP-848 through
// kgo.ServerSideBalancer), sarama's ConsumerGroup and kafka-go's Reader
// with a GroupID. Every scenario starts its own broker, so all run in
// parallel; each records one matrix cell per client (the franz-go variants
// share the franz-go-group row: a cell passes only if every variant did).
//
// The in-process versions of these scenarios are in broker/groups_test.go;
// fixtures are in groups_helpers_test.go.

const (
	grpScThree   = "three-members-six-partitions"
	grpScKilled  = "killed-member-moves"
	grpScLeave   = "clean-leave-rebalances"
	grpScRestart = "broker-restart-resumes"
	grpScStatic  = "static-member-keeps-partitions"

	grpScenarioTimeout = 100 * time.Second
	// The session timeout of a member that is killed (= Kafka's default
	// group.min.session.timeout.ms) and of one that leaves cleanly or
	// restarts as a static member (long, so only a leave or a rejoin can
	// explain a fast move).
	grpShortSession = 6 * time.Second
	grpLongSession  = 45 * time.Second
)

// grpVariant is one client (and, for franz-go, one assignment protocol).
type grpVariant struct {
	name   string // subtest name
	matrix string // matrix row
	kip848 bool
	static bool // supports group.instance.id
	start  func(t testing.TB, addr, name string, led *grpLedger, o grpOpts) *grpMember
	franz  []kgo.Opt
}

func (v grpVariant) member(t testing.TB, addr, name string, led *grpLedger, o grpOpts) *grpMember {
	o.franz = v.franz
	return v.start(t, addr, name, led, o)
}

// brokerArgs are samsa's flags for a scenario: a KIP-848 member's session
// and heartbeat come from the broker, not the client.
func (v grpVariant) brokerArgs(session time.Duration) []string {
	if !v.kip848 {
		return nil
	}
	return []string{
		// As in Kafka, the values must lie within their bounds.
		"--override", "group.consumer.min.heartbeat.interval.ms=" + fmt.Sprint(grpHeartbeat.Milliseconds()),
		"--override", "group.consumer.min.session.timeout.ms=" + fmt.Sprint(session.Milliseconds()),
		"--override", "group.consumer.heartbeat.interval.ms=" + fmt.Sprint(grpHeartbeat.Milliseconds()),
		"--override", "group.consumer.session.timeout.ms=" + fmt.Sprint(session.Milliseconds()),
	}
}

func grpVariants() []grpVariant {
	return []grpVariant{
		{name: "franz-go-eager-range", matrix: "franz-go-group", static: true, start: grpStartFranz,
			franz: []kgo.Opt{kgo.Balancers(kgo.RangeBalancer())}},
		{name: "franz-go-cooperative-sticky", matrix: "franz-go-group", static: true, start: grpStartFranz,
			franz: []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer())}},
		{name: "franz-go-kip848", matrix: "franz-go-group", kip848: true, static: true, start: grpStartFranz,
			franz: []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer()}},
		{name: "sarama", matrix: "sarama-group", static: true, start: grpStartSarama},
		{name: "kafka-go", matrix: "kafka-go-group", start: grpStartKafkaGo},
	}
}

func TestGroups(t *testing.T) {
	scenarios := []struct {
		name string
		fn   func(ctx context.Context, t *testing.T, v grpVariant) error
	}{
		{grpScThree, grpThreeMembers},
		{grpScKilled, grpKilledMember},
		{grpScLeave, grpCleanLeave},
		{grpScRestart, grpBrokerRestart},
		{grpScStatic, grpStaticMember},
	}
	for _, v := range grpVariants() {
		t.Run(v.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					if sc.name == grpScStatic && !v.static {
						t.Skipf("%s has no static membership (group.instance.id)", v.name)
					}
					t.Parallel()
					grpRun(t, v, sc.name, sc.fn)
				})
			}
		})
	}
}

// grpRun runs one scenario and records its cell, also when the scenario
// stops the test with t.Fatal.
func grpRun(t *testing.T, v grpVariant, scenario string, fn func(context.Context, *testing.T, grpVariant) error) {
	ctx, cancel := context.WithTimeout(context.Background(), grpScenarioTimeout)
	defer cancel()
	var err error
	begin := time.Now()
	defer func() {
		if err == nil && t.Failed() {
			err = errors.New("failed (see the test log)")
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", v.name, err)
		}
		record(v.matrix, scenario, err)
		t.Logf("%s/%s took %v", v.name, scenario, time.Since(begin).Round(time.Millisecond))
	}()
	err = fn(ctx, t, v)
	if err != nil {
		t.Error(err)
	}
}

// grpSetup starts a broker (with the KIP-848 session for a KIP-848
// variant) and creates topic.
func grpSetup(t *testing.T, v grpVariant, session time.Duration, topic string, parts int32) (*Samsa, *grpLedger) {
	t.Helper()
	s := StartSamsa(t, v.brokerArgs(session)...)
	createTopic(t, s.Addr, topic, parts)
	return s, &grpLedger{}
}

// grpThreeMembers: three members over six partitions consume every
// produced record exactly once, with no error handed to the application,
// and the group ends Stable with two partitions each.
func grpThreeMembers(ctx context.Context, t *testing.T, v grpVariant) error {
	const topic, parts, perPartition = "three", 6, 100
	group := "g-" + v.name
	s, led := grpSetup(t, v, grpShortSession, topic, parts)
	adm, admCl := newAdmin(t, s.Addr)
	defer admCl.Close()
	var members []*grpMember
	for i := 0; i < 3; i++ {
		members = append(members, v.member(t, s.Addr, fmt.Sprintf("m%d", i), led,
			grpOpts{group: group, topic: topic, session: grpShortSession, autoCommit: true}))
	}
	begin := time.Now()
	view, err := grpWaitBalanced(ctx, adm, group, topic, v.kip848, members, parts)
	if err != nil {
		return err
	}
	t.Logf("group settled in %v: %v", time.Since(begin).Round(time.Millisecond), view)
	// Joining members rebalance (KIP-848 members revoke what the next
	// joiner gets); from here on nothing may change.
	type counts struct{ assigns, revokes int }
	settled := map[string]counts{}
	for _, m := range members {
		a, r := m.counts()
		settled[m.name] = counts{a, r}
	}

	prod := grpNewProducer(t, s.Addr, topic)
	if err := prod.produce(ctx, parts, perPartition); err != nil {
		return err
	}
	ends := prod.ends()
	total := 0
	for _, e := range ends {
		total += int(e)
	}
	if total != parts*perPartition {
		return fmt.Errorf("produced up to offsets %v, want %d records in all", ends, parts*perPartition)
	}
	begin = time.Now()
	err = grpWait(ctx, "consuming every record", func() (bool, string) {
		seen := map[[2]int64]bool{}
		for _, d := range led.all() {
			seen[[2]int64{int64(d.partition), d.offset}] = true
		}
		return len(seen) == total, fmt.Sprintf("%d of %d distinct records consumed", len(seen), total)
	})
	if err != nil {
		return err
	}
	t.Logf("consumed %d records in %v", total, time.Since(begin).Round(time.Millisecond))
	// Duplicates would arrive late (after a rebalance): give them time.
	time.Sleep(2 * grpHeartbeat)

	end, err := grpDescribe(ctx, adm, group, topic, v.kip848)
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	if !end.balanced([]string{"m0", "m1", "m2"}, parts, 2) || !grpClientViewsBalanced(members, parts, 2) {
		var cv []string
		for _, m := range members {
			cv = append(cv, fmt.Sprintf("%s:%v", m.name, m.partitions()))
		}
		return fmt.Errorf("group did not end Stable with 2 partitions each: broker %v, clients %v", end, cv)
	}
	for _, m := range members {
		if errs := m.errors(); len(errs) > 0 {
			return fmt.Errorf("%s got %d errors, first: %v", m.name, len(errs), errs[0])
		}
		if a, r := m.counts(); m.callbacks && (counts{a, r}) != settled[m.name] {
			return fmt.Errorf("%s was rebalanced with no membership change: assignments %d -> %d, revocations %d -> %d",
				m.name, settled[m.name].assigns, a, settled[m.name].revokes, r)
		}
	}
	for _, m := range members {
		m.Close(t)
	}
	count := map[[2]int64]int{}
	owner := map[int32]string{}
	for _, d := range led.all() {
		count[[2]int64{int64(d.partition), d.offset}]++
		if o, ok := owner[d.partition]; ok && o != d.member {
			return fmt.Errorf("partition %d consumed by both %s and %s", d.partition, o, d.member)
		}
		owner[d.partition] = d.member
	}
	for k, c := range count {
		if k[1] >= ends[int32(k[0])] {
			return fmt.Errorf("consumed %d/%d, which was never produced", k[0], k[1])
		}
		if c != 1 {
			return fmt.Errorf("record %d/%d consumed %d times", k[0], k[1], c)
		}
	}
	return nil
}

// grpSurvivorsTakeOver starts a trickle of records into every partition,
// stops victim with stop, and waits until the other members have been
// handed records written after that moment from every partition. It
// returns how long that took.
func grpSurvivorsTakeOver(ctx context.Context, t *testing.T, addr, topic string, parts int32, led *grpLedger,
	survivors []*grpMember, deadline time.Duration, stop func()) (time.Duration, error) {
	prod := grpNewProducer(t, addr, topic)
	stopTrickle := prod.trickle(parts, 100*time.Millisecond)
	defer stopTrickle()
	// Every partition flows before the victim goes.
	err := grpWait(ctx, "records flowing from every partition", func() (bool, string) {
		ends := prod.ends()
		got := map[int32]bool{}
		for _, d := range led.all() {
			if ends[d.partition] > 0 {
				got[d.partition] = true
			}
		}
		return len(got) == int(parts), fmt.Sprintf("records delivered from %d of %d partitions", len(got), parts)
	})
	if err != nil {
		return 0, err
	}
	from := prod.ends()
	isSurvivor := map[string]bool{}
	for _, m := range survivors {
		isSurvivor[m.name] = true
	}
	begin := time.Now()
	stop()
	wctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	err = grpWait(wctx, fmt.Sprintf("survivors consuming every partition within %v", deadline), func() (bool, string) {
		got := map[int32]bool{}
		for _, d := range led.all() {
			if isSurvivor[d.member] && d.offset >= from[d.partition] {
				got[d.partition] = true
			}
		}
		var missing []int32
		for p := int32(0); p < parts; p++ {
			if !got[p] {
				missing = append(missing, p)
			}
		}
		return len(missing) == 0, fmt.Sprintf("no new record from partitions %v reached a survivor", missing)
	})
	took := time.Since(begin)
	if err != nil {
		return took, err
	}
	if err := stopTrickle(); err != nil {
		return took, err
	}
	return took, nil
}

// grpKilledMember: a member that dies without leaving has its partitions
// moved to the survivors once its session (6 s) expires.
func grpKilledMember(ctx context.Context, t *testing.T, v grpVariant) error {
	const topic, parts = "killed", 6
	group := "g-" + v.name
	s, led := grpSetup(t, v, grpShortSession, topic, parts)
	adm, admCl := newAdmin(t, s.Addr)
	defer admCl.Close()
	var members []*grpMember
	for i := 0; i < 3; i++ {
		members = append(members, v.member(t, s.Addr, fmt.Sprintf("m%d", i), led,
			grpOpts{group: group, topic: topic, session: grpShortSession, autoCommit: true}))
	}
	if _, err := grpWaitBalanced(ctx, adm, group, topic, v.kip848, members, parts); err != nil {
		return err
	}
	victim, survivors := members[2], members[:2]
	took, err := grpSurvivorsTakeOver(ctx, t, s.Addr, topic, parts, led, survivors, 45*time.Second, func() { victim.Kill(t) })
	if err != nil {
		return err
	}
	t.Logf("partitions of the killed member reached the survivors %v after the kill (session %v)", took.Round(time.Millisecond), grpShortSession)
	// The survivors' last heartbeats before the kill were at most one
	// interval earlier, so the session cannot expire sooner than this: a
	// faster move means the broker heard a leave or dropped the member on
	// a closed connection, which Kafka does not do.
	if min := grpShortSession - 2*grpHeartbeat; took < min {
		return fmt.Errorf("partitions moved %v after the kill, before the %v session could expire", took, grpShortSession)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	view, err := grpWaitBalanced(wctx, adm, group, topic, v.kip848, survivors, parts)
	if err != nil {
		return err
	}
	t.Logf("after the kill: %v", view)
	return nil
}

// grpCleanLeave: a member that leaves cleanly triggers an immediate
// rebalance: the survivors get its partitions long before the 45 s session
// would expire.
func grpCleanLeave(ctx context.Context, t *testing.T, v grpVariant) error {
	const topic, parts = "leave", 6
	group := "g-" + v.name
	s, led := grpSetup(t, v, grpLongSession, topic, parts)
	adm, admCl := newAdmin(t, s.Addr)
	defer admCl.Close()
	var members []*grpMember
	for i := 0; i < 3; i++ {
		members = append(members, v.member(t, s.Addr, fmt.Sprintf("m%d", i), led,
			grpOpts{group: group, topic: topic, session: grpLongSession, autoCommit: true}))
	}
	if _, err := grpWaitBalanced(ctx, adm, group, topic, v.kip848, members, parts); err != nil {
		return err
	}
	leaver, survivors := members[2], members[:2]
	took, err := grpSurvivorsTakeOver(ctx, t, s.Addr, topic, parts, led, survivors, 15*time.Second, func() { leaver.Close(t) })
	if err != nil {
		return err
	}
	t.Logf("partitions of the leaving member reached the survivors %v after Close (session %v)", took.Round(time.Millisecond), grpLongSession)
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	view, err := grpWaitBalanced(wctx, adm, group, topic, v.kip848, survivors, parts)
	if err != nil {
		return err
	}
	t.Logf("after the leave: %v", view)
	return nil
}

// grpBrokerRestart: the group commits, samsa is stopped (SIGTERM) and
// restarted, a new member resumes exactly at the commit; it commits again,
// samsa is SIGKILLed right after the commit's ack and restarted, and a
// third member resumes exactly there. No commit is lost, no record
// skipped or repeated.
func grpBrokerRestart(ctx context.Context, t *testing.T, v grpVariant) error {
	const topic, parts, perPartition = "resume", 3, 30
	group := "g-" + v.name
	s, led := grpSetup(t, v, grpShortSession, topic, parts)
	prod := grpNewProducer(t, s.Addr, topic)
	if err := prod.produce(ctx, parts, perPartition); err != nil {
		return err
	}
	o := grpOpts{group: group, topic: topic, session: grpShortSession}
	none := map[int32]int64{0: 0, 1: 0, 2: 0}
	first := map[int32]int64{0: 10, 1: 17, 2: 5}
	second := map[int32]int64{0: 20, 1: 25, 2: 12}

	// consumeFrom waits until m has been handed exactly offsets
	// from[p]..perPartition-1 of every partition, in order.
	consumeFrom := func(m *grpMember, from map[int32]int64) error {
		begin := time.Now()
		err := grpWait(ctx, m.name+" consuming to the end", func() (bool, string) {
			got := led.of(m.name)
			for p := int32(0); p < parts; p++ {
				if len(got[p]) < perPartition-int(from[p]) {
					return false, fmt.Sprintf("partition %d: %d of %d records", p, len(got[p]), perPartition-int(from[p]))
				}
			}
			return true, ""
		})
		if err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond) // anything extra would show now
		got := led.of(m.name)
		for p := int32(0); p < parts; p++ {
			var want []int64
			for off := from[p]; off < perPartition; off++ {
				want = append(want, off)
			}
			if fmt.Sprint(got[p]) != fmt.Sprint(want) {
				return fmt.Errorf("%s: partition %d: consumed offsets %v, want %d..%d", m.name, p, got[p], from[p], perPartition-1)
			}
		}
		t.Logf("%s consumed from %v to the end in %v", m.name, from, time.Since(begin).Round(time.Millisecond))
		return nil
	}
	checkCommitted := func(when string, want map[int32]int64) error {
		adm, cl := newAdmin(t, s.Addr)
		defer cl.Close()
		got, err := grpCommitted(ctx, adm, group, topic, parts)
		if err != nil {
			return fmt.Errorf("%s: fetching committed offsets: %w", when, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("%s: committed offsets %v, want %v", when, got, want)
		}
		return nil
	}
	commit := func(m *grpMember, offs map[int32]int64) error {
		if err := m.commit(ctx, offs); err != nil {
			return fmt.Errorf("%s: commit %v: %w", m.name, offs, err)
		}
		if errs := m.errors(); len(errs) > 0 {
			return fmt.Errorf("%s: %d errors, first: %v", m.name, len(errs), errs[0])
		}
		return nil
	}

	m1 := v.member(t, s.Addr, "m1", led, o)
	if err := consumeFrom(m1, none); err != nil {
		return err
	}
	if err := commit(m1, first); err != nil {
		return err
	}
	if err := checkCommitted("after the first commit", first); err != nil {
		return err
	}
	m1.Close(t)
	if err := checkCommitted("after the first member closed", first); err != nil {
		return err
	}
	took, err := s.Stop(0)
	if err != nil {
		return err
	}
	s.Restart()
	t.Logf("SIGTERM took %v, restart %v", took.Round(time.Millisecond), s.StartupTime.Round(time.Millisecond))
	if err := checkCommitted("after SIGTERM and restart", first); err != nil {
		return err
	}

	m2 := v.member(t, s.Addr, "m2", led, o)
	if err := consumeFrom(m2, first); err != nil {
		return err
	}
	if err := commit(m2, second); err != nil {
		return err
	}
	// SIGKILL right after the commit's ack, with the member still in the
	// group; then the member dies too (it must not rejoin the new broker).
	s.Kill9()
	m2.Kill(t)
	s.Restart()
	t.Logf("restart after SIGKILL %v", s.StartupTime.Round(time.Millisecond))
	if err := checkCommitted("after SIGKILL and restart", second); err != nil {
		return err
	}
	m3 := v.member(t, s.Addr, "m3", led, o)
	begin := time.Now()
	if err := consumeFrom(m3, second); err != nil {
		return err
	}
	t.Logf("the member after SIGKILL resumed in %v (the dead member's session %v may have to expire first)", time.Since(begin).Round(time.Millisecond), grpShortSession)
	m3.Close(t)
	return checkCommitted("at the end", second)
}

// grpStaticMember: a static member (group.instance.id) that restarts
// within its session gets its partitions back and the others are not
// rebalanced.
func grpStaticMember(ctx context.Context, t *testing.T, v grpVariant) error {
	const topic, parts = "static", 6
	group := "g-" + v.name
	s, led := grpSetup(t, v, grpLongSession, topic, parts)
	adm, admCl := newAdmin(t, s.Addr)
	defer admCl.Close()
	opts := func(id string) grpOpts {
		return grpOpts{group: group, topic: topic, session: grpLongSession, autoCommit: true, instanceID: id}
	}
	var members []*grpMember
	for _, id := range []string{"a", "b", "c"} {
		members = append(members, v.member(t, s.Addr, id, led, opts(id)))
	}
	before, err := grpWaitBalanced(ctx, adm, group, topic, v.kip848, members, parts)
	if err != nil {
		return err
	}
	t.Logf("before the restart: %v", before)
	// Let the initial rebalances (cooperative ones come in two rounds)
	// finish in the clients before counting.
	time.Sleep(2 * grpHeartbeat)
	type snap struct {
		ps               []int32
		assigns, revokes int
	}
	snaps := map[string]snap{}
	for _, m := range members {
		a, r := m.counts()
		snaps[m.name] = snap{m.partitions(), a, r}
	}

	a := members[0]
	var memberID string
	if a.franz != nil {
		memberID, _ = a.franz.GroupMetadata()
	}
	a.Close(t) // static: no LeaveGroup (KIP-848: a leave with epoch -2)
	if v.kip848 {
		// franz-go v1.22.3 sends its epoch -2 leave without the
		// InstanceId, which Apache Kafka (and samsa) reject with
		// INVALID_REQUEST "InstanceId can't be null.": the member stays
		// until its session expires and its restart gets
		// UNRELEASED_INSTANCE_ID meanwhile. Send the leave the Java client
		// sends (what kgo means to send) on its behalf.
		if err := grpLeaveStatic848(ctx, s.Addr, group, memberID, "a"); err != nil {
			return err
		}
		t.Logf("sent the static leave (epoch -2, instance a) for franz-go, whose own leave omits the InstanceId")
	}
	begin := time.Now()
	a2 := v.member(t, s.Addr, "a-restarted", led, opts("a"))
	others := members[1:]
	restarted := append([]*grpMember{a2}, others...)
	after, err := grpWaitBalanced(ctx, adm, group, topic, v.kip848, restarted, parts)
	if err != nil {
		return err
	}
	t.Logf("the restarted member had its assignment back in %v: %v", time.Since(begin).Round(time.Millisecond), after)
	// A rebalance started by the rejoin would show within a few heartbeats.
	time.Sleep(3 * grpHeartbeat)
	if fmt.Sprint(a2.partitions()) != fmt.Sprint(snaps["a"].ps) {
		return fmt.Errorf("the restarted static member got %v, it had %v", a2.partitions(), snaps["a"].ps)
	}
	if fmt.Sprint(after.members["a-restarted"]) != fmt.Sprint(before.members["a"]) {
		return fmt.Errorf("broker: the restarted static member holds %v, it held %v", after.members["a-restarted"], before.members["a"])
	}
	for _, m := range others {
		was := snaps[m.name]
		as, rs := m.counts()
		if fmt.Sprint(m.partitions()) != fmt.Sprint(was.ps) || as != was.assigns || rs != was.revokes {
			return fmt.Errorf("%s was rebalanced by the static member's restart: partitions %v -> %v, assignments %d -> %d, revocations %d -> %d",
				m.name, was.ps, m.partitions(), was.assigns, as, was.revokes, rs)
		}
		if fmt.Sprint(after.members[m.name]) != fmt.Sprint(before.members[m.name]) {
			return fmt.Errorf("broker: %s holds %v, it held %v", m.name, after.members[m.name], before.members[m.name])
		}
	}
	now, err := grpDescribe(ctx, adm, group, topic, v.kip848)
	if err != nil {
		return err
	}
	if now.String() != after.String() {
		return fmt.Errorf("the group changed after the restart: %v -> %v", after, now)
	}
	for _, m := range restarted {
		if errs := m.errors(); len(errs) > 0 {
			return fmt.Errorf("%s: %d errors, first: %v", m.name, len(errs), errs[0])
		}
	}
	return nil
}

// grpLeaveStatic848 sends a KIP-848 static member's temporary leave
// (MemberEpoch -2 with its InstanceId), as the Java consumer does on close.
func grpLeaveStatic848(ctx context.Context, addr, group, memberID, instanceID string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Group, req.MemberID, req.MemberEpoch = group, memberID, -2
	req.InstanceID = &instanceID
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("static leave: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("static leave of member %s: %w", memberID, err)
	}
	return nil
}
