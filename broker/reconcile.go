package broker

// The reconciler applies the metadata snapshot to the replicas this broker
// hosts. It runs once at start-up, before the listeners accept, and then on
// every snapshot change, one run at a time (Broker.reconcileMu).
//
// What it may do to data on disk (data is sacred):
//
//   - A partition directory is deleted only on a decision recorded in etcd:
//     its topic id was deleted (the tombstone topics-deleted/<id> that
//     DeleteTopic writes in the same transaction as the deletion), or a
//     reassignment took the replica away from this broker (a replica this
//     broker hosted whose partition, under the same topic id, no longer
//     lists it: the partition state written by the reassignment's
//     completion or cancel, coordinator/reassign.go). Deletion is Kafka's:
//     rename to "-delete", remove after file.delete.delay.ms.
//   - A directory whose topic id the cluster does not know is set aside as
//     "-stray" (Kafka 3.7+) and kept; so is, at start-up, a directory of a
//     known topic id that the cluster does not assign here (as Kafka's
//     findStrayReplicas: this broker did not see it taken away).
//   - A log that cannot be opened makes its replica offline; nothing is
//     removed, and a later start that can open it serves it again.
//   - A topic deleted and re-created under the same name is two topic ids:
//     the new replica never takes over the old id's log, whether one run sees
//     both changes or two runs do.
//
// etcd is never called with reconcileMu held: what the run decides to tell
// etcd (offline replicas, tombstone confirmations) is published by
// publishLoop.

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/storage"
)

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

// reconcile runs the reconciler once on the current snapshot.
func (b *Broker) reconcile() {
	b.reconcileMu.Lock()
	defer b.reconcileMu.Unlock()
	snap := b.store.Snapshot()
	b.metrics.observeSnapshot(snap)
	prevCfg := b.conf()
	cfg := b.applyDynamic(snap)
	b.applyGroupConfigs(snap, cfg, cfg != prevCfg)
	r := &reconcileRun{b: b, snap: snap, me: b.cfg.BrokerID, cfg: cfg,
		next: &partitionMap{byTopic: make(map[string][]*partition, len(snap.Topics))}}
	old := b.parts.Load()
	r.removeStale(old)
	r.applyTopics(old)
	r.openNew()
	if !b.swept {
		r.sweepDisk()
		b.swept = true
	}
	b.parts.Store(r.next)
	b.reconciled.Store(snap.Revision)
	b.signalPublish()
}

// reconcileRun is one reconcile's working state.
type reconcileRun struct {
	b    *Broker
	snap *coordinator.Snapshot
	me   int32
	cfg  *config.Broker // the effective configuration of this run
	next *partitionMap
	// toOpen are the replicas this run hosts anew, with their states: their
	// roles are set once their logs are open.
	toOpen   []*partition
	toOpenSt []coordinator.PartitionState
}

// assigned reports whether the snapshot assigns partition i of the topic id
// to this broker, and returns the topic.
func (r *reconcileRun) assigned(name string, id coordinator.TopicID, i int32) (*coordinator.TopicMeta, bool) {
	tm := r.snap.Topic(name)
	if tm == nil || tm.Info.ID != id || tm.Info.Internal || int(i) >= len(tm.Partitions) {
		return tm, false
	}
	return tm, containsID(tm.Partitions[i].Replicas, r.me)
}

// removeStale retires the replicas of the previous run that the snapshot no
// longer gives this broker under the same topic id.
func (r *reconcileRun) removeStale(old *partitionMap) {
	old.all(func(p *partition) {
		if _, ok := r.assigned(p.topic, p.topicID, p.index); ok {
			return
		}
		// Nothing more is fetched into it, and no acks=all wait stays.
		r.b.fetchers.unfollow(p)
		if p.leader.Swap(false) {
			p.stopLeading()
		}
		p.notify() // long-polls and acks=all waits see the partition gone
		r.retire(p.topic, p.index, p.topicID, p.deleteDelay(), r.reassignedAway(p))
	})
}

// reassignedAway reports whether the snapshot shows the hosted replica p
// taken away from this broker by a reassignment: its topic id is still
// the topic's, and the partition's (written) state no longer lists this
// broker among its replicas. Only the reassignment's completion or cancel
// rewrites a partition's replicas of a topic with logs.
func (r *reconcileRun) reassignedAway(p *partition) bool {
	tm := r.snap.TopicByID(p.topicID)
	if tm == nil || tm.Info.Internal || int(p.index) >= len(tm.Partitions) {
		return false
	}
	st := tm.Partitions[p.index]
	return st.PartitionEpoch >= 0 && !containsID(st.Replicas, r.me)
}

// retire removes a replica's directory from service: deleted when the
// snapshot holds the tombstone of its topic id or a reassignment took the
// replica away (reassigned), else set aside as stray.
func (r *reconcileRun) retire(topic string, index int32, id coordinator.TopicID, delay time.Duration, reassigned bool) {
	log := r.b.log.With().Str("topic", topic).Int32("partition", index).Str("topic_id", id.String()).Logger()
	if _, deleted := r.snap.DeletedTopics[id]; deleted {
		if err := r.b.logs.Delete(topic, index, delay); err != nil {
			log.Error().Err(err).Msg("cannot delete the log of a deleted topic; it is kept")
		}
		return
	}
	if reassigned {
		log.Info().Msg("replica reassigned away from this broker: deleting its log")
		if err := r.b.logs.Delete(topic, index, delay); err != nil {
			log.Error().Err(err).Msg("cannot delete the log of a replica reassigned away; it is kept")
		}
		return
	}
	if _, err := r.b.logs.MarkStray(topic, index); err != nil {
		log.Error().Err(err).Msg("cannot set aside a log the cluster no longer assigns here; it is kept in place")
	}
}

// deleteDelay is file.delete.delay.ms for the replica's deletion.
func (p *partition) deleteDelay() time.Duration {
	if c := p.cfg.Load(); c != nil {
		return c.Log.FileDeleteDelay
	}
	return 0
}

// applyTopics builds the next partition map: the replicas kept from the
// previous run with their configs and roles updated, and the new ones queued
// for opening.
func (r *reconcileRun) applyTopics(old *partitionMap) {
	for name, tm := range r.snap.Topics {
		if tm.Info.Internal {
			continue // group and transaction state lives in etcd, not in logs
		}
		var parts []*partition
		for i, st := range tm.Partitions {
			if !containsID(st.Replicas, r.me) {
				continue
			}
			if parts == nil {
				parts = make([]*partition, len(tm.Partitions))
			}
			p := old.get(name, int32(i))
			if p != nil && p.topicID != tm.Info.ID {
				p = nil // retired by removeStale
			}
			if p == nil {
				p = &partition{topic: name, index: int32(i), topicID: tm.Info.ID}
				cfg := r.cfg.ResolveTopic(tm.Info.Configs)
				p.cfg.Store(&cfg)
				p.resolvedWith = r.cfg
				p.meta.Store(tm)
				r.toOpen = append(r.toOpen, p)
				r.toOpenSt = append(r.toOpenSt, st)
				parts[i] = p
				continue
			} else if prev := p.meta.Load(); prev != tm || p.resolvedWith != r.cfg {
				// The topic's overrides or the broker's dynamic
				// defaults changed: resolve again.
				if !maps.Equal(prev.Info.Configs, tm.Info.Configs) || p.resolvedWith != r.cfg {
					cfg := r.cfg.ResolveTopic(tm.Info.Configs)
					p.cfg.Store(&cfg)
					p.resolvedWith = r.cfg
					if p.log != nil {
						p.log.UpdateConfig(cfg.Log)
					}
				}
				p.meta.Store(tm)
			}
			r.setRole(p, st)
			parts[i] = p
		}
		if parts != nil {
			r.next.byTopic[name] = parts
		}
	}
}

// setRole makes the replica the leader or a follower of the partition state.
// Every transition between leader, follower, leaderless and offline is
// allowed in any order and none panics (Liftbridge's bug list).
func (r *reconcileRun) setRole(p *partition, st coordinator.PartitionState) {
	if st.Leader == r.me && p.log != nil && p.offlineErr() == nil {
		if !r.b.mayLead(r.snap, st) {
			// The controller never makes a replica leader outside the ISR
			// (an unclean election puts it in), nor one whose directory it
			// has not recorded (a lost disk); a state that does is not
			// acted on: this broker might lack committed data.
			r.b.log.Error().Str("topic", p.topic).Int32("partition", p.index).Int32("leader_epoch", st.LeaderEpoch).
				Ints32("isr", st.ISR).Msg("named leader of a partition whose ISR does not list this broker, or before its directory is recorded: not leading it")
			r.becomeFollower(p, coordinator.PartitionState{Leader: -1, LeaderEpoch: st.LeaderEpoch})
			return
		}
		r.becomeLeader(p, st)
		return
	}
	r.becomeFollower(p, st)
}

// becomeLeader serves the partition. A leadership new to this replica (a
// new leader epoch) stops the fetcher first (so that nothing the old leader
// sends lands after it), records the epoch at the log end offset in the
// leader-epoch cache (Kafka's assign at makeLeader: followers learn where
// the epoch began) and resets the view of the followers. The high watermark
// is the log's: never lowered by the role change, it advances as the ISR
// fetches (at once with a sole replica).
func (r *reconcileRun) becomeLeader(p *partition, st coordinator.PartitionState) {
	if p.leader.Load() && p.leaderEpoch.Load() == st.LeaderEpoch {
		changed := p.adoptState(st, r.me)
		if p.maybeAdvanceHW(r.b) || changed {
			p.notify() // acks=all waits look at the ISR
		}
		return
	}
	r.b.fetchers.unfollow(p)
	if err := p.log.AssignEpochAtEnd(st.LeaderEpoch); err != nil {
		r.b.log.Error().Err(err).Str("topic", p.topic).Int32("partition", p.index).
			Msg("cannot record the new leader epoch; the replica is offline")
		r.b.signalPublish()
		r.becomeFollower(p, coordinator.PartitionState{Leader: -1, LeaderEpoch: st.LeaderEpoch})
		return
	}
	p.startLeading(st, r.me, time.Now())
	p.leaderEpoch.Store(st.LeaderEpoch)
	p.leader.Store(true)
	p.maybeAdvanceHW(r.b)
	p.notify()
	r.b.log.Info().Str("topic", p.topic).Int32("partition", p.index).Int32("leader_epoch", st.LeaderEpoch).
		Ints32("isr", st.ISR).Int64("log_end_offset", p.log.LogEndOffset()).Int64("high_watermark", p.log.HighWatermark()).
		Msg("leading partition")
}

// becomeFollower stops serving the partition as leader (clients get
// NOT_LEADER_OR_FOLLOWER with the current leader; pending acks=all waits
// end with it) and fetches it from the leader, if it has one and the log is
// healthy. Truncation happens through the fetch protocol (diverging
// epochs), never here.
func (r *reconcileRun) becomeFollower(p *partition, st coordinator.PartitionState) {
	wasLeader := p.leader.Swap(false)
	p.leaderEpoch.Store(st.LeaderEpoch)
	if wasLeader {
		p.stopLeading()
		r.b.log.Info().Str("topic", p.topic).Int32("partition", p.index).Int32("leader", st.Leader).
			Int32("leader_epoch", st.LeaderEpoch).Msg("no longer leading partition")
	}
	p.notify()
	if p.log == nil || p.offlineErr() != nil || st.Leader < 0 || st.Leader == r.me {
		r.b.fetchers.unfollow(p)
		return
	}
	r.b.fetchers.follow(p, st.Leader, st.LeaderEpoch)
}

// openNew opens the logs of the replicas new in this run, in parallel
// (num.recovery.threads.per.data.dir). A directory holding another topic id
// is deleted (that id's tombstone) or set aside (unknown id) first; a log
// that cannot be opened leaves its replica offline.
func (r *reconcileRun) openNew() {
	if len(r.toOpen) == 0 {
		return
	}
	reqs := make([]storage.OpenRequest, len(r.toOpen))
	for i, p := range r.toOpen {
		reqs[i] = storage.OpenRequest{Topic: p.topic, Partition: p.index, TopicID: p.topicID, Config: p.cfg.Load().Log}
	}
	logs, errs := r.b.logs.OpenAll(reqs, r.cfg.RecoveryThreads)
	for i, p := range r.toOpen {
		l, err := logs[i], errs[i]
		if errors.Is(err, storage.ErrTopicIDMismatch) {
			l, err = r.reopenOver(p)
		}
		if err != nil {
			p.openErr = err
			r.b.log.Error().Err(err).Str("topic", p.topic).Int32("partition", p.index).
				Msg("partition log cannot be opened: the partition is offline on this broker and its files are kept")
			continue
		}
		p.log = l
	}
	for i, p := range r.toOpen {
		r.setRole(p, r.toOpenSt[i])
	}
}

// reopenOver handles a directory that belongs to another topic id than the
// replica's (the topic was deleted and re-created under the same name): it
// deletes or sets aside the directory, then creates the replica's log.
func (r *reconcileRun) reopenOver(p *partition) (*storage.Log, error) {
	oldID, err := r.b.logs.DirTopicID(p.topic, p.index)
	if err != nil {
		return nil, err
	}
	r.b.log.Info().Str("topic", p.topic).Int32("partition", p.index).Str("topic_id", p.topicID.String()).
		Str("previous_topic_id", coordinator.TopicID(oldID).String()).
		Msg("the partition directory belongs to an earlier topic of the same name")
	r.retire(p.topic, p.index, coordinator.TopicID(oldID), r.b.defaultDeleteDelay(), false)
	return r.b.logs.GetOrCreate(p.topic, p.index, p.topicID, p.cfg.Load().Log)
}

// defaultDeleteDelay is the broker default of file.delete.delay.ms.
func (b *Broker) defaultDeleteDelay() time.Duration {
	return b.conf().ResolveTopic(nil).Log.FileDeleteDelay
}

// sweepDisk looks, once after start-up, at the partition directories that
// no hosted replica took: those of deleted topic ids are deleted, the rest
// set aside as stray. A directory whose partition.metadata cannot be read is
// left alone.
func (r *reconcileRun) sweepDisk() {
	dirs, err := r.b.logs.Scan()
	if err != nil {
		r.b.log.Error().Err(err).Msg("cannot list the data directory; no stray or deleted logs were looked for")
		return
	}
	for _, d := range dirs {
		if r.next.get(d.Topic, d.Partition) != nil {
			continue // hosted (online or offline)
		}
		if d.Err != nil {
			r.b.log.Error().Err(d.Err).Str("dir", d.Dir).
				Msg("partition directory with an unreadable partition.metadata: left in place, untouched")
			continue
		}
		r.retire(d.Topic, d.Partition, coordinator.TopicID(d.TopicID), r.b.defaultDeleteDelay(), false)
	}
}

// signalPublish asks publishLoop to bring etcd up to date.
func (b *Broker) signalPublish() {
	select {
	case b.publishSig <- struct{}{}:
	default:
	}
}

// publishLoop tells etcd what the reconciler found, outside its lock: the
// replicas that are offline here (BrokerInfo.OfflineReplicas), the
// tombstones this broker has finished with, and the end of an unclean
// shutdown's handling (unclean_shutdown.go). A failed write is retried.
func (b *Broker) publishLoop() {
	defer b.wg.Done()
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	var published []coordinator.ReplicaRef
	dirty := true
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.publishSig:
			dirty = true
		case <-retry.C:
			if !dirty {
				continue
			}
		}
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok := true
		offline := b.offlineReplicas()
		if !slices.Equal(offline, published) {
			if err := b.store.SetOfflineReplicas(ctx, offline); err != nil {
				b.log.Warn().Err(err).Msg("cannot publish offline replicas; retrying")
				ok = false
			} else {
				published = offline
				b.log.Info().Int("offline_replicas", len(offline)).Msg("offline replicas published")
			}
		}
		for _, id := range b.finishedTombstones() {
			if err := b.store.AckTopicDeletion(ctx, id, b.cfg.BrokerID); err != nil {
				b.log.Warn().Err(err).Str("topic_id", id.String()).Msg("cannot confirm a topic deletion; retrying")
				ok = false
			}
		}
		if !b.maybeClearUncleanShutdown(ctx) {
			ok = false // looked at again on the next snapshot, or in a second
		}
		cancel()
		dirty = !ok
	}
}

// offlineReplicas lists the hosted replicas that cannot serve, sorted.
func (b *Broker) offlineReplicas() []coordinator.ReplicaRef {
	var out []coordinator.ReplicaRef
	b.parts.Load().all(func(p *partition) {
		if p.offlineErr() != nil {
			out = append(out, coordinator.ReplicaRef{TopicID: p.topicID, Partition: p.index})
		}
	})
	slices.SortFunc(out, func(a, c coordinator.ReplicaRef) int {
		if d := slices.Compare(a.TopicID[:], c.TopicID[:]); d != 0 {
			return d
		}
		return int(a.Partition - c.Partition)
	})
	return out
}

// finishedTombstones are the deleted topic ids this broker is pending on
// and no longer hosts a replica of.
func (b *Broker) finishedTombstones() []coordinator.TopicID {
	snap := b.store.Snapshot()
	if len(snap.DeletedTopics) == 0 {
		return nil
	}
	hostedIDs := map[coordinator.TopicID]bool{}
	b.parts.Load().all(func(p *partition) { hostedIDs[p.topicID] = true })
	var out []coordinator.TopicID
	for id, t := range snap.DeletedTopics {
		if containsID(t.Pending, b.cfg.BrokerID) && !hostedIDs[id] {
			out = append(out, id)
		}
	}
	return out
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
