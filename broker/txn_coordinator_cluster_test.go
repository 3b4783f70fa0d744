package broker

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/protocol"
)

// TestTxnCoordinatorRemote: the transaction coordinator and the data
// partition on different brokers: the partition's leader verifies (adds,
// TV2) the partition with AddPartitionsToTxn v5 to the coordinator, and
// the coordinator writes the markers with WriteTxnMarkers to the leader.
func TestTxnCoordinatorRemote(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2}, "samsa.transactions.enable=true",
		"transaction.state.log.num.partitions=4", "offsets.topic.num.partitions=4")
	waitFor(t, "__transaction_state replicated on both brokers", func() bool {
		tm := c.snap().Topic(transactionTopic)
		if tm == nil {
			return false
		}
		for _, st := range tm.Partitions {
			if st.Leader < 0 || len(st.Replicas) != 2 || len(st.ISR) != 2 {
				return false
			}
		}
		return true
	})
	tm := c.snap().Topic(transactionTopic)
	var id string
	var coord int32
	for i := 0; id == ""; i++ {
		cand := fmt.Sprintf("tx-remote-%d", i)
		if l := tm.Partitions[coordinatorPartition(cand, int32(len(tm.Partitions)))].Leader; l >= 0 {
			id, coord = cand, l
		}
	}
	data := int32(3 - coord) // the other broker
	c.createAssigned(coord, "txn-remote", [][]int32{{data}}, nil)
	waitFor(t, "both brokers know the coordinator and the partition", func() bool {
		for _, b := range c.brokers {
			info, e, _ := b.coordinatorFor(id, 1)
			if e != nil || info.ID != coord {
				return false
			}
			if st, ok := b.store.Snapshot().Partition("txn-remote", 0); !ok || st.Leader != data {
				return false
			}
		}
		return c.brokers[data].partition("txn-remote", 0) != nil
	})

	ctx := testCtx(t)
	cl := newClient(t, c.addrs[coord], kgo.SeedBrokers(c.addrs[coord], c.addrs[data]), kgo.TransactionalID(id),
		kgo.DefaultProduceTopic("txn-remote"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := produceInTxn(ctx, cl, "v"); err != nil {
			t.Fatalf("produce: %v", err)
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatalf("end (commit %v): %v", commit, err)
		}
	}
	bs := waitMarkers(t, newClient(t, c.addrs[data]), c.addrs[data], "txn-remote", 2)
	var markers []int16
	for _, b := range bs {
		if b.hdr.IsControl() {
			markers = append(markers, b.marker.Type)
		}
	}
	if !slices.Equal(markers, []int16{protocol.ControlCommit, protocol.ControlAbort}) {
		t.Fatalf("markers on broker %d: %v, want COMMIT then ABORT", data, markers)
	}
}
