package broker

// DescribeLogDirs (key 35), v1-v5 (Kafka 4's floor is v1): the log
// directories of this broker and the partition logs in them
// (kafka-log-dirs.sh; kafka-reassign-partitions.sh --execute asks for the
// replicas' directories to print its rollback plan).
//
//	v1: same as v0 (throttle applied after the response).
//	v2: flexible.
//	v3: a top-level ErrorCode.
//	v4: TotalBytes and UsableBytes of the directory's volume (KIP-827);
//	    -1 here: samsa does not measure them.
//	v5: IsCordoned (KIP-1066); samsa never cordons a directory.
//
// As Kafka's broker (ReplicaManager.describeLogDirs): null topics ask for
// every log; every log directory (log.dirs) is always listed, in
// configuration order, with the asked-for partitions it holds (topics
// without any are left out); each with its size in bytes and its offset
// lag, max(high watermark - log end offset, 0). An offline directory is
// listed with KAFKA_STORAGE_ERROR and no topics. A replica being moved
// (AlterReplicaLogDirs) is also listed in its destination as a future
// replica (IsFuture), with the bytes copied so far and, as offset lag, the
// log end offset not copied yet. A replica whose log is
// offline is not listed (its files are kept, but nothing is known of
// them).

import (
	"maps"
	"path/filepath"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/storage"
)

func init() { register(kmsg.DescribeLogDirs, 1, 5, handleDescribeLogDirs) }

func handleDescribeLogDirs(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)

	wanted := func(topic string, p int32) bool { return true }
	if req.Topics != nil {
		asked := map[topicPartition]bool{}
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				asked[topicPartition{rt.Topic, p}] = true
			}
		}
		wanted = func(topic string, p int32) bool { return asked[topicPartition{topic, p}] }
	}

	parts := b.parts.Load()
	moves := b.logs.Moves()
	for _, ld := range b.logs.Dirs() {
		dir := kmsg.NewDescribeLogDirsResponseDir()
		dir.Dir = ld.Path
		if abs, err := filepath.Abs(ld.Path); err == nil {
			dir.Dir = abs
		}
		if ld.Err != nil {
			dir.ErrorCode = kerr.KafkaStorageError.Code
			resp.Dirs = append(resp.Dirs, dir)
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(parts.byTopic)) {
			rt := kmsg.NewDescribeLogDirsResponseDirTopic()
			rt.Topic = name
			for _, p := range parts.byTopic[name] {
				if p == nil || p.log == nil || p.offlineErr() != nil || !wanted(name, p.index) ||
					filepath.Dir(p.log.Dir()) != ld.Path {
					continue
				}
				rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
				rp.Partition = p.index
				rp.Size = p.log.Size()
				rp.OffsetLag = max(p.log.HighWatermark()-p.log.LogEndOffset(), 0)
				rt.Partitions = append(rt.Partitions, rp)
			}
			// A move in progress to this directory: the future replica,
			// its lag the log end offset not copied yet.
			for _, p := range parts.byTopic[name] {
				if p == nil || p.log == nil || !wanted(name, p.index) {
					continue
				}
				st, ok := moves[storage.TopicPartition{Topic: name, Partition: p.index}]
				if !ok || st.Dest != ld.Path {
					continue
				}
				rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
				rp.Partition, rp.IsFuture = p.index, true
				rp.Size = st.CopiedBytes
				rp.OffsetLag = max(p.log.LogEndOffset()-st.CopiedEnd, 0)
				rt.Partitions = append(rt.Partitions, rp)
			}
			if len(rt.Partitions) > 0 {
				dir.Topics = append(dir.Topics, rt)
			}
		}
		resp.Dirs = append(resp.Dirs, dir)
	}
	return resp
}
