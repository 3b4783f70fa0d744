package broker

// AlterReplicaLogDirs (key 34), v1-v2 (Kafka 4's range; v2 flexible):
// move replicas hosted here to another of this broker's log directories
// (kafka-reassign-partitions.sh with "log_dirs" in its plan). As Kafka's
// ReplicaManager.alterReplicaLogDirs, the answer comes at once and the move
// runs in the background (storage.Manager.StartMove: copied while serving,
// then switched with appends briefly stopped; the source removed only
// after the switch is durable); DescribeLogDirs shows it as a future
// replica until it is done.
//
// Per partition: CLUSTER_AUTHORIZATION_FAILED without ALTER on the cluster;
// LOG_DIR_NOT_FOUND for a directory that is not one of log.dirs (paths are
// compared absolute); KAFKA_STORAGE_ERROR when that directory or the
// replica's log is offline; UNKNOWN_TOPIC_OR_PARTITION for a partition the
// cluster does not have; REPLICA_NOT_AVAILABLE for one this broker does not
// host (Kafka remembers the wish for a later replica; samsa does not);
// NONE when the move started, is running already to that directory, or
// the replica is there already.

import (
	"errors"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/storage"
)

func init() { register(kmsg.AlterReplicaLogDirs, 1, 2, handleAlterReplicaLogDirs) }

func handleAlterReplicaLogDirs(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.AlterReplicaLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.AlterReplicaLogDirsResponse)
	authorized := b.authorizeCluster(rc, kmsg.ACLOperationAlter)

	dirs := map[string]storage.LogDirInfo{} // absolute path -> dir
	for _, d := range b.logs.Dirs() {
		abs, err := filepath.Abs(d.Path)
		if err != nil {
			abs = d.Path
		}
		dirs[abs] = d
	}
	snap := b.store.Snapshot()
	byTopic := map[string]int{}
	answer := func(topic string, p int32, code int16) {
		i, ok := byTopic[topic]
		if !ok {
			rt := kmsg.NewAlterReplicaLogDirsResponseTopic()
			rt.Topic = topic
			resp.Topics = append(resp.Topics, rt)
			i = len(resp.Topics) - 1
			byTopic[topic] = i
		}
		rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
		rp.Partition, rp.ErrorCode = p, code
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	for _, rd := range req.Dirs {
		abs, err := filepath.Abs(rd.Dir)
		if err != nil {
			abs = rd.Dir
		}
		dir, known := dirs[filepath.Clean(abs)]
		for _, rt := range rd.Topics {
			for _, p := range rt.Partitions {
				answer(rt.Topic, p, b.alterReplicaLogDir(authorized, snap.Topic(rt.Topic) != nil, rt.Topic, p, dir, known))
			}
		}
	}
	return resp
}

// alterReplicaLogDir starts one move and returns its error code.
func (b *Broker) alterReplicaLogDir(authorized, topicKnown bool, topic string, p int32, dir storage.LogDirInfo, known bool) int16 {
	if !authorized {
		return kerr.ClusterAuthorizationFailed.Code
	}
	if !known {
		return kerr.LogDirNotFound.Code
	}
	if dir.Err != nil {
		return kerr.KafkaStorageError.Code
	}
	part := b.hosted(topic, p)
	switch {
	case part == nil && !topicKnown:
		return kerr.UnknownTopicOrPartition.Code
	case part == nil:
		return kerr.ReplicaNotAvailable.Code
	case part.log == nil || part.offlineErr() != nil:
		return kerr.KafkaStorageError.Code
	}
	if st, moving := b.logs.Moves()[storage.TopicPartition{Topic: topic, Partition: p}]; moving {
		if st.Dest == dir.Path {
			return 0
		}
		// Kafka would restart the move to the new directory; samsa lets
		// the running one finish (asking again later moves it on).
		return kerr.ReplicaNotAvailable.Code
	}
	err := b.logs.StartMove(topic, p, dir.Path)
	switch {
	case err == nil:
		b.log.Info().Str("topic", topic).Int32("partition", p).Str("to", dir.Path).Msg("moving replica to another log directory")
		return 0
	case errors.Is(err, storage.ErrNotLogDir):
		return kerr.LogDirNotFound.Code
	case errors.Is(err, storage.ErrStorage):
		return kerr.KafkaStorageError.Code
	default:
		b.log.Warn().Err(err).Str("topic", topic).Int32("partition", p).Str("to", dir.Path).Msg("replica log move refused")
		return kerr.ReplicaNotAvailable.Code
	}
}
