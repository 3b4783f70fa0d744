package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Sentinel errors.
var (
	ErrClosed = errors.New("group: coordinator closed")
)

// TopicMeta is what the KIP-848 assignors need to know about a topic.
type TopicMeta struct {
	ID         [16]byte
	Partitions int32
	Internal   bool
}

// Config configures a Coordinator. Zero durations take Kafka's defaults
// (except InitialRebalanceDelay, whose zero is meaningful).
type Config struct {
	Client *clientv3.Client
	// Key returns the full etcd key of a path under the cluster prefix
	// (coordinator.Store.Key).
	Key    func(parts ...string) string
	Logger zerolog.Logger
	Clock  Clock // nil: RealClock

	// Placed: the coordinator serves only the groups of the
	// __consumer_offsets partitions it is elected for (OnElection and
	// OnResignation, from a placement.Tracker), loads each partition's
	// groups when elected and fences every write with the partition's
	// tenure (placement.go). Unset (package tests, tools) it serves every
	// group, loaded at Start, and writes unfenced.
	Placed bool

	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms (6 s)
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms (30 min)
	MaxGroupSize          int           // group.max.size; <= 0: unlimited
	// OffsetsRetention: offsets of an empty group expire after this long
	// (offsets.retention.minutes, 7 days).
	OffsetsRetention       time.Duration
	RetentionCheckInterval time.Duration // offsets.retention.check.interval.ms (10 min)
	OffsetMetadataMaxBytes int           // offset.metadata.max.bytes (4096)

	// KIP-848 consumer groups.
	ConsumerSessionTimeout    time.Duration // group.consumer.session.timeout.ms (45 s)
	ConsumerHeartbeatInterval time.Duration // group.consumer.heartbeat.interval.ms (5 s)
	ConsumerAssignors         []string      // group.consumer.assignors (uniform, range); the first is the default
	// Topics returns the current topics by name (never modified by the
	// caller afterwards). Required for KIP-848 groups.
	Topics func() map[string]TopicMeta
}

func (cfg *Config) setDefaults() {
	if cfg.Clock == nil {
		cfg.Clock = RealClock
	}
	if cfg.Key == nil {
		cfg.Key = func(parts ...string) string { return "/samsa/" + joinKey(parts) }
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MinSessionTimeout, 6*time.Second)
	def(&cfg.MaxSessionTimeout, 30*time.Minute)
	def(&cfg.OffsetsRetention, 7*24*time.Hour)
	def(&cfg.RetentionCheckInterval, 10*time.Minute)
	def(&cfg.ConsumerSessionTimeout, 45*time.Second)
	def(&cfg.ConsumerHeartbeatInterval, 5*time.Second)
	if cfg.InitialRebalanceDelay < 0 {
		cfg.InitialRebalanceDelay = 0
	}
	if cfg.OffsetMetadataMaxBytes <= 0 {
		cfg.OffsetMetadataMaxBytes = 4096
	}
	if len(cfg.ConsumerAssignors) == 0 {
		cfg.ConsumerAssignors = []string{"uniform", "range"}
	}
	if cfg.Topics == nil {
		cfg.Topics = func() map[string]TopicMeta { return nil }
	}
}

func joinKey(parts []string) string {
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += "/"
		}
		s += p
	}
	return s
}

// Coordinator owns every consumer group and its committed offsets. See
// doc.go for the contract, the etcd layout and the lock order.
type Coordinator struct {
	cfg   Config
	log   zerolog.Logger
	cli   *clientv3.Client
	clock Clock

	mu     sync.Mutex
	groups map[string]*group // guarded by mu
	closed bool              // guarded by mu
	// parts are the partitions held (elected, loading or loaded), by
	// number; the unplaced coordinator holds one, unplacedPartition.
	parts map[int32]*partState // guarded by mu
	// numParts is the modulus of the held claims (0: none yet).
	numParts int32 // guarded by mu
	started  bool  // guarded by mu
	// loadSig wakes the loader (capacity 1).
	loadSig chan struct{}
	// settings are the per-group overrides (settings.go); no lock.
	settings atomic.Pointer[map[string]GroupSettings]

	// timers counts timer callbacks in flight; Close waits for them.
	// Add happens under mu while !closed, so Wait after closed is safe.
	timers sync.WaitGroup

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the loader and the expiry loop
}

// New builds a coordinator. Nothing runs until Start.
func New(cfg Config) (*Coordinator, error) {
	if cfg.Client == nil {
		return nil, errors.New("group: nil etcd client")
	}
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Coordinator{
		cfg:     cfg,
		log:     cfg.Logger.With().Str("component", "group-coordinator").Logger(),
		cli:     cfg.Client,
		clock:   cfg.Clock,
		groups:  make(map[string]*group),
		parts:   make(map[int32]*partState),
		loadSig: make(chan struct{}, 1),
		ctx:     ctx,
		cancel:  cancel,
	}, nil
}

// Start starts the loader and offset expiry. An unplaced coordinator
// loads every group now (requests meanwhile get
// COORDINATOR_LOAD_IN_PROGRESS); a placed one loads each partition when
// it is elected for it.
func (c *Coordinator) Start() {
	c.mu.Lock()
	c.started = true
	if !c.cfg.Placed {
		c.parts[unplacedPartition] = &partState{}
	}
	c.mu.Unlock()
	c.signalLoad()
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		c.loadLoop()
	}()
	go func() {
		defer c.wg.Done()
		c.expiryLoop()
	}()
}

// Loaded reports whether the coordinator is started and every partition
// it holds is loaded.
func (c *Coordinator) Loaded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started && c.loadingLocked() == 0
}

// WaitLoaded blocks until Loaded or ctx ends.
func (c *Coordinator) WaitLoaded(ctx context.Context) error {
	for !c.Loaded() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ctx.Done():
			return ErrClosed
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// Close stops the background work and every timer, and returns once
// they have all exited. Blocked JoinGroup/SyncGroup calls are answered
// with COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	groups := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.mu.Unlock()
	c.cancel()
	for _, g := range groups {
		g.mu.Lock()
		g.stopTimersLocked()
		g.mu.Unlock()
	}
	c.wg.Wait()
	c.timers.Wait()
	return nil
}

// afterFunc schedules f through the clock; f does not run after Close,
// and Close waits for a running f.
func (c *Coordinator) afterFunc(d time.Duration, f func()) Timer {
	return c.clock.AfterFunc(d, func() {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		c.timers.Add(1)
		c.mu.Unlock()
		defer c.timers.Done()
		f()
	})
}

// remove drops g from the map (if it is still the one there). Callers
// hold g.mu (lock order: group.mu before Coordinator.mu).
func (c *Coordinator) removeLocked(g *group) {
	c.mu.Lock()
	if c.groups[g.id] == g {
		delete(c.groups, g.id)
	}
	c.mu.Unlock()
}

// all returns the groups, in no order.
func (c *Coordinator) all() []*group {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g)
	}
	return out
}

func (c *Coordinator) now() time.Time { return c.clock.Now() }

// opCtx bounds one etcd operation.
func (c *Coordinator) opCtx(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = c.ctx
	}
	ctx, cancel := context.WithTimeout(parent, 15*time.Second)
	stop := context.AfterFunc(c.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (c *Coordinator) String() string {
	return fmt.Sprintf("group.Coordinator(%d groups)", len(c.all()))
}
