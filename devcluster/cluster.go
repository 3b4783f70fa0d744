// Package devcluster runs samsa clusters inside one process, for
// development and tests: `samsa dev`, `samsa serve --ephemeral`, the
// admin API's virtual clusters and the samsatest package are built on it.
//
// A Cluster is N real brokers (package broker, the production code path)
// sharing one etcd, with ephemeral settings: logs that never fsync, an
// etcd that never fsyncs (etcd.go), the smallest internal topics. The
// brokers of a cluster share one virtual clock (broker.VirtualClock) and
// one set of fault-injection rules (broker.Faults), and a broker can be
// killed and restarted on its data directory. A Host serves many clusters
// from one process and one etcd, each with its own listener ports, cluster
// id, etcd prefix and data directory (host.go).
//
// Nothing here removes a directory it did not create: a Cluster writes
// under Options.DataDir and never removes it; a Host creates its root and
// one directory per cluster under it, each marked as its own, and removes
// only those (host.go).
package devcluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/samsa-io/samsa/broker"
	"github.com/samsa-io/samsa/broker/config"
)

// Defaults are the broker properties a dev cluster sets before
// Options.Properties: the smallest internal topics (one partition each
// instead of 50, which would be 100 logs to create at start-up), no
// initial rebalance delay (as Kafka's Docker quick-starts set it), and the
// page cache left to the kernel instead of a hot window per log.
var Defaults = map[string]string{
	"offsets.topic.num.partitions":         "1",
	"transaction.state.log.num.partitions": "1",
	"group.initial.rebalance.delay.ms":     "0",
	"log.cache.hot.bytes":                  "0",
}

// Options configure a Cluster.
type Options struct {
	// ID names the cluster in logs and in the Host; default "default".
	ID string
	// Brokers is the number of brokers (default 1), with ids 1..N.
	Brokers int
	// Host is the listeners' host (default 127.0.0.1).
	Host string
	// Port is the first broker's port, the others follow (Port+i); 0
	// lets each broker pick a free port (kept across restarts).
	Port int
	// Properties are broker properties for every broker, over Defaults.
	// listeners and advertised.listeners are allowed with one broker only
	// (they replace the Host/Port listener); node.id, log.dirs and the etcd
	// properties are the cluster's own and refused.
	Properties map[string]string
	// DataDir is where the brokers' data directories go (broker-<id>)
	// and, without EtcdEndpoints, the etcd's. Required; never removed.
	DataDir string
	// EtcdEndpoints is a shared etcd (a Host's); empty starts one for the
	// cluster in DataDir/etcd.
	EtcdEndpoints []string
	// EtcdPrefix is the brokers' etcd.prefix (default /samsa/).
	EtcdPrefix string
	// Durable keeps fsync on in the logs (off by default: dev data is
	// thrown away).
	Durable bool
	// Faults are installed before the brokers start.
	Faults []broker.Fault
	Logger zerolog.Logger
}

// Broker states.
const (
	StateRunning = "running"
	StateStopped = "stopped" // closed cleanly (deregistered)
	StateKilled  = "killed"  // killed (registration left to expire)
)

// Cluster is a running dev cluster. Safe for concurrent use.
type Cluster struct {
	opts      Options
	log       zerolog.Logger
	etcd      *Etcd // nil with Options.EtcdEndpoints
	endpoints []string
	clock     *broker.VirtualClock
	faults    *broker.Faults
	clusterID string

	// mu serialises starts, stops and Close; it is not held by readers of
	// the running brokers, which take snapshots under it.
	mu      sync.Mutex
	members []*member // guarded by mu
	closed  bool      // guarded by mu
}

// member is one broker of the cluster, running or not.
type member struct {
	id    int32
	props map[string]string
	port  int            // the bound port once started (0 before, with Options.Port 0)
	b     *broker.Broker // nil while not running
	state string
}

// ErrNoBroker is returned for a broker id the cluster does not have.
var ErrNoBroker = errors.New("devcluster: no such broker")

// ErrBadOptions wraps every refusal of Options.
var ErrBadOptions = errors.New("devcluster: bad options")

// reserved are the properties a dev cluster sets itself.
var reserved = []string{"node.id", "broker.id", "log.dirs", "log.dir", "etcd.endpoints", "etcd.prefix"}

// Start starts a cluster and returns once every broker serves clients
// (broker.Ready).
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.ID == "" {
		opts.ID = "default"
	}
	if opts.Brokers <= 0 {
		opts.Brokers = 1
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.DataDir == "" {
		return nil, fmt.Errorf("%w: no DataDir", ErrBadOptions)
	}
	if opts.Port < 0 || opts.Port+opts.Brokers-1 > 65535 {
		return nil, fmt.Errorf("%w: ports %d..%d", ErrBadOptions, opts.Port, opts.Port+opts.Brokers-1)
	}
	for _, k := range reserved {
		if _, ok := opts.Properties[k]; ok {
			return nil, fmt.Errorf("%w: property %s is set by the dev cluster", ErrBadOptions, k)
		}
	}
	_, hasListeners := opts.Properties["listeners"]
	_, hasAdvertised := opts.Properties["advertised.listeners"]
	if (hasListeners || hasAdvertised) && opts.Brokers > 1 {
		return nil, fmt.Errorf("%w: listeners and advertised.listeners are for a one-broker cluster (with more, use Host and Port)", ErrBadOptions)
	}
	c := &Cluster{
		opts:      opts,
		log:       opts.Logger.With().Str("cluster", opts.ID).Logger(),
		endpoints: opts.EtcdEndpoints,
		clock:     broker.NewVirtualClock(),
		faults:    broker.NewFaults(),
	}
	for _, f := range opts.Faults {
		if _, err := c.faults.Add(f); err != nil {
			return nil, err
		}
	}
	if len(c.endpoints) == 0 {
		e, err := StartEtcd(filepath.Join(opts.DataDir, "etcd"), c.log)
		if err != nil {
			return nil, err
		}
		c.etcd = e
		c.endpoints = []string{e.Endpoint()}
	}
	for i := range opts.Brokers {
		id := int32(i + 1)
		m := &member{id: id, state: StateStopped, props: maps.Clone(Defaults)}
		maps.Copy(m.props, opts.Properties)
		m.props["node.id"] = strconv.Itoa(int(id))
		m.props["log.dirs"] = filepath.Join(opts.DataDir, "broker-"+strconv.Itoa(int(id)))
		m.props["etcd.endpoints"] = strings.Join(c.endpoints, ",")
		if opts.EtcdPrefix != "" {
			m.props["etcd.prefix"] = opts.EtcdPrefix
		}
		if !hasListeners {
			if opts.Port > 0 {
				m.port = opts.Port + i
			}
			m.props["listeners"] = "PLAINTEXT://" + net.JoinHostPort(opts.Host, strconv.Itoa(m.port))
		}
		c.members = append(c.members, m)
	}
	c.mu.Lock()
	err := c.startAllLocked(ctx)
	c.mu.Unlock()
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := c.WaitReady(ctx); err != nil {
		c.Close()
		return nil, err
	}
	c.clusterID = c.members[0].b.Store().ClusterID()
	c.log.Info().Str("bootstrap", c.Bootstrap()).Int("brokers", opts.Brokers).Str("cluster_id", c.clusterID).
		Msg("dev cluster started")
	return c, nil
}

// startAllLocked starts the first broker (which creates the cluster and
// its internal topics), then the others together.
func (c *Cluster) startAllLocked(ctx context.Context) error {
	if err := c.startLocked(ctx, c.members[0]); err != nil {
		return err
	}
	rest := c.members[1:]
	errs := make([]error, len(rest))
	var wg sync.WaitGroup
	for i, m := range rest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.startLocked(ctx, m)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// startLocked starts one broker on its data directory and port (mu held,
// or the caller owns m exclusively).
func (c *Cluster) startLocked(ctx context.Context, m *member) error {
	props := maps.Clone(m.props)
	if _, own := c.opts.Properties["listeners"]; !own {
		props["listeners"] = "PLAINTEXT://" + net.JoinHostPort(c.opts.Host, strconv.Itoa(m.port))
	}
	cfg, err := config.NewBroker(props)
	if err != nil {
		return fmt.Errorf("devcluster: broker %d: %w", m.id, err)
	}
	b, err := broker.New(cfg, c.log.With().Int32("broker_id", m.id).Logger())
	if err != nil {
		return err
	}
	if err := b.SetDevOptions(broker.DevOptions{Clock: c.clock, Faults: c.faults, NoSync: !c.opts.Durable}); err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return fmt.Errorf("devcluster: start broker %d: %w", m.id, err)
	}
	if ta, ok := b.Addrs()[0].(*net.TCPAddr); ok && m.port == 0 {
		m.port = ta.Port
	}
	m.b, m.state = b, StateRunning
	return nil
}

// WaitReady waits until every running broker is ready (broker.Ready).
func (c *Cluster) WaitReady(ctx context.Context) error {
	delay := time.Millisecond
	for {
		var notReady error
		for _, b := range c.running() {
			if err := b.Ready(); err != nil {
				notReady = err
				break
			}
		}
		if notReady == nil {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("devcluster: %w (%w)", ctx.Err(), notReady)
		case <-t.C:
		}
		delay = min(2*delay, 20*time.Millisecond)
	}
}

// running is the brokers that run now.
func (c *Cluster) running() []*broker.Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*broker.Broker
	for _, m := range c.members {
		if m.b != nil {
			out = append(out, m.b)
		}
	}
	return out
}

// ID is the cluster's name (Options.ID).
func (c *Cluster) ID() string { return c.opts.ID }

// ClusterID is the Kafka cluster id.
func (c *Cluster) ClusterID() string { return c.clusterID }

// DataDir is Options.DataDir.
func (c *Cluster) DataDir() string { return c.opts.DataDir }

// Addrs are the addresses of the running brokers, by broker id.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, b := range c.running() {
		out = append(out, b.KafkaAddr())
	}
	return out
}

// Bootstrap is Addrs joined with commas.
func (c *Cluster) Bootstrap() string { return strings.Join(c.Addrs(), ",") }

// Broker returns the running broker with this id, nil if it is not
// running.
func (c *Cluster) Broker(id int32) *broker.Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		if m.id == id {
			return m.b
		}
	}
	return nil
}

// Running returns the running brokers.
func (c *Cluster) Running() []*broker.Broker { return c.running() }

// BrokerStatus is one broker as Brokers lists it.
type BrokerStatus struct {
	ID    int32  `json:"id"`
	Addr  string `json:"addr"` // the listener (host:port), also while not running
	State string `json:"state"`
}

// Brokers lists every broker with its state.
func (c *Cluster) Brokers() []BrokerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]BrokerStatus, 0, len(c.members))
	for _, m := range c.members {
		addr := net.JoinHostPort(c.opts.Host, strconv.Itoa(m.port))
		if m.b != nil {
			addr = m.b.KafkaAddr()
		}
		out = append(out, BrokerStatus{ID: m.id, Addr: addr, State: m.state})
	}
	return out
}

// Faults is the cluster's fault-injection rules (shared by its brokers).
func (c *Cluster) Faults() *broker.Faults { return c.faults }

// Clock is the cluster's virtual clock (shared by its brokers).
func (c *Cluster) Clock() *broker.VirtualClock { return c.clock }

// AdvanceClock moves the cluster's clock forward by d and runs at once
// what the new time expires on every running broker (retention, segment
// rolls, offset expiry: broker.RunTimeChecks); group session and rebalance
// timeouts fire as clock timers. It returns the new time.
func (c *Cluster) AdvanceClock(ctx context.Context, d time.Duration) time.Time {
	now := c.clock.Advance(d)
	for _, b := range c.running() {
		b.RunTimeChecks(ctx)
	}
	return now
}

// Kill kills a broker: it stops serving at once and does not deregister,
// as a crash looks to the others (broker.Kill).
func (c *Cluster) Kill(id int32) error { return c.stop(id, true) }

// Stop closes a broker cleanly (it deregisters).
func (c *Cluster) Stop(id int32) error { return c.stop(id, false) }

func (c *Cluster) stop(id int32, kill bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.memberLocked(id)
	if m == nil {
		return fmt.Errorf("%w: %d", ErrNoBroker, id)
	}
	if m.b == nil {
		return nil
	}
	var err error
	if kill {
		err = m.b.Kill()
		m.state = StateKilled
	} else {
		err = m.b.Close()
		m.state = StateStopped
	}
	m.b = nil
	c.log.Info().Int32("broker_id", id).Str("state", m.state).Msg("dev cluster broker stopped")
	return err
}

// StartBroker starts a broker that is not running, on its data directory
// and port, and waits until it is ready.
func (c *Cluster) StartBroker(ctx context.Context, id int32) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed
	}
	m := c.memberLocked(id)
	if m == nil {
		c.mu.Unlock()
		return fmt.Errorf("%w: %d", ErrNoBroker, id)
	}
	if m.b != nil {
		c.mu.Unlock()
		return nil
	}
	err := c.startLocked(ctx, m)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.log.Info().Int32("broker_id", id).Msg("dev cluster broker started")
	return c.WaitReady(ctx)
}

// Restart kills (kill) or stops a broker and starts it again.
func (c *Cluster) Restart(ctx context.Context, id int32, kill bool) error {
	if err := c.stop(id, kill); err != nil {
		return err
	}
	return c.StartBroker(ctx, id)
}

func (c *Cluster) memberLocked(id int32) *member {
	for _, m := range c.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

// Close stops every broker and the cluster's own etcd. It does not remove
// the data directory (its owner does). Only the first call does anything.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	var errs []error
	// The brokers deregister through etcd: before it stops.
	for _, m := range c.members {
		if m.b != nil {
			errs = append(errs, m.b.Close())
			m.b, m.state = nil, StateStopped
		}
	}
	c.mu.Unlock()
	if c.etcd != nil {
		c.etcd.Close()
	}
	c.faults.Clear() // ends stalls nothing waits on any more
	return errors.Join(errs...)
}
