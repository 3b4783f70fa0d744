package broker

// Controlled shutdown and the start-up wait for the directory record.
//
// On Close (SIGTERM), before anything stops, the broker publishes
// shutting_down in its registration; the controller (this broker or
// another) then moves each leadership it holds to another ISR member that
// can lead (leader epoch + 1) and takes it out of the ISRs, while this
// broker still serves: producers and consumers get NOT_LEADER_OR_FOLLOWER
// with the new leader, refresh and carry on. The broker waits, bounded,
// until it leads no partition that another replica could take over, then
// stops and deregisters. A partition with nobody to hand over to keeps
// this broker as its leader until it is gone.

import (
	"context"
	"time"

	"github.com/samsa-io/samsa/coordinator"
)

const (
	// controlledShutdownTimeout bounds the wait for the controller to
	// move this broker's leaderships away (Kafka retries its controlled
	// shutdown for a similar while before stopping anyway).
	controlledShutdownTimeout = 20 * time.Second
	// publishTimeout bounds the write of shutting_down: an etcd without
	// quorum (the last members of a combined-mode cluster) cannot take it.
	publishTimeout = 5 * time.Second
	// directoryRecordTimeout bounds Start's wait for the controller to
	// record this broker's directory id.
	directoryRecordTimeout = 10 * time.Second
)

// controlledShutdown runs the controlled shutdown (controlled.shutdown.enable),
// unless the broker is cut off from etcd (then nobody could act on it).
func (b *Broker) controlledShutdown() {
	if b.crashClose || b.store == nil || !b.cfg.Bool("controlled.shutdown.enable") || !b.leaseValid() {
		return
	}
	if len(b.store.Snapshot().Brokers) <= 1 {
		return // nobody to hand anything to (a single broker)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), controlledShutdownTimeout)
	defer cancel()
	pctx, pcancel := context.WithTimeout(ctx, publishTimeout)
	err := b.store.SetShuttingDown(pctx, true)
	pcancel()
	if err != nil {
		b.log.Warn().Err(err).Msg("controlled shutdown: cannot publish it; stopping without moving leaderships first")
		return
	}
	sub, unsubscribe := b.store.Subscribe()
	defer unsubscribe()
	for {
		n := b.movableLeaderships(b.store.Snapshot())
		if n == 0 {
			b.log.Info().Dur("took", time.Since(start)).Msg("controlled shutdown: every leadership that another replica can take has moved")
			return
		}
		if !b.leaseValid() {
			b.log.Warn().Int("partitions", n).Msg("controlled shutdown: cut off from etcd; stopping without waiting for the leaderships to move")
			return
		}
		select {
		case <-sub:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			b.log.Warn().Int("partitions", n).Dur("waited", time.Since(start)).
				Msg("controlled shutdown: leaderships not moved in time; stopping anyway (their clients see the leader fail)")
			return
		}
	}
}

// movableLeaderships counts the partitions this broker leads in snap that
// another ISR member could lead instead: what the controller has yet to
// move in a controlled shutdown.
func (b *Broker) movableLeaderships(snap *coordinator.Snapshot) int {
	me := b.cfg.BrokerID
	n := 0
	for _, tm := range snap.Topics {
		for i, st := range tm.Partitions {
			if st.Leader != me {
				continue
			}
			for _, r := range st.ISR {
				if r == me {
					continue
				}
				h := snap.ReplicaHealth(r, tm.Info.ID, int32(i))
				if tm.Info.Internal {
					h.LostDirectory, h.Offline = false, false // no logs
				}
				if h.CanLead() {
					n++
					break
				}
			}
		}
	}
	return n
}

// waitDirectoryRecorded waits, bounded, until the controller has recorded
// the directory id this broker registered with (broker-dirs/<id>): until
// then the broker leads nothing (mayLead), and the first reconcile should
// not start it as a follower of its own partitions. On the first start of
// a broker that is the controller, that is its own first pass.
func (b *Broker) waitDirectoryRecorded(ctx context.Context) {
	if b.dirID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, directoryRecordTimeout)
	defer cancel()
	sub, unsubscribe := b.store.Subscribe()
	defer unsubscribe()
	for b.store.Snapshot().BrokerDirs[b.cfg.BrokerID] != b.dirID {
		select {
		case <-sub:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			b.log.Warn().Str("directory_id", b.dirID).
				Msg("the controller has not recorded this broker's log directory yet; it leads no partition until it has")
			return
		}
	}
}
