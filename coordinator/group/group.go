package group

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/placement"
)

type groupKind int8

const (
	kindClassic groupKind = iota
	kindConsumer
)

func (k groupKind) String() string {
	if k == kindConsumer {
		return "consumer"
	}
	return "classic"
}

// classicState is the classic protocol's group state (Kafka's
// ClassicGroupState).
type classicState int8

const (
	stateEmpty classicState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s classicState) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	default:
		return "Dead"
	}
}

// group is one consumer group: a classic group (JoinGroup/SyncGroup) or a
// KIP-848 consumer group (ConsumerGroupHeartbeat), with its committed
// offsets.
type group struct {
	c  *Coordinator
	id string
	// part is the __consumer_offsets partition the group belongs to
	// (unplacedPartition when not placed) and fence the tenure it was
	// loaded or created under, which fences its writes (nil when not
	// placed). Set before the group is published, never changed.
	part  int32
	fence *placement.Fence

	// wmu serialises this group's etcd writes: it is held across etcd
	// (each call bounded by opCtx), never while mu is held (lock order
	// wmu before mu); waiting for it is bounded too (lockWrites).
	wmu     writeLock
	written uint64 // guarded by wmu: the newest record seq in etcd

	mu sync.Mutex
	// Everything below is guarded by mu.
	wseq      uint64 // the newest record seq handed out
	dead      bool   // removed from the coordinator (deleted or unloaded)
	unloaded  bool   // its partition was resigned (dead too): NOT_COORDINATOR
	kind      groupKind
	state     classicState // classic groups
	stateTime time.Time

	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	static       map[string]string   // instance id -> member id
	pending      map[string]Timer    // KIP-394 member ids handed out, not yet joined
	pendingSync  map[string]struct{} // members expected to SyncGroup
	awaitingJoin int

	joinTimer        Timer
	joinSeq          uint64
	initialDelay     bool // an initial rebalance delay is running
	newMemberAdded   bool
	initialRemaining time.Duration
	syncTimer        Timer
	syncSeq          uint64

	cg *consumerGroup // kindConsumer only

	offsets map[string]map[int32]offsetRecord
	// txnOffsets are the pending transactional offsets by producer id
	// (txn_offsets.go); nil until the first.
	txnOffsets map[int64]pendingOffsets
}

// member is a classic group member.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []protocolEntry
	assignment       []byte
	isNew            bool

	joinCh chan *kmsg.JoinGroupResponse // non-nil while awaiting a join response
	syncCh chan *kmsg.SyncGroupResponse // non-nil while awaiting a sync response

	hbTimer Timer
	hbSeq   uint64
}

func newGroup(c *Coordinator, id string, part int32, fence *placement.Fence) *group {
	return &group{
		c:           c,
		id:          id,
		part:        part,
		fence:       fence,
		wmu:         writeLock{ch: make(chan struct{}, 1)},
		state:       stateEmpty,
		stateTime:   c.now(),
		members:     make(map[string]*member),
		static:      make(map[string]string),
		pending:     make(map[string]Timer),
		pendingSync: make(map[string]struct{}),
		offsets:     make(map[string]map[int32]offsetRecord),
	}
}

// writeLock is a mutex whose lock gives up when its context ends, so that
// a request queued behind a slow etcd write still answers by its deadline.
type writeLock struct{ ch chan struct{} } // capacity 1: full while held

func (l *writeLock) lock(ctx context.Context) error {
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *writeLock) unlock() { <-l.ch }

// lockWrites takes wmu, waiting at most as long as one etcd operation may
// take (opCtx: the caller's deadline, 15 s, or Close).
func (g *group) lockWrites(ctx context.Context) error {
	ctx, cancel := g.c.opCtx(ctx)
	defer cancel()
	return g.wmu.lock(ctx)
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("group: crypto/rand: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (g *group) transitionLocked(s classicState) {
	g.state = s
	g.stateTime = g.c.now()
}

// isEmptyLocked: no members of either kind.
func (g *group) isEmptyLocked() bool {
	if g.kind == kindConsumer {
		return g.cg == nil || len(g.cg.members) == 0
	}
	return len(g.members) == 0
}

// stateNameLocked is the state as ListGroups/Describe show it.
func (g *group) stateNameLocked() string {
	if g.dead {
		return "Dead"
	}
	if g.kind == kindConsumer {
		return g.cg.stateName()
	}
	return g.state.String()
}

func (g *group) protocolTypeLocked() string {
	if g.kind == kindConsumer {
		return "consumer"
	}
	return g.protocolType
}

func (g *group) stopTimersLocked() {
	stop := func(t Timer) {
		if t != nil {
			t.Stop()
		}
	}
	stop(g.joinTimer)
	stop(g.syncTimer)
	for _, t := range g.pending {
		stop(t)
	}
	for _, m := range g.members {
		stop(m.hbTimer)
	}
	if g.cg != nil {
		g.cg.stopTimers()
	}
}

func (g *group) toRecordLocked() *groupRecord {
	rec := &groupRecord{
		Type:           g.kind.String(),
		ProtocolType:   g.protocolType,
		Protocol:       g.protocol,
		Generation:     g.generation,
		Leader:         g.leader,
		StateTimestamp: g.stateTime.UnixMilli(),
		Members:        []memberRecord{},
	}
	if g.kind == kindConsumer {
		g.cg.toRecord(rec)
		return rec
	}
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := g.members[id]
		rec.Members = append(rec.Members, memberRecord{
			ID:                 m.id,
			InstanceID:         m.instanceID,
			ClientID:           m.clientID,
			ClientHost:         m.clientHost,
			SessionTimeoutMs:   int32(m.sessionTimeout / time.Millisecond),
			RebalanceTimeoutMs: int32(m.rebalanceTimeout / time.Millisecond),
			Protocols:          m.protocols,
			Assignment:         m.assignment,
		})
	}
	return rec
}

// fromRecord restores a loaded group (before it is published).
func (g *group) fromRecord(rec *groupRecord) {
	g.protocolType = rec.ProtocolType
	g.protocol = rec.Protocol
	g.generation = rec.Generation
	g.leader = rec.Leader
	g.stateTime = time.UnixMilli(rec.StateTimestamp)
	if rec.Type == "consumer" {
		g.kind = kindConsumer
		g.cg = newConsumerGroup(g)
		g.cg.fromRecord(rec)
		return
	}
	for _, mr := range rec.Members {
		m := &member{
			id:               mr.ID,
			instanceID:       mr.InstanceID,
			clientID:         mr.ClientID,
			clientHost:       mr.ClientHost,
			sessionTimeout:   time.Duration(mr.SessionTimeoutMs) * time.Millisecond,
			rebalanceTimeout: time.Duration(mr.RebalanceTimeoutMs) * time.Millisecond,
			protocolType:     rec.ProtocolType,
			protocols:        mr.Protocols,
			assignment:       mr.Assignment,
		}
		g.members[m.id] = m
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	if len(g.members) > 0 {
		// Kafka loads a group with members as Stable; members that do not
		// heartbeat within their session are removed and trigger a
		// rebalance.
		g.state = stateStable
		if g.members[g.leader] == nil {
			g.leader = ""
			for id := range g.members {
				g.leader = id
				break
			}
		}
	} else {
		g.state = stateEmpty
	}
}

// afterLoadLocked starts the session timers of a loaded group.
func (g *group) afterLoadLocked() {
	if g.kind == kindConsumer {
		g.cg.afterLoad()
		return
	}
	for _, m := range g.members {
		g.scheduleHeartbeatLocked(m, m.sessionTimeout)
	}
}

// subscribedTopicsLocked returns the topics the group consumes (for
// OffsetDelete), and whether they are known.
func (g *group) subscribedTopicsLocked() (map[string]bool, bool) {
	if g.kind == kindConsumer {
		return g.cg.subscribedTopicNames(), true
	}
	if g.protocolType != "consumer" || len(g.members) == 0 {
		return nil, false
	}
	out := make(map[string]bool)
	for _, m := range g.members {
		for _, p := range m.protocols {
			if p.Name != g.protocol {
				continue
			}
			var meta kmsg.ConsumerMemberMetadata
			if err := meta.ReadFrom(p.Metadata); err != nil {
				return nil, false
			}
			for _, t := range meta.Topics {
				out[t] = true
			}
		}
	}
	return out, true
}
