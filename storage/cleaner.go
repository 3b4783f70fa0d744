package storage

// The log cleaner: log.cleaner.threads goroutines per Manager, each
// cleaning the filthiest compacted log in turn (Kafka's LogCleaner and
// LogCleanerManager.grabFilthiestCompactedLog) and backing off for
// log.cleaner.backoff.ms when no log needs cleaning. Every log of the
// Manager is a candidate, leader or follower: each replica compacts its own
// copy, as in Kafka; offsets do not change, so replication goes on.

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Kafka's defaults.
const (
	defaultCleanerBackoff    = 15 * time.Second
	defaultDedupeBufferBytes = 128 << 20
)

// cleaner runs the cleaning threads of a Manager.
type cleaner struct {
	m       *Manager
	budget  int64 // offset-map bytes per thread
	backoff time.Duration
	wake    chan struct{}

	mu     sync.Mutex                 // guards busy and failed
	busy   map[*Log]bool              // being cleaned by a thread
	failed map[*Log]time.Time         // a failed cleaning is retried after this
	total  atomic.Pointer[CleanStats] // sums, for CleanerTotals
}

func newCleaner(m *Manager) *cleaner {
	threads := m.opts.CleanerThreads
	buf := m.opts.CleanerDedupeBufferSize
	if buf <= 0 {
		buf = defaultDedupeBufferBytes
	}
	c := &cleaner{m: m, budget: buf / int64(threads), backoff: m.opts.CleanerBackoff,
		wake: make(chan struct{}, threads), busy: map[*Log]bool{}, failed: map[*Log]time.Time{}}
	if c.backoff <= 0 {
		c.backoff = defaultCleanerBackoff
	}
	c.total.Store(&CleanStats{})
	return c
}

// run is one cleaner thread, until the Manager stops.
func (c *cleaner) run() {
	defer c.m.wg.Done()
	var om *offsetMap
	for {
		l := c.pick()
		cleaned := false
		if l != nil {
			st, did, err := l.clean(&om, c.budget, c.m.stop)
			c.finish(l, st, did, err)
			cleaned = did
		}
		if cleaned {
			continue // more may be waiting
		}
		t := time.NewTimer(c.backoff)
		select {
		case <-c.m.stop:
			t.Stop()
			return
		case <-c.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// pick chooses the log to clean: one whose max.compaction.lag.ms or delete
// horizon has passed first, else the one with the highest dirty ratio
// above its min.cleanable.dirty.ratio; nil when none.
func (c *cleaner) pick() *Log {
	now := c.m.now()
	nowMs := now.UnixMilli()
	var best *Log
	var bestMust bool
	var bestRatio float64
	c.mu.Lock()
	defer c.mu.Unlock()
	for l := range c.failed {
		if l.closed.Load() {
			delete(c.failed, l)
		}
	}
	for _, l := range c.m.openLogs() {
		if c.busy[l] {
			continue
		}
		if until, ok := c.failed[l]; ok {
			if now.Before(until) {
				continue
			}
			delete(c.failed, l)
		}
		l.mu.Lock()
		cl, ok := l.cleanableLocked(nowMs)
		l.mu.Unlock()
		if !ok {
			continue
		}
		if best == nil || (cl.must && !bestMust) || (cl.must == bestMust && cl.ratio > bestRatio) {
			best, bestMust, bestRatio = l, cl.must, cl.ratio
		}
	}
	if best != nil {
		c.busy[best] = true
	}
	return best
}

func (c *cleaner) finish(l *Log, st CleanStats, did bool, err error) {
	c.mu.Lock()
	delete(c.busy, l)
	if err != nil && !errors.Is(err, errCleaningAborted) && !errors.Is(err, ErrClosed) {
		// Kafka marks such a partition uncleanable; samsa tries again
		// later (a full disk may have room by then).
		c.failed[l] = c.m.now().Add(10 * c.backoff)
	}
	c.mu.Unlock()
	if err != nil && !errors.Is(err, errCleaningAborted) && !errors.Is(err, ErrClosed) {
		l.logger.Warn().Err(err).Dur("retry_in", 10*c.backoff).Msg("log cleaning failed; the log is unchanged")
	}
	if did {
		for {
			old := c.total.Load()
			sum := *old
			sum.BytesRead += st.BytesRead
			sum.BytesWritten += st.BytesWritten
			sum.BatchesRead += st.BatchesRead
			sum.BatchesKept += st.BatchesKept
			sum.Superseded += st.Superseded
			sum.Tombstones += st.Tombstones
			sum.Keyless += st.Keyless
			sum.Segments += st.Segments
			sum.Duration += st.Duration
			if c.total.CompareAndSwap(old, &sum) {
				break
			}
		}
	}
}

// WakeCleaner makes idle cleaner threads look for work now instead of at
// the end of their backoff.
func (m *Manager) WakeCleaner() {
	if m.cleaner == nil {
		return
	}
	for {
		select {
		case m.cleaner.wake <- struct{}{}:
		default:
			return
		}
	}
}

// CleanerTotals sums every cleaning of the Manager's cleaner so far
// (EndOffset unset); zero without a cleaner.
func (m *Manager) CleanerTotals() CleanStats {
	if m.cleaner == nil {
		return CleanStats{}
	}
	return *m.cleaner.total.Load()
}
