// Package coordinator holds everything samsa keeps in etcd: the cluster id,
// the broker registry, controller election, topics and partition state,
// topic configs and producer-id blocks (later: consumer groups, offsets,
// transactions, ACLs). Every broker keeps an immutable in-memory Snapshot of
// the cluster metadata, kept current by a watch, so that Metadata, Produce
// and Fetch never wait on etcd.
//
// # Key layout
//
// Under the prefix (Config.Prefix, default "/samsa/"); values are JSON so
// that `etcdctl get --prefix /samsa/` is readable:
//
//	<prefix>cluster-id                              the cluster id (created once, never changed;
//	                                                Config.NoCreate/ClusterID: a broker whose data
//	                                                belongs to a cluster never creates another)
//	<prefix><cluster-id>/broker-dirs/<id>           {"directory_id": ...}: the log directory id the
//	                                                controller last recorded for the broker (not
//	                                                leased: it outlives the broker)
//	<prefix><cluster-id>/brokers/<id>               BrokerInfo, attached to the broker's lease: its
//	                                                endpoints (every advertised listener), rack,
//	                                                directory id, shutting_down, offline replicas
//	                                                and unclean_shutdown (KIP-966)
//	<prefix><cluster-id>/configs/brokers/<id>       dynamic broker configs of one broker, JSON name -> value
//	<prefix><cluster-id>/configs/brokers/default    the cluster-wide dynamic broker configs
//	<prefix><cluster-id>/configs/groups/<group>     a group's configs (KIP-848 GROUP resource)
//	<prefix><cluster-id>/controller/<lease-hex>     election candidates (concurrency.Election);
//	                                                the lowest create revision is the controller,
//	                                                its value the broker id in decimal
//	<prefix><cluster-id>/topics/<name>              TopicInfo (assignment and config overrides)
//	<prefix><cluster-id>/partitions/<topic-id>/<n>  PartitionState
//	<prefix><cluster-id>/topics-deleted/<topic-id>  TopicTombstone: written with a topic's deletion,
//	                                                removed once every broker that held a replica
//	                                                confirmed its logs are gone; the only record
//	                                                that lets a broker delete a log
//	<prefix><cluster-id>/producer-ids               {"next": N}: the first unallocated producer id
//	<prefix><cluster-id>/groups/, offsets/          consumer groups and committed offsets
//	                                                (package group; its doc.go has the layout)
//	<prefix><cluster-id>/txn-offsets/<group>/...    transactional offset commits pending their
//	                                                transaction's end (package group)
//	<prefix><cluster-id>/transactions/<id>          one transactional id's state (package txn;
//	                                                its doc.go has the layout)
//	<prefix><cluster-id>/acls/<id>                  ACL: one ACL binding, id = hash of the binding
//	<prefix><cluster-id>/scram/<mechanism>/<user>   ScramCredential (salt, StoredKey, ServerKey,
//	                                                iterations; user path-escaped)
//	<prefix><cluster-id>/quotas/<entity>            client quota values by key; entity
//	                                                user=<u>,client-id=<c> (either may be absent,
//	                                                <default> for a default)
//
// Owners (writers): registry.go writes brokers/ and controller/, topics.go
// writes topics/, topics-deleted/ and the initial partitions/, partitions.go
// the partition leaders' ISR changes (UpdatePartitionState),
// controller_write.go the controller's partition state changes, the
// internal topics' assignments and broker-dirs/, admin_write.go the
// partition states (and, for reassignments, topic assignments) that admin
// requests and the controller's reassignment completions write,
// producer_ids.go producer-ids, store.go cluster-id, configs.go configs/
// (for the broker's AlterConfigs handlers), package group groups/,
// offsets/ and txn-offsets/, package txn transactions/, acls.go acls/, scram.go scram/, quotas.go quotas/; compact.go
// compacts the history.
//
// # Admin requests and reassignments
//
// ElectLeaders and AlterPartitionReassignments are decided by the broker
// that receives them, with the controller's rules, and written with
// AdminWrite, which compares every input of the decision (see
// admin_write.go for why that makes a trip to the controller needless).
// reassign.go holds the reassignment rules (Kafka's KIP-455 steps); the
// controller completes a reassignment once its target replicas are all in
// sync. A partition's replicas and its topic's assignment
// (TopicInfo.Replicas) change in the same transaction, so they always
// agree.
//
// # Controller
//
// controller.go holds the controller's rules (DecidePartition: elections
// from the ISR, the ELR of KIP-966, unclean election; dead, shutting-down,
// offline and lost-directory replicas out of the ISR; PreferredLeader;
// WithISR for a leader's own ISR changes). The broker runs them while it
// holds the election (broker/controller.go). Every controller write
// compares, besides its own CAS, the controller's election key with the
// create revision it won with (controller_write.go): a deposed
// controller's writes, in flight or not, fail with ErrNotController.
//
// # Lease fencing
//
// lease.go measures how long the broker's registration lease is certainly
// valid in etcd (LeaseValid, LeaseValidUntil): a broker cut off from etcd
// stops leading before its lease can have expired there, and the
// controller elects new leaders only once it has.
//
// # Combined mode
//
// With Config.Member the embedded etcd is one member of a multi-member etcd
// the brokers form among themselves (embedded.go): member name = node id,
// peer URL = its voter address, initial cluster = every voter. The data
// dir records which quorum it belongs to and is never started as anything
// else.
//
// # Consistency
//
// Every change to a partition's state is a transaction that compares the
// key's mod revision (and the partition epoch inside it), so a stale writer
// can never overwrite a newer state. Topic writes compare the topic key's
// create or mod revision the same way.
//
// etcd accepts at most 128 operations and 1.5 MiB per request by default.
// Creating a topic therefore writes the topic key and the first partitions
// in one transaction and the remaining partitions in further transactions
// that each compare the topic key's mod revision with the first one's, so
// a concurrent delete or change aborts the rest with ErrConflict.
//
// # Compaction
//
// etcd keeps every version of every key until its history is compacted;
// every offset commit, group change and ISR change adds versions. The
// controller (Store.IsController) compacts every Config.CompactionInterval
// (etcd.compaction.interval.ms, default 5 minutes; 0 = off) to the revision
// it saw one interval earlier, for the embedded and an external etcd alike:
// every watch has had a whole interval to pass a revision before it goes,
// and a watch that has not (a broker cut off for longer) gets a compacted
// response and re-reads (see Snapshot). A broker that loses the role stops
// at its next tick and one that wins it starts compacting a tick later.
// etcd compacts its whole keyspace: on an external etcd shared with other
// applications, their history older than the interval goes too. The
// embedded etcd also runs etcd's own periodic compaction of what is older
// than an hour, a backstop for the interval 0 (and a no-op behind samsa's
// compactor). Compaction frees pages inside etcd's database for reuse; the
// file shrinks only on a defragmentation, which samsa never starts (it
// blocks the member while it runs).
//
// # Snapshot
//
// Two range watches feed an immutable Snapshot: one on the keys from
// acls/ to the end of controller/ (acls/, broker-dirs/, brokers/,
// controller/), one from partitions/ to the end of topics/ (which holds
// producer-ids, quotas/, scram/ and topics-deleted/ too). Committed
// offsets (offsets/) and group records (groups/) sort between the two and
// are never streamed to a broker's metadata watch. Both watches share one
// gRPC stream, so a progress request reaches both; the Snapshot's revision is
// the lower of the two ranges' (each range is complete up to its last event
// or progress notification), so WaitForRevision(rev) returns only once both
// have passed rev. A watch response on one range asks for progress at once,
// so that the idle range catches up without waiting for WaitForRevision's
// timer. A compacted, cancelled or failed watch on either range re-reads
// every metadata dir at one revision and starts both watches again from it.
//
// A transaction whose writes spanned both ranges could be seen half-applied
// (one range's watch ahead of the other's); none does. The writes, by
// range:
//
//	range acls/..controller/:
//	  CreateACLs, DeleteACLs  up to 100 acls/<id> per txn (nothing else)
//	  registerOnce            brokers/<id> (create, or take over our previous incarnation's key)
//	  updateRegistration      brokers/<id> (SetOfflineReplicas, SetShuttingDown; compares the lease)
//	  UpdateBrokerConfigs,    configs/brokers/<entity>, configs/groups/<group> (one key per txn,
//	  UpdateGroupConfigs      written rarely: an operator's alter)
//	  Election.Campaign       controller/<lease-hex>
//	  Deregister              brokers/<id> and controller/<lease-hex> (one txn)
//	  lease expiry or revoke  brokers/<id> and controller/<lease-hex> (same lease, one revision)
//	  ControllerRecordDirectory  broker-dirs/<id> (compares controller/<lease-hex>: a compare
//	                          reads, it writes nothing)
//	range partitions/..topics/:
//	  CreateTopic, AddPartitions  topics/<name> and the first partitions/<topic-id>/<n> (one txn),
//	                              later partitions/ chunks guarded by the topic key's mod revision
//	  DeleteTopic             topics/<name> and partitions/<topic-id>/ (one txn)
//	  SetTopicConfigs         topics/<name>
//	  UpdatePartitionState    partitions/<topic-id>/<n> (compares the topic key: a compare
//	                          reads, it writes nothing)
//	  ControllerWrite         up to 60 partitions/<topic-id>/<n> (compares their mod revisions,
//	                          topics/<name> for a missing state, and controller/<lease-hex>,
//	                          which is in the other range: compared, not written)
//	  ControllerSetInternalAssignment  topics/<name> (compares it and controller/<lease-hex>)
//	  ControllerWriteAssignment  partitions/<topic-id>/<n> of one topic and topics/<name> (a
//	                          reassignment's completion; compares them and controller/<lease-hex>)
//	  AdminWrite              partitions/<topic-id>/<n>, with topics/<name> for a reassignment
//	                          (ElectLeaders, AlterPartitionReassignments; compares them and
//	                          every replica's brokers/<id>, in the other range: compared, not
//	                          written)
//	  AllocateProducerIDs     producer-ids (in the range, not in the Snapshot: it advances the
//	                          revision and signals no change)
//	  AlterSCRAM              scram/<mechanism>/<user> (one txn per AlterUserScramCredentials)
//	  AlterQuotas             quotas/<entity> (compares its mod revision)
//	outside both:
//	  <prefix>cluster-id, groups/, offsets/, txn-offsets/ (package group),
//	  transactions/ (package txn)
//
// A new key written with another in one transaction belongs in the same
// range; a key written often belongs in neither.
//
// The Snapshot is rebuilt copy-on-write per watch response (a changed topic copies only that
// topic; a changed partition copies only its topic's partition slice) and
// swapped atomically. A topic whose partition states are not all present yet
// (a chunked create in progress, or one that died half-way) is shown with
// the missing partitions as PartitionState{Leader: -1, LeaderEpoch: -1,
// PartitionEpoch: -1, Replicas: the assignment}: clients see
// LEADER_NOT_AVAILABLE and retry, exactly as for a topic Kafka has just
// created, and the controller can write the missing state with
// UpdatePartitionState(expectedPartitionEpoch = -1). Partition states without
// a topic key, or beyond the topic's partition count, are ignored.
package coordinator
