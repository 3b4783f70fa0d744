package broker

// The broker's clock. Everything in the broker that expires by time reads
// it: the partition logs (retention by time, segment rolls by segment.ms,
// flush.ms, LogAppendTime), through storage.ManagerOptions.Now, and the group
// coordinator (session, rebalance and join timeouts, offset expiry), through
// its group.Clock seam. A broker run by `samsa serve` uses the wall clock;
// the in-process dev clusters (devcluster, samsatest) give all the brokers
// of one cluster one VirtualClock, so that a test can move time forward and
// see retention, rolls, session timeouts and offset expiry happen at once.

import (
	"sort"
	"sync"
	"time"

	"github.com/samsa-io/samsa/coordinator/group"
)

// Clock is what the broker reads the time and schedules timeouts with; it
// is the group coordinator's seam (group.Clock).
type Clock = group.Clock

// VirtualClock is the wall clock plus an offset that only Advance changes:
// it never runs slower than real time, and Advance moves it forward at
// once. A timer (AfterFunc) fires when its virtual deadline is reached,
// whether by time passing or by an Advance. Safe for concurrent use; the
// zero value is not usable, use NewVirtualClock.
type VirtualClock struct {
	mu     sync.Mutex
	offset time.Duration         // guarded by mu
	timers map[*virtualTimer]int // guarded by mu; value: insertion order
	seq    int                   // guarded by mu
}

// NewVirtualClock returns a clock that reads the wall clock until the first
// Advance.
func NewVirtualClock() *VirtualClock {
	return &VirtualClock{timers: make(map[*virtualTimer]int)}
}

// Now is the wall clock plus every Advance so far.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	return time.Now().Add(off)
}

// Offset is how far the clock is ahead of the wall clock.
func (c *VirtualClock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// AfterFunc calls f in its own goroutine once the clock has moved d past
// now (time.AfterFunc).
func (c *VirtualClock) AfterFunc(d time.Duration, f func()) group.Timer {
	t := &virtualTimer{c: c, f: f}
	c.mu.Lock()
	t.deadline = time.Now().Add(c.offset + d)
	c.seq++
	c.timers[t] = c.seq
	// Real time alone reaches the deadline after d: the wall-clock timer
	// covers that case, an Advance the other.
	t.real = time.AfterFunc(d, t.fireReal)
	c.mu.Unlock()
	return t
}

// Advance moves the clock forward by d (ignored unless positive) and fires
// every timer whose deadline it reached. It returns the new time. The
// timers' functions run in their own goroutines, as with time.AfterFunc,
// started in deadline order; Advance does not wait for them.
func (c *VirtualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	if d > 0 {
		c.offset += d
	}
	now := time.Now().Add(c.offset)
	var due []*virtualTimer
	for t := range c.timers {
		if !t.deadline.After(now) {
			due = append(due, t)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].deadline.Equal(due[j].deadline) {
			return due[i].deadline.Before(due[j].deadline)
		}
		return c.timers[due[i]] < c.timers[due[j]]
	})
	for _, t := range due {
		delete(c.timers, t)
		t.real.Stop()
	}
	c.mu.Unlock()
	for _, t := range due {
		go t.f()
	}
	return now
}

// Pending is the number of timers that have not fired or been stopped.
func (c *VirtualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// virtualTimer is one AfterFunc of a VirtualClock; it fires once, through
// whichever of the wall-clock timer and an Advance removes it from the
// clock's set first.
type virtualTimer struct {
	c        *VirtualClock
	f        func()
	deadline time.Time   // set under c.mu before the timer is visible
	real     *time.Timer // set under c.mu before the timer is visible
}

func (t *virtualTimer) fireReal() {
	t.c.mu.Lock()
	_, pending := t.c.timers[t]
	delete(t.c.timers, t)
	t.c.mu.Unlock()
	if pending {
		t.f()
	}
}

// Stop prevents the call if it has not happened yet and reports whether it
// did.
func (t *virtualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if _, pending := t.c.timers[t]; !pending {
		return false
	}
	delete(t.c.timers, t)
	t.real.Stop()
	return true
}
