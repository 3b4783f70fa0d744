package compat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fixtures of groups_test.go: one consumer-group member abstraction over
// franz-go, sarama and kafka-go, a ledger of every record each member was
// handed, a dialer that "kills" a member by cutting its connections, and
// the broker's own view of a group (DescribeGroups / ConsumerGroupDescribe)
// through kadm. All names carry the grp prefix: the package is shared with
// other suites.

// errGrpKilled is what a killed member's dialer answers.
var errGrpKilled = errors.New("compat: member killed")

// grpCutter is a dialer whose connections can all be cut at once; after
// the cut it refuses to dial. Cutting a member's connections and then
// closing the client is, seen from the broker, a process that died: the
// client's LeaveGroup can never reach it.
type grpCutter struct {
	mu    sync.Mutex // guards the fields below
	cut   bool
	conns []net.Conn
}

func (c *grpCutter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	cut := c.cut
	c.mu.Unlock()
	if cut {
		return nil, errGrpKilled
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		conn.Close()
		return nil, errGrpKilled
	}
	c.conns = append(c.conns, conn)
	return conn, nil
}

// Dial makes grpCutter a golang.org/x/net/proxy.Dialer (sarama's hook).
func (c *grpCutter) Dial(network, addr string) (net.Conn, error) {
	return c.DialContext(context.Background(), network, addr)
}

func (c *grpCutter) sever() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

// grpDelivery is one record handed to the application by a member.
type grpDelivery struct {
	member    string
	partition int32
	offset    int64
}

// grpLedger records every delivery of every member of one scenario.
type grpLedger struct {
	mu   sync.Mutex // guards all
	recs []grpDelivery
}

func (l *grpLedger) add(member string, partition int32, offset int64) {
	l.mu.Lock()
	l.recs = append(l.recs, grpDelivery{member, partition, offset})
	l.mu.Unlock()
}

func (l *grpLedger) all() []grpDelivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]grpDelivery(nil), l.recs...)
}

// of returns, per partition and in delivery order, the offsets handed to
// member.
func (l *grpLedger) of(member string) map[int32][]int64 {
	out := map[int32][]int64{}
	for _, d := range l.all() {
		if d.member == member {
			out[d.partition] = append(out[d.partition], d.offset)
		}
	}
	return out
}

// grpMember is one consumer-group member, whatever the client.
type grpMember struct {
	name   string      // also its client.id, which DescribeGroups shows
	franz  *kgo.Client // the franz-go client, nil for other clients
	client string      // franz-go, sarama, kafka-go
	led    *grpLedger
	cut    *grpCutter

	// commit commits exactly these next offsets for the member's topic as
	// a group commit (with the member's generation / epoch).
	commit func(ctx context.Context, offsets map[int32]int64) error
	// closeFn closes the client the way the application would (a dynamic
	// member leaves the group; a static one does not).
	closeFn func() error

	mu        sync.Mutex     // guards the fields below
	callbacks bool           // the client reports assignments (franz-go, sarama)
	assigned  map[int32]bool // the client's own view of its assignment
	assigns   int            // non-empty assignments reported
	revokes   int            // non-empty revocations / ended sessions reported
	errs      []error        // errors the client handed to the application
	closed    bool
	killed    bool
}

func (m *grpMember) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.assigned {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (m *grpMember) counts() (assigns, revokes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.assigns, m.revokes
}

func (m *grpMember) addErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.killed {
		return
	}
	m.errs = append(m.errs, err)
}

func (m *grpMember) errors() []error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]error(nil), m.errs...)
}

func (m *grpMember) onAssigned(ps []int32, replace bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if replace {
		m.assigned = map[int32]bool{}
	}
	for _, p := range ps {
		m.assigned[p] = true
	}
	if len(ps) > 0 {
		m.assigns++
	}
}

func (m *grpMember) onRevoked(ps []int32, all bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if all {
		if len(m.assigned) > 0 {
			m.revokes++
		}
		m.assigned = map[int32]bool{}
		return
	}
	for _, p := range ps {
		delete(m.assigned, p)
	}
	if len(ps) > 0 {
		m.revokes++
	}
}

// Close closes the member cleanly and waits for it.
func (m *grpMember) Close(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	m.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- m.closeFn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Logf("%s: close: %v", m.name, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s: close did not return within 30s", m.name)
	}
}

// Kill cuts every connection of the member, then closes the client in the
// background: the broker hears nothing more from it, not even LeaveGroup.
func (m *grpMember) Kill(t testing.TB) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed, m.killed = true, true
	m.mu.Unlock()
	m.cut.sever()
	done := make(chan struct{})
	go func() { m.closeFn(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Logf("%s: the killed client's Close still runs after 30s", m.name)
		}
	})
}

// grpOpts configure a member.
type grpOpts struct {
	group, topic string
	instanceID   string        // static membership when set
	session      time.Duration // classic session timeout (0: 6s)
	autoCommit   bool
	franz        []kgo.Opt // the franz-go variant's balancer options
}

func (o grpOpts) sessionTimeout() time.Duration {
	if o.session == 0 {
		return 6 * time.Second
	}
	return o.session
}

// grpHeartbeat is every client's heartbeat interval (KIP-848 members get
// theirs from the broker, see grp848Overrides).
const grpHeartbeat = time.Second

// grpStartFranz starts a franz-go member polling in the background.
func grpStartFranz(t testing.TB, addr, name string, led *grpLedger, o grpOpts) *grpMember {
	t.Helper()
	m := &grpMember{name: name, client: "franz-go", led: led, cut: &grpCutter{}, callbacks: true, assigned: map[int32]bool{}}
	topic := o.topic
	opts := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ClientID(name),
		kgo.Dialer(m.cut.DialContext),
		kgo.ConsumerGroup(o.group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(250 * time.Millisecond),
		kgo.HeartbeatInterval(grpHeartbeat),
		kgo.SessionTimeout(o.sessionTimeout()),
		kgo.RebalanceTimeout(20 * time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.onAssigned(a[topic], false)
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			if o.autoCommit {
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					m.addErr(fmt.Errorf("commit on revoke: %w", err))
				}
			}
			m.onRevoked(r[topic], false)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			m.onRevoked(l[topic], false)
		}),
	}
	if o.instanceID != "" {
		opts = append(opts, kgo.InstanceID(o.instanceID))
	}
	if !o.autoCommit {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	opts = append(opts, o.franz...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("%s: kgo.NewClient: %v", name, err)
	}
	m.franz = cl
	ctx, cancel := context.WithCancel(context.Background())
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() {
				return
			}
			fs.EachError(func(tp string, p int32, err error) {
				if !errors.Is(err, context.Canceled) {
					m.addErr(fmt.Errorf("fetch %s/%d: %w", tp, p, err))
				}
			})
			fs.EachRecord(func(r *kgo.Record) { led.add(name, r.Partition, r.Offset) })
		}
	}()
	m.commit = func(ctx context.Context, offsets map[int32]int64) error {
		eo := map[string]map[int32]kgo.EpochOffset{topic: {}}
		for p, o := range offsets {
			eo[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
		var cerr error
		cl.CommitOffsetsSync(ctx, eo, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil && cerr == nil {
						cerr = fmt.Errorf("commit %s/%d: %w", rt.Topic, rp.Partition, err)
					}
				}
			}
		})
		return cerr
	}
	m.closeFn = func() error {
		cancel()
		cl.Close()
		<-loopDone
		return nil
	}
	t.Cleanup(func() { m.Close(t) })
	return m
}

// grpSaramaVersion is the protocol version sarama is told the broker has:
// static membership needs 2.3+.
var grpSaramaVersion = sarama.V3_6_0_0

// grpSaramaHandler is the sarama.ConsumerGroupHandler of a grpMember.
type grpSaramaHandler struct {
	m     *grpMember
	topic string
	auto  bool

	mu   sync.Mutex // guards sess
	sess sarama.ConsumerGroupSession
}

func (h *grpSaramaHandler) Setup(sess sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	h.sess = sess
	h.mu.Unlock()
	h.m.onAssigned(sess.Claims()[h.topic], true)
	return nil
}

func (h *grpSaramaHandler) Cleanup(sess sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	h.sess = nil
	h.mu.Unlock()
	h.m.onRevoked(nil, true)
	return nil
}

func (h *grpSaramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.m.led.add(h.m.name, msg.Partition, msg.Offset)
			if h.auto {
				sess.MarkMessage(msg, "")
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

func (h *grpSaramaHandler) session() sarama.ConsumerGroupSession {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sess
}

// grpStartSarama starts a sarama ConsumerGroup member consuming in the
// background.
func grpStartSarama(t testing.TB, addr, name string, led *grpLedger, o grpOpts) *grpMember {
	t.Helper()
	m := &grpMember{name: name, client: "sarama", led: led, cut: &grpCutter{}, callbacks: true, assigned: map[int32]bool{}}
	cfg := sarama.NewConfig()
	cfg.Version = grpSaramaVersion
	cfg.ClientID = name
	cfg.Net.Proxy.Enable = true
	cfg.Net.Proxy.Dialer = m.cut
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 250 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = o.autoCommit
	cfg.Consumer.Offsets.AutoCommit.Interval = 500 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = o.sessionTimeout()
	cfg.Consumer.Group.Heartbeat.Interval = grpHeartbeat
	cfg.Consumer.Group.Rebalance.Timeout = 20 * time.Second
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 200 * time.Millisecond
	if o.instanceID != "" {
		cfg.Consumer.Group.InstanceId = o.instanceID
	}
	cg, err := sarama.NewConsumerGroup([]string{addr}, o.group, cfg)
	if err != nil {
		t.Fatalf("%s: sarama.NewConsumerGroup: %v", name, err)
	}
	h := &grpSaramaHandler{m: m, topic: o.topic, auto: o.autoCommit}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{o.topic}, h); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					return
				}
				m.addErr(fmt.Errorf("consume: %w", err))
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for err := range cg.Errors() {
			m.addErr(err)
		}
	}()
	m.commit = func(ctx context.Context, offsets map[int32]int64) error {
		sess := h.session()
		if sess == nil {
			return errors.New("sarama: no active session to commit with")
		}
		for p, off := range offsets {
			sess.MarkOffset(o.topic, p, off, "")
		}
		// Commit is synchronous; its errors reach cg.Errors().
		sess.Commit()
		return nil
	}
	m.closeFn = func() error {
		cancel()
		err := cg.Close()
		wg.Wait()
		return err
	}
	t.Cleanup(func() { m.Close(t) })
	return m
}

// grpStartKafkaGo starts a kafka-go Reader with a GroupID reading in the
// background. kafka-go reports no assignments: its view is what it reads.
func grpStartKafkaGo(t testing.TB, addr, name string, led *grpLedger, o grpOpts) *grpMember {
	t.Helper()
	if o.instanceID != "" {
		t.Fatalf("kafka-go has no static membership")
	}
	m := &grpMember{name: name, client: "kafka-go", led: led, cut: &grpCutter{}, assigned: map[int32]bool{}}
	commitInterval := time.Duration(0) // synchronous commits
	if o.autoCommit {
		commitInterval = 500 * time.Millisecond
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{addr},
		GroupID:           o.group,
		Topic:             o.topic,
		Dialer:            &kafka.Dialer{ClientID: name, DialFunc: m.cut.DialContext, Timeout: 10 * time.Second},
		StartOffset:       kafka.FirstOffset,
		MaxWait:           250 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    250 * time.Millisecond,
		HeartbeatInterval: grpHeartbeat,
		SessionTimeout:    o.sessionTimeout(),
		RebalanceTimeout:  20 * time.Second,
		JoinGroupBackoff:  200 * time.Millisecond,
		CommitInterval:    commitInterval,
	})
	ctx, cancel := context.WithCancel(context.Background())
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for {
			var msg kafka.Message
			var err error
			if o.autoCommit {
				msg, err = r.ReadMessage(ctx) // commits (every CommitInterval)
			} else {
				msg, err = r.FetchMessage(ctx)
			}
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, io.EOF) {
					return
				}
				m.addErr(fmt.Errorf("read: %w", err))
				time.Sleep(100 * time.Millisecond)
				continue
			}
			m.mu.Lock()
			m.assigned[int32(msg.Partition)] = true
			m.mu.Unlock()
			led.add(name, int32(msg.Partition), msg.Offset)
		}
	}()
	m.commit = func(ctx context.Context, offsets map[int32]int64) error {
		// kafka-go commits message.Offset+1.
		var msgs []kafka.Message
		for p, off := range offsets {
			msgs = append(msgs, kafka.Message{Topic: o.topic, Partition: int(p), Offset: off - 1})
		}
		return r.CommitMessages(ctx, msgs...)
	}
	m.closeFn = func() error {
		cancel()
		err := r.Close()
		<-loopDone
		return err
	}
	t.Cleanup(func() { m.Close(t) })
	return m
}

// grpProducer writes records to explicit partitions through franz-go and
// remembers, per partition, the next offset (the end after its last ack).
type grpProducer struct {
	cl    *kgo.Client
	topic string

	mu  sync.Mutex // guards end
	end map[int32]int64
}

func grpNewProducer(t testing.TB, addr, topic string) *grpProducer {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
	)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	t.Cleanup(cl.Close)
	return &grpProducer{cl: cl, topic: topic, end: map[int32]int64{}}
}

// produce writes perPartition records to each of partitions [0, parts).
func (p *grpProducer) produce(ctx context.Context, parts int32, perPartition int) error {
	var recs []*kgo.Record
	for i := 0; i < perPartition; i++ {
		for part := int32(0); part < parts; part++ {
			recs = append(recs, &kgo.Record{Partition: part, Value: []byte(fmt.Sprintf("p%d-%d", part, i))})
		}
	}
	res := p.cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range res {
		if r.Record.Offset+1 > p.end[r.Record.Partition] {
			p.end[r.Record.Partition] = r.Record.Offset + 1
		}
	}
	return nil
}

func (p *grpProducer) ends() map[int32]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int32]int64{}
	for k, v := range p.end {
		out[k] = v
	}
	return out
}

// trickle produces one record to every partition every interval until ctx
// ends; it returns a function that stops it and reports its first error.
func (p *grpProducer) trickle(parts int32, interval time.Duration) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if err := p.produce(ctx, parts, 1); err != nil && ctx.Err() == nil {
				errc <- err
				return
			}
			select {
			case <-ctx.Done():
				errc <- nil
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() { cancel(); err = <-errc })
		return err
	}
}

// grpView is the broker's view of a group: its state and, per member
// client.id, the assigned partitions of the scenario's topic.
type grpView struct {
	state   string
	members map[string][]int32
	pending bool // KIP-848: some member's assignment differs from its target
}

func (v grpView) String() string {
	var names []string
	for n := range v.members {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%s{", v.state)
	for i, n := range names {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s:%v", n, v.members[n])
	}
	b.WriteString("}")
	if v.pending {
		b.WriteString(" (reconciling)")
	}
	return b.String()
}

func grpSorted(ps []int32) []int32 {
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// grpDescribe asks the broker (DescribeGroups for classic groups,
// ConsumerGroupDescribe for KIP-848 groups) how the group looks.
func grpDescribe(ctx context.Context, adm *kadm.Client, group, topic string, kip848 bool) (grpView, error) {
	v := grpView{members: map[string][]int32{}}
	if kip848 {
		ds, err := adm.DescribeConsumerGroups(ctx, group)
		if err != nil {
			return v, err
		}
		d, ok := ds[group]
		if !ok {
			return v, fmt.Errorf("group %s not in ConsumerGroupDescribe response", group)
		}
		if d.Err != nil {
			return v, d.Err
		}
		v.state = d.State
		for _, mem := range d.Members {
			var ps []int32
			for p := range mem.Assignment[topic] {
				ps = append(ps, p)
			}
			v.members[mem.ClientID] = grpSorted(ps)
			if fmt.Sprint(mem.Assignment.Sorted()) != fmt.Sprint(mem.TargetAssignment.Sorted()) {
				v.pending = true
			}
		}
		return v, nil
	}
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return v, err
	}
	d, ok := ds[group]
	if !ok {
		return v, fmt.Errorf("group %s not in DescribeGroups response", group)
	}
	if d.Err != nil {
		return v, d.Err
	}
	v.state = d.State
	for _, mem := range d.Members {
		var ps []int32
		if ca, ok := mem.Assigned.AsConsumer(); ok {
			for _, tp := range ca.Topics {
				if tp.Topic == topic {
					ps = append(ps, tp.Partitions...)
				}
			}
		}
		v.members[mem.ClientID] = grpSorted(ps)
	}
	return v, nil
}

// balanced reports whether the view is Stable with exactly the named
// members, each holding per partitions, together all of [0, parts).
func (v grpView) balanced(names []string, parts int32, per int) bool {
	if v.state != "Stable" || v.pending || len(v.members) != len(names) {
		return false
	}
	seen := map[int32]bool{}
	for _, n := range names {
		ps, ok := v.members[n]
		if !ok || len(ps) != per {
			return false
		}
		for _, p := range ps {
			if seen[p] || p < 0 || p >= parts {
				return false
			}
			seen[p] = true
		}
	}
	return len(seen) == int(parts)
}

// grpClientViewsBalanced reports whether the members that report their
// assignments each hold per partitions, disjoint, and (if every member
// reports) together all of [0, parts).
func grpClientViewsBalanced(members []*grpMember, parts int32, per int) bool {
	seen := map[int32]bool{}
	all := true
	for _, m := range members {
		if !m.callbacks {
			all = false
			continue
		}
		ps := m.partitions()
		if len(ps) != per {
			return false
		}
		for _, p := range ps {
			if seen[p] {
				return false
			}
			seen[p] = true
		}
	}
	return !all || len(seen) == int(parts)
}

// grpWaitBalanced waits until the broker and the clients agree that the
// named members split [0, parts) evenly.
func grpWaitBalanced(ctx context.Context, adm *kadm.Client, group, topic string, kip848 bool, members []*grpMember, parts int32) (grpView, error) {
	var names []string
	for _, m := range members {
		names = append(names, m.name)
	}
	per := int(parts) / len(members)
	var last grpView
	var lastErr error
	for {
		v, err := grpDescribe(ctx, adm, group, topic, kip848)
		if err == nil {
			last, lastErr = v, nil
			if v.balanced(names, parts, per) && grpClientViewsBalanced(members, parts, per) {
				return v, nil
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			var cv []string
			for _, m := range members {
				cv = append(cv, fmt.Sprintf("%s:%v", m.name, m.partitions()))
			}
			return last, fmt.Errorf("group did not settle to %d members x %d partitions: broker view %v (last error %v), client views %v", len(members), per, last, lastErr, cv)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// grpCommitted fetches the group's committed offsets of topic through
// kadm (an independent client).
func grpCommitted(ctx context.Context, adm *kadm.Client, group, topic string, parts int32) (map[int32]int64, error) {
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	if err := resp.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p := int32(0); p < parts; p++ {
		if o, ok := resp.Lookup(topic, p); ok {
			out[p] = o.At
		} else {
			out[p] = -1
		}
	}
	return out, nil
}

// grpWait polls cond every 50ms until it holds or ctx ends.
func grpWait(ctx context.Context, what string, cond func() (bool, string)) error {
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s", what, detail)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
