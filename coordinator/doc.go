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
//	<prefix><cluster-id>/brokers/<id>               BrokerInfo, attached to the broker's lease, with
//	                                                the broker's offline replicas
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
//
// Owners (writers): registry.go writes brokers/ and controller/, topics.go
// writes topics/, topics-deleted/ and the initial partitions/, partitions.go
// every later partition state change, producer_ids.go producer-ids,
// store.go cluster-id.
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
// # Snapshot
//
// One watch on <prefix><cluster-id>/ feeds an immutable Snapshot that is
// rebuilt copy-on-write per watch response (a changed topic copies only that
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
