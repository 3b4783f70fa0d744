package main

// The load generators of samsa-benchcmp's groups phase (its groups.go):
//
//	group-commits    --committers clients commit offsets for every partition
//	                 of one --partitions topic in --groups groups, round-robin
//	                 over their share of the groups, for --duration: simple
//	                 commits (generation -1, no member id, as kadm commits
//	                 for a group without members), one OffsetCommit request
//	                 per group and turn, one request in flight per client
//	                 (each client has its own connection), after a first
//	                 commit per group and --warmup of the same load (neither
//	                 measured). Then every group's offsets are fetched back
//	                 and compared with the last commit acknowledged for it.
//	group-rebalance  --members consumers of one group (franz-go, classic
//	                 protocol with the cooperative-sticky balancer and
//	                 --heartbeat-interval, or KIP-848 with the broker's
//	                 uniform assignor and heartbeat interval) on a
//	                 --partitions topic: the time from the first member's
//	                 start until the group is stable (formed_ms), then
//	                 --cycles times: one more member starts, timed until the
//	                 group is stable again (add_ms: the median), and the
//	                 member holding partition 0 leaves (remove_ms). Nothing
//	                 is consumed and nothing committed.
//
// "Stable" is checked from both sides every --poll: the broker describes
// the group (DescribeGroups, or ConsumerGroupDescribe for KIP-848) as
// Stable with exactly the running members, each member's assignment there
// equals what the member's own callbacks hold, every partition is held by
// exactly one member, and the group has moved on from where the step began
// (classic: every member was assigned at one generation, newer than the
// step's first; KIP-848: a newer group epoch, every member at the
// assignment epoch and knowing it). The time is the poll that first saw
// all of that, provided it still holds for --settle after; if it breaks
// within --settle, the wait goes on.
//
// Members learn of a rebalance from their heartbeats, and theirs tick
// together: each step starts after a random wait of up to --jitter (by
// default one heartbeat interval) so that the steps do not always meet the
// same point of the heartbeat cycle.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	tools["group-commits"] = runGroupCommits
	tools["group-rebalance"] = runGroupRebalance
}

// ---- group-commits ---------------------------------------------------------

type commitConfig struct {
	brokers    []string
	topic      string
	partitions int
	groups     int
	committers int
	duration   time.Duration
	warmup     time.Duration
	timeout    time.Duration
	prefix     string // group ids are prefix-0, prefix-1, ...
}

func parseCommitFlags(args []string) (*commitConfig, error) {
	fs := flag.NewFlagSet("samsa-bench group-commits", flag.ContinueOnError)
	var c commitConfig
	var brokers string
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated bootstrap brokers (the only addresses contacted)")
	fs.StringVar(&c.topic, "topic", "group-commits", "topic whose partitions are committed (created if missing)")
	fs.IntVar(&c.partitions, "partitions", 50, "partitions of the topic: each OffsetCommit request names all of them")
	fs.IntVar(&c.groups, "groups", 100, "groups committing")
	fs.IntVar(&c.committers, "committers", 20, "concurrent committers (clients), each with its share of the groups")
	fs.DurationVar(&c.duration, "duration", 15*time.Second, "length of the measured window")
	fs.DurationVar(&c.warmup, "warmup", 0, "the same load for this long before the window, not measured")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "bound on the whole run")
	fs.StringVar(&c.prefix, "group-prefix", "commits", "group ids are PREFIX-0 .. PREFIX-(groups-1)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c.brokers = splitList(brokers)
	switch {
	case len(c.brokers) == 0:
		return nil, errors.New("--brokers is empty")
	case c.partitions < 1 || c.groups < 1 || c.committers < 1:
		return nil, errors.New("--partitions, --groups and --committers must be at least 1")
	case c.duration <= 0 || c.warmup < 0 || c.timeout <= c.duration+c.warmup:
		return nil, errors.New("--duration must be positive, --warmup not negative, and both together shorter than --timeout")
	}
	if c.committers > c.groups {
		c.committers = c.groups
	}
	return &c, nil
}

// committer is one client and the groups it commits for.
type committer struct {
	cl     *kgo.Client
	groups []string
	// next[i] is the offset the next commit of groups[i] writes; acked[i]
	// the last one acknowledged without error (-1: none). Only this
	// committer's goroutine touches them.
	next, acked []int64
}

// commitStats are the counts of one commit run.
type commitStats struct {
	lat                     latencies
	requests, errs, offsets atomic.Int64
	firstErr                firstError
}

// run has every committer commit its groups in turn until the deadline,
// one request in flight each; what is in flight at the deadline finishes.
func (st *commitStats) run(ctx context.Context, c *commitConfig, cs []*committer, topicID [16]byte, what string, deadline time.Time) {
	stop := make(chan struct{})
	defer close(stop)
	go progress(what, &st.offsets, stop)
	var wg sync.WaitGroup
	for _, k := range cs {
		wg.Add(1)
		go func(k *committer) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i = (i + 1) % len(k.groups) {
				t0 := time.Now()
				err := k.commit(ctx, c, topicID, i)
				st.lat.add(time.Since(t0))
				st.requests.Add(1)
				if err != nil {
					st.errs.Add(1)
					st.firstErr.set(err)
					continue
				}
				st.offsets.Add(int64(c.partitions))
			}
		}(k)
	}
	wg.Wait()
}

func runGroupCommits(ctx context.Context, args []string) error {
	c, err := parseCommitFlags(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	topicID, err := ensureTopicID(ctx, c.brokers, c.topic, c.partitions)
	if err != nil {
		return err
	}
	cs := make([]*committer, c.committers)
	for i := range cs {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ClientID(fmt.Sprintf("group-commits-%d", i)))
		if err != nil {
			return err
		}
		defer cl.Close()
		cs[i] = &committer{cl: cl}
	}
	for g := 0; g < c.groups; g++ {
		k := cs[g%len(cs)]
		k.groups = append(k.groups, fmt.Sprintf("%s-%d", c.prefix, g))
		k.next = append(k.next, 1)
		k.acked = append(k.acked, -1)
	}

	// Warm-up, not measured: each group's first commit finds its
	// coordinator (and makes the broker create the group), with retries
	// while the coordinator loads.
	warm := time.Now()
	var wg sync.WaitGroup
	var warmErr firstError
	for _, k := range cs {
		wg.Add(1)
		go func(k *committer) {
			defer wg.Done()
			for i := range k.groups {
				if err := k.warmup(ctx, c, topicID, i); err != nil {
					warmErr.set(err)
					return
				}
			}
		}(k)
	}
	wg.Wait()
	if err := warmErr.get(); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	fmt.Fprintf(os.Stderr, "group-commits: %d groups warmed up in %.1f s\n", c.groups, time.Since(warm).Seconds())

	// Then --warmup of the same load, not measured either: a JVM compiles
	// its hot paths under the first seconds of it.
	if c.warmup > 0 {
		var w commitStats
		w.run(ctx, c, cs, topicID, "warm-up commits", time.Now().Add(c.warmup))
		if err := w.firstErr.get(); err != nil {
			return fmt.Errorf("warm-up (%d of %d commits failed): %w", w.errs.Load(), w.requests.Load(), err)
		}
		fmt.Fprintf(os.Stderr, "group-commits: warm-up of %v: %d offsets committed\n", c.warmup, w.offsets.Load())
	}

	var st commitStats
	start := time.Now()
	st.run(ctx, c, cs, topicID, "offsets committed", start.Add(c.duration))
	elapsed := time.Since(start).Seconds()
	firstErr := &st.firstErr

	// Every group's offsets read back: what was acknowledged must be there.
	verified, mismatched := 0, 0
	adm := kadm.NewClient(cs[0].cl)
	for _, k := range cs {
		for i, g := range k.groups {
			if err := verifyOffsets(ctx, adm, g, c.topic, c.partitions, k.acked[i]); err != nil {
				mismatched++
				firstErr.set(err)
				continue
			}
			verified++
		}
	}

	n, nerr := st.requests.Load(), st.errs.Load()
	good := n - nerr
	_, p50, p99, p999, pmax := st.lat.summary()
	fmt.Printf("RESULT tool=group-commits groups=%d partitions=%d committers=%d seconds=%.2f requests=%d errors=%d offsets=%d reqps=%.1f offsetsps=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f verified_groups=%d mismatched_groups=%d\n",
		c.groups, c.partitions, len(cs), elapsed, n, nerr, good*int64(c.partitions),
		float64(good)/elapsed, float64(good*int64(c.partitions))/elapsed, p50, p99, p999, pmax, verified, mismatched)
	if err := firstErr.get(); err != nil {
		return fmt.Errorf("%d failed commits, %d groups not as committed; first: %w", nerr, mismatched, err)
	}
	return nil
}

// ensureTopicID creates topic (replication 1) unless it exists, waits until
// every partition has a leader and returns its id.
func ensureTopicID(ctx context.Context, brokers []string, topic string, partitions int) ([16]byte, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return [16]byte{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		_, err = adm.CreateTopic(ctx, int32(partitions), 1, nil, topic)
		if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
			break
		}
		if !sleepOrDone(ctx, 100*time.Millisecond) {
			return [16]byte{}, fmt.Errorf("creating topic %s: %w", topic, err)
		}
	}
	for {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if t, ok := td[topic]; ok && t.Err == nil && len(t.Partitions) == partitions {
				ready := true
				for _, p := range t.Partitions {
					ready = ready && p.Err == nil && p.Leader >= 0
				}
				if ready {
					return t.ID, nil
				}
			}
		}
		if !sleepOrDone(ctx, 50*time.Millisecond) {
			return [16]byte{}, fmt.Errorf("topic %s has no leaders within 60 s: %v", topic, err)
		}
	}
}

func sleepOrDone(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// commitRequest is a simple commit of offset for every partition of topic.
func commitRequest(group, topic string, topicID [16]byte, partitions int, offset int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = group
	req.Generation = -1 // no member: a simple (standalone) commit
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic, t.TopicID = topic, topicID // the name up to v9, the id from v10
	t.Partitions = make([]kmsg.OffsetCommitRequestTopicPartition, partitions)
	empty := ""
	for p := range t.Partitions {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition = int32(p)
		rp.Offset = offset
		rp.Metadata = &empty
		t.Partitions[p] = rp
	}
	req.Topics = []kmsg.OffsetCommitRequestTopic{t}
	return req
}

// commitErr returns the first error of a commit's answer, or an error if
// not every partition was answered.
func commitErr(resp *kmsg.OffsetCommitResponse, partitions int) error {
	answered := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, err)
			}
			answered++
		}
	}
	if answered != partitions {
		return fmt.Errorf("%d of %d partitions answered", answered, partitions)
	}
	return nil
}

func (k *committer) commit(ctx context.Context, c *commitConfig, topicID [16]byte, i int) error {
	off := k.next[i]
	resp, err := commitRequest(k.groups[i], c.topic, topicID, c.partitions, off).RequestWith(ctx, k.cl)
	if err == nil {
		err = commitErr(resp, c.partitions)
	}
	if err != nil {
		return fmt.Errorf("group %s: %w", k.groups[i], err)
	}
	k.acked[i] = off
	k.next[i]++
	return nil
}

// warmup commits once for groups[i], retrying retriable errors for 30 s.
func (k *committer) warmup(ctx context.Context, c *commitConfig, topicID [16]byte, i int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := k.commit(ctx, c, topicID, i)
		if err == nil || !kerr.IsRetriable(err) {
			return err
		}
		if !sleepOrDone(ctx, 100*time.Millisecond) {
			return err
		}
	}
}

// verifyOffsets checks that every partition of topic has offset committed
// in group (nothing committed when want is -1).
func verifyOffsets(ctx context.Context, adm *kadm.Client, group, topic string, partitions int, want int64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return fmt.Errorf("fetching the offsets of %s: %w", group, err)
	}
	for p := 0; p < partitions; p++ {
		o, ok := offs.Lookup(topic, int32(p))
		switch {
		case want < 0 && !ok:
		case !ok:
			return fmt.Errorf("group %s partition %d: no offset, want %d", group, p, want)
		case o.Err != nil:
			return fmt.Errorf("group %s partition %d: %w", group, p, o.Err)
		case o.At != want:
			return fmt.Errorf("group %s partition %d: offset %d, want %d", group, p, o.At, want)
		}
	}
	return nil
}

// ---- group-rebalance -------------------------------------------------------

type rebalanceConfig struct {
	brokers     []string
	topic       string
	group       string
	partitions  int
	members     int
	protocol    string // classic or consumer (KIP-848)
	heartbeat   time.Duration
	jitter      time.Duration
	cycles      int
	seed        int64
	poll        time.Duration
	settle      time.Duration
	stepTimeout time.Duration
	timeout     time.Duration
}

func parseRebalanceFlags(args []string) (*rebalanceConfig, error) {
	fs := flag.NewFlagSet("samsa-bench group-rebalance", flag.ContinueOnError)
	var c rebalanceConfig
	var brokers string
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated bootstrap brokers (the only addresses contacted)")
	fs.StringVar(&c.topic, "topic", "group-rebalance", "topic the members consume (created if missing)")
	fs.StringVar(&c.group, "group", "", "group id (default rebalance-PROTOCOL)")
	fs.IntVar(&c.partitions, "partitions", 20, "partitions of the topic")
	fs.IntVar(&c.members, "members", 20, "members of the formed group (one more joins, then one leaves)")
	fs.StringVar(&c.protocol, "protocol", "classic", "classic (JoinGroup/SyncGroup, cooperative-sticky balancer) or consumer (KIP-848, the broker's uniform assignor)")
	fs.DurationVar(&c.heartbeat, "heartbeat-interval", 100*time.Millisecond, "classic: the members' heartbeat interval (KIP-848: the broker sets it)")
	fs.DurationVar(&c.jitter, "jitter", 0, "each step starts after a random wait of up to this (0: the heartbeat interval; KIP-848: 5s, the brokers' default group.consumer.heartbeat.interval.ms)")
	fs.IntVar(&c.cycles, "cycles", 3, "add-then-remove cycles after the group is formed")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the steps' random waits")
	fs.DurationVar(&c.poll, "poll", 10*time.Millisecond, "how often the group is described while waiting for it to be stable")
	fs.DurationVar(&c.settle, "settle", time.Second, "how long the group must stay stable for a step to end")
	fs.DurationVar(&c.stepTimeout, "step-timeout", 90*time.Second, "bound on each step's wait")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "bound on the whole run")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c.brokers = splitList(brokers)
	if c.group == "" {
		c.group = "rebalance-" + c.protocol
	}
	if c.jitter == 0 {
		c.jitter = c.heartbeat
		if c.protocol == "consumer" {
			c.jitter = 5 * time.Second
		}
	}
	switch {
	case len(c.brokers) == 0:
		return nil, errors.New("--brokers is empty")
	case c.protocol != "classic" && c.protocol != "consumer":
		return nil, fmt.Errorf("--protocol %q: want classic or consumer", c.protocol)
	case c.partitions < 1 || c.members < 2:
		return nil, errors.New("--partitions must be at least 1 and --members at least 2")
	case c.cycles < 1:
		return nil, errors.New("--cycles must be at least 1")
	case c.heartbeat <= 0 || c.jitter < 0 || c.poll <= 0 || c.settle < 0 || c.stepTimeout <= 0 || c.timeout <= 0:
		return nil, errors.New("--heartbeat-interval, --poll, --step-timeout and --timeout must be positive, --jitter and --settle not negative")
	}
	return &c, nil
}

// rbMember is one consumer of the group.
type rbMember struct {
	idx  int
	cl   *kgo.Client
	done chan struct{} // closed when its poll loop has returned

	// Guarded by groupWatch.mu, written by the client's callbacks:
	owned map[int32]bool // partitions of the topic it holds
	gen   int32          // classic: the generation of its last assignment (-1: none)
	left  bool           // set when a step takes it out of the group
}

// groupWatch starts the members and tells when their group is stable.
type groupWatch struct {
	c       *rebalanceConfig
	topicID [16]byte
	adm     *kgo.Client // describes the group

	mu      sync.Mutex
	members []*rbMember // guarded by mu, with each member's fields above
}

// groupView is the broker's description of the group.
type groupView struct {
	state    string
	protocol string                    // classic: the balancer chosen
	members  map[string]map[int32]bool // member id -> its partitions of the topic
	epochs   map[string]int32          // KIP-848: member id -> member epoch
	// KIP-848: the group epoch and the epoch of its target assignment.
	epoch, assignmentEpoch int32
}

// mark is where the group stood when a step began: the members' common
// generation (classic) or the group epoch (KIP-848).
type mark struct{ gen, epoch int32 }

func runGroupRebalance(ctx context.Context, args []string) error {
	c, err := parseRebalanceFlags(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	id, err := ensureTopicID(ctx, c.brokers, c.topic, c.partitions)
	if err != nil {
		return err
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ClientID("group-rebalance-describe"))
	if err != nil {
		return err
	}
	defer adm.Close()
	w := &groupWatch{c: c, topicID: id, adm: adm}
	defer w.closeAll()

	assignor := "uniform"
	var adds, removes rebalanceSteps
	heartbeat := "broker" // KIP-848: the broker's group.consumer.heartbeat.interval.ms
	if c.protocol == "classic" {
		assignor, heartbeat = "cooperative-sticky", strconv.FormatInt(c.heartbeat.Milliseconds(), 10)
	}
	res := fmt.Sprintf("RESULT tool=group-rebalance protocol=%s assignor=%s members=%d partitions=%d heartbeat_ms=%s jitter_ms=%d settle_ms=%d cycles=%d",
		c.protocol, assignor, c.members, c.partitions, heartbeat, c.jitter.Milliseconds(), c.settle.Milliseconds(), c.cycles)
	defer func() { fmt.Println(res + adds.fields("add") + removes.fields("remove")) }()

	// Formed: all members started at once, until the group is stable.
	t0 := time.Now()
	for i := 0; i < c.members; i++ {
		if err := w.start(ctx, i); err != nil {
			return err
		}
	}
	d, at, owners, err := w.waitStable(ctx, t0, mark{gen: -1, epoch: -1})
	if err != nil {
		return fmt.Errorf("forming the group of %d: %w", c.members, err)
	}
	res += fmt.Sprintf(" formed_ms=%.1f", ms(d))
	fmt.Fprintf(os.Stderr, "group-rebalance: %d members stable in %.0f ms\n", c.members, ms(d))

	// The members' heartbeats tick together (each restarts its timer as a
	// rebalance ends), so a change right after a stable poll would always
	// meet the same point of their cycle: each step starts after a random
	// part of --jitter instead.
	rng := rand.New(rand.NewSource(c.seed))
	next := c.members
	for cycle := 1; cycle <= c.cycles; cycle++ {
		// Add: one more member.
		if !sleepOrDone(ctx, time.Duration(rng.Int63n(int64(c.jitter)+1))) {
			return ctx.Err()
		}
		t0 = time.Now()
		if err := w.start(ctx, next); err != nil {
			return err
		}
		next++
		d, at2, owners2, err := w.waitStable(ctx, t0, at)
		if err != nil {
			return fmt.Errorf("cycle %d, adding member %d: %w", cycle, next-1, err)
		}
		adds.add(d, moved(owners, owners2))
		fmt.Fprintf(os.Stderr, "group-rebalance: cycle %d: member %d in, stable in %.0f ms (%d partitions moved)\n", cycle, next-1, ms(d), moved(owners, owners2))

		// Remove: the member that holds partition 0 leaves.
		if !sleepOrDone(ctx, time.Duration(rng.Int63n(int64(c.jitter)+1))) {
			return ctx.Err()
		}
		leaving := owners2[0]
		t0 = time.Now()
		w.leave(leaving)
		d, at, owners, err = w.waitStable(ctx, t0, at2)
		if err != nil {
			return fmt.Errorf("cycle %d, member %d leaving: %w", cycle, leaving, err)
		}
		removes.add(d, moved(owners2, owners))
		fmt.Fprintf(os.Stderr, "group-rebalance: cycle %d: member %d out, stable in %.0f ms (%d partitions moved)\n", cycle, leaving, ms(d), moved(owners2, owners))
	}
	res += fmt.Sprintf(" generation=%d epoch=%d", at.gen, at.epoch)
	return nil
}

// rebalanceSteps are the times of one kind of step over the cycles.
type rebalanceSteps struct {
	ms    []float64
	moved []int
}

func (s *rebalanceSteps) add(d time.Duration, moved int) {
	s.ms = append(s.ms, ms(d))
	s.moved = append(s.moved, moved)
}

// fields are the RESULT fields of the steps: the median (KIND_ms), the
// smallest and largest, partitions moved in all, and every time (a list,
// for the raw log).
func (s *rebalanceSteps) fields(kind string) string {
	if len(s.ms) == 0 {
		return ""
	}
	v := append([]float64(nil), s.ms...)
	sort.Float64s(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	all := make([]string, len(s.ms))
	moved := 0
	for i, x := range s.ms {
		all[i] = fmt.Sprintf("%.1f", x)
		moved += s.moved[i]
	}
	return fmt.Sprintf(" %s_ms=%.1f %s_min_ms=%.1f %s_max_ms=%.1f %s_steps=%d %s_moved=%d %s_all_ms=%s",
		kind, med, kind, v[0], kind, v[len(v)-1], kind, len(v), kind, moved, kind, strings.Join(all, ","))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// moved counts the partitions whose holder differs between a and b.
func moved(a, b map[int32]int) int {
	n := 0
	for p, m := range b {
		if o, ok := a[p]; !ok || o != m {
			n++
		}
	}
	return n
}

// start creates member i and its poll loop.
func (w *groupWatch) start(ctx context.Context, i int) error {
	m := &rbMember{idx: i, done: make(chan struct{}), owned: map[int32]bool{}, gen: -1}
	opts := []kgo.Opt{
		kgo.SeedBrokers(w.c.brokers...),
		kgo.ClientID(fmt.Sprintf("group-rebalance-%d", i)),
		kgo.ConsumerGroup(w.c.group),
		kgo.ConsumeTopics(w.c.topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		// Nothing is consumed: a rebalance here is the protocol alone,
		// with no commits in it.
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, as map[string][]int32) {
			_, gen := cl.GroupMetadata()
			w.mu.Lock()
			for _, p := range as[w.c.topic] {
				m.owned[p] = true
			}
			m.gen = gen
			w.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, rs map[string][]int32) { w.drop(m, rs) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ls map[string][]int32) { w.drop(m, ls) }),
	}
	if w.c.protocol == "consumer" {
		opts = append(opts, kgo.ServerSideBalancer())
	} else {
		opts = append(opts, kgo.HeartbeatInterval(w.c.heartbeat))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	m.cl = cl
	w.mu.Lock()
	w.members = append(w.members, m)
	w.mu.Unlock()
	go func() {
		defer close(m.done)
		for {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() || ctx.Err() != nil {
				return
			}
			if len(fs.Errors()) > 0 && !sleepOrDone(ctx, 50*time.Millisecond) {
				return
			}
		}
	}()
	return nil
}

func (w *groupWatch) drop(m *rbMember, ps map[string][]int32) {
	w.mu.Lock()
	for _, p := range ps[w.c.topic] {
		delete(m.owned, p)
	}
	w.mu.Unlock()
}

// leave takes member i out of the group: its client closes, which leaves
// the group (LeaveGroup, or a KIP-848 heartbeat with epoch -1).
func (w *groupWatch) leave(i int) {
	w.mu.Lock()
	m := w.members[i]
	m.left = true
	w.mu.Unlock()
	go m.cl.Close()
}

func (w *groupWatch) closeAll() {
	w.mu.Lock()
	ms := append([]*rbMember(nil), w.members...)
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func(m *rbMember) {
			defer wg.Done()
			m.cl.Close()
			<-m.done
		}(m)
	}
	wg.Wait()
}

// waitStable polls the group until it is stable past from and stays so for
// --settle; it returns the time from t0 to the first poll of that stable
// run, where the group then stood and which member holds each partition.
func (w *groupWatch) waitStable(ctx context.Context, t0 time.Time, from mark) (time.Duration, mark, map[int32]int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.c.stepTimeout)
	defer cancel()
	tick := time.NewTicker(w.c.poll)
	defer tick.Stop()
	var (
		since  time.Time // first poll of the current stable run; zero: not stable
		at     mark
		owners map[int32]int
		why    string
		polls  int
	)
	for {
		polls++
		v, err := w.describe(ctx)
		now := time.Now()
		ok := false
		var m mark
		var o map[int32]int
		if err != nil {
			why = err.Error()
		} else {
			ok, why, m, o = w.check(v, from)
		}
		switch {
		case !ok:
			since = time.Time{}
		case since.IsZero():
			since, at, owners = now, m, o
		}
		if !since.IsZero() && now.Sub(since) >= w.c.settle {
			return since.Sub(t0), at, owners, nil
		}
		select {
		case <-ctx.Done():
			return 0, mark{}, nil, fmt.Errorf("not stable within %v (%d polls); last: %s", w.c.stepTimeout, polls, why)
		case <-tick.C:
		}
	}
}

// describe asks the group's coordinator for the group.
func (w *groupWatch) describe(ctx context.Context) (*groupView, error) {
	v := &groupView{members: map[string]map[int32]bool{}, epochs: map[string]int32{}}
	if w.c.protocol == "consumer" {
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{w.c.group}
		resp, err := req.RequestWith(ctx, w.adm)
		if err != nil {
			return nil, err
		}
		if len(resp.Groups) != 1 {
			return nil, fmt.Errorf("ConsumerGroupDescribe answered %d groups", len(resp.Groups))
		}
		g := resp.Groups[0]
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			return nil, fmt.Errorf("ConsumerGroupDescribe: %w", err)
		}
		v.state, v.epoch, v.assignmentEpoch = g.State, g.Epoch, g.AssignmentEpoch
		for _, m := range g.Members {
			set := map[int32]bool{}
			for _, t := range m.Assignment.TopicPartitions {
				if t.TopicID == w.topicID || t.Topic == w.c.topic {
					for _, p := range t.Partitions {
						set[p] = true
					}
				}
			}
			v.members[m.MemberID], v.epochs[m.MemberID] = set, m.MemberEpoch
		}
		return v, nil
	}
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{w.c.group}
	resp, err := req.RequestWith(ctx, w.adm)
	if err != nil {
		return nil, err
	}
	if len(resp.Groups) != 1 {
		return nil, fmt.Errorf("DescribeGroups answered %d groups", len(resp.Groups))
	}
	g := resp.Groups[0]
	if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
		return nil, fmt.Errorf("DescribeGroups: %w", err)
	}
	v.state, v.protocol = g.State, g.Protocol
	for _, m := range g.Members {
		set, err := classicAssignment(m.MemberAssignment, w.c.topic)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", m.MemberID, err)
		}
		v.members[m.MemberID] = set
	}
	return v, nil
}

// classicAssignment decodes a consumer protocol assignment (empty while the
// group rebalances) into the partitions of topic.
func classicAssignment(b []byte, topic string) (map[int32]bool, error) {
	set := map[int32]bool{}
	if len(b) == 0 {
		return set, nil
	}
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil {
		return nil, fmt.Errorf("decoding the assignment: %w", err)
	}
	for _, t := range a.Topics {
		if t.Topic == topic {
			for _, p := range t.Partitions {
				set[p] = true
			}
		}
	}
	return set, nil
}

// check tells whether the group in v is stable past from (see the top of
// the file), and if not, why; if so, where it stands and who holds what.
func (w *groupWatch) check(v *groupView, from mark) (bool, string, mark, map[int32]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var active []*rbMember
	for _, m := range w.members {
		if !m.left {
			active = append(active, m)
		}
	}
	if v.state != "Stable" {
		return false, "state " + v.state, mark{}, nil
	}
	if w.c.protocol == "classic" && v.protocol != "cooperative-sticky" {
		return false, fmt.Sprintf("protocol %q", v.protocol), mark{}, nil
	}
	if len(v.members) != len(active) {
		return false, fmt.Sprintf("the broker lists %d members, %d run", len(v.members), len(active)), mark{}, nil
	}
	owners := map[int32]int{}
	gen := int32(-1)
	for _, m := range active {
		id, epoch := m.cl.GroupMetadata()
		set, ok := v.members[id]
		if !ok {
			return false, fmt.Sprintf("member %d (%q) is not listed", m.idx, id), mark{}, nil
		}
		if !sameSet(set, m.owned) {
			return false, fmt.Sprintf("member %d holds %v, the broker says %v", m.idx, sorted(m.owned), sorted(set)), mark{}, nil
		}
		for p := range m.owned {
			if o, dup := owners[p]; dup {
				return false, fmt.Sprintf("partition %d held by members %d and %d", p, o, m.idx), mark{}, nil
			}
			owners[p] = m.idx
		}
		if w.c.protocol == "consumer" {
			if e := v.epochs[id]; e != v.assignmentEpoch || epoch != e {
				return false, fmt.Sprintf("member %d at epoch %d (the broker says %d), assignment epoch %d", m.idx, epoch, e, v.assignmentEpoch), mark{}, nil
			}
			continue
		}
		switch {
		case m.gen <= from.gen:
			return false, fmt.Sprintf("member %d last assigned at generation %d, the step began at %d", m.idx, m.gen, from.gen), mark{}, nil
		case gen >= 0 && m.gen != gen:
			return false, fmt.Sprintf("members assigned at generations %d and %d", gen, m.gen), mark{}, nil
		}
		gen = m.gen
	}
	if len(owners) != w.c.partitions {
		return false, fmt.Sprintf("%d of %d partitions held", len(owners), w.c.partitions), mark{}, nil
	}
	if w.c.protocol == "consumer" && (v.epoch <= from.epoch || v.assignmentEpoch != v.epoch) {
		return false, fmt.Sprintf("group epoch %d (step began at %d), assignment epoch %d", v.epoch, from.epoch, v.assignmentEpoch), mark{}, nil
	}
	return true, "", mark{gen: gen, epoch: v.epoch}, owners
}

func sameSet(a, b map[int32]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for p := range a {
		if !b[p] {
			return false
		}
	}
	return true
}

func sorted(s map[int32]bool) []int32 {
	out := make([]int32, 0, len(s))
	for p := range s {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
