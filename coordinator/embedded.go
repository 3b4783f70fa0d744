package coordinator

// The embedded etcd: a single-node etcd that makes `samsa` work with no
// setup, or, in combined mode, this broker's member of an etcd cluster the
// brokers form among themselves (Kafka's combined broker+controller nodes).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const (
	embeddedName = "samsa"
	// embeddedStartAttempts bounds the retries when a port chosen as free
	// was taken by someone else before etcd bound it.
	embeddedStartAttempts = 5
	// embeddedReadyTimeout bounds the wait for the single member to elect
	// itself and serve.
	embeddedReadyTimeout = 30 * time.Second
	// Quota: a few GiB; samsa's metadata is tiny next to it, but consumer
	// offsets and transactions will live here too.
	embeddedQuotaBytes = 4 << 30
	// embeddedLockFile in the data dir is held while the etcd runs.
	embeddedLockFile = "samsa.lock"
	// quorumFile in the data dir of a combined-mode member records the
	// initial cluster it was created for; a single-node etcd has none.
	quorumFile = "samsa-quorum"
	// memberReadyTimeout bounds the wait of a combined-mode member for
	// its quorum (the other brokers starting) when the caller's context
	// has no deadline.
	memberReadyTimeout = 5 * time.Minute
)

// Member makes the embedded etcd one member of a multi-member etcd
// (combined mode): every broker runs one, and together they are the
// cluster's metadata quorum.
type Member struct {
	// Name is this member's name: the broker's node id.
	Name string
	// PeerListen is where the member listens for its peers (host:port,
	// the controller listener); PeerAdvertise where they reach it (its
	// voter address).
	PeerListen    string
	PeerAdvertise string
	// Peers are every member's name and advertised peer address, this
	// one's included: etcd's initial cluster.
	Peers []MemberPeer
}

// MemberPeer is one member of the initial cluster.
type MemberPeer struct {
	Name string
	Addr string // host:port
}

// initialCluster is etcd's --initial-cluster for m.
func (m *Member) initialCluster() string {
	parts := make([]string, len(m.Peers))
	for i, p := range m.Peers {
		parts[i] = p.Name + "=" + (&url.URL{Scheme: "http", Host: p.Addr}).String()
	}
	return strings.Join(parts, ",")
}

// embeddedEtcd is a running single-member etcd.
type embeddedEtcd struct {
	etcd      *embed.Etcd
	clientURL string
	peerURL   string
	ready     time.Duration // StartEtcd to ReadyNotify
	lock      *fileutil.LockedFile
	// closing turns etcd's shutdown chatter ("serving failed: server
	// closed", logged at error level) down to debug.
	closing *atomic.Bool
}

// startEmbedded starts a single-member etcd with its data in dir, listening
// for clients and peers on 127.0.0.1 ports that are free right now. The ports
// change at every start: a single member never dials its own peer URL, and
// on a restart etcd takes the member from the WAL and ignores the initial
// cluster, so the stale peer URL stored in the membership is harmless (see
// TestEmbeddedRestart). Fresh ports mean two samsa processes on one machine
// never collide, and no port is left for a stale process to hold.
func startEmbedded(ctx context.Context, dir string, member *Member, log zerolog.Logger) (*embeddedEtcd, error) {
	// etcd would block forever on the bbolt file lock of a data dir in use
	// by another process; fail at once instead.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("coordinator: embedded etcd dir: %w", err)
	}
	lock, err := fileutil.TryLockFile(filepath.Join(dir, embeddedLockFile), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		if errors.Is(err, fileutil.ErrLocked) {
			return nil, fmt.Errorf("coordinator: embedded etcd dir %s is in use by another samsa process", dir)
		}
		return nil, fmt.Errorf("coordinator: lock embedded etcd dir: %w", err)
	}
	if err := checkQuorumFile(dir, member); err != nil {
		lock.Close()
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < embeddedStartAttempts; attempt++ {
		e, err := startEmbeddedOnce(ctx, dir, member, log)
		if err == nil {
			e.lock = lock
			return e, nil
		}
		lastErr = err
		if !isAddrInUse(err) {
			break
		}
		log.Debug().Err(err).Int("attempt", attempt+1).Msg("embedded etcd port taken, retrying with new ports")
	}
	lock.Close()
	return nil, fmt.Errorf("coordinator: start embedded etcd in %s: %w", dir, lastErr)
}

func startEmbeddedOnce(ctx context.Context, dir string, member *Member, log zerolog.Logger) (*embeddedEtcd, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	curl := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))}
	purl := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))}

	cfg := embed.NewConfig()
	cfg.Name = embeddedName
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{curl}
	cfg.AdvertiseClientUrls = []url.URL{curl}
	cfg.ListenPeerUrls = []url.URL{purl}
	cfg.AdvertisePeerUrls = []url.URL{purl}
	cfg.InitialCluster = embeddedName + "=" + purl.String()
	cfg.InitialClusterToken = "samsa"
	cfg.ClusterState = embed.ClusterStateFlagNew // ignored once the WAL exists

	// A single member has nobody to wait for; what remains is its first
	// election: etcd fast-forwards a single member's clock to one tick
	// before the election timeout, which raft randomises over
	// [ElectionTicks, 2*ElectionTicks), so the wait is 1..ElectionTicks
	// ticks. 10 ms ticks with the smallest allowed ratio (5 ticks) give
	// 10-50 ms; shorter ticks cost idle CPU (a 1 ms tick: ~5% of a core,
	// 10 ms: ~1.5%). A single voter never loses leadership, so the short
	// election timeout has no downside.
	cfg.TickMs = 10
	cfg.ElectionMs = 50
	cfg.InitialElectionTickAdvance = true
	readyTimeout := embeddedReadyTimeout

	if member != nil {
		// Combined mode: this broker's member, reachable by the others at
		// its voter address. The client URL stays a fresh loopback port:
		// only this broker's own client uses it. etcd's default timing
		// (100 ms ticks, 1 s election timeout) tolerates loaded hosts; a
		// member waits for a quorum of the others to start.
		cfg.Name = member.Name
		lurl := url.URL{Scheme: "http", Host: member.PeerListen}
		aurl := url.URL{Scheme: "http", Host: member.PeerAdvertise}
		cfg.ListenPeerUrls = []url.URL{lurl}
		cfg.AdvertisePeerUrls = []url.URL{aurl}
		purl = aurl
		cfg.InitialCluster = member.initialCluster()
		sum := sha256.Sum256([]byte(cfg.InitialCluster))
		cfg.InitialClusterToken = "samsa-" + hex.EncodeToString(sum[:8])
		cfg.TickMs = 100
		cfg.ElectionMs = 1000
		cfg.InitialElectionTickAdvance = false
		readyTimeout = memberReadyTimeout
		if dl, ok := ctx.Deadline(); ok {
			readyTimeout = time.Until(dl)
		}
	}

	// Durability stays on (no UnsafeNoFsync). Small snapshot count keeps
	// the WAL replay on restart short.
	cfg.SnapshotCount = 10000
	cfg.SnapshotCatchUpEntries = 1000
	cfg.QuotaBackendBytes = embeddedQuotaBytes
	// The controller compacts the history (Config.CompactionInterval,
	// compact.go). etcd's own periodic compaction of what is older than
	// an hour stays as a backstop: with etcd.compaction.interval.ms=0, or
	// while no broker is the controller, the embedded etcd, which nothing
	// else compacts, still cannot fill its quota with old revisions.
	// Behind samsa's compactor it finds nothing left to do.
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"

	// Nothing that is not needed: no gateway, no pprof, no metrics listener.
	cfg.EnableGRPCGateway = false
	cfg.EnablePprof = false
	cfg.ListenMetricsUrls = nil
	cfg.Metrics = "basic"

	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	closing := new(atomic.Bool)
	zl := zap.New(&zerologCore{log: log.With().Str("component", "etcd").Logger(), min: zapcore.ErrorLevel, closing: closing})
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zl)

	start := time.Now()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	if member != nil {
		if err := writeQuorumFile(dir, member); err != nil {
			closing.Store(true)
			e.Close()
			return nil, err
		}
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		closing.Store(true)
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(readyTimeout):
		closing.Store(true)
		e.Close()
		if member != nil {
			return nil, fmt.Errorf("embedded etcd member %s found no quorum among %s within %s (are the other voters up?)",
				member.Name, cfg.InitialCluster, readyTimeout.Round(time.Second))
		}
		return nil, fmt.Errorf("embedded etcd not ready after %s", readyTimeout)
	}
	return &embeddedEtcd{etcd: e, clientURL: curl.String(), peerURL: purl.String(), ready: time.Since(start), closing: closing}, nil
}

// checkQuorumFile refuses to start an etcd data dir as something it was
// not created as: a single-node etcd's data (no quorum file, but a member
// directory) as a combined-mode member, a member's as a single node, or a
// member of one set of voters as a member of another. etcd itself would
// take the membership from its WAL and ignore the configuration.
func checkQuorumFile(dir string, member *Member) error {
	recorded, err := os.ReadFile(filepath.Join(dir, quorumFile))
	hasFile := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("coordinator: read %s: %w", filepath.Join(dir, quorumFile), err)
	}
	_, err = os.Stat(filepath.Join(dir, "member"))
	hasData := err == nil
	want := ""
	if member != nil {
		want = member.Name + " " + member.initialCluster()
	}
	switch {
	case member == nil && hasFile:
		return fmt.Errorf("coordinator: the embedded etcd in %s is member %s of a combined-mode quorum; "+
			"start this broker in combined mode again (process.roles=broker,controller with those controller.quorum.voters)",
			dir, strings.TrimSpace(string(recorded)))
	case member != nil && hasFile && strings.TrimSpace(string(recorded)) != want:
		return fmt.Errorf("coordinator: the embedded etcd in %s was created as member %s, not as member %s: "+
			"controller.quorum.voters and node.id must stay as they were (the quorum's membership cannot change yet)",
			dir, strings.TrimSpace(string(recorded)), want)
	case member != nil && !hasFile && hasData:
		return fmt.Errorf("coordinator: the embedded etcd in %s holds a single-node etcd's data; it cannot become a member of "+
			"the combined-mode quorum %s (start without combined mode, or give the broker a new data directory)", dir, want)
	}
	return nil
}

func writeQuorumFile(dir string, member *Member) error {
	path := filepath.Join(dir, quorumFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.WriteFile(path, []byte(member.Name+" "+member.initialCluster()+"\n"), 0o600); err != nil {
		return fmt.Errorf("coordinator: write %s: %w", path, err)
	}
	return nil
}

// Close stops the server and waits until it has released the data dir.
func (e *embeddedEtcd) Close() {
	e.closing.Store(true)
	e.etcd.Close()
	<-e.etcd.Server.StopNotify()
	e.lock.Close()
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. All listeners are held until all ports are known, so the n are
// distinct.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("coordinator: find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func isAddrInUse(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return strings.Contains(oe.Err.Error(), "address already in use")
	}
	return strings.Contains(err.Error(), "address already in use")
}

// newZapLogger returns a zap logger (for etcd's server and client) that
// writes to the zerolog logger, dropping entries below min.
func newZapLogger(log zerolog.Logger, min zapcore.Level) *zap.Logger {
	return zap.New(&zerologCore{log: log, min: min})
}

// benignEtcdErrors are etcd error-level messages that need no operator:
// "failed to update storage version" comes once on a fresh member (the
// version monitor runs before the first term is persisted) and is retried
// by etcd a few seconds later.
var benignEtcdErrors = map[string]bool{
	"failed to update storage version": true,
}

// zerologCore is a zapcore.Core writing to zerolog.
type zerologCore struct {
	log     zerolog.Logger
	min     zapcore.Level
	fields  []zapcore.Field
	closing *atomic.Bool // optional: when set, everything is logged at debug
}

func (c *zerologCore) Enabled(l zapcore.Level) bool { return l >= c.min }

func (c *zerologCore) With(fields []zapcore.Field) zapcore.Core {
	cc := *c
	cc.fields = append(append([]zapcore.Field(nil), c.fields...), fields...)
	return &cc
}

func (c *zerologCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *zerologCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	var lvl zerolog.Level
	switch {
	case ent.Level <= zapcore.DebugLevel:
		lvl = zerolog.DebugLevel
	case ent.Level == zapcore.InfoLevel:
		lvl = zerolog.InfoLevel
	case ent.Level == zapcore.WarnLevel:
		lvl = zerolog.WarnLevel
	default:
		lvl = zerolog.ErrorLevel
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	if (c.closing != nil && c.closing.Load()) || benignEtcdErrors[ent.Message] {
		lvl = zerolog.DebugLevel
	}
	ev := c.log.WithLevel(lvl)
	if ent.LoggerName != "" {
		ev = ev.Str("logger", ent.LoggerName)
	}
	ev.Fields(enc.Fields).Msg(ent.Message)
	return nil
}

func (c *zerologCore) Sync() error { return nil }
