package group

import "time"

// Clock is the time seam: the coordinator reads the time and schedules its
// session, rebalance and join timeouts through it, so tests can drive time.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d (time.AfterFunc).
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled call; Stop reports whether it prevented the call.
type Timer interface {
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// RealClock is the wall clock.
var RealClock Clock = realClock{}
