package devcluster

// The dev clusters' etcd: one single-member embedded etcd per Cluster (or
// per Host, shared by its virtual clusters under their own prefixes),
// tuned for throw-away state: no fsync at all (etcd's unsafe-no-fsync),
// small snapshots, and the fast first election of the broker's own
// embedded etcd (coordinator/embedded.go). The brokers reach it as an
// external etcd (etcd.endpoints), the same client code path as a real
// cluster's.

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcdReadyTimeout bounds the wait for the member to elect itself.
const etcdReadyTimeout = 30 * time.Second

// Etcd is a running single-member etcd for dev clusters.
type Etcd struct {
	e        *embed.Etcd
	endpoint string
	closing  *atomic.Bool
	// Ready is how long the member took from StartEtcd to serving.
	Ready time.Duration
}

// StartEtcd starts a member with its data in dir on free loopback ports,
// retrying with other ports if one was taken meanwhile.
func StartEtcd(dir string, log zerolog.Logger) (*Etcd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devcluster: etcd dir: %w", err)
	}
	var lastErr error
	for range 5 {
		e, err := startEtcdOnce(dir, log)
		if err == nil {
			return e, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("devcluster: start etcd in %s: %w", dir, lastErr)
}

func startEtcdOnce(dir string, log zerolog.Logger) (*Etcd, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	curl := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))}
	purl := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))}
	cfg := embed.NewConfig()
	cfg.Name = "samsa-dev"
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{curl}
	cfg.AdvertiseClientUrls = []url.URL{curl}
	cfg.ListenPeerUrls = []url.URL{purl}
	cfg.AdvertisePeerUrls = []url.URL{purl}
	cfg.InitialCluster = cfg.Name + "=" + purl.String()
	cfg.InitialClusterToken = "samsa-dev"
	cfg.ClusterState = embed.ClusterStateFlagNew
	// The broker's embedded etcd's timing: a single member elects itself
	// within 1..5 ticks of 10 ms.
	cfg.TickMs = 10
	cfg.ElectionMs = 50
	cfg.InitialElectionTickAdvance = true
	// Throw-away state: nothing is fsynced, and the raft log kept in
	// memory between snapshots is short.
	cfg.UnsafeNoFsync = true
	cfg.SnapshotCount = 2000
	cfg.SnapshotCatchUpEntries = 100
	cfg.QuotaBackendBytes = 1 << 30
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "10m"
	cfg.EnableGRPCGateway = false
	cfg.EnablePprof = false
	cfg.ListenMetricsUrls = nil
	cfg.Metrics = "basic"
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	closing := new(atomic.Bool)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(&zapToZerolog{
		log: log.With().Str("component", "etcd").Logger(), closing: closing}))

	start := time.Now()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(etcdReadyTimeout)
	defer t.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		closing.Store(true)
		e.Close()
		return nil, fmt.Errorf("etcd failed: %w", err)
	case <-t.C:
		closing.Store(true)
		e.Close()
		return nil, fmt.Errorf("etcd not ready after %s", etcdReadyTimeout)
	}
	return &Etcd{e: e, endpoint: curl.Host, closing: closing, Ready: time.Since(start)}, nil
}

// Endpoint is the client address (host:port).
func (e *Etcd) Endpoint() string { return e.endpoint }

// Close stops the member and waits until it has stopped.
func (e *Etcd) Close() {
	e.closing.Store(true)
	e.e.Close()
	<-e.e.Server.StopNotify()
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("devcluster: find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// zapToZerolog writes etcd's error-level zap entries to zerolog; once the
// member is closing, at debug (its shutdown reports "server closed" as an
// error).
type zapToZerolog struct {
	log     zerolog.Logger
	fields  []zapcore.Field
	closing *atomic.Bool
}

func (c *zapToZerolog) Enabled(l zapcore.Level) bool { return l >= zapcore.ErrorLevel }

func (c *zapToZerolog) With(fields []zapcore.Field) zapcore.Core {
	cc := *c
	cc.fields = append(append([]zapcore.Field(nil), c.fields...), fields...)
	return &cc
}

func (c *zapToZerolog) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *zapToZerolog) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	lvl := zerolog.ErrorLevel
	if c.closing.Load() || ent.Message == "failed to update storage version" {
		lvl = zerolog.DebugLevel
	}
	c.log.WithLevel(lvl).Fields(enc.Fields).Msg(ent.Message)
	return nil
}

func (c *zapToZerolog) Sync() error { return nil }

var errClosed = errors.New("devcluster: closed")
