// Package samsatest starts real samsa brokers inside a Go test: the same
// broker, storage and coordinator code as `samsa serve`, an embedded etcd
// of the test's own, data in t.TempDir(), everything stopped in t.Cleanup.
//
//	func TestOrders(t *testing.T) {
//		t.Parallel()
//		c := samsatest.Start(t, samsatest.Topic("orders", 3))
//		cl := c.Client(kgo.DefaultProduceTopic("orders"))
//		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
//			t.Fatal(err)
//		}
//	}
//
// Every cluster has its own ports, etcd and directories, so any number run
// side by side in one test binary (t.Parallel). A cluster can be made to
// misbehave: fault rules (Fault, c.Faults()), a virtual clock that moves
// forward on demand (c.Advance) so that retention, segment rolls, group
// session timeouts and offset expiry happen without waiting, and brokers
// killed and restarted (c.Kill, c.StartBroker).
//
// Data is not fsynced (it lives as long as the test); a broker is ready in
// well under 100 ms on a laptop (BenchmarkStart).
package samsatest

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/broker"
	"github.com/samsa-io/samsa/devcluster"
)

// startTimeout bounds Start and the topic creation.
const startTimeout = 60 * time.Second

// Option configures Start.
type Option func(*settings)

type settings struct {
	opts   devcluster.Options
	topics []topicSpec
	logs   bool
}

type topicSpec struct {
	name       string
	partitions int32
	rf         int16
	configs    map[string]*string
}

// Brokers sets the number of brokers (default 1). Until replication lands
// (the cluster issue), topics are not replicated between them.
func Brokers(n int) Option { return func(s *settings) { s.opts.Brokers = n } }

// Port makes the brokers listen on 127.0.0.1:port, port+1, ... instead of
// free ports.
func Port(port int) Option { return func(s *settings) { s.opts.Port = port } }

// Property sets a broker property on every broker (Kafka's names:
// "auto.create.topics.enable", "log.retention.ms", ...).
func Property(key, value string) Option {
	return func(s *settings) {
		if s.opts.Properties == nil {
			s.opts.Properties = map[string]string{}
		}
		s.opts.Properties[key] = value
	}
}

// Topic creates a topic once the brokers are ready (replication factor 1);
// configs are "key=value" topic configs ("retention.ms=1000").
func Topic(name string, partitions int32, configs ...string) Option {
	return func(s *settings) {
		ts := topicSpec{name: name, partitions: partitions, rf: 1, configs: map[string]*string{}}
		for _, kv := range configs {
			k, v, _ := strings.Cut(kv, "=")
			ts.configs[k] = &v
		}
		s.topics = append(s.topics, ts)
	}
}

// Fault installs a fault rule before the brokers start (see broker.Fault;
// c.Faults() adds and removes them later).
func Fault(f broker.Fault) Option {
	return func(s *settings) { s.opts.Faults = append(s.opts.Faults, f) }
}

// Logs sends the brokers' logs to t.Log (also on with SAMSA_TEST_LOG=1).
func Logs() Option { return func(s *settings) { s.logs = true } }

// Cluster is a started cluster (devcluster.Cluster: Faults, Clock, Kill,
// Stop, StartBroker, Restart, Broker, Bootstrap, ...) with helpers for the
// test.
type Cluster struct {
	*devcluster.Cluster
	t testing.TB

	mu      sync.Mutex
	clients []*kgo.Client // guarded by mu; closed in cleanup
}

// Start starts a cluster for t, stopped when the test ends. It fails the
// test if the cluster cannot start.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	var s settings
	for _, o := range opts {
		o(&s)
	}
	s.opts.DataDir = t.TempDir()
	s.opts.Logger = zerolog.Nop()
	var tw *testWriter
	if s.logs || os.Getenv("SAMSA_TEST_LOG") != "" {
		tw = &testWriter{t: t}
		s.opts.Logger = zerolog.New(zerolog.ConsoleWriter{Out: tw, NoColor: true, TimeFormat: "15:04:05.000"}).With().Timestamp().Logger()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	dc, err := devcluster.Start(ctx, s.opts)
	if err != nil {
		tw.stop()
		t.Fatalf("samsatest: %v", err)
	}
	c := &Cluster{Cluster: dc, t: t}
	t.Cleanup(func() {
		c.closeClients()
		if err := dc.Close(); err != nil {
			t.Errorf("samsatest: close: %v", err)
		}
		tw.stop()
	})
	if len(s.topics) > 0 {
		if err := c.createTopics(ctx, s.topics); err != nil {
			t.Fatalf("samsatest: %v", err)
		}
	}
	return c
}

// Client returns a kgo client of the cluster (seeded with every broker),
// closed when the test ends.
func (c *Cluster) Client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Addrs()...)}, opts...)...)
	if err != nil {
		c.t.Fatalf("samsatest: client: %v", err)
	}
	c.mu.Lock()
	c.clients = append(c.clients, cl)
	c.mu.Unlock()
	return cl
}

// Admin returns a kadm client over a new Client.
func (c *Cluster) Admin(opts ...kgo.Opt) *kadm.Client {
	c.t.Helper()
	return kadm.NewClient(c.Client(opts...))
}

// AddFault installs a fault rule and returns its id; it fails the test if
// the rule is invalid.
func (c *Cluster) AddFault(f broker.Fault) string {
	c.t.Helper()
	added, err := c.Faults().Add(f)
	if err != nil {
		c.t.Fatalf("samsatest: %v", err)
	}
	return added.ID
}

// Advance moves the cluster's virtual clock forward and runs what the new
// time expires (devcluster.Cluster.AdvanceClock).
func (c *Cluster) Advance(d time.Duration) time.Time {
	return c.AdvanceClock(context.Background(), d)
}

func (c *Cluster) closeClients() {
	c.mu.Lock()
	cls := c.clients
	c.clients = nil
	c.mu.Unlock()
	for _, cl := range cls {
		cl.Close()
	}
}

// createTopics creates the topics with a client of its own and waits
// until every partition has a leader that serves it.
func (c *Cluster) createTopics(ctx context.Context, topics []topicSpec) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	names := make([]string, 0, len(topics))
	for _, ts := range topics {
		resp, err := adm.CreateTopic(ctx, ts.partitions, ts.rf, ts.configs, ts.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("create topic %s: %w", ts.name, err)
		}
		names = append(names, ts.name)
	}
	for {
		md, err := adm.Metadata(ctx, names...)
		if err == nil && topicsServed(md, names) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics %v have no leader yet: %w", names, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func topicsServed(md kadm.Metadata, names []string) bool {
	for _, n := range names {
		td, ok := md.Topics[n]
		if !ok || td.Err != nil {
			return false
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false
			}
		}
	}
	return true
}

// testWriter writes log lines to t.Log until stopped (t.Log after the test
// has ended panics).
type testWriter struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

var _ io.Writer = (*testWriter)(nil)

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}
