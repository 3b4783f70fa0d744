package broker

// Wiring of the transaction coordinator (coordinator/txn), only with
// samsa.transactions.enable: placement of transactional ids on the
// __transaction_state partitions this broker leads (as groups.go places
// groups on __consumer_offsets), the seams the coordinator needs from the
// broker (producer ids, group placement, the marker writer in
// txn_markers.go) and the checks the transaction API handlers share.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/coordinator/txn"
)

// txnCoordinator is the broker's part of the transaction machinery; zero (nil
// coordinator) with the gate off.
type txnCoordinator struct {
	coord *txn.Coordinator // nil until startTxn, and with the gate off
	peers *txnPeers        // connections to other brokers (txn_peers.go)
}

// startTxn builds and starts the transaction coordinator and its
// placement tracker. The internal topics exist already (startGroups).
// Called from Start; a no-op without samsa.transactions.enable.
func (b *Broker) startTxn(ctx context.Context) error {
	if !b.cfg.TransactionsEnabled {
		return nil
	}
	b.txn.peers = newTxnPeers(b)
	tc, err := txn.New(txn.Config{
		Client:                b.store.Client(),
		Key:                   b.store.Key,
		Logger:                b.log,
		Clock:                 b.clock(),
		ProducerIDs:           txnProducerIDs{b},
		Markers:               txnMarkerWriter{b},
		Groups:                txnGroupOffsets{b},
		MaxTimeout:            b.cfg.TransactionMaxTimeout,
		AbortTimedOutInterval: b.cfg.TxnAbortTimedOutInterval,
		IDExpiration:          b.cfg.TransactionalIDExpiration,
		RemoveExpiredInterval: b.cfg.TxnRemoveExpiredInterval,
		AfterFunc: func(d time.Duration, f func()) func() bool {
			return b.clock().AfterFunc(d, f).Stop
		},
	})
	if err != nil {
		return err
	}
	b.txn.coord = tc
	tc.Start()
	b.runPlacement(ctx, transactionTopic, tc, tc.WaitLoaded, "txn-placement", "transactions")
	return nil
}

// closeTxn stops the coordinator (its marker jobs and loaders) and the
// connections to other brokers. Idempotent.
func (b *Broker) closeTxn() {
	if b.txn.coord != nil {
		b.txn.coord.Close()
	}
	if b.txn.peers != nil {
		b.txn.peers.close()
	}
}

// txnProducerIDs hands the coordinator ids from the broker's etcd blocks
// (22_init_producer_id.go).
type txnProducerIDs struct{ b *Broker }

func (p txnProducerIDs) NextProducerID(ctx context.Context) (int64, error) { return p.b.pids.next(ctx) }

// txnGroupOffsets places groups on __consumer_offsets as the group
// coordinator does (groups.go).
type txnGroupOffsets struct{ b *Broker }

func (g txnGroupOffsets) OffsetsPartition(group string) (int32, bool) {
	tm := g.b.store.Snapshot().Topic(offsetsTopic)
	if tm == nil || len(tm.Partitions) == 0 {
		return 0, false
	}
	return coordinatorPartition(group, int32(len(tm.Partitions))), true
}

// txnError is the error of a transaction request for transactionalID
// reaching this broker before the coordinator decides: NOT_COORDINATOR
// when the metadata names another coordinator, COORDINATOR_NOT_AVAILABLE
// without a coordinator or while the lease is not certainly valid, else
// nil (groupError's rules).
func (b *Broker) txnError(transactionalID string) *kerr.Error {
	if b.txn.coord == nil {
		return kerr.CoordinatorNotAvailable
	}
	info, e, _ := b.coordinatorFor(transactionalID, 1)
	if e != nil {
		return e
	}
	if info.ID != b.cfg.BrokerID {
		return kerr.NotCoordinator
	}
	if !b.leaseValid() {
		return kerr.CoordinatorNotAvailable
	}
	return nil
}

// txnCode maps the coordinator's answer for a request the metadata sends
// here: NOT_COORDINATOR while the metadata names this broker means the
// coordinator has not been told of its election yet (the tracker's next
// pass) or found the partition moved before the metadata did; the client
// should wait and retry (as groupError answers).
func (b *Broker) txnCode(transactionalID string, code int16) int16 {
	if code != kerr.NotCoordinator.Code {
		return code
	}
	if info, e, _ := b.coordinatorFor(transactionalID, 1); e == nil && info.ID == b.cfg.BrokerID {
		return kerr.CoordinatorLoadInProgress.Code
	}
	return code
}

// fencedCode is PRODUCER_FENCED as a request version before fenced
// producers had their own error knows it: INVALID_PRODUCER_EPOCH (Kafka
// maps it so for InitProducerId < v4, AddPartitionsToTxn, AddOffsetsToTxn
// and EndTxn < v2).
func fencedCode(code int16, old bool) int16 {
	if old && code == kerr.ProducerFenced.Code {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}

// txnRequestTimeout bounds a coordinator operation started by a request
// (etcd writes, producer id blocks).
const txnRequestTimeout = 10 * time.Second
