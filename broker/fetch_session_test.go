package broker

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

// Fetch sessions (fetch_session.go) and the Fetch answers the differential
// tester found to differ from Kafka's (01_fetch.go). The session rules are
// also compared with Kafka 4.4 by compat-tests/difftest (fetch-sessions,
// fetch-session-changes).

// sessFetch is a consumer's Fetch at version v on session (id, epoch) of
// topic's partitions at the given offsets (by id from v13).
func sessFetch(v int16, topic string, topicID [16]byte, id, epoch int32, offsets map[int32]int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = v
	req.ReplicaID = -1
	req.MaxBytes = 50 << 20
	req.SessionID, req.SessionEpoch = id, epoch
	if len(offsets) > 0 {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		if v >= 13 {
			rt.TopicID = topicID
		}
		parts := make([]int32, 0, len(offsets))
		for p := range offsets {
			parts = append(parts, p)
		}
		slices.Sort(parts)
		for _, p := range parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, offsets[p], 1<<20
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// listed is what a Fetch answer lists: partition -> records bytes.
func listed(resp *kmsg.FetchResponse) map[int32]int {
	out := map[int32]int{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = len(p.RecordBatches)
		}
	}
	return out
}

// sessProduce writes n records to one partition.
func sessProduce(t *testing.T, addr, topic string, partition int32, n int) {
	t.Helper()
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t)
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: partition, Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func topicIDOf(t *testing.T, b *Broker, topic string) [16]byte {
	t.Helper()
	tm := b.store.Snapshot().Topic(topic)
	if tm == nil {
		t.Fatalf("topic %s not in the snapshot", topic)
	}
	return [16]byte(tm.Info.ID)
}

// TestFetchSessionlessFullFetch: a full fetch without a session (epoch
// -1), whatever session id it names (kafka-go's Client.Fetch sends -1 and
// -1; others 0 and -1), is answered with the records and session id 0.
// Before the fix a non-zero id got FETCH_SESSION_ID_NOT_FOUND and no data.
func TestFetchSessionlessFullFetch(t *testing.T) {
	b, addr := startTestBroker(t)
	createTopic(t, addr, "sl", 1, nil)
	sessProduce(t, addr, "sl", 0, 3)
	id := topicIDOf(t, b, "sl")
	for _, v := range []int16{7, 12, 13, 18} {
		for _, sid := range []int32{-1, 0, 123456789} {
			resp := rawAt[*kmsg.FetchResponse](t, addr, sessFetch(v, "sl", id, sid, -1, map[int32]int64{0: 0}))
			if resp.ErrorCode != 0 || resp.SessionID != 0 {
				t.Fatalf("v%d session %d epoch -1: error %v, session %d; want a sessionless answer", v, sid, kerr.ErrorForCode(resp.ErrorCode), resp.SessionID)
			}
			if got := listed(resp); got[0] == 0 {
				t.Fatalf("v%d session %d epoch -1: partitions %v, want partition 0's records", v, sid, got)
			}
		}
	}
	if n, _ := b.fetchSessions.stats(); n != 0 {
		t.Fatalf("%d sessions made by sessionless fetches", n)
	}
}

// TestFetchIncrementalSession walks one session through KIP-227's rules:
// epoch 0 makes it, an incremental fetch lists only what changed, adds and
// updates partitions and forgets them, the wrong epoch, an unknown id and
// the other side of the topic-id line are refused with session id 0, the
// session works from any connection, and epoch -1 closes it.
func TestFetchIncrementalSession(t *testing.T) {
	for _, v := range []int16{12, 13} {
		b, addr := startTestBroker(t)
		createTopic(t, addr, "inc", 3, nil)
		sessProduce(t, addr, "inc", 0, 2) // offsets 0-1
		id := topicIDOf(t, b, "inc")
		fetch := func(sid, epoch int32, offsets map[int32]int64) *kmsg.FetchResponse {
			t.Helper()
			return rawAt[*kmsg.FetchResponse](t, addr, sessFetch(v, "inc", id, sid, epoch, offsets))
		}
		open := fetch(0, 0, map[int32]int64{0: 0, 1: 0})
		sid := open.SessionID
		if open.ErrorCode != 0 || sid == 0 {
			t.Fatalf("v%d epoch 0: error %v, session %d; want a new session", v, kerr.ErrorForCode(open.ErrorCode), sid)
		}
		if got := listed(open); len(got) != 2 || got[0] == 0 {
			t.Fatalf("v%d epoch 0 answer lists %v, want partitions 0 (records) and 1", v, got)
		}
		if n, parts := b.fetchSessions.stats(); n != 1 || parts != 2 {
			t.Fatalf("v%d: cache holds %d sessions, %d partitions; want 1, 2", v, n, parts)
		}
		// Partition 0 moves to its end; nothing else changed.
		if r := fetch(sid, 1, map[int32]int64{0: 2}); r.ErrorCode != 0 || r.SessionID != sid || len(listed(r)) != 0 {
			t.Fatalf("v%d unchanged incremental fetch: error %v, session %d, lists %v; want nothing listed", v, kerr.ErrorForCode(r.ErrorCode), r.SessionID, listed(r))
		}
		// New records on partition 0 (at its cached offset 2): listed.
		sessProduce(t, addr, "inc", 0, 1)
		if r := fetch(sid, 2, nil); r.ErrorCode != 0 || len(listed(r)) != 1 || listed(r)[0] == 0 {
			t.Fatalf("v%d after a produce: lists %v, want partition 0 with its record", v, listed(r))
		}
		// Partition 2 joins: listed once (first answer), then not.
		if r := fetch(sid, 3, map[int32]int64{0: 3, 2: 0}); !maps1(listed(r), 2) {
			t.Fatalf("v%d added partition 2: lists %v, want only 2", v, listed(r))
		}
		if r := fetch(sid, 4, nil); len(listed(r)) != 0 {
			t.Fatalf("v%d settled session lists %v", v, listed(r))
		}
		// The session goes on from another connection (rawAt dials anew
		// each time) and the same epoch twice is refused.
		if r := fetch(sid, 4, nil); r.ErrorCode != kerr.InvalidFetchSessionEpoch.Code || r.SessionID != 0 || len(r.Topics) != 0 {
			t.Fatalf("v%d repeated epoch: error %v, session %d; want INVALID_FETCH_SESSION_EPOCH with session 0", v, kerr.ErrorForCode(r.ErrorCode), r.SessionID)
		}
		if r := fetch(sid+1, 5, nil); r.ErrorCode != kerr.FetchSessionIDNotFound.Code || r.SessionID != 0 {
			t.Fatalf("v%d unknown session: error %v, session %d; want FETCH_SESSION_ID_NOT_FOUND with session 0", v, kerr.ErrorForCode(r.ErrorCode), r.SessionID)
		}
		other := int16(13)
		if v >= 13 {
			other = 12
		}
		if r := rawAt[*kmsg.FetchResponse](t, addr, sessFetch(other, "inc", id, sid, 5, nil)); r.ErrorCode != kerr.FetchSessionTopicIDError.Code {
			t.Fatalf("v%d session used at v%d: error %v, want FETCH_SESSION_TOPIC_ID_ERROR", v, other, kerr.ErrorForCode(r.ErrorCode))
		}
		// ForgottenTopics: partitions 0 and 1 leave; 2 stays.
		forget := sessFetch(v, "inc", id, sid, 5, nil)
		ft := kmsg.NewFetchRequestForgottenTopic()
		ft.Topic, ft.Partitions = "inc", []int32{0, 1}
		if v >= 13 {
			ft.TopicID = id
		}
		forget.ForgottenTopics = append(forget.ForgottenTopics, ft)
		if r := rawAt[*kmsg.FetchResponse](t, addr, forget); r.ErrorCode != 0 || r.SessionID != sid {
			t.Fatalf("v%d forget: error %v, session %d", v, kerr.ErrorForCode(r.ErrorCode), r.SessionID)
		}
		if _, parts := b.fetchSessions.stats(); parts != 1 {
			t.Fatalf("v%d: %d partitions cached after forgetting two of three", v, parts)
		}
		// A record on a forgotten partition is not listed.
		sessProduce(t, addr, "inc", 0, 1)
		sessProduce(t, addr, "inc", 1, 1)
		if r := fetch(sid, 6, nil); len(listed(r)) != 0 {
			t.Fatalf("v%d forgotten partition listed: %v", v, listed(r))
		}
		// Epoch -1 closes the session; it is then unknown.
		if r := fetch(sid, -1, map[int32]int64{0: 0}); r.ErrorCode != 0 || r.SessionID != 0 || listed(r)[0] == 0 {
			t.Fatalf("v%d close: error %v, session %d, lists %v", v, kerr.ErrorForCode(r.ErrorCode), r.SessionID, listed(r))
		}
		if r := fetch(sid, 7, nil); r.ErrorCode != kerr.FetchSessionIDNotFound.Code {
			t.Fatalf("v%d closed session: error %v, want FETCH_SESSION_ID_NOT_FOUND", v, kerr.ErrorForCode(r.ErrorCode))
		}
		if n, parts := b.fetchSessions.stats(); n != 0 || parts != 0 {
			t.Fatalf("v%d: %d sessions, %d partitions left after the close", v, n, parts)
		}
	}
}

// maps1 reports whether m lists exactly partition p.
func maps1(m map[int32]int, p int32) bool {
	_, ok := m[p]
	return ok && len(m) == 1
}

// TestFetchSessionSlots: max.incremental.fetch.session.cache.slots bounds
// the sessions; a full fetch that finds no slot is answered with session
// id 0 (the client goes on with full fetches) and its records; 0 slots
// means no sessions.
func TestFetchSessionSlots(t *testing.T) {
	b, addr := startTestBroker(t, "max.incremental.fetch.session.cache.slots=1")
	createTopic(t, addr, "slots", 1, nil)
	sessProduce(t, addr, "slots", 0, 1)
	id := topicIDOf(t, b, "slots")
	first := rawAt[*kmsg.FetchResponse](t, addr, sessFetch(13, "slots", id, 0, 0, map[int32]int64{0: 0}))
	second := rawAt[*kmsg.FetchResponse](t, addr, sessFetch(13, "slots", id, 0, 0, map[int32]int64{0: 0}))
	if first.SessionID == 0 || second.SessionID != 0 || listed(second)[0] == 0 {
		t.Fatalf("one slot: sessions %d and %d (second lists %v); want a session, then none but the records", first.SessionID, second.SessionID, listed(second))
	}
	// Closing the first frees its slot.
	rawAt[*kmsg.FetchResponse](t, addr, sessFetch(13, "slots", id, first.SessionID, -1, nil))
	if third := rawAt[*kmsg.FetchResponse](t, addr, sessFetch(13, "slots", id, 0, 0, map[int32]int64{0: 0})); third.SessionID == 0 {
		t.Fatal("no session after the only one was closed")
	}

	b0, addr0 := startTestBroker(t, "max.incremental.fetch.session.cache.slots=0")
	createTopic(t, addr0, "slots", 1, nil)
	id0 := topicIDOf(t, b0, "slots")
	if r := rawAt[*kmsg.FetchResponse](t, addr0, sessFetch(13, "slots", id0, 0, 0, map[int32]int64{0: 0})); r.ErrorCode != 0 || r.SessionID != 0 {
		t.Fatalf("0 slots: error %v, session %d; want no session", kerr.ErrorForCode(r.ErrorCode), r.SessionID)
	}
}

// TestFetchSessionConcurrentEpochs: fetches on one session racing with
// one epoch get one answer on the session and INVALID_FETCH_SESSION_EPOCH
// for the rest, and leave the session usable (run with -race: the
// session's state is shared by the connections' goroutines).
func TestFetchSessionConcurrentEpochs(t *testing.T) {
	b, addr := startTestBroker(t)
	createTopic(t, addr, "race", 4, nil)
	for p := range int32(4) {
		sessProduce(t, addr, "race", p, 8)
	}
	id := topicIDOf(t, b, "race")
	open := rawAt[*kmsg.FetchResponse](t, addr, sessFetch(13, "race", id, 0, 0, map[int32]int64{0: 0, 1: 0, 2: 0, 3: 0}))
	sid := open.SessionID
	if sid == 0 {
		t.Fatal("no session")
	}
	epoch := int32(1)
	for round := range 20 {
		var wg sync.WaitGroup
		codes := make([]int16, 4)
		for i := range codes {
			wg.Go(func() {
				codes[i] = rawAt[*kmsg.FetchResponse](t, addr, sessFetch(13, "race", id, sid, epoch, nil)).ErrorCode
			})
		}
		wg.Wait()
		ok := 0
		for _, c := range codes {
			switch c {
			case 0:
				ok++
			case kerr.InvalidFetchSessionEpoch.Code:
			default:
				t.Fatalf("round %d: error %v", round, kerr.ErrorForCode(c))
			}
		}
		// The first one in moves the epoch on: the others are refused.
		if ok != 1 {
			t.Fatalf("round %d: %d fetches at epoch %d answered on the session, want 1", round, ok, epoch)
		}
		epoch++
	}
	if r := rawAt[*kmsg.FetchResponse](t, addr, sessFetch(13, "race", id, sid, epoch, nil)); r.ErrorCode != 0 || r.SessionID != sid {
		t.Fatalf("after the races: error %v, session %d", kerr.ErrorForCode(r.ErrorCode), r.SessionID)
	}
}

// TestFetchErrorAnswersAsKafka: the Fetch answers the differential tester
// found to differ from Kafka 4.4's. Each failed before the fix.
func TestFetchErrorAnswersAsKafka(t *testing.T) {
	b, addr := startTestBroker(t)
	createTopic(t, addr, "errs", 1, nil)
	sessProduce(t, addr, "errs", 0, 3)
	id := topicIDOf(t, b, "errs")

	// OFFSET_OUT_OF_RANGE carries -1 high watermark, last stable and log
	// start offsets (not the partition's).
	for _, off := range []int64{-1, 100} {
		r := rawAt[*kmsg.FetchResponse](t, addr, sessFetch(12, "errs", id, 0, -1, map[int32]int64{0: off}))
		sp := r.Topics[0].Partitions[0]
		if sp.ErrorCode != kerr.OffsetOutOfRange.Code || sp.HighWatermark != -1 || sp.LastStableOffset != -1 || sp.LogStartOffset != -1 {
			t.Fatalf("offset %d: error %v, high watermark %d, last stable %d, log start %d; want OFFSET_OUT_OF_RANGE and -1s",
				off, kerr.ErrorForCode(sp.ErrorCode), sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset)
		}
	}

	// An unknown isolation level fails the request: UNKNOWN_SERVER_ERROR at
	// the top, and below v13 in every partition too; the session id is
	// echoed.
	for _, v := range []int16{12, 13} {
		req := sessFetch(v, "errs", id, 42, -1, map[int32]int64{0: 0})
		req.IsolationLevel = 2
		r := rawAt[*kmsg.FetchResponse](t, addr, req)
		if r.ErrorCode != kerr.UnknownServerError.Code || r.SessionID != 42 {
			t.Fatalf("v%d isolation 2: error %v, session %d; want UNKNOWN_SERVER_ERROR, session 42", v, kerr.ErrorForCode(r.ErrorCode), r.SessionID)
		}
		switch {
		case v >= 13 && len(r.Topics) != 0:
			t.Fatalf("v%d isolation 2 lists %d topics, want none", v, len(r.Topics))
		case v < 13 && (len(r.Topics) != 1 || r.Topics[0].Partitions[0].ErrorCode != kerr.UnknownServerError.Code ||
			r.Topics[0].Partitions[0].HighWatermark != -1 || len(r.Topics[0].Partitions[0].RecordBatches) != 0):
			t.Fatalf("v%d isolation 2: topics %+v, want the partition with UNKNOWN_SERVER_ERROR and no records", v, r.Topics)
		}
	}

	// A consumer's last fetched epoch (v12+) the log never had is
	// OFFSET_OUT_OF_RANGE.
	req := sessFetch(12, "errs", id, 0, -1, map[int32]int64{0: 3})
	req.Topics[0].Partitions[0].LastFetchedEpoch = 3
	if sp := rawAt[*kmsg.FetchResponse](t, addr, req).Topics[0].Partitions[0]; sp.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("last fetched epoch 3 of a log at epoch 0: %v, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(sp.ErrorCode))
	}
	req.Topics[0].Partitions[0].LastFetchedEpoch = 0
	if sp := rawAt[*kmsg.FetchResponse](t, addr, req).Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.DivergingEpoch.Epoch != -1 {
		t.Fatalf("last fetched epoch 0 at the log end: error %v, diverging epoch %d; want a plain answer", kerr.ErrorForCode(sp.ErrorCode), sp.DivergingEpoch.Epoch)
	}
}

// TestFetchConsumerDivergingEpoch: a consumer whose last fetched epoch
// ended, on the leader, below its fetch offset is told where (KIP-320:
// DivergingEpoch, no records), as a follower is; before the fix it got the
// records after its offset.
func TestFetchConsumerDivergingEpoch(t *testing.T) {
	c := newReplCluster(t, 1)
	c.createTopic("cde", []int32{1}, nil)
	c.produceTo("cde", kgo.AllISRAcks(), "a", "b", "c") // epoch 0: [0, 3)
	c.cas("cde", func(st *coordinator.PartitionState) { st.LeaderEpoch++ })
	waitLong(t, "leader at epoch 1", func() bool {
		p := c.brokers[1].partition("cde", 0)
		return p != nil && p.leaderEpoch.Load() == 1
	})
	c.produceTo("cde", kgo.AllISRAcks(), "d", "e", "f") // epoch 1: [3, 6)
	id, _ := c.state("cde")
	fetch := func(offset int64, lastEpoch int32) kmsg.FetchResponseTopicPartition {
		t.Helper()
		req := replicaFetch(12, -1, "cde", id, offset, lastEpoch, 1)
		return c.raw(1, req, 10*time.Second).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	}
	// It read to 5 believing epoch 0 went on: epoch 0 ended at 3.
	if sp := fetch(5, 0); sp.ErrorCode != 0 || sp.DivergingEpoch.Epoch != 0 || sp.DivergingEpoch.EndOffset != 3 || len(sp.RecordBatches) != 0 || sp.HighWatermark != 6 {
		t.Fatalf("diverged consumer: error %v, diverging (%d, %d), %d bytes, high watermark %d; want (0, 3), no records, 6",
			kerr.ErrorForCode(sp.ErrorCode), sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset, len(sp.RecordBatches), sp.HighWatermark)
	}
	// One that knows epoch 1 reads on.
	if sp := fetch(5, 1); sp.ErrorCode != 0 || sp.DivergingEpoch.Epoch != -1 || len(sp.RecordBatches) == 0 {
		t.Fatalf("consumer in epoch 1: error %v, diverging epoch %d, %d bytes; want record 5", kerr.ErrorForCode(sp.ErrorCode), sp.DivergingEpoch.Epoch, len(sp.RecordBatches))
	}
	// Epoch 0 up to 3 is fine too.
	if sp := fetch(3, 0); sp.ErrorCode != 0 || sp.DivergingEpoch.Epoch != -1 || len(sp.RecordBatches) == 0 {
		t.Fatalf("consumer at the end of epoch 0: error %v, diverging epoch %d, %d bytes", kerr.ErrorForCode(sp.ErrorCode), sp.DivergingEpoch.Epoch, len(sp.RecordBatches))
	}
}

// TestFetchSessionManyPartitionsFranz: franz-go, which uses incremental
// fetch sessions, consumes every record of a topic of many partitions
// while they are being produced, and the broker holds its session with
// every partition.
func TestFetchSessionManyPartitionsFranz(t *testing.T) {
	b, addr := startTestBroker(t)
	const parts, perPart = 48, 20
	createTopic(t, addr, "many", parts, nil)
	cl := newClient(t, addr, kgo.ConsumeTopics("many"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	prod := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t)
	go func() {
		for i := range perPart {
			for p := range int32(parts) {
				prod.Produce(ctx, &kgo.Record{Topic: "many", Partition: p, Value: []byte{byte(i)}}, nil)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	next := map[int32]byte{}
	got := 0
	for got < parts*perPart {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before timeout", got, parts*perPart)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", topic, p, err) })
		for _, r := range fs.Records() {
			if r.Value[0] != next[r.Partition] {
				t.Fatalf("partition %d: record %d, want %d (a gap or a repeat)", r.Partition, r.Value[0], next[r.Partition])
			}
			next[r.Partition]++
			got++
		}
	}
	if n, cached := b.fetchSessions.stats(); n != 1 || cached != parts {
		t.Fatalf("cache holds %d sessions with %d partitions; want franz-go's one with all %d", n, cached, parts)
	}
}

// TestFetchSessionCacheEviction: Kafka's eviction rules (tryEvict) with a
// clock of the test's.
func TestFetchSessionCacheEviction(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	c := newSessionCache(2, func() time.Time { return now })
	mk := func(privileged bool, size int) int32 {
		return c.create(privileged, false, size, func(s *fetchSession) {
			for p := range size {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition = int32(p)
				s.add(sessionKey{topic: "t", partition: int32(p)}, &rp, 0, 0)
			}
		})
	}
	touch := func(id int32) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.touchLocked(c.sessions[id], now)
	}
	has := func(id int32) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sessions[id] != nil
	}
	a := mk(false, 5)
	bID := mk(false, 10)
	if a == 0 || bID == 0 || a == bID {
		t.Fatalf("sessions %d, %d", a, bID)
	}
	// Full, nothing stale, nothing old enough: a larger consumer session
	// is refused.
	if id := mk(false, 50); id != 0 {
		t.Fatal("a new session evicted a recent one")
	}
	// A follower's evicts the smallest consumer session at once.
	f := mk(true, 1)
	if f == 0 || has(a) || !has(bID) {
		t.Fatalf("follower session %d; a kept %v, b kept %v; want a evicted", f, has(a), has(bID))
	}
	// A consumer's never evicts a follower's, nor an equal or larger one.
	if mk(false, 10) != 0 || mk(false, 3) != 0 {
		t.Fatal("a consumer session evicted one it may not")
	}
	// b, used more than the eviction time after its creation, becomes
	// evictable by a larger consumer session.
	now = now.Add(fetchSessionEvictAfter + time.Second)
	touch(bID)
	touch(f)
	if mk(false, 10) != 0 {
		t.Fatal("an equal-sized session evicted an old one")
	}
	if id := mk(false, 11); id == 0 || has(bID) || !has(f) {
		t.Fatalf("larger session %d: b kept %v, follower kept %v; want b evicted", id, has(bID), has(f))
	}
	// A stale session (unused for the eviction time) goes first, even a
	// follower's, even for a small one.
	now = now.Add(fetchSessionEvictAfter + time.Second)
	if id := mk(false, 1); id == 0 {
		t.Fatal("a stale session was not evicted")
	}
	if n, parts := c.stats(); n != 2 || parts > 12 {
		t.Fatalf("cache: %d sessions, %d partitions", n, parts)
	}

	none := newSessionCache(0, func() time.Time { return now })
	if id := none.create(true, false, 1, func(*fetchSession) {}); id != 0 {
		t.Fatal("a session with 0 slots")
	}
}

// TestSessionPartitionMustRespond: Kafka's rules for listing a partition
// in an incremental answer (CachedPartition.maybeUpdateResponseData).
func TestSessionPartitionMustRespond(t *testing.T) {
	base := func() kmsg.FetchResponseTopicPartition {
		sp := kmsg.NewFetchResponseTopicPartition()
		sp.HighWatermark, sp.LogStartOffset = 10, 2
		return sp
	}
	for _, c := range []struct {
		name    string
		edit    func(*kmsg.FetchResponseTopicPartition)
		records int
		want    bool
	}{
		{"unchanged", nil, 0, false},
		{"records", nil, 100, true},
		{"high watermark", func(sp *kmsg.FetchResponseTopicPartition) { sp.HighWatermark = 11 }, 0, true},
		{"log start", func(sp *kmsg.FetchResponseTopicPartition) { sp.LogStartOffset = 3 }, 0, true},
		{"preferred replica", func(sp *kmsg.FetchResponseTopicPartition) { sp.PreferredReadReplica = 2 }, 0, true},
		{"error", func(sp *kmsg.FetchResponseTopicPartition) { sp.ErrorCode = kerr.NotLeaderForPartition.Code }, 0, true},
		{"diverging", func(sp *kmsg.FetchResponseTopicPartition) {
			sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = 0, 4
		}, 0, true},
	} {
		p := &sessionPartition{hw: 10, logStart: 2}
		out := base()
		if c.edit != nil {
			c.edit(&out)
		}
		if got := p.mustRespond(&out, c.records); got != c.want {
			t.Errorf("%s: listed %v, want %v", c.name, got, c.want)
		}
	}
	// After an error the partition is listed again once it is gone.
	p := &sessionPartition{hw: 10, logStart: 2}
	bad := base()
	bad.ErrorCode = kerr.NotLeaderForPartition.Code
	p.mustRespond(&bad, 0)
	good := base()
	if !p.mustRespond(&good, 0) || p.mustRespond(&good, 0) {
		t.Error("a partition whose error went away is not listed exactly once")
	}
}

// TestFetchSessionOrder: partitions that returned records move to the end
// of the session's order (the next fetch gives the others the byte budget
// first); forgotten ones leave it.
func TestFetchSessionOrder(t *testing.T) {
	s := &fetchSession{index: map[sessionKey]*sessionPartition{}}
	for p := range int32(5) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p
		s.add(sessionKey{topic: "t", partition: p}, &rp, 0, 0)
	}
	order := func() []int32 {
		var out []int32
		for _, sp := range s.parts {
			out = append(out, sp.key.partition)
		}
		return out
	}
	s.parts[1].moved, s.parts[3].moved = true, true
	s.reorderLocked()
	if got := order(); !slices.Equal(got, []int32{0, 2, 4, 1, 3}) {
		t.Fatalf("order %v, want 0 2 4 1 3", got)
	}
	req := kmsg.NewPtrFetchRequest()
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.Topic, ft.Partitions = "t", []int32{2, 1}
	req.ForgottenTopics = append(req.ForgottenTopics, ft)
	s.updateLocked(req)
	if got := order(); !slices.Equal(got, []int32{0, 4, 3}) {
		t.Fatalf("order after forgetting 2 and 1: %v, want 0 4 3", got)
	}
	if nextSessionEpoch(0) != 1 || nextSessionEpoch(math.MaxInt32) != 1 || nextSessionEpoch(-1) != -1 {
		t.Fatal("session epochs do not count as KIP-227's")
	}
}

// TestFetchOfNothingAnswersAtOnce: a fetch that names no partition to
// read is answered without waiting max_wait_ms, as Kafka's
// ReplicaManager.fetchMessages answers at once when fetchInfos is empty.
// The Java consumer's close sends one (epoch -1 on its session, no
// partitions) and waits for its answer: held for fetch.max.wait.ms, every
// consumer close took half a second longer (Kafka Connect's worker closes
// five of them when it stops).
func TestFetchOfNothingAnswersAtOnce(t *testing.T) {
	b, addr := startTestBroker(t)
	createTopic(t, addr, "none", 1, nil)
	id := topicIDOf(t, b, "none")
	fetch := func(what string, sid, epoch int32, offsets map[int32]int64) *kmsg.FetchResponse {
		t.Helper()
		req := sessFetch(13, "none", id, sid, epoch, offsets)
		req.MaxWaitMillis, req.MinBytes = 3000, 1
		begin := time.Now()
		resp := rawAt[*kmsg.FetchResponse](t, addr, req)
		if took := time.Since(begin); took > time.Second {
			t.Fatalf("%s: answered after %v, want at once", what, took.Round(time.Millisecond))
		}
		if resp.ErrorCode != 0 {
			t.Fatalf("%s: error %v", what, kerr.ErrorForCode(resp.ErrorCode))
		}
		return resp
	}
	fetch("sessionless fetch of no partition", 0, -1, nil)
	open := fetch("a new session with no partition", 0, 0, nil)
	fetch("an incremental fetch of an empty session", open.SessionID, 1, nil)

	// The consumer's close: its session holds a partition, and the final
	// fetch (epoch -1) names none.
	req := sessFetch(13, "none", id, 0, 0, map[int32]int64{0: 0})
	sess := rawAt[*kmsg.FetchResponse](t, addr, req)
	if sess.SessionID == 0 {
		t.Fatal("no session made")
	}
	// An incremental fetch naming nothing on that session reads the
	// session's partition: it waits for data as any other.
	inc := sessFetch(13, "none", id, sess.SessionID, 1, nil)
	inc.MaxWaitMillis, inc.MinBytes = 300, 1
	begin := time.Now()
	rawAt[*kmsg.FetchResponse](t, addr, inc)
	if took := time.Since(begin); took < 250*time.Millisecond {
		t.Fatalf("an incremental fetch of a session holding a partition was answered after %v, want it to wait max_wait_ms (300ms)", took)
	}
	if r := fetch("the close of a session", sess.SessionID, -1, nil); r.SessionID != 0 || len(r.Topics) != 0 {
		t.Fatalf("close: session %d, topics %v", r.SessionID, listed(r))
	}

	// A fetch that does name a partition still waits for data.
	req = sessFetch(13, "none", id, 0, -1, map[int32]int64{0: 0})
	req.MaxWaitMillis, req.MinBytes = 300, 1
	begin = time.Now()
	rawAt[*kmsg.FetchResponse](t, addr, req)
	if took := time.Since(begin); took < 250*time.Millisecond {
		t.Fatalf("a fetch of an empty partition was answered after %v, want it to wait max_wait_ms (300ms)", took)
	}
}
