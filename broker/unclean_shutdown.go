package broker

// KIP-966's unclean-shutdown rule: a broker whose previous stop was not
// clean may have lost what it had not flushed, committed records
// included, so nothing may still count it as holding them. Kafka's broker
// tells the controller with its registration (a clean-shutdown file and
// the previous broker epoch); samsa's logs each carry a clean-shutdown
// marker, written by Log.Close once everything is durable and removed by
// Open, so:
//
//   - at start-up, before any log is opened, a partition directory without
//     its marker means the last stop was unclean; the broker registers
//     with unclean_shutdown set (BrokerInfo.UncleanShutdown);
//   - the controller then treats it as holding nothing the ISR or the ELR
//     vouches for: it leaves every ELR (never again electable from there
//     on the strength of its old log) and every ISR but one it is the last
//     member of (coordinator.DecidePartition), and rejoins an ISR only by
//     catching up with the leader like any follower;
//   - once its Snapshot shows it in no ELR and in no ISR beside another
//     member, the controller is done with it: the broker clears the flag
//     (publishLoop), so that later ISR changes treat it as any other.
//
// A crash that only killed the process loses nothing (the page cache
// survives it); this matters when the machine went down with unflushed
// data, which the broker cannot tell apart.

import (
	"context"

	"github.com/samsa-io/samsa/coordinator"
)

// detectUncleanShutdown decides, before any log is opened, whether the
// previous stop of this broker was unclean (a partition directory without
// its clean-shutdown marker).
func (b *Broker) detectUncleanShutdown() {
	dirs, err := b.logs.Scan()
	if err != nil {
		// Cannot tell: assume the worst, which costs at most a round of
		// ISR changes.
		b.log.Warn().Err(err).Msg("cannot tell whether the last shutdown was clean; treating it as unclean")
		b.uncleanShutdown.Store(true)
		return
	}
	var unclean []string
	for _, d := range dirs {
		if d.Err == nil && !d.CleanShutdown {
			unclean = append(unclean, d.Dir)
		}
	}
	if len(unclean) == 0 {
		return
	}
	b.uncleanShutdown.Store(true)
	b.log.Warn().Int("logs", len(unclean)).Strs("examples", unclean[:min(3, len(unclean))]).
		Msg("the last shutdown was unclean (logs without their clean-shutdown marker): registering as such, so that the controller takes this broker out of the eligible leader replicas (KIP-966) and the ISRs until it has caught up again")
}

// uncleanShutdownHandled reports whether snap shows the controller done
// with this broker's unclean shutdown: it is in no ELR and in no ISR with
// another member.
func (b *Broker) uncleanShutdownHandled(snap *coordinator.Snapshot) bool {
	me := b.cfg.BrokerID
	if bi, ok := snap.Brokers[me]; !ok || !bi.UncleanShutdown {
		return false // the registration with the flag is not seen yet
	}
	for _, tm := range snap.Topics {
		if tm.Info.Internal {
			continue // no logs
		}
		for _, st := range tm.Partitions {
			if containsID(st.ELR, me) || (containsID(st.ISR, me) && len(st.ISR) > 1) {
				return false
			}
		}
	}
	return true
}

// maybeClearUncleanShutdown clears the unclean-shutdown flag of the
// registration once the controller is done with it. It reports whether
// there is nothing left to do.
func (b *Broker) maybeClearUncleanShutdown(ctx context.Context) bool {
	if !b.uncleanShutdown.Load() {
		return true
	}
	if !b.uncleanShutdownHandled(b.store.Snapshot()) {
		return false
	}
	if err := b.store.SetUncleanShutdown(ctx, false); err != nil {
		b.log.Warn().Err(err).Msg("cannot clear the unclean-shutdown flag of the registration; retrying")
		return false
	}
	b.uncleanShutdown.Store(false)
	b.log.Info().Msg("out of every ELR and of the ISRs after the unclean shutdown: cleared the flag; replicas rejoin ISRs as they catch up")
	return true
}
