package broker

// InitProducerId (key 22), v0-v5.
//
//	v0: a new producer id and epoch 0.
//	v1: same as v0 (throttling).
//	v2: flexible.
//	v3: producer id and epoch in the request (KIP-360); for idempotent
//	    producers a fresh id is returned, as Kafka does; one without the
//	    other is INVALID_REQUEST.
//	v4: PRODUCER_FENCED may be returned (KIP-588).
//	v5: same as v4 (transactions v2 clients, KIP-890).
//
// With a transactional id (and samsa.transactions.enable) the request
// goes to the transaction coordinator (coordinator/txn, wired in
// txn_coordinator.go): this broker must coordinate the id (else
// NOT_COORDINATOR) and the principal needs WRITE on it. Without the gate
// a transactional id is refused as before. Producer ids are taken from
// blocks reserved in etcd, so they are unique across brokers and
// restarts.

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/txn"
)

func init() { register(kmsg.InitProducerID, 0, 5, handleInitProducerID) }

func handleInitProducerID(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID = -1
	resp.ProducerEpoch = -1
	// v3+: a producer id and epoch come together or not at all (Kafka's
	// KafkaApis answers one without the other with INVALID_REQUEST).
	if req.Version >= 3 && (req.ProducerID == -1) != (req.ProducerEpoch == -1) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	if req.TransactionalID != nil {
		if !b.cfg.TransactionsEnabled {
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			return resp
		}
		return initTransactionalProducerID(b, rc, req, resp)
	}
	if !b.authorizeIdempotentWrite(rc) { // acl.go
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	// Without a transactional id Kafka always hands out a fresh producer id,
	// also when an idempotent producer sends its old id and epoch (v3+) to
	// recover from a sequence error.
	ctx, cancel := context.WithTimeout(rc.ctx, 10*time.Second)
	defer cancel()
	id, err := b.pids.next(ctx)
	if err != nil {
		b.log.Warn().Err(err).Msg("cannot allocate a producer id")
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	resp.ProducerID = id
	resp.ProducerEpoch = 0
	return resp
}

// initTransactionalProducerID is InitProducerId with a transactional id
// (Kafka's TransactionCoordinator.handleInitProducerId).
func initTransactionalProducerID(b *Broker, rc *reqCtx, req *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) kmsg.Response {
	id := *req.TransactionalID
	if !b.authorize(rc, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, id) { // acl.go
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
	}
	if id == "" {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	if e := b.txnError(id); e != nil { // txn_coordinator.go
		resp.ErrorCode = e.Code
		return resp
	}
	pid, epoch := int64(-1), int16(-1)
	if req.Version >= 3 {
		pid, epoch = req.ProducerID, req.ProducerEpoch
	}
	ctx, cancel := context.WithTimeout(rc.ctx, txnRequestTimeout)
	defer cancel()
	res := b.txn.coord.InitProducerID(ctx, txn.InitProducerIDArgs{
		TransactionalID: id, TimeoutMs: req.TransactionTimeoutMillis, ProducerID: pid, ProducerEpoch: epoch,
	})
	resp.ErrorCode = fencedCode(b.txnCode(id, res.ErrorCode), req.Version < 4)
	if res.ErrorCode == 0 {
		resp.ProducerID, resp.ProducerEpoch = res.ProducerID, res.ProducerEpoch
	}
	return resp
}

// producerIDBlockSize is how many ids a broker reserves from etcd at once.
const producerIDBlockSize = 1000

// producerIDs hands out producer ids from blocks reserved in etcd.
type producerIDs struct {
	b *Broker

	mu     sync.Mutex
	nextID int64 // guarded by mu; next id to hand out
	end    int64 // guarded by mu; end of the current block (exclusive)
}

func (p *producerIDs) next(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nextID >= p.end {
		// Holding mu across etcd is deliberate and local: only
		// InitProducerId waits on it, once per thousand producers.
		start, err := p.b.store.AllocateProducerIDs(ctx, producerIDBlockSize)
		if err != nil {
			return -1, err
		}
		p.nextID, p.end = start, start+producerIDBlockSize
	}
	id := p.nextID
	p.nextID++
	return id, nil
}
