package storage

// The log cleaner: log.cleaner.threads goroutines per Manager, each
// cleaning the filthiest compacted log in turn (Kafka's LogCleaner and
// LogCleanerManager.grabFilthiestCompactedLog) and backing off for
// log.cleaner.backoff.ms when no log needs cleaning. Every log of the
// Manager is a candidate, leader or follower: each replica compacts its own
// copy, as in Kafka; offsets do not change, so replication goes on.

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Kafka's defaults.
const (
	defaultCleanerBackoff    = 15 * time.Second
	defaultDedupeBufferBytes = 128 << 20
	defaultLoadFactor        = 0.9
)

// throttler keeps the cleaners' I/O under log.cleaner.io.max.bytes.per.second
// on average, as Kafka's Throttler: every 300 ms of observation it sleeps
// off what went over. Shared by the threads of a Manager. A nil throttler
// does not throttle.
type throttler struct {
	rate  float64                              // bytes per second
	now   func() time.Time                     // time.Now (tests: a fake clock)
	sleep func(time.Duration, <-chan struct{}) // sleeps until stop (tests: recorded)

	mu       sync.Mutex // guards the window
	start    time.Time
	observed float64
}

const throttleCheck = 300 * time.Millisecond

func newThrottler(rate float64) *throttler {
	if rate <= 0 || math.IsInf(rate, 1) || rate >= math.MaxFloat64 {
		return nil
	}
	return &throttler{rate: rate, now: time.Now, sleep: sleepOrStop}
}

func sleepOrStop(d time.Duration, stop <-chan struct{}) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-stop:
	}
}

// wait records n bytes of I/O and sleeps (until stop closes, at most)
// when the window's rate is above the limit.
func (t *throttler) wait(n int64, stop <-chan struct{}) {
	if t == nil {
		return
	}
	t.mu.Lock()
	now := t.now()
	if t.start.IsZero() {
		t.start = now
	}
	t.observed += float64(n)
	elapsed := now.Sub(t.start)
	var sleep time.Duration
	if elapsed >= throttleCheck {
		if need := time.Duration(t.observed / t.rate * float64(time.Second)); need > elapsed {
			sleep = need - elapsed
		}
		t.start, t.observed = now.Add(sleep), 0
	}
	t.mu.Unlock()
	if sleep > 0 {
		t.sleep(sleep, stop)
	}
}

// cleaner runs the cleaning threads of a Manager.
type cleaner struct {
	m       *Manager
	set     cleanerSettings // budget per thread, load factor, throttle
	backoff time.Duration
	wake    chan struct{}
	threads int
	stop    chan struct{}  // closed to end this cleaner's threads (Close, ReconfigureCleaner)
	done    sync.WaitGroup // this cleaner's threads
	running bool           // threads started; Manager.cleanerMu guards it

	mu     sync.Mutex                 // guards busy and failed
	busy   map[*Log]bool              // being cleaned by a thread
	failed map[*Log]time.Time         // a failed cleaning is retried after this
	total  atomic.Pointer[CleanStats] // sums, for CleanerTotals
}

// CleanerOptions are the log.cleaner.* settings of a Manager's cleaner
// (ManagerOptions' Cleaner* fields; ReconfigureCleaner).
type CleanerOptions struct {
	Threads           int
	DedupeBufferSize  int64
	Backoff           time.Duration
	LoadFactor        float64
	MaxBytesPerSecond float64
}

func (m *Manager) cleanerOptions() CleanerOptions {
	o := &m.opts
	return CleanerOptions{Threads: o.CleanerThreads, DedupeBufferSize: o.CleanerDedupeBufferSize,
		Backoff: o.CleanerBackoff, LoadFactor: o.CleanerLoadFactor, MaxBytesPerSecond: o.CleanerMaxBytesPerSecond}
}

func newCleaner(m *Manager, o CleanerOptions) *cleaner {
	threads := o.Threads
	buf := o.DedupeBufferSize
	if buf <= 0 {
		buf = defaultDedupeBufferBytes
	}
	load := o.LoadFactor
	if load <= 0 || load > 1 {
		load = defaultLoadFactor
	}
	set := cleanerSettings{budget: buf / int64(threads), load: load, throttle: newThrottler(o.MaxBytesPerSecond)}
	c := &cleaner{m: m, set: set, backoff: o.Backoff, threads: threads, stop: make(chan struct{}),
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
	defer c.done.Done()
	var om *offsetMap
	for {
		l := c.pick()
		cleaned := false
		if l != nil {
			st, did, err := l.cleanWith(&om, c.set, c.stop)
			c.finish(l, st, did, err)
			cleaned = did
		}
		if cleaned {
			continue // more may be waiting
		}
		t := time.NewTimer(c.backoff)
		select {
		case <-c.stop:
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
			sum := old.plus(st)
			if c.total.CompareAndSwap(old, &sum) {
				break
			}
		}
	}
}

// WakeCleaner makes idle cleaner threads look for work now instead of at
// the end of their backoff.
func (m *Manager) WakeCleaner() {
	c := m.cleaner.Load()
	if c == nil {
		return
	}
	for {
		select {
		case c.wake <- struct{}{}:
		default:
			return
		}
	}
}

// CleanerTotals sums every cleaning of the Manager's cleaner so far
// (EndOffset unset); zero without a cleaner.
func (m *Manager) CleanerTotals() CleanStats {
	m.cleanerMu.Lock()
	defer m.cleanerMu.Unlock()
	return m.cleanerTotal.add(m.cleaner.Load())
}

// add is t plus c's totals (t alone for a nil c).
func (t CleanStats) add(c *cleaner) CleanStats {
	if c == nil {
		return t
	}
	return t.plus(*c.total.Load())
}

// plus sums two cleanings' figures (EndOffset left as t's).
func (t CleanStats) plus(st CleanStats) CleanStats {
	t.BytesRead += st.BytesRead
	t.BytesWritten += st.BytesWritten
	t.BatchesRead += st.BatchesRead
	t.BatchesKept += st.BatchesKept
	t.Superseded += st.Superseded
	t.Tombstones += st.Tombstones
	t.Keyless += st.Keyless
	t.Aborted += st.Aborted
	t.Segments += st.Segments
	t.Duration += st.Duration
	return t
}

// startCleaner runs c's threads, once. cleanerMu held.
func (m *Manager) startCleaner(c *cleaner) {
	if c.running {
		return
	}
	c.running = true
	for range c.threads {
		m.wg.Add(1)
		c.done.Add(1)
		go c.run()
	}
}

// stopCleaner ends the current cleaner's threads and waits for them (a
// cleaning cut short leaves the log as it was: cleaning is crash-safe).
// cleanerMu held.
func (m *Manager) stopCleaner() {
	c := m.cleaner.Load()
	if c == nil {
		return
	}
	close(c.stop)
	c.done.Wait()
	m.cleanerTotal = m.cleanerTotal.add(c)
	m.cleaner.Store(nil)
}

// ReconfigureCleaner applies log.cleaner.* settings changed at run time
// (dynamic broker configs): as Kafka's LogCleaner.reconfigure, the
// running threads stop (a cleaning in progress is cut short and done
// again later) and new ones start with the new settings; 0 threads runs
// none. Before Start it only records the settings.
func (m *Manager) ReconfigureCleaner(o CleanerOptions) {
	m.cleanerMu.Lock()
	defer m.cleanerMu.Unlock()
	m.mu.Lock()
	closed, started := m.closed, m.started
	m.mu.Unlock()
	if closed {
		return
	}
	m.stopCleaner()
	m.opts.CleanerThreads, m.opts.CleanerDedupeBufferSize, m.opts.CleanerBackoff = o.Threads, o.DedupeBufferSize, o.Backoff
	m.opts.CleanerLoadFactor, m.opts.CleanerMaxBytesPerSecond = o.LoadFactor, o.MaxBytesPerSecond
	if o.Threads <= 0 {
		return
	}
	c := newCleaner(m, o)
	m.cleaner.Store(c)
	if started {
		m.startCleaner(c)
	}
}
