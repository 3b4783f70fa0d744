package coordinator

// The broker registry (brokers/<id> under a lease) and the controller
// election (controller/<lease-hex>, concurrency.Election on the same lease).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// registration is this broker's live registration. Its goroutine keeps the
// session, campaigns, and re-registers after a lost lease.
type registration struct {
	id     int32
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has exited
	// probeDone is closed when the lease probe (lease.go) has exited.
	probeDone chan struct{}

	running bool // guarded by Store.regMu; the goroutines were started

	mu      sync.Mutex
	session *concurrency.Session // guarded by mu; the current lease
	info    BrokerInfo           // guarded by mu; what is (re-)registered
	// leaseReady: the session's lease counts for Store.LeaseValid (the
	// Snapshot has seen the registration under it). Guarded by mu.
	leaseReady bool
}

// validLease returns the current lease if it counts for validity.
func (r *registration) validLease() (clientv3.LeaseID, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.session == nil || !r.leaseReady {
		return clientv3.NoLease, false
	}
	return r.session.Lease(), true
}

func (r *registration) currentInfo() BrokerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info
}

// stop ends the registration's goroutines and waits for them until ctx
// ends. They may outlive it: a campaign cut short resigns with the etcd
// client's own context (concurrency.Election.Campaign), which an
// unreachable etcd never answers; Store.Close ends that by closing the
// client.
func (r *registration) stop(ctx context.Context) error {
	r.cancel()
	for _, ch := range []chan struct{}{r.done, r.probeDone} {
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("coordinator: the registration did not stop (etcd unreachable?): %w", ctx.Err())
		}
	}
	return nil
}

func (r *registration) currentSession() *concurrency.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.session
}

func (r *registration) setSession(sess *concurrency.Session) {
	r.mu.Lock()
	r.session = sess
	r.mu.Unlock()
}

// brokerIDInUseError is returned (wrapping ErrBrokerIDInUse) when another
// live broker holds the id.
type brokerIDInUseError struct {
	id int32
	by string
}

func (e *brokerIDInUseError) Error() string {
	return fmt.Sprintf("coordinator: broker id %d is already registered by %s", e.id, e.by)
}

func (e *brokerIDInUseError) Unwrap() error { return ErrBrokerIDInUse }

// RegisterBroker registers this broker under a lease kept alive in the
// background; the key disappears when the process dies (lease expiry) or on
// Deregister. It also campaigns for the controller role.
//
// If the id is held by a live lease of a registration with the same
// host:port, it is taken to be this broker's previous incarnation (a restart
// within the lease TTL): its key is taken over and its lease revoked. A
// registration with another host:port fails with ErrBrokerIDInUse. When the
// lease is lost (etcd unreachable for longer than the TTL), the broker
// re-registers by itself and logs it.
func (s *Store) RegisterBroker(ctx context.Context, info BrokerInfo) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if info.ID < 0 {
		return fmt.Errorf("coordinator: invalid broker id %d", info.ID)
	}
	rctx, cancel := context.WithCancel(s.ctx)
	r := &registration{id: info.ID, info: info, ctx: rctx, cancel: cancel, done: make(chan struct{}), probeDone: make(chan struct{})}
	s.regMu.Lock()
	if s.reg != nil {
		s.regMu.Unlock()
		cancel()
		return fmt.Errorf("coordinator: broker %d is already registered by this store", s.reg.id)
	}
	s.reg = r // reserve; cleared below on failure
	s.regMu.Unlock()

	sess, rev, granted, err := s.registerOnce(ctx, rctx, info, clientv3.NoLease)
	if err == nil {
		// Return once our own Snapshot lists us: topics created next see
		// this broker as live.
		err = s.WaitForRevision(ctx, rev)
		if err != nil {
			sess.Close()
		}
	}
	if err != nil {
		cancel()
		s.regMu.Lock()
		if s.reg == r {
			s.reg = nil
		}
		s.regMu.Unlock()
		return err
	}
	r.setSession(sess)
	// Start the goroutine unless Close came first (Close sets closed
	// before it takes regMu, so either it waits for this goroutine or we
	// see closed here).
	s.regMu.Lock()
	if s.reg != r || s.closed.Load() {
		s.regMu.Unlock()
		cancel()
		sess.Orphan()
		return ErrClosed
	}
	r.running = true
	s.leaseGranted(r, granted)
	s.wg.Add(2)
	go s.runRegistration(r)
	go s.probeLease(r)
	s.regMu.Unlock()
	s.log.Info().Int32("broker_id", info.ID).Str("addr", brokerAddr(info)).
		Str("lease", fmt.Sprintf("%x", int64(sess.Lease()))).Msg("broker registered")
	return nil
}

func brokerAddr(b BrokerInfo) string {
	return net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
}

func (s *Store) sessionTTLSeconds() int64 {
	return max(1, int64(math.Ceil(s.cfg.SessionTTL.Seconds())))
}

// registerOnce grants a lease, writes brokers/<id> under it and returns a
// session keeping the lease alive until sessCtx ends, the revision of the
// write and when the grant was sent (the lease's TTL runs from later).
//
// An existing key is taken over on a first registration (prevLease ==
// NoLease) if it has the same host:port (our previous incarnation), and on
// a re-registration only if it is still under prevLease (our own lease,
// which we stopped renewing). The asymmetry stops two misconfigured
// brokers with the same id and address from taking the key from each other
// forever: the later one wins once, the earlier one then waits.
func (s *Store) registerOnce(ctx, sessCtx context.Context, info BrokerInfo, prevLease clientv3.LeaseID) (*concurrency.Session, int64, time.Time, error) {
	ttl := s.sessionTTLSeconds()
	granted := time.Now()
	grant, err := s.client.Grant(ctx, ttl)
	if err != nil {
		return nil, 0, granted, fmt.Errorf("coordinator: grant broker lease: %w", err)
	}
	lease := grant.ID
	revoke := func() {
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = s.client.Revoke(rctx, lease)
	}
	val, err := json.Marshal(info)
	if err != nil {
		revoke()
		return nil, 0, granted, fmt.Errorf("coordinator: encode broker info: %w", err)
	}
	key := s.Key("brokers", strconv.Itoa(int(info.ID)))

	registered, rev := false, int64(0)
	for attempt := 0; attempt < 5 && !registered; attempt++ {
		resp, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(val), clientv3.WithLease(lease))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			revoke()
			return nil, 0, granted, fmt.Errorf("coordinator: register broker %d: %w", info.ID, err)
		}
		if resp.Succeeded {
			registered, rev = true, resp.Header.Revision
			break
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			continue // deleted in between; try again
		}
		old := kvs[0]
		var existing BrokerInfo
		ours := json.Unmarshal(old.Value, &existing) == nil && existing.Host == info.Host && existing.Port == info.Port
		if prevLease != clientv3.NoLease {
			ours = clientv3.LeaseID(old.Lease) == prevLease
		}
		if !ours {
			revoke()
			return nil, 0, granted, &brokerIDInUseError{id: info.ID, by: brokerAddr(existing)}
		}
		// Our previous incarnation: take the key over.
		resp, err = s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", old.ModRevision)).
			Then(clientv3.OpPut(key, string(val), clientv3.WithLease(lease))).
			Commit()
		if err != nil {
			revoke()
			return nil, 0, granted, fmt.Errorf("coordinator: register broker %d: %w", info.ID, err)
		}
		if !resp.Succeeded {
			continue
		}
		registered, rev = true, resp.Header.Revision
		if oldLease := clientv3.LeaseID(old.Lease); oldLease != clientv3.NoLease && oldLease != lease {
			// Also drops the old incarnation's election key, so a new
			// controller is elected now rather than after the TTL.
			if _, err := s.client.Revoke(ctx, oldLease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
				s.log.Warn().Err(err).Msg("revoking the previous registration's lease failed")
			}
		}
		s.log.Info().Int32("broker_id", info.ID).Msg("took over the registration of this broker's previous incarnation")
	}
	if !registered {
		revoke()
		return nil, 0, granted, fmt.Errorf("coordinator: register broker %d: %w", info.ID, ErrConflict)
	}
	sess, err := concurrency.NewSession(s.client, concurrency.WithLease(lease),
		concurrency.WithTTL(int(ttl)), concurrency.WithContext(sessCtx))
	if err != nil {
		revoke()
		return nil, 0, granted, fmt.Errorf("coordinator: keep broker lease alive: %w", err)
	}
	return sess, rev, granted, nil
}

// runRegistration campaigns for the controller while the session lives and
// re-registers after the lease is lost, until the registration is stopped.
func (s *Store) runRegistration(r *registration) {
	defer s.wg.Done()
	defer close(r.done)
	log := s.log.With().Int32("broker_id", r.id).Logger()
	for {
		sess := r.currentSession()
		s.campaign(r, sess)
		s.leaseLost(r)
		sess.Orphan() // ends its keepalive goroutine
		if r.ctx.Err() != nil {
			return
		}
		log.Warn().Msg("broker lease lost, registering again")
		backoff := 100 * time.Millisecond
		for {
			ns, rev, granted, err := s.registerOnce(r.ctx, r.ctx, r.currentInfo(), sess.Lease())
			if err == nil {
				r.setSession(ns)
				// Valid again once the Snapshot shows what happened while
				// the broker was cut off (see lease.go).
				if err = s.WaitForRevision(r.ctx, rev); err == nil {
					s.leaseGranted(r, granted)
					log.Info().Str("lease", fmt.Sprintf("%x", int64(ns.Lease()))).Msg("broker registered again")
					break
				}
				if r.ctx.Err() != nil {
					return
				}
				// Keep the session; campaign on it, and wait again after
				// the next loss. Should not happen: the watch is up.
				log.Warn().Err(err).Msg("re-registered, but the metadata did not catch up; the lease stays unused")
				break
			}
			if r.ctx.Err() != nil {
				return
			}
			log.Error().Err(err).Dur("retry_in", backoff).Msg("re-registering broker failed")
			select {
			case <-time.After(backoff):
			case <-r.ctx.Done():
				return
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

// campaign runs the controller election on sess until the session ends or
// the registration is stopped, keeping isController current.
func (s *Store) campaign(r *registration, sess *concurrency.Session) {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	stop := context.AfterFunc(sess.Ctx(), cancel)
	defer stop()

	el := concurrency.NewElection(sess, s.Key("controller"))
	val := strconv.Itoa(int(r.id))
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := el.Campaign(ctx, val); err != nil {
			if ctx.Err() != nil || errors.Is(err, rpctypes.ErrLeaseNotFound) {
				return // stopped, or the lease is gone: re-register
			}
			s.log.Warn().Err(err).Dur("retry_in", backoff).Msg("controller campaign failed")
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		s.setFence(electionFence{key: el.Key(), rev: el.Rev()})
		s.isController.Store(true)
		s.notifySubscribers()
		s.log.Info().Int32("broker_id", r.id).Msg("elected controller")
		err := s.waitDeleted(ctx, el.Key(), el.Rev())
		s.isController.Store(false)
		s.setFence(electionFence{})
		s.notifySubscribers()
		if ctx.Err() != nil {
			return
		}
		s.log.Warn().Err(err).Int32("broker_id", r.id).Msg("lost the controller role, campaigning again")
	}
}

// waitDeleted returns when key (created at createRev) is gone or ctx ends.
func (s *Store) waitDeleted(ctx context.Context, key string, createRev int64) error {
	rev := createRev
	for ctx.Err() == nil {
		wch := s.client.Watch(clientv3.WithRequireLeader(ctx), key, clientv3.WithRev(rev+1), clientv3.WithFilterPut())
		for resp := range wch {
			if resp.Err() != nil || resp.CompactRevision != 0 {
				break
			}
			for _, ev := range resp.Events {
				if ev.Type == mvccpb.DELETE {
					return errors.New("election key deleted")
				}
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The watch broke: check the key directly, then watch again.
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != createRev {
			return errors.New("election key deleted")
		}
		rev = resp.Header.Revision
	}
	return ctx.Err()
}

// Deregister removes the broker key and revokes the lease (clean shutdown).
// Resigning the controller role is part of it: the election key goes too.
// It returns by the time ctx ends, whether etcd answers or not.
func (s *Store) Deregister(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	s.regMu.Lock()
	r := s.reg
	if r != nil && !r.running {
		s.regMu.Unlock()
		return errors.New("coordinator: deregister: registration still in progress")
	}
	s.reg = nil
	s.regMu.Unlock()
	if r == nil {
		return nil
	}
	stopErr := r.stop(ctx)
	s.leaseLost(r)
	s.isController.Store(false)
	if stopErr != nil {
		// etcd cannot be reached in time: the keys go with the lease.
		return fmt.Errorf("coordinator: deregister broker %d: %w", r.id, stopErr)
	}
	sess := r.currentSession()
	lease := sess.Lease()
	bkey := s.Key("brokers", strconv.Itoa(int(r.id)))
	ekey := fmt.Sprintf("%s/%x", s.Key("controller"), int64(lease))
	// Delete the broker key only if it is still ours (a newer incarnation
	// may have taken it over).
	_, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.LeaseValue(bkey), "=", lease)).
		Then(clientv3.OpDelete(bkey), clientv3.OpDelete(ekey)).
		Else(clientv3.OpDelete(ekey)).
		Commit()
	if err != nil {
		return fmt.Errorf("coordinator: deregister broker %d: %w", r.id, err)
	}
	if _, err := s.client.Revoke(ctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		// The keys are gone already; the lease expires by itself (an etcd
		// losing its quorum as the last brokers of a combined-mode
		// cluster stop together cannot take the revoke).
		s.log.Warn().Err(err).Int32("broker_id", r.id).Msg("broker deregistered, but its lease could not be revoked; it expires by itself")
		return nil
	}
	s.log.Info().Int32("broker_id", r.id).Msg("broker deregistered")
	return nil
}

// SetOfflineReplicas publishes the replicas of this broker that are offline
// (see BrokerInfo.OfflineReplicas): it rewrites brokers/<id> under the
// current lease, and every later re-registration carries the list. It
// fails until RegisterBroker has returned.
func (s *Store) SetOfflineReplicas(ctx context.Context, offline []ReplicaRef) error {
	return s.updateRegistration(ctx, "publish offline replicas", func(b *BrokerInfo) {
		b.OfflineReplicas = slices.Clone(offline)
	})
}

// SetShuttingDown publishes that this broker is in a controlled shutdown
// (BrokerInfo.ShuttingDown): the controller moves its leaderships away and
// takes it out of the ISRs. Like SetOfflineReplicas.
func (s *Store) SetShuttingDown(ctx context.Context, shuttingDown bool) error {
	return s.updateRegistration(ctx, "publish controlled shutdown", func(b *BrokerInfo) {
		b.ShuttingDown = shuttingDown
	})
}

// SetUncleanShutdown publishes whether this broker came back from an
// unclean shutdown and still waits for the controller to take it out of
// the ISRs and ELRs (BrokerInfo.UncleanShutdown). Like SetOfflineReplicas.
func (s *Store) SetUncleanShutdown(ctx context.Context, unclean bool) error {
	return s.updateRegistration(ctx, "publish unclean shutdown", func(b *BrokerInfo) {
		b.UncleanShutdown = unclean
	})
}

// updateRegistration changes what this broker registers and rewrites
// brokers/<id> under the current lease.
func (s *Store) updateRegistration(ctx context.Context, what string, change func(*BrokerInfo)) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	s.regMu.Lock()
	r := s.reg
	s.regMu.Unlock()
	if r == nil {
		return fmt.Errorf("coordinator: %s: broker not registered", what)
	}
	r.mu.Lock()
	change(&r.info)
	info, sess := r.info, r.session
	r.mu.Unlock()
	if sess == nil {
		return fmt.Errorf("coordinator: %s: registration still in progress", what)
	}
	val, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("coordinator: encode broker info: %w", err)
	}
	key := s.Key("brokers", strconv.Itoa(int(info.ID)))
	lease := sess.Lease()
	// Only while the key is still under our lease: after a lost lease the
	// re-registration writes the new info itself.
	_, err = s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.LeaseValue(key), "=", lease)).
		Then(clientv3.OpPut(key, string(val), clientv3.WithLease(lease))).
		Commit()
	if err != nil {
		return fmt.Errorf("coordinator: %s of broker %d: %w", what, info.ID, err)
	}
	return nil
}

// IsController reports whether this broker currently holds the controller
// election.
func (s *Store) IsController() bool { return s.isController.Load() }
