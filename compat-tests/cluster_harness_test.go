package compat

// The cluster harness: three samsa processes (the real binary) on loopback
// sharing one etcd, with a fault proxy (faultproxy) on every link so that a
// test can cut, stall, reset or slow any of them.
//
// Links and listeners of broker i (ids 1..n):
//
//	client -> i      EXTERNAL://127.0.0.1:<bound>, advertised as the
//	                 proxy Client (what every test client bootstraps from)
//	j -> i           INTERNALj://127.0.0.1:<bound>, advertised as the
//	                 proxy From[j]; broker j has inter.broker.listener.name
//	                 INTERNALj, so it reaches every other broker through
//	                 that broker's INTERNALj endpoint: one proxy per ordered
//	                 pair of brokers, and a link j -> i can be cut without
//	                 touching k -> i. (INTERNALi of broker i itself, which
//	                 no one dials, is advertised as it is bound.)
//	i -> etcd        etcd.endpoints lists the proxies Etcd[k], one per etcd
//	                 member k
//
// Combined mode (clusterOptions.combined) runs no etcd in the test: each
// broker gets process.roles=broker,controller, a CONTROLLER listener and
// controller.quorum.voters naming the three CONTROLLER listeners (direct,
// not proxied: they are the embedded etcd members' peer URLs).
//
// The harness's own queries (Metadata, ...) go to each broker's bound
// EXTERNAL port directly, so they work while the broker's client link is cut.

import (
	"context"
	"errors"
	"fmt"

	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/compat-tests/faultproxy"
)

const (
	// clusterFormTimeout bounds the wait for every broker to see every
	// other one after a cluster start.
	clusterFormTimeout = 30 * time.Second
	// clusterQueryTimeout bounds one harness query to one broker.
	clusterQueryTimeout = 3 * time.Second
	// clusterStopTimeout bounds a SIGTERM (a controlled shutdown moves
	// leadership away first; samsa itself gives up after 30 s).
	clusterStopTimeout = 40 * time.Second
)

// clusterOptions configures startCluster.
type clusterOptions struct {
	brokers        int           // default 3
	combined       bool          // embedded etcd members (process.roles=broker,controller)
	sessionTimeout time.Duration // broker.session.timeout.ms; default 3 s
	replicaLag     time.Duration // replica.lag.time.max.ms; default 3 s
	// overrides are extra KEY=VALUE properties for every broker.
	overrides []string
	// direct advertises the bound listeners and gives the etcd members'
	// own addresses (the proxies exist but nothing uses them): for
	// figures that the proxies' copying would distort.
	direct bool
}

// Cluster is a running samsa cluster under test.
type Cluster struct {
	t       testing.TB
	opts    clusterOptions
	etcd    *etcdCluster // nil in combined mode
	Brokers []*ClusterBroker
}

// ClusterBroker is one broker of a Cluster: its process and its links.
type ClusterBroker struct {
	*Samsa
	ID int32
	// Client is the link client -> this broker (its advertised EXTERNAL
	// listener).
	Client *faultproxy.Proxy
	// From[j] is the link broker j -> this broker.
	From map[int32]*faultproxy.Proxy
	// Etcd[k] is the link this broker -> etcd member k (nil in combined
	// mode).
	Etcd []*faultproxy.Proxy

	adminMu sync.Mutex
	admin   *kgo.Client // guarded by adminMu; direct to the bound EXTERNAL port
}

// startCluster starts the etcd (unless combined), the proxies and the
// brokers, and waits until every broker lists every broker and they agree
// on a controller. Everything is stopped when the test ends.
func startCluster(t testing.TB, opts clusterOptions) *Cluster {
	t.Helper()
	if opts.brokers == 0 {
		opts.brokers = 3
	}
	if opts.sessionTimeout == 0 {
		opts.sessionTimeout = 3 * time.Second
	}
	if opts.replicaLag == 0 {
		opts.replicaLag = 3 * time.Second
	}
	n := opts.brokers
	c := &Cluster{t: t, opts: opts}
	if !opts.combined {
		c.etcd = startEtcdCluster(t, 3)
	}

	// Ports: EXTERNAL, INTERNAL1..n, and CONTROLLER in combined mode.
	perBroker := 1 + n
	if opts.combined {
		perBroker++
	}
	ports := stablePorts(t, n*perBroker)
	portOf := func(i, k int) int { return ports[(i-1)*perBroker+k] } // k: 0 EXTERNAL, j INTERNALj, n+1 CONTROLLER
	newProxy := func(name, target string) *faultproxy.Proxy {
		p, err := faultproxy.New(name, target)
		if err != nil {
			t.Fatalf("%v", err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	addr := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

	for i := 1; i <= n; i++ {
		b := &ClusterBroker{ID: int32(i), From: make(map[int32]*faultproxy.Proxy)}
		b.Client = newProxy(fmt.Sprintf("client->%d", i), addr(portOf(i, 0)))
		for j := 1; j <= n; j++ {
			if j != i {
				b.From[int32(j)] = newProxy(fmt.Sprintf("%d->%d", j, i), addr(portOf(i, j)))
			}
		}
		if c.etcd != nil {
			for k, target := range c.etcd.ClientAddrs {
				b.Etcd = append(b.Etcd, newProxy(fmt.Sprintf("%d->etcd%d", i, k+1), target))
			}
		}
		c.Brokers = append(c.Brokers, b)
	}

	known := clusterPropertiesKnown(t)
	var voters []string
	if opts.combined {
		for i := 1; i <= n; i++ {
			voters = append(voters, fmt.Sprintf("%d@%s", i, addr(portOf(i, n+1))))
		}
	}
	for _, b := range c.Brokers {
		i := int(b.ID)
		listeners := []string{"EXTERNAL://" + addr(portOf(i, 0))}
		advertised := []string{"EXTERNAL://" + b.Client.Addr()}
		if opts.direct {
			advertised[0] = listeners[0]
		}
		protos := []string{"EXTERNAL:PLAINTEXT"}
		for j := 1; j <= n; j++ {
			name := fmt.Sprintf("INTERNAL%d", j)
			listeners = append(listeners, name+"://"+addr(portOf(i, j)))
			if j == i || opts.direct {
				advertised = append(advertised, name+"://"+addr(portOf(i, j)))
			} else {
				advertised = append(advertised, name+"://"+b.From[int32(j)].Addr())
			}
			protos = append(protos, name+":PLAINTEXT")
		}
		args := []string{
			"--broker-id", strconv.Itoa(i),
			"--advertised-listeners", strings.Join(advertised, ","),
		}
		props := []string{
			fmt.Sprintf("inter.broker.listener.name=INTERNAL%d", i),
			"replica.lag.time.max.ms=" + strconv.FormatInt(opts.replicaLag.Milliseconds(), 10),
			// Groups and transactions must survive a broker: their
			// internal topics replicated like the data.
			"offsets.topic.replication.factor=3",
			"offsets.topic.num.partitions=6",
			"transaction.state.log.replication.factor=3",
			"transaction.state.log.min.isr=2",
			"transaction.state.log.num.partitions=6",
		}
		if known["broker.session.timeout.ms"] {
			props = append(props, "broker.session.timeout.ms="+strconv.FormatInt(opts.sessionTimeout.Milliseconds(), 10))
		}
		if opts.combined {
			listeners = append(listeners, "CONTROLLER://"+addr(portOf(i, n+1)))
			protos = append(protos, "CONTROLLER:PLAINTEXT")
			props = append(props,
				"process.roles=broker,controller",
				"controller.quorum.voters="+strings.Join(voters, ","),
				"controller.listener.names=CONTROLLER",
			)
		} else {
			var eps []string
			for k, p := range b.Etcd {
				if opts.direct {
					eps = append(eps, c.etcd.ClientAddrs[k])
				} else {
					eps = append(eps, p.Addr())
				}
			}
			args = append(args, "--etcd-endpoints", strings.Join(eps, ","))
		}
		props = append(props, "listener.security.protocol.map="+strings.Join(protos, ","))
		props = append(props, opts.overrides...)
		for _, p := range props {
			args = append(args, "--override", p)
		}
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("broker%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		b.Samsa = newSamsa(t, dir, portOf(i, 0), strings.Join(listeners, ","), args)
		t.Cleanup(b.closeAdmin)
	}
	if !known["broker.session.timeout.ms"] {
		t.Logf("cluster: this samsa does not know broker.session.timeout.ms yet: brokers run with its default session timeout")
	}

	// All at once: in combined mode no broker is up before a quorum of
	// etcd members is.
	c.startAll(c.Brokers)
	c.waitFormed()
	return c
}

// startAll starts the given (stopped) brokers concurrently and waits until
// each listens.
func (c *Cluster) startAll(bs []*ClusterBroker) {
	c.t.Helper()
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Add(1)
		go func() {
			// Samsa.Start fails the test (and exits this goroutine)
			// if the broker does not come up.
			defer wg.Done()
			b.Start()
		}()
	}
	wg.Wait()
	if c.t.Failed() {
		c.t.FailNow()
	}
}

// waitFormed waits until every running broker lists every running broker
// and all name the same controller.
func (c *Cluster) waitFormed() {
	c.t.Helper()
	c.WaitFor(clusterFormTimeout, "the cluster to form (every broker lists every broker, one controller)", func() (bool, string) {
		live := c.runningIDs()
		controllers := map[int32]bool{}
		for _, b := range c.Running() {
			m, err := b.Metadata(nil)
			if err != nil {
				return false, fmt.Sprintf("broker %d: %v", b.ID, err)
			}
			var ids []int32
			for _, mb := range m.Brokers {
				ids = append(ids, mb.NodeID)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, live) {
				return false, fmt.Sprintf("broker %d lists brokers %v, want %v", b.ID, ids, live)
			}
			controllers[m.ControllerID] = true
		}
		if len(controllers) != 1 {
			return false, fmt.Sprintf("brokers name controllers %v", slices.Collect(mapKeys(controllers)))
		}
		return true, ""
	})
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Broker returns broker id.
func (c *Cluster) Broker(id int32) *ClusterBroker {
	c.t.Helper()
	if id < 1 || int(id) > len(c.Brokers) {
		c.t.Fatalf("cluster: no broker %d", id)
	}
	return c.Brokers[id-1]
}

// Running returns the brokers whose process is running.
func (c *Cluster) Running() []*ClusterBroker {
	var out []*ClusterBroker
	for _, b := range c.Brokers {
		if b.Running() {
			out = append(out, b)
		}
	}
	return out
}

func (c *Cluster) runningIDs() []int32 {
	var ids []int32
	for _, b := range c.Running() {
		ids = append(ids, b.ID)
	}
	return ids
}

// Bootstrap is what clients bootstrap from: every broker's client link
// (its bound listener with clusterOptions.direct).
func (c *Cluster) Bootstrap() []string {
	var out []string
	for _, b := range c.Brokers {
		if c.opts.direct {
			out = append(out, b.Addr)
		} else {
			out = append(out, b.Client.Addr())
		}
	}
	return out
}

// Kill9 SIGKILLs broker id.
func (c *Cluster) Kill9(id int32) {
	c.t.Helper()
	c.t.Logf("cluster: kill -9 broker %d", id)
	c.Broker(id).Kill9()
}

// Stop SIGTERMs broker id and waits for it to exit 0 (a controlled
// shutdown); it returns how long that took.
func (c *Cluster) Stop(id int32) time.Duration {
	c.t.Helper()
	c.t.Logf("cluster: SIGTERM broker %d", id)
	took, err := c.Broker(id).Stop(clusterStopTimeout)
	if err != nil {
		c.t.Fatalf("broker %d: %v", id, err)
	}
	c.t.Logf("cluster: broker %d exited %v after SIGTERM", id, took.Round(time.Millisecond))
	return took
}

// Start starts a stopped broker again (same data dir, ports and links).
func (c *Cluster) Start(id int32) {
	c.t.Helper()
	c.t.Logf("cluster: start broker %d", id)
	c.Broker(id).Start()
}

// Restart SIGTERMs broker id if it runs, then starts it.
func (c *Cluster) Restart(id int32) {
	c.t.Helper()
	if c.Broker(id).Running() {
		c.Stop(id)
	}
	c.Start(id)
}

// WipeDataDir deletes the data directory of a stopped broker: a lost disk.
func (c *Cluster) WipeDataDir(id int32) {
	c.t.Helper()
	b := c.Broker(id)
	if b.Running() {
		c.t.Fatalf("cluster: WipeDataDir of running broker %d", id)
	}
	c.t.Logf("cluster: deleting the data dir of broker %d (%s)", id, b.DataDir)
	if err := os.RemoveAll(b.DataDir); err != nil {
		c.t.Fatalf("removing %s: %v", b.DataDir, err)
	}
}

// links returns every proxy on a link of broker id: its client link, the
// links from and to the other brokers, and its etcd links.
func (c *Cluster) links(id int32, client bool) []*faultproxy.Proxy {
	b := c.Broker(id)
	var ps []*faultproxy.Proxy
	if client {
		ps = append(ps, b.Client)
	}
	for _, p := range b.From {
		ps = append(ps, p)
	}
	for _, other := range c.Brokers {
		if other.ID != id {
			ps = append(ps, other.From[id])
		}
	}
	return append(ps, b.Etcd...)
}

// Isolate blackholes every link of broker id, clients' included.
func (c *Cluster) Isolate(id int32) {
	c.t.Helper()
	c.t.Logf("cluster: isolating broker %d (all links blackholed)", id)
	for _, p := range c.links(id, true) {
		p.Blackhole()
	}
}

// IsolateFromCluster blackholes the links between broker id and the other
// brokers and etcd; clients still reach it.
func (c *Cluster) IsolateFromCluster(id int32) {
	c.t.Helper()
	if c.etcd == nil {
		c.t.Fatalf("cluster: IsolateFromCluster needs the external etcd (not combined mode)")
	}
	c.t.Logf("cluster: isolating broker %d from the other brokers and etcd (clients still reach it)", id)
	for _, p := range c.links(id, false) {
		p.Blackhole()
	}
}

// Heal lets every link of broker id pass again.
func (c *Cluster) Heal(id int32) {
	c.t.Helper()
	c.t.Logf("cluster: healing the links of broker %d", id)
	for _, p := range c.links(id, true) {
		p.Pass()
	}
}

// WaitFor polls cond every 100 ms until it reports true, and fails the test
// with what and cond's last detail after timeout.
func (c *Cluster) WaitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	c.t.Helper()
	waitFor(c.t, timeout, what, cond)
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---- queries -----------------------------------------------------------------

// adminClient is a client whose only seed is the broker's bound EXTERNAL
// port; requests go to that seed.
func (b *ClusterBroker) adminClient() (*kgo.Client, error) {
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	if b.admin == nil {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.DialTimeout(time.Second), kgo.RetryTimeout(0), kgo.RequestRetries(0))
		if err != nil {
			return nil, err
		}
		b.admin = cl
	}
	return b.admin, nil
}

func (b *ClusterBroker) closeAdmin() {
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	if b.admin != nil {
		b.admin.Close()
		b.admin = nil
	}
}

// Request sends one request to this broker (not via its proxies).
func (b *ClusterBroker) Request(req kmsg.Request) (kmsg.Response, error) {
	if !b.Running() {
		return nil, fmt.Errorf("broker %d is not running", b.ID)
	}
	cl, err := b.adminClient()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterQueryTimeout)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil && ctx.Err() == nil && b.Running() {
		// Once more: the first request after a restart meets the
		// previous process's dead connection.
		resp, err = cl.SeedBrokers()[0].Request(ctx, req)
	}
	return resp, err
}

// requestAt sends one request to the broker at addr with a client of its
// own that knows only addr.
func requestAt(addr string, req kmsg.Request) (kmsg.Response, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(time.Second), kgo.RetryTimeout(0), kgo.RequestRetries(0))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clusterQueryTimeout)
	defer cancel()
	return cl.SeedBrokers()[0].Request(ctx, req)
}

// Metadata asks this broker for the metadata of topics (nil: no topics).
func (b *ClusterBroker) Metadata(topics []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	if topics == nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	for _, tp := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(tp)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := b.Request(req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// PartitionView is one broker's view of one partition.
type PartitionView struct {
	From        int32 // the broker that answered
	Leader      int32
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
	Offline     []int32
	Err         error
}

func (v PartitionView) String() string {
	return fmt.Sprintf("leader %d epoch %d replicas %v isr %v offline %v (per broker %d)", v.Leader, v.LeaderEpoch, v.Replicas, v.ISR, v.Offline, v.From)
}

func (v PartitionView) inISR(id int32) bool { return slices.Contains(v.ISR, id) }

// Partition asks this broker about one partition.
func (b *ClusterBroker) Partition(topic string, p int32) PartitionView {
	v := PartitionView{From: b.ID, Leader: -1, LeaderEpoch: -1}
	m, err := b.Metadata([]string{topic})
	if err != nil {
		v.Err = err
		return v
	}
	for _, mt := range m.Topics {
		if mt.Topic == nil || *mt.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(mt.ErrorCode); err != nil {
			v.Err = err
			return v
		}
		for _, mp := range mt.Partitions {
			if mp.Partition != p {
				continue
			}
			v.Leader, v.LeaderEpoch = mp.Leader, mp.LeaderEpoch
			v.Replicas, v.ISR, v.Offline = mp.Replicas, mp.ISR, mp.OfflineReplicas
			v.Err = kerr.ErrorForCode(mp.ErrorCode)
			if errors.Is(v.Err, kerr.LeaderNotAvailable) {
				v.Err = nil // leader -1: a valid answer
			}
			return v
		}
	}
	v.Err = fmt.Errorf("broker %d: no partition %s/%d in metadata", b.ID, topic, p)
	return v
}

// Partition is the newest view of a partition among the running brokers
// (the highest leader epoch; brokers whose snapshot lags show older ones).
// skip lists brokers not to ask (an isolated one, whose view is stale).
func (c *Cluster) Partition(topic string, p int32, skip ...int32) PartitionView {
	best := PartitionView{Leader: -1, LeaderEpoch: -1, From: -1, Err: errors.New("no running broker answered")}
	for _, b := range c.Running() {
		if slices.Contains(skip, b.ID) {
			continue
		}
		v := b.Partition(topic, p)
		if v.Err != nil {
			if best.From < 0 {
				best.Err = v.Err
			}
			continue
		}
		if best.From < 0 || best.Err != nil || v.LeaderEpoch > best.LeaderEpoch {
			best = v
		}
	}
	return best
}

// Leader returns the leader and leader epoch of a partition (Partition).
func (c *Cluster) Leader(topic string, p int32, skip ...int32) (int32, int32) {
	v := c.Partition(topic, p, skip...)
	return v.Leader, v.LeaderEpoch
}

// Controller returns the controller the running brokers (but skip) agree
// on, or -1 while they do not agree.
func (c *Cluster) Controller(skip ...int32) int32 {
	id := int32(-2)
	for _, b := range c.Running() {
		if slices.Contains(skip, b.ID) {
			continue
		}
		m, err := b.Metadata(nil)
		if err != nil {
			return -1
		}
		if id != -2 && m.ControllerID != id {
			return -1
		}
		id = m.ControllerID
	}
	if id == -2 {
		return -1
	}
	return id
}

// WaitLeader waits until the newest view of the partition has a live leader
// other than not (0: any) with an epoch above minEpoch, and returns it.
func (c *Cluster) WaitLeader(topic string, p int32, not int32, minEpoch int32, timeout time.Duration, skip ...int32) PartitionView {
	c.t.Helper()
	var got PartitionView
	c.WaitFor(timeout, fmt.Sprintf("a new leader of %s/%d (not broker %d, epoch above %d)", topic, p, not, minEpoch), func() (bool, string) {
		got = c.Partition(topic, p, skip...)
		if got.Err != nil {
			return false, got.Err.Error()
		}
		if got.Leader < 0 || got.Leader == not || got.LeaderEpoch <= minEpoch || !c.Broker(got.Leader).Running() {
			return false, got.String()
		}
		return true, ""
	})
	return got
}

// WaitFullISR waits until every partition of topic has all its replicas in
// its ISR, as every running broker's metadata says (a restarted broker has
// caught up and rejoined).
func (c *Cluster) WaitFullISR(topic string, partitions int32, timeout time.Duration) {
	c.t.Helper()
	c.WaitFor(timeout, fmt.Sprintf("every replica of %s back in its ISR", topic), func() (bool, string) {
		for p := int32(0); p < partitions; p++ {
			for _, b := range c.Running() {
				v := b.Partition(topic, p)
				if v.Err != nil {
					return false, fmt.Sprintf("partition %d: %v", p, v.Err)
				}
				if len(v.Replicas) == 0 || len(v.ISR) != len(v.Replicas) || v.Leader < 0 {
					return false, fmt.Sprintf("partition %d: %s", p, v)
				}
			}
		}
		return true, ""
	})
}

// CreateTopic creates a topic through broker 1..n (the first running one):
// partitions x rf, or the manual assignment if given, with configs.
func (c *Cluster) CreateTopic(topic string, partitions int32, rf int16, configs map[string]string, assignment [][]int32) {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions, rt.ReplicationFactor = partitions, rf
	if assignment != nil {
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		for p, replicas := range assignment {
			ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			ra.Partition = int32(p)
			ra.Replicas = replicas
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		}
	}
	for k, v := range configs {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, cfg)
	}
	req.Topics = append(req.Topics, rt)
	running := c.Running()
	if len(running) == 0 {
		c.t.Fatalf("CreateTopic %s: no broker runs", topic)
	}
	resp, err := running[0].Request(req)
	if err != nil {
		c.t.Fatalf("CreateTopic %s: %v", topic, err)
	}
	for _, t := range resp.(*kmsg.CreateTopicsResponse).Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			msg := ""
			if t.ErrorMessage != nil {
				msg = *t.ErrorMessage
			}
			c.t.Fatalf("CreateTopic %s: %v: %s", topic, err, msg)
		}
	}
	// Every broker must know it (and each partition a leader) before the
	// test goes on.
	n := partitions
	if assignment != nil {
		n = int32(len(assignment))
	}
	c.WaitFor(clusterFormTimeout, "topic "+topic+" on every broker", func() (bool, string) {
		for _, b := range c.Running() {
			for p := int32(0); p < n; p++ {
				v := b.Partition(topic, p)
				if v.Err != nil {
					return false, v.Err.Error()
				}
				if v.Leader < 0 {
					return false, fmt.Sprintf("partition %d: %s", p, v)
				}
			}
		}
		return true, ""
	})
}

// ---- what the binary supports ------------------------------------------------

// clusterOnlyProperties are properties the cluster tests set that samsa may
// not know yet (they come with the control-plane work); the harness sets
// only those the binary accepts, and says so.
var clusterOnlyProperties = []string{"broker.session.timeout.ms"}

var (
	knownPropsOnce sync.Once
	knownProps     map[string]bool
	knownPropsErr  error
)

// clusterPropertiesKnown reports which clusterOnlyProperties the binary
// accepts. It asks the binary itself: a configuration error exits 2 before
// anything starts, and names every unknown property, so one run with the
// properties and a key that can never exist tells which are known.
func clusterPropertiesKnown(t testing.TB) map[string]bool {
	t.Helper()
	bin := samsaBinary(t)
	knownPropsOnce.Do(func() {
		args := []string{"--data-dir", filepath.Join(os.TempDir(), "samsa-compat-probe-never-created")}
		for _, p := range clusterOnlyProperties {
			args = append(args, "--override", p+"=3000")
		}
		args = append(args, "--override", "samsa.compat.harness.probe=1")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "samsa.compat.harness.probe") {
			knownPropsErr = fmt.Errorf("probing the properties samsa knows: %v\n%s", err, out)
			return
		}
		knownProps = make(map[string]bool)
		for _, p := range clusterOnlyProperties {
			knownProps[p] = !strings.Contains(string(out), strconv.Quote(p))
		}
	})
	if knownPropsErr != nil {
		t.Fatalf("%v", knownPropsErr)
	}
	return knownProps
}

// ---- helpers for the scenarios ----------------------------------------------

// clusterClient is a client bootstrapped from every broker's client link.
func (c *Cluster) clusterClient(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...)}, opts...)...)
	if err != nil {
		c.t.Fatalf("kgo.NewClient: %v", err)
	}
	return cl
}
