package coordinator

// Snapshot is an immutable view of the cluster metadata at one etcd revision.
// Never modify a Snapshot or anything reachable from it.
type Snapshot struct {
	Revision     int64
	ClusterID    string
	ControllerID int32 // -1 when unknown
	Brokers      map[int32]BrokerInfo
	// BrokerIDs sorted ascending.
	BrokerIDs []int32
	// BrokerDirs are the directory ids the controller recorded
	// (broker-dirs/<id>, not leased): a live broker whose
	// BrokerInfo.DirectoryID differs lost its disk (LostDirectory).
	BrokerDirs map[int32]string
	Topics     map[string]*TopicMeta
	TopicsByID map[TopicID]*TopicMeta
	// TopicNames sorted ascending.
	TopicNames []string
	// DeletedTopics are the tombstones of deleted topics still waiting for
	// some broker's confirmation (topics-deleted/).
	DeletedTopics map[TopicID]TopicTombstone
	// Configs are the dynamic broker and group configs (configs.go).
	Configs DynamicConfigs

	// ACLs are every ACL binding (acls/), sorted; ACLRevision is the
	// revision of the snapshot that last changed them, so a cache of
	// authorization decisions knows when it is stale.
	ACLs        []ACL
	ACLRevision int64
	// SCRAM are the SCRAM credentials (scram/).
	SCRAM map[SCRAMKey]ScramCredential
	// Quotas are the client quotas (quotas/) by entity; QuotaRevision as
	// ACLRevision.
	Quotas        map[QuotaEntity]map[string]float64
	QuotaRevision int64

	// offline indexes the brokers' OfflineReplicas (built with Brokers).
	offline map[int32]map[ReplicaRef]struct{}
}

// LostDirectory reports whether a live broker registered with another
// directory id than the one recorded for it: its disk was lost (or
// replaced), so none of its replicas holds what the ISR says it holds.
// Until the controller has removed it from every ISR and ELR and recorded
// the new id, it must not lead anything. A broker without a record, or
// registered without a directory id, has not lost anything known.
func (s *Snapshot) LostDirectory(broker int32) bool {
	b, ok := s.Brokers[broker]
	if !ok || b.DirectoryID == "" {
		return false
	}
	rec, ok := s.BrokerDirs[broker]
	return ok && rec != b.DirectoryID
}

// ReplicaOffline reports whether broker has declared its replica of the
// partition offline.
func (s *Snapshot) ReplicaOffline(broker int32, id TopicID, partition int32) bool {
	_, ok := s.offline[broker][ReplicaRef{TopicID: id, Partition: partition}]
	return ok
}

func indexOffline(brokers map[int32]BrokerInfo) map[int32]map[ReplicaRef]struct{} {
	var out map[int32]map[ReplicaRef]struct{}
	for id, b := range brokers {
		if len(b.OfflineReplicas) == 0 {
			continue
		}
		if out == nil {
			out = make(map[int32]map[ReplicaRef]struct{})
		}
		set := make(map[ReplicaRef]struct{}, len(b.OfflineReplicas))
		for _, r := range b.OfflineReplicas {
			set[r] = struct{}{}
		}
		out[id] = set
	}
	return out
}

// TopicMeta is one topic in a Snapshot.
type TopicMeta struct {
	Info       TopicInfo
	Partitions []PartitionState // index = partition number
}

// Topic returns the topic or nil.
func (s *Snapshot) Topic(name string) *TopicMeta { return s.Topics[name] }

// TopicByID returns the topic or nil.
func (s *Snapshot) TopicByID(id TopicID) *TopicMeta { return s.TopicsByID[id] }

// Partition returns the partition's state; ok=false when the topic or
// partition does not exist.
func (s *Snapshot) Partition(topic string, p int32) (PartitionState, bool) {
	t := s.Topics[topic]
	if t == nil || p < 0 || int(p) >= len(t.Partitions) {
		return PartitionState{}, false
	}
	return t.Partitions[p], true
}
