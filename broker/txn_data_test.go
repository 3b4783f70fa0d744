package broker

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/samsa-io/samsa/protocol"
	"github.com/samsa-io/samsa/storage"
)

const txnEnable = "samsa.transactions.enable=true"

// txnBatch is testBatch with the transactional attribute.
func txnBatch(pid int64, epoch int16, seq int32, n int) []byte {
	b := testBatch(pid, epoch, seq, n)
	binary.BigEndian.PutUint16(b[21:], uint16(protocol.AttrTransactional))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// batchHeaders splits fetched records into their batch headers.
func batchHeaders(t *testing.T, recs []byte) []protocol.BatchHeader {
	t.Helper()
	var out []protocol.BatchHeader
	for len(recs) > 0 {
		h, err := protocol.ParseBatchHeader(recs)
		if err != nil || h.Size() > int64(len(recs)) {
			break // a partial batch at the end
		}
		out = append(out, h)
		recs = recs[h.Size():]
	}
	return out
}

// fetchIso fetches partition 0 of topic from offset with an isolation level.
func fetchIso(t *testing.T, cl *kgo.Client, b *Broker, topic string, offset int64, iso int8) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxBytes = 1 << 20
	req.IsolationLevel = iso
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, topicIDOf(t, b, topic)
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch answer: %+v", resp)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("fetch: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	return p
}

func listLatest(t *testing.T, cl *kgo.Client, topic string, iso int8) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.IsolationLevel = iso
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("list offsets: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	return p.Offset
}

// TestTxnReadCommittedFetch: transactional batches and markers appended
// to a led partition's log are served to read_committed consumers up to
// the last stable offset, with the aborted transactions listed; the LSO
// is reported to everyone and ListOffsets read_committed matches it.
func TestTxnReadCommittedFetch(t *testing.T) {
	b, addr := startTestBroker(t, txnEnable)
	createTopic(t, addr, "rc", 1, nil)
	cl := newClient(t, addr)
	var p *partition
	deadline := time.Now().Add(10 * time.Second)
	for p = b.partition("rc", 0); p == nil || !p.leader.Load(); p = b.partition("rc", 0) {
		if time.Now().After(deadline) {
			t.Fatal("rc-0 not led")
		}
		time.Sleep(10 * time.Millisecond)
	}
	appendB := func(batch []byte) {
		t.Helper()
		if _, err := p.log.Append(batch, p.leaderEpoch.Load(), -1); err != nil {
			t.Fatal(err)
		}
		p.maybeAdvanceHW(b)
	}
	marker := func(pid int64, commit bool) {
		t.Helper()
		if _, err := p.log.AppendTxnMarker(storage.TxnMarker{ProducerID: pid, ProducerEpoch: 0, Commit: commit, LeaderEpoch: p.leaderEpoch.Load()}); err != nil {
			t.Fatal(err)
		}
		p.maybeAdvanceHW(b)
	}
	check := func(what string, got kmsg.FetchResponseTopicPartition, hw, lso int64, lastOffset int64, aborted map[int64]int64) {
		t.Helper()
		hs := batchHeaders(t, got.RecordBatches)
		last := int64(-1)
		if len(hs) > 0 {
			last = hs[len(hs)-1].LastOffset()
		}
		if got.HighWatermark != hw || got.LastStableOffset != lso || last != lastOffset {
			t.Errorf("%s: hw %d lso %d last offset %d, want %d %d %d", what, got.HighWatermark, got.LastStableOffset, last, hw, lso, lastOffset)
		}
		if len(got.AbortedTransactions) != len(aborted) {
			t.Errorf("%s: aborted %+v, want %v", what, got.AbortedTransactions, aborted)
		}
		for _, a := range got.AbortedTransactions {
			if first, ok := aborted[a.ProducerID]; !ok || first != a.FirstOffset {
				t.Errorf("%s: aborted %+v, want %v", what, got.AbortedTransactions, aborted)
			}
		}
	}

	appendB(testBatch(-1, -1, -1, 2)) // 0-1
	appendB(txnBatch(100, 0, 0, 3))   // 2-4, open
	appendB(txnBatch(200, 0, 0, 2))   // 5-6, open
	check("open, committed", fetchIso(t, cl, b, "rc", 0, 1), 7, 2, 1, nil)
	check("open, uncommitted", fetchIso(t, cl, b, "rc", 0, 0), 7, 2, 6, nil)
	if got := fetchIso(t, cl, b, "rc", 0, 0); got.AbortedTransactions != nil {
		t.Errorf("read_uncommitted lists aborted transactions: %+v", got.AbortedTransactions)
	}
	if lso, hw := listLatest(t, cl, "rc", 1), listLatest(t, cl, "rc", 0); lso != 2 || hw != 7 {
		t.Errorf("list offsets latest: committed %d uncommitted %d, want 2 7", lso, hw)
	}

	marker(100, true) // 7: 100 committed; 200 still holds the LSO at 5
	check("100 committed", fetchIso(t, cl, b, "rc", 0, 1), 8, 5, 4, nil)
	marker(200, false) // 8: 200 aborted
	check("200 aborted", fetchIso(t, cl, b, "rc", 0, 1), 9, 9, 8, map[int64]int64{200: 5})
	check("200 aborted, from 5", fetchIso(t, cl, b, "rc", 5, 1), 9, 9, 8, map[int64]int64{200: 5})
	check("past the abort", fetchIso(t, cl, b, "rc", 9, 1), 9, 9, -1, nil)
	check("uncommitted", fetchIso(t, cl, b, "rc", 0, 0), 9, 9, 8, nil)
	if lso := listLatest(t, cl, "rc", 1); lso != 9 {
		t.Errorf("list offsets latest read_committed: %d, want 9", lso)
	}

	// A non-transactional batch of a producer with a transaction open is
	// refused with INVALID_TXN_STATE by the produce path.
	appendB(txnBatch(300, 0, 0, 1)) // 9, open
	if sp := produceRaw(t, addr, "rc", testBatch(300, 0, 1, 1)); sp.ErrorCode != kerr.InvalidTxnState.Code {
		t.Errorf("plain batch inside a transaction: %v", kerr.ErrorForCode(sp.ErrorCode))
	}
}

// tv1Client is a client pinned to the transaction version 1 (TV1) APIs.
func tv1Client(t *testing.T, addr string) *kgo.Client {
	v := kversion.Stable()
	v.SetMaxKeyVersion(kmsg.AddOffsetsToTxn.Int16(), 3)
	v.SetMaxKeyVersion(kmsg.AddPartitionsToTxn.Int16(), 3)
	v.SetMaxKeyVersion(kmsg.EndTxn.Int16(), 4)
	v.SetMaxKeyVersion(kmsg.TxnOffsetCommit.Int16(), 3)
	v.SetMaxKeyVersion(kmsg.Produce.Int16(), 11)
	return newClient(t, addr, kgo.MaxVersions(v))
}

// retry runs f until it returns a code other than the retriable ones.
func retry(t *testing.T, what string, f func() int16) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code := f()
		switch code {
		case kerr.CoordinatorLoadInProgress.Code, kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code,
			kerr.ConcurrentTransactions.Code, kerr.NotEnoughReplicas.Code:
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %v", what, kerr.ErrorForCode(code))
			}
			time.Sleep(20 * time.Millisecond)
			continue
		case 0:
			return
		}
		t.Fatalf("%s: %v", what, kerr.ErrorForCode(code))
	}
}

func initTxnProducer(t *testing.T, cl *kgo.Client, txnID string) (int64, int16) {
	t.Helper()
	var pid int64
	var epoch int16
	retry(t, "init producer id", func() int16 {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = &txnID
		req.TransactionTimeoutMillis = 60000
		resp, err := req.RequestWith(testCtx(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		pid, epoch = resp.ProducerID, resp.ProducerEpoch
		return resp.ErrorCode
	})
	return pid, epoch
}

func endTxn(t *testing.T, cl *kgo.Client, txnID string, pid int64, epoch int16, commit bool) {
	t.Helper()
	retry(t, "end txn", func() int16 {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = txnID, pid, epoch, commit
		resp, err := req.RequestWith(testCtx(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode
	})
}

func txnOffsetCommit(t *testing.T, cl *kgo.Client, txnID, grp string, pid int64, epoch int16, offset int64) int16 {
	t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = txnID, grp, pid, epoch
	req.Generation = -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "to"
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Offset = offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// offsetFetch returns the committed offset of to-0 for grp and its error.
func offsetFetch(t *testing.T, cl *kgo.Client, grp string, stable bool) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = stable
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = grp
	rt := kmsg.NewOffsetFetchRequestGroupTopic()
	rt.Topic, rt.Partitions = "to", []int32{0}
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	g := resp.Groups[0]
	if g.ErrorCode != 0 {
		return -1, g.ErrorCode
	}
	p := g.Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

// TestTxnOffsetCommitThroughEndTxn: TxnOffsetCommit (TV1: after
// AddOffsetsToTxn) leaves the offset pending, UNSTABLE_OFFSET_COMMIT to
// require_stable; EndTxn commit's marker makes it the committed offset,
// an abort's drops it.
func TestTxnOffsetCommitThroughEndTxn(t *testing.T) {
	_, addr := startTestBroker(t, txnEnable)
	createTopic(t, addr, "to", 1, nil)
	cl := tv1Client(t, addr)
	const txnID, grp = "tx-offsets", "g-offsets"
	pid, epoch := initTxnProducer(t, cl, txnID)

	addOffsets := func() {
		retry(t, "add offsets", func() int16 {
			req := kmsg.NewPtrAddOffsetsToTxnRequest()
			req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = txnID, pid, epoch, grp
			resp, err := req.RequestWith(testCtx(t), cl)
			if err != nil {
				t.Fatal(err)
			}
			return resp.ErrorCode
		})
	}
	waitOffset := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			off, code := offsetFetch(t, cl, grp, true)
			if code == 0 && off == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("offset %d (%v), want %d", off, kerr.ErrorForCode(code), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	addOffsets()
	retry(t, "txn offset commit", func() int16 { return txnOffsetCommit(t, cl, txnID, grp, pid, epoch, 5) })
	if off, code := offsetFetch(t, cl, grp, false); code != 0 || off != -1 {
		t.Fatalf("pending offset visible: %d %v", off, kerr.ErrorForCode(code))
	}
	if _, code := offsetFetch(t, cl, grp, true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require_stable while pending: %v", kerr.ErrorForCode(code))
	}
	endTxn(t, cl, txnID, pid, epoch, true)
	waitOffset(5)

	addOffsets()
	retry(t, "txn offset commit", func() int16 { return txnOffsetCommit(t, cl, txnID, grp, pid, epoch, 9) })
	endTxn(t, cl, txnID, pid, epoch, false)
	waitOffset(5) // stable again, and still 5

	// Without AddOffsetsToTxn the group's partition is not in the
	// transaction: the verification refuses the commit.
	if code := txnOffsetCommit(t, cl, txnID, grp, pid, epoch, 11); code == 0 {
		t.Fatal("a TxnOffsetCommit outside a transaction was accepted")
	}
}

// TestTxnProduceTV2ReadCommitted: a TV2 producer (Produce v12+, here the
// client's newest, no AddPartitionsToTxn) writes a transaction that read_committed fetches
// see only after EndTxn v5 commits it.
func TestTxnProduceTV2ReadCommitted(t *testing.T) {
	b, addr := startTestBroker(t, txnEnable)
	createTopic(t, addr, "tv2", 1, nil)
	cl := newClient(t, addr)
	const txnID = "tx-tv2"
	pid, epoch := initTxnProducer(t, cl, txnID)
	produce := func(batch []byte) int16 {
		req := kmsg.NewPtrProduceRequest()
		req.TransactionID = strPtr(txnID)
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = "tv2", topicIDOf(t, b, "tv2")
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(testCtx(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	retry(t, "transactional produce", func() int16 { return produce(txnBatch(pid, epoch, 0, 3)) })
	if got := fetchIso(t, cl, b, "tv2", 0, 1); got.LastStableOffset != 0 || len(batchHeaders(t, got.RecordBatches)) != 0 {
		t.Fatalf("open transaction visible to read_committed: lso %d, %d batches", got.LastStableOffset, len(batchHeaders(t, got.RecordBatches)))
	}
	if got := fetchIso(t, cl, b, "tv2", 0, 0); len(batchHeaders(t, got.RecordBatches)) != 1 {
		t.Fatalf("read_uncommitted does not see the open transaction")
	}
	endTxn(t, cl, txnID, pid, epoch, true)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := fetchIso(t, cl, b, "tv2", 0, 1)
		if hs := batchHeaders(t, got.RecordBatches); got.LastStableOffset == 4 && len(hs) == 2 && hs[1].IsControl() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed transaction not visible: lso %d", got.LastStableOffset)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTxnGateOff: with samsa.transactions.enable=false TxnOffsetCommit is
// neither advertised nor served, and a transactional produce is refused as
// before transactions existed.
func TestTxnGateOff(t *testing.T) {
	b, addr := startTestBroker(t, "samsa.transactions.enable=false")
	createTopic(t, addr, "off", 1, nil)
	for _, k := range apiVersionsTable(b) {
		if k.ApiKey == kmsg.TxnOffsetCommit.Int16() {
			t.Fatal("TxnOffsetCommit advertised with the gate off")
		}
	}
	cl := newClient(t, addr)
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID = strPtr("tx")
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = "off", topicID(t, addr, "off")
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = txnBatch(1, 0, 0, 1)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transactional produce with the gate off: %v", kerr.ErrorForCode(code))
	}
	if sp := produceRaw(t, addr, "off", txnBatch(1, 0, 0, 1)); sp.ErrorCode != kerr.InvalidRecord.Code {
		t.Fatalf("transactional batch without an id, gate off: %v", kerr.ErrorForCode(sp.ErrorCode))
	}
	tc := kmsg.NewPtrTxnOffsetCommitRequest()
	tc.TransactionalID, tc.Group = "tx", "g"
	if _, err := tc.RequestWith(testCtx(t), cl); err == nil {
		t.Fatal("TxnOffsetCommit served with the gate off")
	}
}
