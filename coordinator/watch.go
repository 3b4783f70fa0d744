package coordinator

// Snapshot building: two range watches on the metadata subtrees (see
// watchRanges) feed a metaState (the decoded keys, owned by the watch
// goroutine) which produces a new immutable Snapshot per watch response,
// copying only what changed.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
)

// metadataDirs are the subtrees the Snapshot is built from; relist reads
// exactly these. Each lies inside one of watchRanges (TestWatchRangesCover).
var metadataDirs = []string{aclsDir + "/", brokerDirsDir + "/", "brokers/", "controller/", "topics/", "partitions/", deletedTopicsDir + "/",
	quotasDir + "/", scramDir + "/"}

// keyRange is the key range [first, prefix end of last) under the cluster
// root: every key that sorts from first up to the last key starting with
// last.
type keyRange struct{ first, last string }

// watchRanges are what the metadata watch covers: two ranges, so that
// committed offsets and group records (offsets/, groups/, which sort between
// them) never reach a broker's watch. A transaction that writes keys in two
// ranges could be seen half-applied (one range's watch ahead of the
// other's), so each range holds every key some transaction writes together
// (doc.go lists them): broker-dirs/ and brokers/ with controller/ (a lease
// expiry deletes a broker's key and its election key at one revision; the
// controller's broker-dirs/ write compares its election key), partitions/
// with topics/ (a topic is created and deleted with its partition states).
// The first range also holds acls/, the second producer-ids, quotas/,
// scram/ and topics-deleted/ ('-' sorts before '/', so broker-dirs/ sorts
// before brokers/ too); keys in a range
// that the Snapshot does not use advance the revision and nothing else.
// Never put a key written often between "broker-dirs/" and "controller/"
// or between "partitions/" and "topics/".
var watchRanges = [2]keyRange{
	{first: aclsDir + "/", last: "controller/"},
	{first: "partitions/", last: "topics/"},
}

// contains reports whether key (relative to the root) lies in r.
func (r keyRange) contains(key string) bool {
	return key >= r.first && key < clientv3.GetPrefixRangeEnd(r.last)
}

// metaState is the decoded metadata keys plus the last Snapshot built from
// them. Owned by one goroutine (Open, then the watch loop).
type metaState struct {
	root        string
	clusterID   string
	brokers     map[int32]BrokerInfo
	brokerDirs  map[int32]string               // broker-dirs/: the recorded directory ids
	controllers map[string]controllerCandidate // by key
	topics      map[string]TopicInfo           // by name
	topicByID   map[TopicID]string             // topic id -> name
	parts       map[TopicID]map[int32]PartitionState
	tombstones  map[TopicID]TopicTombstone
	configs     DynamicConfigs // configs.go
	acls        map[string]ACL // by id
	scram       map[SCRAMKey]ScramCredential
	quotas      map[QuotaEntity]map[string]float64
	snap        *Snapshot
}

type controllerCandidate struct {
	createRev int64
	id        int32
}

// dirtySet records what a batch of events touched.
type dirtySet struct {
	brokers    bool
	brokerDirs bool
	controller bool
	tombstones bool
	configs    bool // a configs/ key changed (configs.go)
	acls       bool
	scram      bool
	quotas     bool
	topics     map[string]struct{}            // topic key changed: rebuild the topic
	parts      map[TopicID]map[int32]struct{} // only these partitions changed
}

func (d *dirtySet) any() bool {
	return d.brokers || d.brokerDirs || d.controller || d.tombstones || d.configs || d.acls || d.scram || d.quotas ||
		len(d.topics) > 0 || len(d.parts) > 0
}

func newMetaState(root, clusterID string) *metaState {
	return &metaState{
		root:        root,
		clusterID:   clusterID,
		brokers:     map[int32]BrokerInfo{},
		brokerDirs:  map[int32]string{},
		controllers: map[string]controllerCandidate{},
		topics:      map[string]TopicInfo{},
		topicByID:   map[TopicID]string{},
		parts:       map[TopicID]map[int32]PartitionState{},
		tombstones:  map[TopicID]TopicTombstone{},
		acls:        map[string]ACL{},
		scram:       map[SCRAMKey]ScramCredential{},
		quotas:      map[QuotaEntity]map[string]float64{},
		snap: &Snapshot{
			ClusterID:     clusterID,
			ControllerID:  -1,
			Brokers:       map[int32]BrokerInfo{},
			BrokerDirs:    map[int32]string{},
			Topics:        map[string]*TopicMeta{},
			TopicsByID:    map[TopicID]*TopicMeta{},
			DeletedTopics: map[TopicID]TopicTombstone{},
		},
	}
}

// apply decodes one key change into the state and marks it dirty. A value
// that does not decode is logged by the caller and treated as absent, so a
// hand-edited key cannot stop the watch.
func (m *metaState) apply(d *dirtySet, key string, value []byte, createRev, modRev int64, deleted bool) error {
	rel, ok := strings.CutPrefix(key, m.root)
	if !ok {
		return nil
	}
	dir, rest, _ := strings.Cut(rel, "/")
	switch dir {
	case aclsDir:
		return m.applyACL(d, key, rest, value, deleted)
	case scramDir:
		return m.applySCRAM(d, key, rest, value, deleted)
	case quotasDir:
		return m.applyQuota(d, key, rest, value, deleted)
	case "brokers":
		id, err := strconv.ParseInt(rest, 10, 32)
		if err != nil {
			return fmt.Errorf("broker key %q: %w", key, err)
		}
		d.brokers = true
		if deleted {
			delete(m.brokers, int32(id))
			return nil
		}
		var b BrokerInfo
		if err := json.Unmarshal(value, &b); err != nil {
			delete(m.brokers, int32(id))
			return fmt.Errorf("broker key %q: %w", key, err)
		}
		b.ID = int32(id) // the key is authoritative
		b.ModRevision = modRev
		m.brokers[int32(id)] = b

	case brokerDirsDir:
		id, err := strconv.ParseInt(rest, 10, 32)
		if err != nil {
			return fmt.Errorf("broker directory key %q: %w", key, err)
		}
		d.brokerDirs = true
		if deleted {
			delete(m.brokerDirs, int32(id))
			return nil
		}
		var rec brokerDirRecord
		if err := json.Unmarshal(value, &rec); err != nil {
			// Undecodable: no record, so the controller writes a fresh
			// one (it cannot tell a lost disk from this one).
			delete(m.brokerDirs, int32(id))
			return fmt.Errorf("broker directory key %q: %w", key, err)
		}
		m.brokerDirs[int32(id)] = rec.DirectoryID
	case configsDir:
		return m.applyConfig(d, key, rest, value, deleted)

	case "controller":
		d.controller = true
		if deleted {
			delete(m.controllers, key)
			return nil
		}
		id, err := strconv.ParseInt(string(value), 10, 32)
		if err != nil {
			delete(m.controllers, key)
			return fmt.Errorf("controller key %q: %w", key, err)
		}
		m.controllers[key] = controllerCandidate{createRev: createRev, id: int32(id)}

	case "topics":
		name := rest
		if name == "" {
			return nil
		}
		d.topics[name] = struct{}{}
		if old, ok := m.topics[name]; ok {
			delete(m.topicByID, old.ID)
			delete(m.topics, name)
		}
		if deleted {
			return nil
		}
		var t TopicInfo
		if err := json.Unmarshal(value, &t); err != nil {
			return fmt.Errorf("topic key %q: %w", key, err)
		}
		t.Name = name
		m.topics[name] = t
		m.topicByID[t.ID] = name

	case deletedTopicsDir:
		var id TopicID
		if err := id.UnmarshalText([]byte(rest)); err != nil {
			return fmt.Errorf("tombstone key %q: %w", key, err)
		}
		d.tombstones = true
		if deleted {
			delete(m.tombstones, id)
			return nil
		}
		var t TopicTombstone
		if err := json.Unmarshal(value, &t); err != nil {
			// Undecodable: still a record that the id was deleted, with
			// nobody known to be pending.
			m.tombstones[id] = TopicTombstone{}
			return fmt.Errorf("tombstone key %q: %w", key, err)
		}
		m.tombstones[id] = t

	case "partitions":
		idStr, nStr, ok := strings.Cut(rest, "/")
		if !ok {
			return nil
		}
		var id TopicID
		if err := id.UnmarshalText([]byte(idStr)); err != nil {
			return fmt.Errorf("partition key %q: %w", key, err)
		}
		n, err := strconv.ParseInt(nStr, 10, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("partition key %q: bad partition number", key)
		}
		p := int32(n)
		dp := d.parts[id]
		if dp == nil {
			dp = map[int32]struct{}{}
			d.parts[id] = dp
		}
		dp[p] = struct{}{}
		ps := m.parts[id]
		if deleted {
			delete(ps, p)
			if len(ps) == 0 {
				delete(m.parts, id)
			}
			return nil
		}
		var st PartitionState
		if err := json.Unmarshal(value, &st); err != nil {
			delete(ps, p)
			return fmt.Errorf("partition key %q: %w", key, err)
		}
		if ps == nil {
			ps = map[int32]PartitionState{}
			m.parts[id] = ps
		}
		st.ModRevision = modRev
		ps[p] = st
	}
	return nil
}

// build returns the Snapshot at rev: the previous one with the dirty parts
// replaced. Unchanged maps, topics and partition slices are shared.
func (m *metaState) build(rev int64, d *dirtySet) *Snapshot {
	old := m.snap
	ns := *old
	ns.Revision = rev
	if d.brokers {
		ns.Brokers = maps.Clone(m.brokers)
		ns.BrokerIDs = slices.Sorted(maps.Keys(m.brokers))
		ns.offline = indexOffline(m.brokers)
	}
	if d.brokerDirs {
		ns.BrokerDirs = maps.Clone(m.brokerDirs)
	}
	if d.controller {
		ns.ControllerID = m.controllerID()
	}
	if d.tombstones {
		ns.DeletedTopics = maps.Clone(m.tombstones)
	}
	if d.configs {
		ns.Configs = m.configs // copy-on-write in applyConfig
	}
	if d.acls {
		ns.ACLs = aclList(m.acls)
		ns.ACLRevision = rev
	}
	if d.scram {
		ns.SCRAM = maps.Clone(m.scram)
	}
	if d.quotas {
		ns.Quotas = make(map[QuotaEntity]map[string]float64, len(m.quotas))
		for e, v := range m.quotas {
			ns.Quotas[e] = maps.Clone(v)
		}
		ns.QuotaRevision = rev
	}
	if len(d.topics) > 0 || len(d.parts) > 0 {
		ns.Topics = maps.Clone(old.Topics)
		ns.TopicsByID = maps.Clone(old.TopicsByID)
		namesChanged := false
		for name := range d.topics {
			if prev := ns.Topics[name]; prev != nil {
				delete(ns.Topics, name)
				if ns.TopicsByID[prev.Info.ID] == prev {
					delete(ns.TopicsByID, prev.Info.ID)
				}
			}
			info, ok := m.topics[name]
			if ok {
				tm := m.topicMeta(info)
				ns.Topics[name] = tm
				ns.TopicsByID[info.ID] = tm
			}
			if (old.Topics[name] != nil) != ok {
				namesChanged = true
			}
		}
		for id, ps := range d.parts {
			name, ok := m.topicByID[id]
			if !ok {
				continue // no topic (yet, or any more): nothing to show
			}
			if _, rebuilt := d.topics[name]; rebuilt {
				continue
			}
			prev := ns.Topics[name]
			if prev == nil {
				continue
			}
			tm := &TopicMeta{Info: prev.Info, Partitions: slices.Clone(prev.Partitions)}
			for p := range ps {
				if int(p) < len(tm.Partitions) {
					tm.Partitions[p] = m.partition(prev.Info, p)
				}
			}
			ns.Topics[name] = tm
			ns.TopicsByID[id] = tm
		}
		if namesChanged {
			ns.TopicNames = slices.Sorted(maps.Keys(ns.Topics))
		}
	}
	m.snap = &ns
	return &ns
}

func (m *metaState) topicMeta(info TopicInfo) *TopicMeta {
	tm := &TopicMeta{Info: info, Partitions: make([]PartitionState, len(info.Replicas))}
	for p := range tm.Partitions {
		tm.Partitions[p] = m.partition(info, int32(p))
	}
	return tm
}

// partition returns the stored state, or the placeholder for a partition
// whose state key is missing (see doc.go).
func (m *metaState) partition(info TopicInfo, p int32) PartitionState {
	if st, ok := m.parts[info.ID][p]; ok {
		return st
	}
	return PartitionState{Leader: -1, LeaderEpoch: -1, PartitionEpoch: -1, Replicas: info.Replicas[p]}
}

// controllerID is the value of the candidate key with the lowest create
// revision: the election's leader.
func (m *metaState) controllerID() int32 {
	if len(m.controllers) == 0 {
		return -1
	}
	best := slices.MinFunc(slices.Collect(maps.Values(m.controllers)), func(a, b controllerCandidate) int {
		return cmp.Compare(a.createRev, b.createRev)
	})
	return best.id
}

func newDirtySet() *dirtySet {
	return &dirtySet{topics: map[string]struct{}{}, parts: map[TopicID]map[int32]struct{}{}}
}

// relist reads all metadata keys at one revision (one Txn of ranged Gets),
// installs a Snapshot built from scratch and returns the revision. notify
// signals Changes (not for the first Snapshot).
func (s *Store) relist(ctx context.Context, notify bool) (int64, error) {
	ops := make([]clientv3.Op, len(metadataDirs))
	for i, dir := range metadataDirs {
		ops[i] = clientv3.OpGet(s.root+dir, clientv3.WithPrefix())
	}
	resp, err := s.client.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return 0, fmt.Errorf("coordinator: load metadata: %w", err)
	}
	m := newMetaState(s.root, s.clusterID)
	d := newDirtySet()
	for _, r := range resp.Responses {
		for _, kv := range r.GetResponseRange().Kvs {
			if err := m.apply(d, string(kv.Key), kv.Value, kv.CreateRevision, kv.ModRevision, false); err != nil {
				s.log.Warn().Err(err).Msg("ignoring undecodable metadata key")
			}
		}
	}
	rev := resp.Header.Revision
	s.relists.Add(1)
	d.brokers, d.brokerDirs, d.controller, d.tombstones = true, true, true, true
	d.acls, d.scram, d.quotas = true, true, true
	// Every topic is new to the empty base snapshot; force the name list.
	snap := m.build(rev, d)
	if snap.TopicNames == nil {
		snap.TopicNames = slices.Sorted(maps.Keys(snap.Topics))
	}
	s.meta = m
	s.install(snap, notify)
	return rev, nil
}

// watchCtx is the context of the metadata watch. Progress requests must
// use a context with the same metadata to reach the same gRPC stream.
//
// The metadata tag gives the two watches a gRPC stream of their own: etcd
// answers a progress request only when every watcher of the stream has
// caught up, and a watch of another part of samsa that shares the stream
// and starts behind (the registration's own-key watch, created from the
// revision it wrote) would hold WaitForRevision until etcd's 100 ms sync.
func (s *Store) watchCtx() context.Context {
	return metadata.AppendToOutgoingContext(clientv3.WithRequireLeader(s.ctx), "samsa-watch", "metadata")
}

// requestProgress asks etcd to tell the watch the current revision, so that
// WaitForRevision returns for revisions that touched no watched key.
func (s *Store) requestProgress() {
	if err := s.client.RequestProgress(s.watchCtx()); err != nil && s.ctx.Err() == nil {
		s.log.Debug().Err(err).Msg("watch progress request failed")
	}
}

// watchLoop keeps the Snapshot current from rev+1 on. On compaction, a lost
// leader or any watch error it re-reads everything and watches again.
func (s *Store) watchLoop(rev int64) {
	defer s.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		err := s.watchFrom(rev)
		if s.ctx.Err() != nil {
			return
		}
		s.log.Warn().Err(err).Int64("revision", rev).Msg("metadata watch ended, re-reading metadata")
		for {
			var lerr error
			ctx, cancel := context.WithTimeout(s.ctx, openTimeout)
			rev, lerr = s.relist(ctx, true)
			cancel()
			if lerr == nil {
				backoff = 50 * time.Millisecond
				break
			}
			if s.ctx.Err() != nil {
				return
			}
			s.log.Warn().Err(lerr).Dur("retry_in", backoff).Msg("re-reading metadata failed")
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

// watchFrom applies watch responses of both ranges until a watch fails.
// Both watches share one gRPC stream (same context metadata), so one
// progress request reaches both.
func (s *Store) watchFrom(rev int64) error {
	ctx, cancel := context.WithCancel(s.watchCtx())
	defer cancel()
	var wch [len(watchRanges)]clientv3.WatchChan
	for i, r := range watchRanges {
		wch[i] = s.client.Watch(ctx, s.root+r.first, clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.root+r.last)),
			clientv3.WithRev(rev+1), clientv3.WithProgressNotify(), clientv3.WithCreatedNotify())
	}
	// revs[i]: range i has been seen completely up to revs[i].
	revs := [len(watchRanges)]int64{rev, rev}
	var created [len(watchRanges)]bool
	for {
		var resp clientv3.WatchResponse
		var ok bool
		var i int
		select {
		case resp, ok = <-wch[0]:
			i = 0
		case resp, ok = <-wch[1]:
			i = 1
		case <-s.relistNow:
			return fmt.Errorf("re-read requested")
		}
		if !ok {
			return fmt.Errorf("watch of %s channel closed", watchRanges[i].first)
		}
		if resp.CompactRevision != 0 {
			return fmt.Errorf("watch of %s compacted at revision %d", watchRanges[i].first, resp.CompactRevision)
		}
		if err := resp.Err(); err != nil {
			return fmt.Errorf("watch of %s: %w", watchRanges[i].first, err)
		}
		if resp.Canceled {
			return fmt.Errorf("watch of %s cancelled: %s", watchRanges[i].first, resp.CancelReason)
		}
		if resp.Created {
			if created[i] = true; !slices.Contains(created[:], false) {
				s.watchOnce.Do(func() { close(s.watching) })
			}
		}
		s.applyWatchResponse(&revs, i, resp)
	}
}

// applyWatchResponse applies one response of range i. The Snapshot's
// revision is the lowest of revs: every range has been seen up to it (and
// no transaction writes two ranges, so nothing is seen half-applied).
func (s *Store) applyWatchResponse(revs *[len(watchRanges)]int64, i int, resp clientv3.WatchResponse) {
	s.watchEvents.Add(int64(len(resp.Events)))
	if resp.Created {
		return // its header revision runs ahead of the events still to come
	}
	m := s.meta
	d := newDirtySet()
	// A response with events is complete up to its last event only: while
	// etcd catches a slow watcher up it sends batches stamped with the
	// current store revision and more events after them. A response
	// without events is a progress notification, sent only to a watcher
	// that has caught up: everything up to its header revision was seen.
	rev := resp.Header.Revision
	if n := len(resp.Events); n > 0 {
		rev = resp.Events[n-1].Kv.ModRevision
	}
	revs[i] = max(revs[i], rev)
	for _, ev := range resp.Events {
		kv := ev.Kv
		if err := m.apply(d, string(kv.Key), kv.Value, kv.CreateRevision, kv.ModRevision, ev.Type == mvccpb.DELETE); err != nil {
			s.log.Warn().Err(err).Msg("ignoring undecodable metadata key")
		}
	}
	low := slices.Min(revs[:])
	if low <= m.snap.Revision && !d.any() {
		return
	}
	s.install(m.build(max(low, m.snap.Revision), d), d.any())
	if len(resp.Events) > 0 && low < rev {
		// The other range is idle: only a progress notification moves
		// it (and the Snapshot's revision) on. Ask now rather than
		// leave a writer's WaitForRevision to its timer.
		s.requestProgress()
	}
}
