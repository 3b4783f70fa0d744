package group

// Group records in etcd: one value at groups/<group> when it fits, chunks
// under a versioned sub-key when it does not (a group whose members' protocol
// metadata and assignments pass etcd's 1.5 MiB request limit could not be
// stored at all otherwise). See doc.go for the layout.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// recordChunkBytes is the largest record stored as one value, and the size
// of a chunk of a bigger one: two chunks and their keys fit one transaction
// of maxTxnBytes.
const recordChunkBytes = 511 << 10

var (
	errChunksGone = errors.New("group: record chunks removed by a concurrent write")
	crc32c        = crc32.MakeTable(crc32.Castagnoli)
)

// chunkRef is the value at groups/<group> of a chunked record: the record
// is the concatenation of the Chunks values at
// groups/<group>/<Version>/<000000..>.
type chunkRef struct {
	Version string `json:"version"`
	Chunks  int    `json:"chunks"`
	Bytes   int    `json:"bytes"`
	CRC32C  uint32 `json:"crc32c"`
}

// chunksPrefix is the prefix of every chunk of the group; an escaped group
// id has no '/', so it matches no other group's keys.
func (c *Coordinator) chunksPrefix(id string) string { return c.groupKey(id) + "/" }

func (c *Coordinator) chunkVersionPrefix(id, version string) string {
	return c.chunksPrefix(id) + version + "/"
}

func chunkName(i int) string { return fmt.Sprintf("%06d", i) }

// putRecord stores a record as one value and deletes the chunks of an
// earlier, bigger record (one transaction).
func (g *group) putRecord(ctx context.Context, data []byte) error {
	c := g.c
	_, err := g.txn(ctx, nil,
		clientv3.OpPut(c.groupKey(g.id), string(data)),
		clientv3.OpDelete(c.chunksPrefix(g.id), clientv3.WithPrefix()),
	)
	return err
}

// deleteRecord deletes the record and its chunks (one transaction).
func (g *group) deleteRecord(ctx context.Context) error {
	c := g.c
	_, err := g.txn(ctx, nil,
		clientv3.OpDelete(c.groupKey(g.id)),
		clientv3.OpDelete(c.chunksPrefix(g.id), clientv3.WithPrefix()),
	)
	return err
}

// putRecordChunked writes the record's chunks under a new version, in
// transactions within etcd's limits, then in one transaction points the
// group key at them and deletes every other version's chunks. A reader
// (the loader reads the groups at one revision) sees the old record or the
// new one, never a mix. A write that dies before the switch leaves chunks no
// record names; the loader skips them and the group's next write deletes
// them.
//
// Every transaction is fenced (g.txn), so a coordinator whose partition
// moved writes no chunks and switches nothing. The switch also requires
// the new version's first chunk to exist, so that it never names chunks
// another write deleted.
func (g *group) putRecordChunked(ctx context.Context, data []byte) error {
	c, id := g.c, g.id
	version := fmt.Sprintf("%016x", rand.Uint64())
	vp := c.chunkVersionPrefix(id, version)
	var b txnBatcher
	n := 0
	for off := 0; off < len(data); off += recordChunkBytes {
		chunk := data[off:min(off+recordChunkBytes, len(data))]
		key := vp + chunkName(n)
		b.add(clientv3.OpPut(key, string(chunk)), len(key)+len(chunk))
		n++
	}
	if _, err := g.commitTxns(ctx, b.done()); err != nil {
		return fmt.Errorf("write record chunks: %w", err)
	}
	ref, err := json.Marshal(struct {
		Chunked chunkRef `json:"chunked"`
	}{chunkRef{Version: version, Chunks: n, Bytes: len(data), CRC32C: crc32.Checksum(data, crc32c)}})
	if err != nil {
		return err
	}
	cp := c.chunksPrefix(id)
	resp, err := g.txn(ctx,
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(vp+chunkName(0)), ">", 0)},
		clientv3.OpPut(c.groupKey(id), string(ref)),
		// Every other version: the chunk keys before ours and after.
		clientv3.OpDelete(cp, clientv3.WithRange(vp)),
		clientv3.OpDelete(clientv3.GetPrefixRangeEnd(vp), clientv3.WithRange(clientv3.GetPrefixRangeEnd(cp))),
	)
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return errChunksGone
	}
	return nil
}

// chunkedLoad collects a chunked record's chunks while the loader scans.
type chunkedLoad struct {
	id     string
	ref    chunkRef
	chunks map[int][]byte
}

func newChunkedLoad(id string, ref chunkRef) *chunkedLoad {
	return &chunkedLoad{id: id, ref: ref, chunks: make(map[int][]byte)}
}

// add takes the chunk at <version>/<n> (the key below groups/<group>/) if
// it belongs to the version the record names.
func (l *chunkedLoad) add(rest string, val []byte) {
	want := l.ref.Version + "/"
	if len(rest) <= len(want) || rest[:len(want)] != want {
		return // another version's: left by a write that died
	}
	n, err := strconv.Atoi(rest[len(want):])
	if err != nil || n < 0 || n >= l.ref.Chunks {
		return
	}
	l.chunks[n] = val
}

// record reassembles and decodes the record.
func (l *chunkedLoad) record() (*groupRecord, error) {
	if l.ref.Bytes < 0 || l.ref.Chunks <= 0 {
		return nil, fmt.Errorf("chunked record: bad reference %+v", l.ref)
	}
	size := 0
	for i := range l.ref.Chunks {
		chunk, ok := l.chunks[i]
		if !ok {
			return nil, fmt.Errorf("chunked record version %s: chunk %d of %d missing", l.ref.Version, i, l.ref.Chunks)
		}
		size += len(chunk)
	}
	data := make([]byte, 0, size)
	for i := range l.ref.Chunks {
		data = append(data, l.chunks[i]...)
	}
	if len(data) != l.ref.Bytes || crc32.Checksum(data, crc32c) != l.ref.CRC32C {
		return nil, fmt.Errorf("chunked record version %s: %d bytes, crc %08x; want %d, %08x",
			l.ref.Version, len(data), crc32.Checksum(data, crc32c), l.ref.Bytes, l.ref.CRC32C)
	}
	var rec groupRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, err
	}
	if rec.Chunked != nil {
		return nil, errors.New("chunked record names chunks again")
	}
	return &rec, nil
}
