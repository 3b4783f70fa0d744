package broker

// The leader's ISR writes (Kafka's AlterPartition, written to etcd directly):
// one goroutine per broker shrinks the ISRs of the partitions it leads every
// replica.lag.time.max.ms/2 and expands them when a follower's fetch lets it
// join (signalISR). Each write is a CAS on the partition epoch the leader
// holds, with every other field of the state as the leader last saw it; a
// lost CAS marks the state stale and asks the reconciler to look at the
// newest snapshot, which steps down a broker that no longer leads.

import (
	"context"
	"errors"
	"time"

	"github.com/samsa-io/samsa/coordinator"
)

// replicaLagMax is replica.lag.time.max.ms.
func (b *Broker) replicaLagMax() time.Duration {
	return time.Duration(b.cfg.Int64("replica.lag.time.max.ms")) * time.Millisecond
}

// signalISR asks isrLoop for a pass (a follower may join an ISR).
func (b *Broker) signalISR() {
	select {
	case b.isrSig <- struct{}{}:
	default:
	}
}

// isrLoop writes the ISR changes of the partitions this broker leads.
func (b *Broker) isrLoop() {
	defer b.wg.Done()
	lag := b.replicaLagMax()
	tick := time.NewTicker(max(lag/2, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-tick.C:
		case <-b.isrSig:
		}
		b.updateISRs(time.Now(), lag)
	}
}

// updateISRs plans and writes every ISR change wanted now.
func (b *Broker) updateISRs(now time.Time, lag time.Duration) {
	if !b.leaseValid() {
		return // an expired lease writes nothing as a leader
	}
	snap := b.store.Snapshot()
	var changes []isrChange
	b.parts.Load().all(func(p *partition) {
		if !p.leader.Load() {
			return
		}
		if ch, ok := p.planISRChange(b, snap, now, lag); ok {
			changes = append(changes, ch)
		}
	})
	for _, ch := range changes {
		b.writeISR(ch)
	}
}

// writeISR CASes one ISR change and records the outcome.
func (b *Broker) writeISR(ch isrChange) {
	p := ch.p
	log := b.log.With().Str("topic", p.topic).Int32("partition", p.index).Int32("leader_epoch", ch.base.LeaderEpoch).
		Int32("partition_epoch", ch.base.PartitionEpoch).Ints32("isr", ch.base.ISR).Ints32("new_isr", ch.isr).Logger()
	// WithISR keeps the eligible leader replicas right (KIP-966): a member
	// leaving an ISR that is below min.insync.replicas stays electable.
	st := coordinator.WithISR(ch.base, ch.isr, int(p.cfg.Load().MinInsyncReplicas))
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	_, err := b.store.UpdatePartitionState(ctx, p.topicID, p.index, ch.base.PartitionEpoch, st)
	cancel()
	conflict := errors.Is(err, coordinator.ErrConflict) || errors.Is(err, coordinator.ErrUnknownTopic)
	p.finishISRChange(b, ch, err == nil, conflict)
	switch {
	case err == nil:
		ev := log.Info()
		if len(ch.removed) > 0 {
			ev = log.Warn().Ints32("out_of_sync", ch.removed).Dur("replica_lag_time_max", b.replicaLagMax())
		}
		ev.Ints32("joined", ch.added).Msg("ISR changed")
	case conflict:
		// Someone (the controller) changed the partition: the snapshot
		// will bring its state; the reconciler steps down if needed.
		log.Warn().Err(err).Msg("ISR change lost its compare-and-swap; waiting for the newer partition state")
		select {
		case b.reconcileSig <- struct{}{}:
		default:
		}
	default:
		log.Warn().Err(err).Msg("ISR change not written; retrying")
	}
	p.notify() // acks=all waits look at the ISR and the high watermark
}
