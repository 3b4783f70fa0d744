package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
)

// Config configures a Store.
type Config struct {
	// Endpoints of an external etcd cluster; empty means an embedded
	// etcd in EmbeddedDir: single-node, or with Member one member of a
	// multi-member etcd (combined mode).
	Endpoints   []string
	EmbeddedDir string // e.g. <data-dir>/etcd
	Member      *Member
	Prefix      string // default "/samsa/"; always ends in "/"
	// SessionTTL is the broker-registration lease TTL (the failure
	// detector); default 10 s.
	SessionTTL time.Duration
	// CompactionInterval (etcd.compaction.interval.ms): while this broker
	// is the controller, it compacts etcd's history every interval to the
	// revision it saw one interval earlier (compact.go). etcd compacts its
	// whole keyspace, not a prefix: on an external etcd shared with other
	// applications this drops their history older than the interval too.
	// 0 turns it off (for an external etcd that compacts itself).
	CompactionInterval time.Duration
	Logger             zerolog.Logger

	// ClusterID, when set, is the cluster the broker's data belongs to
	// (its log directory's meta.properties): Open fails with a
	// *ClusterIDMismatchError if etcd holds another cluster id, and
	// creates this one if etcd holds none (unless NoCreate).
	ClusterID string
	// NoCreate forbids Open to create a cluster id: when etcd holds none
	// under the prefix, Open fails with ErrNoCluster and writes nothing.
	// The broker sets it when its data directory holds data that etcd
	// would have to know about.
	NoCreate bool
	// DialOptions are added to the etcd client's gRPC dial options (the
	// broker's interceptors that time every etcd request for its metrics).
	DialOptions []grpc.DialOption
}

const (
	defaultPrefix     = "/samsa/"
	defaultSessionTTL = 10 * time.Second
	clusterIDKey      = "cluster-id"
	dialTimeout       = 5 * time.Second
	openTimeout       = 30 * time.Second
)

// Store is a broker's connection to the cluster state in etcd. It starts the
// embedded etcd when no endpoints are given, resolves the cluster id, and
// keeps the metadata Snapshot current with a watch.
//
// Lock order: regMu before revMu, fenceMu, subMu, the lease clock's mu.
// None is held across etcd calls.
type Store struct {
	cfg       Config
	log       zerolog.Logger
	prefix    string // Config.Prefix, normalised
	clusterID string
	root      string // prefix + clusterID + "/"
	embedded  *embeddedEtcd
	client    *clientv3.Client

	// ctx is cancelled by Close; every background goroutine derives from
	// it and is tracked by wg.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	// meta is the decoded metadata behind snap; owned by the watch
	// goroutine (by Open before that starts).
	meta    *metaState
	snap    atomic.Pointer[Snapshot]
	changes chan struct{} // capacity 1
	// relistNow makes the watch loop re-read everything, as after a
	// compacted or cancelled watch (tests).
	relistNow chan struct{}
	// watching is closed once the first watches are registered in etcd
	// (watch.go), by watchOnce.
	watching  chan struct{}
	watchOnce sync.Once
	// Events the metadata watch received (a write outside the watched
	// ranges must not show up here) and full reads of the metadata
	// (Open's and every re-read); for tests.
	watchEvents, relists atomic.Int64
	// Ticks of the compaction loop and compactions it made (tests).
	compactTicks, compactions atomic.Int64

	revMu sync.Mutex
	revCh chan struct{} // guarded by revMu; closed and replaced at every install

	regMu sync.Mutex
	reg   *registration // guarded by regMu; nil when not registered

	isController atomic.Bool
	created      bool // Open created the cluster id

	// fence is this broker's controller election key while it holds the
	// election: every controller write compares it (controller_write.go).
	fenceMu sync.Mutex
	fence   electionFence // guarded by fenceMu; zero when not the controller

	// lease is the registration's lease validity as measured against
	// etcd (lease.go).
	lease leaseClock

	subMu sync.Mutex
	subs  map[chan struct{}]struct{} // guarded by subMu; see Subscribe

	timing OpenTiming
}

// OpenTiming reports where Open spent its time.
type OpenTiming struct {
	EmbeddedReady time.Duration // StartEtcd to ReadyNotify; 0 for an external etcd
	Total         time.Duration // all of Open
}

// Open connects (starting the embedded etcd if needed), creates or reads
// the cluster id, loads the current metadata and starts the watch. It returns
// once the first Snapshot is available.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	start := time.Now()
	s := &Store{
		cfg:       cfg,
		log:       cfg.Logger.With().Str("component", "coordinator").Logger(),
		prefix:    normalisePrefix(cfg.Prefix),
		changes:   make(chan struct{}, 1),
		relistNow: make(chan struct{}, 1),
		watching:  make(chan struct{}),
		revCh:     make(chan struct{}),
	}
	s.lease.base = start
	if s.cfg.SessionTTL <= 0 {
		s.cfg.SessionTTL = defaultSessionTTL
	}
	endpoints := cfg.Endpoints
	if len(endpoints) == 0 {
		if cfg.EmbeddedDir == "" {
			return nil, errors.New("coordinator: neither Endpoints nor EmbeddedDir configured")
		}
		e, err := startEmbedded(ctx, cfg.EmbeddedDir, cfg.Member, cfg.Logger)
		if err != nil {
			return nil, err
		}
		s.embedded = e
		s.timing.EmbeddedReady = e.ready
		endpoints = []string{e.clientURL}
	}
	fail := func(err error) (*Store, error) {
		if s.client != nil {
			s.client.Close()
		}
		if s.embedded != nil {
			s.embedded.Close()
		}
		return nil, err
	}

	client, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          dialTimeout,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Logger:               newZapLogger(cfg.Logger.With().Str("component", "etcd-client").Logger(), zapcore.ErrorLevel),
		Context:              context.Background(),
		DialOptions:          cfg.DialOptions,
	})
	if err != nil {
		return fail(fmt.Errorf("coordinator: connect to etcd %v: %w", endpoints, err))
	}
	s.client = client

	// An unreachable etcd makes the client retry forever; give up like
	// Kafka gives up on an unreachable ZooKeeper.
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	id, err := s.getOrCreateClusterID(ctx)
	if err != nil {
		return fail(err)
	}
	s.clusterID = id
	s.root = s.prefix + id + "/"
	s.log = s.log.With().Str("cluster_id", id).Logger()

	rev, err := s.relist(ctx, false)
	if err != nil {
		return fail(err)
	}

	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.watchLoop(rev)
	// Return once etcd has registered the watches: a write made before
	// that (the broker registers right after Open) would leave them
	// behind the store's revision, catching up only at etcd's next
	// 100 ms sync, and every WaitForRevision until then would wait for it.
	select {
	case <-s.watching:
	case <-ctx.Done():
		s.cancel()
		s.wg.Wait()
		return fail(fmt.Errorf("coordinator: start metadata watch: %w", ctx.Err()))
	}
	if cfg.CompactionInterval > 0 {
		s.wg.Add(1)
		go s.compactLoop(cfg.CompactionInterval)
	}

	s.timing.Total = time.Since(start)
	ev := s.log.Info().Strs("endpoints", endpoints).Int64("revision", rev).
		Dur("open_time", s.timing.Total).Dur("compaction_interval", cfg.CompactionInterval)
	if s.embedded != nil {
		ev = ev.Str("embedded_dir", cfg.EmbeddedDir).Dur("etcd_ready_time", s.timing.EmbeddedReady)
	}
	ev.Msg("coordinator ready")
	return s, nil
}

func normalisePrefix(p string) string {
	if p == "" {
		return defaultPrefix
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// getOrCreateClusterID reads <prefix>cluster-id, creating it if absent and
// allowed (Config.NoCreate): the first broker of a cluster picks the id (or
// takes Config.ClusterID), every later one adopts it. A stored id other
// than Config.ClusterID is refused before anything is written.
func (s *Store) getOrCreateClusterID(ctx context.Context) (string, error) {
	key := s.prefix + clusterIDKey
	if s.cfg.NoCreate {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return "", fmt.Errorf("coordinator: read cluster id %s: %w", key, err)
		}
		if len(resp.Kvs) == 0 {
			return "", fmt.Errorf("%w: no key %s", ErrNoCluster, key)
		}
		return s.checkClusterID(key, resp.Kvs[0].Value)
	}
	candidate := s.cfg.ClusterID
	if candidate == "" {
		candidate = newClusterID()
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, candidate)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return "", fmt.Errorf("coordinator: read cluster id %s: %w", key, err)
	}
	if resp.Succeeded {
		s.created = true
		s.log.Info().Str("cluster_id", candidate).Msg("created new cluster id")
		return candidate, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return "", fmt.Errorf("coordinator: cluster id key %s vanished", key)
	}
	return s.checkClusterID(key, kvs[0].Value)
}

// checkClusterID validates the stored cluster id against Config.ClusterID.
func (s *Store) checkClusterID(key string, stored []byte) (string, error) {
	if len(stored) == 0 {
		return "", fmt.Errorf("coordinator: cluster id key %s is empty", key)
	}
	id := string(stored)
	if s.cfg.ClusterID != "" && id != s.cfg.ClusterID {
		return "", &ClusterIDMismatchError{Key: key, Stored: id, Expected: s.cfg.ClusterID}
	}
	return id, nil
}

// ClusterIDMismatchError: etcd holds another cluster's id than the one
// the broker's data belongs to.
type ClusterIDMismatchError struct {
	Key      string // the etcd key holding Stored
	Stored   string // in etcd
	Expected string // Config.ClusterID
}

func (e *ClusterIDMismatchError) Error() string {
	return fmt.Sprintf("coordinator: etcd key %s holds cluster id %s, not %s", e.Key, e.Stored, e.Expected)
}

// Unwrap makes errors.Is(err, ErrClusterIDMismatch) hold.
func (e *ClusterIDMismatchError) Unwrap() error { return ErrClusterIDMismatch }

// newClusterID returns 22 characters of URL-safe base64 of 16 random bytes,
// the shape of Kafka's cluster ids (Uuid.randomUuid().toString()).
func newClusterID() string {
	var b [16]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("coordinator: crypto/rand: %v", err))
		}
		id := base64.RawURLEncoding.EncodeToString(b[:])
		if id[0] != '-' {
			return id
		}
	}
}

// CreatedCluster reports whether Open created the cluster id (this broker
// is the first of a new cluster).
func (s *Store) CreatedCluster() bool { return s.created }

// ClusterID is the cluster id (22-char base64 like Kafka's).
func (s *Store) ClusterID() string { return s.clusterID }

// Timing reports how long Open took (and the embedded etcd's start).
func (s *Store) Timing() OpenTiming { return s.timing }

// EmbeddedEndpoint is the client URL of the embedded etcd, "" when an
// external cluster is used. Other processes (etcdctl, tests) can connect to
// it while this Store is open; it changes at every start.
func (s *Store) EmbeddedEndpoint() string {
	if s.embedded == nil {
		return ""
	}
	return s.embedded.clientURL
}

// Snapshot returns the current immutable metadata snapshot. Never blocks.
func (s *Store) Snapshot() *Snapshot { return s.snap.Load() }

// Changes returns a channel that receives a value (non-blocking, capacity 1)
// each time a new Snapshot is installed whose content (brokers, controller,
// topics, partitions) differs from the previous one. Snapshots that only
// advance the revision do not signal.
func (s *Store) Changes() <-chan struct{} { return s.changes }

// install publishes a snapshot and wakes WaitForRevision callers. Called by
// the watch goroutine only (and by Open before it starts).
func (s *Store) install(snap *Snapshot, changed bool) {
	s.snap.Store(snap)
	s.revMu.Lock()
	close(s.revCh)
	s.revCh = make(chan struct{})
	s.revMu.Unlock()
	if changed {
		select {
		case s.changes <- struct{}{}:
		default:
		}
		s.notifySubscribers()
	}
}

// Subscribe returns a channel that, like Changes, receives a value
// (non-blocking, capacity 1) after each Snapshot whose content changed, and
// also when this broker wins or loses the controller election; cancel
// unsubscribes. Each subscriber has its own channel (Changes has one
// reader, the reconciler).
func (s *Store) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.subMu.Lock()
	if s.subs == nil {
		s.subs = make(map[chan struct{}]struct{})
	}
	s.subs[ch] = struct{}{}
	s.subMu.Unlock()
	return ch, func() {
		s.subMu.Lock()
		delete(s.subs, ch)
		s.subMu.Unlock()
	}
}

func (s *Store) notifySubscribers() {
	s.subMu.Lock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	s.subMu.Unlock()
}

// WaitForRevision blocks until the installed Snapshot reflects etcd revision
// rev (or ctx ends). Handlers that write metadata call it so that their
// response and the next Metadata request agree.
func (s *Store) WaitForRevision(ctx context.Context, rev int64) error {
	// If rev belongs to a key outside the watched prefix, no event will
	// carry us there; ask etcd for a progress notification after a while.
	var progress <-chan time.Time
	timer := time.NewTimer(50 * time.Millisecond)
	defer timer.Stop()
	progress = timer.C
	for {
		s.revMu.Lock()
		ch := s.revCh
		s.revMu.Unlock()
		if s.snap.Load().Revision >= rev {
			return nil
		}
		if s.closed.Load() {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ctx.Done():
			return ErrClosed
		case <-progress:
			s.requestProgress()
			timer.Reset(500 * time.Millisecond)
		}
	}
}

// Client exposes the etcd client (tests, and later coordinator parts).
func (s *Store) Client() *clientv3.Client { return s.client }

// Key returns the full etcd key for a path under the cluster's prefix, e.g.
// Key("topics", "foo") = "/samsa/<cluster-id>/topics/foo".
func (s *Store) Key(parts ...string) string { return s.root + strings.Join(parts, "/") }

// closeGrace bounds Close's wait for its goroutines' etcd calls before it
// closes the client to end them, and again after.
const closeGrace = 2 * time.Second

// Close stops the watch and keepalive, closes the client and the embedded
// etcd. It does not deregister: like a crash, the broker key disappears when
// its lease expires (call Deregister first on a clean shutdown).
//
// It returns within about twice closeGrace whether etcd answers or not:
// the goroutines' calls end with their context, except the resign of a
// controller campaign cut short, which etcd's concurrency package makes
// with the client's own context; when they have not all returned within
// closeGrace, the client is closed, which ends every call.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	// The registration goroutine (if any) derives from s.ctx and is in wg.
	s.regMu.Lock()
	s.reg = nil
	s.regMu.Unlock()
	s.cancel()
	s.isController.Store(false)
	s.lease.invalidate()
	var err, stuck error
	clientClosed := false
	if !waitGroupTimeout(&s.wg, closeGrace) {
		s.log.Warn().Dur("waited", closeGrace).Msg("etcd calls still pending at close (etcd unreachable?): closing the client to end them")
		err = s.client.Close()
		clientClosed = true
		if !waitGroupTimeout(&s.wg, closeGrace) {
			s.log.Error().Dur("waited", 2*closeGrace).Msg("coordinator goroutines did not stop after the etcd client was closed")
			stuck = errors.New("coordinator: close: goroutines did not stop")
		}
	}
	s.isController.Store(false)
	s.lease.invalidate()
	if !clientClosed {
		err = s.client.Close()
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return errors.Join(fmt.Errorf("coordinator: close etcd client: %w", err), stuck)
	}
	return stuck
}

// waitGroupTimeout waits for wg up to d and reports whether it finished.
func waitGroupTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// checkOpen returns ErrClosed after Close.
func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}
