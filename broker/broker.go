// Package broker is samsa's Kafka server: the listeners and connections, one
// handler per Kafka API (files named by API key, e.g. 00_produce.go), and the
// partition replicas this broker hosts.
//
// Lock order (take them only in this order, never hold one across etcd, the
// network or a callback):
//
//	Broker.connsMu
//	Broker.reconcileMu
//	fetcherManager.mu -> fetcherThread.mu
//	partition.replMu
//	partition.waitMu
//	fetchSessionCache.mu -> fetchSession.mu
package broker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/coordinator/group"
	"github.com/samsa-io/samsa/storage"
)

// Broker is one samsa broker.
type Broker struct {
	cfg   *config.Broker
	log   zerolog.Logger
	store *coordinator.Store
	logs  *storage.Manager
	start time.Time

	// parts is the immutable map of partitions this broker hosts, replaced
	// by the reconciler (copy on write) so the produce and fetch paths read it
	// without locks.
	parts atomic.Pointer[partitionMap]
	// reconciled is the metadata revision the reconciler has applied.
	reconciled   atomic.Int64
	reconcileMu  sync.Mutex // serialises reconcile runs
	reconcileSig chan struct{}
	swept        bool          // guarded by reconcileMu: the start-up disk sweep ran
	publishSig   chan struct{} // wakes publishLoop (reconcile.go)

	pids producerIDs

	dev devState // dev hooks (dev.go), set before Start

	metrics *metrics // metrics.go; made by New

	fetchSessions *fetchSessionCache // incremental fetch sessions (fetch_session.go); made by New

	// eff is the effective configuration (cfg with the dynamic configs
	// layered over it, dynamic_configs.go); nil until the first reconcile.
	eff atomic.Pointer[config.Broker]
	dyn dynamicState // guarded by reconcileMu

	// groups is the group coordinator (groups.go); nil until Start.
	groups *group.Coordinator
	// txn is the transaction coordinator (txn_coordinator.go); empty
	// without samsa.transactions.enable.
	txn txnCoordinator

	replication // followers' fetchers and leaders' ISR writes (replica*.go)

	listeners []net.Listener // index = cfg.Listeners
	// secs is each TLS or SASL listener's security, by name (auth.go);
	// built by Start before the listeners accept.
	secs map[string]*listenerSec
	// authLog rate-limits the lines about refused and failed
	// authentication (auth.go).
	authLog *rateLog
	// authz is the ACL authorizer (acl.go); nil without
	// authorizer.class.name.
	authz *authorizer
	// quotas measures the client quota rates (quota.go).
	quotas *quotaManager
	// interAuth secures the replica fetchers' connections
	// (replica_auth.go); nil on a PLAINTEXT inter-broker listener.
	interAuth *interBrokerAuth

	// dirID is the directory.id of the data directory (meta.properties),
	// registered with the broker (see mayLead).
	dirID string
	// ctrl is the controller loop (controller.go); nil until Start.
	ctrl *controller
	// uncleanShutdown: the last stop was unclean and the controller is not
	// yet done with it (unclean_shutdown.go); registered with the broker.
	uncleanShutdown atomic.Bool
	// crashClose makes Close stop like a crash: no controlled shutdown,
	// no deregistration (the lease expires). Tests.
	crashClose bool

	connsMu    sync.Mutex
	conns      map[*conn]struct{} // guarded by connsMu
	connLimits connLimits         // guarded by connsMu (conn_limits.go)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

// New builds a broker from its configuration. Nothing is started.
func New(cfg *config.Broker, logger zerolog.Logger) (*Broker, error) {
	if cfg == nil {
		return nil, errors.New("broker: nil config")
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{
		cfg:          cfg,
		log:          logger,
		conns:        make(map[*conn]struct{}),
		ctx:          ctx,
		cancel:       cancel,
		reconcileSig: make(chan struct{}, 1),
		publishSig:   make(chan struct{}, 1),
		start:        time.Now(),
	}
	b.parts.Store(&partitionMap{})
	b.pids.b = b
	b.authLog = newRateLog(authLogEvery)
	if cfg.AuthorizerEnabled() {
		b.authz = newAuthorizer(b)
	}
	b.quotas = newQuotaManager(int(cfg.Int64("quota.window.num")), time.Duration(cfg.Int64("quota.window.size.seconds"))*time.Second)
	b.metrics = newMetrics(b)
	b.fetchSessions = newFetchSessionCache(b)
	b.replication = newReplication(b)
	return b, nil
}

// Start opens the data directory and etcd (refusing a data directory that
// belongs to another cluster or node, startup.go), binds the listeners,
// registers the broker and opens the partitions it hosts. It returns once
// requests are being accepted, after logging where.
func (b *Broker) Start(ctx context.Context) error {
	var err error
	// flush.ms is checked every log.flush.scheduler.interval.ms; Kafka's
	// default (Long.MAX_VALUE) never checks it.
	var flushEvery time.Duration
	if ms := b.cfg.Int64("log.flush.scheduler.interval.ms"); ms > 0 && ms < int64(math.MaxInt64/time.Millisecond) {
		flushEvery = time.Duration(ms) * time.Millisecond
	}
	b.initAdvertise()
	co := cleanerOptions(b.cfg)
	b.logs, err = storage.NewManagerDirs(b.cfg.DataDirs, storage.ManagerOptions{
		FS:                     b.storageFS(),
		Now:                    b.clock().Now,
		Logger:                 b.log.With().Str("component", "storage").Logger(),
		RetentionCheckInterval: b.cfg.RetentionCheckInterval,
		FlushCheckInterval:     flushEvery,
		CacheHotBytes:          b.cfg.CacheHotBytes,
		CacheHotTotalBytes:     b.cfg.CacheHotTotalBytes,
		FileDeleteDelay:        b.defaultDeleteDelay(),
		// A log that fails a write is offline from then on (its sticky
		// error); tell etcd. Never blocks.
		OnLogFailure:  func(storage.TopicPartition, error) { b.signalPublish() },
		FlushObserver: b.metrics.observeFlush,
		Durable:       b.cfg.Bool("samsa.log.durable"),
		// The log cleaner (compaction); dynamic_configs.go reconfigures it.
		CleanerThreads:           co.Threads,
		CleanerDedupeBufferSize:  co.DedupeBufferSize,
		CleanerBackoff:           co.Backoff,
		CleanerLoadFactor:        co.LoadFactor,
		CleanerMaxBytesPerSecond: co.MaxBytesPerSecond,
	})
	if err != nil {
		return fmt.Errorf("broker: open data dir %s: %w", b.cfg.DataDir, err)
	}
	b.detectUncleanShutdown() // before any log is opened
	// Bind the listeners before the embedded etcd picks its free ports, so
	// that it can never take the port a listener is configured with. They
	// accept only at the end of Start.
	for _, l := range b.cfg.Listeners {
		ln, err := net.Listen("tcp", net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))))
		if err != nil {
			b.closeStarted()
			return fmt.Errorf("broker: listen %s://%s:%d: %w", l.Name, l.Host, l.Port, err)
		}
		b.listeners = append(b.listeners, ln)
	}
	adopt, err := b.openCluster(ctx)
	if err != nil {
		b.closeStarted()
		return err
	}
	if err := b.buildListenerSecurity(); err != nil {
		b.closeStarted()
		return err
	}
	if mp, ok, err := storage.ReadMetaProperties(nil, b.cfg.DataDir); err == nil && ok {
		b.dirID = mp.DirectoryID
	}
	if err := b.store.RegisterBroker(ctx, b.brokerInfo()); err != nil {
		b.closeStarted()
		return fmt.Errorf("broker: register: %w", err)
	}
	b.startController()
	b.waitDirectoryRecorded(ctx)
	if adopt {
		if err := b.adoptExistingData(ctx); err != nil {
			b.closeStarted()
			return err
		}
	}
	if err := b.startGroups(ctx); err != nil {
		b.closeStarted()
		return fmt.Errorf("broker: start group coordinator: %w", err)
	}
	if err := b.startTxn(ctx); err != nil {
		b.closeStarted()
		return fmt.Errorf("broker: start transaction coordinator: %w", err)
	}
	// Open every partition this broker hosts before accepting requests, so
	// the first Produce after a restart does not see NOT_LEADER.
	b.reconcile()
	b.logs.Start()

	b.wg.Add(3)
	go b.reconcileLoop()
	go b.publishLoop()
	go b.isrLoop()
	for i, ln := range b.listeners {
		b.wg.Add(1)
		go b.acceptLoop(ln, b.cfg.Listeners[i].Name)
		b.log.Info().
			Str("listener", b.cfg.Listeners[i].Name).
			Str("addr", ln.Addr().String()).
			Int32("broker_id", b.cfg.BrokerID).
			Str("cluster_id", b.store.ClusterID()).
			Dur("startup", time.Since(b.start)).
			Msg("samsa is listening")
	}
	return nil
}

// Addrs returns the bound listener addresses (useful with port 0).
func (b *Broker) Addrs() []net.Addr {
	out := make([]net.Addr, len(b.listeners))
	for i, ln := range b.listeners {
		out[i] = ln.Addr()
	}
	return out
}

// brokerInfo is what this broker registers: every advertised listener
// (a port of 0 replaced by the bound port; the first one also as Host and
// Port, for registrations read by older brokers), its rack and its log
// directory's id.
func (b *Broker) brokerInfo() coordinator.BrokerInfo {
	eps := b.brokerEndpoints()
	bi := coordinator.BrokerInfo{ID: b.cfg.BrokerID, Host: eps[0].Host, Port: eps[0].Port, Endpoints: eps, DirectoryID: b.dirID,
		UncleanShutdown: b.uncleanShutdown.Load()}
	if b.cfg.Rack != "" {
		rack := b.cfg.Rack
		bi.Rack = &rack
	}
	return bi
}

// closeStarted undoes a partial Start.
func (b *Broker) closeStarted() {
	b.stopController()
	b.closeTxn()
	if b.groups != nil {
		b.groups.Close()
	}
	for _, ln := range b.listeners {
		ln.Close()
	}
	if b.store != nil {
		b.store.Close()
	}
	if b.logs != nil {
		b.logs.Close()
	}
}

// Close shuts the broker down: first the controlled shutdown (leadership
// moves away while clients are still served, controller_shutdown.go), then
// it stops accepting, closes every connection, deregisters the broker,
// closes the partition logs (flushed, clean-shutdown marker written) and
// the metadata store. It returns after every goroutine it started has
// exited.
func (b *Broker) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	b.controlledShutdown()
	b.cancel()
	for _, ln := range b.listeners {
		ln.Close()
	}
	b.connsMu.Lock()
	for c := range b.conns {
		c.raw.Close()
	}
	b.connsMu.Unlock()
	b.wg.Wait()
	b.stopController()
	b.fetchers.close()
	b.closeTxn()
	if b.groups != nil {
		b.groups.Close()
	}

	var errs []error
	if b.store != nil && !b.crashClose {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := b.store.Deregister(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	if b.logs != nil {
		if err := b.logs.CloseThreads(b.conf().RecoveryThreads); err != nil {
			errs = append(errs, err)
		}
	}
	if b.store != nil {
		if err := b.store.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	b.log.Info().Msg("samsa stopped")
	return errors.Join(errs...)
}

// Store exposes the metadata store (tests).
func (b *Broker) Store() *coordinator.Store { return b.store }
