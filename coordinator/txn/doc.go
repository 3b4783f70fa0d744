// Package txn is samsa's transaction coordinator: Kafka's
// TransactionCoordinator and TransactionStateManager with the state in
// etcd instead of __transaction_state's log. It serves both transaction
// protocols: version 2 (KIP-890 part 2: EndTxn v5+, every transaction's
// end bumps the producer epoch, a producer id is rotated when the epoch
// runs out) and versions 0/1 for older clients (one epoch across
// transactions, bumped only by InitProducerId).
//
// # Placement and fencing
//
// A transactional id belongs to partition placement.Partition(id, n) of
// __transaction_state (Kafka's partitionFor: abs(String.hashCode) % n),
// as groups belong to __consumer_offsets. A placement.Tracker tells the
// Coordinator which partitions this broker leads (OnElection,
// OnResignation). Elected, it checks the claim in etcd
// (placement.Acquire), reads the partition's transactions at a revision
// past that check and serves them (COORDINATOR_LOAD_IN_PROGRESS before,
// NOT_COORDINATOR for partitions it does not hold). The claim's leader
// epoch is the coordinator epoch: it is recorded in every record it
// writes and carried in every marker job. A load that finds a record
// written at a higher coordinator epoch than its claim refuses the
// partition.
//
// Every write compares the transaction key's mod revision with the one
// the coordinator last saw (CAS) and goes through the partition's
// placement.Fence: a coordinator whose partition has moved to another
// broker or leader epoch writes nothing, answers NOT_COORDINATOR and
// drops the partition, before its metadata has caught up.
//
// # Keys (under the cluster prefix, values JSON)
//
//	transactions/<id>                 record: producer id, previous and next producer id,
//	                                  producer epoch, last producer epoch, timeout (ms),
//	                                  state (Kafka's names), topics {topic: [partitions]},
//	                                  transaction start and last update (ms), client
//	                                  transaction version, coordinator epoch; or, when the
//	                                  record passes 512 KiB, "chunks" {version, count, bytes,
//	                                  crc32c} in place of topics
//	transactions/<id>/<version>/<n>   chunk n (000000, ...) of the topics JSON of the record
//	                                  naming <version> (16 hex digits)
//
// <id> is the transactional id with '%', '/' and control bytes
// %XX-escaped, so an id is one key segment. The keys sort between
// topics/ and the end of the prefix, outside both metadata watch ranges:
// brokers do not stream them.
//
// A chunked record is written as the group coordinator writes large
// group records: chunks under a new random version first (fenced
// transactions of at most 1 MiB), then one transaction that compares the
// key's mod revision, puts the record and deletes every other version's
// chunks. A load sees the previous record or the new one, never a mix.
//
// # States
//
// Kafka's: Empty -> Ongoing (AddPartitions) -> PrepareCommit/PrepareAbort
// (EndTxn; answered once etcd holds it) -> CompleteCommit/CompleteAbort
// (after the MarkerWriter has written every partition's marker) -> Ongoing
// again, or Empty after InitProducerId. A transaction the coordinator
// aborts (a new producer's InitProducerId, transaction.timeout.ms) goes
// from Ongoing to PrepareAbort with a bumped epoch, fencing its producer:
// Kafka's PrepareEpochFence, which Kafka never writes either. Dead is the
// expiration's deletion of the key. A partition loaded with a transaction
// in PrepareCommit or PrepareAbort sends its markers again and completes
// it.
//
// # Seams
//
// MarkerWriter (WriteTxnMarkers; the broker), ProducerIDs (the broker's
// etcd blocks), GroupOffsets (__consumer_offsets placement for
// AddOffsetsToTxn) and Clock are interfaces, so the broker plugs in and
// tests use fakes.
//
// # Locks
//
// Each transaction has a mutex (txnState.mu) guarding its state, its key's
// mod revision and its pending flag; Coordinator.mu guards the held
// partitions and their maps of transactions and is a leaf (never held
// while taking a txnState.mu). No lock is held across etcd, the marker
// writer or the producer id allocator: a transition decides under
// txnState.mu, marks the transaction pending (other requests get
// CONCURRENT_TRANSACTIONS, as Kafka's pendingState does), writes, then
// installs the new state.
//
// # Goroutines
//
// One loader per elected partition (until loaded or dropped), one marker
// job per transaction being completed (until it completes or its
// partition is dropped), the timeout and expiration scans (Start). Close
// stops them all and waits.
package txn
