package broker

// Fetch (key 1), v4-v18.
//
//	v4: isolation level; last stable offset; aborted transactions.
//	v5: log start offset.
//	v6: same as v5.
//	v7: fetch sessions (KIP-227). samsa declines to create sessions: it
//	    answers session id 0, so clients keep sending full fetches; an
//	    incremental fetch naming a session gets FETCH_SESSION_ID_NOT_FOUND.
//	v8: same as v7.
//	v9: current leader epoch (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH).
//	v10: same as v9.
//	v11: rack id; preferred read replica (always -1 here).
//	v12: flexible; last fetched epoch; diverging epoch (followers).
//	v13: topic ids (UNKNOWN_TOPIC_ID).
//	v14: same as v13.
//	v15: replica state replaces replica id (KIP-903).
//	v16: node endpoints and current leader on NOT_LEADER (KIP-951).
//	v17: replica directory id (KIP-853).
//	v18: high watermark in the request (KIP-1166, brokers only).
//
// Records of at least fileSliceMin bytes are not read into memory: the
// partition's batches are located in the segment file (pinned open) and the
// write loop sends them with sendfile, as Kafka's FileRecords does, which
// saves a copy of every consumed byte. Smaller reads are copied into the
// frame's buffer.
//
// min_bytes / max_wait_ms long-poll: a fetch that finds fewer than
// min_bytes waits, woken by appends to any partition it asked for, until
// it has enough or max_wait_ms passes. The first batch of the first
// non-empty partition is always returned whole, even above max_bytes.

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/storage"
)

func init() { register(kmsg.Fetch, 4, 18, handleFetch) }

// noRecords is the records field of a partition with nothing to return.
// Like Kafka (MemoryRecords.EMPTY), never null: librdkafka before 2.1
// (Debian's kcat) fails the whole fetch on a null (-1) MessageSetSize.
var noRecords = []byte{}

// fetchBufPool holds the buffers Fetch reads records into; buffers that grew
// past maxPooledFetchBuf are left to the GC.
var fetchBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

const maxPooledFetchBuf = 16 << 20

// fileSliceMin is the partition read from which records are sent from the
// file (sendfile) rather than copied; below it a copy costs less than
// another system call.
const fileSliceMin = 32 << 10

// fetchEntry is one requested partition, resolved once per request.
type fetchEntry struct {
	rp   *kmsg.FetchRequestTopicPartition
	out  *kmsg.FetchResponseTopicPartition
	p    *partition // nil when errCode is set
	hwm  int64      // high watermark seen at the last read
	code int16
	// file, when its Len is set, holds the records (sent from the file;
	// out.RecordBatches is then unused). Released by the request's release.
	file storage.FileSlice
	// cold, when set, holds the records read from below the hot window
	// (out.RecordBatches refers to them). Released by the request's
	// release.
	cold storage.ColdRecords
}

func handleFetch(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)

	if req.Version >= 7 && (req.SessionID != 0 || req.SessionEpoch > 0) {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		resp.SessionID = req.SessionID
		return resp
	}

	var snap *coordinator.Snapshot
	getSnap := func() *coordinator.Snapshot {
		if snap == nil {
			snap = b.store.Snapshot()
		}
		return snap
	}
	byID := req.Version >= 13
	var leaders map[int32]bool

	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	nparts := 0
	for i := range req.Topics {
		nparts += len(req.Topics[i].Partitions)
	}
	entries := make([]fetchEntry, 0, nparts)
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		name := rt.Topic
		known := true
		if byID {
			if tm := getSnap().TopicByID(coordinator.TopicID(rt.TopicID)); tm != nil {
				name = tm.Info.Name
			} else {
				known = false
			}
		}
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark = -1
			sp.LastStableOffset = -1
			sp.LogStartOffset = -1
			sp.PreferredReadReplica = -1
			sp.RecordBatches = noRecords
			e := fetchEntry{rp: rp, out: sp}
			switch {
			case !known:
				e.code = kerr.UnknownTopicID.Code
			default:
				e.p = b.partition(name, rp.Partition)
				if e.p == nil {
					ke, _ := b.notServedError(getSnap(), name, rp.Partition, byID, req.Version >= 6)
					e.code = ke.Code
					if ke == kerr.NotLeaderForPartition && req.Version >= 16 {
						if ps, ok := getSnap().Partition(name, rp.Partition); ok && ps.Leader >= 0 {
							sp.CurrentLeader.LeaderID = ps.Leader
							sp.CurrentLeader.LeaderEpoch = ps.LeaderEpoch
							if leaders == nil {
								leaders = map[int32]bool{}
							}
							leaders[ps.Leader] = true
						}
					}
				} else if rp.CurrentLeaderEpoch >= 0 {
					if epoch := e.p.leaderEpoch.Load(); rp.CurrentLeaderEpoch < epoch {
						e.code = kerr.FencedLeaderEpoch.Code
					} else if rp.CurrentLeaderEpoch > epoch {
						e.code = kerr.UnknownLeaderEpoch.Code
					}
				}
			}
			if e.code != 0 {
				e.p = nil
				sp.ErrorCode = e.code
			}
			entries = append(entries, e)
		}
	}
	defer b.metrics.fetched(entries)
	for id := range leaders {
		if bi, ep, ok := b.clientEndpoint(getSnap(), rc, id); ok {
			nb := kmsg.NewFetchResponseBroker()
			nb.NodeID, nb.Host, nb.Port, nb.Rack = bi.ID, ep.Host, ep.Port, bi.Rack
			resp.Brokers = append(resp.Brokers, nb)
		}
	}

	// fetch.max.bytes bounds the response, as in Kafka, and with it every
	// partition's share (fetchRead gives each at most what is left).
	maxBytes := req.MaxBytes
	if maxBytes <= 0 || maxBytes > b.cfg.FetchMaxBytes {
		maxBytes = b.cfg.FetchMaxBytes
	}
	// Records are read into one pooled buffer per request, returned to the
	// pool once the response has been written to the socket (the frame
	// refers to the records in place; see conn.sendFetch).
	bufp := fetchBufPool.Get().(*[]byte)
	rc.release = func() {
		for i := range entries {
			entries[i].file.Release()
			entries[i].file = storage.FileSlice{}
			entries[i].cold.Release()
		}
		if cap(*bufp) <= maxPooledFetchBuf {
			*bufp = (*bufp)[:0]
			fetchBufPool.Put(bufp)
		}
	}
	// The encoder asks for every partition in response order, which is
	// the order of entries.
	next := 0
	rc.fetchExternal = func(p *kmsg.FetchResponseTopicPartition) (int, bool) {
		for next < len(entries) && entries[next].out != p {
			next++
		}
		if next < len(entries) && entries[next].file.Len > 0 {
			rc.fetchFiles = append(rc.fetchFiles, entries[next].file)
			return int(entries[next].file.Len), true
		}
		return 0, false
	}
	total, hadError := b.fetchRead(entries, maxBytes, bufp)
	for i := range entries {
		hadError = hadError || entries[i].code != 0
	}
	if total >= int(req.MinBytes) || req.MaxWaitMillis <= 0 || hadError {
		return resp
	}

	// Long-poll: wait for appends to any requested partition.
	wake := make(chan struct{}, 1)
	for i := range entries {
		if entries[i].p != nil {
			entries[i].p.addWaiter(wake)
		}
	}
	defer func() {
		for i := range entries {
			if entries[i].p != nil {
				entries[i].p.removeWaiter(wake)
			}
		}
	}()
	deadline := time.NewTimer(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	defer deadline.Stop()
	for {
		moved := false
		for i := range entries {
			if p := entries[i].p; p != nil && p.log.HighWatermark() != entries[i].hwm {
				moved = true
				break
			}
		}
		if !moved {
			select {
			case <-wake:
			case <-deadline.C:
				return resp
			case <-rc.ctx.Done():
				return resp
			}
		}
		total, hadError = b.fetchRead(entries, maxBytes, bufp)
		if total >= int(req.MinBytes) || hadError {
			return resp
		}
	}
}

// fetchRead reads every resolved partition into its response slot, within
// maxBytes for the whole response, and returns the bytes read and whether a
// partition failed.
func (b *Broker) fetchRead(entries []fetchEntry, maxBytes int32, bufp *[]byte) (int, bool) {
	total := 0
	hadError := false
	var colds []coldRead
	coldBytes := 0
	buf := (*bufp)[:0]
	defer func() { *bufp = buf }()
	for i := range entries {
		e := &entries[i]
		if e.p == nil {
			continue
		}
		sp := e.out
		sp.RecordBatches = noRecords
		e.file.Release() // a long-poll reads again
		e.file = storage.FileSlice{}
		e.cold.Release()
		l := e.p.log
		hwm := l.HighWatermark()
		e.hwm = hwm
		lso := l.LogStartOffset()
		sp.HighWatermark = hwm
		sp.LastStableOffset = hwm
		sp.LogStartOffset = lso
		off := e.rp.FetchOffset
		if off < lso || off > l.LogEndOffset() {
			sp.ErrorCode = kerr.OffsetOutOfRange.Code
			hadError = true
			continue
		}
		sp.ErrorCode = 0
		if off >= hwm {
			continue
		}
		limit := e.rp.PartitionMaxBytes
		if remaining := maxBytes - int32(total); remaining < limit {
			limit = remaining
		}
		if limit <= 0 && total > 0 {
			continue
		}
		fs, err := l.ReadSlice(off, limit, hwm, total == 0)
		if err != nil {
			if errors.Is(err, storage.ErrOffsetOutOfRange) {
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
			} else {
				b.log.Error().Err(err).Str("topic", e.p.topic).Int32("partition", e.p.index).Msg("read failed")
				sp.ErrorCode = kerr.KafkaStorageError.Code
			}
			hadError = true
			continue
		}
		if fs.Len == 0 {
			continue
		}
		if fs.Cold() {
			// Older than the page-cache hot window: from the read-ahead
			// of the read before it, or read past the cache, all of the
			// request's cold slices at once, below.
			if recs, ok := fs.TakeReadAhead(); ok {
				e.cold = recs
				sp.RecordBatches = recs.Bytes
				total += int(fs.Len)
				continue
			}
			colds = append(colds, coldRead{e: e, fs: fs})
			coldBytes += fs.ColdBufSize()
			total += int(fs.Len)
			continue
		}
		if fs.Len >= fileSliceMin {
			e.file = fs
			total += int(fs.Len)
			continue
		}
		// Small: copy into the request's buffer (which the frame refers to
		// until it is written, so it only ever grows by reallocation).
		at := len(buf)
		buf = slices.Grow(buf, int(fs.Len))
		recs := buf[at : at+int(fs.Len)]
		n, rerr := fs.ReadAt(recs, 0)
		fs.Release()
		if n != len(recs) {
			b.log.Error().Err(rerr).Str("topic", e.p.topic).Int32("partition", e.p.index).Msg("read failed")
			sp.ErrorCode = kerr.KafkaStorageError.Code
			hadError = true
			continue
		}
		buf = buf[:at+n]
		sp.RecordBatches = recs
		total += n
	}
	if len(colds) > 0 {
		at := len(buf)
		buf = slices.Grow(buf, coldBytes)[:at+coldBytes]
		var wg sync.WaitGroup
		for i := range colds {
			c := &colds[i]
			c.region = buf[at : at+c.fs.ColdBufSize()]
			at += len(c.region)
			if i == len(colds)-1 {
				c.read()
				break
			}
			wg.Go(c.read)
		}
		wg.Wait()
		for i := range colds {
			c := &colds[i]
			if c.err != nil {
				b.log.Error().Err(c.err).Str("topic", c.e.p.topic).Int32("partition", c.e.p.index).Msg("read failed")
				c.e.out.ErrorCode = kerr.KafkaStorageError.Code
				c.e.out.RecordBatches = noRecords
				total -= int(c.fs.Len)
				hadError = true
				continue
			}
			c.e.cold = c.recs
			c.e.out.RecordBatches = c.recs.Bytes
		}
	}
	return total, hadError
}

// coldRead is one partition read from below the page-cache hot window; the
// reads of one request run concurrently (each is a disk request).
type coldRead struct {
	e      *fetchEntry
	fs     storage.FileSlice
	region []byte
	recs   storage.ColdRecords
	err    error
}

func (c *coldRead) read() { c.recs, c.err = c.fs.ReadCold(c.region) }
