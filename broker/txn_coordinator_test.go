package broker

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/protocol"
)

// txnAPIs are the APIs the transaction coordinator serves, with the
// versions advertised.
var txnAPIs = map[int16][2]int16{
	kmsg.AddPartitionsToTxn.Int16():   {0, 5},
	kmsg.AddOffsetsToTxn.Int16():      {0, 4},
	kmsg.EndTxn.Int16():               {0, 5},
	kmsg.WriteTxnMarkers.Int16():      {1, 2},
	kmsg.DescribeTransactions.Int16(): {0, 0},
	kmsg.ListTransactions.Int16():     {0, 2},
}

func startTxnBroker(t *testing.T, overrides ...string) (*Broker, string) {
	t.Helper()
	return startTestBroker(t, append([]string{
		"samsa.transactions.enable=true",
		"transaction.state.log.num.partitions=3",
		"offsets.topic.num.partitions=3",
	}, overrides...)...)
}

func apiVersions(t *testing.T, addr string) *kmsg.ApiVersionsResponse {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 4
	req.ClientSoftwareName, req.ClientSoftwareVersion = "txn-test", "1"
	resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestTxnApiVersionsGate(t *testing.T) {
	for _, gate := range []bool{false, true} {
		var addr string
		if gate {
			_, addr = startTxnBroker(t)
		} else {
			_, addr = startTestBroker(t, "samsa.transactions.enable=false")
		}
		resp := apiVersions(t, addr)
		got := map[int16][2]int16{}
		for _, k := range resp.ApiKeys {
			if _, ok := txnAPIs[k.ApiKey]; ok {
				got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
			}
		}
		want := map[int16][2]int16{}
		if gate {
			want = txnAPIs
		}
		if len(got) != len(want) {
			t.Fatalf("gate %v: transaction APIs advertised %v, want %v", gate, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("gate %v: %s advertised %v, want %v", gate, kmsg.NameForKey(k), got[k], v)
			}
		}
		level := int16(0)
		for _, f := range resp.FinalizedFeatures {
			if f.Name == "transaction.version" {
				level = f.MaxVersionLevel
			}
		}
		if wantLevel := map[bool]int16{false: 0, true: 2}[gate]; level != wantLevel {
			t.Errorf("gate %v: transaction.version finalized at %d, want %d", gate, level, wantLevel)
		}
	}
}

// TestTxnInitProducerIDGateOff: with samsa.transactions.enable=false a
// transactional id is refused.
func TestTxnInitProducerIDGateOff(t *testing.T) {
	_, addr := startTestBroker(t, "samsa.transactions.enable=false")
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = kmsg.StringPtr("tx")
	req.TransactionTimeoutMillis = 60000
	resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("error %d, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", resp.ErrorCode)
	}
}

// TestTxnInitProducerIDBumpsEpoch: the same transactional id gets the same
// producer id with the epoch bumped.
func TestTxnInitProducerIDBumpsEpoch(t *testing.T) {
	_, addr := startTxnBroker(t)
	cl := newClient(t, addr)
	init := func() *kmsg.InitProducerIDResponse {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr("tx-init")
		req.TransactionTimeoutMillis = 60000
		for {
			resp, err := req.RequestWith(testCtx(t), cl)
			if err != nil {
				t.Fatal(err)
			}
			if resp.ErrorCode == kerr.CoordinatorLoadInProgress.Code || resp.ErrorCode == kerr.ConcurrentTransactions.Code {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			if resp.ErrorCode != 0 {
				t.Fatalf("InitProducerId: %v", kerr.ErrorForCode(resp.ErrorCode))
			}
			return resp
		}
	}
	a, b := init(), init()
	if a.ProducerID != b.ProducerID || b.ProducerEpoch != a.ProducerEpoch+1 {
		t.Fatalf("second InitProducerId: %d/%d after %d/%d", b.ProducerID, b.ProducerEpoch, a.ProducerID, a.ProducerEpoch)
	}
}

// txnLogBatch is one batch of a read_uncommitted fetch.
type txnLogBatch struct {
	hdr    protocol.BatchHeader
	marker protocol.EndTxnMarker
}

// fetchRawBatches reads topic-0 from offset 0 read_uncommitted and splits
// the records into batches.
func fetchRawBatches(t *testing.T, cl *kgo.Client, addr, topic string) []txnLogBatch {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 10
	req.MaxBytes = 1 << 20
	req.IsolationLevel = 0
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = topic, topicID(t, addr, topic)
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch, fp.LogStartOffset = 0, 0, 1<<20, -1, -1
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch answered %d topics", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("fetch: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	var out []txnLogBatch
	for b := p.RecordBatches; len(b) > 0; {
		h, err := protocol.DecodeBatchHeader(b)
		if err != nil || int64(len(b)) < h.Size() {
			break // a partial batch at the end
		}
		rb := txnLogBatch{hdr: h}
		if h.IsControl() {
			m, ok, err := protocol.ParseEndTxnMarker(b[:h.Size()])
			if err != nil || !ok {
				t.Fatalf("control batch at %d: ok %v, %v", h.BaseOffset, ok, err)
			}
			rb.marker = m
		}
		out = append(out, rb)
		b = b[h.Size():]
	}
	return out
}

// waitMarkers fetches until n control batches are in the log.
func waitMarkers(t *testing.T, cl *kgo.Client, addr, topic string, n int) []txnLogBatch {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		bs := fetchRawBatches(t, cl, addr, topic)
		c := 0
		for _, b := range bs {
			if b.hdr.IsControl() {
				c++
			}
		}
		if c >= n {
			return bs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d control batches after 15 s, want %d: %+v", c, n, bs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func txnClient(t *testing.T, addr, id, topic string) *kgo.Client {
	t.Helper()
	return newClient(t, addr, kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(30*time.Second))
}

func produceInTxn(ctx context.Context, cl *kgo.Client, values ...string) error {
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v), Partition: 0}).FirstErr(); err != nil {
			return err
		}
	}
	return nil
}

// TestTxnProducerCommitAbort: a franz-go transactional producer commits
// one transaction and aborts the next; the log holds each transaction's
// data batches followed by its COMMIT / ABORT marker; the coordinator
// describes and lists the transactional id.
func TestTxnProducerCommitAbort(t *testing.T) {
	_, addr := startTxnBroker(t)
	createTopic(t, addr, "txn-data", 1, nil)
	ctx := testCtx(t)
	cl := txnClient(t, addr, "tx-1", "txn-data")

	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := produceInTxn(ctx, cl, "c1", "c2"); err != nil {
		t.Fatalf("produce in the first transaction: %v", err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := produceInTxn(ctx, cl, "a1"); err != nil {
		t.Fatalf("produce in the second transaction: %v", err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatalf("abort: %v", err)
	}

	raw := newClient(t, addr)
	bs := waitMarkers(t, raw, addr, "txn-data", 2)
	var kinds []string
	var pid int64 = -1
	for _, b := range bs {
		switch {
		case b.hdr.IsControl() && b.marker.Type == protocol.ControlCommit:
			kinds = append(kinds, "COMMIT")
		case b.hdr.IsControl() && b.marker.Type == protocol.ControlAbort:
			kinds = append(kinds, "ABORT")
		case b.hdr.IsTransactional():
			kinds = append(kinds, "data")
		default:
			t.Fatalf("non-transactional batch at %d", b.hdr.BaseOffset)
		}
		if pid >= 0 && b.hdr.ProducerID != pid {
			t.Fatalf("batch at %d of producer %d, want %d", b.hdr.BaseOffset, b.hdr.ProducerID, pid)
		}
		pid = b.hdr.ProducerID
	}
	// Each transaction's data, then its marker (the batches of one
	// transaction may be one or two).
	compact := slices.Compact(slices.Clone(kinds))
	if !slices.Equal(compact, []string{"data", "COMMIT", "data", "ABORT"}) {
		t.Fatalf("log: %v", kinds)
	}

	// The markers are in the log; the completion follows in etcd.
	adm := kadm.NewClient(raw)
	var d kadm.DescribedTransaction
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		dt, err := adm.DescribeTransactions(ctx, "tx-1")
		if err != nil {
			t.Fatalf("describe: %v", err)
		}
		var ok bool
		if d, ok = dt["tx-1"]; !ok || d.Err != nil {
			t.Fatalf("describe tx-1: %+v", d)
		}
		if d.State != "PrepareAbort" || time.Now().After(deadline) {
			break
		}
	}
	if d.State != "CompleteAbort" || d.ProducerID != pid || d.TimeoutMillis != 30000 {
		t.Fatalf("described %+v, want CompleteAbort of producer %d with a 30 s timeout", d, pid)
	}
	lt, err := adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if l, ok := lt["tx-1"]; !ok || l.State != "CompleteAbort" || l.ProducerID != pid {
		t.Fatalf("listed %+v", lt)
	}
	lt, err = adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatalf("list Ongoing: %v", err)
	}
	if _, ok := lt["tx-1"]; ok {
		t.Fatalf("tx-1 listed as Ongoing: %+v", lt)
	}
	dt, err := adm.DescribeTransactions(ctx, "tx-unknown")
	if err != nil && !errors.Is(err, kerr.TransactionalIDNotFound) {
		t.Fatalf("describe unknown: %v", err)
	}
	if d := dt["tx-unknown"]; err == nil && !errors.Is(d.Err, kerr.TransactionalIDNotFound) {
		t.Fatalf("describe unknown: %+v", d)
	}
}

// TestTxnZombieFencing: a second producer with the same transactional id
// fences the first: the first's ongoing transaction is aborted, and its
// produce and commit are refused; the second commits.
func TestTxnZombieFencing(t *testing.T) {
	_, addr := startTxnBroker(t)
	createTopic(t, addr, "txn-zombie", 1, nil)
	ctx := testCtx(t)
	old := txnClient(t, addr, "tx-z", "txn-zombie")
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := produceInTxn(ctx, old, "old-1"); err != nil {
		t.Fatalf("old producer: %v", err)
	}

	cur := txnClient(t, addr, "tx-z", "txn-zombie")
	if err := cur.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := produceInTxn(ctx, cur, "new-1"); err != nil {
		t.Fatalf("new producer: %v", err)
	}

	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	produceErr := produceInTxn(pctx, old, "old-2")
	commitErr := old.EndTransaction(pctx, kgo.TryCommit)
	if produceErr == nil {
		t.Errorf("the fenced producer's produce succeeded")
	}
	if commitErr == nil {
		t.Errorf("the fenced producer's commit succeeded")
	}
	if err := cur.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("new producer's commit: %v", err)
	}

	// The old transaction was aborted by the coordinator, the new one
	// committed.
	bs := waitMarkers(t, newClient(t, addr), addr, "txn-zombie", 2)
	var markers []int16
	for _, b := range bs {
		if b.hdr.IsControl() {
			markers = append(markers, b.marker.Type)
		}
	}
	if !slices.Equal(markers, []int16{protocol.ControlAbort, protocol.ControlCommit}) {
		t.Fatalf("markers %v, want ABORT then COMMIT", markers)
	}
}
