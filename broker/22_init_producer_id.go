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
// Idempotent producers only for now: a transactional id is answered with
// a clear error until the transaction coordinator exists. Producer ids are
// taken from blocks reserved in etcd, so they are unique across brokers and
// restarts.

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
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
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
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
