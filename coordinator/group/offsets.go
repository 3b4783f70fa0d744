package group

// Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete and expiry.

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/coordinator/placement"
)

// CommitArgs identifies who commits. A Generation below 0 with an empty
// MemberID is a "simple" commit (admin client, or a consumer that assigns
// partitions itself), accepted for a group without members.
type CommitArgs struct {
	Group      string
	MemberID   string
	InstanceID *string
	// Generation is the classic generation or, for a KIP-848 group, the
	// member epoch.
	Generation int32
	// Version of the OffsetCommit request (error codes differ by version).
	Version int16
	// RetentionMs is OffsetCommit v2-v4's retention time; -1 is the
	// broker default.
	RetentionMs int64
}

// Commit is one partition's offset to commit.
type Commit struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    *string
}

// Offset is a committed offset.
type Offset struct {
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	// Unstable: asked with RequireStable, the partition has a pending
	// transactional offset (UNSTABLE_OFFSET_COMMIT; Offset is then -1).
	Unstable bool
}

func (g *group) setOffsetLocked(topic string, partition int32, rec offsetRecord) {
	ps := g.offsets[topic]
	if ps == nil {
		ps = make(map[int32]offsetRecord)
		g.offsets[topic] = ps
	}
	ps[partition] = rec
}

func (g *group) numOffsetsLocked() int {
	n := 0
	for _, ps := range g.offsets {
		n += len(ps)
	}
	return n
}

// CommitOffsets validates the committer and stores the offsets. It returns
// one error code per commit (0 = stored).
//
// Atomicity: the offsets are written in etcd transactions of at most 128
// keys and 1 MiB. Each transaction is atomic; a commit of more partitions
// than fit in one is not: if a later transaction fails, the partitions of
// the earlier ones are stored (and answered with success) and the rest get
// an error. Commits of one group are serialised (the group's write lock),
// so etcd and memory always agree on the order of commits.
func (c *Coordinator) CommitOffsets(ctx context.Context, a CommitArgs, commits []Commit) []int16 {
	codes := make([]int16, len(commits))
	fail := func(code int16) []int16 {
		for i := range codes {
			codes[i] = code
		}
		return codes
	}
	g, code := c.find(a.Group, a.Generation < 0)
	if code != 0 {
		return fail(code)
	}
	if g == nil {
		if a.Version >= 9 {
			return fail(kerr.GroupIDNotFound.Code)
		}
		return fail(kerr.IllegalGeneration.Code)
	}
	g.mu.Lock()
	code = g.validateCommitLocked(a, commits)
	g.mu.Unlock()
	if code != 0 {
		return fail(code)
	}

	now := c.now().UnixMilli()
	done, txns, err := storeCommits(ctx, g, commits, codes, c.cfg.OffsetMetadataMaxBytes,
		func(cm Commit, meta string) (string, offsetRecord) {
			rec := offsetRecord{Offset: cm.Offset, LeaderEpoch: cm.LeaderEpoch, Metadata: meta, CommitTimestamp: now}
			if a.RetentionMs > 0 {
				rec.ExpireTimestamp = now + a.RetentionMs
			}
			return c.offsetKey(a.Group, cm.Topic, cm.Partition), rec
		},
		func(cm Commit, rec offsetRecord) { g.setOffsetLocked(cm.Topic, cm.Partition, rec) })
	if err != nil {
		c.log.Warn().Err(err).Str("group", a.Group).Int("stored_txns", done).Int("txns", txns).Msg("offset commit failed")
	}
	return codes
}

// storeCommits stores one record per commit (build gives its key and
// value; a commit whose metadata exceeds maxMeta gets
// OFFSET_METADATA_TOO_LARGE) in as few etcd transactions as etcd's limits
// allow, under the group's write lock, and applies each stored one with
// apply (g.mu held). The codes of the commits that were not stored are
// set; it returns how many of the txns etcd transactions were committed
// and the write error that stopped the rest.
func storeCommits[R any](ctx context.Context, g *group, commits []Commit, codes []int16, maxMeta int,
	build func(cm Commit, meta string) (string, R), apply func(cm Commit, rec R)) (done, txns int, err error) {
	var b txnBatcher
	type kv struct {
		i   int
		rec R
	}
	var chunkItems [][]kv
	var cur []kv
	for i, cm := range commits {
		meta := ""
		if cm.Metadata != nil {
			meta = *cm.Metadata
		}
		if len(meta) > maxMeta {
			codes[i] = kerr.OffsetMetadataTooLarge.Code
			continue
		}
		key, rec := build(cm, meta)
		val, _ := json.Marshal(rec)
		before := len(b.chunks)
		b.add(clientv3.OpPut(key, string(val)), len(key)+len(val))
		if len(b.chunks) != before {
			chunkItems = append(chunkItems, cur)
			cur = nil
		}
		cur = append(cur, kv{i, rec})
	}
	chunks := b.done()
	if len(cur) > 0 {
		chunkItems = append(chunkItems, cur)
	}
	if len(chunks) == 0 {
		return 0, 0, nil
	}
	setAll := func(code int16) {
		for _, items := range chunkItems {
			for _, it := range items {
				codes[it.i] = code
			}
		}
	}
	if err := g.lockWrites(ctx); err != nil {
		setAll(storeErrorCode(err))
		return 0, len(chunks), nil // answered; not a failed write
	}
	defer g.wmu.unlock()
	g.mu.Lock()
	dead, gone := g.dead, g.goneCode(kerr.CoordinatorNotAvailable.Code)
	g.mu.Unlock()
	if dead {
		// Deleted (or unloaded) while we validated: do not resurrect it
		// in etcd.
		setAll(gone)
		return 0, len(chunks), nil
	}
	done, err = g.commitTxns(ctx, chunks)
	g.mu.Lock()
	for ci, items := range chunkItems {
		for _, it := range items {
			if ci < done {
				apply(commits[it.i], it.rec)
			} else {
				codes[it.i] = storeErrorCode(err)
			}
		}
	}
	g.mu.Unlock()
	return done, len(chunks), err
}

// storeErrorCode is the answer to a request whose etcd write failed:
// NOT_COORDINATOR when the group's partition has moved (the write was
// fenced), REQUEST_TIMED_OUT at the deadline, else
// COORDINATOR_NOT_AVAILABLE.
func storeErrorCode(err error) int16 {
	switch {
	case errors.Is(err, placement.ErrFenced):
		return kerr.NotCoordinator.Code
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	}
	return kerr.CoordinatorNotAvailable.Code
}

func (g *group) validateCommitLocked(a CommitArgs, commits []Commit) int16 {
	if g.dead {
		return g.goneCode(kerr.CoordinatorNotAvailable.Code)
	}
	if g.kind == kindConsumer {
		return g.cg.validateCommit(a, commits)
	}
	if a.Generation < 0 && g.state == stateEmpty {
		return 0 // a simple group: only offsets
	}
	m, code := g.validateMemberLocked(a.MemberID, a.InstanceID)
	if code != 0 {
		return code
	}
	if a.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	switch g.state {
	case stateCompletingRebalance:
		return kerr.RebalanceInProgress.Code
	case stateStable, statePreparingRebalance:
		// Committing during PreparingRebalance is allowed: the member
		// learns of the rebalance from its next heartbeat.
		g.scheduleHeartbeatLocked(m, m.sessionTimeout)
		return 0
	}
	return kerr.UnknownMemberID.Code
}

// FetchArgs is one group of an OffsetFetch.
type FetchArgs struct {
	Group string
	// MemberID and MemberEpoch (OffsetFetch v9+, KIP-848) are validated
	// when MemberID is set.
	MemberID    *string
	MemberEpoch int32
	// Topics to fetch; nil means every committed partition.
	Topics map[string][]int32
	// RequireStable (OffsetFetch v7+, KIP-447): a partition with a
	// pending transactional offset is answered Unstable.
	RequireStable bool
}

// FetchOffsets returns the committed offsets of a group: for each asked
// partition, its offset or -1 when nothing is committed (as Kafka: an
// unknown group is not an error). The error code is group-level.
// With RequireStable a partition some producer has a transactional
// offset pending for is Unstable instead (the consumer retries until the
// transaction ends).
func (c *Coordinator) FetchOffsets(a FetchArgs) (map[string]map[int32]Offset, int16) {
	g, code := c.find(a.Group, false)
	if code != 0 {
		return nil, code
	}
	out := make(map[string]map[int32]Offset)
	missing := func(topic string, p int32) {
		ps := out[topic]
		if ps == nil {
			ps = make(map[int32]Offset)
			out[topic] = ps
		}
		ps[p] = Offset{Offset: -1, LeaderEpoch: -1}
	}
	if g == nil {
		if a.MemberID != nil && *a.MemberID != "" {
			return nil, kerr.GroupIDNotFound.Code
		}
		for t, ps := range a.Topics {
			for _, p := range ps {
				missing(t, p)
			}
		}
		return out, 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.unloaded {
		return nil, kerr.NotCoordinator.Code
	}
	if a.MemberID != nil && *a.MemberID != "" && g.kind == kindConsumer {
		if code := g.cg.validateFetch(*a.MemberID, a.MemberEpoch); code != 0 {
			return nil, code
		}
	}
	unstable := func(t string, p int32) bool {
		return a.RequireStable && len(g.txnOffsets) > 0 && g.hasPendingLocked(t, p)
	}
	if a.Topics == nil {
		for t, ps := range g.offsets {
			m := make(map[int32]Offset, len(ps))
			for p, r := range ps {
				if unstable(t, p) {
					m[p] = Offset{Offset: -1, LeaderEpoch: -1, Unstable: true}
					continue
				}
				m[p] = Offset{Offset: r.Offset, LeaderEpoch: r.LeaderEpoch, Metadata: r.Metadata}
			}
			out[t] = m
		}
		return out, 0
	}
	for t, ps := range a.Topics {
		for _, p := range ps {
			if unstable(t, p) {
				m := out[t]
				if m == nil {
					m = make(map[int32]Offset)
					out[t] = m
				}
				m[p] = Offset{Offset: -1, LeaderEpoch: -1, Unstable: true}
				continue
			}
			r, ok := g.offsets[t][p]
			if !ok {
				missing(t, p)
				continue
			}
			m := out[t]
			if m == nil {
				m = make(map[int32]Offset)
				out[t] = m
			}
			m[p] = Offset{Offset: r.Offset, LeaderEpoch: r.LeaderEpoch, Metadata: r.Metadata}
		}
	}
	return out, 0
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// DeleteOffsets serves OffsetDelete: the group-level error, and per
// partition 0 or GROUP_SUBSCRIBED_TO_TOPIC.
func (c *Coordinator) DeleteOffsets(ctx context.Context, groupID string, tps []TopicPartition) (int16, []int16) {
	g, code := c.find(groupID, false)
	if code != 0 {
		return code, nil
	}
	if g == nil {
		return kerr.GroupIDNotFound.Code, nil
	}
	codes := make([]int16, len(tps))
	g.mu.Lock()
	if g.dead {
		g.mu.Unlock()
		return g.goneCode(kerr.GroupIDNotFound.Code), nil
	}
	var subscribed map[string]bool
	if !g.isEmptyLocked() {
		var ok bool
		subscribed, ok = g.subscribedTopicsLocked()
		if !ok {
			g.mu.Unlock()
			return kerr.NonEmptyGroup.Code, nil
		}
	}
	var del []TopicPartition
	for i, tp := range tps {
		if subscribed[tp.Topic] {
			codes[i] = kerr.GroupSubscribedToTopic.Code
			continue
		}
		if _, ok := g.offsets[tp.Topic][tp.Partition]; ok {
			del = append(del, tp)
		}
	}
	g.mu.Unlock()
	if err := c.deleteOffsetKeys(ctx, g, del); err != nil {
		return storeErrorCode(err), nil
	}
	return 0, codes
}

// deleteOffsetKeys removes offsets from etcd, then from memory.
func (c *Coordinator) deleteOffsetKeys(ctx context.Context, g *group, tps []TopicPartition) error {
	if len(tps) == 0 {
		return nil
	}
	var b txnBatcher
	for _, tp := range tps {
		key := c.offsetKey(g.id, tp.Topic, tp.Partition)
		b.add(clientv3.OpDelete(key), len(key))
	}
	if err := g.lockWrites(ctx); err != nil {
		return err
	}
	defer g.wmu.unlock()
	chunks := b.done()
	done, err := g.commitTxns(ctx, chunks)
	// Forget what was deleted: the first done chunks.
	n := 0
	for i := 0; i < done; i++ {
		n += len(chunks[i])
	}
	g.mu.Lock()
	for _, tp := range tps[:n] {
		if ps := g.offsets[tp.Topic]; ps != nil {
			delete(ps, tp.Partition)
			if len(ps) == 0 {
				delete(g.offsets, tp.Topic)
			}
		}
	}
	g.mu.Unlock()
	return err
}

// expiryLoop removes expired offsets every RetentionCheckInterval.
func (c *Coordinator) expiryLoop() {
	t := time.NewTicker(c.cfg.RetentionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.ExpireOffsets(c.ctx) // the groups of the loaded partitions
		}
	}
}

// ExpireOffsets runs one expiry pass (Kafka's cleanupGroupMetadata):
// offsets of a group without members expire offsets.retention.minutes
// after the group became empty (or, for a group that never had members,
// after the commit), or at their explicit expire time; an empty group
// left without offsets is deleted. It returns how many offsets expired.
func (c *Coordinator) ExpireOffsets(ctx context.Context) int {
	now := c.now()
	total := 0
	for _, g := range c.all() {
		g.mu.Lock()
		if g.dead || !g.isEmptyLocked() {
			g.mu.Unlock()
			continue
		}
		var expired []TopicPartition
		for t, ps := range g.offsets {
			for p, r := range ps {
				base := time.UnixMilli(r.CommitTimestamp)
				if g.kind == kindConsumer || g.protocolType != "" {
					base = g.stateTime
				}
				if (r.ExpireTimestamp > 0 && now.UnixMilli() >= r.ExpireTimestamp) ||
					(r.ExpireTimestamp == 0 && now.Sub(base) >= c.cfg.OffsetsRetention) {
					expired = append(expired, TopicPartition{t, p})
				}
			}
		}
		g.mu.Unlock()
		sort.Slice(expired, func(i, j int) bool {
			if expired[i].Topic != expired[j].Topic {
				return expired[i].Topic < expired[j].Topic
			}
			return expired[i].Partition < expired[j].Partition
		})
		if err := c.deleteOffsetKeys(ctx, g, expired); err != nil {
			c.log.Warn().Err(err).Str("group", g.id).Msg("cannot expire offsets")
			continue
		}
		total += len(expired)
		if len(expired) > 0 {
			c.log.Info().Str("group", g.id).Int("offsets", len(expired)).Msg("expired offsets")
		}
		g.mu.Lock()
		gone := !g.dead && g.isEmptyLocked() && len(g.offsets) == 0 && len(g.txnOffsets) == 0 &&
			(g.kind == kindConsumer || g.state == stateEmpty)
		g.mu.Unlock()
		if gone {
			c.deleteGroup(ctx, g, false)
		}
	}
	return total
}
