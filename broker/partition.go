package broker

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/storage"
)

// partition is one partition replica hosted by this broker. Today every
// hosted replica is the leader (replication factor 1); followers come with
// the replicated cluster.
type partition struct {
	topic   string
	index   int32
	topicID coordinator.TopicID
	log     *storage.Log

	cfg         atomic.Pointer[config.Topic]
	leaderEpoch atomic.Int32
	// meta is the TopicMeta the config was resolved from; a new pointer
	// means the topic changed.
	meta atomic.Pointer[coordinator.TopicMeta]

	// Fetch long-polls waiting for appends.
	nwaiters atomic.Int32
	waitMu   sync.Mutex
	waiters  []chan struct{} // guarded by waitMu
}

// addWaiter registers ch to be signalled (non-blocking) on the next append.
func (p *partition) addWaiter(ch chan struct{}) {
	p.waitMu.Lock()
	p.waiters = append(p.waiters, ch)
	p.nwaiters.Store(int32(len(p.waiters)))
	p.waitMu.Unlock()
}

// removeWaiter unregisters ch.
func (p *partition) removeWaiter(ch chan struct{}) {
	p.waitMu.Lock()
	for i, w := range p.waiters {
		if w == ch {
			p.waiters[i] = p.waiters[len(p.waiters)-1]
			p.waiters = p.waiters[:len(p.waiters)-1]
			break
		}
	}
	p.nwaiters.Store(int32(len(p.waiters)))
	p.waitMu.Unlock()
}

// notify wakes every waiting fetch. Cheap when nobody waits.
func (p *partition) notify() {
	if p.nwaiters.Load() == 0 {
		return
	}
	p.waitMu.Lock()
	for _, w := range p.waiters {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	p.waitMu.Unlock()
}

// partitionMap is an immutable set of hosted partitions.
type partitionMap struct {
	byTopic map[string][]*partition // index = partition number; nil entries allowed
}

func (m *partitionMap) get(topic string, p int32) *partition {
	ps := m.byTopic[topic]
	if p < 0 || int(p) >= len(ps) {
		return nil
	}
	return ps[p]
}

// partition returns the hosted partition or nil.
func (b *Broker) partition(topic string, p int32) *partition {
	return b.parts.Load().get(topic, p)
}

// reconcileLoop applies every metadata change to the hosted partitions.
func (b *Broker) reconcileLoop() {
	defer b.wg.Done()
	changes := b.store.Changes()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-changes:
		case <-b.reconcileSig:
		}
		b.reconcile()
	}
}

// reconcile opens the logs of partitions this broker now leads, updates
// leader epochs and configs, and deletes the logs of topics that are gone.
func (b *Broker) reconcile() {
	b.reconcileMu.Lock()
	defer b.reconcileMu.Unlock()
	snap := b.store.Snapshot()
	me := b.cfg.BrokerID
	old := b.parts.Load()
	next := &partitionMap{byTopic: make(map[string][]*partition, len(snap.Topics))}

	for name, tm := range snap.Topics {
		if tm.Info.Internal {
			continue // group and transaction state lives in etcd, not in logs
		}
		oldParts := old.byTopic[name]
		parts := make([]*partition, len(tm.Partitions))
		for i, st := range tm.Partitions {
			if !containsID(st.Replicas, me) {
				continue
			}
			var p *partition
			if i < len(oldParts) && oldParts[i] != nil && oldParts[i].topicID == tm.Info.ID {
				p = oldParts[i]
			}
			if p == nil {
				cfg := b.cfg.ResolveTopic(tm.Info.Configs)
				l, err := b.logs.GetOrCreate(name, int32(i), tm.Info.ID, cfg.Log)
				if errors.Is(err, storage.ErrTopicIDMismatch) {
					// A topic of the same name was deleted and re-created
					// while we were down: the old data is not this topic's.
					b.log.Info().Str("topic", name).Int("partition", i).Msg("removing the log of a deleted topic of the same name")
					if err = b.logs.Delete(name, int32(i)); err == nil {
						l, err = b.logs.GetOrCreate(name, int32(i), tm.Info.ID, cfg.Log)
					}
				}
				if err != nil {
					b.log.Error().Err(err).Str("topic", name).Int("partition", i).Msg("cannot open partition log")
					continue
				}
				p = &partition{topic: name, index: int32(i), topicID: tm.Info.ID, log: l}
				p.cfg.Store(&cfg)
				p.meta.Store(tm)
			} else if p.meta.Load() != tm {
				if !maps.Equal(p.meta.Load().Info.Configs, tm.Info.Configs) {
					cfg := b.cfg.ResolveTopic(tm.Info.Configs)
					p.cfg.Store(&cfg)
					p.log.UpdateConfig(cfg.Log)
				}
				p.meta.Store(tm)
			}
			p.leaderEpoch.Store(st.LeaderEpoch)
			if st.Leader == me {
				// A single replica: everything appended is committed.
				p.log.SetHighWatermark(p.log.LogEndOffset())
			}
			parts[i] = p
		}
		next.byTopic[name] = parts
	}
	// Partitions that are no longer ours (topic deleted or re-created).
	for name, oldParts := range old.byTopic {
		for i, p := range oldParts {
			if p == nil {
				continue
			}
			if np := next.get(name, int32(i)); np == p {
				continue
			}
			if err := b.logs.Delete(name, int32(i)); err != nil {
				b.log.Warn().Err(err).Str("topic", name).Int("partition", i).Msg("cannot delete partition log")
			}
			p.notify()
		}
	}
	// Logs on disk for topics that no longer exist (deleted while down).
	if old == nil || len(old.byTopic) == 0 {
		for _, tp := range b.logs.Existing() {
			if next.get(tp.Topic, tp.Partition) == nil && b.logs.Get(tp.Topic, tp.Partition) == nil {
				if err := b.logs.Delete(tp.Topic, tp.Partition); err != nil {
					b.log.Warn().Err(err).Str("topic", tp.Topic).Int32("partition", tp.Partition).Msg("cannot delete orphan partition log")
				}
			}
		}
	}
	b.parts.Store(next)
	b.reconciled.Store(snap.Revision)
}

// waitApplied waits until the metadata at revision rev is both in the
// snapshot and applied to the hosted partitions.
func (b *Broker) waitApplied(ctx context.Context, rev int64) error {
	if err := b.store.WaitForRevision(ctx, rev); err != nil {
		return err
	}
	if b.reconciled.Load() >= rev {
		return nil
	}
	b.reconcile()
	return nil
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
