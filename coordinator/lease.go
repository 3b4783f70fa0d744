package coordinator

// Lease fencing: how long this broker's registration lease is certainly
// still valid from etcd's point of view. A broker cut off from etcd must
// stop acting as a leader before its lease can have expired there: the
// controller elects a new leader once the lease is gone, and two leaders
// must never both complete acks=all writes.
//
// Every probe interval the broker asks etcd for the lease's remaining TTL
// (TimeToLive). The answer was true at some moment after the request was
// sent, so the lease is valid at least until sendTime + TTL. etcd truncates
// the remaining TTL to whole seconds, which only makes the bound earlier.
// validUntil = sendTime + TTL - margin; the margin covers the difference
// between this host's clock rate and the etcd leader's over one TTL. A
// probe that fails or does not return leaves validUntil where it was, so
// the broker's leases run out on their own when etcd is unreachable. etcd
// only ever extends a lease's expiry (a keepalive, or a new etcd leader
// restarting the countdown), so a bound once measured stays true; a lease
// that is gone (revoked, expired) ends validity at once.
//
// After a lost lease the broker registers again under a new lease; that
// lease counts as valid only once the broker's Snapshot has caught up with
// the re-registration, so that it does not act on the leaderships it held
// before it was cut off without seeing what the controller did meanwhile.

import (
	"context"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaseClock holds validUntil on the monotonic clock: nanoseconds since
// base, 0 when not valid.
type leaseClock struct {
	base       time.Time
	validUntil atomic.Int64
	lease      atomic.Int64 // the lease validUntil belongs to (clientv3.LeaseID)
}

// now is the monotonic time since base (at least 1, so that 0 means
// "never valid").
func (c *leaseClock) now() int64 { return max(1, int64(time.Since(c.base))) }

// extend moves validUntil to at for lease, never backwards for the same
// lease.
func (c *leaseClock) extend(lease clientv3.LeaseID, at time.Time) {
	v := max(1, int64(at.Sub(c.base)))
	if clientv3.LeaseID(c.lease.Load()) != lease {
		c.lease.Store(int64(lease))
		c.validUntil.Store(v)
		return
	}
	for {
		cur := c.validUntil.Load()
		if v <= cur || c.validUntil.CompareAndSwap(cur, v) {
			return
		}
	}
}

// invalidate ends validity now (the lease is gone, or the registration).
func (c *leaseClock) invalidate() { c.validUntil.Store(0) }

// leaseMargin is subtracted from every measured bound.
func (s *Store) leaseMargin() time.Duration {
	return min(500*time.Millisecond, s.cfg.SessionTTL/10)
}

// leaseProbeInterval is how often the remaining TTL is asked for: often
// enough that a bound of TTL*2/3 - 1 s (the worst a probe between two
// keepalives measures, after etcd's truncation) is renewed well before it
// runs out.
func (s *Store) leaseProbeInterval() time.Duration {
	return min(time.Second, max(50*time.Millisecond, s.cfg.SessionTTL/12))
}

// LeaseValidUntil returns until when this broker's registration lease is
// certainly valid in etcd (the zero time when it is not registered or the
// lease is gone). See lease.go.
func (s *Store) LeaseValidUntil() time.Time {
	v := s.lease.validUntil.Load()
	if v == 0 {
		return time.Time{}
	}
	return s.lease.base.Add(time.Duration(v))
}

// LeaseValid reports whether this broker's registration lease is
// certainly still valid in etcd now. While it is not, the broker must not
// act as the leader of anything. Cheap (an atomic load and a clock read):
// the produce path calls it.
func (s *Store) LeaseValid() bool {
	v := s.lease.validUntil.Load()
	return v != 0 && s.lease.now() < v
}

// probeLease measures the validity of r's current lease every probe
// interval until r is stopped.
func (s *Store) probeLease(r *registration) {
	defer s.wg.Done()
	defer close(r.probeDone)
	interval := s.leaseProbeInterval()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		lease, ok := r.validLease()
		if !ok {
			continue // re-registering: validity waits for the new lease
		}
		sent := time.Now()
		ctx, cancel := context.WithTimeout(r.ctx, s.cfg.SessionTTL)
		resp, err := s.client.TimeToLive(ctx, lease)
		cancel()
		if err != nil {
			continue // validUntil runs out by itself
		}
		r.mu.Lock()
		if r.leaseReady && r.session != nil && r.session.Lease() == lease {
			switch {
			case resp.TTL < 0: // -1: expired or revoked
				s.lease.invalidate()
			case resp.TTL == 0: // under a second left (truncated): nothing to add
			default:
				s.lease.extend(lease, sent.Add(time.Duration(resp.TTL)*time.Second-s.leaseMargin()))
			}
		}
		r.mu.Unlock()
	}
}

// leaseGranted makes r's current lease count for validity, from a grant
// sent at granted (the lease's TTL started after that), once the Snapshot
// has seen the registration.
func (s *Store) leaseGranted(r *registration, granted time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.session == nil {
		return
	}
	r.leaseReady = true
	s.lease.extend(r.session.Lease(), granted.Add(time.Duration(s.sessionTTLSeconds())*time.Second-s.leaseMargin()))
}

// leaseLost ends validity: r's lease is gone (or r is).
func (s *Store) leaseLost(r *registration) {
	r.mu.Lock()
	r.leaseReady = false
	s.lease.invalidate()
	r.mu.Unlock()
}
