package broker

// Incremental fetch sessions (KIP-227), as Kafka's FetchManager and
// FetchSessionCache keep them.
//
// A Fetch (v7+) names a session id and an epoch:
//
//	epoch -1 (final): a full fetch without a session. A session it names is
//	    closed. The answer carries session id 0.
//	epoch 0 (initial): a full fetch that asks for a session. A session it
//	    names is closed; a new one is made after the read, holding every
//	    partition of the answer, if the cache has a slot (or can evict, see
//	    evictLocked), and its id is the answer's; else the answer's id is 0
//	    and the client goes on with full fetches.
//	any other epoch (> 0, or below -1 as FetchMetadata reads it):
//	    incremental, on a session. An unknown id is
//	    FETCH_SESSION_ID_NOT_FOUND, another epoch than the session expects
//	    INVALID_FETCH_SESSION_EPOCH, a session made with topic names (v7-12)
//	    used with topic ids (v13+) or the reverse FETCH_SESSION_TOPIC_ID_ERROR;
//	    all three answered with session id 0 and no partitions. Otherwise the
//	    request's partitions are added to the session or update its copy of
//	    their fetch position, ForgottenTopics leave it (a session left empty
//	    is closed and the fetch is answered sessionless), the epoch moves on
//	    and the fetch reads every partition of the session. The answer lists
//	    only the partitions Kafka would: records, a high watermark or log
//	    start offset other than the one last sent, an error (after which the
//	    partition is sent again once it is gone), a preferred read replica
//	    or a diverging epoch. Partitions that returned records move to the
//	    end of the session's order, so that the next fetch gives the others
//	    the response's byte budget first.
//
// Sessions belong to the broker, not to a connection: a client may go on
// with its session on a new connection, as with Kafka. The cache holds at
// most max.incremental.fetch.session.cache.slots sessions (Kafka's default
// 1000; 0 turns sessions off). Kafka shards it in eight; here it is one, so
// the slots are not split. Followers' sessions are privileged (they may
// evict a consumer's); samsa's own followers send full fetches without a
// session (replica_fetcher.go), but a session a follower asks for works.
//
// Lock order: fetchSessionCache.mu, then fetchSession.mu. Neither is held
// across a read of a log, the network or etcd.

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchSessionEvictAfter is Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS:
// a session unused this long is stale (evicted first), and one only becomes
// evictable by a larger one once it was used this long after its creation.
const fetchSessionEvictAfter = 120 * time.Second

// The session epochs of KIP-227 (FetchMetadata).
const (
	sessionFinalEpoch   = -1
	sessionInitialEpoch = 0
)

// nextSessionEpoch is FetchMetadata.nextEpoch: epochs count up from 1 and
// wrap to 1, never back to 0.
func nextSessionEpoch(e int32) int32 {
	if e < 0 {
		return sessionFinalEpoch
	}
	if e == math.MaxInt32 {
		return 1
	}
	return e + 1
}

// sessionKey names a partition in a session: by topic name for a session
// made at v7-12, by topic id (name empty) for one made at v13+.
type sessionKey struct {
	topic     string
	id        [16]byte
	partition int32
}

// sessionPartition is a session's copy of one partition's fetch position
// and of what its last answer said. Guarded by its session's mu.
type sessionPartition struct {
	key sessionKey
	// req is the partition as last requested (fetch offset, partition max
	// bytes, current and last fetched epoch, the follower's log start).
	req kmsg.FetchRequestTopicPartition
	// hw and logStart are what the last answer listing the partition
	// said; hw is -1 after an error, so the partition is sent again when
	// the error is gone.
	hw, logStart int64
	// gone: forgotten, or the session closed; an answer in flight for it
	// updates nothing.
	gone bool
	// moved marks, while an answer is being made, a partition that
	// returned records (it moves to the end of the order).
	moved bool
}

// fetchSession is one incremental fetch session.
type fetchSession struct {
	id         int32
	privileged bool // made by a follower
	topicIDs   bool // made at v13+: partitions keyed by topic id
	created    time.Time

	// Guarded by fetchSessionCache.mu.
	lastUsed time.Time
	size     int // partitions at the last touch (eviction, the metric)

	mu sync.Mutex // guards the fields below; taken after fetchSessionCache.mu
	// epoch is the epoch the next incremental fetch must carry.
	epoch int32
	parts []*sessionPartition // the fetch order
	index map[sessionKey]*sessionPartition
	tail  []*sessionPartition // scratch of reorder
}

// fetchSessionCache is a broker's sessions.
type fetchSessionCache struct {
	now   func() time.Time
	slots int

	mu         sync.Mutex
	sessions   map[int32]*fetchSession // guarded by mu
	partitions int                     // guarded by mu: the sessions' sizes summed
	evictions  prometheus.Counter      // nil without metrics
}

// newFetchSessionCache makes b's session cache and registers its metrics
// (Kafka's FetchSessionCache gauges and eviction meter).
func newFetchSessionCache(b *Broker) *fetchSessionCache {
	c := newSessionCache(int(b.cfg.Int64("max.incremental.fetch.session.cache.slots")), func() time.Time { return b.clock().Now() })
	if m := b.metrics; m != nil {
		f := promFactory{m.reg}
		c.evictions = f.counter("kafka_server_fetchsessioncache_incrementalfetchsessionevictions_total",
			"Incremental fetch sessions evicted from the cache to make room for another.")
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kafka_server_fetchsessioncache_numincrementalfetchsessions",
			Help: "Incremental fetch sessions in the cache (max.incremental.fetch.session.cache.slots bounds them).",
		}, func() float64 { n, _ := c.stats(); return float64(n) }))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kafka_server_fetchsessioncache_numincrementalfetchpartitionscached",
			Help: "Partitions held by the incremental fetch sessions in the cache.",
		}, func() float64 { _, n := c.stats(); return float64(n) }))
	}
	return c
}

func newSessionCache(slots int, now func() time.Time) *fetchSessionCache {
	return &fetchSessionCache{now: now, slots: slots, sessions: map[int32]*fetchSession{}}
}

// stats returns the sessions and the partitions they hold.
func (c *fetchSessionCache) stats() (sessions, partitions int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions), c.partitions
}

// sessionMode is what the session rules make of one Fetch.
type sessionMode uint8

const (
	// sessionless: answered with session id 0, every partition listed
	// (v4-6, epoch -1, or an incremental fetch that emptied its session).
	sessionless sessionMode = iota
	// sessionFull: epoch 0; a session is made after the read.
	sessionFull
	// sessionIncremental: the session's partitions are read; the answer
	// lists the changed ones.
	sessionIncremental
)

// begin applies the session rules to req before anything is read, and
// fills pl.want with the partitions to read: the request's, or the
// session's. It returns a top-level error code for a session error, which
// is answered with session id 0 and nothing else.
func (c *fetchSessionCache) begin(req *kmsg.FetchRequest, pl *fetchPlan) int16 {
	pl.mode, pl.session = sessionless, nil
	if req.Version < 7 {
		pl.wantRequest(req)
		return 0
	}
	if req.SessionEpoch == sessionFinalEpoch || req.SessionEpoch == sessionInitialEpoch {
		if req.SessionID != 0 {
			c.remove(req.SessionID) // a full fetch closes the session it names
		}
		if req.SessionEpoch == sessionInitialEpoch {
			pl.mode = sessionFull
		}
		pl.wantRequest(req)
		return 0
	}
	now := c.now()
	c.mu.Lock()
	s := c.sessions[req.SessionID]
	if s == nil {
		c.mu.Unlock()
		return kerr.FetchSessionIDNotFound.Code
	}
	s.mu.Lock()
	var code int16
	switch {
	case s.epoch != req.SessionEpoch:
		code = kerr.InvalidFetchSessionEpoch.Code
	case s.topicIDs != (req.Version >= 13):
		code = kerr.FetchSessionTopicIDError.Code
	}
	if code != 0 {
		s.mu.Unlock()
		c.mu.Unlock()
		return code
	}
	s.updateLocked(req)
	if len(s.parts) == 0 {
		c.removeLocked(s)
		s.mu.Unlock()
		c.mu.Unlock()
		pl.wantRequest(req)
		return 0
	}
	c.touchLocked(s, now)
	c.mu.Unlock()
	// The copy of the session's partitions is made under the session's
	// lock alone.
	s.epoch = nextSessionEpoch(s.epoch)
	pl.mode, pl.session, pl.sessionEpoch = sessionIncremental, s, s.epoch
	pl.wantSessionLocked(s)
	s.mu.Unlock()
	return 0
}

// keyOf is the session key of a requested partition.
func keyOf(topicIDs bool, t *kmsg.FetchRequestTopic, partition int32) sessionKey {
	if topicIDs {
		return sessionKey{id: t.TopicID, partition: partition}
	}
	return sessionKey{topic: t.Topic, partition: partition}
}

// updateLocked adds the request's partitions to the session or updates its
// copy of them, then drops the forgotten ones (Kafka's FetchSession.update).
// s.mu is held.
func (s *fetchSession) updateLocked(req *kmsg.FetchRequest) {
	for i := range req.Topics {
		t := &req.Topics[i]
		for j := range t.Partitions {
			rp := &t.Partitions[j]
			k := keyOf(s.topicIDs, t, rp.Partition)
			if sp := s.index[k]; sp != nil {
				sp.req = *rp
				continue
			}
			sp := &sessionPartition{key: k, req: *rp, hw: -1, logStart: -1}
			s.index[k] = sp
			s.parts = append(s.parts, sp)
		}
	}
	if len(req.ForgottenTopics) == 0 {
		return
	}
	forgot := false
	for i := range req.ForgottenTopics {
		ft := &req.ForgottenTopics[i]
		for _, p := range ft.Partitions {
			k := sessionKey{topic: ft.Topic, partition: p}
			if s.topicIDs {
				k = sessionKey{id: ft.TopicID, partition: p}
			}
			if sp := s.index[k]; sp != nil {
				sp.gone = true
				delete(s.index, k)
				forgot = true
			}
		}
	}
	if forgot {
		s.parts = deleteGone(s.parts)
	}
}

// deleteGone drops the gone partitions from an order, keeping the rest's.
func deleteGone(parts []*sessionPartition) []*sessionPartition {
	j := 0
	for _, sp := range parts {
		if !sp.gone {
			parts[j] = sp
			j++
		}
	}
	clear(parts[j:])
	return parts[:j]
}

// mustRespond reports whether an incremental answer lists the partition
// (Kafka's CachedPartition.maybeUpdateResponseData) and remembers what it
// says. s.mu is held.
func (sp *sessionPartition) mustRespond(out *kmsg.FetchResponseTopicPartition, records int) bool {
	must := records > 0
	if sp.hw != out.HighWatermark {
		sp.hw = out.HighWatermark
		must = true
	}
	if sp.logStart != out.LogStartOffset {
		sp.logStart = out.LogStartOffset
		must = true
	}
	if out.PreferredReadReplica >= 0 {
		must = true
	}
	if out.ErrorCode != 0 {
		sp.hw = -1
		must = true
	}
	if out.DivergingEpoch.Epoch >= 0 || out.DivergingEpoch.EndOffset >= 0 {
		must = true
	}
	return must
}

// reorderLocked moves the partitions marked moved to the end of the order,
// keeping the relative order of both parts (Kafka re-adds each to its
// linked collection). s.mu is held.
func (s *fetchSession) reorderLocked() {
	tail := s.tail[:0]
	j := 0
	for _, sp := range s.parts {
		if sp.moved {
			sp.moved = false
			tail = append(tail, sp)
			continue
		}
		s.parts[j] = sp
		j++
	}
	copy(s.parts[j:], tail)
	clear(tail)
	s.tail = tail[:0]
}

// create makes a session of size partitions, which build fills in, if the
// cache has room or can make some, and returns its id; 0 when it cannot
// (Kafka's maybeCreateSession). build runs only for a session that is
// made, before the session is shared.
func (c *fetchSessionCache) create(privileged, topicIDs bool, size int, build func(*fetchSession)) int32 {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sessions) >= c.slots && !c.evictLocked(now, privileged, size) {
		return 0
	}
	s := &fetchSession{
		privileged: privileged,
		topicIDs:   topicIDs,
		created:    now,
		epoch:      nextSessionEpoch(sessionInitialEpoch),
		parts:      make([]*sessionPartition, 0, size),
		index:      make(map[sessionKey]*sessionPartition, size),
	}
	build(s)
	for {
		s.id = rand.Int32N(math.MaxInt32-1) + 1
		if c.sessions[s.id] == nil {
			break
		}
	}
	c.sessions[s.id] = s
	c.touchLocked(s, now)
	return s.id
}

// add puts a partition in a session being built; one named twice keeps
// its first place and the last one's values, as Kafka's map of the
// request does.
func (s *fetchSession) add(k sessionKey, rp *kmsg.FetchRequestTopicPartition, hw, logStart int64) {
	if sp := s.index[k]; sp != nil {
		sp.req, sp.hw, sp.logStart = *rp, hw, logStart
		return
	}
	sp := &sessionPartition{key: k, req: *rp, hw: hw, logStart: logStart}
	s.index[k] = sp
	s.parts = append(s.parts, sp)
}

// evictLocked tries to make room for a new session of size partitions
// (Kafka's FetchSessionCacheShard.tryEvict): the least recently used
// session goes if it is stale (unused for fetchSessionEvictAfter);
// otherwise the least valuable evictable one (by privileged, then size,
// then id) goes if the new one is worth more. A follower's session may
// evict any consumer's; a session becomes evictable by any other once it
// was used fetchSessionEvictAfter after its creation. The scan is linear:
// it runs only when every slot is taken. c.mu is held.
func (c *fetchSessionCache) evictLocked(now time.Time, privileged bool, size int) bool {
	var lru *fetchSession
	for _, s := range c.sessions {
		if lru == nil || s.lastUsed.Before(lru.lastUsed) || s.lastUsed.Equal(lru.lastUsed) && s.id < lru.id {
			lru = s
		}
	}
	if lru == nil {
		return false
	}
	if now.Sub(lru.lastUsed) > fetchSessionEvictAfter {
		c.evictedLocked(lru)
		return true
	}
	var victim *fetchSession
	for _, s := range c.sessions {
		// As Kafka's touch decides it: old enough at its last use.
		old := s.lastUsed.Sub(s.created) > fetchSessionEvictAfter
		if !old && (!privileged || s.privileged) {
			continue
		}
		if victim == nil || evictableLess(s.privileged, s.size, s.id, victim.privileged, victim.size, victim.id) {
			victim = s
		}
	}
	// The new session's key has id 0, below every real id: at the same
	// privilege and size it is worth less, and evicts nothing.
	if victim == nil || evictableLess(privileged, size, 0, victim.privileged, victim.size, victim.id) {
		return false
	}
	c.evictedLocked(victim)
	return true
}

// evictableLess orders sessions by Kafka's EvictableKey: unprivileged
// before privileged, then by size, then by id.
func evictableLess(p1 bool, size1 int, id1 int32, p2 bool, size2 int, id2 int32) bool {
	if p1 != p2 {
		return !p1
	}
	if size1 != size2 {
		return size1 < size2
	}
	return id1 < id2
}

func (c *fetchSessionCache) evictedLocked(s *fetchSession) {
	c.removeLocked(s)
	if c.evictions != nil {
		c.evictions.Inc()
	}
}

// touchLocked marks s used now and records its size. c.mu is held, and
// s.mu unless s is not yet shared.
func (c *fetchSessionCache) touchLocked(s *fetchSession, now time.Time) {
	s.lastUsed = now
	c.partitions += len(s.parts) - s.size
	s.size = len(s.parts)
}

// remove closes the session with that id, if there is one.
func (c *fetchSessionCache) remove(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.sessions[id]; s != nil {
		c.removeLocked(s)
	}
}

// removeLocked takes s out of the cache. An answer being made for it still
// updates the orphan, harmlessly. c.mu is held.
func (c *fetchSessionCache) removeLocked(s *fetchSession) {
	if c.sessions[s.id] != s {
		return
	}
	delete(c.sessions, s.id)
	c.partitions -= s.size
}
