package placement

import (
	"context"
	"slices"
	"time"

	"github.com/rs/zerolog"
)

// Handler is a coordinator placed by a Tracker. The Tracker calls it from
// one goroutine, one call at a time; a call must not wait on etcd (start a
// load, do not run it).
type Handler interface {
	// OnElection: this broker leads c.Partition at c.LeaderEpoch.
	OnElection(c Claim)
	// OnResignation: it no longer leads partition at leaderEpoch (the
	// epoch of the election this ends).
	OnResignation(partition, leaderEpoch int32)
}

// View is an internal topic as the broker's metadata shows it.
type View struct {
	// Partitions by number; empty when the topic does not exist (yet).
	Partitions []PartitionView
}

// PartitionView is one partition of the topic in a View.
type PartitionView struct {
	Leader      int32 // -1: none
	LeaderEpoch int32
	Key         string // the etcd key of its state
}

// TrackerConfig configures a Tracker.
type TrackerConfig struct {
	Broker int32 // this broker
	// View returns the internal topic as the current metadata shows it.
	// Called from the Tracker's goroutine; must not block.
	View func() View
	// Subscribe delivers a value whenever the metadata changed
	// (coordinator.Store.Subscribe); cancel unsubscribes. Optional: without
	// it the Tracker only polls.
	Subscribe func() (<-chan struct{}, func())
	Handler   Handler
	Logger    zerolog.Logger
	// Interval is how often a pass runs without a change notification
	// (default 1 s).
	Interval time.Duration
}

// Tracker tells a Handler which partitions of an internal topic this
// broker leads, from its metadata view. It never reads etcd itself: the
// handler checks each claim in etcd (Acquire) before it loads.
type Tracker struct {
	cfg TrackerConfig
	log zerolog.Logger
	// held are the claims the handler was told of and not resigned
	// (owned by the goroutine running Sync and Run).
	held map[int32]Claim
}

// NewTracker builds a tracker; nothing runs until Sync or Run.
func NewTracker(cfg TrackerConfig) *Tracker {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	return &Tracker{cfg: cfg, log: cfg.Logger, held: make(map[int32]Claim)}
}

// Sync runs one pass: it resigns the claims the view no longer shows and
// elects the new ones. Not concurrently with Run.
func (t *Tracker) Sync() {
	v := t.cfg.View()
	want := make(map[int32]Claim)
	n := int32(len(v.Partitions))
	for i, pv := range v.Partitions {
		if pv.Leader == t.cfg.Broker && pv.Key != "" {
			want[int32(i)] = Claim{Partition: int32(i), Partitions: n, LeaderEpoch: pv.LeaderEpoch, Broker: t.cfg.Broker, Key: pv.Key}
		}
	}
	var resigned, elected []int32
	for _, p := range sortedKeys(t.held) {
		c := t.held[p]
		if w, ok := want[p]; ok && w == c {
			continue
		}
		t.cfg.Handler.OnResignation(p, c.LeaderEpoch)
		delete(t.held, p)
		resigned = append(resigned, p)
	}
	for _, p := range sortedKeys(want) {
		if _, ok := t.held[p]; ok {
			continue
		}
		t.cfg.Handler.OnElection(want[p])
		t.held[p] = want[p]
		elected = append(elected, p)
	}
	if len(resigned) > 0 || len(elected) > 0 {
		t.log.Info().Ints32("elected", elected).Ints32("resigned", resigned).Int("leading", len(t.held)).
			Msg("coordinator partitions changed")
	}
}

// Run runs a pass on every metadata change and every Interval until ctx
// ends. It does not resign anything when it returns: the handler is closed
// with the broker.
func (t *Tracker) Run(ctx context.Context) {
	var sub <-chan struct{}
	if t.cfg.Subscribe != nil {
		ch, cancel := t.cfg.Subscribe()
		defer cancel()
		sub = ch
	}
	tick := time.NewTicker(t.cfg.Interval)
	defer tick.Stop()
	for {
		t.Sync()
		select {
		case <-ctx.Done():
			return
		case <-sub:
		case <-tick.C:
		}
	}
}

func sortedKeys(m map[int32]Claim) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
