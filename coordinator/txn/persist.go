package txn

// etcd I/O: keys, the record write (chunked when large) and the reads of
// a partition's transactions at load.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/coordinator/placement"
)

// Chunking limits (variables for tests). A record whose JSON passes
// maxInline keeps its partition set in chunks of chunkSize bytes, written
// at most chunkTxnBytes per etcd transaction: well inside etcd's 1.5 MiB
// and 128 operations per request.
var (
	maxInline     = 512 << 10
	chunkSize     = 512 << 10
	chunkTxnBytes = 1 << 20
)

// chunkRef names the chunks holding a record's topics (their JSON is the
// concatenation of the chunks, in order).
type chunkRef struct {
	Version string `json:"version"`
	Count   int    `json:"count"`
	Bytes   int    `json:"bytes"`
	CRC32C  uint32 `json:"crc32c"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// escapeID and unescapeID: placement.EscapeID, one key segment per id.
func escapeID(s string) string { return placement.EscapeID(s) }

func unescapeID(s string) (string, error) { return placement.UnescapeID(s) }

func (c *Coordinator) txnKey(id string) string { return c.cfg.Key("transactions", escapeID(id)) }

// chunkPrefix is where the chunks of id's records live.
func (c *Coordinator) chunkPrefix(id string) string { return c.txnKey(id) + "/" }

func chunkKey(prefix, version string, n int) string {
	return fmt.Sprintf("%s%s/%06d", prefix, version, n)
}

// encode returns the main key's value for m and, when the partition set
// is chunked, the chunk puts to make first.
func (c *Coordinator) encode(id string, m *meta) (string, []clientv3.Op, string, error) {
	r := m.record(id)
	val, err := json.Marshal(r)
	if err != nil {
		return "", nil, "", err
	}
	if len(val) <= maxInline || len(r.Topics) == 0 {
		return string(val), nil, "", nil
	}
	topics, err := json.Marshal(r.Topics)
	if err != nil {
		return "", nil, "", err
	}
	var vb [8]byte
	if _, err := rand.Read(vb[:]); err != nil {
		return "", nil, "", err
	}
	version := hex.EncodeToString(vb[:])
	prefix := c.chunkPrefix(id)
	var puts []clientv3.Op
	for off, n := 0, 0; off < len(topics); off, n = off+chunkSize, n+1 {
		end := min(off+chunkSize, len(topics))
		puts = append(puts, clientv3.OpPut(chunkKey(prefix, version, n), string(topics[off:end])))
	}
	r.Topics = nil
	r.Chunks = &chunkRef{Version: version, Count: len(puts), Bytes: len(topics), CRC32C: crc32.Checksum(topics, castagnoli)}
	val, err = json.Marshal(r)
	if err != nil {
		return "", nil, "", err
	}
	return string(val), puts, version, nil
}

// writeChunks puts the chunks, several per transaction, fenced so that a
// deposed coordinator does not even leave chunks behind.
func (c *Coordinator) writeChunks(ctx context.Context, p *partition, puts []clientv3.Op) error {
	per := max(1, chunkTxnBytes/chunkSize)
	for i := 0; i < len(puts); i += per {
		if _, err := p.fence.Txn(ctx, nil, puts[i:min(i+per, len(puts))]...); err != nil {
			return err
		}
	}
	return nil
}

// cleanupOps deletes every chunk of id but those of version keep ("" for
// all): version strings have one length, so the others sort below
// prefix+keep+"/" or at or above prefix+keep+"0".
func (c *Coordinator) cleanupOps(id, keep string) []clientv3.Op {
	prefix := c.chunkPrefix(id)
	if keep == "" {
		return []clientv3.Op{clientv3.OpDelete(prefix, clientv3.WithPrefix())}
	}
	return []clientv3.Op{
		clientv3.OpDelete(prefix, clientv3.WithRange(prefix+keep+"/")),
		clientv3.OpDelete(prefix+keep+"0", clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix))),
	}
}

// loaded is one transaction read from etcd.
type loaded struct {
	id     string
	m      *meta
	modRev int64
}

// loadPage is how many keys one read of transactions/ returns.
const loadPage = 500

// readPartition reads at rev the transactions that belong to partition p
// of n (their chunks assembled), and the highest coordinator epoch stored
// among them.
func (c *Coordinator) readPartition(ctx context.Context, rev int64, p, n int32) ([]loaded, int32, error) {
	prefix := c.cfg.Key("transactions") + "/"
	end := clientv3.GetPrefixRangeEnd(prefix)
	from := prefix
	var out []loaded
	maxEpoch := int32(-1)
	for {
		resp, err := c.cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithRev(rev), clientv3.WithLimit(loadPage))
		if err != nil {
			return nil, 0, fmt.Errorf("txn: read transactions: %w", err)
		}
		for _, kv := range resp.Kvs {
			seg := string(kv.Key[len(prefix):])
			if strings.Contains(seg, "/") {
				continue // a chunk
			}
			id, err := unescapeID(seg)
			if err != nil {
				c.log.Warn().Str("key", string(kv.Key)).Msg("skipping a transaction key that is not an escaped id")
				continue
			}
			if partitionFor(id, n) != p {
				continue
			}
			var r record
			if err := json.Unmarshal(kv.Value, &r); err != nil {
				c.log.Warn().Str("transactional_id", id).Err(err).Msg("skipping an undecodable transaction record")
				continue
			}
			if r.Chunks != nil {
				if err := c.readChunks(ctx, id, rev, &r); err != nil {
					return nil, 0, err
				}
			}
			m, ok := r.meta()
			if !ok {
				c.log.Warn().Str("transactional_id", id).Str("state", r.State).Msg("skipping a transaction record in an unknown state")
				continue
			}
			maxEpoch = max(maxEpoch, m.coordinatorEpoch)
			out = append(out, loaded{id: id, m: m, modRev: kv.ModRevision})
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, maxEpoch, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

func (c *Coordinator) readChunks(ctx context.Context, id string, rev int64, r *record) error {
	ref := r.Chunks
	resp, err := c.cli.Get(ctx, c.chunkPrefix(id)+ref.Version+"/", clientv3.WithPrefix(), clientv3.WithRev(rev))
	if err != nil {
		return fmt.Errorf("txn: read chunks of %q: %w", id, err)
	}
	if len(resp.Kvs) != ref.Count {
		return fmt.Errorf("txn: transaction %q names %d chunks of version %s, etcd holds %d", id, ref.Count, ref.Version, len(resp.Kvs))
	}
	buf := make([]byte, 0, ref.Bytes)
	for _, kv := range resp.Kvs { // sorted by key: chunk order
		buf = append(buf, kv.Value...)
	}
	if len(buf) != ref.Bytes || crc32.Checksum(buf, castagnoli) != ref.CRC32C {
		return fmt.Errorf("txn: chunks of transaction %q (version %s) do not match their checksum", id, ref.Version)
	}
	return json.Unmarshal(buf, &r.Topics)
}
