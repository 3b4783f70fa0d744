package broker

import (
	"testing"

	"github.com/samsa-io/samsa/coordinator/txn"
)

// TestTxnObsoleteMarkerNotRetried: a marker the partition refuses because
// it holds a newer epoch of the producer can never be written; the marker
// writer reports the partition done (Kafka's coordinator drops such
// markers too) instead of an error the coordinator would retry forever.
func TestTxnObsoleteMarkerNotRetried(t *testing.T) {
	b, addr := startTxnBroker(t)
	createTopic(t, addr, "obs", 1, nil)
	w := txnMarkerWriter{b}
	job := func(epoch int16) txn.Markers {
		return txn.Markers{TransactionalID: "obs-tx", ProducerID: 77, ProducerEpoch: epoch, Commit: false,
			TransactionVersion: 1, Partitions: []txn.TopicPartition{{Topic: "obs", Partition: 0}}}
	}
	ctx := testCtx(t)
	if err := w.WriteTxnMarkers(ctx, job(5)); err != nil {
		t.Fatalf("marker at epoch 5: %v", err)
	}
	p := b.partition("obs", 0)
	leo := p.log.LogEndOffset()
	if leo != 1 {
		t.Fatalf("log end offset %d after one marker, want 1", leo)
	}
	if err := w.WriteTxnMarkers(ctx, job(3)); err != nil {
		t.Fatalf("obsolete marker at epoch 3: %v, want it reported done", err)
	}
	if got := p.log.LogEndOffset(); got != leo {
		t.Fatalf("log end offset %d after the obsolete marker, want %d: it must not be written", got, leo)
	}
}
