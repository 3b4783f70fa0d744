package broker

// Fetch (key 1), v4-v18.
//
//	v4: isolation level; last stable offset; aborted transactions.
//	    read_committed (1) reads a consumer up to the last stable offset
//	    and lists the aborted transactions overlapping what it returns
//	    (Kafka's collectAbortedTransactions: those whose ABORT marker is
//	    at or past the fetch offset and whose first offset is below the
//	    offset after the last batch returned); read_uncommitted (0) reads
//	    up to the high watermark. Every answer carries the last stable
//	    offset. A follower reads up to the log end offset either way.
//	v5: log start offset.
//	v6: same as v5.
//	v7: fetch sessions (KIP-227, fetch_session.go): epoch -1 is a full
//	    fetch without a session, 0 one that makes a session, > 0 an
//	    incremental fetch on one, whose answer lists only the partitions
//	    that changed.
//	v8: same as v7.
//	v9: current leader epoch (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH).
//	v10: same as v9.
//	v11: rack id; preferred read replica (KIP-392); consumers may fetch
//	     from followers (up to the follower's high watermark).
//	v12: flexible; last fetched epoch; diverging epoch (followers and
//	     consumers, KIP-320).
//	v13: topic ids (UNKNOWN_TOPIC_ID).
//	v14: same as v13.
//	v15: replica state replaces replica id (KIP-903).
//	v16: node endpoints and current leader on NOT_LEADER (KIP-951).
//	v17: replica directory id (KIP-853).
//	v18: high watermark in the request (KIP-1166, brokers only): a
//	     follower's fetch returns at once when the leader's is higher.
//
// A fetch with a replica id >= 0 (v4-v14) or ReplicaState.ID >= 0 (v15+)
// comes from a follower (Kafka's replica fetch): it must be an assigned
// replica of a partition this broker leads, its last fetched epoch is
// checked against the leader's epochs (a divergence is answered with
// DivergingEpoch and no records, as Kafka does from v12), it reads up to
// the log end offset rather than the high watermark, and it moves the
// follower's position, the high watermark and maybe the ISR (replica.go).
// It waits for new data past its fetch offset.
//
// Records of at least fileSliceMin bytes are not read into memory: the
// partition's batches are located in the segment file (pinned open) and the
// write loop sends them with sendfile, as Kafka's FileRecords does, which
// saves a copy of every consumed byte. Smaller reads are copied into the
// frame's buffer.
//
// Errors as Kafka's: an isolation level other than 0 and 1 fails the whole
// request (UNKNOWN_SERVER_ERROR, Kafka's IsolationLevel.forId throws); a
// partition that fails its read (OFFSET_OUT_OF_RANGE, KAFKA_STORAGE_ERROR)
// is answered with -1 as its high watermark, last stable and log start
// offsets (see fetchEntry.fail for a follower's).
//
// min_bytes / max_wait_ms long-poll: a fetch that finds fewer than
// min_bytes waits, woken by appends to any partition it asked for, until
// it has enough or max_wait_ms passes; a fetch of no partition does not
// wait (Kafka's ReplicaManager.fetchMessages). The first batch of the first
// non-empty partition is always returned whole, even above max_bytes.

import (
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/protocol"
	"github.com/samsa-io/samsa/storage"
)

func init() { register(kmsg.Fetch, 4, 18, handleFetch) }

// noRecords is the records field of a partition with nothing to return.
// Like Kafka (MemoryRecords.EMPTY), never null: librdkafka before 2.1
// (Debian's kcat) fails the whole fetch on a null (-1) MessageSetSize.
var noRecords = []byte{}

// noAborted is the aborted transactions of a read_committed answer that
// overlaps none.
var noAborted = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}

// fileSliceMin is the partition read from which records are sent from the
// file (sendfile) rather than copied; below it a copy costs less than
// another system call.
const fileSliceMin = 32 << 10

// maxPooledFetchBuf bounds the records buffer a pooled plan keeps.
const maxPooledFetchBuf = 16 << 20

// maxPooledFetchParts bounds the partition scratch a pooled plan keeps.
const maxPooledFetchParts = 1 << 14

// fetchPlan is one Fetch request's working state. It owns everything the
// response borrows until Release: the partitions to read (want, copied from
// the request or from its fetch session), the response's topics and
// partitions (topics, outs), the buffer small and cold reads are copied
// into (the frame refers to it in place, see conn.sendFetch), the pinned
// file slices sent with sendfile and the cold read-ahead buffers. The
// connection calls Release once the response is on the socket, or dropped.
// Plans are pooled; releaseFn and externalFn are their method values, made
// once per plan so that handing them to the request context allocates
// nothing.
type fetchPlan struct {
	b  *Broker
	rc *reqCtx

	want     []fetchWant // the partitions to read, in fetch order
	entries  []fetchEntry
	outs     []kmsg.FetchResponseTopicPartition // entries[i].out == &outs[i]
	topics   []kmsg.FetchResponseTopic          // the response's, over outs
	buf      []byte                             // records copied for the response
	colds    []coldRead                         // scratch of one read pass
	next     int                                // the encoder's cursor into entries (external)
	maxBytes int32
	// replica is the fetching follower's broker id, -1 for a consumer.
	replica int32
	// readCommitted: isolation level read_committed (a consumer's read
	// stops at the last stable offset).
	readCommitted bool
	reads         int // read passes so far

	// The fetch session (fetch_session.go): what the request is to it, the
	// session of an incremental fetch and its epoch after this request.
	mode         sessionMode
	session      *fetchSession
	sessionEpoch int32

	releaseFn  func()
	externalFn protocol.ExternalRecords
}

// fetchWant is one partition to read: where it is named (topic by name,
// or by id at v13+) and its fetch position.
type fetchWant struct {
	topic   string
	topicID [16]byte
	rp      kmsg.FetchRequestTopicPartition
	// sp is the session's partition of an incremental fetch.
	sp *sessionPartition
}

// fetchEntry is one partition to read, resolved once per request.
type fetchEntry struct {
	w    *fetchWant
	rp   *kmsg.FetchRequestTopicPartition // &w.rp
	out  *kmsg.FetchResponseTopicPartition
	p    *partition // nil when code is set
	seen int64      // the read limit (high watermark, last stable offset, log end for a follower) at the last read
	code int16
	// follower: a replica fetch (reads up to the log end offset).
	follower bool
	// committed: a read_committed consumer's (reads up to the last
	// stable offset).
	committed bool
	// skip: the answer carries no records (a diverging epoch, or a
	// preferred read replica elsewhere).
	skip bool
	// file, when its Len is set, holds the records (sent from the file;
	// out.RecordBatches is then unused).
	file storage.FileSlice
	// cold, when set, holds the records read from below the hot window
	// (out.RecordBatches refers to them).
	cold storage.ColdRecords
}

// records is the size of the entry's records.
func (e *fetchEntry) records() int {
	if e.file.Len > 0 {
		return int(e.file.Len)
	}
	return len(e.out.RecordBatches)
}

var fetchPlanPool sync.Pool // of *fetchPlan

func newFetchPlan(b *Broker, rc *reqCtx) *fetchPlan {
	pl, _ := fetchPlanPool.Get().(*fetchPlan)
	if pl == nil {
		pl = &fetchPlan{buf: make([]byte, 0, 1<<20)}
		pl.releaseFn = pl.Release
		pl.externalFn = pl.external
	}
	pl.b, pl.rc = b, rc
	pl.next, pl.reads, pl.replica, pl.readCommitted = 0, 0, -1, false
	rc.release, rc.fetchExternal = pl.releaseFn, pl.externalFn
	return pl
}

// Release unpins the file slices, returns the cold buffers and puts the
// plan back in the pool. The response must no longer be referred to.
func (pl *fetchPlan) Release() {
	pl.releaseReads()
	clear(pl.entries)
	pl.entries = pl.entries[:0]
	clear(pl.want)
	pl.want = pl.want[:0]
	clear(pl.outs)
	pl.outs = pl.outs[:0]
	clear(pl.topics)
	pl.topics = pl.topics[:0]
	if cap(pl.want) > maxPooledFetchParts {
		pl.want, pl.entries, pl.outs = nil, nil, nil
	}
	clear(pl.colds)
	pl.colds = pl.colds[:0]
	pl.b, pl.rc, pl.session = nil, nil, nil
	if cap(pl.buf) > maxPooledFetchBuf {
		pl.buf = make([]byte, 0, 1<<20)
	}
	pl.buf = pl.buf[:0]
	fetchPlanPool.Put(pl)
}

// releaseReads gives back what the last read pass borrowed.
func (pl *fetchPlan) releaseReads() {
	for i := range pl.entries {
		pl.entries[i].releaseRead()
	}
}

func (e *fetchEntry) releaseRead() {
	e.file.Release()
	e.file = storage.FileSlice{}
	e.cold.Release()
}

// external tells the encoder which partitions' records are sent from a
// file. It is asked for every partition in response order, which is the
// order of entries.
func (pl *fetchPlan) external(p *kmsg.FetchResponseTopicPartition) (int, bool) {
	for pl.next < len(pl.entries) && pl.entries[pl.next].out != p {
		pl.next++
	}
	if pl.next < len(pl.entries) && pl.entries[pl.next].file.Len > 0 {
		pl.rc.fetchFiles = append(pl.rc.fetchFiles, pl.entries[pl.next].file)
		return int(pl.entries[pl.next].file.Len), true
	}
	return 0, false
}

// wantRequest reads the request's partitions, in its order.
func (pl *fetchPlan) wantRequest(req *kmsg.FetchRequest) {
	n := 0
	for i := range req.Topics {
		n += len(req.Topics[i].Partitions)
	}
	pl.want = slices.Grow(pl.want[:0], n)
	for i := range req.Topics {
		t := &req.Topics[i]
		for j := range t.Partitions {
			pl.want = append(pl.want, fetchWant{topic: t.Topic, topicID: t.TopicID, rp: t.Partitions[j]})
		}
	}
}

// wantSessionLocked reads the session's partitions, in its order. s.mu is
// held.
func (pl *fetchPlan) wantSessionLocked(s *fetchSession) {
	pl.want = slices.Grow(pl.want[:0], len(s.parts))
	for _, sp := range s.parts {
		pl.want = append(pl.want, fetchWant{topic: sp.key.topic, topicID: sp.key.id, rp: sp.req, sp: sp})
	}
}

func handleFetch(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)

	pl := newFetchPlan(b, rc)
	if req.Version >= 15 {
		pl.replica = req.ReplicaState.ID
	} else {
		pl.replica = req.ReplicaID
	}
	if pl.replica < 0 {
		pl.replica = -1 // -1 consumers, -2 debug tools: both read as a consumer
	}
	if code := b.fetchSessions.begin(req, pl); code != 0 {
		resp.ErrorCode = code // session id 0, no partitions (Kafka's SessionErrorContext)
		return resp
	}
	if req.IsolationLevel != 0 && req.IsolationLevel != 1 {
		// Kafka's IsolationLevel.forId throws, which fails the request.
		fetchRequestError(req, resp, kerr.UnknownServerError.Code)
		return resp
	}
	pl.readCommitted = req.IsolationLevel == 1 && pl.replica < 0
	pl.resolve(req, resp)
	pl.maxBytes = req.MaxBytes
	if pl.maxBytes <= 0 {
		pl.maxBytes = math.MaxInt32
	}
	// fetch.max.bytes bounds a consumer's response, as in Kafka, and with it
	// every partition's share (read gives each at most what is left); a
	// follower's is bounded by its own replica.fetch.response.max.bytes.
	if pl.replica < 0 && pl.maxBytes > b.cfg.FetchMaxBytes {
		pl.maxBytes = b.cfg.FetchMaxBytes
	}
	quota := b.consumerQuota(rc, pl)
	total, now := pl.read()
	for i := range pl.entries {
		now = now || pl.entries[i].code != 0
	}
	// Nothing to read (no partitions in the request or its session, as the
	// Java consumer's closing fetch) is answered at once, as Kafka does when
	// its fetchInfos is empty: waiting for data could not bring any.
	if total < int(req.MinBytes) && req.MaxWaitMillis > 0 && !now && len(pl.entries) > 0 {
		pl.longPoll(req)
	}
	if throttle := b.quotas.recordFetch(quota, pl.recordBytes()); throttle > 0 {
		// Kafka's throttled fetch: no partitions, no new session (an
		// incremental one keeps its id and what it last sent).
		rc.fetchThrottle = throttle
		if pl.mode == sessionIncremental {
			resp.SessionID = req.SessionID
		}
		return resp
	}
	switch pl.mode {
	case sessionFull:
		topicIDs := req.Version >= 13
		resp.SessionID = b.fetchSessions.create(pl.replica >= 0, topicIDs, len(pl.entries), func(s *fetchSession) {
			for i := range pl.entries {
				e := &pl.entries[i]
				k := sessionKey{topic: e.w.topic, partition: e.rp.Partition}
				if topicIDs {
					k = sessionKey{id: e.w.topicID, partition: e.rp.Partition}
				}
				s.add(k, e.rp, e.out.HighWatermark, e.out.LogStartOffset)
			}
		})
	case sessionIncremental:
		pl.answerIncremental(resp)
	}
	pl.assemble(resp)
	if pl.replica < 0 {
		// Kafka's BytesOut counts consumers' fetches, not replication.
		b.metrics.fetched(pl.entries)
	}
	return resp
}

// fetchRequestError fails the whole request as Kafka's
// FetchRequest.getErrorResponse does: the top-level error code and the
// request's session id, and below v13 every requested partition with the
// error too.
func fetchRequestError(req *kmsg.FetchRequest, resp *kmsg.FetchResponse, code int16) {
	resp.ErrorCode = code
	resp.SessionID = req.SessionID
	if req.Version >= 13 {
		return
	}
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			sp := &st.Partitions[j]
			*sp = kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rt.Partitions[j].Partition
			sp.ErrorCode = code
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.RecordBatches = noRecords
		}
	}
}

// resolve makes the response slot of every partition to read and resolves
// it to the replica that serves it, or to an error.
func (pl *fetchPlan) resolve(req *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	b := pl.b
	var snap *coordinator.Snapshot
	getSnap := func() *coordinator.Snapshot {
		if snap == nil {
			snap = b.store.Snapshot()
		}
		return snap
	}
	byID := req.Version >= 13
	var leaders map[int32]bool
	n := len(pl.want)
	pl.entries = slices.Grow(pl.entries[:0], n)
	pl.outs = slices.Grow(pl.outs[:0], n)[:n]
	// The topic of the previous partition, resolved (by id at v13+).
	var lastID [16]byte
	lastName, lastKnown, haveLast := "", false, false
	for i := range pl.want {
		w := &pl.want[i]
		rp := &w.rp
		name, known := w.topic, true
		if byID {
			if !haveLast || w.topicID != lastID {
				lastID, haveLast = w.topicID, true
				lastName, lastKnown = "", false
				if tm := getSnap().TopicByID(coordinator.TopicID(w.topicID)); tm != nil {
					lastName, lastKnown = tm.Info.Name, true
				}
			}
			name, known = lastName, lastKnown
		}
		sp := &pl.outs[i]
		*sp = kmsg.FetchResponseTopicPartition{}
		sp.Default()
		sp.Partition = rp.Partition
		sp.HighWatermark = -1
		sp.LastStableOffset = -1
		sp.LogStartOffset = -1
		sp.PreferredReadReplica = -1
		sp.RecordBatches = noRecords
		e := fetchEntry{w: w, rp: rp, out: sp, committed: pl.readCommitted}
		switch {
		case !known:
			e.code = kerr.UnknownTopicID.Code
		case !b.authorizeFetch(pl.rc, pl.replica, name): // acl.go
			e.code = kerr.TopicAuthorizationFailed.Code
		default:
			e.p = b.partition(name, rp.Partition)
			if e.p == nil && pl.replica < 0 && req.Version >= 11 {
				e.p = b.followerReplica(name, rp.Partition) // KIP-392
			}
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
			} else if rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < e.p.leaderEpoch.Load() {
				e.code = kerr.FencedLeaderEpoch.Code
			} else if rp.CurrentLeaderEpoch > e.p.leaderEpoch.Load() {
				e.code = kerr.UnknownLeaderEpoch.Code
			} else if pl.replica >= 0 {
				// A follower fetches only from the leader, and only
				// partitions it is assigned.
				if !e.p.hasFollower(pl.replica) {
					e.code = kerr.NotLeaderForPartition.Code
				}
				e.follower = true
			} else if req.Rack != "" && b.cfg.Str("replica.selector.class") == config.RackAwareReplicaSelector &&
				e.p.leader.Load() {
				if id := e.p.preferredReadReplica(b, getSnap(), req.Rack, rp.FetchOffset, time.Now()); id >= 0 {
					sp.PreferredReadReplica = id
					e.skip = true
				}
			}
		}
		if e.code != 0 {
			e.p = nil
			sp.ErrorCode = e.code
		}
		pl.entries = append(pl.entries, e)
	}
	for id := range leaders {
		if bi, ep, ok := b.clientEndpoint(getSnap(), pl.rc, id); ok {
			nb := kmsg.NewFetchResponseBroker()
			nb.NodeID, nb.Host, nb.Port, nb.Rack = bi.ID, ep.Host, ep.Port, bi.Rack
			resp.Brokers = append(resp.Brokers, nb)
		}
	}
}

// answerIncremental keeps, of an incremental fetch's partitions, those
// its answer lists (sessionPartition.mustRespond), and moves the ones that
// returned records to the end of the session's order. A later fetch on the
// session that came in meanwhile makes this one's answer
// INVALID_FETCH_SESSION_EPOCH, as with Kafka.
func (pl *fetchPlan) answerIncremental(resp *kmsg.FetchResponse) {
	s := pl.session
	s.mu.Lock()
	defer s.mu.Unlock()
	resp.SessionID = s.id
	if s.epoch != pl.sessionEpoch {
		resp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
		pl.keep(func(*fetchEntry) bool { return false })
		return
	}
	moved := false
	pl.keep(func(e *fetchEntry) bool {
		sp := e.w.sp
		if sp.gone {
			return false
		}
		n := e.records()
		if !sp.mustRespond(e.out, n) {
			return false
		}
		if n > 0 {
			sp.moved, moved = true, true
		}
		return true
	})
	if moved {
		s.reorderLocked()
	}
}

// keep drops the entries (and their response slots) that ok refuses,
// keeping the order of the rest.
func (pl *fetchPlan) keep(ok func(*fetchEntry) bool) {
	j := 0
	for i := range pl.entries {
		e := &pl.entries[i]
		if !ok(e) {
			e.releaseRead()
			continue
		}
		if j != i {
			pl.outs[j] = pl.outs[i]
			pl.entries[j] = *e
			pl.entries[j].out = &pl.outs[j]
		}
		j++
	}
	clear(pl.entries[j:])
	pl.entries = pl.entries[:j]
	clear(pl.outs[j:])
	pl.outs = pl.outs[:j]
}

// assemble lists the response's partitions under their topics, in entry
// order: consecutive partitions of one topic share its entry.
func (pl *fetchPlan) assemble(resp *kmsg.FetchResponse) {
	pl.topics = pl.topics[:0]
	for i := 0; i < len(pl.entries); {
		w := pl.entries[i].w
		j := i + 1
		for j < len(pl.entries) && pl.entries[j].w.topic == w.topic && pl.entries[j].w.topicID == w.topicID {
			j++
		}
		pl.topics = append(pl.topics, kmsg.FetchResponseTopic{Topic: w.topic, TopicID: w.topicID, Partitions: pl.outs[i:j:j]})
		i = j
	}
	resp.Topics = pl.topics
}

// longPoll waits, up to the request's max wait, for appends to any
// requested partition to bring min bytes, reading again after each.
func (pl *fetchPlan) longPoll(req *kmsg.FetchRequest) {
	wake := make(chan struct{}, 1)
	for i := range pl.entries {
		if pl.entries[i].p != nil {
			pl.entries[i].p.addWaiter(wake)
		}
	}
	defer func() {
		for i := range pl.entries {
			if pl.entries[i].p != nil {
				pl.entries[i].p.removeWaiter(wake)
			}
		}
	}()
	deadline := time.NewTimer(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	defer deadline.Stop()
	for {
		moved := false
		for i := range pl.entries {
			if pl.entries[i].moved() {
				moved = true
				break
			}
		}
		if !moved {
			select {
			case <-wake:
			case <-deadline.C:
				return
			case <-pl.rc.ctx.Done():
				return
			}
		}
		if total, hadError := pl.read(); total >= int(req.MinBytes) || hadError {
			return
		}
	}
}

// moved reports whether a long-poll should read the entry again: new data
// below its read limit, or (KIP-1166) a high watermark the fetching
// follower does not know yet.
func (e *fetchEntry) moved() bool {
	if e.p == nil || e.skip {
		return false
	}
	if e.follower {
		return e.p.log.LogEndOffset() != e.seen || e.followerBehind()
	}
	if e.committed {
		return e.p.log.LastStableOffset() != e.seen
	}
	return e.p.log.HighWatermark() != e.seen
}

// followerBehind: the fetching follower sent its high watermark (v18) and
// the leader's is past it.
func (e *fetchEntry) followerBehind() bool {
	fhw := e.rp.HighWatermark
	return fhw != math.MaxInt64 && e.p.log.HighWatermark() > fhw
}

// read reads every resolved partition into its response slot, within
// maxBytes for the whole response, and returns the bytes read and whether
// the response must go now (a partition failed, a follower diverged or is
// behind on the high watermark). A long-poll reads again: what the previous
// pass borrowed is given back first.
func (pl *fetchPlan) read() (int, bool) {
	pl.releaseReads()
	first := pl.reads == 0
	pl.reads++
	total := 0
	hadError := false
	pl.colds = pl.colds[:0]
	coldBytes := 0
	buf := pl.buf[:0]
	defer func() { pl.buf = buf }()
	for i := range pl.entries {
		e := &pl.entries[i]
		if e.p == nil {
			continue
		}
		sp := e.out
		sp.RecordBatches = noRecords
		l := e.p.log
		off := e.rp.FetchOffset
		if first && (e.follower || e.rp.LastFetchedEpoch >= 0) {
			if code, diverged := pl.checkEpoch(e); code != 0 || diverged {
				if code != 0 {
					e.fail(code)
				}
				e.skip = true
				hadError = true
				continue
			}
		}
		hwm := l.HighWatermark()
		stable := l.LastStableOffset()
		upTo := hwm
		switch {
		case e.follower:
			upTo = l.LogEndOffset()
			hadError = hadError || e.followerBehind()
		case e.committed:
			upTo = stable
		}
		e.seen = upTo
		lso := l.LogStartOffset()
		sp.HighWatermark = hwm
		sp.LastStableOffset = stable
		sp.LogStartOffset = lso
		sp.AbortedTransactions = nil
		if e.committed {
			// Kafka answers read_committed with a list, empty or not,
			// read_uncommitted with null.
			sp.AbortedTransactions = noAborted
		}
		if off < lso || off > l.LogEndOffset() {
			e.fail(kerr.OffsetOutOfRange.Code)
			hadError = true
			continue
		}
		sp.ErrorCode = 0
		if e.skip {
			hadError = true // the consumer is told to go elsewhere at once
			continue
		}
		if off >= upTo {
			continue
		}
		limit := e.rp.PartitionMaxBytes
		if remaining := pl.maxBytes - int32(total); remaining < limit {
			limit = remaining
		}
		if limit <= 0 && total > 0 {
			continue
		}
		fs, err := l.ReadSlice(off, limit, upTo, total == 0)
		if err != nil {
			if errors.Is(err, storage.ErrOffsetOutOfRange) {
				e.fail(kerr.OffsetOutOfRange.Code)
			} else {
				pl.b.log.Error().Err(err).Str("topic", e.p.topic).Int32("partition", e.p.index).Msg("read failed")
				e.fail(kerr.KafkaStorageError.Code)
			}
			hadError = true
			continue
		}
		if fs.Len == 0 {
			continue
		}
		if e.committed {
			e.abortedTxns(off, fs.NextOffset(), upTo)
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
			pl.colds = append(pl.colds, coldRead{e: e, fs: fs})
			coldBytes += fs.ColdBufSize()
			total += int(fs.Len)
			continue
		}
		if fs.Len >= fileSliceMin && (pl.rc.conn == nil || !pl.rc.conn.isTLS) {
			// (A TLS connection cannot sendfile: its records are
			// copied below.)
			e.file = fs
			total += int(fs.Len)
			continue
		}
		// Small: copy into the plan's buffer (which the frame refers to
		// until it is written, so it only ever grows by reallocation).
		at := len(buf)
		buf = slices.Grow(buf, int(fs.Len))
		recs := buf[at : at+int(fs.Len)]
		n, rerr := fs.ReadAt(recs, 0)
		fs.Release()
		if n != len(recs) {
			pl.b.log.Error().Err(rerr).Str("topic", e.p.topic).Int32("partition", e.p.index).Msg("read failed")
			e.fail(kerr.KafkaStorageError.Code)
			hadError = true
			continue
		}
		buf = buf[:at+n]
		sp.RecordBatches = recs
		total += n
	}
	if len(pl.colds) > 0 {
		var failed int
		buf, failed = pl.readCold(buf, coldBytes)
		total -= failed
		hadError = hadError || failed > 0
	}
	return total, hadError
}

// recordBytes is the record bytes the response carries.
func (pl *fetchPlan) recordBytes() int {
	n := 0
	for i := range pl.entries {
		e := &pl.entries[i]
		if e.file.Len > 0 {
			n += int(e.file.Len)
		} else if e.out != nil {
			n += len(e.out.RecordBatches)
		}
	}
	return n
}

// checkEpoch does, once per request, the checks of Kafka's
// Partition.readRecords before a read, and for a follower the leader's
// part of its fetch. A last fetched epoch (v12+, followers and consumers
// alike, KIP-320/KIP-595) is checked against the log's epochs: one the log
// cannot place is OFFSET_OUT_OF_RANGE, so is a fetch offset below the log
// start; an epoch that ends below the fetch offset, or that the log only
// knows an older floor of, is answered with that epoch and its end offset
// (DivergingEpoch, no records), so that the fetcher truncates. A follower's
// fetch then moves its position, the high watermark and maybe the ISR. It
// returns an error code, or diverged with out.DivergingEpoch set.
func (pl *fetchPlan) checkEpoch(e *fetchEntry) (int16, bool) {
	l := e.p.log
	rp, sp := e.rp, e.out
	off := rp.FetchOffset
	sp.HighWatermark = l.HighWatermark()
	sp.LastStableOffset = l.LastStableOffset()
	sp.LogStartOffset = l.LogStartOffset()
	if rp.LastFetchedEpoch >= 0 {
		end, epoch := l.EndOffsetForEpoch(rp.LastFetchedEpoch)
		if end < 0 || epoch < 0 || off < sp.LogStartOffset {
			return kerr.OffsetOutOfRange.Code, false
		}
		if epoch < rp.LastFetchedEpoch || end < off {
			sp.DivergingEpoch.Epoch = epoch
			sp.DivergingEpoch.EndOffset = end
			return 0, true
		}
	}
	if !e.follower {
		return 0, false
	}
	if off < sp.LogStartOffset || off > l.LogEndOffset() {
		return kerr.OffsetOutOfRange.Code, false
	}
	hwMoved, mayJoin := e.p.recordFollowerFetch(pl.b, pl.replica, off, rp.LogStartOffset, time.Now())
	if hwMoved {
		e.p.notify()
	}
	if mayJoin {
		pl.b.signalISR()
	}
	return 0, false
}

// abortedTxns lists in the answer the aborted transactions overlapping the
// records read from off: up to next, the offset of the batch after them
// when the read knows it, else the read limit upTo (a bound past the
// records names at most a transaction whose batches the consumer does not
// get in this answer, which it ignores). Nothing is allocated when the
// range holds no aborted transaction, the common case.
func (e *fetchEntry) abortedTxns(off, next, upTo int64) {
	if next < 0 || next > upTo {
		next = upTo
	}
	ab := e.p.log.AbortedTransactions(off, next)
	if len(ab) == 0 {
		return
	}
	out := make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, len(ab))
	for i, a := range ab {
		out[i] = kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset}
	}
	e.out.AbortedTransactions = out
}

// fail answers the entry with an error and no records. Kafka's answer then
// carries -1 as the high watermark, last stable and log start offsets (the
// LogReadResult of a failed read). A follower's OFFSET_OUT_OF_RANGE keeps
// them: samsa's fetcher starts over at the leader's log start offset when
// its log ends before it (replica_fetcher.go outOfRange), where Kafka's
// asks ListOffsets; only samsa brokers send replica fetches.
func (e *fetchEntry) fail(code int16) {
	sp := e.out
	sp.ErrorCode = code
	sp.RecordBatches = noRecords
	sp.AbortedTransactions = nil
	if e.follower && code == kerr.OffsetOutOfRange.Code {
		return
	}
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
}

// readCold reads the pass's cold slices concurrently (each is a disk
// request) into regions of buf, and returns buf and the bytes of the slices
// that failed.
func (pl *fetchPlan) readCold(buf []byte, coldBytes int) ([]byte, int) {
	at := len(buf)
	buf = slices.Grow(buf, coldBytes)[:at+coldBytes]
	var wg sync.WaitGroup
	for i := range pl.colds {
		c := &pl.colds[i]
		c.region = buf[at : at+c.fs.ColdBufSize()]
		at += len(c.region)
		if i == len(pl.colds)-1 {
			c.read()
			break
		}
		wg.Go(c.read)
	}
	wg.Wait()
	failed := 0
	for i := range pl.colds {
		c := &pl.colds[i]
		if c.err != nil {
			pl.b.log.Error().Err(c.err).Str("topic", c.e.p.topic).Int32("partition", c.e.p.index).Msg("read failed")
			c.e.fail(kerr.KafkaStorageError.Code)
			failed += int(c.fs.Len)
			continue
		}
		c.e.cold = c.recs
		c.e.out.RecordBatches = c.recs.Bytes
	}
	return buf, failed
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
