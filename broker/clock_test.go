package broker

import (
	"sync"
	"testing"
	"time"

	"github.com/samsa-io/samsa/coordinator/group"
)

// TestVirtualClock: Advance moves Now and fires the timers it reaches, in
// deadline order, and only those; Stop prevents a call; a timer also fires
// when real time reaches its deadline.
func TestVirtualClock(t *testing.T) {
	c := NewVirtualClock()
	if d := time.Since(c.Now()); d < -time.Second || d > time.Second {
		t.Fatalf("a new clock is %v off the wall clock", d)
	}
	var mu sync.Mutex
	var fired []string
	done := make(chan string, 10)
	at := func(name string, d time.Duration) group.Timer {
		return c.AfterFunc(d, func() {
			mu.Lock()
			fired = append(fired, name)
			mu.Unlock()
			done <- name
		})
	}
	at("2h", 2*time.Hour)
	at("1h", time.Hour)
	stopped := at("90m", 90*time.Minute)
	at("3h", 3*time.Hour)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop: want true once, then false")
	}
	before := c.Now()
	now := c.Advance(150 * time.Minute)
	if now.Sub(before) < 150*time.Minute || c.Offset() != 150*time.Minute {
		t.Fatalf("Advance(150m) moved Now by %v, offset %v", now.Sub(before), c.Offset())
	}
	for range 2 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("a due timer did not fire")
		}
	}
	select {
	case n := <-done:
		t.Fatalf("timer %s fired before its deadline", n)
	case <-time.After(20 * time.Millisecond):
	}
	if c.Pending() != 1 {
		t.Fatalf("pending %d, want 1 (the 3h timer)", c.Pending())
	}
	mu.Lock()
	got := append([]string(nil), fired...)
	mu.Unlock()
	if len(got) != 2 || !(got[0] == "1h" || got[1] == "1h") {
		t.Fatalf("fired %v, want 1h and 2h", got)
	}
	// Real time reaches a short timer's deadline by itself.
	at("real", 10*time.Millisecond)
	select {
	case n := <-done:
		if n != "real" {
			t.Fatalf("fired %s", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a timer did not fire in real time")
	}
}
