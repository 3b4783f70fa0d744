package group

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/coordinator/placement"
)

// etcd's default limits are 128 operations per transaction and 1.5 MiB per
// request; stay well inside both.
const (
	maxTxnOps   = 128
	maxTxnBytes = 1 << 20
)

// groupRecord is the JSON value at groups/<group>.
type groupRecord struct {
	Type           string         `json:"type"` // "classic" or "consumer"
	ProtocolType   string         `json:"protocol_type,omitempty"`
	Protocol       string         `json:"protocol,omitempty"`
	Generation     int32          `json:"generation"`
	Leader         string         `json:"leader,omitempty"`
	StateTimestamp int64          `json:"state_timestamp"` // unix ms of the last state change
	Members        []memberRecord `json:"members"`

	// KIP-848 consumer groups.
	GroupEpoch      int32 `json:"group_epoch,omitempty"`
	AssignmentEpoch int32 `json:"assignment_epoch,omitempty"`

	// Chunked is set (and nothing else) when the record is too big for
	// one value and is stored in chunks (record_chunks.go).
	Chunked *chunkRef `json:"chunked,omitempty"`
}

// memberRecord is one member in a groupRecord; []byte fields are base64.
type memberRecord struct {
	ID                 string          `json:"id"`
	InstanceID         *string         `json:"instance_id,omitempty"`
	ClientID           string          `json:"client_id"`
	ClientHost         string          `json:"client_host"`
	SessionTimeoutMs   int32           `json:"session_timeout_ms,omitempty"`
	RebalanceTimeoutMs int32           `json:"rebalance_timeout_ms"`
	Protocols          []protocolEntry `json:"protocols,omitempty"`
	Assignment         []byte          `json:"assignment,omitempty"`

	// KIP-848.
	RackID           *string      `json:"rack_id,omitempty"`
	SubscribedTopics []string     `json:"subscribed_topics,omitempty"`
	SubscribedRegex  string       `json:"subscribed_regex,omitempty"`
	Assignor         string       `json:"assignor,omitempty"`
	Epoch            int32        `json:"epoch,omitempty"`
	PrevEpoch        int32        `json:"prev_epoch,omitempty"`
	Assigned         []topicParts `json:"assigned,omitempty"`
	Revoking         []topicParts `json:"revoking,omitempty"`
	Target           []topicParts `json:"target,omitempty"`
}

type protocolEntry struct {
	Name     string `json:"name"`
	Metadata []byte `json:"metadata"`
}

type topicParts struct {
	TopicID    []byte  `json:"topic_id"`
	Partitions []int32 `json:"partitions"`
}

// offsetRecord is the JSON value at offsets/<group>/<topic>/<partition>.
type offsetRecord struct {
	Offset          int64  `json:"offset"`
	LeaderEpoch     int32  `json:"leader_epoch"`
	Metadata        string `json:"metadata"`
	CommitTimestamp int64  `json:"commit_timestamp"`           // unix ms
	ExpireTimestamp int64  `json:"expire_timestamp,omitempty"` // unix ms; OffsetCommit v2-v4 retention
}

// escapeGroup and unescapeGroup: placement.EscapeID, one key segment per id.
func escapeGroup(s string) string { return placement.EscapeID(s) }

func unescapeGroup(s string) (string, error) { return placement.UnescapeID(s) }

func (c *Coordinator) groupKey(id string) string { return c.cfg.Key("groups", escapeGroup(id)) }

func (c *Coordinator) offsetsPrefix(id string) string {
	return c.cfg.Key("offsets", escapeGroup(id)) + "/"
}

func (c *Coordinator) offsetKey(id, topic string, partition int32) string {
	return c.offsetsPrefix(id) + topic + "/" + strconv.Itoa(int(partition))
}

// txnBatcher accumulates operations and commits them in transactions
// within etcd's limits. Each transaction is atomic; a sequence is not.
type txnBatcher struct {
	ops    []clientv3.Op
	bytes  int
	chunks [][]clientv3.Op
}

func (t *txnBatcher) add(op clientv3.Op, size int) {
	if len(t.ops) > 0 && (len(t.ops) >= maxTxnOps || t.bytes+size > maxTxnBytes) {
		t.chunks = append(t.chunks, t.ops)
		t.ops, t.bytes = nil, 0
	}
	t.ops = append(t.ops, op)
	t.bytes += size + 16
}

func (t *txnBatcher) done() [][]clientv3.Op {
	if len(t.ops) > 0 {
		t.chunks = append(t.chunks, t.ops)
		t.ops = nil
	}
	return t.chunks
}

// writeRecord stores (or, with data nil, deletes) the group's record if seq
// is newer than what was last written: one value at groups/<group> when it
// fits recordChunkBytes, chunks otherwise. Serialised per group by wmu.
func (g *group) writeRecord(ctx context.Context, seq uint64, data []byte) error {
	if seq == 0 {
		return nil
	}
	if err := g.lockWrites(ctx); err != nil {
		return fmt.Errorf("group: store %s: %w", g.id, err)
	}
	defer g.wmu.unlock()
	if seq <= g.written {
		return nil // a newer state is already stored
	}
	var err error
	switch {
	case data == nil:
		err = g.deleteRecord(ctx)
	case len(data) <= recordChunkBytes:
		err = g.putRecord(ctx, data)
	default:
		err = g.putRecordChunked(ctx, data)
	}
	if err != nil {
		g.c.log.Warn().Err(err).Str("group", g.id).Msg("cannot store group metadata")
		return fmt.Errorf("group: store %s: %w", g.id, err)
	}
	g.written = seq
	return nil
}

// pendingRecord is a group record snapshot taken under g.mu, written after
// it is released.
type pendingRecord struct {
	seq  uint64
	data []byte
}

func (g *group) flush(ctx context.Context, p pendingRecord) error {
	return g.writeRecord(ctx, p.seq, p.data)
}

// recordLocked snapshots the group's metadata for writing. g.mu held.
func (g *group) recordLocked() pendingRecord {
	rec := g.toRecordLocked()
	data, err := json.Marshal(rec)
	if err != nil { // cannot happen for these types
		g.c.log.Error().Err(err).Str("group", g.id).Msg("cannot encode group")
		return pendingRecord{}
	}
	g.wseq++
	return pendingRecord{seq: g.wseq, data: data}
}

// Paging of getPrefix: etcd visits every key from a page's start to the
// range's end to count them (RangeResponse.Count), whatever the limit, so
// a scan in pages of k keys over n keys costs n²/2k key visits. Pages are
// therefore sized by bytes rather than keys: about pageBytes each (a
// first page of pageFirst keys measures the size of a key), between
// pageMin and pageMax keys.
const (
	pageBytes = 4 << 20
	pageFirst = 1000
	pageMin   = 64
	pageMax   = 50000
)

// getPrefix pages through every key under prefix at one revision.
func (c *Coordinator) getPrefix(ctx context.Context, prefix string, rev int64, fn func(key string, val []byte) error) (int64, error) {
	page := int64(pageFirst)
	end := clientv3.GetPrefixRangeEnd(prefix)
	from := prefix
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(page)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := c.cli.Get(ctx, from, opts...)
		if err != nil {
			return rev, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		size := 0
		for _, kv := range resp.Kvs {
			size += len(kv.Key) + len(kv.Value)
			if err := fn(string(kv.Key), kv.Value); err != nil {
				return rev, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		perKey := max(1, size/len(resp.Kvs))
		page = min(pageMax, max(pageMin, int64(pageBytes/perKey)))
	}
}

// readGroups reads, at revision rev (0: the current one), the groups and
// offsets of the group ids include accepts, and returns them unpublished
// (each with the partition include gave it), the number of offsets read
// and the revision read at.
//
// Group keys are not grouped by partition (groups/<group>,
// offsets/<group>/...), so this reads every record and offset and keeps
// those included: a load costs a read of all the groups' state in etcd
// whatever the number of partitions it loads, which is why the loader
// loads every pending partition in one pass.
func (c *Coordinator) readGroups(ctx context.Context, rev int64, include func(id string) (int32, bool)) (map[string]*group, int, int64, error) {
	groups := make(map[string]*group)
	type verdict struct {
		id   string
		part int32
		ok   bool
	}
	seen := make(map[string]verdict) // by escaped id
	accept := func(esc string) verdict {
		v, ok := seen[esc]
		if !ok {
			id, err := unescapeGroup(esc)
			if err != nil {
				c.log.Warn().Str("group", esc).Msg("ignoring group key that does not unescape")
			} else {
				v.id = id
				v.part, v.ok = include(id)
			}
			seen[esc] = v
		}
		return v
	}
	get := func(esc string) *group {
		v := accept(esc)
		if !v.ok {
			return nil
		}
		g := groups[v.id]
		if g == nil {
			g = newGroup(c, v.id, v.part, nil)
			groups[v.id] = g
		}
		return g
	}
	gprefix := c.cfg.Key("groups") + "/"
	// A group key sorts before its chunks (groups/<group>/...), so a
	// chunked record's reference is known when its chunks come.
	chunked := make(map[string]*chunkedLoad) // by escaped group id
	rev, err := c.getPrefix(ctx, gprefix, rev, func(key string, val []byte) error {
		esc, chunk, isChunk := strings.Cut(strings.TrimPrefix(key, gprefix), "/")
		if isChunk {
			if cl := chunked[esc]; cl != nil {
				cl.add(chunk, val)
			}
			return nil // else a chunk no record names (a write that died), or not included
		}
		v := accept(esc)
		if !v.ok {
			return nil
		}
		var rec groupRecord
		if err := json.Unmarshal(val, &rec); err != nil {
			c.log.Warn().Err(err).Str("key", key).Msg("ignoring undecodable group record")
			return nil
		}
		if rec.Chunked != nil {
			chunked[esc] = newChunkedLoad(v.id, *rec.Chunked)
			return nil
		}
		get(esc).fromRecord(&rec)
		return nil
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("group: load groups: %w", err)
	}
	for esc, cl := range chunked {
		rec, err := cl.record()
		if err != nil {
			c.log.Warn().Err(err).Str("group", cl.id).Msg("ignoring undecodable group record")
			continue
		}
		get(esc).fromRecord(rec)
	}
	oprefix := c.cfg.Key("offsets") + "/"
	n := 0
	_, err = c.getPrefix(ctx, oprefix, rev, func(key string, val []byte) error {
		rest := strings.TrimPrefix(key, oprefix)
		// <group>/<topic>/<partition>; neither an escaped group nor a
		// topic contains '/'.
		parts := strings.Split(rest, "/")
		if len(parts) != 3 {
			return nil
		}
		p, err := strconv.ParseInt(parts[2], 10, 32)
		if err != nil {
			return nil
		}
		g := get(parts[0])
		if g == nil {
			return nil
		}
		var rec offsetRecord
		if err := json.Unmarshal(val, &rec); err != nil {
			c.log.Warn().Err(err).Str("key", key).Msg("ignoring undecodable offset record")
			return nil
		}
		g.setOffsetLocked(parts[1], int32(p), rec)
		n++
		return nil
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("group: load offsets: %w", err)
	}
	tprefix := c.cfg.Key("txn-offsets") + "/"
	_, err = c.getPrefix(ctx, tprefix, rev, func(key string, val []byte) error {
		c.loadTxnOffset(get, strings.TrimPrefix(key, tprefix), val) // txn_offsets.go
		return nil
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("group: load pending transactional offsets: %w", err)
	}
	return groups, n, rev, nil
}
