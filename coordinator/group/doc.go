// Package group is samsa's group coordinator: classic consumer groups
// (JoinGroup/SyncGroup/Heartbeat/LeaveGroup, Kafka's ClassicGroup state
// machine with KIP-394 member ids and KIP-345 static membership), KIP-848
// consumer groups (ConsumerGroupHeartbeat with the server-side "uniform"
// and "range" assignors) and committed offsets, all persisted in etcd.
//
// # Placement and failover
//
// A group belongs to partition placement.Partition(id, n) of
// __consumer_offsets (n partitions), and the broker leading that partition
// coordinates it (package placement). A placed Coordinator (Config.Placed,
// as the broker runs it) holds the partitions a placement.Tracker elects
// it for (OnElection, OnResignation; placement.go):
//
//   - elected, it checks the claim in etcd and takes the partition's fence
//     (placement.Acquire), then loads the partition's groups and offsets at
//     a revision past that check; requests for them meanwhile get
//     COORDINATOR_LOAD_IN_PROGRESS. Every partition pending is loaded in
//     one pass (a failover moves many at once);
//   - resigning, it drops the partition's groups: timers stop, members
//     waiting in JoinGroup or SyncGroup get NOT_COORDINATOR, and so does
//     every later request for them (a request still holding an unloaded
//     group sees it dead and unloaded);
//   - every etcd write of a group (record, chunks, offsets, deletions) is a
//     fenced transaction (group.txn, placement.Fence.Txn) that compares
//     the partition's state key with the tenure the group was loaded or
//     created under. A write that finds the partition led by another
//     broker or at another leader epoch writes nothing, answers
//     NOT_COORDINATOR and unloads the partition, before the metadata has
//     caught up.
//
// Groups of partitions not held get NOT_COORDINATOR. The broker answers
// NOT_COORDINATOR itself when its metadata names another broker, and
// COORDINATOR_LOAD_IN_PROGRESS when it names this one but the coordinator
// does not hold the partition yet.
//
// The keys are not grouped by partition (they predate placement, and
// existing clusters' data loads as it is), so a load pass reads every
// group record and offset and keeps those of the partitions it loads.
// With 10,000 groups of 10 offsets each (110,000 keys, about 15 MB) a pass
// took 0.30 s for one partition of 50 and 1.06 s for all 50 (embedded
// etcd, 2 cores; placement_bench_test.go). Pages are sized by bytes
// (persist.go): etcd counts the rest of the range on every page, and
// pages of 1,000 keys made the same passes 0.97 s and 2.0 s.
//
// Without Config.Placed (package tests, tools) a Coordinator serves every
// group: Start loads them all (COORDINATOR_LOAD_IN_PROGRESS meanwhile) and
// its writes are not fenced.
//
// # Keys (under the cluster prefix, values JSON)
//
//	groups/<group>                     groupRecord: type (classic|consumer), protocol type,
//	                                   protocol, generation, leader, state timestamp, members
//	                                   (with protocol metadata and assignments as base64;
//	                                   KIP-848: epochs, subscriptions, assigned/revoking/target
//	                                   partitions by topic id); or, for a record of more than
//	                                   511 KiB, {"chunked":{version, chunks, bytes, crc32c}}
//	groups/<group>/<version>/<n>       chunk n (000000, 000001, ...) of a chunked record: the
//	                                   record's JSON is the concatenation of its chunks
//	offsets/<group>/<topic>/<partition> offsetRecord: offset, leader epoch, metadata,
//	                                   commit timestamp (ms), optional expire timestamp
//	txn-offsets/<group>/<producer id>/<topic>/<partition>
//	                                   pendingOffsetRecord: an offsetRecord and the producer
//	                                   epoch of a TxnOffsetCommit whose transaction has not
//	                                   ended (txn_offsets.go): moved to offsets/ by its COMMIT
//	                                   marker, deleted by its ABORT
//
// <group> is the group id with '%', '/' and control bytes %XX-escaped (the
// empty id is "%"), so a group id is always one key segment and a prefix
// delete of offsets/<group>/ or groups/<group>/ never touches another group.
//
// A chunked record is written in two steps (record_chunks.go): its chunks
// under a new random <version>, in transactions within etcd's limits, then
// one transaction that points groups/<group> at that version (if its first
// chunk still exists) and deletes every other version's chunks. The loader
// reads groups/ at one revision and assembles the version the group key
// names, so it sees the previous record or the new one; chunks no record
// names (a write that died before its switch) are skipped, and go at the
// group's next write. A record of up to 511 KiB stays one value, written
// with the deletion of any chunks in one transaction; records written
// before chunking existed are such values. (A samsa from before chunking
// loads a chunked group as an empty one, whose members then rejoin, keeps
// its offsets, and skips its chunks as undecodable.)
//
// The group record is written when the group's membership settles (a
// classic SyncGroup from the leader, before it is answered; a generation
// that leaves the group empty; a static member replaced) and on every
// KIP-848 change of epoch or assignment. After a restart a classic group
// with members is Stable and every member must heartbeat within its
// session timeout or be removed, as in Kafka.
//
// # Atomicity
//
// etcd takes at most 128 operations and 1.5 MiB per request. An offset
// commit is written in transactions of at most 128 keys and 1 MiB: each is
// atomic, a larger commit is not (the partitions of the transactions that
// succeeded are stored and acknowledged, the rest get an error). A group
// record of any size is replaced atomically (above). Deleting a group is
// one transaction (its record and range deletes of its chunks, offsets
// and pending transactional offsets).
//
// # Locks
//
// Each group has a state mutex (group.mu) and a write lock (group.wmu).
// mu is never held across etcd or a callback; wmu serialises one group's
// etcd writes (offset commits and deletes, record writes, deletion) so the
// order in etcd is the order in memory, and is held across etcd: the one
// lock in package coordinator that is. Every etcd call has a deadline
// (opCtx: the request's, at most 15 s, and Close), and so has the wait for
// wmu (lockWrites): a request queued behind a stuck write answers
// REQUEST_TIMED_OUT or COORDINATOR_NOT_AVAILABLE instead of waiting on.
// Lock order: group.wmu, then group.mu, then Coordinator.mu (a leaf).
// Coordinator.mu also guards the held partitions (parts) and the map of
// groups; unloading takes a partition's groups out of the map under it,
// then marks each unloaded under its own mu.
//
// # Goroutines
//
// Start runs the loader (loading the partitions elected, placement.go) and
// the offset-expiry loop; timers (sessions, rebalances, KIP-394 pending
// members) run through the Clock seam. Close stops them all and waits.
package group
