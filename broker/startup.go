package broker

// Start-up: the data directory belongs to one cluster and one node.
//
// Every log directory carries Kafka's meta.properties (cluster.id, node.id,
// directory.id), written on the first start. Before anything in etcd or on
// disk is touched, the broker checks it against its configuration and etcd:
//
//	meta.properties   data on disk  etcd's cluster id      outcome
//	cluster X         any           X                      start
//	cluster X         any           Y != X                 refuse (names X, Y)
//	cluster X         any           none                   refuse; adopt: create X
//	none              partitions    C                      start, write C (data from before meta.properties)
//	none              partitions    none                   refuse; adopt: create a new id
//	none              none          C or none              start (create), write the id
//
// and a node.id in meta.properties other than the broker's id refuses.
//
// With several log directories (log.dirs) each one carries its own
// meta.properties (same cluster.id and node.id, its own directory.id) and
// is checked the same way: the directories that have one must agree on the
// cluster and have distinct directory ids, and each one without is written
// on this start. A directory whose meta.properties cannot be read for an
// I/O error goes offline alone (storage.Manager.FailDir); the first one,
// which holds the embedded etcd and whose directory.id is the broker's
// registered one, refuses the start instead.
// "adopt" is samsa.adopt.existing.data=true: the cluster's metadata is
// rebuilt from the data directory (adoptExistingData). A refusal writes
// nothing to etcd and changes nothing on disk.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/storage"
)

// ErrDataDirRefused wraps every refusal of the data directory at start-up:
// the message says which ids differ and what to do.
var ErrDataDirRefused = errors.New("broker: data directory refused")

// openCluster opens the metadata store after checking that the data
// directory belongs to the cluster it holds, and writes meta.properties on
// the first start. adopt reports that the cluster was just created around a
// data directory that already holds partitions (samsa.adopt.existing.data).
func (b *Broker) openCluster(ctx context.Context) (adopt bool, err error) {
	dir := b.cfg.DataDir
	metas, err := b.readLogDirMetas()
	if err != nil {
		return false, err
	}
	var mp storage.MetaProperties
	hasMeta := false
	for _, d := range metas {
		if d.ok {
			mp, hasMeta, dir = d.mp, true, d.path
			break
		}
	}
	hasData, err := b.logs.HasData()
	if err != nil {
		return false, err
	}
	ccfg := b.storeConfig()
	if hasMeta {
		ccfg.ClusterID = mp.ClusterID
	}
	ccfg.NoCreate = (hasMeta || hasData) && !b.cfg.AdoptExistingData
	store, err := coordinator.Open(ctx, ccfg)
	var mismatch *coordinator.ClusterIDMismatchError
	switch {
	case errors.As(err, &mismatch):
		return false, fmt.Errorf("%w: %s belongs to cluster %s (%s), but %s holds cluster %s (key %s); "+
			"point samsa at the etcd of cluster %s, or give this cluster a data directory of its own",
			ErrDataDirRefused, dir, mp.ClusterID, storage.MetaPropertiesFile, b.etcdDescription(), mismatch.Stored,
			mismatch.Key, mp.ClusterID)
	case errors.Is(err, coordinator.ErrNoCluster):
		what := fmt.Sprintf("%s belongs to cluster %s (%s)", dir, mp.ClusterID, storage.MetaPropertiesFile)
		if !hasMeta {
			what = fmt.Sprintf("%s holds partition logs but no %s", dir, storage.MetaPropertiesFile)
		}
		return false, fmt.Errorf("%w: %s, and %s holds no cluster: it was reset, or --etcd-endpoints/--etcd-prefix "+
			"name another one. Nothing was changed. Restore that etcd or point samsa at it; or start once with "+
			"--override samsa.adopt.existing.data=true to rebuild the cluster's metadata from the data directory "+
			"(topics and their ids are recovered, topic configs and consumer offsets are not)",
			ErrDataDirRefused, what, b.etcdDescription())
	case err != nil:
		return false, err
	}
	b.store = store
	for i, d := range metas {
		if d.ok {
			continue
		}
		dirHasData, err := b.logs.DirHasData(d.path)
		if err != nil {
			return false, err
		}
		mp = storage.MetaProperties{ClusterID: store.ClusterID(), NodeID: b.cfg.BrokerID, DirectoryID: storage.NewDirectoryID()}
		if rec, ok := store.Snapshot().BrokerDirs[b.cfg.BrokerID]; ok && dirHasData && i == 0 && !hasMeta {
			// The data is this broker's from before meta.properties: the
			// directory is the one the controller knows (a new id would
			// read as a lost disk, broker/controller.go).
			mp.DirectoryID = rec
		}
		if err := storage.WriteMetaProperties(b.storageFS(), d.path, mp); err != nil {
			if i == 0 {
				return false, err
			}
			b.logs.FailDir(d.path, err)
			continue
		}
		ev := b.log.Info().Str("cluster_id", mp.ClusterID).Str("directory_id", mp.DirectoryID).Str("log_dir", d.path)
		if dirHasData && !store.CreatedCluster() {
			ev.Msg("data directory predates meta.properties: it now belongs to the cluster in etcd")
		} else {
			ev.Msg("formatted data directory")
		}
	}
	adopt = store.CreatedCluster() && hasData
	if b.cfg.AdoptExistingData && !adopt {
		b.log.Warn().Msg("samsa.adopt.existing.data is set but there is nothing to adopt: etcd already holds the cluster; it has no effect")
	}
	return adopt, nil
}

// logDirMeta is one online log directory's meta.properties (ok: it has one).
type logDirMeta struct {
	path string
	mp   storage.MetaProperties
	ok   bool
}

// readLogDirMetas reads and cross-checks the meta.properties of every
// online log directory, in configuration order (the first one first: it
// must be online). A node.id other than the broker's, an unreadable file,
// two clusters or a directory.id twice refuse; an I/O error on a directory
// other than the first takes it offline.
func (b *Broker) readLogDirMetas() ([]logDirMeta, error) {
	dirs := b.logs.Dirs()
	if dirs[0].Err != nil {
		return nil, fmt.Errorf("%w: the first log directory %s cannot be used (%v); it holds the embedded etcd and the broker's directory id",
			ErrDataDirRefused, b.cfg.DataDir, dirs[0].Err)
	}
	var out []logDirMeta
	ids := map[string]string{} // directory.id -> dir
	for i, d := range dirs {
		if d.Err != nil {
			continue
		}
		mp, ok, err := storage.ReadMetaProperties(b.storageFS(), d.Path)
		if err != nil {
			if i > 0 && !errors.Is(err, storage.ErrBadMetaProperties) {
				b.logs.FailDir(d.Path, err)
				continue
			}
			return nil, fmt.Errorf("%w: %w; fix or remove %s/%s by hand (samsa does not rewrite it)",
				ErrDataDirRefused, err, d.Path, storage.MetaPropertiesFile)
		}
		if ok && mp.NodeID != b.cfg.BrokerID {
			return nil, fmt.Errorf("%w: %s/%s says the directory belongs to node.id %d, but this broker is node.id %d; "+
				"start it with --broker-id %d, or give node %d a data directory of its own",
				ErrDataDirRefused, d.Path, storage.MetaPropertiesFile, mp.NodeID, b.cfg.BrokerID, mp.NodeID, b.cfg.BrokerID)
		}
		if ok {
			for _, o := range out {
				if o.ok && o.mp.ClusterID != mp.ClusterID {
					return nil, fmt.Errorf("%w: log directories %s and %s belong to different clusters (%s, %s); "+
						"a broker's log directories must all be of one cluster",
						ErrDataDirRefused, o.path, d.Path, o.mp.ClusterID, mp.ClusterID)
				}
			}
			if other, dup := ids[mp.DirectoryID]; dup && mp.DirectoryID != "" {
				return nil, fmt.Errorf("%w: log directories %s and %s have the same directory.id %s (one was copied from the other?); "+
					"give one a new directory.id in its %s by hand",
					ErrDataDirRefused, other, d.Path, mp.DirectoryID, storage.MetaPropertiesFile)
			}
			ids[mp.DirectoryID] = d.Path
		}
		out = append(out, logDirMeta{path: d.Path, mp: mp, ok: ok})
	}
	return out, nil
}

// storeConfig is the metadata store's configuration from the broker's.
func (b *Broker) storeConfig() coordinator.Config {
	return coordinator.Config{
		Endpoints:   b.cfg.EtcdEndpoints,
		EmbeddedDir: b.embeddedEtcdDir(),
		Member:      b.embeddedMember(),
		Prefix:      b.cfg.EtcdPrefix,
		SessionTTL:  b.cfg.SessionTimeout,
		Logger:      b.log,
		// etcd.compaction.interval.ms (coordinator/compact.go)
		CompactionInterval: time.Duration(b.cfg.Int64("etcd.compaction.interval.ms")) * time.Millisecond,
		DialOptions:        b.metrics.etcdDialOptions(),
	}
}

func (b *Broker) embeddedEtcdDir() string { return b.cfg.DataDir + "/etcd" }

// etcdDescription names the etcd the broker uses, for messages.
func (b *Broker) etcdDescription() string {
	prefix := b.cfg.EtcdPrefix
	if prefix == "" {
		prefix = "/samsa/"
	}
	if len(b.cfg.EtcdEndpoints) == 0 {
		return fmt.Sprintf("the embedded etcd in %s (prefix %s)", b.embeddedEtcdDir(), prefix)
	}
	return fmt.Sprintf("etcd at %s (prefix %s)", strings.Join(b.cfg.EtcdEndpoints, ","), prefix)
}

// adoptExistingData registers every topic found in the data directory, with
// the topic id of its partition.metadata, its partitions (the highest found
// plus one) and this broker as the only replica. Each partition's leader
// epoch starts past the newest epoch in its log. Called once the cluster was
// created around existing data (openCluster) and the broker is registered.
func (b *Broker) adoptExistingData(ctx context.Context) error {
	dirs, err := b.logs.Scan()
	if err != nil {
		return err
	}
	type found struct {
		ids   map[[16]byte]bool
		parts map[int32]storage.DiskPartition
	}
	topics := map[string]*found{}
	for _, d := range dirs {
		if d.Err != nil {
			b.log.Error().Err(d.Err).Str("dir", d.Dir).Msg("not adopted: its partition.metadata is unreadable; the directory is kept")
			continue
		}
		if d.Topic == offsetsTopic || d.Topic == transactionTopic {
			continue
		}
		f := topics[d.Topic]
		if f == nil {
			f = &found{ids: map[[16]byte]bool{}, parts: map[int32]storage.DiskPartition{}}
			topics[d.Topic] = f
		}
		f.ids[d.TopicID] = true
		f.parts[d.Partition] = d
	}
	me := b.cfg.BrokerID
	maxPID := int64(-1)
	for _, name := range slices.Sorted(maps.Keys(topics)) {
		f := topics[name]
		delete(f.ids, [16]byte{}) // directories from before topic ids take the topic's id
		var id coordinator.TopicID
		switch len(f.ids) {
		case 0:
			id = coordinator.NewTopicID()
		case 1:
			for k := range f.ids {
				id = k
			}
		default:
			b.log.Error().Str("topic", name).Int("topic_ids", len(f.ids)).
				Msg("not adopted: its partition directories name different topic ids; they are kept and will be set aside as stray")
			continue
		}
		if err := validateTopicName(name); err != nil {
			b.log.Error().Err(err).Str("topic", name).Msg("not adopted: invalid topic name; the directories are kept")
			continue
		}
		n := slices.Max(slices.Collect(maps.Keys(f.parts))) + 1
		// Open the logs found (recovering them if needed) to learn their
		// newest leader epochs; missing partitions start empty.
		var reqs []storage.OpenRequest
		for p := range f.parts {
			reqs = append(reqs, storage.OpenRequest{Topic: name, Partition: p, TopicID: id, Config: b.cfg.ResolveTopic(nil).Log})
		}
		logs, errs := b.logs.OpenAll(reqs, b.cfg.RecoveryThreads)
		epochs := make([]int32, n)
		replicas := make([][]int32, n)
		for i := range replicas {
			replicas[i] = []int32{me}
		}
		for i, r := range reqs {
			if errs[i] != nil {
				// Registered all the same: the partition will show as
				// offline until a start can open it.
				b.log.Error().Err(errs[i]).Str("topic", name).Int32("partition", r.Partition).
					Msg("adopted partition log cannot be opened; it stays on disk and the partition is offline")
				continue
			}
			epochs[r.Partition] = logs[i].LatestEpoch() + 1
			maxPID = max(maxPID, logs[i].MaxProducerID())
		}
		info := coordinator.TopicInfo{Name: name, ID: id, Replicas: replicas}
		rev, err := b.store.CreateTopicAt(ctx, info, epochs)
		if err != nil {
			return fmt.Errorf("broker: adopt topic %s: %w", name, err)
		}
		if err := b.store.WaitForRevision(ctx, rev); err != nil {
			return err
		}
		b.log.Warn().Str("topic", name).Str("topic_id", id.String()).Int32("partitions", n).
			Int("partitions_on_disk", len(f.parts)).
			Msg("adopted topic from the data directory (configs not recovered: set them again with kafka-configs)")
	}
	// New producers must not get the id of one the logs remember: its
	// first batch would be taken for a retry and acknowledged unwritten.
	// The margin covers logs that could not be opened.
	next := maxPID + 1 + adoptProducerIDMargin
	if err := b.store.ReserveProducerIDsBelow(ctx, next); err != nil {
		return fmt.Errorf("broker: adopt: reserve producer ids: %w", err)
	}
	b.log.Info().Int64("highest_producer_id_seen", maxPID).Int64("next_producer_id", next).
		Msg("producer ids of the adopted logs reserved")
	return nil
}

// adoptProducerIDMargin is how many producer ids past the highest one the
// adopted logs remember are never handed out (room for logs that could not
// be opened during the adoption).
const adoptProducerIDMargin = 1 << 24
