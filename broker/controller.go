package broker

// The controller loop: while this broker holds the controller election
// (Store.IsController), it applies the controller's rules
// (coordinator/controller.go) to every partition on each Snapshot change
// and every second, and writes the results with Store.ControllerWrite,
// whose transactions compare the election key: a deposed controller's
// writes fail, and the loop checks IsController before each batch.
//
// One pass:
//  1. directories: a live broker without a broker-dirs/ record gets one;
//     one registered with another directory id than recorded lost its
//     disk (Snapshot.LostDirectory) and is taken out of every ISR and ELR
//     by this pass's decisions; its new id is recorded only once they are
//     all written, so a controller that dies half-way leaves the old id
//     for its successor to act on again;
//  2. every partition: DecidePartition (elections, ISR/ELR maintenance,
//     controlled-shutdown moves, internal topics' replicas following the
//     topic's assignment);
//  3. when due (auto.leader.rebalance.enable, every
//     leader.imbalance.check.interval.seconds): preferred-leader moves for
//     the brokers whose imbalance exceeds
//     leader.imbalance.per.broker.percentage;
//  4. the writes, batched; a conflict (the state changed since the
//     Snapshot) is decided again on the next pass, from a newer Snapshot;
//     reassignments whose target replicas are all in sync are completed
//     (coordinator.CompleteReassignment: replicas, ISR and leader), with
//     their topic's assignment, one transaction per topic;
//  5. internal topics whose replication factor is below min(configured,
//     usable brokers) get a new assignment at that factor.
// After writing, the pass waits until the Snapshot includes its writes, so
// the next pass never decides on what it has just replaced.

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/samsa-io/samsa/coordinator"
)

// controllerTick is the period of the passes that catch what no Snapshot
// change announced (a failed write, a rebalance coming due).
const controllerTick = time.Second

// controllerPassTimeout bounds one pass's etcd calls.
const controllerPassTimeout = 10 * time.Second

// controller runs the controller loop of one broker.
type controller struct {
	b   *Broker
	log zerolog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// Owned by the loop goroutine.
	active        bool      // acting as controller at the last pass
	nextRebalance time.Time // when the next imbalance check is due
}

// startController starts the controller loop (it idles while another
// broker is the controller).
func (b *Broker) startController() {
	ctx, cancel := context.WithCancel(context.Background())
	c := &controller{b: b, log: b.log.With().Str("component", "controller").Logger(), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	b.ctrl = c
	go c.run()
}

// stopController stops the loop and waits for it.
func (b *Broker) stopController() {
	if c := b.ctrl; c != nil {
		c.cancel()
		<-c.done
	}
}

func (c *controller) run() {
	defer close(c.done)
	sub, unsubscribe := c.b.store.Subscribe()
	defer unsubscribe()
	tick := time.NewTicker(controllerTick)
	defer tick.Stop()
	for {
		c.pass()
		select {
		case <-c.ctx.Done():
			return
		case <-sub:
		case <-tick.C:
		}
	}
}

// pass runs the controller's rules once on the current Snapshot.
func (c *controller) pass() {
	store := c.b.store
	if !store.IsController() {
		if c.active {
			c.log.Info().Msg("no longer the controller")
		}
		c.active = false
		return
	}
	if !c.active {
		c.active = true
		c.nextRebalance = time.Now().Add(c.rebalanceInterval())
		c.log.Info().Int32("broker_id", c.b.cfg.BrokerID).Msg("acting as controller")
	}
	ctx, cancel := context.WithTimeout(c.ctx, controllerPassTimeout)
	defer cancel()
	snap := store.Snapshot()
	var lastRev int64

	// 1. Directory records.
	lost := map[int32]string{} // broker -> its new directory id
	for _, id := range snap.BrokerIDs {
		bi := snap.Brokers[id]
		if bi.DirectoryID == "" {
			continue
		}
		rec, ok := snap.BrokerDirs[id]
		switch {
		case !ok:
			rev, err := store.ControllerRecordDirectory(ctx, id, bi.DirectoryID)
			if err != nil {
				c.writeFailed(err, "cannot record a broker's directory id")
				return
			}
			lastRev = max(lastRev, rev)
		case rec != bi.DirectoryID:
			lost[id] = bi.DirectoryID
		}
	}
	for id, dir := range lost {
		c.log.Error().Int32("broker_id", id).Str("directory_id", dir).Str("recorded_directory_id", snap.BrokerDirs[id]).
			Msg("broker registered with a new log directory (its disk was lost or replaced): removing it from every ISR and ELR before it may lead anything")
	}

	// 2. and 3. Decisions.
	updates, elections, completed := c.decide(snap)
	if !store.IsController() {
		return
	}

	// 4. Writes.
	failed := map[int32]bool{} // brokers whose removal did not fully land
	if len(updates) > 0 {
		rev, errs := store.ControllerWrite(ctx, updates)
		lastRev = max(lastRev, rev)
		conflicts := 0
		logs := electionLog{}
		defer logs.flush(c.log)
		for i, err := range errs {
			u := updates[i]
			if err == nil {
				logs.add(snap, u, elections[i])
				continue
			}
			for _, r := range slices.Concat(u.Expected.ISR, u.Expected.ELR) {
				failed[r] = true
			}
			switch {
			case errors.Is(err, coordinator.ErrNotController):
				c.writeFailed(err, "")
				return
			case errors.Is(err, coordinator.ErrConflict):
				conflicts++
			default:
				c.writeFailed(err, "cannot write partition states")
			}
		}
		if conflicts > 0 {
			c.log.Debug().Int("conflicts", conflicts).Msg("partition states changed meanwhile; deciding again on a newer snapshot")
		}
	}
	// Reassignments that completed: the partitions' replicas and their
	// topic's assignment in one transaction per topic.
	if rev, ok := c.completeReassignments(ctx, snap, completed); ok {
		lastRev = max(lastRev, rev)
	} else {
		return
	}
	for id, dir := range lost {
		if failed[id] || !store.IsController() {
			continue
		}
		rev, err := store.ControllerRecordDirectory(ctx, id, dir)
		if err != nil {
			c.writeFailed(err, "cannot record a broker's new directory id")
			return
		}
		lastRev = max(lastRev, rev)
		c.log.Warn().Int32("broker_id", id).Str("directory_id", dir).Msg("broker is out of every ISR and ELR; its new log directory is recorded")
	}

	// 5. Internal topics' replication factor.
	if rev := c.raiseInternalRF(ctx, snap); rev > 0 {
		lastRev = max(lastRev, rev)
	}
	if lastRev > 0 {
		if err := store.WaitForRevision(ctx, lastRev); err != nil && c.ctx.Err() == nil {
			c.log.Warn().Err(err).Int64("revision", lastRev).Msg("the snapshot did not catch up with the controller's writes")
		}
	}
}

// decide computes the writes of one pass: the rules for every partition,
// then, when due, the preferred-leader moves. Reassignments that can
// complete (coordinator.CompleteReassignment) are returned apart, by
// topic: their writes change the topic's assignment too.
func (c *controller) decide(snap *coordinator.Snapshot) ([]coordinator.PartitionUpdate, []coordinator.Election, map[coordinator.TopicID][]reassignmentStep) {
	var updates []coordinator.PartitionUpdate
	var elections []coordinator.Election
	completed := map[coordinator.TopicID][]reassignmentStep{}
	touched := map[coordinator.ReplicaRef]bool{}
	for _, name := range snap.TopicNames {
		tm := snap.Topics[name]
		pol := c.policy(tm)
		for i, st := range tm.Partitions {
			p := int32(i)
			health := func(r int32) coordinator.ReplicaHealth { return snap.ReplicaHealth(r, tm.Info.ID, p) }
			expected := st
			replicasMoved := false
			if tm.Info.Internal && st.PartitionEpoch >= 0 && i < len(tm.Info.Replicas) && !slices.Equal(st.Replicas, tm.Info.Replicas[i]) {
				// An internal topic's assignment changed (raiseInternalRF):
				// its partitions follow; there is no data to move.
				st.Replicas = slices.Clone(tm.Info.Replicas[i])
				st.AddingReplicas, st.RemovingReplicas = nil, nil // the new assignment replaces any reassignment
				replicasMoved = true
			}
			if st.Reassigning() && !replicasMoved {
				if ns, how, ok := coordinator.CompleteReassignment(st, health, pol); ok {
					completed[tm.Info.ID] = append(completed[tm.Info.ID], reassignmentStep{
						update: coordinator.PartitionUpdate{TopicID: tm.Info.ID, Partition: p, Expected: expected, State: ns}, election: how})
					touched[coordinator.ReplicaRef{TopicID: tm.Info.ID, Partition: p}] = true
					continue
				}
			}
			d := coordinator.DecidePartition(st, health, pol)
			if replicasMoved {
				// The new assignment spreads the coordinators: lead from
				// its preferred replica at once.
				if ns, ok := coordinator.PreferredLeader(d.State, health); ok {
					ns.LeaderEpoch = expected.LeaderEpoch + 1
					d.State, d.Election = ns, coordinator.ElectionISR
				}
			} else if !d.Changed {
				continue
			}
			updates = append(updates, coordinator.PartitionUpdate{TopicID: tm.Info.ID, Partition: p, Expected: expected, State: d.State})
			elections = append(elections, d.Election)
			touched[coordinator.ReplicaRef{TopicID: tm.Info.ID, Partition: p}] = true
		}
	}
	if !c.rebalanceDue() {
		return updates, elections, completed
	}
	pct := float64(c.b.cfg.Int64("leader.imbalance.per.broker.percentage")) / 100
	imbalanced := map[int32]bool{}
	for broker, ratio := range snap.LeaderImbalance() {
		if ratio > pct {
			imbalanced[broker] = true
		}
	}
	moves := 0
	for _, name := range snap.TopicNames {
		tm := snap.Topics[name]
		for i, st := range tm.Partitions {
			p := int32(i)
			if len(st.Replicas) == 0 || !imbalanced[st.Replicas[0]] || touched[coordinator.ReplicaRef{TopicID: tm.Info.ID, Partition: p}] {
				continue
			}
			ns, ok := coordinator.PreferredLeader(st, func(r int32) coordinator.ReplicaHealth { return snap.ReplicaHealth(r, tm.Info.ID, p) })
			if !ok {
				continue
			}
			updates = append(updates, coordinator.PartitionUpdate{TopicID: tm.Info.ID, Partition: p, Expected: st, State: ns})
			elections = append(elections, electionPreferred)
			moves++
		}
	}
	if moves > 0 {
		c.log.Info().Int("partitions", moves).Msg("leader imbalance above leader.imbalance.per.broker.percentage: moving leadership back to preferred replicas")
	}
	return updates, elections, completed
}

// reassignmentStep is a reassignment's completion the controller writes.
type reassignmentStep struct {
	update   coordinator.PartitionUpdate
	election coordinator.Election
}

// completeReassignments writes the completed reassignments, one topic at
// a time (ControllerWriteAssignment), and returns the revision of the last
// write; ok is false when this broker lost the controller role (the pass
// stops). A conflict is decided again on the next pass.
func (c *controller) completeReassignments(ctx context.Context, snap *coordinator.Snapshot, completed map[coordinator.TopicID][]reassignmentStep) (int64, bool) {
	var last int64
	for _, id := range slices.SortedFunc(maps.Keys(completed), compareTopicIDs) {
		steps := completed[id]
		if !c.b.store.IsController() {
			return last, false
		}
		updates := make([]coordinator.PartitionUpdate, len(steps))
		for i, s := range steps {
			updates[i] = s.update
		}
		rev, err := c.b.store.ControllerWriteAssignment(ctx, snap, updates)
		switch {
		case errors.Is(err, coordinator.ErrNotController):
			c.writeFailed(err, "")
			return last, false
		case errors.Is(err, coordinator.ErrConflict):
			c.log.Debug().Err(err).Msg("a reassignment's partition changed meanwhile; deciding again on a newer snapshot")
			continue
		case err != nil:
			c.writeFailed(err, "cannot complete partition reassignments")
			continue
		}
		last = max(last, rev)
		tm := snap.TopicByID(id)
		for _, s := range steps {
			u := s.update
			c.log.Info().Str("topic", tm.Info.Name).Int32("partition", u.Partition).
				Ints32("replicas", u.State.Replicas).Ints32("previous_replicas", u.Expected.Replicas).
				Ints32("isr", u.State.ISR).Int32("leader", u.State.Leader).Int32("leader_epoch", u.State.LeaderEpoch).
				Str("election", electionName(s.election)).Msg("partition reassignment completed")
		}
	}
	return last, true
}

// electionPreferred marks a preferred-leader move in the log (not one of
// DecidePartition's outcomes).
const electionPreferred coordinator.Election = -1

// rebalanceDue reports whether the imbalance check is due now, and
// schedules the next one.
func (c *controller) rebalanceDue() bool {
	if !c.b.cfg.Bool("auto.leader.rebalance.enable") || time.Now().Before(c.nextRebalance) {
		return false
	}
	c.nextRebalance = time.Now().Add(c.rebalanceInterval())
	return true
}

func (c *controller) rebalanceInterval() time.Duration {
	return time.Duration(c.b.cfg.Int64("leader.imbalance.check.interval.seconds")) * time.Second
}

// policy is the topic configuration the rules need: its overrides over
// this broker's defaults (the controller's, as in Kafka).
func (c *controller) policy(tm *coordinator.TopicMeta) coordinator.PartitionPolicy {
	return c.b.partitionPolicy(tm)
}

// partitionPolicy is the topic configuration the controller's rules need,
// resolved over this broker's defaults: the controller loop's, and an
// admin request's deciding with the same rules (43_elect_leaders.go,
// 45_alter_partition_reassignments.go).
func (b *Broker) partitionPolicy(tm *coordinator.TopicMeta) coordinator.PartitionPolicy {
	cfg := b.conf().ResolveTopic(tm.Info.Configs)
	return coordinator.PartitionPolicy{
		MinISR:   int(cfg.MinInsyncReplicas),
		Unclean:  cfg.UncleanLeaderElection,
		Internal: tm.Info.Internal,
	}
}

// electionLog collects a pass's leader changes, logged as one line per
// topic and kind of election (a broker's death moves many partitions at
// once).
type electionLog map[electionKey][]electionEntry

type electionKey struct {
	topic string
	how   coordinator.Election
}

type electionEntry struct {
	partition, leader, previous, epoch int32
}

func (l electionLog) add(snap *coordinator.Snapshot, u coordinator.PartitionUpdate, how coordinator.Election) {
	tm := snap.TopicByID(u.TopicID)
	if tm == nil || how == coordinator.ElectionNone || u.State.Leader == u.Expected.Leader {
		return
	}
	k := electionKey{tm.Info.Name, how}
	l[k] = append(l[k], electionEntry{u.Partition, u.State.Leader, u.Expected.Leader, u.State.LeaderEpoch})
}

func (l electionLog) flush(log zerolog.Logger) {
	for k, es := range l {
		lvl := zerolog.InfoLevel
		msg := "partition leaders elected"
		switch k.how {
		case coordinator.ElectionUnclean:
			lvl, msg = zerolog.WarnLevel, "unclean leader election (unclean.leader.election.enable): records the new leaders lack are lost"
		case coordinator.ElectionOffline:
			lvl, msg = zerolog.WarnLevel, "partitions offline: no replica may lead them until an ISR or ELR member returns"
		case electionPreferred:
			msg = "leadership moved back to the preferred replicas"
		}
		parts, leaders, previous, epochs := make([]int32, len(es)), make([]int32, len(es)), make([]int32, len(es)), make([]int32, len(es))
		for i, e := range es {
			parts[i], leaders[i], previous[i], epochs[i] = e.partition, e.leader, e.previous, e.epoch
		}
		log.WithLevel(lvl).Str("topic", k.topic).Str("election", electionName(k.how)).Ints32("partitions", parts).
			Ints32("leaders", leaders).Ints32("previous_leaders", previous).Ints32("leader_epochs", epochs).Msg(msg)
	}
}

func electionName(e coordinator.Election) string {
	if e == electionPreferred {
		return "preferred"
	}
	return e.String()
}

func (c *controller) writeFailed(err error, msg string) {
	switch {
	case c.ctx.Err() != nil:
	case errors.Is(err, coordinator.ErrNotController):
		c.log.Info().Msg("lost the controller election; writing nothing more")
	default:
		c.log.Warn().Err(err).Msg(msg + "; retrying on the next pass")
	}
}

// raiseInternalRF gives an internal topic created with fewer replicas than
// configured (offsets.topic.replication.factor,
// transaction.state.log.replication.factor; capped by the brokers usable
// at its creation, so that one broker works on its own) a new assignment
// once more brokers are usable: at min(configured, usable), placed like a
// new topic. Internal topics hold no logs, so nothing is copied; leaders
// follow the new assignment (the coordinators of their groups move). The
// factor is never lowered. Returns the revision of the write, 0 if none.
func (c *controller) raiseInternalRF(ctx context.Context, snap *coordinator.Snapshot) int64 {
	usable := usableBrokers(snap)
	var last int64
	for _, t := range []struct {
		name string
		rf   int
	}{
		{offsetsTopic, int(c.b.cfg.OffsetsTopicReplication)},
		{transactionTopic, int(c.b.cfg.TxnTopicReplication)},
	} {
		tm := snap.Topic(t.name)
		if tm == nil || !tm.Info.Internal || len(tm.Info.Replicas) == 0 {
			continue
		}
		cur := len(tm.Info.Replicas[0])
		for _, rs := range tm.Info.Replicas {
			cur = min(cur, len(rs))
		}
		target := min(t.rf, len(usable))
		if cur >= target {
			continue
		}
		start := placementStart(t.name, len(usable))
		replicas := placeReplicas(snap, usable, 0, len(tm.Info.Replicas), target, start, start)
		if !c.b.store.IsController() {
			return last
		}
		rev, err := c.b.store.ControllerSetInternalAssignment(ctx, t.name, replicas)
		if err != nil {
			c.writeFailed(err, "cannot raise the replication factor of an internal topic")
			return last
		}
		c.log.Info().Str("topic", t.name).Int("replication_factor", target).Int("previous", cur).
			Msg("internal topic's replication factor raised to the configured one as brokers became available")
		last = rev
	}
	return last
}
