// Package placement places coordinators on the partitions of an internal
// topic, as Kafka does, and fences their writes in etcd. The group
// coordinator (package group, on __consumer_offsets) uses it; the
// transaction coordinator (on __transaction_state) is meant to use it the
// same way.
//
// # Placement
//
// A key (a group id, a transactional id) belongs to partition
// Partition(key, n) = abs(javaHashCode(key)) % n of the internal topic (n
// its partition count), and the broker leading that partition coordinates
// it. The controller elects the leaders of the internal topics (they have
// no logs) among their live replicas, bumping the leader epoch at every
// change of leader, so that (leader, leader epoch) names one tenure of one
// coordinator: Kafka's coordinator epoch.
//
// A Tracker follows this broker's metadata view (a View function over the
// Snapshot) and tells a Handler which partitions it leads:
// OnElection(Claim) when it starts leading one at some leader epoch,
// OnResignation when it no longer does (another leader, another epoch, or
// the topic is gone). The handler loads that partition's keys from etcd on
// election (answering COORDINATOR_LOAD_IN_PROGRESS meanwhile) and drops
// them on resignation (NOT_COORDINATOR from then on).
//
// # Fencing
//
// The metadata view lags etcd, so a broker may still believe it leads a
// partition that has moved. Every write a coordinator makes for a key is
// therefore an etcd transaction (Fence.Txn) that also compares the
// partition's state key (partitions/<topic-id>/<n>) with the mod revision
// at which that key last named this broker as leader at the claimed epoch.
// The key also changes for reasons that move nothing (the ISR of the
// internal topic follows the live brokers): on a failed compare Txn reads
// the key in the same transaction, and if it still names this broker at the
// same leader epoch it adopts the new revision and tries again; otherwise
// the fence is lost and every write through it fails with ErrFenced, which
// the coordinator answers with NOT_COORDINATOR (and unloads the
// partition).
//
// Why that suffices: a tenure's writes all commit while the state key still
// holds the value it had at some revision of that tenure, so they are below
// the revision at which the controller ended the tenure. The next
// coordinator loads only after Acquire has read the state key naming it, at
// a revision past that change, and it reads its keys at that revision:
// it sees every write of every earlier tenure, and no earlier tenure can
// write after it. Leader epochs only grow, so a coordinator that leads the
// same partition again (A, then B, then A) holds a new epoch and a new
// fence; writes through the old one fail.
//
// The fence compares the revision rather than the leader epoch itself
// because etcd compares cannot look inside the JSON value; the epoch is
// checked by Txn after a failed compare, from the value. This needs no key
// of its own and no change to the controller. Its cost: one more compare
// per write, and one extra round trip per write in flight when an internal
// partition's ISR changes.
//
// A coordinator should also refuse to serve while its broker's lease is
// not certainly valid (Store.LeaseValid): a broker cut off from etcd may
// already have been replaced. Its writes would fail anyway; the check
// keeps it from answering reads from a state someone else now owns.
//
// # Use
//
//	tr := placement.NewTracker(placement.TrackerConfig{Broker: id, View: view, Subscribe: store.Subscribe, Handler: h})
//	tr.Sync()          // first pass before serving
//	go tr.Run(ctx)     // until ctx ends
//
//	// in the handler's loader, for the claims it was given:
//	fences, rev, err := placement.Acquire(ctx, cli, claims)
//	// read the keys of the partitions whose fence is non-nil at rev, then
//	// write each key only with fence.Txn(ctx, cmps, ops...).
package placement
