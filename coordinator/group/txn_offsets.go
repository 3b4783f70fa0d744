package group

// Transactional offset commits (TxnOffsetCommit, KIP-98/KIP-447): offsets a
// transactional producer commits for a group stay pending, per producer
// id, until the transaction ends. The transaction's marker on the group's
// __consumer_offsets partition (CompleteTxnOffsets) makes them the group's
// committed offsets (COMMIT) or drops them (ABORT). Meanwhile OffsetFetch
// answers the committed offsets as before, and UNSTABLE_OFFSET_COMMIT for
// a partition with a pending one when it asks for stable offsets.
//
// Durability: Kafka writes the pending offsets to the offsets log with the
// producer id and lets the marker decide them, so a coordinator that fails
// over reloads them still pending. Here they are etcd keys of their own,
// txn-offsets/<group>/<producer id>/<topic>/<partition>, written (fenced,
// as every group write) before TxnOffsetCommit is answered and loaded with
// the group; a COMMIT puts each as the offsets/ key and deletes it, an
// ABORT deletes it. A completion that fails part-way leaves the rest
// pending in etcd and memory, and the marker writer's retry (on this
// coordinator or the next) completes them; putting an offset twice is
// harmless.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors of CompleteTxnOffsets for a partition this coordinator cannot
// complete: the marker must go to the partition's coordinator, or wait
// for its load.
var (
	ErrNotHeld     = errors.New("group: the __consumer_offsets partition is not held by this coordinator")
	ErrLoadPending = errors.New("group: the __consumer_offsets partition is still loading")
)

// TxnCommitArgs identifies a transactional committer (TxnOffsetCommit).
type TxnCommitArgs struct {
	Group           string
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	// MemberID, InstanceID and Generation (v3+, KIP-447) are checked when
	// set: an empty member id with a generation below 0 (what v0-v2 and
	// a producer without the consumer's group metadata send) is not.
	MemberID   string
	InstanceID *string
	Generation int32
}

// pendingOffsetRecord is the JSON value at
// txn-offsets/<group>/<producer id>/<topic>/<partition>.
type pendingOffsetRecord struct {
	offsetRecord
	ProducerEpoch int16 `json:"producer_epoch"`
}

// pendingOffsets are one producer's pending offsets of a group, by topic
// and partition.
type pendingOffsets map[string]map[int32]pendingOffsetRecord

func (g *group) setPendingLocked(producerID int64, topic string, partition int32, rec pendingOffsetRecord) {
	if g.txnOffsets == nil {
		g.txnOffsets = make(map[int64]pendingOffsets)
	}
	po := g.txnOffsets[producerID]
	if po == nil {
		po = make(pendingOffsets)
		g.txnOffsets[producerID] = po
	}
	ps := po[topic]
	if ps == nil {
		ps = make(map[int32]pendingOffsetRecord)
		po[topic] = ps
	}
	ps[partition] = rec
}

// hasPendingLocked reports whether any producer has an offset of
// topic-partition pending. g.mu held.
func (g *group) hasPendingLocked(topic string, partition int32) bool {
	for _, po := range g.txnOffsets {
		if _, ok := po[topic][partition]; ok {
			return true
		}
	}
	return false
}

func (c *Coordinator) txnOffsetsPrefix(id string) string {
	return c.cfg.Key("txn-offsets", escapeGroup(id)) + "/"
}

func (c *Coordinator) txnOffsetKey(id string, producerID int64, topic string, partition int32) string {
	return c.txnOffsetsPrefix(id) + strconv.FormatInt(producerID, 10) + "/" + topic + "/" + strconv.Itoa(int(partition))
}

// TxnCommitOffsets validates the committer and stores the offsets as
// pending for its producer id. It returns one error code per commit
// (0 = stored). A group that does not exist is created for a commit
// without a generation, as for OffsetCommit.
func (c *Coordinator) TxnCommitOffsets(ctx context.Context, a TxnCommitArgs, commits []Commit) []int16 {
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
		return fail(kerr.IllegalGeneration.Code)
	}
	g.mu.Lock()
	code = g.validateTxnCommitLocked(a)
	g.mu.Unlock()
	if code != 0 {
		return fail(code)
	}

	now := c.now().UnixMilli()
	done, txns, err := storeCommits(ctx, g, commits, codes, c.cfg.OffsetMetadataMaxBytes,
		func(cm Commit, meta string) (string, pendingOffsetRecord) {
			return c.txnOffsetKey(a.Group, a.ProducerID, cm.Topic, cm.Partition), pendingOffsetRecord{
				offsetRecord:  offsetRecord{Offset: cm.Offset, LeaderEpoch: cm.LeaderEpoch, Metadata: meta, CommitTimestamp: now},
				ProducerEpoch: a.ProducerEpoch,
			}
		},
		func(cm Commit, rec pendingOffsetRecord) {
			g.setPendingLocked(a.ProducerID, cm.Topic, cm.Partition, rec)
		})
	if err != nil {
		c.log.Warn().Err(err).Str("group", a.Group).Int64("producer_id", a.ProducerID).Int("stored_txns", done).Int("txns", txns).
			Msg("transactional offset commit failed")
	}
	return codes
}

// validateTxnCommitLocked is the group side of a TxnOffsetCommit (Kafka's
// validateOffsetCommit with isTransactional): a commit without a member
// and generation is accepted whatever the group's state; otherwise the
// member must exist (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID for a replaced
// static member) in the commit's generation or member epoch
// (ILLEGAL_GENERATION; a transactional commit is never told
// STALE_MEMBER_EPOCH). g.mu held.
func (g *group) validateTxnCommitLocked(a TxnCommitArgs) int16 {
	if g.dead {
		return g.goneCode(kerr.CoordinatorNotAvailable.Code)
	}
	if a.MemberID == "" && a.Generation < 0 {
		return 0
	}
	if g.kind == kindConsumer {
		m := g.cg.members[a.MemberID]
		if m == nil {
			return kerr.UnknownMemberID.Code
		}
		if a.Generation != m.epoch {
			return kerr.IllegalGeneration.Code
		}
		return 0
	}
	if _, code := g.validateMemberLocked(a.MemberID, a.InstanceID); code != 0 {
		return code
	}
	if a.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	return 0
}

// CompleteTxnOffsets applies a transaction marker of producerID to the
// groups of __consumer_offsets partition partition (every group when the
// coordinator is not placed): on commit their pending offsets of the
// producer become committed offsets, on abort they are dropped (Kafka's
// onTransactionCompleted). It returns the first error (ErrNotHeld,
// ErrLoadPending for a partition not held or not loaded yet, an etcd
// error); the marker writer retries, and what was completed stays
// completed.
func (c *Coordinator) CompleteTxnOffsets(ctx context.Context, partition int32, producerID int64, commit bool) error {
	if c.cfg.Placed {
		c.mu.Lock()
		ps := c.parts[partition]
		c.mu.Unlock()
		switch {
		case ps == nil:
			return fmt.Errorf("%w: %d", ErrNotHeld, partition)
		case !ps.loaded:
			return fmt.Errorf("%w: %d", ErrLoadPending, partition)
		}
	}
	var first error
	for _, g := range c.all() {
		if c.cfg.Placed && g.part != partition {
			continue
		}
		g.mu.Lock()
		_, has := g.txnOffsets[producerID]
		g.mu.Unlock()
		if !has {
			continue
		}
		if err := c.completeGroupTxn(ctx, g, producerID, commit); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (c *Coordinator) completeGroupTxn(ctx context.Context, g *group, producerID int64, commit bool) error {
	if err := g.lockWrites(ctx); err != nil {
		return err
	}
	defer g.wmu.unlock()
	type item struct {
		topic     string
		partition int32
		rec       pendingOffsetRecord
	}
	g.mu.Lock()
	if g.dead {
		unloaded := g.unloaded
		g.mu.Unlock()
		if unloaded { // the partition's next coordinator completes them
			return fmt.Errorf("%w: group %q unloaded", ErrNotHeld, g.id)
		}
		return nil // deleted, and its pending offsets with it
	}
	var items []item
	for t, ps := range g.txnOffsets[producerID] {
		for p, rec := range ps {
			items = append(items, item{t, p, rec})
		}
	}
	g.mu.Unlock()
	if len(items) == 0 {
		return nil
	}
	// A put and its delete go in one transaction (two operations, so a
	// pair never straddles a chunk of txnBatcher's even size limit).
	var chunks [][]clientv3.Op
	var ops []clientv3.Op
	bytes := 0
	var chunkEnds []int // items[:chunkEnds[i]] are in chunks[:i+1]
	for i, it := range items {
		pkey := c.txnOffsetKey(g.id, producerID, it.topic, it.partition)
		pair := []clientv3.Op{clientv3.OpDelete(pkey)}
		size := len(pkey)
		if commit {
			val, _ := json.Marshal(it.rec.offsetRecord)
			key := c.offsetKey(g.id, it.topic, it.partition)
			pair = append(pair, clientv3.OpPut(key, string(val)))
			size += len(key) + len(val)
		}
		if len(ops) > 0 && (len(ops)+len(pair) > maxTxnOps || bytes+size > maxTxnBytes) {
			chunks = append(chunks, ops)
			chunkEnds = append(chunkEnds, i)
			ops, bytes = nil, 0
		}
		ops = append(ops, pair...)
		bytes += size + 16*len(pair)
	}
	chunks = append(chunks, ops)
	chunkEnds = append(chunkEnds, len(items))
	done, err := g.commitTxns(ctx, chunks)
	n := 0
	if done > 0 {
		n = chunkEnds[done-1]
	}
	g.mu.Lock()
	po := g.txnOffsets[producerID]
	for _, it := range items[:n] {
		if commit {
			g.setOffsetLocked(it.topic, it.partition, it.rec.offsetRecord)
		}
		if ps := po[it.topic]; ps != nil {
			delete(ps, it.partition)
			if len(ps) == 0 {
				delete(po, it.topic)
			}
		}
	}
	if len(po) == 0 {
		delete(g.txnOffsets, producerID)
	}
	g.mu.Unlock()
	if err != nil {
		c.log.Warn().Err(err).Str("group", g.id).Int64("producer_id", producerID).Bool("commit", commit).
			Msg("cannot complete transactional offsets")
	}
	return err
}

// loadTxnOffset takes one txn-offsets/ key in at load (key: the part
// after txn-offsets/). It reports whether the key was one.
func (c *Coordinator) loadTxnOffset(get func(esc string) *group, rest string, val []byte) bool {
	var esc, pid, topic, part string
	var ok bool
	if esc, rest, ok = strings.Cut(rest, "/"); !ok {
		return false
	}
	if pid, rest, ok = strings.Cut(rest, "/"); !ok {
		return false
	}
	if topic, part, ok = strings.Cut(rest, "/"); !ok {
		return false
	}
	producerID, err := strconv.ParseInt(pid, 10, 64)
	if err != nil {
		return false
	}
	p, err := strconv.ParseInt(part, 10, 32)
	if err != nil {
		return false
	}
	g := get(esc)
	if g == nil {
		return true
	}
	var rec pendingOffsetRecord
	if err := json.Unmarshal(val, &rec); err != nil {
		c.log.Warn().Err(err).Str("group", g.id).Msg("ignoring undecodable pending offset record")
		return true
	}
	g.setPendingLocked(producerID, topic, int32(p), rec)
	return true
}
