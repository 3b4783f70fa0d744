package broker

// In-process tests (TCP, embedded etcd) of the bounds a misbehaving client
// meets: connection caps, idle connections, stalled frames, the Fetch size
// cap, partition counts in one request, etcd deadlines; and of the
// properties that used to be accepted without effect (min.insync.replicas,
// broker.rack).

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn is a client connection that speaks raw frames.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	f  *kmsg.RequestFormatter
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, f: kmsg.NewRequestFormatter(kmsg.FormatterClientID("limits-test"))}
}

// apiVersions sends ApiVersions v0 and reports whether an answer came back
// (false: the broker closed the connection).
func (c *rawConn) apiVersions() bool {
	c.t.Helper()
	c.nc.SetDeadline(time.Now().Add(15 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	req := kmsg.NewPtrApiVersionsRequest()
	if _, err := c.nc.Write(c.f.AppendRequest(nil, req, 1)); err != nil {
		return false
	}
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			c.t.Fatal("no answer and no close within 15 s")
		}
		return false
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.nc, body); err != nil {
		c.t.Fatalf("truncated answer: %v", err)
	}
	return true
}

// waitClosed waits (up to 15 s) for the broker to close c.
func (c *rawConn) waitClosed() bool {
	c.nc.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err := c.nc.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// waitConns waits until the broker counts n connections.
func waitConns(t *testing.T, b *Broker, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b.connsMu.Lock()
		got := len(b.conns)
		b.connsMu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker holds %d connections, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMaxConnectionsPerIP(t *testing.T) {
	b, addr := startTestBroker(t, "max.connections.per.ip=3")
	var open []*rawConn
	for i := 0; i < 3; i++ {
		c := dialRaw(t, addr)
		if !c.apiVersions() {
			t.Fatalf("connection %d refused below the limit", i+1)
		}
		open = append(open, c)
	}
	fourth := dialRaw(t, addr)
	if fourth.apiVersions() {
		t.Fatal("fourth connection from 127.0.0.1 served with max.connections.per.ip=3")
	}
	// A slot frees when a connection closes.
	open[0].nc.Close()
	waitConns(t, b, 2)
	if !dialRaw(t, addr).apiVersions() {
		t.Fatal("connection refused after one of three closed")
	}
}

func TestMaxConnectionsPerIPOverride(t *testing.T) {
	_, addr := startTestBroker(t, "max.connections.per.ip=0", "max.connections.per.ip.overrides=127.0.0.1:2")
	for i := 0; i < 2; i++ {
		if !dialRaw(t, addr).apiVersions() {
			t.Fatalf("connection %d refused within the override", i+1)
		}
	}
	if dialRaw(t, addr).apiVersions() {
		t.Fatal("third connection served with an override of 2")
	}
}

func TestMaxConnections(t *testing.T) {
	_, addr := startTestBroker(t, "max.connections=2")
	a, c := dialRaw(t, addr), dialRaw(t, addr)
	if !a.apiVersions() || !c.apiVersions() {
		t.Fatal("connection refused below max.connections")
	}
	if dialRaw(t, addr).apiVersions() {
		t.Fatal("third connection served with max.connections=2")
	}
}

func TestIdleConnectionClosed(t *testing.T) {
	_, addr := startTestBroker(t, "connections.max.idle.ms=1500")
	// Active: a request every 100 ms for longer than the idle time keeps
	// the connection open.
	busy := dialRaw(t, addr)
	for start := time.Now(); time.Since(start) < 2500*time.Millisecond; time.Sleep(100 * time.Millisecond) {
		if !busy.apiVersions() {
			t.Fatal("an active connection was closed as idle")
		}
	}
	// Idle: closed by the broker.
	idle := dialRaw(t, addr)
	if !idle.apiVersions() {
		t.Fatal("no answer")
	}
	if !idle.waitClosed() {
		t.Fatal("idle connection still open 15 s after connections.max.idle.ms=1500")
	}
	// A connection that never sends a byte is idle too.
	silent := dialRaw(t, addr)
	if !silent.waitClosed() {
		t.Fatal("silent connection still open")
	}
}

// TestStalledSizePrefixDoesNotAllocate: clients that announce a 16 MiB
// frame and send only a little of it must not make the broker allocate
// 16 MiB each.
func TestStalledSizePrefixDoesNotAllocate(t *testing.T) {
	b, addr := startTestBroker(t)
	const n = 16
	announce := binary.BigEndian.AppendUint32(nil, 16<<20)
	announce = append(announce, make([]byte, 1024)...) // a little of the body
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var conns []*rawConn
	for i := 0; i < n; i++ {
		c := dialRaw(t, addr)
		if _, err := c.nc.Write(announce); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitConns(t, b, n)
	// Close them: once the broker has seen every connection end, it has
	// read every byte they sent, the size prefixes included.
	for _, c := range conns {
		c.nc.Close()
	}
	waitConns(t, b, 0)
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d connections announcing 16 MiB each: %d KiB allocated", n, allocated>>10)
	if allocated > n*(16<<20)/4 {
		t.Fatalf("allocated %d MiB for %d stalled 16 MiB frames: the read loop trusts the size prefix", allocated>>20, n)
	}
	if !dialRaw(t, addr).apiVersions() {
		t.Fatal("broker unusable")
	}
}

func TestFetchMaxBytesCapsResponse(t *testing.T) {
	const capBytes = 64 << 10
	_, addr := startTestBroker(t, "fetch.max.bytes=65536")
	// 4 partitions x ~160 KiB, one 8 KiB record per batch.
	createTopic(t, addr, "fmb", 4, nil)
	pcl := newClient(t, addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(9<<10))
	for range 80 {
		if err := pcl.ProduceSync(testCtx(t), &kgo.Record{Topic: "fmb", Value: make([]byte, 8<<10)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	req.ReplicaID = -1
	req.MaxBytes = 1 << 30
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "fmb"
	rt.TopicID = topicID(t, addr, "fmb") // kgo sends the newest version
	for p := range int32(4) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p
		rp.PartitionMaxBytes = 1 << 30
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 {
			t.Fatalf("partition %d: error %d", p.Partition, p.ErrorCode)
		}
		total += len(p.RecordBatches)
	}
	if total == 0 {
		t.Fatal("no records fetched")
	}
	// The first batch may pass the cap whole; every batch here is ~8 KiB.
	if total > capBytes+9<<10 {
		t.Fatalf("fetched %d bytes with MaxBytes 1 GiB, fetch.max.bytes=%d", total, capBytes)
	}
}

func TestCreateTopicsHugePartitionCount(t *testing.T) {
	_, addr := startTestBroker(t)
	cl := newClient(t, addr)
	create := func(validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsResponse {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 10_000
		req.ValidateOnly = validateOnly
		req.Topics = topics
		resp, err := req.RequestWith(testCtx(t), cl)
		if err != nil {
			t.Fatalf("broker did not answer: %v", err)
		}
		return resp
	}
	topic := func(name string, partitions int32) kmsg.CreateTopicsRequestTopic {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = name
		rt.NumPartitions = partitions
		rt.ReplicationFactor = 1
		return rt
	}
	for _, validateOnly := range []bool{true, false} {
		resp := create(validateOnly, topic("huge", math.MaxInt32))
		st := resp.Topics[0]
		if st.ErrorCode != kerr.InvalidPartitions.Code || st.ErrorMessage == nil || !strings.Contains(*st.ErrorMessage, "max.partitions.per.request") {
			t.Fatalf("validateOnly=%v: 2^31-1 partitions: error %d %v", validateOnly, st.ErrorCode, st.ErrorMessage)
		}
	}
	// The limit is on the request: two topics of 6000 fail together.
	resp := create(true, topic("a", 6000), topic("b", 6000))
	for _, st := range resp.Topics {
		if st.ErrorCode != kerr.InvalidPartitions.Code {
			t.Fatalf("%s in a request for 12000 partitions: error %d", st.Topic, st.ErrorCode)
		}
	}
	// A manual assignment counts its partitions.
	big := topic("assigned", -1)
	big.ReplicationFactor = -1
	for p := int32(0); p < 10001; p++ {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition = p
		a.Replicas = []int32{1}
		big.ReplicaAssignment = append(big.ReplicaAssignment, a)
	}
	if st := create(true, big).Topics[0]; st.ErrorCode != kerr.InvalidPartitions.Code {
		t.Fatalf("10001 assigned partitions: error %d", st.ErrorCode)
	}
	// Within the limit all is as before, and the broker is fine.
	if st := create(false, topic("fine", 10)).Topics[0]; st.ErrorCode != 0 {
		t.Fatalf("10 partitions: error %d", st.ErrorCode)
	}

	// CreatePartitions: the partitions to add count.
	for _, validateOnly := range []bool{true, false} {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.TimeoutMillis = 10_000
		req.ValidateOnly = validateOnly
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic = "fine"
		rt.Count = math.MaxInt32
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(testCtx(t), cl)
		if err != nil {
			t.Fatalf("broker did not answer CreatePartitions: %v", err)
		}
		st := resp.Topics[0]
		if st.ErrorCode != kerr.InvalidPartitions.Code || st.ErrorMessage == nil || !strings.Contains(*st.ErrorMessage, "max.partitions.per.request") {
			t.Fatalf("validateOnly=%v: CreatePartitions to 2^31-1: error %d %v", validateOnly, st.ErrorCode, st.ErrorMessage)
		}
	}
}

// cutProxy forwards TCP connections to target until cut: then it closes
// them and every new one, until restored. Between a broker and a real etcd
// it makes etcd unreachable and reachable again.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool       // guarded by mu
	conns  []net.Conn // guarded by mu
	wg     sync.WaitGroup
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(u, c); u.Close() }()
			go func() { defer p.wg.Done(); io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// TestMetadataAutoCreateEtcdDown: with etcd unreachable, a Metadata request
// that asks for a new topic answers (LEADER_NOT_AVAILABLE, retriable)
// instead of hanging. Broker 2 reaches broker 1's embedded etcd, as an
// external etcd, through a proxy that the test cuts.
func TestMetadataAutoCreateEtcdDown(t *testing.T) {
	first, _ := startTestBroker(t)
	proxy := startCutProxy(t, strings.TrimPrefix(first.Store().EmbeddedEndpoint(), "http://"))
	_, addr := startTestBroker(t, "node.id=2", "etcd.endpoints="+proxy.addr())
	// Cleanups run last first: etcd is reachable again when broker 2
	// closes (its deregistration needs it).
	t.Cleanup(proxy.restore)
	cl := newClient(t, addr)
	createTopic(t, addr, "before", 1, nil) // works while etcd is reachable

	proxy.cut()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("auto-while-etcd-down")
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("no Metadata answer with etcd down: %v", err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.LeaderNotAvailable.Code {
		t.Fatalf("topic answer %+v, want LEADER_NOT_AVAILABLE", resp.Topics)
	}
}

func TestAdminTimeoutCapped(t *testing.T) {
	ctx, cancel, wait := adminCtx(context.Background(), math.MaxInt32)
	defer cancel()
	dl, ok := ctx.Deadline()
	if !wait || !ok || time.Until(dl) > adminMaxTimeout {
		t.Fatalf("TimeoutMillis 2^31-1: deadline in %v (wait %v)", time.Until(dl), wait)
	}
	ctx, cancel2, wait := adminCtx(context.Background(), 0)
	defer cancel2()
	if dl, ok := ctx.Deadline(); wait || !ok || time.Until(dl) > adminWriteTimeout {
		t.Fatalf("TimeoutMillis 0: deadline %v %v, wait %v", dl, ok, wait)
	}
}

func TestMinInsyncReplicas(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "misr", 1, map[string]*string{"min.insync.replicas": kmsg.StringPtr("2")})
	produce := func(acks int16) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks = acks
		req.TimeoutMillis = 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "misr"
		rt.TopicID = topicID(t, addr, "misr")
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = testBatch(-1, -1, -1, 1)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		// kgo rewrites a raw Produce's acks to the client's.
		acksOpt := kgo.RequiredAcks(kgo.AllISRAcks())
		if acks == 1 {
			acksOpt = kgo.RequiredAcks(kgo.LeaderAck())
		}
		resp, err := req.RequestWith(testCtx(t), newClient(t, addr, acksOpt, kgo.DisableIdempotentWrite()))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0]
	}
	p := produce(-1)
	if p.ErrorCode != kerr.NotEnoughReplicas.Code || p.ErrorMessage == nil || !strings.Contains(*p.ErrorMessage, "min.insync.replicas=2") {
		t.Fatalf("acks=all with ISR 1 < min.insync.replicas 2: error %d %v", p.ErrorCode, p.ErrorMessage)
	}
	// acks=1 does not ask for the ISR; the refused batch was not written.
	if p := produce(1); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("acks=1: error %d, base offset %d (want 0)", p.ErrorCode, p.BaseOffset)
	}
}

func TestBrokerMinInsyncReplicas(t *testing.T) {
	_, addr := startTestBroker(t, "min.insync.replicas=2")
	createTopic(t, addr, "misr-broker", 1, nil)
	cl := newClient(t, addr, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordRetries(0), kgo.RetryTimeout(time.Second))
	err := cl.ProduceSync(testCtx(t), &kgo.Record{Topic: "misr-broker", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("acks=all under the broker's min.insync.replicas=2: %v", err)
	}
}

func TestBrokerRackInMetadata(t *testing.T) {
	_, addr := startTestBroker(t, "broker.rack=rack-a")
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(testCtx(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].Rack == nil || *resp.Brokers[0].Rack != "rack-a" {
		t.Fatalf("brokers %+v, want rack rack-a", resp.Brokers)
	}
}

// TestTopicConfigsAcceptedAndDocumented: a topic sets compaction and
// recompression configs (implemented: storage/cleaner.go, 00_produce.go);
// DescribeConfigs answers the values set, documented without the "no
// effect" note inert configs carry.
func TestTopicConfigsAcceptedAndDocumented(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "inert", 1, map[string]*string{
		"cleanup.policy":      kmsg.StringPtr("compact"),
		"delete.retention.ms": kmsg.StringPtr("1000"),
		"compression.type":    kmsg.StringPtr("zstd"),
	})
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeDocumentation = true
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType = kmsg.ConfigResourceTypeTopic
	r.ResourceName = "inert"
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	want := map[string]string{"delete.retention.ms": "1000", "compression.type": "zstd"}
	for _, c := range resp.Resources[0].Configs {
		if w, ok := want[c.Name]; ok {
			found++
			if c.Value == nil || *c.Value != w || c.Documentation == nil || strings.Contains(*c.Documentation, "No effect in samsa") {
				t.Errorf("%s: value %q, doc %q, want value %q documented without the no-effect note", c.Name, str(c.Value), str(c.Documentation), w)
			}
		}
	}
	if found != 2 {
		t.Fatalf("found %d of the 2 configs", found)
	}
	// An unsupported one is refused.
	adm := newClient(t, addr)
	creq := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic = "tiered"
	ct.NumPartitions, ct.ReplicationFactor = 1, 1
	cfg := kmsg.NewCreateTopicsRequestTopicConfig()
	cfg.Name, cfg.Value = "remote.storage.enable", kmsg.StringPtr("true")
	ct.Configs = append(ct.Configs, cfg)
	creq.Topics = append(creq.Topics, ct)
	cresp, err := creq.RequestWith(testCtx(t), adm)
	if err != nil {
		t.Fatal(err)
	}
	if st := cresp.Topics[0]; st.ErrorCode != kerr.InvalidConfig.Code || st.ErrorMessage == nil || !strings.Contains(*st.ErrorMessage, "not supported by samsa yet") {
		t.Fatalf("remote.storage.enable=true: error %d %v", st.ErrorCode, st.ErrorMessage)
	}
}

// str is *p, or "<nil>".
func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
